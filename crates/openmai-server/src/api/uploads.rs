//! Uploads the MaiAgent way: `upload-presigned-url/` hands out `{url, fields}`; the client
//! POSTs a multipart form (the fields, then `file`) to `url` without credentials and gets 204;
//! it then registers the object by its key. On the embedded store OpenMai is that storage
//! endpoint (`POST /storage/{bucket}`), and verifies the signed policy exactly as S3 does.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use openmai_types::messages;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::kb_files::file_type;
use crate::api::scope::Scope;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::form::{Form, Rule, Text};
use crate::wire::links::RequestUrl;
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(presign))
        .routes(routes!(allowed_file_types))
        .routes(routes!(download))
}

/// The storage endpoint, outside `/api/` (it speaks S3, not DRF).
pub fn storage_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(storage_upload))
}

/// What an upload is for, as `modelName` says.
pub const MODEL_NAMES: &[&str] = &["chatbot-file", "attachment", "batch-qa"];
/// Image types chat attachments may be, besides the document formats.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp"];
pub const BATCH_QA_EXTENSIONS: &[&str] = &["xlsx", "csv"];

/// The extensions (without dot) allowed for `model_name`.
pub fn allowed_extensions(model_name: &str) -> Vec<&'static str> {
    let documents = openmai_ingest::Format::extensions().iter().copied();
    match model_name {
        "chatbot-file" => documents.collect(),
        "attachment" => documents.chain(IMAGE_EXTENSIONS.iter().copied()).collect(),
        _ => BATCH_QA_EXTENSIONS.to_vec(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresignedPost {
    /// Where to POST the form: absolute, no credentials needed.
    pub url: String,
    /// Send these fields first, then the file as `file`. Keys are verbatim (`x-amz-date`)
    /// and in the order S3 expects them.
    #[schema(value_type = Object)]
    #[serde(serialize_with = "ordered_fields")]
    pub fields: Vec<(String, String)>,
}

/// The form fields as a JSON object that keeps their order.
fn ordered_fields<S: serde::Serializer>(
    fields: &[(String, String)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(fields.len()))?;
    for (name, value) in fields {
        map.serialize_entry(name, value)?;
    }
    map.end()
}

/// The request body of `upload-presigned-url/`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PresignInput {
    filename: String,
    /// `chatbot-file` (knowledge files), `attachment` (chat attachments) or `batch-qa`.
    model_name: String,
    /// Always `file`.
    field_name: Option<String>,
    /// The file's exact size in bytes; the upload may not exceed it.
    file_size: u64,
}

/// Allowed extensions per `modelName`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllowedFileTypes {
    pub chatbot_file: Vec<String>,
    pub attachment: Vec<String>,
    pub batch_qa: Vec<String>,
    /// The largest upload accepted, in bytes.
    pub max_file_size: u64,
}

/// A signed form to upload one file to storage.
#[utoipa::path(post, path = "/upload-presigned-url/", tag = "uploads", request_body = PresignInput,
    responses((status = 200, body = PresignedPost), (status = 400, description = "Field errors")),
    security(("ApiKeyAuth" = [])))]
async fn presign(
    State(state): State<AppState>,
    caller: Caller,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<Json<PresignedPost>> {
    let org = caller.organization()?;
    let max = state.config.max_upload_bytes;
    let mut form = Form::new(payload, false)?;
    let filename = form.text("filename", Text::required(255));
    let model_name = form.choice("modelName", Rule::REQUIRED, MODEL_NAMES);
    let field_name = form.text("fieldName", Text::optional(64));
    let size = form.integer("fileSize", Rule::REQUIRED, 0, i64::try_from(max).unwrap_or(i64::MAX));
    if let Some(name) = field_name.set()
        && name != "file"
    {
        form.error("fieldName", messages::invalid_choice(&name));
    }
    if let (Some(filename), Some(model)) = (filename.clone().set(), model_name.clone().set()) {
        let extension = file_type(&filename);
        let allowed = allowed_extensions(&model);
        if !allowed.contains(&extension.as_str()) {
            form.error(
                "filename",
                format!(
                    "Files of type \"{}\" cannot be uploaded as {model}. Allowed: {}.",
                    if extension.is_empty() {
                        "(none)".to_owned()
                    } else {
                        format!(".{extension}")
                    },
                    allowed.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(", ")
                ),
            );
        }
    }
    form.finish()?;
    let (Some(filename), Some(model), Some(size)) = (filename.set(), model_name.set(), size.set())
    else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let key = openmai_blobs::object_key(&model, org, &filename);
    let size = u64::try_from(size).unwrap_or(0);
    let post = state.knowledge.presign(&key, size, &url)?;
    Ok(Json(PresignedPost { url: post.url, fields: post.fields }))
}

#[utoipa::path(get, path = "/allowed-file-types/", tag = "uploads",
    responses((status = 200, body = AllowedFileTypes)), security(("ApiKeyAuth" = [])))]
async fn allowed_file_types(State(state): State<AppState>) -> Json<AllowedFileTypes> {
    let dotted =
        |model: &str| allowed_extensions(model).into_iter().map(|e| format!(".{e}")).collect();
    Json(AllowedFileTypes {
        chatbot_file: dotted("chatbot-file"),
        attachment: dotted("attachment"),
        batch_qa: dotted("batch-qa"),
        max_file_size: state.config.max_upload_bytes,
    })
}

/// The original of a knowledge file.
#[utoipa::path(get, path = "/knowledge-bases/{id}/files/{fileId}/download/", tag = "knowledge-bases",
    params(("id" = uuid::Uuid, Path, description = "The knowledge base"), ("fileId" = uuid::Uuid, Path, description = "The file")),
    responses((status = 200, description = "The file, as uploaded")), security(("ApiKeyAuth" = [])))]
async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let file_id = crate::api::knowledge_bases::parse_id(&file_id)?;
    let (org, kbs) = (scope.organization_id, scope.kb_ids());
    let file = state.store.read(move |db| db.get_file_in(org, &kbs, file_id)).await?;
    let body = state.knowledge.open_object(&file.storage_key).await?;
    let disposition = content_disposition(&file.filename);
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
pub fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(filename.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// S3's POST Object on the embedded store: verifies the signed policy, then streams the file
/// to disk within its size range. Answers 204, or S3's XML error with S3's status.
#[utoipa::path(post, path = "/storage/{bucket}", tag = "uploads",
    params(("bucket" = String, Path, description = "The bucket named in the form's policy")),
    request_body(content = String, content_type = "multipart/form-data",
        description = "The fields from `upload-presigned-url/`, then `file`"),
    responses((status = 204, description = "Stored"), (status = 403, description = "Signature or policy refused (S3 XML)"),
        (status = 400, description = "Malformed form or size out of range (S3 XML)")))]
async fn storage_upload(
    State(state): State<AppState>,
    Path(_bucket): Path<String>,
    request: Request,
) -> Response {
    let boundary = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let Some(boundary) = boundary else {
        return s3_error(openmai_blobs::UploadError::MalformedPost);
    };
    let stream = request.into_body().into_data_stream();
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().for_field("file", u64::MAX).per_field(64 * 1024));
    let mut multipart = multer::Multipart::with_constraints(stream, boundary, constraints);
    let mut fields = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => {
                return s3_error(openmai_blobs::UploadError::MissingField { field: "file" });
            }
            Err(_) => return s3_error(openmai_blobs::UploadError::MalformedPost),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let now = time::OffsetDateTime::now_utc();
            let body = field.map_err(|e| e.to_string());
            return match state.knowledge.accept_upload(&fields, body, now).await {
                Ok(_) => StatusCode::NO_CONTENT.into_response(),
                Err(err) => s3_error(err),
            };
        }
        match field.text().await {
            Ok(value) => fields.push((name, value)),
            Err(_) => return s3_error(openmai_blobs::UploadError::MalformedPost),
        }
    }
}

fn s3_error(err: openmai_blobs::UploadError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, [(header::CONTENT_TYPE, "application/xml")], err.to_xml()).into_response()
}
