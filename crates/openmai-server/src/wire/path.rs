//! `/api/…` is an alias of `/api/v1/…`, and every API path works with or without its trailing
//! slash. Both are served directly — a redirect would turn a POST into a GET — by rewriting
//! the path before routing. The URI the client sent is kept for building links.

use axum::extract::{OriginalUri, Request};
use axum::http::Uri;

pub const API_PREFIX: &str = "/api/v1/";

/// The canonical form of an API path, or `None` when the path needs no change.
pub fn canonical(path: &str) -> Option<String> {
    let versioned = if path.starts_with(API_PREFIX) || path == "/api/v1" {
        None
    } else if let Some(rest) = path.strip_prefix("/api/") {
        Some(format!("{API_PREFIX}{rest}"))
    } else {
        return None;
    };
    let current = versioned.as_deref().unwrap_or(path);
    if current.ends_with('/') { versioned } else { Some(format!("{current}/")) }
}

/// Middleware body: rewrites the request URI to its canonical API path.
pub fn normalize(mut request: Request) -> Request {
    let original = request.uri().clone();
    if let Some(path) = canonical(original.path()) {
        let path_and_query = match original.query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        let mut parts = original.clone().into_parts();
        if let Ok(pq) = path_and_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *request.uri_mut() = uri;
            }
        }
    }
    request.extensions_mut().insert(OriginalUri(original));
    request
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn aliases_and_trailing_slashes_resolve_to_one_path() {
        assert_eq!(canonical("/api/v1/chatbots/"), None);
        assert_eq!(canonical("/api/v1/chatbots").as_deref(), Some("/api/v1/chatbots/"));
        assert_eq!(canonical("/api/chatbots/").as_deref(), Some("/api/v1/chatbots/"));
        assert_eq!(canonical("/api/chatbots").as_deref(), Some("/api/v1/chatbots/"));
        assert_eq!(canonical("/api/v1").as_deref(), Some("/api/v1/"));
        assert_eq!(canonical("/api/schema").as_deref(), Some("/api/v1/schema/"));
        assert_eq!(canonical("/healthz"), None);
        assert_eq!(canonical("/console/chatbots"), None);
    }
}
