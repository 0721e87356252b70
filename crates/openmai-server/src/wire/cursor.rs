//! DRF cursor pagination, for conversations and messages: `?cursor=` (an opaque token from a
//! `next` or `previous` link) and `?pageSize=` (also `page_size`), answered as
//! `{next, previous, results}` with absolute links, newest first. Pages stay put while new
//! messages arrive, which page numbers would not. A cursor that cannot be read is DRF's 404
//! `{"detail": "Invalid cursor"}`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openmai_store::models::{CursorPage, CursorRequest};
use openmai_types::{Code, Timestamp};
use serde::Serialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// The page a cursor list request asks for.
#[derive(Debug, Clone, Copy)]
pub struct Cursor(pub CursorRequest);

impl Cursor {
    pub fn from_query(pairs: &[(String, String)]) -> Result<Cursor, ApiError> {
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
        let size = get("pageSize")
            .or_else(|| get("page_size"))
            .and_then(|raw| raw.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .map_or(DEFAULT_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE));
        let (position, reverse) = match get("cursor").filter(|c| !c.is_empty()) {
            None => (None, false),
            Some(token) => {
                let (position, reverse) = decode(token)
                    .ok_or_else(|| ApiError::with_detail(Code::NotFound, "Invalid cursor"))?;
                (Some(position), reverse)
            }
        };
        Ok(Cursor(CursorRequest { position, reverse, size }))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Cursor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Cursor::from_query(&crate::wire::pagination::query_pairs(parts))
    }
}

/// A cursor page in DRF's envelope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CursorPageView<T> {
    /// Absolute URL of the next (older) page, or null.
    pub next: Option<String>,
    /// Absolute URL of the previous (newer) page, or null.
    pub previous: Option<String>,
    pub results: Vec<T>,
}

impl<T> CursorPageView<T> {
    /// The page's items as views, with links built from the first and last item's position.
    pub fn new<I>(
        page: CursorPage<I>,
        position: impl Fn(&I) -> (Timestamp, Uuid),
        url: &RequestUrl,
        view: impl FnMut(I) -> T,
    ) -> Self {
        let link = |at: Option<&I>, reverse: bool| {
            at.map(|item| url.with_query_param("cursor", Some(&encode(position(item), reverse))))
        };
        let next = if page.has_older { link(page.items.last(), false) } else { None };
        let previous = if page.has_newer { link(page.items.first(), true) } else { None };
        CursorPageView { next, previous, results: page.items.into_iter().map(view).collect() }
    }
}

fn encode((created_at, id): (Timestamp, Uuid), reverse: bool) -> String {
    let text = format!("p={}_{}&r={}", created_at.millis(), id.simple(), u8::from(reverse));
    URL_SAFE_NO_PAD.encode(text)
}

fn decode(token: &str) -> Option<((Timestamp, Uuid), bool)> {
    let bytes = URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (position, reverse) = text.strip_prefix("p=")?.split_once("&r=")?;
    let (millis, id) = position.split_once('_')?;
    let reverse = match reverse {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    Some(((Timestamp(millis.parse().ok()?), Uuid::parse_str(id).ok()?), reverse))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &[(&str, &str)]) -> Result<CursorRequest, ApiError> {
        let pairs: Vec<(String, String)> =
            query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Cursor::from_query(&pairs).map(|c| c.0)
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_are_invalid() {
        let id = Uuid::now_v7();
        let token = encode((Timestamp(1_728_181_396_000), id), true);
        let request = parse(&[("cursor", &token), ("page_size", "5")]).unwrap();
        assert_eq!(request.position, Some((Timestamp(1_728_181_396_000), id)));
        assert!(request.reverse);
        assert_eq!(request.size, 5);
        assert_eq!(parse(&[]).unwrap().position, None);
        for bad in ["x", "cD0xXzI", &URL_SAFE_NO_PAD.encode("p=1_zz&r=0")] {
            let err = parse(&[("cursor", bad)]).unwrap_err();
            assert_eq!((err.code(), err.detail()), (Code::NotFound, Some("Invalid cursor")));
        }
    }
}
