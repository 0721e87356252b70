//! Provider settings and the factories that turn them into model clients. The settings mirror
//! the server's `ProviderConfig` (the server converts), so this crate does not depend on the
//! server or its configuration loader.

use std::sync::Arc;

use secrecy::SecretString;
use url::Url;

use crate::chat::{AnthropicChat, ChatModel, ChatSettings, GeminiChat, OpenAiChat};
use crate::embed::{Embedder, OpenAiEmbedder};
use crate::error::{ModelError, Origin, Service};
use crate::options::ClientOptions;
use crate::rerank::{HttpReranker, Reranker};

/// The wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Any OpenAI-compatible API: OpenAI, Groq, vLLM, Ollama, LM Studio, DeepSeek, TEI…
    OpenAi,
    Anthropic,
    Gemini,
}

impl ProviderKind {
    /// Where the provider lives when the configuration names no `base_url`. Gemini's is its
    /// OpenAI-compatible surface, which serves `/embeddings` with a Bearer key; chat uses the
    /// native API one level up (see [`GeminiChat`]).
    pub fn default_base_url(self) -> Url {
        let url = match self {
            ProviderKind::OpenAi => "https://api.openai.com/v1",
            ProviderKind::Anthropic => "https://api.anthropic.com/v1",
            ProviderKind::Gemini => "https://generativelanguage.googleapis.com/v1beta/openai",
        };
        Url::parse(url).expect("built-in URLs parse")
    }
}

/// What a model client needs to know about its provider.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The configured short name; shown in errors and logs instead of the URL.
    pub name: String,
    pub kind: ProviderKind,
    /// `None` means the kind's public endpoint ([`ProviderKind::default_base_url`]).
    pub base_url: Option<Url>,
    /// Sent as `Authorization: Bearer …` (Anthropic: `x-api-key`; Gemini's native chat:
    /// `x-goog-api-key`); `None` (or empty) for keyless local servers.
    pub api_key: Option<SecretString>,
}

/// The environment variable named by a provider's `api_key_env` is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the environment variable {0} (named by api_key_env) is not set")]
pub struct MissingKeyVariable(pub String);

impl ProviderSettings {
    pub fn new(name: impl Into<String>, kind: ProviderKind) -> Self {
        ProviderSettings { name: name.into(), kind, base_url: None, api_key: None }
    }

    pub fn with_base_url(mut self, base_url: Url) -> Self {
        self.base_url = Some(base_url);
        self
    }

    pub fn with_api_key(mut self, api_key: impl Into<SecretString>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    /// The key as configured: `api_key` when given, else the variable `api_key_env` names.
    /// A named but unset variable is an error, so a typo does not silently send no key.
    pub fn resolve_api_key(
        api_key: Option<&SecretString>,
        api_key_env: Option<&str>,
    ) -> Result<Option<SecretString>, MissingKeyVariable> {
        if let Some(key) = api_key {
            return Ok(Some(key.clone()));
        }
        match api_key_env {
            Some(var) => std::env::var(var)
                .map(|key| Some(SecretString::from(key)))
                .map_err(|_| MissingKeyVariable(var.to_owned())),
            None => Ok(None),
        }
    }

    pub(crate) fn base_url_or_default(&self) -> Url {
        self.base_url.clone().unwrap_or_else(|| self.kind.default_base_url())
    }

    pub(crate) fn origin(&self, service: Service, model: &str) -> Origin {
        Origin::new(service, self.name.clone(), model)
    }
}

/// An embeddings client for `model` at `provider`. OpenAI-compatible providers and Gemini
/// (through its OpenAI-compatible endpoint) are supported; Anthropic has no embeddings API.
pub fn build_embedder(
    provider: &ProviderSettings,
    model: &str,
    options: ClientOptions,
) -> Result<Arc<dyn Embedder>, ModelError> {
    match provider.kind {
        ProviderKind::OpenAi | ProviderKind::Gemini => {
            Ok(Arc::new(OpenAiEmbedder::new(provider, model, options)?))
        }
        ProviderKind::Anthropic => Err(ModelError::Unsupported {
            origin: Arc::new(provider.origin(Service::Embedding, model)),
            reason: "Anthropic offers no embeddings API; configure an OpenAI-compatible \
                     embeddings provider instead"
                .into(),
        }),
    }
}

/// A reranking client for `model` at `provider`, which must be a Cohere/Jina-compatible
/// `/rerank` service (Jina, Cohere, vLLM, a gateway) configured as an OpenAI-kind provider
/// with an explicit `base_url`: OpenAI itself has no `/rerank`.
pub fn build_reranker(
    provider: &ProviderSettings,
    model: &str,
    options: ClientOptions,
) -> Result<Arc<dyn Reranker>, ModelError> {
    let unsupported = |reason: &str| ModelError::Unsupported {
        origin: Arc::new(provider.origin(Service::Rerank, model)),
        reason: reason.into(),
    };
    match provider.kind {
        ProviderKind::OpenAi if provider.base_url.is_some() => {
            Ok(Arc::new(HttpReranker::new(provider, model, options)?))
        }
        ProviderKind::OpenAi => Err(unsupported(
            "OpenAI has no rerank API; set base_url to a Cohere/Jina-compatible rerank service",
        )),
        ProviderKind::Anthropic | ProviderKind::Gemini => {
            Err(unsupported("this provider has no Cohere/Jina-compatible rerank API"))
        }
    }
}

/// A chat model `model` at `provider`, speaking the provider kind's own protocol:
/// [`OpenAiChat`] for OpenAI-compatible servers, [`AnthropicChat`] for Anthropic,
/// [`GeminiChat`] (native API) for Gemini. `options` would usually be
/// [`ClientOptions::chat`]; `settings` come from the model catalogue.
pub fn build_chat_model(
    provider: &ProviderSettings,
    model: &str,
    options: ClientOptions,
    settings: ChatSettings,
) -> Result<Arc<dyn ChatModel>, ModelError> {
    Ok(match provider.kind {
        ProviderKind::OpenAi => Arc::new(OpenAiChat::new(provider, model, options, settings)?),
        ProviderKind::Anthropic => {
            Arc::new(AnthropicChat::new(provider, model, options, settings)?)
        }
        ProviderKind::Gemini => Arc::new(GeminiChat::new(provider, model, options, settings)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openmai_types::{Code, ErrorCode};

    #[test]
    fn unsupported_combinations_say_why() {
        let anthropic = ProviderSettings::new("claude", ProviderKind::Anthropic);
        let err = build_embedder(&anthropic, "x", ClientOptions::default()).err().unwrap();
        assert_eq!(err.error_code(), Code::ModelUnsupported);
        assert!(err.to_string().starts_with("The embedding provider (claude, x) cannot do this:"));

        let openai = ProviderSettings::new("openai", ProviderKind::OpenAi);
        let err = build_reranker(&openai, "r", ClientOptions::default()).err().unwrap();
        assert!(err.to_string().contains("OpenAI has no rerank API"), "{err}");
    }

    #[test]
    fn defaults_and_key_resolution() {
        let gemini = ProviderSettings::new("g", ProviderKind::Gemini);
        let embedder = build_embedder(&gemini, "gemini-embedding-001", ClientOptions::default());
        assert_eq!(embedder.unwrap().model(), "gemini-embedding-001");

        let inline = SecretString::from("k");
        let key = ProviderSettings::resolve_api_key(Some(&inline), Some("UNUSED")).unwrap();
        assert!(key.is_some());
        assert!(ProviderSettings::resolve_api_key(None, None).unwrap().is_none());
        let missing = ProviderSettings::resolve_api_key(None, Some("OPENMAI_TEST_NO_SUCH_VAR"));
        assert_eq!(missing.unwrap_err(), MissingKeyVariable("OPENMAI_TEST_NO_SUCH_VAR".into()));
    }
}
