//! The vector half: one HNSW graph (usearch) per knowledge base.
//!
//! **Why one graph per knowledge base.** A search is always scoped to one organisation and a
//! few of its knowledge bases. With one global graph, a tenant that owns 0.1% of the vectors
//! would get nothing from a global top-k followed by a tenant filter, and a filter applied
//! *during* the graph walk would have to visit about a thousand times more nodes to find its
//! k. Per-knowledge-base graphs make the scope structural: the search only ever walks the
//! graphs of the knowledge bases asked for, whose owner is checked, so tenant isolation holds
//! by construction and a small tenant's search is as good as a large one's. Knowledge bases
//! with different embedding models (different dimensions) also just work.
//!
//! **Label and file filters** within a knowledge base are applied during the search, never
//! after it:
//! - when the chunks passing the filter are few (at most `exact_threshold`), they are
//!   enumerated from per-label/per-file sets and scored exactly (brute force);
//! - otherwise the graph walk takes a predicate: usearch keeps expanding until it has found
//!   `expansion` nodes that pass, so the results are the nearest *passing* chunks.
//!
//! Small knowledge bases (at most `exact_threshold` vectors) are searched exactly too: the
//! approximate graph buys nothing there.
//!
//! **Concurrency.** Only the index's single writer mutates (while holding the writer lock),
//! and it does so while searches run: usearch's graph walk supports concurrent insertion. Its
//! own exact scan does not (it reads every slot, and crashes on one an insertion has claimed
//! but not yet filled), so exact searches fetch vectors by key instead, and only those of
//! slots whose insertion has returned (`Slot::ready`): usearch maps a key to its node before
//! it stores the node's vector, and a fetch in between read a null pointer (a rare crash of
//! `concurrent_readers_with_a_writer`, under load). The
//! slot metadata is behind a `RwLock` held by a search for its whole duration, so the key → id
//! mapping a search reads is never changed under it. Growing a graph's capacity is the only
//! operation that excludes searches, briefly.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use usearch::{Index, IndexOptions, MetricKind, ScalarKind};
use uuid::Uuid;

use crate::IndexError;
use crate::keyword::Filter;
use crate::semaphore::Semaphore;

/// How vectors are stored in the graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorQuantization {
    /// 4 bytes per dimension: exact.
    F32,
    /// 2 bytes per dimension: half the memory, recall within a fraction of a percent of F32
    /// on normalised embeddings (benchmarked in bench/index/RESULTS.md).
    F16,
}

#[derive(Debug, Clone)]
pub(crate) struct VectorConfig {
    pub quantization: VectorQuantization,
    pub connectivity: usize,
    pub expansion_add: usize,
    pub expansion_search: usize,
    pub exact_threshold: usize,
    /// Concurrent searches/insertions per graph (usearch search contexts).
    pub contexts: usize,
    /// Threads used to insert a batch of vectors at commit.
    pub insert_threads: usize,
}

/// A change to the vector side, applied at commit (and written to the log first; see
/// `persist`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum VectorOp {
    /// `vector` is already normalised to unit length.
    Upsert {
        id: Uuid,
        org: Uuid,
        kb: Uuid,
        source: Option<Uuid>,
        labels: Vec<Uuid>,
        vector: Vec<f32>,
    },
    Delete {
        id: Uuid,
    },
    DeleteSource {
        org: Uuid,
        source: Uuid,
    },
    DeleteKb {
        org: Uuid,
        kb: Uuid,
    },
    SetLabels {
        org: Uuid,
        source: Uuid,
        labels: Vec<Uuid>,
    },
}

#[derive(Debug, Clone)]
struct Slot {
    id: Uuid,
    source: Option<Uuid>,
    labels: Box<[Uuid]>,
    live: bool,
    /// The slot's vector is in the graph. Until then, exact searches must not fetch it:
    /// usearch maps a key to its node before it stores the node's vector, so a fetch in
    /// between reads through a null pointer.
    ready: bool,
}

/// Chunk metadata of one graph, indexed by the graph key (the slot number).
#[derive(Default)]
struct Slots {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    by_source: HashMap<Uuid, HashSet<u32>>,
    by_label: HashMap<Uuid, HashSet<u32>>,
}

impl Slots {
    fn allocate(&mut self, slot: Slot) -> u32 {
        let key = match self.free.pop() {
            Some(key) => {
                self.slots[key as usize] = slot;
                key
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.index(key);
        self.live += 1;
        key
    }

    fn index(&mut self, key: u32) {
        let slot = &self.slots[key as usize];
        if let Some(source) = slot.source {
            self.by_source.entry(source).or_default().insert(key);
        }
        for label in slot.labels.iter() {
            self.by_label.entry(*label).or_default().insert(key);
        }
    }

    fn unindex(&mut self, key: u32) {
        let slot = &self.slots[key as usize];
        if let Some(source) = slot.source
            && let Some(set) = self.by_source.get_mut(&source)
        {
            set.remove(&key);
            if set.is_empty() {
                self.by_source.remove(&source);
            }
        }
        for label in slot.labels.iter() {
            if let Some(set) = self.by_label.get_mut(label) {
                set.remove(&key);
                if set.is_empty() {
                    self.by_label.remove(label);
                }
            }
        }
    }

    fn release(&mut self, key: u32) {
        self.unindex(key);
        let slot = &mut self.slots[key as usize];
        slot.live = false;
        slot.labels = Box::new([]);
        slot.source = None;
        self.free.push(key);
        self.live -= 1;
    }

    fn matches(&self, key: u64, labels: Option<&[Uuid]>, sources: Option<&[Uuid]>) -> bool {
        let Some(slot) = self.slots.get(key as usize) else { return false };
        slot.live
            && labels.is_none_or(|wanted| slot.labels.iter().any(|l| wanted.contains(l)))
            && sources.is_none_or(|wanted| slot.source.is_some_and(|s| wanted.contains(&s)))
    }
}

pub(crate) struct Partition {
    org: Uuid,
    dim: usize,
    graph: RwLock<Index>,
    permits: Semaphore,
    meta: RwLock<Slots>,
    /// Changed since it was last written to a snapshot.
    dirty: AtomicBool,
    /// The snapshot file stem that holds this partition, when `dirty` is false.
    stem: Mutex<Option<String>>,
}

fn vector_error(e: impl std::fmt::Display) -> IndexError {
    IndexError::Vector(e.to_string())
}

fn poisoned<T>(_: T) -> IndexError {
    IndexError::Poisoned
}

impl Partition {
    fn new(org: Uuid, dim: usize, config: &VectorConfig) -> Result<Self, IndexError> {
        let graph = Index::new(&IndexOptions {
            dimensions: dim,
            metric: MetricKind::Cos,
            quantization: match config.quantization {
                VectorQuantization::F32 => ScalarKind::F32,
                VectorQuantization::F16 => ScalarKind::F16,
            },
            connectivity: config.connectivity,
            expansion_add: config.expansion_add,
            expansion_search: config.expansion_search,
            multi: false,
        })
        .map_err(vector_error)?;
        graph.reserve_capacity_and_threads(64, config.contexts).map_err(vector_error)?;
        Ok(Partition {
            org,
            dim,
            graph: RwLock::new(graph),
            permits: Semaphore::new(config.contexts),
            meta: RwLock::new(Slots::default()),
            dirty: AtomicBool::new(true),
            stem: Mutex::new(None),
        })
    }

    /// Makes room for `extra` more vectors (excludes searches while the graph grows).
    fn reserve(&self, extra: usize, contexts: usize) -> Result<(), IndexError> {
        let graph = self.graph.read().map_err(poisoned)?;
        let needed = graph.size() + extra;
        if needed <= graph.capacity() {
            return Ok(());
        }
        let capacity = needed.max(graph.capacity() * 2);
        drop(graph);
        let graph = self.graph.write().map_err(poisoned)?;
        graph.reserve_capacity_and_threads(capacity, contexts).map_err(vector_error)
    }

    fn add(&self, key: u32, vector: &[f32]) -> Result<(), IndexError> {
        let graph = self.graph.read().map_err(poisoned)?;
        let _permit = self.permits.acquire();
        graph.add(u64::from(key), vector).map_err(vector_error)
    }

    /// Removes a live slot from the graph and the metadata.
    fn remove(&self, key: u32) -> Result<(), IndexError> {
        self.graph.read().map_err(poisoned)?.remove(u64::from(key)).map_err(vector_error)?;
        self.meta.write().map_err(poisoned)?.release(key);
        self.dirty.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn search(
        &self,
        filter: &Filter,
        query: &[f32],
        depth: usize,
        exact_threshold: usize,
    ) -> Result<Vec<(Uuid, f32)>, IndexError> {
        let meta = self.meta.read().map_err(poisoned)?;
        if meta.live == 0 {
            return Ok(Vec::new());
        }
        let labels = filter.label_ids.as_deref();
        let sources = filter.source_ids.as_deref();
        let graph = self.graph.read().map_err(poisoned)?;
        // Scores the given keys exactly, by fetching their vectors (never usearch's own exact
        // scan: see the module's note on concurrency).
        let exact = |keys: &mut dyn Iterator<Item = u32>| -> Result<Vec<(Uuid, f32)>, IndexError> {
            let mut buffer = vec![0f32; self.dim];
            let mut scored = Vec::new();
            for key in keys {
                if !meta.matches(u64::from(key), labels, sources) || !meta.slots[key as usize].ready
                {
                    continue;
                }
                if graph.get(u64::from(key), &mut buffer).map_err(vector_error)? == 0 {
                    continue;
                }
                let similarity: f32 = dot(&buffer, query) / norm(&buffer).max(f32::MIN_POSITIVE);
                scored.push((key, similarity));
            }
            scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            scored.truncate(depth);
            Ok(scored
                .into_iter()
                .map(|(key, similarity)| (meta.slots[key as usize].id, similarity))
                .collect())
        };
        let matches = if labels.is_none() && sources.is_none() {
            if meta.live <= exact_threshold {
                let slots = meta.slots.len() as u32;
                return exact(&mut (0..slots));
            }
            let _permit = self.permits.acquire();
            graph.search(query, depth).map_err(vector_error)?
        } else {
            // Upper bound of the chunks passing the filter, from the per-label/per-file sets.
            let bound = |ids: Option<&[Uuid]>, sets: &HashMap<Uuid, HashSet<u32>>| {
                ids.map(|ids| ids.iter().filter_map(|id| sets.get(id)).map(HashSet::len).sum())
                    .unwrap_or(usize::MAX)
            };
            let by_source = bound(sources, &meta.by_source);
            let by_label = bound(labels, &meta.by_label);
            if by_source.min(by_label) == 0 {
                return Ok(Vec::new());
            }
            if by_source.min(by_label) <= exact_threshold {
                // Few candidates: enumerate them from the smaller side and score exactly.
                let (ids, sets) = if by_source <= by_label {
                    (sources.unwrap_or_default(), &meta.by_source)
                } else {
                    (labels.unwrap_or_default(), &meta.by_label)
                };
                let mut seen = HashSet::new();
                let mut keys = ids
                    .iter()
                    .filter_map(|id| sets.get(id))
                    .flatten()
                    .copied()
                    .filter(|key| seen.insert(*key));
                return exact(&mut keys);
            }
            let _permit = self.permits.acquire();
            graph
                .filtered_search(query, depth, |key| meta.matches(key, labels, sources))
                .map_err(vector_error)?
        };
        Ok(matches
            .keys
            .iter()
            .zip(&matches.distances)
            .filter_map(|(&key, &distance)| {
                let slot = meta.slots.get(key as usize)?;
                slot.live.then_some((slot.id, 1.0 - distance))
            })
            .collect())
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// Scales `vector` to unit length; refuses empty, non-finite and all-zero vectors (cosine
/// similarity is undefined for them).
pub(crate) fn normalised(vector: &[f32]) -> Result<Vec<f32>, IndexError> {
    if vector.is_empty() {
        return Err(IndexError::InvalidInput("an embedding is empty".into()));
    }
    if vector.len() > MAX_DIMENSIONS {
        return Err(IndexError::InvalidInput(format!(
            "an embedding has {} dimensions; at most {MAX_DIMENSIONS} are supported",
            vector.len()
        )));
    }
    if !vector.iter().all(|x| x.is_finite()) {
        return Err(IndexError::InvalidInput("an embedding contains NaN or infinity".into()));
    }
    let length = norm(vector);
    if !(length.is_finite() && length > 0.0) {
        return Err(IndexError::InvalidInput(
            "an embedding has zero (or overflowing) length".into(),
        ));
    }
    Ok(vector.iter().map(|x| x / length).collect())
}

/// Largest embedding accepted; today's models go up to 4096 (e.g. Qwen3-Embedding-8B).
pub(crate) const MAX_DIMENSIONS: usize = 16_384;

/// Where a chunk's vector lives.
#[derive(Clone, Copy)]
struct Location {
    kb: Uuid,
    key: u32,
}

pub(crate) struct VectorIndex {
    config: VectorConfig,
    partitions: RwLock<HashMap<Uuid, Arc<Partition>>>,
    /// Chunk id → graph and key. Only the writer uses it.
    locations: Mutex<HashMap<Uuid, Location>>,
}

/// One graph insertion waiting for the batch to be inserted in parallel.
struct PendingAdd {
    partition: Arc<Partition>,
    key: u32,
    vector: Vec<f32>,
}

/// The keys of `adds`, graph by graph.
fn by_partition<'a>(
    adds: impl Iterator<Item = &'a PendingAdd>,
) -> impl Iterator<Item = (&'a Arc<Partition>, Vec<u32>)> {
    let mut groups: HashMap<*const Partition, (&Arc<Partition>, Vec<u32>)> = HashMap::new();
    for add in adds {
        let group = groups.entry(Arc::as_ptr(&add.partition));
        group.or_insert_with(|| (&add.partition, Vec::new())).1.push(add.key);
    }
    groups.into_values()
}

impl VectorIndex {
    pub fn new(config: VectorConfig) -> Self {
        VectorIndex {
            config,
            partitions: RwLock::new(HashMap::new()),
            locations: Mutex::new(HashMap::new()),
        }
    }

    /// The owner and dimensions of a knowledge base's vectors, if it has any.
    pub fn partition_info(&self, kb: Uuid) -> Result<Option<(Uuid, usize)>, IndexError> {
        Ok(self.partitions.read().map_err(poisoned)?.get(&kb).map(|p| (p.org, p.dim)))
    }

    pub fn contains(&self, id: Uuid) -> Result<bool, IndexError> {
        Ok(self.locations.lock().map_err(poisoned)?.contains_key(&id))
    }

    pub fn len(&self) -> Result<usize, IndexError> {
        Ok(self.locations.lock().map_err(poisoned)?.len())
    }

    /// Whether any knowledge base in `filter` has vectors.
    pub fn covers(&self, filter: &Filter) -> Result<bool, IndexError> {
        let partitions = self.partitions.read().map_err(poisoned)?;
        Ok(filter
            .knowledge_base_ids
            .iter()
            .filter_map(|kb| partitions.get(kb))
            .any(|p| p.org == filter.organization_id))
    }

    /// The `depth` nearest chunks to `query` (unit length) within `filter`, with their cosine
    /// similarity, best first.
    pub fn search(
        &self,
        filter: &Filter,
        query: &[f32],
        depth: usize,
    ) -> Result<Vec<(Uuid, f32)>, IndexError> {
        let selected: Vec<(Uuid, Arc<Partition>)> = {
            let partitions = self.partitions.read().map_err(poisoned)?;
            let mut seen = HashSet::new();
            filter
                .knowledge_base_ids
                .iter()
                .filter(|kb| seen.insert(**kb))
                .filter_map(|kb| partitions.get(kb).map(|p| (*kb, Arc::clone(p))))
                // The tenant check: a knowledge base of another organisation is never searched.
                .filter(|(_, p)| p.org == filter.organization_id)
                .collect()
        };
        let mut all = Vec::new();
        for (kb, partition) in selected {
            if partition.dim != query.len() {
                return Err(IndexError::DimensionMismatch {
                    knowledge_base_id: kb,
                    expected: partition.dim,
                    got: query.len(),
                });
            }
            all.extend(partition.search(filter, query, depth, self.config.exact_threshold)?);
        }
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(depth);
        Ok(all)
    }

    /// Applies a batch of changes, in order. Graph insertions are batched and spread over
    /// `insert_threads` threads; a removal that concerns a pending insertion flushes first.
    pub fn apply(&self, ops: Vec<VectorOp>) -> Result<(), IndexError> {
        let mut locations = self.locations.lock().map_err(poisoned)?;
        let mut pending: Vec<PendingAdd> = Vec::new();
        let mut pending_ids: HashSet<Uuid> = HashSet::new();
        for op in ops {
            match op {
                VectorOp::Upsert { id, org, kb, source, labels, vector } => {
                    if let Some(old) = locations.get(&id).copied() {
                        if pending_ids.contains(&id) {
                            self.flush(&mut pending)?;
                            pending_ids.clear();
                        }
                        self.remove_location(&mut locations, id, old)?;
                    }
                    let partition = match self.partition_for(org, kb, vector.len()) {
                        Ok(partition) => partition,
                        // Writes are checked before they are accepted, so this only happens
                        // with a log written by a buggy version; skipping beats refusing to
                        // open.
                        Err(
                            e @ (IndexError::ForeignKnowledgeBase(_)
                            | IndexError::DimensionMismatch { .. }),
                        ) => {
                            tracing::warn!(chunk = %id, error = %e, "skipped a vector");
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    let key = partition.meta.write().map_err(poisoned)?.allocate(Slot {
                        id,
                        source,
                        labels: labels.into_boxed_slice(),
                        live: true,
                        ready: false,
                    });
                    partition.dirty.store(true, Ordering::Relaxed);
                    locations.insert(id, Location { kb, key });
                    pending_ids.insert(id);
                    pending.push(PendingAdd { partition, key, vector });
                }
                VectorOp::Delete { id } => {
                    if let Some(old) = locations.get(&id).copied() {
                        if pending_ids.contains(&id) {
                            self.flush(&mut pending)?;
                            pending_ids.clear();
                        }
                        self.remove_location(&mut locations, id, old)?;
                    }
                }
                VectorOp::DeleteSource { org, source } => {
                    self.flush(&mut pending)?;
                    pending_ids.clear();
                    for (kb, partition) in self.partitions_of(org)? {
                        let keys: Vec<u32> = {
                            let meta = partition.meta.read().map_err(poisoned)?;
                            meta.by_source.get(&source).into_iter().flatten().copied().collect()
                        };
                        for key in keys {
                            let id =
                                partition.meta.read().map_err(poisoned)?.slots[key as usize].id;
                            self.remove_location(&mut locations, id, Location { kb, key })?;
                        }
                    }
                }
                VectorOp::DeleteKb { org, kb } => {
                    self.flush(&mut pending)?;
                    pending_ids.clear();
                    let mut partitions = self.partitions.write().map_err(poisoned)?;
                    if partitions.get(&kb).is_some_and(|p| p.org == org)
                        && let Some(partition) = partitions.remove(&kb)
                    {
                        let meta = partition.meta.read().map_err(poisoned)?;
                        for slot in meta.slots.iter().filter(|s| s.live) {
                            locations.remove(&slot.id);
                        }
                    }
                }
                VectorOp::SetLabels { org, source, labels } => {
                    for (_, partition) in self.partitions_of(org)? {
                        let mut meta = partition.meta.write().map_err(poisoned)?;
                        let keys: Vec<u32> =
                            meta.by_source.get(&source).into_iter().flatten().copied().collect();
                        for key in keys {
                            meta.unindex(key);
                            meta.slots[key as usize].labels = labels.clone().into_boxed_slice();
                            meta.index(key);
                        }
                        partition.dirty.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
        self.flush(&mut pending)
    }

    fn partitions_of(&self, org: Uuid) -> Result<Vec<(Uuid, Arc<Partition>)>, IndexError> {
        Ok(self
            .partitions
            .read()
            .map_err(poisoned)?
            .iter()
            .filter(|(_, p)| p.org == org)
            .map(|(kb, p)| (*kb, Arc::clone(p)))
            .collect())
    }

    fn partition_for(&self, org: Uuid, kb: Uuid, dim: usize) -> Result<Arc<Partition>, IndexError> {
        let mut partitions = self.partitions.write().map_err(poisoned)?;
        if let Some(partition) = partitions.get(&kb) {
            if partition.org != org {
                return Err(IndexError::ForeignKnowledgeBase(kb));
            }
            if partition.dim != dim {
                return Err(IndexError::DimensionMismatch {
                    knowledge_base_id: kb,
                    expected: partition.dim,
                    got: dim,
                });
            }
            return Ok(Arc::clone(partition));
        }
        let partition = Arc::new(Partition::new(org, dim, &self.config)?);
        partitions.insert(kb, Arc::clone(&partition));
        Ok(partition)
    }

    fn remove_location(
        &self,
        locations: &mut HashMap<Uuid, Location>,
        id: Uuid,
        location: Location,
    ) -> Result<(), IndexError> {
        locations.remove(&id);
        let partition = self.partitions.read().map_err(poisoned)?.get(&location.kb).cloned();
        let Some(partition) = partition else { return Ok(()) };
        partition.remove(location.key)?;
        if partition.meta.read().map_err(poisoned)?.live == 0 {
            // An empty graph is dropped, so the knowledge base may change embedding model.
            let mut partitions = self.partitions.write().map_err(poisoned)?;
            if partitions.get(&location.kb).is_some_and(|p| Arc::ptr_eq(p, &partition)) {
                partitions.remove(&location.kb);
            }
        }
        Ok(())
    }

    /// Inserts the pending vectors into their graphs, in parallel.
    fn flush(&self, pending: &mut Vec<PendingAdd>) -> Result<(), IndexError> {
        if pending.is_empty() {
            return Ok(());
        }
        for (partition, keys) in by_partition(pending.iter()) {
            partition.reserve(keys.len(), self.config.contexts)?;
        }
        let adds = std::mem::take(pending);
        let threads = self.config.insert_threads.clamp(1, adds.len().div_ceil(64).max(1));
        // Each part's count of vectors added, in order, and how it ended.
        let insert = |part: &[PendingAdd]| -> (usize, Result<(), IndexError>) {
            for (done, add) in part.iter().enumerate() {
                if let Err(e) = add.partition.add(add.key, &add.vector) {
                    return (done, Err(e));
                }
            }
            (part.len(), Ok(()))
        };
        let chunk = adds.len().div_ceil(threads);
        let outcomes: Vec<(usize, Result<(), IndexError>)> = if threads == 1 {
            vec![insert(&adds)]
        } else {
            std::thread::scope(|scope| {
                let workers: Vec<_> =
                    adds.chunks(chunk).map(|part| scope.spawn(move || insert(part))).collect();
                workers
                    .into_iter()
                    .map(|w| w.join().unwrap_or((0, Err(IndexError::Poisoned))))
                    .collect()
            })
        };
        // Only now may exact searches fetch the new vectors (see `Slot::ready`): one write
        // lock per graph, since each waits for the searches running on it.
        let mut result = Ok(());
        let mut inserted = Vec::with_capacity(adds.len());
        for (part, (done, outcome)) in adds.chunks(chunk).zip(outcomes) {
            inserted.extend(&part[..done]);
            if result.is_ok() {
                result = outcome;
            }
        }
        for (partition, keys) in by_partition(inserted.into_iter()) {
            let mut meta = partition.meta.write().map_err(poisoned)?;
            for key in keys {
                meta.slots[key as usize].ready = true;
            }
        }
        result
    }

    /// Writes every changed graph to `dir` under `stem_for(kb)`, and returns the stems that
    /// now hold every graph.
    pub fn save(
        &self,
        dir: &Path,
        stem_for: impl Fn(Uuid) -> String,
    ) -> Result<Vec<(Uuid, String)>, IndexError> {
        let partitions: Vec<(Uuid, Arc<Partition>)> = self
            .partitions
            .read()
            .map_err(poisoned)?
            .iter()
            .map(|(kb, p)| (*kb, Arc::clone(p)))
            .collect();
        let mut manifest = Vec::with_capacity(partitions.len());
        for (kb, partition) in partitions {
            let mut stem = partition.stem.lock().map_err(poisoned)?;
            if partition.dirty.load(Ordering::Relaxed) || stem.is_none() {
                let new_stem = stem_for(kb);
                partition.save(dir, &new_stem, kb)?;
                *stem = Some(new_stem);
                partition.dirty.store(false, Ordering::Relaxed);
            }
            if let Some(stem) = stem.as_ref() {
                manifest.push((kb, stem.clone()));
            }
        }
        manifest.sort();
        Ok(manifest)
    }

    /// Loads graphs written by [`VectorIndex::save`].
    pub fn load(&self, dir: &Path, manifest: &[(Uuid, String)]) -> Result<(), IndexError> {
        let mut partitions = self.partitions.write().map_err(poisoned)?;
        let mut locations = self.locations.lock().map_err(poisoned)?;
        for (kb, stem) in manifest {
            let partition = Partition::load(dir, stem, *kb, &self.config)?;
            {
                let meta = partition.meta.read().map_err(poisoned)?;
                for (key, slot) in meta.slots.iter().enumerate() {
                    if slot.live {
                        locations.insert(slot.id, Location { kb: *kb, key: key as u32 });
                    }
                }
            }
            partitions.insert(*kb, Arc::new(partition));
        }
        Ok(())
    }
}

const SLOTS_MAGIC: &[u8; 8] = b"OMSLOTS1";

fn graph_path(dir: &Path, stem: &str) -> Result<String, IndexError> {
    dir.join(format!("{stem}.usearch"))
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| IndexError::InvalidInput(format!("{} is not UTF-8", dir.display())))
}

impl Partition {
    fn save(&self, dir: &Path, stem: &str, kb: Uuid) -> Result<(), IndexError> {
        let path = graph_path(dir, stem)?;
        self.graph.read().map_err(poisoned)?.save(&path).map_err(vector_error)?;
        fs::File::open(&path).and_then(|f| f.sync_all()).map_err(IndexError::io(&path))?;
        let meta_path = dir.join(format!("{stem}.slots"));
        let meta = self.meta.read().map_err(poisoned)?;
        let file = fs::File::create(&meta_path).map_err(IndexError::io(&meta_path))?;
        let mut out = BufWriter::new(file);
        let mut write = || -> std::io::Result<()> {
            out.write_all(SLOTS_MAGIC)?;
            out.write_all(self.org.as_bytes())?;
            out.write_all(kb.as_bytes())?;
            out.write_all(&(self.dim as u64).to_le_bytes())?;
            out.write_all(&(meta.slots.len() as u64).to_le_bytes())?;
            for slot in &meta.slots {
                out.write_all(&[u8::from(slot.live) | (u8::from(slot.source.is_some()) << 1)])?;
                out.write_all(slot.id.as_bytes())?;
                out.write_all(slot.source.unwrap_or_default().as_bytes())?;
                out.write_all(&(slot.labels.len() as u32).to_le_bytes())?;
                for label in slot.labels.iter() {
                    out.write_all(label.as_bytes())?;
                }
            }
            out.flush()?;
            out.get_ref().sync_all()
        };
        write().map_err(IndexError::io(&meta_path))
    }

    fn load(dir: &Path, stem: &str, kb: Uuid, config: &VectorConfig) -> Result<Self, IndexError> {
        let meta_path = dir.join(format!("{stem}.slots"));
        let file = fs::File::open(&meta_path).map_err(IndexError::io(&meta_path))?;
        let mut input = BufReader::new(file);
        let corrupt = |what: &str| IndexError::Corrupt(format!("{}: {what}", meta_path.display()));
        let mut read = |n: usize| -> Result<Vec<u8>, IndexError> {
            let mut buffer = vec![0u8; n];
            input.read_exact(&mut buffer).map_err(|_| corrupt("truncated"))?;
            Ok(buffer)
        };
        let uuid = |bytes: Vec<u8>| Uuid::from_slice(&bytes).map_err(|_| corrupt("bad id"));
        let u64_of = |bytes: Vec<u8>| -> u64 {
            let mut array = [0u8; 8];
            array.copy_from_slice(&bytes);
            u64::from_le_bytes(array)
        };
        if read(8)? != SLOTS_MAGIC {
            return Err(corrupt("not a slot file"));
        }
        let org = uuid(read(16)?)?;
        if uuid(read(16)?)? != kb {
            return Err(corrupt("belongs to another knowledge base"));
        }
        let dim = u64_of(read(8)?) as usize;
        let count = u64_of(read(8)?) as usize;
        if dim == 0 || dim > MAX_DIMENSIONS || count > u32::MAX as usize {
            return Err(corrupt("implausible header"));
        }
        let partition = Partition::new(org, dim, config)?;
        {
            let mut meta = partition.meta.write().map_err(poisoned)?;
            meta.slots.reserve(count);
            for key in 0..count {
                let flags = read(1)?[0];
                let id = uuid(read(16)?)?;
                let source = uuid(read(16)?)?;
                let mut n = [0u8; 4];
                n.copy_from_slice(&read(4)?);
                let labels =
                    (0..u32::from_le_bytes(n))
                        .map(|_| uuid(read(16)?))
                        .collect::<Result<Vec<_>, _>>()?;
                let slot = Slot {
                    id,
                    source: (flags & 2 != 0).then_some(source),
                    labels: labels.into_boxed_slice(),
                    live: flags & 1 != 0,
                    ready: true,
                };
                meta.slots.push(slot);
                if flags & 1 != 0 {
                    meta.index(key as u32);
                    meta.live += 1;
                } else {
                    meta.free.push(key as u32);
                }
            }
        }
        {
            let path = graph_path(dir, stem)?;
            let graph = partition.graph.write().map_err(poisoned)?;
            graph.load(&path).map_err(vector_error)?;
            if graph.dimensions() != dim {
                return Err(corrupt("graph and slot file disagree"));
            }
            let capacity = graph.size().max(64);
            graph.reserve_capacity_and_threads(capacity, config.contexts).map_err(vector_error)?;
            graph.change_expansion_search(config.expansion_search);
            graph.change_expansion_add(config.expansion_add);
        }
        partition.dirty.store(false, Ordering::Relaxed);
        *partition.stem.lock().map_err(poisoned)? = Some(stem.to_owned());
        Ok(partition)
    }
}
