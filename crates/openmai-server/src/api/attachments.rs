//! `attachments/` and `conversations/{id}/attachments/`: files sent with messages. An
//! attachment is registered from an upload's storage key (`{file: key, filename, type}`, after
//! `upload-presigned-url/`), or uploaded directly as a multipart `file` part. Its `file` is a
//! download link (with the same credentials).

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openmai_store::models::Attachment;
use openmai_types::{Code, Timestamp, messages};
use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::PageParams;
use crate::api::knowledge_bases::parse_id;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text, type_name};
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};
use crate::wire::payload::Payload;

/// MaiAgent's attachment `TypeEnum`.
pub const TYPES: &[&str] = &["image", "video", "audio", "sticker", "other"];

pub fn router(max_upload_bytes: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, patch, delete))
        .routes(routes!(download))
        .routes(routes!(conversation_create))
        // Direct multipart uploads may be as large as any upload.
        .layer(DefaultBodyLimit::max(max_upload_bytes))
}

/// An attachment as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    pub id: Uuid,
    /// `image`, `video`, `audio`, `sticker` or `other`.
    #[serde(rename = "type")]
    pub attachment_type: String,
    pub filename: String,
    /// Where the file can be downloaded (with the same credentials).
    pub file: String,
    pub size: i64,
    pub conversation: Option<Uuid>,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
}

impl AttachmentView {
    pub fn new(a: Attachment, url: &RequestUrl) -> Self {
        AttachmentView {
            file: url.absolute(&format!("/api/v1/attachments/{}/download/", a.id)),
            id: a.id,
            attachment_type: a.attachment_type,
            filename: a.filename,
            size: a.size,
            conversation: a.conversation_id,
            created_at: a.created_at,
        }
    }
}

/// The request body of attachment creation (JSON), or a multipart form with a `file` part.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct AttachmentInput {
    /// The storage key of the upload (`fields.key` from `upload-presigned-url/`).
    file: String,
    filename: String,
    /// `image`, `video`, `audio`, `sticker` or `other` (the default).
    #[schema(rename = "type")]
    attachment_type: Option<String>,
    /// The conversation it belongs to.
    conversation: Option<Uuid>,
}

/// How a message names an attachment: an existing one by id (a string, or an object with
/// `id`), or a new one by the storage key of its upload (`{file, filename, type}`).
#[derive(Debug, Clone, PartialEq)]
pub enum AttachmentRef {
    Existing(Uuid),
    New { key: String, filename: String, attachment_type: String },
}

/// Reads a message's `attachments` list; the error is DRF's message for the field.
pub fn parse_refs(value: Value) -> Result<Vec<AttachmentRef>, String> {
    let Value::Array(items) = value else {
        return Err(messages::not_a_list(type_name(&value)));
    };
    let mut refs = Vec::with_capacity(items.len());
    for item in items {
        let reference = match &item {
            Value::String(id) => AttachmentRef::Existing(
                Uuid::parse_str(id.trim()).map_err(|_| messages::does_not_exist(id))?,
            ),
            Value::Object(map) => match (map.get("id"), map.get("file")) {
                (Some(Value::String(id)), _) if Uuid::parse_str(id.trim()).is_ok() => {
                    AttachmentRef::Existing(Uuid::parse_str(id.trim()).unwrap_or_default())
                }
                (_, Some(Value::String(key))) => AttachmentRef::New {
                    key: key.trim().to_owned(),
                    filename: map.get("filename").and_then(Value::as_str).map_or_else(
                        || key.rsplit('/').next().unwrap_or(key).to_owned(),
                        str::to_owned,
                    ),
                    attachment_type: map
                        .get("type")
                        .and_then(Value::as_str)
                        .filter(|t| TYPES.contains(t))
                        .unwrap_or("other")
                        .to_owned(),
                },
                (Some(id), _) => {
                    return Err(messages::does_not_exist(id.as_str().unwrap_or_default()));
                }
                _ => return Err(messages::incorrect_pk_type("dict")),
            },
            other => return Err(messages::incorrect_pk_type(type_name(other))),
        };
        if !refs.contains(&reference) {
            refs.push(reference);
        }
    }
    Ok(refs)
}

/// Turns references into attachment ids of the organisation, registering new uploads (in
/// `conversation`). Fails with `field`'s DRF error when an id names nothing or an upload does
/// not exist.
pub async fn resolve_refs(
    state: &AppState,
    organization_id: Uuid,
    conversation: Option<Uuid>,
    refs: Vec<AttachmentRef>,
) -> Result<Vec<Uuid>, String> {
    let existing: Vec<Uuid> = refs
        .iter()
        .filter_map(|r| match r {
            AttachmentRef::Existing(id) => Some(*id),
            AttachmentRef::New { .. } => None,
        })
        .collect();
    let wanted = existing.clone();
    let found = state
        .store
        .read(move |db| db.attachments_by_ids(organization_id, &wanted))
        .await
        .map_err(|e| e.to_string())?;
    if let Some(missing) = existing.iter().find(|id| !found.iter().any(|a| a.id == **id)) {
        return Err(messages::does_not_exist(&missing.to_string()));
    }
    let mut ids = Vec::with_capacity(refs.len());
    for reference in refs {
        match reference {
            AttachmentRef::Existing(id) => ids.push(id),
            AttachmentRef::New { key, filename, attachment_type } => {
                let size = state
                    .knowledge
                    .uploaded_size(organization_id, &key)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| messages::does_not_exist(&key))?;
                let stored = insert(
                    state,
                    organization_id,
                    conversation,
                    attachment_type,
                    filename,
                    key,
                    size,
                )
                .await
                .map_err(|e| e.to_string())?;
                ids.push(stored.id);
            }
        }
    }
    Ok(ids)
}

async fn insert(
    state: &AppState,
    organization_id: Uuid,
    conversation: Option<Uuid>,
    attachment_type: String,
    filename: String,
    storage_key: String,
    size: u64,
) -> ApiResult<Attachment> {
    let attachment = Attachment {
        id: Uuid::nil(),
        organization_id,
        conversation_id: conversation,
        attachment_type,
        filename,
        storage_key,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    };
    Ok(state.store.write(move |db| db.insert_attachment(&attachment)).await?)
}

/// Attachments of the caller's organisation, newest first.
#[utoipa::path(get, path = "/attachments/", tag = "conversations", params(PageParams),
    responses((status = 200, body = Page<AttachmentView>)), security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<AttachmentView>>> {
    let org = caller.organization()?;
    let paged = state.store.read(move |db| db.list_attachments(org, page)).await?;
    Ok(Json(Page::new(paged.map(|a| AttachmentView::new(a, &url)), &url)))
}

/// Registers an upload as an attachment (JSON with the storage key), or uploads one
/// (multipart with a `file` part).
#[utoipa::path(post, path = "/attachments/", tag = "conversations", request_body = AttachmentInput,
    responses((status = 201, body = AttachmentView), (status = 400, description = "Field errors")),
    security(("ApiKeyAuth" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    url: RequestUrl,
    request: Request,
) -> ApiResult<(StatusCode, Json<AttachmentView>)> {
    let org = caller.organization()?;
    let attachment = create_in(&state, org, None, request).await?;
    Ok((StatusCode::CREATED, Json(AttachmentView::new(attachment, &url))))
}

/// Adds an attachment to a conversation (the web chat's upload).
#[utoipa::path(post, path = "/conversations/{id}/attachments/", tag = "conversations",
    request_body = AttachmentInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this conversation.")),
    responses((status = 201, body = AttachmentView), (status = 404, description = "No such conversation")),
    security(("ApiKeyAuth" = [])))]
async fn conversation_create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    url: RequestUrl,
    request: Request,
) -> ApiResult<(StatusCode, Json<AttachmentView>)> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    state.store.read(move |db| db.get_conversation(org, id)).await?;
    let attachment = create_in(&state, org, Some(id), request).await?;
    Ok((StatusCode::CREATED, Json(AttachmentView::new(attachment, &url))))
}

async fn create_in(
    state: &AppState,
    org: Uuid,
    conversation: Option<Uuid>,
    request: Request,
) -> ApiResult<Attachment> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if content_type.starts_with("multipart/form-data") {
        return upload(state, org, conversation, request).await;
    }
    let payload = Payload::from_request(request, state).await?;
    let mut form = Form::new(payload, false)?;
    let key = form.text("file", Text::required(1024));
    let filename = form.text("filename", Text::required(255));
    let attachment_type = form.choice("type", Rule::OPTIONAL, TYPES);
    let conversation = match form.uuid("conversation", Rule::NULLABLE) {
        Input::Set(id) => Some(id),
        _ => conversation,
    };
    form.finish()?;
    let (Some(key), Some(filename)) = (key.set(), filename.set()) else {
        return Err(ApiError::non_field(messages::REQUIRED));
    };
    if let Some(id) = conversation
        && state.store.read(move |db| db.get_conversation(org, id)).await.is_err()
    {
        return Err(ApiError::field("conversation", messages::does_not_exist(&id.to_string())));
    }
    let Some(size) = state.knowledge.uploaded_size(org, &key).await? else {
        return Err(ApiError::field(
            "file",
            "The file has not been uploaded (no object has this key).",
        ));
    };
    insert(state, org, conversation, attachment_type.or("other".into()), filename, key, size).await
}

/// A multipart upload: text fields (`type`, `filename`, `conversation`) and a `file` part,
/// streamed to storage within `max_upload_bytes`.
async fn upload(
    state: &AppState,
    org: Uuid,
    conversation: Option<Uuid>,
    request: Request,
) -> ApiResult<Attachment> {
    let parse_error = |e: multer::Error| {
        ApiError::with_detail(Code::ParseError, format!("Multipart form parse error - {e}"))
    };
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| {
            ApiError::with_detail(
                Code::ParseError,
                "Multipart form parse error - Invalid boundary in multipart: None",
            )
        })?;
    let limit = state.knowledge.settings.max_upload_bytes;
    let stream = request.into_body().into_data_stream();
    let mut multipart = multer::Multipart::new(stream, boundary);
    let (mut attachment_type, mut filename, mut conversation) = (None, None, conversation);
    let mut stored: Option<(String, String, u64)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(parse_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let original = field.file_name().unwrap_or("upload").to_owned();
            let key = openmai_blobs::object_key("attachment", org, &original);
            let path = state.knowledge.temp_path(&format!("upload-{}", Uuid::new_v4()));
            let written = async {
                let mut file = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
                let mut size: u64 = 0;
                while let Some(chunk) = field.chunk().await.map_err(parse_error)? {
                    size += chunk.len() as u64;
                    if size > limit {
                        return Err(ApiError::field(
                            "file",
                            format!("The file is larger than the {limit} bytes allowed."),
                        ));
                    }
                    file.write_all(&chunk).await.map_err(ApiError::internal)?;
                }
                file.flush().await.map_err(ApiError::internal)?;
                state.knowledge.blobs.put_file(&key, &path).await.map_err(ApiError::internal)?;
                Ok(size)
            }
            .await;
            let _ = tokio::fs::remove_file(&path).await;
            stored = Some((key, original, written?));
        } else {
            let text = field.text().await.map_err(parse_error)?;
            match name.as_str() {
                "type" => attachment_type = Some(text),
                "filename" => filename = Some(text),
                "conversation" if !text.trim().is_empty() => {
                    conversation = Some(Uuid::parse_str(text.trim()).map_err(|_| {
                        ApiError::field("conversation", messages::does_not_exist(&text))
                    })?);
                }
                _ => {}
            }
        }
    }
    let Some((key, original, size)) = stored else {
        return Err(ApiError::field("file", messages::REQUIRED));
    };
    let attachment_type = attachment_type.unwrap_or_else(|| "other".into());
    if !TYPES.contains(&attachment_type.as_str()) {
        state.knowledge.blobs.delete(&key).await.ok();
        return Err(ApiError::field("type", messages::invalid_choice(&attachment_type)));
    }
    if let Some(id) = conversation
        && state.store.read(move |db| db.get_conversation(org, id)).await.is_err()
    {
        state.knowledge.blobs.delete(&key).await.ok();
        return Err(ApiError::field("conversation", messages::does_not_exist(&id.to_string())));
    }
    let filename = filename.filter(|f| !f.trim().is_empty()).unwrap_or(original);
    insert(state, org, conversation, attachment_type, filename, key, size).await
}

#[utoipa::path(get, path = "/attachments/{id}/", tag = "conversations",
    params(("id" = Uuid, Path, description = "A UUID string identifying this attachment.")),
    responses((status = 200, body = AttachmentView), (status = 404, description = "Not found")),
    security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    url: RequestUrl,
) -> ApiResult<Json<AttachmentView>> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    let attachment = state.store.read(move |db| db.get_attachment(org, id)).await?;
    Ok(Json(AttachmentView::new(attachment, &url)))
}

/// Replaces an attachment's type, name and file (`file` and `filename` required).
#[utoipa::path(put, path = "/attachments/{id}/", tag = "conversations", request_body = AttachmentInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this attachment.")),
    responses((status = 200, body = AttachmentView)), security(("ApiKeyAuth" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<Json<AttachmentView>> {
    save(&state, &caller, &id, payload, false, &url).await.map(Json)
}

/// Changes some of an attachment's type, name and file.
#[utoipa::path(patch, path = "/attachments/{id}/", tag = "conversations", request_body = AttachmentInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this attachment.")),
    responses((status = 200, body = AttachmentView)), security(("ApiKeyAuth" = [])))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<Json<AttachmentView>> {
    save(&state, &caller, &id, payload, true, &url).await.map(Json)
}

async fn save(
    state: &AppState,
    caller: &Caller,
    id: &str,
    payload: Payload,
    partial: bool,
    url: &RequestUrl,
) -> ApiResult<AttachmentView> {
    let org = caller.organization()?;
    let id = parse_id(id)?;
    let mut current = state.store.read(move |db| db.get_attachment(org, id)).await?;
    let mut form = Form::new(payload, partial)?;
    let key = form.text("file", Text::required(1024));
    let filename = form.text("filename", Text::required(255));
    let attachment_type = form.choice("type", Rule::OPTIONAL, TYPES);
    form.finish()?;
    if let Input::Set(key) = key
        && key != current.storage_key
    {
        let Some(size) = state.knowledge.uploaded_size(org, &key).await? else {
            return Err(ApiError::field(
                "file",
                "The file has not been uploaded (no object has this key).",
            ));
        };
        current.storage_key = key;
        current.size = i64::try_from(size).unwrap_or(i64::MAX);
    }
    current.filename = filename.or(current.filename);
    current.attachment_type = attachment_type.or(current.attachment_type);
    let stored = state.store.write(move |db| db.update_attachment(&current)).await?;
    Ok(AttachmentView::new(stored, url))
}

/// Deletes an attachment; messages that carried it no longer do.
#[utoipa::path(delete, path = "/attachments/{id}/", tag = "conversations",
    params(("id" = Uuid, Path, description = "A UUID string identifying this attachment.")),
    responses((status = 204)), security(("ApiKeyAuth" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    let gone = state.store.write(move |db| db.delete_attachment(org, id)).await?;
    let key = gone.storage_key.clone();
    // The same upload may be registered twice; the object goes with the last registration.
    if !state.store.read(move |db| db.storage_key_in_use(&key)).await?
        && let Err(err) = state.knowledge.blobs.delete(&gone.storage_key).await
    {
        tracing::warn!(%err, key = gone.storage_key, "could not delete an attachment's object");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The attachment's file, as uploaded.
#[utoipa::path(get, path = "/attachments/{id}/download/", tag = "conversations",
    params(("id" = Uuid, Path, description = "A UUID string identifying this attachment.")),
    responses((status = 200, description = "The file")), security(("ApiKeyAuth" = [])))]
async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    let attachment = state.store.read(move |db| db.get_attachment(org, id)).await?;
    let body = state.knowledge.open_object(&attachment.storage_key).await?;
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if let Ok(value) =
        HeaderValue::from_str(&crate::api::uploads::content_disposition(&attachment.filename))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn messages_name_attachments_by_id_string_object_or_storage_key() {
        let id = Uuid::new_v4();
        let refs = parse_refs(json!([
            id.to_string(),
            {"id": id.to_string(), "type": "image", "filename": "a.png", "file": "x"},
            {"type": "image", "filename": "照片.png", "file": "uploads/o/attachment/u/a.png"},
            {"file": "uploads/o/attachment/u/b.pdf"}
        ]))
        .unwrap();
        assert_eq!(
            refs,
            [
                AttachmentRef::Existing(id),
                AttachmentRef::New {
                    key: "uploads/o/attachment/u/a.png".into(),
                    filename: "照片.png".into(),
                    attachment_type: "image".into()
                },
                AttachmentRef::New {
                    key: "uploads/o/attachment/u/b.pdf".into(),
                    filename: "b.pdf".into(),
                    attachment_type: "other".into()
                },
            ]
        );
        assert_eq!(
            parse_refs(json!("x")).unwrap_err(),
            "Expected a list of items but got type \"str\"."
        );
        assert_eq!(
            parse_refs(json!(["nope"])).unwrap_err(),
            "Invalid pk \"nope\" - object does not exist."
        );
        assert_eq!(
            parse_refs(json!([3])).unwrap_err(),
            "Incorrect type. Expected pk value, received int."
        );
    }
}
