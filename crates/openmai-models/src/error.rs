//! The one error type of every model client. Each variant says *what kind* of failure it was
//! (so callers can decide whether to re-queue, e.g. on [`ModelError::RateLimited`]) and carries
//! the [`Origin`] of the call, so its `Display` reads well on its own as a file's failure
//! reason or in a log line: "The embedding provider (openai, text-embedding-3-small) refused
//! the request: 401 Incorrect API key provided." API keys never appear in it: provider
//! messages are scrubbed of the key before they are stored (see `http::Redactor`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use openmai_types::{Code, ErrorCode};

/// What a provider was asked to do; it words the error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Embedding,
    Rerank,
    Chat,
}

impl Service {
    fn noun(self) -> &'static str {
        match self {
            Service::Embedding => "embedding provider",
            Service::Rerank => "reranking provider",
            Service::Chat => "language model provider",
        }
    }
}

/// Which provider and model a call went to: the configured provider name (not its URL, which
/// may carry credentials in odd set-ups) and the model name at that provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub service: Service,
    pub provider: String,
    pub model: String,
}

impl Origin {
    pub fn new(service: Service, provider: impl Into<String>, model: impl Into<String>) -> Self {
        Origin { service, provider: provider.into(), model: model.into() }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "The {} ({}, {})", self.service.noun(), self.provider, self.model)
    }
}

/// A failed model call. Retryable failures (timeouts, 429, 5xx, network errors) are only
/// returned after the client's retries are used up, so receiving one means "gave up".
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    /// Every attempt (or the last one) took longer than the per-request timeout.
    #[error("{origin} did not answer within {}.", human(*after))]
    Timeout { origin: Arc<Origin>, after: Duration },
    /// The provider kept answering 429. `retry_after` is what it last asked for, so a job
    /// queue can reschedule instead of failing the file. `message` is the provider's own
    /// words, which tell a spent quota or billing problem (OpenAI's `insufficient_quota`)
    /// from a momentary limit.
    #[error("{origin} is rate limiting requests{}; {}.", quoted(message), retry_hint(*retry_after))]
    RateLimited { origin: Arc<Origin>, retry_after: Option<Duration>, message: String },
    /// Network failure or a 5xx, after retries.
    #[error("{origin} is unavailable: {}", sentence(reason))]
    Unavailable { origin: Arc<Origin>, reason: String },
    /// A 4xx other than 408/409/429: bad key, unknown model, input too long. Not retried.
    #[error("{origin} refused the request: {status} {}", sentence(message))]
    Rejected { origin: Arc<Origin>, status: u16, message: String },
    /// The provider answered 2xx with something we cannot use: malformed JSON, the wrong
    /// number of vectors, missing indices, non-finite numbers, inconsistent dimensions.
    #[error("{origin} sent an invalid response: {}", sentence(reason))]
    InvalidResponse { origin: Arc<Origin>, reason: String },
    /// The provider kind or configuration cannot do this at all (no call was made).
    #[error("{origin} cannot do this: {}", sentence(reason))]
    Unsupported { origin: Arc<Origin>, reason: String },
}

impl ModelError {
    /// The provider and model the failed call went to.
    pub fn origin(&self) -> &Origin {
        match self {
            ModelError::Timeout { origin, .. }
            | ModelError::RateLimited { origin, .. }
            | ModelError::Unavailable { origin, .. }
            | ModelError::Rejected { origin, .. }
            | ModelError::InvalidResponse { origin, .. }
            | ModelError::Unsupported { origin, .. } => origin,
        }
    }

    /// Whether trying the same call again later may succeed (a job queue's question).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ModelError::Timeout { .. }
                | ModelError::RateLimited { .. }
                | ModelError::Unavailable { .. }
        )
    }
}

impl ErrorCode for ModelError {
    fn error_code(&self) -> Code {
        match self {
            ModelError::Timeout { .. } => Code::ProviderTimeout,
            ModelError::RateLimited { .. } => Code::ProviderRateLimited,
            ModelError::Unavailable { .. } => Code::ProviderUnavailable,
            ModelError::Rejected { .. } => Code::ProviderRejected,
            ModelError::InvalidResponse { .. } => Code::ProviderInvalidResponse,
            ModelError::Unsupported { .. } => Code::ModelUnsupported,
        }
    }
}

/// "60 s", "1.5 s", "250 ms": short and exact enough for a failure reason.
pub(crate) fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("it asked to retry after {}", human(d)),
        None => "try again later".into(),
    }
}

/// " (message)" without its full stop, or nothing for an empty message.
fn quoted(message: &str) -> String {
    match message.trim().trim_end_matches('.') {
        "" => String::new(),
        text => format!(" ({text})"),
    }
}

/// Ends a provider's message with a full stop unless it already ends a sentence, so the
/// whole error reads as one sentence.
fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.ends_with(['.', '!', '?', '。', '！', '？']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Arc<Origin> {
        Arc::new(Origin::new(Service::Embedding, "openai", "text-embedding-3-small"))
    }

    #[test]
    fn messages_read_as_one_sentence() {
        let err = ModelError::Rejected {
            origin: origin(),
            status: 401,
            message: "Incorrect API key provided.".into(),
        };
        assert_eq!(
            err.to_string(),
            "The embedding provider (openai, text-embedding-3-small) refused the request: \
             401 Incorrect API key provided."
        );
        let err = ModelError::Timeout { origin: origin(), after: Duration::from_secs(60) };
        assert_eq!(
            err.to_string(),
            "The embedding provider (openai, text-embedding-3-small) did not answer within 60 s."
        );
        let err = ModelError::RateLimited {
            origin: origin(),
            retry_after: Some(Duration::from_millis(1500)),
            message: "Rate limit reached for requests.".into(),
        };
        assert!(
            err.to_string().ends_with(
                "is rate limiting requests (Rate limit reached for requests); \
                 it asked to retry after 1.5 s."
            ),
            "{err}"
        );
        let err = ModelError::Unavailable { origin: origin(), reason: "HTTP 503 busy".into() };
        assert!(err.to_string().ends_with("is unavailable: HTTP 503 busy."), "{err}");
    }

    #[test]
    fn codes_map_to_gateway_errors() {
        let o = origin();
        let cases = [
            (ModelError::Timeout { origin: o.clone(), after: Duration::ZERO }, 504),
            (
                ModelError::RateLimited {
                    origin: o.clone(),
                    retry_after: None,
                    message: String::new(),
                },
                503,
            ),
            (ModelError::Unavailable { origin: o.clone(), reason: String::new() }, 502),
            (ModelError::Rejected { origin: o.clone(), status: 400, message: String::new() }, 502),
            (ModelError::InvalidResponse { origin: o.clone(), reason: String::new() }, 502),
            (ModelError::Unsupported { origin: o, reason: String::new() }, 400),
        ];
        for (err, status) in cases {
            assert_eq!(err.error_code().status().as_u16(), status, "{err:?}");
        }
    }
}
