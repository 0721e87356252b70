//! The prompt: the assistant's instructions, the numbered passages, as much of the
//! conversation as fits, and the question, within the model's context.
//!
//! The answer gets its share of the context first (a quarter, at most 2,048 tokens). Of the
//! rest, the instructions and the question are always sent; passages come next, best first,
//! up to 60% of the context; the conversation's earlier turns fill what is left, newest first.
//! Sizes are [`estimate_tokens`] estimates, which err on the high side.

use openmai_models::chat::{ChatMessage, ChatRequest, Document, Part, Role};
use openmai_store::models::{Message, MessageType};

use crate::chat::citations::Passage;
use crate::chat::tokens::estimate_tokens;

/// Longest answer asked for, in tokens.
const MAX_ANSWER_TOKENS: usize = 2048;
/// What an image costs in the estimate (providers charge roughly this for a normal photo).
const IMAGE_TOKENS: usize = 1000;

/// Everything a prompt is made of.
pub struct Parts<'a> {
    pub instructions: &'a str,
    /// Retrieved passages, best first.
    pub passages: &'a [Passage],
    /// The assistant answers from knowledge bases (so the grounding rules apply).
    pub grounded: bool,
    /// Earlier turns, oldest first.
    pub history: &'a [Message],
    /// The question: its text, and images for models that take them.
    pub question: Vec<Part>,
    pub context_tokens: usize,
}

/// The request, and how many of the passages (the first ones) it carries.
pub struct Prompt {
    pub request: ChatRequest,
    pub passages_used: usize,
    /// The estimated size of the prompt, for usage when the model reports none.
    pub tokens: usize,
}

const GROUNDING: &str = "Answer the question from the knowledge-base passages below. Use only \
what they say, and cite each passage you use with its number in square brackets, like [1]. If \
they do not contain the answer, say plainly that the knowledge base has no information about \
it. Answer in the language of the question.";

const NOTHING_FOUND: &str = "No passage of the knowledge base matches this question. If the \
conversation does not answer it either, say plainly that the knowledge base has no information \
about it. Answer in the language of the question.";

pub fn build(parts: Parts<'_>) -> Prompt {
    let answer_tokens = (parts.context_tokens / 4).clamp(256, MAX_ANSWER_TOKENS);
    let budget = parts.context_tokens.saturating_sub(answer_tokens);
    let question_tokens: usize = parts
        .question
        .iter()
        .map(|part| match part {
            Part::Text(text) => estimate_tokens(text),
            Part::Image { .. } => IMAGE_TOKENS,
        })
        .sum();

    let mut system = parts.instructions.trim().to_owned();
    if parts.grounded {
        if !system.is_empty() {
            system.push_str("\n\n");
        }
        system.push_str(if parts.passages.is_empty() { NOTHING_FOUND } else { GROUNDING });
    }
    let mut used = estimate_tokens(&system) + question_tokens;

    // Passages, best first, up to 60% of the context (always at least the best one).
    let passage_budget = budget * 3 / 5;
    let mut documents: Vec<Document> = Vec::new();
    for (i, passage) in parts.passages.iter().enumerate() {
        let document = passage.document(i + 1);
        let block = format!("\n\n[{}] {}\n{}", document.id, document.title, document.text);
        let cost = estimate_tokens(&block);
        if !documents.is_empty() && used + cost > passage_budget.max(used) {
            break;
        }
        system.push_str(&block);
        used += cost;
        documents.push(document);
    }

    // Earlier turns, newest first, while they fit.
    let mut history: Vec<ChatMessage> = Vec::new();
    for message in parts.history.iter().rev() {
        let text = turn_text(message);
        let cost = estimate_tokens(&text) + 4;
        if text.is_empty() {
            continue;
        }
        if used + cost > budget {
            break;
        }
        used += cost;
        let role = match message.message_type {
            MessageType::Incoming => Role::User,
            MessageType::Outgoing => Role::Assistant,
        };
        history.push(ChatMessage::text(role, text));
    }
    history.reverse();
    // Providers want turns to alternate and to start with the user.
    let mut messages: Vec<ChatMessage> = Vec::with_capacity(history.len() + 1);
    for message in history {
        match messages.last_mut() {
            Some(last) if last.role == message.role => {
                last.content.push(Part::Text("\n\n".into()));
                last.content.extend(message.content);
            }
            None if message.role == Role::Assistant => {}
            _ => messages.push(message),
        }
    }
    if messages.last().is_some_and(|m| m.role == Role::User) {
        messages.pop();
    }
    messages.push(ChatMessage {
        role: Role::User,
        content: parts.question,
        tool_calls: Vec::new(),
        tool_call_id: None,
    });

    let passages_used = documents.len();
    Prompt {
        request: ChatRequest {
            system: (!system.is_empty()).then_some(system),
            messages,
            tools: Vec::new(),
            max_tokens: u32::try_from(answer_tokens).ok(),
            temperature: None,
            documents,
        },
        passages_used,
        tokens: used,
    }
}

/// A stored message as a turn of the conversation: its text, with its attachments named.
fn turn_text(message: &Message) -> String {
    let mut text = message.content.trim().to_owned();
    for attachment in &message.attachments {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!(
            "[attached {}: {}]",
            attachment.attachment_type, attachment.filename
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use openmai_store::models::{MessageStatus, MessageUsage};
    use openmai_types::Timestamp;
    use uuid::Uuid;

    use super::*;
    use crate::chat::citations::Source;

    fn message(kind: MessageType, text: &str) -> Message {
        Message {
            id: Uuid::new_v4(),
            organization_id: Uuid::nil(),
            conversation_id: Uuid::nil(),
            message_type: kind,
            sender_id: None,
            sender_name: String::new(),
            content: text.into(),
            status: MessageStatus::Done,
            feedback: None,
            reply_to_id: None,
            query_metadata: None,
            content_payload: None,
            citations: None,
            model: None,
            usage: MessageUsage::default(),
            error: None,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            attachments: Vec::new(),
        }
    }

    fn passage(n: usize, size: usize) -> Passage {
        Passage {
            title: format!("file{n}.pdf"),
            text: "退票".repeat(size),
            score: 1.0,
            source: Source::Attachment { id: Uuid::nil(), filename: String::new() },
        }
    }

    #[test]
    fn passages_and_history_are_cut_to_the_context() {
        let passages: Vec<Passage> = (1..=20).map(|n| passage(n, 500)).collect();
        let history: Vec<Message> = (0..50)
            .map(|i| {
                let kind = if i % 2 == 0 { MessageType::Incoming } else { MessageType::Outgoing };
                message(kind, &"舊對話".repeat(100))
            })
            .collect();
        let prompt = build(Parts {
            instructions: "請用繁體中文回答。",
            passages: &passages,
            grounded: true,
            history: &history,
            question: vec![Part::Text("退票規定是什麼？".into())],
            context_tokens: 8192,
        });
        assert!(prompt.tokens <= 8192 - 2048, "{}", prompt.tokens);
        assert!(prompt.passages_used >= 1 && prompt.passages_used < 20);
        assert_eq!(prompt.request.documents.len(), prompt.passages_used);
        let system = prompt.request.system.unwrap();
        assert!(system.starts_with("請用繁體中文回答。\n\nAnswer the question"));
        assert!(system.contains("[1] file1.pdf\n退票"));
        let messages = &prompt.request.messages;
        assert_eq!(messages.first().unwrap().role, Role::User, "history starts with the user");
        assert_eq!(messages.last().unwrap().text_content(), "退票規定是什麼？");
        assert!(messages.len() > 1 && messages.len() < 51, "{}", messages.len());
        for pair in messages.windows(2) {
            assert_ne!(pair[0].role, pair[1].role, "turns alternate");
        }
        assert_eq!(prompt.request.max_tokens, Some(2048));
    }

    #[test]
    fn an_assistant_without_knowledge_bases_gets_its_instructions_only() {
        let prompt = build(Parts {
            instructions: "",
            passages: &[],
            grounded: false,
            history: &[],
            question: vec![Part::Text("hi".into())],
            context_tokens: 4096,
        });
        assert_eq!(prompt.request.system, None);
        assert_eq!(prompt.request.messages.len(), 1);
        let nothing = build(Parts {
            instructions: "Be brief.",
            passages: &[],
            grounded: true,
            history: &[],
            question: vec![Part::Text("hi".into())],
            context_tokens: 4096,
        });
        assert!(nothing.request.system.unwrap().contains("No passage of the knowledge base"));
    }
}
