//! What the adapters share: the loop that turns a provider's server-sent events into a
//! [`ChatStream`], the mapping of in-stream error objects to HTTP-like statuses, and request
//! checks that must fail before any call is made.

use std::collections::VecDeque;

use eventsource_stream::Event;
use futures::StreamExt;
use serde_json::Value;

use super::{ChatEvent, ChatRequest, ChatStream, Part};
use crate::error::{ModelError, Origin};
use crate::http::EventStream;

/// Whether the answer is over after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    More,
    /// The provider said the answer is complete; the decoder has queued `Finish` last.
    Complete,
}

/// One provider's event grammar.
pub(crate) trait Decoder: Send + 'static {
    /// Handles one SSE event, queueing the [`ChatEvent`]s it yields in `out`. An error ends
    /// the stream; events queued by the same call are dropped with it.
    fn event(
        &mut self,
        event: &Event,
        out: &mut VecDeque<ChatEvent>,
    ) -> Result<Progress, ModelError>;

    /// The body ended without [`Progress::Complete`]: queue the final events if the answer
    /// is whole anyway, or say it was cut off.
    fn end(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), ModelError>;
}

/// Drives `decoder` over `events`. The connection (and the client's permit) is released as
/// soon as the answer is complete or has failed, even if the caller keeps the stream.
pub(crate) fn chat_stream(events: EventStream, decoder: impl Decoder) -> ChatStream {
    struct State<D> {
        events: Option<EventStream>,
        decoder: D,
        queue: VecDeque<ChatEvent>,
    }
    let state = State { events: Some(events), decoder, queue: VecDeque::new() };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.queue.pop_front() {
                return Some((Ok(event), state));
            }
            let events = state.events.as_mut()?;
            let outcome = match events.next().await {
                Some(Ok(event)) => state.decoder.event(&event, &mut state.queue),
                Some(Err(err)) => Err(err),
                None => state.decoder.end(&mut state.queue).map(|()| Progress::Complete),
            };
            match outcome {
                Ok(Progress::More) => {}
                Ok(Progress::Complete) => state.events = None,
                Err(err) => {
                    tracing::warn!(
                        provider = %err.origin().provider, model = %err.origin().model,
                        error = %err, "chat answer stream failed"
                    );
                    state.events = None;
                    state.queue.clear();
                    return Some((Err(err), state));
                }
            }
        }
    })
    .boxed()
}

/// Queues `text` as a [`ChatEvent::Delta`] unless it is empty (some servers send empty
/// deltas, which callers are promised never to see).
pub(crate) fn push_text(out: &mut VecDeque<ChatEvent>, text: &str) {
    if !text.is_empty() {
        out.push_back(ChatEvent::Delta(text.to_owned()));
    }
}

/// The HTTP status an in-stream error object stands for, so it maps to the same
/// [`ModelError`] kind as a refusal before the stream would have: a numeric `code` (vLLM,
/// Gemini), else the words in `type`/`code`/`status` (OpenAI's `rate_limit_exceeded`,
/// Anthropic's `overloaded_error`, Gemini's `RESOURCE_EXHAUSTED`). Unknown errors count as a
/// server error.
pub(crate) fn error_status(error: &Value) -> u16 {
    let code = error.get("code").and_then(|code| match code {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    if let Some(code) = code.filter(|code| (400..600).contains(code)) {
        return code as u16;
    }
    let words: String = ["type", "code", "status"]
        .iter()
        .filter_map(|key| error.get(*key).and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|needle| words.contains(needle));
    if has(&["rate_limit", "quota", "resource_exhausted"]) {
        429
    } else if has(&["overloaded"]) {
        529
    } else if has(&["authentication", "unauthenticated", "invalid_api_key"]) {
        401
    } else if has(&["permission"]) {
        403
    } else if has(&["not_found", "notfound"]) {
        404
    } else if has(&["too_large"]) {
        413
    } else if has(&["invalid_request", "invalid_argument", "badrequest", "context_length"]) {
        400
    } else {
        500
    }
}

/// The human part of an in-stream error: `{"message": …}` or a bare string (Ollama).
pub(crate) fn error_message(error: &Value) -> String {
    match error {
        Value::String(text) => text.clone(),
        other => other.get("message").and_then(Value::as_str).unwrap_or_default().to_owned(),
    }
}

/// Refuses a request with images for a model not configured to take them, before any call:
/// providers answer such requests with a vague 400 or, worse, ignore the image.
pub(crate) fn check_images(
    request: &ChatRequest,
    accepts_images: bool,
    origin: &std::sync::Arc<Origin>,
) -> Result<(), ModelError> {
    let has_images = request
        .messages
        .iter()
        .any(|message| message.content.iter().any(|part| matches!(part, Part::Image { .. })));
    if has_images && !accepts_images {
        return Err(ModelError::Unsupported {
            origin: origin.clone(),
            reason: "this model is not configured to accept images".into(),
        });
    }
    Ok(())
}

/// A tool message without the id of the call it answers: the caller's mistake, caught
/// before the provider words it less clearly.
pub(crate) fn missing_call_id(origin: &std::sync::Arc<Origin>) -> ModelError {
    ModelError::Unsupported {
        origin: origin.clone(),
        reason: "a tool result does not say which tool call it answers".into(),
    }
}

/// A tool call's arguments as the JSON object Anthropic and Gemini want back in history.
/// Empty arguments (a call without parameters) are `{}`.
pub(crate) fn arguments_object(
    call: &super::ToolCall,
    origin: &std::sync::Arc<Origin>,
) -> Result<Value, ModelError> {
    if call.arguments.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(&call.arguments) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(ModelError::Unsupported {
            origin: origin.clone(),
            reason: format!(
                "the arguments of tool call {} ({}) are not a JSON object",
                call.id, call.name
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_objects_map_to_statuses() {
        assert_eq!(error_status(&json!({"type": "BadRequestError", "code": 400})), 400);
        assert_eq!(error_status(&json!({"code": "503", "message": "x"})), 503);
        assert_eq!(error_status(&json!({"type": "overloaded_error"})), 529);
        assert_eq!(error_status(&json!({"type": "rate_limit_error"})), 429);
        assert_eq!(error_status(&json!({"code": "rate_limit_exceeded", "type": "requests"})), 429);
        assert_eq!(error_status(&json!({"status": "RESOURCE_EXHAUSTED"})), 429);
        assert_eq!(error_status(&json!({"type": "invalid_request_error"})), 400);
        assert_eq!(error_status(&json!({"type": "server_error", "code": null})), 500);
        assert_eq!(error_status(&json!("model crashed")), 500);
        assert_eq!(error_message(&json!("model crashed")), "model crashed");
        assert_eq!(error_message(&json!({"message": "Overloaded"})), "Overloaded");
    }
}
