//! Parsing runs in child processes (`openmai ingest-worker`) with a memory limit and a
//! timeout: a zip bomb, a pathological PDF or a parser bug can only end that process, and the
//! file fails with a reason; the server never goes down with it.
//!
//! A parser process takes one file after another ([`Parsers`] keeps idle ones), because
//! starting one (exec, relocating a large binary, faulting in a fresh heap) cost a quarter of
//! the parsing itself on a corpus of ordinary documents. The isolation is the same: a process
//! that fails, hangs or overruns its memory is killed and replaced, and a file that failed in
//! a process that had parsed others first is tried once more in a fresh one, so one file's
//! leftovers never fail another.
//!
//! The pipe carries length-prefixed frames (a little-endian `u64`, then postcard): a
//! [`Request`] to the process, an [`Outcome`] back, in its wire form ([`Answer`]: each chunk
//! as a range of the file's text, see [`ChunkText`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openmai_ingest::{Chunk, Format, IngestOptions, Limits, ParsedFile};
use openmai_store::models::KnowledgeBase;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What a parser process answers for each file. It crosses the pipe in postcard's compact
/// binary form ([`Answer`]): the text goes as raw UTF-8, where JSON's escaping and unescaping
/// of it cost about 2 CPU-seconds per 200 MB corpus.
#[derive(Debug)]
pub enum Outcome {
    Parsed(Parsed),
    /// The file cannot be used; `message` says why, for a person to act on.
    Refused {
        code: String,
        message: String,
    },
}

/// A parsed file, and where each chunk's text starts in the file's text when it is a slice of
/// it (known once the outcome has crossed the pipe, see [`ChunkText`]; the store keeps the
/// file's text without those slices).
#[derive(Debug)]
pub struct Parsed {
    pub file: ParsedFile,
    /// One per chunk of `file`, or none (not known).
    pub chunk_starts: Vec<Option<u64>>,
}

impl From<ParsedFile> for Outcome {
    fn from(file: ParsedFile) -> Outcome {
        Outcome::Parsed(Parsed { file, chunk_starts: Vec::new() })
    }
}

/// An [`Outcome`] as it crosses the pipe. A chunk's text is nearly always a slice of the
/// file's text, so it goes as a range of it: a corpus of 200 MB yields about 300 MB of chunk
/// text, which would otherwise be written to the pipe, read and checked as UTF-8 once more
/// (std's check took 3.5% of the pipeline's CPU). The file's text itself is checked with
/// simdutf8.
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    Parsed(WireFile),
    Refused { code: String, message: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct WireFile {
    format: Format,
    text: Utf8,
    pages: Option<u32>,
    chunks: Vec<WireChunk>,
    encoding: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireChunk {
    ordinal: u32,
    text: ChunkText,
    page_number: Option<u32>,
    heading: Option<String>,
}

/// Where a chunk's text is: bytes `start..end` of the file's text, or (a table chunk that
/// repeats its header row) its own.
#[derive(Debug, Serialize, Deserialize)]
enum ChunkText {
    Range { start: u64, end: u64 },
    Own(String),
}

/// A string that postcard writes as it writes any string (a length, then the bytes) and that
/// is read as bytes and checked with simdutf8, several times faster than std on Chinese text.
#[derive(Debug)]
struct Utf8(String);

impl Serialize for Utf8 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Utf8 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Utf8;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("UTF-8 text")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<Utf8, E> {
                simdutf8::basic::from_utf8(bytes)
                    .map(|text| Utf8(text.to_owned()))
                    .map_err(|_| E::custom("text that is not UTF-8"))
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Utf8, E> {
                Ok(Utf8(text.to_owned()))
            }
        }
        deserializer.deserialize_bytes(Visitor)
    }
}

/// How far past the previous chunk's start the next one is looked for in the text (beyond
/// that chunk's own length): what lies between two chunks is at most the previous chunk, a
/// heading or two and the separators. A chunk not found within it goes as its own text, so a
/// file of many such chunks costs a bounded search each, never a scan of the whole text.
const CHUNK_SEARCH_SLACK: usize = 16 * 1024;
/// The start of a chunk that candidate places in the text are found by.
const CHUNK_PROBE_BYTES: usize = 48;
/// Candidate places compared with a whole chunk at most (text that repeats its first bytes
/// often, as a log does, has many), so that the comparisons stay bounded too.
const CHUNK_CANDIDATES: usize = 64;

/// Finds a file's chunks, in order, in its text.
struct ChunkLocator<'t> {
    text: &'t [u8],
    /// Where the last chunk found starts: the next one starts there or later.
    from: usize,
    previous_len: usize,
}

impl ChunkLocator<'_> {
    /// Where `chunk` starts in the text, if it is a slice of it near the last one.
    fn locate(&mut self, chunk: &[u8]) -> Option<usize> {
        if chunk.is_empty() {
            return None;
        }
        let end = self
            .text
            .len()
            .min(self.from.saturating_add(self.previous_len + chunk.len() + CHUNK_SEARCH_SLACK));
        let window = &self.text[self.from..end];
        let probe = &chunk[..chunk.len().min(CHUNK_PROBE_BYTES)];
        // Candidates by the chunk's first bytes, then a plain comparison: a searcher for the
        // whole chunk costs more to build than the search.
        let found = memchr::memmem::find_iter(window, probe)
            .take(CHUNK_CANDIDATES)
            .find(|&at| window[at..].starts_with(chunk));
        if let Some(at) = found {
            (self.from, self.previous_len) = (self.from + at, chunk.len());
            return Some(self.from);
        }
        // Not a slice: a table chunk that repeats its header row. Its last bytes are, so the
        // search moves past them, and the chunks after a long table are still found.
        let tail = &chunk[chunk.len().saturating_sub(CHUNK_PROBE_BYTES)..];
        if let Some(at) = memchr::memmem::find(window, tail) {
            let chunk_start = (self.from + at + tail.len()).saturating_sub(chunk.len());
            (self.from, self.previous_len) = (chunk_start.max(self.from), chunk.len());
        }
        None
    }
}

impl Answer {
    /// The wire form of `outcome` (in the parser process).
    fn from_outcome(outcome: Outcome) -> Answer {
        let parsed = match outcome {
            Outcome::Parsed(parsed) => parsed.file,
            Outcome::Refused { code, message } => return Answer::Refused { code, message },
        };
        let text = parsed.text;
        let mut locator = ChunkLocator { text: text.as_bytes(), from: 0, previous_len: 0 };
        let chunks = parsed
            .chunks
            .into_iter()
            .map(|chunk| {
                let text = match locator.locate(chunk.text.as_bytes()) {
                    Some(start) => ChunkText::Range {
                        start: start as u64,
                        end: (start + chunk.text.len()) as u64,
                    },
                    None => ChunkText::Own(chunk.text),
                };
                WireChunk {
                    ordinal: chunk.ordinal,
                    text,
                    page_number: chunk.page_number,
                    heading: chunk.heading,
                }
            })
            .collect();
        Answer::Parsed(WireFile {
            format: parsed.format,
            text: Utf8(text),
            pages: parsed.pages,
            chunks,
            encoding: parsed.encoding,
        })
    }

    /// The outcome it stands for (in the server), or why it cannot be one.
    fn into_outcome(self) -> Result<Outcome, String> {
        let file = match self {
            Answer::Parsed(file) => file,
            Answer::Refused { code, message } => return Ok(Outcome::Refused { code, message }),
        };
        let text = file.text.0;
        let mut chunk_starts = Vec::with_capacity(file.chunks.len());
        let chunks = file
            .chunks
            .into_iter()
            .map(|chunk| {
                let own = match chunk.text {
                    ChunkText::Own(own) => {
                        chunk_starts.push(None);
                        own
                    }
                    ChunkText::Range { start, end } => {
                        chunk_starts.push(Some(start));
                        usize::try_from(start)
                            .ok()
                            .zip(usize::try_from(end).ok())
                            .and_then(|(start, end)| text.get(start..end))
                            .ok_or_else(|| format!("a chunk at bytes {start}..{end} of the text"))?
                            .to_owned()
                    }
                };
                Ok(Chunk {
                    ordinal: chunk.ordinal,
                    text: own,
                    page_number: chunk.page_number,
                    heading: chunk.heading,
                })
            })
            .collect::<Result<_, String>>()?;
        let file = ParsedFile {
            format: file.format,
            text,
            pages: file.pages,
            chunks,
            encoding: file.encoding,
        };
        Ok(Outcome::Parsed(Parsed { file, chunk_starts }))
    }
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

/// One file for a parser process.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Request {
    input: PathBuf,
    filename: String,
    options: IngestOptions,
}

/// A parser process retires after this many files, so nothing it accumulates (heap
/// fragmentation, a slow leak in a parser) lasts long.
const FILES_PER_PROCESS: u32 = 200;
/// How long a process whose output ended early gets to exit (and finish its error message)
/// before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);
/// The most of a process's stderr kept for the failure reason.
const STDERR_TAIL_BYTES: usize = 4096;
/// Requests are a path, a name and the chunking options.
const MAX_REQUEST_BYTES: u64 = 64 * 1024;

/// The parser processes of a server: idle ones wait here between files.
pub struct Parsers {
    executable: Option<PathBuf>,
    timeout: Duration,
    memory_bytes: u64,
    max_idle: usize,
    idle: Mutex<Vec<ParserProcess>>,
    started: AtomicU64,
}

impl std::fmt::Debug for Parsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsers")
            .field("idle", &self.idle_count())
            .field("started", &self.started())
            .finish()
    }
}

impl Parsers {
    /// `executable`: the `openmai` binary (`None`: this one); at most `max_idle` processes
    /// are kept between files (one per ingestion worker, and one for chat attachments).
    pub fn new(
        executable: Option<PathBuf>,
        timeout: Duration,
        memory_bytes: u64,
        max_idle: usize,
    ) -> Self {
        Parsers {
            executable,
            timeout,
            memory_bytes,
            max_idle,
            idle: Mutex::default(),
            started: AtomicU64::new(0),
        }
    }

    /// Parses `input` in a parser process, within the configured limits.
    pub async fn parse(
        &self,
        input: &Path,
        filename: &str,
        options: &IngestOptions,
    ) -> Result<Outcome, Failure> {
        let request = Request {
            input: input.to_owned(),
            filename: filename.to_owned(),
            options: options.clone(),
        };
        let (process, reused) = match self.take_idle() {
            Some(process) => (process, true),
            None => (self.start()?, false),
        };
        match self.run(process, &request).await {
            // Not this file's doing, perhaps: the process had parsed others first (and may
            // have died since, or run short of memory because of them). A fresh one decides.
            Err(failure) if reused && !matches!(failure, Failure::TimedOut(_)) => {
                tracing::debug!(%failure, "retrying a file in a fresh parser process");
                self.run(self.start()?, &request).await
            }
            result => result,
        }
    }

    /// Parser processes started so far.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    /// Parser processes waiting for a file.
    pub fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The process ids of the idle parser processes.
    pub fn idle_pids(&self) -> Vec<u32> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.iter().filter_map(|process| process.child.id()).collect()
    }

    fn memory_mb(&self) -> u64 {
        self.memory_bytes / (1024 * 1024)
    }

    /// An idle process still alive, if any.
    fn take_idle(&self) -> Option<ParserProcess> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(mut process) = idle.pop() {
            if matches!(process.child.try_wait(), Ok(None)) {
                return Some(process);
            }
        }
        None
    }

    fn put_back(&self, process: ParserProcess) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if process.files < FILES_PER_PROCESS && idle.len() < self.max_idle {
            idle.push(process);
        }
        // Otherwise it is dropped, which closes its input and kills it.
    }

    fn start(&self) -> Result<ParserProcess, Failure> {
        let executable = match &self.executable {
            Some(path) => path.clone(),
            None => std::env::current_exe().map_err(Failure::Spawn)?,
        };
        let mut child = tokio::process::Command::new(executable)
            .arg("ingest-worker")
            .args(["--memory-mb", &self.memory_mb().to_string()])
            .env_remove("OPENMAI_CONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(Failure::Spawn)?;
        self.started.fetch_add(1, Ordering::Relaxed);
        let stdin = child.stdin.take().expect("piped");
        let stdout = tokio::io::BufReader::new(child.stdout.take().expect("piped"));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let stderr_reader =
            tokio::spawn(keep_tail(child.stderr.take().expect("piped"), stderr.clone()));
        Ok(ParserProcess { child, stdin, stdout, stderr, stderr_reader, files: 0 })
    }

    /// One file in `process`, which goes back to the idle ones if all went well.
    async fn run(&self, mut process: ParserProcess, request: &Request) -> Result<Outcome, Failure> {
        process.stderr.lock().unwrap_or_else(|e| e.into_inner()).clear();
        // The process cannot send more than it can hold.
        let max_answer = if self.memory_bytes == 0 { 1 << 32 } else { self.memory_bytes };
        let exchanged =
            tokio::time::timeout(self.timeout, process.exchange(request, max_answer)).await;
        match exchanged {
            // Dropping the process kills it.
            Err(_) => Err(Failure::TimedOut(self.timeout)),
            Ok(Ok(frame)) => {
                let outcome = postcard::from_bytes::<Answer>(&frame)
                    .map_err(|e| e.to_string())
                    .and_then(Answer::into_outcome)
                    .map_err(|e| Failure::Crashed(format!("unreadable output: {e}")))?;
                process.files += 1;
                self.put_back(process);
                Ok(outcome)
            }
            // It answers, but not in frames (something else wrote to its stdout): dropped,
            // so killed, at once.
            Ok(Err(err)) if err.kind() == std::io::ErrorKind::InvalidData => {
                Err(Failure::Crashed(format!("unreadable output: {err}")))
            }
            Ok(Err(_)) => Err(process.failure(self.memory_mb()).await),
        }
    }
}

/// A running `openmai ingest-worker`.
struct ParserProcess {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::BufReader<tokio::process::ChildStdout>,
    /// The end of what the process wrote to stderr since its current file began.
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_reader: tokio::task::JoinHandle<()>,
    /// Files it has parsed.
    files: u32,
}

impl ParserProcess {
    /// Sends `request` and reads the answer's frame.
    async fn exchange(&mut self, request: &Request, max_bytes: u64) -> std::io::Result<Vec<u8>> {
        let body = postcard::to_allocvec(request).map_err(std::io::Error::other)?;
        let mut frame = (body.len() as u64).to_le_bytes().to_vec();
        frame.extend_from_slice(&body);
        self.stdin.write_all(&frame).await?;
        self.stdin.flush().await?;
        let len = self.stdout.read_u64_le().await?;
        if len > max_bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("an answer of {len} bytes"),
            ));
        }
        // Grown as it arrives: a length is only a claim.
        let mut answer = Vec::with_capacity(usize::try_from(len.min(64 << 20)).unwrap_or(0));
        (&mut self.stdout).take(len).read_to_end(&mut answer).await?;
        if answer.len() as u64 != len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(answer)
    }

    /// Why the process stopped answering: waits for it to exit, then reads its status and
    /// the end of its stderr.
    async fn failure(mut self, memory_mb: u64) -> Failure {
        let status = match tokio::time::timeout(EXIT_GRACE, self.child.wait()).await {
            Ok(Ok(status)) => status,
            Ok(Err(err)) => return Failure::Crashed(err.to_string()),
            Err(_) => {
                let _ = self.child.kill().await;
                return Failure::Crashed("its output ended but it did not exit".into());
            }
        };
        // Its stderr ends with it.
        let _ = tokio::time::timeout(EXIT_GRACE, &mut self.stderr_reader).await;
        let stderr = self.stderr.lock().unwrap_or_else(|e| e.into_inner()).clone();
        classify(status, &String::from_utf8_lossy(&stderr), memory_mb)
    }
}

/// Copies `stderr` into `tail`, keeping its last [`STDERR_TAIL_BYTES`].
async fn keep_tail(mut stderr: tokio::process::ChildStderr, tail: Arc<Mutex<Vec<u8>>>) {
    let mut buffer = [0; 4096];
    while let Ok(read) = stderr.read(&mut buffer).await {
        if read == 0 {
            break;
        }
        let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
        tail.extend_from_slice(&buffer[..read]);
        if tail.len() > 2 * STDERR_TAIL_BYTES {
            let excess = tail.len() - STDERR_TAIL_BYTES;
            tail.drain(..excess);
        }
    }
}

/// The failure of a process that exited with `status`, having written `stderr`.
fn classify(status: std::process::ExitStatus, stderr: &str, memory_mb: u64) -> Failure {
    if stderr.contains("memory allocation")
        || stderr.contains("out of memory")
        || stderr.contains("Cannot allocate")
    {
        return Failure::OutOfMemory(memory_mb);
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
    let tail = if tail.is_empty() { String::new() } else { format!(": {tail}") };
    Failure::Crashed(match status.code() {
        Some(code) => format!("exit status {code}{tail}"),
        None => format!("killed by a signal{tail}"),
    })
}

/// The arguments of `openmai ingest-worker`.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// The address-space limit of the process, in MB (0: none).
    #[arg(long)]
    pub memory_mb: u64,
}

/// The parser process's side: limits its own address space, then parses each [`Request`]
/// read from stdin and writes its [`Outcome`] to stdout, until stdin ends.
pub fn run_worker(args: &WorkerArgs) -> std::io::Result<()> {
    let limit = args.memory_mb.saturating_mul(1024 * 1024);
    if limit > 0 {
        // The limit covers the whole process; the binary itself needs some headroom.
        let _ = rlimit::setrlimit(rlimit::Resource::AS, limit, limit);
    }
    let mut input = std::io::stdin().lock();
    // Stdout is line-buffered: unbuffered, postcard's many small writes became a pipe write
    // at every newline byte of the text.
    let mut output = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    loop {
        let mut len = [0; 8];
        match input.read_exact(&mut len) {
            Ok(()) => {}
            // The server is done with this process (or gone).
            Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(err) => return Err(err),
        }
        let len = u64::from_le_bytes(len);
        if len > MAX_REQUEST_BYTES {
            return Err(std::io::Error::other(format!("a request of {len} bytes")));
        }
        let mut body = Vec::new();
        (&mut input).take(len).read_to_end(&mut body)?;
        let request: Request = postcard::from_bytes(&body).map_err(std::io::Error::other)?;
        let outcome = match openmai_ingest::ingest_path(
            &request.input,
            &request.filename,
            &request.options,
        ) {
            Ok(parsed) => Outcome::from(parsed),
            Err(err) => Outcome::Refused { code: err.code().to_owned(), message: err.to_string() },
        };
        let outcome = Answer::from_outcome(outcome);
        // The length first, counted without a second copy of the text.
        let size: usize =
            postcard::serialize_with_flavor(&outcome, postcard::ser_flavors::Size::default())
                .map_err(std::io::Error::other)?;
        output.write_all(&(size as u64).to_le_bytes())?;
        postcard::to_io(&outcome, &mut output).map_err(std::io::Error::other)?;
        output.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(ordinal: u32, text: &str) -> Chunk {
        Chunk { ordinal, text: text.into(), page_number: Some(ordinal + 1), heading: None }
    }

    fn parsed(text: &str, chunks: Vec<Chunk>) -> ParsedFile {
        ParsedFile {
            format: Format::Markdown,
            text: text.into(),
            pages: None,
            chunks,
            encoding: None,
        }
    }

    fn round_trip(outcome: Outcome) -> (Answer, Outcome) {
        let bytes = postcard::to_allocvec(&Answer::from_outcome(outcome)).unwrap();
        let answer: Answer = postcard::from_bytes(&bytes).unwrap();
        let again: Answer = postcard::from_bytes(&bytes).unwrap();
        (answer, again.into_outcome().unwrap())
    }

    #[test]
    fn chunks_cross_the_pipe_as_ranges_of_the_text_unless_they_are_not_in_it() {
        let text = "# 退票規定\n\n旅客於開車前退票，收取手續費。Refunds before departure.\n\n\
                    | 票種 | 金額 |\n| --- | --- |\n| 全票 | 100 |";
        let chunks = vec![
            chunk(0, "旅客於開車前退票，收取手續費。"),
            // The overlap: starts inside the chunk before.
            chunk(1, "收取手續費。Refunds before departure."),
            chunk(2, "| 票種 | 金額 |\n| --- | --- |\n| 全票 | 100 |"),
            // A table chunk that repeats its header: not a slice of the text.
            chunk(3, "| 票種 | 金額 |\n| --- | --- |\n| 半票 | 50 |"),
        ];
        let (answer, outcome) = round_trip(Outcome::from(parsed(text, chunks.clone())));
        let Answer::Parsed(wire) = answer else { panic!("refused") };
        let kinds: Vec<bool> =
            wire.chunks.iter().map(|c| matches!(c.text, ChunkText::Range { .. })).collect();
        assert_eq!(kinds, [true, true, true, false]);
        let Outcome::Parsed(back) = outcome else { panic!("refused") };
        assert_eq!(back.file, parsed(text, chunks));
        let found = |needle: &str| text.find(needle).map(|at| at as u64);
        assert_eq!(back.chunk_starts, [found("旅客"), found("收取"), found("| 票種"), None]);
    }

    #[test]
    fn the_chunks_after_a_long_table_are_still_found() {
        // Every table chunk after the first repeats the header, so is not in the text; the
        // prose after the table (past the search window of the first chunk) still is.
        let header = "| 站名 | 票價 |\n| --- | --- |";
        let rows: Vec<String> = (0..2_000).map(|n| format!("| 車站{n} | {n} 元 |")).collect();
        let mut chunks = Vec::new();
        for (k, group) in rows.chunks(50).enumerate() {
            chunks.push(chunk(k as u32, &format!("{header}\n{}", group.join("\n"))));
        }
        let prose = "表格之後的說明文字。";
        chunks.push(chunk(chunks.len() as u32, prose));
        let text = format!("{header}\n{}\n\n{prose}", rows.join("\n"));
        assert!(text.len() > 2 * CHUNK_SEARCH_SLACK);
        let (answer, outcome) = round_trip(Outcome::from(parsed(&text, chunks.clone())));
        let Answer::Parsed(wire) = answer else { panic!("refused") };
        assert!(matches!(wire.chunks[0].text, ChunkText::Range { start: 0, .. }));
        assert!(matches!(wire.chunks[1].text, ChunkText::Own(_)));
        assert!(matches!(wire.chunks.last().unwrap().text, ChunkText::Range { .. }));
        let Outcome::Parsed(back) = outcome else { panic!("refused") };
        assert_eq!(back.file.chunks, chunks);
    }

    #[test]
    fn a_refusal_crosses_unchanged() {
        let refused = Outcome::Refused { code: "empty".into(), message: "No text.".into() };
        let (_, back) = round_trip(refused);
        assert!(
            matches!(back, Outcome::Refused { code, message } if code == "empty" && message == "No text.")
        );
    }

    #[test]
    fn a_range_outside_the_text_or_inside_a_character_is_refused() {
        for (start, end) in [(0, 100), (1, 3), (3, 2)] {
            let answer = Answer::Parsed(WireFile {
                format: Format::Text,
                text: Utf8("退票".into()),
                pages: None,
                chunks: vec![WireChunk {
                    ordinal: 0,
                    text: ChunkText::Range { start, end },
                    page_number: None,
                    heading: None,
                }],
                encoding: None,
            });
            let bytes = postcard::to_allocvec(&answer).unwrap();
            let answer: Answer = postcard::from_bytes(&bytes).unwrap();
            assert!(answer.into_outcome().is_err(), "{start}..{end}");
        }
    }

    #[test]
    fn text_that_is_not_utf8_is_refused() {
        // What `Utf8` writes is a string's encoding; a frame with a bad byte in its place
        // (from a broken parser) must fail to decode, not make an invalid `String`.
        let mut bytes = postcard::to_allocvec(&Utf8("退票".into())).unwrap();
        bytes[2] = 0xFF;
        assert!(postcard::from_bytes::<Utf8>(&bytes).is_err());
        assert_eq!(postcard::from_bytes::<Utf8>(&bytes[..0]).ok().map(|u| u.0), None);
        let good = postcard::to_allocvec(&Utf8("退票".into())).unwrap();
        assert_eq!(postcard::from_bytes::<Utf8>(&good).unwrap().0, "退票");
    }

    #[test]
    fn a_chunk_far_from_the_last_goes_as_its_own_text() {
        // Past the search window: still right, only not a range.
        let filler = "填".repeat(CHUNK_SEARCH_SLACK);
        let text = format!("開頭一段。{filler}結尾一段。");
        let chunks = vec![chunk(0, "開頭一段。"), chunk(1, "結尾一段。")];
        let (answer, outcome) = round_trip(Outcome::from(parsed(&text, chunks.clone())));
        let Answer::Parsed(wire) = answer else { panic!("refused") };
        assert!(matches!(wire.chunks[1].text, ChunkText::Own(_)));
        let Outcome::Parsed(back) = outcome else { panic!("refused") };
        assert_eq!(back.file.chunks, chunks);
    }
}
