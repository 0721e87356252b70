//! OpenAI-compatible chat: `POST {base}/chat/completions` with `stream: true`, answered by SSE
//! `data:` chunks and a final `data: [DONE]`. The same wire format serves OpenAI, Groq,
//! DeepSeek, vLLM, Ollama (`…/v1`), LM Studio, llama.cpp and most gateways, each with its
//! quirks: usage may be missing, deltas may be empty, `finish_reason` may come with the last
//! text, tool-call fragments may lack an `index`.

use std::collections::VecDeque;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use eventsource_stream::Event;
use serde::Deserialize;
use serde_json::{Value, json};

use super::decode::{
    Decoder, Progress, chat_stream, check_images, error_message, error_status, missing_call_id,
    push_text,
};
use super::{
    ChatEvent, ChatMessage, ChatModel, ChatRequest, ChatSettings, ChatStream, FinishReason, Part,
    Role, ToolCall, Usage,
};
use crate::BoxFuture;
use crate::error::{ModelError, Origin, Service};
use crate::http::{StreamErrors, Transport};
use crate::options::ClientOptions;
use crate::provider::ProviderSettings;

/// A chat model behind an OpenAI-compatible `/chat/completions`.
///
/// The request carries the system prompt as the first `system` message, images as
/// `image_url` parts with `data:` URLs, tools as `{type: function, function: {…}}` and asks
/// for usage with `stream_options.include_usage`. Streamed tool-call fragments are assembled
/// and emitted as whole [`ToolCall`]s once `finish_reason` arrives.
#[derive(Debug)]
pub struct OpenAiChat {
    transport: Transport,
    model: String,
    settings: ChatSettings,
}

impl OpenAiChat {
    /// A client for `model` at `provider` (its `base_url` ends where `/chat/completions`
    /// starts, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`).
    pub fn new(
        provider: &ProviderSettings,
        model: &str,
        options: ClientOptions,
        settings: ChatSettings,
    ) -> Result<OpenAiChat, ModelError> {
        let transport = Transport::new(
            provider.origin(Service::Chat, model),
            provider.base_url_or_default(),
            provider.api_key.as_ref(),
            options,
        )?;
        Ok(OpenAiChat { transport, model: model.to_owned(), settings })
    }

    fn body(&self, request: &ChatRequest) -> Result<Value, ModelError> {
        let origin = self.transport.origin();
        check_images(request, self.settings.accepts_images, origin)?;
        let mut messages = Vec::with_capacity(request.messages.len() + 1);
        if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
            messages.push(json!({"role": "system", "content": system}));
        }
        for message in &request.messages {
            messages.push(self.message(message)?);
        }
        let mut body = json!({
            "model": self.model,
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|tool| {
                    json!({"type": "function", "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    }})
                })
                .collect();
            body["tools"] = Value::Array(tools);
        }
        // `max_tokens` rather than the newer `max_completion_tokens`: every compatible
        // server knows the former.
        if let Some(max_tokens) = request.max_tokens {
            body["max_tokens"] = json!(max_tokens);
        }
        if let Some(temperature) = request.temperature {
            body["temperature"] = json!(temperature);
        }
        Ok(body)
    }

    fn message(&self, message: &ChatMessage) -> Result<Value, ModelError> {
        let origin = self.transport.origin();
        let text_only = |what: &str| {
            if message.content.iter().any(|part| matches!(part, Part::Image { .. })) {
                return Err(ModelError::Unsupported {
                    origin: origin.clone(),
                    reason: format!("OpenAI-compatible APIs take only text in {what}"),
                });
            }
            Ok(message.text_content())
        };
        Ok(match message.role {
            Role::User => json!({"role": "user", "content": user_content(&message.content)}),
            Role::Assistant => {
                // An empty string rather than `null` next to tool calls: older Ollama and
                // some gateways refuse a `null` content.
                let mut value = json!({"role": "assistant", "content": text_only("answers")?});
                if !message.tool_calls.is_empty() {
                    let calls: Vec<Value> = message
                        .tool_calls
                        .iter()
                        .map(|call| {
                            json!({"id": call.id, "type": "function", "function": {
                                "name": call.name,
                                "arguments": call.arguments,
                            }})
                        })
                        .collect();
                    value["tool_calls"] = Value::Array(calls);
                }
                value
            }
            Role::Tool => {
                let id = message.tool_call_id.as_deref().ok_or_else(|| missing_call_id(origin))?;
                json!({"role": "tool", "tool_call_id": id, "content": text_only("tool results")?})
            }
        })
    }

    async fn start(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let body = self.body(&request)?;
        let events = self.transport.post_events("chat/completions", &[], &body).await?;
        Ok(chat_stream(events, OpenAiDecoder::new(self.transport.stream_errors())))
    }
}

remote_chat_model!(OpenAiChat);

/// Plain text as a string (what every server takes), text with images as typed parts.
fn user_content(parts: &[Part]) -> Value {
    if parts.iter().all(|part| matches!(part, Part::Text(_))) {
        let text: String = parts
            .iter()
            .filter_map(|part| match part {
                Part::Text(text) => Some(text.as_str()),
                Part::Image { .. } => None,
            })
            .collect();
        return Value::String(text);
    }
    let parts: Vec<Value> = parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => json!({"type": "text", "text": text}),
            Part::Image { media_type, data } => {
                let url = format!("data:{media_type};base64,{}", BASE64.encode(data));
                json!({"type": "image_url", "image_url": {"url": url}})
            }
        })
        .collect();
    Value::Array(parts)
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    /// OpenAI's refusal text, streamed instead of `content`: it is what the user should read.
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// A tool call being assembled from fragments.
struct PartialCall {
    index: Option<usize>,
    id: String,
    name: String,
    arguments: String,
}

struct OpenAiDecoder {
    errors: StreamErrors,
    calls: Vec<PartialCall>,
    /// Tool calls emitted so far: they number the calls that come without an id, and turn a
    /// `stop` into `tool_calls` for servers that say "stop" after calling tools.
    emitted: usize,
    finish: Option<FinishReason>,
    /// The latest usage seen: some servers (vLLM's continuous usage stats) repeat it,
    /// cumulatively, in every chunk; it is reported once, at the end.
    usage: Option<Usage>,
}

impl OpenAiDecoder {
    fn new(errors: StreamErrors) -> Self {
        OpenAiDecoder { errors, calls: Vec::new(), emitted: 0, finish: None, usage: None }
    }

    /// Adds a fragment to its call. Fragments are matched by `index`; a fragment without one
    /// (Gemini's OpenAI surface) continues the call with its id, or the last call. A new id at
    /// an index already taken starts another call (servers that number every call 0).
    fn add(&mut self, fragment: ToolCallDelta) {
        let id = fragment.id.filter(|id| !id.is_empty());
        let position = match (fragment.index, &id) {
            (Some(index), _) => self.calls.iter().rposition(|call| call.index == Some(index)),
            (None, Some(id)) => self.calls.iter().rposition(|call| call.id == *id),
            (None, None) => self.calls.len().checked_sub(1),
        };
        let position = position.filter(|&position| match &id {
            Some(id) => self.calls[position].id.is_empty() || self.calls[position].id == *id,
            None => true,
        });
        let call = match position {
            Some(position) => &mut self.calls[position],
            None => {
                self.calls.push(PartialCall {
                    index: fragment.index,
                    id: String::new(),
                    name: String::new(),
                    arguments: String::new(),
                });
                self.calls.last_mut().expect("just pushed")
            }
        };
        if let Some(id) = id {
            call.id = id;
        }
        if let Some(function) = fragment.function {
            // The name comes whole in one fragment; a server repeating it must not double it.
            if let Some(name) = function.name.filter(|name| !name.is_empty())
                && call.name.is_empty()
            {
                call.name = name;
            }
            if let Some(arguments) = function.arguments {
                call.arguments.push_str(&arguments);
            }
        }
    }

    /// Emits the assembled calls, in the order they started.
    fn flush_calls(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), ModelError> {
        for call in std::mem::take(&mut self.calls) {
            if call.name.is_empty() {
                return Err(self.errors.invalid("a streamed tool call has no function name"));
            }
            let id = match call.id.is_empty() {
                true => format!("call_{}", self.emitted),
                false => call.id,
            };
            // A call without parameters may stream no arguments at all.
            let arguments = match call.arguments.trim().is_empty() {
                true => "{}".to_owned(),
                false => call.arguments,
            };
            out.push_back(ChatEvent::ToolCall(ToolCall { id, name: call.name, arguments }));
            self.emitted += 1;
        }
        Ok(())
    }

    /// Queues the end of the answer: remaining calls, usage, then `Finish`.
    fn finish(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), ModelError> {
        self.flush_calls(out)?;
        if let Some(usage) = self.usage.take() {
            out.push_back(ChatEvent::Usage(usage));
        }
        let finish = match self.finish.take() {
            Some(FinishReason::Stop) | None if self.emitted > 0 => FinishReason::ToolCalls,
            Some(reason) => reason,
            None => FinishReason::Stop,
        };
        out.push_back(ChatEvent::Finish(finish));
        Ok(())
    }
}

impl Decoder for OpenAiDecoder {
    fn event(
        &mut self,
        event: &Event,
        out: &mut VecDeque<ChatEvent>,
    ) -> Result<Progress, ModelError> {
        if event.data.trim() == "[DONE]" {
            self.finish(out)?;
            return Ok(Progress::Complete);
        }
        let chunk: Chunk = serde_json::from_str(&event.data).map_err(|err| {
            self.errors.invalid(&format!("a chunk of the answer is not valid ({err})"))
        })?;
        if let Some(error) = chunk.error.filter(|error| !error.is_null()) {
            return Err(self.errors.provider(error_status(&error), &error_message(&error)));
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(Usage {
                input_tokens: usage.prompt_tokens,
                output_tokens: usage.completion_tokens,
            });
        }
        // One completion is asked for (no `n`), so only choice 0 exists.
        for choice in chunk.choices.into_iter().filter(|choice| choice.index == 0) {
            if let Some(delta) = choice.delta {
                push_text(out, delta.content.as_deref().unwrap_or_default());
                push_text(out, delta.refusal.as_deref().unwrap_or_default());
                for fragment in delta.tool_calls.unwrap_or_default() {
                    self.add(fragment);
                }
            }
            if let Some(reason) = choice.finish_reason.filter(|reason| !reason.is_empty()) {
                self.flush_calls(out)?;
                self.finish = Some(match reason.as_str() {
                    "stop" => FinishReason::Stop,
                    "length" => FinishReason::Length,
                    "tool_calls" | "function_call" => FinishReason::ToolCalls,
                    "content_filter" => FinishReason::ContentFilter,
                    _ => FinishReason::Other(reason),
                });
            }
        }
        Ok(Progress::More)
    }

    /// Servers that omit `[DONE]` still send a `finish_reason`; without either, the
    /// connection was cut mid-answer.
    fn end(&mut self, out: &mut VecDeque<ChatEvent>) -> Result<(), ModelError> {
        if self.finish.is_none() {
            return Err(self.errors.cut_off());
        }
        self.finish(out)
    }
}
