//! The request body as DRF's parsers would see it: JSON, a URL-encoded form or a multipart
//! form, re-cased to camelCase. An empty body is an empty object (so validation reports the
//! missing fields), malformed JSON is DRF's `JSON parse error - …`, and any other media type
//! is 415.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use openmai_types::{Code, messages};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::wire::casing;

/// A parsed, re-cased request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload(pub Value);

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(Code::PayloadTooLarge)
            } else {
                ApiError::with_detail(Code::ParseError, rejection.body_text())
            }
        })?;
        parse(&content_type, &body).await.map(|v| Payload(casing::normalize(v)))
    }
}

pub async fn parse(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let media_type: mime::Mime = content_type.parse().map_err(|_| unsupported(content_type))?;
    match (media_type.type_(), media_type.subtype(), media_type.suffix()) {
        (mime::APPLICATION, mime::JSON, _) | (mime::APPLICATION, _, Some(mime::JSON)) => {
            serde_json::from_slice(body).map_err(|e| {
                ApiError::with_detail(Code::ParseError, messages::json_parse_error(&e.to_string()))
            })
        }
        (mime::APPLICATION, mime::WWW_FORM_URLENCODED, _) => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|e| ApiError::with_detail(Code::ParseError, e.to_string()))?;
            Ok(Value::Object(collect_form(pairs)))
        }
        (mime::MULTIPART, mime::FORM_DATA, _) => {
            let boundary = media_type.get_param(mime::BOUNDARY).ok_or_else(|| {
                ApiError::with_detail(
                    Code::ParseError,
                    "Multipart form parse error - Invalid boundary in multipart: None",
                )
            })?;
            parse_multipart(boundary.as_str(), body).await
        }
        _ => Err(unsupported(content_type)),
    }
}

fn unsupported(content_type: &str) -> ApiError {
    ApiError::with_detail(
        Code::UnsupportedMediaType,
        messages::unsupported_media_type(content_type),
    )
}

/// Repeated form keys become lists, as a `QueryDict` would give them.
fn collect_form(pairs: Vec<(String, String)>) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, value) in pairs {
        match map.get_mut(&key) {
            Some(Value::Array(items)) => items.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
            None => {
                map.insert(key, Value::String(value));
            }
        }
    }
    map
}

/// The text fields of a multipart form. File parts are handled by the endpoints that take
/// uploads; here they are read and skipped.
async fn parse_multipart(boundary: &str, body: &[u8]) -> Result<Value, ApiError> {
    let stream = futures::stream::once({
        let body = Bytes::copy_from_slice(body);
        async move { Ok::<_, std::convert::Infallible>(body) }
    });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut pairs = Vec::new();
    let parse_error = |e: multer::Error| {
        ApiError::with_detail(Code::ParseError, format!("Multipart form parse error - {e}"))
    };
    while let Some(field) = multipart.next_field().await.map_err(parse_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let text = field.text().await.map_err(parse_error)?;
        if !is_file {
            pairs.push((name, text));
        }
    }
    Ok(Value::Object(collect_form(pairs)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn each_media_type_parses_to_the_same_shape() {
        let json = parse("application/json", br#"{"name": "x", "tags": ["a"]}"#).await.unwrap();
        assert_eq!(json, json!({"name": "x", "tags": ["a"]}));
        let form =
            parse("application/x-www-form-urlencoded", b"name=x&tags=a&tags=b").await.unwrap();
        assert_eq!(form, json!({"name": "x", "tags": ["a", "b"]}));
        let multipart =
            b"--XX\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--XX--\r\n";
        let parsed = parse("multipart/form-data; boundary=XX", multipart).await.unwrap();
        assert_eq!(parsed, json!({"name": "x"}));
        assert_eq!(parse("", b"").await.unwrap(), json!({}));
    }

    #[tokio::test]
    async fn malformed_and_unsupported_bodies_read_as_drf_does() {
        let err = parse("application/json", b"{\"name\": ").await.unwrap_err();
        assert_eq!(err.code(), Code::ParseError);
        assert!(err.detail().unwrap().starts_with("JSON parse error - "), "{err:?}");
        let err = parse("text/plain", b"hello").await.unwrap_err();
        assert_eq!(err.detail(), Some("Unsupported media type \"text/plain\" in request."));
        let err = parse("", b"hello").await.unwrap_err();
        assert_eq!(err.detail(), Some("Unsupported media type \"\" in request."));
    }
}
