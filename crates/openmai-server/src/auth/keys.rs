//! API keys: 40 random alphanumeric characters, shown once and stored as a SHA-256 digest.
//! Keys are high-entropy, so a fast digest is the right tool (a password hash per request
//! would only burn CPU). Lookups go through a short-lived cache so the hot path does not
//! touch the database; revocation invalidates it at once in this process and within
//! [`CACHE_TTL`] in others.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::http::HeaderValue;
use openmai_store::models::ApiKeyOwner;
use rand::RngExt;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

pub const KEY_LENGTH: usize = 40;
pub const PREFIX_LENGTH: usize = 8;
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// `last_used_at` is written at most this often per key.
pub const TOUCH_INTERVAL_MS: i64 = 60_000;

pub fn generate() -> String {
    rand::rng().sample_iter(Alphanumeric).take(KEY_LENGTH).map(char::from).collect()
}

pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

pub fn prefix(key: &str) -> String {
    key.chars().take(PREFIX_LENGTH).collect()
}

/// What the `Authorization` header holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential<'a> {
    /// No header (or an empty one).
    Missing,
    /// Not `Api-Key <one alphanumeric token>`: another scheme such as `Bearer`, extra
    /// spaces, or characters a key never has.
    Malformed,
    Key(&'a str),
}

pub fn parse_authorization(header: Option<&HeaderValue>) -> Credential<'_> {
    let Some(header) = header else { return Credential::Missing };
    let Ok(value) = header.to_str() else { return Credential::Malformed };
    if value.is_empty() {
        return Credential::Missing;
    }
    let Some((scheme, token)) = value.split_once(' ') else { return Credential::Malformed };
    if !scheme.eq_ignore_ascii_case("Api-Key")
        || token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Credential::Malformed;
    }
    Credential::Key(token)
}

/// A cached lookup: the owner (or `None` for a key that does not exist), plus when this
/// process last recorded the key's use.
#[derive(Clone)]
pub struct CachedKey {
    pub owner: Option<ApiKeyOwner>,
    pub last_touched: Arc<AtomicI64>,
}

impl CachedKey {
    pub fn new(owner: Option<ApiKeyOwner>) -> Self {
        let touched = owner.and_then(|o| o.last_used_at).map_or(0, |t| t.millis());
        CachedKey { owner, last_touched: Arc::new(AtomicI64::new(touched)) }
    }

    /// True when `now` is far enough past the last recorded use to write it again; claims
    /// the write so concurrent requests do not repeat it.
    pub fn claim_touch(&self, now: i64) -> bool {
        let last = self.last_touched.load(Ordering::Relaxed);
        now - last >= TOUCH_INTERVAL_MS
            && self
                .last_touched
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

pub type KeyCache = moka::sync::Cache<[u8; 32], CachedKey>;

pub fn new_cache() -> KeyCache {
    moka::sync::Cache::builder().max_capacity(100_000).time_to_live(CACHE_TTL).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Credential<'_> {
        // Leak is fine in a test: HeaderValue must outlive the borrow.
        let header: &'static HeaderValue =
            Box::leak(Box::new(HeaderValue::from_str(value).unwrap()));
        parse_authorization(Some(header))
    }

    #[test]
    fn only_one_api_key_token_is_well_formed() {
        assert_eq!(parse_authorization(None), Credential::Missing);
        assert_eq!(parse(""), Credential::Missing);
        assert_eq!(parse("Api-Key abc123XYZ"), Credential::Key("abc123XYZ"));
        assert_eq!(parse("api-key abc"), Credential::Key("abc"));
        for bad in [
            "Bearer abc",
            "Api-Key",
            "Api-Key  abc",
            "Api-Key a b",
            "Api-Key ab-c",
            "Token abc",
            "Api-Key abc!",
        ] {
            assert_eq!(parse(bad), Credential::Malformed, "{bad:?}");
        }
    }

    #[test]
    fn generated_keys_are_long_alphanumeric_and_distinct() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), KEY_LENGTH);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
        assert_eq!(prefix(&a).len(), PREFIX_LENGTH);
        assert_ne!(digest(&a), digest(&b));
    }

    #[test]
    fn touches_are_claimed_once_per_interval() {
        let cached = CachedKey::new(None);
        assert!(cached.claim_touch(100_000));
        assert!(!cached.claim_touch(100_001));
        assert!(cached.claim_touch(100_000 + TOUCH_INTERVAL_MS));
    }
}
