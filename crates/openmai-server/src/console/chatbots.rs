//! AI 助理: the assistants table (10 per page, newest first) and the create, edit and delete
//! forms. Validation is the API's own ([`Changes::parse`]), so both accept the same input.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use openmai_store::StoreError;
use openmai_store::models::{Chatbot, PageNumber, PageRequest};
use serde_json::{Value, json};
use uuid::Uuid;

use super::i18n::{Lang, Text};
use super::{
    Chrome, Ctx, Fields, Page, fail, field_messages, not_found, notice, parse_id, render, time,
};
use crate::api::chatbots::{
    Changes, ChatbotListItem, DEFAULT_RETRIEVED_CHUNKS, MAX_RETRIEVED_CHUNKS, REPLY_MODES,
    defaults, save,
};
use crate::api::knowledge_bases::everything;
use crate::error::NON_FIELD_ERRORS;
use crate::state::AppState;
use crate::wire::payload::Payload;

pub const PAGE_SIZE: u64 = 10;
/// The reply modes the form offers; an assistant in another mode keeps it as an extra option.
const FORM_MODES: &[&str] = &["normal", "template", "hybrid", "agent"];

/// One row of the table.
pub struct Row {
    pub id: String,
    pub name: String,
    pub llm: String,
    pub reply_mode: &'static str,
    pub knowledge_bases: String,
    pub updated: String,
    pub updated_iso: String,
}

impl Row {
    fn new(item: ChatbotListItem<'_>, t: &'static Text) -> Row {
        let id = item.id.to_string();
        let knowledge_bases = if item.knowledge_bases.is_empty() {
            "—".to_owned()
        } else {
            item.knowledge_bases.iter().map(|kb| kb.name.as_str()).collect::<Vec<_>>().join(", ")
        };
        Row {
            id,
            name: item.name,
            llm: item.large_language_model.name.clone(),
            reply_mode: t.reply_mode(&item.reply_mode),
            knowledge_bases,
            updated: time::format(item.updated_at),
            updated_iso: time::iso(item.updated_at),
        }
    }
}

/// A page link; `number == 0` is a gap (…).
pub struct PageLink {
    pub number: u64,
    pub current: bool,
}

/// Every page when there are few, else the first, the last and two either side of `current`.
pub fn page_links(current: u64, pages: u64) -> Vec<PageLink> {
    let mut links = Vec::new();
    for number in 1..=pages {
        let near = number.abs_diff(current) <= 2;
        if pages <= 7 || number == 1 || number == pages || near {
            links.push(PageLink { number, current: number == current });
        } else if links.last().is_some_and(|l: &PageLink| l.number != 0) {
            links.push(PageLink { number: 0, current: false });
        }
    }
    links
}

#[derive(Template)]
#[template(path = "chatbots.html")]
struct ListPage {
    t: &'static Text,
    c: Chrome,
    notice: Option<&'static str>,
    has_org: bool,
    rows: Vec<Row>,
    /// `共 N 條資料`.
    total: String,
    page: u64,
    pages: u64,
    links: Vec<PageLink>,
}

pub fn page_param(query: Option<&str>) -> u64 {
    query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "page"))
        .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// AI 助理: the assistants table, 10 per page, newest first.
#[utoipa::path(get, path = "/console/chatbots", tag = "console",
    params(("page" = Option<u64>, Query, description = "Page number")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 303, description = "Without a session: to /console/login")))]
pub async fn list(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let notice = notice(t, query.as_deref());
    let Some(org) = ctx.org else {
        let page = ListPage {
            t,
            c: ctx.chrome("chatbots"),
            notice,
            has_org: false,
            rows: Vec::new(),
            total: t.total(0),
            page: 1,
            pages: 1,
            links: Vec::new(),
        };
        return Ok(render(t, StatusCode::OK, &page));
    };
    let number = page_param(query.as_deref());
    let paged = state
        .store
        .read(move |db| {
            let wanted = PageRequest { number: PageNumber::Number(number), size: PAGE_SIZE };
            match db.list_chatbots(org, wanted) {
                // Past the end (say, after deleting the last row of a page): the last page.
                Err(StoreError::InvalidPage) => {
                    db.list_chatbots(org, PageRequest { number: PageNumber::Last, size: PAGE_SIZE })
                }
                other => other,
            }
        })
        .await
        .map_err(|e| fail(t, e.into()))?;
    let pages = paged.count.div_ceil(PAGE_SIZE).max(1);
    let page = ListPage {
        t,
        c: ctx.chrome("chatbots"),
        notice,
        has_org: true,
        total: t.total(paged.count),
        page: paged.number,
        pages,
        links: page_links(paged.number, pages),
        rows: paged
            .items
            .into_iter()
            .map(|c| Row::new(ChatbotListItem::new(c, &state.catalog), t))
            .collect(),
    };
    Ok(render(t, StatusCode::OK, &page))
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// What the form shows: the stored assistant or what the user sent.
struct Values {
    name: String,
    model: String,
    reply_mode: String,
    instructions: String,
    template: String,
    unanswerable_template: String,
    knowledge_bases: Vec<String>,
    webhook_url: String,
    enable_chinese_conversion: bool,
    /// As typed; `None` when the form did not send it (the current value stays).
    retrieved: Option<String>,
}

impl Values {
    fn from_chatbot(c: &Chatbot) -> Values {
        Values {
            name: c.name.clone(),
            model: c.large_language_model_id.to_string(),
            reply_mode: c.reply_mode.clone(),
            instructions: c.instructions.clone(),
            template: c.template.clone().unwrap_or_default(),
            unanswerable_template: c.unanswerable_template.clone().unwrap_or_default(),
            knowledge_bases: c.knowledge_bases.iter().map(|kb| kb.id.to_string()).collect(),
            webhook_url: c.webhook_url.clone().unwrap_or_default(),
            enable_chinese_conversion: c.enable_chinese_conversion,
            retrieved: Some(c.number_of_retrieved_chunks.to_string()),
        }
    }

    fn from_form(form: &Fields) -> Values {
        // Browsers send textarea line breaks as CRLF.
        let multiline = |name: &str| form.text(name).replace("\r\n", "\n");
        Values {
            name: form.text("name"),
            model: form.text("largeLanguageModel"),
            reply_mode: form.text("replyMode"),
            instructions: multiline("instructions"),
            template: multiline("template"),
            unanswerable_template: multiline("unanswerableTemplate"),
            knowledge_bases: form.all("knowledgeBases"),
            webhook_url: form.text("webhookUrl"),
            // An unticked checkbox is not sent at all.
            enable_chinese_conversion: form.get("enableChineseConversion").is_some(),
            retrieved: form.get("numberOfRetrievedChunks").map(str::to_owned),
        }
    }

    /// The API body these values make (every field the form shows); `rag` only on create
    /// (editing keeps the current one). Blank templates and webhook URL are null: none.
    fn payload(&self, rag: Option<Uuid>) -> Payload {
        let or_null = |text: &str| if text.trim().is_empty() { Value::Null } else { json!(text) };
        let mut body = json!({
            "name": self.name,
            "largeLanguageModel": self.model,
            "replyMode": self.reply_mode,
            "instructions": self.instructions,
            "template": or_null(&self.template),
            "unanswerableTemplate": or_null(&self.unanswerable_template),
            "knowledgeBases": self.knowledge_bases,
            "webhookUrl": or_null(&self.webhook_url),
            "enableChineseConversion": self.enable_chinese_conversion,
        });
        if let Some(retrieved) = &self.retrieved {
            body["numberOfRetrievedChunks"] = json!(retrieved);
        }
        if let Some(rag) = rag {
            body["rag"] = json!(rag.to_string());
        }
        Payload(body)
    }
}

#[derive(Template)]
#[template(path = "chatbot_form.html")]
struct FormPage {
    t: &'static Text,
    c: Chrome,
    title: &'static str,
    action: String,
    submit: &'static str,
    /// The assistant being edited (none on create).
    id: Option<Uuid>,
    name: String,
    instructions: String,
    template: String,
    unanswerable_template: String,
    webhook_url: String,
    /// The key webhook deliveries are signed with (edit only).
    webhook_secret: Option<String>,
    enable_chinese_conversion: bool,
    retrieved: String,
    max_retrieved: i64,
    models: Vec<Choice>,
    modes: Vec<Choice>,
    knowledge_bases: Vec<Choice>,
    errors: Vec<(String, Vec<String>)>,
}

/// The form's fields, for [`FormPage::other_errors`].
const FORM_FIELDS: &[&str] = &[
    "name",
    "largeLanguageModel",
    "replyMode",
    "instructions",
    "template",
    "unanswerableTemplate",
    "knowledgeBases",
    "webhookUrl",
    "enableChineseConversion",
    "numberOfRetrievedChunks",
];

impl FormPage {
    async fn new(
        state: &AppState,
        ctx: &Ctx,
        editing: Option<&Chatbot>,
        values: Values,
        errors: Vec<(String, Vec<String>)>,
    ) -> Result<FormPage, Response> {
        let t = ctx.t;
        let mut models: Vec<Choice> = state
            .catalog
            .chat
            .iter()
            .map(|m| Choice {
                value: m.id.to_string(),
                label: m.name.clone(),
                selected: m.id.to_string() == values.model,
            })
            .collect();
        // An assistant whose model is no longer configured shows it, so saving asks for
        // a new one instead of silently switching.
        if editing.is_some()
            && Uuid::parse_str(&values.model).is_ok()
            && !models.iter().any(|m| m.selected)
        {
            models.push(Choice {
                value: values.model.clone(),
                label: crate::api::chatbots::UNAVAILABLE.into(),
                selected: true,
            });
        }
        if !models.iter().any(|m| m.selected) {
            let default = state.catalog.default_chat_model().id.to_string();
            for m in &mut models {
                m.selected = m.value == default;
            }
        }
        let mut mode_values: Vec<&str> = FORM_MODES.to_vec();
        if let Some(extra) = REPLY_MODES.iter().find(|m| **m == values.reply_mode)
            && !mode_values.contains(extra)
        {
            mode_values.push(extra);
        }
        let chosen = if mode_values.contains(&values.reply_mode.as_str()) {
            values.reply_mode.as_str()
        } else {
            "normal"
        };
        let modes = mode_values
            .iter()
            .map(|m| Choice {
                value: (*m).to_owned(),
                label: t.reply_mode(m).to_owned(),
                selected: *m == chosen,
            })
            .collect();
        // The organisation's knowledge bases, by name; only these can be ticked.
        let knowledge_bases = match ctx.org {
            Some(org) => {
                state
                    .store
                    .read(move |db| db.list_kbs(org, everything()))
                    .await
                    .map_err(|e| fail(t, e.into()))?
                    .items
            }
            None => Vec::new(),
        };
        let mut knowledge_bases: Vec<Choice> = knowledge_bases
            .into_iter()
            .map(|kb| Choice {
                selected: values.knowledge_bases.contains(&kb.id.to_string()),
                value: kb.id.to_string(),
                label: kb.name,
            })
            .collect();
        knowledge_bases.sort_by(|a, b| a.label.cmp(&b.label));
        let (title, action, submit) = match editing {
            Some(c) => (t.edit_assistant, format!("/console/chatbots/{}/edit", c.id), t.save),
            None => (t.create_assistant, "/console/chatbots/new".to_owned(), t.create),
        };
        Ok(FormPage {
            t,
            c: ctx.chrome("chatbots"),
            title,
            action,
            submit,
            id: editing.map(|c| c.id),
            name: values.name,
            instructions: values.instructions,
            template: values.template,
            unanswerable_template: values.unanswerable_template,
            webhook_url: values.webhook_url,
            webhook_secret: editing.map(|c| c.webhook_secret.clone()),
            enable_chinese_conversion: values.enable_chinese_conversion,
            retrieved: values.retrieved.unwrap_or_else(|| DEFAULT_RETRIEVED_CHUNKS.to_string()),
            max_retrieved: MAX_RETRIEVED_CHUNKS,
            models,
            modes,
            knowledge_bases,
            errors,
        })
    }

    /// The messages for one field, joined.
    fn error_for(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.join(" "))
    }

    /// Messages not shown next to a field of the form.
    fn other_errors(&self) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(f, _)| f == NON_FIELD_ERRORS || !FORM_FIELDS.contains(&f.as_str()))
            .flat_map(|(_, m)| m.iter().cloned())
            .collect()
    }
}

fn no_org() -> Response {
    Redirect::to("/console/chatbots").into_response()
}

/// The form for a new assistant.
#[utoipa::path(get, path = "/console/chatbots/new", tag = "console",
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 303, description = "Without a session: to /console/login")))]
pub async fn new_page(State(state): State<AppState>, Lang(t): Lang, headers: HeaderMap) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let Some(org) = ctx.org else { return Ok(no_org()) };
    let values = Values::from_chatbot(&defaults(org, &state.catalog));
    let page = FormPage::new(&state, &ctx, None, values, Vec::new()).await?;
    Ok(render(t, StatusCode::OK, &page))
}

/// Creates an assistant (validated as `POST /api/v1/chatbots/` is).
#[utoipa::path(post, path = "/console/chatbots/new", tag = "console",
    request_body(content = super::docs::ChatbotForm,
        content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "Created: to the table"),
        (status = 400, description = "The form again, with field errors (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)")))]
pub async fn create(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let Some(org) = ctx.org else { return Ok(no_org()) };
    let values = Values::from_form(&form);
    let payload = values.payload(Some(state.catalog.default_rag().id));
    let changes = match Changes::parse(&state, org, payload, false).await {
        Ok(changes) => changes,
        Err(err) if err.field_errors().is_some() => {
            let errors = field_messages(t, &err);
            let page = FormPage::new(&state, &ctx, None, values, errors).await?;
            return Ok(render(t, StatusCode::BAD_REQUEST, &page));
        }
        Err(err) => return Err(fail(t, err)),
    };
    let chatbot = changes.apply(defaults(org, &state.catalog));
    state
        .store
        .write(move |db| db.insert_chatbot(&chatbot))
        .await
        .map_err(|e| fail(t, e.into()))?;
    Ok(Redirect::to("/console/chatbots?notice=created").into_response())
}

/// The form for an existing assistant.
#[utoipa::path(get, path = "/console/chatbots/{id}/edit", tag = "console",
    params(("id" = Uuid, Path, description = "The assistant")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 404, description = "Not an assistant of this organisation (HTML)")))]
pub async fn edit_page(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let Some(org) = ctx.org else { return Ok(no_org()) };
    let id = parse_id(&id).ok_or_else(|| not_found(t))?;
    let chatbot =
        state.store.read(move |db| db.get_chatbot(org, id)).await.map_err(|e| fail(t, e.into()))?;
    let values = Values::from_chatbot(&chatbot);
    let page = FormPage::new(&state, &ctx, Some(&chatbot), values, Vec::new()).await?;
    Ok(render(t, StatusCode::OK, &page))
}

/// Saves an assistant's settings.
#[utoipa::path(post, path = "/console/chatbots/{id}/edit", tag = "console",
    request_body(content = super::docs::ChatbotForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The assistant")),
    responses((status = 303, description = "Saved: to the table"),
        (status = 400, description = "The form again, with field errors (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)")))]
pub async fn update(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let Some(org) = ctx.org else { return Ok(no_org()) };
    let id = parse_id(&id).ok_or_else(|| not_found(t))?;
    let values = Values::from_form(&form);
    match save(&state, &ctx.caller(), &id.to_string(), values.payload(None), true).await {
        Ok(_) => Ok(Redirect::to("/console/chatbots?notice=updated").into_response()),
        Err(err) if err.field_errors().is_some() => {
            let errors = field_messages(t, &err);
            let chatbot = state
                .store
                .read(move |db| db.get_chatbot(org, id))
                .await
                .map_err(|e| fail(t, e.into()))?;
            let page = FormPage::new(&state, &ctx, Some(&chatbot), values, errors).await?;
            Ok(render(t, StatusCode::BAD_REQUEST, &page))
        }
        Err(err) => Err(fail(t, err)),
    }
}

/// Deletes an assistant.
#[utoipa::path(post, path = "/console/chatbots/{id}/delete", tag = "console",
    request_body(content = super::docs::CsrfForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The assistant")),
    responses((status = 303, description = "Deleted: to the table"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)")))]
pub async fn delete(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let Some(org) = ctx.org else { return Ok(no_org()) };
    let id = parse_id(&id).ok_or_else(|| not_found(t))?;
    state.store.write(move |db| db.delete_chatbot(org, id)).await.map_err(|e| fail(t, e.into()))?;
    Ok(Redirect::to("/console/chatbots?notice=deleted").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(links: &[PageLink]) -> Vec<u64> {
        links.iter().map(|l| l.number).collect()
    }

    #[test]
    fn page_links_elide_far_pages() {
        assert_eq!(shown(&page_links(1, 1)), [1]);
        assert_eq!(shown(&page_links(2, 5)), [1, 2, 3, 4, 5]);
        assert_eq!(shown(&page_links(1, 20)), [1, 2, 3, 0, 20]);
        assert_eq!(shown(&page_links(10, 20)), [1, 0, 8, 9, 10, 11, 12, 0, 20]);
        assert!(page_links(10, 20).iter().any(|l| l.current && l.number == 10));
    }
}
