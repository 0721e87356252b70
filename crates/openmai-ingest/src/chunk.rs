//! Cuts blocks into retrieval-sized chunks.
//!
//! Rules, in order of precedence:
//! 1. A page (PDF page, slide, sheet), a heading or a thematic break ends the chunk: a chunk
//!    has one page number and one heading path. Headings stay with the text that follows them.
//! 2. Paragraphs are packed whole while they fit; a paragraph that does not fit in an empty
//!    chunk is cut at sentence ends (Chinese `。！？；`, English `.!?` before a space, line
//!    breaks), an over-long sentence at clause marks (`，、,:;`), then spaces, then — for a run
//!    of text with none of those — every `chunk_size` characters. So prose chunks never exceed
//!    `chunk_size`.
//! 3. When a section is cut for length, the next chunk starts with up to `chunk_overlap`
//!    characters from the end of the previous one (whole sentences when they fit).
//! 4. Tables are cut between rows only, and every chunk of a table starts with its header row.
//!    A table stays with the prose before it when the header and first row fit.
//!
//! Chunk text is always a slice of the display text ([`crate::doc::render`]), except for a
//! repeated table header: nothing artificial is added.

use crate::doc::Block;
use crate::{Chunk, IngestOptions};

/// Separator between blocks in the display text.
const BLOCK_SEP: &str = "\n\n";

pub(crate) fn chunk(blocks: &[Block], options: &IngestOptions) -> Vec<Chunk> {
    chunk_with_overlaps(blocks, options).0
}

/// The chunks and, for each, how many bytes at its start repeat the previous chunk.
pub(crate) fn chunk_with_overlaps(
    blocks: &[Block],
    options: &IngestOptions,
) -> (Vec<Chunk>, Vec<usize>) {
    let size = options.chunk_size.max(1);
    let overlap = options.chunk_overlap.min(size / 2);
    let mut b = Builder::new(size, overlap);
    for block in blocks {
        match block {
            Block::Page(n) => {
                b.flush(false);
                b.page = Some(*n);
            }
            Block::Break => b.flush(false),
            Block::Heading { level, title, raw } => b.heading(*level, title, raw),
            Block::Prose(text) => b.prose(text),
            Block::Table { header, rows } => b.table(header, rows),
        }
    }
    b.flush(false);
    (b.out, b.overlaps)
}

/// A piece of prose that is never cut further: a sentence, or a part of an over-long one.
#[derive(Debug, Clone, Copy)]
struct Unit<'a> {
    /// What separates it from the previous unit in the display text.
    sep: &'a str,
    text: &'a str,
    /// `text` in characters.
    len: usize,
}

struct Builder<'a> {
    size: usize,
    overlap: usize,
    out: Vec<Chunk>,
    overlaps: Vec<usize>,
    page: Option<u32>,
    stack: Vec<(u8, String)>,
    /// The chunk being built.
    text: String,
    len: usize,
    /// The chunk holds something besides headings.
    has_content: bool,
    /// Bytes of `text` that repeat the previous chunk.
    overlap_bytes: usize,
    /// Prose units at the end of the current chunk (since its last table or heading).
    tail: Vec<Unit<'a>>,
    /// Units at the end of the previous chunk, when it was cut for length in the middle of a
    /// section: the source of the next chunk's overlap.
    carry: Vec<Unit<'a>>,
}

impl<'a> Builder<'a> {
    fn new(size: usize, overlap: usize) -> Self {
        Builder {
            size,
            overlap,
            out: Vec::new(),
            overlaps: Vec::new(),
            page: None,
            stack: Vec::new(),
            text: String::new(),
            len: 0,
            has_content: false,
            overlap_bytes: 0,
            tail: Vec::new(),
            carry: Vec::new(),
        }
    }

    /// Ends the current chunk. With `cut_for_length`, its last prose units may seed the next
    /// chunk's overlap.
    fn flush(&mut self, cut_for_length: bool) {
        if cut_for_length && self.overlap > 0 {
            self.carry = std::mem::take(&mut self.tail);
        } else {
            self.carry.clear();
            self.tail.clear();
        }
        if self.text.trim().is_empty() {
            self.text.clear();
            self.len = 0;
            self.has_content = false;
            self.overlap_bytes = 0;
            return;
        }
        let heading = if self.stack.is_empty() {
            None
        } else {
            Some(self.stack.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(" › "))
        };
        // The next chunk starts with room for as much as this one held: grown from empty,
        // each chunk's text was reallocated about ten times.
        let room = String::with_capacity(self.text.len());
        let text = std::mem::replace(&mut self.text, room);
        self.out.push(Chunk {
            ordinal: u32::try_from(self.out.len()).unwrap_or(u32::MAX),
            text,
            page_number: self.page,
            heading,
        });
        self.overlaps.push(self.overlap_bytes);
        self.len = 0;
        self.has_content = false;
        self.overlap_bytes = 0;
    }

    fn push(&mut self, sep: &str, piece: &str, piece_len: usize) {
        if !self.text.is_empty() {
            self.text.push_str(sep);
            self.len += char_len(sep);
        }
        self.text.push_str(piece);
        self.len += piece_len;
    }

    fn heading(&mut self, level: u8, title: &'a str, raw: &'a str) {
        let raw_len = char_len(raw);
        if self.has_content || raw_len > self.size {
            self.flush(false);
        }
        self.carry.clear();
        self.tail.clear();
        while self.stack.last().is_some_and(|(l, _)| *l >= level) {
            self.stack.pop();
        }
        self.stack.push((level, title.to_string()));
        if raw_len > self.size {
            // Only with tiny chunk sizes: cut the heading like prose, without overlap.
            let units = split_units(raw, self.size);
            for u in units {
                if self.len + char_len(u.sep) + u.len > self.size {
                    self.flush(false);
                }
                self.push(u.sep, u.text, u.len);
            }
            self.tail.clear();
            return;
        }
        if !self.text.is_empty() && self.len + BLOCK_SEP.len() + raw_len > self.size {
            self.flush(false);
        }
        self.push(BLOCK_SEP, raw, raw_len);
    }

    fn prose(&mut self, paragraph: &'a str) {
        let units = split_units(paragraph, self.size);
        if units.is_empty() {
            return;
        }
        let total: usize = units
            .iter()
            .enumerate()
            .map(|(i, u)| u.len + if i == 0 { 0 } else { char_len(u.sep) })
            .sum();
        // The whole paragraph fits in the current chunk.
        if !self.text.is_empty() && self.len + BLOCK_SEP.len() + total <= self.size {
            self.push_units(&units);
            self.has_content = true;
            return;
        }
        // It would fit in a chunk of its own: start one (headings-only chunks are kept).
        if self.has_content && total <= self.size {
            self.flush(true);
        }
        for (i, unit) in units.iter().enumerate() {
            let sep = if i == 0 { BLOCK_SEP } else { unit.sep };
            if !self.text.is_empty() && self.len + char_len(sep) + unit.len > self.size {
                self.flush(self.has_content);
            }
            if self.text.is_empty() {
                // Room for the whole paragraph when it fits, else for this unit.
                let needed = if i == 0 && total <= self.size { total } else { unit.len };
                self.start_with_overlap(needed + char_len(sep));
            }
            self.push(sep, unit.text, unit.len);
            self.tail.push(Unit { sep, ..*unit });
            self.has_content = true;
        }
    }

    fn push_units(&mut self, units: &[Unit<'a>]) {
        for (i, unit) in units.iter().enumerate() {
            let sep = if i == 0 { BLOCK_SEP } else { unit.sep };
            self.push(sep, unit.text, unit.len);
            self.tail.push(Unit { sep, ..*unit });
        }
    }

    /// Starts an empty chunk with the end of the previous one, leaving room for `next` chars.
    fn start_with_overlap(&mut self, next: usize) {
        let carry = std::mem::take(&mut self.carry);
        let budget = self.overlap.min(self.size.saturating_sub(next));
        if carry.is_empty() || budget == 0 {
            return;
        }
        // Whole units from the end while they fit.
        let mut used = 0;
        let mut first = carry.len();
        while first > 0 {
            let u = &carry[first - 1];
            let extra = u.len + if first < carry.len() { char_len(carry[first].sep) } else { 0 };
            if used + extra > budget {
                break;
            }
            used += extra;
            first -= 1;
        }
        let mut pieces: Vec<Unit<'a>> = Vec::new();
        if first == carry.len() {
            // Not even the last unit fits: take its last `budget` characters, from a word
            // start when the text has spaces.
            let last = carry[carry.len() - 1];
            let tail = char_tail(last.text, budget);
            if tail.is_empty() {
                return;
            }
            pieces.push(Unit { sep: "", text: tail, len: char_len(tail) });
        } else {
            for (k, u) in carry[first..].iter().enumerate() {
                pieces.push(Unit { sep: if k == 0 { "" } else { u.sep }, ..*u });
            }
        }
        for u in &pieces {
            self.push(u.sep, u.text, u.len);
        }
        self.overlap_bytes = self.text.len();
        self.tail = pieces;
    }

    fn table(&mut self, header: &'a str, rows: &'a [String]) {
        self.carry.clear();
        self.tail.clear();
        let header_len = char_len(header);
        let Some(first) = rows.first() else {
            if !self.text.is_empty() && self.len + BLOCK_SEP.len() + header_len > self.size {
                self.flush(false);
            }
            self.push(BLOCK_SEP, header, header_len);
            self.has_content = true;
            return;
        };
        if !self.text.is_empty()
            && self.len + BLOCK_SEP.len() + header_len + 1 + char_len(first) > self.size
        {
            self.flush(false);
        }
        self.push(BLOCK_SEP, header, header_len);
        self.has_content = true;
        let mut rows_in_chunk = 0;
        for row in rows {
            let row_len = char_len(row);
            if rows_in_chunk > 0 && self.len + 1 + row_len > self.size {
                self.flush(false);
                self.push("", header, header_len);
                self.has_content = true;
                rows_in_chunk = 0;
            }
            self.push("\n", row, row_len);
            rows_in_chunk += 1;
        }
        self.tail.clear();
    }
}

fn char_len(s: &str) -> usize {
    if s.is_ascii() { s.len() } else { s.chars().count() }
}

/// The last `n` characters of `s`, moved forward to a word start when `s` has spaces there.
fn char_tail(s: &str, n: usize) -> &str {
    let total = char_len(s);
    if n >= total {
        return s;
    }
    let start = s.char_indices().nth(total - n).map_or(s.len(), |(i, _)| i);
    let tail = &s[start..];
    let starts_mid_word = s[..start]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() && !crate::clean::is_cjk(c))
        && tail.chars().next().is_some_and(|c| c.is_alphanumeric() && !crate::clean::is_cjk(c));
    if starts_mid_word {
        // Skip the rest of the cut word.
        let skip = tail
            .find(|c: char| !c.is_alphanumeric() || crate::clean::is_cjk(c))
            .unwrap_or(tail.len());
        let rest = tail[skip..].trim_start();
        if !rest.is_empty() {
            return rest;
        }
    }
    tail
}

/// Cuts a paragraph into units of at most `size` characters: sentences, then clauses, words
/// and characters for over-long sentences.
fn split_units(paragraph: &str, size: usize) -> Vec<Unit<'_>> {
    let mut out = Vec::new();
    for (sep, sentence) in pieces(paragraph, Level::Sentence) {
        emit(sep, sentence, size, Level::Sentence, &mut out);
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Sentence,
    Clause,
    Word,
    Char,
}

/// Emits `text` (preceded by `sep`) as units, cutting it at finer levels while too long.
fn emit<'a>(sep: &'a str, text: &'a str, size: usize, level: Level, out: &mut Vec<Unit<'a>>) {
    let len = char_len(text);
    if len <= size {
        out.push(Unit { sep, text, len });
        return;
    }
    let finer = match level {
        Level::Sentence => Level::Clause,
        Level::Clause => Level::Word,
        Level::Word | Level::Char => Level::Char,
    };
    if finer == Level::Char {
        // No break opportunity at all: every `size` characters.
        let mut first = true;
        let mut start = 0;
        let mut count = 0;
        for (i, _) in text.char_indices() {
            if count == size {
                out.push(Unit {
                    sep: if first { sep } else { "" },
                    text: &text[start..i],
                    len: size,
                });
                first = false;
                start = i;
                count = 0;
            }
            count += 1;
        }
        out.push(Unit { sep: if first { sep } else { "" }, text: &text[start..], len: count });
        return;
    }
    // Pack the finer pieces greedily into runs of at most `size` characters.
    let parts = pieces(text, finer);
    let base = text.as_ptr() as usize;
    let offset = |s: &str| s.as_ptr() as usize - base;
    let mut run: Option<(usize, usize, usize)> = None; // (start byte, end byte, chars)
    let mut run_sep = sep;
    let mut first = true;
    for (psep, part) in parts {
        let plen = char_len(part);
        let (pstart, pend) = (offset(part), offset(part) + part.len());
        if let Some((rs, re, rl)) = run {
            let sl = char_len(psep);
            if rl + sl + plen <= size {
                run = Some((rs, pend, rl + sl + plen));
                continue;
            }
            out.push(Unit { sep: run_sep, text: &text[rs..re], len: rl });
            run = None;
        }
        let this_sep = if first { sep } else { psep };
        first = false;
        if plen > size {
            emit(this_sep, part, size, finer, out);
        } else {
            run = Some((pstart, pend, plen));
            run_sep = this_sep;
        }
    }
    if let Some((rs, re, rl)) = run {
        out.push(Unit { sep: run_sep, text: &text[rs..re], len: rl });
    }
}

/// Splits `text` at `level` boundaries into (separator, piece) pairs; pieces are trimmed and
/// non-empty, separators are the whitespace between them (the first separator is "").
fn pieces(text: &str, level: Level) -> Vec<(&str, &str)> {
    let cuts = if level == Level::Sentence { sentence_cuts(text) } else { finer_cuts(text, level) };
    let mut out = Vec::new();
    let mut prev_end = 0; // end of the previous piece's text
    let mut start = 0;
    for end in cuts.into_iter().chain(std::iter::once(text.len())) {
        let segment = &text[start..end];
        let trimmed = segment.trim();
        if !trimmed.is_empty() {
            let piece_start = start + (segment.len() - segment.trim_start().len());
            let sep = if out.is_empty() { "" } else { &text[prev_end..piece_start] };
            out.push((sep, trimmed));
            prev_end = piece_start + trimmed.len();
        }
        start = end;
    }
    out
}

/// Byte offsets after each sentence end: `。！？；｡!?`, `.` before a space or the end, and line
/// breaks, with the closing quotes or brackets that follow. Scans bytes: the terminators'
/// UTF-8 lead bytes (E3, EF) never occur inside another character.
fn sentence_cuts(text: &str) -> Vec<usize> {
    /// Bytes that may start a sentence end.
    static TERMINATOR: [bool; 256] = {
        let mut t = [false; 256];
        t[b'\n' as usize] = true;
        t[b'!' as usize] = true;
        t[b'?' as usize] = true;
        t[b'.' as usize] = true;
        t[0xE3] = true;
        t[0xEF] = true;
        t
    };
    let b = text.as_bytes();
    let mut cuts = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && !TERMINATOR[usize::from(b[i])] {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let len =
            match b[i] {
                b'\n' | b'!' | b'?' => 1,
                b'.' => {
                    let next = text.get(i + 1..).and_then(|r| r.chars().next());
                    // English ends a sentence before a space, a closing quote, or Chinese text.
                    usize::from(next.is_none_or(|n| {
                        n.is_whitespace() || is_closer(n) || crate::clean::is_cjk(n)
                    }))
                }
                0xE3 if b.get(i + 1) == Some(&0x80) && b.get(i + 2) == Some(&0x82) => 3,
                0xEF => match (b.get(i + 1), b.get(i + 2)) {
                    (Some(0xBC), Some(0x81 | 0x9F | 0x9B)) | (Some(0xBD), Some(0xA1)) => 3,
                    _ => 0,
                },
                _ => 0,
            };
        if len == 0 {
            i += 1;
            continue;
        }
        let mut end = i + len;
        while let Some(c) = text.get(end..).and_then(|r| r.chars().next()).filter(|c| is_closer(*c))
        {
            end += c.len_utf8();
        }
        cuts.push(end);
        i = end;
    }
    cuts
}

/// Cut points for clauses and words.
fn finer_cuts(text: &str, level: Level) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let boundary = match level {
            Level::Clause => matches!(c, '，' | '、' | ',' | '：' | ':' | ';' | '﹐' | '､'),
            Level::Word => c.is_whitespace(),
            Level::Sentence | Level::Char => false,
        };
        if boundary {
            let mut end = i + c.len_utf8();
            while let Some(&(j, n)) = chars.peek() {
                if is_closer(n) && level != Level::Word {
                    end = j + n.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            cuts.push(end);
        }
    }
    cuts
}

fn is_closer(c: char) -> bool {
    matches!(c, '」' | '』' | '”' | '’' | '"' | '\'' | ')' | '）' | '】' | '》' | '〉' | ']' | '〕')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::structure::parse_markdown;

    fn opts(size: usize, overlap: usize) -> IngestOptions {
        IngestOptions { chunk_size: size, chunk_overlap: overlap, ..IngestOptions::default() }
    }

    fn texts(chunks: &[Chunk]) -> Vec<&str> {
        chunks.iter().map(|c| c.text.as_str()).collect()
    }

    #[test]
    fn sentences_in_chinese_and_english() {
        let p = "第一句。第二句！Third one. Fourth?「引號。」最後";
        let got: Vec<&str> = pieces(p, Level::Sentence).into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            got,
            vec!["第一句。", "第二句！", "Third one.", "Fourth?", "「引號。」", "最後"]
        );
        assert_eq!(pieces("pi is 3.14 ok", Level::Sentence).len(), 1);
        assert_eq!(pieces("English first.中文在後。", Level::Sentence).len(), 2);
    }

    #[test]
    fn small_paragraphs_pack_together() {
        let blocks = parse_markdown("one.\n\ntwo.\n\nthree.", false);
        let chunks = chunk(&blocks, &opts(100, 10));
        assert_eq!(texts(&chunks), vec!["one.\n\ntwo.\n\nthree."]);
    }

    #[test]
    fn long_paragraph_splits_at_sentences_with_overlap() {
        let p = "旅客可於開車前退票。退票需支付手續費。線上退票最方便。臨櫃退票需要證件。";
        let blocks = vec![Block::Prose(p.into())];
        let (chunks, overlaps) = chunk_with_overlaps(&blocks, &opts(20, 10));
        assert_eq!(
            texts(&chunks),
            vec![
                "旅客可於開車前退票。退票需支付手續費。",
                "退票需支付手續費。線上退票最方便。",
                "線上退票最方便。臨櫃退票需要證件。"
            ]
        );
        assert_eq!(overlaps[0], 0);
        assert_eq!(&chunks[1].text[..overlaps[1]], "退票需支付手續費。");
        for c in &chunks {
            assert!(c.text.chars().count() <= 20);
        }
    }

    #[test]
    fn headings_become_paths_and_start_chunks() {
        let md = "# 第二章 退票規定\n\n概述。\n\n## 2.1 線上退票\n\n線上退票說明。\n\n## 2.2 臨櫃退票\n\n臨櫃說明。\n\n# 第三章 其他\n\n其他。";
        let chunks = chunk(&parse_markdown(md, false), &opts(800, 100));
        let headings: Vec<Option<&str>> = chunks.iter().map(|c| c.heading.as_deref()).collect();
        assert_eq!(
            headings,
            vec![
                Some("第二章 退票規定"),
                Some("第二章 退票規定 › 2.1 線上退票"),
                Some("第二章 退票規定 › 2.2 臨櫃退票"),
                Some("第三章 其他")
            ]
        );
        assert_eq!(chunks[1].text, "## 2.1 線上退票\n\n線上退票說明。");
    }

    #[test]
    fn table_chunks_repeat_the_header_and_never_split_rows() {
        let rows: Vec<String> = (0..30).map(|i| format!("| 第{i}列 | {i} 元 |")).collect();
        let blocks = vec![
            Block::Prose("下表為票價：".into()),
            Block::Table {
                header: "| 票種 | 價格 |\n| --- | --- |".into(), rows: rows.clone()
            },
        ];
        let chunks = chunk(&blocks, &opts(100, 20));
        assert!(chunks.len() > 3);
        assert!(chunks[0].text.starts_with("下表為票價：\n\n| 票種 | 價格 |"));
        for c in &chunks[1..] {
            assert!(c.text.starts_with("| 票種 | 價格 |\n| --- | --- |\n| 第"), "{}", c.text);
        }
        let mut seen = Vec::new();
        for c in &chunks {
            for line in c.text.lines().filter(|l| l.starts_with("| 第")) {
                seen.push(line.to_string());
            }
        }
        assert_eq!(seen, rows);
    }

    #[test]
    fn over_long_units_are_cut_to_size() {
        let long_word = "x".repeat(25);
        let p = format!("短句。{long_word} tail words here");
        let chunks = chunk(&[Block::Prose(p)], &opts(10, 0));
        for c in &chunks {
            assert!(c.text.chars().count() <= 10, "{:?}", c.text);
        }
        let joined: String = chunks.iter().map(|c| c.text.as_str()).collect::<Vec<_>>().join("");
        assert_eq!(joined.replace(' ', ""), format!("短句。{long_word}tailwordshere"));
    }

    #[test]
    fn pages_are_never_mixed() {
        let blocks = vec![
            Block::Page(1),
            Block::Prose("a".into()),
            Block::Page(2),
            Block::Prose("b".into()),
        ];
        let chunks = chunk(&blocks, &opts(800, 100));
        assert_eq!(chunks.len(), 2);
        assert_eq!((chunks[0].page_number, chunks[1].page_number), (Some(1), Some(2)));
        assert_eq!((chunks[0].ordinal, chunks[1].ordinal), (0, 1));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        /// chunk_text covers its input in order without losing a character (once each chunk's
        /// overlap with the previous one is removed), and no chunk exceeds the size: prose has
        /// no unsplittable unit, as a run without break opportunities is cut by characters.
        #[test]
        fn chunks_cover_the_input_in_order(
            text in "([#]{0,3} ?[a-zA-Z0-9台灣高鐵退票規定。！？；.!?，、「」=]{0,12}[ \n]{0,3}){0,60}",
            size in 1usize..160,
            overlap in 0usize..80,
        ) {
            let options = opts(size, overlap);
            let cleaned = crate::clean::clean(&text);
            let (chunks, overlaps) = chunk_with_overlaps(&parse_markdown(&cleaned, false), &options);
            proptest::prop_assert_eq!(&crate::chunk_text(&text, &options), &chunks);
            let mut covered = String::new();
            for (c, &o) in chunks.iter().zip(&overlaps) {
                proptest::prop_assert!(c.text.chars().count() <= size, "{:?} is over {}", c.text, size);
                proptest::prop_assert!(o <= options.chunk_overlap.min(size / 2) * 4);
                covered.extend(c.text[o..].chars().filter(|c| !c.is_whitespace()));
            }
            let expected: String = cleaned.chars().filter(|c| !c.is_whitespace()).collect();
            proptest::prop_assert_eq!(covered, expected);
        }
    }

    #[test]
    fn english_overlap_starts_at_a_word() {
        assert_eq!(char_tail("the quick brown fox", 7), "fox");
        assert_eq!(char_tail("退票需支付手續費", 3), "手續費");
        assert_eq!(char_tail("ends with.審核經理", 7), ".審核經理");
    }
}
