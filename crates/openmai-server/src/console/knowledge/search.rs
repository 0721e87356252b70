//! 搜尋測試: asks the knowledge base a question the way an assistant would (the knowledge
//! service's retrieval, validated as `knowledge-bases/{id}/search/` is) and shows the
//! passages and FAQs found, best first, with their scores.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use super::super::i18n::{Lang, Text};
use super::super::{Chrome, Ctx, Fields, Page, fail, field_messages, render};
use super::{KbHeader, MENU, load_kb};
use crate::api::knowledge_bases::MAX_RETRIEVED_CHUNKS;
use crate::knowledge::{SearchHit, SearchRequest};
use crate::state::AppState;
use crate::wire::form::{Form, Rule, Text as TextRule};
use crate::wire::payload::Payload;

/// The longest query, as the API allows.
const MAX_QUERY: usize = 10_000;

/// One hit, as the results list shows it.
pub struct HitRow {
    pub rank: usize,
    /// `chunk` or `faq`.
    pub kind: &'static str,
    pub kind_label: &'static str,
    /// `0.873`.
    pub score: String,
    pub file_id: Option<String>,
    pub filename: Option<String>,
    pub page: Option<i64>,
    pub heading: Option<String>,
    /// The passage (for an FAQ, its answer).
    pub text: String,
    pub question: Option<String>,
    pub labels: String,
}

impl HitRow {
    fn new(rank: usize, hit: SearchHit, t: &'static Text) -> HitRow {
        let score = format!("{:.3}", hit.score());
        match hit {
            SearchHit::Chunk { chunk, labels, .. } => HitRow {
                rank,
                kind: "chunk",
                kind_label: t.hit_chunk,
                score,
                file_id: Some(chunk.file_id.to_string()),
                filename: Some(chunk.filename),
                page: chunk.page_number,
                heading: chunk.heading.filter(|h| !h.trim().is_empty()),
                text: chunk.content,
                question: None,
                labels: labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "),
            },
            SearchHit::Faq { faq, .. } => HitRow {
                rank,
                kind: "faq",
                kind_label: t.hit_faq,
                score,
                file_id: None,
                filename: None,
                page: None,
                heading: None,
                labels: faq.labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", "),
                question: Some(faq.question),
                text: faq.answer,
            },
        }
    }
}

#[derive(Template)]
#[template(path = "kb_search.html")]
struct SearchPage {
    t: &'static Text,
    c: Chrome,
    kb: KbHeader,
    query: String,
    limit: String,
    max_limit: i64,
    errors: Vec<(String, Vec<String>)>,
    /// `None` until a search ran.
    hits: Option<Vec<HitRow>>,
}

impl SearchPage {
    fn error_for(&self, field: &str) -> Option<String> {
        self.errors.iter().find(|(f, _)| f == field).map(|(_, m)| m.join(" "))
    }
}

/// The 搜尋測試 tab.
#[utoipa::path(get, path = "/console/knowledge-bases/{id}/search", tag = "console",
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 200, description = "The page (HTML)", content_type = "text/html"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn page(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Page {
    let ctx = Ctx::load(&state, &headers, t).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let page = SearchPage {
        t,
        c: ctx.chrome(MENU),
        limit: kb.number_of_retrieved_chunks.to_string(),
        kb: KbHeader::new(&state, t, &kb, "search"),
        query: String::new(),
        max_limit: MAX_RETRIEVED_CHUNKS,
        errors: Vec::new(),
        hits: None,
    };
    Ok(render(t, StatusCode::OK, &page))
}

/// Runs the search test and shows the hits (a POST: retrieval counts hits).
#[utoipa::path(post, path = "/console/knowledge-bases/{id}/search", tag = "console",
    request_body(content = super::super::docs::SearchForm,
        content_type = "application/x-www-form-urlencoded"),
    params(("id" = Uuid, Path, description = "The knowledge base")),
    responses((status = 200, description = "The page with the hits (HTML)", content_type = "text/html"),
        (status = 400, description = "The form again, with field errors (HTML)"),
        (status = 403, description = "Wrong CSRF token or a cross-site Origin (HTML)"),
        (status = 404, description = "Not a knowledge base of this organisation (HTML)")))]
pub async fn run(
    State(state): State<AppState>,
    Lang(t): Lang,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Fields,
) -> Page {
    let ctx = Ctx::load_checked(&state, &headers, t, &form).await?;
    let kb = load_kb(&state, &ctx, &id).await?;
    let query = form.text("query").replace("\r\n", "\n");
    let limit = form.text("numberOfRetrievedChunks").trim().to_owned();
    let mut body = Map::new();
    body.insert("query".into(), json!(query));
    if !limit.is_empty() {
        body.insert("numberOfRetrievedChunks".into(), json!(limit));
    }
    let mut check = Form::new(Payload(Value::Object(body)), false).map_err(|e| fail(t, e))?;
    let text = check.text("query", TextRule::required(MAX_QUERY));
    let wanted = check.integer("numberOfRetrievedChunks", Rule::OPTIONAL, 1, MAX_RETRIEVED_CHUNKS);
    let mut page = SearchPage {
        t,
        c: ctx.chrome(MENU),
        kb: KbHeader::new(&state, t, &kb, "search"),
        query,
        limit,
        max_limit: MAX_RETRIEVED_CHUNKS,
        errors: Vec::new(),
        hits: None,
    };
    if let Err(err) = check.finish() {
        page.errors = field_messages(t, &err);
        return Ok(render(t, StatusCode::BAD_REQUEST, &page));
    }
    let request = SearchRequest {
        query: text.set().unwrap_or_default(),
        limit: usize::try_from(wanted.or(kb.number_of_retrieved_chunks)).unwrap_or(12),
        similarity_cutoff: None,
        label_ids: None,
        file_ids: None,
        knowledge_bases: vec![kb.clone()],
    };
    let hits = state.knowledge.search(kb.organization_id, request).await.map_err(|e| fail(t, e))?;
    page.hits =
        Some(hits.into_iter().enumerate().map(|(n, hit)| HitRow::new(n + 1, hit, t)).collect());
    Ok(render(t, StatusCode::OK, &page))
}
