//! Chinese word segmentation: jieba's search mode without HMM (jieba-rs's
//! `cut_for_search(text, false)`), on a character-wise double-array trie.
//!
//! jieba cuts a text into runs of its "Chinese" class (CJK ideographs, ASCII letters and
//! digits, `+#&._%-`) and everything else, which it returns a character at a time. In each
//! run it finds every dictionary word that starts at every character (its DAG), takes the most
//! probable path through them, joins the single ASCII letters and digits the path leaves into
//! one word, and in search mode also returns the parts of a word joined by `.`, `_` or `-`
//! and the dictionary words of two and three characters inside each longer word.
//!
//! Walking the dictionary is most of that work, and jieba-rs keeps it in a 16 MB hash table
//! whose every step misses the caches; crawdad's double-array trie holds the same words in
//! 6 MB, with common characters close together, and finds them three times as fast
//! (`docs/benchmarks.md`, round 9). This module is jieba-rs 0.11's algorithm on that trie: the
//! same floating-point sums in the same order, the same tie-break, the same words. jieba-rs
//! stays as the reference: the tests compare the two on random text and `analyzer_bench` on
//! a corpus. Both read one copy of jieba's dictionary; `build.rs` turns it into the trie and a
//! frequency table, so the binary carries neither the text nor the work of parsing it.

use openmai_types::text::char_at;

use crate::cjk::is_run_char;

/// The trie of the words of jieba's dictionary (`data/jieba-dict.txt`, jieba-rs 0.11's
/// `dict.txt`, MIT licence), as `build.rs` serialises it: word → index of its line.
static TRIE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/jieba-trie.bin"));

/// The frequency of each line's word, as little-endian `u32`s (see `build.rs`).
static FREQUENCIES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/jieba-frequencies.bin"));

/// jieba-rs on the same dictionary: the reference the tests compare with.
#[cfg(test)]
pub(crate) static REFERENCE: std::sync::LazyLock<jieba_rs::Jieba> =
    std::sync::LazyLock::new(|| {
        let dictionary = include_str!("../data/jieba-dict.txt");
        jieba_rs::Jieba::with_dict(&mut dictionary.as_bytes()).expect("a well-formed dictionary")
    });

pub(crate) struct Segmenter {
    trie: crawdad::Trie,
    /// ln(frequency) of each line's word, as jieba-rs computes it.
    log_freqs: Vec<f64>,
    /// ln(sum of all frequencies).
    log_total: f64,
}

/// Buffers for [`Segmenter::cut_for_search`], kept across calls.
#[derive(Debug, Default, Clone)]
pub(crate) struct SegmentScratch {
    /// Byte offset and value of each character of the run.
    chars: Vec<(u32, char)>,
    /// The dictionary words starting at each character: `edges[starts[i]..starts[i + 1]]`,
    /// shortest first, each as (end character, ln frequency).
    edges: Vec<(u32, f64)>,
    starts: Vec<u32>,
    /// The best path from each character to the run's end: (ln probability, end of the word
    /// taken there).
    route: Vec<(f64, u32)>,
}

impl SegmentScratch {
    /// Most a buffer keeps between texts (as jieba-rs's own scratch): a thread that once cut
    /// a huge run (a long FAQ answer without punctuation) does not hold its memory for ever.
    const MAX_KEPT_BYTES: usize = 4 << 20;

    fn release_if_huge(&mut self) {
        fn release<T>(buffer: &mut Vec<T>) {
            if buffer.capacity() * std::mem::size_of::<T>() > SegmentScratch::MAX_KEPT_BYTES {
                *buffer = Vec::new();
            }
        }
        release(&mut self.chars);
        release(&mut self.edges);
        release(&mut self.starts);
        release(&mut self.route);
    }
}

impl Segmenter {
    pub(crate) fn new() -> Self {
        let frequencies: Vec<usize> = FREQUENCIES
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("four bytes")) as usize)
            .collect();
        let total: usize = frequencies.iter().sum();
        let log_freqs = frequencies.iter().map(|&f| (f as f64).ln()).collect();
        let (trie, _) = crawdad::Trie::deserialize_from_slice(TRIE);
        Segmenter { trie, log_freqs, log_total: (total as f64).ln() }
    }

    /// Calls `emit` with the words jieba-rs's `cut_for_search(text, false)` returns, in order.
    pub(crate) fn cut_for_search<'t>(
        &self,
        text: &'t str,
        scratch: &mut SegmentScratch,
        mut emit: impl FnMut(&'t str),
    ) {
        let mut at = 0;
        while at < text.len() {
            let (c, len) = char_at(text, at);
            if !is_run_char(c) {
                // Outside a run every character is a word of its own, but for `\r\n`.
                let len = if c == '\r' && text[at + 1..].starts_with('\n') { 2 } else { len };
                emit(&text[at..at + len]);
                at += len;
                continue;
            }
            // The run's characters, each decoded once, and whether a `.`, `_` or `-` is among
            // them (most runs are Chinese and have none), in one pass: finding the run's end,
            // decoding its characters and scanning it for connectors were three.
            let start = at;
            let chars = &mut scratch.chars;
            chars.clear();
            let mut has_connector = false;
            let (mut c, mut len) = (c, len);
            loop {
                has_connector |= c.is_ascii() && is_connector(c as u8);
                chars.push(((at - start) as u32, c));
                at += len;
                if at == text.len() {
                    break;
                }
                (c, len) = char_at(text, at);
                if !is_run_char(c) {
                    break;
                }
            }
            self.cut_run(&text[start..at], has_connector, scratch, &mut emit);
        }
        scratch.release_if_huge();
    }

    /// The words of one run, whose characters `scratch.chars` holds.
    fn cut_run<'t>(
        &self,
        run: &'t str,
        has_connector: bool,
        scratch: &mut SegmentScratch,
        emit: &mut impl FnMut(&'t str),
    ) {
        let SegmentScratch { chars, edges, starts, route } = scratch;
        let n = chars.len();

        // The DAG: every dictionary word at every character.
        edges.clear();
        starts.clear();
        for i in 0..n {
            starts.push(edges.len() as u32);
            for (word, len) in self.trie.common_prefix_search(chars[i..].iter().map(|&(_, c)| c)) {
                edges.push(((i + len) as u32, self.log_freqs[word as usize]));
            }
        }
        starts.push(edges.len() as u32);

        // The most probable path, from the end, as jieba-rs's `calc`: a character no word
        // starts at is a word of frequency 1; ties go to the longer word.
        let log_total = self.log_total;
        route.clear();
        route.resize(n + 1, (0.0, n as u32));
        for i in (0..n).rev() {
            let mut best: Option<(f64, u32)> = None;
            for &(end, log_freq) in &edges[starts[i] as usize..starts[i + 1] as usize] {
                let prob = log_freq - log_total + route[end as usize].0;
                match best {
                    Some((p, e)) if !(prob > p || (prob == p && end > e)) => {}
                    _ => best = Some((prob, end)),
                }
            }
            route[i] = best.unwrap_or(((0.0 - log_total) + route[i + 1].0, i as u32 + 1));
        }

        // The path's words, single ASCII letters and digits joined (as `cut_route` without
        // HMM does), each after its search-mode parts.
        let words = Words { run, chars, edges, starts, has_connector };
        let mut x = 0;
        let mut joined: Option<usize> = None;
        while x < n {
            let y = route[x].1 as usize;
            if y - x == 1 && chars[x].1.is_ascii_alphanumeric() {
                joined.get_or_insert(x);
            } else {
                if let Some(from) = joined.take() {
                    words.emit(from, x, emit);
                }
                words.emit(x, y, emit);
            }
            x = y;
        }
        if let Some(from) = joined {
            words.emit(from, n, emit);
        }
    }
}

/// A run with its DAG, for emitting the words of its path.
struct Words<'r, 't> {
    run: &'t str,
    chars: &'r [(u32, char)],
    edges: &'r [(u32, f64)],
    starts: &'r [u32],
    /// Whether the run holds a `.`, `_` or `-`: only then can a word have parts (most runs
    /// are Chinese and have none).
    has_connector: bool,
}

/// The characters whose parts search mode also returns (`wes-5.4.5` → `wes`).
fn is_connector(b: u8) -> bool {
    matches!(b, b'.' | b'_' | b'-')
}

impl<'t> Words<'_, 't> {
    /// Byte offset of character `k` (the run's length for `k` past its end).
    fn byte(&self, k: usize) -> usize {
        self.chars.get(k).map_or(self.run.len(), |&(offset, _)| offset as usize)
    }

    /// Whether characters `from..to` are a dictionary word.
    fn is_word(&self, from: usize, to: usize) -> bool {
        let edges = &self.edges[self.starts[from] as usize..self.starts[from + 1] as usize];
        edges.iter().any(|&(end, _)| end as usize == to)
    }

    /// Emits the word of characters `x..y` as jieba-rs's `cut_for_search` does: first its
    /// parts between `.`, `_` and `-` that have two bytes or more and a letter, then its
    /// two-character dictionary words if it is longer than two characters, then its three-
    /// character ones if it is longer than three, then the word itself.
    fn emit(&self, x: usize, y: usize, emit: &mut impl FnMut(&'t str)) {
        let word = &self.run[self.byte(x)..self.byte(y)];
        if self.has_connector && word.bytes().any(is_connector) {
            for part in word.split(|c: char| c.is_ascii() && is_connector(c as u8)) {
                if part.len() >= 2 && part.bytes().any(|b| b.is_ascii_alphabetic()) {
                    emit(part);
                }
            }
        }
        let len = y - x;
        for gram in [2, 3] {
            if len > gram {
                for i in x..=y - gram {
                    if self.is_word(i, i + gram) {
                        emit(&self.run[self.byte(i)..self.byte(i + gram)]);
                    }
                }
            }
        }
        emit(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::LazyLock;

    static SEGMENTER: LazyLock<Segmenter> = LazyLock::new(Segmenter::new);

    fn ours(text: &str) -> Vec<&str> {
        let mut words = Vec::new();
        SEGMENTER.cut_for_search(text, &mut SegmentScratch::default(), |w| words.push(w));
        words
    }

    fn jiebas(text: &str) -> Vec<&str> {
        REFERENCE.cut_for_search(text, false).into_iter().map(|t| t.word).collect()
    }

    #[test]
    fn text_is_cut_as_jieba_cuts_it() {
        for text in [
            "中华人民共和国成立了",
            "我来到北京清华大学",
            "小明硕士毕业于中国科学院计算所，后在日本京都大学深造",
            "退票需支付手续费。行李遗失的赔偿",
            "第3章 c++ 与 C# 的 AT&T 1号店\r\n王小明。",
            "2024年3月5日 wes-5.4.5 版本 v2_beta 已发布，折扣10%",
            "，。！？ \t\n",
            "",
        ] {
            assert_eq!(ours(text), jiebas(text), "{text:?}");
        }
        assert!(ours("中华人民共和国").contains(&"共和国"), "search mode's inner words");
        assert!(ours("wes-5.4.5").contains(&"wes"), "search mode's parts");
    }

    #[test]
    fn a_huge_run_is_cut_and_its_buffers_are_not_kept() {
        let text = "中华人民共和国".repeat(200_000);
        let mut scratch = SegmentScratch::default();
        let mut words = 0;
        SEGMENTER.cut_for_search(&text, &mut scratch, |_| words += 1);
        assert_eq!(words, jiebas(&text).len());
        assert_eq!(scratch.edges.capacity(), 0, "a 1.4-million-character run's DAG is released");
    }

    /// Text from pieces that exercise every branch: dictionary words that overlap, characters
    /// no word starts with, rare ideographs from the extensions, ASCII words of the dictionary
    /// and ASCII joined to Chinese, the connectors, punctuation, `\r\n`, other scripts.
    fn text() -> impl Strategy<Value = String> {
        let pieces = prop::sample::select(vec![
            "中华",
            "人民",
            "共和国",
            "中华人民共和国",
            "手续费",
            "退票",
            "规定",
            "清华大学",
            "北京",
            "研究生",
            "命",
            "的",
            "了",
            "王",
            "小明",
            "硕士",
            "毕业",
            "于",
            "中国科学院",
            "计算所",
            "年",
            "月",
            "号店",
            "style",
            "江南",
            "𠀀",
            "㐀",
            "丽",
            "鿕",
            "3",
            "2024",
            "ab",
            "c",
            "s",
            "x",
            "c++",
            "c#",
            "at&t",
            "1号店",
            "4s店",
            "+",
            "#",
            "&",
            ".",
            "-",
            "_",
            "%",
            " ",
            "，",
            "。",
            "\r\n",
            "\r",
            "\n",
            "é",
            "カ",
            "한",
            "ｆ",
            "A",
        ]);
        prop::collection::vec(pieces, 0..40).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        #[test]
        fn the_words_are_jiebas_on_any_text(text in text()) {
            prop_assert_eq!(ours(&text), jiebas(&text));
        }
    }
}
