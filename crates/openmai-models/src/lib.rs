//! Clients for model providers, behind object-safe traits so the server can hold
//! `Arc<dyn Embedder>`, `Arc<dyn Reranker>` and `Arc<dyn ChatModel>` built from configuration
//! at run time.
//!
//! - [`Embedder`] / [`OpenAiEmbedder`]: OpenAI-compatible `/embeddings` (OpenAI, Ollama,
//!   vLLM, TEI, LM Studio, Gemini's OpenAI endpoint). With no embedding provider configured the
//!   server runs keyword-only retrieval; that decision is the caller's, not this crate's.
//! - [`Reranker`] / [`HttpReranker`]: Cohere/Jina-compatible `/rerank`.
//! - [`ChatModel`](chat::ChatModel): streamed chat completion with tool calls (see [`chat`]):
//!   - [`OpenAiChat`]: OpenAI-compatible `/chat/completions` (OpenAI, Groq, DeepSeek, vLLM,
//!     Ollama, LM Studio), tool-call fragments assembled into whole calls;
//!   - [`AnthropicChat`]: Anthropic Messages, history rewritten to its turn rules;
//!   - [`GeminiChat`]: Gemini's native `streamGenerateContent`.
//! - [`build_embedder`] / [`build_reranker`] / [`build_chat_model`]: from
//!   [`ProviderSettings`], which mirror the server's provider configuration without depending
//!   on it.
//!
//! Every client goes through one transport (`http.rs`) doing what peers get wrong: batches, a
//! per-client concurrency limit, a timeout per attempt, retries on network errors, 408, 409,
//! 429 and 5xx (not 501/505) with exponential back-off and jitter, `Retry-After` honoured on
//! 429/503, no retry on other 4xx, bounded response bodies, and cancellation by dropping the
//! future. Chat answers stream as server-sent events (parsed by `eventsource-stream`) with an
//! idle timeout between pieces; the retries cover everything until the answer starts. Failures
//! are one [`ModelError`] whose `Display` names the provider and model and never the API key,
//! and which maps to the `Provider*` rows of the shared error table.
//!
//! - [`OfflineResponder`]: the built-in offline chat model, which answers extractively from
//!   the retrieved passages with citations (no network, no key), so a fresh install answers
//!   questions before any provider is configured (see [`offline`]).

pub mod chat;
mod embed;
mod error;
mod http;
pub mod offline;
mod options;
mod provider;
mod rerank;

pub use chat::{AnthropicChat, ChatSettings, GeminiChat, OpenAiChat};
pub use embed::{EmbedKind, Embedder, OpenAiEmbedder};
pub use error::{ModelError, Origin, Service};
pub use offline::{OfflineAnswer, OfflineResponder};
pub use options::ClientOptions;
pub use provider::{
    MissingKeyVariable, ProviderKind, ProviderSettings, build_chat_model, build_embedder,
    build_reranker,
};
pub use rerank::{HttpReranker, Ranked, Reranker};

/// What the traits' methods return: a boxed, `Send` future, which keeps the traits
/// object-safe (`async fn` in traits is not `dyn`-compatible) without the `async-trait` macro.
pub type BoxFuture<'a, T> = futures::future::BoxFuture<'a, T>;
