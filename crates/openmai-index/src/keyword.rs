//! The BM25 half: a tantivy index whose searchable field is analysed by
//! [`crate::analyzer`] (one analyzer, shared with any other implementation), registered as
//! the field's tokenizer. Tantivy then analyses each chunk in its own indexing threads, in
//! parallel, straight into its postings; pre-tokenised input would instead be JSON-encoded
//! into the document and decoded again, which cost more than the analysis itself.
//!
//! Queries are a `BooleanQuery` of `Should` term queries (any term may match; BM25 ranks by
//! how many and how rare), never a phrase: a multi-word Chinese question must find a passage
//! that contains its words in another order.
//!
//! **Scope** (organisation, knowledge bases, labels, files) is applied before ranking, in one
//! of two ways chosen per query by how much of the index the knowledge bases hold:
//! - a large scope (at least [`WAND_MIN_SCOPE`] of the documents): the bare term query runs
//!   with block-max WAND, which skips documents that cannot enter the top k, and every
//!   candidate is checked against the scope on fast fields before it is counted; a `Must`
//!   filter clause would disable WAND and score every matching document (13.8 ms p99 at 1M
//!   chunks, against 3–4 ms with this);
//! - a small scope: the filters are `Must` clauses (constant score zero) over the raw id
//!   fields, so tantivy walks the few documents of the scope instead of every match.
//!
//! Both ways collect with [`ScopedTopDocs`], so the tenant check runs on every returned
//! document whichever plan was chosen.
//!
//! BM25 statistics (document frequencies, average length) are those of the whole index, all
//! tenants together, as in any shared Lucene-style index: one tenant's documents shift
//! another's scores slightly (and could in principle be probed that way), but never what is
//! returned.

use std::collections::{BinaryHeap, HashMap};
use std::path::Path;

use tantivy::collector::{Collector, DocSetCollector, SegmentCollector};
use tantivy::columnar::{BytesColumn, Column};
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery, Weight};
use tantivy::schema::{
    BytesOptions, FAST, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};
use tantivy::{
    DocAddress, DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, SegmentReader,
    TantivyDocument, Term,
};
use uuid::Uuid;

use crate::analyzer::{self, Analyzer};
use crate::{ChunkRecord, IndexError};

/// The name of [`AnalyzerTokenizer`] in the index's tokenizer manager.
const TOKENIZER: &str = "openmai";

/// Restricts a search to one organisation and some of its knowledge bases, and optionally to
/// labels and files. Shared by the keyword and the vector side.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub organization_id: Uuid,
    pub knowledge_base_ids: Vec<Uuid>,
    /// `Some`: at least one of these labels.
    pub label_ids: Option<Vec<Uuid>>,
    /// `Some`: the chunk's file or FAQ id is one of these.
    pub source_ids: Option<Vec<Uuid>>,
}

#[derive(Clone, Copy)]
pub(crate) struct Fields {
    id: Field,
    id_hi: Field,
    id_lo: Field,
    org: Field,
    kb: Field,
    file: Field,
    faq: Field,
    labels: Field,
    terms: Field,
}

pub(crate) struct KeywordIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
}

fn schema() -> (Schema, Fields) {
    schema_with(false, TOKENIZER)
}

/// The schema with the chunks' ids and text stored or not, and the `terms` field analysed by
/// the named tokenizer (see [`is_known_schema`] for the combinations indexes were written
/// with). Nothing is stored any more: the database holds the chunks, and the caller hands them in
/// again when the index needs them (`set_labels`, re-analysis), so the document store stays
/// empty instead of keeping a second compressed copy of every text.
fn schema_with(stored: bool, tokenizer: &str) -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let stored_if = |options: BytesOptions| if stored { options.set_stored() } else { options };
    // Raw 16-byte ids: indexed (filters as term queries, deletes) and fast (the scope check on
    // each candidate, see `ScopedTopDocs`).
    let raw = stored_if(BytesOptions::default().set_indexed().set_fast());
    let fields = Fields {
        id: builder.add_bytes_field("id", stored_if(BytesOptions::default().set_indexed())),
        // The id again as two fast u64 columns: how a hit's id is read (the document store
        // holds nothing).
        id_hi: builder.add_u64_field("id_hi", FAST),
        id_lo: builder.add_u64_field("id_lo", FAST),
        org: builder.add_bytes_field("org", raw.clone()),
        kb: builder.add_bytes_field("kb", raw.clone()),
        file: builder.add_bytes_field("file", raw.clone()),
        faq: builder.add_bytes_field("faq", raw.clone()),
        labels: builder.add_bytes_field("labels", raw),
        terms: {
            // `text`, neither indexed nor (now) stored, comes first: kept so that the field
            // numbers match the indexes that stored the chunk text there.
            let text = TextOptions::default();
            builder.add_text_field("text", if stored { text.set_stored() } else { text });
            builder.add_text_field("terms", terms_options(tokenizer))
        },
    };
    (builder.build(), fields)
}

fn terms_options(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            // Only term frequencies: BM25 needs them, positions are never used (no phrase
            // queries), and leaving them out makes the index smaller.
            .set_index_option(IndexRecordOption::WithFreqs)
            .set_fieldnorms(true),
    )
}

/// Whether `found` is a schema an index of ours was written with: the current one; the one
/// before, which also stored each chunk's ids and text; or the one before that, which stored
/// them too and fed `terms` pre-tokenised through the "default" tokenizer name. Such an index
/// holds the same terms; it is opened with the analyzer registered under that name too, and
/// its stored copies are never read.
fn is_known_schema(found: &Schema) -> bool {
    [(false, TOKENIZER), (true, TOKENIZER), (true, "default")]
        .into_iter()
        .any(|(stored, tokenizer)| *found == schema_with(stored, tokenizer).0)
}

/// [`Analyzer`] as a tantivy tokenizer. Terms go out through one reused token (and, read with
/// `advance`, one reused buffer), so a chunk costs no allocation per term.
#[derive(Clone)]
pub(crate) struct AnalyzerTokenizer {
    analyzer: &'static Analyzer,
    scratch: analyzer::Scratch,
    terms: String,
    /// End offset of each term in `terms`.
    ends: Vec<usize>,
}

impl AnalyzerTokenizer {
    fn new(analyzer: &'static Analyzer) -> Self {
        AnalyzerTokenizer {
            analyzer,
            scratch: analyzer::Scratch::with_first_line_memo(),
            terms: String::new(),
            ends: Vec::new(),
        }
    }
}

/// The terms of one text. tantivy indexes a text through [`TokenStream::process`], which
/// hands each term to tantivy as the analysis produces it; [`TokenStream::advance`] (for
/// other readers) analyses the text into the tokenizer's buffer first.
pub(crate) struct AnalyzerTokenStream<'a> {
    analyzer: &'static Analyzer,
    scratch: &'a mut analyzer::Scratch,
    text: &'a str,
    terms: &'a mut String,
    ends: &'a mut Vec<usize>,
    progress: Progress,
    next: usize,
    token: Token,
}

/// How far an [`AnalyzerTokenStream`] has gone.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Nothing analysed yet.
    Fresh,
    /// The text's terms are in `terms` and `ends` (`advance` was called).
    Buffered,
    /// `process` has emitted every term.
    Processed,
}

impl Tokenizer for AnalyzerTokenizer {
    type TokenStream<'a> = AnalyzerTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> AnalyzerTokenStream<'a> {
        AnalyzerTokenStream {
            analyzer: self.analyzer,
            scratch: &mut self.scratch,
            text,
            terms: &mut self.terms,
            ends: &mut self.ends,
            progress: Progress::Fresh,
            next: 0,
            token: Token::default(),
        }
    }
}

impl AnalyzerTokenStream<'_> {
    /// Analyses the text into `terms` and `ends`, for `advance`.
    fn buffer(&mut self) {
        self.terms.clear();
        self.ends.clear();
        let (terms, ends) = (&mut *self.terms, &mut *self.ends);
        self.analyzer.for_each_term_with(self.text, self.scratch, |term| {
            terms.push_str(term);
            ends.push(terms.len());
        });
        self.progress = Progress::Buffered;
    }
}

impl TokenStream for AnalyzerTokenStream<'_> {
    fn advance(&mut self) -> bool {
        match self.progress {
            Progress::Processed => return false,
            Progress::Buffered => {}
            Progress::Fresh => self.buffer(),
        }
        let Some(&end) = self.ends.get(self.next) else { return false };
        let start = if self.next == 0 { 0 } else { self.ends[self.next - 1] };
        self.token.text.clear();
        self.token.text.push_str(&self.terms[start..end]);
        self.token.position = self.next;
        self.next += 1;
        true
    }

    /// Each term goes to `sink` as the analysis emits it: no copy into a buffer first, and
    /// no call through tantivy's boxed stream per term.
    fn process(&mut self, sink: &mut dyn FnMut(&Token)) {
        if self.progress != Progress::Fresh {
            while self.advance() {
                sink(&self.token);
            }
            return;
        }
        self.progress = Progress::Processed;
        let token = &mut self.token;
        let mut position = 0;
        self.analyzer.for_each_term_with(self.text, self.scratch, |term| {
            token.text.clear();
            token.text.push_str(term);
            token.position = position;
            position += 1;
            sink(token);
        });
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

fn uuid_term(field: Field, id: Uuid) -> Term {
    Term::from_field_bytes(field, id.as_bytes())
}

/// A clause that matches documents having any of `ids` in `field`, scoring zero.
fn any_of(fields: &[Field], ids: &[Uuid]) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(fields.len() * ids.len());
    for &field in fields {
        for &id in ids {
            clauses.push((
                Occur::Should,
                Box::new(TermQuery::new(uuid_term(field, id), IndexRecordOption::Basic)),
            ));
        }
    }
    Box::new(ConstScoreQuery::new(Box::new(BooleanQuery::new(clauses)), 0.0))
}

impl KeywordIndex {
    /// Opens (or creates) the index in `dir`, or in memory. Returns the index and its single
    /// writer.
    pub fn open(
        dir: Option<&Path>,
        writer_threads: usize,
        writer_memory: usize,
    ) -> Result<(Self, IndexWriter), IndexError> {
        let (schema, fields) = schema();
        let index = match dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(IndexError::io(dir))?;
                let directory = MmapDirectory::open(dir).map_err(|e| IndexError::Io {
                    path: dir.to_owned(),
                    source: std::io::Error::other(e),
                })?;
                // Not `open_or_create`: it refuses the earlier schema, which we accept.
                let exists = Index::exists(&directory).map_err(tantivy::TantivyError::from)?;
                let index = if exists {
                    Index::open(directory)?
                } else {
                    Index::create(directory, schema.clone(), tantivy::IndexSettings::default())?
                };
                if !is_known_schema(&index.schema()) {
                    return Err(IndexError::Corrupt(format!(
                        "{} holds a full-text index with a different schema",
                        dir.display()
                    )));
                }
                index
            }
            None => Index::create_in_ram(schema.clone()),
        };
        let tokenizer = AnalyzerTokenizer::new(analyzer::shared());
        index.tokenizers().register(TOKENIZER, tokenizer.clone());
        if index.schema() != schema {
            index.tokenizers().register("default", tokenizer);
        }
        let writer = match index.writer_with_num_threads(writer_threads, writer_memory) {
            Ok(writer) => writer,
            Err(tantivy::TantivyError::LockFailure(..)) => {
                return Err(IndexError::Locked(dir.map(Path::to_owned).unwrap_or_default()));
            }
            Err(e) => return Err(e.into()),
        };
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok((KeywordIndex { index, reader, fields }, writer))
    }

    /// The payload of the last commit (where the vector log stood; see `persist`).
    pub fn commit_payload(&self) -> Result<Option<String>, IndexError> {
        Ok(self.index.load_metas()?.payload)
    }

    /// Makes the last commit visible to searches.
    pub fn reload(&self) -> Result<(), IndexError> {
        Ok(self.reader.reload()?)
    }

    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The document for `chunk`; tantivy analyses its text into the `terms` field.
    pub fn document(&self, chunk: &ChunkRecord) -> TantivyDocument {
        let mut doc = self.document_without_terms(chunk);
        doc.add_text(self.fields.terms, &chunk.text);
        doc
    }

    /// The document for `chunk` with every field but `terms`.
    fn document_without_terms(&self, chunk: &ChunkRecord) -> TantivyDocument {
        let f = &self.fields;
        let mut doc = TantivyDocument::new();
        doc.add_bytes(f.id, chunk.id.as_bytes());
        let (hi, lo) = chunk.id.as_u64_pair();
        doc.add_u64(f.id_hi, hi);
        doc.add_u64(f.id_lo, lo);
        doc.add_bytes(f.org, chunk.organization_id.as_bytes());
        doc.add_bytes(f.kb, chunk.knowledge_base_id.as_bytes());
        if let Some(file) = chunk.file_id {
            doc.add_bytes(f.file, file.as_bytes());
        }
        if let Some(faq) = chunk.faq_id {
            doc.add_bytes(f.faq, faq.as_bytes());
        }
        for label in &chunk.label_ids {
            doc.add_bytes(f.labels, label.as_bytes());
        }
        doc
    }

    /// The document for `chunk` with the given terms instead of its text's (for tests that
    /// pretend another analyzer wrote the index).
    #[cfg(test)]
    pub fn document_with_terms(&self, chunk: &ChunkRecord, terms: &[&str]) -> TantivyDocument {
        let mut doc = self.document_without_terms(chunk);
        let tokens = terms
            .iter()
            .enumerate()
            .map(|(position, text)| Token {
                position,
                text: (*text).to_owned(),
                ..Token::default()
            })
            .collect();
        doc.add_pre_tokenized_text(
            self.fields.terms,
            tantivy::tokenizer::PreTokenizedString { text: String::new(), tokens },
        );
        doc
    }

    pub fn delete_ids(&self, writer: &IndexWriter, ids: &[Uuid]) {
        for &id in ids {
            writer.delete_term(uuid_term(self.fields.id, id));
        }
    }

    pub fn delete_source(
        &self,
        writer: &IndexWriter,
        org: Uuid,
        source: Uuid,
    ) -> Result<(), IndexError> {
        writer.delete_query(self.source_query(org, source))?;
        Ok(())
    }

    pub fn delete_knowledge_base(
        &self,
        writer: &IndexWriter,
        org: Uuid,
        kb: Uuid,
    ) -> Result<(), IndexError> {
        let f = &self.fields;
        writer.delete_query(Box::new(BooleanQuery::new(vec![
            (Occur::Must, any_of(&[f.org], &[org])),
            (Occur::Must, any_of(&[f.kb], &[kb])),
        ])))?;
        Ok(())
    }

    fn source_query(&self, org: Uuid, source: Uuid) -> Box<dyn Query> {
        let f = &self.fields;
        Box::new(BooleanQuery::new(vec![
            (Occur::Must, any_of(&[f.org], &[org])),
            (Occur::Must, any_of(&[f.file, f.faq], &[source])),
        ]))
    }

    /// The best `depth` chunks for `terms` within `filter`, with their BM25 scores, best
    /// first. `terms` must be de-duplicated and non-empty.
    pub fn search(
        &self,
        filter: &Filter,
        terms: &[String],
        depth: usize,
    ) -> Result<Vec<(Uuid, f32)>, IndexError> {
        let f = &self.fields;
        let text: Box<dyn Query> = if terms.len() == 1 {
            Box::new(TermQuery::new(
                Term::from_field_text(f.terms, &terms[0]),
                IndexRecordOption::WithFreqs,
            ))
        } else {
            Box::new(BooleanQuery::new(
                terms
                    .iter()
                    .map(|term| -> (Occur, Box<dyn Query>) {
                        (
                            Occur::Should,
                            Box::new(TermQuery::new(
                                Term::from_field_text(f.terms, term),
                                IndexRecordOption::WithFreqs,
                            )),
                        )
                    })
                    .collect(),
            ))
        };
        let searcher = self.reader.searcher();
        let scope_docs: u64 = filter
            .knowledge_base_ids
            .iter()
            .map(|kb| searcher.doc_freq(&uuid_term(f.kb, *kb)))
            .sum::<tantivy::Result<u64>>()?;
        if scope_docs == 0 {
            return Ok(Vec::new());
        }
        let collector = ScopedTopDocs { k: depth, scope: filter.clone() };
        let wand = scope_docs as f64 >= WAND_MIN_SCOPE * searcher.num_docs().max(1) as f64;
        let top = if wand {
            searcher.search(&*text, &collector)?
        } else {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
                (Occur::Must, text),
                (Occur::Must, any_of(&[f.org], &[filter.organization_id])),
                (Occur::Must, any_of(&[f.kb], &filter.knowledge_base_ids)),
            ];
            if let Some(labels) = &filter.label_ids {
                clauses.push((Occur::Must, any_of(&[f.labels], labels)));
            }
            if let Some(sources) = &filter.source_ids {
                clauses.push((Occur::Must, any_of(&[f.file, f.faq], sources)));
            }
            searcher.search(&BooleanQuery::new(clauses), &collector)?
        };
        self.resolve_ids(&searcher, top)
    }

    /// The ids of a file's or FAQ entry's chunks (as of the last commit).
    pub fn ids_of_source(
        &self,
        org: Uuid,
        source: Uuid,
    ) -> Result<std::collections::HashSet<Uuid>, IndexError> {
        let searcher = self.reader.searcher();
        let addresses = searcher.search(&*self.source_query(org, source), &DocSetCollector)?;
        let top = addresses.into_iter().map(|address| (0.0, address)).collect();
        Ok(self.resolve_ids(&searcher, top)?.into_iter().map(|(id, _)| id).collect())
    }

    fn resolve_ids(
        &self,
        searcher: &tantivy::Searcher,
        top: Vec<(f32, DocAddress)>,
    ) -> Result<Vec<(Uuid, f32)>, IndexError> {
        let mut columns = HashMap::new();
        let mut out = Vec::with_capacity(top.len());
        for (score, address) in top {
            let (hi, lo) = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let fast = searcher.segment_reader(address.segment_ord).fast_fields();
                    e.insert((fast.u64("id_hi")?, fast.u64("id_lo")?))
                }
            };
            match (hi.first(address.doc_id), lo.first(address.doc_id)) {
                (Some(hi), Some(lo)) => out.push((Uuid::from_u64_pair(hi, lo), score)),
                _ => return Err(IndexError::Corrupt("a document has no id".into())),
            }
        }
        Ok(out)
    }
}

/// The share of the index a query's knowledge bases must hold for the WAND plan (see the
/// module documentation). Below it, walking the scope's own postings is cheaper. Measured on
/// the 1M-chunk benchmark corpus.
pub(crate) const WAND_MIN_SCOPE: f64 = 0.05;

/// Top-k by score, keeping only documents inside the scope, checked on fast fields. Used with
/// the bare term query it keeps block-max WAND pruning: a document outside the scope simply
/// does not raise the threshold.
struct ScopedTopDocs {
    k: usize,
    scope: Filter,
}

/// The scope resolved to one segment's term ordinals.
struct SegmentScope {
    org: Column<u64>,
    org_ord: u64,
    kb: Column<u64>,
    kb_ords: Vec<u64>,
    labels: Option<(BytesColumn, Vec<u64>)>,
    /// `Some`: (file or FAQ column, wanted ordinals) pairs, any of which may match.
    sources: Option<Vec<(Column<u64>, Vec<u64>)>>,
}

fn ordinals(column: &BytesColumn, ids: &[Uuid]) -> Result<Vec<u64>, IndexError> {
    let mut ords = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(ord) =
            column.dictionary().term_ord(id.as_bytes()).map_err(tantivy::TantivyError::from)?
        {
            ords.push(ord);
        }
    }
    Ok(ords)
}

impl SegmentScope {
    /// `None` when no document of the segment can be in scope.
    fn open(reader: &SegmentReader, scope: &Filter) -> Result<Option<Self>, IndexError> {
        let fast = reader.fast_fields();
        let (Some(org), Some(kb)) = (fast.bytes("org")?, fast.bytes("kb")?) else {
            return Ok(None);
        };
        let Some(&org_ord) = ordinals(&org, &[scope.organization_id])?.first() else {
            return Ok(None);
        };
        let kb_ords = ordinals(&kb, &scope.knowledge_base_ids)?;
        if kb_ords.is_empty() {
            return Ok(None);
        }
        let labels = match &scope.label_ids {
            None => None,
            Some(wanted) => {
                let Some(column) = fast.bytes("labels")? else { return Ok(None) };
                let ords = ordinals(&column, wanted)?;
                if ords.is_empty() {
                    return Ok(None);
                }
                Some((column, ords))
            }
        };
        let sources = match &scope.source_ids {
            None => None,
            Some(wanted) => {
                let mut columns = Vec::new();
                for field in ["file", "faq"] {
                    if let Some(column) = fast.bytes(field)? {
                        let ords = ordinals(&column, wanted)?;
                        if !ords.is_empty() {
                            columns.push((column.ords().clone(), ords));
                        }
                    }
                }
                if columns.is_empty() {
                    return Ok(None);
                }
                Some(columns)
            }
        };
        Ok(Some(SegmentScope {
            org: org.ords().clone(),
            org_ord,
            kb: kb.ords().clone(),
            kb_ords,
            labels,
            sources,
        }))
    }

    #[inline]
    fn contains(&self, doc: DocId) -> bool {
        self.org.first(doc) == Some(self.org_ord)
            && self.kb.first(doc).is_some_and(|ord| self.kb_ords.contains(&ord))
            && self.labels.as_ref().is_none_or(|(column, wanted)| {
                column.term_ords(doc).any(|ord| wanted.contains(&ord))
            })
            && self.sources.as_ref().is_none_or(|columns| {
                columns
                    .iter()
                    .any(|(column, wanted)| column.first(doc).is_some_and(|o| wanted.contains(&o)))
            })
    }
}

/// A min-heap of the best `k` (score, doc) pairs; ties go to the lower doc id.
struct TopK {
    k: usize,
    heap: BinaryHeap<std::cmp::Reverse<Ranked>>,
}

#[derive(PartialEq)]
struct Ranked(Score, std::cmp::Reverse<DocId>);

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK { k, heap: BinaryHeap::with_capacity(k + 1) }
    }

    fn push(&mut self, score: Score, doc: DocId) {
        if self.heap.len() < self.k {
            self.heap.push(std::cmp::Reverse(Ranked(score, std::cmp::Reverse(doc))));
        } else if let Some(mut worst) = self.heap.peek_mut()
            && Ranked(score, std::cmp::Reverse(doc)) > worst.0
        {
            *worst = std::cmp::Reverse(Ranked(score, std::cmp::Reverse(doc)));
        }
    }

    /// The score a document must beat to enter.
    fn threshold(&self) -> Score {
        if self.heap.len() < self.k {
            Score::MIN
        } else {
            self.heap.peek().map_or(Score::MIN, |worst| worst.0.0)
        }
    }

    fn into_vec(self, segment_ord: u32) -> Vec<(Score, DocAddress)> {
        self.heap
            .into_iter()
            .map(|std::cmp::Reverse(Ranked(score, std::cmp::Reverse(doc)))| {
                (score, DocAddress::new(segment_ord, doc))
            })
            .collect()
    }
}

struct ScopedSegmentCollector {
    scope: Option<SegmentScope>,
    top: TopK,
    segment_ord: u32,
}

impl SegmentCollector for ScopedSegmentCollector {
    type Fruit = Vec<(Score, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.scope.as_ref().is_some_and(|scope| scope.contains(doc)) {
            self.top.push(score, doc);
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.top.into_vec(self.segment_ord)
    }
}

fn to_tantivy(e: IndexError) -> tantivy::TantivyError {
    match e {
        IndexError::FullText(e) => e,
        other => tantivy::TantivyError::InternalError(other.to_string()),
    }
}

impl Collector for ScopedTopDocs {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = ScopedSegmentCollector;

    fn for_segment(
        &self,
        segment_ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<ScopedSegmentCollector> {
        Ok(ScopedSegmentCollector {
            scope: SegmentScope::open(reader, &self.scope).map_err(to_tantivy)?,
            top: TopK::new(self.k),
            segment_ord,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(Score, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.truncate(self.k);
        Ok(all)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: u32,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Fruit> {
        let Some(scope) = SegmentScope::open(reader, &self.scope).map_err(to_tantivy)? else {
            return Ok(Vec::new());
        };
        if self.k == 0 {
            return Ok(Vec::new());
        }
        let alive = reader.alive_bitset();
        let mut top = TopK::new(self.k);
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
            if alive.is_none_or(|a| a.is_alive(doc)) && scope.contains(doc) {
                top.push(score, doc);
            }
            top.threshold()
        })?;
        Ok(top.into_vec(segment_ord))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(id: u128, text: &str) -> ChunkRecord {
        ChunkRecord {
            id: Uuid::from_u128(id),
            organization_id: Uuid::from_u128(1),
            knowledge_base_id: Uuid::from_u128(2),
            file_id: None,
            faq_id: None,
            label_ids: Vec::new(),
            text: text.into(),
            embedding: None,
        }
    }

    fn find(index: &KeywordIndex, query: &str) -> usize {
        let filter = Filter {
            organization_id: Uuid::from_u128(1),
            knowledge_base_ids: vec![Uuid::from_u128(2)],
            label_ids: None,
            source_ids: None,
        };
        index.search(&filter, &analyzer::terms(query), 10).unwrap().len()
    }

    #[test]
    fn the_token_stream_gives_the_analyzers_terms_read_either_way() {
        let mut tokenizer = AnalyzerTokenizer::new(analyzer::shared());
        let texts =
            ["## 退票\n臺灣高鐵的退票規定 Refunds, 王小明", "## 退票\n行李遺失", "", "的。"];
        for text in texts {
            let expected: Vec<(usize, String)> =
                analyzer::terms(text).into_iter().enumerate().collect();
            let mut processed = Vec::new();
            let mut stream = tokenizer.token_stream(text);
            stream.process(&mut |token| processed.push((token.position, token.text.clone())));
            assert!(!stream.advance(), "a processed stream is at its end");
            assert_eq!(processed, expected, "{text:?} through process");
            let mut advanced = Vec::new();
            let mut stream = tokenizer.token_stream(text);
            while let Some(token) = stream.next() {
                advanced.push((token.position, token.text.clone()));
            }
            assert_eq!(advanced, expected, "{text:?} through advance");
            // Started with `advance`, `process` goes on from where it stopped.
            let mut stream = tokenizer.token_stream(text);
            let mut mixed = Vec::new();
            if stream.advance() {
                mixed.push((stream.token().position, stream.token().text.clone()));
            }
            stream.process(&mut |token| mixed.push((token.position, token.text.clone())));
            assert_eq!(mixed, expected, "{text:?} through advance, then process");
        }
    }

    #[test]
    fn the_tokenizer_indexes_the_analyzers_terms() {
        let (index, mut writer) = KeywordIndex::open(None, 1, 15_000_000).unwrap();
        writer.add_document(index.document(&chunk(3, "臺灣高鐵的退票規定 Refunds"))).unwrap();
        writer.commit().unwrap();
        index.reload().unwrap();
        assert_eq!(find(&index, "台湾高铁退票"), 1);
        assert_eq!(find(&index, "refunded"), 1);
        assert_eq!(find(&index, "的"), 0, "stop words are not indexed");
    }

    #[test]
    fn an_index_written_with_pre_tokenised_terms_still_opens_and_grows() {
        let dir = tempfile::tempdir().unwrap();
        {
            // What earlier versions wrote: the analyzer's terms fed pre-tokenised to a field
            // named with tantivy's "default" tokenizer, and the chunk text stored.
            let index = Index::create_in_dir(dir.path(), schema_with(true, "default").0).unwrap();
            let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
            let reader = index.reader().unwrap();
            let keyword = KeywordIndex { index, reader, fields: schema().1 };
            let terms = analyzer::terms("退票规定");
            let terms: Vec<&str> = terms.iter().map(String::as_str).collect();
            writer
                .add_document(keyword.document_with_terms(&chunk(3, "退票规定"), &terms))
                .unwrap();
            writer.commit().unwrap();
        }
        let (index, mut writer) = KeywordIndex::open(Some(dir.path()), 1, 15_000_000).unwrap();
        writer.add_document(index.document(&chunk(4, "行李遺失的賠償"))).unwrap();
        writer.commit().unwrap();
        index.reload().unwrap();
        assert_eq!(find(&index, "退票"), 1, "the earlier chunk is found");
        assert_eq!(find(&index, "行李赔偿"), 1, "a new chunk is analysed by our analyzer");
    }

    #[test]
    fn an_index_that_stored_the_chunk_text_still_opens_and_grows() {
        let dir = tempfile::tempdir().unwrap();
        {
            // What the previous version wrote: ids and text in the document store.
            let index = Index::create_in_dir(dir.path(), schema_with(true, TOKENIZER).0).unwrap();
            let tokenizer = AnalyzerTokenizer::new(analyzer::shared());
            index.tokenizers().register(TOKENIZER, tokenizer);
            let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000).unwrap();
            let reader = index.reader().unwrap();
            let keyword = KeywordIndex { index, reader, fields: schema().1 };
            writer.add_document(keyword.document(&chunk(3, "退票规定"))).unwrap();
            writer.commit().unwrap();
        }
        let (index, mut writer) = KeywordIndex::open(Some(dir.path()), 1, 15_000_000).unwrap();
        writer.add_document(index.document(&chunk(4, "行李遺失的賠償"))).unwrap();
        writer.commit().unwrap();
        index.reload().unwrap();
        assert_eq!(find(&index, "退票"), 1);
        assert_eq!(find(&index, "行李赔偿"), 1);
        assert_ne!(index.index.schema(), schema().0, "the index keeps the schema it was made with");
    }
}
