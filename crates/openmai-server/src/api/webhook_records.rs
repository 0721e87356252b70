//! `chatbots/{id}/webhook-records/`: every delivery attempt of an assistant's webhooks, newest
//! first: what was sent, and what came back (or why nothing did).

use axum::Json;
use axum::extract::{Path, State};
use openmai_store::models::WebhookRecord;
use openmai_types::Timestamp;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::PageParams;
use crate::api::chatbots::ChatbotView;
use crate::api::knowledge_bases::parse_id;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRecordView {
    pub id: Uuid,
    pub chatbot: ChatbotView,
    pub url: String,
    /// The JSON that was POSTed.
    pub request_body: Value,
    /// The start of the receiver's answer, or why there was none.
    pub response: String,
    /// The receiver's status; null when it did not answer.
    pub status_code: Option<i64>,
    /// 1 for the first delivery, 2 for the first retry…
    pub attempt: i64,
    pub message: Option<Uuid>,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
}

/// An assistant's webhook deliveries, newest first.
#[utoipa::path(get, path = "/chatbots/{id}/webhook-records/", tag = "chatbots", params(PageParams,
        ("id" = Uuid, Path, description = "A UUID string identifying this chatbot.")),
    responses((status = 200, body = Page<WebhookRecordView>), (status = 404, description = "No such assistant")),
    security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<WebhookRecordView>>> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    let (chatbot, records) = state
        .store
        .read(move |db| Ok((db.get_chatbot(org, id)?, db.list_webhook_records(org, id, page)?)))
        .await?;
    let view = |r: WebhookRecord| WebhookRecordView {
        id: r.id,
        chatbot: chatbot.clone().into(),
        url: r.url,
        request_body: r.request_body,
        response: match r.error {
            Some(error) if r.response.is_empty() => error,
            _ => r.response,
        },
        status_code: r.status_code,
        attempt: r.attempt,
        message: r.message_id,
        created_at: r.created_at,
    };
    Ok(Json(Page::new(records.map(view), &url)))
}
