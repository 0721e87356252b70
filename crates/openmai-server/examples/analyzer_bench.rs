//! Analyzer benchmark: the keyword analysis every chunk goes through before the index
//! (folding, Traditional→Simplified, jieba, bigrams, stemming), timed alone on the chunks of a
//! real corpus, so a change to it can be measured without the noise of the whole pipeline.
//!
//! ```text
//! cargo run --release -p openmai-server --example analyzer_bench -- DIR [--every N] [--rounds R]
//! ```
//!
//! Chunks every `N`th file of `DIR` (default 4) as the server does (800 characters, 100 of
//! overlap, heading first), then, `R` times (default 3) on one thread, times the folding step
//! alone, jieba-rs's `cut_for_search` alone on the folded text, the analyzer's segmenter
//! (the same words, on its own trie) alone on the same text, the whole analyzer, and the
//! chunks indexed into an in-memory index on one writer thread (analysis, postings, commit),
//! in MB/s of chunk text.

use std::path::PathBuf;
use std::time::Instant;

use uuid::Uuid;

use openmai_index::analyzer::{self, Scratch};
use openmai_index::{ChunkRecord, EmbeddedIndex, EmbeddedOptions, SearchIndex};
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
    let jieba = jieba_rs::Jieba::new();
    let folded: Vec<String> = texts.iter().map(|text| openmai_types::text::fold(text)).collect();
    let rate = |started: Instant| mb / started.elapsed().as_secs_f64();
    for round in 1..=rounds {
        let started = Instant::now();
        let n: usize = texts.iter().map(|text| openmai_types::text::fold(text).len()).sum();
        std::hint::black_box(n);
        let fold = rate(started);

        let started = Instant::now();
        let n: usize = folded.iter().map(|text| jieba.cut_for_search(text, false).len()).sum();
        std::hint::black_box(n);
        let cut = rate(started);

        let started = Instant::now();
        let mut words = 0usize;
        for text in &folded {
            analyzer.for_each_word(text, |_| words += 1);
        }
        assert_eq!(words, n, "the segmenter cuts as jieba-rs does");
        let segment = rate(started);

        let started = Instant::now();
        let mut scratch = Scratch::with_first_line_memo();
        let mut terms = 0usize;
        for text in &texts {
            analyzer.for_each_term_with(text, &mut scratch, |_| terms += 1);
        }
        let whole = rate(started);

        // The records are built before the clock starts: only indexing them is timed.
        let (organization, knowledge_base) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let batches: Vec<Vec<ChunkRecord>> = texts
            .chunks(500)
            .enumerate()
            .map(|(n, batch)| {
                batch
                    .iter()
                    .map(|text| ChunkRecord {
                        id: Uuid::now_v7(),
                        organization_id: organization,
                        knowledge_base_id: knowledge_base,
                        file_id: Some(Uuid::from_u128(n as u128)),
                        faq_id: None,
                        label_ids: Vec::new(),
                        text: text.clone(),
                        embedding: None,
                    })
                    .collect()
            })
            .collect();
        let options = EmbeddedOptions { writer_threads: 1, ..EmbeddedOptions::default() };
        let index = EmbeddedIndex::open_in_memory(options).expect("an in-memory index");
        let started = Instant::now();
        for chunks in &batches {
            index.upsert(chunks).expect("indexed");
        }
        index.commit().expect("committed");
        let indexed = rate(started);
        println!(
            "round {round}: fold {fold:.1} MB/s, jieba-rs cut_for_search {cut:.1} MB/s, \
             our segmenter {segment:.1} MB/s, whole analyzer {whole:.1} MB/s ({terms} terms), \
             indexed {indexed:.1} MB/s"
        );
    }
}
