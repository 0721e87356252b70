//! openmai-ingest end to end: every format with Traditional Chinese and English content, and the
//! bad-file corpus (each must fail that file with the right code and a helpful message, never
//! panic). Fixtures are small files made by `tests/fixtures/make_fixtures.py`; bad files are
//! built here.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use openmai_ingest::{
    Chunk, Format, IngestError, IngestOptions, Limits, ParsedFile, chunk_text, ingest_bytes,
    ingest_path,
};
use proptest::prelude::*;

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn ingest(name: &str) -> ParsedFile {
    ingest_path(&fixture_path(name), name, &IngestOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn small(chunk_size: usize, overlap: usize) -> IngestOptions {
    IngestOptions { chunk_size, chunk_overlap: overlap, ..IngestOptions::default() }
}

fn err(bytes: &[u8], name: &str, options: &IngestOptions) -> IngestError {
    match ingest_bytes(bytes, name, options) {
        Ok(parsed) => panic!("{name} was accepted: {:?}", parsed.text),
        Err(e) => e,
    }
}

fn headings(chunks: &[Chunk]) -> Vec<Option<&str>> {
    chunks.iter().map(|c| c.heading.as_deref()).collect()
}

// ---------------------------------------------------------------------------------------------
// Formats

#[test]
fn pdf_keeps_page_numbers_headings_and_drops_running_headers() {
    let parsed = ingest("refund.pdf");
    assert_eq!(parsed.format, Format::Pdf);
    assert_eq!(parsed.pages, Some(3));
    assert_eq!(parsed.encoding, None);
    let t = &parsed.text;
    assert!(t.contains("旅客可於列車開車前辦理退票。退票時應繳回原車票，並支付手續費。"), "{t}");
    assert!(
        t.contains("Refunds are credited to the original payment card within seven working days"),
        "{t}"
    );
    // The running header and the page-number footer are on every page: gone.
    assert!(!t.contains("旅客須知"), "{t}");
    assert!(!t.contains("第 1 頁"), "{t}");
    let pages: Vec<Option<u32>> = parsed.chunks.iter().map(|c| c.page_number).collect();
    assert_eq!(pages, vec![Some(1), Some(2), Some(3)]);
    assert_eq!(
        headings(&parsed.chunks),
        vec![
            Some("第二章 退票規定"),
            Some("第二章 退票規定 › 2.1 線上退票"),
            Some("第二章 退票規定 › 2.2 臨櫃退票")
        ]
    );
    // Chunks are slices of the text.
    for c in &parsed.chunks {
        assert!(t.contains(&c.text), "{:?}", c.text);
    }
}

#[test]
fn pdf_page_numbers_survive_small_chunks() {
    let parsed = ingest_path(&fixture_path("refund.pdf"), "refund.pdf", &small(60, 15)).unwrap();
    assert!(parsed.chunks.len() > 6);
    let mut last = 0;
    for c in &parsed.chunks {
        let page = c.page_number.unwrap();
        assert!(page >= last && page <= 3);
        last = page;
        assert!(c.text.chars().count() <= 60, "{:?}", c.text);
    }
    assert_eq!(last, 3);
}

#[test]
fn pdf_with_only_an_owner_password_opens() {
    let parsed = ingest("restricted.pdf");
    assert!(parsed.text.contains("臨櫃退票須出示身分證件"));
}

#[test]
fn docx_headings_lists_and_tables() {
    let parsed = ingest("guide.docx");
    assert_eq!(parsed.format, Format::Docx);
    let t = &parsed.text;
    assert!(
        t.starts_with(
            "# 第二章 退票規定\n\n旅客可於開車前辦理退票。Passengers may request a refund"
        ),
        "{t}"
    );
    assert!(t.contains("| 票種 Ticket | 手續費 Fee | 備註 Notes |\n| --- | --- | --- |\n| 全票 Adult | 10% | 含來回票 |"), "{t}");
    assert!(t.contains("臨櫃辦理 \\| counter only"), "pipes in cells are escaped: {t}");
    assert_eq!(
        headings(&parsed.chunks),
        vec![
            Some("第二章 退票規定"),
            Some("第二章 退票規定 › 2.1 線上退票"),
            Some("第二章 退票規定 › 2.2 臨櫃退票")
        ]
    );
    // Cut small, every chunk holding table rows starts with the table's header.
    let parsed = ingest_path(&fixture_path("guide.docx"), "guide.docx", &small(90, 10)).unwrap();
    let with_rows: Vec<&Chunk> = parsed
        .chunks
        .iter()
        .filter(|c| c.text.contains("| 半票") || c.text.contains("| 團體票"))
        .collect();
    assert!(!with_rows.is_empty());
    for c in with_rows {
        assert!(
            c.text.contains("| 票種 Ticket | 手續費 Fee | 備註 Notes |\n| --- | --- | --- |"),
            "{:?}",
            c.text
        );
    }
}

#[test]
fn pptx_slides_are_pages_and_speaker_notes_are_kept() {
    let parsed = ingest("slides.pptx");
    assert_eq!(parsed.format, Format::Pptx);
    assert_eq!(parsed.pages, Some(2));
    assert_eq!(parsed.chunks.len(), 2);
    let first = &parsed.chunks[0];
    assert_eq!(first.page_number, Some(1));
    assert_eq!(first.heading.as_deref(), Some("退票流程 Refund process"));
    assert!(first.text.contains("開車前線上退票 Online before departure"), "{}", first.text);
    assert!(
        first.text.contains(
            "講者備註：提醒旅客保留收據。Speaker notes: remind passengers to keep the receipt."
        ),
        "{}",
        first.text
    );
    assert_eq!(parsed.chunks[1].page_number, Some(2));
    assert!(parsed.chunks[1].text.contains("團體票不可線上退"));
}

#[test]
fn xlsx_every_chunk_carries_its_header() {
    let parsed = ingest_path(&fixture_path("fares.xlsx"), "fares.xlsx", &small(400, 50)).unwrap();
    assert_eq!(parsed.format, Format::Xlsx);
    assert_eq!(parsed.pages, Some(2));
    const HEADER: &str = "| 起站 From | 迄站 To | 全票 Adult | 半票 Child | 生效日 Effective |\n| --- | --- | --- | --- | --- |";
    let fares: Vec<&Chunk> = parsed.chunks.iter().filter(|c| c.page_number == Some(1)).collect();
    assert!(fares.len() > 5, "66 fare rows in 400-character chunks");
    for c in &fares {
        assert_eq!(c.heading.as_deref(), Some("票價 Fares"));
        assert!(c.text.contains(HEADER), "{:?}", c.text);
        assert!(c.text.chars().count() <= 400);
    }
    // The title line above the table is prose, not the header.
    assert!(
        fares[0].text.starts_with("# 票價 Fares\n\n2025 年票價表 Fare table\n\n| 起站 From"),
        "{}",
        fares[0].text
    );
    // Every row exactly once, dates as dates, numbers without ".0".
    let rows: Vec<&str> = fares
        .iter()
        .flat_map(|c| c.text.lines())
        .filter(|l| l.starts_with("| ") && !l.starts_with("| 起站") && !l.starts_with("| ---"))
        .collect();
    assert_eq!(rows.len(), 66);
    assert!(rows.contains(&"| 南港 Nangang | 台北 Taipei | 170 | 85 | 2025-01-01 |"), "{rows:?}");
    let notes: Vec<&Chunk> = parsed.chunks.iter().filter(|c| c.page_number == Some(2)).collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].heading.as_deref(), Some("說明 Notes"));
    assert!(notes[0].text.contains("| 退票 Refund | 手續費百分之十 10% handling fee |"));
}

#[test]
fn big5_csv_is_decoded_and_every_chunk_carries_its_header() {
    let parsed =
        ingest_path(&fixture_path("fares_big5.csv"), "fares_big5.csv", &small(200, 30)).unwrap();
    assert_eq!(parsed.format, Format::Csv);
    assert_eq!(parsed.encoding.as_deref(), Some("Big5"));
    assert!(parsed.chunks.len() > 3);
    let mut rows = Vec::new();
    for c in &parsed.chunks {
        assert!(
            c.text.starts_with("| 起站 | 迄站 | 全票 | 半票 |\n| --- | --- | --- | --- |\n"),
            "{:?}",
            c.text
        );
        rows.extend(c.text.lines().skip(2).map(str::to_string));
    }
    assert_eq!(rows.len(), 43, "every row once, none split");
    assert_eq!(rows[1], "| 台北 | 左營 | 1490 | 745 |");
}

#[test]
fn text_encodings_big5_utf16_and_utf8_bom() {
    let expected = ingest("notice_utf8_bom.txt");
    assert_eq!(expected.encoding.as_deref(), Some("UTF-8"));
    assert!(
        expected.text.starts_with("第一章 總則\n\n本須知適用於所有搭乘台灣高鐵之旅客。"),
        "{}",
        expected.text
    );
    for (name, encoding) in [("notice_big5.txt", "Big5"), ("notice_utf16le.txt", "UTF-16LE")] {
        let parsed = ingest(name);
        assert_eq!(parsed.format, Format::Text);
        assert_eq!(parsed.encoding.as_deref(), Some(encoding), "{name}");
        assert_eq!(parsed.text, expected.text, "{name}");
        assert_eq!(headings(&parsed.chunks), vec![Some("第一章 總則"), Some("第二章 退票規定")]);
    }
}

#[test]
fn html_keeps_the_main_content_only() {
    let parsed = ingest("article.html");
    assert_eq!(parsed.format, Format::Html);
    let t = &parsed.text;
    assert!(t.contains("旅客可於列車開車前辦理退票"), "{t}");
    assert!(t.contains("The refund is credited to the original card"), "{t}");
    for chrome in ["NAVLINK", "HEADERLINK", "FOOTERTEXT", "ASIDETEXT", "SCRIPTTEXT", "color:red"] {
        assert!(!t.contains(chrome), "{chrome} in {t}");
    }
    assert!(
        headings(&parsed.chunks)
            .iter()
            .any(|h| h.is_some_and(|h| h.ends_with("› 線上退票 Online refunds"))),
        "{:?}",
        parsed.chunks
    );
}

#[test]
fn markdown_headings_become_chunk_headings() {
    let parsed = ingest("manual.md");
    assert_eq!(parsed.format, Format::Markdown);
    assert!(!parsed.text.contains("title: 旅客手冊"), "front matter is metadata");
    assert_eq!(
        headings(&parsed.chunks),
        vec![
            Some("第二章 退票規定"),
            Some("第二章 退票規定 › 2.1 線上退票"),
            Some("第二章 退票規定 › 2.2 臨櫃退票")
        ]
    );
    assert!(
        parsed.chunks[1]
            .text
            .ends_with("| 票種 | 手續費 |\n| --- | --- |\n| 全票 | 10% |\n| 半票 | 5% |")
    );
}

#[test]
fn files_without_extension_are_sniffed() {
    let parsed = ingest_bytes(&fixture("refund.pdf"), "upload", &IngestOptions::default()).unwrap();
    assert_eq!(parsed.format, Format::Pdf);
    let parsed =
        ingest_bytes("純文字內容。".as_bytes(), "README", &IngestOptions::default()).unwrap();
    assert_eq!(parsed.format, Format::Text);
}

#[test]
fn results_cross_a_process_boundary_as_json() {
    let parsed = ingest("guide.docx");
    let json = serde_json::to_string(&parsed).unwrap();
    let back: ParsedFile = serde_json::from_str(&json).unwrap();
    assert_eq!(back, parsed);
    let options: IngestOptions =
        serde_json::from_str(r#"{"chunk_size": 500, "limits": {"max_pages": 10}}"#).unwrap();
    assert_eq!(options.chunk_size, 500);
    assert_eq!(options.chunk_overlap, 100);
    assert_eq!(options.limits.max_pages, 10);
    assert_eq!(options.limits.max_file_bytes, 100 * 1024 * 1024);
}

#[test]
fn format_table() {
    assert_eq!(Format::from_extension("PDF"), Some(Format::Pdf));
    assert_eq!(Format::from_extension(".htm"), Some(Format::Html));
    assert_eq!(Format::from_extension("doc"), None);
    for ext in Format::extensions() {
        assert!(Format::from_extension(ext).is_some(), "{ext}");
    }
    for f in Format::all() {
        assert_eq!(Format::from_extension(f.extension()), Some(*f));
        assert!(!f.mime_type().is_empty() && !f.name().is_empty());
    }
}

/// A PDF built by hand: objects numbered from 1, streams given as (dictionary, data).
fn raw_pdf(objects: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, (dict, stream)) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        match stream {
            Some(data) => {
                out.extend_from_slice(
                    format!("<< {dict} /Length {} >>\nstream\n", data.len()).as_bytes(),
                );
                out.extend_from_slice(data);
                out.extend_from_slice(b"\nendstream");
            }
            None => out.extend_from_slice(dict.as_bytes()),
        }
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

#[test]
fn pdf_standard_fonts_kerning_big5_cmaps_and_forms() {
    let (big5, _, _) = encoding_rs::BIG5.encode("台灣高鐵");
    let hex: String = big5.iter().map(|b| format!("{b:02X}")).collect();
    let content = format!(
        "BT /F1 12 Tf 72 760 Td [(Hello) -250 (World)] TJ 0 -20 Td (caf\\351 costs \\2005.) Tj ET\n\
         BT /F2 12 Tf 72 700 Td <{hex}> Tj ET\n\
         q 1 0 0 1 72 600 cm /X1 Do Q"
    );
    let form = b"BT /F1 10 Tf 0 0 Td (Inside a form.) Tj ET";
    let pdf = raw_pdf(&[
        ("<< /Type /Catalog /Pages 2 0 R >>", None),
        ("<< /Type /Pages /Kids [3 0 R] /Count 1 >>", None),
        (
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R /F2 5 0 R >> /XObject << /X1 7 0 R >> >> /Contents 6 0 R >>",
            None,
        ),
        ("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>", None),
        (
            "<< /Type /Font /Subtype /Type0 /BaseFont /MingLiU /Encoding /ETen-B5-H /DescendantFonts [8 0 R] >>",
            None,
        ),
        ("", Some(content.as_bytes())),
        (
            "/Type /XObject /Subtype /Form /BBox [0 0 500 100] /Resources << /Font << /F1 4 0 R >> >>",
            Some(form),
        ),
        (
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /MingLiU /CIDSystemInfo << /Registry (Adobe) /Ordering (CNS1) /Supplement 0 >> /DW 1000 >>",
            None,
        ),
    ]);
    let parsed = ingest_bytes(&pdf, "hand.pdf", &IngestOptions::default()).unwrap();
    let t = &parsed.text;
    assert!(t.contains("Hello World"), "kerning gap is a space: {t}");
    assert!(t.contains("café costs €5."), "WinAnsi: {t}");
    assert!(t.contains("台灣高鐵"), "ETen-B5-H decoded as Big5: {t}");
    assert!(t.contains("Inside a form."), "form XObjects: {t}");
    assert_eq!(parsed.pages, Some(1));
}

#[test]
fn pdf_fonts_without_unicode_mapping_have_no_text() {
    let pdf = raw_pdf(&[
        ("<< /Type /Catalog /Pages 2 0 R >>", None),
        ("<< /Type /Pages /Kids [3 0 R] /Count 1 >>", None),
        (
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
            None,
        ),
        (
            "<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /DescendantFonts [] >>",
            None,
        ),
        ("", Some(b"BT /F1 12 Tf 72 700 Td <00410042> Tj ET")),
    ]);
    let e = err(&pdf, "glyphs.pdf", &IngestOptions::default());
    assert_eq!(e.code(), "no_text");
    assert!(e.to_string().contains("cannot be decoded"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// The bad-file corpus

#[test]
fn empty_file() {
    let e = err(b"", "empty.pdf", &IngestOptions::default());
    assert_eq!(e.code(), "empty_file");
    assert_eq!(e.to_string(), "The file is empty (0 bytes).");
    let dir = std::env::temp_dir().join(format!("openmai-ingest-empty-{}", std::process::id()));
    std::fs::write(&dir, b"").unwrap();
    let e = ingest_path(&dir, "empty.txt", &IngestOptions::default()).unwrap_err();
    std::fs::remove_file(&dir).ok();
    assert_eq!(e.code(), "empty_file");
}

#[test]
fn docx_renamed_pdf() {
    let e = err(&fixture("guide.docx"), "report.pdf", &IngestOptions::default());
    assert_eq!(e.code(), "wrong_extension");
    assert_eq!(
        e.to_string(),
        "The file says .pdf but its contents are a Word document (DOCX): upload it with its real extension (.docx)."
    );
}

#[test]
fn png_renamed_txt() {
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89";
    let e = err(png, "notes.txt", &IngestOptions::default());
    assert_eq!(e.code(), "wrong_extension");
    assert!(e.to_string().contains("its contents are a PNG image"), "{e}");
    assert!(e.to_string().contains("run OCR first"), "{e}");
}

#[test]
fn other_mismatches() {
    let e = err(&fixture("slides.pptx"), "deck.docx", &IngestOptions::default());
    assert_eq!(e.code(), "wrong_extension");
    assert!(e.to_string().contains("PowerPoint"), "{e}");
    let e = err("just text".as_bytes(), "fake.xlsx", &IngestOptions::default());
    assert_eq!(e.code(), "wrong_extension");
    let e = err(
        b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0W\0o\0r\0d\0D\0o\0c\0u\0m\0e\0n\0t\0",
        "old.doc",
        &IngestOptions::default(),
    );
    assert_eq!(e.code(), "unsupported_format");
    assert!(e.to_string().contains("save it as .docx"), "{e}");
    let mut encrypted_ooxml = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
    encrypted_ooxml.extend("EncryptedPackage".encode_utf16().flat_map(|u| u.to_le_bytes()));
    let e = err(&encrypted_ooxml, "secret.docx", &IngestOptions::default());
    assert_eq!(e.code(), "encrypted");
    let e = err(b"MZ\x90\0\x03\0\0\0PE\0\0", "setup.exe", &IngestOptions::default());
    assert_eq!(e.code(), "unsupported_format");
}

#[test]
fn truncated_and_garbage_pdfs_are_corrupt() {
    let pdf = fixture("refund.pdf");
    let e = err(&pdf[..pdf.len() / 3], "cut.pdf", &IngestOptions::default());
    assert!(matches!(e.code(), "corrupt" | "no_text"), "{e}");
    assert!(!e.to_string().is_empty());
    let e = err(
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage",
        "garbage.pdf",
        &IngestOptions::default(),
    );
    assert_eq!(e.code(), "corrupt");
    assert!(e.to_string().starts_with("The PDF could not be read: it is damaged"), "{e}");
}

#[test]
fn encrypted_pdf() {
    let e = err(&fixture("encrypted.pdf"), "secret.pdf", &IngestOptions::default());
    assert_eq!(e.code(), "encrypted");
    assert_eq!(
        e.to_string(),
        "The PDF is password-protected: save a copy without the password and upload that."
    );
}

#[test]
fn image_only_pdf_has_no_text() {
    let e = err(&fixture("scan.pdf"), "scan.pdf", &IngestOptions::default());
    assert_eq!(e.code(), "no_text");
    assert_eq!(
        e.to_string(),
        "The PDF has no text layer (a scan?): this version extracts text only, not images; run OCR first."
    );
}

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    for (name, data) in members {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
    out.into_inner()
}

const CONTENT_TYPES: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;

#[test]
fn zip_bomb_disguised_as_docx_is_refused_before_decompression() {
    // 4 MB of zeros compress about 1000:1.
    let zeros = vec![0u8; 4 * 1024 * 1024];
    let bomb = zip_of(&[("[Content_Types].xml", CONTENT_TYPES), ("word/document.xml", &zeros)]);
    assert!(bomb.len() < 64 * 1024);
    let e = err(&bomb, "report.docx", &IngestOptions::default());
    assert_eq!(e.code(), "archive_bomb");
    assert!(e.to_string().contains("word/document.xml is compressed"), "{e}");
    // A member larger than the limit, whatever its ratio.
    let options = IngestOptions {
        limits: Limits { max_archive_entry_bytes: 1024 * 1024, ..Limits::default() },
        ..IngestOptions::default()
    };
    let text: Vec<u8> = (0..2 * 1024 * 1024u32)
        .map(|i| b"abcdefghij"[(i.wrapping_mul(2654435761) >> 28) as usize % 10])
        .collect();
    let big = zip_of(&[("[Content_Types].xml", CONTENT_TYPES), ("word/document.xml", &text)]);
    let e = err(&big, "big.docx", &options);
    assert_eq!(e.code(), "archive_bomb");
    assert!(e.to_string().contains("would expand to 2 MB (limit 1 MB)"), "{e}");
}

#[test]
fn zip_member_lying_about_its_size_is_refused() {
    // A member that declares 100 bytes but inflates to 2 MB: the declared sizes pass the
    // check, and the ZIP reader stops at the declared size.
    let body = format!(
        r#"<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{}</w:body></w:document>"#,
        "<w:p><w:r><w:t>退票規定 refund rules</w:t></w:r></w:p>".repeat(40_000)
    );
    let mut bytes =
        zip_of(&[("[Content_Types].xml", CONTENT_TYPES), ("word/document.xml", body.as_bytes())]);
    let name = b"word/document.xml";
    let real = u32::try_from(body.len()).unwrap().to_le_bytes();
    let fake = 100u32.to_le_bytes();
    // Patch the uncompressed size in the local header (offset 22) and the central directory
    // entry (offset 24) of the member.
    let mut patched = 0;
    let mut i = 0;
    while i + 46 + name.len() <= bytes.len() {
        if bytes[i..i + 4] == *b"PK\x03\x04"
            && bytes[i + 30..].starts_with(name)
            && bytes[i + 22..i + 26] == real
        {
            bytes[i + 22..i + 26].copy_from_slice(&fake);
            patched += 1;
        }
        if bytes[i..i + 4] == *b"PK\x01\x02"
            && bytes[i + 46..].starts_with(name)
            && bytes[i + 24..i + 28] == real
        {
            bytes[i + 24..i + 28].copy_from_slice(&fake);
            patched += 1;
        }
        i += 1;
    }
    assert_eq!(patched, 2);
    let e = err(&bytes, "liar.docx", &IngestOptions::default());
    assert_eq!(e.code(), "archive_bomb", "{e}");
}

#[test]
fn over_the_size_limit() {
    let options = IngestOptions {
        limits: Limits { max_file_bytes: 1000, ..Limits::default() },
        ..IngestOptions::default()
    };
    let e = err(&fixture("refund.pdf"), "refund.pdf", &options);
    assert_eq!(e.code(), "too_large");
    assert!(e.to_string().starts_with("The file is 23 KB; the limit is 1000 bytes."), "{e}");
    let e = ingest_path(&fixture_path("guide.docx"), "guide.docx", &options).unwrap_err();
    assert_eq!(e.code(), "too_large");
    let e = IngestError::TooLarge { bytes: 1_288_490_189, limit: 100 * 1024 * 1024 };
    assert_eq!(
        e.to_string(),
        "The file is 1.2 GB; the limit is 100 MB. Split it into smaller files."
    );
}

#[test]
fn too_many_pages_or_too_much_text() {
    let options = IngestOptions {
        limits: Limits { max_pages: 2, ..Limits::default() },
        ..IngestOptions::default()
    };
    let e = err(&fixture("refund.pdf"), "refund.pdf", &options);
    assert_eq!(e.code(), "too_large");
    assert_eq!(e.to_string(), "The PDF has 3 pages; the limit is 2. Split it into smaller files.");
    let options = IngestOptions {
        limits: Limits { max_extracted_chars: 100, ..Limits::default() },
        ..IngestOptions::default()
    };
    for name in ["refund.pdf", "guide.docx", "fares.xlsx", "fares_big5.csv", "notice_big5.txt"] {
        let e = err(&fixture(name), name, &options);
        assert_eq!(e.code(), "too_large", "{name}: {e}");
    }
}

#[test]
fn blank_files_have_no_text() {
    let e = err(b"   \n\n\t  ", "blank.txt", &IngestOptions::default());
    assert_eq!(e.code(), "no_text");
    assert_eq!(e.to_string(), "The TXT contains no text to index.");
    let e =
        err(b"<html><body><nav>menu</nav></body></html>", "empty.html", &IngestOptions::default());
    assert_eq!(e.code(), "no_text");
}

#[test]
fn damaged_office_files_are_corrupt() {
    let docx = fixture("guide.docx");
    let e = err(&docx[..docx.len() / 2], "half.docx", &IngestOptions::default());
    assert_eq!(e.code(), "corrupt", "{e}");
    let e =
        err(&zip_of(&[("word/document.xml", b"<not xml")]), "bad.docx", &IngestOptions::default());
    assert!(matches!(e.code(), "corrupt" | "no_text"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Damaged copies of every fixture: whatever happens inside the parsers, the call returns.
    #[test]
    fn mutated_fixtures_never_escape_as_panics(
        which in 0usize..8,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..40),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let names = ["refund.pdf", "guide.docx", "slides.pptx", "fares.xlsx", "fares_big5.csv", "article.html", "manual.md", "notice_utf16le.txt"];
        let mut bytes = fixture(names[which]);
        for (at, value) in &flips {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()) + 1);
        }
        match ingest_bytes(&bytes, names[which], &small(300, 30)) {
            Ok(parsed) => prop_assert!(!parsed.text.is_empty()),
            Err(e) => prop_assert!(!e.to_string().is_empty() && !e.code().is_empty()),
        }
    }

    /// Random bytes under every extension.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), ext in 0usize..9) {
        let exts = ["pdf", "docx", "pptx", "xlsx", "csv", "html", "md", "txt", "bin"];
        let _ = ingest_bytes(&bytes, &format!("f.{}", exts[ext]), &IngestOptions::default());
    }

    /// Through the public API: chunks are in document order, within the size, and (prose being
    /// cut only at whitespace or between characters) each is a slice of the display text.
    #[test]
    fn chunk_text_chunks_are_ordered_slices_within_size(
        text in "([#]{0,2} ?[a-z台灣高鐵退票。！？.!?，, ]{0,40}\n{0,2}){0,30}",
        size in 8usize..120,
        overlap in 0usize..40,
    ) {
        let options = small(size, overlap);
        let chunks = chunk_text(&text, &options);
        for (i, c) in chunks.iter().enumerate() {
            prop_assert_eq!(c.ordinal as usize, i);
            prop_assert!(c.text.chars().count() <= size, "{:?} > {}", c.text, size);
            prop_assert!(!c.text.trim().is_empty());
        }
    }
}

#[test]
fn chunk_text_for_edited_content_and_faqs() {
    let md = "# 常見問題\n\n## 如何退票？\n\n開車前可於網路或車站退票。Refunds are possible online or at a station before departure.\n\n| 票種 | 手續費 |\n| --- | --- |\n| 全票 | 10% |";
    let chunks = chunk_text(md, &IngestOptions::default());
    // Consecutive headings stay together with the text under them.
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].heading.as_deref(), Some("常見問題 › 如何退票？"));
    assert!(chunks[0].text.starts_with("# 常見問題\n\n## 如何退票？\n\n開車前"));
    assert!(chunks[0].text.ends_with("| 全票 | 10% |"));
    let faq = chunk_text("開車前可於網路或車站退票。", &small(5, 2));
    let texts: Vec<&str> = faq.iter().map(|c| c.text.as_str()).collect();
    // A run without punctuation is cut by characters; the last chunk repeats two (overlap).
    assert_eq!(texts, vec!["開車前可於", "網路或車站", "車站退票。"]);
    assert!(chunk_text("", &IngestOptions::default()).is_empty());
    assert!(chunk_text(" \n\n ", &IngestOptions::default()).is_empty());
}
