//! `chatbots/`: AI assistants. Every query is limited to the caller's organisation; another
//! tenant's assistant is 404.

use std::borrow::Cow;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use openmai_store::models::{Chatbot, KnowledgeBaseRef};
use openmai_types::{Timestamp, messages};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::{NamedRef, PageParams};
use crate::auth::Caller;
use crate::catalog::{Catalog, Model};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Rule, Text};
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update, patch, delete))
}

/// The reply modes the spec lists, plus `agent` (MaiAgent's newer tool-using mode).
pub const REPLY_MODES: &[&str] =
    &["normal", "template", "hybrid", "agent", "text_to_sql", "workflow"];
pub const OUTPUT_MODES: &[&str] = &["text", "json_schema"];
pub const DEFAULT_RETRIEVED_CHUNKS: i64 = 12;
pub const MAX_RETRIEVED_CHUNKS: i64 = 100;

/// An assistant as `chatbots/{id}/` returns it: related models by id.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatbotView {
    pub id: Uuid,
    pub name: String,
    pub large_language_model: Uuid,
    pub rag: Uuid,
    pub embedding_model: Option<Uuid>,
    pub reranker_model: Option<Uuid>,
    pub instructions: String,
    pub webhook_url: Option<String>,
    /// The assistant's API web chat: conversations started through the API live in it.
    pub api_web_chat_id: Option<String>,
    /// The key webhook deliveries are signed with: `X-OpenMai-Signature` carries
    /// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
    pub webhook_secret: String,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
    pub organization: Uuid,
    pub workflow: Option<Uuid>,
    pub built_in_workflow: Option<Uuid>,
    /// One of `normal`, `template`, `hybrid`, `agent`, `text_to_sql`, `workflow`.
    pub reply_mode: String,
    pub template: Option<String>,
    pub unanswerable_template: Option<String>,
    pub total_words_count: i64,
    pub enable_chinese_conversion: bool,
    /// `text` or `json_schema`.
    pub output_mode: String,
    pub output_format: Option<Value>,
    pub number_of_retrieved_chunks: i64,
    pub knowledge_bases: Vec<NamedRef>,
    pub database_url: Option<String>,
    pub database_type: Option<String>,
}

/// An assistant as `chatbots/` lists it: related models as `{id, name}` objects, borrowed
/// from the catalogue (a list page serialises many of them).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatbotListItem<'a> {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = Model)]
    pub large_language_model: Cow<'a, Model>,
    #[schema(value_type = NamedRef)]
    pub rag: RagRef<'a>,
    #[schema(value_type = Option<Model>)]
    pub embedding_model: Option<Cow<'a, Model>>,
    #[schema(value_type = Option<Model>)]
    pub reranker_model: Option<Cow<'a, Model>>,
    #[schema(value_type = String, example = "1728181396000")]
    pub updated_at: Timestamp,
    pub enable_chinese_conversion: bool,
    pub reply_mode: String,
    pub knowledge_bases: Vec<NamedRef>,
}

/// The request body of create, replace and update. `model` is accepted for
/// `largeLanguageModel`, and snake_case names for every field.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ChatbotInput {
    name: String,
    /// A chat model id from `chatbot-settings/`.
    large_language_model: Uuid,
    /// A RAG engine id from `chatbot-settings/`.
    rag: Uuid,
    embedding_model: Option<Uuid>,
    reranker_model: Option<Uuid>,
    instructions: Option<String>,
    webhook_url: Option<String>,
    reply_mode: Option<String>,
    template: Option<String>,
    unanswerable_template: Option<String>,
    enable_chinese_conversion: Option<bool>,
    output_mode: Option<String>,
    output_format: Option<Value>,
    number_of_retrieved_chunks: Option<i64>,
    /// Knowledge-base ids (or `{"id": …}` objects) of the caller's organisation.
    knowledge_bases: Option<Vec<Uuid>>,
}

fn knowledge_bases(refs: Vec<KnowledgeBaseRef>) -> Vec<NamedRef> {
    refs.into_iter().map(|kb| NamedRef { id: kb.id, name: kb.name }).collect()
}

impl From<Chatbot> for ChatbotView {
    fn from(c: Chatbot) -> Self {
        ChatbotView {
            id: c.id,
            name: c.name,
            large_language_model: c.large_language_model_id,
            rag: c.rag_id,
            embedding_model: c.embedding_model_id,
            reranker_model: c.reranker_model_id,
            instructions: c.instructions,
            webhook_url: c.webhook_url,
            api_web_chat_id: c.api_web_chat_id.map(|id| id.to_string()),
            webhook_secret: c.webhook_secret,
            created_at: c.created_at,
            updated_at: c.updated_at,
            organization: c.organization_id,
            workflow: None,
            built_in_workflow: None,
            reply_mode: c.reply_mode,
            template: c.template,
            unanswerable_template: c.unanswerable_template,
            total_words_count: c.total_words_count,
            enable_chinese_conversion: c.enable_chinese_conversion,
            output_mode: c.output_mode,
            output_format: c.output_format,
            number_of_retrieved_chunks: c.number_of_retrieved_chunks,
            knowledge_bases: knowledge_bases(c.knowledge_bases),
            database_url: None,
            database_type: None,
        }
    }
}

/// The name shown for a model or engine that is no longer configured.
pub const UNAVAILABLE: &str = "(unavailable)";

/// A RAG engine as `{id, name}`.
#[derive(Debug, Serialize)]
pub struct RagRef<'a> {
    pub id: Uuid,
    pub name: &'a str,
}

/// A catalogue entry by id; a model no longer configured still shows, marked unavailable.
fn model_ref(found: Option<&Model>, id: Uuid) -> Cow<'_, Model> {
    match found {
        Some(model) => Cow::Borrowed(model),
        None => Cow::Owned(Model {
            id,
            name: UNAVAILABLE.into(),
            is_default: false,
            provider: String::new(),
            model: String::new(),
            kind: None,
        }),
    }
}

impl<'a> ChatbotListItem<'a> {
    pub fn new(c: Chatbot, catalog: &'a Catalog) -> Self {
        ChatbotListItem {
            large_language_model: model_ref(
                catalog.chat_model(c.large_language_model_id),
                c.large_language_model_id,
            ),
            rag: RagRef {
                id: c.rag_id,
                name: catalog.rag(c.rag_id).map_or(UNAVAILABLE, |r| r.name.as_str()),
            },
            embedding_model: c
                .embedding_model_id
                .map(|id| model_ref(catalog.embedding_model(id), id)),
            reranker_model: c.reranker_model_id.map(|id| model_ref(catalog.reranker_model(id), id)),
            id: c.id,
            name: c.name,
            updated_at: c.updated_at,
            enable_chinese_conversion: c.enable_chinese_conversion,
            reply_mode: c.reply_mode,
            knowledge_bases: knowledge_bases(c.knowledge_bases),
        }
    }
}

/// A new assistant's settings before the request's are applied.
pub fn defaults(organization_id: Uuid, catalog: &Catalog) -> Chatbot {
    Chatbot {
        id: Uuid::nil(),
        organization_id,
        name: String::new(),
        large_language_model_id: catalog.default_chat_model().id,
        rag_id: catalog.default_rag().id,
        embedding_model_id: None,
        reranker_model_id: None,
        instructions: String::new(),
        webhook_url: None,
        reply_mode: "normal".into(),
        template: None,
        unanswerable_template: None,
        enable_chinese_conversion: false,
        output_mode: "text".into(),
        output_format: None,
        number_of_retrieved_chunks: DEFAULT_RETRIEVED_CHUNKS,
        total_words_count: 0,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        knowledge_bases: Vec::new(),
        webhook_secret: String::new(),
        api_web_chat_id: None,
    }
}

/// Validated changes from a request body, ready to apply to an assistant.
#[derive(Debug)]
pub struct Changes {
    name: Input<String>,
    large_language_model: Input<Uuid>,
    rag: Input<Uuid>,
    embedding_model: Input<Uuid>,
    reranker_model: Input<Uuid>,
    instructions: Input<String>,
    webhook_url: Input<String>,
    reply_mode: Input<String>,
    template: Input<String>,
    unanswerable_template: Input<String>,
    enable_chinese_conversion: Input<bool>,
    output_mode: Input<String>,
    output_format: Input<Value>,
    number_of_retrieved_chunks: Input<i64>,
    knowledge_bases: Option<Vec<KnowledgeBaseRef>>,
}

impl Changes {
    /// Validates a body as DRF's serializer would, checking models against the catalogue and
    /// knowledge bases against the caller's organisation. `partial` is PATCH.
    pub async fn parse(
        state: &AppState,
        organization: Uuid,
        payload: Payload,
        partial: bool,
    ) -> ApiResult<Changes> {
        let catalog = &state.catalog;
        let mut form = Form::new(payload, partial)?;
        form.alias("model", "largeLanguageModel");
        let name = form.text("name", Text::required(255));
        // Related ids are checked as each field is read, so errors keep the fields' order.
        let large_language_model = form
            .related("largeLanguageModel", Rule::REQUIRED, |id| catalog.chat_model(id).is_some());
        let rag = form.related("rag", Rule::REQUIRED, |id| catalog.rag(id).is_some());
        let embedding_model = form
            .related("embeddingModel", Rule::NULLABLE, |id| catalog.embedding_model(id).is_some());
        let reranker_model = form
            .related("rerankerModel", Rule::NULLABLE, |id| catalog.reranker_model(id).is_some());
        let instructions = form.text("instructions", Text::optional(100_000).blank().untrimmed());
        let webhook_url = form.url("webhookUrl", Text::optional(511).blank().nullable());
        let reply_mode = form.choice("replyMode", Rule::OPTIONAL, REPLY_MODES);
        let template =
            form.text("template", Text::optional(100_000).blank().nullable().untrimmed());
        let unanswerable_template = form
            .text("unanswerableTemplate", Text::optional(100_000).blank().nullable().untrimmed());
        let enable_chinese_conversion = form.boolean("enableChineseConversion", Rule::OPTIONAL);
        let output_mode = form.choice("outputMode", Rule::OPTIONAL, OUTPUT_MODES);
        let output_format = form.json("outputFormat", Rule::NULLABLE);
        let number_of_retrieved_chunks =
            form.integer("numberOfRetrievedChunks", Rule::OPTIONAL, 1, MAX_RETRIEVED_CHUNKS);
        let knowledge_bases = match form.id_list("knowledgeBases", Rule::OPTIONAL) {
            Input::Set(ids) => {
                let wanted = ids.clone();
                let found = state
                    .store
                    .read(move |db| db.find_knowledge_bases(organization, &wanted))
                    .await?;
                if let Some(missing) = ids.iter().find(|id| !found.iter().any(|kb| kb.id == **id)) {
                    form.error("knowledgeBases", messages::does_not_exist(&missing.to_string()));
                }
                Some(found)
            }
            _ => None,
        };
        // Only the caller's own organisation exists for them.
        form.related("organization", Rule::OPTIONAL, |id| id == organization);
        form.finish()?;
        Ok(Changes {
            name,
            large_language_model,
            rag,
            embedding_model,
            reranker_model,
            instructions,
            webhook_url,
            reply_mode,
            template,
            unanswerable_template,
            enable_chinese_conversion,
            output_mode,
            output_format,
            number_of_retrieved_chunks,
            knowledge_bases,
        })
    }

    pub fn apply(self, current: Chatbot) -> Chatbot {
        let blank_to_none = |v: Option<String>| v.filter(|s| !s.is_empty());
        Chatbot {
            name: self.name.or(current.name),
            large_language_model_id: self.large_language_model.or(current.large_language_model_id),
            rag_id: self.rag.or(current.rag_id),
            embedding_model_id: self
                .embedding_model
                .nullable()
                .unwrap_or(current.embedding_model_id),
            reranker_model_id: self.reranker_model.nullable().unwrap_or(current.reranker_model_id),
            instructions: self.instructions.or(current.instructions),
            webhook_url: blank_to_none(self.webhook_url.nullable().unwrap_or(current.webhook_url)),
            reply_mode: self.reply_mode.or(current.reply_mode),
            template: self.template.nullable().unwrap_or(current.template),
            unanswerable_template: self
                .unanswerable_template
                .nullable()
                .unwrap_or(current.unanswerable_template),
            enable_chinese_conversion: self
                .enable_chinese_conversion
                .or(current.enable_chinese_conversion),
            output_mode: self.output_mode.or(current.output_mode),
            output_format: self.output_format.nullable().unwrap_or(current.output_format),
            number_of_retrieved_chunks: self
                .number_of_retrieved_chunks
                .or(current.number_of_retrieved_chunks),
            knowledge_bases: self.knowledge_bases.unwrap_or(current.knowledge_bases),
            ..current
        }
    }
}

/// The id in the path; a malformed one cannot name anything, so it is 404 like DRF's lookup.
fn parse_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found())
}

/// Assistants of the caller's organisation, newest first.
#[utoipa::path(get, path = "/chatbots/", tag = "chatbots", params(PageParams),
    responses((status = 200, body = Page<ChatbotListItem<'static>>)), security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Response> {
    let org = caller.organization()?;
    let paged = state.store.read(move |db| db.list_chatbots(org, page)).await?;
    // Serialised here: the items borrow from the catalogue in `state`.
    let paged = paged.map(|c| ChatbotListItem::new(c, &state.catalog));
    Ok(Json(Page::new(paged, &url)).into_response())
}

/// Creates an assistant.
#[utoipa::path(post, path = "/chatbots/", tag = "chatbots", request_body = ChatbotInput,
    responses((status = 201, body = ChatbotView), (status = 400, description = "Field errors")),
    security(("ApiKeyAuth" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<ChatbotView>)> {
    let org = caller.organization()?;
    let chatbot =
        Changes::parse(&state, org, payload, false).await?.apply(defaults(org, &state.catalog));
    let stored = state.store.write(move |db| db.insert_chatbot(&chatbot)).await?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

#[utoipa::path(get, path = "/chatbots/{id}/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "A UUID string identifying this chatbot.")),
    responses((status = 200, body = ChatbotView), (status = 404, description = "Not found")),
    security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ChatbotView>> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    Ok(Json(state.store.read(move |db| db.get_chatbot(org, id)).await?.into()))
}

/// Replaces an assistant's settings (`name`, `largeLanguageModel` and `rag` required).
#[utoipa::path(put, path = "/chatbots/{id}/", tag = "chatbots", request_body = ChatbotInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this chatbot.")),
    responses((status = 200, body = ChatbotView)), security(("ApiKeyAuth" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<ChatbotView>> {
    save(&state, &caller, &id, payload, false).await.map(Json)
}

/// Changes some of an assistant's settings.
#[utoipa::path(patch, path = "/chatbots/{id}/", tag = "chatbots", request_body = ChatbotInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this chatbot.")),
    responses((status = 200, body = ChatbotView)), security(("ApiKeyAuth" = [])))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<ChatbotView>> {
    save(&state, &caller, &id, payload, true).await.map(Json)
}

/// Looks the assistant up first (404 before 400, as DRF does), validates, then applies the
/// changes to the row as it is at write time.
pub async fn save(
    state: &AppState,
    caller: &Caller,
    id: &str,
    payload: Payload,
    partial: bool,
) -> ApiResult<ChatbotView> {
    let org = caller.organization()?;
    let id = parse_id(id)?;
    state.store.read(move |db| db.get_chatbot(org, id)).await?;
    let changes = Changes::parse(state, org, payload, partial).await?;
    let stored = state
        .store
        .write(move |db| {
            db.transaction(|db| {
                let current = db.get_chatbot_for_update(org, id)?;
                db.update_chatbot(&changes.apply(current))
            })
        })
        .await?;
    Ok(stored.into())
}

#[utoipa::path(delete, path = "/chatbots/{id}/", tag = "chatbots",
    params(("id" = Uuid, Path, description = "A UUID string identifying this chatbot.")),
    responses((status = 204)), security(("ApiKeyAuth" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let org = caller.organization()?;
    let id = parse_id(&id)?;
    state.store.write(move |db| db.delete_chatbot(org, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
