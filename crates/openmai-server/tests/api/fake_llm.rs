//! A fake OpenAI-compatible chat provider: a real HTTP server on 127.0.0.1 speaking
//! `/v1/chat/completions` with `stream: true` exactly as OpenAI does (SSE `data:` chunks, a
//! usage chunk, `data: [DONE]`). Each request takes the next scripted reply (or the default
//! answer), and every request body is kept for assertions.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use openmai_server::config::{ProviderConfig, ProviderKind};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

pub const MODEL: &str = "gpt-fake";
pub const VISION_MODEL: &str = "gpt-vision";

/// What the fake does with one request.
pub enum Script {
    /// Streams these pieces, then usage and `[DONE]`.
    Answer(Vec<String>),
    /// Answers with this status, body and `Retry-After`.
    Status(u16, Value, Option<&'static str>),
    /// Streams the first piece, then waits until the client goes away (see
    /// [`FakeLlm::hung_up`]).
    Hang(String),
}

#[derive(Clone, Default)]
struct Shared {
    script: Arc<Mutex<VecDeque<Script>>>,
    requests: Arc<Mutex<Vec<Value>>>,
    hung_up: Arc<Notify>,
}

pub struct FakeLlm {
    pub url: String,
    shared: Shared,
}

impl FakeLlm {
    pub async fn start() -> FakeLlm {
        let shared = Shared::default();
        let router = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        FakeLlm { url, shared }
    }

    /// The provider configuration pointing at this fake.
    pub fn provider(&self) -> ProviderConfig {
        ProviderConfig {
            name: "fake".into(),
            kind: ProviderKind::Openai,
            base_url: Some(self.url.parse().unwrap()),
            api_key: Some("sk-fake-key".to_owned().into()),
            api_key_env: None,
            chat_models: vec![MODEL.into(), VISION_MODEL.into()],
            embedding_models: vec![],
            reranker_models: vec![],
            vision_models: vec![VISION_MODEL.into()],
            context_tokens: 8192,
            max_concurrent_requests: None,
            http2_prior_knowledge: false,
        }
    }

    pub fn then(&self, script: Script) -> &Self {
        self.shared.script.lock().unwrap().push_back(script);
        self
    }

    /// The request bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Resolves when a [`Script::Hang`] answer's client has gone away.
    pub async fn hung_up(&self) {
        self.shared.hung_up.notified().await;
    }
}

fn chunk(content: &str) -> String {
    let chunk = json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]
    });
    format!("data: {chunk}\n\n")
}

fn ending() -> String {
    let stop = json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    });
    let usage = json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [], "usage": {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}
    });
    format!("data: {stop}\n\ndata: {usage}\n\ndata: [DONE]\n\n")
}

/// Signals the test when the body is dropped: the server dropped it because its client left.
struct HangUp(Arc<Notify>);

impl Drop for HangUp {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

async fn completions(State(shared): State<Shared>, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.requests.lock().unwrap().push(request);
    let script = shared.script.lock().unwrap().pop_front();
    let script = script
        .unwrap_or_else(|| Script::Answer(vec!["Fake ".into(), "answer ".into(), "[1].".into()]));
    let sse = |body: Body| {
        let mut response = (StatusCode::OK, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        response
    };
    match script {
        Script::Answer(pieces) => {
            let mut text: String = pieces.iter().map(|p| chunk(p)).collect();
            text.push_str(&ending());
            sse(Body::from(text))
        }
        Script::Status(status, body, retry_after) => {
            let mut response =
                (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
            }
            response
        }
        Script::Hang(first) => {
            let (tx, mut rx) = mpsc::channel::<Result<Bytes, Infallible>>(1);
            let guard = HangUp(shared.hung_up.clone());
            tokio::spawn(async move {
                let _ = tx.send(Ok(Bytes::from(chunk(&first)))).await;
                // Keeps the stream open until the client side is gone.
                tx.closed().await;
            });
            let stream = futures::stream::poll_fn(move |cx| {
                let _keep = &guard;
                rx.poll_recv(cx)
            });
            sse(Body::from_stream(stream))
        }
    }
}
