#!/usr/bin/env python3
"""The Python ingestion pipeline of the kind the peers (Dify, FastGPT, Open WebUI, MaxKB) run,
measured on the same corpus as openmai-ingest's benchmark:

  parse   pypdf (PDF, page by page, as LangChain's PyPDFLoader), python-docx (DOCX paragraphs
          and table cells), TXT decoded by BOM, then UTF-8, then Big5;
  split   LangChain's RecursiveCharacterTextSplitter (langchain-text-splitters), 800 characters
          with 100 of overlap, separators extended with Chinese sentence ends (as Dify does);
  index   jieba tokenisation of every chunk and a rank-bm25 BM25Okapi index over all chunks
          (skipped with --no-index).

Files are spread over a process pool (default: one per core), largest first; the index is built
in the parent from the workers' tokens. Peak memory is the largest sum of resident memory over
the parent and its workers, sampled every 0.1 s.

    python3 bench/ingest/python_baseline.py DIR [--workers N] [--no-index] [--json]

Needs (PyPI): pypdf python-docx langchain-text-splitters jieba rank-bm25.
"""

import argparse
import json
import multiprocessing
import os
import resource
import sys
import threading
import time

CHUNK_SIZE = 800
CHUNK_OVERLAP = 100

_splitter = None
_index = True


def init_worker(index):
    global _splitter, _index
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    _splitter = RecursiveCharacterTextSplitter(
        chunk_size=CHUNK_SIZE,
        chunk_overlap=CHUNK_OVERLAP,
        separators=["\n\n", "\n", "。", "！", "？", "；", ". ", "! ", "? ", "，", " ", ""],
        keep_separator="end",
    )
    _index = index
    if index:
        import jieba

        jieba.setLogLevel(60)
        jieba.initialize()


def decode_text(data):
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith(b"\xff\xfe") or data.startswith(b"\xfe\xff"):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("big5", errors="replace")


def parse(path):
    """Returns the text of each page (one 'page' for DOCX and TXT) and the page count."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".pdf":
        from pypdf import PdfReader

        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
        return pages, len(pages)
    if ext == ".docx":
        from docx import Document

        d = Document(path)
        parts = [p.text for p in d.paragraphs]
        for table in d.tables:
            for row in table.rows:
                parts.append(" | ".join(cell.text for cell in row.cells))
        return ["\n\n".join(parts)], 0
    with open(path, "rb") as f:
        return [decode_text(f.read())], 0


def work(path):
    import jieba

    size = os.path.getsize(path)
    t0 = time.perf_counter()
    try:
        pages, page_count = parse(path)
    except Exception as e:  # a failed file, as the peers record it
        return {"path": path, "size": size, "error": repr(e)[:200]}
    t1 = time.perf_counter()
    chunks = []
    for page in pages:
        chunks.extend(_splitter.split_text(page))
    t2 = time.perf_counter()
    tokens = [jieba.lcut(c) for c in chunks] if _index else None
    t3 = time.perf_counter()
    return {
        "path": path,
        "size": size,
        "pages": page_count,
        "chunks": len(chunks),
        "chars": sum(len(p) for p in pages),
        "tokens": tokens,
        "parse_s": t1 - t0,
        "split_s": t2 - t1,
        "tokenize_s": t3 - t2,
    }


def tree_rss_kib(root):
    """Resident memory of `root` and its descendants, in KiB."""
    children = {}
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(pid))
        except (OSError, ValueError):
            continue
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
        stack.extend(children.get(pid, []))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-index", action="store_true", help="parse and split only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    index = not args.no_index

    files = []
    for root, _, names in os.walk(args.dir):
        for n in names:
            p = os.path.join(root, n)
            files.append((os.path.getsize(p), p))
    files.sort(key=lambda f: (-f[0], f[1]))
    total_bytes = sum(s for s, _ in files)
    print(f"ingesting {len(files)} files, {total_bytes / 1e6:.1f} MB, on {args.workers} processes"
          f"{'' if index else ' (no index)'}", file=sys.stderr)

    peak = [0]
    stop = threading.Event()

    def sample():
        me = os.getpid()
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss_kib(me))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    start = time.perf_counter()
    stats = {"files": 0, "failed": 0, "pages": 0, "chunks": 0, "chars": 0,
             "parse_s": 0.0, "split_s": 0.0, "tokenize_s": 0.0}
    per_format = {}
    corpus = []
    failures = []
    with multiprocessing.Pool(args.workers, initializer=init_worker, initargs=(index,)) as pool:
        for r in pool.imap_unordered(work, [p for _, p in files], chunksize=1):
            stats["files"] += 1
            ext = os.path.splitext(r["path"])[1].lower().lstrip(".")
            fmt = per_format.setdefault(ext, {"files": 0, "bytes": 0, "pages": 0, "chunks": 0, "busy_s": 0.0})
            fmt["files"] += 1
            fmt["bytes"] += r["size"]
            if "error" in r:
                stats["failed"] += 1
                failures.append(f"{r['path']}: {r['error']}")
                continue
            for k in ("pages", "chunks", "chars"):
                stats[k] += r[k]
            for k in ("parse_s", "split_s", "tokenize_s"):
                stats[k] += r[k]
            fmt["pages"] += r["pages"]
            fmt["chunks"] += r["chunks"]
            fmt["busy_s"] += r["parse_s"] + r["split_s"] + r["tokenize_s"]
            if index:
                corpus.extend(r["tokens"])
    parsed_at = time.perf_counter()
    bm25_s = 0.0
    if index:
        from rank_bm25 import BM25Okapi

        t = time.perf_counter()
        bm25 = BM25Okapi(corpus)
        bm25_s = time.perf_counter() - t
        # Touch the index so it is not optimised away, and check it answers.
        bm25.get_scores(["退票", "手續費"])[:1]
    wall = time.perf_counter() - start
    usage_self = resource.getrusage(resource.RUSAGE_SELF)
    usage_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage_self.ru_utime + usage_self.ru_stime + usage_children.ru_utime + usage_children.ru_stime
    stop.set()
    sampler.join()
    peak_mib = peak[0] / 1024

    pdf_pages = per_format.get("pdf", {}).get("pages", 0)
    mbps = total_bytes / 1e6 / wall
    print(f"files            {stats['files']} ({stats['failed']} failed)")
    print(f"input            {total_bytes / 1e6:.1f} MB")
    print(f"wall time        {wall:.2f} s on {args.workers} processes, CPU time {cpu:.1f} s "
          f"({total_bytes / 1e6 / max(cpu, 1e-9):.2f} MB per CPU second) "
          f"(parse+split{'+tokenize' if index else ''} {parsed_at - start:.2f} s, BM25 build {bm25_s:.2f} s)")
    print(f"throughput       {mbps:.2f} MB/s")
    print(f"PDF pages        {pdf_pages} ({pdf_pages / wall:.0f} pages/s)")
    print(f"chunks           {stats['chunks']} ({stats['chunks'] / wall:.0f} chunks/s)")
    print(f"text extracted   {stats['chars'] / 1e6:.1f} M characters")
    print(f"peak RSS         {peak_mib:.1f} MiB (parent + workers)")
    print(f"busy time        parse {stats['parse_s']:.1f} s, split {stats['split_s']:.1f} s, "
          f"tokenize {stats['tokenize_s']:.1f} s (summed over workers)")
    for ext, f in sorted(per_format.items()):
        print(f"  {ext:<6} {f['files']:>5} files {f['bytes'] / 1e6:>8.1f} MB {f['busy_s']:>8.1f} s busy "
              f"{f['bytes'] / 1e6 / max(f['busy_s'], 1e-9):>7.2f} MB/s/worker {f['pages']:>8} pages {f['chunks']:>8} chunks")
    for f in failures[:5]:
        print(f"  failed: {f}")
    if args.json:
        print(json.dumps({
            "tool": "python-baseline", "workers": args.workers, "index": index,
            "files": stats["files"], "failed": stats["failed"], "bytes": total_bytes, "wall_s": wall, "cpu_s": cpu,
            "parse_split_wall_s": parsed_at - start, "bm25_s": bm25_s, "mb_per_s": mbps,
            "pdf_pages": pdf_pages, "pdf_pages_per_s": pdf_pages / wall, "chunks": stats["chunks"],
            "chars": stats["chars"], "peak_rss_mib": peak_mib, "busy": {k: stats[k] for k in ("parse_s", "split_s", "tokenize_s")},
            "per_format": per_format,
        }))


if __name__ == "__main__":
    main()
