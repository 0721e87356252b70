//! What the bytes really are, whatever the file name says.
//!
//! The extension picks the parser only when the contents agree: a DOCX renamed `.pdf`, a PNG
//! renamed `.txt` or a legacy `.doc` renamed `.docx` is refused with a sentence saying what the
//! file really is and what to do, instead of reaching a parser that fails obscurely.

use std::io::Cursor;

use crate::{Format, IngestError};

/// The kind of content found in the first bytes (and, for ZIP files, the central directory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    Pdf,
    /// A DOCX, PPTX or XLSX package.
    Ooxml(Format),
    /// A ZIP archive that is not an Office Open XML package.
    Zip,
    /// ODT, ODS or ODP.
    OpenDocument,
    /// An OLE2 compound file: a legacy .doc/.xls/.ppt, or a password-protected OOXML file
    /// (Office wraps those in OLE2 with an `EncryptedPackage` stream).
    Ole(OleKind),
    Rtf,
    Image(&'static str),
    /// Some other binary format, described.
    Binary(&'static str),
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OleKind {
    Encrypted,
    Doc,
    Xls,
    Ppt,
    Other,
}

/// The extension of an uploaded file name, lower case, without the dot ("" when none). Client
/// paths (`C:\docs\a.pdf`) are tolerated.
pub(crate) fn extension(filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or(filename);
    match base.rfind('.') {
        Some(idx) if idx > 0 => base[idx + 1..].trim().to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// Decides the format to parse `bytes` as, or explains why the file cannot be.
pub(crate) fn resolve(bytes: &[u8], filename: &str) -> Result<Format, IngestError> {
    let ext = extension(filename);
    let sniffed = sniff(bytes);
    let Some(claimed) = Format::from_extension(&ext) else {
        if ext.is_empty() {
            match sniffed {
                Sniffed::Pdf => return Ok(Format::Pdf),
                Sniffed::Ooxml(f) => return Ok(f),
                Sniffed::Text => return Ok(Format::Text),
                _ => {}
            }
        }
        let detail = match sniffed {
            Sniffed::Text | Sniffed::Binary(_) => String::new(),
            other => format!("{}: {}", describe(other), advice(other)),
        };
        return Err(IngestError::UnsupportedFormat { extension: ext, detail });
    };
    let agrees = match sniffed {
        Sniffed::Pdf => claimed == Format::Pdf,
        Sniffed::Ooxml(f) => claimed == f,
        Sniffed::Text => claimed.is_text(),
        _ => false,
    };
    if agrees {
        return Ok(claimed);
    }
    if sniffed == Sniffed::Ole(OleKind::Encrypted)
        && matches!(claimed, Format::Docx | Format::Pptx | Format::Xlsx)
    {
        return Err(IngestError::Encrypted { format: claimed });
    }
    Err(IngestError::WrongExtension {
        extension: ext,
        actual: describe(sniffed).to_string(),
        advice: advice(sniffed).to_string(),
    })
}

fn describe(s: Sniffed) -> &'static str {
    match s {
        Sniffed::Pdf => "a PDF",
        Sniffed::Ooxml(Format::Docx) => "a Word document (DOCX)",
        Sniffed::Ooxml(Format::Pptx) => "a PowerPoint presentation (PPTX)",
        Sniffed::Ooxml(_) => "an Excel workbook (XLSX)",
        Sniffed::Zip => "a ZIP archive (not a DOCX, XLSX or PPTX)",
        Sniffed::OpenDocument => "an OpenDocument file (ODT, ODS or ODP)",
        Sniffed::Ole(OleKind::Encrypted) => "a password-protected Office document",
        Sniffed::Ole(OleKind::Doc) => "a legacy Word 97-2003 document (.doc)",
        Sniffed::Ole(OleKind::Xls) => "a legacy Excel 97-2003 workbook (.xls)",
        Sniffed::Ole(OleKind::Ppt) => "a legacy PowerPoint 97-2003 presentation (.ppt)",
        Sniffed::Ole(OleKind::Other) => "a legacy Office 97-2003 file",
        Sniffed::Rtf => "a Rich Text Format document (RTF)",
        Sniffed::Image(kind) | Sniffed::Binary(kind) => kind,
        Sniffed::Text => "plain text",
    }
}

fn advice(s: Sniffed) -> &'static str {
    match s {
        Sniffed::Pdf => "upload it with its real extension (.pdf)",
        Sniffed::Ooxml(Format::Docx) => "upload it with its real extension (.docx)",
        Sniffed::Ooxml(Format::Pptx) => "upload it with its real extension (.pptx)",
        Sniffed::Ooxml(_) => "upload it with its real extension (.xlsx)",
        Sniffed::Zip => "unpack it and upload the documents inside",
        Sniffed::OpenDocument => "save it as DOCX, XLSX or PPTX and upload that",
        Sniffed::Ole(OleKind::Encrypted) => "save a copy without the password and upload that",
        Sniffed::Ole(OleKind::Doc) => "open it in Word, save it as .docx and upload that",
        Sniffed::Ole(OleKind::Xls) => "open it in Excel, save it as .xlsx and upload that",
        Sniffed::Ole(OleKind::Ppt) => "open it in PowerPoint, save it as .pptx and upload that",
        Sniffed::Ole(OleKind::Other) => "save it in the current Office format and upload that",
        Sniffed::Rtf => "save it as .docx and upload that",
        Sniffed::Image(_) => {
            "this version extracts text only, not images; run OCR first and upload the text"
        }
        Sniffed::Binary(_) => {
            "upload the document itself (PDF, DOCX, PPTX, XLSX, CSV, HTML, Markdown or TXT)"
        }
        Sniffed::Text => "upload it as .txt, or with its real extension",
    }
}

/// Sniffs the content type from magic numbers and, for ZIP, the member names.
pub(crate) fn sniff(bytes: &[u8]) -> Sniffed {
    let head = &bytes[..bytes.len().min(8192)];
    // PDF readers accept junk before the header within the first KB.
    if find(&head[..head.len().min(1024)], b"%PDF-").is_some() {
        return Sniffed::Pdf;
    }
    if head.starts_with(b"PK\x03\x04")
        || head.starts_with(b"PK\x05\x06")
        || head.starts_with(b"PK\x07\x08")
    {
        return sniff_zip(bytes);
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Sniffed::Ole(sniff_ole(bytes));
    }
    if head.starts_with(b"{\\rtf") {
        return Sniffed::Rtf;
    }
    if let Some(image) = sniff_image(head) {
        return Sniffed::Image(image);
    }
    const BINARIES: &[(&[u8], &str)] = &[
        (b"\x1F\x8B", "a GZIP archive"),
        (b"7z\xBC\xAF\x27\x1C", "a 7-Zip archive"),
        (b"Rar!\x1A\x07", "a RAR archive"),
        (b"BZh", "a BZIP2 archive"),
        (b"\xFD7zXZ\x00", "an XZ archive"),
        (b"\x7FELF", "a program (ELF executable)"),
        (b"\x00asm", "a WebAssembly module"),
        (b"SQLite format 3\x00", "an SQLite database"),
        (b"OggS", "an audio or video file (Ogg)"),
        (b"ID3", "an audio file (MP3)"),
        (b"fLaC", "an audio file (FLAC)"),
        (b"\x1A\x45\xDF\xA3", "a video file (Matroska/WebM)"),
    ];
    for (magic, what) in BINARIES {
        if head.starts_with(magic) {
            return Sniffed::Binary(what);
        }
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Sniffed::Binary("a video or audio file (MP4/MOV)");
    }
    if head.starts_with(b"MZ") && find(head, b"PE\x00\x00").is_some() {
        return Sniffed::Binary("a program (Windows executable)");
    }
    if looks_like_text(head) {
        Sniffed::Text
    } else {
        Sniffed::Binary("binary data, not a document")
    }
}

fn sniff_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1A\n") {
        return Some("a PNG image");
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some("a JPEG image");
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some("a GIF image");
    }
    if head.starts_with(b"II*\x00") || head.starts_with(b"MM\x00*") {
        return Some("a TIFF image");
    }
    if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        return Some("a WebP image");
    }
    if head.len() >= 12
        && &head[4..8] == b"ftyp"
        && matches!(&head[8..12], b"heic" | b"heix" | b"mif1" | b"avif")
    {
        return Some("a HEIC/AVIF image");
    }
    if head.starts_with(b"BM") && head.len() > 14 && head[6..10] == [0, 0, 0, 0] {
        return Some("a BMP image");
    }
    None
}

fn sniff_zip(bytes: &[u8]) -> Sniffed {
    // The central directory is authoritative; reading it decompresses nothing.
    if let Ok(archive) = zip::ZipArchive::new(Cursor::new(bytes)) {
        let found =
            archive.file_names().filter_map(Result::ok).find_map(|name| match name.as_ref() {
                "word/document.xml" => Some(Format::Docx),
                "ppt/presentation.xml" => Some(Format::Pptx),
                "xl/workbook.xml" => Some(Format::Xlsx),
                _ => None,
            });
        if let Some(f) = found {
            return Sniffed::Ooxml(f);
        }
        if archive.index_for_name("mimetype").is_some()
            && find(&bytes[..bytes.len().min(200)], b"application/vnd.oasis.opendocument").is_some()
        {
            return Sniffed::OpenDocument;
        }
        return Sniffed::Zip;
    }
    // A damaged archive: the local headers still name the members. The format is decided
    // here and the archive check reports the damage.
    for (needle, f) in
        [(&b"word/"[..], Format::Docx), (&b"ppt/"[..], Format::Pptx), (&b"xl/"[..], Format::Xlsx)]
    {
        if find(bytes, needle).is_some() {
            return Sniffed::Ooxml(f);
        }
    }
    Sniffed::Zip
}

fn sniff_ole(bytes: &[u8]) -> OleKind {
    // Directory entry names are UTF-16LE.
    let has = |name: &str| {
        let utf16: Vec<u8> = name.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        find(bytes, &utf16).is_some()
    };
    if has("EncryptedPackage") {
        OleKind::Encrypted
    } else if has("WordDocument") {
        OleKind::Doc
    } else if has("Workbook") || has("Book") {
        OleKind::Xls
    } else if has("PowerPoint Document") {
        OleKind::Ppt
    } else {
        OleKind::Other
    }
}

/// Text if there is a UTF-16 BOM, or (without NUL bytes) few control characters, or the NUL
/// pattern of BOM-less UTF-16.
fn looks_like_text(head: &[u8]) -> bool {
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    let nuls = head.iter().filter(|&&b| b == 0).count();
    if nuls > 0 {
        return crate::encoding::utf16_without_bom(head).is_some();
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B))
        .count();
    controls * 20 <= head.len()
}

/// Position of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = haystack.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match haystack[i..=last_start].iter().position(|&b| b == first) {
            None => return None,
            Some(p) => {
                i += p;
                if &haystack[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_from_names() {
        assert_eq!(extension("報告.PDF"), "pdf");
        assert_eq!(extension("C:\\docs\\a.b.docx"), "docx");
        assert_eq!(extension("README"), "");
        assert_eq!(extension(".bashrc"), "");
        assert_eq!(extension("dir.d/file"), "");
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Sniffed::Pdf);
        assert_eq!(sniff(b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR"), Sniffed::Image("a PNG image"));
        assert_eq!(sniff("台灣高鐵".as_bytes()), Sniffed::Text);
        assert_eq!(sniff(b"\xFF\xFEa\0b\0"), Sniffed::Text);
        assert_eq!(sniff(b"a\0b\0c\0d\0e\0f\0g\0h\0"), Sniffed::Text);
        assert!(matches!(sniff(b"\0\x01\x02\x03\x04\x05\x06\x07\x08"), Sniffed::Binary(_)));
        assert_eq!(sniff(b"{\\rtf1\\ansi"), Sniffed::Rtf);
    }

    #[test]
    fn mismatches_are_explained() {
        let err = resolve(b"\x89PNG\r\n\x1A\n\0\0\0\rIHDR", "scan.txt").unwrap_err();
        assert_eq!(err.code(), "wrong_extension");
        assert!(err.to_string().contains("PNG image"), "{err}");
        assert!(err.to_string().contains("OCR"), "{err}");
        let err = resolve(b"hello", "notes.pdf").unwrap_err();
        assert_eq!(err.code(), "wrong_extension");
        let err = resolve(b"hello", "notes.exe").unwrap_err();
        assert_eq!(err.code(), "unsupported_format");
        assert_eq!(resolve(b"%PDF-1.4", "noext").unwrap(), Format::Pdf);
        assert_eq!(resolve(b"plain", "noext").unwrap(), Format::Text);
    }

    #[test]
    fn find_works() {
        assert_eq!(find(b"abcabd", b"abd"), Some(3));
        assert_eq!(find(b"ab", b"abc"), None);
        assert_eq!(find(b"aaa", b"a"), Some(0));
    }
}
