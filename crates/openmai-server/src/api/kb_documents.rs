//! The parsed side of knowledge files: chunks (`knowledge-bases/{id}/documents/`,
//! `chatbot-text-nodes/`), a file's parsed text (`chatbot-file-contents/{id}/`), and search
//! (`knowledge-bases/{id}/search/`, `chatbots/{id}/search/`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use openmai_store::models::{Chunk, FileContent};
use openmai_types::{Timestamp, messages};
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::knowledge_bases::parse_id;
use crate::api::scope::Scope;
use crate::api::{NamedRef, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::knowledge::{SearchHit, SearchRequest};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text, type_name};
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_documents))
        .routes(routes!(update_document, delete_document))
        .routes(routes!(search))
        .routes(routes!(chatbot_search))
        .routes(routes!(get_content, update_content, patch_content))
        .routes(routes!(text_nodes))
}

/// A chunk of a parsed file.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView {
    pub id: Uuid,
    pub content: String,
    pub metadata: Value,
    pub page_number: Option<i64>,
    /// The nearest headings above the chunk.
    pub heading: Option<String>,
    /// Position in the file, from 0.
    pub ordinal: i64,
    pub chatbot_file: NamedFile,
    pub knowledge_base: Uuid,
    pub characters_count: usize,
    pub hits_count: i64,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NamedFile {
    pub id: Uuid,
    pub filename: String,
}

impl From<Chunk> for DocumentView {
    fn from(c: Chunk) -> Self {
        DocumentView {
            characters_count: c.content.chars().count(),
            id: c.id,
            metadata: c.metadata.unwrap_or_else(|| Value::Object(Default::default())),
            page_number: c.page_number,
            heading: c.heading,
            ordinal: c.ordinal,
            chatbot_file: NamedFile { id: c.file_id, filename: c.filename },
            knowledge_base: c.knowledge_base_id,
            hits_count: c.hits_count,
            created_at: c.created_at,
            updated_at: c.updated_at,
            content: c.content,
        }
    }
}

/// A chunk as `chatbot-text-nodes/` shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextNodeView {
    pub id: Uuid,
    pub text: String,
    pub characters_count: usize,
    pub hits_count: i64,
    pub filename: String,
    pub page_number: Option<i64>,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
}

impl From<Chunk> for TextNodeView {
    fn from(c: Chunk) -> Self {
        TextNodeView {
            characters_count: c.content.chars().count(),
            id: c.id,
            hits_count: c.hits_count,
            filename: c.filename,
            page_number: c.page_number,
            updated_at: c.updated_at,
            text: c.content,
        }
    }
}

/// A file's parsed text and the user's edited version (`chatbot-file-contents/{id}/`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContentView {
    /// The file's id.
    pub id: Uuid,
    pub content: String,
    /// The edited text the chunks come from, when the user edited it.
    pub modified_content: Option<String>,
    /// The file type (`pdf`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The detected text encoding, for text formats.
    pub encoding: Option<String>,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
}

/// One retrieved passage or FAQ.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HitView {
    pub id: Uuid,
    /// `chunk` or `faq`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The passage (for an FAQ: its question and answer).
    pub text: String,
    /// Relevance in 0..1 (fused keyword and vector ranks, or the reranker's score).
    pub score: f32,
    pub chatbot_file: Option<NamedFile>,
    pub page_number: Option<i64>,
    pub heading: Option<String>,
    pub knowledge_base: Uuid,
    pub faq: Option<FaqHit>,
    pub labels: Vec<NamedRef>,
    /// `chatbotFile` again, under the snake_case name the official example client reads.
    #[serde(rename = "chatbot_file")]
    pub chatbot_file_snake: Option<NamedFile>,
    /// `pageNumber` again, under the snake_case name the official example client reads.
    #[serde(rename = "page_number")]
    pub page_number_snake: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FaqHit {
    pub id: Uuid,
    pub question: String,
    pub answer: String,
}

impl From<SearchHit> for HitView {
    fn from(hit: SearchHit) -> Self {
        match hit {
            SearchHit::Chunk { chunk, score, labels } => HitView {
                id: chunk.id,
                kind: "chunk",
                score,
                chatbot_file_snake: Some(NamedFile {
                    id: chunk.file_id,
                    filename: chunk.filename.clone(),
                }),
                page_number_snake: chunk.page_number,
                chatbot_file: Some(NamedFile { id: chunk.file_id, filename: chunk.filename }),
                page_number: chunk.page_number,
                heading: chunk.heading,
                knowledge_base: chunk.knowledge_base_id,
                faq: None,
                labels: labels.into_iter().map(|l| NamedRef { id: l.id, name: l.name }).collect(),
                text: chunk.content,
            },
            SearchHit::Faq { faq, score } => HitView {
                id: faq.id,
                kind: "faq",
                text: format!("{}\n{}", faq.question, faq.answer),
                score,
                chatbot_file: None,
                page_number: None,
                chatbot_file_snake: None,
                page_number_snake: None,
                heading: None,
                knowledge_base: faq.knowledge_base_id,
                labels: faq
                    .labels
                    .iter()
                    .map(|l| NamedRef { id: l.id, name: l.name.clone() })
                    .collect(),
                faq: Some(FaqHit { id: faq.id, question: faq.question, answer: faq.answer }),
            },
        }
    }
}

/// The request body of search.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SearchInput {
    query: String,
    /// Hits to return (default: the knowledge base's or assistant's setting).
    number_of_retrieved_chunks: Option<i64>,
    /// Drop hits scoring below this (0..1; default: the knowledge base's setting).
    similarity_cutoff: Option<f64>,
    /// Only passages from files (or FAQs) carrying one of these labels.
    labels: Option<Vec<Uuid>>,
    /// Only passages from these files.
    files: Option<Vec<Uuid>>,
}

/// The request body of a document update.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct DocumentInput {
    content: Option<String>,
    metadata: Option<Value>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DocumentsQuery {
    /// Only the chunks of this file (`chatbotFileId` is accepted too).
    chatbot_file_id: Option<Uuid>,
}

#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TextNodesQuery {
    /// The file whose chunks to list (its content id, which is the file id).
    #[param(rename = "chatbotFileContent")]
    chatbot_file_content: Uuid,
}

fn query_param(url: &RequestUrl, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| url.query_value(n)).map(str::to_owned)
}

#[utoipa::path(get, path = "/knowledge-bases/{id}/documents/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The knowledge base"), DocumentsQuery, PageParams),
    responses((status = 200, body = Page<DocumentView>)), security(("ApiKeyAuth" = [])))]
async fn list_documents(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<DocumentView>>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let file = match query_param(&url, &["chatbot_file_id", "chatbotFileId", "chatbotFile"]) {
        Some(raw) => Some(
            Uuid::parse_str(raw.trim())
                .map_err(|_| ApiError::field("chatbotFileId", messages::NOT_A_UUID))?,
        ),
        None => None,
    };
    let (org, kbs) = (scope.organization_id, scope.kb_ids());
    let paged = state.store.read(move |db| db.list_chunks(org, &kbs, file, page)).await?;
    Ok(Json(Page::new(paged.map(Into::into), &url)))
}

/// Changes a chunk's text (re-embedded and re-indexed at once) and/or its metadata.
#[utoipa::path(put, path = "/knowledge-bases/{id}/documents/{documentId}/", tag = "knowledge-bases", request_body = DocumentInput,
    params(("id" = Uuid, Path, description = "The knowledge base"), ("documentId" = Uuid, Path, description = "The chunk")),
    responses((status = 200, body = DocumentView)), security(("ApiKeyAuth" = [])))]
async fn update_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, document_id)): Path<(String, String)>,
    payload: Payload,
) -> ApiResult<Json<DocumentView>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let document = parse_id(&document_id)?;
    let mut form = Form::new(payload, true)?;
    let content = form.text("content", Text::optional(100_000).untrimmed());
    let metadata = form.json("metadata", Rule::NULLABLE);
    form.finish()?;
    let metadata = match metadata {
        Input::Set(Value::Object(map)) => Some(Value::Object(map)),
        Input::Set(other) => {
            return Err(ApiError::field("metadata", messages::not_a_dict(type_name(&other))));
        }
        Input::Null => Some(Value::Object(Default::default())),
        Input::Absent => None,
    };
    let chunk = state
        .knowledge
        .edit_chunk(scope.organization_id, &scope.kb_ids(), document, content.set(), metadata)
        .await?;
    Ok(Json(chunk.into()))
}

#[utoipa::path(delete, path = "/knowledge-bases/{id}/documents/{documentId}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The knowledge base"), ("documentId" = Uuid, Path, description = "The chunk")),
    responses((status = 204)), security(("ApiKeyAuth" = [])))]
async fn delete_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, document_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let document = parse_id(&document_id)?;
    state.knowledge.delete_chunk(scope.organization_id, &scope.kb_ids(), document).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn search_request(payload: Payload, scope: &Scope, default_limit: i64) -> ApiResult<SearchRequest> {
    let mut form = Form::new(payload, false)?;
    let query = form.text("query", Text::required(10_000));
    let limit = form.integer(
        "numberOfRetrievedChunks",
        Rule::OPTIONAL,
        1,
        crate::api::knowledge_bases::MAX_RETRIEVED_CHUNKS,
    );
    let cutoff = form.float("similarityCutoff", Rule::OPTIONAL, 0.0, 1.0);
    let labels = form.loose_id_list("labels", Rule::NULLABLE);
    let files = form.id_list("files", Rule::NULLABLE);
    form.finish()?;
    Ok(SearchRequest {
        query: query.set().unwrap_or_default(),
        limit: usize::try_from(limit.or(default_limit)).unwrap_or(12),
        similarity_cutoff: cutoff.set(),
        label_ids: labels.set().filter(|l| !l.is_empty()),
        file_ids: files.set(),
        knowledge_bases: scope.knowledge_bases.clone(),
    })
}

/// Retrieves the passages and FAQs that best answer `query`: a bare list, best first.
#[utoipa::path(post, path = "/knowledge-bases/{id}/search/", tag = "knowledge-bases", request_body = SearchInput,
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 200, body = Vec<HitView>)), security(("ApiKeyAuth" = [])))]
async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<Vec<HitView>>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let default = scope.knowledge_bases[0].number_of_retrieved_chunks;
    let request = search_request(payload, &scope, default)?;
    let hits = state.knowledge.search(scope.organization_id, request).await?;
    Ok(Json(hits.into_iter().map(Into::into).collect()))
}

/// Retrieves from every knowledge base linked to the assistant.
#[utoipa::path(post, path = "/chatbots/{id}/search/", tag = "chatbots", request_body = SearchInput,
    params(("id" = Uuid, Path, description = "The assistant")),
    responses((status = 200, body = Vec<HitView>)), security(("ApiKeyAuth" = [])))]
async fn chatbot_search(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<Vec<HitView>>> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    let default = match scope.chatbot {
        Some((chatbot, _)) => {
            let org = scope.organization_id;
            state
                .store
                .read(move |db| db.get_chatbot(org, chatbot))
                .await?
                .number_of_retrieved_chunks
        }
        None => scope.knowledge_bases.first().map_or(12, |kb| kb.number_of_retrieved_chunks),
    };
    let request = search_request(payload, &scope, default)?;
    let hits = state.knowledge.search(scope.organization_id, request).await?;
    Ok(Json(hits.into_iter().map(Into::into).collect()))
}

async fn content_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<(String, FileContent)> {
    let org = caller.organization()?;
    let id = parse_id(id)?;
    Ok(state
        .store
        .read(move |db| {
            let file = db.get_file(org, id)?;
            Ok((file.file_type, db.get_file_content(org, id)?))
        })
        .await?)
}

fn content_view(kind: String, content: FileContent) -> ContentView {
    ContentView {
        id: content.file_id,
        content: content.content,
        modified_content: content.modified_content,
        kind,
        encoding: content.encoding,
        updated_at: content.updated_at,
    }
}

/// A file's parsed text (the file's id; 404 until the file is parsed).
#[utoipa::path(get, path = "/chatbot-file-contents/{id}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The file")),
    responses((status = 200, body = ContentView)), security(("ApiKeyAuth" = [])))]
async fn get_content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ContentView>> {
    let (kind, content) = content_of(&state, &caller, &id).await?;
    Ok(Json(content_view(kind, content)))
}

/// Replaces the edited text (`modifiedContent`); the file is re-chunked and re-indexed
/// from it. A null or empty value goes back to the parsed text.
#[utoipa::path(put, path = "/chatbot-file-contents/{id}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The file")),
    responses((status = 200, body = ContentView)), security(("ApiKeyAuth" = [])))]
async fn update_content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<ContentView>> {
    edit_content(&state, &caller, &id, payload).await.map(Json)
}

#[utoipa::path(patch, path = "/chatbot-file-contents/{id}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The file")),
    responses((status = 200, body = ContentView)), security(("ApiKeyAuth" = [])))]
async fn patch_content(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<ContentView>> {
    edit_content(&state, &caller, &id, payload).await.map(Json)
}

async fn edit_content(
    state: &AppState,
    caller: &Caller,
    id: &str,
    payload: Payload,
) -> ApiResult<ContentView> {
    let (kind, current) = content_of(state, caller, id).await?;
    let mut form = Form::new(payload, true)?;
    let modified =
        form.text("modifiedContent", Text::optional(50_000_000).blank().nullable().untrimmed());
    form.finish()?;
    let content = match modified.nullable() {
        Some(text) => {
            let org = caller.organization()?;
            state
                .knowledge
                .edit_content(org, current.file_id, text.filter(|t| !t.trim().is_empty()))
                .await?
        }
        None => current,
    };
    Ok(content_view(kind, content))
}

/// The chunks of one file (`?chatbotFileContent=<file id>`).
#[utoipa::path(get, path = "/chatbot-text-nodes/", tag = "knowledge-bases", params(TextNodesQuery, PageParams),
    responses((status = 200, body = Page<TextNodeView>)), security(("ApiKeyAuth" = [])))]
async fn text_nodes(
    State(state): State<AppState>,
    caller: Caller,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<TextNodeView>>> {
    let org = caller.organization()?;
    let Some(raw) = query_param(&url, &["chatbotFileContent", "chatbot_file_content"]) else {
        return Err(ApiError::field("chatbotFileContent", messages::REQUIRED));
    };
    let file = Uuid::parse_str(raw.trim())
        .map_err(|_| ApiError::field("chatbotFileContent", messages::NOT_A_UUID))?;
    let paged = state
        .store
        .read(move |db| {
            let kb = db.get_file(org, file)?.knowledge_base_id;
            db.list_chunks(org, &[kb], Some(file), page)
        })
        .await?;
    Ok(Json(Page::new(paged.map(Into::into), &url)))
}
