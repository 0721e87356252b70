//! Retrieval benchmark: build time, size on disk, memory, latency (p50/p99) and recall@10 of
//! keyword-only and hybrid search at several corpus sizes. Run it with `bench/index/run.sh`;
//! docs/benchmarks.md records the numbers.
//!
//! ```text
//! cargo bench -p openmai-index --bench search -- [--sizes 10000,100000,1000000]
//!     [--queries 2000] [--dim 384] [--dir /tmp/openmai-index-bench] [--dict path/to/dict.txt]
//!     [--quantization f16|f32] [--ef 128] [--threads 2]
//!     [--backend embedded|postgres] [--database-url postgres://…/postgres]
//! ```
//!
//! `--backend postgres` measures [`PgIndex`] (pgvector + GIN) instead of the embedded index,
//! in one database per size (`openmai_index_bench_N`, dropped and created on the server of
//! `--database-url`, or `OPENMAI_BENCH_DATABASE_URL`; the server needs pgvector, e.g. the one
//! `crates/openmai-index/tests/setup_pgvector.sh` starts). Its disk column is the table with
//! its indexes (GIN and HNSW), and the memory column is not measured: the memory is the
//! database server's.
//!
//! The corpus is synthetic but shaped like a multi-tenant knowledge-base deployment:
//! - **Text**: sentences of words drawn with a Zipf distribution (s = 1.05) from the 40,000
//!   most frequent content words of jieba's dictionary (`--dict`; jieba's own `dict.txt`,
//!   which run.sh locates) and from 400 English words; 20% of chunks English, 30% Chinese
//!   with English words mixed in, 50% Chinese; half of the Chinese chunks are converted to
//!   Traditional (zhconv zh-TW). About 55 words (≈ 150–250 characters) per chunk, with the
//!   usual particles (的, 是, the, of) in between.
//! - **Tenants**: 8 organisations, 48 knowledge bases whose sizes follow 1/rank (the largest
//!   holds about 22% of the chunks), files of 10–100 chunks, each file with 0–2 of its
//!   organisation's 12 labels.
//! - **Embeddings** (`--dim`, default 384 like bge-small / MiniLM; bge-m3 is 1024): real text
//!   embeddings have a low intrinsic dimension, so each vector is a random linear map of a
//!   48-dimensional latent point, plus a little isotropic noise, normalised:
//!   `v = normalise(A·z + 0.05·ε)`, with `z = c + 0.5·η` for one of N/500 cluster centres
//!   `c ~ N(0, I₄₈)`, `η ~ N(0, I₄₈)`, `ε ~ N(0, I_dim)`, `A ~ N(0, 1/48)`.
//! - **Queries**: pick a chunk at random; take 2–4 of its words, half the time converted to
//!   the other script, in a question template (`请问…是什么？`, `How do I … ?`); search that
//!   chunk's knowledge base plus, half the time, one or two other knowledge bases of the same
//!   organisation; 10% of queries carry a label filter. The query embedding is the chunk's
//!   latent point moved by `0.3·η`, mapped the same way.
//!
//! **Recall@10 against exact search.** Keyword search is exact (tantivy's top-k is exact
//! BM25). For hybrid search the reference is the same fusion over exact lists: tantivy's top
//! 50 and a brute-force cosine top 50 over the same scope (organisation, knowledge bases,
//! labels) with the original f32 vectors; recall@10 = |approximate top 10 ∩ exact top 10| /
//! |exact top 10|. The vector side alone (`vector recall@10`) is reported too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use openmai_index::fusion::fuse;
use openmai_index::{
    ChunkRecord, EmbeddedIndex, EmbeddedOptions, PgIndex, PgOptions, SearchIndex, SearchQuery,
    VectorQuantization,
};
use uuid::Uuid;

const LATENT: usize = 48;
const ORGS: usize = 8;
const KBS: usize = 48;
const LABELS_PER_ORG: usize = 12;
const FUSION_DEPTH: usize = 50;

// ---------------------------------------------------------------------------------------
// Deterministic randomness (no dependency, same corpus on every run).

#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn gauss(&mut self) -> f32 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }
    fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next_u64(), self.next_u64())
    }
}

/// Samples indexes 0..n with probability ∝ 1/(rank+1)^s.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cdf = (0..n)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(s);
                total
            })
            .collect::<Vec<_>>();
        Zipf(cdf.into_iter().map(|c| c / total).collect())
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.0.partition_point(|&c| c < u).min(self.0.len() - 1)
    }
}

// ---------------------------------------------------------------------------------------
// Vocabulary

const ENGLISH: &str = "account order refund payment invoice delivery shipping return policy \
warranty repair service support ticket customer member membership subscription plan price \
discount coupon voucher points reward loyalty card credit debit transfer bank branch office \
store shop online website app mobile download install update upgrade version release feature \
setting password login logout email phone message notification address location map route \
train ticket booking reservation seat cancel change schedule delay platform station airport \
flight hotel room check stay guest travel insurance claim document file form application \
approval manager employee leave holiday vacation overtime salary bonus contract training \
course exam certificate student teacher school class lesson library book report review \
product device battery charger screen camera keyboard mouse printer network wifi router \
signal cable adapter software hardware license activation key error problem issue fault \
bug crash reset restart backup restore data privacy security permission access role admin \
user profile group team project task deadline meeting calendar event invitation reminder \
question answer guide manual tutorial instruction step process procedure rule regulation \
requirement condition term agreement fee charge cost tax receipt statement balance limit \
quota usage storage capacity speed performance quality safety health medicine doctor \
hospital clinic appointment patient nurse pharmacy prescription dose symptom treatment \
food menu restaurant delivery kitchen order drink coffee tea breakfast lunch dinner price \
weather temperature rain typhoon earthquake emergency evacuation shelter alarm fire police \
parking garage vehicle car bus taxi scooter bicycle license plate fine penalty inspection \
electricity water gas bill meter outage maintenance building floor elevator stairs entrance \
refunded refunding returns returned cancelled canceling booking booked shipped shipping \
charged charging updated updating installed installing approved approving scheduled \
processed processing verified verification identity passport visa immigration customs \
package parcel tracking courier pickup locker warehouse inventory stock supplier vendor \
purchase quotation contract renewal expiry expired extension transfer migration export \
import sync integration api token webhook endpoint request response timeout retry limit \
analytics dashboard chart metric log audit compliance policy standard certification";

const STOP_ZH: &[&str] = &["的", "是", "在", "和", "了", "也", "都", "就"];
const STOP_EN: &[&str] = &["the", "of", "is", "to", "and", "for", "with", "a"];

struct Vocab {
    zh: Vec<String>,
    zh_zipf: Zipf,
    en: Vec<&'static str>,
    en_zipf: Zipf,
}

impl Vocab {
    fn load(dict: Option<&Path>) -> Self {
        let mut words: Vec<(u64, String)> = Vec::new();
        if let Some(text) = dict.and_then(|path| std::fs::read_to_string(path).ok()) {
            let content = ["n", "v", "vn", "a", "an", "nz", "ns", "nt", "l", "j"];
            for line in text.lines() {
                let mut parts = line.split(' ');
                let (Some(word), Some(freq), Some(tag)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let chars = word.chars().count();
                if !(2..=4).contains(&chars)
                    || !word.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
                    || !content.contains(&tag)
                {
                    continue;
                }
                if let Ok(freq) = freq.parse() {
                    words.push((freq, word.to_owned()));
                }
            }
        }
        if words.is_empty() {
            eprintln!("warning: no --dict given or readable; using a tiny built-in vocabulary");
            for (i, w) in "退票 规定 高铁 车票 会员 积分 兑换 退款 申请 手续费 时间 计算 列车 网络 \
                服务 客服 电话 地址 营业 时间 门市 订单 发票 付款 信用卡 优惠 活动 期限 保固 维修"
                .split_whitespace()
                .enumerate()
            {
                words.push((1000 - i as u64, w.to_owned()));
            }
        }
        words.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        words.truncate(40_000);
        let zh: Vec<String> = words.into_iter().map(|(_, w)| w).collect();
        let en: Vec<&'static str> = ENGLISH.split_whitespace().collect();
        Vocab { zh_zipf: Zipf::new(zh.len(), 1.05), zh, en_zipf: Zipf::new(en.len(), 1.05), en }
    }
}

// ---------------------------------------------------------------------------------------
// Corpus

struct Kb {
    org: usize,
    id: Uuid,
}

struct File {
    kb: usize,
    id: Uuid,
    labels: Vec<Uuid>,
}

struct Corpus<'v> {
    vocab: &'v Vocab,
    seed: u64,
    dim: usize,
    orgs: Vec<Uuid>,
    labels: Vec<Vec<Uuid>>,
    kbs: Vec<Kb>,
    files: Vec<File>,
    chunk_file: Vec<u32>,
    chunk_cluster: Vec<u32>,
    centers: Vec<f32>,
    projection: Vec<f32>,
}

enum Script {
    English,
    Mixed,
    Chinese,
}

impl<'v> Corpus<'v> {
    fn new(vocab: &'v Vocab, n: usize, dim: usize, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let orgs: Vec<Uuid> = (0..ORGS).map(|_| rng.uuid()).collect();
        let labels: Vec<Vec<Uuid>> =
            (0..ORGS).map(|_| (0..LABELS_PER_ORG).map(|_| rng.uuid()).collect()).collect();
        let kbs: Vec<Kb> = (0..KBS).map(|k| Kb { org: k % ORGS, id: rng.uuid() }).collect();
        let kb_zipf = Zipf::new(KBS, 1.0);
        let clusters = (n / 500).max(10);
        let mut files = Vec::new();
        let mut chunk_file = Vec::with_capacity(n);
        let mut chunk_cluster = Vec::with_capacity(n);
        while chunk_file.len() < n {
            let kb = kb_zipf.sample(&mut rng);
            let org = kbs[kb].org;
            let file_labels =
                (0..rng.range(0, 2)).map(|_| labels[org][rng.below(LABELS_PER_ORG)]).collect();
            files.push(File { kb, id: rng.uuid(), labels: file_labels });
            // A file's chunks are about a few related topics.
            let topics: Vec<u32> = (0..3).map(|_| rng.below(clusters) as u32).collect();
            for _ in 0..rng.range(10, 100) {
                if chunk_file.len() == n {
                    break;
                }
                chunk_file.push((files.len() - 1) as u32);
                chunk_cluster.push(topics[rng.below(3)]);
            }
        }
        let centers = (0..clusters * LATENT).map(|_| rng.gauss()).collect();
        let scale = 1.0 / (LATENT as f32).sqrt();
        let projection = (0..dim * LATENT).map(|_| rng.gauss() * scale).collect();
        Corpus {
            vocab,
            seed,
            dim,
            orgs,
            labels,
            kbs,
            files,
            chunk_file,
            chunk_cluster,
            centers,
            projection,
        }
    }

    fn len(&self) -> usize {
        self.chunk_file.len()
    }

    fn chunk_rng(&self, i: usize) -> Rng {
        Rng::new(self.seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x5EED)
    }

    /// The chunk's text, its content words and its script.
    fn text(&self, i: usize) -> (String, Vec<String>, bool) {
        let mut rng = self.chunk_rng(i);
        let script = match rng.unit() {
            u if u < 0.2 => Script::English,
            u if u < 0.5 => Script::Mixed,
            _ => Script::Chinese,
        };
        let traditional = !matches!(script, Script::English) && rng.unit() < 0.5;
        let mut text = String::new();
        let mut words = Vec::new();
        let mut total = 0;
        while total < 55 {
            let length = rng.range(8, 16);
            total += length;
            let mut sentence = String::new();
            for w in 0..length {
                let english = match script {
                    Script::English => true,
                    Script::Mixed => rng.unit() < 0.25,
                    Script::Chinese => false,
                };
                let word = if english {
                    self.vocab.en[self.vocab.en_zipf.sample(&mut rng)].to_owned()
                } else {
                    self.vocab.zh[self.vocab.zh_zipf.sample(&mut rng)].clone()
                };
                if english {
                    if !sentence.is_empty() {
                        sentence.push(' ');
                    }
                    sentence.push_str(&word);
                    if matches!(script, Script::English) && w + 1 < length && rng.unit() < 0.4 {
                        sentence.push(' ');
                        sentence.push_str(STOP_EN[rng.below(STOP_EN.len())]);
                    }
                } else {
                    if sentence.ends_with(|c: char| c.is_ascii_alphanumeric()) {
                        sentence.push(' ');
                    }
                    sentence.push_str(&word);
                    if w + 1 < length && rng.unit() < 0.3 {
                        sentence.push_str(STOP_ZH[rng.below(STOP_ZH.len())]);
                    }
                }
                words.push(word);
            }
            sentence.push_str(if matches!(script, Script::English) { ". " } else { "。" });
            text.push_str(&sentence);
        }
        if traditional {
            text = zhconv::zhconv(&text, zhconv::Variant::ZhTW);
        }
        (text, words, !matches!(script, Script::English))
    }

    fn latent(&self, i: usize, rng: &mut Rng, noise: f32) -> [f32; LATENT] {
        let c = self.chunk_cluster[i] as usize;
        let mut z = [0f32; LATENT];
        for (k, value) in z.iter_mut().enumerate() {
            *value = self.centers[c * LATENT + k] + 0.5 * rng.gauss() + noise * rng.gauss();
        }
        z
    }

    fn embed(&self, z: &[f32; LATENT], rng: &mut Rng) -> Vec<f32> {
        let mut v: Vec<f32> = (0..self.dim)
            .map(|d| {
                let row = &self.projection[d * LATENT..(d + 1) * LATENT];
                row.iter().zip(z).map(|(a, b)| a * b).sum::<f32>() + 0.05 * rng.gauss()
            })
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }

    /// The chunk's embedding (deterministic: the latent noise comes from the chunk's RNG).
    fn vector(&self, i: usize) -> Vec<f32> {
        let mut rng = self.chunk_rng(i);
        rng.0 ^= 0xE1B0;
        let z = self.latent(i, &mut rng, 0.0);
        self.embed(&z, &mut rng)
    }

    fn record(&self, i: usize, vector: Vec<f32>) -> ChunkRecord {
        let file = &self.files[self.chunk_file[i] as usize];
        let kb = &self.kbs[file.kb];
        ChunkRecord {
            id: Uuid::from_u64_pair(0x0B_E4C4, i as u64),
            organization_id: self.orgs[kb.org],
            knowledge_base_id: kb.id,
            file_id: Some(file.id),
            faq_id: None,
            label_ids: file.labels.clone(),
            text: self.text(i).0,
            embedding: Some(vector),
        }
    }
}

/// A ranked list of (chunk id, score), best first.
type Ranked = Vec<(Uuid, f32)>;

struct BenchQuery {
    query: SearchQuery,
    /// Chunk indexes in scope (for the brute-force reference).
    kb_indexes: Vec<usize>,
}

fn make_queries(corpus: &Corpus<'_>, count: usize, seed: u64) -> Vec<BenchQuery> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let i = rng.below(corpus.len());
            let (_, words, chinese) = corpus.text(i);
            let picked: Vec<&String> =
                (0..rng.range(2, 4)).map(|_| &words[rng.below(words.len())]).collect();
            let mut text = if chinese {
                match rng.below(3) {
                    0 => format!(
                        "请问{}是什么？",
                        picked.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("的")
                    ),
                    1 => format!(
                        "{} 怎么办",
                        picked.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
                    ),
                    _ => format!(
                        "关于{}的规定",
                        picked.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("和")
                    ),
                }
            } else {
                format!(
                    "How do I {}?",
                    picked.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
                )
            };
            if chinese && rng.unit() < 0.5 {
                text = zhconv::zhconv(&text, zhconv::Variant::ZhTW);
            }
            let file = &corpus.files[corpus.chunk_file[i] as usize];
            let org = corpus.kbs[file.kb].org;
            let mut kb_indexes = vec![file.kb];
            if rng.unit() < 0.5 {
                for _ in 0..rng.range(1, 2) {
                    let other = org + ORGS * rng.below(KBS / ORGS);
                    if !kb_indexes.contains(&other) {
                        kb_indexes.push(other);
                    }
                }
            }
            let mut query = SearchQuery::new(
                corpus.orgs[org],
                kb_indexes.iter().map(|&k| corpus.kbs[k].id).collect(),
                text,
            );
            if rng.unit() < 0.1 {
                let mut labels = file.labels.clone();
                labels.push(corpus.labels[org][rng.below(LABELS_PER_ORG)]);
                query.label_ids = Some(labels);
            }
            let mut vector_rng = rng.clone();
            let z = corpus.latent(i, &mut vector_rng, 0.3);
            query.embedding = Some(corpus.embed(&z, &mut vector_rng));
            rng.next_u64();
            BenchQuery { query, kb_indexes }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Measurement helpers

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn mib(bytes: u64) -> String {
    format!("{:.0}", bytes as f64 / (1 << 20) as f64)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

// ---------------------------------------------------------------------------------------

struct Args {
    sizes: Vec<usize>,
    queries: usize,
    dim: usize,
    dir: PathBuf,
    dict: Option<PathBuf>,
    quantization: VectorQuantization,
    ef: Option<usize>,
    threads: usize,
    reuse: bool,
    exact: bool,
    /// `Some(url of a maintenance database)` to measure the PostgreSQL index.
    postgres: Option<String>,
}

/// Where one size's index lives, and how it is opened and measured.
enum Target {
    Dir { dir: PathBuf, options: EmbeddedOptions },
    Database { server: String, name: String, options: PgOptions },
}

impl Target {
    fn new(args: &Args, n: usize) -> Target {
        match &args.postgres {
            None => {
                let mut options = EmbeddedOptions {
                    quantization: args.quantization,
                    ..EmbeddedOptions::default()
                };
                if let Some(ef) = args.ef {
                    options.hnsw_expansion_search = ef;
                }
                Target::Dir { dir: args.dir.join(format!("{n}")), options }
            }
            Some(server) => {
                let mut options = PgOptions::default();
                if let Some(ef) = args.ef {
                    options.hnsw_ef_search = ef;
                }
                let name = format!("openmai_index_bench_{n}");
                Target::Database { server: server.clone(), name, options }
            }
        }
    }

    fn exists(&self) -> bool {
        match self {
            Target::Dir { dir, .. } => dir.join("fulltext").exists(),
            Target::Database { server, name, .. } => {
                let mut client =
                    postgres::Client::connect(server, postgres::NoTls).expect("connect");
                let rows = client
                    .query("SELECT 1 FROM pg_database WHERE datname = $1", &[name])
                    .expect("pg_database");
                !rows.is_empty()
            }
        }
    }

    /// Removes what an earlier run left.
    fn clear(&self) {
        match self {
            Target::Dir { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Target::Database { server, name, .. } => {
                let mut client =
                    postgres::Client::connect(server, postgres::NoTls).expect("connect");
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .expect("drop");
                client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create");
            }
        }
    }

    fn open(&self) -> Opened {
        match self {
            Target::Dir { dir, options } => {
                Opened::Embedded(Box::new(EmbeddedIndex::open(dir, options.clone()).expect("open")))
            }
            Target::Database { server, name, options } => Opened::Postgres(Box::new(
                PgIndex::open(&database_url(server, name), options.clone()).expect("open"),
            )),
        }
    }

    /// Bytes on disk: (full-text, vectors) for the embedded index; (table, its indexes) for
    /// PostgreSQL.
    fn disk(&self) -> (u64, u64) {
        match self {
            Target::Dir { dir, .. } => {
                (dir_size(&dir.join("fulltext")), dir_size(&dir.join("vectors")))
            }
            Target::Database { server, name, .. } => {
                let url = database_url(server, name);
                let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
                let row = client
                    .query_one(
                        "SELECT pg_table_size('openmai_index_chunks'), \
                                pg_indexes_size('openmai_index_chunks')",
                        &[],
                    )
                    .expect("sizes");
                let (table, indexes): (i64, i64) = (row.get(0), row.get(1));
                (table as u64, indexes as u64)
            }
        }
    }
}

/// The URL of database `name` on the server of `server` (a `postgres://…/database` URL).
fn database_url(server: &str, name: &str) -> String {
    let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
    format!("{base}/{name}")
}

enum Opened {
    Embedded(Box<EmbeddedIndex>),
    Postgres(Box<PgIndex>),
}

impl Opened {
    fn index(&self) -> &dyn SearchIndex {
        match self {
            Opened::Embedded(index) => index.as_ref(),
            Opened::Postgres(index) => index.as_ref(),
        }
    }

    fn stats(&self) -> String {
        match self {
            Opened::Embedded(index) => format!("{:?}", index.stats().unwrap()),
            Opened::Postgres(index) => format!("{:?}", index.stats().unwrap()),
        }
    }
}

fn parse_args() -> Args {
    let mut args = Args {
        sizes: vec![10_000, 100_000, 1_000_000],
        queries: 2000,
        dim: 384,
        dir: std::env::temp_dir().join("openmai-index-bench"),
        dict: std::env::var_os("OPENMAI_BENCH_DICT").map(PathBuf::from),
        quantization: VectorQuantization::F16,
        ef: None,
        threads: 2,
        reuse: false,
        exact: true,
        postgres: None,
    };
    let mut database_url = std::env::var("OPENMAI_BENCH_DATABASE_URL").ok();
    let mut backend = "embedded".to_owned();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--bench" => {}
            "--sizes" => {
                args.sizes = value().split(',').map(|s| s.trim().parse().expect("a size")).collect()
            }
            "--queries" => args.queries = value().parse().expect("a count"),
            "--dim" => args.dim = value().parse().expect("a dimension"),
            "--dir" => args.dir = PathBuf::from(value()),
            "--dict" => args.dict = Some(PathBuf::from(value())),
            "--quantization" => {
                args.quantization = match value().as_str() {
                    "f32" => VectorQuantization::F32,
                    _ => VectorQuantization::F16,
                }
            }
            "--ef" => args.ef = Some(value().parse().expect("a number")),
            "--threads" => args.threads = value().parse().expect("a number"),
            "--reuse" => args.reuse = true,
            "--no-exact" => args.exact = false,
            "--backend" => backend = value(),
            "--database-url" => database_url = Some(value()),
            other => panic!("unknown argument {other}"),
        }
    }
    match backend.as_str() {
        "embedded" => {}
        "postgres" => {
            args.postgres =
                Some(database_url.expect(
                    "--backend postgres needs --database-url (or OPENMAI_BENCH_DATABASE_URL)",
                ))
        }
        other => panic!("unknown backend {other}: embedded or postgres"),
    }
    args
}

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args = parse_args();
    let vocab = Vocab::load(args.dict.as_deref());
    println!(
        "vocabulary: {} Chinese + {} English words; dim {}; {:?}; {} queries per mode",
        vocab.zh.len(),
        vocab.en.len(),
        args.dim,
        args.quantization,
        args.queries
    );
    let mut rows = Vec::new();
    for &n in &args.sizes {
        rows.push(run(&args, &vocab, n));
    }
    println!(
        "\n| chunks | build | upsert / commit | disk (full-text + vectors; PostgreSQL: table + indexes) | RSS after open + queries | open | keyword p50 / p99 | hybrid p50 / p99 | hybrid recall@10 | vector recall@10 | QPS ({} threads, hybrid) |",
        args.threads
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}

fn run(args: &Args, vocab: &Vocab, n: usize) -> String {
    println!("\n== {n} chunks");
    let corpus = Corpus::new(vocab, n, args.dim, 42);
    let target = Target::new(args, n);

    // Build: upsert + commit per batch of 1,000 chunks (a large file, or a few small ones).
    let mut build = Duration::ZERO;
    let mut upsert_time = Duration::ZERO;
    let mut commit_time = Duration::ZERO;
    let mut vectors: Vec<f32> = Vec::with_capacity(n * args.dim);
    let reuse = args.reuse && target.exists();
    if !reuse {
        target.clear();
        let opened = target.open();
        let index = opened.index();
        let start = Instant::now();
        for batch in (0..n).step_by(1000) {
            let end = (batch + 1000).min(n);
            let records: Vec<ChunkRecord> = (batch..end)
                .map(|i| {
                    let v = corpus.vector(i);
                    vectors.extend_from_slice(&v);
                    corpus.record(i, v)
                })
                .collect();
            let t = Instant::now();
            index.upsert(&records).expect("upsert");
            upsert_time += t.elapsed();
            let t = Instant::now();
            index.commit().expect("commit");
            commit_time += t.elapsed();
            if (end / 1000) % 100 == 0 {
                println!("  {end} chunks in {:.0?}", start.elapsed());
            }
        }
        build = start.elapsed();
        let t = Instant::now();
        drop(opened); // writes the embedded index's vector snapshot
        println!(
            "  built in {build:.1?} (upsert {upsert_time:.1?}, commit {commit_time:.1?}); close {:.1?}",
            t.elapsed()
        );
    } else if args.exact {
        for i in 0..n {
            vectors.extend_from_slice(&corpus.vector(i));
        }
    }
    let (fulltext, vector_bytes) = target.disk();

    let before = rss_kib("VmRSS:");
    let t = Instant::now();
    let opened = target.open();
    let index = opened.index();
    let open = t.elapsed();
    let queries = make_queries(&corpus, args.queries, 7);
    if std::env::var_os("OPENMAI_BENCH_SHOW").is_some() {
        for i in 0..4 {
            println!("  chunk {i}: {}", corpus.text(i).0);
        }
        for q in queries.iter().take(8) {
            println!(
                "  query: {:?} in {} knowledge bases, labels {:?}",
                q.query.text,
                q.kb_indexes.len(),
                q.query.label_ids.as_ref().map(Vec::len)
            );
        }
    }
    println!("  reopened in {open:.1?}; {}", opened.stats());

    // Warm-up, then keyword-only and hybrid, one query at a time.
    for q in queries.iter().take(200) {
        index.search(&q.query).unwrap();
    }
    let mut keyword_latency = Vec::with_capacity(queries.len());
    let mut keyword_hits = 0usize;
    for q in &queries {
        let mut query = q.query.clone();
        query.embedding = None;
        let t = Instant::now();
        let hits = index.search(&query).unwrap();
        keyword_latency.push(t.elapsed());
        keyword_hits += hits.len();
    }
    let mut hybrid_latency = Vec::with_capacity(queries.len());
    let mut hybrid_results = Vec::with_capacity(queries.len());
    for q in &queries {
        let t = Instant::now();
        let hits = index.search(&q.query).unwrap();
        hybrid_latency.push(t.elapsed());
        hybrid_results.push(hits);
    }
    // The PostgreSQL index's memory is the database server's, not this process's.
    let rss = match target {
        Target::Dir { .. } => Some(rss_kib("VmRSS:").saturating_sub(before) * 1024),
        Target::Database { .. } => None,
    };
    let rss_column = rss.map_or_else(|| "n/a".to_owned(), |rss| format!("{} MiB", mib(rss)));

    // Throughput with several threads searching at once.
    let qps = {
        let t = Instant::now();
        std::thread::scope(|scope| {
            for w in 0..args.threads {
                let queries = &queries;
                scope.spawn(move || {
                    for q in queries.iter().skip(w).step_by(args.threads) {
                        index.search(&q.query).unwrap();
                    }
                });
            }
        });
        queries.len() as f64 / t.elapsed().as_secs_f64()
    };

    // Exact references (untimed).
    let mut recall_sum = 0.0;
    let mut vector_recall_sum = 0.0;
    let mut recall_n = 0usize;
    let chunk_kb: Vec<usize> =
        corpus.chunk_file.iter().map(|&f| corpus.files[f as usize].kb).collect();
    let exact_lists: Vec<(Ranked, Ranked)> = if !args.exact {
        Vec::new()
    } else {
        let per_thread = queries.len().div_ceil(args.threads.max(1));
        std::thread::scope(|scope| {
            let workers: Vec<_> = queries
                .chunks(per_thread)
                .map(|part| {
                    let (corpus, vectors, chunk_kb) = (&corpus, &vectors, &chunk_kb);
                    scope.spawn(move || {
                        part.iter()
                            .map(|q| exact(corpus, vectors, chunk_kb, index, q, args.dim))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        })
    };
    for ((q, approx), (keyword, vector)) in queries.iter().zip(&hybrid_results).zip(&exact_lists) {
        let exact_hits = fuse(keyword, vector, q.query.limit, 0.0);
        if exact_hits.is_empty() {
            continue;
        }
        let exact_ids: Vec<Uuid> = exact_hits.iter().map(|h| h.id).collect();
        let found = approx.iter().filter(|h| exact_ids.contains(&h.id)).count();
        recall_sum += found as f64 / exact_ids.len() as f64;
        // The vector side alone: the index's vector-only answer against brute force.
        let mut vector_query = q.query.clone();
        vector_query.text.clear();
        let vector_hits = index.search(&vector_query).unwrap();
        let exact_top: Vec<Uuid> = vector.iter().take(q.query.limit).map(|v| v.0).collect();
        let found = vector_hits.iter().filter(|h| exact_top.contains(&h.id)).count();
        vector_recall_sum += found as f64 / exact_top.len().max(1) as f64;
        recall_n += 1;
    }
    if std::env::var_os("OPENMAI_BENCH_SHOW").is_some() {
        let mut slow: Vec<(Duration, Duration, usize)> = keyword_latency
            .iter()
            .zip(&hybrid_latency)
            .enumerate()
            .map(|(i, (k, h))| (*k, *h, i))
            .collect();
        slow.sort_by_key(|s| std::cmp::Reverse(s.1));
        for (k, h, i) in slow.iter().take(15) {
            let q = &queries[*i];
            let scope: usize = q.kb_indexes.iter().map(|&kb| chunk_kb_count(&corpus, kb)).sum();
            let mut keyword50 = q.query.clone();
            keyword50.embedding = None;
            keyword50.limit = FUSION_DEPTH;
            let t = Instant::now();
            index.search(&keyword50).unwrap();
            let keyword50 = t.elapsed();
            let mut vector_only = q.query.clone();
            vector_only.text.clear();
            let t = Instant::now();
            index.search(&vector_only).unwrap();
            let vector_only = t.elapsed();
            println!(
                "  slow: keyword {} ms (top 50: {} ms), vector {} ms, hybrid {} ms, scope {scope} chunks in {} kbs, labels {:?}: {:?}",
                ms(*k),
                ms(keyword50),
                ms(vector_only),
                ms(*h),
                q.kb_indexes.len(),
                q.query.label_ids.as_ref().map(Vec::len),
                q.query.text
            );
        }
    }
    keyword_latency.sort();
    hybrid_latency.sort();
    let recall = recall_sum / recall_n.max(1) as f64;
    let vector_recall = vector_recall_sum / recall_n.max(1) as f64;
    println!(
        "  keyword p50 {} ms p99 {} ms ({:.1} hits/query); hybrid p50 {} ms p99 {} ms; recall@10 {recall:.4}, vector recall@10 {vector_recall:.4}; {qps:.0} QPS on {} threads; RSS +{rss_column} (peak {} MiB)",
        ms(percentile(&keyword_latency, 0.5)),
        ms(percentile(&keyword_latency, 0.99)),
        keyword_hits as f64 / queries.len() as f64,
        ms(percentile(&hybrid_latency, 0.5)),
        ms(percentile(&hybrid_latency, 0.99)),
        args.threads,
        mib(rss_kib("VmHWM:") * 1024),
    );
    format!(
        "| {n} | {} | {} / {} | {} MiB ({} + {}) | {rss_column} | {} | {} / {} ms | {} / {} ms | {recall:.3} | {vector_recall:.3} | {qps:.0} |",
        if reuse { "(reused)".to_owned() } else { format!("{:.1} s", build.as_secs_f64()) },
        format_args!("{:.1} s", upsert_time.as_secs_f64()),
        format_args!("{:.1} s", commit_time.as_secs_f64()),
        mib(fulltext + vector_bytes),
        mib(fulltext),
        mib(vector_bytes),
        format_args!("{:.1} s", open.as_secs_f64()),
        ms(percentile(&keyword_latency, 0.5)),
        ms(percentile(&keyword_latency, 0.99)),
        ms(percentile(&hybrid_latency, 0.5)),
        ms(percentile(&hybrid_latency, 0.99)),
    )
}

fn chunk_kb_count(corpus: &Corpus<'_>, kb: usize) -> usize {
    corpus.chunk_file.iter().filter(|&&f| corpus.files[f as usize].kb == kb).count()
}

/// Exact keyword list (both indexes' keyword top-k is exact BM25) and brute-force cosine list, both
/// `FUSION_DEPTH` long, over the query's scope.
fn exact(
    corpus: &Corpus<'_>,
    vectors: &[f32],
    chunk_kb: &[usize],
    index: &dyn SearchIndex,
    q: &BenchQuery,
    dim: usize,
) -> (Ranked, Ranked) {
    let mut keyword_query = q.query.clone();
    keyword_query.embedding = None;
    keyword_query.limit = FUSION_DEPTH;
    let keyword: Vec<(Uuid, f32)> = index
        .search(&keyword_query)
        .unwrap()
        .into_iter()
        .map(|h| (h.id, h.keyword_score.unwrap_or_default()))
        .collect();
    let embedding = q.query.embedding.as_ref().unwrap();
    let labels = q.query.label_ids.as_ref();
    let mut scored: Vec<(f32, usize)> = Vec::new();
    let mut file_ok: HashMap<u32, bool> = HashMap::new();
    for (i, kb) in chunk_kb.iter().enumerate() {
        if !q.kb_indexes.contains(kb) {
            continue;
        }
        let f = corpus.chunk_file[i];
        let ok = *file_ok.entry(f).or_insert_with(|| {
            labels.is_none_or(|l| corpus.files[f as usize].labels.iter().any(|x| l.contains(x)))
        });
        if ok {
            scored.push((dot(&vectors[i * dim..(i + 1) * dim], embedding), i));
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(FUSION_DEPTH);
    let vector =
        scored.into_iter().map(|(s, i)| (Uuid::from_u64_pair(0x0B_E4C4, i as u64), s)).collect();
    (keyword, vector)
}
