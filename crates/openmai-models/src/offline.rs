//! The built-in offline "model": an extractive responder that answers from the retrieved
//! passages alone, with citations, without network or API key. It is the product's default
//! answerer, so a fresh install answers questions before any provider is configured.
//!
//! [`OfflineResponder::answer`] is the pure, synchronous core (the server also calls it
//! directly); [`ChatModel::stream`] streams the same text a clause at a time. How it answers:
//!
//! 1. **Units.** Each document is cut into lines. A Markdown table row, a list item and a
//!    `header: value` line are one unit each (whole up to `MAX_LINE_CHARS` = 500 characters);
//!    other lines are cut into sentences with Unicode sentence bounds (UAX #29, from
//!    `unicode-segmentation`), plus what it misses: `；` and `…` end Chinese sentences,
//!    opening brackets go with the next sentence, `Mr.`-style abbreviations end none.
//!    Headings (`# …`, a lead-in ending with a colon, a short line without end punctuation
//!    followed by text) and table header rows are kept as context for what follows. Units
//!    over `MAX_UNIT_CHARS` = 300 characters are cut at clauses.
//! 2. **Question positions.** The question and every unit are folded alike: full-width to
//!    half-width, lower case, Traditional → Simplified with zhconv's `zh-CN` tables (script
//!    *and* Taiwan phrases, so `軟體` meets `软件`, as in the search index). Question filler
//!    (`請問`, `什麼`, `的`, `what`, `the`…) is dropped. Each remaining Chinese character and
//!    each word (Snowball-stemmed: `refunds` = `refunded`) is a *position*.
//! 3. **Coverage.** A Chinese character is covered by a unit containing one of its bigrams in
//!    the question (full credit), or weakly by the character alone (`WEAK_CREDIT` = 0.3, and
//!    no more than the character is rare); a word by its stem. A match in the unit's
//!    document title, section heading or table header counts `CONTEXT_CREDIT` = 0.5 of that.
//!    Positions are weighted by rarity: BM25's IDF of the position's commonest term, across
//!    documents (the topic every retrieved passage shares counts less than what only some
//!    discuss) plus across units (which tells one passage's sentences apart); a term no unit
//!    has counts as rare as the rarest one seen. Chinese positions are also weighted by
//!    order, 0.8 for the first to 1.2 for the last, as Chinese asks about the topic first and
//!    the point last (`台灣高鐵`…`退票`). A unit's *coverage* is the weighted share of the
//!    question it covers.
//! 4. **Grounding.** If no unit covers at least `MIN_COVERAGE` = 30 % of the question's
//!    weight, nothing relevant was found: `grounded` is false and the text says so in the
//!    question's language. Otherwise units are ranked by coverage × a slight preference for
//!    higher-ranked documents (−2 % per rank, at most −20 %). The best is taken, then up to
//!    3 more that cover 30 % themselves, score at least half the best, and either share at
//!    least half of what the best covers or newly cover 20 % of the question in
//!    above-average positions (another part of it), within `ANSWER_BUDGET_CHARS` = 400
//!    characters. A sentence brings the heading just before it, a heading the text after it
//!    (a lead-in its list), a table row its header and delimiter rows. Repeats are skipped.
//! 5. **Answer.** Units are put back in reading order (document rank, then position); each
//!    document's part ends with its citation `[n]` (1-based index into the documents, inside
//!    the last cell of a table row). Passages in the other script are converted to the
//!    question's: Taiwan Traditional (`zh-TW`, keeping words whose Taiwan "translation"
//!    changes their meaning, like `窗口`) for a Traditional question, `zh-CN` for a Simplified
//!    one; an English question gets them as they are.
//!
//! Deterministic (no randomness, no hash-order dependence) and bounded: at most 64
//! documents, 32 KiB of each and 256 KiB in all, 4,096 units, and 2 KiB and 64 positions of
//! the question. 20 passages of 1,000 characters take about 1.3 ms in a release build.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use futures::StreamExt;
use openmai_types::text::{fold, is_han};
use unicode_segmentation::UnicodeSegmentation;
use zhconv::{Variant, zhconv};

use crate::BoxFuture;
use crate::chat::{ChatEvent, ChatModel, ChatRequest, ChatStream, Document, FinishReason, Usage};
use crate::error::{ModelError, Origin, Service};

/// Documents past this many are ignored (retrieval sends the best first).
const MAX_DOCUMENTS: usize = 64;
/// Bytes of each document read; the rest is ignored.
const MAX_DOCUMENT_BYTES: usize = 32 * 1024;
/// Bytes of all documents read together, so a huge request stays a few milliseconds of work.
const MAX_TOTAL_BYTES: usize = 256 * 1024;
/// Bytes of the question read.
const MAX_QUESTION_BYTES: usize = 2 * 1024;
/// Units (sentences, lines, rows) considered in all; the rest is ignored.
const MAX_UNITS: usize = 4096;
/// Question positions (characters and words) scored; the rest is ignored.
const MAX_QUESTION_POSITIONS: usize = 64;
/// Sentences longer than this (in characters) are cut at clauses, so one run-on paragraph
/// cannot fill the answer.
const MAX_UNIT_CHARS: usize = 300;
/// Table rows, list items and `header: value` lines up to this long stay one unit.
const MAX_LINE_CHARS: usize = 500;
/// Units chosen for their own score (headings and table headers come on top).
const MAX_PICKS: usize = 4;
/// Longest stream piece in characters: a long clause is sent a few words at a time.
const MAX_DELTA_CHARS: usize = 40;
/// The answer's length budget in characters; the first unit is always taken whole.
const ANSWER_BUDGET_CHARS: usize = 400;
/// Least share of the question's weight the best unit must cover for the answer to count
/// as grounded; each further unit must cover it too.
const MIN_COVERAGE: f64 = 0.30;
/// Least score of a further unit, relative to the best one.
const RELATIVE_FLOOR: f64 = 0.5;
/// Credit for a question character found in a unit only on its own, not in a bigram: `退`
/// and `票` apart are weak evidence of `退票`.
const WEAK_CREDIT: f64 = 0.3;
/// Credit for a match found in the unit's context (document title, section heading, table
/// header) instead of the unit itself.
const CONTEXT_CREDIT: f64 = 0.5;
/// Share of the first unit's covered weight a further unit must also cover (see
/// `Passages::select`).
const SHARED_FOCUS: f64 = 0.5;
/// Share of the question's weight a further unit must newly cover, in positions weighing at
/// least the average, to be taken as answering another part of the question.
const OTHER_PART: f64 = 0.2;
/// Weight of the first and the last Chinese position of the question (see `Query::weights`).
const FOCUS_RAMP: (f64, f64) = (0.8, 1.2);
/// Score lost per document rank (documents arrive best first), down to `RANK_FLOOR`.
const RANK_STEP: f64 = 0.02;
/// The lowest rank factor.
const RANK_FLOOR: f64 = 0.8;

/// What [`OfflineResponder::answer`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineAnswer {
    /// The answer, citations included, or a plain "nothing found" sentence in the question's
    /// language when `grounded` is false.
    pub text: String,
    /// Indices into the documents, in citation order (`[1]` is index 0).
    pub cited: Vec<usize>,
    /// False when nothing relevant was found; the server then uses the assistant's own
    /// "unanswerable" template instead of `text`.
    pub grounded: bool,
}

/// The built-in extractive responder (see the module documentation).
#[derive(Debug, Clone)]
pub struct OfflineResponder {
    origin: Origin,
}

impl Default for OfflineResponder {
    fn default() -> Self {
        Self::new()
    }
}

impl OfflineResponder {
    pub fn new() -> Self {
        OfflineResponder { origin: Origin::new(Service::Chat, "openmai", "offline") }
    }

    /// Answers `question` from `documents` (best first), citing them by position.
    pub fn answer(&self, question: &str, documents: &[Document]) -> OfflineAnswer {
        let question = prefix(question, MAX_QUESTION_BYTES);
        let lang = question_lang(question);
        let Some(query) = Query::new(question) else {
            return not_found(lang);
        };
        let passages = Passages::new(documents, &query);
        match passages.select(&query) {
            Some(chosen) => passages.render(&chosen, lang),
            None => not_found(lang),
        }
    }
}

impl ChatModel for OfflineResponder {
    fn model(&self) -> &str {
        &self.origin.model
    }

    fn origin(&self) -> &Origin {
        &self.origin
    }

    fn supports_tools(&self) -> bool {
        false
    }

    /// It reads only the question and the documents, so any prompt the caller can build fits.
    fn context_tokens(&self) -> usize {
        128_000
    }

    /// Never fails: images, tools and the system prompt are ignored. The answer comes as a
    /// `Delta` per clause, then `Usage`, then `Finish(Stop)` (or `Finish(Length)` when
    /// `max_tokens` cut it short). Usage is estimated with [`rough_tokens`]: input counts the
    /// question and every document's title and text, output the text streamed.
    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, ModelError>> {
        Box::pin(async move {
            let question = request.question();
            let answer = self.answer(&question, &request.documents);
            let input = rough_tokens(&question)
                + request
                    .documents
                    .iter()
                    .map(|d| rough_tokens(&d.title) + rough_tokens(&d.text))
                    .sum::<u64>();
            let (text, finish) = match request.max_tokens {
                Some(max) => match token_prefix(&answer.text, u64::from(max)) {
                    Some(end) => (&answer.text[..end], FinishReason::Length),
                    None => (answer.text.as_str(), FinishReason::Stop),
                },
                None => (answer.text.as_str(), FinishReason::Stop),
            };
            let mut events: Vec<Result<ChatEvent, ModelError>> =
                deltas(text).into_iter().map(|d| Ok(ChatEvent::Delta(d.to_owned()))).collect();
            events.push(Ok(ChatEvent::Usage(Usage {
                input_tokens: input,
                output_tokens: rough_tokens(text),
            })));
            events.push(Ok(ChatEvent::Finish(finish)));
            Ok(futures::stream::iter(events).boxed())
        })
    }
}

/// A rough token count, the same for every language so usage figures are comparable: one
/// per CJK character (ideographs, kana, hangul, CJK and full-width punctuation), plus one per
/// four other non-space characters, rounded up. An estimate of what a remote model would
/// have been billed for, not any tokenizer's exact count.
pub fn rough_tokens(text: &str) -> u64 {
    let (mut cjk, mut other) = (0u64, 0u64);
    for c in text.chars() {
        if is_cjk_wide(c) {
            cjk += 1;
        } else if !c.is_whitespace() {
            other += 1;
        }
    }
    cjk + other.div_ceil(4)
}

/// The byte length of the longest prefix of `text` within `max` rough tokens, or `None`
/// when all of it fits.
fn token_prefix(text: &str, max: u64) -> Option<usize> {
    let (mut cjk, mut other) = (0u64, 0u64);
    for (i, c) in text.char_indices() {
        if is_cjk_wide(c) {
            cjk += 1;
        } else if !c.is_whitespace() {
            other += 1;
        }
        if cjk + other.div_ceil(4) > max {
            return Some(i);
        }
    }
    None
}

fn is_cjk_wide(c: char) -> bool {
    is_han(c)
        || matches!(c as u32,
            0x3000..=0x303F // CJK punctuation
            | 0x3040..=0x30FF // kana
            | 0xAC00..=0xD7AF // hangul
            | 0xFF00..=0xFFEF) // full-width forms
}

/// Cuts the answer into stream pieces: after each sentence or clause end (Chinese `。！？；，、：`,
/// Latin `.!?;,:` before a space) and each line break, keeping closing quotes, a citation
/// marker and the following spaces with the piece they end; pieces longer than
/// `MAX_DELTA_CHARS` are cut again between words. Concatenated, the pieces are `text`; none
/// is empty.
fn deltas(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let mut clauses = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        i += 1;
        let end_here = match c {
            '。' | '！' | '？' | '；' | '，' | '、' | '：' | '\n' => true,
            '.' | '!' | '?' | ';' | ',' | ':' => at(i).is_none_or(char::is_whitespace),
            _ => false,
        };
        if !end_here {
            continue;
        }
        loop {
            match at(i) {
                Some(c) if is_closer(c) || c == ' ' || c == '\n' => i += 1,
                Some('[') => {
                    let digits = chars[i + 1..].iter().take_while(|(_, c)| c.is_ascii_digit());
                    let j = i + 1 + digits.count();
                    if j > i + 1 && at(j) == Some(']') {
                        i = j + 1;
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        let end = chars.get(i).map_or(text.len(), |&(b, _)| b);
        clauses.push(&text[start..end]);
        start = end;
    }
    if start < text.len() {
        clauses.push(&text[start..]);
    }
    let mut pieces = Vec::with_capacity(clauses.len());
    for clause in clauses {
        let mut rest = clause;
        while char_len(rest) > MAX_DELTA_CHARS {
            // After the last space within the limit, else at the limit; never inside a word
            // when a space allows it.
            let limit = rest.char_indices().nth(MAX_DELTA_CHARS).map_or(rest.len(), |(b, _)| b);
            let cut = rest[..limit].rfind(' ').map_or(limit, |b| b + 1);
            if cut == 0 || cut == rest.len() {
                break;
            }
            pieces.push(&rest[..cut]);
            rest = &rest[cut..];
        }
        pieces.push(rest);
    }
    pieces
}

/// The language the answer is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Traditional,
    Simplified,
    English,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Traditional,
    Simplified,
}

/// Chinese questions answer in their script (Traditional when it cannot be told, the product
/// being Taiwan-first); questions with Latin letters and no Chinese answer in English.
fn question_lang(question: &str) -> Lang {
    if question.chars().any(is_han) {
        match script_of(question) {
            Some(Script::Simplified) => Lang::Simplified,
            _ => Lang::Traditional,
        }
    } else if question.chars().any(|c| c.is_ascii_alphabetic()) {
        Lang::English
    } else {
        Lang::Traditional
    }
}

/// Which script Chinese text is in, or `None` when it cannot be told (no character differs
/// between the two, as in `台北`). Counts the characters each conversion removes: a character
/// `zh-TW` converts away is Simplified, one `zh-CN` converts away is Traditional. zhconv's
/// own `is_hans` is not used because it counts `台` (standard in Taiwan) as Simplified.
fn script_of(text: &str) -> Option<Script> {
    let han: String = text.chars().filter(|&c| is_han(c) && c != '台').take(600).collect();
    if han.is_empty() {
        return None;
    }
    let as_traditional: BTreeSet<char> = zhconv(&han, Variant::ZhTW).chars().collect();
    let as_simplified: BTreeSet<char> = zhconv(&han, Variant::ZhCN).chars().collect();
    let simplified = han.chars().filter(|c| !as_traditional.contains(c)).count();
    let traditional = han.chars().filter(|c| !as_simplified.contains(c)).count();
    match simplified.cmp(&traditional) {
        std::cmp::Ordering::Greater => Some(Script::Simplified),
        std::cmp::Ordering::Less => Some(Script::Traditional),
        std::cmp::Ordering::Equal => None,
    }
}

fn not_found(lang: Lang) -> OfflineAnswer {
    let text = match lang {
        Lang::Traditional => "抱歉，知識庫中找不到與這個問題相關的資料。",
        Lang::Simplified => "抱歉，知识库中找不到与这个问题相关的资料。",
        Lang::English => "Sorry, I could not find anything about this in the knowledge base.",
    };
    OfflineAnswer { text: text.to_owned(), cited: Vec::new(), grounded: false }
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A piece of folded text, as [`scan`] finds it.
enum Token<'a> {
    /// A Chinese character, with the Chinese character just before it, if any.
    Han(Option<char>, char),
    /// A run of other letters and digits.
    Word(&'a str),
}

/// Calls `on` with each Chinese character and each word of `folded`, in order.
fn scan<'a>(folded: &'a str, mut on: impl FnMut(Token<'a>)) {
    let mut prev_han = None;
    let mut word_start = None;
    for (i, c) in folded.char_indices() {
        if c.is_alphanumeric() && !is_han(c) {
            word_start.get_or_insert(i);
            prev_han = None;
            continue;
        }
        if let Some(s) = word_start.take() {
            on(Token::Word(&folded[s..i]));
        }
        if is_han(c) {
            on(Token::Han(prev_han, c));
            prev_han = Some(c);
        } else {
            prev_han = None;
        }
    }
    if let Some(s) = word_start {
        on(Token::Word(&folded[s..]));
    }
}

/// The stem of a folded word: Snowball English for ASCII words, the word itself otherwise.
fn stem<'a>(stemmer: &frostem::Stemmer, word: &'a str) -> std::borrow::Cow<'a, str> {
    if word.len() > 2 && word.bytes().all(|b| b.is_ascii_lowercase()) {
        stemmer.stem(word)
    } else {
        std::borrow::Cow::Borrowed(word)
    }
}

/// Question filler, folded (Simplified): removed before the question is cut into positions,
/// longest first so `为什么` goes before `什么`: question words, politeness, modal verbs that
/// passages word differently (`需要`, `可以`), particles and pronouns. Words that carry
/// meaning in some domain (`不`, `没有`) stay.
#[rustfmt::skip]
const CHINESE_FILLER: &[&str] = &[
    "想知道", "是不是", "有没有", "能不能", "会不会", "要不要", "为什么", "怎么办", "怎么样",
    "请问", "请教", "想问", "我想", "想要", "知道", "一下", "如果", "但是", "怎么", "怎样",
    "如何", "什么", "为何", "哪里", "哪些", "哪个", "哪儿", "是否", "能否", "可否", "告诉",
    "关于", "有关", "了解", "多少", "需要", "应该", "可以", "我们", "你们",
    "的", "了", "是", "吗", "呢", "吧", "啊", "呀", "嘛", "我", "你", "您", "谁", "几",
];

/// English question filler and function words (folded, unstemmed).
const ENGLISH_STOP: &[&str] = &[
    "a", "about", "am", "an", "and", "any", "are", "as", "at", "be", "been", "being", "but", "by",
    "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "he", "her", "here",
    "his", "how", "i", "if", "in", "into", "is", "it", "its", "know", "me", "might", "must", "my",
    "of", "on", "or", "our", "please", "s", "she", "should", "so", "some", "t", "tell", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "us",
    "was", "we", "were", "what", "when", "where", "which", "who", "whom", "whose", "why", "will",
    "with", "would", "you", "your",
];

/// One scored place in the question: a Chinese character or a word.
struct Position {
    /// Terms that cover it fully: its bigrams with its neighbours, the word's stem, or a lone
    /// character.
    strong: Vec<usize>,
    /// A character of a longer run, which on its own covers it weakly.
    weak: Option<usize>,
    /// A Chinese character (rather than a word).
    han: bool,
}

/// The question's terms, interned, and its positions.
struct Query {
    han1: HashMap<char, usize>,
    han2: HashMap<(char, char), usize>,
    words: HashMap<String, usize>,
    terms: usize,
    positions: Vec<Position>,
    stemmer: frostem::Stemmer,
}

impl Query {
    /// `None` when the question has nothing to look for (empty, or filler only).
    fn new(question: &str) -> Option<Query> {
        let mut folded = fold(question);
        for filler in CHINESE_FILLER {
            if folded.contains(filler) {
                folded = folded.replace(filler, " ");
            }
        }
        let mut query = Query {
            han1: HashMap::new(),
            han2: HashMap::new(),
            words: HashMap::new(),
            terms: 0,
            positions: Vec::new(),
            stemmer: frostem::Stemmer::new(frostem::Algorithm::English),
        };
        // Runs of Chinese characters and stemmed words, in question order.
        let mut parts: Vec<Result<Vec<char>, String>> = Vec::new();
        let stemmer = query.stemmer;
        scan(&folded, |token| match token {
            Token::Han(prev, c) => match parts.last_mut() {
                Some(Ok(run)) if prev.is_some() => run.push(c),
                _ => parts.push(Ok(vec![c])),
            },
            Token::Word(word) => {
                if !ENGLISH_STOP.contains(&word) {
                    parts.push(Err(stem(&stemmer, word).into_owned()));
                }
            }
        });
        for part in parts {
            match part {
                Ok(run) => query.add_run(&run),
                Err(word) => {
                    let id = query.word(&word);
                    query.positions.push(Position { strong: vec![id], weak: None, han: false });
                }
            }
        }
        query.positions.truncate(MAX_QUESTION_POSITIONS);
        (!query.positions.is_empty()).then_some(query)
    }

    fn add_run(&mut self, run: &[char]) {
        if let [c] = run {
            let id = self.char(*c);
            self.positions.push(Position { strong: vec![id], weak: None, han: true });
            return;
        }
        for (i, &c) in run.iter().enumerate() {
            let mut strong = Vec::with_capacity(2);
            if i > 0 {
                strong.push(self.pair(run[i - 1], c));
            }
            if let Some(&next) = run.get(i + 1) {
                strong.push(self.pair(c, next));
            }
            let weak = Some(self.char(c));
            self.positions.push(Position { strong, weak, han: true });
        }
    }

    fn next_id(&mut self) -> usize {
        self.terms += 1;
        self.terms - 1
    }

    fn char(&mut self, c: char) -> usize {
        if let Some(&id) = self.han1.get(&c) {
            return id;
        }
        let id = self.next_id();
        self.han1.insert(c, id);
        id
    }

    fn pair(&mut self, a: char, b: char) -> usize {
        if let Some(&id) = self.han2.get(&(a, b)) {
            return id;
        }
        let id = self.next_id();
        self.han2.insert((a, b), id);
        id
    }

    fn word(&mut self, w: &str) -> usize {
        if let Some(&id) = self.words.get(w) {
            return id;
        }
        let id = self.next_id();
        self.words.insert(w.to_owned(), id);
        id
    }

    /// The weight of each position, given each term's IDF. A position weighs what its
    /// commonest full term weighs: `铁` in `台湾高铁退票` is as common as `高铁`, however rare
    /// the accidental bigram `铁退` is. Chinese positions are also weighted by order, from
    /// 0.8 for the first to 1.2 for the last (`FOCUS_RAMP`): Chinese puts the topic first and
    /// what is asked about last (`台灣高鐵`…`退票`, `報銷`…`單據`), which breaks ties that
    /// rarity alone cannot when every passage shares the topic.
    fn weights(&self, idf: &[f64]) -> Vec<f64> {
        let han = self.positions.iter().filter(|p| p.han).count();
        let mut k = 0;
        self.positions
            .iter()
            .map(|p| {
                let w = p.strong.iter().map(|&t| idf[t]).fold(f64::INFINITY, f64::min);
                if !p.han {
                    return w;
                }
                let at = if han > 1 { k as f64 / (han - 1) as f64 } else { 1.0 };
                k += 1;
                w * (FOCUS_RAMP.0 + (FOCUS_RAMP.1 - FOCUS_RAMP.0) * at)
            })
            .collect()
    }

    /// The question terms in `folded` text, sorted, without duplicates.
    fn matches(&self, folded: &str) -> Vec<usize> {
        let mut found = Vec::new();
        scan(folded, |token| match token {
            Token::Han(prev, c) => {
                if let Some(&id) = self.han1.get(&c) {
                    found.push(id);
                }
                if let Some(p) = prev
                    && let Some(&id) = self.han2.get(&(p, c))
                {
                    found.push(id);
                }
            }
            Token::Word(word) => {
                if let Some(&id) = self.words.get(stem(&self.stemmer, word).as_ref()) {
                    found.push(id);
                }
            }
        });
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// What a unit is, which decides how it is matched, joined and given context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A sentence (or a clause of a very long one).
    Prose,
    /// A list item or a `header: value` line, kept whole.
    Line,
    /// A heading or a lead-in line ending with a colon: context for what follows.
    Heading,
    /// A table's first row: context for its other rows, never chosen on its own.
    TableHeader,
    /// A table's `| --- |` delimiter row: kept only so a chosen table stays a table.
    TableRule,
    TableRow,
}

impl Kind {
    fn is_table(self) -> bool {
        matches!(self, Kind::TableHeader | Kind::TableRule | Kind::TableRow)
    }

    fn is_scored(self) -> bool {
        !matches!(self, Kind::TableHeader | Kind::TableRule)
    }
}

#[derive(Debug)]
struct Unit<'a> {
    doc: usize,
    /// The original text, trimmed.
    text: &'a str,
    kind: Kind,
    /// Line number in its document: sentences of one line are joined inline.
    line: usize,
    /// The section's heading (unit index), for context.
    heading: Option<usize>,
    /// The table's header and delimiter rows (unit indices), for table rows.
    header: Option<usize>,
    rule: Option<usize>,
    folded: String,
    matched: Vec<usize>,
}

/// The documents cut into units and matched against the question.
struct Passages<'a> {
    units: Vec<Unit<'a>>,
    /// Question terms matched by each document's title.
    titles: Vec<Vec<usize>>,
}

impl<'a> Passages<'a> {
    fn new(documents: &'a [Document], query: &Query) -> Self {
        let mut units = Vec::new();
        let mut titles = Vec::new();
        let mut budget = MAX_TOTAL_BYTES;
        for (doc, document) in documents.iter().take(MAX_DOCUMENTS).enumerate() {
            titles.push(query.matches(&fold(prefix(&document.title, MAX_QUESTION_BYTES))));
            let text = prefix(&document.text, MAX_DOCUMENT_BYTES.min(budget));
            budget -= text.len();
            segment(doc, text, &mut units);
            if units.len() >= MAX_UNITS {
                // Units only refer back (to headings and headers), so cutting is safe.
                units.truncate(MAX_UNITS);
                break;
            }
        }
        for unit in &mut units {
            if unit.kind != Kind::TableRule {
                unit.folded = fold(unit.text);
                unit.matched = query.matches(&unit.folded);
            }
        }
        Passages { units, titles }
    }

    /// The chosen units (indices, in reading order), or `None` when nothing is relevant.
    fn select(&self, query: &Query) -> Option<BTreeSet<usize>> {
        let scored: Vec<usize> =
            (0..self.units.len()).filter(|&i| self.units[i].kind.is_scored()).collect();
        if scored.is_empty() {
            return None;
        }
        // Rarity of each question term (BM25's IDF), at two levels added together: across
        // documents, so the topic every retrieved passage shares (`台灣高鐵`) counts less
        // than what only some discuss (`退票`); and across units, which tells the sentences of
        // one passage apart. A term nobody has is weighted as if one had it: as rare as can
        // be observed, not infinitely so.
        let idf_of = |n: usize, df: usize| {
            let (n, df) = (n as f64, df.clamp(1, n.max(1)) as f64);
            (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
        };
        let mut unit_df = vec![0usize; query.terms];
        let mut doc_df = vec![0usize; query.terms];
        let mut last_doc = vec![usize::MAX; query.terms];
        let mut docs = BTreeSet::new();
        for &i in &scored {
            let doc = self.units[i].doc;
            docs.insert(doc);
            for &t in &self.units[i].matched {
                unit_df[t] += 1;
                if last_doc[t] != doc {
                    last_doc[t] = doc;
                    doc_df[t] += 1;
                }
            }
        }
        let idf: Vec<f64> = (0..query.terms)
            .map(|t| idf_of(scored.len(), unit_df[t]) + idf_of(docs.len(), doc_df[t]))
            .collect();
        let weights = query.weights(&idf);
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return None;
        }

        // What each unit covers of each position (weight × credit), its coverage and score.
        let mut credits: Vec<Vec<f64>> = vec![Vec::new(); self.units.len()];
        let mut coverage = vec![0.0; self.units.len()];
        let mut score = vec![0.0; self.units.len()];
        let mut context = Vec::new();
        for &i in &scored {
            let unit = &self.units[i];
            context.clear();
            context.extend_from_slice(&self.titles[unit.doc]);
            for c in [unit.heading, unit.header].into_iter().flatten() {
                context.extend_from_slice(&self.units[c].matched);
            }
            if unit.matched.is_empty() && context.is_empty() {
                continue;
            }
            context.sort_unstable();
            let own = |t: &usize| unit.matched.binary_search(t).is_ok();
            let ctx = |t: &usize| context.binary_search(t).is_ok();
            credits[i] = query
                .positions
                .iter()
                .zip(&weights)
                .map(|(p, &w)| {
                    let credit = |has: &dyn Fn(&usize) -> bool| match p.weak {
                        _ if p.strong.iter().any(has) => w,
                        // A character seen only on its own is worth no more than that
                        // character is rare: `台` of `台中` found in `台北` is worth little.
                        Some(t) if has(&t) => WEAK_CREDIT * w.min(idf[t]),
                        _ => 0.0,
                    };
                    f64::max(credit(&own), CONTEXT_CREDIT * credit(&ctx))
                })
                .collect();
            coverage[i] = credits[i].iter().sum::<f64>() / total;
            score[i] = coverage[i] * (1.0 - RANK_STEP * unit.doc as f64).max(RANK_FLOOR);
        }

        let mut ranked: Vec<usize> =
            scored.into_iter().filter(|&i| coverage[i] >= MIN_COVERAGE).collect();
        ranked.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
        let first = *ranked.first()?;
        let first_covered: f64 = credits[first].iter().sum();
        let mean_weight = total / weights.len() as f64;
        // The best credit of each position among the units taken.
        let mut have = vec![0.0; weights.len()];
        let mut chosen = BTreeSet::new();
        let mut picks: Vec<usize> = Vec::new();
        let mut chars = 0;
        for i in ranked {
            if picks.len() == MAX_PICKS || score[i] < RELATIVE_FLOOR * score[first] {
                break;
            }
            if chosen.contains(&i) || picks.iter().any(|&p| self.repeats(p, i)) {
                continue;
            }
            // Further units must be about what the best one is about, or answer another part
            // of the question (cover informative positions nothing taken covers yet), not
            // merely share its topic: `台灣高鐵的營運時間` does not answer `台灣高鐵怎麼退票`.
            let shared: f64 = credits[i].iter().zip(&credits[first]).map(|(a, b)| a.min(*b)).sum();
            let new: f64 = (0..weights.len())
                .filter(|&p| weights[p] >= mean_weight)
                .map(|p| (credits[i][p] - have[p]).max(0.0))
                .sum();
            if shared < SHARED_FOCUS * first_covered && new < OTHER_PART * total {
                continue;
            }
            let mut add = vec![i];
            add.extend(self.context_of(i));
            add.retain(|u| !chosen.contains(u));
            let add_chars: usize = add.iter().map(|&u| char_len(self.units[u].text)).sum();
            if !picks.is_empty() && chars + add_chars > ANSWER_BUDGET_CHARS {
                continue;
            }
            chars += add_chars;
            chosen.extend(add);
            picks.push(i);
            for (h, c) in have.iter_mut().zip(&credits[i]) {
                *h = h.max(*c);
            }
        }
        Some(chosen)
    }

    /// One unit repeats the other (the same sentence in two documents, a heading inside a
    /// sentence).
    fn repeats(&self, a: usize, b: usize) -> bool {
        let (a, b) = (&self.units[a].folded, &self.units[b].folded);
        a.contains(b.as_str()) || b.contains(a.as_str())
    }

    /// The units needed to read unit `i`: a table row's header and delimiter rows, the heading
    /// just before a sentence, the content just after a heading.
    fn context_of(&self, i: usize) -> Vec<usize> {
        let unit = &self.units[i];
        let same_doc = |j: usize| self.units.get(j).filter(|u| u.doc == unit.doc).map(|_| j);
        match unit.kind {
            Kind::TableRow => [unit.header, unit.rule].into_iter().flatten().collect(),
            Kind::Heading => {
                // Up to the first sentence or row (through a table's header rows), or the
                // list a lead-in introduces, as much of it as fits the budget.
                let mut out = Vec::new();
                let mut chars = char_len(unit.text);
                let mut j = i + 1;
                while let Some(k) = same_doc(j) {
                    let next = &self.units[k];
                    let listed = out.last().is_some_and(|&l| self.is_list(l)) && self.is_list(k);
                    if next.kind == Kind::Heading
                        || (out.iter().any(|&o| self.units[o].kind.is_scored()) && !listed)
                        || (listed && chars + char_len(next.text) > ANSWER_BUDGET_CHARS)
                    {
                        break;
                    }
                    chars += char_len(next.text);
                    out.push(k);
                    j += 1;
                }
                // A table header with no rows after it says nothing.
                while out.last().is_some_and(|&l| !self.units[l].kind.is_scored()) {
                    out.pop();
                }
                out
            }
            Kind::Prose | Kind::Line => i
                .checked_sub(1)
                .and_then(same_doc)
                .filter(|&j| self.units[j].kind == Kind::Heading)
                .into_iter()
                .collect(),
            Kind::TableHeader | Kind::TableRule => Vec::new(),
        }
    }

    fn is_list(&self, i: usize) -> bool {
        self.units[i].kind == Kind::Line && is_list_item(self.units[i].text)
    }

    /// The answer from the chosen units: each document's units in order, converted to the
    /// question's script, ending with its citation.
    fn render(&self, chosen: &BTreeSet<usize>, lang: Lang) -> OfflineAnswer {
        let target = match lang {
            Lang::Traditional => Some((Script::Traditional, Variant::ZhTW)),
            Lang::Simplified => Some((Script::Simplified, Variant::ZhCN)),
            Lang::English => None,
        };
        let chosen: Vec<usize> = chosen.iter().copied().collect();
        let mut text = String::new();
        let mut cited = Vec::new();
        for group in chosen.chunk_by(|&a, &b| self.units[a].doc == self.units[b].doc) {
            let doc = self.units[group[0]].doc;
            let mut pieces: Vec<String> = group.iter().map(|&i| self.display(i)).collect();
            if let Some((script, variant)) = target {
                let han: String = pieces.concat();
                if script_of(&han).is_some_and(|s| s != script) {
                    for piece in &mut pieces {
                        *piece = convert(piece, variant);
                    }
                }
            }
            if let Some(last) = pieces.last_mut() {
                cite(last, doc + 1);
            }
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            for (k, piece) in pieces.iter().enumerate() {
                if k > 0 {
                    text.push_str(self.separator(group[k - 1], group[k]));
                }
                text.push_str(piece);
            }
            cited.push(doc);
        }
        OfflineAnswer { text, cited, grounded: true }
    }

    /// A unit as shown: headings without their `#` marks.
    fn display(&self, i: usize) -> String {
        let unit = &self.units[i];
        match unit.kind {
            Kind::Heading => unit.text.trim_start_matches('#').trim().to_owned(),
            _ => unit.text.to_owned(),
        }
    }

    /// What goes between two chosen units of one document: nothing (Chinese) or a space
    /// between consecutive sentences of a line, a blank line around a table (Markdown needs
    /// it), a line break otherwise.
    fn separator(&self, a: usize, b: usize) -> &'static str {
        let (x, y) = (&self.units[a], &self.units[b]);
        if x.kind.is_table() != y.kind.is_table() {
            "\n\n"
        } else if b == a + 1 && x.kind == Kind::Prose && y.kind == Kind::Prose && x.line == y.line {
            if x.text.ends_with(|c: char| c.is_ascii()) { " " } else { "" }
        } else {
            "\n"
        }
    }
}

/// Words `zh-TW`'s phrase table turns into another meaning in Taiwan usage (`窗口` → `視窗`,
/// a software window, though `服務窗口` is standard; `程序` → `程式`; `文件` → `檔案`): an
/// extractive answer must not change what a passage says, so they are kept as they are (they
/// are written the same in both scripts).
const KEEP_IN_TAIWAN: &[&str] = &["窗口", "程序", "文件"];

/// `text` in `variant`; for `zh-TW`, without the conversions in `KEEP_IN_TAIWAN`.
fn convert(text: &str, variant: Variant) -> String {
    if variant != Variant::ZhTW {
        return zhconv(text, variant);
    }
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut rest = text;
    while let Some((at, word)) =
        KEEP_IN_TAIWAN.iter().filter_map(|w| rest.find(w).map(|at| (at, *w))).min()
    {
        out.push_str(&zhconv(&rest[..at], variant));
        out.push_str(word);
        rest = &rest[at + word.len()..];
    }
    out.push_str(&zhconv(rest, variant));
    out
}

/// Appends the citation `[n]` to a unit's text; inside the last cell of a table row, so the
/// row stays a row.
fn cite(text: &mut String, n: usize) {
    if text.starts_with('|') && text.ends_with('|') && text.len() > 1 {
        let body = text[..text.len() - 1].trim_end().to_owned();
        *text = format!("{body} [{n}] |");
    } else if text.ends_with(|c: char| c.is_ascii()) {
        text.push_str(&format!(" [{n}]"));
    } else {
        text.push_str(&format!("[{n}]"));
    }
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// Where [`segment`] is in a table.
#[derive(Clone, Copy)]
enum Table {
    /// One row so far (unit index): the header if a delimiter row follows.
    First(usize),
    /// A Markdown table: its header and delimiter rows.
    Headed(usize, usize),
    /// Rows without a delimiter row: no header.
    Plain,
}

/// Cuts one document into units (see the module documentation), appending them to `units`.
fn segment<'a>(doc: usize, text: &'a str, units: &mut Vec<Unit<'a>>) {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut heading: Option<usize> = None;
    let mut table: Option<Table> = None;
    let push = |units: &mut Vec<Unit<'a>>, text: &'a str, kind: Kind, line: usize| {
        units.push(Unit {
            doc,
            text,
            kind,
            line,
            heading: None,
            header: None,
            rule: None,
            folded: String::new(),
            matched: Vec::new(),
        });
        units.len() - 1
    };
    // A table that ended after one row was a line with pipes in it.
    let end_table = |units: &mut Vec<Unit<'a>>, table: Option<Table>| {
        if let Some(Table::First(i)) = table {
            units[i].kind = Kind::Line;
        }
    };
    for (n, &line) in lines.iter().enumerate() {
        if line.is_empty() || is_thematic_break(line) {
            end_table(units, table.take());
            continue;
        }
        if is_table_row(line) && char_len(line) <= MAX_LINE_CHARS {
            let rule = is_table_rule(line);
            let (kind, next) = match table {
                None if rule => continue,
                None => (Kind::TableHeader, None),
                Some(Table::First(header)) if rule => (Kind::TableRule, Some(header)),
                Some(Table::First(first)) => {
                    units[first].kind = Kind::TableRow;
                    (Kind::TableRow, None)
                }
                Some(Table::Headed(..) | Table::Plain) if rule => continue,
                Some(_) => (Kind::TableRow, None),
            };
            let i = push(units, line, kind, n);
            units[i].heading = heading;
            table = match (table, kind) {
                (None, _) => Some(Table::First(i)),
                (Some(Table::First(_)), Kind::TableRule) => {
                    Some(Table::Headed(next.unwrap_or(i), i))
                }
                (Some(Table::First(_)), _) => Some(Table::Plain),
                (Some(Table::Headed(header, rule)), _) => {
                    (units[i].header, units[i].rule) = (Some(header), Some(rule));
                    table
                }
                (Some(Table::Plain), _) => table,
            };
            continue;
        }
        end_table(units, table.take());
        // Plain-text headings are often set off by a blank line: look past it.
        let next = lines[n + 1..].iter().find(|l| !l.is_empty()).copied().unwrap_or("");
        if is_heading(line, next) {
            heading = Some(push(units, line, Kind::Heading, n));
            continue;
        }
        let first = units.len();
        if (is_list_item(line) || is_key_value(line)) && char_len(line) <= MAX_LINE_CHARS {
            push(units, line, Kind::Line, n);
        } else {
            for span in sentences(line) {
                // Stray punctuation (`……`) is not a sentence.
                if line[span.clone()].chars().any(char::is_alphanumeric) {
                    push(units, &line[span], Kind::Prose, n);
                }
            }
        }
        for unit in &mut units[first..] {
            unit.heading = heading;
        }
    }
    end_table(units, table);
}

/// `# Title`; a line ending with a colon that introduces what follows (`退票規定：`); or a
/// short line without end punctuation followed by text, as headings come out of plain text.
fn is_heading(line: &str, next: &str) -> bool {
    let hashes = line.len() - line.trim_start_matches('#').len();
    if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
        return true;
    }
    if next.is_empty() || is_list_item(line) {
        return false;
    }
    let chars = char_len(line);
    if line.ends_with([':', '：']) && chars <= 60 {
        return true;
    }
    chars <= 30
        && !is_key_value(line)
        && !line.contains(['。', '！', '？', '；', '!', '?', ';'])
        && !line.ends_with(['.', '，', ',', '、', '…'])
        && line.chars().any(char::is_alphanumeric)
}

/// `- item`, `* item`, `• item`, `1. item`, `1) item`, `(1) item`, `一、item`, `（一）item`.
fn is_list_item(line: &str) -> bool {
    if let Some(rest) = line.strip_prefix(['-', '*', '+', '•', '·', '●', '○', '■', '□', '▪'])
    {
        return rest.starts_with(' ') || rest.starts_with(|c: char| !c.is_ascii());
    }
    let numeral = |c: char| c.is_ascii_digit() || "一二三四五六七八九十".contains(c);
    let body = line.strip_prefix(['(', '（']).unwrap_or(line);
    let digits = body.chars().take_while(|&c| numeral(c)).count();
    if digits == 0 || digits > 3 {
        return false;
    }
    let after: String = body.chars().skip(digits).take(2).collect();
    let mut after = after.chars();
    match after.next() {
        Some('、' | '）') => true,
        Some('.' | ')') => after.next().is_none_or(char::is_whitespace),
        _ => false,
    }
}

/// `header: value`: a short label (up to 24 characters, no sentence end in it), a colon
/// (`：`, or `:` before a space so `10:30` is not one) and a value.
fn is_key_value(line: &str) -> bool {
    let Some((i, c)) = line.char_indices().find(|&(i, c)| {
        c == '：' || (c == ':' && line[i + 1..].starts_with(|n: char| n.is_whitespace()))
    }) else {
        return false;
    };
    let key = line[..i].trim();
    let value = line[i + c.len_utf8()..].trim();
    !key.is_empty()
        && !value.is_empty()
        && char_len(key) <= 24
        && !key.contains(['。', '！', '？', '.', '!', '?', '；'])
}

fn is_table_row(line: &str) -> bool {
    (line.starts_with('|') || line.ends_with('|')) && line.matches('|').count() >= 2
}

/// `| --- | :-: |`: every cell dashes, optionally with alignment colons.
fn is_table_rule(line: &str) -> bool {
    let mut cells = line.trim_matches('|').split('|').map(str::trim).peekable();
    cells.peek().is_some()
        && cells.all(|c| {
            let c = c.trim_start_matches(':').trim_end_matches(':');
            !c.is_empty() && c.bytes().all(|b| b == b'-')
        })
}

/// `---`, `***`, `===` (Markdown rules and setext underlines): not text.
fn is_thematic_break(line: &str) -> bool {
    let marks = line.chars().filter(|c| !c.is_whitespace()).count();
    marks >= 3 && line.chars().all(|c| matches!(c, '-' | '=' | '*' | '_') || c.is_whitespace())
}

/// Closing quotes and brackets, which belong to the sentence before them.
fn is_closer(c: char) -> bool {
    matches!(c, '」' | '』' | '”' | '’' | '"' | '\'' | ')' | '）' | '】' | '》' | '〉' | ']' | '〕')
}

/// Opening quotes and brackets, which belong to the sentence after them (UAX #29 leaves them
/// at the end of the one before).
fn is_opener(c: char) -> bool {
    matches!(c, '「' | '『' | '“' | '‘' | '(' | '（' | '【' | '《' | '〈' | '[' | '〔')
}

/// Abbreviations UAX #29 takes for sentence ends.
const ABBREVIATIONS: &[&str] =
    &["mr.", "mrs.", "ms.", "dr.", "prof.", "sr.", "jr.", "st.", "no.", "vs.", "fig.", "approx."];

/// Byte ranges of the sentences of `line`, trimmed and non-empty. Sentences over
/// `MAX_UNIT_CHARS` are cut at clauses (see [`clauses`]).
fn sentences(line: &str) -> Vec<Range<usize>> {
    let mut cuts: Vec<usize> = line.split_sentence_bound_indices().map(|(i, _)| i).collect();
    // Chinese sentence ends UAX #29 does not know: `；` and an ellipsis, with their closers.
    let mut chars = line.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if matches!(c, '；' | '…' | '⋯') {
            while let Some(&(_, n)) = chars.peek() {
                if n == '…' || n == '⋯' || is_closer(n) {
                    chars.next();
                } else {
                    break;
                }
            }
            if let Some(&(end, _)) = chars.peek() {
                cuts.push(end);
            }
        }
    }
    for cut in &mut cuts {
        while let Some(c) = line[..*cut].chars().next_back().filter(|&c| is_opener(c)) {
            *cut -= c.len_utf8();
        }
    }
    cuts.retain(|&cut| {
        let before = line[..cut].trim_end();
        !ABBREVIATIONS.iter().any(|a| {
            let at = before.len().saturating_sub(a.len());
            before.is_char_boundary(at)
                && before[at..].eq_ignore_ascii_case(a)
                && before[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric())
        })
    });
    cuts.push(line.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for end in cuts {
        if end <= start {
            continue;
        }
        let span = trimmed(line, start..end);
        if !span.is_empty() {
            if char_len(&line[span.clone()]) > MAX_UNIT_CHARS {
                out.extend(clauses(line, span));
            } else {
                out.push(span);
            }
        }
        start = end;
    }
    out
}

/// `span` of `text` cut after clause marks (`，、：,;:`) into pieces of at most
/// `MAX_UNIT_CHARS` characters (packing short clauses together), and hard-cut where a
/// clause alone is longer.
fn clauses(text: &str, span: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = span.start;
    let mut last_mark = None;
    let mut count = 0;
    for (i, c) in text[span.clone()].char_indices() {
        let i = i + span.start;
        let end = i + c.len_utf8();
        count += 1;
        if matches!(c, '，' | '、' | '：' | ',' | ';' | ':') {
            last_mark = Some((end, count));
        }
        if count >= MAX_UNIT_CHARS {
            let (cut, used) = last_mark.unwrap_or((end, count));
            let piece = trimmed(text, start..cut);
            if !piece.is_empty() {
                out.push(piece);
            }
            start = cut;
            count -= used;
            last_mark = None;
        }
    }
    let piece = trimmed(text, start..span.end);
    if !piece.is_empty() {
        out.push(piece);
    }
    out
}

/// `range` of `text` without surrounding whitespace.
fn trimmed(text: &str, range: Range<usize>) -> Range<usize> {
    let s = &text[range.clone()];
    let start = range.start + (s.len() - s.trim_start().len());
    let end = range.end - (s.len() - s.trim_end().len());
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::chat::ChatMessage;

    fn doc(title: &str, text: &str) -> Document {
        Document { id: title.into(), title: title.into(), text: text.into() }
    }

    fn answer(question: &str, documents: &[Document]) -> OfflineAnswer {
        OfflineResponder::new().answer(question, documents)
    }

    fn thsr() -> Vec<Document> {
        vec![
            doc("營運時間", "台灣高鐵每日營運時間為早上6點至晚上12點。全線共設有12個車站。"),
            doc("購票方式", "旅客可以透過網路、超商或車站售票窗口購買台灣高鐵車票。"),
            doc(
                "退票說明",
                "台灣高鐵的車票在列車出發前均可辦理退票。退票時每張車票酌收手續費20元。",
            ),
            doc("自由座", "自由座車廂為第10至12車，依到站先後入座。"),
        ]
    }

    fn events(request: ChatRequest) -> Vec<ChatEvent> {
        block_on(async {
            let stream = OfflineResponder::new().stream(request).await.unwrap();
            stream.map(Result::unwrap).collect::<Vec<_>>().await
        })
    }

    fn request(question: &str, documents: Vec<Document>) -> ChatRequest {
        ChatRequest {
            messages: vec![ChatMessage::user(question)],
            documents,
            ..ChatRequest::default()
        }
    }

    #[test]
    fn a_multi_word_chinese_question_finds_the_refund_sentences_and_cites_their_document() {
        let a = answer("台灣高鐵的退票規定是什麼", &thsr());
        assert!(a.grounded);
        assert_eq!(a.cited, vec![2]);
        assert_eq!(
            a.text,
            "台灣高鐵的車票在列車出發前均可辦理退票。退票時每張車票酌收手續費20元。[3]"
        );
    }

    #[test]
    fn a_shared_topic_alone_does_not_pull_in_other_passages() {
        // Every passage is about 台灣高鐵; only one is about refunds.
        let a = answer("台灣高鐵怎麼退票？", &thsr());
        assert_eq!(a.cited, vec![2]);
        assert!(!a.text.contains("營運") && !a.text.contains("購買"), "{}", a.text);
    }

    #[test]
    fn a_traditional_question_answers_from_a_simplified_passage_in_traditional() {
        let docs = vec![
            doc("停车", "公司停车场仅供员工使用，请勿停放私人访客车辆。"),
            doc("休假制度", "员工入职满一年后享有7天年假，满三年后享有14天年假。"),
        ];
        let a = answer("員工的年假有幾天？", &docs);
        assert!(a.grounded);
        assert_eq!(a.cited, vec![1]);
        assert_eq!(a.text, "員工入職滿一年後享有7天年假，滿三年後享有14天年假。[2]");
    }

    #[test]
    fn a_simplified_question_answers_from_a_traditional_passage_in_simplified() {
        let docs = vec![
            doc("報銷", "報銷時需要附上發票與收據正本，並由主管簽核。"),
            doc("差旅", "出差住宿費每晚上限為新台幣3000元。"),
        ];
        let a = answer("报销需要哪些单据？", &docs);
        assert!(a.grounded);
        assert_eq!(a.cited, vec![0]);
        assert_eq!(a.text, "报销时需要附上发票与收据正本，并由主管签核。[1]");
    }

    #[test]
    fn taiwan_phrases_match_across_scripts_and_taiwan_usage_is_kept() {
        // `軟體` (Taiwan) finds `软件` (mainland); `窗口` stays `窗口`, not zh-TW's `視窗`.
        let docs = vec![
            doc("安装", "安装软件前请先关闭其他应用。"),
            doc("退票", "请到车站服务窗口办理退票。"),
        ];
        let a = answer("軟體要怎麼安裝？", &docs);
        assert_eq!(
            (a.cited.as_slice(), a.text.as_str()),
            ([0].as_slice(), "安裝軟體前請先關閉其他應用。[1]")
        );
        let a = answer("退票要去哪裡辦理？", &docs);
        assert_eq!(
            (a.cited.as_slice(), a.text.as_str()),
            ([1].as_slice(), "請到車站服務窗口辦理退票。[2]")
        );
    }

    #[test]
    fn an_english_question_keeps_the_passage_as_it_is() {
        let docs = vec![
            doc("leave", "Employees get 14 days of annual leave. Unused days expire at year end."),
            doc("office", "The office is open from 9am to 6pm on weekdays."),
            doc(
                "refunds",
                "Tickets can be refunded before departure. Refunds are processed within five working days.",
            ),
        ];
        let a = answer("When are refunds processed?", &docs);
        assert!(a.grounded);
        assert_eq!(a.cited, vec![2]);
        assert_eq!(a.text, "Refunds are processed within five working days. [3]");
        let a = answer("How many days of annual leave do employees get?", &docs);
        assert_eq!(a.text, "Employees get 14 days of annual leave. [1]");
    }

    #[test]
    fn function_words_alone_do_not_make_a_match() {
        let docs = vec![doc("公司", "這是我們的公司，你的座位是在那裡的嗎？")];
        let a = answer("請問年假是幾天的？", &docs);
        assert!(!a.grounded);
        assert!(a.cited.is_empty());
        // A question of nothing but filler has nothing to look for, even in its own words.
        let docs = vec![doc("q", "是什麼的呢？What is it? It is what it is.")];
        assert!(!answer("是什麼的呢？", &docs).grounded);
        assert!(!answer("What is it?", &docs).grounded);
    }

    #[test]
    fn irrelevant_documents_are_not_grounded_and_say_so_in_the_question_language() {
        let docs = thsr();
        let a = answer("公司的年假有幾天？", &docs);
        assert_eq!(
            a,
            OfflineAnswer {
                text: "抱歉，知識庫中找不到與這個問題相關的資料。".into(),
                cited: vec![],
                grounded: false,
            }
        );
        assert_eq!(
            answer("公司的年假有几天？", &docs).text,
            "抱歉，知识库中找不到与这个问题相关的资料。"
        );
        assert_eq!(
            answer("How many vacation days do I get?", &docs).text,
            "Sorry, I could not find anything about this in the knowledge base."
        );
    }

    #[test]
    fn no_documents_is_not_grounded() {
        let a = answer("台灣高鐵的退票規定是什麼", &[]);
        assert!(!a.grounded);
        assert!(a.cited.is_empty());
        assert_eq!(a.text, "抱歉，知識庫中找不到與這個問題相關的資料。");
        assert!(!answer("", &thsr()).grounded);
    }

    fn fares() -> Vec<Document> {
        vec![
            doc("公告", "本公司將於下月調整營業時間。"),
            doc(
                "票價",
                "票價表\n\
                 | 起站 | 迄站 | 票價 |\n\
                 | --- | --- | --- |\n\
                 | 台北 | 台中 | 700元 |\n\
                 | 台北 | 高雄 | 1490元 |\n\
                 \n\
                 退票手續費：每張20元。發車後不受理退票。\n\
                 注意事項：\n\
                 - 兒童票為全票半價\n\
                 - 敬老票限65歲以上",
            ),
        ]
    }

    #[test]
    fn table_rows_come_whole_with_their_header() {
        let a = answer("台北到高雄的票價是多少？", &fares());
        assert!(a.grounded);
        assert_eq!(a.cited, vec![1]);
        assert!(a.text.starts_with("| 起站 | 迄站 | 票價 |\n| --- | --- | --- |\n"), "{}", a.text);
        assert!(a.text.ends_with("| 台北 | 高雄 | 1490元 [2] |"), "{}", a.text);
    }

    #[test]
    fn header_value_lines_and_lead_in_lists_are_kept_whole() {
        // Two sentences, one line.
        let a = answer("退票手續費多少？", &fares());
        assert_eq!(a.text, "退票手續費：每張20元。發車後不受理退票。[2]");
        let a = answer("有哪些注意事項？", &fares());
        assert_eq!(a.text, "注意事項：\n- 兒童票為全票半價\n- 敬老票限65歲以上[2]");
    }

    #[test]
    fn a_heading_set_off_by_a_blank_line_is_still_a_heading() {
        let docs = [doc(
            "refund.txt",
            "台湾高铁退票规定\n\n旅客可于开车前办理退票，并支付百分之十手续费。\n\n订位说明\n\n\
             旅客可在网站或车站订位。",
        )];
        let answer = OfflineResponder::default().answer("高鐵的退票規定是什麼？", &docs);
        assert!(answer.grounded);
        assert_eq!(
            answer.text,
            "臺灣高鐵退票規定\n旅客可於開車前辦理退票，並支付百分之十手續費。[1]"
        );
    }

    #[test]
    fn a_heading_comes_with_the_sentence_under_it() {
        let docs = vec![doc(
            "員工手冊",
            "# 請假規定\n請假須於三天前提出申請。\n\n# 加班\n加班費依勞基法計算。",
        )];
        let a = answer("請假要多久前申請？", &docs);
        assert_eq!(a.text, "請假規定\n請假須於三天前提出申請。[1]");
    }

    #[test]
    fn a_matching_title_grounds_an_faq_answer() {
        let docs = vec![
            doc("如何更改密碼？", "登入後點選右上角的個人設定即可變更。"),
            doc("營業時間", "週一至週五上午九點至下午六點。"),
        ];
        let a = answer("怎麼更改密碼", &docs);
        assert!(a.grounded);
        assert_eq!(a.text, "登入後點選右上角的個人設定即可變更。[1]");
    }

    #[test]
    fn the_same_sentence_in_two_documents_is_quoted_once() {
        let text = "加班費依勞基法計算。";
        let docs = vec![doc("a", text), doc("b", text)];
        let a = answer("加班費怎麼計算", &docs);
        assert_eq!(
            (a.text.as_str(), a.cited.as_slice()),
            ("加班費依勞基法計算。[1]", [0].as_slice())
        );
    }

    #[test]
    fn several_documents_are_cited_in_order() {
        let docs = vec![
            doc("a", "年假天數依年資計算。"),
            doc("b", "The office is open on weekdays."),
            doc("c", "年假未休完可於隔年六月前休畢。"),
        ];
        let a = answer("年假怎麼計算？未休完怎麼辦？", &docs);
        assert_eq!(a.cited, vec![0, 2]);
        assert_eq!(a.text, "年假天數依年資計算。[1]\n\n年假未休完可於隔年六月前休畢。[3]");
    }

    #[test]
    fn streaming_yields_clauses_then_usage_then_stop() {
        let question = "台灣高鐵的退票規定是什麼";
        let expected = answer(question, &thsr());
        let events = events(request(question, thsr()));
        let (last, rest) = events.split_last().unwrap();
        let (usage, deltas) = rest.split_last().unwrap();
        assert_eq!(last, &ChatEvent::Finish(FinishReason::Stop));
        assert!(deltas.len() >= 2, "{deltas:?}");
        let text: String = deltas
            .iter()
            .map(|e| match e {
                ChatEvent::Delta(d) if !d.is_empty() => d.as_str(),
                other => panic!("not a delta: {other:?}"),
            })
            .collect();
        assert_eq!(text, expected.text);
        let input = rough_tokens(question)
            + thsr().iter().map(|d| rough_tokens(&d.title) + rough_tokens(&d.text)).sum::<u64>();
        assert_eq!(
            usage,
            &ChatEvent::Usage(Usage { input_tokens: input, output_tokens: rough_tokens(&text) })
        );
    }

    #[test]
    fn streaming_a_not_found_answer_still_finishes_normally() {
        let events = events(request("公司的年假有幾天？", Vec::new()));
        assert_eq!(events.len(), 4, "{events:?}");
        assert!(matches!(events[2], ChatEvent::Usage(_)));
        assert_eq!(events[3], ChatEvent::Finish(FinishReason::Stop));
    }

    #[test]
    fn max_tokens_cuts_the_stream_short() {
        let mut req = request("台灣高鐵的退票規定是什麼", thsr());
        req.max_tokens = Some(8);
        let events = events(req);
        let text: String = events
            .iter()
            .filter_map(|e| if let ChatEvent::Delta(d) = e { Some(d.as_str()) } else { None })
            .collect();
        assert_eq!(text, "台灣高鐵的車票在");
        assert_eq!(events.last(), Some(&ChatEvent::Finish(FinishReason::Length)));
    }

    #[test]
    fn answers_are_deterministic() {
        let docs = [thsr(), fares()].concat();
        let first = answer("台灣高鐵的退票規定是什麼", &docs);
        for _ in 0..3 {
            assert_eq!(answer("台灣高鐵的退票規定是什麼", &docs), first);
        }
        let q = "台灣高鐵的退票規定是什麼";
        assert_eq!(events(request(q, docs.clone())), events(request(q, docs)));
    }

    #[test]
    fn huge_inputs_are_bounded() {
        let big = "台灣高鐵的車票在列車出發前均可辦理退票。".repeat(10_000);
        let docs: Vec<Document> = (0..200).map(|i| doc(&format!("d{i}"), &big)).collect();
        let a = answer(&"退票".repeat(5_000), &docs);
        assert!(a.grounded);
        assert_eq!(a.cited, vec![0]);
        assert!(char_len(&a.text) < 2 * ANSWER_BUDGET_CHARS);
    }

    #[test]
    fn the_model_describes_itself() {
        let model = OfflineResponder::default();
        assert_eq!(model.model(), "offline");
        assert_eq!(model.origin(), &Origin::new(Service::Chat, "openmai", "offline"));
        assert!(!model.supports_tools() && !model.accepts_images());
        assert!(model.context_tokens() >= 100_000);
    }

    fn sentence_texts(line: &str) -> Vec<&str> {
        sentences(line).into_iter().map(|r| &line[r]).collect()
    }

    #[test]
    fn sentences_split_where_chinese_and_english_end() {
        assert_eq!(
            sentence_texts("第一句。第二句！「第三句？」第四；第五……第六"),
            ["第一句。", "第二句！", "「第三句？」", "第四；", "第五……", "第六"]
        );
        assert_eq!(
            sentence_texts("Mr. Lee left at 10.30 today. Did he? Yes!"),
            ["Mr. Lee left at 10.30 today.", "Did he?", "Yes!"]
        );
        let long = "很長的句子，".repeat(100);
        let pieces = sentence_texts(&long);
        assert!(pieces.len() > 1 && pieces.iter().all(|p| char_len(p) <= MAX_UNIT_CHARS));
        assert_eq!(pieces.concat(), long);
    }

    #[test]
    fn line_kinds() {
        for item in
            ["- 項目", "* item", "• 項目", "1. 第一", "2) second", "（一）甲", "一、總則", "10、十"]
        {
            assert!(is_list_item(item), "{item}");
        }
        for not in ["-5度", "1.5公里", "2024年", "十二月"] {
            assert!(!is_list_item(not), "{not}");
        }
        assert!(is_key_value("退票手續費：20元"));
        assert!(is_key_value("Fee: 20 dollars"));
        assert!(!is_key_value("The train leaves at 10:30 sharp."));
        assert!(!is_key_value("注意事項："));
        assert!(is_table_rule("| --- | :-: |") && !is_table_rule("| a | --- |"));
        assert!(is_heading("## 退票", "") && is_heading("退票規定", "發車前可退。"));
        assert!(!is_heading("退票規定", "") && !is_heading("發車前可退。", "x"));
    }

    #[test]
    fn scripts_are_told_apart_without_counting_tai_as_simplified() {
        assert_eq!(script_of("台北的分公司在哪裡"), Some(Script::Traditional));
        assert_eq!(script_of("台北的分公司在哪里"), Some(Script::Simplified));
        assert_eq!(script_of("台北"), None);
        assert_eq!(question_lang("台北"), Lang::Traditional);
        assert_eq!(question_lang("Where is Taipei?"), Lang::English);
    }

    #[test]
    fn deltas_end_after_clauses_and_keep_citations() {
        let text = "第一句，還有。[1]\n\nSecond one. Third, last [2]";
        let pieces = deltas(text);
        assert_eq!(pieces, ["第一句，", "還有。[1]\n\n", "Second one. ", "Third, ", "last [2]"]);
        let text = "Refunds are processed within five working days of the request. [3]";
        let pieces = deltas(text);
        assert_eq!(
            pieces,
            ["Refunds are processed within five ", "working days of the request. [3]"]
        );
        let text = "很長".repeat(30);
        let pieces = deltas(&text);
        assert_eq!(pieces.iter().map(|p| char_len(p)).collect::<Vec<_>>(), [40, 20]);
        assert_eq!(pieces.concat(), text);
    }
}
