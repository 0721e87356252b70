//! FAQs: `knowledge-bases/{id}/faqs/…`, the older `chatbots/{id}/faqs/…` and the flat
//! `faqs/`. FAQs are searchable like chunks, and answer first in hybrid reply mode.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use openmai_store::models::Faq;
use openmai_types::{Timestamp, messages};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::kb_files::{Deleted, IdsInput};
use crate::api::knowledge_bases::parse_id;
use crate::api::scope::Scope;
use crate::api::{NamedRef, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text, type_name};
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, patch, delete))
        .routes(routes!(batch_delete))
        .routes(routes!(update_metadata))
        .routes(routes!(chatbot_list, chatbot_create))
        .routes(routes!(chatbot_get, chatbot_update, chatbot_patch, chatbot_delete))
        .routes(routes!(chatbot_batch_delete))
        .routes(routes!(flat_create))
}

pub const MAX_QUESTION: usize = 2_000;
pub const MAX_ANSWER: usize = 20_000;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaqView {
    pub id: Uuid,
    pub question: String,
    pub answer: String,
    pub labels: Vec<NamedRef>,
    pub raw_user_define_metadata: Value,
    /// How often retrieval returned this FAQ.
    pub hits_count: i64,
    pub knowledge_base: Uuid,
    /// The assistant, on the assistant routes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chatbot: Option<Uuid>,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
}

impl FaqView {
    pub fn new(faq: Faq, chatbot: Option<Uuid>) -> Self {
        FaqView {
            id: faq.id,
            question: faq.question,
            answer: faq.answer,
            labels: faq.labels.into_iter().map(|l| NamedRef { id: l.id, name: l.name }).collect(),
            raw_user_define_metadata: faq
                .raw_user_define_metadata
                .unwrap_or_else(|| Value::Object(Default::default())),
            hits_count: faq.hits_count,
            knowledge_base: faq.knowledge_base_id,
            chatbot,
            created_at: faq.created_at,
            updated_at: faq.updated_at,
        }
    }
}

/// The request body of create and update.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct FaqInput {
    question: String,
    answer: String,
    /// Label ids or `{id, name}` objects of the knowledge base; others are ignored.
    labels: Option<Vec<Uuid>>,
}

/// The request body of the flat `faqs/`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct FlatFaqInput {
    chatbot: Uuid,
    question: String,
    answer: String,
}

async fn find_faq(state: &AppState, scope: &Scope, id: &str) -> ApiResult<Faq> {
    let id = parse_id(id)?;
    let org = scope.organization_id;
    let kbs = scope.kb_ids();
    Ok(state
        .store
        .read(move |db| {
            for kb in kbs {
                match db.get_faq(org, kb, id) {
                    Ok(faq) => return Ok(faq),
                    Err(openmai_store::StoreError::NotFound) => continue,
                    Err(err) => return Err(err),
                }
            }
            Err(openmai_store::StoreError::NotFound)
        })
        .await?)
}

/// Validates an FAQ body onto `faq`. FAQ updates are partial even on PUT, as the example
/// clients send only `question` and `answer`.
fn apply(payload: Payload, creating: bool, mut faq: Faq) -> ApiResult<Faq> {
    let mut form = Form::new(payload, !creating)?;
    let question = form.text("question", Text::required(MAX_QUESTION));
    let answer = form.text("answer", Text::required(MAX_ANSWER).untrimmed());
    let labels = form.loose_id_list("labels", Rule::NULLABLE);
    let metadata = form.json("rawUserDefineMetadata", Rule::NULLABLE);
    form.finish()?;
    faq.question = question.or(faq.question);
    faq.answer = answer.or(faq.answer);
    if let Some(ids) = labels.nullable() {
        faq.labels = ids
            .unwrap_or_default()
            .into_iter()
            .map(|id| openmai_store::models::LabelRef { id, name: String::new() })
            .collect();
    }
    match metadata {
        Input::Set(Value::Object(map)) => faq.raw_user_define_metadata = Some(Value::Object(map)),
        Input::Set(other) => {
            return Err(ApiError::field(
                "rawUserDefineMetadata",
                messages::not_a_dict(type_name(&other)),
            ));
        }
        Input::Null => faq.raw_user_define_metadata = None,
        Input::Absent => {}
    }
    Ok(faq)
}

async fn list_in(
    state: &AppState,
    scope: Scope,
    page: openmai_store::models::PageRequest,
    url: &RequestUrl,
) -> ApiResult<Page<FaqView>> {
    let (org, kbs) = (scope.organization_id, scope.kb_ids());
    let chatbot = scope.chatbot.map(|c| c.0);
    let paged = state.store.read(move |db| db.list_faqs(org, &kbs, page)).await?;
    Ok(Page::new(paged.map(|f| FaqView::new(f, chatbot)), url))
}

async fn create_in(state: &AppState, scope: Scope, payload: Payload) -> ApiResult<FaqView> {
    let target = scope.target(state).await?;
    let draft = Faq {
        id: Uuid::nil(),
        organization_id: scope.organization_id,
        knowledge_base_id: target.id,
        question: String::new(),
        answer: String::new(),
        raw_user_define_metadata: None,
        hits_count: 0,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        labels: Vec::new(),
    };
    let faq = apply(payload, true, draft)?;
    let saved = state.knowledge.save_faq(faq, true).await?;
    Ok(FaqView::new(saved, scope.chatbot.map(|c| c.0)))
}

async fn update_in(
    state: &AppState,
    scope: Scope,
    id: &str,
    payload: Payload,
) -> ApiResult<FaqView> {
    let current = find_faq(state, &scope, id).await?;
    let faq = apply(payload, false, current)?;
    let saved = state.knowledge.save_faq(faq, false).await?;
    Ok(FaqView::new(saved, scope.chatbot.map(|c| c.0)))
}

async fn delete_in(
    state: &AppState,
    scope: &Scope,
    ids: Vec<Uuid>,
    all_when_empty: bool,
) -> ApiResult<Vec<Uuid>> {
    let mut deleted = Vec::new();
    for kb in scope.kb_ids() {
        if ids.is_empty() && !all_when_empty {
            break;
        }
        deleted.extend(state.knowledge.delete_faqs(scope.organization_id, kb, &ids).await?);
    }
    Ok(deleted)
}

fn batch_ids(payload: Payload) -> ApiResult<Vec<Uuid>> {
    let mut form = Form::new(payload, false)?;
    let ids = form.id_list("ids", Rule::REQUIRED);
    form.finish()?;
    Ok(ids.set().unwrap_or_default())
}

// knowledge-bases/{id}/faqs/…

#[utoipa::path(get, path = "/knowledge-bases/{id}/faqs/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The knowledge base"), PageParams),
    responses((status = 200, body = Page<FaqView>)), security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<FaqView>>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    Ok(Json(list_in(&state, scope, page, &url).await?))
}

#[utoipa::path(post, path = "/knowledge-bases/{id}/faqs/", tag = "knowledge-bases", request_body = FaqInput,
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 201, body = FaqView)), security(("ApiKeyAuth" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<FaqView>)> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    Ok((StatusCode::CREATED, Json(create_in(&state, scope, payload).await?)))
}

#[utoipa::path(get, path = "/knowledge-bases/{id}/faqs/{faqId}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The knowledge base"), ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 200, body = FaqView)), security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, faq_id)): Path<(String, String)>,
) -> ApiResult<Json<FaqView>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    Ok(Json(FaqView::new(find_faq(&state, &scope, &faq_id).await?, None)))
}

/// Changes the fields sent (partial, as the example clients expect of PUT).
#[utoipa::path(put, path = "/knowledge-bases/{id}/faqs/{faqId}/", tag = "knowledge-bases", request_body = FaqInput,
    params(("id" = Uuid, Path, description = "The knowledge base"), ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 200, body = FaqView)), security(("ApiKeyAuth" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, faq_id)): Path<(String, String)>,
    payload: Payload,
) -> ApiResult<Json<FaqView>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    Ok(Json(update_in(&state, scope, &faq_id, payload).await?))
}

#[utoipa::path(patch, path = "/knowledge-bases/{id}/faqs/{faqId}/", tag = "knowledge-bases", request_body = FaqInput,
    params(("id" = Uuid, Path, description = "The knowledge base"), ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 200, body = FaqView)), security(("ApiKeyAuth" = [])))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, faq_id)): Path<(String, String)>,
    payload: Payload,
) -> ApiResult<Json<FaqView>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    Ok(Json(update_in(&state, scope, &faq_id, payload).await?))
}

#[utoipa::path(delete, path = "/knowledge-bases/{id}/faqs/{faqId}/", tag = "knowledge-bases",
    params(("id" = Uuid, Path, description = "The knowledge base"), ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 204)), security(("ApiKeyAuth" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, faq_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let faq = find_faq(&state, &scope, &faq_id).await?;
    delete_in(&state, &scope, vec![faq.id], false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes FAQs by id; an empty `ids` list deletes every FAQ of the knowledge base.
#[utoipa::path(post, path = "/knowledge-bases/{id}/faqs/batch-delete/", tag = "knowledge-bases", request_body = IdsInput,
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 200, body = Deleted)), security(("ApiKeyAuth" = [])))]
async fn batch_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<Deleted>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let ids = batch_ids(payload)?;
    Ok(Json(Deleted { deleted_ids: delete_in(&state, &scope, ids, true).await? }))
}

/// Replaces an FAQ's labels and/or its free-form metadata; label ids that name no label
/// are ignored.
#[utoipa::path(patch, path = "/knowledge-bases/{id}/faqs/{faqId}/update-metadata/", tag = "knowledge-bases",
    request_body = crate::api::kb_files::FileMetadataInput,
    params(("id" = Uuid, Path, description = "The knowledge base"), ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 200, body = FaqView)), security(("ApiKeyAuth" = [])))]
async fn update_metadata(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, faq_id)): Path<(String, String)>,
    payload: Payload,
) -> ApiResult<Json<FaqView>> {
    let scope = Scope::knowledge_base(&state, &caller, &id).await?;
    let mut faq = find_faq(&state, &scope, &faq_id).await?;
    let mut form = Form::new(payload, true)?;
    let labels = form.loose_id_list("labels", Rule::NULLABLE);
    let metadata = form.json("rawUserDefineMetadata", Rule::NULLABLE);
    form.finish()?;
    if let Some(ids) = labels.nullable() {
        faq.labels = ids
            .unwrap_or_default()
            .into_iter()
            .map(|id| openmai_store::models::LabelRef { id, name: String::new() })
            .collect();
    }
    match metadata {
        Input::Set(Value::Object(map)) => faq.raw_user_define_metadata = Some(Value::Object(map)),
        Input::Set(other) => {
            return Err(ApiError::field(
                "rawUserDefineMetadata",
                messages::not_a_dict(type_name(&other)),
            ));
        }
        Input::Null => faq.raw_user_define_metadata = None,
        Input::Absent => {}
    }
    Ok(Json(FaqView::new(state.knowledge.save_faq(faq, false).await?, None)))
}

// chatbots/{id}/faqs/…

#[utoipa::path(get, path = "/chatbots/{id}/faqs/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "The assistant"), PageParams),
    responses((status = 200, body = Page<FaqView>)), security(("ApiKeyAuth" = [])))]
async fn chatbot_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<FaqView>>> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    Ok(Json(list_in(&state, scope, page, &url).await?))
}

/// Adds an FAQ to the assistant's first knowledge base (created when it has none).
#[utoipa::path(post, path = "/chatbots/{id}/faqs/", tag = "chatbots", request_body = FaqInput,
    params(("id" = Uuid, Path, description = "The assistant")),
    responses((status = 201, body = FaqView)), security(("ApiKeyAuth" = [])))]
async fn chatbot_create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<FaqView>)> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    Ok((StatusCode::CREATED, Json(create_in(&state, scope, payload).await?)))
}

#[utoipa::path(get, path = "/chatbots/{id}/faqs/{faqId}/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "The assistant"), ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 200, body = FaqView)), security(("ApiKeyAuth" = [])))]
async fn chatbot_get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, faq_id)): Path<(String, String)>,
) -> ApiResult<Json<FaqView>> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    let chatbot = scope.chatbot.as_ref().map(|c| c.0);
    Ok(Json(FaqView::new(find_faq(&state, &scope, &faq_id).await?, chatbot)))
}

/// Replaces an FAQ (`question` and `answer` required).
#[utoipa::path(put, path = "/chatbots/{id}/faqs/{faqId}/", tag = "chatbots", request_body = FaqInput,
    params(("id" = Uuid, Path, description = "The assistant"), ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 200, body = FaqView)), security(("ApiKeyAuth" = [])))]
async fn chatbot_update(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, faq_id)): Path<(String, String)>,
    payload: Payload,
) -> ApiResult<Json<FaqView>> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    let current = find_faq(&state, &scope, &faq_id).await?;
    // The reference documents this PUT with both fields required.
    let faq = apply(payload, true, current)?;
    let chatbot = scope.chatbot.map(|c| c.0);
    Ok(Json(FaqView::new(state.knowledge.save_faq(faq, false).await?, chatbot)))
}

#[utoipa::path(patch, path = "/chatbots/{id}/faqs/{faqId}/", tag = "chatbots", request_body = FaqInput,
    params(("id" = Uuid, Path, description = "The assistant"), ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 200, body = FaqView)), security(("ApiKeyAuth" = [])))]
async fn chatbot_patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, faq_id)): Path<(String, String)>,
    payload: Payload,
) -> ApiResult<Json<FaqView>> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    Ok(Json(update_in(&state, scope, &faq_id, payload).await?))
}

#[utoipa::path(delete, path = "/chatbots/{id}/faqs/{faqId}/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "The assistant"), ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 204)), security(("ApiKeyAuth" = [])))]
async fn chatbot_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, faq_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    let faq = find_faq(&state, &scope, &faq_id).await?;
    delete_in(&state, &scope, vec![faq.id], false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes FAQs by id; an empty `ids` list deletes every FAQ of the assistant's knowledge
/// bases.
#[utoipa::path(post, path = "/chatbots/{id}/faqs/batch-delete/", tag = "chatbots", request_body = IdsInput,
    params(("id" = Uuid, Path, description = "The assistant")),
    responses((status = 200, body = Deleted)), security(("ApiKeyAuth" = [])))]
async fn chatbot_batch_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<Deleted>> {
    let scope = Scope::chatbot(&state, &caller, &id).await?;
    let ids = batch_ids(payload)?;
    Ok(Json(Deleted { deleted_ids: delete_in(&state, &scope, ids, true).await? }))
}

/// The older flat endpoint: `{chatbot, question, answer}`.
#[utoipa::path(post, path = "/faqs/", tag = "chatbots", request_body = FlatFaqInput,
    responses((status = 201, body = FaqView)), security(("ApiKeyAuth" = [])))]
async fn flat_create(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<FaqView>)> {
    let Value::Object(mut body) = payload.0 else {
        return Err(ApiError::non_field(messages::not_a_dict(type_name(&payload.0))));
    };
    let chatbot = match body.remove("chatbot") {
        Some(Value::String(id)) => id,
        Some(Value::Null) => return Err(ApiError::field("chatbot", messages::NULL)),
        Some(other) => {
            return Err(ApiError::field("chatbot", messages::incorrect_pk_type(type_name(&other))));
        }
        None => return Err(ApiError::field("chatbot", messages::REQUIRED)),
    };
    let scope = Scope::chatbot(&state, &caller, &chatbot)
        .await
        .map_err(|_| ApiError::field("chatbot", messages::does_not_exist(&chatbot)))?;
    Ok((StatusCode::CREATED, Json(create_in(&state, scope, Payload(Value::Object(body))).await?)))
}
