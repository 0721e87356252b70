//! Chinese word segmentation: jieba's search mode (`cut_for_search` without HMM), with the
//! dictionary walk of pure Chinese runs done on a character-wise double-array trie.
//!
//! jieba cuts a text into runs of its "Chinese" class (CJK ideographs, ASCII letters and
//! digits, `+#&._%-`) and everything else. For each run it finds every dictionary word that
//! starts at every character (its DAG), takes the most probable path through them, and in
//! search mode also emits the dictionary words of two and three characters inside each long
//! word. The walk over the dictionary is most of the cost, and jieba-rs keeps the dictionary
//! in a 16 MB hash table whose every step misses the caches; crawdad's double-array trie holds
//! its Chinese words in 6 MB, mapped so that common characters sit close together, and finds
//! the same words about three times as fast (`docs/benchmarks.md`, round 9). So a run made only
//! of CJK ideographs, which is nearly all of the Chinese text there is, goes through the trie
//! and the same path computation as jieba's (the same floating-point sums, the same tie-break);
//! a run with ASCII in it (`第3章`, `c++`) and everything else goes to jieba-rs itself. The
//! words are the same either way: a property test compares the two on random text, and
//! `analyzer_bench` on a corpus.
//!
//! The trie takes about two seconds to build, so the build script builds it (`build.rs`) and
//! the segmenter loads it, in milliseconds.

use jieba_rs::Jieba;

use crate::cjk::is_cjk;

/// jieba's dictionary (jieba-rs 0.11's `dict.txt`, MIT licence): `word frequency tag` lines.
/// One copy feeds both jieba-rs and the trie, so the two cannot disagree on a word.
static DICTIONARY: &str = include_str!("../data/jieba-dict.txt");

/// The trie of [`DICTIONARY`]'s words made only of CJK ideographs, as `build.rs` serialises it.
static TRIE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/jieba-trie.bin"));

pub(crate) struct Segmenter {
    jieba: Jieba,
    chinese: ChineseDictionary,
}

/// The dictionary's words made only of CJK ideographs, for the runs that are.
struct ChineseDictionary {
    /// Word → index of its line in [`DICTIONARY`] (see `build.rs`).
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

impl Segmenter {
    pub(crate) fn new() -> Self {
        let jieba = Jieba::with_dict(&mut DICTIONARY.as_bytes())
            .expect("the bundled jieba dictionary is well formed");
        Segmenter { jieba, chinese: ChineseDictionary::load() }
    }

    /// jieba-rs itself, on the same dictionary: the reference the analyzer's tests compare with.
    #[cfg(test)]
    pub(crate) fn jieba(&self) -> &Jieba {
        &self.jieba
    }

    /// Calls `emit` with the words jieba's `cut_for_search(text, false)` returns, in order.
    pub(crate) fn cut_for_search<'t>(
        &self,
        text: &'t str,
        scratch: &mut SegmentScratch,
        mut emit: impl FnMut(&'t str),
    ) {
        let mut at = 0;
        while let Some(c) = text[at..].chars().next() {
            if !is_jieba_word_char(c) {
                // Outside a run every character is a word of its own, but for `\r\n`.
                let len =
                    if c == '\r' && text[at + 1..].starts_with('\n') { 2 } else { c.len_utf8() };
                emit(&text[at..at + len]);
                at += len;
                continue;
            }
            let start = at;
            let mut ascii = false;
            for c in text[start..].chars() {
                if !is_jieba_word_char(c) {
                    break;
                }
                ascii |= c.is_ascii();
                at += c.len_utf8();
            }
            let run = &text[start..at];
            if ascii {
                for token in self.jieba.cut_for_search(run, false) {
                    emit(token.word);
                }
            } else {
                self.chinese.cut_for_search(run, scratch, &mut emit);
            }
        }
    }
}

impl ChineseDictionary {
    fn load() -> Self {
        // One entry per line, as the trie's values count them.
        let mut log_freqs = Vec::new();
        let mut total = 0usize;
        for line in DICTIONARY.lines() {
            let freq = line.split_ascii_whitespace().nth(1).and_then(|f| f.parse().ok());
            let freq: usize = freq.unwrap_or(0);
            total += freq;
            log_freqs.push((freq as f64).ln());
        }
        let (trie, _) = crawdad::Trie::deserialize_from_slice(TRIE);
        ChineseDictionary { trie, log_freqs, log_total: (total as f64).ln() }
    }

    /// jieba's search-mode cut (without HMM) of `run`, a text made only of CJK ideographs.
    fn cut_for_search<'t>(
        &self,
        run: &'t str,
        scratch: &mut SegmentScratch,
        emit: &mut impl FnMut(&'t str),
    ) {
        let SegmentScratch { chars, edges, starts, route } = scratch;
        chars.clear();
        chars.extend(run.char_indices().map(|(i, c)| (i as u32, c)));
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

        // The most probable path, from the end, exactly as jieba-rs's `calc`: a character no
        // word starts at is a word of frequency 1; ties go to the longer word.
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

        // Each word of the path, after the two- and three-character dictionary words inside
        // it when it is longer than that (search mode).
        let byte = |k: usize| chars.get(k).map_or(run.len(), |&(offset, _)| offset as usize);
        let is_word = |from: usize, to: usize| {
            edges[starts[from] as usize..starts[from + 1] as usize]
                .iter()
                .any(|&(end, _)| end as usize == to)
        };
        let mut x = 0;
        while x < n {
            let y = route[x].1 as usize;
            let len = y - x;
            for gram in [2, 3] {
                if len > gram {
                    for i in x..=y - gram {
                        if is_word(i, i + gram) {
                            emit(&run[byte(i)..byte(i + gram)]);
                        }
                    }
                }
            }
            emit(&run[byte(x)..byte(y)]);
            x = y;
        }
    }
}

/// jieba's "Chinese" character class (`RE_HAN_DEFAULT`): CJK ideographs, ASCII letters and
/// digits, and `+#&._%-`.
fn is_jieba_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '&' | '.' | '_' | '%' | '-')
    } else {
        is_cjk(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segmenter() -> &'static Segmenter {
        static SEGMENTER: std::sync::LazyLock<Segmenter> = std::sync::LazyLock::new(Segmenter::new);
        &SEGMENTER
    }

    fn ours(text: &str) -> Vec<&str> {
        let mut words = Vec::new();
        segmenter().cut_for_search(text, &mut SegmentScratch::default(), |w| words.push(w));
        words
    }

    fn jiebas(text: &str) -> Vec<&str> {
        segmenter().jieba.cut_for_search(text, false).into_iter().map(|t| t.word).collect()
    }

    #[test]
    fn chinese_runs_are_cut_as_jieba_cuts_them() {
        for text in [
            "中华人民共和国成立了",
            "我来到北京清华大学",
            "小明硕士毕业于中国科学院计算所，后在日本京都大学深造",
            "退票需支付手续费。行李遗失的赔偿",
            "第3章 c++ 与 C# 的 AT&T 1号店\r\n王小明。",
            "，。！？ \t\n",
            "",
        ] {
            assert_eq!(ours(text), jiebas(text), "{text:?}");
        }
        assert_eq!(ours("中华人民共和国"), jiebas("中华人民共和国"));
        assert!(ours("中华人民共和国").contains(&"共和国"), "search mode's inner words");
    }

    /// Text from pieces that exercise every branch: dictionary words that overlap, characters
    /// no word starts with, rare ideographs from the extensions, ASCII joined to Chinese, the
    /// connectors, punctuation, `\r\n`, other scripts.
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
            "𠀀",
            "㐀",
            "丽",
            "鿕",
            "3",
            "ab",
            "c++",
            "c#",
            "at&t",
            "1号店",
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
        ]);
        prop::collection::vec(pieces, 0..40).prop_map(|p| p.concat())
    }

    proptest! {
        #[test]
        fn the_words_are_jiebas_on_any_text(text in text()) {
            prop_assert_eq!(ours(&text), jiebas(&text));
        }
    }
}
