//! The model clients against real HTTP fakes: small axum servers on 127.0.0.1 speaking each
//! provider's wire format, so everything from socket to JSON is exercised. Back-off tests run
//! on tokio's paused clock, which jumps ahead whenever every task waits on a timer, so they
//! take no real time while still checking how long the client waited.
//!
//! The chat adapters' tests live in `providers/chat.rs`, a module of this binary (one test
//! binary links faster than two).

#[path = "providers/chat.rs"]
mod chat;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt as _;
use openmai_models::{
    ClientOptions, EmbedKind, Embedder, ModelError, OpenAiEmbedder, ProviderKind, ProviderSettings,
    Ranked, build_embedder, build_reranker,
};
use openmai_types::{Code, ErrorCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use url::Url;

const KEY: &str = "sk-test-8c1f0e7d2b";

/// Starts `router` on an ephemeral loopback port in the current runtime; returns its base URL.
///
/// With `TCP_NODELAY`, like real servers: otherwise Nagle's algorithm and the client's delayed
/// ACK hold a streamed answer's small writes on a reused connection for 40 ms, and on the
/// paused clock that idle moment lets time jump to the client's next timeout.
async fn serve(router: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = listener.tap_io(|tcp| tcp.set_nodelay(true).unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Url::parse(&format!("http://{addr}/v1")).unwrap()
}

fn provider(base_url: Url) -> ProviderSettings {
    ProviderSettings::new("fake", ProviderKind::OpenAi).with_base_url(base_url).with_api_key(KEY)
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i}")).collect()
}

/// The fake's embedding of "t{i}": [1, i]. After normalisation, i = v[1] / v[0].
fn vector_for(text: &str) -> Vec<f32> {
    let n: f32 = text.trim_start_matches('t').parse().unwrap();
    vec![1.0, n]
}

fn decode(vector: &[f32]) -> usize {
    (vector[1] / vector[0]).round() as usize
}

fn inputs(body: &Value) -> Vec<String> {
    body["input"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

/// An OpenAI `/embeddings` success for `body`, with `data` in reverse order (clients must
/// place entries by `index`, not position).
fn embeddings_reply(body: &Value) -> Response {
    let data: Vec<Value> = inputs(body)
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": vector_for(t)}))
        .collect();
    let usage = json!({"prompt_tokens": data.len(), "total_tokens": data.len()});
    Json(json!({"object": "list", "data": data, "model": body["model"], "usage": usage}))
        .into_response()
}

/// A fake whose first answers are scripted; after the script, it answers successfully.
#[derive(Clone, Default)]
struct Scripted {
    script: Arc<Mutex<VecDeque<Response>>>,
    calls: Arc<AtomicUsize>,
}

impl Scripted {
    fn new(script: impl IntoIterator<Item = Response>) -> Self {
        Scripted {
            script: Arc::new(Mutex::new(script.into_iter().collect())),
            ..Default::default()
        }
    }

    async fn start(&self) -> Url {
        let fake = self.clone();
        serve(Router::new().route(
            "/v1/embeddings",
            post(move |Json(body): Json<Value>| {
                let fake = fake.clone();
                async move {
                    fake.calls.fetch_add(1, Ordering::SeqCst);
                    let next = fake.script.lock().unwrap().pop_front();
                    next.unwrap_or_else(|| embeddings_reply(&body))
                }
            }),
        ))
        .await
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn status(code: u16, body: Value) -> Response {
    (StatusCode::from_u16(code).unwrap(), Json(body)).into_response()
}

fn retries(max_retries: u32) -> ClientOptions {
    ClientOptions { max_retries, ..ClientOptions::default() }
}

#[tokio::test(start_paused = true)]
async fn batches_run_concurrently_and_results_keep_input_order() {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let recorded = batches.clone();
    let base = serve(Router::new().route(
        "/v1/embeddings",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let recorded = recorded.clone();
            async move {
                assert_eq!(headers["authorization"], format!("Bearer {KEY}"));
                assert_eq!(headers["content-type"], "application/json");
                assert_eq!(body["model"], "text-embedding-3-small");
                assert_eq!(body["encoding_format"], "float");
                let input = inputs(&body);
                recorded.lock().unwrap().push(input.len());
                // The first batch answers last, the last first.
                let first = decode(&vector_for(&input[0]));
                tokio::time::sleep(Duration::from_millis(300 - first as u64)).await;
                embeddings_reply(&body)
            }
        }),
    ))
    .await;
    let embedder =
        build_embedder(&provider(base), "text-embedding-3-small", ClientOptions::default())
            .unwrap();
    assert_eq!(embedder.dimensions(), None);

    let vectors = embedder.embed(&texts(150), EmbedKind::Document).await.unwrap();

    let mut sizes = batches.lock().unwrap().clone();
    sizes.sort();
    assert_eq!(sizes, vec![22, 64, 64], "150 texts in batches of 64 make three calls");
    assert_eq!(vectors.len(), 150);
    for (i, v) in vectors.iter().enumerate() {
        assert_eq!(decode(v), i, "vector {i} is out of place");
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "vector {i} is not unit length: {norm}");
    }
    assert_eq!(embedder.dimensions(), Some(2));
}

#[tokio::test(start_paused = true)]
async fn no_more_requests_in_flight_than_the_concurrency_limit() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let (f, p, c) = (in_flight.clone(), peak.clone(), calls.clone());
    let base = serve(Router::new().route(
        "/v1/embeddings",
        post(move |Json(body): Json<Value>| {
            let (f, p, c) = (f.clone(), p.clone(), c.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                f.fetch_sub(1, Ordering::SeqCst);
                embeddings_reply(&body)
            }
        }),
    ))
    .await;
    let options = ClientOptions { batch_size: 2, concurrency: 3, ..ClientOptions::default() };
    let embedder = build_embedder(&provider(base), "m", options).unwrap();

    // Two callers share the client's limit.
    let all = texts(40);
    let (a, b) = tokio::join!(
        embedder.embed(&all[..20], EmbedKind::Document),
        embedder.embed(&all[20..], EmbedKind::Query)
    );
    assert_eq!(a.unwrap().len(), 20);
    assert_eq!(decode(&b.unwrap()[0]), 20);
    assert_eq!(calls.load(Ordering::SeqCst), 20);
    assert_eq!(peak.load(Ordering::SeqCst), 3, "the limit is reached and never passed");
}

#[tokio::test(start_paused = true)]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let limited = (
        StatusCode::TOO_MANY_REQUESTS,
        [("retry-after", "7")],
        Json(json!({"error": {"message": "Rate limit reached", "type": "requests"}})),
    );
    let fake = Scripted::new([limited.into_response()]);
    let embedder = build_embedder(&provider(fake.start().await), "m", retries(4)).unwrap();

    let started = Instant::now();
    let vectors = embedder.embed(&texts(3), EmbedKind::Query).await.unwrap();
    let waited = started.elapsed();

    assert_eq!(vectors.len(), 3);
    assert_eq!(fake.calls(), 2);
    // Retry-After plus at most 10% jitter, not the 500 ms back-off.
    assert!(waited >= Duration::from_secs(7), "{waited:?}");
    assert!(waited <= Duration::from_millis(7_800), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_503_is_honoured_too() {
    let busy = (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "4")], "model is loading");
    let fake = Scripted::new([busy.into_response()]);
    let embedder = build_embedder(&provider(fake.start().await), "m", retries(1)).unwrap();

    let started = Instant::now();
    embedder.embed(&texts(1), EmbedKind::Document).await.unwrap();
    let waited = started.elapsed();

    assert_eq!(fake.calls(), 2);
    assert!(waited >= Duration::from_secs(4), "{waited:?}");
    assert!(waited <= Duration::from_millis(4_400), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_with_back_off() {
    let fake = Scripted::new([
        status(500, json!({"error": {"message": "internal"}})),
        status(502, json!({"error": "bad gateway"})),
        (StatusCode::SERVICE_UNAVAILABLE, "upstream overloaded").into_response(),
    ]);
    let embedder = build_embedder(&provider(fake.start().await), "m", retries(4)).unwrap();

    let started = Instant::now();
    let vectors = embedder.embed(&texts(2), EmbedKind::Document).await.unwrap();
    let waited = started.elapsed();

    assert_eq!(vectors.len(), 2);
    assert_eq!(fake.calls(), 4);
    // Equal jitter: each wait is between half and all of 500 ms, 1 s, 2 s.
    assert!(waited >= Duration::from_millis(1_750), "{waited:?}");
    assert!(waited <= Duration::from_millis(3_500), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn persistent_server_errors_give_up_after_max_retries() {
    let fake = Scripted::new((0..10).map(|_| status(500, json!({"error": {"message": "boom"}}))));
    let embedder = build_embedder(&provider(fake.start().await), "m", retries(3)).unwrap();

    let err = embedder.embed(&texts(1), EmbedKind::Document).await.unwrap_err();

    assert_eq!(fake.calls(), 4, "one attempt plus three retries");
    assert!(matches!(err, ModelError::Unavailable { .. }), "{err:?}");
    assert_eq!(err.error_code(), Code::ProviderUnavailable);
    assert_eq!(err.error_code().status(), StatusCode::BAD_GATEWAY);
    assert_eq!(
        err.to_string(),
        "The embedding provider (fake, m) is unavailable: HTTP 500 boom, after 4 attempts."
    );
    assert!(err.is_transient());
}

#[tokio::test(start_paused = true)]
async fn unauthorized_is_rejected_at_once_and_the_key_never_shows() {
    // Like OpenAI, the fake echoes the key it was given; the error must not.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let base = serve(Router::new().route(
        "/v1/embeddings",
        post(move |headers: HeaderMap| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let auth = headers["authorization"].to_str().unwrap().to_owned();
                assert_eq!(auth, format!("Bearer {KEY}"));
                let key = auth.trim_start_matches("Bearer ");
                let message = format!("Incorrect API key provided: {key}.");
                status(401, json!({"error": {"message": message, "code": "invalid_api_key"}}))
            }
        }),
    ))
    .await;
    let embedder = build_embedder(&provider(base), "text-embedding-3-small", retries(4)).unwrap();

    let err = embedder.embed(&texts(2), EmbedKind::Document).await.unwrap_err();

    assert_eq!(calls.load(Ordering::SeqCst), 1, "4xx is not retried");
    assert!(matches!(err, ModelError::Rejected { status: 401, .. }), "{err:?}");
    assert_eq!(err.error_code(), Code::ProviderRejected);
    assert_eq!(
        err.to_string(),
        "The embedding provider (fake, text-embedding-3-small) refused the request: \
         401 Incorrect API key provided: [redacted]."
    );
    assert!(!format!("{err:?}").contains(KEY));
    let client =
        OpenAiEmbedder::new(&provider(Url::parse("http://127.0.0.1:9").unwrap()), "m", retries(0));
    assert!(!format!("{:?}", client.unwrap()).contains(KEY));
    assert!(!err.is_transient());
}

#[tokio::test(start_paused = true)]
async fn a_silent_provider_times_out() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let base = serve(Router::new().route(
        "/v1/embeddings",
        post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<&'static str>()
        }),
    ))
    .await;
    let options =
        ClientOptions { timeout: Duration::from_secs(5), max_retries: 1, ..Default::default() };
    let embedder = build_embedder(&provider(base), "m", options).unwrap();

    let started = Instant::now();
    let err = embedder.embed(&texts(1), EmbedKind::Query).await.unwrap_err();
    let waited = started.elapsed();

    assert!(matches!(err, ModelError::Timeout { .. }), "{err:?}");
    assert_eq!(err.error_code(), Code::ProviderTimeout);
    assert_eq!(err.error_code().status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(err.to_string(), "The embedding provider (fake, m) did not answer within 5 s.");
    assert_eq!(calls.load(Ordering::SeqCst), 2, "a timed-out attempt is retried");
    assert!(waited >= Duration::from_secs(10) && waited < Duration::from_secs(11), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn malformed_json_is_an_invalid_response_and_not_retried() {
    let garbage = ([("content-type", "application/json")], "{\"data\": [").into_response();
    let fake = Scripted::new([garbage]);
    let embedder = build_embedder(&provider(fake.start().await), "m", retries(4)).unwrap();

    let err = embedder.embed(&texts(1), EmbedKind::Document).await.unwrap_err();

    assert_eq!(fake.calls(), 1);
    assert!(matches!(err, ModelError::InvalidResponse { .. }), "{err:?}");
    assert_eq!(err.error_code(), Code::ProviderInvalidResponse);
    assert!(err.to_string().contains("is not an embeddings response"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn wrong_counts_and_non_finite_numbers_are_invalid() {
    let fake = Scripted::new([
        Json(json!({"data": [{"index": 0, "embedding": [1.0, 2.0]}]})).into_response(),
        Json(json!({"data": [{"index": 0, "embedding": [1e39, 2.0]}]})).into_response(),
        Json(json!({"data": [{"index": 1, "embedding": [1.0]}]})).into_response(),
    ]);
    let embedder = build_embedder(&provider(fake.start().await), "m", retries(4)).unwrap();

    let err = embedder.embed(&texts(2), EmbedKind::Document).await.unwrap_err();
    assert!(err.to_string().contains("expected 2 embeddings, got 1"), "{err}");
    let err = embedder.embed(&texts(1), EmbedKind::Document).await.unwrap_err();
    assert!(err.to_string().contains("non-finite"), "{err}");
    let err = embedder.embed(&texts(1), EmbedKind::Document).await.unwrap_err();
    assert!(err.to_string().contains("index 1 is out of range"), "{err}");
    assert_eq!(fake.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn dimensions_must_stay_the_same() {
    let fake = Scripted::new([
        // Inconsistent within one response.
        Json(json!({"data": [
            {"index": 0, "embedding": [1.0, 0.0]},
            {"index": 1, "embedding": [1.0]},
        ]}))
        .into_response(),
        // Learned from a good response: 3.
        Json(json!({"data": [{"index": 0, "embedding": [1.0, 2.0, 2.0]}]})).into_response(),
        // A later response of another length (the server swapped models).
        Json(json!({"data": [{"index": 0, "embedding": [1.0, 0.0]}]})).into_response(),
    ]);
    let embedder = build_embedder(&provider(fake.start().await), "m", retries(0)).unwrap();

    let err = embedder.embed(&texts(2), EmbedKind::Document).await.unwrap_err();
    assert!(err.to_string().contains("embedding 1 has 1 dimensions, embedding 0 has 2"), "{err}");
    assert_eq!(embedder.dimensions(), None);

    let ok = embedder.embed(&texts(1), EmbedKind::Document).await.unwrap();
    assert_eq!(ok, vec![vec![1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]]);
    assert_eq!(embedder.dimensions(), Some(3));

    let err = embedder.embed(&texts(1), EmbedKind::Document).await.unwrap_err();
    assert!(matches!(err, ModelError::InvalidResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("have 2 dimensions, but this model's have 3"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_call_closes_the_connection() {
    /// Reports when the server drops the handler, which hyper does when the client hangs up.
    struct Guard(mpsc::UnboundedSender<&'static str>);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.send("dropped");
        }
    }
    let (events, mut seen) = mpsc::unbounded_channel();
    let base = serve(Router::new().route(
        "/v1/embeddings",
        post(move || {
            let events = events.clone();
            async move {
                let _guard = Guard(events.clone());
                events.send("received").unwrap();
                std::future::pending::<()>().await;
            }
        }),
    ))
    .await;
    let embedder = build_embedder(&provider(base), "m", ClientOptions::default()).unwrap();

    let texts = texts(3);
    let call = embedder.embed(&texts, EmbedKind::Document);
    tokio::select! {
        result = call => panic!("the fake never answers, yet the call ended: {result:?}"),
        event = seen.recv() => assert_eq!(event, Some("received")),
    }
    // `call` is dropped here, mid-request.
    let event = tokio::time::timeout(Duration::from_secs(10), seen.recv()).await;
    assert_eq!(event.unwrap(), Some("dropped"), "the provider saw the connection close");
}

#[tokio::test(start_paused = true)]
async fn ollama_style_base_urls_work_with_and_without_a_slash_and_without_a_key() {
    let auth_seen = Arc::new(Mutex::new(Vec::new()));
    let seen = auth_seen.clone();
    let base = serve(Router::new().route(
        "/v1/embeddings",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            seen.lock().unwrap().push(headers.get("authorization").cloned());
            async move { embeddings_reply(&body) }
        }),
    ))
    .await;
    for base in [base.to_string(), format!("{base}/")] {
        assert!(base.ends_with("/v1") || base.ends_with("/v1/"), "{base}");
        let ollama = ProviderSettings::new("ollama", ProviderKind::OpenAi)
            .with_base_url(Url::parse(&base).unwrap());
        let embedder = build_embedder(&ollama, "bge-m3", ClientOptions::default()).unwrap();
        let vectors = embedder.embed(&texts(2), EmbedKind::Query).await.unwrap();
        assert_eq!(vectors.len(), 2);
    }
    let seen: Vec<Option<HeaderValue>> = auth_seen.lock().unwrap().clone();
    assert_eq!(seen, vec![None, None], "no key, no Authorization header");
}

#[tokio::test(start_paused = true)]
async fn prefixes_mark_queries_and_documents() {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let base = serve(Router::new().route(
        "/v1/embeddings",
        post(move |Json(body): Json<Value>| {
            log.lock().unwrap().extend(inputs(&body));
            let data: Vec<Value> = inputs(&body)
                .iter()
                .enumerate()
                .map(|(i, _)| json!({"index": i, "embedding": [1.0, 0.0]}))
                .collect();
            async move { Json(json!({"data": data})) }
        }),
    ))
    .await;
    let embedder = OpenAiEmbedder::new(&provider(base), "e5", retries(0))
        .unwrap()
        .with_prefixes("query: ", "passage: ");
    embedder.embed(&["a".to_owned()], EmbedKind::Query).await.unwrap();
    embedder.embed(&["b".to_owned()], EmbedKind::Document).await.unwrap();
    assert!(embedder.embed(&[], EmbedKind::Document).await.unwrap().is_empty());
    assert_eq!(*received.lock().unwrap(), vec!["query: a", "passage: b"]);
}

#[tokio::test(start_paused = true)]
async fn unreachable_provider_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = Url::parse(&format!("http://{addr}/v1")).unwrap();
    let embedder = build_embedder(&provider(base), "m", retries(2)).unwrap();

    let err = embedder.embed(&texts(1), EmbedKind::Document).await.unwrap_err();

    assert!(matches!(err, ModelError::Unavailable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("connection failed") && text.contains("after 3 attempts"), "{text}");
    assert!(!text.contains(KEY));
}

/// A Cohere/Jina-style `/rerank`: scores are the number of query words in each document.
async fn rerank_fake(calls: Arc<Mutex<Vec<Value>>>) -> Url {
    serve(Router::new().route(
        "/v1/rerank",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let calls = calls.clone();
            async move {
                assert_eq!(headers["authorization"], format!("Bearer {KEY}"));
                calls.lock().unwrap().push(body.clone());
                let query: Vec<&str> = body["query"].as_str().unwrap().split(' ').collect();
                // Answered in input order (not by score), with Jina's extra `document` field.
                let results: Vec<Value> = body["documents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .map(|(i, d)| {
                        let d = d.as_str().unwrap();
                        let score = query.iter().filter(|w| d.contains(*w)).count() as f32 / 4.0;
                        json!({"index": i, "relevance_score": score, "document": {"text": d}})
                    })
                    .collect();
                let usage = json!({"total_tokens": 9});
                Json(json!({"model": body["model"], "results": results, "usage": usage}))
            }
        }),
    ))
    .await
}

#[tokio::test(start_paused = true)]
async fn rerank_orders_best_first_and_keeps_top_n() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let base = rerank_fake(calls.clone()).await;
    let reranker =
        build_reranker(&provider(base), "jina-reranker-v2-base-multilingual", retries(0)).unwrap();
    let documents: Vec<String> =
        ["高鐵 退票", "台灣 高鐵 退票 規定", "天氣", "台灣 高鐵"].map(str::to_owned).to_vec();

    let ranked = reranker.rerank("台灣 高鐵 退票", &documents, 3).await.unwrap();
    assert_eq!(
        ranked,
        vec![
            Ranked { index: 1, score: 0.75 },
            Ranked { index: 0, score: 0.5 },
            Ranked { index: 3, score: 0.5 },
        ]
    );

    // top_n above the document count is clamped before sending (Cohere refuses it).
    let all = reranker.rerank("天氣", &documents, 10).await.unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].index, 2);

    // Nothing to rank, no call.
    assert!(reranker.rerank("q", &[], 5).await.unwrap().is_empty());
    assert!(reranker.rerank("q", &documents, 0).await.unwrap().is_empty());

    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["model"], "jina-reranker-v2-base-multilingual");
    assert_eq!(calls[0]["top_n"], 3);
    assert_eq!(calls[0]["documents"], json!(documents));
    assert_eq!(calls[1]["top_n"], 4);
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_fails_at_once_so_a_queue_can_reschedule() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let base = serve(Router::new().route(
        "/v1/rerank",
        post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            let body = Json(json!({"message": "You are using a Trial key, limited to 10 calls"}));
            async move { (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "3600")], body) }
        }),
    ))
    .await;
    let reranker = build_reranker(&provider(base), "rerank-v3.5", retries(4)).unwrap();

    let err = reranker.rerank("q", &["a".to_owned()], 1).await.unwrap_err();

    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert!(
        matches!(
            err,
            ModelError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(3600)
        ),
        "{err:?}"
    );
    assert_eq!(err.error_code(), Code::ProviderRateLimited);
    assert_eq!(
        err.to_string(),
        "The reranking provider (fake, rerank-v3.5) is rate limiting requests (You are using \
         a Trial key, limited to 10 calls); it asked to retry after 3600 s."
    );
}
