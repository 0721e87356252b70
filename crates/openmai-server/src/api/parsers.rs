//! `parsers/`: OpenMai has one parser, built in, for every supported format.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::PageParams;
use crate::api::knowledge_bases::parse_id;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(supported_file_types))
        .routes(routes!(get))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParserView {
    pub id: Uuid,
    pub name: &'static str,
    /// MaiAgent's `ProviderEnum`; the built-in parser is the platform's own (`maiagent`).
    pub provider: &'static str,
    pub priority: i64,
}

pub fn built_in_parser() -> ParserView {
    ParserView {
        id: Uuid::from_u128(0x6f1c_1d55_3c1e_4c55_9d0b_7061_7273_6572),
        name: "OpenMai built-in parser",
        provider: "maiagent",
        priority: 1,
    }
}

/// A file type the parser reads.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SupportedFileType {
    /// `pdf`, `docx`, `pptx`, `xlsx`, `csv`, `html`, `markdown` or `text`.
    pub file_type: &'static str,
    /// Extensions with the dot (`.pdf`).
    pub extensions: Vec<String>,
    pub mime_type: &'static str,
    pub parsers: Vec<ParserView>,
}

pub fn supported() -> Vec<SupportedFileType> {
    openmai_ingest::Format::all()
        .iter()
        .map(|format| SupportedFileType {
            file_type: format.name(),
            extensions: openmai_ingest::Format::extensions()
                .iter()
                .filter(|ext| openmai_ingest::Format::from_extension(ext) == Some(*format))
                .map(|ext| format!(".{ext}"))
                .collect(),
            mime_type: format.mime_type(),
            parsers: vec![built_in_parser()],
        })
        .collect()
}

#[utoipa::path(get, path = "/parsers/", tag = "knowledge-bases", params(PageParams),
    responses((status = 200, body = Page<ParserView>)), security(("ApiKeyAuth" = [])))]
async fn list(
    _caller: Caller,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<ParserView>>> {
    let parsers = vec![built_in_parser()];
    let paged =
        openmai_store::models::Paged { count: 1, number: 1, size: page.size, items: parsers };
    if !matches!(
        page.number,
        openmai_store::models::PageNumber::Number(1) | openmai_store::models::PageNumber::Last
    ) {
        return Err(ApiError::new(openmai_types::Code::InvalidPage));
    }
    Ok(Json(Page::new(paged, &url)))
}

/// The file types the parsers read.
#[utoipa::path(get, path = "/parsers/supported-file-types/", tag = "knowledge-bases",
    responses((status = 200, body = Vec<SupportedFileType>)), security(("ApiKeyAuth" = [])))]
async fn supported_file_types(_caller: Caller) -> Json<Vec<SupportedFileType>> {
    Json(supported())
}

#[utoipa::path(get, path = "/parsers/{id}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "A UUID string identifying this parser.")),
    responses((status = 200, body = ParserView)), security(("ApiKeyAuth" = [])))]
async fn get(
    State(_state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ParserView>> {
    let parser = built_in_parser();
    if parse_id(&id)? == parser.id { Ok(Json(parser)) } else { Err(ApiError::not_found()) }
}
