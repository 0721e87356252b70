//! Anthropic Messages: `POST {base}/messages` with `x-api-key` and `anthropic-version`,
//! answered by typed SSE events (`message_start`, `content_block_start/delta/stop`,
//! `message_delta`, `message_stop`, `ping`, `error`).

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use eventsource_stream::Event;
use serde::Deserialize;
use serde_json::{Value, json};

use super::decode::{
    Decoder, Progress, arguments_object, chat_stream, check_images, error_message, error_status,
    missing_call_id, push_text,
};
use super::{
    ChatEvent, ChatModel, ChatRequest, ChatSettings, ChatStream, FinishReason, Part, Role,
    ToolCall, Usage,
};
use crate::BoxFuture;
use crate::error::{ModelError, Origin, Service};
use crate::http::{KeyHeader, StreamErrors, Transport};
use crate::options::ClientOptions;
use crate::provider::ProviderSettings;

/// The API version the request and event shapes here follow.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `max_tokens` when the request sets none: Anthropic requires one, and 4096 fits every
/// current Claude model's output limit.
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// A Claude model behind Anthropic's Messages API (default base
/// `https://api.anthropic.com/v1`).
///
/// History is rewritten to Anthropic's rules: the system prompt is top-level, tool calls are
/// `tool_use` blocks of the assistant turn, tool results are `tool_result` blocks of a
/// *user* turn, and consecutive turns of one role are merged into one.
#[derive(Debug)]
pub struct AnthropicChat {
    transport: Transport,
    model: String,
    settings: ChatSettings,
}

impl AnthropicChat {
    pub fn new(
        provider: &ProviderSettings,
        model: &str,
        options: ClientOptions,
        settings: ChatSettings,
    ) -> Result<AnthropicChat, ModelError> {
        let transport = Transport::with_key_header(
            provider.origin(Service::Chat, model),
            provider.base_url_or_default(),
            provider.api_key.as_ref(),
            KeyHeader::Named("x-api-key"),
            options,
        )?
        .with_header("anthropic-version", ANTHROPIC_VERSION);
        Ok(AnthropicChat { transport, model: model.to_owned(), settings })
    }

    fn body(&self, request: &ChatRequest) -> Result<Value, ModelError> {
        let origin = self.transport.origin();
        check_images(request, self.settings.accepts_images, origin)?;
        // (role, blocks), consecutive roles merged.
        let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
        for message in &request.messages {
            let mut blocks = Vec::new();
            let role = match message.role {
                Role::User => {
                    blocks.extend(message.content.iter().filter_map(content_block));
                    "user"
                }
                Role::Assistant => {
                    blocks.extend(message.content.iter().filter_map(content_block));
                    for call in &message.tool_calls {
                        blocks.push(json!({
                            "type": "tool_use",
                            "id": call.id,
                            "name": call.name,
                            "input": arguments_object(call, origin)?,
                        }));
                    }
                    "assistant"
                }
                Role::Tool => {
                    let id =
                        message.tool_call_id.as_deref().ok_or_else(|| missing_call_id(origin))?;
                    let mut result = json!({"type": "tool_result", "tool_use_id": id});
                    let content: Vec<Value> =
                        message.content.iter().filter_map(content_block).collect();
                    if !content.is_empty() {
                        result["content"] = Value::Array(content);
                    }
                    blocks.push(result);
                    "user"
                }
            };
            // Anthropic refuses empty turns and empty text blocks.
            if blocks.is_empty() {
                continue;
            }
            match turns.last_mut() {
                Some((last, previous)) if *last == role => previous.extend(blocks),
                _ => turns.push((role, blocks)),
            }
        }
        let messages: Vec<Value> = turns
            .into_iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect();
        let mut body = json!({
            "model": self.model,
            "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "messages": messages,
            "stream": true,
        });
        if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
            body["system"] = json!(system);
        }
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|tool| {
                    json!({
                        "name": tool.name,
                        "description": tool.description,
                        "input_schema": tool.parameters,
                    })
                })
                .collect();
            body["tools"] = Value::Array(tools);
        }
        if let Some(temperature) = request.temperature {
            body["temperature"] = json!(temperature);
        }
        Ok(body)
    }

    async fn start(&self, request: ChatRequest) -> Result<ChatStream, ModelError> {
        let body = self.body(&request)?;
        let events = self.transport.post_events("messages", &[], &body).await?;
        Ok(chat_stream(events, AnthropicDecoder::new(self.transport.stream_errors())))
    }
}

remote_chat_model!(AnthropicChat);

/// A text or image block; `None` for empty text, which Anthropic refuses.
fn content_block(part: &Part) -> Option<Value> {
    match part {
        Part::Text(text) if text.is_empty() => None,
        Part::Text(text) => Some(json!({"type": "text", "text": text})),
        Part::Image { media_type, data } => Some(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": BASE64.encode(data)},
        })),
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamEvent {
    MessageStart {
        message: StartedMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: Block,
    },
    ContentBlockDelta {
        index: usize,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDelta,
        #[serde(default)]
        usage: Option<EventUsage>,
    },
    MessageStop,
    Error {
        error: Value,
    },
    /// `ping`, and event types added after this was written.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct StartedMessage {
    #[serde(default)]
    usage: Option<EventUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    /// `thinking`, `redacted_thinking`, server tool blocks: not part of the answer's text.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    /// `thinking_delta`, `signature_delta`, `citations_delta`.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// Token counts; `message_start` has the input, `message_delta` the (cumulative) output.
#[derive(Deserialize)]
struct EventUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
}

/// A `tool_use` block being streamed.
struct ToolBlock {
    id: String,
    name: String,
    /// The `input` of `content_block_start` (normally `{}`), used when no JSON is streamed.
    input: Value,
    json: String,
}

struct AnthropicDecoder {
    errors: StreamErrors,
    tools: HashMap<usize, ToolBlock>,
    usage: Usage,
    seen_usage: bool,
    stop_reason: Option<String>,
}

impl AnthropicDecoder {
    fn new(errors: StreamErrors) -> Self {
        AnthropicDecoder {
            errors,
            tools: HashMap::new(),
            usage: Usage::default(),
            seen_usage: false,
            stop_reason: None,
        }
    }

    fn record(&mut self, usage: EventUsage) {
        self.seen_usage = true;
        // Cached prompt tokens are prompt tokens too: the sum is what the prompt cost.
        let parts =
            [usage.input_tokens, usage.cache_creation_input_tokens, usage.cache_read_input_tokens];
        if parts.iter().any(Option::is_some) {
            self.usage.input_tokens = parts.iter().flatten().sum();
        }
        if let Some(output) = usage.output_tokens {
            self.usage.output_tokens = output;
        }
    }
}

impl Decoder for AnthropicDecoder {
    fn event(
        &mut self,
        event: &Event,
        out: &mut VecDeque<ChatEvent>,
    ) -> Result<Progress, ModelError> {
        let parsed: StreamEvent = serde_json::from_str(&event.data).map_err(|err| {
            self.errors.invalid(&format!("the {} event is not valid ({err})", event.event))
        })?;
        match parsed {
            StreamEvent::MessageStart { message } => {
                if let Some(usage) = message.usage {
                    self.record(usage);
                }
            }
            StreamEvent::ContentBlockStart { index, content_block } => match content_block {
                Block::Text { text } => push_text(out, &text),
                Block::ToolUse { id, name, input } => {
                    let block = ToolBlock { id, name, input, json: String::new() };
                    self.tools.insert(index, block);
                }
                Block::Other => {}
            },
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => push_text(out, &text),
                BlockDelta::InputJsonDelta { partial_json } => match self.tools.get_mut(&index) {
                    Some(block) => block.json.push_str(&partial_json),
                    None => {
                        return Err(self
                            .errors
                            .invalid(&format!("tool input for unknown content block {index}")));
                    }
                },
                BlockDelta::Other => {}
            },
            StreamEvent::ContentBlockStop { index } => {
                if let Some(block) = self.tools.remove(&index) {
                    let arguments = match block.json.trim().is_empty() {
                        true if block.input.is_object() => block.input.to_string(),
                        true => "{}".to_owned(),
                        false => block.json,
                    };
                    let call = ToolCall { id: block.id, name: block.name, arguments };
                    out.push_back(ChatEvent::ToolCall(call));
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                if let Some(usage) = usage {
                    self.record(usage);
                }
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
            }
            StreamEvent::MessageStop => {
                if self.seen_usage {
                    out.push_back(ChatEvent::Usage(self.usage));
                }
                let finish = match self.stop_reason.take().as_deref() {
                    None | Some("end_turn" | "stop_sequence") => FinishReason::Stop,
                    Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
                    Some("tool_use") => FinishReason::ToolCalls,
                    Some("refusal") => FinishReason::ContentFilter,
                    Some(other) => FinishReason::Other(other.to_owned()),
                };
                out.push_back(ChatEvent::Finish(finish));
                return Ok(Progress::Complete);
            }
            StreamEvent::Error { error } => {
                return Err(self.errors.provider(error_status(&error), &error_message(&error)));
            }
            StreamEvent::Other => {}
        }
        Ok(Progress::More)
    }

    /// Anthropic always ends with `message_stop`; a body ending before it was cut off.
    fn end(&mut self, _out: &mut VecDeque<ChatEvent>) -> Result<(), ModelError> {
        Err(self.errors.cut_off())
    }
}
