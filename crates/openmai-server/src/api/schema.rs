//! `GET /api/v1/schema/`: the OpenAPI 3.1 document of every route, generated from the code.
//! YAML by default, as drf-spectacular serves it; JSON with `?format=json` or an `Accept`
//! header asking for JSON.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(schema))
}

/// The document, rendered once at start-up.
pub struct Rendered {
    pub json: Bytes,
    pub yaml: Bytes,
}

impl Rendered {
    pub fn new(openapi: &utoipa::openapi::OpenApi) -> anyhow::Result<Rendered> {
        Ok(Rendered { json: openapi.to_pretty_json()?.into(), yaml: openapi.to_yaml()?.into() })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchemaQuery {
    /// `json` or `yaml` (the default).
    format: Option<String>,
}

#[utoipa::path(get, path = "/schema/", tag = "system", params(SchemaQuery),
    responses((status = 200, description = "The OpenAPI document",
        content_type = "application/vnd.oai.openapi")))]
async fn schema(
    Extension(rendered): Extension<Arc<Rendered>>,
    Query(query): Query<SchemaQuery>,
    headers: HeaderMap,
) -> Response {
    let accepts_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("json"));
    let json = match query.format.as_deref() {
        Some("json") => true,
        Some(_) => false,
        None => accepts_json,
    };
    if json {
        ([(header::CONTENT_TYPE, "application/vnd.oai.openapi+json")], rendered.json.clone())
            .into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/vnd.oai.openapi; charset=utf-8")],
            rendered.yaml.clone(),
        )
            .into_response()
    }
}
