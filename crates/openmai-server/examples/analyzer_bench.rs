//! Analyzer benchmark: the keyword analysis every chunk goes through before the index
//! (folding, Traditional→Simplified, jieba, bigrams, stemming), timed alone on the chunks of a
//! real corpus, so a change to it can be measured without the noise of the whole pipeline.
//!
//! ```text
//! cargo run --release -p openmai-server --example analyzer_bench -- DIR [--every N] [--rounds R]
//! ```
//!
//! Chunks every `N`th file of `DIR` (default 4) as the server does (800 characters, 100 of
//! overlap, heading first), then analyses all the chunks `R` times (default 3) on one thread
//! and reports MB/s of chunk text per round, with the share of ASCII in the text and the time
//! the folding step alone takes.

use std::path::PathBuf;
use std::time::Instant;

use openmai_index::analyzer::{self, Scratch};
use openmai_ingest::{IngestOptions, ingest_path};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let (mut every, mut rounds) = (4, 3);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--every" => every = args.next().and_then(|v| v.parse().ok()).expect("--every N"),
            "--rounds" => rounds = args.next().and_then(|v| v.parse().ok()).expect("--rounds R"),
            _ => dir = Some(PathBuf::from(arg)),
        }
    }
    let dir = dir.expect("usage: analyzer_bench DIR [--every N] [--rounds R]");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read DIR")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    let options = IngestOptions { chunk_size: 800, chunk_overlap: 100, ..IngestOptions::default() };
    let mut texts = Vec::new();
    for path in files.iter().step_by(every.max(1)) {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let Ok(parsed) = ingest_path(path, &name, &options) else { continue };
        // As the server indexes them (`knowledge::chunk_record`): the heading path first.
        texts.extend(parsed.chunks.into_iter().map(|chunk| match chunk.heading {
            Some(heading) => format!("{heading}\n{}", chunk.text),
            None => chunk.text,
        }));
    }
    let bytes: usize = texts.iter().map(String::len).sum();
    let ascii: usize = texts.iter().map(|t| t.bytes().filter(u8::is_ascii).count()).sum();
    let mb = bytes as f64 / 1e6;
    println!(
        "{} chunks, {mb:.1} MB of text, {:.0}% of its bytes ASCII",
        texts.len(),
        ascii as f64 * 100.0 / bytes.max(1) as f64
    );

    let analyzer = analyzer::shared();
    for round in 1..=rounds {
        let started = Instant::now();
        let folded: usize = texts.iter().map(|text| openmai_types::text::fold(text).len()).sum();
        let fold = started.elapsed();
        std::hint::black_box(folded);

        let started = Instant::now();
        let mut scratch = Scratch::default();
        let mut terms = 0usize;
        for text in &texts {
            analyzer.for_each_term_with(text, &mut scratch, |_| terms += 1);
        }
        let total = started.elapsed();
        println!(
            "round {round}: {terms} terms in {:.2} s = {:.1} MB/s (folding alone {:.2} s)",
            total.as_secs_f64(),
            mb / total.as_secs_f64(),
            fold.as_secs_f64()
        );
    }
}
