//! [`PgIndex`]: the index in PostgreSQL, for several OpenMai processes sharing one database.
//!
//! **What is stored.** One table, `openmai_index_chunks`, one row per chunk: the scope columns
//! (organisation, knowledge base, file, FAQ, labels as `uuid[]`), the text, and
//! - `terms`: the output of [`crate::analyzer`] (jieba segmentation, Traditional→Simplified,
//!   case folding, stemming, stop words) as a `tsvector` under a GIN index. The vector is
//!   built from our terms directly (each term a lexeme, its occurrences as positions), never
//!   by PostgreSQL's own parser, so a passage has exactly the terms the embedded index gives
//!   it and a question in 繁體 finds a passage in 简体 the same way on both;
//! - `embedding`: a pgvector `vector` of any length (normalised to unit length), with `dims`
//!   beside it. Each length in use gets its own HNSW index (cosine), created on first use as
//!   a partial expression index: `USING hnsw ((embedding::vector(N)) vector_cosine_ops)
//!   WHERE dims = N` (pgvector indexes at most 2000 dimensions; longer vectors are searched
//!   exactly).
//!
//! The schema is created on open, idempotently, under an advisory lock (replicas starting
//! together take turns), and rows analysed by an older [`ANALYZER_VERSION`] are re-analysed.
//!
//! **Keyword search** is BM25 computed in SQL over the chunks of the query's organisation and
//! knowledge bases that contain any of the query's terms (a GIN lookup): the same formula as
//! tantivy's (k1 = 1.2, b = 0.75, idf = ln(1 + (N − n + 0.5)/(n + 0.5))), with the document
//! count, document frequencies and average length taken over the searched knowledge bases
//! rather than the whole index: when those are the whole index the scores are tantivy's (up to
//! its quantised document lengths); otherwise they differ slightly, and one tenant's documents
//! never shift another's. Only the rank reaches the API (see [`crate::fusion`]). The cost
//! grows with the chunks of the searched knowledge bases that match a term (there is no
//! block-max WAND as in tantivy), plus an index-only count of the scope for the statistics.
//!
//! **Vector search** orders by `<=>` (cosine distance) with `hnsw.ef_search` set to at least
//! the depth wanted. pgvector 0.6 applies `WHERE` filters after the graph walk, so when a
//! filtered walk returns fewer than the depth wanted, the search runs again: with pgvector's
//! widest candidate list (1000) when the share of candidates that passed says that would be
//! enough (a large tenant), otherwise exactly, without the graph (a small tenant in a large
//! table, a rare label). Filters are never applied after ranking at the cost of recall.
//!
//! **Writes and commit.** Writes go through one connection per process, inside a transaction
//! that [`SearchIndex::commit`] commits: as in the embedded index, nothing is visible to
//! searches (of any process) before the commit, and a batch is all or nothing. Each write
//! runs in a savepoint, so a refused write leaves the earlier uncommitted ones in place. The
//! embedding length of a knowledge base is checked under a transaction-level advisory lock
//! per knowledge base, so two processes cannot give one knowledge base two lengths; the lock
//! is held until commit, so two processes writing vectors into the same knowledge base take
//! turns per commit. The first vector of a new length creates that length's HNSW index in the
//! writing transaction (under the schema lock), so other processes' writes wait for that one
//! commit; searches do not. If the connection is lost with writes uncommitted, the next
//! commit fails (the writes are gone) and the caller retries, as after a crash of the embedded
//! index.
//!
//! The `postgres` client is synchronous, like the rest of this crate's API: call it from
//! threads that may block (the server's blocking pool), never from an async task.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard, PoisonError};

use postgres::{Client, NoTls, Statement};
use uuid::Uuid;

use crate::analyzer::{self, ANALYZER_VERSION, Analyzer};
use crate::fusion::fuse;
use crate::semaphore::Semaphore;
use crate::vector::normalised;
use crate::{ChunkRecord, Hit, IndexError, PreparedQuery, SearchIndex, SearchQuery};

/// Tuning knobs of [`PgIndex`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections used for searches at once (plus one for writes). Default 8.
    pub max_connections: usize,
    /// HNSW candidate list size while searching (`hnsw.ef_search`); raised to the depth of
    /// a search when that is larger, at most 1000 (pgvector's limit). Default 128.
    pub hnsw_ef_search: usize,
    /// How many results each retriever contributes to the fusion in a hybrid search (the
    /// larger of this and the query's limit). Default 50, as in the embedded index.
    pub fusion_depth: usize,
    /// A query's text is cut to this many bytes before analysis. Default 16 KiB.
    pub max_query_bytes: usize,
    /// At most this many distinct terms of a query are searched (the first ones). Default 64.
    pub max_query_terms: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            max_connections: 8,
            hnsw_ef_search: 128,
            fusion_depth: 50,
            max_query_bytes: 16 << 10,
            max_query_terms: 64,
        }
    }
}

/// Longest vector pgvector stores.
const MAX_PG_DIMENSIONS: usize = 16_000;
/// Longest vector pgvector's HNSW index takes (`vector` type).
const MAX_HNSW_DIMENSIONS: usize = 2_000;
/// pgvector's largest `hnsw.ef_search`.
const MAX_EF_SEARCH: usize = 1_000;
/// Positions kept per term of a chunk (PostgreSQL keeps at most 256 per lexeme); BM25's term
/// frequency saturates long before.
const MAX_POSITIONS: usize = 256;
/// Rows written per INSERT.
const WRITE_BATCH: usize = 1_000;
/// Advisory lock around schema changes ("openmaiX").
const SCHEMA_LOCK: i64 = 0x6f70_656e_6d61_6958;
/// Statements cached per connection before the cache is cleared (only the vector query,
/// which names the dimension, varies).
const STATEMENT_CACHE_LIMIT: usize = 64;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS openmai_index_chunks (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    kb_id uuid NOT NULL,
    file_id uuid,
    faq_id uuid,
    label_ids uuid[] NOT NULL DEFAULT '{}',
    text text NOT NULL,
    terms tsvector NOT NULL,
    term_count integer NOT NULL,
    analyzer integer NOT NULL,
    dims integer,
    embedding vector
);
CREATE INDEX IF NOT EXISTS openmai_index_chunks_scope
    ON openmai_index_chunks (org_id, kb_id) INCLUDE (term_count);
CREATE INDEX IF NOT EXISTS openmai_index_chunks_terms
    ON openmai_index_chunks USING gin (terms);
CREATE INDEX IF NOT EXISTS openmai_index_chunks_labels
    ON openmai_index_chunks USING gin (label_ids);
CREATE INDEX IF NOT EXISTS openmai_index_chunks_file
    ON openmai_index_chunks (org_id, file_id) WHERE file_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS openmai_index_chunks_faq
    ON openmai_index_chunks (org_id, faq_id) WHERE faq_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS openmai_index_chunks_vectors
    ON openmai_index_chunks (kb_id) WHERE dims IS NOT NULL;
";

const UPSERT: &str = "
INSERT INTO openmai_index_chunks
    (id, org_id, kb_id, file_id, faq_id, label_ids, text, terms, term_count, analyzer, dims,
     embedding)
SELECT u.id, u.org, u.kb, u.file, u.faq, u.labels::uuid[], u.text, u.terms::tsvector,
       u.term_count, $12, u.dims, u.embedding::vector
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[],
            $8::text[], $9::int4[], $10::int4[], $11::text[])
    AS u(id, org, kb, file, faq, labels, text, terms, term_count, dims, embedding)
ON CONFLICT (id) DO UPDATE SET
    org_id = EXCLUDED.org_id, kb_id = EXCLUDED.kb_id, file_id = EXCLUDED.file_id,
    faq_id = EXCLUDED.faq_id, label_ids = EXCLUDED.label_ids, text = EXCLUDED.text,
    terms = EXCLUDED.terms, term_count = EXCLUDED.term_count, analyzer = EXCLUDED.analyzer,
    dims = EXCLUDED.dims, embedding = EXCLUDED.embedding";

/// The owner and length of a knowledge base's vectors (all agree; see `check_vectors`).
const KB_VECTORS: &str = "
SELECT k.kb, c.org_id, c.dims
FROM unnest($1::uuid[]) AS k(kb)
CROSS JOIN LATERAL (
    SELECT org_id, dims FROM openmai_index_chunks
    WHERE kb_id = k.kb AND dims IS NOT NULL LIMIT 1
) AS c";

/// BM25 over the chunks of the scope that contain any query term. `$1` organisation, `$2`
/// knowledge bases, `$3` the terms as a tsquery, `$4` the terms, `$5` labels or NULL, `$6`
/// files/FAQs or NULL, `$7` depth. Statistics cover the organisation's knowledge bases
/// searched; label and file filters choose among the ranked chunks.
///
/// Each matched chunk's `tsvector` is first cut down to the query's terms (`setweight` marks
/// them, `ts_filter` keeps the marked; every stored lexeme has the default weight), in C,
/// before its lexemes become rows: unnesting whole vectors to find two terms among fifty was
/// most of the query's time (47 → 17 ms for a two-term query matching 2,600 chunks).
const BM25: &str = "
WITH matched AS MATERIALIZED (
    SELECT id, ts_filter(setweight(terms, 'A', $4::text[]), '{a}') AS terms, term_count,
           ($5::uuid[] IS NULL OR label_ids && $5::uuid[])
           AND ($6::uuid[] IS NULL OR file_id = ANY($6::uuid[]) OR faq_id = ANY($6::uuid[]))
               AS wanted
    FROM openmai_index_chunks
    WHERE org_id = $1 AND kb_id = ANY($2::uuid[]) AND terms @@ $3::text::tsquery
),
freqs AS (
    SELECT m.id, m.term_count, m.wanted, t.lexeme, cardinality(t.positions)::float8 AS tf
    FROM matched AS m CROSS JOIN LATERAL unnest(m.terms) AS t
),
df AS (SELECT lexeme, count(*)::float8 AS n FROM freqs GROUP BY lexeme),
totals AS (
    SELECT count(*)::float8 AS docs, coalesce(avg(term_count), 0)::float8 AS avgdl
    FROM openmai_index_chunks WHERE org_id = $1 AND kb_id = ANY($2::uuid[])
)
SELECT f.id,
       sum(ln(1 + (totals.docs - df.n + 0.5) / (df.n + 0.5)) * f.tf * 2.2
           / (f.tf + 1.2 * (0.25 + 0.75 * f.term_count / greatest(totals.avgdl, 1e-9))))::float4
           AS score
FROM freqs AS f JOIN df USING (lexeme) CROSS JOIN totals
WHERE f.wanted
GROUP BY f.id
ORDER BY score DESC, f.id
LIMIT $7";

fn vector_query(dims: usize) -> String {
    format!(
        "SELECT id, (1 - (embedding::vector({dims}) <=> $3::text::vector({dims})))::float4
         FROM openmai_index_chunks
         WHERE dims = {dims} AND org_id = $1 AND kb_id = ANY($2::uuid[])
           AND ($4::uuid[] IS NULL OR label_ids && $4::uuid[])
           AND ($5::uuid[] IS NULL OR file_id = ANY($5::uuid[]) OR faq_id = ANY($5::uuid[]))
         ORDER BY embedding::vector({dims}) <=> $3::text::vector({dims})
         LIMIT $6"
    )
}

/// Whether a second graph walk with pgvector's widest candidate list (`MAX_EF_SEARCH`) can
/// be expected to find the `depth` chunks wanted, after a walk with candidate list `ef` kept
/// `found` of them. The walk filters after it walks, so a scope holding a tenth of the table
/// keeps about a tenth of the candidates; when that share of the widest list is enough, a
/// wider walk costs a fraction of an exact search over a large scope. Otherwise few chunks of
/// the table pass the filters (a small tenant, a rare label), and only an exact search is
/// sure to find them.
fn wider_walk_suffices(found: usize, depth: usize, ef: usize) -> bool {
    ef < MAX_EF_SEARCH && found * MAX_EF_SEARCH >= depth * ef
}

fn hnsw_index_name(dims: usize) -> String {
    format!("openmai_index_chunks_hnsw_{dims}")
}

fn create_hnsw_index(dims: usize) -> String {
    format!(
        "CREATE INDEX IF NOT EXISTS {} ON openmai_index_chunks
         USING hnsw ((embedding::vector({dims})) vector_cosine_ops)
         WITH (m = 16, ef_construction = 128) WHERE dims = {dims}",
        hnsw_index_name(dims)
    )
}

fn db_error(err: postgres::Error) -> IndexError {
    match err.as_db_error() {
        Some(db) => IndexError::Database(format!("{}: {}", db.code().code(), db.message())),
        None => IndexError::Database(err.to_string()),
    }
}

/// A connection with its prepared statements.
struct Conn {
    /// Always `Some` until dropped; see the `Drop` impl.
    client: Option<Client>,
    statements: HashMap<String, Statement>,
}

impl Drop for Conn {
    /// Closing the sync client blocks on its own runtime, which panics on an async thread
    /// (where the index may be dropped), so it is closed on a thread of its own.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl Conn {
    fn connect(url: &str) -> Result<Self, IndexError> {
        let client = Client::connect(url, NoTls)
            .map_err(|e| IndexError::Database(format!("cannot connect to PostgreSQL: {e}")))?;
        Ok(Conn { client: Some(client), statements: HashMap::new() })
    }

    fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect("the client lives until the connection is dropped")
    }

    fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(Client::is_closed)
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, IndexError> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client().prepare(sql).map_err(db_error)?;
        if self.statements.len() >= STATEMENT_CACHE_LIMIT {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, IndexError> {
        let statement = self.statement(sql)?;
        self.client().query(&statement, params).map_err(db_error)
    }

    fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64, IndexError> {
        let statement = self.statement(sql)?;
        self.client().execute(&statement, params).map_err(db_error)
    }

    fn batch(&mut self, sql: &str) -> Result<(), IndexError> {
        self.client().batch_execute(sql).map_err(db_error)
    }
}

/// Search connections: at most `max` at once, idle ones kept for reuse.
struct Pool {
    url: String,
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
}

impl Pool {
    fn with<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T, IndexError>) -> Result<T, IndexError> {
        let _permit = self.permits.acquire();
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut conn = match idle {
            Some(conn) if !conn.is_closed() => conn,
            _ => Conn::connect(&self.url)?,
        };
        let outcome = f(&mut conn);
        if !conn.is_closed() {
            self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
        }
        outcome
    }
}

struct WriterState {
    conn: Option<Conn>,
    /// A transaction is open on `conn`.
    in_transaction: bool,
    /// The connection was lost with uncommitted writes; the next commit reports it.
    lost: bool,
    /// Vector lengths given an HNSW index in the open transaction.
    new_dims: Vec<usize>,
}

impl WriterState {
    /// The connection (and with it the open transaction) is gone: the next commit says so.
    fn lose(&mut self) {
        self.conn = None;
        self.in_transaction = false;
        self.lost = true;
        self.new_dims.clear();
    }
}

/// The PostgreSQL [`SearchIndex`]: pgvector for vectors, a GIN index over the analyzer's terms
/// for keywords. See the module documentation.
pub struct PgIndex {
    options: PgOptions,
    analyzer: &'static Analyzer,
    pool: Pool,
    writer: Mutex<WriterState>,
    /// Vector lengths known to have their HNSW index.
    indexed_dims: Mutex<HashSet<usize>>,
}

impl std::fmt::Debug for PgIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgIndex").field("options", &self.options).finish_non_exhaustive()
    }
}

impl PgIndex {
    /// Connects to the database at `url` (`postgres://…`), creates the `vector` extension
    /// and the index's tables if needed, and re-analyses chunks an older analyzer indexed.
    /// Fails with [`IndexError::ExtensionMissing`] when the server has no pgvector (or it
    /// cannot be created), so the caller can fall back to the embedded index.
    pub fn open(url: &str, options: PgOptions) -> Result<Self, IndexError> {
        let mut conn = Conn::connect(url)?;
        let available = conn.query(
            "SELECT installed_version FROM pg_available_extensions WHERE name = 'vector'",
            &[],
        )?;
        let Some(row) = available.first() else {
            return Err(IndexError::ExtensionMissing(
                "the PostgreSQL server has no pgvector extension (`vector` is not in \
                 pg_available_extensions); install pgvector on the server"
                    .into(),
            ));
        };
        let installed: Option<String> = row.get(0);
        conn.execute("SELECT pg_advisory_lock($1)", &[&SCHEMA_LOCK])?;
        let outcome = (|| {
            if installed.is_none() {
                conn.batch("CREATE EXTENSION IF NOT EXISTS vector").map_err(|e| {
                    IndexError::ExtensionMissing(format!(
                        "pgvector is available but could not be enabled in this database \
                         ({e}); run CREATE EXTENSION vector as a privileged user"
                    ))
                })?;
            }
            conn.batch(SCHEMA)?;
            reanalyse(&mut conn, analyzer::shared())
        })();
        conn.execute("SELECT pg_advisory_unlock($1)", &[&SCHEMA_LOCK])?;
        outcome?;
        let indexed_dims = conn
            .query(
                "SELECT indexname FROM pg_indexes
                 WHERE tablename = 'openmai_index_chunks'
                   AND indexname LIKE 'openmai_index_chunks_hnsw_%'",
                &[],
            )?
            .iter()
            .filter_map(|row| {
                let name: String = row.get(0);
                name.strip_prefix("openmai_index_chunks_hnsw_")?.parse().ok()
            })
            .collect();
        Ok(PgIndex {
            analyzer: analyzer::shared(),
            pool: Pool {
                url: url.to_owned(),
                idle: Mutex::new(vec![conn]),
                permits: Semaphore::new(options.max_connections.max(1)),
            },
            writer: Mutex::new(WriterState {
                conn: None,
                in_transaction: false,
                lost: false,
                new_dims: Vec::new(),
            }),
            indexed_dims: Mutex::new(indexed_dims),
            options,
        })
    }

    /// Number of committed chunks, and how many of them have a vector (the whole table, all
    /// organisations).
    pub fn stats(&self) -> Result<(u64, usize), IndexError> {
        self.pool.with(|conn| {
            let rows =
                conn.query("SELECT count(*), count(embedding) FROM openmai_index_chunks", &[])?;
            let (all, vectors): (i64, i64) = (rows[0].get(0), rows[0].get(1));
            Ok((all.max(0) as u64, vectors.max(0) as usize))
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, WriterState>, IndexError> {
        self.writer.lock().map_err(|_| IndexError::Poisoned)
    }

    /// Runs one write inside the writer's transaction (opened if needed), in a savepoint so
    /// that a failed write undoes only itself.
    fn write<T>(
        &self,
        state: &mut WriterState,
        f: impl FnOnce(&mut Conn, &mut Vec<usize>) -> Result<T, IndexError>,
    ) -> Result<T, IndexError> {
        if state.conn.as_ref().is_none_or(Conn::is_closed) {
            if state.in_transaction {
                state.lose();
            }
            let mut conn = Conn::connect(&self.pool.url)?;
            // A transaction left open (a caller that never commits) must not hold its row
            // locks against the other processes forever.
            conn.batch("SET idle_in_transaction_session_timeout = '10min'")?;
            state.conn = Some(conn);
        }
        let conn = state.conn.as_mut().expect("connected above");
        if !state.in_transaction {
            conn.batch("BEGIN")?;
            state.in_transaction = true;
        }
        let mut new_dims = Vec::new();
        let outcome = conn.batch("SAVEPOINT openmai_write").and_then(|()| {
            let value = f(conn, &mut new_dims)?;
            conn.batch("RELEASE SAVEPOINT openmai_write")?;
            Ok(value)
        });
        match outcome {
            Ok(value) => {
                state.new_dims.extend(new_dims);
                Ok(value)
            }
            Err(err) => {
                if conn.is_closed() || conn.batch("ROLLBACK TO SAVEPOINT openmai_write").is_err() {
                    state.lose();
                }
                Err(err)
            }
        }
    }

    /// Checks the embeddings of a batch against their knowledge bases' owners and lengths
    /// (committed, and written earlier in this transaction), holding each knowledge base's
    /// advisory lock until commit. Returns the lengths that need an HNSW index.
    fn check_vectors(
        &self,
        conn: &mut Conn,
        chunks: &[(&ChunkRecord, Option<Vec<f32>>)],
    ) -> Result<Vec<usize>, IndexError> {
        let mut wanted: HashMap<Uuid, (Uuid, usize)> = HashMap::new();
        let mut order = Vec::new();
        for (chunk, vector) in chunks {
            let Some(vector) = vector else { continue };
            let kb = chunk.knowledge_base_id;
            match wanted.get(&kb) {
                Some(&(org, _)) if org != chunk.organization_id => {
                    return Err(IndexError::ForeignKnowledgeBase(kb));
                }
                Some(&(_, dim)) if dim != vector.len() => {
                    return Err(IndexError::DimensionMismatch {
                        knowledge_base_id: kb,
                        expected: dim,
                        got: vector.len(),
                    });
                }
                Some(_) => {}
                None => {
                    wanted.insert(kb, (chunk.organization_id, vector.len()));
                    order.push(kb);
                }
            }
        }
        if order.is_empty() {
            return Ok(Vec::new());
        }
        // Sorted, so that two writers lock in the same order and cannot deadlock.
        order.sort();
        for kb in &order {
            conn.execute("SELECT pg_advisory_xact_lock($1)", &[&kb_lock(*kb)])?;
        }
        for row in conn.query(KB_VECTORS, &[&order])? {
            let (kb, org, dims): (Uuid, Uuid, i32) = (row.get(0), row.get(1), row.get(2));
            let (want_org, want_dims) = wanted[&kb];
            if org != want_org {
                return Err(IndexError::ForeignKnowledgeBase(kb));
            }
            if dims as usize != want_dims {
                return Err(IndexError::DimensionMismatch {
                    knowledge_base_id: kb,
                    expected: dims as usize,
                    got: want_dims,
                });
            }
        }
        let known = self.indexed_dims.lock().unwrap_or_else(PoisonError::into_inner);
        let mut new: Vec<usize> = wanted
            .values()
            .map(|&(_, dims)| dims)
            .filter(|dims| *dims <= MAX_HNSW_DIMENSIONS && !known.contains(dims))
            .collect();
        new.sort_unstable();
        new.dedup();
        Ok(new)
    }
}

/// A knowledge base's advisory lock key: its id folded to 64 bits.
fn kb_lock(kb: Uuid) -> i64 {
    let (hi, lo) = kb.as_u64_pair();
    (hi ^ lo) as i64
}

/// `terms` as a tsvector literal (each distinct term a lexeme, its occurrences positions
/// 1, 2, …), and how many terms there are (the document length BM25 uses).
fn tsvector_literal(terms: &[String]) -> (String, i32) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut order = Vec::new();
    for term in terms {
        let count = counts.entry(term.as_str()).or_insert(0);
        if *count == 0 {
            order.push(term.as_str());
        }
        *count += 1;
    }
    let mut out = String::new();
    for term in order {
        if !out.is_empty() {
            out.push(' ');
        }
        quote_lexeme(&mut out, term);
        out.push(':');
        for position in 1..=counts[term].min(MAX_POSITIONS) {
            if position > 1 {
                out.push(',');
            }
            let _ = write!(out, "{position}");
        }
    }
    (out, i32::try_from(terms.len()).unwrap_or(i32::MAX))
}

/// The query terms as a tsquery literal: any of them.
fn tsquery_literal(terms: &[String]) -> String {
    let mut out = String::new();
    for term in terms {
        if !out.is_empty() {
            out.push_str(" | ");
        }
        quote_lexeme(&mut out, term);
    }
    out
}

fn quote_lexeme(out: &mut String, term: &str) {
    out.push('\'');
    for c in term.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out.push('\'');
}

fn vector_literal(vector: &[f32]) -> String {
    let mut out = String::with_capacity(vector.len() * 12);
    out.push('[');
    for (i, x) in vector.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{x}");
    }
    out.push(']');
    out
}

fn uuid_array_literal(ids: &[Uuid]) -> String {
    let mut seen = HashSet::new();
    let mut out = String::from("{");
    for id in ids.iter().filter(|id| seen.insert(**id)) {
        if out.len() > 1 {
            out.push(',');
        }
        let _ = write!(out, "{id}");
    }
    out.push('}');
    out
}

/// Re-analyses the rows an older analyzer wrote (under the schema lock, at open).
fn reanalyse(conn: &mut Conn, analyzer: &Analyzer) -> Result<(), IndexError> {
    let version = ANALYZER_VERSION as i32;
    let mut total = 0usize;
    loop {
        let rows = conn.query(
            "SELECT id, text FROM openmai_index_chunks WHERE analyzer <> $1 LIMIT 1000",
            &[&version],
        )?;
        if rows.is_empty() {
            break;
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut vectors = Vec::with_capacity(rows.len());
        let mut counts = Vec::with_capacity(rows.len());
        for row in &rows {
            let (id, text): (Uuid, String) = (row.get(0), row.get(1));
            let (terms, count) = tsvector_literal(&analyzer.terms(&text));
            ids.push(id);
            vectors.push(terms);
            counts.push(count);
        }
        conn.execute(
            "UPDATE openmai_index_chunks AS c
             SET terms = u.terms::tsvector, term_count = u.term_count, analyzer = $4
             FROM unnest($1::uuid[], $2::text[], $3::int4[]) AS u(id, terms, term_count)
             WHERE c.id = u.id",
            &[&ids, &vectors, &counts, &version],
        )?;
        total += rows.len();
    }
    if total > 0 {
        tracing::info!(chunks = total, "re-analysed the PostgreSQL search index");
    }
    Ok(())
}

impl PgIndex {
    /// Upserts `chunks`, after deleting every chunk of the file or FAQ entry `replace` names
    /// (organisation, source), in one savepoint: a refused batch changes nothing.
    fn write_chunks(
        &self,
        chunks: &[ChunkRecord],
        replace: Option<(Uuid, Uuid)>,
    ) -> Result<(), IndexError> {
        if chunks.is_empty() && replace.is_none() {
            return Ok(());
        }
        // The last write of an id wins, as if the chunks were upserted one by one.
        let mut seen = HashSet::new();
        let mut batch: Vec<&ChunkRecord> =
            chunks.iter().rev().filter(|c| seen.insert(c.id)).collect();
        batch.reverse();
        let prepared = chunks
            .iter()
            .map(|c| {
                let vector = c.embedding.as_deref().map(normalised).transpose()?;
                if vector.as_ref().is_some_and(|v| v.len() > MAX_PG_DIMENSIONS) {
                    return Err(IndexError::InvalidInput(format!(
                        "an embedding has {} dimensions; pgvector stores at most \
                         {MAX_PG_DIMENSIONS}",
                        c.embedding.as_ref().map_or(0, Vec::len)
                    )));
                }
                Ok((c, vector))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let vectors: HashMap<Uuid, Option<Vec<f32>>> =
            prepared.iter().map(|(c, v)| (c.id, v.clone())).collect();
        let terms: Vec<Vec<String>> = batch.iter().map(|c| self.analyzer.terms(&c.text)).collect();

        let mut state = self.lock()?;
        self.write(&mut state, |conn, new_dims| {
            *new_dims = self.check_vectors(conn, &prepared)?;
            for dims in new_dims.iter() {
                conn.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
                conn.batch(&create_hnsw_index(*dims))?;
            }
            if let Some((organization_id, source)) = replace {
                delete_source(conn, organization_id, source)?;
            }
            for (part, part_terms) in batch.chunks(WRITE_BATCH).zip(terms.chunks(WRITE_BATCH)) {
                let mut columns = UpsertColumns::default();
                for (chunk, terms) in part.iter().zip(part_terms) {
                    columns.push(chunk, terms, vectors[&chunk.id].as_deref());
                }
                columns.write(conn)?;
            }
            Ok(())
        })
    }
}

/// Deletes every chunk of a file or FAQ entry of the organisation.
fn delete_source(conn: &mut Conn, organization_id: Uuid, source: Uuid) -> Result<(), IndexError> {
    conn.execute(
        "DELETE FROM openmai_index_chunks WHERE org_id = $1 AND (file_id = $2 OR faq_id = $2)",
        &[&organization_id, &source],
    )?;
    Ok(())
}

impl SearchIndex for PgIndex {
    fn upsert(&self, chunks: &[ChunkRecord]) -> Result<(), IndexError> {
        self.write_chunks(chunks, None)
    }

    fn replace_file(
        &self,
        organization_id: Uuid,
        file_id: Uuid,
        chunks: &[ChunkRecord],
    ) -> Result<(), IndexError> {
        crate::check_belong_to_file(organization_id, file_id, chunks)?;
        self.write_chunks(chunks, Some((organization_id, file_id)))
    }

    fn delete(&self, ids: &[Uuid]) -> Result<(), IndexError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        let mut state = self.lock()?;
        self.write(&mut state, |conn, _| {
            conn.execute("DELETE FROM openmai_index_chunks WHERE id = ANY($1)", &[&ids])?;
            Ok(())
        })
    }

    fn delete_file(&self, organization_id: Uuid, file_id: Uuid) -> Result<(), IndexError> {
        let mut state = self.lock()?;
        self.write(&mut state, |conn, _| delete_source(conn, organization_id, file_id))
    }

    fn delete_knowledge_base(
        &self,
        organization_id: Uuid,
        knowledge_base_id: Uuid,
    ) -> Result<(), IndexError> {
        let mut state = self.lock()?;
        self.write(&mut state, |conn, _| {
            conn.execute(
                "DELETE FROM openmai_index_chunks WHERE org_id = $1 AND kb_id = $2",
                &[&organization_id, &knowledge_base_id],
            )?;
            Ok(())
        })
    }

    fn set_labels(
        &self,
        organization_id: Uuid,
        file_or_faq_id: Uuid,
        label_ids: &[Uuid],
        // The rows keep their text: labels change in place.
        _chunks: &[ChunkRecord],
    ) -> Result<(), IndexError> {
        let labels = uuid_array_literal(label_ids);
        let mut state = self.lock()?;
        self.write(&mut state, |conn, _| {
            conn.execute(
                "UPDATE openmai_index_chunks SET label_ids = $3::text::uuid[]
                 WHERE org_id = $1 AND (file_id = $2 OR faq_id = $2)",
                &[&organization_id, &file_or_faq_id, &labels],
            )?;
            Ok(())
        })
    }

    fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>, IndexError> {
        let Some(PreparedQuery { limit, embedding, filter }) = query.prepare()? else {
            return Ok(Vec::new());
        };
        let org = filter.organization_id;
        let kbs = filter.knowledge_base_ids;
        let labels = filter.label_ids;
        let sources = filter.source_ids;
        let terms = self.analyzer.query_terms(
            &query.text,
            self.options.max_query_bytes,
            self.options.max_query_terms,
        );
        self.pool.with(|conn| {
            let hybrid = match &embedding {
                None => false,
                Some(embedding) => {
                    let mut any = false;
                    for row in conn.query(KB_VECTORS, &[&kbs])? {
                        let (kb, owner, dims): (Uuid, Uuid, i32) =
                            (row.get(0), row.get(1), row.get(2));
                        // The tenant check: another organisation's knowledge base is ignored.
                        if owner != org {
                            continue;
                        }
                        if dims as usize != embedding.len() {
                            return Err(IndexError::DimensionMismatch {
                                knowledge_base_id: kb,
                                expected: dims as usize,
                                got: embedding.len(),
                            });
                        }
                        any = true;
                    }
                    any
                }
            };
            // Keyword-only: the fused order is the BM25 order, so `limit` results suffice.
            let depth = if hybrid { limit.max(self.options.fusion_depth) } else { limit };
            let depth_param = depth as i64;
            let keyword: Vec<(Uuid, f32)> = if terms.is_empty() {
                Vec::new()
            } else {
                conn.query(
                    BM25,
                    &[
                        &org,
                        &kbs,
                        &tsquery_literal(&terms),
                        &terms,
                        &labels,
                        &sources,
                        &depth_param,
                    ],
                )?
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect()
            };
            let vector = match (&embedding, hybrid) {
                (Some(embedding), true) => {
                    let sql = vector_query(embedding.len());
                    let statement = conn.statement(&sql)?;
                    let literal = vector_literal(embedding);
                    let params: [&(dyn postgres::types::ToSql + Sync); 6] =
                        [&org, &kbs, &literal, &labels, &sources, &depth_param];
                    let ef = depth.max(self.options.hnsw_ef_search).min(MAX_EF_SEARCH);
                    let mut tx = conn.client().transaction().map_err(db_error)?;
                    tx.batch_execute(&format!("SET LOCAL hnsw.ef_search = {ef}"))
                        .map_err(db_error)?;
                    let mut rows = tx.query(&statement, &params).map_err(db_error)?;
                    if rows.len() < depth && wider_walk_suffices(rows.len(), depth, ef) {
                        tx.batch_execute(&format!("SET LOCAL hnsw.ef_search = {MAX_EF_SEARCH}"))
                            .map_err(db_error)?;
                        rows = tx.query(&statement, &params).map_err(db_error)?;
                    }
                    if rows.len() < depth {
                        // Still short: search the scope exactly, without the graph.
                        tx.batch_execute("SET LOCAL enable_indexscan = off").map_err(db_error)?;
                        rows = tx.query(&statement, &params).map_err(db_error)?;
                    }
                    tx.commit().map_err(db_error)?;
                    let mut found: Vec<(Uuid, f32)> =
                        rows.iter().map(|row| (row.get(0), row.get(1))).collect();
                    found.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    found
                }
                _ => Vec::new(),
            };
            Ok(fuse(&keyword, &vector, limit, query.similarity_cutoff))
        })
    }

    fn commit(&self) -> Result<(), IndexError> {
        let mut state = self.lock()?;
        if state.lost {
            // Writes made since the loss are discarded too: a failed commit commits nothing.
            state.lost = false;
            if state.in_transaction {
                state.in_transaction = false;
                state.new_dims.clear();
                if let Some(conn) = state.conn.as_mut()
                    && conn.batch("ROLLBACK").is_err()
                {
                    state.conn = None;
                }
            }
            return Err(IndexError::Database(
                "the connection to PostgreSQL was lost before commit; the uncommitted writes \
                 were discarded"
                    .into(),
            ));
        }
        if !state.in_transaction {
            return Ok(());
        }
        state.in_transaction = false;
        let new_dims = std::mem::take(&mut state.new_dims);
        let committed = match state.conn.as_mut() {
            Some(conn) => conn.batch("COMMIT"),
            None => Err(IndexError::Database("no connection".into())),
        };
        if committed.is_err() && state.conn.as_ref().is_some_and(Conn::is_closed) {
            state.conn = None;
        }
        committed?;
        self.indexed_dims.lock().unwrap_or_else(PoisonError::into_inner).extend(new_dims);
        Ok(())
    }
}

/// One INSERT's worth of chunks, as column arrays.
#[derive(Default)]
struct UpsertColumns {
    ids: Vec<Uuid>,
    orgs: Vec<Uuid>,
    kbs: Vec<Uuid>,
    files: Vec<Option<Uuid>>,
    faqs: Vec<Option<Uuid>>,
    labels: Vec<String>,
    texts: Vec<String>,
    terms: Vec<String>,
    counts: Vec<i32>,
    dims: Vec<Option<i32>>,
    embeddings: Vec<Option<String>>,
}

impl UpsertColumns {
    fn push(&mut self, chunk: &ChunkRecord, terms: &[String], vector: Option<&[f32]>) {
        let (tsvector, count) = tsvector_literal(terms);
        self.ids.push(chunk.id);
        self.orgs.push(chunk.organization_id);
        self.kbs.push(chunk.knowledge_base_id);
        self.files.push(chunk.file_id);
        self.faqs.push(chunk.faq_id);
        self.labels.push(uuid_array_literal(&chunk.label_ids));
        // PostgreSQL text cannot hold NUL; the analyzer never sees it as a term anyway.
        self.texts.push(chunk.text.replace('\0', ""));
        self.terms.push(tsvector);
        self.counts.push(count);
        self.dims.push(vector.map(|v| v.len() as i32));
        self.embeddings.push(vector.map(vector_literal));
    }

    fn write(&self, conn: &mut Conn) -> Result<(), IndexError> {
        let version = ANALYZER_VERSION as i32;
        conn.execute(
            UPSERT,
            &[
                &self.ids,
                &self.orgs,
                &self.kbs,
                &self.files,
                &self.faqs,
                &self.labels,
                &self.texts,
                &self.terms,
                &self.counts,
                &self.dims,
                &self.embeddings,
                &version,
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_walk_is_widened_only_when_the_share_kept_promises_enough() {
        // A fifth of 128 candidates kept: a fifth of 1000 would be enough.
        assert!(wider_walk_suffices(26, 50, 128));
        // The smallest share that still promises enough: 7 of 128 (55 of 1000).
        assert!(wider_walk_suffices(7, 50, 128));
        assert!(!wider_walk_suffices(6, 50, 128));
        // Nothing kept, or the widest list already walked: an exact search instead.
        assert!(!wider_walk_suffices(0, 50, 128));
        assert!(!wider_walk_suffices(48, 50, MAX_EF_SEARCH));
    }

    #[test]
    fn literals_quote_and_count() {
        let terms: Vec<String> = ["退票", "it's", "退票", "a\\b"].map(String::from).into();
        let (tsvector, count) = tsvector_literal(&terms);
        assert_eq!(tsvector, "'退票':1,2 'it''s':1 'a\\\\b':1");
        assert_eq!(count, 4);
        assert_eq!(tsquery_literal(&terms[..2]), "'退票' | 'it''s'");
        assert_eq!(tsvector_literal(&[]).0, "");
        assert_eq!(vector_literal(&[0.5, -1.0]), "[0.5,-1]");
        let id = Uuid::from_u128(1);
        assert_eq!(uuid_array_literal(&[id, id]), "{00000000-0000-0000-0000-000000000001}");
        assert_eq!(uuid_array_literal(&[]), "{}");
    }
}
