//! `inboxes/`: where an assistant's conversations from one channel arrive. A `web` inbox's
//! `channel` is its web chat (`{id, name}`); creating one creates the web chat. LINE, Telegram
//! and Messenger inboxes can be recorded, but OpenMai does not connect to those services.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use openmai_store::models::{Inbox, InboxFilter};
use openmai_types::{Timestamp, messages as msg};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::knowledge_bases::parse_id;
use crate::api::{NamedRef, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text};
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update, patch, delete))
}

/// MaiAgent's `ChannelTypeEnum`.
pub const CHANNEL_TYPES: &[&str] = &["web", "line", "telegram", "messenger"];

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxView {
    pub id: Uuid,
    pub name: String,
    pub chatbot: Uuid,
    /// `web`, `line`, `telegram` or `messenger`.
    pub channel_type: String,
    pub channel_type_label: &'static str,
    /// A `web` inbox's web chat, as `{id, name}`; null for other channels.
    pub channel: Option<NamedRef>,
    pub unread_conversations_count: i64,
    pub auto_reply_schedules: Vec<serde_json::Value>,
    pub organization: Uuid,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
}

impl From<Inbox> for InboxView {
    fn from(i: Inbox) -> Self {
        InboxView {
            channel_type_label: match i.channel_type.as_str() {
                "web" => "Web",
                "line" => "LINE",
                "telegram" => "Telegram",
                _ => "Messenger",
            },
            channel: match (i.web_chat_id, i.channel_name) {
                (Some(id), Some(name)) => Some(NamedRef { id, name }),
                _ => None,
            },
            id: i.id,
            name: i.name,
            chatbot: i.chatbot_id,
            channel_type: i.channel_type,
            unread_conversations_count: i.unread_conversations_count,
            auto_reply_schedules: Vec::new(),
            organization: i.organization_id,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// Only inboxes of this channel type.
    #[serde(rename = "channelType", alias = "channel_type")]
    #[param(rename = "channelType")]
    channel_type: Option<String>,
    /// Only this assistant's inboxes.
    chatbot: Option<String>,
    /// `name`, `-name`, `created_at` or `-created_at` (the default).
    ordering: Option<String>,
}

/// Inboxes of the caller's organisation.
#[utoipa::path(get, path = "/inboxes/", tag = "conversations", params(PageParams, InboxParams),
    responses((status = 200, body = Page<InboxView>), (status = 400, description = "Bad filter")),
    security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<InboxParams>,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<InboxView>>> {
    let org = caller.organization()?;
    let chatbot = crate::api::filter_id("chatbot", params.chatbot.as_deref())?;
    let channel_type = match params.channel_type.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(kind) if CHANNEL_TYPES.contains(&kind) => Some(kind.to_owned()),
        Some(kind) => {
            return Err(ApiError::field(
                "channelType",
                format!("Select a valid choice. {kind} is not one of the available choices."),
            ));
        }
    };
    let filter = InboxFilter { chatbot_id: chatbot, channel_type, ordering: params.ordering };
    let paged = state.store.read(move |db| db.list_inboxes(org, &filter, page)).await?;
    Ok(Json(Page::new(paged.map(InboxView::from), &url)))
}

/// The request body of create, replace and update.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct InboxInput {
    name: String,
    /// `web` (a web chat is created as its channel), `line`, `telegram` or `messenger`.
    channel_type: String,
    /// The assistant (required on create).
    chatbot: Option<Uuid>,
}

/// Creates an inbox for one of the organisation's assistants.
#[utoipa::path(post, path = "/inboxes/", tag = "conversations", request_body = InboxInput,
    responses((status = 201, body = InboxView), (status = 400, description = "Field errors")),
    security(("ApiKeyAuth" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<InboxView>)> {
    let org = caller.organization()?;
    let mut form = Form::new(payload, false)?;
    let name = form.text("name", Text::required(255));
    let channel_type = form.choice("channelType", Rule::REQUIRED, CHANNEL_TYPES);
    let chatbot = form.uuid("chatbot", Rule::REQUIRED);
    if let Input::Set(id) = &chatbot {
        let id = *id;
        if state.store.read(move |db| db.get_chatbot(org, id)).await.is_err() {
            form.error("chatbot", msg::does_not_exist(&id.to_string()));
        }
    }
    form.finish()?;
    let (Some(name), Some(kind), Some(chatbot)) = (name.set(), channel_type.set(), chatbot.set())
    else {
        return Err(ApiError::non_field(msg::REQUIRED));
    };
    let inbox = state.store.write(move |db| db.insert_inbox(org, chatbot, &name, &kind)).await?;
    Ok((StatusCode::CREATED, Json(inbox.into())))
}

#[utoipa::path(get, path = "/inboxes/{id}/", tag = "conversations",
    params(("id" = Uuid, Path, description = "A UUID string identifying this inbox.")),
    responses((status = 200, body = InboxView), (status = 404, description = "Not found")),
    security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<InboxView>> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    Ok(Json(state.store.read(move |db| db.get_inbox(org, id)).await?.into()))
}

/// Renames an inbox (`name` and `channelType`, which cannot change, required).
#[utoipa::path(put, path = "/inboxes/{id}/", tag = "conversations", request_body = InboxInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this inbox.")),
    responses((status = 200, body = InboxView)), security(("ApiKeyAuth" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<InboxView>> {
    save(&state, &caller, &id, payload, false).await.map(Json)
}

/// Renames an inbox.
#[utoipa::path(patch, path = "/inboxes/{id}/", tag = "conversations", request_body = InboxInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this inbox.")),
    responses((status = 200, body = InboxView)), security(("ApiKeyAuth" = [])))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<InboxView>> {
    save(&state, &caller, &id, payload, true).await.map(Json)
}

async fn save(
    state: &AppState,
    caller: &Caller,
    id: &str,
    payload: Payload,
    partial: bool,
) -> ApiResult<InboxView> {
    let org = caller.organization()?;
    let id = parse_id(id)?;
    let current = state.store.read(move |db| db.get_inbox(org, id)).await?;
    let mut form = Form::new(payload, partial)?;
    let name = form.text("name", Text::required(255));
    if let Input::Set(kind) = form.choice("channelType", Rule::REQUIRED, CHANNEL_TYPES)
        && kind != current.channel_type
    {
        form.error("channelType", "An inbox's channel type cannot be changed.");
    }
    form.related("chatbot", Rule::OPTIONAL, |chatbot| chatbot == current.chatbot_id);
    form.finish()?;
    let name = name.or(current.name);
    Ok(state.store.write(move |db| db.rename_inbox(org, id, &name)).await?.into())
}

/// Deletes an inbox with its conversations (and its web chat). An assistant's API inbox goes
/// only with the assistant.
#[utoipa::path(delete, path = "/inboxes/{id}/", tag = "conversations",
    params(("id" = Uuid, Path, description = "A UUID string identifying this inbox.")),
    responses((status = 204), (status = 400, description = "The assistant's API inbox")),
    security(("ApiKeyAuth" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    let inbox = state.store.read(move |db| db.get_inbox(org, id)).await?;
    let chatbot = inbox.chatbot_id;
    let api_web_chat =
        state.store.read(move |db| db.get_chatbot(org, chatbot)).await?.api_web_chat_id;
    if inbox.web_chat_id.is_some() && inbox.web_chat_id == api_web_chat {
        return Err(ApiError::non_field(
            "This is the assistant's API inbox; it is deleted with the assistant.",
        ));
    }
    state.store.write(move |db| db.delete_inbox(org, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
