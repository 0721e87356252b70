//! `messages/`: the messages of the caller's conversations, newest first by cursor.
//! `POST messages/` stores a person's message (201) and queues the assistant's reply, which is
//! written in the background and delivered to the assistant's `webhookUrl`.
//! `POST messages/outgoing/` stores a human agent's reply (delivered the same way), and
//! `PATCH messages/{id}/` records feedback (`like`, `dislike`, or `""`/null to clear it).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use openmai_store::models::{
    Conversation, Message, MessageStatus, MessageType, NewJob, NewMessage,
};
use openmai_types::{Timestamp, messages as msg};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::CursorParams;
use crate::api::attachments::{AttachmentView, parse_refs, resolve_refs};
use crate::api::knowledge_bases::parse_id;
use crate::api::parsers::{ParserView, built_in_parser};
use crate::auth::Caller;
use crate::chat::citations::Citations;
use crate::chat::{REPLY_JOB, WEBHOOK_JOB};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::cursor::{Cursor, CursorPageView};
use crate::wire::form::{Form, Input, Rule, Text};
use crate::wire::links::RequestUrl;
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, patch))
        .routes(routes!(outgoing))
}

/// Who wrote a message. MaiAgent's sender ids are integers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SenderView {
    pub id: i64,
    pub name: String,
    pub avatar: Option<String>,
}

/// A cited knowledge file, as MaiAgent's `ChatbotFile`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CitedFileView {
    pub id: Uuid,
    pub filename: String,
    /// Where the file can be downloaded (with the same credentials).
    pub file: String,
    pub file_type: String,
    pub size: i64,
    pub status: String,
    pub chatbot_file_content: Uuid,
    pub parser: ParserView,
    pub knowledge_base: Uuid,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
}

/// A cited passage, as MaiAgent's `CitationNode`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CitationNodeView {
    pub chatbot_text_node: TextNodeView,
    pub score: f32,
    /// The score as shown to people (two decimals).
    pub display_score: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextNodeView {
    pub id: Uuid,
    pub characters_count: i64,
    pub hits_count: i64,
    pub text: String,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
    pub filename: String,
    pub page_number: Option<i64>,
}

/// A message as the API (and webhooks) show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: Uuid,
    pub conversation: Uuid,
    pub sender: SenderView,
    /// `incoming` (the person's) or `outgoing` (the assistant's or an agent's reply).
    #[serde(rename = "type")]
    pub message_type: &'static str,
    pub content: String,
    /// `like`, `dislike`, or null.
    pub feedback: Option<String>,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    pub attachments: Vec<AttachmentView>,
    /// The knowledge files a reply cites.
    pub citations: Vec<CitedFileView>,
    /// The passages a reply cites.
    pub citation_nodes: Vec<CitationNodeView>,
    /// `done`, or `failed` for a reply that could not be completed.
    pub status: &'static str,
    pub query_metadata: Option<Value>,
}

/// A stable integer for a sender's id: 48 random bits of the UUID.
fn sender_number(id: Option<Uuid>) -> i64 {
    id.map_or(0, |id| {
        let b = id.as_bytes();
        i64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    })
}

impl MessageView {
    pub fn new(m: Message, url: &RequestUrl) -> Self {
        let citations = Citations::from_json(m.citations.as_ref());
        MessageView {
            id: m.id,
            conversation: m.conversation_id,
            sender: SenderView {
                id: sender_number(m.sender_id),
                name: m.sender_name,
                avatar: None,
            },
            message_type: m.message_type.as_str(),
            content: m.content,
            feedback: m.feedback,
            created_at: m.created_at,
            attachments: m.attachments.into_iter().map(|a| AttachmentView::new(a, url)).collect(),
            citations: citations
                .files
                .into_iter()
                .map(|f| CitedFileView {
                    file: url.absolute(&format!(
                        "/api/v1/knowledge-bases/{}/files/{}/download/",
                        f.knowledge_base, f.id
                    )),
                    chatbot_file_content: f.id,
                    parser: built_in_parser(),
                    id: f.id,
                    filename: f.filename,
                    file_type: f.file_type,
                    size: f.size,
                    status: f.status,
                    knowledge_base: f.knowledge_base,
                    created_at: f.created_at,
                })
                .collect(),
            citation_nodes: citations
                .nodes
                .into_iter()
                .map(|n| CitationNodeView {
                    display_score: format!("{:.2}", n.score),
                    score: n.score,
                    chatbot_text_node: TextNodeView {
                        id: n.id,
                        characters_count: i64::try_from(n.text.chars().count()).unwrap_or(0),
                        hits_count: n.hits_count,
                        text: n.text,
                        updated_at: n.updated_at,
                        filename: n.filename,
                        page_number: n.page_number,
                    },
                })
                .collect(),
            status: m.status.as_str(),
            query_metadata: m.query_metadata,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageFilter {
    /// Only this conversation's messages.
    conversation: Option<String>,
}

/// Messages of the caller's organisation, newest first.
#[utoipa::path(get, path = "/messages/", tag = "conversations", params(CursorParams, MessageFilter),
    responses((status = 200, body = CursorPageView<MessageView>),
        (status = 400, description = "Unknown conversation")),
    security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(filter): Query<MessageFilter>,
    Cursor(cursor): Cursor,
    url: RequestUrl,
) -> ApiResult<Json<CursorPageView<MessageView>>> {
    let org = caller.organization()?;
    let conversation = crate::api::filter_id("conversation", filter.conversation.as_deref())?;
    if let Some(id) = conversation
        && state.store.read(move |db| db.get_conversation(org, id)).await.is_err()
    {
        return Err(ApiError::field("conversation", msg::INVALID_FILTER_CHOICE));
    }
    let page = state.store.read(move |db| db.list_messages(org, conversation, cursor)).await?;
    Ok(Json(CursorPageView::new(
        page,
        |m| (m.created_at, m.id),
        &url,
        |m| MessageView::new(m, &url),
    )))
}

/// The request body of `POST messages/`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct MessageInput {
    conversation: Uuid,
    content: Option<String>,
    /// Attachment ids, `{id, …}` objects, or `{file: <storage key>, filename, type}` for
    /// uploads not registered yet.
    attachments: Option<Vec<Value>>,
    /// Retrieval filters for the reply: `labels`, `files`, `knowledgeBases` (ids).
    query_metadata: Option<Value>,
    content_payload: Option<Value>,
}

/// What `POST messages/` and `messages/outgoing/` take.
struct Incoming {
    conversation: Conversation,
    content: String,
    attachments: Vec<Uuid>,
    query_metadata: Option<Value>,
    content_payload: Option<Value>,
    message_type: MessageType,
}

async fn parse_message(state: &AppState, org: Uuid, payload: Payload) -> ApiResult<Incoming> {
    let mut form = Form::new(payload, false)?;
    let conversation_id = form.uuid("conversation", Rule::REQUIRED);
    let content = form.text("content", Text::optional(100_000).blank().untrimmed());
    let attachments = form.json("attachments", Rule::NULLABLE);
    let message_type = form.choice("type", Rule::OPTIONAL, &["incoming", "outgoing"]);
    let query_metadata = form.json("queryMetadata", Rule::NULLABLE);
    let content_payload = form.json("contentPayload", Rule::NULLABLE);
    let conversation = match conversation_id {
        Input::Set(id) => match state.store.read(move |db| db.get_conversation(org, id)).await {
            Ok(conversation) => Some(conversation),
            Err(_) => {
                form.error("conversation", msg::does_not_exist(&id.to_string()));
                None
            }
        },
        _ => None,
    };
    let refs = match attachments {
        Input::Set(value) => match parse_refs(value) {
            Ok(refs) => refs,
            Err(message) => {
                form.error("attachments", message);
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    form.finish()?;
    let conversation =
        conversation.ok_or_else(|| ApiError::field("conversation", msg::REQUIRED))?;
    let attachments = resolve_refs(state, org, Some(conversation.id), refs)
        .await
        .map_err(|message| ApiError::field("attachments", message))?;
    let content = content.or(String::new());
    if content.trim().is_empty() && attachments.is_empty() {
        return Err(ApiError::field("content", msg::BLANK));
    }
    Ok(Incoming {
        conversation,
        content,
        attachments,
        query_metadata: query_metadata.set(),
        content_payload: content_payload.set(),
        message_type: match message_type.set().as_deref() {
            Some("outgoing") => MessageType::Outgoing,
            _ => MessageType::Incoming,
        },
    })
}

/// Stores a person's message and queues the assistant's reply, which is delivered to the
/// assistant's `webhookUrl` (and shows up in `messages/`). With `type: "outgoing"` it stores
/// an agent's reply instead, as `messages/outgoing/` does.
#[utoipa::path(post, path = "/messages/", tag = "conversations", request_body = MessageInput,
    responses((status = 201, body = MessageView), (status = 400, description = "Field errors")),
    security(("ApiKeyAuth" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let org = caller.organization()?;
    let incoming = parse_message(&state, org, payload).await?;
    let stored = store(&state, &caller, incoming).await?;
    Ok((StatusCode::CREATED, Json(MessageView::new(stored, &url))))
}

/// Stores a human agent's reply in a conversation; it is delivered to the assistant's
/// `webhookUrl` like the assistant's own replies.
#[utoipa::path(post, path = "/messages/outgoing/", tag = "conversations", request_body = MessageInput,
    responses((status = 201, body = MessageView), (status = 400, description = "Field errors")),
    security(("ApiKeyAuth" = [])))]
async fn outgoing(
    State(state): State<AppState>,
    caller: Caller,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<MessageView>)> {
    let org = caller.organization()?;
    let mut incoming = parse_message(&state, org, payload).await?;
    incoming.message_type = MessageType::Outgoing;
    let stored = store(&state, &caller, incoming).await?;
    Ok((StatusCode::CREATED, Json(MessageView::new(stored, &url))))
}

/// Stores the message, and in the same transaction queues what follows it: the reply to an
/// incoming message, the delivery of an outgoing one.
async fn store(state: &AppState, caller: &Caller, incoming: Incoming) -> ApiResult<Message> {
    let org = caller.organization()?;
    let user = caller.user_id;
    let chatbot = incoming.conversation.chatbot_id;
    let max_webhook_attempts = state.chat.settings.webhook_max_attempts;
    let stored = state
        .store
        .write(move |db| {
            db.transaction(|db| {
                let sender_name = db.get_user(user)?.name;
                let message = db.insert_message(&NewMessage {
                    organization_id: org,
                    conversation_id: incoming.conversation.id,
                    message_type: incoming.message_type,
                    sender_id: Some(user),
                    sender_name,
                    content: incoming.content,
                    status: MessageStatus::Done,
                    reply_to_id: None,
                    query_metadata: incoming.query_metadata,
                    content_payload: incoming.content_payload,
                    attachment_ids: incoming.attachments,
                })?;
                let job = match incoming.message_type {
                    MessageType::Incoming => reply_job(org, message.id),
                    MessageType::Outgoing => {
                        let webhook = db.get_chatbot(org, chatbot)?.webhook_url;
                        if webhook.is_none() {
                            return Ok(message);
                        }
                        webhook_job(org, message.id, max_webhook_attempts)
                    }
                };
                db.enqueue_job(&job)?;
                Ok(message)
            })
        })
        .await?;
    state.chat.wake.notify_waiters();
    Ok(stored)
}

/// The job that writes the reply to `message`.
pub fn reply_job(organization_id: Uuid, message: Uuid) -> NewJob {
    message_job(REPLY_JOB, organization_id, message, crate::knowledge::MAX_ATTEMPTS)
}

/// The job that delivers `message` to its assistant's webhook.
pub fn webhook_job(organization_id: Uuid, message: Uuid, max_attempts: i64) -> NewJob {
    message_job(WEBHOOK_JOB, organization_id, message, max_attempts)
}

fn message_job(kind: &str, organization_id: Uuid, message: Uuid, max_attempts: i64) -> NewJob {
    NewJob {
        kind: kind.into(),
        organization_id: Some(organization_id),
        subject_id: Some(message),
        payload: serde_json::json!({ "message": message }),
        max_attempts,
    }
}

#[utoipa::path(get, path = "/messages/{id}/", tag = "conversations",
    params(("id" = Uuid, Path, description = "A UUID string identifying this message.")),
    responses((status = 200, body = MessageView), (status = 404, description = "Not found")),
    security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    url: RequestUrl,
) -> ApiResult<Json<MessageView>> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    let message = state.store.read(move |db| db.get_message(org, id)).await?;
    Ok(Json(MessageView::new(message, &url)))
}

/// The request body of `PATCH messages/{id}/`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct FeedbackInput {
    /// `like`, `dislike`, or `""`/null to clear it.
    feedback: Option<String>,
}

/// Records feedback on a message.
#[utoipa::path(patch, path = "/messages/{id}/", tag = "conversations", request_body = FeedbackInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this message.")),
    responses((status = 200, body = MessageView), (status = 400, description = "Not a feedback value")),
    security(("ApiKeyAuth" = [])))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    url: RequestUrl,
    payload: Payload,
) -> ApiResult<Json<MessageView>> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    state.store.read(move |db| db.get_message(org, id)).await?;
    let mut form = Form::new(payload, true)?;
    let feedback = form.choice("feedback", Rule::NULLABLE, &["like", "dislike", ""]);
    form.finish()?;
    let message = match feedback {
        Input::Absent => state.store.read(move |db| db.get_message(org, id)).await?,
        value => {
            let value = value.set().filter(|v| !v.is_empty());
            state.store.write(move |db| db.set_message_feedback(org, id, value.as_deref())).await?
        }
    };
    Ok(Json(MessageView::new(message, &url)))
}
