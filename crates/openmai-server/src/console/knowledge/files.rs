//! 檔案: uploading (as API clients do: a presigned form, a multipart POST to storage, then
//! registering the key), the files table whose statuses update live, a file's chunks and
//! labels, and re-parsing and deleting files.
//!
//! The browser cannot use an API key, so the page talks to three small JSON endpoints of its
//! own (session cookie; writes need the session's CSRF token in `X-CSRFToken`) that call the
//! same knowledge-service functions as `upload-presigned-url/` and `files/`.

use askama::Template;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use openmai_store::StoreError;
use openmai_store::models::{KbFile, NewKbFile};
use openmai_types::{Code, messages};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::super::i18n::{Lang, Text};
use super::super::{
    CONTENT_SECURITY_POLICY, Chrome, Ctx, Fields, Page, fail, not_found, notice, render,
    same_origin, time,
};
use super::{KbHeader, MENU, Pager, load_kb, paged, path_id};
use crate::api::kb_files::file_type;
use crate::api::knowledge_bases::everything;
use crate::api::uploads::{PresignedPost, allowed_extensions};
use crate::auth::caller::constant_time_eq;
use crate::auth::session;
use crate::console::chatbots::{Choice, page_param};
use crate::error::{ApiError, FieldErrors};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text as TextRule, type_name};
use crate::wire::links::RequestUrl;
use crate::wire::payload::Payload;

/// What uploads are for, as `upload-presigned-url/` names knowledge files.
const MODEL_NAME: &str = "chatbot-file";
/// The most files one status request asks about.
const MAX_STATUS_IDS: usize = 100;
/// DRF's text for a session write without the right token.
const CSRF_FAILED: &str = "CSRF Failed: CSRF token missing or incorrect.";
/// The API's text for a key that names no upload.
const NO_SUCH_UPLOAD: &str =
    "No uploaded file has this key: upload it with the form from upload-presigned-url/ first.";

/// One row of the files table.
pub struct FileRow {
    pub id: String,
    pub filename: String,
    pub file_type: String,
    pub size: String,
    /// `initial`, `processing`, `done`, `failed` or `deleting`.
    pub status: &'static str,
    pub status_label: &'static str,
    pub failed_reason: Option<String>,
    pub chunks: i64,
    pub labels: String,
    pub uploaded: String,
    pub uploaded_iso: String,
}

impl FileRow {
    fn new(file: KbFile, t: &'static Text) -> FileRow {
        let status = file.status.as_str();
        FileRow {
            id: file.id.to_string(),
            file_type: if file.file_type.is_empty() { "—".into() } else { file.file_type },
            size: human_size(file.size),
            status,
            status_label: t.file_status(status),
            failed_reason: file.failed_reason.filter(|_| status == "failed"),
            chunks: file.chunks_count,
            labels: super::or_dash(
                file.labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "),
            ),
            uploaded: time::format(file.created_at),
            uploaded_iso: time::iso(file.created_at),
            filename: file.filename,
        }
    }
}

/// `532 B`, `1.5 KB`, `12.0 MB`.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{} B", bytes.max(0));
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// What the upload script needs, as `data-` attributes.
pub struct Uploader {
    pub presign: String,
    pub register: String,
    pub status: String,
    /// The files table, refreshed once uploads are registered.
    pub refresh: String,
    pub max_bytes: u64,
    pub max_size: String,
    /// `pdf,docx,…`
    pub extensions: String,
    /// `.pdf,.docx,…` for the file input.
    pub accept: String,
    /// `.pdf, .docx, …` for people.
    pub listed: String,
}

impl Uploader {
    fn new(state: &AppState, kb: Uuid) -> Uploader {
        let extensions = allowed_extensions(MODEL_NAME);
        let max_bytes = state.config.max_upload_bytes;
        Uploader {
            presign: format!("/console/knowledge-bases/{kb}/uploads/presign"),
            register: format!("/console/knowledge-bases/{kb}/uploads/register"),
            status: format!("/console/knowledge-bases/{kb}/files/status"),
            refresh: format!("/console/knowledge-bases/{kb}"),
            max_bytes,
            max_size: human_size(i64::try_from(max_bytes).unwrap_or(i64::MAX)),
            accept: extensions.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(","),
            listed: extensions.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(", "),
            extensions: extensions.join(","),
        }
    }
}

#[derive(Template)]
#[template(path = "kb_files.html")]
struct FilesPage {
    t: &'static Text,
    c: Chrome,
    notice: Option<&'static str>,
    kb: KbHeader,
    rows: Vec<FileRow>,
    pager: Pager,
    upload: Uploader,
}

impl FilesPage {
    /// True while some file of the page is waiting or processing (the script polls then).
    fn pending(&self) -> bool {
        self.rows.iter().any(|r| matches!(r.status, "initial" | "processing"))
    }
}

/// With S3 the browser uploads to the bucket's origin, which the page's policy must allow.
fn upload_policy(state: &AppState, url: &RequestUrl) -> Option<HeaderValue> {
    if state.knowledge.local.is_some() {
        return None;
    }
    let probe = state.knowledge.presign("uploads/probe", 0, url).ok()?;
    let origin = url::Url::parse(&probe.url).ok()?.origin().ascii_serialization();
    HeaderValue::from_str(&format!("{CONTENT_SECURITY_POLICY}; connect-src 'self' {origin}")).ok()
}

/// A knowledge base's page: the 檔案 tab (upload, then the files, newest first, 10 a page).
#[utoipa::path(get, path = "/console/knowledge-bases/{id}", tag = "console",
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("page" = Option<u64>, Query, description = "Page number")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 303, description = "Without a session: to /console/login"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn page(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    url: RequestUrl,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let (org, kb_id) = (kb.organization_id, kb.id);
    let number = page_param(query.as_deref());
    let files = state
        .store
        .read(move |db| paged(number, |page| db.list_files(org, &[kb_id], page)))
        .await
        .map_err(|e| fail(t, e.into()))?;
    let page = FilesPage {
        t,
        c: ctx.chrome(MENU),
        notice: notice(t, query.as_deref()),
        kb: KbHeader::new(&state, t, &kb, "files"),
        pager: Pager::new(t, format!("/console/knowledge-bases/{kb_id}?"), &files),
        rows: files.items.into_iter().map(|f| FileRow::new(f, t)).collect(),
        upload: Uploader::new(&state, kb_id),
    };
    let mut response = render(t, StatusCode::OK, &page);
    if let Some(policy) = upload_policy(&state, &url) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    Ok(response)
}

// The JSON endpoints of the upload script.

fn json_error(err: impl Into<ApiError>) -> Response {
    err.into().into_response()
}

/// The signed-in user of a JSON request: 401 without a session; for writes, 403 for a
/// cross-site `Origin` or a missing or wrong `X-CSRFToken`. Errors are the API's JSON.
async fn json_ctx(
    state: &AppState,
    headers: &HeaderMap,
    t: &'static Text,
    write: bool,
) -> Result<Ctx, Response> {
    if write && !same_origin(state, headers) {
        return Err(json_error(ApiError::permission_denied()));
    }
    let session = session::find(state, headers)
        .await
        .map_err(json_error)?
        .ok_or_else(|| json_error(ApiError::not_authenticated()))?;
    if write {
        let sent = headers.get("x-csrftoken").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !constant_time_eq(sent, &session.csrf_token) {
            return Err(json_error(ApiError::with_detail(Code::PermissionDenied, CSRF_FAILED)));
        }
    }
    Ctx::from_session(state, session, t).await
}

/// The session's knowledge base, else 404 (JSON).
async fn json_kb(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
) -> Result<openmai_store::models::KnowledgeBase, Response> {
    if ctx.org.is_none() {
        return Err(json_error(ApiError::not_found()));
    }
    crate::api::knowledge_bases::find_kb(state, &ctx.caller(), id).await.map_err(json_error)
}

/// A file's state, as the table shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileState {
    pub id: Uuid,
    pub filename: String,
    /// `initial`, `processing`, `done`, `failed` or `deleting`.
    pub status: &'static str,
    /// The status in the page's language (`等待中`, `處理中`, `完成`, `失敗`).
    pub status_label: &'static str,
    pub failed_reason: Option<String>,
    pub chunks_count: i64,
}

impl FileState {
    fn new(file: KbFile, t: &'static Text) -> FileState {
        let status = file.status.as_str();
        FileState {
            id: file.id,
            filename: file.filename,
            status,
            status_label: t.file_status(status),
            failed_reason: file.failed_reason.filter(|_| status == "failed"),
            chunks_count: file.chunks_count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FileStates {
    pub files: Vec<FileState>,
}

/// A signed form to upload one file to storage (what `upload-presigned-url/` answers for a
/// `chatbot-file`): POST its `fields`, then the file as `file`, to `url`.
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/uploads/presign", tag = "console",
    request_body = super::super::docs::UploadPresignInput,
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 200, body = PresignedPost),
        (status = 400, description = "Field errors (JSON): a file type that cannot be uploaded, or too large"),
        (status = 401, description = "No session (JSON)"),
        (status = 403, description = "Cross-site, or no or a wrong X-CSRFToken (JSON)"),
        (status = 404, description = "Not a knowledge base of this organisation (JSON)")))]
pub async fn presign(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    url: RequestUrl,
    payload: Payload,
) -> Result<Json<PresignedPost>, Response> {
    let ctx = json_ctx(&state, &headers, t, true).await?;
    let kb = json_kb(&state, &ctx, &id).await?;
    let max = state.config.max_upload_bytes;
    let mut form = Form::new(payload, false).map_err(json_error)?;
    let filename = form.text("filename", TextRule::required(255));
    let size = form.integer("fileSize", Rule::REQUIRED, 0, i64::try_from(max).unwrap_or(i64::MAX));
    if let Input::Set(name) = &filename {
        let extension = file_type(name);
        let allowed = allowed_extensions(MODEL_NAME);
        if !allowed.contains(&extension.as_str()) {
            let shown =
                if extension.is_empty() { "(none)".to_owned() } else { format!(".{extension}") };
            let list = allowed.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(", ");
            form.error(
                "filename",
                format!(
                    "Files of type \"{shown}\" cannot be uploaded as {MODEL_NAME}. Allowed: {list}."
                ),
            );
        }
    }
    form.finish().map_err(json_error)?;
    let (Input::Set(filename), Input::Set(size)) = (filename, size) else {
        return Err(json_error(ApiError::internal("validated fields missing")));
    };
    let key = openmai_blobs::object_key(MODEL_NAME, kb.organization_id, &filename);
    let post = state
        .knowledge
        .presign(&key, u64::try_from(size).unwrap_or(0), &url)
        .map_err(json_error)?;
    Ok(Json(PresignedPost { url: post.url, fields: post.fields }))
}

/// Registers uploaded files in the knowledge base and queues their processing (what
/// `knowledge-bases/{id}/files/` does).
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/uploads/register", tag = "console",
    request_body = super::super::docs::UploadRegisterInput,
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 201, body = FileStates),
        (status = 400, description = "Field errors (JSON), per file: `{files: [{file: [...]}]}`"),
        (status = 401, description = "No session (JSON)"),
        (status = 403, description = "Cross-site, or no or a wrong X-CSRFToken (JSON)"),
        (status = 404, description = "Not a knowledge base of this organisation (JSON)")))]
pub async fn register(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    payload: Payload,
) -> Result<(StatusCode, Json<FileStates>), Response> {
    let ctx = json_ctx(&state, &headers, t, true).await?;
    let kb = json_kb(&state, &ctx, &id).await?;
    let org = kb.organization_id;
    let mut form = Form::new(payload, false).map_err(json_error)?;
    let items = match form.json("files", Rule::REQUIRED) {
        Input::Set(Value::Array(items)) if !items.is_empty() => items,
        Input::Set(Value::Array(_)) => {
            return Err(json_error(ApiError::field("files", messages::EMPTY_LIST)));
        }
        Input::Set(other) => {
            let message = messages::not_a_list(type_name(&other));
            return Err(json_error(ApiError::field("files", message)));
        }
        _ => {
            form.finish().map_err(json_error)?;
            return Err(json_error(ApiError::field("files", messages::REQUIRED)));
        }
    };
    form.finish().map_err(json_error)?;
    let mut files = Vec::with_capacity(items.len());
    let mut errors = Vec::with_capacity(items.len());
    for item in items {
        let mut item = Form::new(Payload(item), false).map_err(json_error)?;
        let key = item.text("file", TextRule::required(1024));
        let filename = item.text("filename", TextRule::required(255));
        let mut item_errors = match item.finish() {
            Ok(()) => FieldErrors::default(),
            Err(err) => err.field_errors().cloned().unwrap_or_default(),
        };
        if let (Input::Set(key), Input::Set(filename)) = (key, filename) {
            match state.knowledge.uploaded_size(org, &key).await.map_err(json_error)? {
                Some(size) => files.push(NewKbFile {
                    knowledge_base_id: kb.id,
                    file_type: file_type(&filename),
                    filename,
                    storage_key: key,
                    size: i64::try_from(size).unwrap_or(i64::MAX),
                    parser_id: None,
                }),
                None => item_errors.add("file", NO_SUCH_UPLOAD),
            }
        }
        errors.push(item_errors);
    }
    if errors.iter().any(|e| !e.is_empty()) {
        return Err(json_error(ApiError::items(Some("files"), errors)));
    }
    let stored = state.knowledge.register_files(org, files).await.map_err(json_error)?;
    let files = stored.into_iter().map(|f| FileState::new(f, t)).collect();
    Ok((StatusCode::CREATED, Json(FileStates { files })))
}

/// The ids in `?ids=a,b` (or `?ids=a&ids=b`); malformed ones name nothing.
fn ids_param(query: Option<&str>) -> Vec<Uuid> {
    let pairs: Vec<(String, String)> =
        query.and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
    let mut ids = Vec::new();
    for (_, value) in pairs.iter().filter(|(k, _)| k == "ids") {
        for id in value.split(',').filter_map(|v| Uuid::parse_str(v.trim()).ok()) {
            if !ids.contains(&id) && ids.len() < MAX_STATUS_IDS {
                ids.push(id);
            }
        }
    }
    ids
}

/// The current state of some of the knowledge base's files, for the table to update live;
/// ids that name no file of it are left out.
#[utoipa::path(get, path = "/console/knowledge-bases/{id}/files/status", tag = "console",
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("ids" = String, Query, description = "File ids, comma-separated (at most 100)")),
    responses((status = 200, body = FileStates),
        (status = 401, description = "No session (JSON)"),
        (status = 404, description = "Not a knowledge base of this organisation (JSON)")))]
pub async fn status(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<FileStates>, Response> {
    let ctx = json_ctx(&state, &headers, t, false).await?;
    let kb = json_kb(&state, &ctx, &id).await?;
    let (org, kb_id) = (kb.organization_id, kb.id);
    let ids = ids_param(query.as_deref());
    let found = state
        .store
        .read(move |db| {
            let mut files = Vec::with_capacity(ids.len());
            for id in ids {
                match db.get_file_in(org, &[kb_id], id) {
                    Ok(file) => files.push(file),
                    Err(StoreError::NotFound) => {}
                    Err(err) => return Err(err),
                }
            }
            Ok(files)
        })
        .await
        .map_err(|e| json_error(ApiError::from(e)))?;
    Ok(Json(FileStates { files: found.into_iter().map(|f| FileState::new(f, t)).collect() }))
}

// A file's page: its chunks and labels.

pub struct ChunkRow {
    /// From 1, in reading order.
    pub number: i64,
    pub page: String,
    pub heading: String,
    pub text: String,
    pub characters: usize,
}

#[derive(Template)]
#[template(path = "kb_file.html")]
struct FilePage {
    t: &'static Text,
    c: Chrome,
    notice: Option<&'static str>,
    kb: KbHeader,
    file: FileRow,
    labels: Vec<Choice>,
    rows: Vec<ChunkRow>,
    pager: Pager,
}

/// A file of the knowledge base, else the 404 page.
async fn load_file(
    state: &AppState,
    t: &'static Text,
    kb: &openmai_store::models::KnowledgeBase,
    file_id: &str,
) -> Result<KbFile, Response> {
    let file_id = path_id(t, file_id)?;
    let (org, kb_id) = (kb.organization_id, kb.id);
    state.store.read(move |db| db.get_file_in(org, &[kb_id], file_id)).await.map_err(|e| match e {
        StoreError::NotFound => not_found(t),
        other => fail(t, other.into()),
    })
}

/// A file: its details, labels and chunks (page number, heading, text, characters), 10 a page.
#[utoipa::path(get, path = "/console/knowledge-bases/{id}/files/{fileId}", tag = "console",
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("fileId" = Uuid, Path, description = "The file"),
        ("page" = Option<u64>, Query, description = "Page number")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 404, description = "Not a file of this organisation's knowledge base (HTML)")))]
pub async fn chunks(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path((id, file_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let file = load_file(&state, t, &kb, &file_id).await?;
    let (org, kb_id, fid) = (kb.organization_id, kb.id, file.id);
    let number = page_param(query.as_deref());
    let (labels, chunks) = state
        .store
        .read(move |db| {
            let labels = db.list_labels(org, kb_id, everything())?.items;
            let chunks = paged(number, |page| db.list_chunks(org, &[kb_id], Some(fid), page))?;
            Ok((labels, chunks))
        })
        .await
        .map_err(|e| fail(t, e.into()))?;
    let carried: Vec<Uuid> = file.labels.iter().map(|l| l.id).collect();
    let offset = (chunks.number.saturating_sub(1) * chunks.size) as i64;
    let page = FilePage {
        t,
        c: ctx.chrome(MENU),
        notice: notice(t, query.as_deref()),
        kb: KbHeader::new(&state, t, &kb, "files"),
        labels: labels
            .into_iter()
            .map(|l| Choice {
                selected: carried.contains(&l.id),
                value: l.id.to_string(),
                label: l.name,
            })
            .collect(),
        pager: Pager::new(t, format!("/console/knowledge-bases/{kb_id}/files/{fid}?"), &chunks),
        rows: chunks
            .items
            .into_iter()
            .enumerate()
            .map(|(n, chunk)| ChunkRow {
                number: offset + n as i64 + 1,
                page: chunk.page_number.map_or_else(|| "—".to_owned(), |p| p.to_string()),
                heading: super::or_dash(chunk.heading.unwrap_or_default()),
                characters: chunk.content.chars().count(),
                text: chunk.content,
            })
            .collect(),
        file: FileRow::new(file, t),
    };
    Ok(render(t, StatusCode::OK, &page))
}

/// Replaces a file's labels (the ticked labels of the knowledge base).
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/files/{fileId}/labels", tag = "console",
    request_body(content = super::super::docs::FileLabelsForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 303, description = "Saved: to the file's page"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not a file of this organisation's knowledge base (HTML)")))]
pub async fn save_labels(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path((id, file_id)): Path<(String, String)>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let file = load_file(&state, t, &kb, &file_id).await?;
    // Ids that name no label of the knowledge base are ignored, as by the API.
    let labels: Vec<Uuid> =
        form.all("labels").iter().filter_map(|v| Uuid::parse_str(v.trim()).ok()).collect();
    state
        .knowledge
        .set_file_metadata(kb.organization_id, file.id, Some(labels), None)
        .await
        .map_err(|e| fail(t, e))?;
    let to = format!("/console/knowledge-bases/{}/files/{}?notice=labels-saved", kb.id, file.id);
    Ok(Redirect::to(&to).into_response())
}

/// Parses a file again, with the knowledge base's current chunk settings.
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/files/{fileId}/reparse", tag = "console",
    request_body(content = super::super::docs::CsrfForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 303, description = "Queued: to the files"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not a file of this organisation's knowledge base (HTML)")))]
pub async fn reparse(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path((id, file_id)): Path<(String, String)>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let file = load_file(&state, t, &kb, &file_id).await?;
    let queued = state
        .knowledge
        .reparse_files(kb.organization_id, &[kb.id], &[file.id])
        .await
        .map_err(|e| fail(t, e))?;
    if queued.is_empty() {
        return Err(not_found(t));
    }
    let to = format!("/console/knowledge-bases/{}?notice=file-reparsed", kb.id);
    Ok(Redirect::to(&to).into_response())
}

/// Deletes a file with its chunks and stored object (a file still processing is cancelled).
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/files/{fileId}/delete", tag = "console",
    request_body(content = super::super::docs::CsrfForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("fileId" = Uuid, Path, description = "The file")),
    responses((status = 303, description = "Deleted: to the files"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not a file of this organisation's knowledge base (HTML)")))]
pub async fn delete(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path((id, file_id)): Path<(String, String)>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let file = load_file(&state, t, &kb, &file_id).await?;
    let deleted = state
        .knowledge
        .delete_files(kb.organization_id, &[kb.id], &[file.id])
        .await
        .map_err(|e| fail(t, e))?;
    if deleted.is_empty() {
        return Err(not_found(t));
    }
    let to = format!("/console/knowledge-bases/{}?notice=file-deleted", kb.id);
    Ok(Redirect::to(&to).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KB");
        assert_eq!(human_size(100 * 1024 * 1024), "100.0 MB");
    }

    #[test]
    fn status_ids_are_deduplicated_and_malformed_ones_skipped() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let query = format!("ids={a},nope,{b}&ids={a}");
        assert_eq!(ids_param(Some(&query)), [a, b]);
        assert!(ids_param(None).is_empty());
    }
}
