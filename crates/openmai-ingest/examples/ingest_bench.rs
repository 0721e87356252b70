//! Ingestion benchmark: ingests every file under a directory with `ingest_path` on N threads and
//! reports throughput (MB/s of input files, PDF pages/s, chunks/s), failures by code, wall
//! time and the process's peak resident memory (`VmHWM` from `/proc/self/status`).
//!
//! ```text
//! cargo run --release -p openmai-ingest --example ingest_bench -- DIR [--threads N]
//!     [--chunk-size 800] [--overlap 100] [--json]
//! ```
//!
//! Files are taken largest first from a shared queue, so threads finish together. Results are
//! dropped once counted, as the server does after storing them: peak memory reflects the
//! largest files in flight, not the corpus size. MB are 10^6 bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use openmai_ingest::{Format, IngestOptions, ingest_path};

#[derive(Default)]
struct FormatStats {
    files: usize,
    bytes: u64,
    pages: u64,
    chunks: u64,
    busy: Duration,
    slowest: Duration,
}

#[derive(Default)]
struct Stats {
    per_format: BTreeMap<String, FormatStats>,
    failed: BTreeMap<String, usize>,
    first_failures: Vec<String>,
    chars: u64,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir = None;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut options = IngestOptions::default();
    let mut json = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => threads = parse(args.next(), "--threads"),
            "--chunk-size" => options.chunk_size = parse(args.next(), "--chunk-size"),
            "--overlap" => options.chunk_overlap = parse(args.next(), "--overlap"),
            "--json" => json = true,
            _ if dir.is_none() => dir = Some(PathBuf::from(arg)),
            other => usage(&format!("unexpected argument {other}")),
        }
    }
    let Some(dir) = dir else { usage("no directory given") };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total_bytes: u64 = files.iter().map(|f| f.1).sum();
    eprintln!(
        "ingesting {} files, {:.1} MB, on {threads} threads (chunk size {}, overlap {})",
        files.len(),
        total_bytes as f64 / 1e6,
        options.chunk_size,
        options.chunk_overlap
    );

    let next = AtomicUsize::new(0);
    let stats = Mutex::new(Stats::default());
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                let mut local = Stats::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, size)) = files.get(i) else { break };
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
                    let t = Instant::now();
                    let result = ingest_path(path, &name, &options);
                    let took = t.elapsed();
                    let key = Format::from_extension(&ext)
                        .map_or_else(|| ext.clone(), |f| f.name().to_string());
                    let entry = local.per_format.entry(key).or_default();
                    entry.files += 1;
                    entry.bytes += size;
                    entry.busy += took;
                    entry.slowest = entry.slowest.max(took);
                    match result {
                        Ok(parsed) => {
                            entry.pages += u64::from(parsed.pages.unwrap_or(0));
                            entry.chunks += parsed.chunks.len() as u64;
                            local.chars += parsed.text.chars().count() as u64;
                        }
                        Err(e) => {
                            *local.failed.entry(e.code().to_string()).or_default() += 1;
                            if local.first_failures.len() < 5 {
                                local.first_failures.push(format!("{}: {e}", path.display()));
                            }
                        }
                    }
                }
                let mut all = stats.lock().unwrap_or_else(|p| p.into_inner());
                for (k, v) in local.per_format {
                    let e = all.per_format.entry(k).or_default();
                    e.files += v.files;
                    e.bytes += v.bytes;
                    e.pages += v.pages;
                    e.chunks += v.chunks;
                    e.busy += v.busy;
                    e.slowest = e.slowest.max(v.slowest);
                }
                for (k, v) in local.failed {
                    *all.failed.entry(k).or_default() += v;
                }
                all.first_failures.extend(local.first_failures);
                all.chars += local.chars;
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds();
    let stats = stats.into_inner().unwrap_or_else(|p| p.into_inner());
    let peak_rss_mib = peak_rss_kib() as f64 / 1024.0;
    let files_n: usize = stats.per_format.values().map(|s| s.files).sum();
    let chunks: u64 = stats.per_format.values().map(|s| s.chunks).sum();
    let pdf_pages = stats.per_format.get("PDF").map_or(0, |s| s.pages);
    let failed: usize = stats.failed.values().sum();
    let mbps = total_bytes as f64 / 1e6 / wall;

    println!(
        "files            {files_n} ({failed} failed{})",
        if stats.failed.is_empty() { String::new() } else { format!(": {:?}", stats.failed) }
    );
    println!("input            {:.1} MB", total_bytes as f64 / 1e6);
    println!(
        "wall time        {wall:.2} s on {threads} threads (CPU time {cpu:.2} s: {:.1} MB per CPU second)",
        total_bytes as f64 / 1e6 / cpu.max(1e-9)
    );
    println!("throughput       {mbps:.1} MB/s");
    println!("PDF pages        {pdf_pages} ({:.0} pages/s)", pdf_pages as f64 / wall);
    println!("chunks           {chunks} ({:.0} chunks/s)", chunks as f64 / wall);
    println!("text extracted   {:.1} M characters", stats.chars as f64 / 1e6);
    println!("peak RSS         {peak_rss_mib:.1} MiB (VmHWM)");
    println!("per format (MB/s per thread = bytes / time spent in that format's files):");
    for (name, s) in &stats.per_format {
        let busy = s.busy.as_secs_f64();
        println!(
            "  {name:<8} {:>5} files {:>8.1} MB {:>8.1} s busy {:>7.1} MB/s/thread {:>8} pages {:>8} chunks  slowest file {:.2} s",
            s.files,
            s.bytes as f64 / 1e6,
            busy,
            s.bytes as f64 / 1e6 / busy.max(1e-9),
            s.pages,
            s.chunks,
            s.slowest.as_secs_f64()
        );
    }
    for f in &stats.first_failures {
        println!("  failed: {f}");
    }
    if json {
        let per_format: serde_json::Map<String, serde_json::Value> = stats
            .per_format
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    serde_json::json!({
                        "files": s.files, "bytes": s.bytes, "pages": s.pages, "chunks": s.chunks,
                        "busy_s": s.busy.as_secs_f64(), "slowest_s": s.slowest.as_secs_f64(),
                    }),
                )
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "tool": "openmai-ingest", "threads": threads, "files": files_n, "failed": failed,
                "bytes": total_bytes, "wall_s": wall, "cpu_s": cpu, "mb_per_s": mbps, "pdf_pages": pdf_pages,
                "pdf_pages_per_s": pdf_pages as f64 / wall, "chunks": chunks,
                "chars": stats.chars, "peak_rss_mib": peak_rss_mib, "per_format": per_format,
            })
        );
    }
}

fn parse(value: Option<String>, flag: &str) -> usize {
    value.and_then(|v| v.parse().ok()).unwrap_or_else(|| usage(&format!("{flag} needs a number")))
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "{problem}\nusage: ingest_bench DIR [--threads N] [--chunk-size N] [--overlap N] [--json]"
    );
    std::process::exit(2);
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.metadata() {
            Ok(m) if m.is_dir() => walk(&path, out),
            Ok(m) if m.is_file() => out.push((path, m.len())),
            _ => {}
        }
    }
}

/// User + system CPU time of this process so far, in seconds (from /proc/self/stat, in clock
/// ticks of 1/100 s; 0 when unavailable). With other work on the machine, MB per CPU second is
/// steadier than MB per wall second.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name (which may contain spaces) start at field 3.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process, in KiB (0 when /proc is unavailable).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
