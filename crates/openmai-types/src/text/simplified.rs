//! Traditional → Simplified with zhconv's `zh-CN` rules, as zhconv's own converter applies
//! them, at a fraction of the cost on the characters no rule changes.
//!
//! zhconv runs every character through an Aho-Corasick automaton (leftmost-longest) and copies
//! each rule's target out of a `String` of its own. Here the same rules are split by length:
//! - a rule of one character is a table entry (the character it becomes), looked up directly;
//! - a rule of two characters or more ("phrases": `軟體` → `软件`, `乾淨` → `干净`) lives in a
//!   trie, walked only where the character and the next could begin one.
//!
//! Leftmost-longest matching means: at each position, from the left, the longest rule that
//! starts there, then on after it. A phrase found at a position is longer than any one-character
//! rule there, so trying the phrases first and the table second gives zhconv's choice at every
//! position, and the text between changes is copied as it stands. The rules are zhconv's own
//! tables, merged as its converter merges them (a later rule for the same source wins), and
//! tests compare the two on random text made of the rules' own pieces.

use std::collections::HashMap;
use std::sync::LazyLock;

use zhconv::Variant;

use super::char_at;

/// Characters below this have an entry in [`Simplifier::entries`]; the rest (rare ideographs
/// beyond the basic plane) are looked up in `astral`.
const TABLE_CHARS: usize = 0x1_0000;
/// In an entry: a phrase starts with this character.
const STARTS_PHRASE: u32 = 1 << 31;
/// In an entry: the character becomes the target `entry & TARGET_INDEX` (not one character).
const LONG_TARGET: u32 = 1 << 30;
const TARGET_INDEX: u32 = LONG_TARGET - 1;
/// In an entry: the character stays as it is on its own (no rule, or a rule to itself).
const STAYS: u32 = TARGET_INDEX;
/// Bits of the filter of the character pairs that begin a phrase.
const PAIR_FILTER_BITS: u32 = 16;

pub(crate) struct Simplifier {
    /// Per character of the basic plane: [`STARTS_PHRASE`], and what it becomes on its own: a
    /// character's code, [`LONG_TARGET`] and an index into `targets`, or [`STAYS`].
    entries: Box<[u32]>,
    /// A Bloom-style filter of the first two characters of every phrase, one bit per hash:
    /// where it says no, no phrase starts (nearly every position a first character is at).
    pair_filter: Box<[u64]>,
    /// Phrases (sources of two characters or more), each to its index into `targets`.
    phrases: crawdad::Trie,
    /// Entries of the characters beyond the basic plane that have one.
    astral: HashMap<char, u32>,
    targets: Vec<Box<str>>,
}

static SHARED: LazyLock<Simplifier> = LazyLock::new(Simplifier::zh_cn);

/// The `zh-CN` simplifier, built on first use (a few milliseconds).
pub(crate) fn shared() -> &'static Simplifier {
    &SHARED
}

fn pair_hash(first: u32, second: u32) -> usize {
    let mixed = (first.wrapping_mul(0x9E37_79B1) ^ second).wrapping_mul(0x85EB_CA6B);
    (mixed >> (32 - PAIR_FILTER_BITS)) as usize
}

impl Simplifier {
    /// zhconv's `zh-CN` rules (its Simplified table, then its mainland phrasing table).
    fn zh_cn() -> Self {
        // As zhconv builds its automaton: every rule in table order, a later one for the same
        // source replacing an earlier one.
        let mut rules: HashMap<String, String> = HashMap::new();
        for &table in zhconv::get_builtin_tables(Variant::ZhCN) {
            rules.extend(zhconv::tables::expand_table(table).filter(|(from, _)| !from.is_empty()));
        }
        Self::from_rules(rules)
    }

    fn from_rules(rules: HashMap<String, String>) -> Self {
        let mut entries = vec![STAYS; TABLE_CHARS].into_boxed_slice();
        let mut astral: HashMap<char, u32> = HashMap::new();
        let mut pair_filter = vec![0u64; (1 << PAIR_FILTER_BITS) / 64].into_boxed_slice();
        let mut targets: Vec<Box<str>> = Vec::new();
        let mut phrases: Vec<(String, u32)> = Vec::new();
        fn entry_of<'e>(
            entries: &'e mut [u32],
            astral: &'e mut HashMap<char, u32>,
            c: char,
        ) -> &'e mut u32 {
            match usize::try_from(u32::from(c)).ok().filter(|&code| code < TABLE_CHARS) {
                Some(code) => &mut entries[code],
                None => astral.entry(c).or_insert(STAYS),
            }
        }
        for (from, to) in rules {
            let mut chars = from.chars();
            let Some(first) = chars.next() else { continue };
            let index = u32::try_from(targets.len()).ok().filter(|&i| i < TARGET_INDEX);
            let index = index.expect("fewer rules than 2^30");
            if let Some(second) = chars.next() {
                *entry_of(&mut entries, &mut astral, first) |= STARTS_PHRASE;
                let bit = pair_hash(u32::from(first), u32::from(second));
                pair_filter[bit / 64] |= 1 << (bit % 64);
                phrases.push((from, index));
                targets.push(to.into_boxed_str());
                continue;
            }
            let mut to_chars = to.chars();
            let becomes = match (to_chars.next(), to_chars.next()) {
                (Some(target), None) if target == first => STAYS,
                (Some(target), None) => u32::from(target),
                _ => {
                    targets.push(to.into_boxed_str());
                    LONG_TARGET | index
                }
            };
            let entry = entry_of(&mut entries, &mut astral, first);
            *entry = (*entry & STARTS_PHRASE) | becomes;
        }
        phrases.sort_unstable();
        let phrases = crawdad::Trie::from_records(phrases.iter().map(|(k, v)| (k.as_str(), *v)))
            .expect("zhconv's phrases are distinct and non-empty");
        Simplifier { entries, pair_filter, phrases, astral, targets }
    }

    /// Appends `text`, converted, to `out`.
    pub(crate) fn convert_to(&self, text: &str, out: &mut String) {
        // `text[copied..at]` stays as it is and is not in `out` yet.
        let mut copied = 0;
        let mut at = 0;
        while at < text.len() {
            let (c, len) = char_at(text, at);
            let code = u32::from(c);
            let entry = match usize::try_from(code).ok().filter(|&code| code < TABLE_CHARS) {
                Some(code) => self.entries[code],
                None => self.astral.get(&c).copied().unwrap_or(STAYS),
            };
            if entry == STAYS {
                at += len;
                continue;
            }
            if entry & STARTS_PHRASE != 0
                && let Some((index, end)) = self.phrase_at(text, at, code, len)
            {
                out.push_str(&text[copied..at]);
                out.push_str(&self.targets[index as usize]);
                at = end;
                copied = end;
                continue;
            }
            let becomes = entry & !STARTS_PHRASE;
            if becomes != STAYS {
                out.push_str(&text[copied..at]);
                if becomes & LONG_TARGET != 0 {
                    out.push_str(&self.targets[(becomes & TARGET_INDEX) as usize]);
                } else {
                    out.push(char::from_u32(becomes).expect("a rule's target is a character"));
                }
                copied = at + len;
            }
            at += len;
        }
        out.push_str(&text[copied..]);
    }

    /// The longest phrase starting with the character `first` (of `len` bytes) at byte `at`
    /// of `text`: its target's index and the byte where it ends.
    fn phrase_at(&self, text: &str, at: usize, first: u32, len: usize) -> Option<(u32, usize)> {
        if at + len >= text.len() {
            return None;
        }
        let (second, _) = char_at(text, at + len);
        let bit = pair_hash(first, u32::from(second));
        if self.pair_filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        let (index, chars) = self.phrases.common_prefix_search(text[at..].chars()).last()?;
        let end =
            text[at..].char_indices().nth(chars).map_or(text.len(), |(offset, _)| at + offset);
        Some((index, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zhconv(text: &str) -> String {
        let mut out = String::new();
        zhconv::get_builtin_converter(Variant::ZhCN).convert_to(text, &mut out);
        out
    }

    fn ours(text: &str) -> String {
        let mut out = String::new();
        shared().convert_to(text, &mut out);
        out
    }

    #[test]
    fn converts_as_zhconv_does() {
        for text in [
            "",
            "軟體記憶體臺北發票優惠",
            "乾淨的乾隆皇帝，天干地支",
            "林姆斯基-高沙可夫 refund 2024 SQL隱碼攻擊 A型肝炎",
            "𠀀𠮷 ㈠ 〇 「引號」、。！ ＡＢＣ",
            "後來的皇后在後面",
        ] {
            assert_eq!(ours(text), zhconv(text), "{text}");
        }
    }

    /// Random texts made of the rules' own pieces (whole sources, their first and last
    /// characters, pieces that overlap two sources) and other characters, so phrases meet,
    /// overlap and break off at every place.
    #[test]
    fn random_texts_convert_as_zhconv_does() {
        let mut sources: Vec<String> = Vec::new();
        for &table in zhconv::get_builtin_tables(Variant::ZhCN) {
            sources.extend(zhconv::tables::expand_table(table).map(|(from, _)| from));
        }
        sources.sort();
        sources.dedup();
        let pieces: Vec<String> = sources
            .iter()
            .flat_map(|s| {
                let chars: Vec<char> = s.chars().collect();
                let half = chars.len() / 2;
                [s.clone(), chars[..half.max(1)].iter().collect(), chars[half..].iter().collect()]
            })
            .chain(["a", " ", "。", "的", "台", "-", "1", "A", "𠮷"].map(String::from))
            .collect();
        // A small deterministic generator (no dependency for one test).
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        for _ in 0..3_000 {
            let text: String =
                (0..1 + next(40)).map(|_| pieces[next(pieces.len())].as_str()).collect();
            assert_eq!(ours(&text), zhconv(&text), "{text}");
        }
        // And every source on its own, and every pair of sources in a row.
        let all: String = sources.concat();
        assert_eq!(ours(&all), zhconv(&all));
        for source in &sources {
            assert_eq!(ours(source), zhconv(source), "{source}");
        }
    }
}
