//! OpenMai's file ingestion: an uploaded file becomes clean text and retrieval-sized chunks.
//!
//! Formats: PDF (text layer, page numbers kept), DOCX, PPTX (with speaker notes), XLSX and CSV
//! (every row chunk repeats its header), HTML (main content only), Markdown and TXT (with encoding
//! detection: Big5 and UTF-16 files are common in Taiwan).
//!
//! The crate is pure: no network, no database, no async. The server runs it in a child process
//! with a memory limit and a timeout, and this crate does its part to make that process's life
//! predictable:
//! - every bad input becomes an [`IngestError`] with a stable [`code`](IngestError::code) and a
//!   message a person can act on, never a panic: parsers run on a dedicated thread whose panics
//!   are caught and reported as a damaged file;
//! - memory is bounded by [`Limits`]: the file size is checked before reading, ZIP members
//!   (DOCX, PPTX, XLSX) are checked against their declared sizes and compression ratios before
//!   anything is decompressed, PDF page counts are checked before extraction, and extraction
//!   stops as soon as the text grows past [`Limits::max_extracted_chars`];
//! - the real format is sniffed from the bytes and a mismatching extension is refused with a
//!   reason, so a renamed file never reaches the wrong parser.
//!
//! Chunks are slices of [`ParsedFile::text`] (the Markdown-like display text) cut at headings,
//! pages, paragraphs and then sentences (Chinese `。！？；` and English `.!?`), with overlap
//! inside a section. Table chunks are the exception: each repeats its table's header row.

mod archive;
mod chunk;
mod clean;
mod detect;
mod doc;
mod docx;
mod encoding;
mod error;
mod html;
mod office;
mod pdf;
mod structure;
mod tabular;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use error::IngestError;

/// A document format this crate can ingest.
///
/// Serialised in lower case (`"pdf"`, `"docx"`, …, `"markdown"`, `"text"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// PDF with a text layer (scans without one are refused with [`IngestError::NoText`]).
    Pdf,
    /// Word (Office Open XML).
    Docx,
    /// PowerPoint (Office Open XML); slides and speaker notes.
    Pptx,
    /// Excel (Office Open XML); every sheet a table.
    Xlsx,
    /// Comma- (or tab-, semicolon-) separated values.
    Csv,
    /// A web page; only its main content is kept.
    Html,
    /// Markdown; headings become chunk headings.
    Markdown,
    /// Plain text in any common encoding.
    Text,
}

const ALL_FORMATS: [Format; 8] = [
    Format::Pdf,
    Format::Docx,
    Format::Pptx,
    Format::Xlsx,
    Format::Csv,
    Format::Html,
    Format::Markdown,
    Format::Text,
];

impl Format {
    /// The format a file name's extension promises (without the dot, any case), or `None` when
    /// the extension is not one this crate reads. The promise is checked against the bytes.
    pub fn from_extension(ext: &str) -> Option<Format> {
        let ext = ext.trim().trim_start_matches('.').to_ascii_lowercase();
        Some(match ext.as_str() {
            "pdf" => Format::Pdf,
            "docx" => Format::Docx,
            "pptx" => Format::Pptx,
            "xlsx" => Format::Xlsx,
            "csv" | "tsv" => Format::Csv,
            "html" | "htm" | "xhtml" => Format::Html,
            "md" | "markdown" => Format::Markdown,
            "txt" | "text" => Format::Text,
            _ => return None,
        })
    }

    /// Every extension [`from_extension`](Format::from_extension) accepts, for upload forms and
    /// the "supported file types" endpoint.
    pub fn extensions() -> &'static [&'static str] {
        &[
            "pdf", "docx", "pptx", "xlsx", "csv", "tsv", "html", "htm", "xhtml", "md", "markdown",
            "txt", "text",
        ]
    }

    /// Every format, in a stable order.
    pub fn all() -> &'static [Format] {
        &ALL_FORMATS
    }

    /// The IANA media type, for blob storage and downloads.
    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Pdf => "application/pdf",
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Format::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Csv => "text/csv",
            Format::Html => "text/html",
            Format::Markdown => "text/markdown",
            Format::Text => "text/plain",
        }
    }

    /// A short human name, used in error messages ("The PDF has no text layer…").
    pub fn name(self) -> &'static str {
        match self {
            Format::Pdf => "PDF",
            Format::Docx => "DOCX",
            Format::Pptx => "PPTX",
            Format::Xlsx => "XLSX",
            Format::Csv => "CSV",
            Format::Html => "HTML",
            Format::Markdown => "Markdown",
            Format::Text => "TXT",
        }
    }

    /// The usual extension, used when telling a person how to rename a file.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Pptx => "pptx",
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
            Format::Html => "html",
            Format::Markdown => "md",
            Format::Text => "txt",
        }
    }

    /// Whether the format is a text format (decoded with encoding detection) rather than a
    /// binary container.
    pub fn is_text(self) -> bool {
        matches!(self, Format::Csv | Format::Html | Format::Markdown | Format::Text)
    }
}

/// Hard limits that keep one file from taking the process down. Every limit that trips fails
/// that file with a reason ([`IngestError::code`] `too_large` or `archive_bomb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest file accepted, in bytes (default 100 MiB). Checked before the file is read.
    pub max_file_bytes: u64,
    /// Most characters of text extracted from one file (default 50 million). Extraction stops
    /// as soon as it is passed, so a small file that expands enormously cannot exhaust memory.
    pub max_extracted_chars: usize,
    /// Largest uncompressed size of any member of a ZIP-based file (DOCX, PPTX, XLSX), in bytes
    /// (default 200 MiB). Read from the central directory before anything is decompressed; the
    /// ZIP reader also refuses to inflate a member past its declared size.
    pub max_archive_entry_bytes: u64,
    /// Compression ratio (uncompressed / compressed) above which a ZIP member larger than 1 MiB
    /// is taken for a bomb (default 100; real Office XML compresses 5–30×).
    pub max_archive_ratio: u64,
    /// Largest total uncompressed size of all members of a ZIP-based file (default 1 GiB).
    pub max_archive_total_bytes: u64,
    /// Most pages in a PDF (default 10 000). Checked before any page is extracted.
    pub max_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 100 * 1024 * 1024,
            max_extracted_chars: 50_000_000,
            max_archive_entry_bytes: 200 * 1024 * 1024,
            max_archive_ratio: 100,
            max_archive_total_bytes: 1024 * 1024 * 1024,
            max_pages: 10_000,
        }
    }
}

/// How to cut text into chunks, per knowledge base, plus the [`Limits`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestOptions {
    /// Largest chunk, in characters (Unicode scalar values; default 800). A chunk only exceeds
    /// it when a single table row (with its repeated header) is longer. Values below 1 count
    /// as 1.
    pub chunk_size: usize,
    /// Characters of the previous chunk repeated at the start of the next one when a section is
    /// cut for length (default 100), so a sentence cut off at the boundary keeps its context.
    /// Never crosses a heading, page or table boundary; capped at half of `chunk_size`.
    pub chunk_overlap: usize,
    /// Memory and size limits.
    pub limits: Limits,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions { chunk_size: 800, chunk_overlap: 100, limits: Limits::default() }
    }
}

/// A retrieval-sized piece of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub ordinal: u32,
    /// The text: a slice of [`ParsedFile::text`], except that a table chunk starts with its
    /// table's header row even when the header is in an earlier chunk.
    pub text: String,
    /// 1-based PDF page, PPTX slide or XLSX sheet the chunk comes from (chunks never span two).
    pub page_number: Option<u32>,
    /// The nearest heading path, outermost first, joined with ` › `
    /// (e.g. `第二章 退票規定 › 2.1 線上退票`); for XLSX, the sheet name comes first.
    pub heading: Option<String>,
}

/// The result of ingesting one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedFile {
    /// The format the bytes really are (matching the extension, or sniffed when there is none).
    pub format: Format,
    /// The whole cleaned content, Markdown-like (headings as `#`, tables as pipe tables), for
    /// display and editing; [`chunk_text`] re-chunks an edited copy the same way.
    pub text: String,
    /// Pages (PDF, and DOCX when the file records it), slides (PPTX) or sheets (XLSX).
    pub pages: Option<u32>,
    /// The chunks, in document order.
    pub chunks: Vec<Chunk>,
    /// For text formats (CSV, HTML, Markdown, TXT): the detected encoding, e.g. `UTF-8`,
    /// `Big5`, `UTF-16LE`.
    pub encoding: Option<String>,
}

/// Ingests the file at `path`. `filename` is the name the user uploaded it under (its extension
/// is checked against the contents); the path itself may be a random blob name.
///
/// The size is checked before the file is read, so a 1 GB upload costs nothing.
pub fn ingest_path(
    path: &Path,
    filename: &str,
    options: &IngestOptions,
) -> Result<ParsedFile, IngestError> {
    let meta = std::fs::metadata(path).map_err(IngestError::io)?;
    if meta.len() == 0 {
        return Err(IngestError::EmptyFile);
    }
    if meta.len() > options.limits.max_file_bytes {
        return Err(IngestError::TooLarge {
            bytes: meta.len(),
            limit: options.limits.max_file_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(IngestError::io)?;
    ingest_bytes(&bytes, filename, options)
}

/// Ingests a file held in memory. See [`ingest_path`].
pub fn ingest_bytes(
    bytes: &[u8],
    filename: &str,
    options: &IngestOptions,
) -> Result<ParsedFile, IngestError> {
    if bytes.is_empty() {
        return Err(IngestError::EmptyFile);
    }
    let size = bytes.len() as u64;
    if size > options.limits.max_file_bytes {
        return Err(IngestError::TooLarge { bytes: size, limit: options.limits.max_file_bytes });
    }
    let format = detect::resolve(bytes, filename)?;
    if matches!(format, Format::Docx | Format::Pptx | Format::Xlsx) {
        archive::check(bytes, format, &options.limits)?;
    }
    run_guarded(format, || parse(bytes, format, options))
}

/// Cuts already-clean text (edited file content, an FAQ answer) into chunks the same way files
/// are cut: Markdown headings (and `第X章` / `2.1`-style heading lines) start sections,
/// pipe tables repeat their header row, prose is cut at paragraphs then sentences.
pub fn chunk_text(text: &str, options: &IngestOptions) -> Vec<Chunk> {
    let cleaned = clean::clean(text);
    let blocks = structure::parse_markdown(&cleaned, false);
    chunk::chunk(&blocks, options)
}

fn parse(bytes: &[u8], format: Format, options: &IngestOptions) -> Result<ParsedFile, IngestError> {
    let limits = &options.limits;
    let mut encoding = None;
    let extracted = match format {
        Format::Pdf => pdf::extract(bytes, limits)?,
        Format::Docx => docx::extract(bytes, limits)?,
        Format::Pptx => office::extract(bytes, format, limits)?,
        Format::Xlsx => tabular::extract_xlsx(bytes, limits)?,
        Format::Csv | Format::Html | Format::Markdown | Format::Text => {
            let decoded = encoding::decode(bytes, format == Format::Html);
            encoding = Some(decoded.encoding.to_string());
            let text = decoded.text;
            if text.chars().count() > limits.max_extracted_chars {
                return Err(IngestError::TooMuchText { limit: limits.max_extracted_chars });
            }
            match format {
                Format::Csv => tabular::extract_csv(&text, limits)?,
                Format::Html => html::extract(&text, limits)?,
                _ => {
                    // Intermediate copies are dropped as soon as possible: peak memory is a
                    // small multiple of the text, whatever the file.
                    let cleaned = clean::clean_owned(text);
                    doc::Extracted::new(structure::parse_markdown(
                        &cleaned,
                        format == Format::Markdown,
                    ))
                }
            }
        }
    };
    let text = doc::render(&extracted.blocks);
    if !text.chars().any(|c| !c.is_whitespace()) {
        return Err(IngestError::NoText { format, scanned: extracted.images_only });
    }
    if text.len() > limits.max_extracted_chars.saturating_mul(4)
        || text.chars().count() > limits.max_extracted_chars
    {
        return Err(IngestError::TooMuchText { limit: limits.max_extracted_chars });
    }
    let chunks = chunk::chunk(&extracted.blocks, options);
    Ok(ParsedFile { format, text, pages: extracted.pages, chunks, encoding })
}

/// Stack for the parsing thread: deeply nested PDFs, HTML or XML recurse in the parsers, and a
/// stack overflow would abort the process instead of failing the file.
/// 64 MiB is reserved address space, not resident memory, but it counts against an address-space
/// limit (`RLIMIT_AS`), so it is kept modest.
const PARSER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Runs `f` on its own thread with a large stack and turns a panic into
/// [`IngestError::Corrupt`]: third-party parsers assert on malformed input.
fn run_guarded<F>(format: Format, f: F) -> Result<ParsedFile, IngestError>
where
    F: FnOnce() -> Result<ParsedFile, IngestError> + Send,
{
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("openmai-ingest".into())
            .stack_size(PARSER_STACK_BYTES)
            .spawn_scoped(scope, f)
            .map_err(|e| IngestError::Internal { detail: format!("no parser thread: {e}") })?;
        match handle.join() {
            Ok(result) => result,
            Err(payload) => {
                Err(IngestError::Corrupt { format, detail: error::panic_message(&*payload) })
            }
        }
    })
}
