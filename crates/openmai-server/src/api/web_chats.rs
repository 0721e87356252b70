//! `web-chats/`: the ways an assistant is reached. Every assistant has one made for the API
//! (`accessType: api`, its `apiWebChatId`); more (`web`) can be created for public chat pages.
//! A web chat's name is its assistant's. The spec has no DELETE: a web chat goes with its
//! inbox (`DELETE inboxes/{id}/`) or its assistant.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use openmai_store::models::WebChat;
use openmai_types::{Timestamp, messages as msg};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::knowledge_bases::parse_id;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update, patch))
}

/// A web chat in `web-chats/`'s list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebChatListItem {
    pub id: Uuid,
    pub avatar: Option<String>,
    pub name: String,
    pub access_type: String,
    pub chatbot: Uuid,
}

/// A web chat and its settings.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebChatView {
    pub id: Uuid,
    /// The assistant's name.
    pub name: String,
    pub chatbot: Uuid,
    pub avatar: Option<String>,
    pub logo: Option<String>,
    pub description: String,
    pub cover: Option<String>,
    pub back_url: String,
    pub is_active: bool,
    pub enable_speech: bool,
    pub display_greeting: String,
    pub display_conversation_starters: Vec<String>,
    /// `{primaryColor, dialogColor, navbarTextColor}`.
    pub theme: Value,
    pub enable_file_upload: bool,
    pub enable_display_citations: bool,
    pub enable_share_conversation: bool,
    pub enable_location: bool,
    pub enable_show_powered_by: bool,
    /// `api`, `web` or `admin`.
    pub access_type: String,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
}

impl From<WebChat> for WebChatView {
    fn from(w: WebChat) -> Self {
        WebChatView {
            id: w.id,
            name: w.name,
            chatbot: w.chatbot_id,
            avatar: w.avatar,
            logo: w.logo,
            description: w.description,
            cover: w.cover,
            back_url: w.back_url,
            is_active: w.is_active,
            enable_speech: false,
            display_greeting: String::new(),
            display_conversation_starters: Vec::new(),
            theme: w.theme.unwrap_or_else(default_theme),
            enable_file_upload: w.enable_file_upload,
            enable_display_citations: w.enable_display_citations,
            enable_share_conversation: w.enable_share_conversation,
            enable_location: w.enable_location,
            enable_show_powered_by: w.enable_show_powered_by,
            access_type: w.access_type,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

fn default_theme() -> Value {
    serde_json::json!({"primaryColor": "#0066FF", "dialogColor": "#FFFFFF", "navbarTextColor": "#FFFFFF"})
}

/// The request body of create, replace and update.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct WebChatInput {
    /// The assistant (create only).
    chatbot: Option<Uuid>,
    avatar: Option<String>,
    logo: Option<String>,
    description: Option<String>,
    cover: Option<String>,
    back_url: Option<String>,
    is_active: Option<bool>,
    theme: Option<Value>,
    enable_file_upload: Option<bool>,
    enable_display_citations: Option<bool>,
    enable_share_conversation: Option<bool>,
    enable_location: Option<bool>,
    enable_show_powered_by: Option<bool>,
}

/// Reads the editable settings from `form` onto `web_chat`.
fn apply(form: &mut Form, web_chat: &mut WebChat) {
    let url =
        |form: &mut Form, field: &str| form.url(field, Text::optional(1024).blank().nullable());
    let blank_to_none = |value: Option<String>| value.filter(|v| !v.is_empty());
    if let Some(value) = url(form, "avatar").nullable() {
        web_chat.avatar = blank_to_none(value);
    }
    if let Some(value) = url(form, "logo").nullable() {
        web_chat.logo = blank_to_none(value);
    }
    if let Some(value) = url(form, "cover").nullable() {
        web_chat.cover = blank_to_none(value);
    }
    web_chat.description = form
        .text("description", Text::optional(10_000).blank())
        .or(std::mem::take(&mut web_chat.description));
    web_chat.back_url = form
        .text("backUrl", Text::optional(255).blank())
        .or(std::mem::take(&mut web_chat.back_url));
    let flags: [(&str, &mut bool); 6] = [
        ("isActive", &mut web_chat.is_active),
        ("enableFileUpload", &mut web_chat.enable_file_upload),
        ("enableDisplayCitations", &mut web_chat.enable_display_citations),
        ("enableShareConversation", &mut web_chat.enable_share_conversation),
        ("enableLocation", &mut web_chat.enable_location),
        ("enableShowPoweredBy", &mut web_chat.enable_show_powered_by),
    ];
    for (field, value) in flags {
        *value = form.boolean(field, Rule::OPTIONAL).or(*value);
    }
    match form.json("theme", Rule::NULLABLE) {
        Input::Set(Value::Object(theme)) => {
            let mut merged = web_chat.theme.take().unwrap_or_else(default_theme);
            for key in ["primaryColor", "dialogColor", "navbarTextColor"] {
                match theme.get(key) {
                    Some(Value::String(color)) if color.chars().count() <= 31 => {
                        merged[key] = Value::String(color.clone());
                    }
                    Some(_) => form.error("theme", format!("{key}: {}", msg::max_length(31))),
                    None => {}
                }
            }
            web_chat.theme = Some(merged);
        }
        Input::Set(other) => {
            form.error("theme", msg::not_a_dict(crate::wire::form::type_name(&other)))
        }
        Input::Null => web_chat.theme = None,
        Input::Absent => {}
    }
}

/// Every web chat of the caller's organisation (not paginated).
#[utoipa::path(get, path = "/web-chats/", tag = "conversations",
    responses((status = 200, body = Vec<WebChatListItem>)), security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<WebChatListItem>>> {
    let org = caller.organization()?;
    let chats = state.store.read(move |db| db.list_web_chats(org)).await?;
    Ok(Json(
        chats
            .into_iter()
            .map(|w| WebChatListItem {
                id: w.id,
                avatar: w.avatar,
                name: w.name,
                access_type: w.access_type,
                chatbot: w.chatbot_id,
            })
            .collect(),
    ))
}

/// Creates a web chat (with its inbox) for one of the organisation's assistants.
#[utoipa::path(post, path = "/web-chats/", tag = "conversations", request_body = WebChatInput,
    responses((status = 201, body = WebChatView), (status = 400, description = "Field errors")),
    security(("ApiKeyAuth" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<WebChatView>)> {
    let org = caller.organization()?;
    let mut form = Form::new(payload, false)?;
    let chatbot = form.uuid("chatbot", Rule::REQUIRED);
    if let Input::Set(id) = chatbot
        && state.store.read(move |db| db.get_chatbot(org, id)).await.is_err()
    {
        form.error("chatbot", msg::does_not_exist(&id.to_string()));
    }
    let mut web_chat = WebChat::new(org, chatbot.clone().or(Uuid::nil()), "web");
    apply(&mut form, &mut web_chat);
    form.finish()?;
    let stored = state.store.write(move |db| db.insert_web_chat(&web_chat)).await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

#[utoipa::path(get, path = "/web-chats/{id}/", tag = "conversations",
    params(("id" = Uuid, Path, description = "A UUID string identifying this web chat.")),
    responses((status = 200, body = WebChatView), (status = 404, description = "Not found")),
    security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WebChatView>> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    Ok(Json(state.store.read(move |db| db.get_web_chat(org, id)).await?.into()))
}

/// Replaces a web chat's settings.
#[utoipa::path(put, path = "/web-chats/{id}/", tag = "conversations", request_body = WebChatInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this web chat.")),
    responses((status = 200, body = WebChatView)), security(("ApiKeyAuth" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<WebChatView>> {
    save(&state, &caller, &id, payload, false).await.map(Json)
}

/// Changes some of a web chat's settings.
#[utoipa::path(patch, path = "/web-chats/{id}/", tag = "conversations", request_body = WebChatInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this web chat.")),
    responses((status = 200, body = WebChatView)), security(("ApiKeyAuth" = [])))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<WebChatView>> {
    save(&state, &caller, &id, payload, true).await.map(Json)
}

async fn save(
    state: &AppState,
    caller: &Caller,
    id: &str,
    payload: Payload,
    partial: bool,
) -> ApiResult<WebChatView> {
    let org = caller.organization()?;
    let id = parse_id(id)?;
    let mut web_chat = state.store.read(move |db| db.get_web_chat(org, id)).await?;
    let mut form = Form::new(payload, partial)?;
    // The assistant and the access type never change.
    form.related("chatbot", Rule::OPTIONAL, |chatbot| chatbot == web_chat.chatbot_id);
    apply(&mut form, &mut web_chat);
    form.finish()?;
    let stored = state.store.write(move |db| db.update_web_chat(&web_chat)).await?;
    Ok(stored.into())
}
