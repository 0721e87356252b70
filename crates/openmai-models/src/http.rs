//! The HTTP layer every provider adapter shares: one `reqwest` client per model client, a
//! concurrency limit, per-attempt timeouts, retries with back-off that honour `Retry-After`,
//! bounded body reads, and provider error bodies turned into short, key-free messages.
//!
//! Adapters only build a request body and parse a success body. Chat streaming uses a second
//! kind of attempt ([`Transport::post_events`]): the same [`Transport::retry`] loop and
//! [`Failure`] mapping until the status and headers are in, then the body as server-sent
//! events with an idle timeout instead of a total one.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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

/// A provider's answer as server-sent events. It ends with a [`ModelError`] if the provider
/// goes quiet for longer than `stream_idle_timeout`, the connection breaks, or the answer grows
/// past `max_response_bytes`. Dropping it closes the connection and frees the permit.
pub(crate) type EventStream = BoxStream<'static, Result<Event, ModelError>>;

/// How the API key travels. Most providers take `Authorization: Bearer`; Anthropic and
/// Gemini's native API want the bare key in a header of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyHeader {
    Bearer,
    /// The bare key in this header (`x-api-key`, `x-goog-api-key`).
    Named(&'static str),
}

/// One provider endpoint as seen by one model client.
pub(crate) struct Transport {
    client: reqwest::Client,
    base_url: Url,
    /// Sent with every request: the key (marked sensitive) and fixed ones like
    /// `anthropic-version`.
    headers: HeaderMap,
    redactor: Redactor,
    options: ClientOptions,
    origin: Arc<Origin>,
    /// An `Arc` so a streamed answer can own its permit for as long as it is read.
    permits: Arc<Semaphore>,
}

impl Transport {
    /// A transport sending the key as `Authorization: Bearer`.
    pub(crate) fn new(
        origin: Origin,
        base_url: Url,
        api_key: Option<&SecretString>,
        options: ClientOptions,
    ) -> Result<Transport, ModelError> {
        Transport::with_key_header(origin, base_url, api_key, KeyHeader::Bearer, options)
    }

    pub(crate) fn with_key_header(
        origin: Origin,
        base_url: Url,
        api_key: Option<&SecretString>,
        key_header: KeyHeader,
        options: ClientOptions,
    ) -> Result<Transport, ModelError> {
        let origin = Arc::new(origin);
        let options = options.sanitized();
        let api_key = api_key.filter(|key| !key.expose_secret().is_empty());
        let mut headers = HeaderMap::new();
        if let Some(key) = api_key {
            let (name, value) = match key_header {
                KeyHeader::Bearer => (AUTHORIZATION, format!("Bearer {}", key.expose_secret())),
                KeyHeader::Named(name) => {
                    (HeaderName::from_static(name), key.expose_secret().to_owned())
                }
            };
            let mut value = HeaderValue::try_from(value).map_err(|_| ModelError::Unsupported {
                origin: origin.clone(),
                reason: "the API key contains characters not allowed in a header".into(),
            })?;
            // Keeps the value out of reqwest's and hyper's Debug output.
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err(ModelError::Unsupported {
                origin,
                reason: "the base URL must be an http(s) URL with a host".into(),
            });
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("openmai/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout.min(options.timeout));
        if options.http2_prior_knowledge {
            builder = builder.http2_prior_knowledge();
        }
        let client = builder.build().map_err(|err| ModelError::Unavailable {
            origin: origin.clone(),
            reason: format!("the HTTP client could not be set up ({})", error_chain(&err)),
        })?;
        Ok(Transport {
            client,
            base_url,
            headers,
            redactor: Redactor(api_key.cloned()),
            permits: Arc::new(Semaphore::new(options.concurrency)),
            options,
            origin,
        })
    }

    /// Adds a header sent with every request (a protocol version, say).
    pub(crate) fn with_header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        self
    }

    pub(crate) fn origin(&self) -> &Arc<Origin> {
        &self.origin
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// What a stream decoder needs to word its errors the way the transport does.
    pub(crate) fn stream_errors(&self) -> StreamErrors {
        StreamErrors { origin: self.origin.clone(), redactor: self.redactor.clone() }
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
        let _permit = self.permits.acquire().await.map_err(|_| self.shutting_down())?;
        // Encoded only once a permit is held, so thousands of queued batches do not all sit
        // in memory as JSON at once.
        let body = self.encode(body)?;
        let url = self.url(path);
        self.retry(path, || self.attempt(url.clone(), body.clone())).await
    }

    /// POSTs `body` as JSON to `path` (plus `query`) and returns the answer as server-sent
    /// events once the provider has accepted it: a 2xx status and its headers. Everything
    /// before that (network errors, no headers within `timeout`, 408, 409, 429, 5xx) is
    /// retried like [`Transport::post_json`]; nothing after it is, since part of the answer
    /// may already be on its way to the user.
    ///
    /// The permit is taken before the first attempt and moves into the stream, so
    /// `concurrency` bounds the answers being streamed, not just the requests being sent.
    pub(crate) async fn post_events(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: &impl Serialize,
    ) -> Result<EventStream, ModelError> {
        let permit =
            self.permits.clone().acquire_owned().await.map_err(|_| self.shutting_down())?;
        let body = self.encode(body)?;
        let mut url = self.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let response = self.retry(path, || self.open_stream(url.clone(), body.clone())).await?;
        Ok(self.events(response, permit))
    }

    fn shutting_down(&self) -> ModelError {
        ModelError::Unavailable {
            origin: self.origin.clone(),
            reason: "the client is shutting down".into(),
        }
    }

    fn encode(&self, body: &impl Serialize) -> Result<bytes::Bytes, ModelError> {
        let body = serde_json::to_vec(body).map_err(|err| ModelError::Unsupported {
            origin: self.origin.clone(),
            reason: format!("the request could not be encoded ({err})"),
        })?;
        Ok(bytes::Bytes::from(body))
    }

    fn request(&self, url: Url, body: bytes::Bytes) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
    }

    /// One streamed POST, with the per-attempt timeout around sending and receiving the
    /// headers (and reading an error body), not around the answer itself.
    async fn open_stream(
        &self,
        url: Url,
        body: bytes::Bytes,
    ) -> Result<reqwest::Response, Failure> {
        let request = self.request(url, body).header(ACCEPT, "text/event-stream");
        let exchange = async {
            let response = request.send().await.map_err(|err| self.network(err))?;
            let status = response.status();
            let is_json = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.trim_start().starts_with("application/json"));
            if status.is_success() && !is_json {
                return Ok(response);
            }
            let retry_after = retry_after(response.headers(), SystemTime::now());
            let body = self.read_body(response).await?;
            let message = self.redactor.scrub(&provider_message(&body, status));
            if status.is_success() {
                // A gateway that ignored `stream: true`, or an error wrapped in a 200.
                Err(Failure::Invalid(format!("expected an event stream, got JSON: {message}")))
            } else {
                Err(Failure::Status { status, message, retry_after })
            }
        };
        match tokio::time::timeout(self.options.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout),
        }
    }

    /// The accepted response's body as SSE events (parsed by `eventsource-stream`), with the
    /// idle timeout and size bound applied to the bytes: any traffic, keep-alive comments
    /// included, shows the provider is alive. The stream owns `permit`.
    fn events(&self, response: reqwest::Response, permit: OwnedSemaphorePermit) -> EventStream {
        struct Body {
            response: reqwest::Response,
            received: usize,
            errors: StreamErrors,
            _permit: OwnedSemaphorePermit,
        }
        let idle = self.options.stream_idle_timeout;
        let limit = self.options.max_response_bytes;
        let body = Body { response, received: 0, errors: self.stream_errors(), _permit: permit };
        let chunks = futures::stream::unfold(Some(body), move |body| async move {
            let mut body = body?;
            let failure = match tokio::time::timeout(idle, body.response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    body.received += chunk.len();
                    if body.received <= limit {
                        return Some((Ok(chunk), Some(body)));
                    }
                    body.errors.invalid(&format!("the answer is larger than {limit} bytes"))
                }
                Ok(Ok(None)) => return None,
                Ok(Err(err)) => body.errors.broken(&err),
                Err(_) => ModelError::Timeout { origin: body.errors.origin.clone(), after: idle },
            };
            // A failure ends the stream (state `None`), dropping the connection and permit.
            Some((Err(failure), None))
        });
        let origin = self.origin.clone();
        chunks
            .eventsource()
            .map(move |event| {
                event.map_err(|err| {
                    let reason = match err {
                        EventStreamError::Transport(err) => return err,
                        EventStreamError::Utf8(_) => "the event stream is not valid UTF-8",
                        EventStreamError::Parser(_) => "the event stream is malformed",
                    };
                    ModelError::InvalidResponse { origin: origin.clone(), reason: reason.into() }
                })
            })
            .boxed()
    }

    /// One POST with the per-attempt timeout around sending *and* reading the body.
    async fn attempt(&self, url: Url, body: bytes::Bytes) -> Result<Vec<u8>, Failure> {
        let request = self.request(url, body);
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
                return Err(to_error(origin.clone(), self.options.timeout, failure, number));
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
}

/// The error for a failure that is final after `attempts` attempts of at most `timeout` each.
fn to_error(origin: Arc<Origin>, timeout: Duration, failure: Failure, attempts: u32) -> ModelError {
    let tries = if attempts > 1 { format!(", after {attempts} attempts") } else { String::new() };
    match failure {
        Failure::Timeout => ModelError::Timeout { origin, after: timeout },
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

/// Errors found inside an accepted stream, worded like the transport's own: the origin in
/// each, the key scrubbed from anything the provider said.
#[derive(Clone)]
pub(crate) struct StreamErrors {
    origin: Arc<Origin>,
    redactor: Redactor,
}

impl StreamErrors {
    /// Something in the stream we cannot use (`reason` may quote it: it is scrubbed and
    /// clipped here).
    pub(crate) fn invalid(&self, reason: &str) -> ModelError {
        ModelError::InvalidResponse {
            origin: self.origin.clone(),
            reason: clip(&self.redactor.scrub(reason)),
        }
    }

    /// An error the provider sent as an event, mapped like the HTTP status it stands for
    /// (Anthropic's `overloaded_error` is its 529, a rate-limit error a 429) so callers see
    /// the same kinds whether the failure came before the answer or during it.
    pub(crate) fn provider(&self, status: u16, message: &str) -> ModelError {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match clip(&self.redactor.scrub(message)) {
            text if text.is_empty() => "error in the answer stream".to_owned(),
            text => text,
        };
        let failure = Failure::Status { status, message, retry_after: None };
        to_error(self.origin.clone(), Duration::ZERO, failure, 1)
    }

    /// The connection failed while the answer was streaming.
    fn broken(&self, err: &reqwest::Error) -> ModelError {
        ModelError::Unavailable {
            origin: self.origin.clone(),
            reason: format!(
                "the connection broke during the answer ({})",
                self.redactor.scrub(&error_chain(err))
            ),
        }
    }

    /// The stream ended before the provider said the answer was complete.
    pub(crate) fn cut_off(&self) -> ModelError {
        ModelError::Unavailable {
            origin: self.origin.clone(),
            reason: "the answer stream ended before the answer was complete".into(),
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
