//! Chat completion: the [`ChatModel`] trait, its request and event types, and the helpers
//! every caller shares. One adapter per wire format lives beside this module:
//!
//! - [`OpenAiChat`]: OpenAI-compatible `/chat/completions` (OpenAI, Groq, vLLM, Ollama, LM
//!   Studio, DeepSeek, Gemini's OpenAI surface…), streamed as SSE `data:` chunks ending in
//!   `[DONE]`;
//! - [`AnthropicChat`]: Anthropic Messages (`/messages`, `x-api-key`, typed SSE events);
//! - [`GeminiChat`]: Gemini's native `models/{model}:streamGenerateContent?alt=sse`;
//! - [`crate::offline`]: the built-in extractive responder (no network at all).
//!
//! Every model is driven the same way: [`ChatModel::stream`] resolves once the provider has
//! accepted the request (status and headers in, after the transport's retries), so a refusal,
//! a rate limit or an outage is an error *before* anything reaches the end user and can become
//! a proper HTTP status. The returned [`ChatStream`] then yields [`ChatEvent`]s until it ends;
//! dropping it closes the connection, so the provider stops generating (and billing) tokens
//! nobody will read.

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::BoxFuture;
use crate::error::{ModelError, Origin};

/// The [`ChatModel`] impl every provider adapter shares: each has `transport`, `model` and
/// `settings` fields and an `async fn start(&self, ChatRequest)` that sends the request.
macro_rules! remote_chat_model {
    ($adapter:ty) => {
        impl ChatModel for $adapter {
            fn model(&self) -> &str {
                &self.model
            }

            fn origin(&self) -> &Origin {
                self.transport.origin()
            }

            fn accepts_images(&self) -> bool {
                self.settings.accepts_images
            }

            fn context_tokens(&self) -> usize {
                self.settings.context_tokens
            }

            fn stream(
                &self,
                request: ChatRequest,
            ) -> BoxFuture<'_, Result<ChatStream, ModelError>> {
                Box::pin(self.start(request))
            }
        }
    };
}

mod anthropic;
mod decode;
mod gemini;
mod openai;

pub use anthropic::AnthropicChat;
pub use gemini::GeminiChat;
pub use openai::OpenAiChat;

/// What configuration says about a chat model: providers do not report either reliably (an
/// OpenAI-compatible server cannot say whether its model has vision), so the catalogue does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatSettings {
    /// Whether [`Part::Image`] may be sent. A request with images to a model without fails
    /// with [`ModelError::Unsupported`] before any call.
    pub accepts_images: bool,
    /// The context window, prompt and answer together, in tokens.
    pub context_tokens: usize,
}

impl Default for ChatSettings {
    /// Text only, and 8192 tokens: a size every current model reaches, so prompts built for
    /// it fit anywhere.
    fn default() -> Self {
        ChatSettings { accepts_images: false, context_tokens: 8192 }
    }
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Assistant,
    /// The result of a tool call, answering the assistant message that made it.
    Tool,
}

/// A piece of a message's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    /// An image, sent inline (base64) in the form each provider wants. Only for models that
    /// accept images (see [`ChatModel::accepts_images`]).
    Image {
        media_type: String,
        data: Arc<[u8]>,
    },
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: Vec<Part>,
    /// Tools the assistant called in this turn (assistant messages only).
    pub tool_calls: Vec<ToolCall>,
    /// The call this message answers (tool messages only).
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    pub fn user(text: impl Into<String>) -> Self {
        ChatMessage::text(Role::User, text)
    }

    pub fn assistant(text: impl Into<String>) -> Self {
        ChatMessage::text(Role::Assistant, text)
    }

    pub fn text(role: Role, text: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: vec![Part::Text(text.into())],
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// A tool's result, answering call `call_id`.
    pub fn tool_result(call_id: impl Into<String>, result: impl Into<String>) -> Self {
        ChatMessage {
            role: Role::Tool,
            content: vec![Part::Text(result.into())],
            tool_calls: Vec::new(),
            tool_call_id: Some(call_id.into()),
        }
    }

    /// The message's text parts, joined.
    pub fn text_content(&self) -> String {
        let mut text = String::new();
        for part in &self.content {
            if let Part::Text(t) = part {
                text.push_str(t);
            }
        }
        text
    }
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// The arguments' JSON Schema (an `object` schema).
    pub parameters: serde_json::Value,
}

/// A call the model made: `arguments` is the JSON text it produced (assembled from the
/// provider's deltas; not validated against the schema).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// A passage the answer should be grounded in. Remote models get these through the prompt
/// the caller builds; the offline responder answers from them directly. `id` is what the
/// answer cites (`[1]`, `[2]`… in the order given).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: String,
    /// Where it comes from (a file name, an FAQ's question), for citations.
    pub title: String,
    pub text: String,
}

/// What to ask the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    /// Instructions (OpenAI's system message, Anthropic's `system`, Gemini's
    /// `systemInstruction`).
    pub system: Option<String>,
    /// The conversation so far, oldest first, ending with the user's question.
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSpec>,
    /// Longest answer, in tokens (Anthropic requires one; a default is used when `None`).
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// The passages the answer is grounded in (see [`Document`]).
    pub documents: Vec<Document>,
}

impl ChatRequest {
    /// The last user message's text: the question being answered.
    pub fn question(&self) -> String {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .map(ChatMessage::text_content)
            .unwrap_or_default()
    }
}

/// Tokens a completion used, as the provider counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// It finished its answer.
    Stop,
    /// It hit `max_tokens`.
    Length,
    /// It wants tool results before going on.
    ToolCalls,
    /// The provider's safety filter stopped it.
    ContentFilter,
    /// Anything else, as the provider named it.
    Other(String),
}

/// What a [`ChatStream`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// The next piece of the answer's text (never empty).
    Delta(String),
    /// A complete tool call, emitted once its arguments are complete.
    ToolCall(ToolCall),
    /// Token counts; usually once, near the end. Providers that report cumulative counts
    /// are reported once, with the final figures.
    Usage(Usage),
    /// The model stopped. Nothing follows it.
    Finish(FinishReason),
}

/// A running completion. Errors in the middle (a dropped connection, an idle provider, an
/// `error` event) end it with a [`ModelError`].
pub type ChatStream = BoxStream<'static, Result<ChatEvent, ModelError>>;

/// A chat model. Object-safe, so the server holds `Arc<dyn ChatModel>` per catalogue entry.
pub trait ChatModel: Send + Sync {
    /// The model's name at its provider.
    fn model(&self) -> &str;
    /// Provider and model, for messages.
    fn origin(&self) -> &Origin;
    /// Whether [`Part::Image`] may be sent to this model.
    fn accepts_images(&self) -> bool {
        false
    }
    /// Whether the model can call tools.
    fn supports_tools(&self) -> bool {
        true
    }
    /// How many tokens of prompt and answer the model takes at most.
    fn context_tokens(&self) -> usize;
    /// Starts a completion. Resolves when the provider has accepted it (see the module
    /// documentation); the stream then yields the answer.
    fn stream(&self, request: ChatRequest) -> BoxFuture<'_, Result<ChatStream, ModelError>>;
}

/// A whole answer, for callers that do not stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Option<Usage>,
    pub finish: Option<FinishReason>,
}

/// Runs a completion to its end and gathers it.
pub async fn complete(
    model: &dyn ChatModel,
    request: ChatRequest,
) -> Result<Completion, ModelError> {
    let mut stream = model.stream(request).await?;
    let mut completion = Completion::default();
    while let Some(event) = stream.next().await {
        match event? {
            ChatEvent::Delta(text) => completion.text.push_str(&text),
            ChatEvent::ToolCall(call) => completion.tool_calls.push(call),
            ChatEvent::Usage(usage) => completion.usage = Some(usage),
            ChatEvent::Finish(reason) => {
                completion.finish = Some(reason);
                break;
            }
        }
    }
    Ok(completion)
}
