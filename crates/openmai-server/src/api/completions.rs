//! `chatbots/{id}/completions/`: ask an assistant, get its answer, in one request.
//!
//! Body: `{conversation: uuid|null, message: {content, attachments?, queryMetadata?},
//! isStreaming?}` (`is_streaming` too). `conversation: null` starts a conversation in the
//! assistant's API web chat; sending back the returned `conversationId` continues it.
//!
//! Not streaming, the answer is `{conversationId, content, done: true}`. Streaming, it is
//! `text/event-stream`: one `data: {"conversationId", "content": <piece>, "done": false}`
//! event per piece, written to the socket as it comes (no buffering here, and headers that ask
//! proxies not to buffer either), SSE comments while the model is silent, then
//! `data: {"conversationId", "content": "", "done": true}`, sent once the answer is stored, so a
//! client that continues at once finds it in the conversation. When the model fails half-way,
//! the final event carries `error` as well.
//!
//! A client that disconnects stops the answer: the model's connection is closed at once, and
//! what was written so far is kept, marked as failed.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use openmai_store::models::{
    Chatbot, Conversation, MessageStatus, MessageType, NewMessage, new_id,
};
use openmai_types::{Code, Timestamp, messages as msg};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::attachments::{parse_refs, resolve_refs};
use crate::api::knowledge_bases::parse_id;
use crate::auth::Caller;
use crate::chat::engine::{self, Turn};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(completions))
}

/// The request body.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CompletionInput {
    /// The conversation to continue; null starts one.
    conversation: Option<Uuid>,
    message: CompletionMessage,
    /// Stream the answer as server-sent events (`is_streaming` is accepted too).
    is_streaming: Option<bool>,
}

#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CompletionMessage {
    content: String,
    /// Attachment ids, `{id, …}` objects, or `{file: <storage key>, filename, type}`.
    attachments: Option<Vec<Value>>,
    /// Retrieval filters: `labels`, `files`, `knowledgeBases` (ids).
    query_metadata: Option<Value>,
    content_payload: Option<Value>,
}

/// The answer (not streaming), and each streamed event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    pub conversation_id: Uuid,
    /// The whole answer; streamed, the next piece of it (empty in the last event).
    pub content: String,
    pub done: bool,
    /// Why the answer stopped early (streamed only; absent when it did not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A validated request.
struct Request {
    conversation: Option<Conversation>,
    content: String,
    attachments: Vec<Uuid>,
    query_metadata: Option<Value>,
    content_payload: Option<Value>,
    streaming: bool,
}

/// Asks the assistant; the answer comes whole or streamed (see the module documentation).
#[utoipa::path(post, path = "/chatbots/{id}/completions/", tag = "chatbots",
    request_body = CompletionInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this chatbot.")),
    responses(
        (status = 200, body = Completion, description = "The answer; with `isStreaming`, \
            `text/event-stream` of `data: <Completion>` events"),
        (status = 400, description = "Field errors"),
        (status = 404, description = "No such assistant"),
        (status = 502, description = "The model provider failed or refused"),
        (status = 503, description = "The model provider is rate limiting"),
        (status = 504, description = "The model provider did not answer in time")),
    security(("ApiKeyAuth" = [])))]
async fn completions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Response> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    let chatbot = state.store.read(move |db| db.get_chatbot(org, id)).await?;
    let request = parse(&state, org, &chatbot, payload).await?;
    let streaming = request.streaming;
    let (turn, pending) = question(&state, &caller, chatbot, request).await?;
    // The question is stored while the answer starts (retrieval, the model's first token):
    // neither waits for the other, and nothing is sent before both succeeded.
    let (stored, started) =
        tokio::join!(store_question(&state, &turn, pending), engine::start(&state, &turn));
    stored?;
    let reply = match started {
        Ok(reply) => reply,
        Err(err) => {
            engine::record_failure(&state, &turn, err.to_string()).await;
            return Err(err);
        }
    };
    if streaming {
        Ok(stream(state, turn, reply).into_response())
    } else {
        whole(state, turn, reply).await.map(IntoResponse::into_response)
    }
}

async fn parse(
    state: &AppState,
    org: Uuid,
    chatbot: &Chatbot,
    payload: Payload,
) -> ApiResult<Request> {
    let mut form = Form::new(payload, false)?;
    let conversation = form.uuid("conversation", Rule::NULLABLE);
    let streaming = form.boolean("isStreaming", Rule::OPTIONAL);
    let message = form.json("message", Rule::REQUIRED);
    let conversation = match conversation {
        Input::Set(id) => match state.store.read(move |db| db.get_conversation(org, id)).await {
            // Another assistant's conversation cannot be continued here.
            Ok(found) if found.chatbot_id == chatbot.id => Some(found),
            _ => {
                form.error("conversation", msg::does_not_exist(&id.to_string()));
                None
            }
        },
        _ => None,
    };
    form.finish()?;
    let nested = |errors: FieldErrors| ApiError::nested("message", errors);
    let mut message = match message.set() {
        Some(Value::Object(map)) => Form::new(Payload(Value::Object(map)), false)?,
        Some(other) => {
            let mut errors = FieldErrors::default();
            errors.add(
                crate::error::NON_FIELD_ERRORS,
                msg::not_a_dict(crate::wire::form::type_name(&other)),
            );
            return Err(nested(errors));
        }
        None => return Err(ApiError::field("message", msg::REQUIRED)),
    };
    let content = message.text("content", Text::required(100_000).blank().untrimmed());
    let attachments = message.json("attachments", Rule::NULLABLE);
    let query_metadata = message.json("queryMetadata", Rule::NULLABLE);
    let content_payload = message.json("contentPayload", Rule::NULLABLE);
    let refs = match attachments {
        Input::Set(value) => match parse_refs(value) {
            Ok(refs) => refs,
            Err(text) => {
                message.error("attachments", text);
                Vec::new()
            }
        },
        _ => Vec::new(),
    };
    message.finish().map_err(|err| match err.field_errors() {
        Some(errors) => nested(errors.clone()),
        None => err,
    })?;
    let attachments = resolve_refs(state, org, conversation.as_ref().map(|c| c.id), refs)
        .await
        .map_err(|text| {
            let mut errors = FieldErrors::default();
            errors.add("attachments", text);
            nested(errors)
        })?;
    let content = content.or(String::new());
    if content.trim().is_empty() && attachments.is_empty() {
        let mut errors = FieldErrors::default();
        errors.add("content", msg::BLANK);
        return Err(nested(errors));
    }
    Ok(Request {
        conversation,
        content,
        attachments,
        query_metadata: query_metadata.set(),
        content_payload: content_payload.set(),
        streaming: streaming.or(false),
    })
}

/// What storing a question involves besides the question itself.
struct Pending {
    /// The inbox of a conversation to start (none when one is continued).
    new_conversation: Option<Uuid>,
    user: Uuid,
    message: NewMessage,
}

/// The question as it will be stored, with its id, time and conversation chosen now (a new
/// conversation goes in the assistant's API web chat), so answering can start before it is.
async fn question(
    state: &AppState,
    caller: &Caller,
    chatbot: Chatbot,
    request: Request,
) -> ApiResult<(Turn, Pending)> {
    let org = chatbot.organization_id;
    let user = caller.user_id;
    let web_chat = chatbot.api_web_chat_id;
    let continued = request.conversation.as_ref().map(|c| c.id);
    let attachment_ids = request.attachments.clone();
    let (sender_name, attachments, inbox) = state
        .store
        .read(move |db| {
            let inbox = match (continued, web_chat) {
                (Some(_), _) => None,
                (None, Some(web_chat)) => Some(
                    db.find_inbox_of_web_chat(org, web_chat)?
                        .ok_or(openmai_store::StoreError::NotFound)?,
                ),
                (None, None) => return Err(openmai_store::StoreError::NotFound),
            };
            Ok((db.get_user(user)?.name, db.attachments_by_ids(org, &attachment_ids)?, inbox))
        })
        .await?;
    let conversation_id = continued.unwrap_or_else(new_id);
    let message = NewMessage {
        organization_id: org,
        conversation_id,
        message_type: MessageType::Incoming,
        sender_id: Some(user),
        sender_name,
        content: request.content,
        status: MessageStatus::Done,
        reply_to_id: None,
        query_metadata: request.query_metadata,
        content_payload: request.content_payload,
        attachment_ids: request.attachments,
    };
    let question = message.stored(new_id(), Timestamp::now(), attachments);
    Ok((Turn { chatbot, question }, Pending { new_conversation: inbox, user, message }))
}

/// Stores the question (and starts its conversation), in one transaction.
async fn store_question(state: &AppState, turn: &Turn, pending: Pending) -> ApiResult<()> {
    let (org, id, at) = (turn.chatbot.organization_id, turn.question.id, turn.question.created_at);
    state
        .store
        .write(move |db| {
            db.transaction(|db| {
                if let Some(inbox) = pending.new_conversation {
                    db.start_conversation_as(
                        pending.message.conversation_id,
                        at,
                        org,
                        inbox,
                        Some(pending.user),
                    )?;
                }
                db.insert_message_as(id, at, &pending.message).map(drop)
            })
        })
        .await?;
    Ok(())
}

/// The whole answer as one JSON object. If the client goes away meanwhile, the answer stops
/// (the handler's future is dropped, which cancels `stop`).
async fn whole(state: AppState, turn: Turn, reply: engine::Reply) -> ApiResult<Json<Completion>> {
    let conversation_id = turn.question.conversation_id;
    let stop = CancellationToken::new();
    let guard = stop.clone().drop_guard();
    let task = tokio::spawn(async move { engine::run(&state, &turn, reply, None, stop).await });
    let stored = task.await.map_err(ApiError::internal)??;
    drop(guard.disarm());
    if stored.status == MessageStatus::Failed {
        let reason =
            stored.error.unwrap_or_else(|| Code::ProviderUnavailable.default_detail().into());
        return Err(ApiError::with_detail(Code::ProviderUnavailable, reason));
    }
    Ok(Json(Completion { conversation_id, content: stored.content, done: true, error: None }))
}

/// The answer as server-sent events.
fn stream(state: AppState, turn: Turn, reply: engine::Reply) -> Response {
    let conversation_id = turn.question.conversation_id;
    let keep_alive = state.chat.settings.keep_alive;
    let (pieces_tx, pieces) = mpsc::channel::<String>(64);
    let (ended_tx, ended) = oneshot::channel::<Option<String>>();
    tokio::spawn(async move {
        let outcome =
            engine::run(&state, &turn, reply, Some(pieces_tx), CancellationToken::new()).await;
        let error = match outcome {
            Ok(message) if message.status == MessageStatus::Done => None,
            Ok(message) => Some(message.error.unwrap_or_default()),
            Err(err) => Some(err.to_string()),
        };
        let _ = ended_tx.send(error);
    });
    let events = events(conversation_id, pieces, ended);
    let mut response =
        Sse::new(events).keep_alive(KeepAlive::new().interval(keep_alive)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Each piece as an event, then the last event once the answer is stored.
fn events(
    conversation_id: Uuid,
    pieces: mpsc::Receiver<String>,
    ended: oneshot::Receiver<Option<String>>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let pieces = tokio_stream_receiver(pieces).map(move |content| Completion {
        conversation_id,
        content,
        done: false,
        error: None,
    });
    let last = futures::stream::once(async move {
        let error = ended.await.unwrap_or_else(|_| Some("The reply was interrupted.".into()));
        Completion { conversation_id, content: String::new(), done: true, error }
    });
    pieces.chain(last).map(|chunk| Ok(event(&chunk)))
}

fn event(chunk: &Completion) -> Event {
    Event::default().data(serde_json::to_string(chunk).unwrap_or_default())
}

/// An mpsc receiver as a stream.
fn tokio_stream_receiver<T: Send + 'static>(
    mut receiver: mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
