//! The reply engine: from a stored question to a stored answer.
//!
//! [`start`] decides how to answer and starts doing it, before anything is sent to the person
//! asking, so a refusal or an outage of the model becomes a proper HTTP error:
//! 1. retrieval from the assistant's knowledge bases (label, file and knowledge-base filters
//!    from the message's `queryMetadata`), unless the assistant has none;
//! 2. the reply mode: `template` answers only from a matching FAQ (through the template) or
//!    with the unanswerable template, never calling a model; `hybrid` answers a matching FAQ
//!    that way and asks the model otherwise; `normal` (and the other modes) asks the model;
//! 3. the prompt (instructions, passages, history, the question with its attachments:
//!    images for vision models, documents parsed into passages), and the model's stream.
//!
//! [`Reply::next`] then yields the answer piece by piece, converted to Taiwan Traditional
//! when the assistant asks for it, and [`run`] drives it to the end, forwards it to whoever
//! listens, and stores it with its citations and usage.

use std::collections::{HashSet, VecDeque};

use futures::StreamExt;
use openmai_models::ModelError;
use openmai_models::chat::{ChatEvent, ChatStream, Part, Usage};
use openmai_store::models::{
    Attachment, Chatbot, KbFile, Message, MessageStatus, MessageType, MessageUsage, NewMessage,
    ReplyOutcome,
};
use openmai_types::{Code, ErrorCode};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::chat::Responder;
use crate::chat::citations::{Citations, Passage, Source, cited_numbers};
use crate::chat::convert::StreamConverter;
use crate::chat::prompt::{self, Parts};
use crate::chat::tokens::{count_words, estimate_tokens};
use crate::error::{ApiError, ApiResult};
use crate::knowledge::{SearchHit, SearchRequest};
use crate::state::AppState;

/// Earlier messages read for the prompt (the prompt keeps what fits).
const HISTORY_MESSAGES: u64 = 40;
/// Passages of an attached document offered to the model.
const ATTACHMENT_PASSAGES: usize = 6;
/// Largest image sent to a vision model.
const MAX_IMAGE_BYTES: u64 = 20 * 1024 * 1024;
/// An FAQ answers directly when its question and the person's share this much of their
/// terms, both ways.
const FAQ_MATCH: f32 = 0.6;
/// Why a streamed reply stopped early when nobody was reading any more.
pub const DISCONNECTED: &str = "The client disconnected before the reply was complete.";

/// A question to answer.
#[derive(Debug, Clone)]
pub struct Turn {
    pub chatbot: Chatbot,
    /// The stored incoming message.
    pub question: Message,
}

enum Pieces {
    /// Text decided in advance (templates, FAQ answers, the offline responder), sent a
    /// sentence at a time.
    Fixed(VecDeque<String>),
    Model(ChatStream),
}

/// An answer on its way.
pub struct Reply {
    pieces: Pieces,
    converter: Option<StreamConverter>,
    /// The answer so far, as sent.
    text: String,
    usage: Option<Usage>,
    prompt_tokens: usize,
    passages: Vec<Passage>,
    /// Which passages the answer cites, when that is known in advance.
    cited: Option<Vec<usize>>,
    /// `provider/model`, or `template` for a reply written without a model.
    model: String,
    finished: bool,
}

impl Reply {
    fn fixed(text: String, model: &str, passages: Vec<Passage>, cited: Vec<usize>) -> Reply {
        Reply {
            pieces: Pieces::Fixed(sentences(&text)),
            converter: None,
            text: String::new(),
            usage: None,
            prompt_tokens: 0,
            passages,
            cited: Some(cited),
            model: model.to_owned(),
            finished: false,
        }
    }

    /// The next piece of the answer (never empty), an error that ends it, or `None` at the
    /// end.
    pub async fn next(&mut self) -> Option<Result<String, ModelError>> {
        loop {
            if self.finished {
                return None;
            }
            let raw = match &mut self.pieces {
                Pieces::Fixed(queue) => queue.pop_front(),
                Pieces::Model(stream) => match stream.next().await {
                    Some(Ok(ChatEvent::Delta(text))) => Some(text),
                    Some(Ok(ChatEvent::Usage(usage))) => {
                        self.usage = Some(usage);
                        continue;
                    }
                    // No tools are offered, so a call is ignored.
                    Some(Ok(ChatEvent::ToolCall(_))) => continue,
                    Some(Ok(ChatEvent::Finish(_))) | None => None,
                    Some(Err(err)) => {
                        self.finish();
                        return Some(Err(err));
                    }
                },
            };
            let piece = match raw {
                Some(text) => match &mut self.converter {
                    Some(converter) => converter.push(&text),
                    None => text,
                },
                None => {
                    self.finish();
                    self.converter.as_mut().map(StreamConverter::finish).unwrap_or_default()
                }
            };
            if !piece.is_empty() {
                self.text.push_str(&piece);
                return Some(Ok(piece));
            }
        }
    }

    /// Stops: a model's stream is dropped here, closing its connection, so the provider stops
    /// writing (and billing) an answer nobody reads.
    fn finish(&mut self) {
        self.finished = true;
        self.pieces = Pieces::Fixed(VecDeque::new());
    }

    /// What is left of the reply once it is over, to store.
    fn into_answered(mut self) -> Answered {
        self.finish();
        Answered {
            text: self.text,
            usage: self.usage,
            prompt_tokens: self.prompt_tokens,
            passages: self.passages,
            cited: self.cited,
            model: self.model,
        }
    }
}

/// A reply that is over (complete or not), ready to store.
struct Answered {
    text: String,
    usage: Option<Usage>,
    prompt_tokens: usize,
    passages: Vec<Passage>,
    cited: Option<Vec<usize>>,
    model: String,
}

/// Decides how to answer `turn` and starts answering (see the module documentation).
pub async fn start(state: &AppState, turn: &Turn) -> ApiResult<Reply> {
    let chatbot = &turn.chatbot;
    let org = chatbot.organization_id;
    let Some((model_name, responder)) = state.chat.responder(chatbot.large_language_model_id)
    else {
        return Err(ApiError::with_detail(
            Code::ModelUnsupported,
            "The assistant's language model is not configured on this server; choose another \
             in the assistant's settings.",
        ));
    };
    let question = turn.question.content.trim().to_owned();
    let filters = Filters::from_metadata(turn.question.query_metadata.as_ref());

    // Retrieval.
    let kb_ids: Vec<Uuid> = chatbot
        .knowledge_bases
        .iter()
        .map(|kb| kb.id)
        .filter(|id| filters.knowledge_bases.as_ref().is_none_or(|only| only.contains(id)))
        .collect();
    let grounded = !chatbot.knowledge_bases.is_empty();
    let hits = if kb_ids.is_empty() || question.is_empty() {
        Vec::new()
    } else {
        let knowledge_bases = state
            .store
            .read(move |db| kb_ids.iter().map(|id| db.get_kb(org, *id)).collect())
            .await?;
        let limit = usize::try_from(chatbot.number_of_retrieved_chunks).unwrap_or(12).max(1);
        state
            .knowledge
            .search(
                org,
                SearchRequest {
                    query: question.clone(),
                    limit,
                    similarity_cutoff: None,
                    label_ids: filters.labels.clone(),
                    file_ids: filters.files.clone(),
                    knowledge_bases,
                },
            )
            .await?
    };

    // Template and hybrid modes: a matching FAQ answers directly.
    let mode = chatbot.reply_mode.as_str();
    if matches!(mode, "template" | "hybrid")
        && let Some(index) = matching_faq(&question, &hits)
    {
        let SearchHit::Faq { faq, .. } = &hits[index] else { unreachable!("matched an FAQ") };
        let text = render(chatbot.template.as_deref(), &question, &faq.answer);
        let passage = Passage::from_hit(hits[index].clone());
        return Ok(converted(Reply::fixed(text, "template", vec![passage], vec![1]), chatbot));
    }
    if mode == "template" {
        let text = unanswerable(chatbot, &question);
        return Ok(converted(Reply::fixed(text, "template", Vec::new(), Vec::new()), chatbot));
    }

    // The model answers: attachments, passages, history, prompt.
    let (mut parts, mut passages) = question_parts(state, turn, responder).await?;
    passages.extend(hits.into_iter().map(Passage::from_hit));
    if grounded
        && passages.is_empty()
        && chatbot.unanswerable_template.as_deref().is_some_and(|t| !t.trim().is_empty())
    {
        let text = unanswerable(chatbot, &question);
        return Ok(converted(Reply::fixed(text, "template", Vec::new(), Vec::new()), chatbot));
    }
    let question_at = turn.question.created_at;
    let (conversation, except) = (turn.question.conversation_id, turn.question.id);
    let history = state
        .store
        .read(move |db| {
            db.conversation_history(conversation, question_at, except, HISTORY_MESSAGES)
        })
        .await?;
    if parts.is_empty() {
        parts.push(Part::Text(String::new()));
    }
    let prompt = prompt::build(Parts {
        instructions: &chatbot.instructions,
        passages: &passages,
        grounded,
        history: &history,
        question: parts,
        context_tokens: responder.context_tokens(),
    });
    passages.truncate(prompt.passages_used);

    let reply = match responder {
        Responder::Offline(offline) => {
            let answer = offline.answer(&question, &prompt.request.documents);
            if !answer.grounded
                && chatbot.unanswerable_template.as_deref().is_some_and(|t| !t.trim().is_empty())
            {
                Reply::fixed(unanswerable(chatbot, &question), "template", Vec::new(), Vec::new())
            } else {
                let cited = answer.cited.iter().map(|i| i + 1).collect();
                let mut reply = Reply::fixed(answer.text, model_name, passages, cited);
                reply.prompt_tokens = prompt.tokens;
                reply
            }
        }
        Responder::Model(model) => {
            // The provider's own words (key-free) say more than the table's default text.
            let stream = model
                .stream(prompt.request)
                .await
                .map_err(|err| ApiError::with_detail(err.error_code(), err.to_string()))?;
            Reply {
                pieces: Pieces::Model(stream),
                converter: None,
                text: String::new(),
                usage: None,
                prompt_tokens: prompt.tokens,
                passages,
                cited: None,
                model: model_name.to_owned(),
                finished: false,
            }
        }
    };
    Ok(converted(reply, chatbot))
}

/// Turns conversion on for assistants that ask for it.
fn converted(mut reply: Reply, chatbot: &Chatbot) -> Reply {
    if chatbot.enable_chinese_conversion {
        reply.converter = Some(StreamConverter::default());
    }
    reply
}

/// Drives `reply` to its end, sending each piece to `sink` while someone listens, and stores
/// the answer as the question's reply: complete, or as far as it got with the reason it
/// stopped (the model failed, `stop` was cancelled, or the listener went away, which also
/// stops the model). Returns the stored reply.
pub async fn run(
    state: &AppState,
    turn: &Turn,
    mut reply: Reply,
    sink: Option<mpsc::Sender<String>>,
    stop: CancellationToken,
) -> ApiResult<Message> {
    let mut failure: Option<String> = None;
    loop {
        // The listener leaving is noticed while the model is silent too (its connection fails
        // at the next keep-alive), not only when the next piece cannot be sent.
        let gone = async {
            match &sink {
                Some(sink) => sink.closed().await,
                None => std::future::pending().await,
            }
        };
        let next = tokio::select! {
            next = reply.next() => next,
            () = stop.cancelled() => {
                failure = Some(DISCONNECTED.to_owned());
                break;
            }
            () = gone => {
                failure = Some(DISCONNECTED.to_owned());
                break;
            }
        };
        match next {
            None => break,
            Some(Ok(piece)) => {
                if let Some(sink) = &sink
                    && sink.send(piece).await.is_err()
                {
                    failure = Some(DISCONNECTED.to_owned());
                    break;
                }
            }
            Some(Err(err)) => {
                tracing::warn!(%err, chatbot = %turn.chatbot.id, "a reply failed");
                failure = Some(err.to_string());
                break;
            }
        }
    }
    store_reply(state, turn, reply.into_answered(), failure).await
}

/// Records that `turn` could not be answered at all (the model refused, say), so the
/// conversation shows it. Best effort: the caller is already answering with the error.
pub async fn record_failure(state: &AppState, turn: &Turn, reason: String) {
    let nothing = Reply::fixed(String::new(), "", Vec::new(), Vec::new()).into_answered();
    if let Err(err) = store_reply(state, turn, nothing, Some(reason)).await {
        tracing::warn!(%err, "could not record a failed reply");
    }
}

/// Stores the reply with its citations and usage, and counts its words into the assistant's
/// total.
async fn store_reply(
    state: &AppState,
    turn: &Turn,
    reply: Answered,
    failure: Option<String>,
) -> ApiResult<Message> {
    let org = turn.chatbot.organization_id;
    let file_ids = Citations::file_ids(&reply.passages);
    let files: Vec<KbFile> = if file_ids.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .read(move |db| {
                Ok(file_ids.iter().filter_map(|id| db.get_file(org, *id).ok()).collect())
            })
            .await?
    };
    let cited = match (&reply.cited, &failure) {
        (_, Some(_)) if reply.text.is_empty() => Vec::new(),
        (Some(cited), _) => cited.clone(),
        (None, _) => cited_numbers(&reply.text, reply.passages.len()),
    };
    let words = count_words(&reply.text);
    let usage = reply.usage.unwrap_or(Usage {
        input_tokens: reply.prompt_tokens as u64,
        output_tokens: estimate_tokens(&reply.text) as u64,
    });
    let citations = Citations::of(&reply.passages, &cited, &files).to_json();
    let outcome = ReplyOutcome {
        content: reply.text,
        status: if failure.is_some() { MessageStatus::Failed } else { MessageStatus::Done },
        citations,
        model: Some(reply.model),
        usage: MessageUsage {
            input_tokens: i64::try_from(usage.input_tokens).unwrap_or(i64::MAX),
            output_tokens: i64::try_from(usage.output_tokens).unwrap_or(i64::MAX),
            words_count: words,
        },
        error: failure,
    };
    let new = NewMessage {
        organization_id: org,
        conversation_id: turn.question.conversation_id,
        message_type: MessageType::Outgoing,
        sender_id: Some(turn.chatbot.id),
        sender_name: turn.chatbot.name.clone(),
        content: outcome.content.clone(),
        status: outcome.status,
        reply_to_id: Some(turn.question.id),
        query_metadata: None,
        content_payload: None,
        attachment_ids: Vec::new(),
    };
    let chatbot = turn.chatbot.id;
    let stored = state
        .store
        .write(move |db| {
            db.transaction(|db| {
                db.add_chatbot_words(chatbot, words)?;
                db.insert_reply(&new, &outcome)
            })
        })
        .await?;
    let _ = state.chat.happened.send(crate::chat::Happened::Replied {
        conversation: stored.conversation_id,
        message: stored.id,
    });
    Ok(stored)
}

/// The question's own parts (its text, images for models that see them) and passages from
/// its attached documents.
async fn question_parts(
    state: &AppState,
    turn: &Turn,
    responder: &Responder,
) -> ApiResult<(Vec<Part>, Vec<Passage>)> {
    let question = turn.question.content.trim();
    let mut text = question.to_owned();
    let mut images = Vec::new();
    let mut passages = Vec::new();
    for attachment in &turn.question.attachments {
        match attachment.attachment_type.as_str() {
            "image" if responder.accepts_images() => match read_image(state, attachment).await {
                Ok(part) => images.push(part),
                Err(reason) => {
                    note(&mut text, &format!("{} could not be read: {reason}", attachment.filename))
                }
            },
            "image" | "video" | "audio" | "sticker" => note(
                &mut text,
                &format!("attached {}: {}", attachment.attachment_type, attachment.filename),
            ),
            _ => match document_passages(state, attachment, question).await {
                Ok(found) if !found.is_empty() => passages.extend(found),
                Ok(_) => {
                    note(&mut text, &format!("attached file {} has no text", attachment.filename))
                }
                Err(reason) => {
                    note(&mut text, &format!("{} could not be read: {reason}", attachment.filename))
                }
            },
        }
    }
    let mut parts = Vec::new();
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    parts.extend(images);
    Ok((parts, passages))
}

/// Adds a bracketed note about an attachment to the question's text.
fn note(text: &mut String, note: &str) {
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("[{note}]"));
}

async fn read_image(state: &AppState, attachment: &Attachment) -> Result<Part, String> {
    let media_type = match extension(&attachment.filename).as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        other => return Err(format!("images of type {other:?} are not supported")),
    };
    let path = state.knowledge.temp_path(&format!("image-{}", Uuid::new_v4()));
    let fetched =
        state.knowledge.blobs.get_to_file(&attachment.storage_key, &path, MAX_IMAGE_BYTES).await;
    let bytes = match fetched {
        Ok(_) => tokio::fs::read(&path).await.map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    let _ = tokio::fs::remove_file(&path).await;
    Ok(Part::Image { media_type: media_type.to_owned(), data: bytes?.into() })
}

/// The attached document's passages most relevant to the question, parsed (like knowledge
/// files) in an isolated, bounded child process.
async fn document_passages(
    state: &AppState,
    attachment: &Attachment,
    question: &str,
) -> Result<Vec<Passage>, String> {
    let knowledge = &state.knowledge;
    let path = knowledge.temp_path(&format!("attachment-{}", Uuid::new_v4()));
    let max_bytes = knowledge.settings.max_upload_bytes;
    let parsed = async {
        knowledge
            .blobs
            .get_to_file(&attachment.storage_key, &path, max_bytes)
            .await
            .map_err(|e| e.to_string())?;
        let options = openmai_ingest::IngestOptions {
            limits: openmai_ingest::Limits { max_file_bytes: max_bytes, ..Default::default() },
            ..Default::default()
        };
        knowledge
            .parsers
            .parse(&path, &attachment.filename, &options)
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    let _ = tokio::fs::remove_file(&path).await;
    let chunks = match parsed? {
        crate::knowledge::parse::Outcome::Parsed(parsed) => parsed.file.chunks,
        crate::knowledge::parse::Outcome::Refused { message, .. } => return Err(message),
    };
    // The chunks sharing most of the question's terms, kept in document order.
    let wanted: HashSet<String> = openmai_index::analyzer::terms(question).into_iter().collect();
    let mut ranked: Vec<(usize, usize)> = chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let terms: HashSet<String> =
                openmai_index::analyzer::terms(&chunk.text).into_iter().collect();
            (wanted.intersection(&terms).count(), i)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<usize> =
        ranked.into_iter().take(ATTACHMENT_PASSAGES).map(|(_, i)| i).collect();
    chosen.sort_unstable();
    Ok(chosen
        .into_iter()
        .map(|i| Passage {
            title: match chunks[i].page_number {
                Some(page) => format!("{} (p. {page})", attachment.filename),
                None => attachment.filename.clone(),
            },
            text: chunks[i].text.clone(),
            score: 1.0,
            source: Source::Attachment { id: attachment.id, filename: attachment.filename.clone() },
        })
        .collect())
}

fn extension(filename: &str) -> String {
    filename.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default()
}

/// Filters a message's `queryMetadata` puts on retrieval: `labels` (label ids, or `{id}`
/// objects), `files` and `knowledgeBases` (ids, the latter limited to the assistant's own).
/// snake_case spellings and `…Ids` forms are accepted too.
#[derive(Debug, Default)]
struct Filters {
    labels: Option<Vec<Uuid>>,
    files: Option<Vec<Uuid>>,
    knowledge_bases: Option<Vec<Uuid>>,
}

impl Filters {
    fn from_metadata(metadata: Option<&Value>) -> Filters {
        let Some(Value::Object(map)) = metadata else { return Filters::default() };
        let ids = |keys: &[&str]| {
            keys.iter().find_map(|key| map.get(*key)).and_then(Value::as_array).map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str().or_else(|| item.get("id")?.as_str()))
                    .filter_map(|text| Uuid::parse_str(text).ok())
                    .collect::<Vec<Uuid>>()
            })
        };
        Filters {
            labels: ids(&["labels", "labelIds", "label_ids"]),
            files: ids(&["files", "fileIds", "file_ids"]),
            knowledge_bases: ids(&["knowledgeBases", "knowledge_bases", "knowledgeBaseIds"]),
        }
    }
}

/// The first of the top hits that is an FAQ asking what the person asks.
fn matching_faq(question: &str, hits: &[SearchHit]) -> Option<usize> {
    let asked: HashSet<String> = openmai_index::analyzer::terms(question).into_iter().collect();
    if asked.is_empty() {
        return None;
    }
    hits.iter().take(3).position(|hit| {
        let SearchHit::Faq { faq, .. } = hit else { return false };
        let terms: HashSet<String> =
            openmai_index::analyzer::terms(&faq.question).into_iter().collect();
        let shared = asked.intersection(&terms).count() as f32;
        !terms.is_empty()
            && shared / asked.len() as f32 >= FAQ_MATCH
            && shared / terms.len() as f32 >= FAQ_MATCH
    })
}

/// The assistant's `template` with `{{ answer }}` and `{{ question }}` filled in (Jinja
/// syntax); no template means the answer as it is. A template that cannot be rendered is
/// sent as written.
fn render(template: Option<&str>, question: &str, answer: &str) -> String {
    let Some(template) = template.filter(|t| !t.trim().is_empty()) else {
        return answer.to_owned();
    };
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(50_000));
    env.render_str(template, minijinja::context! { answer, question }).unwrap_or_else(|err| {
        tracing::warn!(%err, "an assistant's template could not be rendered");
        template.to_owned()
    })
}

/// The assistant's unanswerable template, or a plain "nothing found" in the question's
/// language (Traditional, Simplified or English).
fn unanswerable(chatbot: &Chatbot, question: &str) -> String {
    if let Some(template) =
        chatbot.unanswerable_template.as_deref().filter(|t| !t.trim().is_empty())
    {
        return render(Some(template), question, "");
    }
    // The offline responder says it in the question's language when it has nothing to go on.
    openmai_models::OfflineResponder::default().answer(question, &[]).text
}

/// Text cut after each sentence end, so fixed replies stream like a model's.
fn sentences(text: &str) -> VecDeque<String> {
    let mut pieces = VecDeque::new();
    let mut current = String::new();
    for c in text.chars() {
        current.push(c);
        if matches!(c, '。' | '！' | '？' | '；' | '\n' | '.' | '!' | '?') {
            pieces.push_back(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push_back(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_metadata_filters_accept_ids_and_objects_in_both_casings() {
        let label = Uuid::new_v4();
        let file = Uuid::new_v4();
        let filters = Filters::from_metadata(Some(&serde_json::json!({
            "labels": [label.to_string(), {"id": label.to_string()}, "not-a-uuid"],
            "file_ids": [file.to_string()],
        })));
        assert_eq!(filters.labels, Some(vec![label, label]));
        assert_eq!(filters.files, Some(vec![file]));
        assert_eq!(filters.knowledge_bases, None);
        assert!(Filters::from_metadata(Some(&serde_json::json!("x"))).labels.is_none());
    }

    #[test]
    fn templates_fill_in_the_answer_and_survive_mistakes() {
        assert_eq!(render(Some("您好，{{ answer }}"), "q", "可以退票。"), "您好，可以退票。");
        assert_eq!(render(None, "q", "可以退票。"), "可以退票。");
        assert_eq!(render(Some("請撥客服專線。"), "q", "x"), "請撥客服專線。");
        assert_eq!(render(Some("{{ broken"), "q", "x"), "{{ broken");
    }

    #[test]
    fn fixed_text_streams_a_sentence_at_a_time() {
        let pieces: Vec<String> = sentences("第一句。第二句！Third. end").into();
        assert_eq!(pieces, ["第一句。", "第二句！", "Third.", " end"]);
        assert_eq!(pieces.concat(), "第一句。第二句！Third. end");
    }
}
