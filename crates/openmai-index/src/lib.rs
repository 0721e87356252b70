//! OpenMai's retrieval engine for knowledge-base chunks and FAQs: a Chinese-aware BM25 keyword
//! index, a vector index, and their fusion, behind one trait ([`SearchIndex`]) so the embedded
//! implementation ([`EmbeddedIndex`], the default) and the PostgreSQL one ([`PgIndex`]: pgvector
//! plus a GIN index over the terms of [`analyzer::terms`]) answer the same questions the same
//! way. `tests/index.rs` runs one behavioural suite against both.
//!
//! **Retrieval, as the API sees it:** the question's terms are searched with BM25 and, when an
//! embedding provider is configured, its embedding is searched by cosine similarity; the two
//! ranked lists are fused by reciprocal rank ([`fusion`]); the caller may rerank; and hits
//! below `similarityCutoff` are dropped. With no embeddings anywhere (the default, since no
//! multilingual embedding model can be bundled) the search is keyword-only and the scores mean
//! the same thing.
//!
//! **Tenant isolation** is enforced inside each index, not by the caller: every search is
//! restricted to one organisation and a list of its knowledge bases *before* ranking, in the
//! keyword and the vector search alike, so no query text can surface another tenant's chunk,
//! and a small tenant in a large index still gets its own best matches.
//!
//! The API is synchronous: searches take a millisecond or so of CPU and the server calls them
//! from its blocking pool. Every method takes `&self` and is safe to call from many threads.

pub mod analyzer;
mod cjk;
mod embedded;
pub mod fusion;
mod keyword;
mod persist;
mod postgres;
mod segment;
mod semaphore;
mod vector;

use std::path::PathBuf;

use uuid::Uuid;

pub use crate::embedded::{EmbeddedIndex, EmbeddedOptions, VectorQuantization};
pub use crate::postgres::{PgIndex, PgOptions};

/// One passage to index: a chunk of an uploaded file, or an FAQ entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRecord {
    /// Stable id of the chunk; upserting the same id again replaces it.
    pub id: Uuid,
    /// The tenant. A search only ever sees its own organisation's chunks.
    pub organization_id: Uuid,
    /// The knowledge base the chunk belongs to.
    pub knowledge_base_id: Uuid,
    /// The file the chunk was cut from, if any; used by file filters, `delete_file` and
    /// `set_labels`.
    pub file_id: Option<Uuid>,
    /// The FAQ entry this chunk is, if any; used by file filters (FAQs and files share the
    /// filter), `delete_file` and `set_labels`.
    pub faq_id: Option<Uuid>,
    /// Labels of the chunk (inherited from its file or FAQ); used by label filters.
    pub label_ids: Vec<Uuid>,
    /// The text that keyword search matches. The embedded index analyses it and keeps only
    /// the terms; the PostgreSQL index keeps it too, to re-analyse it itself.
    pub text: String,
    /// The chunk's embedding, when an embedding provider is configured. Any length, but every
    /// embedding within one knowledge base must have the same length. Need not be normalised.
    pub embedding: Option<Vec<f32>>,
}

/// A retrieval request.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// The caller's organisation; nothing outside it is ever returned.
    pub organization_id: Uuid,
    /// Knowledge bases to search (those linked to the assistant). Empty means no hits.
    pub knowledge_base_ids: Vec<Uuid>,
    /// The question. Analysed like the chunks (see [`analyzer`]); may be empty when only an
    /// embedding is given.
    pub text: String,
    /// The question's embedding, for hybrid search; `None` means keyword-only.
    pub embedding: Option<Vec<f32>>,
    /// When `Some`: only chunks carrying at least one of these labels (`Some(vec![])` matches
    /// nothing).
    pub label_ids: Option<Vec<Uuid>>,
    /// When `Some`: only chunks of these files or FAQ entries (`Some(vec![])` matches nothing).
    pub file_ids: Option<Vec<Uuid>>,
    /// Hits wanted (`numberOfRetrievedChunks`). Clamped to [`MAX_LIMIT`].
    pub limit: usize,
    /// Hits whose fused score (see [`fusion`]) is below this are dropped. 0 keeps everything.
    pub similarity_cutoff: f32,
}

/// A query as every index starts from it: checked, its limit clamped, its embedding
/// normalised and its scope deduplicated.
pub(crate) struct PreparedQuery {
    pub limit: usize,
    pub embedding: Option<Vec<f32>>,
    pub filter: keyword::Filter,
}

/// `ids` without repeats, in their first order.
pub(crate) fn dedup(ids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

impl SearchQuery {
    /// Checks the query (a non-finite cutoff or a bad embedding is `InvalidInput`) and
    /// prepares it; `None` when it cannot match anything (a zero limit, or an empty scope).
    pub(crate) fn prepare(&self) -> Result<Option<PreparedQuery>, IndexError> {
        if !self.similarity_cutoff.is_finite() {
            return Err(IndexError::InvalidInput("similarity_cutoff must be a number".into()));
        }
        let limit = self.limit.min(MAX_LIMIT);
        let nothing = limit == 0
            || self.knowledge_base_ids.is_empty()
            || self.label_ids.as_ref().is_some_and(Vec::is_empty)
            || self.file_ids.as_ref().is_some_and(Vec::is_empty);
        let embedding = self.embedding.as_deref().map(vector::normalised).transpose()?;
        if nothing {
            return Ok(None);
        }
        Ok(Some(PreparedQuery {
            limit,
            embedding,
            filter: keyword::Filter {
                organization_id: self.organization_id,
                knowledge_base_ids: dedup(&self.knowledge_base_ids),
                label_ids: self.label_ids.as_deref().map(dedup),
                source_ids: self.file_ids.as_deref().map(dedup),
            },
        }))
    }

    /// A keyword query over `knowledge_base_ids` with no filters, 10 hits and no cutoff;
    /// set the other fields directly.
    pub fn new(
        organization_id: Uuid,
        knowledge_base_ids: Vec<Uuid>,
        text: impl Into<String>,
    ) -> Self {
        SearchQuery {
            organization_id,
            knowledge_base_ids,
            text: text.into(),
            embedding: None,
            label_ids: None,
            file_ids: None,
            limit: 10,
            similarity_cutoff: 0.0,
        }
    }
}

/// Largest `limit` a search honours: more hits than this are never useful as LLM context and
/// would only let a request allocate without bound.
pub const MAX_LIMIT: usize = 1000;

/// One retrieved chunk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The chunk's id ([`ChunkRecord::id`]).
    pub id: Uuid,
    /// Fused score, normalised to 0..1 (see [`fusion`] for the exact formula). Hits are
    /// returned by descending score.
    pub score: f32,
    /// Raw BM25 score, when the chunk was among the keyword results.
    pub keyword_score: Option<f32>,
    /// Cosine similarity (-1..1) to the query embedding, when the chunk was among the vector
    /// results.
    pub vector_score: Option<f32>,
}

/// What every index implementation offers. Writes become visible to searches (and durable)
/// at [`SearchIndex::commit`]: in the embedded index to every search of the process, in
/// [`PgIndex`] to every process sharing the database.
pub trait SearchIndex: Send + Sync {
    /// Adds or replaces chunks, by id. Idempotent.
    fn upsert(&self, chunks: &[ChunkRecord]) -> Result<(), IndexError>;
    /// Removes chunks by id; unknown ids are ignored.
    fn delete(&self, ids: &[Uuid]) -> Result<(), IndexError>;
    /// Removes every chunk of a file (or FAQ entry) of the organisation.
    fn delete_file(&self, organization_id: Uuid, file_id: Uuid) -> Result<(), IndexError>;
    /// Replaces every chunk of a file (or FAQ entry) with `chunks`, which must all belong to
    /// it: [`Self::delete_file`] then [`Self::upsert`], which implementations may do in one
    /// cheaper step (the embedded index skips the per-chunk deletes that the file's delete
    /// already covers: tantivy resolves each against every segment at commit).
    fn replace_file(
        &self,
        organization_id: Uuid,
        file_id: Uuid,
        chunks: &[ChunkRecord],
    ) -> Result<(), IndexError> {
        check_belong_to_file(organization_id, file_id, chunks)?;
        self.delete_file(organization_id, file_id)?;
        self.upsert(chunks)
    }
    /// Removes every chunk of a knowledge base of the organisation.
    fn delete_knowledge_base(
        &self,
        organization_id: Uuid,
        knowledge_base_id: Uuid,
    ) -> Result<(), IndexError>;
    /// Replaces the labels of every chunk of a file or FAQ entry of the organisation.
    /// `chunks` are all of that file's (or the FAQ entry's) chunks as the caller holds them:
    /// an index that keeps no text of its own (the embedded one) re-adds them with the new
    /// labels; their own `label_ids` and embeddings are ignored.
    fn set_labels(
        &self,
        organization_id: Uuid,
        file_or_faq_id: Uuid,
        label_ids: &[Uuid],
        chunks: &[ChunkRecord],
    ) -> Result<(), IndexError>;
    /// Whether the index's terms were made by an older analyzer
    /// ([`analyzer::ANALYZER_VERSION`]) and it keeps no text to re-analyse them from: the
    /// caller must hand every chunk in again with [`SearchIndex::reanalyse`], then call
    /// [`SearchIndex::finish_reanalysis`]. Until then, searches match the older terms.
    fn needs_reanalysis(&self) -> bool {
        false
    }
    /// Replaces the keyword entries of `chunks` with ones made by the current analyzer
    /// (their vectors are left as they are). Uncommitted.
    fn reanalyse(&self, chunks: &[ChunkRecord]) -> Result<(), IndexError> {
        let _ = chunks;
        Ok(())
    }
    /// Records that every chunk has been re-analysed, and commits.
    fn finish_reanalysis(&self) -> Result<(), IndexError> {
        Ok(())
    }
    /// Runs a query (see [`SearchQuery`]); hits by descending score.
    fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>, IndexError>;
    /// Makes all earlier writes visible to searches and durable. Cheap enough to call once
    /// per ingested file.
    fn commit(&self) -> Result<(), IndexError>;
}

/// [`SearchIndex::replace_file`]'s precondition: every chunk is the file's (or FAQ entry's),
/// in its organisation; otherwise the file's delete would not cover the chunk's old copy.
fn check_belong_to_file(
    organization_id: Uuid,
    file_id: Uuid,
    chunks: &[ChunkRecord],
) -> Result<(), IndexError> {
    match chunks
        .iter()
        .find(|c| c.organization_id != organization_id || c.file_id.or(c.faq_id) != Some(file_id))
    {
        Some(stray) => Err(IndexError::InvalidInput(format!(
            "chunk {} does not belong to the file being replaced",
            stray.id
        ))),
        None => Ok(()),
    }
}

/// Why an index operation failed. User input never panics; it fails with `InvalidInput` or
/// `DimensionMismatch`.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A chunk or query the index cannot accept (a non-finite or all-zero embedding, say).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// An embedding whose length differs from the other embeddings of its knowledge base
    /// (usually: the embedding model was changed without re-embedding the knowledge base).
    #[error(
        "embedding has {got} dimensions but knowledge base {knowledge_base_id} holds {expected}-dimensional vectors"
    )]
    DimensionMismatch { knowledge_base_id: Uuid, expected: usize, got: usize },
    /// A knowledge base id already used by another organisation.
    #[error("knowledge base {0} belongs to another organisation")]
    ForeignKnowledgeBase(Uuid),
    /// Another process has the index directory open for writing.
    #[error("the index at {0} is already open in another process")]
    Locked(PathBuf),
    /// The full-text engine failed.
    #[error("full-text index: {0}")]
    FullText(#[from] tantivy::TantivyError),
    /// The vector engine failed.
    #[error("vector index: {0}")]
    Vector(String),
    /// Reading or writing the index directory failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Files in the index directory are damaged or from an incompatible version.
    #[error("index data is damaged or incompatible: {0}")]
    Corrupt(String),
    /// An earlier write panicked half-way; reopen the index (the last commit is intact).
    #[error("the index is unusable after a failure in another thread; reopen it")]
    Poisoned,
    /// PostgreSQL refused a statement or could not be reached ([`PgIndex`]).
    #[error("PostgreSQL search index: {0}")]
    Database(String),
    /// The PostgreSQL server lacks pgvector, or it cannot be enabled in the database
    /// ([`PgIndex::open`]); the embedded index is the alternative.
    #[error("{0}")]
    ExtensionMissing(String),
}

impl IndexError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> IndexError {
        let path = path.into();
        move |source| IndexError::Io { path, source }
    }
}
