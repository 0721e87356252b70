//! 標籤: a knowledge base's labels, added, renamed and deleted. Names are unique within a
//! knowledge base; deleting a label takes it off the files and FAQs carrying it (the
//! knowledge service relabels them in the index).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use openmai_store::StoreError;
use openmai_store::models::{KnowledgeBase, Label};
use serde_json::json;
use uuid::Uuid;

use super::super::i18n::{Lang, Text};
use super::super::{
    Chrome, Ctx, Fields, Page, fail, field_messages, not_found, notice, render, time,
};
use super::{KbHeader, MENU, load_kb, path_id};
use crate::api::knowledge_bases::everything;
use crate::state::AppState;
use crate::wire::form::{Form, Text as TextRule};
use crate::wire::payload::Payload;

pub struct LabelRow {
    pub id: String,
    /// The name in the rename box: the stored one, or what was sent when it was refused.
    pub name: String,
    pub error: Option<String>,
    pub created: String,
}

#[derive(Template)]
#[template(path = "kb_labels.html")]
struct LabelsPage {
    t: &'static Text,
    c: Chrome,
    notice: Option<&'static str>,
    kb: KbHeader,
    rows: Vec<LabelRow>,
    /// The add form's name and error.
    name: String,
    error: Option<String>,
}

/// A form that was refused: the add form (`None`) or a row's rename form.
struct Refused {
    label: Option<Uuid>,
    name: String,
    error: String,
}

async fn page(
    state: &AppState,
    ctx: &Ctx,
    kb: &KnowledgeBase,
    notice: Option<&'static str>,
    refused: Option<Refused>,
) -> Result<LabelsPage, Response> {
    let t = ctx.t;
    let (org, kb_id) = (kb.organization_id, kb.id);
    let labels = state
        .store
        .read(move |db| db.list_labels(org, kb_id, everything()))
        .await
        .map_err(|e| fail(t, e.into()))?
        .items;
    let (mut name, mut error) = (String::new(), None);
    let rows = labels
        .into_iter()
        .map(|l| {
            let mut row = LabelRow {
                id: l.id.to_string(),
                name: l.name,
                error: None,
                created: time::format(l.created_at),
            };
            if let Some(refused) = refused.as_ref().filter(|r| r.label == Some(l.id)) {
                row.name.clone_from(&refused.name);
                row.error = Some(refused.error.clone());
            }
            row
        })
        .collect();
    if let Some(refused) = refused.filter(|r| r.label.is_none()) {
        name = refused.name;
        error = Some(refused.error);
    }
    Ok(LabelsPage {
        t,
        c: ctx.chrome(MENU),
        notice,
        kb: KbHeader::new(state, t, kb, "labels"),
        rows,
        name,
        error,
    })
}

/// The 標籤 tab: the knowledge base's labels, oldest first, with the add form.
#[utoipa::path(get, path = "/console/knowledge-bases/{id}/labels", tag = "console",
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn list(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let page = page(&state, &ctx, &kb, notice(t, query.as_deref()), None).await?;
    Ok(render(t, StatusCode::OK, &page))
}

/// The name sent, validated as the API validates a label's name; else the message.
fn checked_name(t: &'static Text, raw: &str) -> Result<String, String> {
    let payload = Payload(json!({ "name": raw }));
    let check = |payload| -> crate::error::ApiResult<String> {
        let mut form = Form::new(payload, false)?;
        let name = form.text("name", TextRule::required(255));
        form.finish()?;
        Ok(name.set().unwrap_or_default())
    };
    check(payload).map_err(|err| {
        field_messages(t, &err).into_iter().flat_map(|(_, m)| m).collect::<Vec<_>>().join(" ")
    })
}

fn is_taken(err: &StoreError) -> bool {
    err.is_conflict_on("name") || err.is_conflict_on("kb_labels")
}

fn to_list(kb: Uuid, notice: &str) -> Response {
    Redirect::to(&format!("/console/knowledge-bases/{kb}/labels?notice={notice}")).into_response()
}

/// Adds a label.
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/labels", tag = "console",
    request_body(content = super::super::docs::LabelForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 303, description = "Added: to the labels"),
        (status = 400, description = "The page again, with the reason (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn create(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let raw = form.text("name");
    let refuse = |error: String| Refused { label: None, name: raw.clone(), error };
    let refused = match checked_name(t, &raw) {
        Ok(name) => {
            let (org, kb_id) = (kb.organization_id, kb.id);
            match state.store.write(move |db| db.insert_label(org, kb_id, &name)).await {
                Ok(_) => return Ok(to_list(kb.id, "label-created")),
                Err(err) if is_taken(&err) => refuse(t.label_taken.into()),
                Err(err) => return Err(fail(t, err.into())),
            }
        }
        Err(message) => refuse(message),
    };
    let page = page(&state, &ctx, &kb, None, Some(refused)).await?;
    Ok(render(t, StatusCode::BAD_REQUEST, &page))
}

/// A label of the knowledge base, else the 404 page.
async fn load_label(
    state: &AppState,
    t: &'static Text,
    kb: &KnowledgeBase,
    label_id: &str,
) -> Result<Label, Response> {
    let label_id = path_id(t, label_id)?;
    let (org, kb_id) = (kb.organization_id, kb.id);
    state.store.read(move |db| db.get_label(org, kb_id, label_id)).await.map_err(|e| match e {
        StoreError::NotFound => not_found(t),
        other => fail(t, other.into()),
    })
}

/// Renames a label.
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/labels/{labelId}/rename", tag = "console",
    request_body(content = super::super::docs::LabelForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("labelId" = Uuid, Path, description = "The label")),
    responses((status = 303, description = "Renamed: to the labels"),
        (status = 400, description = "The page again, with the reason (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not a label of this organisation's knowledge base (HTML)")))]
pub async fn rename(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path((id, label_id)): Path<(String, String)>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let label = load_label(&state, t, &kb, &label_id).await?;
    let raw = form.text("name");
    let refuse = |error: String| Refused { label: Some(label.id), name: raw.clone(), error };
    let refused = match checked_name(t, &raw) {
        Ok(name) => {
            let (org, kb_id, id) = (kb.organization_id, kb.id, label.id);
            match state.store.write(move |db| db.rename_label(org, kb_id, id, &name)).await {
                Ok(_) => return Ok(to_list(kb.id, "label-renamed")),
                Err(err) if is_taken(&err) => refuse(t.label_taken.into()),
                Err(err) => return Err(fail(t, err.into())),
            }
        }
        Err(message) => refuse(message),
    };
    let page = page(&state, &ctx, &kb, None, Some(refused)).await?;
    Ok(render(t, StatusCode::BAD_REQUEST, &page))
}

/// Deletes a label; files and FAQs carrying it lose it.
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/labels/{labelId}/delete", tag = "console",
    request_body(content = super::super::docs::CsrfForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("labelId" = Uuid, Path, description = "The label")),
    responses((status = 303, description = "Deleted: to the labels"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not a label of this organisation's knowledge base (HTML)")))]
pub async fn delete(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path((id, label_id)): Path<(String, String)>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let label = load_label(&state, t, &kb, &label_id).await?;
    state
        .knowledge
        .delete_label(kb.organization_id, kb.id, label.id)
        .await
        .map_err(|e| fail(t, e))?;
    Ok(to_list(kb.id, "label-deleted"))
}
