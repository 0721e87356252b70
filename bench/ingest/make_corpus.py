#!/usr/bin/env python3
"""Generates the ingestion benchmark corpus: mixed Traditional Chinese and English documents
(PDF with a text layer and many pages, DOCX, TXT). The plan aims at --size-mb megabytes
from per-kind size estimates; the default of 220 yields about 210 MB.

    python3 bench/ingest/make_corpus.py DIR [--size-mb 220] [--seed 42]

Deterministic for a given seed (file names, text, layout). Needs fpdf2 and python-docx from
PyPI and the WenQuanYi Zen Hei font (Debian: fonts-wqy-zenhei); each PDF embeds the subset of
glyphs it uses, as real CJK PDFs do. TXT files are UTF-8, Big5 and UTF-16LE (with BOM), as
found in Taiwan. Share of bytes: about 50% PDF, 20% DOCX, 30% TXT. Generation is slow (PDF
layout in Python): count 10-20 minutes on 2 cores; it runs one process per core.
"""

import argparse
import multiprocessing
import os
import random
import sys

FONT = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"

# Vocabulary: Traditional Chinese phrases typical of business documents, and English words.
ZH_WORDS = (
    "公司 旅客 退票 規定 手續費 票價 車站 列車 服務 系統 資料 客戶 合約 契約 申請 審核 "
    "作業 流程 管理 辦法 條款 權利 義務 期限 費用 付款 發票 報價 訂單 出貨 庫存 品質 "
    "檢驗 維修 保固 安全 衛生 環境 員工 人事 薪資 考核 訓練 會議 紀錄 決議 執行 計畫 "
    "預算 成本 營收 利潤 財務 會計 稅務 法務 資訊 網路 伺服器 資料庫 備份 權限 帳號 "
    "密碼 登入 使用者 介面 功能 規格 需求 測試 部署 版本 更新 維運 監控 異常 通報 處理 "
    "台北 台中 高雄 新竹 桃園 台南 嘉義 花蓮 宜蘭 屏東 臺灣 政府 機關 單位 部門 主管 "
    "經理 專員 顧問 廠商 供應商 承包商 消費者 會員 點數 優惠 折扣 活動 行銷 廣告 品牌 "
    "產品 商品 型號 數量 單價 總額 日期 時間 地點 方式 原因 結果 說明 備註 附件 表格 "
    "應 得 須 不得 除 外 及 或 並 但 如 若 於 依 由 之 其 所 為 與 對 向 在 將 已 未 可 "
    "進行 完成 提供 確認 通知 辦理 負責 協助 支援 配合 調整 變更 取消 延長 終止 生效"
).split()
ZH_PUNCT = ["，", "，", "，", "、", "；"]
EN_WORDS = (
    "the passenger may request a refund before departure and the fee is ten percent of "
    "fare contract customer service system data record policy procedure management review "
    "application approval payment invoice order delivery inventory quality inspection "
    "warranty maintenance security network server database backup account password user "
    "interface feature requirement test deployment release update monitoring incident report "
    "budget cost revenue profit finance accounting tax legal department manager staff vendor "
    "supplier member points discount campaign marketing brand product model quantity price "
    "total date time location method reason result description note attachment table shall "
    "must not except and or but if when within under according to by for with on at will"
).split()


def zh_sentence(rng):
    clauses = []
    for _ in range(rng.randint(1, 4)):
        clauses.append("".join(rng.choice(ZH_WORDS) for _ in range(rng.randint(3, 9))))
    out = clauses[0]
    for c in clauses[1:]:
        out += rng.choice(ZH_PUNCT) + c
    return out + rng.choice(["。", "。", "。", "！", "？"])


def en_sentence(rng):
    words = [rng.choice(EN_WORDS) for _ in range(rng.randint(6, 22))]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice([".", ".", ".", "?"])


def paragraph(rng):
    sentences = []
    for _ in range(rng.randint(2, 7)):
        sentences.append(zh_sentence(rng) if rng.random() < 0.65 else en_sentence(rng))
    # Chinese and English sentences are separated by a space only before English.
    out = ""
    for s in sentences:
        if out and s[0].isascii():
            out += " "
        out += s
    return out


CHAPTER_NUMERALS = "一二三四五六七八九十"


def heading(rng, chapter, section=None):
    title = "".join(rng.choice(ZH_WORDS) for _ in range(rng.randint(2, 4)))
    if section is None:
        return f"第{CHAPTER_NUMERALS[(chapter - 1) % 10]}章 {title}"
    return f"{chapter}.{section} {title}"


def make_pdf(path, rng, pages):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("wqy", fname=FONT, collection_font_number=0)
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=20)
    title = "".join(rng.choice(ZH_WORDS) for _ in range(3))
    chapter = 0
    pdf.add_page()
    while pdf.page_no() < pages:
        if rng.random() < 0.08 or chapter == 0:
            chapter += 1
            section = 0
            pdf.set_font("wqy", size=18)
            pdf.multi_cell(0, 10, heading(rng, chapter))
            pdf.ln(3)
        elif rng.random() < 0.15:
            section += 1
            pdf.set_font("wqy", size=14)
            pdf.multi_cell(0, 8, heading(rng, chapter, section))
            pdf.ln(2)
        pdf.set_font("wqy", size=11)
        pdf.multi_cell(0, 6.5, paragraph(rng))
        pdf.ln(3)
    pdf.output(path)


def make_docx(path, rng, paragraphs):
    from docx import Document

    d = Document()
    chapter = 0
    section = 0
    for i in range(paragraphs):
        if i == 0 or rng.random() < 0.05:
            chapter += 1
            section = 0
            d.add_heading(heading(rng, chapter), level=1)
        elif rng.random() < 0.12:
            section += 1
            d.add_heading(heading(rng, chapter, section), level=2)
        if rng.random() < 0.03:
            rows = rng.randint(3, 12)
            t = d.add_table(rows=rows, cols=3)
            for r in range(rows):
                for c in range(3):
                    t.cell(r, c).text = rng.choice(ZH_WORDS) + (" " + rng.choice(EN_WORDS) if c == 1 else str(rng.randint(1, 9999)))
        d.add_paragraph(paragraph(rng))
    d.save(path)


def make_txt(path, rng, target_bytes, encoding):
    parts = []
    size = 0
    chapter = 0
    while size < target_bytes:
        if rng.random() < 0.05 or chapter == 0:
            chapter += 1
            parts.append(heading(rng, chapter))
        p = paragraph(rng)
        parts.append(p)
        size += len(p.encode(encoding, errors="replace")) + 2
    text = "\n\n".join(parts) + "\n"
    data = text.encode(encoding, errors="replace")
    if encoding == "utf-16-le":
        data = b"\xff\xfe" + data
    with open(path, "wb") as f:
        f.write(data)


def job(spec):
    kind, path, seed, amount = spec
    rng = random.Random(seed)
    # Written under a temporary name (outside the corpus naming) and renamed when complete,
    # so an interrupted run leaves no truncated document behind.
    part = path + ".part"
    if kind == "pdf":
        make_pdf(part, rng, amount)
    elif kind == "docx":
        make_docx(part, rng, amount)
    else:
        make_txt(part, rng, amount, {"utf8": "utf-8", "big5": "big5", "utf16": "utf-16-le"}[kind])
    os.replace(part, path)
    return os.path.getsize(path)


def plan(directory, size_mb, seed):
    """File specs until each kind reaches its share of the bytes (sizes estimated per kind)."""
    rng = random.Random(seed)
    target = size_mb * 1_000_000
    # Bytes per unit, measured on this generator: PDF ~3.2 KB per page (compressed content
    # streams) plus a small font subset; DOCX ~165 bytes per paragraph plus 36 KB of template.
    shares = {"pdf": 0.50, "docx": 0.20, "txt": 0.30}
    specs = []
    estimate = {"pdf": 0, "docx": 0, "txt": 0}
    n = 0
    while any(estimate[k] < shares[k] * target for k in shares):
        kinds = [k for k in shares if estimate[k] < shares[k] * target]
        kind = kinds[n % len(kinds)]
        n += 1
        file_seed = rng.randrange(1 << 30)
        if kind == "pdf":
            pages = rng.choice([20, 50, 80, 120, 200, 300, 400])
            specs.append(("pdf", os.path.join(directory, f"doc{n:04d}.pdf"), file_seed, pages))
            estimate["pdf"] += pages * 3_150 + 10_000
        elif kind == "docx":
            paragraphs = rng.choice([500, 1000, 2000, 5000, 10000])
            specs.append(("docx", os.path.join(directory, f"doc{n:04d}.docx"), file_seed, paragraphs))
            estimate["docx"] += paragraphs * 165 + 36_000
        else:
            enc = rng.choice(["utf8", "utf8", "utf8", "big5", "utf16"])
            size = rng.choice([50_000, 200_000, 1_000_000, 3_000_000])
            specs.append((enc, os.path.join(directory, f"doc{n:04d}.txt"), file_seed, size))
            estimate["txt"] += size
    return specs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--size-mb", type=int, default=220)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    specs = plan(args.dir, args.size_mb, args.seed)
    # Largest first, so the pool ends evenly.
    specs.sort(key=lambda s: -(s[3] * (3_150 if s[0] == "pdf" else 165 if s[0] == "docx" else 1)))
    total = 0
    with multiprocessing.Pool(args.jobs) as pool:
        for i, size in enumerate(pool.imap_unordered(job, specs), start=1):
            total += size
            if i % 20 == 0 or i == len(specs):
                print(f"  {i}/{len(specs)} files, {total / 1e6:.1f} MB", file=sys.stderr, flush=True)
    print(f"corpus: {len(specs)} files, {total / 1e6:.1f} MB in {args.dir}")


if __name__ == "__main__":
    main()
