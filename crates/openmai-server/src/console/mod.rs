//! The web console: server-rendered pages (askama templates, auto-escaped) in Traditional
//! Chinese and English, on a session cookie.
//!
//! - Every page but the login page needs a session; without one a request is sent to
//!   `/console/login` (303).
//! - Every POST form carries the session's CSRF token in a hidden `csrf` field (403 when it
//!   is missing or wrong), and a POST whose `Origin` names another host is refused (403) —
//!   the login form, which has no session yet, relies on the latter.
//! - Pages carry a strict Content-Security-Policy (scripts and styles only from
//!   `/console/static/`), `X-Frame-Options: DENY` and `Referrer-Policy: same-origin`.

mod account;
mod assets;
mod chat;
mod chatbots;
mod docs;
mod i18n;
mod keys;
mod knowledge;
mod organizations;
mod time;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use openmai_store::models::{Organization, Session, User};
use openmai_types::Code;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::caller::{Caller, Via, constant_time_eq};
use crate::auth::session;
use crate::error::ApiError;
use crate::state::AppState;
use i18n::Text;

/// The console's routes, documented in the OpenAPI document under the `console` tag.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(root))
        .routes(routes!(home))
        .route("/console", get(home))
        .routes(routes!(account::login_page, account::login))
        .routes(routes!(account::logout))
        .routes(routes!(chatbots::list))
        .routes(routes!(chatbots::new_page, chatbots::create))
        .routes(routes!(chatbots::edit_page, chatbots::update))
        .routes(routes!(chatbots::delete))
        .routes(routes!(chat::page))
        .merge(knowledge::router())
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::revoke))
        .routes(routes!(organizations::new_page, organizations::create))
        .routes(routes!(organizations::switch))
        .routes(routes!(assets::serve))
        // Not an endpoint: what any other console path gets.
        .route("/console/{*rest}", get(unknown_page))
        .layer(axum::middleware::from_fn(decorate))
}

/// The site's root: to the console.
#[utoipa::path(get, path = "/", tag = "console",
    responses((status = 303, description = "To /console/")))]
async fn root() -> Redirect {
    Redirect::to("/console/")
}

/// The console's entry: to the assistants table.
#[utoipa::path(get, path = "/console/", tag = "console",
    responses((status = 303, description = "To /console/chatbots")))]
async fn home() -> Redirect {
    Redirect::to("/console/chatbots")
}

/// Any other console path: `…/` goes to the path without the slash, the rest is a 404 page.
async fn unknown_page(i18n::Lang(t): i18n::Lang, request: Request) -> Response {
    let path = request.uri().path();
    let trimmed = path.trim_end_matches('/');
    if trimmed.len() < path.len() && trimmed.starts_with("/console/") && !trimmed.contains("//") {
        return Redirect::to(trimmed).into_response();
    }
    error_page(t, StatusCode::NOT_FOUND, t.error_not_found)
}

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Security headers on every console response, and the language cookie when the request
/// chose a language with `?lang=`.
async fn decorate(request: Request, next: Next) -> Response {
    let chosen = i18n::from_query(request.uri().query());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let defaults = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "private, no-cache"),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if let Some(text) = chosen {
        let cookie = cookie::Cookie::build((i18n::COOKIE, text.code))
            .path("/")
            .same_site(cookie::SameSite::Lax)
            .max_age(cookie::time::Duration::days(365))
            .build();
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// A page or, on failure, the response that explains it (a redirect or an error page).
pub type Page = Result<Response, Response>;

pub fn html(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// Renders a template; a template failure is an internal error page.
pub fn render(t: &'static Text, status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => html(status, body),
        Err(err) => {
            tracing::error!(%err, "console template failed");
            error_page(t, StatusCode::INTERNAL_SERVER_ERROR, t.error_internal)
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: &'static Text,
    status: u16,
    message: &'static str,
    assets: &'static assets::Urls,
}

pub fn error_page(t: &'static Text, status: StatusCode, message: &'static str) -> Response {
    let page = ErrorPage { t, status: status.as_u16(), message, assets: assets::urls() };
    let body = page.render().unwrap_or_else(|_| message.to_owned());
    html(status, body)
}

/// The error page for a failure from the API layer or the store, with its status.
pub fn fail(t: &'static Text, err: ApiError) -> Response {
    let code = err.code();
    let status = code.status();
    let message = match code {
        Code::NotFound | Code::InvalidPage => t.error_not_found,
        Code::PermissionDenied | Code::NotAuthenticated => t.error_forbidden,
        Code::Throttled => t.error_throttled,
        Code::ServiceUnavailable => t.error_unavailable,
        _ if status.is_server_error() => {
            tracing::error!(code = code.name(), %err, "console request failed");
            t.error_internal
        }
        _ => t.error_bad_request,
    };
    error_page(t, status, message)
}

pub fn forbidden(t: &'static Text) -> Response {
    error_page(t, StatusCode::FORBIDDEN, t.error_forbidden)
}

pub fn to_login() -> Response {
    Redirect::to("/console/login").into_response()
}

/// An organisation in the account menu.
pub struct OrgItem {
    pub id: Uuid,
    pub name: String,
    pub current: bool,
}

/// What the layout around every signed-in page shows: the account menu and the left menu.
pub struct Chrome {
    pub email: String,
    pub csrf: String,
    pub org_name: Option<String>,
    pub orgs: Vec<OrgItem>,
    /// `chatbots`, `knowledge-bases` or `api-keys`: the highlighted left-menu entry.
    pub active: &'static str,
    pub assets: &'static assets::Urls,
}

/// A signed-in console user.
pub struct Ctx {
    pub t: &'static Text,
    pub session: Session,
    pub user: User,
    pub orgs: Vec<Organization>,
    /// The organisation the console works in: the session's while the user belongs to it,
    /// else their first.
    pub org: Option<Uuid>,
}

impl Ctx {
    /// The session behind the request's cookie, or a redirect to the login page.
    pub async fn load(
        state: &AppState,
        headers: &HeaderMap,
        t: &'static Text,
    ) -> Result<Ctx, Response> {
        let session =
            session::find(state, headers).await.map_err(|e| fail(t, e))?.ok_or_else(to_login)?;
        Ctx::from_session(state, session, t).await
    }

    /// The signed-in user of a session already found.
    pub async fn from_session(
        state: &AppState,
        session: Session,
        t: &'static Text,
    ) -> Result<Ctx, Response> {
        let user_id = session.user_id;
        let (user, orgs) = state
            .store
            .read(move |db| Ok((db.get_user(user_id)?, db.organizations_of_user(user_id)?)))
            .await
            .map_err(|e| fail(t, e.into()))?;
        // A session whose organisation the user has left falls back to their first one,
        // as a new login would.
        let org = session
            .organization_id
            .filter(|id| orgs.iter().any(|o| o.id == *id))
            .or_else(|| orgs.first().map(|o| o.id));
        Ok(Ctx { t, session, user, orgs, org })
    }

    /// Like [`Ctx::load`], for a POST: also checks the form's CSRF token.
    pub async fn load_checked(
        state: &AppState,
        headers: &HeaderMap,
        t: &'static Text,
        form: &Fields,
    ) -> Result<Ctx, Response> {
        let ctx = Ctx::load(state, headers, t).await?;
        match form.get("csrf") {
            Some(sent) if constant_time_eq(sent, &ctx.session.csrf_token) => Ok(ctx),
            _ => Err(forbidden(t)),
        }
    }

    pub fn chrome(&self, active: &'static str) -> Chrome {
        Chrome {
            email: self.user.email.clone(),
            csrf: self.session.csrf_token.clone(),
            org_name: self.orgs.iter().find(|o| Some(o.id) == self.org).map(|o| o.name.clone()),
            orgs: self
                .orgs
                .iter()
                .map(|o| OrgItem {
                    id: o.id,
                    name: o.name.clone(),
                    current: Some(o.id) == self.org,
                })
                .collect(),
            active,
            assets: assets::urls(),
        }
    }

    /// The caller the API layer's helpers expect.
    pub fn caller(&self) -> Caller {
        Caller {
            user_id: self.user.id,
            organization_id: self.org,
            via: Via::Session { session_id: self.session.id },
        }
    }
}

/// A URL-encoded form body, after the same-origin check.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The field's text, or empty.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    /// Every value of a repeated field (a multiple select, checkboxes), in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}

impl FromRequest<AppState> for Fields {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let t = i18n::choose(request.headers(), request.uri().query());
        if !same_origin(state, request.headers()) {
            return Err(forbidden(t));
        }
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            let status = rejection.status();
            let status = if status.is_client_error() { status } else { StatusCode::BAD_REQUEST };
            error_page(t, status, t.error_bad_request)
        })?;
        let pairs = serde_urlencoded::from_bytes(&body)
            .map_err(|_| error_page(t, StatusCode::BAD_REQUEST, t.error_bad_request))?;
        Ok(Fields(pairs))
    }
}

/// True unless the request has an `Origin` whose host is not this server's: the `Host`
/// header, `X-Forwarded-Host` (behind a proxy) or the configured public URL.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Some(origin) = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()) else {
        return false;
    };
    let Some(origin_host) = origin.host_str() else { return false };
    let origin_port = origin.port_or_known_default();
    let same = |candidate: &url::Url| {
        candidate.host_str().is_some_and(|h| h.eq_ignore_ascii_case(origin_host))
            && candidate.port_or_known_default() == origin_port
    };
    let scheme = origin.scheme();
    let from_header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty() && !v.contains(['/', '@', '?', '#']))
            .and_then(|host| url::Url::parse(&format!("{scheme}://{host}")).ok())
    };
    from_header("host").is_some_and(|u| same(&u))
        || from_header("x-forwarded-host").is_some_and(|u| same(&u))
        || state.config.public_url.as_ref().is_some_and(|u| u.scheme() == scheme && same(u))
}

/// A flash message named in `?notice=`.
pub fn notice(t: &'static Text, query: Option<&str>) -> Option<&'static str> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    let value = pairs.into_iter().find(|(k, _)| k == "notice")?.1;
    Some(match value.as_str() {
        "created" => t.notice_created,
        "updated" => t.notice_updated,
        "deleted" => t.notice_deleted,
        "revoked" => t.notice_revoked,
        "org-created" => t.notice_org_created,
        "switched" => t.notice_switched,
        "kb-created" => t.notice_kb_created,
        "kb-updated" => t.notice_kb_updated,
        "kb-deleted" => t.notice_kb_deleted,
        "faq-created" => t.notice_faq_created,
        "faq-updated" => t.notice_faq_updated,
        "faq-deleted" => t.notice_faq_deleted,
        "label-created" => t.notice_label_created,
        "label-renamed" => t.notice_label_renamed,
        "label-deleted" => t.notice_label_deleted,
        "file-deleted" => t.notice_file_deleted,
        "file-reparsed" => t.notice_file_reparsed,
        "labels-saved" => t.notice_labels_saved,
        _ => return None,
    })
}

/// A path id; anything but a UUID names nothing (see [`not_found`]).
pub fn parse_id(id: &str) -> Option<Uuid> {
    Uuid::parse_str(id).ok()
}

pub fn not_found(t: &'static Text) -> Response {
    error_page(t, StatusCode::NOT_FOUND, t.error_not_found)
}

/// Field errors as `(field, localized messages)`.
pub fn field_messages(t: &'static Text, err: &ApiError) -> Vec<(String, Vec<String>)> {
    let Some(errors) = err.field_errors() else { return Vec::new() };
    errors
        .iter()
        .map(|(field, messages)| {
            (field.to_owned(), messages.iter().map(|m| t.field_message(m)).collect())
        })
        .collect()
}
