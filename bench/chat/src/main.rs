//! The completions benchmark's parts, as subcommands (see run.sh, which runs them all):
//!
//! - `fake PORT`: an OpenAI-compatible provider speaking `/chat/completions` with
//!   `stream: true` under three prefixes: `/instant/v1` answers at once (20 pieces, usage,
//!   `[DONE]`), `/delay/v1` waits DELAY_MS (100) before the same answer, `/trickle/v1` sends a
//!   piece every second for TRICKLE_SECONDS (600), to hold streams open. HTTP/1.1 and h2c.
//! - `load URL KEY CHATBOT CONCURRENCY SECONDS`: that many clients asking the assistant in a
//!   loop (streamed completions, new conversation each time); prints completions/s and the
//!   time to the first event and to the last, p50/p99.
//! - `direct URL CONCURRENCY SECONDS`: the same load against the fake provider itself, the
//!   baseline for OpenMai's own share of the time to first token.
//! - `streams URL KEY CHATBOT COUNT PID`: opens COUNT streamed completions at once, waits
//!   until each has its first event, then reads the server's (PID) resident memory.
//!
//! Every result is one line of JSON.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fake") => fake(args[1].parse().unwrap()).await,
        Some("load") => {
            let result = load(
                Target::OpenMai { url: args[1].clone(), key: args[2].clone(), chatbot: args[3].clone() },
                args[4].parse().unwrap(),
                Duration::from_secs(args[5].parse().unwrap()),
            )
            .await;
            println!("{result}");
        }
        Some("direct") => {
            let result = load(
                Target::Provider { url: args[1].clone() },
                args[2].parse().unwrap(),
                Duration::from_secs(args[3].parse().unwrap()),
            )
            .await;
            println!("{result}");
        }
        Some("streams") => {
            let result = streams(&args[1], &args[2], &args[3], args[4].parse().unwrap(), args[5].parse().unwrap()).await;
            println!("{result}");
        }
        _ => {
            eprintln!("usage: chat-bench fake|load|direct|streams …");
            std::process::exit(2);
        }
    }
}

// The fake provider.

fn chunk(content: &str) -> String {
    let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]});
    format!("data: {chunk}\n\n")
}

fn ending() -> String {
    let stop = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    let usage = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}});
    format!("data: {stop}\n\ndata: {usage}\n\ndata: [DONE]\n\n")
}

fn answer() -> String {
    let mut body: String = (0..20).map(|i| chunk(&format!("token{i} "))).collect();
    body.push_str(&ending());
    body
}

fn sse(body: Body) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response
}

async fn fake(port: u16) {
    let delay = Duration::from_millis(env("DELAY_MS", 100));
    let trickle = env("TRICKLE_SECONDS", 600);
    let answer = Bytes::from(answer());
    let instant = {
        let answer = answer.clone();
        move || {
            let answer = answer.clone();
            async move { sse(Body::from(answer)) }
        }
    };
    // The first piece carries when the request arrived and when the piece left
    // (`@<µs>,<µs>@`, microseconds since the epoch), so the client can tell the provider's own
    // time from everything else on the way.
    let delayed = move || async move {
        let arrived = now_us();
        tokio::time::sleep(delay).await;
        let mut body = chunk(&format!("@{arrived},{}@ ", now_us()));
        body.push_str(&self::answer());
        sse(Body::from(body))
    };
    let trickling = move || async move {
        let pieces = futures::stream::unfold(0u64, move |n| async move {
            if n > trickle {
                return None;
            }
            if n > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let piece = if n == trickle { ending() } else { chunk("tick ") };
            Some((Ok::<_, std::convert::Infallible>(Bytes::from(piece)), n + 1))
        });
        sse(Body::from_stream(pieces))
    };
    let router = Router::new()
        .route("/instant/v1/chat/completions", post(instant))
        .route("/delay/v1/chat/completions", post(delayed))
        .route("/trickle/v1/chat/completions", post(trickling));
    // Served by hand rather than by axum::serve, to let one HTTP/2 connection carry every
    // stream (hyper's default allows 200 at once; OpenMai's client then queues the rest).
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    loop {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = tcp.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let mut builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            builder.http2().max_concurrent_streams(1_000_000);
            let _ = builder.serve_connection(hyper_util::rt::TokioIo::new(tcp), service).await;
        });
    }
}

fn now_us() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64
}

/// `(arrived, left)` from a first piece marked by the `/delay` provider.
fn provider_marks(text: &str) -> Option<(u64, u64)> {
    let start = text.find('@')? + 1;
    let end = start + text[start..].find('@')?;
    let (arrived, left) = text[start..end].split_once(',')?;
    Some((arrived.parse().ok()?, left.parse().ok()?))
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

// Load.

#[derive(Clone)]
enum Target {
    OpenMai { url: String, key: String, chatbot: String },
    Provider { url: String },
}

impl Target {
    fn request(&self, client: &reqwest::Client) -> reqwest::RequestBuilder {
        match self {
            Target::OpenMai { url, key, chatbot } => client
                .post(format!("{url}/api/v1/chatbots/{chatbot}/completions/"))
                .header("Authorization", format!("Api-Key {key}"))
                .json(&json!({"conversation": null, "message": {"content": "退票規定是什麼？"}, "isStreaming": true})),
            Target::Provider { url } => client.post(format!("{url}/chat/completions")).json(&json!({
                "model": "m", "stream": true, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": "退票規定是什麼？"}]})),
        }
    }
}

/// One streamed request: time to the first body bytes (the first event), to the end, and —
/// against the `/delay` provider — the time spent outside the provider before its first
/// token reached us (sending the request to it, plus bringing its first piece back).
async fn once(
    client: &reqwest::Client,
    target: &Target,
) -> Result<(Duration, Duration, Option<u64>), String> {
    let sent = now_us();
    let started = Instant::now();
    let response = target.request(client).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("{} {}", response.status(), response.text().await.unwrap_or_default()));
    }
    let mut body = response.bytes_stream();
    let mut first = None;
    let mut outside = None;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if first.is_none() && chunk.starts_with(b"data: ") {
            first = Some(started.elapsed());
            let received = now_us();
            if let Some((arrived, left)) = provider_marks(&String::from_utf8_lossy(&chunk)) {
                outside = Some(arrived.saturating_sub(sent) + received.saturating_sub(left));
            }
        }
    }
    Ok((first.ok_or("no event")?, started.elapsed(), outside))
}

async fn load(target: Target, concurrency: usize, duration: Duration) -> Value {
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().unwrap();
    // Warm up: connections, caches, the allocator.
    for _ in 0..concurrency.min(32) {
        let _ = once(&client, &target).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, target, stop, errors) = (client.clone(), target.clone(), stop.clone(), errors.clone());
            tokio::spawn(async move {
                let mut first = Histogram::<u64>::new(3).unwrap();
                let mut total = Histogram::<u64>::new(3).unwrap();
                let mut outside = Histogram::<u64>::new(3).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    match once(&client, &target).await {
                        Ok((f, t, o)) => {
                            first.record(f.as_micros() as u64).unwrap();
                            total.record(t.as_micros() as u64).unwrap();
                            if let Some(o) = o {
                                outside.record(o).unwrap();
                            }
                        }
                        Err(err) => {
                            if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("first error: {err}");
                            }
                        }
                    }
                }
                (first, total, outside)
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut first = Histogram::<u64>::new(3).unwrap();
    let mut total = Histogram::<u64>::new(3).unwrap();
    let mut outside = Histogram::<u64>::new(3).unwrap();
    for worker in workers {
        let (f, t, o) = worker.await.unwrap();
        first.add(f).unwrap();
        total.add(t).unwrap();
        outside.add(o).unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ms = |h: &Histogram<u64>, q: f64| (h.value_at_quantile(q) as f64 / 1000.0 * 100.0).round() / 100.0;
    json!({
        "concurrency": concurrency,
        "completions": first.len(),
        "completions_per_s": (first.len() as f64 / elapsed).round(),
        "first_event_ms": {"p50": ms(&first, 0.5), "p99": ms(&first, 0.99), "max": ms(&first, 1.0)},
        "whole_answer_ms": {"p50": ms(&total, 0.5), "p99": ms(&total, 0.99)},
        "outside_provider_ms": if outside.is_empty() { Value::Null } else {
            json!({"p50": ms(&outside, 0.5), "p99": ms(&outside, 0.99), "max": ms(&outside, 1.0)})
        },
        "errors": errors.load(Ordering::Relaxed),
    })
}

// Streams held open.

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

async fn streams(url: &str, key: &str, chatbot: &str, count: usize, pid: u32) -> Value {
    let target = Target::OpenMai { url: url.into(), key: key.into(), chatbot: chatbot.into() };
    // One connection per stream, as browsers and the example clients make them.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let before = rss_kib(pid);
    let (opened_tx, mut opened) = tokio::sync::mpsc::unbounded_channel::<Result<(), String>>();
    let release = Arc::new(tokio::sync::Notify::new());
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(500));
    let mut holders = Vec::with_capacity(count);
    for _ in 0..count {
        let (client, target, opened_tx, release, gate) =
            (client.clone(), target.clone(), opened_tx.clone(), release.clone(), gate.clone());
        holders.push(tokio::spawn(async move {
            // At most 500 being opened at once: a burst of 10,000 SYNs overflows the backlog.
            let permit = gate.acquire_owned().await.unwrap();
            let response = match target.request(&client).send().await {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => return opened_tx.send(Err(r.status().to_string())).unwrap_or(()),
                Err(e) => return opened_tx.send(Err(e.to_string())).unwrap_or(()),
            };
            let mut body = response.bytes_stream();
            match body.next().await {
                Some(Ok(_)) => {
                    drop(permit);
                    let _ = opened_tx.send(Ok(()));
                    release.notified().await;
                }
                other => {
                    let _ = opened_tx.send(Err(format!("{other:?}")));
                }
            }
        }));
    }
    let (mut open, mut failed) = (0usize, 0usize);
    while open + failed < count {
        match opened.recv().await.unwrap() {
            Ok(()) => open += 1,
            Err(err) => {
                if failed == 0 {
                    eprintln!("first failure: {err}");
                }
                failed += 1;
            }
        }
    }
    let ramp = started.elapsed();
    // Let the server settle (freed buffers, finished writes) before reading its memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = rss_kib(pid);
    release.notify_waiters();
    for holder in holders {
        holder.abort();
    }
    json!({
        "streams_open": open,
        "failed": failed,
        "opening_seconds": (ramp.as_secs_f64() * 10.0).round() / 10.0,
        "server_rss_before_mib": (before as f64 / 1024.0 * 10.0).round() / 10.0,
        "server_rss_with_streams_mib": (during as f64 / 1024.0 * 10.0).round() / 10.0,
        "kib_per_stream": ((during.saturating_sub(before)) as f64 / open.max(1) as f64 * 10.0).round() / 10.0,
    })
}
