//! The chat adapters against fakes speaking each provider's real streaming format: OpenAI's
//! `data:` chunks ending in `[DONE]`, Anthropic's named events, Gemini's CRLF-separated
//! `alt=sse` chunks. Answers are cut into small byte pieces (splitting UTF-8 characters and
//! SSE lines) so the whole path from socket to [`ChatEvent`] is exercised.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::stream::{self, BoxStream, StreamExt};
use openmai_models::chat::{
    ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatStream, FinishReason, Part, Role, ToolCall,
    ToolSpec, Usage, complete,
};
use openmai_models::{
    ChatSettings, ClientOptions, ModelError, ProviderKind, ProviderSettings, build_chat_model,
};
use openmai_types::{Code, ErrorCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{KEY, serve};

const KINDS: [ProviderKind; 3] =
    [ProviderKind::OpenAi, ProviderKind::Anthropic, ProviderKind::Gemini];

/// A PNG signature: enough bytes to check the base64 the providers receive.
const IMAGE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
const IMAGE_BASE64: &str = "iVBORw0KGgo=";

fn model_name(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenAi => "gpt-4o-mini",
        ProviderKind::Anthropic => "claude-sonnet-4-5",
        ProviderKind::Gemini => "gemini-2.5-flash",
    }
}

/// What the fake was sent.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Value,
}

/// One scripted answer.
enum Reply {
    /// 200 with this body, sent in small pieces.
    Events(Vec<String>),
    /// 200 with these events, then silence on an open connection.
    Stall(Vec<String>),
    /// 200 with any body stream (endless, or failing half-way).
    Stream(BoxStream<'static, std::io::Result<Bytes>>),
    /// A failure status with an optional `Retry-After` (seconds) and a JSON body.
    Status(u16, Option<u64>, Value),
    /// A 200 with a JSON body: a gateway that ignored `stream: true`.
    Json(Value),
    /// No status line, ever.
    Silent,
}

/// The events cut into 13-byte pieces, splitting lines and multi-byte characters.
fn pieces(events: Vec<String>) -> BoxStream<'static, std::io::Result<Bytes>> {
    let bytes = events.concat().into_bytes();
    let pieces: Vec<_> = bytes.chunks(13).map(|piece| Ok(Bytes::copy_from_slice(piece))).collect();
    stream::iter(pieces).boxed()
}

#[derive(Clone)]
struct Fake {
    script: Arc<Mutex<VecDeque<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Fake {
    fn calls(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn request(&self, n: usize) -> Received {
        self.received.lock().unwrap()[n].clone()
    }

    async fn answer(
        &self,
        kind: ProviderKind,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        let body = serde_json::from_slice(&body).expect("the client sends JSON");
        let path = uri.path().to_owned();
        let query = uri.query().map(str::to_owned);
        self.received.lock().unwrap().push(Received { path, query, headers, body });
        let reply = self.script.lock().unwrap().pop_front();
        let sse = |body: BoxStream<'static, std::io::Result<Bytes>>| {
            let content_type = match kind {
                ProviderKind::Gemini => "text/event-stream",
                _ => "text/event-stream; charset=utf-8",
            };
            let body = Body::from_stream(body);
            ([("content-type", content_type), ("cache-control", "no-cache")], body).into_response()
        };
        match reply {
            Some(Reply::Events(events)) => sse(pieces(events)),
            Some(Reply::Stall(events)) => sse(pieces(events).chain(stream::pending()).boxed()),
            Some(Reply::Stream(body)) => sse(body),
            Some(Reply::Status(code, retry_after, body)) => {
                let mut response =
                    (StatusCode::from_u16(code).unwrap(), axum::Json(body)).into_response();
                if let Some(seconds) = retry_after {
                    response.headers_mut().insert("retry-after", seconds.into());
                }
                response
            }
            Some(Reply::Json(body)) => axum::Json(body).into_response(),
            Some(Reply::Silent) => std::future::pending().await,
            None => (StatusCode::IM_A_TEAPOT, "the fake has no more replies").into_response(),
        }
    }
}

/// Starts a fake `kind` provider answering with `script`, and a model client for it.
/// Gemini's base URL is its OpenAI-compatible one (`…/v1beta/openai`), as configured by
/// default, so the native adapter's stripping of `/openai` is exercised too.
async fn start(
    kind: ProviderKind,
    script: impl IntoIterator<Item = Reply>,
    options: ClientOptions,
    settings: ChatSettings,
) -> (Fake, Arc<dyn ChatModel>) {
    let fake = Fake {
        script: Arc::new(Mutex::new(script.into_iter().collect())),
        received: Arc::new(Mutex::new(Vec::new())),
    };
    let path = match kind {
        ProviderKind::OpenAi => "/v1/chat/completions",
        ProviderKind::Anthropic => "/v1/messages",
        ProviderKind::Gemini => "/v1beta/models/{action}",
    };
    let handler = fake.clone();
    let mut base = serve(Router::new().route(
        path,
        post(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let fake = handler.clone();
            async move { fake.answer(kind, uri, headers, body).await }
        }),
    ))
    .await;
    if kind == ProviderKind::Gemini {
        base.set_path("/v1beta/openai");
    }
    let provider = ProviderSettings::new("fake", kind).with_base_url(base).with_api_key(KEY);
    let model = build_chat_model(&provider, model_name(kind), options, settings).unwrap();
    (fake, model)
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest { messages: vec![ChatMessage::user(text)], ..ChatRequest::default() }
}

/// Every event up to the end, and the error that ended the stream, if one did. Checks that
/// nothing follows an error.
async fn drain(mut stream: ChatStream) -> (Vec<ChatEvent>, Option<ModelError>) {
    let mut events = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(event) => events.push(event),
            Err(err) => {
                assert!(stream.next().await.is_none(), "an error ends the stream");
                return (events, Some(err));
            }
        }
    }
    (events, None)
}

fn delta(text: &str) -> ChatEvent {
    ChatEvent::Delta(text.to_owned())
}

fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "Current weather in a city".into(),
        parameters: json!({
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
            "additionalProperties": false,
        }),
    }
}

// ---------------------------------------------------------------------------------------
// Wire formats

/// An OpenAI `chat.completion.chunk` event for choice 0.
fn openai_chunk(delta: Value, finish_reason: Option<&str>) -> String {
    let chunk = json!({
        "id": "chatcmpl-B9fQ2kOj1r2yOBNRpDhLzXPzUdj5S",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
        "usage": null,
    });
    format!("data: {chunk}\n\n")
}

/// The usage chunk `stream_options.include_usage` adds after the finish reason.
fn openai_usage(prompt: u64, completion: u64) -> String {
    let chunk = json!({
        "id": "chatcmpl-B9fQ2kOj1r2yOBNRpDhLzXPzUdj5S",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_06737a9306",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        },
    });
    format!("data: {chunk}\n\n")
}

const OPENAI_DONE: &str = "data: [DONE]\n\n";

fn anthropic(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

fn anthropic_start(input_tokens: u64) -> String {
    anthropic(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
            "content": [], "model": "claude-sonnet-4-5-20250929", "stop_reason": null,
            "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": 1, "service_tier": "standard"},
        }}),
    )
}

fn anthropic_text_start(index: usize) -> String {
    anthropic(
        "content_block_start",
        json!({"type": "content_block_start", "index": index,
            "content_block": {"type": "text", "text": ""}}),
    )
}

fn anthropic_text(index: usize, text: &str) -> String {
    anthropic(
        "content_block_delta",
        json!({"type": "content_block_delta", "index": index,
            "delta": {"type": "text_delta", "text": text}}),
    )
}

fn anthropic_block_stop(index: usize) -> String {
    anthropic("content_block_stop", json!({"type": "content_block_stop", "index": index}))
}

fn anthropic_end(stop_reason: &str, output_tokens: u64) -> Vec<String> {
    vec![
        anthropic(
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                "usage": {"output_tokens": output_tokens}}),
        ),
        anthropic("message_stop", json!({"type": "message_stop"})),
    ]
}

fn anthropic_ping() -> String {
    // Anthropic's own spacing.
    "event: ping\ndata: {\"type\": \"ping\"}\n\n".to_owned()
}

/// A Gemini `alt=sse` chunk: CRLF line ends, as Google sends them.
fn gemini(chunk: Value) -> String {
    format!("data: {chunk}\r\n\r\n")
}

fn gemini_text(text: &str, finish_reason: Option<&str>, output_tokens: u64) -> String {
    let mut candidate =
        json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
    if let Some(reason) = finish_reason {
        candidate["finishReason"] = json!(reason);
    }
    gemini(json!({
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": output_tokens,
            "totalTokenCount": 9 + output_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}]},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "mXRiaJ6YLNiWz7IPs4C9yQ4",
    }))
}

/// The events before any text.
fn preamble(kind: ProviderKind) -> Vec<String> {
    match kind {
        ProviderKind::OpenAi => {
            vec![openai_chunk(json!({"role": "assistant", "content": "", "refusal": null}), None)]
        }
        ProviderKind::Anthropic => {
            vec![anthropic_start(12), anthropic_text_start(0), anthropic_ping()]
        }
        ProviderKind::Gemini => vec![],
    }
}

fn text_event(kind: ProviderKind, text: &str) -> String {
    match kind {
        ProviderKind::OpenAi => openai_chunk(json!({"content": text}), None),
        ProviderKind::Anthropic => anthropic_text(0, text),
        ProviderKind::Gemini => gemini_text(text, None, 1),
    }
}

/// A whole, successful text answer in `kind`'s format.
fn text_answer(kind: ProviderKind, pieces: &[&str]) -> Vec<String> {
    let mut events = preamble(kind);
    match kind {
        ProviderKind::Gemini => {
            let (last, rest) = pieces.split_last().unwrap();
            events.extend(rest.iter().map(|text| gemini_text(text, None, 1)));
            events.push(gemini_text(last, Some("STOP"), pieces.len() as u64));
        }
        _ => events.extend(pieces.iter().map(|text| text_event(kind, text))),
    }
    match kind {
        ProviderKind::OpenAi => events.extend([
            openai_chunk(json!({}), Some("stop")),
            openai_usage(12, pieces.len() as u64),
            OPENAI_DONE.to_owned(),
        ]),
        ProviderKind::Anthropic => {
            events.push(anthropic_block_stop(0));
            events.extend(anthropic_end("end_turn", pieces.len() as u64));
        }
        ProviderKind::Gemini => {}
    }
    events
}

/// A provider's error body for `status`, echoing the key like real providers sometimes do.
fn error_body(kind: ProviderKind, status: u16, message: &str) -> Value {
    match kind {
        ProviderKind::OpenAi => {
            let kind = match status {
                401 => "invalid_request_error",
                429 => "requests",
                _ => "server_error",
            };
            json!({"error": {"message": message, "type": kind, "param": null, "code": null}})
        }
        ProviderKind::Anthropic => {
            let kind = match status {
                401 => "authentication_error",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": kind, "message": message},
                "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})
        }
        ProviderKind::Gemini => {
            let kind = match status {
                401 => "UNAUTHENTICATED",
                429 => "RESOURCE_EXHAUSTED",
                _ => "UNAVAILABLE",
            };
            json!({"error": {"code": status, "message": message, "status": kind}})
        }
    }
}

// ---------------------------------------------------------------------------------------
// OpenAI-compatible

#[tokio::test(start_paused = true)]
async fn openai_streams_text_usage_and_the_finish_reason() {
    let answer = text_answer(ProviderKind::OpenAi, &["Bonjour à tous", " — 你好", "!"]);
    let (fake, model) = start(
        ProviderKind::OpenAi,
        [Reply::Events(answer)],
        ClientOptions::chat(),
        ChatSettings::default(),
    )
    .await;
    let request = ChatRequest {
        system: Some("Answer briefly.".into()),
        messages: vec![ChatMessage::user("Say hello")],
        max_tokens: Some(256),
        temperature: Some(0.5),
        ..ChatRequest::default()
    };

    let (events, error) = drain(model.stream(request).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        events,
        vec![
            delta("Bonjour à tous"),
            delta(" — 你好"),
            delta("!"),
            ChatEvent::Usage(Usage { input_tokens: 12, output_tokens: 3 }),
            ChatEvent::Finish(FinishReason::Stop),
        ]
    );
    let sent = fake.request(0);
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(sent.headers["accept"], "text/event-stream");
    assert_eq!(
        sent.body,
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": "Say hello"},
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": 256,
            "temperature": 0.5,
        })
    );
    assert_eq!(model.context_tokens(), 8192);
    assert!(!model.accepts_images());
}

#[tokio::test(start_paused = true)]
async fn openai_sends_images_as_data_urls_only_to_models_that_take_them() {
    let answer = text_answer(ProviderKind::OpenAi, &["A PNG."]);
    let vision = ChatSettings { accepts_images: true, context_tokens: 128_000 };
    let (fake, model) =
        start(ProviderKind::OpenAi, [Reply::Events(answer)], ClientOptions::chat(), vision).await;
    let image = Part::Image { media_type: "image/png".into(), data: Arc::from(IMAGE) };
    let message = ChatMessage {
        role: Role::User,
        content: vec![Part::Text("What is this?".into()), image.clone()],
        tool_calls: Vec::new(),
        tool_call_id: None,
    };
    let request = ChatRequest { messages: vec![message], ..ChatRequest::default() };

    let completion = complete(model.as_ref(), request.clone()).await.unwrap();

    assert_eq!(completion.text, "A PNG.");
    assert_eq!(model.context_tokens(), 128_000);
    assert_eq!(
        fake.request(0).body["messages"][0]["content"],
        json!([
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{IMAGE_BASE64}")}},
        ])
    );

    // A text-only model refuses before calling.
    let (fake, text_only) =
        start(ProviderKind::OpenAi, [], ClientOptions::chat(), ChatSettings::default()).await;
    let err = text_only.stream(request).await.err().unwrap();
    assert!(matches!(err, ModelError::Unsupported { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "The language model provider (fake, gpt-4o-mini) cannot do this: this model is not \
         configured to accept images."
    );
    assert_eq!(fake.calls(), 0);
}

/// OpenAI's parallel tool calls: each call's id and name come first, then its arguments in
/// fragments, then the finish reason and usage.
fn openai_tool_answer() -> Vec<String> {
    let call = |index: usize, id: Option<&str>, name: Option<&str>, arguments: &str| {
        let mut call = json!({"index": index, "function": {"arguments": arguments}});
        if let Some(id) = id {
            call["id"] = json!(id);
            call["type"] = json!("function");
        }
        if let Some(name) = name {
            call["function"]["name"] = json!(name);
        }
        openai_chunk(json!({"tool_calls": [call]}), None)
    };
    let first = openai_chunk(
        json!({"role": "assistant", "content": null, "tool_calls": [{"index": 0,
            "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "type": "function",
            "function": {"name": "get_weather", "arguments": ""}}], "refusal": null}),
        None,
    );
    vec![
        first,
        call(0, None, None, "{\"lo"),
        call(0, None, None, "cation\": \"Par"),
        call(0, None, None, "is, France\"}"),
        call(1, Some("call_ABTHnS0VPGdUCOSQPAyfvj7S"), Some("get_weather"), ""),
        call(1, None, None, "{\"location\""),
        call(1, None, None, ": \"東京\"}"),
        openai_chunk(json!({}), Some("tool_calls")),
        openai_usage(80, 52),
        OPENAI_DONE.to_owned(),
    ]
}

#[tokio::test(start_paused = true)]
async fn openai_assembles_fragmented_parallel_tool_calls_and_round_trips_their_results() {
    let script = [
        Reply::Events(openai_tool_answer()),
        Reply::Events(text_answer(ProviderKind::OpenAi, &["Sunny in both."])),
    ];
    let (fake, model) =
        start(ProviderKind::OpenAi, script, ClientOptions::chat(), ChatSettings::default()).await;
    let mut request = ask("Weather in Paris and Tokyo?");
    request.tools = vec![weather_tool()];

    let (events, error) = drain(model.stream(request.clone()).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    let paris = ToolCall {
        id: "call_DdmO9pD3xa9XTPNJ32zg2hcA".into(),
        name: "get_weather".into(),
        arguments: "{\"location\": \"Paris, France\"}".into(),
    };
    let tokyo = ToolCall {
        id: "call_ABTHnS0VPGdUCOSQPAyfvj7S".into(),
        name: "get_weather".into(),
        arguments: "{\"location\": \"東京\"}".into(),
    };
    assert_eq!(
        events,
        vec![
            ChatEvent::ToolCall(paris.clone()),
            ChatEvent::ToolCall(tokyo.clone()),
            ChatEvent::Usage(Usage { input_tokens: 80, output_tokens: 52 }),
            ChatEvent::Finish(FinishReason::ToolCalls),
        ]
    );
    assert_eq!(
        fake.request(0).body["tools"],
        json!([{"type": "function", "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": weather_tool().parameters,
        }}])
    );

    // The next turn carries the calls and their results.
    request.messages.push(ChatMessage {
        role: Role::Assistant,
        content: Vec::new(),
        tool_calls: vec![paris.clone(), tokyo.clone()],
        tool_call_id: None,
    });
    request.messages.push(ChatMessage::tool_result(&paris.id, "18°C, sunny"));
    request.messages.push(ChatMessage::tool_result(&tokyo.id, "24°C, sunny"));
    let completion = complete(model.as_ref(), request).await.unwrap();

    assert_eq!(completion.text, "Sunny in both.");
    assert_eq!(
        fake.request(1).body["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris and Tokyo?"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": paris.id, "type": "function",
                    "function": {"name": "get_weather", "arguments": paris.arguments}},
                {"id": tokyo.id, "type": "function",
                    "function": {"name": "get_weather", "arguments": tokyo.arguments}},
            ]},
            {"role": "tool", "tool_call_id": paris.id, "content": "18°C, sunny"},
            {"role": "tool", "tool_call_id": tokyo.id, "content": "24°C, sunny"},
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn openai_compatible_servers_quirks_are_understood() {
    // Ollama: no usage (not asked for), an empty delta, `finish_reason` with the last text.
    let ollama = vec![
        openai_chunk(json!({"role": "assistant", "content": "Hi"}), None),
        openai_chunk(json!({"role": "assistant", "content": ""}), None),
        openai_chunk(json!({"role": "assistant", "content": " there"}), Some("stop")),
        OPENAI_DONE.to_owned(),
    ];
    // Gemini's OpenAI surface: a whole tool call without `index` and "stop" as the reason.
    let no_index = vec![
        openai_chunk(
            json!({"role": "assistant", "tool_calls": [{"id": "function-call-1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"location\":\"Oslo\"}"}}]}),
            Some("stop"),
        ),
        OPENAI_DONE.to_owned(),
    ];
    // A server that ends the body after the finish reason, without `[DONE]`, and a
    // parameterless call streamed with no arguments at all.
    let no_done = vec![
        openai_chunk(
            json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "now"}}]}),
            None,
        ),
        openai_chunk(json!({}), Some("tool_calls")),
    ];
    // A connection cut mid-answer: neither a finish reason nor `[DONE]`.
    let cut = vec![openai_chunk(json!({"content": "Once upon"}), None)];
    let script = [no_index, ollama, no_done, cut].map(Reply::Events);
    let (_fake, model) =
        start(ProviderKind::OpenAi, script, ClientOptions::chat(), ChatSettings::default()).await;

    let (events, error) = drain(model.stream(ask("q")).await.unwrap()).await;
    assert!(error.is_none(), "{error:?}");
    let oslo = ToolCall {
        id: "function-call-1".into(),
        name: "get_weather".into(),
        arguments: "{\"location\":\"Oslo\"}".into(),
    };
    assert_eq!(events, vec![ChatEvent::ToolCall(oslo), ChatEvent::Finish(FinishReason::ToolCalls)]);

    let (events, error) = drain(model.stream(ask("q")).await.unwrap()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(events, vec![delta("Hi"), delta(" there"), ChatEvent::Finish(FinishReason::Stop)]);

    let (events, error) = drain(model.stream(ask("q")).await.unwrap()).await;
    assert!(error.is_none(), "{error:?}");
    let now = ToolCall { id: "c1".into(), name: "now".into(), arguments: "{}".into() };
    assert_eq!(events, vec![ChatEvent::ToolCall(now), ChatEvent::Finish(FinishReason::ToolCalls)]);

    let (events, error) = drain(model.stream(ask("q")).await.unwrap()).await;
    assert_eq!(events, vec![delta("Once upon")]);
    let error = error.expect("a cut-off answer is an error");
    assert!(matches!(error, ModelError::Unavailable { .. }), "{error:?}");
    assert!(error.to_string().contains("ended before the answer was complete"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn openai_error_chunks_end_the_stream_and_json_bodies_are_refused() {
    let failing = vec![
        openai_chunk(json!({"role": "assistant", "content": "Partial"}), None),
        format!(
            "data: {}\n\n",
            json!({"error": {"message": "The server had an error while processing your \
                request. Sorry about that!", "type": "server_error", "param": null, "code": null}})
        ),
    ];
    let context = vec![format!(
        "data: {}\n\n",
        json!({"error": {"object": "error", "message": "This model's maximum context length \
            is 8192 tokens.", "type": "BadRequestError", "param": null, "code": 400}})
    )];
    let script = [
        Reply::Events(failing),
        Reply::Events(context),
        Reply::Json(json!({"id": "chatcmpl-1", "object": "chat.completion", "choices": []})),
    ];
    let (fake, model) =
        start(ProviderKind::OpenAi, script, ClientOptions::chat(), ChatSettings::default()).await;

    let (events, error) = drain(model.stream(ask("q")).await.unwrap()).await;
    assert_eq!(events, vec![delta("Partial")]);
    let error = error.unwrap();
    assert!(matches!(error, ModelError::Unavailable { .. }), "{error:?}");
    assert!(error.to_string().contains("The server had an error"), "{error}");

    // vLLM's in-stream error carries the status it stands for.
    let (_, error) = drain(model.stream(ask("q")).await.unwrap()).await;
    let error = error.unwrap();
    assert!(matches!(error, ModelError::Rejected { status: 400, .. }), "{error:?}");
    assert_eq!(error.origin().model, "gpt-4o-mini");

    // A gateway that ignored `stream: true`: not an event stream, and not retried.
    let error = model.stream(ask("q")).await.err().unwrap();
    assert!(matches!(error, ModelError::InvalidResponse { .. }), "{error:?}");
    assert!(error.to_string().contains("expected an event stream"), "{error}");
    assert_eq!(fake.calls(), 3);
}

// ---------------------------------------------------------------------------------------
// Anthropic

#[tokio::test(start_paused = true)]
async fn anthropic_streams_its_typed_events() {
    let mut answer = vec![anthropic_start(25), anthropic_text_start(0), anthropic_ping()];
    answer.push(anthropic_text(0, "Hello"));
    answer.push(anthropic_text(0, ", Ada!"));
    answer.push(anthropic_block_stop(0));
    answer.extend(anthropic_end("end_turn", 15));
    let vision = ChatSettings { accepts_images: true, context_tokens: 200_000 };
    let (fake, model) =
        start(ProviderKind::Anthropic, [Reply::Events(answer)], ClientOptions::chat(), vision)
            .await;
    let request = ChatRequest {
        system: Some("You are terse.".into()),
        messages: vec![ChatMessage {
            role: Role::User,
            content: vec![
                Part::Image { media_type: "image/png".into(), data: Arc::from(IMAGE) },
                Part::Text("Who drew this?".into()),
            ],
            tool_calls: Vec::new(),
            tool_call_id: None,
        }],
        ..ChatRequest::default()
    };

    let (events, error) = drain(model.stream(request).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        events,
        vec![
            delta("Hello"),
            delta(", Ada!"),
            ChatEvent::Usage(Usage { input_tokens: 25, output_tokens: 15 }),
            ChatEvent::Finish(FinishReason::Stop),
        ]
    );
    let sent = fake.request(0);
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.headers["x-api-key"], KEY);
    assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
    assert!(sent.headers.get("authorization").is_none());
    assert_eq!(
        sent.body,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "stream": true,
            "system": "You are terse.",
            "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                    "data": IMAGE_BASE64}},
                {"type": "text", "text": "Who drew this?"},
            ]}],
        })
    );
}

#[tokio::test(start_paused = true)]
async fn anthropic_tool_use_blocks_become_calls_and_results_go_back_in_a_user_turn() {
    let tool_use = |index: usize, id: &str| {
        anthropic(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block":
                {"type": "tool_use", "id": id, "name": "get_weather", "input": {}}}),
        )
    };
    let json_delta = |index: usize, partial: &str| {
        anthropic(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": partial}}),
        )
    };
    let mut answer = vec![anthropic_start(472), anthropic_text_start(0)];
    answer.push(anthropic_text(0, "Let me check both."));
    answer.push(anthropic_block_stop(0));
    answer.push(tool_use(1, "toolu_01T1x1fJ34qAmk2tNTrN7Up6"));
    answer.push(json_delta(1, ""));
    answer.push(json_delta(1, "{\"location\": \"San"));
    answer.push(json_delta(1, " Francisco, CA\"}"));
    answer.push(anthropic_block_stop(1));
    answer.push(tool_use(2, "toolu_01VhGxAnFQPQS6Gp3CTmcBnf"));
    answer.push(json_delta(2, "{\"location\":"));
    answer.push(json_delta(2, " \"Zürich\"}"));
    answer.push(anthropic_block_stop(2));
    answer.extend(anthropic_end("tool_use", 89));
    let script = [
        Reply::Events(answer),
        Reply::Events(text_answer(ProviderKind::Anthropic, &["Fog, then sun."])),
    ];
    let (fake, model) =
        start(ProviderKind::Anthropic, script, ClientOptions::chat(), ChatSettings::default())
            .await;
    let mut request = ask("Weather in SF and Zürich?");
    request.tools = vec![weather_tool()];
    request.max_tokens = Some(1024);

    let completion = complete(model.as_ref(), request.clone()).await.unwrap();

    let sf = ToolCall {
        id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
        name: "get_weather".into(),
        arguments: "{\"location\": \"San Francisco, CA\"}".into(),
    };
    let zurich = ToolCall {
        id: "toolu_01VhGxAnFQPQS6Gp3CTmcBnf".into(),
        name: "get_weather".into(),
        arguments: "{\"location\": \"Zürich\"}".into(),
    };
    assert_eq!(completion.text, "Let me check both.");
    assert_eq!(completion.tool_calls, vec![sf.clone(), zurich.clone()]);
    assert_eq!(completion.usage, Some(Usage { input_tokens: 472, output_tokens: 89 }));
    assert_eq!(completion.finish, Some(FinishReason::ToolCalls));
    let sent = fake.request(0).body;
    assert_eq!(sent["max_tokens"], 1024);
    assert_eq!(
        sent["tools"],
        json!([{"name": "get_weather", "description": "Current weather in a city",
            "input_schema": weather_tool().parameters}])
    );

    request.messages.push(ChatMessage {
        role: Role::Assistant,
        content: vec![Part::Text(completion.text)],
        tool_calls: completion.tool_calls,
        tool_call_id: None,
    });
    request.messages.push(ChatMessage::tool_result(&sf.id, "14°C, fog"));
    request.messages.push(ChatMessage::tool_result(&zurich.id, "9°C, sunny"));
    request.messages.push(ChatMessage::user("And tomorrow?"));
    let completion = complete(model.as_ref(), request).await.unwrap();

    assert_eq!(completion.text, "Fog, then sun.");
    assert_eq!(
        fake.request(1).body["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in SF and Zürich?"}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me check both."},
                {"type": "tool_use", "id": sf.id, "name": "get_weather",
                    "input": {"location": "San Francisco, CA"}},
                {"type": "tool_use", "id": zurich.id, "name": "get_weather",
                    "input": {"location": "Zürich"}},
            ]},
            // Tool results are user content, merged with the next user message.
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": sf.id,
                    "content": [{"type": "text", "text": "14°C, fog"}]},
                {"type": "tool_result", "tool_use_id": zurich.id,
                    "content": [{"type": "text", "text": "9°C, sunny"}]},
                {"type": "text", "text": "And tomorrow?"},
            ]},
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn anthropic_error_events_and_max_tokens() {
    let mut overloaded = vec![anthropic_start(10), anthropic_text_start(0)];
    overloaded.push(anthropic_text(0, "Thinking about"));
    overloaded.push(anthropic(
        "error",
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    let mut truncated = vec![anthropic_start(10), anthropic_text_start(0)];
    truncated.push(anthropic_text(0, "A very long"));
    truncated.push(anthropic_block_stop(0));
    truncated.extend(anthropic_end("max_tokens", 4));
    let script = [Reply::Events(overloaded), Reply::Events(truncated)];
    let (fake, model) =
        start(ProviderKind::Anthropic, script, ClientOptions::chat(), ChatSettings::default())
            .await;

    let (events, error) = drain(model.stream(ask("q")).await.unwrap()).await;
    assert_eq!(events, vec![delta("Thinking about")]);
    let error = error.unwrap();
    assert!(matches!(error, ModelError::Unavailable { .. }), "{error:?}");
    assert_eq!(error.error_code(), Code::ProviderUnavailable);
    assert_eq!(
        error.to_string(),
        "The language model provider (fake, claude-sonnet-4-5) is unavailable: HTTP 529 \
         Overloaded."
    );

    let completion = complete(model.as_ref(), ask("q")).await.unwrap();
    assert_eq!(completion.text, "A very long");
    assert_eq!(completion.finish, Some(FinishReason::Length));
    assert_eq!(fake.calls(), 2, "errors inside an answer are not retried");
}

// ---------------------------------------------------------------------------------------
// Gemini

#[tokio::test(start_paused = true)]
async fn gemini_streams_text_and_reports_its_cumulative_usage_once() {
    let answer = vec![
        gemini_text("Hello", None, 1),
        gemini_text(" from", None, 2),
        gemini_text(" Gemini.", Some("STOP"), 4),
    ];
    let vision = ChatSettings { accepts_images: true, context_tokens: 1_000_000 };
    let (fake, model) =
        start(ProviderKind::Gemini, [Reply::Events(answer)], ClientOptions::chat(), vision).await;
    let request = ChatRequest {
        system: Some("Be kind.".into()),
        messages: vec![
            ChatMessage::user("Hi"),
            ChatMessage::assistant("Hello! How can I help?"),
            ChatMessage {
                role: Role::User,
                content: vec![
                    Part::Text("Describe:".into()),
                    Part::Image { media_type: "image/png".into(), data: Arc::from(IMAGE) },
                ],
                tool_calls: Vec::new(),
                tool_call_id: None,
            },
        ],
        max_tokens: Some(500),
        temperature: Some(0.25),
        ..ChatRequest::default()
    };

    let (events, error) = drain(model.stream(request).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        events,
        vec![
            delta("Hello"),
            delta(" from"),
            delta(" Gemini."),
            ChatEvent::Usage(Usage { input_tokens: 9, output_tokens: 4 }),
            ChatEvent::Finish(FinishReason::Stop),
        ]
    );
    let sent = fake.request(0);
    // The configured `…/v1beta/openai` lost its `/openai`.
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
    assert_eq!(sent.query.as_deref(), Some("alt=sse"));
    assert_eq!(sent.headers["x-goog-api-key"], KEY);
    assert!(sent.headers.get("authorization").is_none());
    assert_eq!(
        sent.body,
        json!({
            "systemInstruction": {"parts": [{"text": "Be kind."}]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi"}]},
                {"role": "model", "parts": [{"text": "Hello! How can I help?"}]},
                {"role": "user", "parts": [
                    {"text": "Describe:"},
                    {"inlineData": {"mimeType": "image/png", "data": IMAGE_BASE64}},
                ]},
            ],
            "generationConfig": {"maxOutputTokens": 500, "temperature": 0.25},
        })
    );
}

#[tokio::test(start_paused = true)]
async fn gemini_function_calls_get_ids_and_their_responses_get_names() {
    let calls = gemini(json!({
        "candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"location": "Lyon"}},
                "thoughtSignature": "CiQB0e2Kb1Qz+8mT/w=="},
            {"functionCall": {"name": "get_time", "args": {}}},
        ]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 70, "candidatesTokenCount": 18,
            "totalTokenCount": 120, "thoughtsTokenCount": 32},
        "modelVersion": "gemini-2.5-flash",
    }));
    let script = [
        Reply::Events(vec![calls]),
        Reply::Events(vec![gemini_text("Mild in Lyon.", Some("STOP"), 4)]),
    ];
    let (fake, model) =
        start(ProviderKind::Gemini, script, ClientOptions::chat(), ChatSettings::default()).await;
    let time_tool = ToolSpec {
        name: "get_time".into(),
        description: "The time now".into(),
        parameters: json!({"type": "object", "properties": {}}),
    };
    let mut request = ask("Weather and time in Lyon?");
    request.tools = vec![weather_tool(), time_tool.clone()];

    let (events, error) = drain(model.stream(request.clone()).await.unwrap()).await;

    assert!(error.is_none(), "{error:?}");
    // The thought signature travels in the id, for the next request.
    let weather = ToolCall {
        id: "call_0#thought:CiQB0e2Kb1Qz+8mT/w==".into(),
        name: "get_weather".into(),
        arguments: "{\"location\":\"Lyon\"}".into(),
    };
    let time = ToolCall { id: "call_1".into(), name: "get_time".into(), arguments: "{}".into() };
    assert_eq!(
        events,
        vec![
            ChatEvent::ToolCall(weather.clone()),
            ChatEvent::ToolCall(time.clone()),
            ChatEvent::Usage(Usage { input_tokens: 70, output_tokens: 50 }),
            ChatEvent::Finish(FinishReason::ToolCalls),
        ]
    );
    assert_eq!(
        fake.request(0).body["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Current weather in a city",
                "parametersJsonSchema": weather_tool().parameters},
            {"name": "get_time", "description": "The time now",
                "parametersJsonSchema": time_tool.parameters},
        ]}])
    );

    request.messages.push(ChatMessage {
        role: Role::Assistant,
        content: Vec::new(),
        tool_calls: vec![weather.clone(), time.clone()],
        tool_call_id: None,
    });
    request.messages.push(ChatMessage::tool_result(&weather.id, "16°C"));
    request.messages.push(ChatMessage::tool_result(&time.id, "14:05"));
    let completion = complete(model.as_ref(), request.clone()).await.unwrap();

    assert_eq!(completion.text, "Mild in Lyon.");
    assert_eq!(
        fake.request(1).body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather and time in Lyon?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"location": "Lyon"}},
                    "thoughtSignature": "CiQB0e2Kb1Qz+8mT/w=="},
                {"functionCall": {"name": "get_time", "args": {}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"content": "16°C"}}},
                {"functionResponse": {"name": "get_time", "response": {"content": "14:05"}}},
            ]},
        ])
    );

    // A result for a call nobody made cannot be named, so it is refused before calling.
    request.messages.push(ChatMessage::tool_result("call_7", "?"));
    let err = model.stream(request).await.err().unwrap();
    assert!(matches!(err, ModelError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("call_7 answers no earlier tool call"), "{err}");
    assert_eq!(fake.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn gemini_finish_reasons_blocked_prompts_and_error_chunks() {
    let safety = vec![gemini_text("I can't", Some("SAFETY"), 2)];
    let length = vec![gemini_text("Long", Some("MAX_TOKENS"), 1)];
    let blocked = vec![gemini(json!({
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
        "modelVersion": "gemini-2.5-flash",
    }))];
    let failing = vec![
        gemini_text("Par", None, 1),
        gemini(json!({"error": {"code": 503, "message": "The model is overloaded. Please try \
            again later.", "status": "UNAVAILABLE"}})),
    ];
    let script = [safety, length, blocked, failing].map(Reply::Events);
    let (_fake, model) =
        start(ProviderKind::Gemini, script, ClientOptions::chat(), ChatSettings::default()).await;

    let finish = |completion: openmai_models::chat::Completion| completion.finish.unwrap();
    assert_eq!(
        finish(complete(model.as_ref(), ask("q")).await.unwrap()),
        FinishReason::ContentFilter
    );
    assert_eq!(finish(complete(model.as_ref(), ask("q")).await.unwrap()), FinishReason::Length);
    let blocked = complete(model.as_ref(), ask("q")).await.unwrap();
    assert_eq!(blocked.text, "");
    assert_eq!(blocked.usage, Some(Usage { input_tokens: 7, output_tokens: 0 }));
    assert_eq!(blocked.finish, Some(FinishReason::ContentFilter));

    let (events, error) = drain(model.stream(ask("q")).await.unwrap()).await;
    assert_eq!(events, vec![delta("Par")]);
    let error = error.unwrap();
    assert!(matches!(error, ModelError::Unavailable { .. }), "{error:?}");
    assert!(error.to_string().contains("HTTP 503 The model is overloaded"), "{error}");
}

// ---------------------------------------------------------------------------------------
// Every adapter: refusals, retries, stalls, cancellation

#[tokio::test(start_paused = true)]
async fn unauthorized_is_rejected_at_once_without_the_key() {
    for kind in KINDS {
        let message = format!("invalid x-api-key: {KEY}");
        let script = [Reply::Status(401, None, error_body(kind, 401, &message))];
        let (fake, model) =
            start(kind, script, ClientOptions::chat(), ChatSettings::default()).await;

        let err = model.stream(ask("q")).await.err().unwrap();

        assert_eq!(fake.calls(), 1, "{kind:?}: a 401 is not retried");
        assert!(matches!(err, ModelError::Rejected { status: 401, .. }), "{kind:?}: {err:?}");
        assert_eq!(err.error_code(), Code::ProviderRejected);
        assert_eq!(
            err.to_string(),
            format!(
                "The language model provider (fake, {}) refused the request: 401 invalid \
                 x-api-key: [redacted].",
                model_name(kind)
            )
        );
        assert!(!format!("{err:?}").contains(KEY));
    }
}

#[tokio::test(start_paused = true)]
async fn rate_limits_are_waited_out_as_the_provider_asks() {
    for kind in KINDS {
        let script = [
            Reply::Status(429, Some(3), error_body(kind, 429, "Rate limit reached")),
            Reply::Events(text_answer(kind, &["ok"])),
        ];
        let (fake, model) =
            start(kind, script, ClientOptions::chat(), ChatSettings::default()).await;

        let started = Instant::now();
        let stream = model.stream(ask("q")).await.unwrap();
        let waited = started.elapsed();
        let (events, error) = drain(stream).await;

        assert!(error.is_none(), "{kind:?}: {error:?}");
        assert_eq!(events[0], delta("ok"), "{kind:?}");
        assert_eq!(fake.calls(), 2, "{kind:?}");
        // Retry-After plus at most 10% jitter, not the 500 ms back-off.
        assert!(waited >= Duration::from_secs(3), "{kind:?}: {waited:?}");
        assert!(waited <= Duration::from_millis(3_300), "{kind:?}: {waited:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_until_the_retries_are_spent() {
    for kind in KINDS {
        let (status, message) = match kind {
            ProviderKind::OpenAi => (500, "The server had an error processing your request"),
            ProviderKind::Anthropic => (529, "Overloaded"),
            ProviderKind::Gemini => (503, "The model is overloaded. Please try again later"),
        };
        let script = (0..5).map(|_| Reply::Status(status, None, error_body(kind, status, message)));
        let (fake, model) =
            start(kind, script, ClientOptions::chat(), ChatSettings::default()).await;

        let err = model.stream(ask("q")).await.err().unwrap();

        assert_eq!(fake.calls(), 3, "{kind:?}: one attempt and the chat preset's two retries");
        assert!(matches!(err, ModelError::Unavailable { .. }), "{kind:?}: {err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "The language model provider (fake, {}) is unavailable: HTTP {status} \
                 {message}, after 3 attempts.",
                model_name(kind),
            )
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_goes_quiet_mid_answer_times_out() {
    for kind in KINDS {
        let mut events = preamble(kind);
        events.push(text_event(kind, "Let me think"));
        let (fake, model) =
            start(kind, [Reply::Stall(events)], ClientOptions::chat(), ChatSettings::default())
                .await;

        let mut stream = model.stream(ask("q")).await.unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap(), delta("Let me think"), "{kind:?}");
        let started = Instant::now();
        let (events, error) = drain(stream).await;
        let waited = started.elapsed();

        assert!(events.is_empty(), "{kind:?}: {events:?}");
        let error = error.expect("a stalled answer is an error");
        assert!(matches!(error, ModelError::Timeout { .. }), "{kind:?}: {error:?}");
        assert_eq!(error.error_code(), Code::ProviderTimeout);
        assert_eq!(
            error.to_string(),
            format!(
                "The language model provider (fake, {}) did not answer within 60 s.",
                model_name(kind)
            )
        );
        assert!(waited >= Duration::from_secs(60), "{kind:?}: {waited:?}");
        assert!(waited < Duration::from_secs(61), "{kind:?}: {waited:?}");
        assert_eq!(fake.calls(), 1, "{kind:?}: a stream that has started is not retried");
    }
}

#[tokio::test(start_paused = true)]
async fn no_headers_within_the_timeout_is_retried_then_a_timeout() {
    let options = ClientOptions { timeout: Duration::from_secs(20), ..ClientOptions::chat() };
    let script = [Reply::Silent, Reply::Silent, Reply::Silent];
    let (fake, model) = start(ProviderKind::OpenAi, script, options, ChatSettings::default()).await;

    let started = Instant::now();
    let err = model.stream(ask("q")).await.err().unwrap();
    let waited = started.elapsed();

    assert!(matches!(err, ModelError::Timeout { .. }), "{err:?}");
    assert_eq!(fake.calls(), 3);
    // Three 20 s attempts and two back-offs (at most 0.5 s and 1 s).
    assert!(waited >= Duration::from_millis(60_750), "{waited:?}");
    assert!(waited <= Duration::from_millis(61_500), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn broken_connections_and_oversized_answers_end_the_stream() {
    let mut events = preamble(ProviderKind::OpenAi);
    events.push(text_event(ProviderKind::OpenAi, "Half"));
    // The server fails once the client has read part of the answer: hyper aborts the
    // connection.
    let (crash, crashed) = tokio::sync::oneshot::channel::<()>();
    let broken = pieces(events)
        .chain(stream::once(async move {
            crashed.await.unwrap();
            Err(std::io::Error::other("upstream crashed"))
        }))
        .boxed();
    let long = (0..20).map(|_| "A long answer. ").collect::<Vec<_>>();
    let script = [Reply::Stream(broken), Reply::Events(text_answer(ProviderKind::OpenAi, &long))];
    let options = ClientOptions { max_response_bytes: 2_000, ..ClientOptions::chat() };
    let (fake, model) = start(ProviderKind::OpenAi, script, options, ChatSettings::default()).await;

    let mut stream = model.stream(ask("q")).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), delta("Half"));
    crash.send(()).unwrap();
    let (events, error) = drain(stream).await;
    assert!(events.is_empty(), "{events:?}");
    let error = error.unwrap();
    assert!(matches!(error, ModelError::Unavailable { .. }), "{error:?}");
    assert!(error.to_string().contains("the connection broke during the answer"), "{error}");

    let (events, error) = drain(model.stream(ask("q")).await.unwrap()).await;
    assert!(!events.is_empty() && events.len() < 20, "{events:?}");
    let error = error.unwrap();
    assert!(matches!(error, ModelError::InvalidResponse { .. }), "{error:?}");
    assert!(error.to_string().contains("larger than 2000 bytes"), "{error}");
    assert_eq!(fake.calls(), 2, "failures after the answer started are not retried");
}

#[tokio::test(start_paused = true)]
async fn a_stream_holds_its_concurrency_permit_until_dropped() {
    let mut first = preamble(ProviderKind::OpenAi);
    first.push(text_event(ProviderKind::OpenAi, "streaming"));
    let script =
        [Reply::Stall(first), Reply::Events(text_answer(ProviderKind::OpenAi, &["second"]))];
    let options = ClientOptions { concurrency: 1, ..ClientOptions::chat() };
    let (fake, model) = start(ProviderKind::OpenAi, script, options, ChatSettings::default()).await;

    let mut first = model.stream(ask("one")).await.unwrap();
    assert_eq!(first.next().await.unwrap().unwrap(), delta("streaming"));
    // The one permit is the first answer's: the second waits (and is never sent).
    let waiting = tokio::time::timeout(Duration::from_secs(30), model.stream(ask("two"))).await;
    assert!(waiting.is_err(), "the second answer started while the first held the permit");
    assert_eq!(fake.calls(), 1);

    drop(first);
    let completion = complete(model.as_ref(), ask("two")).await.unwrap();
    assert_eq!(completion.text, "second");
    assert_eq!(fake.calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_closes_the_connection() {
    /// Lives in the fake's body stream: dropped when hyper drops the body, which it does once
    /// the client has hung up.
    struct Guard(mpsc::UnboundedSender<ProviderKind>, ProviderKind);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.send(self.1);
        }
    }
    for kind in KINDS {
        let (dropped, mut seen) = mpsc::unbounded_channel();
        let produced = Arc::new(AtomicUsize::new(0));
        let counter = produced.clone();
        let guard = Guard(dropped, kind);
        // The preamble, then a piece of text every 10 ms, forever.
        let endless = stream::iter(preamble(kind)).chain(stream::unfold(
            (guard, counter),
            move |(guard, counter)| async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let n = counter.fetch_add(1, Ordering::SeqCst);
                Some((text_event(kind, &format!("tick {n} ")), (guard, counter)))
            },
        ));
        let body = endless.map(|event| Ok(Bytes::from(event))).boxed();
        let (_fake, model) =
            start(kind, [Reply::Stream(body)], ClientOptions::chat(), ChatSettings::default())
                .await;

        let mut stream = model.stream(ask("count")).await.unwrap();
        for n in 0..3 {
            let event = stream.next().await.unwrap().unwrap();
            assert_eq!(event, delta(&format!("tick {n} ")), "{kind:?}");
        }
        drop(stream);

        let signal = tokio::time::timeout(Duration::from_secs(1), seen.recv()).await;
        assert_eq!(signal.ok().flatten(), Some(kind), "{kind:?}: the fake saw no hang-up");
        let total = produced.load(Ordering::SeqCst);
        assert!(total < 50, "{kind:?}: the fake kept producing ({total} pieces)");
    }
}
