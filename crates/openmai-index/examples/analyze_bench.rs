//! Analysis throughput: reads chunk texts (one JSON string per line), then times each step of
//! the analyzer over all of them on one thread.
//!
//!     cargo run --release -p openmai-index --example analyze_bench -- CHUNKS.jsonl
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("a JSONL file of chunk texts");
    let texts: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let analyzer = openmai_index::analyzer::shared();
    let _ = analyzer.terms("warm up");
    let report = |name: &str, started: Instant, n: usize| {
        let s = started.elapsed().as_secs_f64();
        println!("{name:<28} {s:6.2} s  {:6.1} MB/s  ({n} items)", bytes as f64 / 1e6 / s);
    };
    let t = Instant::now();
    let mut n = 0;
    for text in &texts {
        n += openmai_types::text::fold(text).len();
    }
    report("fold", t, n);
    let jieba = jieba_rs::Jieba::new();
    let folded: Vec<String> = texts.iter().map(|t| openmai_types::text::fold(t)).collect();
    let t = Instant::now();
    let mut n = 0;
    for text in &folded {
        n += jieba.cut(text, false).len();
    }
    report("jieba cut", t, n);
    let t = Instant::now();
    let mut n = 0;
    for text in &folded {
        n += jieba.cut_for_search(text, false).len();
    }
    report("jieba cut_for_search", t, n);
    let t = Instant::now();
    let mut n = 0;
    for text in &texts {
        analyzer.for_each_term(text, |_| n += 1);
    }
    report("analyzer (all steps)", t, n);
    let t = Instant::now();
    let mut n = 0;
    let mut scratch = openmai_index::analyzer::Scratch::default();
    for text in &texts {
        analyzer.for_each_term_with(text, &mut scratch, |_| n += 1);
    }
    report("analyzer, reused scratch", t, n);
}
