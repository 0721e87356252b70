//! Builds the segmenter's dictionary trie and frequency table (see `src/segment.rs`) from the
//! bundled jieba dictionary at compile time: building the trie takes about two seconds,
//! loading the result a few milliseconds, so no process pays for it (or carries the
//! dictionary's text) at start.

use std::path::PathBuf;

#[path = "src/cjk.rs"]
mod cjk;

fn main() {
    let dictionary = "data/jieba-dict.txt";
    println!("cargo::rerun-if-changed={dictionary}");
    println!("cargo::rerun-if-changed=src/cjk.rs");
    let text = std::fs::read_to_string(dictionary).expect("read the jieba dictionary");
    let mut words = Vec::new();
    // Each line's frequency (0 for a line without a word), as little-endian `u32`s: the
    // segmenter's frequency table, indexed by the trie's values.
    let mut frequencies = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let word = fields.next();
        let freq: u32 = fields.next().map_or(0, |f| f.parse().expect("a frequency"));
        frequencies.extend_from_slice(&freq.to_le_bytes());
        // The value is the word's line. A word with a character outside jieba's runs could
        // never be found inside one.
        let Some(word) = word else { continue };
        // jieba-rs gives a repeated word its last frequency and counts it once in the total;
        // the segmenter counts every line, which is the same only without repeats.
        assert!(seen.insert(word), "the dictionary repeats {word:?}");
        if word.chars().all(cjk::is_run_char) {
            words.push((word, u32::try_from(index).expect("under 4 billion lines")));
        }
    }
    words.sort_unstable();
    let trie = crawdad::Trie::from_records(words).expect("the dictionary builds a trie");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("jieba-trie.bin"), trie.serialize_to_vec()).expect("write the trie");
    std::fs::write(out.join("jieba-frequencies.bin"), frequencies).expect("write the frequencies");
}
