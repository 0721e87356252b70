//! 帳號 → API 金鑰: create (the key is shown once), list with last use, revoke.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use openmai_store::models::ApiKey;
use serde_json::json;

use super::i18n::{Lang, Text};
use super::{
    Chrome, Ctx, Fields, Page, fail, field_messages, not_found, notice, parse_id, render, time,
};
use crate::accounts::create_api_key;
use crate::state::AppState;
use crate::wire::form::{Form, Text as TextRule};
use crate::wire::payload::Payload;

pub const NAME_MAX_LENGTH: usize = 100;

pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub created: String,
    pub last_used: Option<String>,
}

impl From<ApiKey> for KeyRow {
    fn from(key: ApiKey) -> KeyRow {
        KeyRow {
            id: key.id.to_string(),
            name: key.name,
            prefix: key.prefix,
            created: time::format(key.created_at),
            last_used: key.last_used_at.map(time::format),
        }
    }
}

#[derive(Template)]
#[template(path = "api_keys.html")]
struct KeysPage {
    t: &'static Text,
    c: Chrome,
    notice: Option<&'static str>,
    has_org: bool,
    keys: Vec<KeyRow>,
    /// The key just created: its only appearance.
    new_key: Option<String>,
    name: String,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    ctx: &Ctx,
    notice: Option<&'static str>,
    new_key: Option<String>,
    name: String,
    error: Option<String>,
) -> Result<KeysPage, axum::response::Response> {
    let t = ctx.t;
    let keys = match ctx.org {
        Some(org) => {
            let user = ctx.user.id;
            state
                .store
                .read(move |db| db.list_api_keys(org, user))
                .await
                .map_err(|e| fail(t, e.into()))?
        }
        None => Vec::new(),
    };
    Ok(KeysPage {
        t,
        c: ctx.chrome("api-keys"),
        notice,
        has_org: ctx.org.is_some(),
        keys: keys.into_iter().map(KeyRow::from).collect(),
        new_key,
        name,
        error,
    })
}

/// Account → API 金鑰: the user's keys in the current organisation, with their last use.
#[utoipa::path(get, path = "/console/account/api-keys", tag = "console",
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 303, description = "Without a session: to /console/login")))]
pub async fn list(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let page = page(&state, &ctx, notice(t, query.as_deref()), None, String::new(), None).await?;
    Ok(render(t, StatusCode::OK, &page))
}

/// Creates a key; the page answering shows it once (`Cache-Control: no-store`).
#[utoipa::path(post, path = "/console/account/api-keys", tag = "console",
    request_body(content = super::docs::ApiKeyForm,
        content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The keys page with the new key (HTML)", content_type = "text/html"),
        (status = 400, description = "The page with the reason (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)")))]
pub async fn create(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let Some(org) = ctx.org else {
        return Ok(Redirect::to("/console/account/api-keys").into_response());
    };
    let raw = form.text("name");
    let mut check = Form::new(Payload(json!({ "name": raw })), false).map_err(|e| fail(t, e))?;
    let name = check.text("name", TextRule::required(NAME_MAX_LENGTH)).set().unwrap_or_default();
    if let Err(err) = check.finish() {
        let message = field_messages(t, &err).into_iter().flat_map(|(_, m)| m).collect::<Vec<_>>();
        let page = page(&state, &ctx, None, None, raw, Some(message.join(" "))).await?;
        return Ok(render(t, StatusCode::BAD_REQUEST, &page));
    }
    let (_, key) =
        create_api_key(&state.store, org, ctx.user.id, &name).await.map_err(|e| fail(t, e))?;
    let page = page(&state, &ctx, None, Some(key), String::new(), None).await?;
    let mut response = render(t, StatusCode::OK, &page);
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Revokes a key; it stops working at once.
#[utoipa::path(post, path = "/console/account/api-keys/{id}/revoke", tag = "console",
    request_body(content = super::docs::CsrfForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The key")),
    responses((status = 303, description = "Revoked: to the keys page"),
        (status = 404, description = "Not one of your live keys (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)")))]
pub async fn revoke(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let id = parse_id(&id).ok_or_else(|| not_found(t))?;
    let Some(org) = ctx.org else { return Err(not_found(t)) };
    let user = ctx.user.id;
    let revoked = state
        .store
        .write(move |db| db.revoke_api_key(org, user, id))
        .await
        .map_err(|e| fail(t, e.into()))?;
    if !revoked {
        return Err(not_found(t));
    }
    // Cached lookups of the key must not outlive it.
    state.keys.invalidate_all();
    Ok(Redirect::to("/console/account/api-keys?notice=revoked").into_response())
}
