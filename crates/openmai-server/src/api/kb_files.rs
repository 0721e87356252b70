//! Knowledge files: `knowledge-bases/{id}/files/…` and the older `chatbots/{id}/files/…`.
//! Registering a file (by the storage key of its upload) queues its ingestion; its
//! `status` then moves `initial → processing → done | failed`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use openmai_store::models::{KbFile, NewKbFile};
use openmai_types::{Timestamp, messages};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::knowledge_bases::parse_id;
use crate::api::parsers::{ParserView, built_in_parser};
use crate::api::scope::Scope;
use crate::api::{NamedRef, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text, type_name};
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, delete))
        .routes(routes!(update_metadata))
        .routes(routes!(batch_delete))
        .routes(routes!(batch_reparse))
        .routes(routes!(latest_failed_reason))
        .routes(routes!(chatbot_list, chatbot_create))
        .routes(routes!(chatbot_get, chatbot_update, chatbot_patch, chatbot_delete))
        .routes(routes!(chatbot_batch_delete))
        .routes(routes!(chatbot_latest_failed_reason))
}

/// A knowledge file as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    pub id: Uuid,
    pub filename: String,
    /// Where the original can be downloaded (with the same credentials).
    pub file: String,
    /// The extension, lower-case (`pdf`).
    pub file_type: String,
    pub size: i64,
    /// `initial`, `processing`, `done`, `deleting` or `failed`.
    pub status: &'static str,
    /// Why processing failed, for a person to act on.
    pub failed_reason: Option<String>,
    pub parser: ParserView,
    pub labels: Vec<NamedRef>,
    pub raw_user_define_metadata: Value,
    /// The parsed content's id (`chatbot-file-contents/{id}/`): the file's own id.
    pub chatbot_file_content: Uuid,
    pub knowledge_base: Uuid,
    pub pages: Option<i64>,
    pub chunks_count: i64,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
}

impl FileView {
    pub fn new(file: KbFile, url: &RequestUrl) -> Self {
        FileView {
            file: url.absolute(&format!(
                "/api/v1/knowledge-bases/{}/files/{}/download/",
                file.knowledge_base_id, file.id
            )),
            status: file.status.as_str(),
            parser: built_in_parser(),
            labels: file.labels.into_iter().map(|l| NamedRef { id: l.id, name: l.name }).collect(),
            raw_user_define_metadata: file
                .raw_user_define_metadata
                .unwrap_or_else(|| Value::Object(Default::default())),
            chatbot_file_content: file.id,
            knowledge_base: file.knowledge_base_id,
            id: file.id,
            filename: file.filename,
            file_type: file.file_type,
            size: file.size,
            failed_reason: file.failed_reason,
            pages: file.pages,
            chunks_count: file.chunks_count,
            created_at: file.created_at,
            updated_at: file.updated_at,
        }
    }
}

/// The latest failure of a file's processing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedReason {
    pub id: Uuid,
    pub filename: String,
    pub status: &'static str,
    /// Null when the file has not failed.
    pub latest_failed_reason: Option<String>,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
}

/// The request body of file registration.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct FilesInput {
    /// Uploaded files: `{file: <fields.key of the upload>, filename, parser?}`.
    files: Vec<FileInput>,
}

#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct FileInput {
    file: String,
    filename: String,
    parser: Option<Uuid>,
}

/// The request body of `update-metadata/`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct FileMetadataInput {
    /// Label ids, or `{id}` objects; ids that name no label of the knowledge base are ignored.
    labels: Option<Vec<Uuid>>,
    raw_user_define_metadata: Option<Value>,
}

/// The request body of `batch-delete/`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct IdsInput {
    ids: Vec<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub deleted_ids: Vec<Uuid>,
}

/// The file of the scope, else 404 (a malformed id too).
async fn find_file(state: &AppState, scope: &Scope, id: &str) -> ApiResult<KbFile> {
    let id = parse_id(id)?;
    let (org, kbs) = (scope.organization_id, scope.kb_ids());
    Ok(state.store.read(move |db| db.get_file_in(org, &kbs, id)).await?)
}

async fn list_in(
    state: &AppState,
    scope: Scope,
    page: openmai_store::models::PageRequest,
    url: &RequestUrl,
) -> ApiResult<Page<FileView>> {
    let (org, kbs) = (scope.organization_id, scope.kb_ids());
    let paged = state.store.read(move |db| db.list_files(org, &kbs, page)).await?;
    Ok(Page::new(paged.map(|f| FileView::new(f, url)), url))
}

/// Validates `{files: [{file, filename, parser?}]}`: each key must be an upload of the
/// caller's organisation that exists in storage.
async fn register_in(
    state: &AppState,
    scope: Scope,
    payload: Payload,
    url: &RequestUrl,
) -> ApiResult<Vec<FileView>> {
    let mut form = Form::new(payload, false)?;
    let items = match form.json("files", Rule::REQUIRED) {
        Input::Set(Value::Array(items)) if !items.is_empty() => items,
        Input::Set(Value::Array(_)) => return Err(ApiError::field("files", messages::EMPTY_LIST)),
        Input::Set(other) => {
            return Err(ApiError::field("files", messages::not_a_list(type_name(&other))));
        }
        _ => {
            form.finish()?;
            return Err(ApiError::field("files", messages::REQUIRED));
        }
    };
    form.finish()?;
    let mut files = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    for item in items {
        let mut item = Form::new(Payload(item), false)?;
        let key = item.text("file", Text::required(1024));
        let filename = item.text("filename", Text::required(255));
        let parser = item.related("parser", Rule::NULLABLE, |id| id == built_in_parser().id);
        let mut item_errors = match item.finish() {
            Ok(()) => FieldErrors::default(),
            Err(err) => err.field_errors().cloned().unwrap_or_default(),
        };
        if let (Input::Set(key), Input::Set(filename)) = (key, filename) {
            match state.knowledge.uploaded_size(scope.organization_id, &key).await? {
                Some(size) => files.push(NewKbFile {
                    knowledge_base_id: Uuid::nil(), // the target, below
                    file_type: file_type(&filename),
                    filename,
                    storage_key: key,
                    size: i64::try_from(size).unwrap_or(i64::MAX),
                    parser_id: parser.set(),
                }),
                None => item_errors.add("file", NO_SUCH_UPLOAD),
            }
        }
        errors.push(item_errors);
    }
    if errors.iter().any(|e| !e.is_empty()) {
        return Err(ApiError::items(Some("files"), errors));
    }
    let target = scope.target(state).await?;
    for file in &mut files {
        file.knowledge_base_id = target.id;
    }
    let stored = state.knowledge.register_files(scope.organization_id, files).await?;
    Ok(stored.into_iter().map(|f| FileView::new(f, url)).collect())
}

/// A registered key that names no upload of the caller's organisation.
const NO_SUCH_UPLOAD: &str =
    "No uploaded file has this key: upload it with the form from upload-presigned-url/ first.";

/// The lower-case extension of a file name, without the dot.
pub fn file_type(filename: &str) -> String {
    std::path::Path::new(filename)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
        .unwrap_or_default()
}

async fn metadata_in(
    state: &AppState,
    scope: &Scope,
    id: &str,
    payload: Payload,
    url: &RequestUrl,
) -> ApiResult<FileView> {
    let file = find_file(state, scope, id).await?;
    let mut form = Form::new(payload, true)?;
    let labels = form.loose_id_list("labels", Rule::NULLABLE);
    let metadata = form.json("rawUserDefineMetadata", Rule::NULLABLE);
    form.finish()?;
    let labels = match labels {
        Input::Set(ids) => Some(ids),
        Input::Null => Some(Vec::new()),
        Input::Absent => None,
    };
    let metadata = match metadata {
        Input::Set(Value::Object(map)) => Some(Value::Object(map)),
        Input::Set(other) => {
            return Err(ApiError::field(
                "rawUserDefineMetadata",
                messages::not_a_dict(type_name(&other)),
            ));
        }
        Input::Null => Some(Value::Object(Default::default())),
        Input::Absent => None,
    };
    let updated =
        state.knowledge.set_file_metadata(scope.organization_id, file.id, labels, metadata).await?;
    Ok(FileView::new(updated, url))
}

fn ids_from(payload: Payload) -> ApiResult<Vec<Uuid>> {
    let mut form = Form::new(payload, false)?;
    let ids = form.id_list("ids", Rule::REQUIRED);
    form.finish()?;
    Ok(ids.set().unwrap_or_default())
}

async fn delete_in(state: &AppState, scope: &Scope, ids: Vec<Uuid>) -> ApiResult<Vec<Uuid>> {
    state.knowledge.delete_files(scope.organization_id, &scope.kb_ids(), &ids).await
}

fn failed_reason(file: KbFile) -> FailedReason {
    FailedReason {
        id: file.id,
        status: file.status.as_str(),
        latest_failed_reason: file.failed_reason,
        filename: file.filename,
        updated_at: file.updated_at,
    }
}

// knowledge-bases/{id}/files/…

/// Files of the knowledge base, newest first.
#[utoipa::path(get, path = "/knowledge-bases/{id}/files/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base."), PageParams),
    responses((status = 200, body = Page<FileView>)), security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<FileView>>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    Ok(Json(list_in(&state, scope, page, &url).await?))
}

/// Registers uploaded files and queues their processing; answers the created files as a
/// bare list.
#[utoipa::path(post, path = "/knowledge-bases/{id}/files/", tag = "knowledge-bases", request_body = FilesInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this knowledge base.")),
    responses((status = 201, body = Vec<FileView>)), security(("ApiKeyAuth" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<Vec<FileView>>)> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    Ok((StatusCode::CREATED, Json(register_in(&state, scope, payload, &url).await?)))
}

#[utoipa::path(get, path = "/knowledge-bases/{id}/files/{fileId}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The knowledge base"), ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 200, body = FileView)), security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
    url: RequestUrl,
) -> ApiResult<Json<FileView>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    Ok(Json(FileView::new(find_file(&state, &scope, &file_id).await?, &url)))
}

/// Deletes the file, its chunks and its stored object; a file still processing is
/// cancelled.
#[utoipa::path(delete, path = "/knowledge-bases/{id}/files/{fileId}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The knowledge base"), ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 204)), security(("ApiKeyAuth" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let file = find_file(&state, &scope, &file_id).await?;
    delete_in(&state, &scope, vec![file.id]).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a file's labels and/or its free-form metadata.
#[utoipa::path(patch, path = "/knowledge-bases/{id}/files/{fileId}/update-metadata/", tag = "knowledge-bases",
    request_body = FileMetadataInput,
    params(("id" = Uuid, Path, description = "The knowledge base"), ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 200, body = FileView)), security(("ApiKeyAuth" = [])))]
async fn update_metadata(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<Json<FileView>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    Ok(Json(metadata_in(&state, &scope, &file_id, payload, &url).await?))
}

/// Deletes several files (`{ids: [...]}`); ids that name no file are skipped.
#[utoipa::path(post, path = "/knowledge-bases/{id}/files/batch-delete/", tag = "knowledge-bases", request_body = IdsInput,
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 200, body = Deleted)), security(("ApiKeyAuth" = [])))]
async fn batch_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<Deleted>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let ids = ids_from(payload)?;
    Ok(Json(Deleted { deleted_ids: delete_in(&state, &scope, ids).await? }))
}

/// Parses files again: a bare list of `{id, parser?}` (or of ids). `parser` may be the
/// parser's id or a name: OpenMai has one parser for every format, so a name only has to be a
/// string.
#[utoipa::path(patch, path = "/knowledge-bases/{id}/files/batch-reparse/", tag = "knowledge-bases",
    request_body = Vec<ReparseItem>,
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 200, body = Vec<FileView>)), security(("ApiKeyAuth" = [])))]
async fn batch_reparse(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<Json<Vec<FileView>>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let Value::Array(items) = payload.0 else {
        return Err(ApiError::non_field(messages::not_a_list(type_name(&payload.0))));
    };
    let mut ids = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    for item in items {
        let item = match item {
            Value::String(id) => serde_json::json!({ "id": id }),
            other => other,
        };
        let mut item = Form::new(Payload(item), false)?;
        let id = item.uuid("id", Rule::REQUIRED);
        if let Input::Set(parser) = item.json("parser", Rule::NULLABLE) {
            let known = match &parser {
                Value::String(name) => {
                    Uuid::parse_str(name).map_or(true, |id| id == built_in_parser().id)
                }
                Value::Object(fields) => {
                    fields.get("id").and_then(Value::as_str).is_some_and(|id| {
                        Uuid::parse_str(id).is_ok_and(|id| id == built_in_parser().id)
                    })
                }
                _ => false,
            };
            if !known {
                let shown = parser.as_str().map_or_else(|| parser.to_string(), str::to_owned);
                item.error("parser", messages::does_not_exist(&shown));
            }
        }
        errors.push(match item.finish() {
            Ok(()) => FieldErrors::default(),
            Err(err) => err.field_errors().cloned().unwrap_or_default(),
        });
        ids.extend(id.set());
    }
    if errors.iter().any(|e| !e.is_empty()) {
        return Err(ApiError::items(None, errors));
    }
    let files = state.knowledge.reparse_files(scope.organization_id, &scope.kb_ids(), &ids).await?;
    Ok(Json(files.into_iter().map(|f| FileView::new(f, &url)).collect()))
}

/// One item of `batch-reparse/`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ReparseItem {
    id: Uuid,
    /// The parser's id or name (optional).
    parser: Option<String>,
}

/// Why the file's processing last failed.
#[utoipa::path(get, path = "/knowledge-bases/{id}/files/{fileId}/latest-failed-reason/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The knowledge base"), ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 200, body = FailedReason)), security(("ApiKeyAuth" = [])))]
async fn latest_failed_reason(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
) -> ApiResult<Json<FailedReason>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    Ok(Json(failed_reason(find_file(&state, &scope, &file_id).await?)))
}

// chatbots/{id}/files/…: the same, on the assistant's knowledge bases.

/// Files of the assistant's knowledge bases.
#[utoipa::path(get, path = "/chatbots/{id}/files/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "The assistant"), PageParams),
    responses((status = 200, body = Page<FileView>)), security(("ApiKeyAuth" = [])))]
async fn chatbot_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<FileView>>> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    Ok(Json(list_in(&state, scope, page, &url).await?))
}

/// Registers uploaded files in the assistant's first knowledge base (created when it has
/// none).
#[utoipa::path(post, path = "/chatbots/{id}/files/", tag = "chatbots", request_body = FilesInput,
    params(("id" = Uuid, Path, description = "The assistant")),
    responses((status = 201, body = Vec<FileView>)), security(("ApiKeyAuth" = [])))]
async fn chatbot_create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<Vec<FileView>>)> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    Ok((StatusCode::CREATED, Json(register_in(&state, scope, payload, &url).await?)))
}

#[utoipa::path(get, path = "/chatbots/{id}/files/{fileId}/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "The assistant"), ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 200, body = FileView)), security(("ApiKeyAuth" = [])))]
async fn chatbot_get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
    url: RequestUrl,
) -> ApiResult<Json<FileView>> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    Ok(Json(FileView::new(find_file(&state, &scope, &file_id).await?, &url)))
}

/// Renames the file (`filename`); other fields are read-only.
#[utoipa::path(put, path = "/chatbots/{id}/files/{fileId}/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "The assistant"), ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 200, body = FileView)), security(("ApiKeyAuth" = [])))]
async fn chatbot_update(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<Json<FileView>> {
    rename(&state, &caller, &id, &file_id, payload, false, &url).await.map(Json)
}

/// Renames the file (`filename`).
#[utoipa::path(patch, path = "/chatbots/{id}/files/{fileId}/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "The assistant"), ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 200, body = FileView)), security(("ApiKeyAuth" = [])))]
async fn chatbot_patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<Json<FileView>> {
    rename(&state, &caller, &id, &file_id, payload, true, &url).await.map(Json)
}

async fn rename(
    state: &AppState,
    caller: &Caller,
    id: &str,
    file_id: &str,
    payload: Payload,
    partial: bool,
    url: &RequestUrl,
) -> ApiResult<FileView> {
    let scope = Scope::chatbot(state, caller, id).await?;
    let file = find_file(state, &scope, file_id).await?;
    let mut form = Form::new(payload, partial)?;
    let filename = form.text("filename", Text::required(255));
    form.finish()?;
    let org = scope.organization_id;
    let renamed = match filename.set() {
        Some(name) => {
            state
                .store
                .write(move |db| {
                    db.rename_file(org, file.id, &name)?;
                    db.get_file(org, file.id)
                })
                .await?
        }
        None => file,
    };
    Ok(FileView::new(renamed, url))
}

#[utoipa::path(delete, path = "/chatbots/{id}/files/{fileId}/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "The assistant (or a knowledge base)"), ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 204)), security(("ApiKeyAuth" = [])))]
async fn chatbot_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    let file = find_file(&state, &scope, &file_id).await?;
    delete_in(&state, &scope, vec![file.id]).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/chatbots/{id}/files/batch-delete/", tag = "chatbots", request_body = IdsInput,
    params(("id" = Uuid, Path, description = "The assistant")),
    responses((status = 200, body = Deleted)), security(("ApiKeyAuth" = [])))]
async fn chatbot_batch_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<Deleted>> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    let ids = ids_from(payload)?;
    Ok(Json(Deleted { deleted_ids: delete_in(&state, &scope, ids).await? }))
}

#[utoipa::path(get, path = "/chatbots/{id}/files/{fileId}/latest-failed-reason/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "The assistant"), ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 200, body = FailedReason)), security(("ApiKeyAuth" = [])))]
async fn chatbot_latest_failed_reason(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
) -> ApiResult<Json<FailedReason>> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    Ok(Json(failed_reason(find_file(&state, &scope, &file_id).await?)))
}
