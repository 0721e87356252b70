//! 常見問題: a knowledge base's FAQs (10 a page, newest first), added, edited and deleted
//! through the knowledge service, which indexes them for search. Validation is the API's
//! (`question` and `answer` required, the same lengths).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use openmai_store::StoreError;
use openmai_store::models::{Faq, KnowledgeBase, Label, LabelRef};
use openmai_types::Timestamp;
use serde_json::json;
use uuid::Uuid;

use super::super::i18n::{Lang, Text};
use super::super::{
    Chrome, Ctx, Fields, Page, fail, field_messages, not_found, notice, render, time,
};
use super::{KbHeader, MENU, Pager, load_kb, paged, path_id};
use crate::api::kb_faqs::{MAX_ANSWER, MAX_QUESTION};
use crate::api::knowledge_bases::everything;
use crate::console::chatbots::{Choice, page_param};
use crate::error::{ApiResult, NON_FIELD_ERRORS};
use crate::state::AppState;
use crate::wire::form::{Form, Text as TextRule};
use crate::wire::payload::Payload;

pub struct FaqRow {
    pub id: String,
    pub question: String,
    pub answer: String,
    pub labels: String,
    pub hits: i64,
    pub updated: String,
    pub updated_iso: String,
}

impl From<Faq> for FaqRow {
    fn from(faq: Faq) -> FaqRow {
        FaqRow {
            id: faq.id.to_string(),
            labels: super::or_dash(
                faq.labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "),
            ),
            question: faq.question,
            answer: faq.answer,
            hits: faq.hits_count,
            updated: time::format(faq.updated_at),
            updated_iso: time::iso(faq.updated_at),
        }
    }
}

#[derive(Template)]
#[template(path = "kb_faqs.html")]
struct ListPage {
    t: &'static Text,
    c: Chrome,
    notice: Option<&'static str>,
    kb: KbHeader,
    rows: Vec<FaqRow>,
    pager: Pager,
}

/// The 常見問題 tab: the knowledge base's FAQs, 10 a page, newest first.
#[utoipa::path(get, path = "/console/knowledge-bases/{id}/faqs", tag = "console",
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("page" = Option<u64>, Query, description = "Page number")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn list(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let (org, kb_id) = (kb.organization_id, kb.id);
    let number = page_param(query.as_deref());
    let faqs = state
        .store
        .read(move |db| paged(number, |page| db.list_faqs(org, &[kb_id], page)))
        .await
        .map_err(|e| fail(t, e.into()))?;
    let page = ListPage {
        t,
        c: ctx.chrome(MENU),
        notice: notice(t, query.as_deref()),
        kb: KbHeader::new(&state, t, &kb, "faqs"),
        pager: Pager::new(t, format!("/console/knowledge-bases/{kb_id}/faqs?"), &faqs),
        rows: faqs.items.into_iter().map(FaqRow::from).collect(),
    };
    Ok(render(t, StatusCode::OK, &page))
}

/// What the form shows: the stored FAQ or what the user sent.
struct Values {
    question: String,
    answer: String,
    labels: Vec<String>,
}

impl Values {
    fn from_faq(faq: &Faq) -> Values {
        Values {
            question: faq.question.clone(),
            answer: faq.answer.clone(),
            labels: faq.labels.iter().map(|l| l.id.to_string()).collect(),
        }
    }

    fn from_form(form: &Fields) -> Values {
        Values {
            question: form.text("question").replace("\r\n", "\n"),
            answer: form.text("answer").replace("\r\n", "\n"),
            labels: form.all("labels"),
        }
    }

    /// Validates the values onto `faq` as the API does; labels that are not the knowledge
    /// base's are dropped.
    fn apply(&self, mut faq: Faq, labels: &[Label]) -> ApiResult<Faq> {
        let payload = Payload(json!({ "question": self.question, "answer": self.answer }));
        let mut form = Form::new(payload, false)?;
        let question = form.text("question", TextRule::required(MAX_QUESTION));
        let answer = form.text("answer", TextRule::required(MAX_ANSWER).untrimmed());
        form.finish()?;
        faq.question = question.or(faq.question);
        faq.answer = answer.or(faq.answer);
        faq.labels = labels
            .iter()
            .filter(|l| self.labels.contains(&l.id.to_string()))
            .map(|l| LabelRef { id: l.id, name: l.name.clone() })
            .collect();
        Ok(faq)
    }
}

#[derive(Template)]
#[template(path = "kb_faq_form.html")]
struct FormPage {
    t: &'static Text,
    c: Chrome,
    kb: KbHeader,
    title: &'static str,
    action: String,
    submit: &'static str,
    question: String,
    answer: String,
    labels: Vec<Choice>,
    errors: Vec<(String, Vec<String>)>,
}

impl FormPage {
    fn new(
        state: &AppState,
        ctx: &Ctx,
        kb: &KnowledgeBase,
        editing: Option<Uuid>,
        values: Values,
        labels: Vec<Label>,
        errors: Vec<(String, Vec<String>)>,
    ) -> FormPage {
        let t = ctx.t;
        let (title, action, submit) = match editing {
            Some(faq) => {
                (t.edit_faq, format!("/console/knowledge-bases/{}/faqs/{faq}/edit", kb.id), t.save)
            }
            None => {
                (t.create_faq, format!("/console/knowledge-bases/{}/faqs/new", kb.id), t.create)
            }
        };
        FormPage {
            t,
            c: ctx.chrome(MENU),
            kb: KbHeader::new(state, t, kb, "faqs"),
            title,
            action,
            submit,
            labels: labels
                .into_iter()
                .map(|l| Choice {
                    selected: values.labels.contains(&l.id.to_string()),
                    value: l.id.to_string(),
                    label: l.name,
                })
                .collect(),
            question: values.question,
            answer: values.answer,
            errors,
        }
    }

    fn error_for(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.join(" "))
    }

    fn other_errors(&self) -> Vec<String> {
        self.errors
            .iter()
            .filter(|(f, _)| f == NON_FIELD_ERRORS || !["question", "answer"].contains(&f.as_str()))
            .flat_map(|(_, m)| m.iter().cloned())
            .collect()
    }
}

async fn labels_of(
    state: &AppState,
    t: &'static Text,
    kb: &KnowledgeBase,
) -> Result<Vec<Label>, Response> {
    let (org, kb_id) = (kb.organization_id, kb.id);
    let labels = state.store.read(move |db| db.list_labels(org, kb_id, everything())).await;
    labels.map(|l| l.items).map_err(|e| fail(t, e.into()))
}

/// An FAQ of the knowledge base, else the 404 page.
async fn load_faq(
    state: &AppState,
    t: &'static Text,
    kb: &KnowledgeBase,
    faq_id: &str,
) -> Result<Faq, Response> {
    let faq_id = path_id(t, faq_id)?;
    let (org, kb_id) = (kb.organization_id, kb.id);
    state.store.read(move |db| db.get_faq(org, kb_id, faq_id)).await.map_err(|e| match e {
        StoreError::NotFound => not_found(t),
        other => fail(t, other.into()),
    })
}

fn to_list(kb: Uuid, notice: &str) -> Response {
    Redirect::to(&format!("/console/knowledge-bases/{kb}/faqs?notice={notice}")).into_response()
}

/// The form for a new FAQ.
#[utoipa::path(get, path = "/console/knowledge-bases/{id}/faqs/new", tag = "console",
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn new_page(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let labels = labels_of(&state, t, &kb).await?;
    let values = Values { question: String::new(), answer: String::new(), labels: Vec::new() };
    let page = FormPage::new(&state, &ctx, &kb, None, values, labels, Vec::new());
    Ok(render(t, StatusCode::OK, &page))
}

/// Adds an FAQ (validated as `POST /api/v1/knowledge-bases/{id}/faqs/` is) and indexes it.
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/faqs/new", tag = "console",
    request_body(content = super::super::docs::FaqForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 303, description = "Added: to the FAQs"),
        (status = 400, description = "The form again, with field errors (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn create(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let labels = labels_of(&state, t, &kb).await?;
    let values = Values::from_form(&form);
    let draft = Faq {
        id: Uuid::nil(),
        organization_id: kb.organization_id,
        knowledge_base_id: kb.id,
        question: String::new(),
        answer: String::new(),
        raw_user_define_metadata: None,
        hits_count: 0,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
        labels: Vec::new(),
    };
    let faq = match values.apply(draft, &labels) {
        Ok(faq) => faq,
        Err(err) if err.field_errors().is_some() => {
            let errors = field_messages(t, &err);
            let page = FormPage::new(&state, &ctx, &kb, None, values, labels, errors);
            return Ok(render(t, StatusCode::BAD_REQUEST, &page));
        }
        Err(err) => return Err(fail(t, err)),
    };
    state.knowledge.save_faq(faq, true).await.map_err(|e| fail(t, e))?;
    Ok(to_list(kb.id, "faq-created"))
}

/// The form for an existing FAQ.
#[utoipa::path(get, path = "/console/knowledge-bases/{id}/faqs/{faqId}/edit", tag = "console",
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 404, description = "Not an FAQ of this organisation's knowledge base (HTML)")))]
pub async fn edit_page(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path((id, faq_id)): Path<(String, String)>,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let faq = load_faq(&state, t, &kb, &faq_id).await?;
    let labels = labels_of(&state, t, &kb).await?;
    let values = Values::from_faq(&faq);
    let page = FormPage::new(&state, &ctx, &kb, Some(faq.id), values, labels, Vec::new());
    Ok(render(t, StatusCode::OK, &page))
}

/// Saves an FAQ and re-indexes it.
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/faqs/{faqId}/edit", tag = "console",
    request_body(content = super::super::docs::FaqForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 303, description = "Saved: to the FAQs"),
        (status = 400, description = "The form again, with field errors (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not an FAQ of this organisation's knowledge base (HTML)")))]
pub async fn update(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path((id, faq_id)): Path<(String, String)>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let current = load_faq(&state, t, &kb, &faq_id).await?;
    let labels = labels_of(&state, t, &kb).await?;
    let values = Values::from_form(&form);
    let faq_id = current.id;
    let faq = match values.apply(current, &labels) {
        Ok(faq) => faq,
        Err(err) if err.field_errors().is_some() => {
            let errors = field_messages(t, &err);
            let page = FormPage::new(&state, &ctx, &kb, Some(faq_id), values, labels, errors);
            return Ok(render(t, StatusCode::BAD_REQUEST, &page));
        }
        Err(err) => return Err(fail(t, err)),
    };
    state.knowledge.save_faq(faq, false).await.map_err(|e| fail(t, e))?;
    Ok(to_list(kb.id, "faq-updated"))
}

/// Deletes an FAQ (and its index entry).
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/faqs/{faqId}/delete", tag = "console",
    request_body(content = super::super::docs::CsrfForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base"),
        ("faqId" = Uuid, Path, description = "The FAQ")),
    responses((status = 303, description = "Deleted: to the FAQs"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not an FAQ of this organisation's knowledge base (HTML)")))]
pub async fn delete(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path((id, faq_id)): Path<(String, String)>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let faq = load_faq(&state, t, &kb, &faq_id).await?;
    // One id, never an empty list: `delete_faqs` takes an empty list as "all of them".
    let deleted = state
        .knowledge
        .delete_faqs(kb.organization_id, kb.id, &[faq.id])
        .await
        .map_err(|e| fail(t, e))?;
    if deleted.is_empty() {
        return Err(not_found(t));
    }
    Ok(to_list(kb.id, "faq-deleted"))
}
