//! The HTTP layer every provider adapter shares: one `reqwest` client per model client, a
//! concurrency limit, per-attempt timeouts, retries with back-off that honour `Retry-After`,
//! bounded body reads, and provider error bodies turned into short, key-free messages.
//!
//! Adapters only build a request body and parse a success body. Chat streaming will add a
//! second kind of attempt (return the response once the headers are in, then stream the body
//! with an idle timeout) on top of the same [`Transport::retry`] loop and [`Failure`] mapping.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::sync::Semaphore;
use url::Url;

use crate::error::{ModelError, Origin};
use crate::options::ClientOptions;

/// Longest provider message kept in an error, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// Why one attempt failed, before deciding whether to retry.
#[derive(Debug)]
pub(crate) enum Failure {
    Timeout,
    Network(String),
    Status {
        status: StatusCode,
        message: String,
        retry_after: Option<Duration>,
    },
    /// A 2xx we cannot use. Not retried: a server that sends garbage once usually does again.
    Invalid(String),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Timeout | Failure::Network(_) => true,
            Failure::Status { status, .. } => {
                matches!(status.as_u16(), 408 | 409 | 429)
                    || (status.is_server_error()
                        && *status != StatusCode::NOT_IMPLEMENTED
                        && *status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
            }
            Failure::Invalid(_) => false,
        }
    }

    /// The delay the provider asked for. Only 429 and 503 carry a meaningful `Retry-After`.
    fn requested_delay(&self) -> Option<Duration> {
        match self {
            Failure::Status { status, retry_after, .. } if matches!(status.as_u16(), 429 | 503) => {
                *retry_after
            }
            _ => None,
        }
    }
}

/// Removes the API key from any text that may reach an error message or a log line.
/// Providers sometimes echo (part of) the key back, e.g. "Incorrect API key provided: sk-…".
#[derive(Clone, Default)]
pub(crate) struct Redactor(Option<SecretString>);

impl Redactor {
    pub(crate) fn scrub(&self, text: &str) -> String {
        match &self.0 {
            Some(key) if !key.expose_secret().is_empty() => {
                text.replace(key.expose_secret(), "[redacted]")
            }
            _ => text.to_owned(),
        }
    }
}

/// One provider endpoint as seen by one model client.
pub(crate) struct Transport {
    client: reqwest::Client,
    base_url: Url,
    auth: Option<HeaderValue>,
    redactor: Redactor,
    options: ClientOptions,
    origin: Arc<Origin>,
    permits: Semaphore,
}

impl Transport {
    pub(crate) fn new(
        origin: Origin,
        base_url: Url,
        api_key: Option<&SecretString>,
        options: ClientOptions,
    ) -> Result<Transport, ModelError> {
        let origin = Arc::new(origin);
        let options = options.sanitized();
        let api_key = api_key.filter(|key| !key.expose_secret().is_empty());
        let auth = match api_key {
            Some(key) => {
                let mut value = HeaderValue::try_from(format!("Bearer {}", key.expose_secret()))
                    .map_err(|_| ModelError::Unsupported {
                        origin: origin.clone(),
                        reason: "the API key contains characters not allowed in a header".into(),
                    })?;
                // Keeps the value out of reqwest's and hyper's Debug output.
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err(ModelError::Unsupported {
                origin,
                reason: "the base URL must be an http(s) URL with a host".into(),
            });
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("openmai/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout.min(options.timeout))
            .build()
            .map_err(|err| ModelError::Unavailable {
                origin: origin.clone(),
                reason: format!("the HTTP client could not be set up ({})", error_chain(&err)),
            })?;
        Ok(Transport {
            client,
            base_url,
            auth,
            redactor: Redactor(api_key.cloned()),
            permits: Semaphore::new(options.concurrency),
            options,
            origin,
        })
    }

    pub(crate) fn origin(&self) -> &Arc<Origin> {
        &self.origin
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// `{base_url}/{path}`, keeping the base's path (`/v1`, with or without a trailing slash)
    /// and query (Azure-style `?api-version=`), which `Url::join` would not.
    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        let joined = format!("{}/{}", url.path().trim_end_matches('/'), path);
        url.set_path(&joined);
        url
    }

    /// POSTs `body` as JSON to `path` and returns the success body, retrying as the options
    /// say. At most `concurrency` calls of this client are inside at once; a call keeps its
    /// permit while it backs off, so a rate-limited provider sees fewer requests, not more.
    ///
    /// Cancellation-safe: dropping the future drops the connection (the provider sees it
    /// close), any back-off timer, and the permit.
    pub(crate) async fn post_json(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<Vec<u8>, ModelError> {
        let _permit = self.permits.acquire().await.map_err(|_| ModelError::Unavailable {
            origin: self.origin.clone(),
            reason: "the client is shutting down".into(),
        })?;
        // Encoded only once a permit is held, so thousands of queued batches do not all sit
        // in memory as JSON at once.
        let body = serde_json::to_vec(body).map_err(|err| ModelError::Unsupported {
            origin: self.origin.clone(),
            reason: format!("the request could not be encoded ({err})"),
        })?;
        let body = bytes::Bytes::from(body);
        let url = self.url(path);
        self.retry(path, || self.attempt(url.clone(), body.clone())).await
    }

    /// One POST with the per-attempt timeout around sending *and* reading the body.
    async fn attempt(&self, url: Url, body: bytes::Bytes) -> Result<Vec<u8>, Failure> {
        let mut request = self.client.post(url).header(CONTENT_TYPE, "application/json").body(body);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let exchange = async {
            let response = request.send().await.map_err(|err| self.network(err))?;
            let status = response.status();
            let retry_after = retry_after(response.headers(), SystemTime::now());
            let body = self.read_body(response).await?;
            if status.is_success() {
                Ok(body)
            } else {
                let message = self.redactor.scrub(&provider_message(&body, status));
                Err(Failure::Status { status, message, retry_after })
            }
        };
        match tokio::time::timeout(self.options.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout),
        }
    }

    /// Reads the whole body, refusing more than `max_response_bytes`.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, Failure> {
        let limit = self.options.max_response_bytes;
        let too_large = || Failure::Invalid(format!("the response is larger than {limit} bytes"));
        let expected = response.content_length().unwrap_or(0);
        if expected > limit as u64 {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(expected as usize);
        while let Some(chunk) = response.chunk().await.map_err(|err| self.network(err))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn network(&self, err: reqwest::Error) -> Failure {
        // reqwest's only timeout here is `connect_timeout` (the attempt's own timeout is
        // tokio's): a host that cannot be reached, so "unavailable", not "too slow".
        let what = match (err.is_timeout(), err.is_connect()) {
            (true, _) => "connection timed out",
            (false, true) => "connection failed",
            (false, false) => "request failed",
        };
        Failure::Network(format!("{what} ({})", self.redactor.scrub(&error_chain(&err))))
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are spent, sleeping
    /// between attempts: the provider's `Retry-After` on 429/503, otherwise exponential
    /// back-off with jitter.
    pub(crate) async fn retry<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, ModelError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let origin = &self.origin;
        let attempts = self.options.max_retries.saturating_add(1);
        let mut number = 0;
        loop {
            number += 1;
            let started = tokio::time::Instant::now();
            let failure = match attempt().await {
                Ok(value) => {
                    tracing::debug!(
                        provider = %origin.provider, model = %origin.model, endpoint = what,
                        attempt = number, elapsed_ms = started.elapsed().as_millis() as u64,
                        "model provider call succeeded"
                    );
                    return Ok(value);
                }
                Err(failure) => failure,
            };
            let requested = failure.requested_delay();
            let give_up = !failure.retryable()
                || number >= attempts
                || requested.is_some_and(|delay| delay > self.options.max_retry_after);
            if give_up {
                tracing::warn!(
                    provider = %origin.provider, model = %origin.model, endpoint = what,
                    attempt = number, failure = ?failure, "model provider call failed"
                );
                return Err(self.to_error(failure, number));
            }
            let delay = match requested {
                Some(delay) => delay + jitter(delay / 10),
                None => self.backoff(number),
            };
            tracing::warn!(
                provider = %origin.provider, model = %origin.model, endpoint = what,
                attempt = number, failure = ?failure, retry_in_ms = delay.as_millis() as u64,
                "model provider call failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// `initial_backoff * 2^(n-1)`, capped, with "equal jitter": half fixed, half random, so
    /// parallel batches that failed together do not retry in lockstep.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let base = self
            .options
            .initial_backoff
            .saturating_mul(1 << exponent)
            .min(self.options.max_backoff);
        base / 2 + jitter(base / 2)
    }

    fn to_error(&self, failure: Failure, attempts: u32) -> ModelError {
        let origin = self.origin.clone();
        let tries =
            if attempts > 1 { format!(", after {attempts} attempts") } else { String::new() };
        match failure {
            Failure::Timeout => ModelError::Timeout { origin, after: self.options.timeout },
            Failure::Network(reason) => {
                ModelError::Unavailable { origin, reason: format!("{reason}{tries}") }
            }
            Failure::Status { status, message, retry_after }
                if status == StatusCode::TOO_MANY_REQUESTS =>
            {
                ModelError::RateLimited { origin, retry_after, message }
            }
            Failure::Status { status, message, .. }
                if status.is_server_error() || matches!(status.as_u16(), 408 | 409) =>
            {
                ModelError::Unavailable {
                    origin,
                    reason: format!("HTTP {} {message}{tries}", status.as_u16()),
                }
            }
            Failure::Status { status, message, .. } => {
                ModelError::Rejected { origin, status: status.as_u16(), message }
            }
            Failure::Invalid(reason) => ModelError::InvalidResponse { origin, reason },
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No key, and no URL either: a base URL may carry credentials.
        f.debug_struct("Transport").field("origin", &self.origin).finish_non_exhaustive()
    }
}

fn jitter(max: Duration) -> Duration {
    let max_ms = max.as_millis().min(u64::MAX as u128) as u64;
    if max_ms == 0 { Duration::ZERO } else { Duration::from_millis(fastrand::u64(0..=max_ms)) }
}

/// The delay a provider asked for: `Retry-After` as seconds or as an HTTP date, else the
/// `retry-after-ms` some OpenAI-compatible gateways (Azure) send.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(value) = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()) {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(seconds) = value.parse::<f64>()
            && seconds.is_finite()
            && seconds >= 0.0
        {
            return Some(Duration::from_secs_f64(seconds.min(1e9)));
        }
        if let Ok(when) = httpdate::parse_http_date(value) {
            return Some(when.duration_since(now).unwrap_or(Duration::ZERO));
        }
    }
    let millis = headers.get("retry-after-ms")?.to_str().ok()?.trim().parse::<f64>().ok()?;
    (millis.is_finite() && millis >= 0.0)
        .then(|| Duration::from_secs_f64(millis.min(1e12) / 1000.0))
}

/// The human part of a provider's error body. Knows the common shapes: OpenAI, Anthropic and
/// Gemini `{"error": {"message"}}`, Ollama `{"error": "…"}`, Cohere `{"message"}`, FastAPI
/// (vLLM, TEI, Jina) `{"detail": "…" | [{"msg"}]}`, Gemini's array form; else the raw text.
pub(crate) fn provider_message(body: &[u8], status: StatusCode) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|value| {
        let value = match value {
            serde_json::Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
            other => other,
        };
        let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        let candidates = [
            value.pointer("/error/message").and_then(text),
            value.get("error").and_then(text),
            value.get("message").and_then(text),
            value.get("detail").and_then(text),
            value.pointer("/detail/0/msg").and_then(text),
        ];
        candidates.into_iter().flatten().find(|s| !s.trim().is_empty())
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = clip(&text);
    if text.is_empty() {
        return status.canonical_reason().unwrap_or("no message").to_owned();
    }
    text
}

/// One line of at most `MAX_MESSAGE_CHARS` characters (plus an ellipsis when cut), for text
/// from the outside world that goes into an error: provider messages, parse errors that quote
/// the body.
pub(crate) fn clip(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// An error and its sources as one line, without the URL reqwest puts in its own message.
fn error_chain(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut parts = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    if parts.is_empty() {
        // No sources: reqwest's own text, minus the URL.
        let mut text = err.to_string();
        if let Some(at) = text.find(" for url (") {
            text.truncate(at);
        }
        parts.push(text);
    }
    parts.dedup();
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_dates_and_milliseconds() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("12"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(12)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:30 GMT"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:00:00 GMT"));
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
        headers.remove(RETRY_AFTER);
        headers.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_millis(250)));
    }

    #[test]
    fn provider_messages_come_from_the_common_error_shapes() {
        let s = StatusCode::BAD_REQUEST;
        let m = |body: &str| provider_message(body.as_bytes(), s);
        assert_eq!(m(r#"{"error":{"message":"bad model","type":"x"}}"#), "bad model");
        assert_eq!(m(r#"{"error":"model \"x\" not found"}"#), "model \"x\" not found");
        assert_eq!(m(r#"{"message":"invalid request"}"#), "invalid request");
        assert_eq!(m(r#"{"detail":"Input too long"}"#), "Input too long");
        assert_eq!(m(r#"{"detail":[{"loc":["body"],"msg":"field required"}]}"#), "field required");
        assert_eq!(
            m(r#"[{"error":{"code":400,"message":"API key not valid"}}]"#),
            "API key not valid"
        );
        assert_eq!(m("<html>\n  Bad   Gateway </html>"), "<html> Bad Gateway </html>");
        assert_eq!(m(""), "Bad Request");
        assert_eq!(m(&"x".repeat(400)).chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn redaction_removes_the_key() {
        let redactor = Redactor(Some(SecretString::from("sk-secret")));
        assert_eq!(redactor.scrub("bad key sk-secret!"), "bad key [redacted]!");
        assert_eq!(Redactor::default().scrub("sk-secret"), "sk-secret");
    }
}
