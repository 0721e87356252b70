//! DRF page-number pagination: `?page=` (a number or `last`) and `?pageSize=` (also
//! `page_size`), answered as `{count, next, previous, results}` with absolute links.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use openmai_store::models::{PageNumber, PageRequest, Paged};
use openmai_types::Code;
use serde::Serialize;

use crate::error::ApiError;
use crate::wire::links::RequestUrl;

pub const DEFAULT_PAGE_SIZE: u64 = 10;
pub const MAX_PAGE_SIZE: u64 = 1000;

/// The page a list request asks for.
#[derive(Debug, Clone, Copy)]
pub struct Pagination(pub PageRequest);

impl Pagination {
    pub fn from_query(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
        let number = match get("page") {
            None | Some("") => PageNumber::Number(1),
            Some("last") => PageNumber::Last,
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if n >= 1 => PageNumber::Number(n),
                _ => return Err(ApiError::new(Code::InvalidPage)),
            },
        };
        // DRF falls back to the default for a page size that is not a positive integer, and
        // caps it at the maximum.
        let size = get("pageSize")
            .or_else(|| get("page_size"))
            .and_then(|raw| raw.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .map_or(DEFAULT_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE));
        Ok(Pagination(PageRequest { number, size }))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Pagination::from_query(&query_pairs(parts))
    }
}

/// The query string's pairs (none when it cannot be read).
pub fn query_pairs(parts: &Parts) -> Vec<(String, String)> {
    parts
        .uri
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
}

/// One page of results in DRF's envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub count: u64,
    /// Absolute URL of the next page, or null.
    pub next: Option<String>,
    /// Absolute URL of the previous page, or null.
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T> Page<T> {
    pub fn new(paged: Paged<T>, url: &RequestUrl) -> Self {
        let next = paged
            .has_next()
            .then(|| url.with_query_param("page", Some(&(paged.number + 1).to_string())));
        let previous = paged.has_previous().then(|| {
            if paged.number == 2 {
                url.with_query_param("page", None)
            } else {
                url.with_query_param("page", Some(&(paged.number - 1).to_string()))
            }
        });
        Page { count: paged.count, next, previous, results: paged.items }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<PageRequest, ApiError> {
        let pairs: Vec<(String, String)> =
            query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Pagination::from_query(&pairs).map(|p| p.0)
    }

    #[test]
    fn page_and_size_follow_drf() {
        assert_eq!(parse(&[]).unwrap(), PageRequest { number: PageNumber::Number(1), size: 10 });
        assert_eq!(parse(&[("page", "last")]).unwrap().number, PageNumber::Last);
        assert_eq!(parse(&[("pageSize", "25")]).unwrap().size, 25);
        assert_eq!(parse(&[("page_size", "7")]).unwrap().size, 7);
        assert_eq!(parse(&[("pageSize", "0")]).unwrap().size, 10);
        assert_eq!(parse(&[("pageSize", "x")]).unwrap().size, 10);
        assert_eq!(parse(&[("pageSize", "999999")]).unwrap().size, MAX_PAGE_SIZE);
        for bad in ["0", "-1", "abc", "1.5"] {
            let err = parse(&[("page", bad)]).unwrap_err();
            assert_eq!(err.detail(), Some("Invalid page."), "{bad}");
        }
    }

    #[test]
    fn links_point_at_neighbouring_pages() {
        let url = RequestUrl {
            base: "http://localhost:8000".into(),
            path: "/api/v1/chatbots/".into(),
            query: vec![("page".into(), "2".into())],
        };
        let paged = Paged { count: 25, number: 2, size: 10, items: vec![1] };
        let page = Page::new(paged, &url);
        assert_eq!(page.next.as_deref(), Some("http://localhost:8000/api/v1/chatbots/?page=3"));
        assert_eq!(page.previous.as_deref(), Some("http://localhost:8000/api/v1/chatbots/"));
        let last = Page::new(Paged { count: 25, number: 3, size: 10, items: vec![1] }, &url);
        assert_eq!(last.next, None);
        assert_eq!(last.previous.as_deref(), Some("http://localhost:8000/api/v1/chatbots/?page=2"));
    }
}
