//! 知識庫: the knowledge-bases table (10 per page, newest first), the create, edit and delete
//! forms, and each knowledge base's page with its tabs: files (upload with progress, live
//! status, chunks), FAQs, labels and a search test.
//!
//! The work is done by the knowledge service ([`crate::knowledge::Knowledge`]) and the store,
//! as for the API; forms are validated with the API's rules and limits, so both accept the
//! same input. Everything is looked up within the session's organisation: another tenant's
//! knowledge base, file, FAQ or label is a 404 page.

mod faqs;
mod files;
mod labels;
mod search;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use openmai_store::StoreError;
use openmai_store::models::{KnowledgeBase, PageNumber, PageRequest, Paged};
use openmai_types::messages;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::chatbots::{Choice, PAGE_SIZE, PageLink, page_links, page_param};
use super::i18n::{Lang, Text};
use super::{Chrome, Ctx, Fields, Page, fail, field_messages, not_found, notice, render, time};
use crate::api::knowledge_bases::{
    MAX_CHUNK_SIZE, MAX_RETRIEVED_CHUNKS, MIN_CHUNK_SIZE, everything, find_kb, retrieval_mode,
};
use crate::error::{ApiResult, NON_FIELD_ERRORS};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text as TextRule};
use crate::wire::payload::Payload;

/// The API's message when the overlap is more than half the chunk size.
pub const OVERLAP_TOO_LARGE: &str = "Ensure the overlap is at most half the chunk size.";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(new_page, create))
        .routes(routes!(edit_page, update))
        .routes(routes!(delete))
        .routes(routes!(files::page))
        .routes(routes!(files::presign))
        .routes(routes!(files::register))
        .routes(routes!(files::status))
        .routes(routes!(files::chunks))
        .routes(routes!(files::save_labels))
        .routes(routes!(files::reparse))
        .routes(routes!(files::delete))
        .routes(routes!(faqs::list))
        .routes(routes!(faqs::new_page, faqs::create))
        .routes(routes!(faqs::edit_page, faqs::update))
        .routes(routes!(faqs::delete))
        .routes(routes!(labels::list, labels::create))
        .routes(routes!(labels::rename))
        .routes(routes!(labels::delete))
        .routes(routes!(search::page, search::run))
}

/// The left-menu entry these pages highlight.
const MENU: &str = "knowledge-bases";

fn to_list() -> Response {
    Redirect::to("/console/knowledge-bases").into_response()
}

/// `—` for nothing.
fn or_dash(text: String) -> String {
    if text.trim().is_empty() { "—".to_owned() } else { text }
}

/// One page of a list; a page past the end (say, after deleting the last row of a page) is
/// the last page, never an error.
pub fn paged<T>(
    number: u64,
    mut list: impl FnMut(PageRequest) -> Result<Paged<T>, StoreError>,
) -> Result<Paged<T>, StoreError> {
    match list(PageRequest { number: PageNumber::Number(number), size: PAGE_SIZE }) {
        Err(StoreError::InvalidPage) => {
            list(PageRequest { number: PageNumber::Last, size: PAGE_SIZE })
        }
        other => other,
    }
}

/// The table footer: `共 N 條資料` and the page links (`{base}page=N`).
pub struct Pager {
    pub base: String,
    pub total: String,
    pub page: u64,
    pub pages: u64,
    pub links: Vec<PageLink>,
}

impl Pager {
    pub fn new<T>(t: &'static Text, base: String, paged: &Paged<T>) -> Pager {
        let pages = paged.count.div_ceil(PAGE_SIZE).max(1);
        Pager {
            base,
            total: t.total(paged.count),
            page: paged.number,
            pages,
            links: page_links(paged.number, pages),
        }
    }
}

/// The knowledge base a page is about, as the header above its tabs shows it.
pub struct KbHeader {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub retrieval: &'static str,
    pub chatbots: String,
    pub chunk_size: i64,
    pub retrieved: i64,
    /// The highlighted tab: `files`, `faqs`, `labels` or `search`.
    pub tab: &'static str,
}

impl KbHeader {
    pub fn new(state: &AppState, t: &'static Text, kb: &KnowledgeBase, tab: &'static str) -> Self {
        KbHeader {
            id: kb.id,
            name: kb.name.clone(),
            description: kb.description.clone().filter(|d| !d.trim().is_empty()),
            retrieval: t.retrieval_mode(retrieval_mode(kb, &state.catalog)),
            chatbots: or_dash(
                kb.chatbots.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
            ),
            chunk_size: kb.chunk_size,
            retrieved: kb.number_of_retrieved_chunks,
            tab,
        }
    }
}

/// The session's knowledge base by path id, else the 404 page (another tenant's too).
pub async fn load_kb(state: &AppState, ctx: &Ctx, id: &str) -> Result<KnowledgeBase, Response> {
    if ctx.org.is_none() {
        return Err(not_found(ctx.t));
    }
    find_kb(state, &ctx.caller(), id).await.map_err(|e| fail(ctx.t, e))
}

/// An id of a path or a form, or the 404 page.
// Handlers return `Response` by value for both arms; boxing it here would only be unboxed again.
#[allow(clippy::result_large_err)]
pub fn path_id(t: &'static Text, id: &str) -> Result<Uuid, Response> {
    super::parse_id(id).ok_or_else(|| not_found(t))
}

// The table.

pub struct KbRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub files_count: i64,
    pub chatbots: String,
    pub updated: String,
    pub updated_iso: String,
}

impl From<KnowledgeBase> for KbRow {
    fn from(kb: KnowledgeBase) -> KbRow {
        KbRow {
            id: kb.id.to_string(),
            chatbots: or_dash(
                kb.chatbots.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
            ),
            name: kb.name,
            description: or_dash(kb.description.unwrap_or_default()),
            files_count: kb.files_count,
            updated: time::format(kb.updated_at),
            updated_iso: time::iso(kb.updated_at),
        }
    }
}

#[derive(Template)]
#[template(path = "knowledge_bases.html")]
struct ListPage {
    t: &'static Text,
    c: Chrome,
    notice: Option<&'static str>,
    has_org: bool,
    rows: Vec<KbRow>,
    pager: Pager,
}

/// 知識庫: the organisation's knowledge bases, 10 per page, newest first.
#[utoipa::path(get, path = "/console/knowledge-bases", tag = "console",
    params(("page" = Option<u64>, Query, description = "Page number")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 303, description = "Without a session: to /console/login")))]
pub async fn list(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let notice = notice(t, query.as_deref());
    let base = "/console/knowledge-bases?".to_owned();
    let Some(org) = ctx.org else {
        let empty: Paged<()> = Paged { count: 0, number: 1, size: PAGE_SIZE, items: Vec::new() };
        let page = ListPage {
            t,
            c: ctx.chrome(MENU),
            notice,
            has_org: false,
            rows: Vec::new(),
            pager: Pager::new(t, base, &empty),
        };
        return Ok(render(t, StatusCode::OK, &page));
    };
    let number = page_param(query.as_deref());
    let found = state
        .store
        .read(move |db| paged(number, |page| db.list_kbs(org, page)))
        .await
        .map_err(|e| fail(t, e.into()))?;
    let page = ListPage {
        t,
        c: ctx.chrome(MENU),
        notice,
        has_org: true,
        pager: Pager::new(t, base, &found),
        rows: found.items.into_iter().map(KbRow::from).collect(),
    };
    Ok(render(t, StatusCode::OK, &page))
}

// The create and edit form.

/// What the form shows: the stored knowledge base or what the user sent.
struct Values {
    name: String,
    description: String,
    chatbots: Vec<String>,
    retrieved: String,
    cutoff: String,
    chunk_size: String,
    chunk_overlap: String,
    embedding: String,
    reranker: String,
    enable_rerank: bool,
}

fn model_value(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

impl Values {
    fn from_kb(kb: &KnowledgeBase) -> Values {
        Values {
            name: kb.name.clone(),
            description: kb.description.clone().unwrap_or_default(),
            chatbots: kb.chatbots.iter().map(|c| c.id.to_string()).collect(),
            retrieved: kb.number_of_retrieved_chunks.to_string(),
            cutoff: kb.similarity_cutoff.to_string(),
            chunk_size: kb.chunk_size.to_string(),
            chunk_overlap: kb.chunk_overlap.to_string(),
            embedding: model_value(kb.embedding_model_id),
            reranker: model_value(kb.reranker_model_id),
            enable_rerank: kb.enable_rerank,
        }
    }

    fn from_form(form: &Fields) -> Values {
        Values {
            name: form.text("name"),
            // Browsers send textarea line breaks as CRLF.
            description: form.text("description").replace("\r\n", "\n"),
            chatbots: form.all("chatbots"),
            retrieved: form.text("numberOfRetrievedChunks"),
            cutoff: form.text("similarityCutoff"),
            chunk_size: form.text("chunkSize"),
            chunk_overlap: form.text("chunkOverlap"),
            embedding: form.text("embeddingModel"),
            reranker: form.text("rerankerModel"),
            // An unticked checkbox is not sent at all.
            enable_rerank: form.get("enableRerank").is_some(),
        }
    }

    /// The API body these values make (every field: the form shows them all).
    fn payload(&self) -> Payload {
        let model = |id: &str| if id.trim().is_empty() { Value::Null } else { json!(id) };
        Payload(json!({
            "name": self.name,
            "description": self.description,
            "chatbots": self.chatbots,
            "numberOfRetrievedChunks": self.retrieved,
            "similarityCutoff": self.cutoff,
            "chunkSize": self.chunk_size,
            "chunkOverlap": self.chunk_overlap,
            "embeddingModel": model(&self.embedding),
            "rerankerModel": model(&self.reranker),
            "enableRerank": self.enable_rerank,
        }))
    }
}

/// Validates the form onto `kb` with the rules and limits of `POST /api/v1/knowledge-bases/`
/// and returns it with the assistants to link.
async fn apply(
    state: &AppState,
    organization: Uuid,
    values: &Values,
    mut kb: KnowledgeBase,
) -> ApiResult<(KnowledgeBase, Vec<Uuid>)> {
    let catalog = &state.catalog;
    let mut form = Form::new(values.payload(), false)?;
    let name = form.text("name", TextRule::required(255));
    let description = form.text("description", TextRule::optional(10_000).blank().nullable());
    let embedding =
        form.related("embeddingModel", Rule::NULLABLE, |id| catalog.embedding_model(id).is_some());
    let reranker =
        form.related("rerankerModel", Rule::NULLABLE, |id| catalog.reranker_model(id).is_some());
    let retrieved =
        form.integer("numberOfRetrievedChunks", Rule::OPTIONAL, 1, MAX_RETRIEVED_CHUNKS);
    let cutoff = form.float("similarityCutoff", Rule::OPTIONAL, 0.0, 1.0);
    let rerank = form.boolean("enableRerank", Rule::OPTIONAL);
    let chunk_size = form.integer("chunkSize", Rule::OPTIONAL, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
    let chunk_overlap = form.integer("chunkOverlap", Rule::OPTIONAL, 0, MAX_CHUNK_SIZE / 2);
    let mut chatbots = Vec::new();
    if let Input::Set(ids) = form.id_list("chatbots", Rule::OPTIONAL) {
        let wanted = ids.clone();
        let found = state.store.read(move |db| db.find_chatbots(organization, &wanted)).await?;
        if let Some(missing) = ids.iter().find(|id| !found.iter().any(|c| c.id == **id)) {
            form.error("chatbots", messages::does_not_exist(&missing.to_string()));
        }
        chatbots = ids;
    }
    kb.name = name.or(kb.name);
    kb.description = description.nullable().unwrap_or(kb.description).filter(|d| !d.is_empty());
    kb.embedding_model_id = embedding.nullable().unwrap_or(kb.embedding_model_id);
    kb.reranker_model_id = reranker.nullable().unwrap_or(kb.reranker_model_id);
    kb.number_of_retrieved_chunks = retrieved.or(kb.number_of_retrieved_chunks);
    kb.similarity_cutoff = cutoff.or(kb.similarity_cutoff);
    kb.enable_rerank = rerank.or(kb.enable_rerank);
    kb.chunk_size = chunk_size.or(kb.chunk_size);
    kb.chunk_overlap = chunk_overlap.or(kb.chunk_overlap);
    if !form.has_errors() && kb.chunk_overlap * 2 > kb.chunk_size {
        form.error("chunkOverlap", OVERLAP_TOO_LARGE);
    }
    form.finish()?;
    Ok((kb, chatbots))
}

#[derive(Template)]
#[template(path = "kb_form.html")]
struct FormPage {
    t: &'static Text,
    c: Chrome,
    title: &'static str,
    action: String,
    submit: &'static str,
    name: String,
    description: String,
    retrieved: String,
    cutoff: String,
    chunk_size: String,
    chunk_overlap: String,
    enable_rerank: bool,
    chatbots: Vec<Choice>,
    embedding_models: Vec<Choice>,
    reranker_models: Vec<Choice>,
    max_retrieved: i64,
    min_chunk: i64,
    max_chunk: i64,
    max_overlap: i64,
    errors: Vec<(String, Vec<String>)>,
}

/// The form's fields, for [`FormPage::other_errors`].
const FORM_FIELDS: &[&str] = &[
    "name",
    "description",
    "chatbots",
    "numberOfRetrievedChunks",
    "similarityCutoff",
    "chunkSize",
    "chunkOverlap",
    "embeddingModel",
    "rerankerModel",
    "enableRerank",
];

/// Model options: "none" first, then the catalogue's; a model no longer configured stays
/// shown (selected), so saving asks for another instead of silently dropping it.
fn model_choices(
    none: &'static str,
    models: &[crate::catalog::Model],
    chosen: &str,
) -> Vec<Choice> {
    let mut choices = vec![Choice { value: String::new(), label: none.into(), selected: true }];
    choices.extend(models.iter().map(|m| Choice {
        value: m.id.to_string(),
        label: m.name.clone(),
        selected: m.id.to_string() == chosen,
    }));
    if !chosen.is_empty() && !choices.iter().skip(1).any(|c| c.selected) {
        choices.push(Choice {
            value: chosen.to_owned(),
            label: crate::api::chatbots::UNAVAILABLE.into(),
            selected: true,
        });
    }
    let any = choices.iter().skip(1).any(|c| c.selected);
    choices[0].selected = !any;
    choices
}

impl FormPage {
    async fn new(
        state: &AppState,
        ctx: &Ctx,
        editing: Option<Uuid>,
        values: Values,
        errors: Vec<(String, Vec<String>)>,
    ) -> Result<FormPage, Response> {
        let t = ctx.t;
        let assistants = match ctx.org {
            Some(org) => state
                .store
                .read(move |db| db.list_chatbots(org, everything()))
                .await
                .map_err(|e| fail(t, e.into()))?
                .items
                .into_iter()
                .map(|c| (c.id, c.name))
                .collect(),
            None => Vec::new(),
        };
        let mut chatbots: Vec<Choice> = assistants
            .into_iter()
            .map(|(id, name)| Choice {
                selected: values.chatbots.contains(&id.to_string()),
                value: id.to_string(),
                label: name,
            })
            .collect();
        chatbots.sort_by(|a, b| a.label.cmp(&b.label));
        let (title, action, submit) = match editing {
            Some(id) => (t.edit_kb, format!("/console/knowledge-bases/{id}/edit"), t.save),
            None => (t.create_kb, "/console/knowledge-bases/new".to_owned(), t.create),
        };
        Ok(FormPage {
            t,
            c: ctx.chrome(MENU),
            title,
            action,
            submit,
            embedding_models: model_choices(
                t.no_embedding_model,
                &state.catalog.embedding,
                &values.embedding,
            ),
            reranker_models: model_choices(t.no_model, &state.catalog.reranker, &values.reranker),
            name: values.name,
            description: values.description,
            retrieved: values.retrieved,
            cutoff: values.cutoff,
            chunk_size: values.chunk_size,
            chunk_overlap: values.chunk_overlap,
            enable_rerank: values.enable_rerank,
            chatbots,
            max_retrieved: MAX_RETRIEVED_CHUNKS,
            min_chunk: MIN_CHUNK_SIZE,
            max_chunk: MAX_CHUNK_SIZE,
            max_overlap: MAX_CHUNK_SIZE / 2,
            errors,
        })
    }

    /// The messages for one field, joined.
    fn error_for(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.join(" "))
    }

    /// Messages not shown next to a field of the form.
    fn other_errors(&self) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(f, _)| f == NON_FIELD_ERRORS || !FORM_FIELDS.contains(&f.as_str()))
            .flat_map(|(_, m)| m.iter().cloned())
            .collect()
    }
}

/// The form for a new knowledge base.
#[utoipa::path(get, path = "/console/knowledge-bases/new", tag = "console",
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 303, description = "Without a session: to /console/login")))]
pub async fn new_page(State(state): State<AppState>, Lang(t): Lang, headers: HeaderMap) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let Some(org) = ctx.org else { return Ok(to_list()) };
    let values = Values::from_kb(&KnowledgeBase::draft(org, "", None));
    let page = FormPage::new(&state, &ctx, None, values, Vec::new()).await?;
    Ok(render(t, StatusCode::OK, &page))
}

/// Creates a knowledge base (validated as `POST /api/v1/knowledge-bases/` is).
#[utoipa::path(post, path = "/console/knowledge-bases/new", tag = "console",
    request_body(content = super::docs::KnowledgeBaseForm,
        content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Created: to its page"),
        (status = 400, description = "The form again, with field errors (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)")))]
pub async fn create(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let Some(org) = ctx.org else { return Ok(to_list()) };
    let values = Values::from_form(&form);
    let (kb, chatbots) =
        match apply(&state, org, &values, KnowledgeBase::draft(org, "", None)).await {
            Ok(valid) => valid,
            Err(err) if err.field_errors().is_some() => {
                let errors = field_messages(t, &err);
                let page = FormPage::new(&state, &ctx, None, values, errors).await?;
                return Ok(render(t, StatusCode::BAD_REQUEST, &page));
            }
            Err(err) => return Err(fail(t, err)),
        };
    let kb = state
        .store
        .write(move |db| db.insert_kb(&kb, &chatbots))
        .await
        .map_err(|e| fail(t, e.into()))?;
    let to = format!("/console/knowledge-bases/{}?notice=kb-created", kb.id);
    Ok(Redirect::to(&to).into_response())
}

/// The form for an existing knowledge base.
#[utoipa::path(get, path = "/console/knowledge-bases/{id}/edit", tag = "console",
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn edit_page(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let page = FormPage::new(&state, &ctx, Some(kb.id), Values::from_kb(&kb), Vec::new()).await?;
    Ok(render(t, StatusCode::OK, &page))
}

/// Saves a knowledge base's settings; a new embedding model re-embeds its contents.
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/edit", tag = "console",
    request_body(content = super::docs::KnowledgeBaseForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 303, description = "Saved: to the table"),
        (status = 400, description = "The form again, with field errors (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn update(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let current = load_kb(&state, &ctx, &id).await?;
    let (org, kb_id) = (current.organization_id, current.id);
    let embedding_before = current.embedding_model_id;
    let values = Values::from_form(&form);
    let (kb, chatbots) = match apply(&state, org, &values, current).await {
        Ok(valid) => valid,
        Err(err) if err.field_errors().is_some() => {
            let errors = field_messages(t, &err);
            let page = FormPage::new(&state, &ctx, Some(kb_id), values, errors).await?;
            return Ok(render(t, StatusCode::BAD_REQUEST, &page));
        }
        Err(err) => return Err(fail(t, err)),
    };
    let embedding_changed = kb.embedding_model_id != embedding_before;
    state
        .store
        .write(move |db| db.update_kb(&kb, Some(&chatbots)))
        .await
        .map_err(|e| fail(t, e.into()))?;
    if embedding_changed {
        // Vectors from another model cannot be compared with the new one's.
        state.knowledge.reembed_kb(org, kb_id).await.map_err(|e| fail(t, e))?;
    }
    Ok(Redirect::to("/console/knowledge-bases?notice=kb-updated").into_response())
}

/// Deletes a knowledge base with its files, chunks, FAQs and labels.
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/delete", tag = "console",
    request_body(content = super::docs::CsrfForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 303, description = "Deleted: to the table"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn delete(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    state.knowledge.delete_kb(kb.organization_id, kb.id).await.map_err(|e| fail(t, e))?;
    Ok(Redirect::to("/console/knowledge-bases?notice=kb-deleted").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_no_longer_configured_stays_selected() {
        let none = model_choices("none", &[], "");
        assert_eq!(none.len(), 1);
        assert!(none[0].selected);
        let gone = model_choices("none", &[], "5f0c3a0e-0000-4000-8000-000000000000");
        assert!(!gone[0].selected && gone[1].selected);
    }
}
