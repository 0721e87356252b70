//! PPTX, through undoc's document model (DOCX has its own streaming reader, [`crate::docx`]).
//!
//! undoc is young (first release 2025-12), so it is used only here, behind one function that
//! returns this crate's blocks: swapping it for another reader touches this file alone. Its
//! model keeps heading levels, list numbering, tables (with header rows), PPTX slides and
//! speaker notes. Archive limits are checked before this runs ([`crate::archive`]).

use undoc::{Block as UBlock, Document, Paragraph, Table};

use crate::clean;
use crate::doc::{Block, Extracted, table_block, table_cell};
use crate::{Format, IngestError, Limits};

pub(crate) fn extract(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
) -> Result<Extracted, IngestError> {
    let parsed = match format {
        Format::Pptx => {
            undoc::pptx::PptxParser::from_bytes(bytes.to_vec()).and_then(|mut p| p.parse())
        }
        other => {
            return Err(IngestError::Internal {
                detail: format!("{} is not an office format", other.name()),
            });
        }
    };
    let doc = parsed.map_err(|e| map_error(format, &e))?;
    let mut out = Converter {
        blocks: Vec::new(),
        chars: 0,
        limit: limits.max_extracted_chars,
        images: 0,
        in_list: false,
    };
    convert(&doc, format, &mut out)?;
    let pages = match format {
        Format::Pptx => u32::try_from(doc.sections.len()).ok(),
        _ => doc.metadata.page_count.filter(|&n| n > 0),
    };
    let images_only = out.images > 0 || !doc.resources.is_empty();
    Ok(Extracted { blocks: out.blocks, pages, images_only })
}

fn map_error(format: Format, e: &undoc::Error) -> IngestError {
    let message = e.to_string();
    match e {
        undoc::Error::Encrypted => IngestError::Encrypted { format },
        _ if crate::archive::is_inflation_error(&message) => IngestError::ArchiveBomb {
            format,
            member: "(a part)".into(),
            detail: "expands past its declared size".into(),
        },
        _ => IngestError::corrupt(format, message),
    }
}

struct Converter {
    blocks: Vec<Block>,
    chars: usize,
    limit: usize,
    images: usize,
    /// The last block is a list being built (items join with line breaks).
    in_list: bool,
}

impl Converter {
    fn push(&mut self, block: Block) -> Result<(), IngestError> {
        self.chars += match &block {
            Block::Prose(t) => t.len(),
            Block::Heading { raw, .. } => raw.len(),
            Block::Table { header, rows } => {
                header.len() + rows.iter().map(String::len).sum::<usize>()
            }
            Block::Page(_) | Block::Break => 0,
        };
        // Bytes over-count characters, which errs on the side of stopping early.
        if self.chars > self.limit.saturating_mul(3) {
            return Err(IngestError::TooMuchText { limit: self.limit });
        }
        self.in_list = false;
        self.blocks.push(block);
        Ok(())
    }
}

fn convert(doc: &Document, format: Format, out: &mut Converter) -> Result<(), IngestError> {
    for (i, section) in doc.sections.iter().enumerate() {
        if format == Format::Pptx {
            out.push(Block::Page(u32::try_from(i + 1).unwrap_or(u32::MAX)))?;
        }
        for block in &section.content {
            match block {
                UBlock::Paragraph(p) => paragraph(p, out)?,
                UBlock::Table(t) => table(t, out)?,
                UBlock::Note { label, content } => {
                    let text: Vec<String> = content.iter().map(paragraph_text).collect();
                    let text = clean::clean(&text.join("\n"));
                    if !text.is_empty() {
                        out.push(Block::Prose(format!("[^{label}]: {text}")))?;
                    }
                }
                UBlock::Image { .. } => out.images += 1,
                UBlock::PageBreak | UBlock::SectionBreak => out.in_list = false,
            }
        }
        // Speaker notes: part of the slide, after its content.
        for p in section.notes.iter().flatten() {
            paragraph(p, out)?;
        }
    }
    Ok(())
}

fn paragraph_text(p: &Paragraph) -> String {
    let mut text = String::new();
    for run in &p.runs {
        text.push_str(&run.text);
        if let Some(label) = &run.note {
            text.push_str("[^");
            text.push_str(label);
            text.push(']');
        }
        if run.line_break {
            text.push('\n');
        }
    }
    text
}

fn paragraph(p: &Paragraph, out: &mut Converter) -> Result<(), IngestError> {
    out.images += p.images.len();
    let text = clean::clean(&paragraph_text(p));
    if text.is_empty() {
        return Ok(());
    }
    let level = p.heading.level();
    if (1..=6).contains(&level) {
        let title = text.replace('\n', " ");
        let raw = format!("{} {title}", "#".repeat(usize::from(level)));
        return out.push(Block::Heading { level, title, raw });
    }
    if let Some(list) = p.list_info.as_ref().filter(|l| l.list_type != undoc::ListType::None) {
        let marker = match (list.list_type, list.number) {
            (undoc::ListType::Numbered, Some(n)) => format!("{n}. "),
            _ => "- ".to_string(),
        };
        let item = format!("{marker}{}", text.replace('\n', " "));
        if out.in_list
            && let Some(Block::Prose(list_text)) = out.blocks.last_mut()
        {
            list_text.push('\n');
            list_text.push_str(&item);
            out.chars += item.len() + 1;
            return Ok(());
        }
        out.push(Block::Prose(item))?;
        out.in_list = true;
        return Ok(());
    }
    out.push(Block::Prose(text))
}

fn table(t: &Table, out: &mut Converter) -> Result<(), IngestError> {
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(t.rows.len());
    let mut header_rows = 0;
    for row in &t.rows {
        let mut cells = Vec::with_capacity(row.cells.len());
        for cell in &row.cells {
            let mut text: Vec<String> = cell.content.iter().map(paragraph_text).collect();
            for nested in &cell.nested_tables {
                for nrow in &nested.rows {
                    for ncell in &nrow.cells {
                        text.extend(ncell.content.iter().map(paragraph_text));
                    }
                }
            }
            cells.push(table_cell(&text.join(" ")));
            for _ in 1..cell.col_span.min(64) {
                cells.push(String::new());
            }
        }
        if cells.iter().all(String::is_empty) {
            continue;
        }
        if row.is_header && header_rows == rows.len() {
            header_rows += 1;
        }
        rows.push(cells);
    }
    if rows.is_empty() {
        return Ok(());
    }
    // The header: the rows marked as such (merged into one line), else the first row.
    let header_count = header_rows.max(1);
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let header: Vec<String> = (0..width)
        .map(|c| {
            let parts: Vec<&str> = rows[..header_count]
                .iter()
                .filter_map(|r| r.get(c))
                .map(String::as_str)
                .filter(|s| !s.is_empty())
                .collect();
            parts.join(" / ")
        })
        .collect();
    out.push(table_block(&header, &rows[header_count..]))
}
