//! Absolute URLs for `next`/`previous` and other links, built the way DRF's
//! `build_absolute_uri` does: the configured public URL when there is one, otherwise the
//! scheme from `X-Forwarded-Proto` and the host from `X-Forwarded-Host` or `Host`.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::state::AppState;

/// Where the client reached us, and the URL (path and query) it asked for.
#[derive(Debug, Clone)]
pub struct RequestUrl {
    /// `scheme://host[:port][/prefix]`, without a trailing slash.
    pub base: String,
    /// The path as the client sent it (before alias rewriting).
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl RequestUrl {
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The request's own URL with `key` replaced (or removed when `value` is `None`), query
    /// keys sorted as DRF's `replace_query_param` leaves them.
    pub fn with_query_param(&self, key: &str, value: Option<&str>) -> String {
        let mut pairs: Vec<(String, String)> =
            self.query.iter().filter(|(k, _)| k != key).cloned().collect();
        if let Some(value) = value {
            pairs.push((key.to_owned(), value.to_owned()));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut url = self.absolute(&self.path);
        if !pairs.is_empty() {
            url.push('?');
            url.push_str(&serde_urlencoded::to_string(&pairs).unwrap_or_default());
        }
        url
    }

    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn first_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `scheme://host` for this request.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = &state.config.public_url {
        return public.as_str().trim_end_matches('/').to_owned();
    }
    let scheme = match first_value(headers, "x-forwarded-proto") {
        Some(proto) if proto.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let bind = state.config.bind.to_string();
    let host = first_value(headers, "x-forwarded-host")
        .or_else(|| first_value(headers, "host"))
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c)))
        .unwrap_or(&bind);
    format!("{scheme}://{host}")
}

impl FromRequestParts<AppState> for RequestUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let uri = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |o| &o.0);
        let query = uri
            .query()
            .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
            .unwrap_or_default();
        Ok(RequestUrl { base: base_url(state, &parts.headers), path: uri.path().to_owned(), query })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_the_page_keeps_other_parameters_sorted() {
        let url = RequestUrl {
            base: "https://ai.example.com".into(),
            path: "/api/chatbots".into(),
            query: vec![("pageSize".into(), "5".into()), ("page".into(), "2".into())],
        };
        assert_eq!(
            url.with_query_param("page", Some("3")),
            "https://ai.example.com/api/chatbots?page=3&pageSize=5"
        );
        assert_eq!(
            url.with_query_param("page", None),
            "https://ai.example.com/api/chatbots?pageSize=5"
        );
    }
}
