//! `knowledge-bases/` and `knowledge-bases/{id}/labels/`. Every query is limited to the
//! caller's organisation; another tenant's knowledge base is 404.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use openmai_store::models::{KnowledgeBase, Label, PageRequest};
use openmai_types::{Timestamp, messages};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::{NamedRef, PageParams};
use crate::auth::Caller;
use crate::catalog::Catalog;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text};
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, patch, delete))
        .routes(routes!(list_labels, create_label))
        .routes(routes!(get_label, update_label, delete_label))
}

pub const MAX_RETRIEVED_CHUNKS: i64 = 100;
pub const MIN_CHUNK_SIZE: i64 = 100;
pub const MAX_CHUNK_SIZE: i64 = 8_000;

/// How a knowledge base retrieves: `keyword` (BM25) until an embedding model is set, then
/// `hybrid` (BM25 and vectors, fused).
pub fn retrieval_mode(kb: &KnowledgeBase, catalog: &Catalog) -> &'static str {
    match kb.embedding_model_id.and_then(|id| catalog.embedding_model(id)) {
        Some(model) if model.kind.is_some() => "hybrid",
        _ => "keyword",
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KnowledgeBaseView {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub embedding_model: Option<Uuid>,
    pub reranker_model: Option<Uuid>,
    pub number_of_retrieved_chunks: i64,
    pub sentence_window_size: i64,
    pub enable_hyde: bool,
    pub similarity_cutoff: f64,
    pub enable_rerank: bool,
    /// Characters per chunk when files are split, and the overlap between chunks.
    pub chunk_size: i64,
    pub chunk_overlap: i64,
    /// `keyword` (BM25 only: no embedding model is configured) or `hybrid`.
    pub retrieval_mode: &'static str,
    pub chatbots: Vec<NamedRef>,
    pub files_count: i64,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
}

impl KnowledgeBaseView {
    pub fn new(kb: KnowledgeBase, catalog: &Catalog) -> Self {
        KnowledgeBaseView {
            retrieval_mode: retrieval_mode(&kb, catalog),
            id: kb.id,
            name: kb.name,
            description: kb.description,
            embedding_model: kb.embedding_model_id,
            reranker_model: kb.reranker_model_id,
            number_of_retrieved_chunks: kb.number_of_retrieved_chunks,
            sentence_window_size: kb.sentence_window_size,
            enable_hyde: kb.enable_hyde,
            similarity_cutoff: kb.similarity_cutoff,
            enable_rerank: kb.enable_rerank,
            chunk_size: kb.chunk_size,
            chunk_overlap: kb.chunk_overlap,
            chatbots: kb
                .chatbots
                .into_iter()
                .map(|c| NamedRef { id: c.id, name: c.name })
                .collect(),
            files_count: kb.files_count,
            created_at: kb.created_at,
            updated_at: kb.updated_at,
        }
    }
}

/// The request body of create and update; snake_case names are accepted too.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct KnowledgeBaseInput {
    name: String,
    description: Option<String>,
    /// An id from `embedding-models/`; null for keyword-only retrieval.
    embedding_model: Option<Uuid>,
    /// An id from `reranker-models/`.
    reranker_model: Option<Uuid>,
    number_of_retrieved_chunks: Option<i64>,
    sentence_window_size: Option<i64>,
    enable_hyde: Option<bool>,
    similarity_cutoff: Option<f64>,
    enable_rerank: Option<bool>,
    chunk_size: Option<i64>,
    chunk_overlap: Option<i64>,
    /// Assistants (of the caller's organisation) to link.
    chatbots: Option<Vec<Uuid>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LabelView {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
}

impl From<Label> for LabelView {
    fn from(l: Label) -> Self {
        LabelView { id: l.id, name: l.name, created_at: l.created_at, updated_at: l.updated_at }
    }
}

/// The request body of label create and update.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct LabelInput {
    name: String,
}

/// A path id; anything but a UUID names nothing, so it is 404 like DRF's lookup.
pub fn parse_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found())
}

/// The caller's knowledge base by path id, else 404.
pub async fn find_kb(state: &AppState, caller: &Caller, id: &str) -> ApiResult<KnowledgeBase> {
    let org = caller.organization()?;
    let id = parse_id(id)?;
    Ok(state.store.read(move |db| db.get_kb(org, id)).await?)
}

/// Validates a create or update body and applies it to `kb`. Knowledge-base updates are
/// partial even on PUT: MaiAgent's clients send only the fields they change.
async fn apply_input(
    state: &AppState,
    organization: Uuid,
    payload: Payload,
    creating: bool,
    mut kb: KnowledgeBase,
) -> ApiResult<(KnowledgeBase, Option<Vec<Uuid>>)> {
    let catalog = &state.catalog;
    let mut form = Form::new(payload, !creating)?;
    let name = form.text("name", Text::required(255));
    let description = form.text("description", Text::optional(10_000).blank().nullable());
    let embedding =
        form.related("embeddingModel", Rule::NULLABLE, |id| catalog.embedding_model(id).is_some());
    let reranker =
        form.related("rerankerModel", Rule::NULLABLE, |id| catalog.reranker_model(id).is_some());
    let retrieved =
        form.integer("numberOfRetrievedChunks", Rule::OPTIONAL, 1, MAX_RETRIEVED_CHUNKS);
    let window = form.integer("sentenceWindowSize", Rule::OPTIONAL, 0, 20);
    let hyde = form.boolean("enableHyde", Rule::OPTIONAL);
    let cutoff = form.float("similarityCutoff", Rule::OPTIONAL, 0.0, 1.0);
    let rerank = form.boolean("enableRerank", Rule::OPTIONAL);
    let chunk_size = form.integer("chunkSize", Rule::OPTIONAL, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
    let chunk_overlap = form.integer("chunkOverlap", Rule::OPTIONAL, 0, MAX_CHUNK_SIZE / 2);
    let chatbots = match form.id_list("chatbots", Rule::OPTIONAL) {
        Input::Set(ids) => {
            let wanted = ids.clone();
            let found = state.store.read(move |db| db.find_chatbots(organization, &wanted)).await?;
            if let Some(missing) = ids.iter().find(|id| !found.iter().any(|c| c.id == **id)) {
                form.error("chatbots", messages::does_not_exist(&missing.to_string()));
            }
            Some(ids)
        }
        _ => None,
    };
    kb.name = name.or(kb.name);
    kb.description = description.nullable().unwrap_or(kb.description).filter(|d| !d.is_empty());
    kb.embedding_model_id = embedding.nullable().unwrap_or(kb.embedding_model_id);
    kb.reranker_model_id = reranker.nullable().unwrap_or(kb.reranker_model_id);
    kb.number_of_retrieved_chunks = retrieved.or(kb.number_of_retrieved_chunks);
    kb.sentence_window_size = window.or(kb.sentence_window_size);
    kb.enable_hyde = hyde.or(kb.enable_hyde);
    kb.similarity_cutoff = cutoff.or(kb.similarity_cutoff);
    kb.enable_rerank = rerank.or(kb.enable_rerank);
    kb.chunk_size = chunk_size.or(kb.chunk_size);
    kb.chunk_overlap = chunk_overlap.or(kb.chunk_overlap);
    if !form.has_errors() && kb.chunk_overlap * 2 > kb.chunk_size {
        form.error("chunkOverlap", "Ensure the overlap is at most half the chunk size.");
    }
    form.finish()?;
    Ok((kb, chatbots))
}

/// Knowledge bases of the caller's organisation, newest first.
#[utoipa::path(get, path = "/knowledge-bases/", tag = "knowledge-bases", params(PageParams),
    responses((status = 200, body = Page<KnowledgeBaseView>)), security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<KnowledgeBaseView>>> {
    let org = caller.organization()?;
    let paged = state.store.read(move |db| db.list_kbs(org, page)).await?;
    Ok(Json(Page::new(paged.map(|kb| KnowledgeBaseView::new(kb, &state.catalog)), &url)))
}

/// Creates a knowledge base.
#[utoipa::path(post, path = "/knowledge-bases/", tag = "knowledge-bases", request_body = KnowledgeBaseInput,
    responses((status = 201, body = KnowledgeBaseView), (status = 400, description = "Field errors")),
    security(("ApiKeyAuth" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<KnowledgeBaseView>)> {
    let org = caller.organization()?;
    let draft = KnowledgeBase::draft(org, "", None);
    let (kb, chatbots) = apply_input(&state, org, payload, true, draft).await?;
    let chatbots = chatbots.unwrap_or_default();
    let kb = state.store.write(move |db| db.insert_kb(&kb, &chatbots)).await?;
    Ok((StatusCode::CREATED, Json(KnowledgeBaseView::new(kb, &state.catalog))))
}

#[utoipa::path(get, path = "/knowledge-bases/{id}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base.")),
    responses((status = 200, body = KnowledgeBaseView), (status = 404, description = "Not found")),
    security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<KnowledgeBaseView>> {
    let kb = find_kb(&state, &caller, &id).await?;
    Ok(Json(KnowledgeBaseView::new(kb, &state.catalog)))
}

/// Changes the fields sent (partial, as the example clients expect of PUT).
#[utoipa::path(put, path = "/knowledge-bases/{id}/", tag = "knowledge-bases", request_body = KnowledgeBaseInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base.")),
    responses((status = 200, body = KnowledgeBaseView)), security(("ApiKeyAuth" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<KnowledgeBaseView>> {
    save(&state, &caller, &id, payload).await.map(Json)
}

/// Changes the fields sent.
#[utoipa::path(patch, path = "/knowledge-bases/{id}/", tag = "knowledge-bases", request_body = KnowledgeBaseInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base.")),
    responses((status = 200, body = KnowledgeBaseView)), security(("ApiKeyAuth" = [])))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<KnowledgeBaseView>> {
    save(&state, &caller, &id, payload).await.map(Json)
}

async fn save(
    state: &AppState,
    caller: &Caller,
    id: &str,
    payload: Payload,
) -> ApiResult<KnowledgeBaseView> {
    let current = find_kb(state, caller, id).await?;
    let org = current.organization_id;
    let embedding_before = current.embedding_model_id;
    let (kb, chatbots) = apply_input(state, org, payload, false, current).await?;
    let embedding_changed = kb.embedding_model_id != embedding_before;
    let saved = state.store.write(move |db| db.update_kb(&kb, chatbots.as_deref())).await?;
    if embedding_changed {
        // Vectors from another model cannot be compared with the new one's.
        state.knowledge.reembed_kb(org, saved.id).await?;
    }
    Ok(KnowledgeBaseView::new(saved, &state.catalog))
}

/// Deletes the knowledge base with its files, chunks, labels and FAQs; processing files
/// are cancelled.
#[utoipa::path(delete, path = "/knowledge-bases/{id}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base.")),
    responses((status = 204)), security(("ApiKeyAuth" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let kb = find_kb(&state, &caller, &id).await?;
    state.knowledge.delete_kb(kb.organization_id, kb.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn label_name(payload: Payload) -> ApiResult<String> {
    let mut form = Form::new(payload, false)?;
    let name = form.text("name", Text::required(255));
    form.finish()?;
    Ok(name.set().unwrap_or_default())
}

fn name_taken() -> ApiError {
    ApiError::non_field("The fields knowledge_base, name must make a unique set.")
}

#[utoipa::path(get, path = "/knowledge-bases/{id}/labels/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base."), PageParams),
    responses((status = 200, body = Page<LabelView>)), security(("ApiKeyAuth" = [])))]
async fn list_labels(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<LabelView>>> {
    let kb = find_kb(&state, &caller, &id).await?;
    let (org, kb_id) = (kb.organization_id, kb.id);
    let paged = state.store.read(move |db| db.list_labels(org, kb_id, page)).await?;
    Ok(Json(Page::new(paged.map(Into::into), &url)))
}

/// Creates a label; names are unique within a knowledge base.
#[utoipa::path(post, path = "/knowledge-bases/{id}/labels/", tag = "knowledge-bases", request_body = LabelInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base.")),
    responses((status = 201, body = LabelView)), security(("ApiKeyAuth" = [])))]
async fn create_label(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<LabelView>)> {
    let kb = find_kb(&state, &caller, &id).await?;
    let name = label_name(payload)?;
    let (org, kb_id) = (kb.organization_id, kb.id);
    let label =
        state.store.write(move |db| db.insert_label(org, kb_id, &name)).await.map_err(|e| {
            if e.is_conflict_on("name") || e.is_conflict_on("kb_labels") {
                name_taken()
            } else {
                e.into()
            }
        })?;
    Ok((StatusCode::CREATED, Json(label.into())))
}

async fn find_label(
    state: &AppState,
    caller: &Caller,
    id: &str,
    label_id: &str,
) -> ApiResult<Label> {
    let kb = find_kb(state, caller, id).await?;
    let label_id = parse_id(label_id)?;
    let (org, kb_id) = (kb.organization_id, kb.id);
    Ok(state.store.read(move |db| db.get_label(org, kb_id, label_id)).await?)
}

#[utoipa::path(get, path = "/knowledge-bases/{id}/labels/{labelId}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base."),
        ("labelId" = Uuid, Path, description = "A UUID string identifying this label.")),
    responses((status = 200, body = LabelView)), security(("ApiKeyAuth" = [])))]
async fn get_label(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, label_id)): Path<(String, String)>,
) -> ApiResult<Json<LabelView>> {
    Ok(Json(find_label(&state, &caller, &id, &label_id).await?.into()))
}

/// Renames a label.
#[utoipa::path(put, path = "/knowledge-bases/{id}/labels/{labelId}/", tag = "knowledge-bases", request_body = LabelInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base."),
        ("labelId" = Uuid, Path, description = "A UUID string identifying this label.")),
    responses((status = 200, body = LabelView)), security(("ApiKeyAuth" = [])))]
async fn update_label(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, label_id)): Path<(String, String)>,
    payload: Payload,
) -> ApiResult<Json<LabelView>> {
    let label = find_label(&state, &caller, &id, &label_id).await?;
    let name = label_name(payload)?;
    let org = caller.organization()?;
    let renamed = state
        .store
        .write(move |db| db.rename_label(org, label.knowledge_base_id, label.id, &name))
        .await
        .map_err(|e| {
            if e.is_conflict_on("name") || e.is_conflict_on("kb_labels") {
                name_taken()
            } else {
                e.into()
            }
        })?;
    Ok(Json(renamed.into()))
}

/// Deletes a label; files and FAQs carrying it lose it.
#[utoipa::path(delete, path = "/knowledge-bases/{id}/labels/{labelId}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base."),
        ("labelId" = Uuid, Path, description = "A UUID string identifying this label.")),
    responses((status = 204)), security(("ApiKeyAuth" = [])))]
async fn delete_label(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, label_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let label = find_label(&state, &caller, &id, &label_id).await?;
    let org = caller.organization()?;
    state.knowledge.delete_label(org, label.knowledge_base_id, label.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Page requests for internal whole-list reads.
pub fn everything() -> PageRequest {
    PageRequest::first(crate::wire::pagination::MAX_PAGE_SIZE)
}
