//! The format-neutral document every extractor produces and the chunker consumes.
//!
//! Keeping structure (pages, headings, tables) as blocks instead of flattening to text first is
//! what lets chunks keep their page numbers and heading paths, and table chunks repeat their
//! header row.

/// One structural piece of a document, in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Block {
    /// The following blocks are on this 1-based page, slide or sheet.
    Page(u32),
    /// A heading. `raw` is how it reads in the text (`## 2.1 線上退票`, or a bare
    /// `第二章 退票規定` line from a TXT); `title` is what goes in the heading path.
    Heading { level: u8, title: String, raw: String },
    /// One paragraph (may contain line breaks).
    Prose(String),
    /// A pipe table: `header` is the header line and its `| --- |` delimiter line; each row is
    /// one line. Chunks never cut inside a row and repeat the header.
    Table { header: String, rows: Vec<String> },
    /// A thematic break (`---`): ends a section but carries no text into chunks.
    Break,
}

/// What an extractor hands back.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    pub blocks: Vec<Block>,
    /// Pages, slides or sheets, when the format has them.
    pub pages: Option<u32>,
    /// The file had pages or pictures but no text: a scan.
    pub images_only: bool,
}

impl Extracted {
    pub(crate) fn new(blocks: Vec<Block>) -> Extracted {
        Extracted { blocks, pages: None, images_only: false }
    }
}

/// The display text: blocks separated by a blank line, table rows by a line break. Chunks are
/// slices of this text (table chunks repeat the header).
pub(crate) fn render(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        let before = out.len();
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        let sep_end = out.len();
        match block {
            Block::Page(_) => {}
            Block::Heading { raw, .. } => out.push_str(raw),
            Block::Prose(text) => out.push_str(text),
            Block::Table { header, rows } => {
                out.push_str(header);
                for row in rows {
                    out.push('\n');
                    out.push_str(row);
                }
            }
            Block::Break => out.push_str("---"),
        }
        if out.len() == sep_end {
            out.truncate(before);
        }
    }
    out
}

/// Escapes a table cell for a pipe table: one line, `|` escaped.
pub(crate) fn table_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if c == '|' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A table from cell rows: the first row is the header. Columns empty in every row are
/// dropped, so a stray value far to the right of a sheet does not widen every chunk.
pub(crate) fn table_block(header: &[String], rows: &[Vec<String>]) -> Block {
    let width = rows.iter().map(Vec::len).chain(std::iter::once(header.len())).max().unwrap_or(0);
    let used: Vec<usize> = (0..width)
        .filter(|&c| {
            header.get(c).is_some_and(|s| !s.is_empty())
                || rows.iter().any(|r| r.get(c).is_some_and(|s| !s.is_empty()))
        })
        .collect();
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for &c in &used {
            s.push(' ');
            s.push_str(cells.get(c).map_or("", String::as_str));
            s.push_str(" |");
        }
        s
    };
    let mut head = line(header);
    head.push_str("\n|");
    for _ in &used {
        head.push_str(" --- |");
    }
    let rendered = rows.iter().map(|r| line(r)).collect();
    Block::Table { header: head, rows: rendered }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_blocks() {
        let blocks = vec![
            Block::Page(1),
            Block::Heading { level: 1, title: "T".into(), raw: "# T".into() },
            Block::Prose("p".into()),
            Block::Table { header: "| a |\n| --- |".into(), rows: vec!["| 1 |".into()] },
            Block::Page(2),
            Block::Prose("q".into()),
        ];
        assert_eq!(render(&blocks), "# T\n\np\n\n| a |\n| --- |\n| 1 |\n\nq");
    }

    #[test]
    fn tables_drop_empty_columns_and_escape_pipes() {
        let header = vec!["票種".to_string(), String::new(), "價格".to_string()];
        let rows = vec![vec![table_cell("全票 | adult"), String::new(), "1,490".to_string()]];
        let Block::Table { header, rows } = table_block(&header, &rows) else { panic!() };
        assert_eq!(header, "| 票種 | 價格 |\n| --- | --- |");
        assert_eq!(rows, vec!["| 全票 \\| adult | 1,490 |"]);
        assert_eq!(table_cell(" a\n b "), "a b");
    }
}
