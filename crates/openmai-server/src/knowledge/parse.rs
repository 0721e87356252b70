//! Parsing runs in a child process (`openmai ingest-file`) with a memory limit and a
//! timeout: a zip bomb, a pathological PDF or a parser bug can only end that process, and the
//! file fails with a reason; the server never goes down with it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use openmai_ingest::{IngestOptions, Limits, ParsedFile};
use openmai_store::models::KnowledgeBase;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use crate::knowledge::Settings;

/// What the child writes to stdout, in postcard's compact binary form: the text crosses the
/// pipe as raw UTF-8, where JSON's escaping and unescaping of it cost about 2 CPU-seconds
/// per 200 MB corpus.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Parsed(ParsedFile),
    /// The file cannot be used; `message` says why, for a person to act on.
    Refused {
        code: String,
        message: String,
    },
}

/// Why no outcome came back.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("Parsing took longer than {} seconds and was stopped.", .0.as_secs())]
    TimedOut(Duration),
    #[error("Parsing needed more than {0} MB of memory and was stopped.")]
    OutOfMemory(u64),
    #[error("The parser stopped unexpectedly ({0}).")]
    Crashed(String),
    #[error("The parser could not be started: {0}")]
    Spawn(std::io::Error),
}

/// The ingestion options for a file of `kb`.
pub fn options(kb: &KnowledgeBase, max_file_bytes: u64) -> IngestOptions {
    let size = usize::try_from(kb.chunk_size).unwrap_or(800).max(1);
    let overlap = usize::try_from(kb.chunk_overlap).unwrap_or(0).min(size / 2);
    IngestOptions {
        chunk_size: size,
        chunk_overlap: overlap,
        limits: Limits { max_file_bytes, ..Limits::default() },
    }
}

/// Parses `input` in a child process within the configured limits.
pub async fn parse_isolated(
    settings: &Settings,
    input: &Path,
    filename: &str,
    options: &IngestOptions,
) -> Result<Outcome, Failure> {
    let executable = match &settings.parser_executable {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(Failure::Spawn)?,
    };
    let memory_mb = settings.parse_memory_bytes / (1024 * 1024);
    let mut child = tokio::process::Command::new(executable)
        .arg("ingest-file")
        .arg("--input")
        .arg(input)
        .arg("--filename")
        .arg(filename)
        .args(["--chunk-size", &options.chunk_size.to_string()])
        .args(["--chunk-overlap", &options.chunk_overlap.to_string()])
        .args(["--max-file-bytes", &options.limits.max_file_bytes.to_string()])
        .args(["--memory-mb", &memory_mb.to_string()])
        .env_remove("OPENMAI_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(Failure::Spawn)?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let run = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let (read_out, read_err, status) =
            tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err), child.wait());
        read_out.map_err(Failure::Spawn)?;
        let _ = read_err;
        let status = status.map_err(Failure::Spawn)?;
        Ok::<_, Failure>((status, out, err))
    };
    let (status, out, err) = match tokio::time::timeout(settings.parse_timeout, run).await {
        Ok(result) => result?,
        // Dropping the future kills the child (kill_on_drop).
        Err(_) => return Err(Failure::TimedOut(settings.parse_timeout)),
    };
    if status.success() {
        return postcard::from_bytes(&out)
            .map_err(|e| Failure::Crashed(format!("unreadable output: {e}")));
    }
    let stderr = String::from_utf8_lossy(&err);
    if stderr.contains("memory allocation")
        || stderr.contains("out of memory")
        || stderr.contains("Cannot allocate")
    {
        return Err(Failure::OutOfMemory(memory_mb));
    }
    let tail: String = stderr
        .lines()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join(" ");
    Err(Failure::Crashed(match status.code() {
        Some(code) => format!(
            "exit status {code}{}",
            if tail.is_empty() { String::new() } else { format!(": {tail}") }
        ),
        None => format!(
            "killed by a signal{}",
            if tail.is_empty() { String::new() } else { format!(": {tail}") }
        ),
    }))
}

/// The arguments of `openmai ingest-file`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChildArgs {
    #[arg(long)]
    pub input: PathBuf,
    #[arg(long)]
    pub filename: String,
    #[arg(long)]
    pub chunk_size: usize,
    #[arg(long)]
    pub chunk_overlap: usize,
    #[arg(long)]
    pub max_file_bytes: u64,
    #[arg(long)]
    pub memory_mb: u64,
}

/// The child's side: limits its own address space, parses, writes the [`Outcome`].
pub fn run_child(args: &ChildArgs) -> std::io::Result<()> {
    let limit = args.memory_mb.saturating_mul(1024 * 1024);
    if limit > 0 {
        // The limit covers the whole process; the binary itself needs some headroom.
        let _ = rlimit::setrlimit(rlimit::Resource::AS, limit, limit);
    }
    let options = IngestOptions {
        chunk_size: args.chunk_size.max(1),
        chunk_overlap: args.chunk_overlap,
        limits: Limits { max_file_bytes: args.max_file_bytes, ..Limits::default() },
    };
    let outcome = match openmai_ingest::ingest_path(&args.input, &args.filename, &options) {
        Ok(parsed) => Outcome::Parsed(parsed),
        Err(err) => Outcome::Refused { code: err.code().to_owned(), message: err.to_string() },
    };
    // Stdout is line-buffered: unbuffered, postcard's many small writes became a pipe write
    // at every newline byte of the text.
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    postcard::to_io(&outcome, &mut out).map_err(std::io::Error::other)?;
    std::io::Write::flush(&mut out)
}
