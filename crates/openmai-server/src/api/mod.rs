//! The MaiAgent-compatible REST API under `/api/v1/` (and its `/api/` alias). Each module
//! owns the routes of one capability group of the spec; every route is declared through
//! `utoipa_axum::routes!`, so the OpenAPI document at `/api/v1/schema/` covers all of them by
//! construction.

pub mod attachments;
pub mod auth;
pub mod chatbots;
pub mod completions;
pub mod conversations;
pub mod health;
pub mod inboxes;
pub mod kb_documents;
pub mod kb_faqs;
pub mod kb_files;
pub mod knowledge_bases;
pub mod messages;
pub mod models;
pub mod organizations;
pub mod parsers;
pub mod permissions;
pub mod schema;
pub mod scope;
pub mod uploads;
pub mod users;
pub mod web_chats;
pub mod webhook_records;

use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use openmai_types::messages as msg;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenMai API",
        description = "A self-hosted implementation of the MaiAgent API. Authenticate with \
                       `Authorization: Api-Key <key>`. Every path also answers under `/api/` \
                       and without its trailing slash.",
    ),
    modifiers(&ApiKeyAuth),
    tags(
        (name = "auth", description = "Login, tokens and the current user's account"),
        (name = "users-orgs", description = "Users, organisations, members and permissions"),
        (name = "chatbots", description = "AI assistants"),
        (name = "models", description = "Model catalogues"),
        (name = "knowledge-bases", description = "Knowledge bases: files, labels, FAQs, chunks, search"),
        (name = "conversations", description = "Conversations, messages, attachments, web chats and inboxes"),
        (name = "uploads", description = "Presigned uploads and the embedded storage endpoint"),
        (name = "system", description = "Health and this document"),
        (name = "console", description = "The web console: HTML pages and their forms, on a \
                                            session cookie with a CSRF token in every form"),
    )
)]
pub struct ApiDoc;

/// Declares the `ApiKeyAuth` scheme as drf-spectacular does.
struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "ApiKeyAuth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Api-Key <key>`; create keys under Account → API keys in the console.",
            ))),
        );
    }
}

/// Every API route, with its OpenAPI description. Direct uploads (multipart attachments) may
/// be `max_upload_bytes` large.
pub fn router(max_upload_bytes: usize) -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(organizations::router())
        .merge(permissions::router())
        .merge(chatbots::router())
        .merge(completions::router())
        .merge(conversations::router())
        .merge(messages::router())
        .merge(attachments::router(max_upload_bytes))
        .merge(web_chats::router())
        .merge(inboxes::router())
        .merge(webhook_records::router())
        .merge(models::router())
        .merge(knowledge_bases::router())
        .merge(kb_files::router())
        .merge(kb_faqs::router())
        .merge(kb_documents::router())
        .merge(uploads::router())
        .merge(parsers::router())
        .merge(schema::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", v1).merge(health::router())
}

/// The page-number pagination parameters every list takes.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// A page number, or `last`.
    page: Option<String>,
    /// Results per page (default 10, at most 1000); `page_size` is accepted too.
    #[param(rename = "pageSize")]
    page_size: Option<u64>,
}

/// A list filter's id (`?chatbot=…`): none when absent or blank, django-filter's
/// invalid-choice error on `field` when it is not an id.
pub fn filter_id(field: &str, raw: Option<&str>) -> ApiResult<Option<Uuid>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => Uuid::parse_str(raw)
            .map(Some)
            .map_err(|_| ApiError::field(field, msg::INVALID_FILTER_CHOICE)),
    }
}

/// The cursor pagination parameters of `conversations/` and `messages/`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CursorParams {
    /// A `next` or `previous` link's cursor.
    cursor: Option<String>,
    /// Results per page (default 10, at most 1000); `page_size` is accepted too.
    #[param(rename = "pageSize")]
    page_size: Option<u64>,
}

/// A related object by id and name.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NamedRef {
    pub id: Uuid,
    pub name: String,
}

/// A `{"detail": "…"}` message body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Detail {
    pub detail: String,
}
