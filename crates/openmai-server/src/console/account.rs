//! Logging in and out.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use openmai_types::Code;

use super::i18n::{Lang, Text};
use super::{Ctx, Fields, Page, assets, fail, render};
use crate::api::auth::{first_organization, verified_user};
use crate::auth::session;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: &'static Text,
    email: String,
    error: Option<&'static str>,
    assets: &'static assets::Urls,
}

fn login_form(
    t: &'static Text,
    status: StatusCode,
    email: String,
    error: Option<&'static str>,
) -> Response {
    render(t, status, &LoginPage { t, email, error, assets: assets::urls() })
}

/// The login form (to the assistants table when already signed in).
#[utoipa::path(get, path = "/console/login", tag = "console",
    responses((status = 200, description = "The page (HTML)", content_type = "text/html")))]
pub async fn login_page(State(state): State<AppState>, Lang(t): Lang, headers: HeaderMap) -> Page {
    if session::find(&state, &headers).await.map_err(|e| fail(t, e))?.is_some() {
        return Ok(Redirect::to("/console/chatbots").into_response());
    }
    Ok(login_form(t, StatusCode::OK, String::new(), None))
}

/// Signs in with email and password and starts a session (cookie `openmai_session`).
#[utoipa::path(post, path = "/console/login", tag = "console",
    request_body(content = super::docs::LoginForm,
        content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Signed in: to /console/chatbots"),
        (status = 400, description = "The form again, with the reason (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)")))]
pub async fn login(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    form: Fields,
) -> Page {
    let email = form.text("email").trim().to_lowercase();
    let secret = form.text("password");
    if email.is_empty() || secret.is_empty() {
        return Ok(login_form(t, StatusCode::BAD_REQUEST, email, Some(t.login_missing)));
    }
    if state.login_throttle.check(&email).is_err() {
        return Ok(login_form(t, StatusCode::TOO_MANY_REQUESTS, email, Some(t.login_throttled)));
    }
    let user = match verified_user(&state, &email, secret).await {
        Ok(user) => user,
        Err(err) if err.code() == Code::ValidationError => {
            return Ok(login_form(t, StatusCode::BAD_REQUEST, email, Some(t.login_failed)));
        }
        Err(err) => return Err(fail(t, err)),
    };
    let organization = first_organization(&state, user.id).await.map_err(|e| fail(t, e))?;
    let (_, cookie) =
        session::start(&state, &headers, user.id, organization).await.map_err(|e| fail(t, e))?;
    let mut response = Redirect::to("/console/chatbots").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Ends the session.
#[utoipa::path(post, path = "/console/logout", tag = "console",
    request_body(content = super::docs::CsrfForm,
        content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To /console/login"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)")))]
pub async fn logout(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let session_id = ctx.session.id;
    state
        .store
        .write(move |db| db.delete_session(session_id))
        .await
        .map_err(|e| fail(t, e.into()))?;
    let mut response = Redirect::to("/console/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, session::clear(&state, &headers));
    Ok(response)
}
