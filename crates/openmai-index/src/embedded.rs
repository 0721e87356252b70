//! [`EmbeddedIndex`]: the in-process implementation, for the single-binary default.
//!
//! Keyword search is a tantivy index (see `keyword`), vector search one usearch HNSW graph per
//! knowledge base (see `vector`), both in one directory and committed together (see
//! `persist`). Writes go through one internal writer (a mutex); searches never take it, so
//! they run concurrently with each other and with writes, on whatever thread calls them.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use tantivy::IndexWriter;
use uuid::Uuid;

use crate::analyzer::{self, ANALYZER_VERSION, Analyzer};
use crate::fusion::fuse;
use crate::keyword::KeywordIndex;
use crate::persist::{self, Payload, VectorLog};
pub use crate::vector::VectorQuantization;
use crate::vector::{VectorConfig, VectorIndex, VectorOp, normalised};
use crate::{ChunkRecord, Hit, IndexError, PreparedQuery, SearchIndex, SearchQuery, dedup};

/// Tuning knobs of [`EmbeddedIndex`]. The defaults are what bench/index measured as meeting
/// the latency and recall targets; most deployments never change them.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Threads tantivy uses to build index segments. Default: the number of CPUs, at most 4.
    pub writer_threads: usize,
    /// Memory tantivy's writer may buffer before flushing a segment (all threads together;
    /// at least 15 MB per thread). Default: 128 MB.
    pub writer_memory_bytes: usize,
    /// Storage of vectors in the graphs. Default: `F16` (half the memory of `F32`).
    pub quantization: VectorQuantization,
    /// HNSW links per node (M). More: better recall, more memory, slower inserts. Default 16.
    pub hnsw_connectivity: usize,
    /// HNSW candidate list size while inserting (efConstruction). Default 128.
    pub hnsw_expansion_add: usize,
    /// HNSW candidate list size while searching (ef). Default 128.
    pub hnsw_expansion_search: usize,
    /// Knowledge bases, and label/file-filtered subsets, with at most this many vectors are
    /// searched exactly (brute force) instead of through the graph. Default 2048.
    pub exact_search_threshold: usize,
    /// How many results each retriever contributes to the fusion in a hybrid search (the
    /// larger of this and the query's limit). Default 50.
    pub fusion_depth: usize,
    /// A query's text is cut to this many bytes before analysis. Default 16 KiB.
    pub max_query_bytes: usize,
    /// At most this many distinct terms of a query are searched (the first ones). Default 64.
    pub max_query_terms: usize,
    /// When the vector log passes this size (or a quarter of the last snapshot, if larger),
    /// changed graphs are written to a new snapshot so that reopening replays little.
    /// Default 64 MiB.
    pub snapshot_log_bytes: u64,
    /// Searches that may walk one graph at the same moment; more wait. Default: 4 × CPUs,
    /// at least 8.
    pub concurrent_vector_searches: usize,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        EmbeddedOptions {
            writer_threads: cpus.clamp(1, 4),
            writer_memory_bytes: 128 << 20,
            quantization: VectorQuantization::F16,
            hnsw_connectivity: 16,
            hnsw_expansion_add: 128,
            hnsw_expansion_search: 128,
            exact_search_threshold: 2048,
            fusion_depth: 50,
            max_query_bytes: 16 << 10,
            max_query_terms: 64,
            snapshot_log_bytes: 64 << 20,
            concurrent_vector_searches: (4 * cpus).max(8),
        }
    }
}

/// The embedded [`SearchIndex`]: tantivy (BM25) plus usearch (HNSW), on disk or in memory.
pub struct EmbeddedIndex {
    options: EmbeddedOptions,
    analyzer: &'static Analyzer,
    keyword: KeywordIndex,
    vectors: VectorIndex,
    /// `dir/vectors`, when on disk.
    vector_dir: Option<PathBuf>,
    writer: Mutex<WriterState>,
}

/// How [`EmbeddedIndex::add_locked`] makes room for chunks that may exist already.
#[derive(Clone, Copy)]
enum Replace {
    /// Delete any chunk with the same id first (an upsert).
    ById,
    /// Delete every chunk of the file or FAQ entry `source` first; then only ids repeated
    /// within the batch need deleting (the last wins, as in an upsert).
    BySource { org: Uuid, source: Uuid },
}

struct WriterState {
    writer: IndexWriter,
    /// Vector changes since the last commit, applied (and logged) at commit.
    pending: Vec<VectorOp>,
    /// Knowledge base → (owner, dimensions) fixed by uncommitted writes; `None` when the
    /// knowledge base was deleted in this batch (so anything goes again).
    pending_dims: HashMap<Uuid, Option<(Uuid, usize)>>,
    /// Chunk ids given a vector since the last commit.
    pending_vector_ids: HashSet<Uuid>,
    /// Uncommitted full-text changes exist.
    changed: bool,
    log: Option<VectorLog>,
    generation: u64,
    /// Size of the current snapshot's graph files (sets the next snapshot threshold).
    snapshot_bytes: u64,
    /// A commit failed after the log was written; the in-memory state may be behind it.
    failed: bool,
    /// The analyzer version the indexed terms come from, written with every commit. Behind
    /// [`ANALYZER_VERSION`] until the caller has handed every chunk in again (see
    /// [`SearchIndex::needs_reanalysis`]).
    analyzer: u32,
}

impl std::fmt::Debug for EmbeddedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIndex")
            .field("vector_dir", &self.vector_dir)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl EmbeddedIndex {
    /// Opens the index stored in `dir`, creating it if needed. Another process holding the
    /// same directory open makes this fail with [`IndexError::Locked`].
    pub fn open(dir: &Path, options: EmbeddedOptions) -> Result<Self, IndexError> {
        let vector_dir = dir.join("vectors");
        std::fs::create_dir_all(&vector_dir).map_err(IndexError::io(&vector_dir))?;
        let (keyword, writer) = KeywordIndex::open(
            Some(&dir.join("fulltext")),
            options.writer_threads,
            options.writer_memory_bytes,
        )?;
        let payload = match keyword.commit_payload()? {
            Some(text) => Payload::decode(&text)?,
            None => Payload {
                // An index without our payload was never written by us with documents in
                // it; if it has some anyway, re-analyse them.
                analyzer: if keyword.num_docs() == 0 { ANALYZER_VERSION } else { 0 },
                generation: 0,
                log_len: 0,
            },
        };
        let vectors = VectorIndex::new(vector_config(&options));
        let manifest = if payload.generation > 0 {
            persist::read_manifest(&vector_dir, payload.generation)?
        } else {
            Vec::new()
        };
        vectors.load(&vector_dir, &manifest)?;
        let (log, ops) =
            VectorLog::open(persist::log_path(&vector_dir, payload.generation), payload.log_len)?;
        if !ops.is_empty() {
            tracing::info!(operations = ops.len(), "replaying the vector log");
        }
        vectors.apply(ops)?;
        persist::remove_unreferenced(&vector_dir, &keep_list(payload.generation, &manifest));
        let index = EmbeddedIndex {
            analyzer: analyzer::shared(),
            keyword,
            vectors,
            vector_dir: Some(vector_dir.clone()),
            writer: Mutex::new(WriterState {
                writer,
                pending: Vec::new(),
                pending_dims: HashMap::new(),
                pending_vector_ids: HashSet::new(),
                changed: false,
                log: Some(log),
                generation: payload.generation,
                snapshot_bytes: persist::snapshot_size(&vector_dir, &manifest),
                failed: false,
                analyzer: payload.analyzer,
            }),
            options,
        };
        if payload.analyzer != ANALYZER_VERSION {
            tracing::info!(
                chunks = index.keyword.num_docs(),
                "the full-text index was analysed by an earlier version and needs re-analysis"
            );
        }
        Ok(index)
    }

    /// A throw-away index in memory (tests, or a deployment that re-indexes on start).
    pub fn open_in_memory(options: EmbeddedOptions) -> Result<Self, IndexError> {
        let (keyword, writer) =
            KeywordIndex::open(None, options.writer_threads, options.writer_memory_bytes)?;
        Ok(EmbeddedIndex {
            analyzer: analyzer::shared(),
            keyword,
            vectors: VectorIndex::new(vector_config(&options)),
            vector_dir: None,
            writer: Mutex::new(WriterState {
                writer,
                pending: Vec::new(),
                pending_dims: HashMap::new(),
                pending_vector_ids: HashSet::new(),
                changed: false,
                log: None,
                generation: 0,
                snapshot_bytes: 0,
                failed: false,
                analyzer: ANALYZER_VERSION,
            }),
            options,
        })
    }

    /// Number of committed chunks, and how many of them have a vector.
    pub fn stats(&self) -> Result<(u64, usize), IndexError> {
        Ok((self.keyword.num_docs(), self.vectors.len()?))
    }

    /// Commits, then writes every changed vector graph to a new snapshot, so that the next
    /// open replays no log. Also done automatically when the log grows past
    /// [`EmbeddedOptions::snapshot_log_bytes`] and when the index is dropped.
    pub fn snapshot(&self) -> Result<(), IndexError> {
        let mut state = self.lock()?;
        self.commit_locked(&mut state)?;
        self.snapshot_locked(&mut state)
    }

    fn lock(&self) -> Result<MutexGuard<'_, WriterState>, IndexError> {
        let state = self.writer.lock().map_err(|_| IndexError::Poisoned)?;
        if state.failed {
            return Err(IndexError::Poisoned);
        }
        Ok(state)
    }

    /// Queues `chunks` in the writer (and their vectors for the commit), making room for them
    /// as `replace` says, once their embeddings are checked: a refused batch changes nothing.
    fn add_locked(
        &self,
        state: &mut WriterState,
        chunks: &[ChunkRecord],
        replace: Replace,
    ) -> Result<(), IndexError> {
        // Analysis happens in tantivy's indexing threads (see `keyword`); `add_document` only
        // queues the document, blocking while those threads are behind.
        let vectors = chunks
            .iter()
            .map(|c| c.embedding.as_deref().map(normalised).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        let added = self.check_vectors(state, chunks, &vectors)?;
        for (kb, constraint) in added {
            state.pending_dims.insert(kb, Some(constraint));
        }
        state.changed = true;
        if let Replace::BySource { org, source } = replace {
            self.keyword.delete_source(&state.writer, org, source)?;
            state.pending.push(VectorOp::DeleteSource { org, source });
        }
        let mut seen = HashSet::new();
        for (chunk, vector) in chunks.iter().zip(vectors) {
            let repeated = match replace {
                Replace::ById => true,
                Replace::BySource { .. } => !seen.insert(chunk.id),
            };
            if repeated {
                self.keyword.delete_ids(&state.writer, &[chunk.id]);
            }
            state.writer.add_document(self.keyword.document(chunk))?;
            match vector {
                Some(vector) => {
                    state.pending_vector_ids.insert(chunk.id);
                    state.pending.push(VectorOp::Upsert {
                        id: chunk.id,
                        org: chunk.organization_id,
                        kb: chunk.knowledge_base_id,
                        source: chunk.file_id.or(chunk.faq_id),
                        labels: dedup(&chunk.label_ids),
                        vector,
                    });
                }
                None => {
                    if state.pending_vector_ids.contains(&chunk.id)
                        || self.vectors.contains(chunk.id)?
                    {
                        state.pending.push(VectorOp::Delete { id: chunk.id });
                    }
                }
            }
        }
        Ok(())
    }

    /// The terms of a query (see [`analyzer::Analyzer::query_terms`]).
    fn query_terms(&self, text: &str) -> Vec<String> {
        self.analyzer.query_terms(text, self.options.max_query_bytes, self.options.max_query_terms)
    }

    fn commit_locked(&self, state: &mut WriterState) -> Result<(), IndexError> {
        if !state.changed && state.pending.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let new_len = match state.log.as_mut() {
            Some(log) => log.append(&state.pending)?,
            None => 0,
        };
        let logged = started.elapsed();
        let payload =
            Payload { analyzer: state.analyzer, generation: state.generation, log_len: new_len };
        let committed = state.writer.prepare_commit().and_then(|mut prepared| {
            prepared.set_payload(&payload.encode());
            prepared.commit()
        });
        if let Err(e) = committed {
            if let Some(log) = state.log.as_mut() {
                log.rewind();
            }
            return Err(e.into());
        }
        if let Some(log) = state.log.as_mut() {
            log.committed(new_len);
        }
        state.changed = false;
        state.pending_dims.clear();
        state.pending_vector_ids.clear();
        let ops = std::mem::take(&mut state.pending);
        let vector_ops = ops.len();
        let full_text = started.elapsed();
        if let Err(e) = self.vectors.apply(ops) {
            // The log and tantivy have the batch; memory does not. Reopening replays it.
            state.failed = true;
            return Err(e);
        }
        let vectors = started.elapsed();
        self.keyword.reload()?;
        tracing::debug!(
            vector_ops,
            log_ms = logged.as_secs_f64() * 1e3,
            full_text_ms = (full_text - logged).as_secs_f64() * 1e3,
            vectors_ms = (vectors - full_text).as_secs_f64() * 1e3,
            "committed"
        );
        let threshold = self.options.snapshot_log_bytes.max(state.snapshot_bytes / 4);
        if state.log.as_ref().is_some_and(|log| log.len() >= threshold) {
            let started = std::time::Instant::now();
            self.snapshot_locked(state)?;
            tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "snapshot");
        }
        Ok(())
    }

    /// Writes changed graphs to snapshot `generation + 1` and starts an empty log. Must be
    /// called with nothing uncommitted.
    fn snapshot_locked(&self, state: &mut WriterState) -> Result<(), IndexError> {
        let Some(dir) = self.vector_dir.as_deref() else { return Ok(()) };
        if state.log.as_ref().is_none_or(|log| log.len() == 0) {
            return Ok(());
        }
        let generation = state.generation + 1;
        let manifest = self.vectors.save(dir, |kb| format!("{kb}-{generation}"))?;
        persist::write_manifest(dir, generation, &manifest)?;
        let (log, _) = VectorLog::open(persist::log_path(dir, generation), 0)?;
        persist::sync_dir(dir)?;
        let payload = Payload { analyzer: state.analyzer, generation, log_len: 0 };
        let mut prepared = state.writer.prepare_commit()?;
        prepared.set_payload(&payload.encode());
        prepared.commit()?;
        state.log = Some(log);
        state.generation = generation;
        state.snapshot_bytes = persist::snapshot_size(dir, &manifest);
        persist::remove_unreferenced(dir, &keep_list(generation, &manifest));
        tracing::debug!(generation, graphs = manifest.len(), "wrote a vector snapshot");
        Ok(())
    }

    /// Checks the embeddings of a batch against the knowledge bases' owners and dimensions;
    /// returns the constraints the batch adds.
    fn check_vectors(
        &self,
        state: &WriterState,
        chunks: &[ChunkRecord],
        vectors: &[Option<Vec<f32>>],
    ) -> Result<HashMap<Uuid, (Uuid, usize)>, IndexError> {
        let mut added: HashMap<Uuid, (Uuid, usize)> = HashMap::new();
        for (chunk, vector) in chunks.iter().zip(vectors) {
            let Some(vector) = vector else { continue };
            let kb = chunk.knowledge_base_id;
            let known = match added.get(&kb) {
                Some(known) => Some(*known),
                None => match state.pending_dims.get(&kb) {
                    Some(pending) => *pending,
                    None => self.vectors.partition_info(kb)?,
                },
            };
            match known {
                Some((org, _)) if org != chunk.organization_id => {
                    return Err(IndexError::ForeignKnowledgeBase(kb));
                }
                Some((_, dim)) if dim != vector.len() => {
                    return Err(IndexError::DimensionMismatch {
                        knowledge_base_id: kb,
                        expected: dim,
                        got: vector.len(),
                    });
                }
                Some(_) => {}
                None => {
                    added.insert(kb, (chunk.organization_id, vector.len()));
                }
            }
        }
        Ok(added)
    }
}

fn vector_config(options: &EmbeddedOptions) -> VectorConfig {
    VectorConfig {
        quantization: options.quantization,
        connectivity: options.hnsw_connectivity.max(2),
        expansion_add: options.hnsw_expansion_add.max(1),
        expansion_search: options.hnsw_expansion_search.max(1),
        exact_threshold: options.exact_search_threshold,
        contexts: options.concurrent_vector_searches.max(1),
        insert_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// File names a snapshot generation needs (everything else in the directory is garbage).
fn keep_list(generation: u64, manifest: &[(Uuid, String)]) -> Vec<String> {
    let mut keep = vec![format!("log-{generation}"), format!("manifest-{generation}")];
    for (_, stem) in manifest {
        keep.push(format!("{stem}.usearch"));
        keep.push(format!("{stem}.slots"));
    }
    keep
}

impl SearchIndex for EmbeddedIndex {
    fn upsert(&self, chunks: &[ChunkRecord]) -> Result<(), IndexError> {
        if chunks.is_empty() {
            return Ok(());
        }
        let mut state = self.lock()?;
        self.add_locked(&mut state, chunks, Replace::ById)
    }

    fn replace_file(
        &self,
        organization_id: Uuid,
        file_id: Uuid,
        chunks: &[ChunkRecord],
    ) -> Result<(), IndexError> {
        crate::check_belong_to_file(organization_id, file_id, chunks)?;
        let mut state = self.lock()?;
        let replace = Replace::BySource { org: organization_id, source: file_id };
        self.add_locked(&mut state, chunks, replace)
    }

    fn delete(&self, ids: &[Uuid]) -> Result<(), IndexError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut state = self.lock()?;
        let state = &mut *state;
        state.changed = true;
        self.keyword.delete_ids(&state.writer, ids);
        for &id in ids {
            if state.pending_vector_ids.contains(&id) || self.vectors.contains(id)? {
                state.pending.push(VectorOp::Delete { id });
            }
        }
        Ok(())
    }

    fn delete_file(&self, organization_id: Uuid, file_id: Uuid) -> Result<(), IndexError> {
        let mut state = self.lock()?;
        state.changed = true;
        self.keyword.delete_source(&state.writer, organization_id, file_id)?;
        state.pending.push(VectorOp::DeleteSource { org: organization_id, source: file_id });
        Ok(())
    }

    fn delete_knowledge_base(
        &self,
        organization_id: Uuid,
        knowledge_base_id: Uuid,
    ) -> Result<(), IndexError> {
        let mut state = self.lock()?;
        state.changed = true;
        self.keyword.delete_knowledge_base(&state.writer, organization_id, knowledge_base_id)?;
        state.pending.push(VectorOp::DeleteKb { org: organization_id, kb: knowledge_base_id });
        let owner = match state.pending_dims.get(&knowledge_base_id) {
            Some(pending) => pending.map(|(org, _)| org),
            None => self.vectors.partition_info(knowledge_base_id)?.map(|(org, _)| org),
        };
        if owner.is_none_or(|org| org == organization_id) {
            state.pending_dims.insert(knowledge_base_id, None);
        }
        Ok(())
    }

    fn set_labels(
        &self,
        organization_id: Uuid,
        file_or_faq_id: Uuid,
        label_ids: &[Uuid],
        chunks: &[ChunkRecord],
    ) -> Result<(), IndexError> {
        crate::check_belong_to_file(organization_id, file_or_faq_id, chunks)?;
        let labels = dedup(label_ids);
        let mut state = self.lock()?;
        // Tantivy cannot update a field in place, and the index keeps no text: the chunks
        // the caller handed in are re-added with the new labels. Only those already in the
        // index (committing first makes that set current), so that relabelling a file still
        // being ingested does not make it searchable early.
        self.commit_locked(&mut state)?;
        let present = self.keyword.ids_of_source(organization_id, file_or_faq_id)?;
        let state = &mut *state;
        state.changed = true;
        for chunk in chunks.iter().filter(|c| present.contains(&c.id)) {
            let record = ChunkRecord { label_ids: labels.clone(), ..chunk.clone() };
            self.keyword.delete_ids(&state.writer, &[record.id]);
            state.writer.add_document(self.keyword.document(&record))?;
        }
        state.pending.push(VectorOp::SetLabels {
            org: organization_id,
            source: file_or_faq_id,
            labels,
        });
        Ok(())
    }

    fn needs_reanalysis(&self) -> bool {
        self.lock().is_ok_and(|state| state.analyzer != ANALYZER_VERSION)
    }

    fn reanalyse(&self, chunks: &[ChunkRecord]) -> Result<(), IndexError> {
        let mut state = self.lock()?;
        state.changed = true;
        for chunk in chunks {
            self.keyword.delete_ids(&state.writer, &[chunk.id]);
            state.writer.add_document(self.keyword.document(chunk))?;
        }
        Ok(())
    }

    fn finish_reanalysis(&self) -> Result<(), IndexError> {
        let mut state = self.lock()?;
        state.analyzer = ANALYZER_VERSION;
        state.changed = true;
        self.commit_locked(&mut state)
    }

    fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>, IndexError> {
        let Some(PreparedQuery { limit, embedding, filter }) = query.prepare()? else {
            return Ok(Vec::new());
        };
        let hybrid = match &embedding {
            Some(_) => self.vectors.covers(&filter)?,
            None => false,
        };
        // Keyword-only: the fused order is the BM25 order, so `limit` results suffice.
        let depth = if hybrid { limit.max(self.options.fusion_depth) } else { limit };
        let terms = self.query_terms(&query.text);
        let keyword = if terms.is_empty() {
            Vec::new()
        } else {
            self.keyword.search(&filter, &terms, depth)?
        };
        let vector = match (&embedding, hybrid) {
            (Some(embedding), true) => self.vectors.search(&filter, embedding, depth)?,
            _ => Vec::new(),
        };
        Ok(fuse(&keyword, &vector, limit, query.similarity_cutoff))
    }

    fn commit(&self) -> Result<(), IndexError> {
        let mut state = self.lock()?;
        self.commit_locked(&mut state)
    }
}

impl Drop for EmbeddedIndex {
    /// Writes a snapshot when the log holds committed changes, so the next open is fast.
    /// Uncommitted writes are discarded, as after a crash.
    fn drop(&mut self) {
        let Ok(mut state) = self.writer.lock() else { return };
        if state.failed || state.changed || !state.pending.is_empty() {
            return;
        }
        if let Err(e) = self.snapshot_locked(&mut state) {
            tracing::warn!(error = %e, "could not write a vector snapshot on close");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_analyzer_change_is_reanalysed_from_the_chunks_handed_in() {
        let dir = tempfile::tempdir().unwrap();
        let (org, kb, id) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let record = ChunkRecord {
            id,
            organization_id: org,
            knowledge_base_id: kb,
            file_id: None,
            faq_id: None,
            label_ids: Vec::new(),
            text: "退票规定".into(),
            embedding: None,
        };
        let find = |index: &EmbeddedIndex, text: &str| {
            index.search(&SearchQuery::new(org, vec![kb], text)).unwrap().len()
        };
        {
            let index = EmbeddedIndex::open(dir.path(), EmbeddedOptions::default()).unwrap();
            index.upsert(std::slice::from_ref(&record)).unwrap();
            index.commit().unwrap();
            // Pretend an older analyzer (version 0) wrote the index, producing other terms.
            let mut state = index.lock().unwrap();
            index.keyword.delete_ids(&state.writer, &[id]);
            state
                .writer
                .add_document(index.keyword.document_with_terms(&record, &["stale"]))
                .unwrap();
            let mut prepared = state.writer.prepare_commit().unwrap();
            prepared.set_payload(&Payload { analyzer: 0, generation: 0, log_len: 0 }.encode());
            prepared.commit().unwrap();
            drop(state);
            index.keyword.reload().unwrap();
            assert_eq!(find(&index, "stale"), 1);
            assert_eq!(find(&index, "退票"), 0);
        }
        let index = EmbeddedIndex::open(dir.path(), EmbeddedOptions::default()).unwrap();
        assert!(index.needs_reanalysis());
        let recorded = |index: &EmbeddedIndex| {
            Payload::decode(&index.keyword.commit_payload().unwrap().unwrap()).unwrap().analyzer
        };
        // A commit before the caller is done keeps the older version on record, so a crash
        // meanwhile leaves the index asking again.
        let other =
            ChunkRecord { id: Uuid::from_u128(4), text: "行李规定".into(), ..record.clone() };
        index.upsert(std::slice::from_ref(&other)).unwrap();
        index.commit().unwrap();
        assert_eq!(recorded(&index), 0);
        assert_eq!(find(&index, "stale"), 1);

        index.reanalyse(&[record, other]).unwrap();
        index.finish_reanalysis().unwrap();
        assert!(!index.needs_reanalysis());
        assert_eq!(find(&index, "退票"), 1);
        assert_eq!(find(&index, "stale"), 0);
        assert_eq!(find(&index, "行李"), 1);
        assert_eq!(recorded(&index), ANALYZER_VERSION);
        drop(index);
        let index = EmbeddedIndex::open(dir.path(), EmbeddedOptions::default()).unwrap();
        assert!(!index.needs_reanalysis());
        assert_eq!(index.stats().unwrap().0, 2);
    }
}
