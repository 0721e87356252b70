//! Refuses ZIP bombs before anything is decompressed.
//!
//! DOCX, PPTX and XLSX are ZIP packages, and the parsers (undoc, calamine) decompress members
//! themselves. So the central directory is read first, which costs no decompression, and the
//! file is refused when a member declares an uncompressed size or a compression ratio past the
//! [`Limits`], or when all members together would. The declared sizes are binding: the `zip`
//! crate (9.x, which both parsers use) fails a member that inflates past its declared size,
//! and that failure is reported as [`IngestError::ArchiveBomb`] too (see [`is_inflation_error`]).

use std::io::Cursor;

use crate::error::human_bytes;
use crate::{Format, IngestError, Limits};

/// Members smaller than this are never bombs, whatever their ratio: small, repetitive XML
/// parts (styles, empty sheets) legitimately compress several hundred times.
const RATIO_FLOOR_BYTES: u64 = 1024 * 1024;

/// Checks every member's declared size and ratio against `limits`.
pub(crate) fn check(bytes: &[u8], format: Format, limits: &Limits) -> Result<(), IngestError> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| IngestError::corrupt(format, format!("not a readable ZIP package: {e}")))?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_data(i)
            .map_err(|e| IngestError::corrupt(format, format!("ZIP member {i}: {e}")))?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{i}"));
        if entry.encrypted() {
            return Err(IngestError::Encrypted { format });
        }
        let size = entry.size();
        let compressed = entry.compressed_size().max(1);
        if size > limits.max_archive_entry_bytes {
            return Err(IngestError::ArchiveBomb {
                format,
                member: name,
                detail: format!(
                    "would expand to {} (limit {})",
                    human_bytes(size),
                    human_bytes(limits.max_archive_entry_bytes)
                ),
            });
        }
        let ratio = size / compressed;
        if size > RATIO_FLOOR_BYTES && ratio > limits.max_archive_ratio {
            return Err(IngestError::ArchiveBomb {
                format,
                member: name,
                detail: format!(
                    "is compressed {ratio}:1, expanding {} to {} (limit {}:1)",
                    human_bytes(compressed),
                    human_bytes(size),
                    limits.max_archive_ratio
                ),
            });
        }
        total = total.saturating_add(size);
    }
    if total > limits.max_archive_total_bytes {
        return Err(IngestError::ArchiveBomb {
            format,
            member: "(all parts together)".into(),
            detail: format!(
                "would expand to {} (limit {})",
                human_bytes(total),
                human_bytes(limits.max_archive_total_bytes)
            ),
        });
    }
    Ok(())
}

/// Whether a parser's error text says a member inflated past its declared size (the `zip`
/// crate's guard) or past undoc's own inflation guard.
pub(crate) fn is_inflation_error(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("declared uncompressed size") || m.contains("inflat")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_with(name: &str, data: &[u8]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        w.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn ratio_and_size_limits() {
        let zeros = vec![0u8; 3 * 1024 * 1024];
        let bytes = zip_with("word/document.xml", &zeros);
        let err = check(&bytes, Format::Docx, &Limits::default()).unwrap_err();
        assert_eq!(err.code(), "archive_bomb");
        assert!(err.to_string().contains("word/document.xml"), "{err}");
        let limits = Limits { max_archive_entry_bytes: 1024 * 1024, ..Limits::default() };
        let err =
            check(&zip_with("a.xml", &[b'x'; 2 * 1024 * 1024]), Format::Docx, &limits).unwrap_err();
        assert!(err.to_string().contains("would expand to 2 MB (limit 1 MB)"), "{err}");
        // Small repetitive parts are fine.
        check(&zip_with("a.xml", &[b'x'; 500 * 1024]), Format::Docx, &Limits::default()).unwrap();
    }
}
