//! The parser processes behind ingestion (`knowledge::parse::Parsers`), driven directly with
//! the real `openmai` binary: reused between files, replaced when one dies or hangs.

use std::time::Duration;

use openmai_ingest::IngestOptions;
use openmai_server::knowledge::parse::{Failure, Outcome, Parsers};

const MEMORY: u64 = 1024 * 1024 * 1024;

fn parsers(timeout: Duration) -> Parsers {
    Parsers::new(Some(env!("CARGO_BIN_EXE_openmai").into()), timeout, MEMORY, 2)
}

fn text_file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn parsed_text(parsers: &Parsers, path: &std::path::Path, name: &str) -> String {
    match parsers.parse(path, name, &IngestOptions::default()).await {
        Ok(Outcome::Parsed(parsed)) => parsed.file.text,
        other => panic!("{name}: {other:?}"),
    }
}

#[tokio::test]
async fn one_process_parses_file_after_file_and_a_dead_one_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let parsers = parsers(Duration::from_secs(60));
    let first = text_file(&dir, "first.txt", "退票規定 refund rules");
    let second = text_file(&dir, "second.txt", "second file");
    assert_eq!(parsed_text(&parsers, &first, "first.txt").await, "退票規定 refund rules");
    assert_eq!(parsed_text(&parsers, &second, "second.txt").await, "second file");
    // A refusal is an answer too: the process stays.
    let empty = text_file(&dir, "empty.txt", "");
    assert!(matches!(
        parsers.parse(&empty, "empty.txt", &IngestOptions::default()).await,
        Ok(Outcome::Refused { .. })
    ));
    assert_eq!(parsers.started(), 1, "one process for three files");
    assert_eq!(parsers.idle_count(), 1);

    // The idle process dies (killed from outside): the next file gets a fresh one and parses.
    for pid in parsers.idle_pids() {
        let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
        assert!(killed.unwrap().success());
    }
    assert_eq!(parsed_text(&parsers, &second, "second.txt").await, "second file");
    assert_eq!(parsers.started(), 2);
    assert_eq!(parsers.idle_count(), 1);
}

#[tokio::test]
async fn a_process_that_runs_out_of_time_is_killed_and_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let file = text_file(&dir, "slow.txt", "any text");
    // No time at all: the file times out before its answer can arrive.
    let parsers = parsers(Duration::ZERO);
    let failure = parsers.parse(&file, "slow.txt", &IngestOptions::default()).await;
    assert!(matches!(failure, Err(Failure::TimedOut(_))), "{failure:?}");
    assert_eq!(parsers.idle_count(), 0, "the process was dropped (and so killed)");
    assert_eq!(parsers.started(), 1);
}
