//! The HTTP error: any failure becomes the status from the [`Code`] table and a body in Django
//! REST Framework's shape — `{"detail": "…"}`, or field errors `{"field": ["…"]}`.

use axum::Json;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openmai_types::{Code, ErrorCode};
use serde::Serialize;
use serde::ser::SerializeMap;

/// Field errors in the order they were found, keyed by the camelCase field name. Errors not
/// tied to one field go under `nonFieldErrors`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FieldErrors(Vec<(String, Vec<String>)>);

pub const NON_FIELD_ERRORS: &str = "nonFieldErrors";

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        match self.0.iter_mut().find(|(name, _)| name == field) {
            Some((_, messages)) => messages.push(message),
            None => self.0.push((field.to_owned(), vec![message])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.iter().any(|(name, _)| name == field)
    }

    /// Each field with its messages, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(field, messages)| (field.as_str(), messages.as_slice()))
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (field, messages) in &self.0 {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Body {
    Detail(String),
    Fields(FieldErrors),
    /// A DRF detail plus simplejwt's `code` (`token_not_valid`).
    DetailWithCode(String, &'static str),
    /// Errors of a list's items, one object per item (`{}` for the valid ones), as DRF's
    /// `many=True` serializers report them; under a field, or as the whole body.
    Items(Option<String>, Vec<FieldErrors>),
    /// The errors of a nested object, under its field: `{"message": {"content": ["…"]}}`.
    Nested(String, FieldErrors),
}

/// An error on its way to the client. Internal causes are logged, never sent.
#[derive(Debug)]
pub struct ApiError {
    code: Code,
    body: Body,
    headers: Vec<(HeaderName, HeaderValue)>,
    cause: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// The code's default DRF text.
    pub fn new(code: Code) -> Self {
        Self::with_detail(code, code.default_detail())
    }

    pub fn with_detail(code: Code, detail: impl Into<String>) -> Self {
        ApiError { code, body: Body::Detail(detail.into()), headers: Vec::new(), cause: None }
    }

    pub fn not_found() -> Self {
        Self::new(Code::NotFound)
    }

    pub fn permission_denied() -> Self {
        Self::new(Code::PermissionDenied)
    }

    pub fn not_authenticated() -> Self {
        Self::new(Code::NotAuthenticated).header(header::WWW_AUTHENTICATE, "Api-Key")
    }

    pub fn invalid_api_key_format() -> Self {
        Self::new(Code::InvalidApiKeyFormat).header(header::WWW_AUTHENTICATE, "Api-Key")
    }

    pub fn token_not_valid(detail: &str) -> Self {
        ApiError {
            code: Code::TokenNotValid,
            body: Body::DetailWithCode(detail.to_owned(), "token_not_valid"),
            headers: vec![(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            )],
            cause: None,
        }
    }

    /// 400 with field errors.
    pub fn validation(errors: FieldErrors) -> Self {
        ApiError {
            code: Code::ValidationError,
            body: Body::Fields(errors),
            headers: Vec::new(),
            cause: None,
        }
    }

    /// 400 with the errors of a list's items: `{"files": [{}, {"file": ["…"]}]}` for a list
    /// under `field`, or `[{}, {"id": ["…"]}]` for a list that is the whole body.
    pub fn items(field: Option<&str>, items: Vec<FieldErrors>) -> Self {
        ApiError {
            code: Code::ValidationError,
            body: Body::Items(field.map(str::to_owned), items),
            headers: Vec::new(),
            cause: None,
        }
    }

    /// 400 with the field errors of the object under `field`, as DRF reports a nested
    /// serializer's errors.
    pub fn nested(field: &str, errors: FieldErrors) -> Self {
        ApiError {
            code: Code::ValidationError,
            body: Body::Nested(field.to_owned(), errors),
            headers: Vec::new(),
            cause: None,
        }
    }

    /// 400 with a single error not tied to a field.
    pub fn non_field(message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(NON_FIELD_ERRORS, message);
        Self::validation(errors)
    }

    /// 400 with a single error on one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::default();
        errors.add(field, message);
        Self::validation(errors)
    }

    pub fn throttled(wait_seconds: u64) -> Self {
        let wait = wait_seconds.max(1);
        Self::with_detail(Code::Throttled, openmai_types::messages::throttled(wait))
            .header(header::RETRY_AFTER, &wait.to_string())
    }

    /// 500 whose cause goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError { cause: Some(cause.to_string()), ..Self::new(Code::Internal) }
    }

    pub fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    pub fn code(&self) -> Code {
        self.code
    }

    /// The field errors, when this is a validation error.
    pub fn field_errors(&self) -> Option<&FieldErrors> {
        match &self.body {
            Body::Fields(errors) => Some(errors),
            _ => None,
        }
    }

    /// The `detail` text, when the body has one.
    pub fn detail(&self) -> Option<&str> {
        match &self.body {
            Body::Detail(detail) | Body::DetailWithCode(detail, _) => Some(detail),
            Body::Fields(_) | Body::Items(..) | Body::Nested(..) => None,
        }
    }
}

/// Anything with an error code converts, so `?` works on store and domain errors alike
/// (meilisearch's pattern). Internal failures keep their text for the log.
impl<E: ErrorCode + std::fmt::Display> From<E> for ApiError {
    fn from(err: E) -> Self {
        let code = err.error_code();
        let mut api = ApiError::new(code);
        if code.status().is_server_error() {
            api.cause = Some(err.to_string());
        }
        api
    }
}

/// The text a person reads: the detail, or the field errors as JSON (for the CLI and logs).
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.body {
            Body::Detail(detail) | Body::DetailWithCode(detail, _) => f.write_str(detail),
            Body::Fields(errors) => f.write_str(&serde_json::to_string(errors).unwrap_or_default()),
            Body::Items(field, items) => {
                if let Some(field) = field {
                    write!(f, "{field}: ")?;
                }
                f.write_str(&serde_json::to_string(items).unwrap_or_default())
            }
            Body::Nested(field, errors) => {
                write!(f, "{field}: {}", serde_json::to_string(errors).unwrap_or_default())
            }
        }
    }
}

impl std::error::Error for ApiError {}

#[derive(Serialize)]
struct DetailBody<'a> {
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status: StatusCode = self.code.status();
        if status.is_server_error() {
            tracing::error!(code = self.code.name(), cause = ?self.cause, "request failed");
        }
        let mut response = match &self.body {
            Body::Detail(detail) => {
                (status, Json(DetailBody { detail, code: None })).into_response()
            }
            Body::DetailWithCode(detail, code) => {
                (status, Json(DetailBody { detail, code: Some(code) })).into_response()
            }
            Body::Fields(errors) => (status, Json(errors)).into_response(),
            Body::Items(None, items) => (status, Json(items)).into_response(),
            Body::Items(Some(field), items) => {
                (status, Json(serde_json::json!({ field.as_str(): items }))).into_response()
            }
            Body::Nested(field, errors) => {
                (status, Json(serde_json::json!({ field.as_str(): errors }))).into_response()
            }
        };
        let headers: &mut HeaderMap = response.headers_mut();
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_keep_their_order_and_group_messages() {
        let mut errors = FieldErrors::default();
        errors.add("name", "This field is required.");
        errors.add("largeLanguageModel", "Must be a valid UUID.");
        errors.add("name", "again");
        assert_eq!(
            serde_json::to_string(&errors).unwrap(),
            r#"{"name":["This field is required.","again"],"largeLanguageModel":["Must be a valid UUID."]}"#
        );
    }

    #[test]
    fn store_errors_map_through_the_code_table() {
        let err: ApiError = openmai_store::StoreError::NotFound.into();
        assert_eq!((err.code(), err.detail()), (Code::NotFound, Some("Not found.")));
        let err: ApiError = openmai_store::StoreError::InvalidPage.into();
        assert_eq!(err.detail(), Some("Invalid page."));
        let err: ApiError = openmai_store::StoreError::Backend("secret internals".into()).into();
        assert_eq!(err.detail(), Some("A server error occurred."));
    }

    #[test]
    fn throttling_says_when_to_come_back() {
        assert_eq!(
            ApiError::throttled(1).detail(),
            Some("Request was throttled. Expected available in 1 second.")
        );
        assert_eq!(
            ApiError::throttled(30).detail(),
            Some("Request was throttled. Expected available in 30 seconds.")
        );
    }
}
