//! The model catalogues: `chatbot-settings/` (RAG engines with their language models),
//! `embedding-models/` and `reranker-models/`. Plain arrays, as the spec has them.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::catalog::Model;
use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chatbot_settings))
        .routes(routes!(embedding_models))
        .routes(routes!(reranker_models))
}

/// A RAG engine and the language models it can answer with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatbotSetting {
    pub id: Uuid,
    pub name: String,
    pub llms: Vec<Model>,
    pub is_default: bool,
    pub is_search_selectable: bool,
    pub is_workflow_selectable: bool,
    pub is_reranker_model_selectable: bool,
    pub is_embedding_model_selectable: bool,
}

#[utoipa::path(get, path = "/chatbot-settings/", tag = "models",
    responses((status = 200, body = Vec<ChatbotSetting>)), security(("ApiKeyAuth" = [])))]
async fn chatbot_settings(
    State(state): State<AppState>,
    _caller: Caller,
) -> Json<Vec<ChatbotSetting>> {
    let default_rag = state.catalog.default_rag().id;
    Json(
        state
            .catalog
            .rags
            .iter()
            .map(|rag| ChatbotSetting {
                id: rag.id,
                name: rag.name.clone(),
                llms: state.catalog.chat.clone(),
                is_default: rag.id == default_rag,
                is_search_selectable: true,
                is_workflow_selectable: false,
                is_reranker_model_selectable: true,
                is_embedding_model_selectable: true,
            })
            .collect(),
    )
}

/// Embedding models. The built-in default means keyword-only retrieval: no embedding model
/// is bundled; configure an OpenAI-compatible provider for hybrid search.
#[utoipa::path(get, path = "/embedding-models/", tag = "models",
    responses((status = 200, body = Vec<Model>)), security(("ApiKeyAuth" = [])))]
async fn embedding_models(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<Model>>> {
    Ok(Json(state.catalog.embedding.clone()))
}

#[utoipa::path(get, path = "/reranker-models/", tag = "models",
    responses((status = 200, body = Vec<Model>)), security(("ApiKeyAuth" = [])))]
async fn reranker_models(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<Model>>> {
    Ok(Json(state.catalog.reranker.clone()))
}
