//! XLSX and CSV: every sheet a table whose header row is repeated in every chunk.
//!
//! Complaints about peers ("Excel tables split without headers", RAGFlow #5888; "chunks lose
//! the table header after the first cut", Open WebUI #30413) are why tables stay structured
//! until chunking. XLSX cells are streamed (calamine's cell reader), so a sheet is never held
//! as a dense grid: each row keeps only its non-empty cells, and columns empty in every row are
//! dropped when the table is rendered.

use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx, XlsxError};

use crate::doc::{Block, Extracted, table_cell};
use crate::{Format, IngestError, Limits};

/// Separates cells inside a [`SparseRow`]'s text; `table_cell` never emits control characters.
const CELL_SEP: char = '\u{1F}';

/// A row's non-empty cells: their columns and their texts joined by [`CELL_SEP`].
#[derive(Default)]
struct SparseRow {
    cols: Vec<u32>,
    text: String,
}

impl SparseRow {
    fn push(&mut self, col: u32, cell: &str) {
        if !self.cols.is_empty() {
            self.text.push(CELL_SEP);
        }
        self.cols.push(col);
        self.text.push_str(cell);
    }

    fn cells(&self) -> impl Iterator<Item = (u32, &str)> {
        self.cols.iter().copied().zip(self.text.split(CELL_SEP))
    }
}

/// Counts extracted characters against the limit (cells count with their ` | ` separators).
struct Budget {
    used: usize,
    limit: usize,
}

impl Budget {
    fn take(&mut self, n: usize) -> Result<(), IngestError> {
        self.used += n;
        if self.used > self.limit {
            Err(IngestError::TooMuchText { limit: self.limit })
        } else {
            Ok(())
        }
    }
}

pub(crate) fn extract_xlsx(bytes: &[u8], limits: &Limits) -> Result<Extracted, IngestError> {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| xlsx_error(&e))?;
    let names: Vec<String> = workbook.sheet_names().to_vec();
    let mut budget = Budget { used: 0, limit: limits.max_extracted_chars };
    let mut blocks = Vec::new();
    let mut first_error = None;
    for (i, name) in names.iter().enumerate() {
        let rows = match read_sheet(&mut workbook, name, &mut budget) {
            Ok(rows) => rows,
            Err(SheetError::Limit(e)) => return Err(e),
            Err(SheetError::Parse(e)) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        blocks.push(Block::Page(u32::try_from(i + 1).unwrap_or(u32::MAX)));
        let title = table_cell(name);
        blocks.push(Block::Heading { level: 1, raw: format!("# {title}"), title });
        blocks.extend(sparse_table(&rows));
    }
    if blocks.is_empty()
        && let Some(e) = first_error
    {
        return Err(e);
    }
    Ok(Extracted { blocks, pages: u32::try_from(names.len()).ok(), images_only: false })
}

enum SheetError {
    Limit(IngestError),
    Parse(IngestError),
}

fn read_sheet(
    workbook: &mut Xlsx<Cursor<&[u8]>>,
    name: &str,
    budget: &mut Budget,
) -> Result<Vec<SparseRow>, SheetError> {
    let mut reader =
        workbook.worksheet_cells_reader(name).map_err(|e| SheetError::Parse(xlsx_error(&e)))?;
    let mut rows: Vec<SparseRow> = Vec::new();
    let mut current: Option<(u32, SparseRow)> = None;
    while let Some(cell) = reader.next_cell().map_err(|e| SheetError::Parse(xlsx_error(&e)))? {
        let (row, col) = cell.get_position();
        let text = cell_text(cell.get_value());
        if text.is_empty() {
            continue;
        }
        budget.take(text.len() + 3).map_err(SheetError::Limit)?;
        match &mut current {
            Some((r, sparse)) if *r == row => sparse.push(col, &text),
            _ => {
                if let Some((_, done)) = current.take() {
                    rows.push(done);
                }
                let mut sparse = SparseRow::default();
                sparse.push(col, &text);
                current = Some((row, sparse));
            }
        }
    }
    if let Some((_, done)) = current {
        rows.push(done);
    }
    Ok(rows)
}

fn xlsx_error(e: &XlsxError) -> IngestError {
    let message = e.to_string();
    match e {
        XlsxError::Password => IngestError::Encrypted { format: Format::Xlsx },
        _ if crate::archive::is_inflation_error(&message) => IngestError::ArchiveBomb {
            format: Format::Xlsx,
            member: "(a part)".into(),
            detail: "expands past its declared size".into(),
        },
        _ => IngestError::corrupt(Format::Xlsx, message),
    }
}

/// Renders a cell value as Excel shows it, roughly: integers without `.0`, dates as ISO dates.
fn cell_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => format_number(*f),
        DataRef::String(s) => table_cell(s),
        DataRef::SharedString(s) => table_cell(s),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(dt) => {
            if dt.is_duration() {
                let secs = (dt.as_f64() * 86_400.0).round() as i64;
                format!("{}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60)
            } else {
                let (y, mo, d, h, mi, s, _) = dt.to_ymd_hms_milli();
                if dt.as_f64() < 1.0 {
                    format!("{h:02}:{mi:02}:{s:02}")
                } else if (h, mi, s) == (0, 0, 0) {
                    format!("{y:04}-{mo:02}-{d:02}")
                } else {
                    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
                }
            }
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => table_cell(s),
        DataRef::Error(e) => e.to_string(),
        DataRef::Empty => String::new(),
    }
}

fn format_number(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    // Ten decimals hide binary noise (0.1 + 0.2) as Excel's display does.
    let s = format!("{f:.10}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() { "0".to_string() } else { s.to_string() }
}

/// Index of the header row among the first rows: the first that is at least half as wide as
/// the widest, so a title line above a table ("2024 票價表") is not taken for the header.
fn header_index(widths: &[usize]) -> usize {
    let max = widths.iter().take(10).copied().max().unwrap_or(0);
    if max < 2 {
        return 0;
    }
    let need = max.div_ceil(2).max(2);
    widths.iter().take(10).position(|&w| w >= need).unwrap_or(0)
}

/// Title lines (as prose) and the table of a sheet.
fn sparse_table(rows: &[SparseRow]) -> Vec<Block> {
    if rows.is_empty() {
        return Vec::new();
    }
    let widths: Vec<usize> = rows.iter().take(10).map(|r| r.cols.len()).collect();
    let h = header_index(&widths);
    let mut blocks = Vec::new();
    for title in &rows[..h] {
        let line: Vec<&str> = title.cells().map(|(_, t)| t).collect();
        blocks.push(Block::Prose(line.join(" ")));
    }
    let mut used: Vec<u32> = rows[h..].iter().flat_map(|r| r.cols.iter().copied()).collect();
    used.sort_unstable();
    used.dedup();
    let render = |row: &SparseRow| -> String {
        let mut cells = vec![""; used.len()];
        for (col, text) in row.cells() {
            if let Ok(i) = used.binary_search(&col) {
                cells[i] = text;
            }
        }
        let mut line = String::from("|");
        for cell in cells {
            line.push(' ');
            line.push_str(cell);
            line.push_str(" |");
        }
        line
    };
    let mut header = render(&rows[h]);
    header.push_str("\n|");
    for _ in &used {
        header.push_str(" --- |");
    }
    let body = rows[h + 1..].iter().map(render).collect();
    blocks.push(Block::Table { header, rows: body });
    blocks
}

pub(crate) fn extract_csv(text: &str, limits: &Limits) -> Result<Extracted, IngestError> {
    let delimiter = sniff_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut budget = Budget { used: 0, limit: limits.max_extracted_chars };
    let mut header: Option<Vec<String>> = None;
    let mut rows: Vec<String> = Vec::new();
    let mut width = 0usize;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(IngestError::corrupt(Format::Csv, e)),
        }
        let cells: Vec<String> = record.iter().map(table_cell).collect();
        let last = cells.iter().rposition(|c| !c.is_empty());
        let Some(last) = last else { continue };
        let cells = &cells[..=last];
        budget.take(cells.iter().map(|c| c.len() + 3).sum::<usize>() + 1)?;
        if header.is_none() {
            width = cells.len();
            header = Some(cells.to_vec());
            continue;
        }
        width = width.max(cells.len());
        let mut line = String::from("|");
        for i in 0..width.max(header.as_ref().map_or(0, Vec::len)) {
            line.push(' ');
            line.push_str(cells.get(i).map_or("", String::as_str));
            line.push_str(" |");
        }
        rows.push(line);
    }
    let Some(header) = header else {
        return Ok(Extracted::default());
    };
    let mut head = String::from("|");
    for i in 0..width {
        head.push(' ');
        head.push_str(header.get(i).map_or("", String::as_str));
        head.push_str(" |");
    }
    head.push_str("\n|");
    for _ in 0..width {
        head.push_str(" --- |");
    }
    Ok(Extracted::new(vec![Block::Table { header: head, rows }]))
}

/// The delimiter that splits the first lines into the same number (> 0) of fields: comma,
/// tab, semicolon or pipe; comma when in doubt.
fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(20).collect();
    let mut best = (b',', 0usize);
    for d in [b',', b'\t', b';', b'|'] {
        let counts: Vec<usize> = lines.iter().map(|l| count_outside_quotes(l, d)).collect();
        let Some(&first) = counts.first() else { continue };
        if first == 0 {
            continue;
        }
        let consistent = counts.iter().filter(|&&c| c == first).count();
        if consistent * 10 >= counts.len() * 8 && first * consistent > best.1 {
            best = (d, first * consistent);
        }
    }
    best.0
}

fn count_outside_quotes(line: &str, d: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for b in line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_tables_and_delimiters() {
        let ex =
            extract_csv("票種,價格\n全票,1490\n\n半票,745,備註\n", &Limits::default()).unwrap();
        let Block::Table { header, rows } = &ex.blocks[0] else { panic!() };
        assert_eq!(header, "| 票種 | 價格 |  |\n| --- | --- | --- |");
        assert_eq!(rows, &vec!["| 全票 | 1490 |".to_string(), "| 半票 | 745 | 備註 |".to_string()]);
        assert_eq!(sniff_delimiter("a\tb\tc\n1\t2\t3"), b'\t');
        assert_eq!(sniff_delimiter("a;b\n\"x;y\";2"), b';');
        assert_eq!(sniff_delimiter("just one column\nvalue"), b',');
    }

    #[test]
    fn numbers_read_like_excel() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(-2.5), "-2.5");
    }

    #[test]
    fn title_rows_are_not_headers() {
        assert_eq!(header_index(&[1, 0, 4, 4, 4]), 2);
        assert_eq!(header_index(&[3, 3]), 0);
        assert_eq!(header_index(&[1, 1]), 0);
    }
}
