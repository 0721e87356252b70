//! `conversations/`: conversations with the organisation's assistants, newest first by
//! cursor. `POST conversations/ {webChat}` starts one in a web chat (an assistant's
//! `apiWebChatId`, say); completions start them by themselves.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use openmai_store::models::{Conversation, ConversationFilter};
use openmai_types::{Timestamp, messages as msg};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::knowledge_bases::parse_id;
use crate::api::messages::MessageView;
use crate::api::{CursorParams, filter_id};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::cursor::{Cursor, CursorPageView};
use crate::wire::form::{Form, Input, Rule};
use crate::wire::links::RequestUrl;
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get))
}

/// An inbox as a conversation shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxRefView {
    pub id: Uuid,
    pub name: String,
    /// `web`, `line`, `telegram` or `messenger`.
    pub channel_type: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub id: Uuid,
    /// The contact it is with; null for conversations started through the API.
    pub contact: Option<serde_json::Value>,
    pub inbox: InboxRefView,
    /// The start of its first message.
    pub title: String,
    pub last_message: Option<MessageView>,
    #[schema(value_type = String, example = "1728181396000")]
    pub last_message_created_at: Timestamp,
    pub unread_messages_count: i64,
    pub auto_reply_enabled: bool,
    pub is_auto_reply_now: bool,
    #[schema(value_type = Option<String>, example = "1728181396000")]
    pub last_read_at: Option<Timestamp>,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    pub is_group_chat: bool,
    pub enable_group_mention: bool,
    pub chatbot: Uuid,
    pub web_chat: Option<Uuid>,
}

impl ConversationView {
    pub fn new(c: Conversation, url: &RequestUrl) -> Self {
        ConversationView {
            id: c.id,
            contact: None,
            inbox: InboxRefView {
                id: c.inbox.id,
                name: c.inbox.name,
                channel_type: c.inbox.channel_type,
            },
            title: c.title,
            last_message_created_at: c.last_message_at.unwrap_or(c.created_at),
            last_message: c.last_message.map(|m| MessageView::new(*m, url)),
            unread_messages_count: c.unread_messages_count,
            auto_reply_enabled: true,
            is_auto_reply_now: true,
            last_read_at: c.last_read_at,
            created_at: c.created_at,
            is_group_chat: false,
            enable_group_mention: false,
            chatbot: c.chatbot_id,
            web_chat: c.web_chat_id,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationFilterParams {
    /// Only conversations of this inbox.
    inbox: Option<String>,
    /// Only conversations with this assistant.
    chatbot: Option<String>,
}

/// Conversations of the caller's organisation, newest first.
#[utoipa::path(get, path = "/conversations/", tag = "conversations", params(CursorParams, ConversationFilterParams),
    responses((status = 200, body = CursorPageView<ConversationView>)), security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ConversationFilterParams>,
    Cursor(cursor): Cursor,
    url: RequestUrl,
) -> ApiResult<Json<CursorPageView<ConversationView>>> {
    let org = caller.organization()?;
    let filter = ConversationFilter {
        inbox_id: filter_id("inbox", params.inbox.as_deref())?,
        chatbot_id: filter_id("chatbot", params.chatbot.as_deref())?,
    };
    let page = state.store.read(move |db| db.list_conversations(org, filter, cursor)).await?;
    Ok(Json(CursorPageView::new(
        page,
        |c| (c.created_at, c.id),
        &url,
        |c| ConversationView::new(c, &url),
    )))
}

/// The request body of `POST conversations/`: the web chat (or the inbox) to start it in.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ConversationInput {
    web_chat: Option<Uuid>,
    inbox: Option<Uuid>,
}

/// Starts a conversation in a web chat (`webChat`, e.g. an assistant's `apiWebChatId`) or an
/// inbox (`inbox`).
#[utoipa::path(post, path = "/conversations/", tag = "conversations", request_body = ConversationInput,
    responses((status = 201, body = ConversationView), (status = 400, description = "Field errors")),
    security(("ApiKeyAuth" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<ConversationView>)> {
    let org = caller.organization()?;
    let mut form = Form::new(payload, false)?;
    let web_chat = form.uuid("webChat", Rule::NULLABLE);
    let inbox = form.uuid("inbox", Rule::NULLABLE);
    let inbox = match (web_chat, inbox) {
        (Input::Set(web_chat), _) => {
            match state.store.read(move |db| db.find_inbox_of_web_chat(org, web_chat)).await {
                Ok(Some(inbox)) => Some(inbox),
                _ => {
                    form.error("webChat", msg::does_not_exist(&web_chat.to_string()));
                    None
                }
            }
        }
        (_, Input::Set(inbox)) => {
            match state.store.read(move |db| db.get_inbox(org, inbox)).await {
                Ok(found) => Some(found.id),
                Err(_) => {
                    form.error("inbox", msg::does_not_exist(&inbox.to_string()));
                    None
                }
            }
        }
        _ => {
            form.error("webChat", msg::REQUIRED);
            None
        }
    };
    form.finish()?;
    let inbox = inbox.ok_or_else(|| ApiError::field("webChat", msg::REQUIRED))?;
    let user = caller.user_id;
    let conversation =
        state.store.write(move |db| db.insert_conversation(org, inbox, Some(user))).await?;
    Ok((StatusCode::CREATED, Json(ConversationView::new(conversation, &url))))
}

#[utoipa::path(get, path = "/conversations/{id}/", tag = "conversations",
    params(("id" = Uuid, Path, description = "A UUID string identifying this conversation.")),
    responses((status = 200, body = ConversationView), (status = 404, description = "Not found")),
    security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    url: RequestUrl,
) -> ApiResult<Json<ConversationView>> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    let conversation = state.store.read(move |db| db.get_conversation(org, id)).await?;
    Ok(Json(ConversationView::new(conversation, &url)))
}
