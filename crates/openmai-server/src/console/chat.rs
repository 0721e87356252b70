//! 測試對話: a page per assistant to chat with it as a person would. The page is a shell; its
//! script (`console.js`) talks to the API with the session: it streams answers from
//! `POST /api/v1/chatbots/{id}/completions/`, shows each answer's citations from
//! `GET /api/v1/messages/`, and lists and reopens conversations from
//! `GET /api/v1/conversations/?chatbot=`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};

use super::i18n::{Lang, Text};
use super::{Chrome, Ctx, Page, fail, not_found, parse_id, render};
use crate::api::chatbots::ChatbotListItem;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "chatbot_chat.html")]
struct ChatPage {
    t: &'static Text,
    c: Chrome,
    id: String,
    name: String,
    llm: String,
    reply_mode: &'static str,
    knowledge_bases: String,
}

/// The chat page of one assistant of the session's organisation.
#[utoipa::path(get, path = "/console/chatbots/{id}/chat", tag = "console",
    params(("id" = Uuid, Path, description = "The assistant")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 303, description = "Without a session: to /console/login"),
        (status = 404, description = "Not an assistant of this organisation (HTML)")))]
pub async fn page(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let Some(org) = ctx.org else { return Ok(Redirect::to("/console/chatbots").into_response()) };
    let id = parse_id(&id).ok_or_else(|| not_found(t))?;
    let chatbot =
        state.store.read(move |db| db.get_chatbot(org, id)).await.map_err(|e| fail(t, e.into()))?;
    let item = ChatbotListItem::new(chatbot, &state.catalog);
    let knowledge_bases = if item.knowledge_bases.is_empty() {
        "—".to_owned()
    } else {
        item.knowledge_bases.iter().map(|kb| kb.name.as_str()).collect::<Vec<_>>().join(", ")
    };
    let page = ChatPage {
        t,
        c: ctx.chrome("chatbots"),
        id: item.id.to_string(),
        llm: item.large_language_model.name.clone(),
        reply_mode: t.reply_mode(&item.reply_mode),
        knowledge_bases,
        name: item.name,
    };
    Ok(render(t, StatusCode::OK, &page))
}
