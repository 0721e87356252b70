//! 創建組織 and switching between the user's organisations.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use serde_json::json;

use super::i18n::{Lang, Text};
use super::{Chrome, Ctx, Fields, Page, fail, field_messages, not_found, parse_id, render};
use crate::state::AppState;
use crate::wire::form::{Form, Text as TextRule};
use crate::wire::payload::Payload;

#[derive(Template)]
#[template(path = "organization_form.html")]
struct OrgPage {
    t: &'static Text,
    c: Chrome,
    name: String,
    error: Option<String>,
}

/// 創建組織: the form for a new organisation.
#[utoipa::path(get, path = "/console/organizations/new", tag = "console",
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 303, description = "Without a session: to /console/login")))]
pub async fn new_page(State(state): State<AppState>, Lang(t): Lang, headers: HeaderMap) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let page = OrgPage { t, c: ctx.chrome(""), name: String::new(), error: None };
    Ok(render(t, StatusCode::OK, &page))
}

/// Creates an organisation owned by the user and switches the session to it.
#[utoipa::path(post, path = "/console/organizations/new", tag = "console",
    request_body(content = super::docs::OrganizationForm,
        content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Created: to the table"),
        (status = 400, description = "The form again, with the reason (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)")))]
pub async fn create(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let raw = form.text("name");
    let mut check = Form::new(Payload(json!({ "name": raw })), false).map_err(|e| fail(t, e))?;
    let name = check.text("name", TextRule::required(255)).set().unwrap_or_default();
    if let Err(err) = check.finish() {
        let message = field_messages(t, &err).into_iter().flat_map(|(_, m)| m).collect::<Vec<_>>();
        let page = OrgPage { t, c: ctx.chrome(""), name: raw, error: Some(message.join(" ")) };
        return Ok(render(t, StatusCode::BAD_REQUEST, &page));
    }
    let (user, session_id) = (ctx.user.id, ctx.session.id);
    state
        .store
        .write(move |db| {
            db.transaction(|db| {
                let org = db.insert_organization(&name, user)?;
                db.set_session_organization(session_id, org.id)
            })
        })
        .await
        .map_err(|e| fail(t, e.into()))?;
    Ok(Redirect::to("/console/chatbots?notice=org-created").into_response())
}

/// Switches the session to another of the user's organisations.
#[utoipa::path(post, path = "/console/organizations/{id}/switch", tag = "console",
    request_body(content = super::docs::CsrfForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The organisation")),
    responses((status = 303, description = "Switched: to the table"),
        (status = 404, description = "Not one of the user's organisations (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)")))]
pub async fn switch(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let id = parse_id(&id).ok_or_else(|| not_found(t))?;
    // Only the user's own organisations exist for them.
    if !ctx.orgs.iter().any(|o| o.id == id) {
        return Err(not_found(t));
    }
    let session_id = ctx.session.id;
    state
        .store
        .write(move |db| db.set_session_organization(session_id, id))
        .await
        .map_err(|e| fail(t, e.into()))?;
    Ok(Redirect::to("/console/chatbots?notice=switched").into_response())
}
