//! PDF: the text layer, page by page.
//!
//! lopdf parses the file (cross-references, object streams, encryption with the empty user
//! password, stream filters with a decompression limit); this crate's own content interpreter
//! ([`content`]) turns each page's content stream into positioned glyphs, with fonts decoded
//! once per document ([`font`]). The layout step then builds lines from baselines, spaces from
//! gaps, paragraphs from line spacing, headings from font size, drops repeated page headers
//! and footers, joins hyphenated line breaks, and joins CJK lines without a space.
//!
//! pdf-extract was the first choice and was measured at 180 pages/s: it re-parses every
//! font's ToUnicode CMap on every page (80% of its time) and allocates per glyph. The
//! interpreter here does the same job at several thousand pages/s; see `bench/ingest/`.

mod content;
mod font;
mod page_content;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use lopdf::{Document, LoadOptions};

use self::content::{DocState, GlyphSink, Resources};
use self::font::GlyphText;
use self::page_content::PageContent;
use crate::clean::{self, is_cjk};
use crate::doc::{Block, Extracted};
use crate::{Format, IngestError, Limits};

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, IngestError> {
    let doc = load(bytes, limits)?;
    let pages = doc.get_pages();
    let page_count = pages.len();
    if page_count > limits.max_pages {
        return Err(IngestError::TooManyPages { pages: page_count, limit: limits.max_pages });
    }
    if page_count == 0 {
        return Err(IngestError::corrupt(Format::Pdf, "it has no pages"));
    }
    let stream_limit = usize::try_from(limits.max_archive_entry_bytes).unwrap_or(usize::MAX);
    // Content interpreted per document: generous (content streams are a few times the file),
    // but bounded, so a pathological file ends instead of spinning.
    let mut state = DocState::new(bytes.len().saturating_mul(20).max(1 << 30));
    let mut sink = Collector::new(limits.max_extracted_chars);
    let mut failures = 0usize;
    let mut first_failure = None;
    let mut reader = PageContent::new();
    let mut content = Vec::new();
    for (&number, &page_id) in &pages {
        sink.begin_page(number);
        let done = catch_unwind(AssertUnwindSafe(|| -> Result<(), String> {
            reader.read(&doc, page_id, stream_limit, &mut content)?;
            let resources = Resources::of_page(&doc, page_id);
            content::run(&doc, &content, &resources, &mut state, &mut sink);
            Ok(())
        }));
        if sink.overflow {
            return Err(IngestError::TooMuchText { limit: limits.max_extracted_chars });
        }
        if state.exhausted() {
            return Err(IngestError::corrupt(
                Format::Pdf,
                "its pages repeat the same drawing so many times that processing was stopped",
            ));
        }
        match done {
            Ok(Ok(())) => sink.end_page(),
            Ok(Err(e)) => {
                failures += 1;
                first_failure.get_or_insert(e);
                sink.discard_page();
            }
            Err(panic) => {
                failures += 1;
                first_failure.get_or_insert_with(|| crate::error::panic_message(&*panic));
                sink.discard_page();
            }
        }
    }
    if failures == page_count {
        return Err(IngestError::corrupt(Format::Pdf, first_failure.unwrap_or_default()));
    }
    let images_only = sink.images > 0 || sink.unknown_glyphs == 0;
    let mut blocks = layout(sink.pages);
    if blocks.iter().all(|b| matches!(b, Block::Page(_))) {
        blocks.clear();
    }
    Ok(Extracted { blocks, pages: u32::try_from(page_count).ok(), images_only })
}

fn load(bytes: &[u8], limits: &Limits) -> Result<Document, IngestError> {
    let options = LoadOptions {
        max_decompressed_size: Some(
            usize::try_from(limits.max_archive_entry_bytes).unwrap_or(usize::MAX),
        ),
        ..LoadOptions::default()
    };
    let loaded = catch_unwind(AssertUnwindSafe(|| Document::load_mem_with_options(bytes, options)))
        .map_err(|p| IngestError::corrupt(Format::Pdf, crate::error::panic_message(&*p)))?;
    let mut doc = match loaded {
        Ok(doc) => doc,
        Err(e) if is_password_error(&e) => {
            return Err(IngestError::Encrypted { format: Format::Pdf });
        }
        Err(e) => return Err(IngestError::corrupt(Format::Pdf, e)),
    };
    if doc.is_encrypted() {
        // Most "encrypted" PDFs only restrict printing or copying and open with the empty
        // user password (lopdf tries it while loading); the rest need a password.
        if doc.decrypt("").is_err() {
            return Err(IngestError::Encrypted { format: Format::Pdf });
        }
    }
    Ok(doc)
}

fn is_password_error(e: &lopdf::Error) -> bool {
    matches!(e, lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword)
}

/// A line of text as laid out on the page (y grows downwards).
#[derive(Debug, Clone)]
struct Line {
    y: f64,
    size: f64,
    text: String,
}

#[derive(Debug, Default)]
struct Page {
    number: u32,
    lines: Vec<Line>,
}

/// Receives positioned glyphs and builds lines per page.
struct Collector {
    limit: usize,
    chars: usize,
    overflow: bool,
    images: usize,
    unknown_glyphs: usize,
    pages: Vec<Page>,
    page: Page,
    line: Option<Line>,
    /// The length of the last line ended: the room a new line starts with. Only the line just
    /// before, not the longest so far, so the room kept by the page's lines stays within
    /// about three times their text even after one very long line.
    last_line_len: usize,
    last_end: f64,
    last_y: f64,
    /// Whether the last character added is CJK (see [`is_cjk`]).
    last_cjk: bool,
}

impl Collector {
    fn new(limit: usize) -> Collector {
        Collector {
            limit,
            chars: 0,
            overflow: false,
            images: 0,
            unknown_glyphs: 0,
            pages: Vec::new(),
            page: Page::default(),
            line: None,
            last_line_len: 0,
            last_end: 0.0,
            last_y: 0.0,
            last_cjk: false,
        }
    }

    fn begin_page(&mut self, number: u32) {
        self.page = Page { number, lines: Vec::new() };
        self.line = None;
    }

    fn end_line(&mut self) {
        if let Some(mut line) = self.line.take() {
            let trimmed = line.text.trim_end().len();
            line.text.truncate(trimmed);
            self.last_line_len = trimmed;
            if !line.text.is_empty() {
                self.page.lines.push(line);
            }
        }
    }

    fn end_page(&mut self) {
        self.end_line();
        let page = std::mem::take(&mut self.page);
        self.pages.push(page);
    }

    /// Drops a page that failed half-way.
    fn discard_page(&mut self) {
        self.line = None;
        self.page = Page::default();
    }

    /// Adds one character of a glyph at (`x`, `y`): to the current line, after a space if the
    /// gap from the last glyph is wide, or to a new line if the baseline moved. Called for every
    /// glyph of every page, so the common case (a visible character on the same line) takes no
    /// Unicode table lookups: one range test for controls, one for CJK, and the last
    /// character's CJK test kept from its own call.
    #[inline(always)]
    fn push_char(&mut self, x: f64, y: f64, size: f64, c: char) {
        let code = u32::from(c);
        // `char::is_control`: C0, DEL and C1.
        if code < 0x20 || (0x7F..0xA0).contains(&code) {
            return;
        }
        // Above the controls, ASCII's only white space is the space itself.
        let is_space = if code < 0x80 { code == 0x20 } else { c.is_whitespace() };
        let cjk = is_cjk(c);
        match &mut self.line {
            Some(line) if (y - self.last_y).abs() <= size.max(line.size) * 0.5 => {
                let gap = x - self.last_end;
                let threshold = if cjk && self.last_cjk { 0.3 } else { 0.15 };
                if (gap > size * threshold || gap < -size * 2.0)
                    && !is_space
                    && !line.text.ends_with(' ')
                {
                    line.text.push(' ');
                }
                if line.size < size {
                    line.size = size;
                }
            }
            _ => {
                self.end_line();
                let text = String::with_capacity(self.last_line_len);
                self.line = Some(Line { y, size, text });
            }
        }
        if let Some(line) = &mut self.line {
            if is_space {
                if !line.text.is_empty() && !line.text.ends_with(' ') {
                    line.text.push(' ');
                }
            } else {
                line.text.push(c);
                self.chars += 1;
            }
        }
        self.last_cjk = cjk;
        self.last_y = y;
    }
}

impl GlyphSink for Collector {
    #[inline]
    fn glyph(&mut self, x: f64, y: f64, size: f64, advance: f64, text: GlyphText<'_>) {
        if !x.is_finite() || !y.is_finite() {
            return;
        }
        let size = if size.is_finite() && size > 0.01 { size } else { 1.0 };
        match text {
            GlyphText::Char(c) => self.push_char(x, y, size, c),
            GlyphText::Str(s) => {
                for c in s.chars() {
                    self.push_char(x, y, size, c);
                }
            }
            GlyphText::Unknown => self.unknown_glyphs += 1,
        }
        self.last_end = x + advance;
        if self.chars > self.limit {
            self.overflow = true;
        }
    }

    fn image(&mut self) {
        self.images += 1;
    }

    fn full(&self) -> bool {
        self.overflow
    }
}

/// A paragraph before heading detection.
struct Para {
    page: u32,
    text: String,
    size: f64,
    lines: usize,
}

/// Turns laid-out pages into blocks.
fn layout(mut pages: Vec<Page>) -> Vec<Block> {
    strip_headers_and_footers(&mut pages);
    let mut paras = Vec::new();
    for page in &pages {
        paragraphs(page, &mut paras);
    }
    let body = body_size(&paras);
    let heading_sizes = heading_sizes(&paras, body);
    let mut blocks = Vec::with_capacity(paras.len() + pages.len());
    let mut paras = paras.into_iter().peekable();
    for page in &pages {
        blocks.push(Block::Page(page.number));
        while let Some(mut para) = paras.next_if(|p| p.page == page.number) {
            let candidate = para.lines == 1 && is_heading_candidate(&para, body);
            let cleaned = clean::clean_owned(std::mem::take(&mut para.text));
            if cleaned.is_empty() {
                continue;
            }
            if para.lines == 1 {
                let by_size = if candidate {
                    heading_sizes.iter().position(|s| (para.size - s).abs() < 0.25)
                } else {
                    None
                };
                if let Some(level) = by_size {
                    let level = (level + 1).min(3) as u8;
                    let raw = format!("{} {cleaned}", "#".repeat(usize::from(level)));
                    blocks.push(Block::Heading { level, title: cleaned, raw });
                    continue;
                }
                if let Some(level) = crate::structure::plain_heading_level(&cleaned) {
                    blocks.push(Block::Heading { level, title: cleaned.clone(), raw: cleaned });
                    continue;
                }
            }
            blocks.push(Block::Prose(cleaned));
        }
    }
    blocks
}

/// Removes lines that repeat at the top or bottom of most pages (running headers, footers)
/// and bare page numbers there.
fn strip_headers_and_footers(pages: &mut [Page]) {
    let key = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect()
    };
    let mut counts: HashMap<(bool, String), usize> = HashMap::new();
    for page in pages.iter() {
        if let Some(first) = page.lines.first() {
            *counts.entry((true, key(&first.text))).or_default() += 1;
        }
        if page.lines.len() > 1
            && let Some(last) = page.lines.last()
        {
            *counts.entry((false, key(&last.text))).or_default() += 1;
        }
    }
    let threshold = (pages.len() / 2).max(3);
    // Running headers and footers are short; a repeated long line is content.
    let repeated = |top: bool, text: &str| {
        pages.len() >= 3
            && text.chars().count() <= 60
            && counts.get(&(top, key(text))).is_some_and(|&n| n >= threshold)
    };
    let mut remove: Vec<(bool, bool)> = Vec::with_capacity(pages.len());
    for page in pages.iter() {
        let top =
            page.lines.first().is_some_and(|l| repeated(true, &l.text) || is_page_number(&l.text));
        let bottom = page.lines.len() > 1
            && page
                .lines
                .last()
                .is_some_and(|l| repeated(false, &l.text) || is_page_number(&l.text));
        remove.push((top, bottom));
    }
    for (page, (top, bottom)) in pages.iter_mut().zip(remove) {
        if bottom {
            page.lines.pop();
        }
        if top && !page.lines.is_empty() {
            page.lines.remove(0);
        }
    }
}

/// `12`, `- 12 -`, `Page 3`, `page 3 of 10`, `3 / 10`, `第 3 頁`, `第3頁，共10頁`.
fn is_page_number(s: &str) -> bool {
    let lower = s.to_lowercase();
    let stripped: String = lower
        .replace("page", "")
        .replace("of", "")
        .chars()
        .filter(|c| {
            !c.is_whitespace()
                && !matches!(
                    c,
                    '-' | '–'
                        | '—'
                        | '/'
                        | '第'
                        | '頁'
                        | '页'
                        | '共'
                        | '，'
                        | ','
                        | '.'
                        | '('
                        | ')'
                )
        })
        .collect();
    !stripped.is_empty() && stripped.len() <= 8 && stripped.chars().all(|c| c.is_ascii_digit())
}

/// Groups a page's lines into paragraphs by line spacing and font size.
fn paragraphs(page: &Page, out: &mut Vec<Para>) {
    let lines = &page.lines;
    if lines.is_empty() {
        return;
    }
    // The usual distance between consecutive lines on this page.
    let mut gaps: Vec<f64> = lines
        .windows(2)
        .filter(|w| (w[0].size - w[1].size).abs() < 0.2 * w[0].size.max(w[1].size))
        .map(|w| w[1].y - w[0].y)
        .filter(|g| *g > 0.0 && g.is_finite())
        .collect();
    gaps.sort_by(f64::total_cmp);
    let typical = gaps.get(gaps.len() / 4).copied();
    let mut current =
        Para { page: page.number, text: lines[0].text.clone(), size: lines[0].size, lines: 1 };
    for w in lines.windows(2) {
        let (prev, line) = (&w[0], &w[1]);
        let gap = line.y - prev.y;
        let size_change = (line.size - prev.size).abs() > 0.15 * prev.size.max(line.size);
        let limit = match typical {
            Some(t) if t < 2.5 * prev.size => t * 1.4,
            _ => prev.size * 1.9,
        };
        let new_para = size_change || gap < -0.5 * prev.size || gap > limit;
        if new_para {
            let done = std::mem::replace(
                &mut current,
                Para { page: page.number, text: line.text.clone(), size: line.size, lines: 1 },
            );
            out.push(done);
        } else {
            join_line(&mut current.text, &line.text);
            current.lines += 1;
        }
    }
    out.push(current);
}

/// Appends a wrapped line: a hyphen at a line end between letters is removed, CJK lines join
/// without a space, list items keep their line break.
fn join_line(text: &mut String, next: &str) {
    let next_first = next.chars().next().unwrap_or(' ');
    if starts_list_item(next) {
        text.push('\n');
        text.push_str(next);
        return;
    }
    let mut rev = text.chars().rev();
    let last = rev.next().unwrap_or(' ');
    let before = rev.next().unwrap_or(' ');
    if last == '-' && before.is_alphabetic() && !is_cjk(before) && next_first.is_lowercase() {
        text.pop();
        text.push_str(next);
    } else if is_cjk(last) || is_cjk(next_first) && !last.is_ascii_alphanumeric() {
        text.push_str(next);
    } else {
        text.push(' ');
        text.push_str(next);
    }
}

fn starts_list_item(line: &str) -> bool {
    let mut chars = line.chars();
    match chars.next() {
        Some('•' | '●' | '○' | '■' | '□' | '◆' | '▪' | '►' | '‧' | '・' | '-' | '*' | '–') => {
            chars.next().is_some_and(char::is_whitespace)
                || line.starts_with(['•', '●', '○', '■', '□', '◆', '▪', '►', '‧', '・'])
        }
        Some(c) if c.is_ascii_digit() => {
            let digits = line.bytes().take_while(u8::is_ascii_digit).count();
            digits <= 3
                && line[digits..].starts_with([')', '.', '、'])
                && line[digits + 1..].starts_with(' ')
        }
        Some('(' | '（') => line.chars().nth(2).is_some_and(|c| matches!(c, ')' | '）')),
        _ => false,
    }
}

/// The most common font size, weighted by characters.
fn body_size(paras: &[Para]) -> f64 {
    let mut weights: HashMap<i64, usize> = HashMap::new();
    for p in paras {
        *weights.entry((p.size * 2.0).round() as i64).or_default() += p.text.chars().count();
    }
    weights
        .into_iter()
        .max_by_key(|(size, n)| (*n, *size))
        .map_or(0.0, |(size, _)| size as f64 / 2.0)
}

/// A single short line in a larger font than the body, not ending like a sentence.
fn is_heading_candidate(p: &Para, body: f64) -> bool {
    body > 0.0
        && p.lines == 1
        && p.size >= body * 1.15
        && p.text.chars().count() <= 80
        && p.text.chars().any(char::is_alphabetic)
        && !p.text.trim_end().ends_with(['。', '.', '，', ',', '；', ';', '：', ':'])
}

/// Font sizes used by heading-like single lines, largest first (at most three levels). Empty
/// when "headings" are so common that they are probably not headings.
fn heading_sizes(paras: &[Para], body: f64) -> Vec<f64> {
    if body <= 0.0 {
        return Vec::new();
    }
    let candidates: Vec<f64> = paras
        .iter()
        .filter(|p| is_heading_candidate(p, body))
        .map(|p| (p.size * 2.0).round() / 2.0)
        .collect();
    if candidates.is_empty() || candidates.len() * 2 > paras.len() {
        return Vec::new();
    }
    let mut sizes = candidates;
    sizes.sort_by(|a, b| b.total_cmp(a));
    sizes.dedup();
    sizes.truncate(3);
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_wrapped_lines() {
        let mut s = String::from("information-");
        join_line(&mut s, "retrieval works");
        assert_eq!(s, "informationretrieval works");
        let mut s = String::from("台灣高鐵的");
        join_line(&mut s, "退票規定");
        assert_eq!(s, "台灣高鐵的退票規定");
        let mut s = String::from("an English");
        join_line(&mut s, "sentence");
        assert_eq!(s, "an English sentence");
        let mut s = String::from("Items:");
        join_line(&mut s, "• first");
        assert_eq!(s, "Items:\n• first");
    }

    #[test]
    fn page_numbers() {
        for s in ["12", "- 12 -", "Page 3", "page 3 of 10", "3 / 10", "第 3 頁", "第3頁，共10頁"]
        {
            assert!(is_page_number(s), "{s}");
        }
        for s in ["2024 年報", "Chapter 3", "3.5%"] {
            assert!(!is_page_number(s), "{s}");
        }
    }
}
