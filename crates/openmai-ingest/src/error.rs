//! Why a file could not be ingested: a stable code for programs, a message for people.

use serde::{Deserialize, Serialize};

use crate::Format;

/// Why a file could not be ingested.
///
/// [`code`](IngestError::code) is stable snake_case for programs (several variants share a code,
/// e.g. every size limit is `too_large`); `Display` is an English sentence that tells a person
/// what to do about it. Serialises (tagged by `kind`) so it can cross the process boundary
/// between the ingestion child process and the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IngestError {
    /// Zero bytes.
    #[error("The file is empty (0 bytes).")]
    EmptyFile,
    /// The extension is not one this crate reads (and the contents did not say otherwise).
    #[error("{}", unsupported_message(.extension, .detail))]
    UnsupportedFormat {
        /// The file name's extension, without the dot (may be empty).
        extension: String,
        /// What the contents look like and what to do, or empty.
        detail: String,
    },
    /// The extension promises one format and the bytes are another.
    #[error("The file says .{extension} but its contents are {actual}: {advice}.")]
    WrongExtension {
        /// The file name's extension, without the dot.
        extension: String,
        /// What the bytes really are, e.g. "a Word document (DOCX)".
        actual: String,
        /// What to do, e.g. "upload it with its real extension (.docx)".
        advice: String,
    },
    /// The file is over [`Limits::max_file_bytes`](crate::Limits::max_file_bytes).
    #[error("The file is {}; the limit is {}. Split it into smaller files.", human_bytes(*.bytes), human_bytes(*.limit))]
    TooLarge {
        /// The file's size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// The PDF has more than [`Limits::max_pages`](crate::Limits::max_pages) pages.
    #[error("The PDF has {pages} pages; the limit is {limit}. Split it into smaller files.")]
    TooManyPages {
        /// Pages in the file.
        pages: usize,
        /// The limit.
        limit: usize,
    },
    /// The extracted text passed [`Limits::max_extracted_chars`](crate::Limits::max_extracted_chars).
    #[error("The file holds more than {limit} characters of text; split it into smaller files.")]
    TooMuchText {
        /// The limit.
        limit: usize,
    },
    /// The bytes start like the format but cannot be parsed (truncated, damaged, or a parser
    /// gave up on it).
    #[error("The {} could not be read: it is damaged or not a valid {} file ({detail}). Open it in the program that made it, save or export it again, and upload the new copy.", .format.name(), .format.name())]
    Corrupt {
        /// The format the file was parsed as.
        format: Format,
        /// The parser's own words, for support.
        detail: String,
    },
    /// The file needs a password to open.
    #[error("The {} is password-protected: save a copy without the password and upload that.", .format.name())]
    Encrypted {
        /// The format.
        format: Format,
    },
    /// A ZIP member of a DOCX, PPTX or XLSX would expand past the limits: refused before
    /// decompression.
    #[error("The {} was not opened: its part {member} {detail}. A normal document does not do that (is it a ZIP bomb?).", .format.name())]
    ArchiveBomb {
        /// The format the extension claims.
        format: Format,
        /// The member's path inside the archive, or "(all parts)".
        member: String,
        /// What is wrong, e.g. "would expand to 1.2 GB (limit 200 MB)".
        detail: String,
    },
    /// Nothing to index: a scanned PDF without a text layer (or whose fonts cannot be
    /// decoded), an empty sheet, a blank page.
    #[error("{}", no_text_message(*.format, *.scanned))]
    NoText {
        /// The format.
        format: Format,
        /// The file has pictures but no text (a scan?). For a PDF, `false` means it has glyphs
        /// that cannot be decoded to Unicode.
        scanned: bool,
    },
    /// The file could not be read from disk.
    #[error("The file could not be read: {detail}.")]
    Io {
        /// The operating system's error.
        detail: String,
    },
    /// Something that is not the file's fault (e.g. no thread could be started).
    #[error("Ingestion failed unexpectedly: {detail}. Try again; if it keeps failing, report it.")]
    Internal {
        /// What failed.
        detail: String,
    },
}

impl IngestError {
    /// A stable snake_case code for programs: `empty_file`, `unsupported_format`,
    /// `wrong_extension`, `too_large` (file size, pages or extracted text), `corrupt`,
    /// `encrypted`, `archive_bomb`, `no_text`, `io_error`, `internal`.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::EmptyFile => "empty_file",
            IngestError::UnsupportedFormat { .. } => "unsupported_format",
            IngestError::WrongExtension { .. } => "wrong_extension",
            IngestError::TooLarge { .. }
            | IngestError::TooManyPages { .. }
            | IngestError::TooMuchText { .. } => "too_large",
            IngestError::Corrupt { .. } => "corrupt",
            IngestError::Encrypted { .. } => "encrypted",
            IngestError::ArchiveBomb { .. } => "archive_bomb",
            IngestError::NoText { .. } => "no_text",
            IngestError::Io { .. } => "io_error",
            IngestError::Internal { .. } => "internal",
        }
    }

    /// Whether trying the same file again could succeed (only for I/O and internal failures).
    pub fn is_retryable(&self) -> bool {
        matches!(self, IngestError::Io { .. } | IngestError::Internal { .. })
    }

    pub(crate) fn io(e: std::io::Error) -> IngestError {
        IngestError::Io { detail: e.to_string() }
    }

    pub(crate) fn corrupt(format: Format, detail: impl std::fmt::Display) -> IngestError {
        let mut detail = detail.to_string();
        truncate_chars(&mut detail, 300);
        IngestError::Corrupt { format, detail }
    }
}

fn unsupported_message(extension: &str, detail: &str) -> String {
    const SUPPORTED: &str = "Supported: PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx), CSV, HTML, Markdown (.md) and plain text (.txt).";
    let mut msg = if extension.is_empty() {
        "The file name has no extension and its contents are not a supported document".to_string()
    } else {
        format!("Files of type .{extension} are not supported")
    };
    if !detail.is_empty() {
        msg.push_str(" (");
        msg.push_str(detail);
        msg.push(')');
    }
    msg.push_str(". ");
    msg.push_str(SUPPORTED);
    msg
}

fn no_text_message(format: Format, scanned: bool) -> String {
    match (format, scanned) {
        (Format::Pdf, true) => "The PDF has no text layer (a scan?): this version extracts text only, not images; run OCR first.".to_string(),
        (Format::Pdf, false) => "The PDF's text cannot be decoded (its fonts have no Unicode mapping): this version extracts text only; run OCR first.".to_string(),
        (_, true) => format!("The {} holds only pictures, no text: this version extracts text only, not images; run OCR first.", format.name()),
        (_, false) => format!("The {} contains no text to index.", format.name()),
    }
}

/// `1.2 GB`, `100 MB`, `512 KB`, `17 bytes` (binary units, as upload limits are set).
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value >= 10.0 || (value.fract() < 0.05) {
        format!("{:.0} {}", value, UNITS[unit])
    } else {
        format!("{:.1} {}", value, UNITS[unit])
    }
}

pub(crate) fn truncate_chars(s: &mut String, max: usize) {
    if let Some((idx, _)) = s.char_indices().nth(max) {
        s.truncate(idx);
        s.push('…');
    }
}

/// The message of a caught panic, for [`IngestError::Corrupt`].
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown failure".to_string()
    };
    let mut msg = format!("the parser failed: {msg}");
    truncate_chars(&mut msg, 300);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_read_naturally() {
        assert_eq!(human_bytes(0), "0 bytes");
        assert_eq!(human_bytes(100 * 1024 * 1024), "100 MB");
        assert_eq!(human_bytes(1288490189), "1.2 GB");
        assert_eq!(human_bytes(2048), "2 KB");
        assert_eq!(human_bytes(1536), "1.5 KB");
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = IngestError::TooLarge { bytes: 1288490189, limit: 100 * 1024 * 1024 };
        assert_eq!(
            e.to_string(),
            "The file is 1.2 GB; the limit is 100 MB. Split it into smaller files."
        );
        assert_eq!(e.code(), "too_large");
        let e = IngestError::WrongExtension {
            extension: "pdf".into(),
            actual: "a ZIP archive (DOCX, XLSX or PPTX?)".into(),
            advice: "upload it with its real extension".into(),
        };
        assert_eq!(
            e.to_string(),
            "The file says .pdf but its contents are a ZIP archive (DOCX, XLSX or PPTX?): upload it with its real extension."
        );
        let e = IngestError::NoText { format: Format::Pdf, scanned: true };
        assert!(e.to_string().contains("run OCR first"));
    }

    #[test]
    fn errors_round_trip_as_json() {
        let e = IngestError::Corrupt { format: Format::Pdf, detail: "xref".into() };
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains("\"kind\":\"corrupt\""), "{json}");
        let back: IngestError = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        let json = serde_json::to_string(&IngestError::EmptyFile).unwrap();
        assert_eq!(json, r#"{"kind":"empty_file"}"#);
    }
}
