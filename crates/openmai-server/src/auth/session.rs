//! Console sessions: a random token in an HttpOnly, SameSite=Lax cookie, stored as a SHA-256
//! digest with the session's CSRF token and current organisation.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};
use openmai_store::models::Session;
use openmai_types::Timestamp;
use uuid::Uuid;

use crate::auth::keys;
use crate::error::ApiResult;
use crate::state::AppState;

pub const COOKIE: &str = "openmai_session";

/// The value of the request cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

pub fn token_from(headers: &HeaderMap) -> Option<String> {
    cookie(headers, COOKIE)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Cookies are `Secure` when the console is reached over HTTPS.
pub fn is_https(state: &AppState, headers: &HeaderMap) -> bool {
    crate::wire::links::base_url(state, headers).starts_with("https://")
}

fn cookie_header(value: String, max_age: cookie::time::Duration, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(max_age)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie text is a valid header")
}

/// Starts a session and returns it with the `Set-Cookie` value that carries it.
pub async fn start(
    state: &AppState,
    headers: &HeaderMap,
    user_id: Uuid,
    organization_id: Option<Uuid>,
) -> ApiResult<(Session, HeaderValue)> {
    let token = keys::generate() + &keys::generate();
    let csrf = keys::generate();
    let days = state.config.session_days;
    let expires = Timestamp::now().plus_seconds(days * 86_400);
    let digest = keys::digest(&token);
    let session = state
        .store
        .write(move |db| db.insert_session(&digest, user_id, organization_id, &csrf, expires))
        .await?;
    let cookie = cookie_header(token, cookie::time::Duration::days(days), is_https(state, headers));
    Ok((session, cookie))
}

/// The live session named by the request's cookie.
pub async fn find(state: &AppState, headers: &HeaderMap) -> ApiResult<Option<Session>> {
    let Some(token) = token_from(headers) else { return Ok(None) };
    let digest = keys::digest(&token);
    Ok(state.store.read(move |db| db.find_session(&digest, Timestamp::now())).await?)
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn clear(state: &AppState, headers: &HeaderMap) -> HeaderValue {
    cookie_header(String::new(), cookie::time::Duration::ZERO, is_https(state, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_token_is_read_from_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers
            .insert(header::COOKIE, HeaderValue::from_static("a=1; openmai_session=Abc123; b=2"));
        assert_eq!(token_from(&headers).as_deref(), Some("Abc123"));
        headers.insert(header::COOKIE, HeaderValue::from_static("openmai_session=not-a-token!"));
        assert_eq!(token_from(&headers), None);
    }
}
