use std::time::Duration;

/// How a client talks to its provider. The defaults suit a background indexing job against a
/// hosted API; [`ClientOptions::chat`] suits interactive chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Limit for one attempt: connecting, sending and reading the whole answer. For a streamed
    /// chat answer, only until the status and headers are in (the body is bounded by
    /// `stream_idle_timeout` instead, since a long answer may rightly take minutes). A
    /// timed-out attempt is retried like a 5xx.
    pub timeout: Duration,
    /// Attempts after the first one for retryable failures (network errors, timeouts, 408,
    /// 409, 429 and 5xx other than 501/505). `4` means at most five requests.
    pub max_retries: u32,
    /// First back-off delay; it doubles per retry, with jitter, up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Texts per embeddings request. OpenAI allows 2048 inputs, but local servers (Ollama,
    /// TEI) are happier with small batches, and a failed batch costs less to repeat.
    pub batch_size: usize,
    /// Requests in flight at once for this client, across all callers. This is the knob peers
    /// lack (MaxKB #3340): re-embedding a whole knowledge base never floods the provider.
    pub concurrency: usize,
    /// Longest `Retry-After` the client waits out in-process. A provider asking for more (a
    /// spent daily quota, say) makes the call fail at once with
    /// [`ModelError::RateLimited`](crate::ModelError::RateLimited), so a job queue can
    /// reschedule instead of holding a worker.
    pub max_retry_after: Duration,
    /// Time allowed to open the TCP/TLS connection, within `timeout`.
    pub connect_timeout: Duration,
    /// Largest response body accepted, so a misbehaving server cannot exhaust memory. For a
    /// streamed answer it bounds the whole stream.
    pub max_response_bytes: usize,
    /// Speak HTTP/2 without TLS ("prior knowledge", h2c) to a plain-`http` provider, so every
    /// request in flight shares a few connections instead of holding one socket each. For
    /// gateways that support it; `https` providers negotiate HTTP/2 by themselves.
    pub http2_prior_knowledge: bool,
    /// Longest silence allowed in a streamed answer once it has started: a provider that
    /// sends nothing (not even a keep-alive) for this long has stalled, and the stream ends
    /// with [`ModelError::Timeout`](crate::ModelError::Timeout). Not retried: part of the
    /// answer may already have reached the user.
    pub stream_idle_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(60),
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            batch_size: 64,
            concurrency: 4,
            max_retry_after: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            max_response_bytes: 64 * 1024 * 1024,
            http2_prior_knowledge: false,
            stream_idle_timeout: Duration::from_secs(60),
        }
    }
}

impl ClientOptions {
    /// Presets for interactive chat, where someone is waiting:
    ///
    /// - `timeout` 60 s until the answer *starts* (status and headers): long prompts and
    ///   cold local models take a while to accept, but not longer;
    /// - `max_retries` 2 with back-off from 500 ms capped at 4 s, and `Retry-After` waited
    ///   out only up to 20 s: past that, failing fast with a clear error beats a spinner;
    /// - `concurrency` 256: every conversation holds a permit for its whole answer, so the
    ///   limit is a ceiling on simultaneous answers, not a batch queue (raise it per provider
    ///   for large deployments);
    /// - `stream_idle_timeout` 60 s between two pieces of the answer: reasoning models can
    ///   think silently for a long time, but a minute of nothing means a stall.
    pub fn chat() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(60),
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(4),
            concurrency: 256,
            max_retry_after: Duration::from_secs(20),
            stream_idle_timeout: Duration::from_secs(60),
            ..ClientOptions::default()
        }
    }

    /// The options with zero sizes raised to one, so a misconfiguration degrades to serial
    /// work instead of dividing by zero or never acquiring a permit.
    pub(crate) fn sanitized(mut self) -> Self {
        self.batch_size = self.batch_size.max(1);
        self.concurrency = self.concurrency.max(1);
        self.max_backoff = self.max_backoff.max(self.initial_backoff);
        self
    }
}
