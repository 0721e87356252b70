//! The passages an answer is grounded in, numbered as the model sees them (`[1]`, `[2]`…), and
//! the record of which ones it cited. The record is a snapshot taken when the reply is stored
//! (`messages.citations`): later edits to the knowledge base do not rewrite what a past answer
//! was based on. The API renders it as MaiAgent's `citations` (the files) and `citationNodes`
//! (the passages).

use openmai_models::chat::Document;
use openmai_store::models::{Chunk, Faq, KbFile};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::knowledge::SearchHit;

/// Where a passage comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Chunk(Box<Chunk>),
    Faq(Box<Faq>),
    /// A document attached to the question.
    Attachment {
        id: Uuid,
        filename: String,
    },
}

/// A passage offered to the model.
#[derive(Debug, Clone)]
pub struct Passage {
    pub title: String,
    pub text: String,
    pub score: f32,
    pub source: Source,
}

impl Passage {
    pub fn from_hit(hit: SearchHit) -> Passage {
        let score = hit.score();
        let text = hit.text();
        match hit {
            SearchHit::Chunk { chunk, .. } => {
                let title = match chunk.page_number {
                    Some(page) => format!("{} (p. {page})", chunk.filename),
                    None => chunk.filename.clone(),
                };
                Passage { title, text, score, source: Source::Chunk(Box::new(chunk)) }
            }
            SearchHit::Faq { faq, .. } => Passage {
                title: format!("FAQ: {}", faq.question),
                text,
                score,
                source: Source::Faq(Box::new(faq)),
            },
        }
    }

    /// The passage as the model receives it; `number` is 1-based.
    pub fn document(&self, number: usize) -> Document {
        Document { id: number.to_string(), title: self.title.clone(), text: self.text.clone() }
    }

    fn file_id(&self) -> Option<Uuid> {
        match &self.source {
            Source::Chunk(chunk) => Some(chunk.file_id),
            _ => None,
        }
    }
}

/// The passages an answer cites: the `[n]` markers it contains (1-based, valid numbers only,
/// in order of first appearance). An answer with no markers at all was still written from
/// the passages it was given, so then all of them count.
pub fn cited_numbers(answer: &str, passages: usize) -> Vec<usize> {
    let mut cited = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        for part in rest[..close].split([',', '，', ' ']) {
            if let Ok(n) = part.trim().parse::<usize>()
                && (1..=passages).contains(&n)
                && !cited.contains(&n)
            {
                cited.push(n);
            }
        }
    }
    if cited.is_empty() { (1..=passages).collect() } else { cited }
}

/// A cited file, as it was when the answer was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CitedFile {
    pub id: Uuid,
    pub knowledge_base: Uuid,
    pub filename: String,
    pub file_type: String,
    pub size: i64,
    pub status: String,
    pub created_at: openmai_types::Timestamp,
}

/// A cited passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CitedNode {
    pub id: Uuid,
    pub text: String,
    pub filename: String,
    pub file: Option<Uuid>,
    pub faq: Option<Uuid>,
    pub page_number: Option<i64>,
    pub hits_count: i64,
    pub updated_at: openmai_types::Timestamp,
    pub score: f32,
}

/// What `messages.citations` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Citations {
    pub files: Vec<CitedFile>,
    pub nodes: Vec<CitedNode>,
}

impl Citations {
    /// The record of `cited` (1-based numbers into `passages`); `files` are the knowledge
    /// files the passages came from.
    pub fn of(passages: &[Passage], cited: &[usize], files: &[KbFile]) -> Citations {
        let mut record = Citations::default();
        for passage in cited.iter().filter_map(|n| passages.get(n.wrapping_sub(1))) {
            let (id, filename, file, faq, page_number, hits_count, updated_at) =
                match &passage.source {
                    Source::Chunk(chunk) => (
                        chunk.id,
                        chunk.filename.clone(),
                        Some(chunk.file_id),
                        None,
                        chunk.page_number,
                        chunk.hits_count,
                        chunk.updated_at,
                    ),
                    Source::Faq(faq) => (
                        faq.id,
                        passage.title.clone(),
                        None,
                        Some(faq.id),
                        None,
                        faq.hits_count,
                        faq.updated_at,
                    ),
                    // Attachments belong to the conversation; the answer shows no citation for them.
                    Source::Attachment { .. } => continue,
                };
            record.nodes.push(CitedNode {
                id,
                text: passage.text.clone(),
                filename,
                file,
                faq,
                page_number,
                hits_count,
                updated_at,
                score: passage.score,
            });
            if let Some(file) = passage.file_id().and_then(|id| files.iter().find(|f| f.id == id))
                && !record.files.iter().any(|f| f.id == file.id)
            {
                record.files.push(CitedFile {
                    id: file.id,
                    knowledge_base: file.knowledge_base_id,
                    filename: file.filename.clone(),
                    file_type: file.file_type.clone(),
                    size: file.size,
                    status: file.status.as_str().to_owned(),
                    created_at: file.created_at,
                });
            }
        }
        record
    }

    /// The knowledge files `passages` come from, to look up before [`Citations::of`].
    pub fn file_ids(passages: &[Passage]) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = passages.iter().filter_map(Passage::file_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub fn to_json(&self) -> Option<serde_json::Value> {
        (!self.nodes.is_empty()).then(|| serde_json::to_value(self).unwrap_or_default())
    }

    /// Reads a stored record; anything unreadable reads as no citations.
    pub fn from_json(value: Option<&serde_json::Value>) -> Citations {
        value.and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_name_the_cited_passages() {
        assert_eq!(cited_numbers("退票需在開車前 [2]。另見 [1][2]。", 3), [2, 1]);
        assert_eq!(cited_numbers("See [1, 3] and [9] and [x].", 3), [1, 3]);
        assert_eq!(cited_numbers("No markers.", 2), [1, 2]);
        assert_eq!(cited_numbers("No passages [1].", 0), Vec::<usize>::new());
        assert_eq!(cited_numbers("unclosed [1", 2), [1, 2]);
    }
}
