//! Text analysis shared by every index implementation.
//!
//! The embedded index runs it as the tokenizer of tantivy's `terms` field (see `keyword`), and
//! the PostgreSQL index stores the same terms as a `tsvector` under a GIN index, so a passage
//! is found by the same words whatever engine holds it. Queries and documents go through the
//! same function; that symmetry is what makes Traditional find Simplified.
//!
//! The pipeline, in order:
//! 1. **Width and case folding**: full-width ASCII (`ＡＢＣ１２３`, common in Chinese text)
//!    becomes half-width, and everything is lower-cased.
//! 2. **Traditional → Simplified** with zhconv's OpenCC `zh-CN` tables (including the Taiwan
//!    phrase table), so `軟體` and `软件`, `臺北` and `台北` become the same text. This runs
//!    *before* segmentation because jieba's dictionary is Simplified: cutting Traditional text
//!    directly splits words wrongly (`請|假`).
//! 3. **Segmentation** with jieba in search mode (long words are also emitted as their
//!    dictionary sub-words, so `中华人民共和国` is found by `共和国`), without HMM new-word
//!    discovery: HMM guesses depend on the surrounding characters, so the same name could be
//!    cut one way in a passage and another way in a short question. jieba's algorithm and
//!    dictionary run on a faster trie (see `segment`), with jieba-rs's words. Plain ASCII words
//!    (`refund`, `2024`) are taken as they stand, without jieba's per-character dictionary
//!    walk; jieba would return them whole and unchanged (see `plain_words`), so the terms
//!    are the same.
//! 4. **Unknown-word fallback**: a run of two or more single Chinese characters (what jieba
//!    leaves of words it does not know, such as rare names) also yields its character
//!    bigrams, so `王小明` still matches as a unit even though no dictionary knows it.
//! 5. **Filtering**: tokens without a letter or digit (punctuation, spaces) and tokens longer
//!    than [`MAX_TERM_BYTES`] are dropped, as are Chinese and English stop words (`的`, `是`,
//!    `the`, `is`), so they cannot dominate a keyword query.
//! 6. **Stemming** of ASCII words with the Snowball English stemmer (`refunds`, `refunded` →
//!    `refund`).
//!
//! Changing any step changes the terms stored in existing indexes; bump [`ANALYZER_VERSION`]
//! so indexes know to re-analyse the chunks (the PostgreSQL index from its own rows, the
//! embedded one from the chunks the server hands it again, see
//! `SearchIndex::needs_reanalysis`).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use openmai_types::text::{fold, is_han};

use crate::segment::{SegmentScratch, Segmenter};

/// Version of the analysis pipeline. Stored with each index; a mismatch on open means the
/// chunks are re-analysed, because old terms would no longer match new queries.
pub const ANALYZER_VERSION: u32 = 1;

/// Terms longer than this (in bytes) are dropped: base64 blobs, URLs and hashes inflate the
/// term dictionary and are never typed as search words.
pub const MAX_TERM_BYTES: usize = 40;

/// The process-wide analyzer. Building it loads jieba's dictionary (hundreds of milliseconds
/// in a debug build), so it is built once, on first use, and never changed afterwards.
static SHARED: LazyLock<Analyzer> = LazyLock::new(Analyzer::new);

/// Lower-cased, Traditional→Simplified-folded, jieba-segmented (search mode), stemmed
/// (English) terms, stop words removed. Duplicates are kept: term frequency matters to BM25.
pub fn terms(text: &str) -> Vec<String> {
    shared().terms(text)
}

/// The shared analyzer behind [`terms`], for callers that analyse in a loop.
pub fn shared() -> &'static Analyzer {
    &SHARED
}

/// A loaded analysis pipeline (see the module documentation for the steps).
pub struct Analyzer {
    segmenter: Segmenter,
    stemmer: frostem::Stemmer,
    stop_words: StopWords,
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer").field("version", &ANALYZER_VERSION).finish()
    }
}

impl Analyzer {
    /// Loads jieba's bundled dictionary. Prefer [`shared`]: loading is slow and the result
    /// is immutable, so one per process is enough.
    pub fn new() -> Self {
        Analyzer {
            segmenter: Segmenter::new(),
            stemmer: frostem::Stemmer::new(frostem::Algorithm::English),
            stop_words: StopWords::new(STOP_WORDS),
        }
    }

    /// The words segmentation (step 3 alone) cuts `text` into, for benchmarks: jieba's
    /// search-mode words, as jieba-rs's `cut_for_search(text, false)` returns them.
    pub fn for_each_word<'t>(&self, text: &'t str, emit: impl FnMut(&'t str)) {
        self.segmenter.cut_for_search(text, &mut SegmentScratch::default(), emit);
    }

    /// The terms of `text`, in order, duplicates kept.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_term(text, |term| out.push(term.to_owned()));
        out
    }

    /// The terms of a query: its first `max_bytes` (cut at a character boundary), analysed,
    /// de-duplicated, at most `max_terms` of them, in order of first appearance. Every index
    /// implementation searches exactly these.
    pub fn query_terms(&self, text: &str, max_bytes: usize, max_terms: usize) -> Vec<String> {
        let mut end = text.len().min(max_bytes);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut seen = std::collections::HashSet::new();
        let mut terms = Vec::new();
        self.for_each_term(&text[..end], |term| {
            if terms.len() < max_terms && !seen.contains(term) {
                seen.insert(term.to_owned());
                terms.push(term.to_owned());
            }
        });
        terms
    }

    /// Calls `emit` with each term of `text`, in order, duplicates kept.
    pub fn for_each_term(&self, text: &str, emit: impl FnMut(&str)) {
        self.for_each_term_with(text, &mut Scratch::default(), emit);
    }

    /// [`Self::for_each_term`] with buffers and a stem memo kept across calls, for a thread
    /// that analyses many texts (the index's tokenizer).
    pub fn for_each_term_with(&self, text: &str, scratch: &mut Scratch, emit: impl FnMut(&str)) {
        self.analyse(text, scratch, Segmentation::PlainWordsDirect, emit);
    }

    fn analyse(
        &self,
        text: &str,
        scratch: &mut Scratch,
        segmentation: Segmentation,
        mut emit: impl FnMut(&str),
    ) {
        let folded = fold(text);
        if folded.is_empty() {
            return;
        }
        if scratch.first_line.enabled {
            let head = &folded.as_bytes()[..folded.len().min(MAX_MEMO_LINE_BYTES + 1)];
            if let Some(end) = head.iter().position(|&b| b == b'\n') {
                // The whole text is folded first (the Simplified conversion looks at phrases),
                // and no later step reaches across a line break (it ends jieba's blocks, plain
                // words and bigram runs alike), so the folded first line's terms, followed by
                // the rest's, are the terms of the whole.
                self.first_line(&folded[..end], scratch, segmentation, &mut emit);
                self.segment(&folded[end + 1..], scratch, segmentation, emit);
                return;
            }
        }
        self.segment(&folded, scratch, segmentation, emit);
    }

    /// Emits the terms of a text's folded first `line` from the memo, analysing the line
    /// first when it is not the one the memo holds.
    fn first_line(
        &self,
        line: &str,
        scratch: &mut Scratch,
        segmentation: Segmentation,
        emit: &mut impl FnMut(&str),
    ) {
        let mut memo = std::mem::take(&mut scratch.first_line);
        if memo.line != line {
            memo.line.clear();
            memo.line.push_str(line);
            memo.terms.clear();
            memo.ends.clear();
            let (terms, ends) = (&mut memo.terms, &mut memo.ends);
            self.segment(line, scratch, segmentation, |term| {
                terms.push_str(term);
                ends.push(terms.len());
            });
        }
        let mut start = 0;
        for &end in &memo.ends {
            emit(&memo.terms[start..end]);
            start = end;
        }
        scratch.first_line = memo;
    }

    /// Cuts folded text into words and turns them into terms (steps 3 to 6).
    fn segment(
        &self,
        folded: &str,
        scratch: &mut Scratch,
        segmentation: Segmentation,
        emit: impl FnMut(&str),
    ) {
        let mut sink = TermSink { analyzer: self, scratch, run: Vec::new(), emit };
        match segmentation {
            Segmentation::PlainWordsDirect => {
                let mut rest = 0;
                for word in plain_words(folded) {
                    let start = word.as_ptr() as usize - folded.as_ptr() as usize;
                    self.cut_gap(&folded[rest..start], &mut sink);
                    sink.plain_word(word);
                    rest = start + word.len();
                }
                self.cut_gap(&folded[rest..], &mut sink);
            }
            #[cfg(test)]
            Segmentation::AllThroughJieba => {
                for token in crate::segment::REFERENCE.cut_for_search(folded, false) {
                    sink.word(token.word);
                }
            }
        }
        sink.end_run();
    }

    /// What lies between two plain words: through jieba, unless it is ASCII without a letter
    /// or digit (the spaces and punctuation between English words), which jieba would cut
    /// into tokens that are all dropped.
    fn cut_gap<'t>(&self, gap: &'t str, sink: &mut TermSink<'_, 't, impl FnMut(&str)>) {
        if gap.bytes().all(|b| b.is_ascii() && !b.is_ascii_alphanumeric()) {
            sink.end_run();
        } else {
            let mut words = std::mem::take(&mut sink.scratch.words);
            self.segmenter.cut_for_search(gap, &mut words, |word| sink.word(word));
            sink.scratch.words = words;
        }
    }
}

/// Turns segmented words into terms (steps 4 to 6).
struct TermSink<'a, 't, E> {
    analyzer: &'a Analyzer,
    scratch: &'a mut Scratch,
    /// Single Chinese characters waiting to be paired into bigrams (step 4).
    run: Vec<&'t str>,
    emit: E,
}

impl<'t, E: FnMut(&str)> TermSink<'_, 't, E> {
    fn word(&mut self, word: &'t str) {
        // Most words are Chinese, and one that starts and ends with a Chinese character has
        // nothing to trim and holds a character that makes it a term: it skips the trim and
        // the test below, which look characters up in Unicode's whitespace and alphanumeric
        // tables. Either way its first character is decoded once, for the steps after.
        let (word, first) = match word.chars().next() {
            Some(first) if is_han(first) && word.chars().next_back().is_some_and(is_han) => {
                (word, first)
            }
            // A word of one character (punctuation, a space, a letter of another script: what
            // the segmenter returns a character at a time) has nothing to trim either.
            Some(first) if word.len() == first.len_utf8() => {
                if !is_term_char(first) {
                    // Punctuation ends a run of single characters: no bigram spans a comma.
                    self.end_run();
                    return;
                }
                (word, first)
            }
            _ => {
                let word = word.trim();
                if !word.chars().any(is_term_char) {
                    self.end_run();
                    return;
                }
                (word, word.chars().next().expect("a term character"))
            }
        };
        let analyzer = self.analyzer;
        // A stop word ends a run too: `王的书` has no bigram worth indexing.
        if word.len() > MAX_TERM_BYTES || analyzer.stop_words.contains_starting_with(word, first) {
            self.end_run();
            return;
        }
        if is_han(first) && word.len() == first.len_utf8() {
            self.run.push(word);
            (self.emit)(word);
            return;
        }
        self.end_run();
        self.emit_term(word);
    }

    /// [`Self::word`] for a word of `[a-z0-9]` (see `plain_words`): nothing to trim, no
    /// Chinese character, a term unless it is a stop word or too long.
    fn plain_word(&mut self, word: &'t str) {
        self.end_run();
        let first = char::from(word.as_bytes()[0]);
        if word.len() > MAX_TERM_BYTES
            || self.analyzer.stop_words.contains_starting_with(word, first)
        {
            return;
        }
        self.emit_term(word);
    }

    /// Emits a term that is not a single Chinese character: English words as their stems.
    /// Inlined into both callers (a call here cost 1% of the indexing thread's instructions).
    #[inline(always)]
    fn emit_term(&mut self, word: &str) {
        if word.is_ascii() && word.bytes().any(|b| b.is_ascii_alphabetic()) {
            emit_stem(&mut self.scratch.stems, &self.analyzer.stemmer, word, &mut self.emit);
        } else {
            (self.emit)(word);
        }
    }

    /// Emits the bigrams of the run of single characters, if any, and starts a new one.
    /// Inlined: it runs after nearly every word, and there is seldom a run to pair.
    #[inline]
    fn end_run(&mut self) {
        if self.run.len() >= 2 {
            self.emit_bigrams();
        }
        self.run.clear();
    }

    fn emit_bigrams(&mut self) {
        let bigram = &mut self.scratch.bigram;
        for pair in self.run.windows(2) {
            bigram.clear();
            bigram.push_str(pair[0]);
            bigram.push_str(pair[1]);
            if !self.analyzer.stop_words.contains(bigram.as_str()) {
                (self.emit)(bigram);
            }
        }
    }
}

/// How [`Analyzer::analyse`] cuts folded text into words. Both give the same words; the
/// second is kept as the reference the first is tested against.
#[derive(Debug, Clone, Copy)]
enum Segmentation {
    /// Plain ASCII words (see `plain_words`) are taken as they are, the rest goes through
    /// jieba. English is a third of a typical Taiwanese corpus, and jieba looks every one of
    /// its characters up in the dictionary only to join them back into the word.
    PlainWordsDirect,
    #[cfg(test)]
    AllThroughJieba,
}

/// The words of `folded` that jieba would return whole and unchanged: maximal runs of
/// `[a-z0-9]` not joined to a neighbouring Chinese character or to `+`, `#` or `&`. Jieba's
/// route joins a block's single ASCII alphanumerics into one word, and a dictionary word can
/// take part of such a run only through those neighbours: its ASCII entries are `c++`, `c#`,
/// `AT&T` and a few words like `1号店` and `江南style` (its other connectors, `._%-`, stand
/// alone after the run, as the punctuation they are). The neighbour test errs towards jieba:
/// [`is_han`] covers a little more than jieba's CJK ranges, and a word left to jieba is cut
/// exactly as before.
fn plain_words(folded: &str) -> impl Iterator<Item = &str> {
    let bytes = folded.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            // Eight bytes without an ASCII one (Chinese text) are skipped at once. Skipping may
            // stop inside a character, but only an ASCII byte, always a character of its own,
            // starts a word.
            if let Some(word) = bytes.get(at..at + 8)
                && u64::from_le_bytes(word.try_into().expect("eight bytes")) & 0x8080_8080_8080_8080
                    == 0x8080_8080_8080_8080
            {
                at += 8;
                continue;
            }
            if !bytes[at].is_ascii_alphanumeric() {
                at += 1;
                continue;
            }
            let start = at;
            // A UTF-8 continuation byte is never ASCII alphanumeric, so `at` stays on a
            // character boundary.
            while at < bytes.len() && bytes[at].is_ascii_alphanumeric() {
                at += 1;
            }
            let joined = |c: char| {
                if c.is_ascii() { matches!(c, '+' | '#' | '&') } else { is_han(c) }
            };
            let before = folded[..start].chars().next_back();
            let after = folded[at..].chars().next();
            if !before.is_some_and(joined) && !after.is_some_and(joined) {
                return Some(&folded[start..at]);
            }
        }
        None
    })
}

/// Whether `c` makes a word a term: a Chinese character, a letter or a digit. The ASCII and
/// the punctuation blocks Chinese text uses are answered without Unicode's tables (a
/// search each for letters and for numbers, for every comma and full stop).
fn is_term_char(c: char) -> bool {
    match c as u32 {
        0..0x80 => c.is_ascii_alphanumeric(),
        // General Punctuation: quotes, dashes, ellipses; no letter or number.
        0x2000..=0x206F => false,
        // CJK Symbols and Punctuation: 、。「」《》… but 々〆〇, the Hangzhou numerals
        // 〡–〩, the kana repeat marks 〱–〵 and 〸–〼 are letters or numbers.
        0x3000..=0x303F => {
            matches!(c as u32, 0x3005..=0x3007 | 0x3021..=0x3029 | 0x3031..=0x3035 | 0x3038..=0x303C)
        }
        _ => is_han(c) || c.is_alphanumeric(),
    }
}

/// Buffers and memos for analysing many texts on one thread (see
/// [`Analyzer::for_each_term_with`]).
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    bigram: String,
    /// English word → its stem. The Snowball stemmer costs more than all the other steps
    /// for an English word, and a corpus repeats a small vocabulary.
    stems: HashMap<String, String, foldhash::fast::FixedState>,
    first_line: FirstLineMemo,
    /// The segmenter's buffers (characters, dictionary matches, best path of a run).
    words: SegmentScratch,
}

impl Scratch {
    /// A scratch that also remembers the terms of the last text's first line, for a thread
    /// that analyses chunk after chunk: the server puts a chunk's heading path on its first
    /// line, and every chunk of a section repeats it.
    pub fn with_first_line_memo() -> Self {
        Scratch {
            first_line: FirstLineMemo { enabled: true, ..FirstLineMemo::default() },
            ..Scratch::default()
        }
    }
}

/// The folded first line of the last text analysed and its terms (see
/// [`Scratch::with_first_line_memo`]).
#[derive(Debug, Default, Clone)]
struct FirstLineMemo {
    enabled: bool,
    line: String,
    /// The terms back to back; `ends` holds where each one ends.
    terms: String,
    ends: Vec<usize>,
}

/// Longest first line (folded, in bytes) the memo takes; a longer one is prose, not a heading.
const MAX_MEMO_LINE_BYTES: usize = 512;

/// Entries the stem memo holds before it starts over (a few MB at most).
const MAX_MEMO_STEMS: usize = 1 << 16;

/// Emits the stem of `word`, through the memo: one lookup when the word is known (returning
/// the stem instead would need a second one, to satisfy the borrow checker).
fn emit_stem(
    memo: &mut HashMap<String, String, foldhash::fast::FixedState>,
    stemmer: &frostem::Stemmer,
    word: &str,
    emit: &mut impl FnMut(&str),
) {
    if let Some(stem) = memo.get(word) {
        emit(stem);
        return;
    }
    if memo.len() >= MAX_MEMO_STEMS {
        memo.clear();
    }
    let stem = stemmer.stem(word).into_owned();
    emit(&stem);
    memo.insert(word.to_owned(), stem);
}

/// [`STOP_WORDS`] as a set (every word is looked up: a list scan was a fifth of the indexing
/// time), behind filters on their first characters: most words start with a character no
/// stop word starts with, and testing one bit is cheaper than hashing the word. A word of one
/// character is answered by its bit alone.
struct StopWords {
    words: HashSet<&'static str, foldhash::fast::FixedState>,
    /// Bit `c` is set when the one-character word `c` is a stop word (all stop words start
    /// in the Basic Multilingual Plane, so a word starting outside it is none).
    single: Box<[u64; 1024]>,
    /// Bit `c` is set when a stop word of two characters or more starts with `c`.
    longer_first: Box<[u64; 1024]>,
}

impl StopWords {
    fn new(words: &[&'static str]) -> Self {
        let mut single = Box::new([0u64; 1024]);
        let mut longer_first = Box::new([0u64; 1024]);
        for word in words {
            let first = word.chars().next().expect("no empty stop word");
            let bits = if word.len() == first.len_utf8() { &mut single } else { &mut longer_first };
            let first = first as usize;
            assert!(first < 0x1_0000, "stop words start in the Basic Multilingual Plane");
            bits[first / 64] |= 1 << (first % 64);
        }
        StopWords { words: words.iter().copied().collect(), single, longer_first }
    }

    fn contains(&self, word: &str) -> bool {
        word.chars().next().is_some_and(|first| self.contains_starting_with(word, first))
    }

    /// [`Self::contains`] for a word whose first character the caller has decoded already.
    fn contains_starting_with(&self, word: &str, first: char) -> bool {
        let first_len = first.len_utf8();
        let first = first as usize;
        if first >= 0x1_0000 {
            return false;
        }
        let bit = 1 << (first % 64);
        if word.len() == first_len {
            self.single[first / 64] & bit != 0
        } else {
            self.longer_first[first / 64] & bit != 0 && self.words.contains(word)
        }
    }
}

/// Stop words, already folded (Simplified, lower-case, unstemmed). Chinese: particles,
/// pronouns, copulas and question words that appear in nearly every passage or question.
/// English: Lucene's classic list plus question words. Kept short on purpose: a word that
/// carries meaning in some domain (`不`, `没有`, `not`) stays searchable.
const STOP_WORDS: &[&str] = &[
    // Chinese
    "的",
    "了",
    "着",
    "过",
    "是",
    "在",
    "和",
    "与",
    "及",
    "或",
    "而",
    "也",
    "都",
    "就",
    "又",
    "把",
    "被",
    "让",
    "给",
    "向",
    "从",
    "对",
    "于",
    "以",
    "之",
    "其",
    "则",
    "即",
    "并",
    "且",
    "这",
    "那",
    "这个",
    "那个",
    "这些",
    "那些",
    "这样",
    "那样",
    "此",
    "该",
    "各",
    "某",
    "每",
    "我",
    "你",
    "您",
    "他",
    "她",
    "它",
    "我们",
    "你们",
    "您们",
    "他们",
    "她们",
    "它们",
    "咱们",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "哦",
    "嗯",
    "么",
    "嘛",
    "啦",
    "喔",
    "哈",
    "欸",
    "什么",
    "怎么",
    "怎样",
    "怎么样",
    "如何",
    "为什么",
    "为何",
    "哪",
    "哪些",
    "哪个",
    "哪里",
    "请问",
    "请",
    "想",
    "要",
    "会",
    "能",
    "可以",
    "可",
    "有",
    "个",
    "一个",
    "一下",
    "还",
    "很",
    "非常",
    "得",
    "地",
    "所",
    "所以",
    "因为",
    "但",
    "但是",
    "如果",
    "还是",
    "等",
    // English
    "a",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "but",
    "by",
    "for",
    "if",
    "in",
    "into",
    "is",
    "it",
    "of",
    "on",
    "or",
    "such",
    "that",
    "the",
    "their",
    "then",
    "there",
    "these",
    "they",
    "this",
    "to",
    "was",
    "will",
    "with",
    "what",
    "how",
    "why",
    "which",
    "who",
    "do",
    "does",
    "did",
    "i",
    "me",
    "my",
    "you",
    "your",
    "we",
    "our",
    "can",
    "could",
    "would",
    "should",
    "am",
    "been",
    "has",
    "have",
    "had",
    "its",
    "from",
    "so",
    "than",
    "please",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Vec<String> {
        terms(s)
    }

    #[test]
    fn traditional_and_simplified_fold_to_the_same_terms() {
        assert_eq!(t("台灣高鐵的退票規定"), t("台湾高铁的退票规定"));
        assert_eq!(t("軟體記憶體"), t("软件内存"));
        let cut = t("台灣高鐵的退票規定是什麼");
        assert!(cut.contains(&"高铁".to_owned()), "{cut:?}");
        assert!(cut.contains(&"退票".to_owned()), "{cut:?}");
        assert!(!cut.contains(&"的".to_owned()), "{cut:?}");
    }

    #[test]
    fn traditional_is_cut_after_folding() {
        // Cut directly, jieba's Simplified dictionary splits 請假 into 請|假.
        assert!(t("我要請假").contains(&"请假".to_owned()));
    }

    #[test]
    fn english_is_lower_cased_and_stemmed() {
        assert_eq!(t("Refunds"), t("refunded"));
        assert_eq!(t("REFUND"), vec!["refund".to_owned()]);
        assert_eq!(t("ＡＰＩ Keys"), t("api key"));
        assert!(t("the and of").is_empty());
    }

    #[test]
    fn mixed_text_keeps_both_scripts() {
        let cut = t("iPhone 15 的保固期是多久？");
        assert!(cut.contains(&"iphon".to_owned()) || cut.contains(&"iphone".to_owned()), "{cut:?}");
        assert!(cut.contains(&"15".to_owned()), "{cut:?}");
        assert!(cut.contains(&"保固".to_owned()) || cut.contains(&"保固期".to_owned()), "{cut:?}");
    }

    #[test]
    fn search_mode_emits_sub_words() {
        let cut = t("中华人民共和国");
        assert!(cut.contains(&"共和国".to_owned()), "{cut:?}");
        assert!(cut.contains(&"中华人民共和国".to_owned()), "{cut:?}");
    }

    #[test]
    fn degenerate_input_yields_no_terms() {
        assert!(t("").is_empty());
        assert!(t("？！。，…… ---  ").is_empty());
        assert!(t(&"x".repeat(500)).is_empty());
    }

    #[test]
    fn the_stop_word_filter_agrees_with_the_set() {
        let stop_words = StopWords::new(STOP_WORDS);
        for word in STOP_WORDS {
            assert!(stop_words.contains(word), "{word}");
        }
        // Words sharing a first character with a stop word, words sharing none, words
        // outside the Basic Multilingual Plane, and single characters that begin only longer
        // stop words (`一个`, `怎么`, `that`).
        let words =
            ["的确", "我国", "退票", "theory", "refund", "", "𠀀", "𠀀的", "x", "一", "怎", "t"];
        for word in words {
            assert_eq!(stop_words.contains(word), STOP_WORDS.contains(&word), "{word}");
        }
    }

    #[test]
    fn the_term_character_test_is_unicodes_on_every_character() {
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            assert_eq!(is_term_char(c), is_han(c) || c.is_alphanumeric(), "U+{:04X}", c as u32);
        }
    }

    /// The terms of `text` with every word cut by jieba, the reference the direct handling
    /// of plain words must agree with.
    fn through_jieba(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        shared().analyse(text, &mut Scratch::default(), Segmentation::AllThroughJieba, |term| {
            out.push(term.to_owned())
        });
        out
    }

    #[test]
    fn plain_words_are_cut_as_jieba_cuts_them() {
        for text in [
            "Refunds are processed in 5 days.",
            "iPhone15的保固期 is 12 months",
            "c++ and c# developers, 1号店 4s店 江南style",
            "version 3.6.3 of WES-5.4.5, 50% off; a_b & c+d #1",
            "王小明 Wang 在 台北, 退票 refund。退款",
            "  leading and trailing  ",
            "𠀀abc 㐀def ghi丂 jkl",
            "x".repeat(60).as_str(),
        ] {
            assert_eq!(t(text), through_jieba(text), "{text}");
        }
    }

    /// Texts whose first lines repeat, analysed one after another with the first-line memo,
    /// give the terms each gives alone.
    #[test]
    fn the_first_line_memo_gives_the_terms_of_the_whole_text() {
        let texts = [
            "退票規定 > 手續費\n退票需支付手續費。Refunds take 5 days.",
            "退票規定 > 手續費\n改票免費，王小明 c++ 1号店",
            "退票規定 > 手續費\r\n王小明",
            "退票規定 > 手續費",
            "王小明\n\n王小明",
            "\n台灣高鐵",
            "\n台灣高鐵",
            "",
            "Refunds\nrefunded",
        ];
        let analyzer = shared();
        let mut scratch = Scratch::with_first_line_memo();
        for text in texts {
            let mut terms = Vec::new();
            analyzer.for_each_term_with(text, &mut scratch, |term| terms.push(term.to_owned()));
            assert_eq!(terms, t(text), "{text:?}");
        }
        assert_eq!(scratch.first_line.line, "refunds");
    }

    proptest::proptest! {
        #[test]
        fn the_first_line_memo_agrees_on_any_mix(
            lines in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(vec![
                "a", "Z", "refund", "2024", " ", ",", ".", "+", "#", "，", "。", "　", "ＡＢ", "的",
                "王", "小", "明", "退票", "台灣", "號", "c", "style", "\n", "\r", "é",
            ]), 0..12), 1..4),
            order in proptest::collection::vec(0usize..8, 1..12),
        ) {
            let analyzer = shared();
            let mut scratch = Scratch::with_first_line_memo();
            for pick in order {
                // Two lines picked from a few, so that first lines repeat.
                let text = [lines[pick % lines.len()].concat(), lines[pick / 2 % lines.len()].concat()]
                    .join("\n");
                let mut terms = Vec::new();
                analyzer.for_each_term_with(&text, &mut scratch, |term| terms.push(term.to_owned()));
                proptest::prop_assert_eq!(terms, t(&text), "{:?}", text);
            }
        }

        #[test]
        fn plain_words_agree_with_jieba_on_any_mix(
            pieces in proptest::collection::vec(proptest::sample::select(vec![
                "a", "Z", "refund", "days", "2024", "3", " ", "  ", ",", ".", "-", "_", "+",
                "#", "&", "%", "/", "(", "，", "。", "　", "ＡＢ", "的", "王", "退票", "台灣",
                "中华人民共和国", "号店", "c", "style", "江南", "\n", "\r\n", "é", "ß", "\u{2A6E5}",
            ]), 0..24),
        ) {
            let text = pieces.concat();
            proptest::prop_assert_eq!(t(&text), through_jieba(&text), "{:?}", text);
        }
    }

    #[test]
    #[ignore = "prints the analysis of sample sentences"]
    fn show() {
        for s in [
            "台灣高鐵的退票規定是什麼",
            "王小明在臺北市上班",
            "身体健康很重要",
            "請問如何申請退款？Refunds are processed in 5 days.",
            "周杰倫的演唱會門票",
            "员工请假需要提前三天申请",
        ] {
            println!("{s} => {:?}", t(s));
        }
    }
}
