//! Behaviour of the index through the `SearchIndex` trait only, as the server uses it. Each
//! test of the suite runs twice: on the embedded index (`embedded::…`), and on the PostgreSQL
//! index (`postgres::…`) in a fresh database of the pgvector server that
//! `OPENMAI_TEST_PGVECTOR_URL` names (see `tests/setup_pgvector.sh`; without it those runs
//! are skipped, with a note). A few tests concern one implementation only.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use openmai_index::{
    ChunkRecord, EmbeddedIndex, EmbeddedOptions, Hit, IndexError, PgIndex, PgOptions, SearchIndex,
    SearchQuery,
};
use uuid::Uuid;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

const ORG: Uuid = Uuid::from_u128(0xA000);
const OTHER_ORG: Uuid = Uuid::from_u128(0xB000);
const KB: Uuid = Uuid::from_u128(0xA100);
const KB2: Uuid = Uuid::from_u128(0xA200);

fn chunk(n: u128, text: &str) -> ChunkRecord {
    ChunkRecord {
        id: id(n),
        organization_id: ORG,
        knowledge_base_id: KB,
        file_id: None,
        faq_id: None,
        label_ids: Vec::new(),
        text: text.to_owned(),
        embedding: None,
    }
}

// --- The implementations under test -------------------------------------------------------

/// The environment variable naming a PostgreSQL server with pgvector (any database on it).
const PGVECTOR_ENV: &str = "OPENMAI_TEST_PGVECTOR_URL";

/// Which implementation a test runs on.
enum Backend {
    Embedded,
    /// A pgvector server's URL (any database on it).
    Postgres(String),
}

impl Backend {
    /// The pgvector server under test, or `None` (with a note, once) when there is none.
    fn postgres() -> Option<Backend> {
        match std::env::var(PGVECTOR_ENV) {
            Ok(url) if !url.trim().is_empty() => Some(Backend::Postgres(url.trim().to_owned())),
            _ => {
                static NOTE: Once = Once::new();
                NOTE.call_once(|| {
                    // Straight to stderr: the test harness would swallow eprintln! of a pass.
                    let _ = writeln!(
                        std::io::stderr(),
                        "note: {PGVECTOR_ENV} is not set; the PostgreSQL index tests are \
                         skipped (crates/openmai-index/tests/setup_pgvector.sh starts a server)"
                    );
                });
                None
            }
        }
    }

    /// A new, empty index.
    fn open(&self) -> TestIndex {
        match self {
            Backend::Embedded => TestIndex::Embedded(
                EmbeddedIndex::open_in_memory(EmbeddedOptions::default()).unwrap(),
            ),
            Backend::Postgres(admin) => {
                let db = PgDatabase::create(admin);
                let index = PgIndex::open(&db.url, PgOptions::default()).unwrap();
                TestIndex::Postgres { index, _db: db }
            }
        }
    }

    /// A new index holding `chunks`, committed.
    fn indexed(&self, chunks: &[ChunkRecord]) -> TestIndex {
        let index = self.open();
        index.upsert(chunks).unwrap();
        index.commit().unwrap();
        index
    }
}

/// Runs each named test (a `fn(&Backend)`) on both implementations.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[test]
            fn $name() {
                super::$name(&super::Backend::Embedded);
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if let Some(backend) = super::Backend::postgres() {
                    super::$name(&backend);
                }
            })*
        }
    };
}

on_both!(
    traditional_question_finds_simplified_passage_and_vice_versa,
    multi_word_chinese_question_finds_its_passage,
    unknown_words_and_names_are_found,
    english_is_stemmed_and_case_insensitive,
    mixed_chinese_and_english,
    stop_words_do_not_dominate,
    degenerate_queries_fail_cleanly_or_find_nothing,
    label_filters,
    file_filters_cover_files_and_faqs,
    several_knowledge_bases,
    tenants_are_isolated_even_with_identical_text,
    deletion_by_id_file_and_knowledge_base,
    upsert_replaces_by_id,
    replace_file_swaps_a_files_chunks,
    embeddings_must_match_their_knowledge_base,
    hybrid_search_fuses_keyword_and_vector_results,
    vector_filters_apply_during_the_search,
    concurrent_readers_with_a_writer,
    writes_are_invisible_until_commit,
    small_and_large_scopes_are_both_filtered_exactly,
);

/// An index under test (and, for PostgreSQL, its database, dropped after the index).
// A handful live at once, one per test: their size does not matter.
#[allow(clippy::large_enum_variant)]
enum TestIndex {
    Embedded(EmbeddedIndex),
    /// Fields drop in order: the index (its connections) before its database.
    Postgres {
        index: PgIndex,
        _db: PgDatabase,
    },
}

impl TestIndex {
    fn inner(&self) -> &dyn SearchIndex {
        match self {
            TestIndex::Embedded(index) => index,
            TestIndex::Postgres { index, .. } => index,
        }
    }

    /// Committed chunks, and how many have a vector.
    fn stats(&self) -> (u64, usize) {
        match self {
            TestIndex::Embedded(index) => index.stats().unwrap(),
            TestIndex::Postgres { index, .. } => index.stats().unwrap(),
        }
    }
}

impl SearchIndex for TestIndex {
    fn upsert(&self, chunks: &[ChunkRecord]) -> Result<(), IndexError> {
        self.inner().upsert(chunks)
    }
    fn delete(&self, ids: &[Uuid]) -> Result<(), IndexError> {
        self.inner().delete(ids)
    }
    fn delete_file(&self, organization_id: Uuid, file_id: Uuid) -> Result<(), IndexError> {
        self.inner().delete_file(organization_id, file_id)
    }
    fn replace_file(
        &self,
        organization_id: Uuid,
        file_id: Uuid,
        chunks: &[ChunkRecord],
    ) -> Result<(), IndexError> {
        self.inner().replace_file(organization_id, file_id, chunks)
    }
    fn delete_knowledge_base(&self, organization_id: Uuid, kb: Uuid) -> Result<(), IndexError> {
        self.inner().delete_knowledge_base(organization_id, kb)
    }
    fn set_labels(
        &self,
        org: Uuid,
        source: Uuid,
        labels: &[Uuid],
        chunks: &[ChunkRecord],
    ) -> Result<(), IndexError> {
        self.inner().set_labels(org, source, labels, chunks)
    }
    fn needs_reanalysis(&self) -> bool {
        self.inner().needs_reanalysis()
    }
    fn reanalyse(&self, chunks: &[ChunkRecord]) -> Result<(), IndexError> {
        self.inner().reanalyse(chunks)
    }
    fn finish_reanalysis(&self) -> Result<(), IndexError> {
        self.inner().finish_reanalysis()
    }
    fn search(&self, query: &SearchQuery) -> Result<Vec<Hit>, IndexError> {
        self.inner().search(query)
    }
    fn commit(&self) -> Result<(), IndexError> {
        self.inner().commit()
    }
}

/// A brand-new database on the test server, dropped (connections and all) with the value.
struct PgDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create(admin: &str) -> PgDatabase {
        let name = format!("openmai_index_test_{}", Uuid::new_v4().simple());
        run_admin(admin, &format!("CREATE DATABASE {name}"));
        let mut url = url::Url::parse(admin).expect("the test server's URL");
        url.set_path(&name);
        PgDatabase { admin: admin.to_owned(), name, url: url.to_string() }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        run_admin(&self.admin, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

fn run_admin(admin: &str, statement: &str) {
    let mut client = ::postgres::Client::connect(admin, ::postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server {admin}: {e}"));
    client.batch_execute(statement).unwrap_or_else(|e| panic!("{statement}: {e}"));
}

fn query(text: &str) -> SearchQuery {
    SearchQuery::new(ORG, vec![KB], text)
}

fn ids(hits: &[Hit]) -> Vec<Uuid> {
    hits.iter().map(|h| h.id).collect()
}

fn find(index: &impl SearchIndex, text: &str) -> Vec<Uuid> {
    ids(&index.search(&query(text)).unwrap())
}

/// A deterministic pseudo-random unit-ish vector (splitmix64).
fn random_vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..dim)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f32 / (1u64 << 53) as f32 - 0.5
        })
        .collect()
}

/// `base` nudged by a little noise: a near neighbour of `base`.
fn near(base: &[f32], seed: u64) -> Vec<f32> {
    base.iter().zip(random_vector(seed, base.len())).map(|(b, n)| b + 0.05 * n).collect()
}

// --- Chinese-aware keyword search -------------------------------------------------------

fn traditional_question_finds_simplified_passage_and_vice_versa(backend: &Backend) {
    let index = backend.indexed(&[
        chunk(1, "台湾高铁的退票规定：开车前可以免费退票。"),
        chunk(2, "員工請假需要提前三天向主管申請。"),
        chunk(3, "公司的咖啡机在三楼。"),
    ]);
    assert_eq!(find(&index, "高鐵退票規定是什麼？")[0], id(1));
    assert_eq!(find(&index, "员工请假怎么申请")[0], id(2));
    // Taiwan and mainland vocabulary fold too (軟體 = 软件).
    let index = backend.indexed(&[chunk(4, "本公司提供的软件授权说明"), chunk(5, "停车场说明")]);
    assert_eq!(find(&index, "軟體授權"), vec![id(4)]);
}

fn multi_word_chinese_question_finds_its_passage(backend: &Backend) {
    let index = backend.indexed(&[
        chunk(1, "退票手续费依照开车前的时间计算，越早申请退票，手续费越低。"),
        chunk(2, "高铁列车上提供无线网络。"),
        chunk(3, "会员积分可以兑换车票。"),
    ]);
    // Words in another order and not adjacent: must not be treated as a phrase.
    let hits = find(&index, "申請退票的手續費怎麼計算");
    assert_eq!(hits.first(), Some(&id(1)), "{hits:?}");
    // A question that shares only one word still finds the passage.
    assert!(
        find(&index, "無線網路訊號").contains(&id(2)) || find(&index, "无线网络").contains(&id(2))
    );
}

fn unknown_words_and_names_are_found(backend: &Backend) {
    // 王小明 is in no dictionary; the character-bigram fallback still matches it as a unit.
    let index = backend
        .indexed(&[chunk(1, "客服专员王小明负责处理退款。"), chunk(2, "王经理和小李明天出差。")]);
    assert_eq!(find(&index, "王小明")[0], id(1));
}

fn english_is_stemmed_and_case_insensitive(backend: &Backend) {
    let index = backend.indexed(&[
        chunk(1, "Orders are refunded within 5 business days."),
        chunk(2, "Shipping is free for members."),
        chunk(3, "Contact the IPHONE support desk."),
    ]);
    assert_eq!(find(&index, "refunds"), vec![id(1)]);
    assert_eq!(find(&index, "REFUNDING policy"), vec![id(1)]);
    assert_eq!(find(&index, "iphone"), vec![id(3)]);
    assert_eq!(find(&index, "Ｉｐｈｏｎｅ"), vec![id(3)], "full-width letters fold too");
}

fn mixed_chinese_and_english(backend: &Backend) {
    let index = backend.indexed(&[
        chunk(1, "iPhone 15 的保固期為一年，可以到 Apple Store 辦理。"),
        chunk(2, "MacBook 的電池保固另計。"),
        chunk(3, "退貨請在七天內申請。"),
    ]);
    assert_eq!(find(&index, "iphone 保固")[0], id(1));
    assert_eq!(find(&index, "apple store 在哪里")[0], id(1));
    assert_eq!(find(&index, "macbook电池")[0], id(2));
}

fn stop_words_do_not_dominate(backend: &Backend) {
    let index = backend.indexed(&[
        chunk(1, "这是我们的的确确是在那里的，也是这样的，是的，the is of and to a。"),
        chunk(2, "退票规定"),
    ]);
    let hits = find(&index, "请问退票的规定是什么？What is the refund rule?");
    assert_eq!(hits, vec![id(2)], "the passage of stop words matches nothing");
    assert!(find(&index, "的是在 the is").is_empty());
}

fn degenerate_queries_fail_cleanly_or_find_nothing(backend: &Backend) {
    let index = backend.indexed(&[chunk(1, "退票规定"), chunk(2, "")]);
    assert!(find(&index, "").is_empty());
    assert!(find(&index, "？！。，……——  ***").is_empty());
    let huge = "退票".repeat(5 << 20); // 10 MiB+ of text
    assert_eq!(find(&index, &huge), vec![id(1)]);
    let mut q = query("退票");
    q.limit = usize::MAX;
    assert_eq!(ids(&index.search(&q).unwrap()), vec![id(1)]);
    q.limit = 0;
    assert!(index.search(&q).unwrap().is_empty());
    q.limit = 10;
    q.similarity_cutoff = f32::NAN;
    assert!(matches!(index.search(&q), Err(IndexError::InvalidInput(_))));
    q.similarity_cutoff = 0.0;
    q.embedding = Some(vec![0.0; 4]);
    assert!(matches!(index.search(&q), Err(IndexError::InvalidInput(_))));
    q.embedding = Some(vec![f32::NAN, 1.0]);
    assert!(matches!(index.search(&q), Err(IndexError::InvalidInput(_))));
    q.embedding = Some(Vec::new());
    assert!(matches!(index.search(&q), Err(IndexError::InvalidInput(_))));
}

// --- Filters, scoping and tenants -------------------------------------------------------

fn label_filters(backend: &Backend) {
    let (l1, l2, l3) = (id(0x11), id(0x12), id(0x13));
    let mut a = chunk(1, "退票规定 A");
    a.label_ids = vec![l1];
    a.file_id = Some(id(0xF1));
    let mut b = chunk(2, "退票规定 B");
    b.label_ids = vec![l2];
    b.file_id = Some(id(0xF2));
    let mut c = chunk(3, "退票规定 C");
    c.label_ids = vec![l1, l2];
    c.file_id = Some(id(0xF3));
    let d = chunk(4, "退票规定 D");
    let index = backend.indexed(&[a, b.clone(), c, d]);

    let search = |labels: Option<Vec<Uuid>>| {
        let mut q = query("退票");
        q.label_ids = labels;
        let mut found = ids(&index.search(&q).unwrap());
        found.sort();
        found
    };
    assert_eq!(search(None).len(), 4);
    assert_eq!(search(Some(vec![l1])), vec![id(1), id(3)]);
    assert_eq!(search(Some(vec![l2, l3])), vec![id(2), id(3)]);
    assert_eq!(search(Some(vec![l3])), Vec::<Uuid>::new());
    assert_eq!(search(Some(vec![])), Vec::<Uuid>::new());

    // Relabelling a file changes what the filter finds.
    index.set_labels(ORG, id(0xF2), &[l3], &[b]).unwrap();
    index.commit().unwrap();
    assert_eq!(search(Some(vec![l3])), vec![id(2)]);
    assert_eq!(search(Some(vec![l2])), vec![id(3)]);
    // Chunks handed in that the index does not hold (a file still being ingested) stay out.
    let mut pending = chunk(5, "退票规定 E");
    pending.file_id = Some(id(0xF5));
    index.set_labels(ORG, id(0xF5), &[l3], &[pending]).unwrap();
    index.commit().unwrap();
    assert_eq!(search(Some(vec![l3])), vec![id(2)]);
    assert_eq!(search(None).len(), 4);
    // Relabelling in another organisation's name touches nothing.
    index.set_labels(OTHER_ORG, id(0xF1), &[l3], &[]).unwrap();
    index.commit().unwrap();
    assert_eq!(search(Some(vec![l1])), vec![id(1), id(3)]);
}

fn file_filters_cover_files_and_faqs(backend: &Backend) {
    let mut a = chunk(1, "退票规定 第一份文件");
    a.file_id = Some(id(0xF1));
    let mut b = chunk(2, "退票规定 第二份文件");
    b.file_id = Some(id(0xF2));
    let mut faq = chunk(3, "问：如何退票？答：在 App 申请。");
    faq.faq_id = Some(id(0xFA));
    let index = backend.indexed(&[a, b, faq]);
    let search = |files: Vec<Uuid>| {
        let mut q = query("退票");
        q.file_ids = Some(files);
        let mut found = ids(&index.search(&q).unwrap());
        found.sort();
        found
    };
    assert_eq!(search(vec![id(0xF1)]), vec![id(1)]);
    assert_eq!(search(vec![id(0xF2), id(0xFA)]), vec![id(2), id(3)]);
    assert_eq!(search(vec![id(0xF9)]), Vec::<Uuid>::new());
    assert_eq!(search(vec![]), Vec::<Uuid>::new());
}

fn several_knowledge_bases(backend: &Backend) {
    let mut other = chunk(2, "退票规定（第二个知识库）");
    other.knowledge_base_id = KB2;
    let index = backend.indexed(&[chunk(1, "退票规定（第一个知识库）"), other]);
    let search = |kbs: Vec<Uuid>| {
        let mut found = ids(&index.search(&SearchQuery::new(ORG, kbs, "退票")).unwrap());
        found.sort();
        found
    };
    assert_eq!(search(vec![KB]), vec![id(1)]);
    assert_eq!(search(vec![KB2]), vec![id(2)]);
    assert_eq!(search(vec![KB, KB2, KB]), vec![id(1), id(2)]);
    assert_eq!(search(vec![]), Vec::<Uuid>::new());
}

fn tenants_are_isolated_even_with_identical_text(backend: &Backend) {
    let dim = 16;
    let shared = random_vector(7, dim);
    let mut mine = chunk(1, "退票规定 refund policy");
    mine.embedding = Some(shared.clone());
    let mut theirs = chunk(2, "退票规定 refund policy");
    theirs.organization_id = OTHER_ORG;
    theirs.knowledge_base_id = KB2;
    theirs.embedding = Some(shared.clone());
    let index = backend.indexed(&[mine, theirs]);

    let mut q = SearchQuery::new(ORG, vec![KB], "退票 refund");
    q.embedding = Some(shared.clone());
    assert_eq!(ids(&index.search(&q).unwrap()), vec![id(1)]);
    // Naming the other tenant's knowledge base gets nothing, keyword or vector.
    q.knowledge_base_ids = vec![KB2];
    assert!(index.search(&q).unwrap().is_empty());
    q.knowledge_base_ids = vec![KB, KB2];
    assert_eq!(ids(&index.search(&q).unwrap()), vec![id(1)]);
    q.organization_id = OTHER_ORG;
    assert_eq!(ids(&index.search(&q).unwrap()), vec![id(2)]);
    // Deleting by file or knowledge base in the wrong organisation deletes nothing.
    index.delete_knowledge_base(OTHER_ORG, KB).unwrap();
    index.commit().unwrap();
    assert_eq!(find(&index, "退票"), vec![id(1)]);
    // A knowledge base id cannot be taken over by another organisation's vectors.
    let mut intruder = chunk(3, "x");
    intruder.organization_id = OTHER_ORG;
    intruder.embedding = Some(shared);
    assert!(matches!(index.upsert(&[intruder]), Err(IndexError::ForeignKnowledgeBase(_))));
}

// --- Writes -----------------------------------------------------------------------------

fn deletion_by_id_file_and_knowledge_base(backend: &Backend) {
    let file = |n: u128, f: u128, kb: Uuid| {
        let mut c = chunk(n, "退票规定");
        c.file_id = Some(id(f));
        c.knowledge_base_id = kb;
        c.embedding = Some(random_vector(n as u64, 8));
        c
    };
    let index = backend.indexed(&[
        file(1, 0xF1, KB),
        file(2, 0xF1, KB),
        file(3, 0xF2, KB),
        file(4, 0xF3, KB2),
        file(5, 0xF3, KB2),
    ]);
    let all = |index: &TestIndex| {
        let mut q = SearchQuery::new(ORG, vec![KB, KB2], "退票");
        q.embedding = Some(random_vector(99, 8));
        let mut found = ids(&index.search(&q).unwrap());
        found.sort();
        found
    };
    assert_eq!(all(&index).len(), 5);
    index.delete_file(ORG, id(0xF1)).unwrap();
    assert_eq!(all(&index).len(), 5, "not visible before commit");
    index.commit().unwrap();
    assert_eq!(all(&index), vec![id(3), id(4), id(5)]);
    index.delete_knowledge_base(ORG, KB2).unwrap();
    index.commit().unwrap();
    assert_eq!(all(&index), vec![id(3)]);
    index.delete(&[id(3), id(42)]).unwrap();
    index.commit().unwrap();
    assert_eq!(all(&index), Vec::<Uuid>::new());
    assert_eq!(index.stats(), (0, 0));
}

fn upsert_replaces_by_id(backend: &Backend) {
    let index = backend.indexed(&[chunk(1, "旧的内容：停车场"), chunk(2, "别的内容")]);
    index.upsert(&[chunk(1, "新的内容：退票规定")]).unwrap();
    index.upsert(&[chunk(1, "新的内容：退票规定")]).unwrap(); // idempotent
    index.commit().unwrap();
    assert!(find(&index, "停车场").is_empty());
    assert_eq!(find(&index, "退票"), vec![id(1)]);
    assert_eq!(index.stats().0, 2);

    // Replacing a vector, and dropping it.
    let v = random_vector(1, 8);
    let mut with_vector = chunk(1, "新的内容：退票规定");
    with_vector.embedding = Some(v.clone());
    index.upsert(&[with_vector.clone(), with_vector]).unwrap();
    index.commit().unwrap();
    assert_eq!(index.stats(), (2, 1));
    index.upsert(&[chunk(1, "新的内容：退票规定")]).unwrap();
    index.commit().unwrap();
    assert_eq!(index.stats(), (2, 0));
}

fn replace_file_swaps_a_files_chunks(backend: &Backend) {
    let of_file = |n: u128, f: u128, text: &str, seed: Option<u64>| {
        let mut c = chunk(n, text);
        c.file_id = Some(id(f));
        c.embedding = seed.map(|s| random_vector(s, 8));
        c
    };
    let index = backend.indexed(&[
        of_file(1, 0xF1, "旧版：停车场收费", Some(1)),
        of_file(2, 0xF1, "旧版：退票规定", Some(2)),
        of_file(3, 0xF2, "别的文件：退票流程", Some(3)),
    ]);
    // The new version reuses one id, drops one, adds one, and repeats an id (the last wins).
    index
        .replace_file(
            ORG,
            id(0xF1),
            &[
                of_file(2, 0xF1, "草稿：会员积分", None),
                of_file(4, 0xF1, "新版：行李限额", Some(4)),
                of_file(2, 0xF1, "新版：退票规定", Some(5)),
            ],
        )
        .unwrap();
    assert_eq!(find(&index, "停车场"), vec![id(1)], "not visible before commit");
    index.commit().unwrap();
    assert!(find(&index, "停车场").is_empty());
    assert!(find(&index, "积分").is_empty(), "a repeated id keeps its last version");
    let mut found = find(&index, "退票");
    found.sort();
    assert_eq!(found, vec![id(2), id(3)]);
    assert_eq!(find(&index, "行李"), vec![id(4)]);
    assert_eq!(index.stats(), (3, 3));

    // A chunk of another file, or of another organisation, is refused, and so is an embedding
    // of the wrong length; the file keeps its chunks.
    let mut foreign = of_file(5, 0xF1, "别的组织", None);
    foreign.organization_id = OTHER_ORG;
    for stray in [of_file(6, 0xF2, "别的文件", None), foreign] {
        let err = index.replace_file(ORG, id(0xF1), &[stray]).unwrap_err();
        assert!(matches!(err, IndexError::InvalidInput(_)), "{err:?}");
    }
    let mut wrong_length = of_file(7, 0xF1, "新版：行李限额", None);
    wrong_length.embedding = Some(random_vector(7, 4));
    let err = index.replace_file(ORG, id(0xF1), &[wrong_length]).unwrap_err();
    assert!(matches!(err, IndexError::DimensionMismatch { .. }), "{err:?}");
    index.commit().unwrap();
    assert_eq!(index.stats(), (3, 3));
    assert_eq!(find(&index, "行李"), vec![id(4)]);
}

fn embeddings_must_match_their_knowledge_base(backend: &Backend) {
    let index = backend.open();
    let mut a = chunk(1, "a");
    a.embedding = Some(random_vector(1, 8));
    let mut b = chunk(2, "b");
    b.embedding = Some(random_vector(2, 4));
    assert!(matches!(
        index.upsert(&[a.clone(), b.clone()]),
        Err(IndexError::DimensionMismatch { .. })
    ));
    index.upsert(&[a]).unwrap();
    assert!(matches!(index.upsert(&[b.clone()]), Err(IndexError::DimensionMismatch { .. })));
    index.commit().unwrap();
    assert!(matches!(index.upsert(&[b.clone()]), Err(IndexError::DimensionMismatch { .. })));
    // A query embedding of the wrong size is refused too.
    let mut q = query("a");
    q.embedding = Some(random_vector(3, 4));
    assert!(matches!(index.search(&q), Err(IndexError::DimensionMismatch { .. })));
    // Once the knowledge base is emptied it may change model.
    index.delete_knowledge_base(ORG, KB).unwrap();
    index.upsert(&[b]).unwrap();
    index.commit().unwrap();
    assert_eq!(index.stats(), (1, 1));
    let mut bad = chunk(3, "c");
    bad.embedding = Some(vec![1.0, f32::INFINITY, 0.0, 0.0]);
    assert!(matches!(index.upsert(&[bad]), Err(IndexError::InvalidInput(_))));
}

// --- Hybrid search ----------------------------------------------------------------------

fn hybrid_search_fuses_keyword_and_vector_results(backend: &Backend) {
    let dim = 32;
    let topic_refund = random_vector(100, dim);
    let topic_parking = random_vector(200, dim);
    let mut chunks = vec![
        // Says "refund" in other words: only the vector side can find it.
        ChunkRecord {
            embedding: Some(near(&topic_refund, 1)),
            ..chunk(1, "款项会在五个工作天内退回您的信用卡")
        },
        // Both sides agree on this one.
        ChunkRecord {
            embedding: Some(topic_refund.clone()),
            ..chunk(2, "退款规定：退款在五天内完成")
        },
        // Keyword match but about something else.
        ChunkRecord {
            embedding: Some(near(&topic_parking, 3)), ..chunk(3, "停车费不予退款")
        },
    ];
    for n in 10..60 {
        chunks.push(ChunkRecord {
            embedding: Some(near(&topic_parking, n)),
            ..chunk(n as u128, "停车场在地下二楼")
        });
    }
    let index = backend.indexed(&chunks);
    let mut q = query("退款规定");
    assert_eq!(ids(&index.search(&q).unwrap())[..2], [id(2), id(3)], "keyword-only");
    q.embedding = Some(near(&topic_refund, 9));
    let hits = index.search(&q).unwrap();
    assert_eq!(hits[0].id, id(2));
    assert!((hits[0].score - 1.0).abs() < 1e-6, "first in both lists scores 1");
    assert!(hits[0].keyword_score.is_some() && hits[0].vector_score.is_some());
    let semantic = hits.iter().find(|h| h.id == id(1)).expect("found by the vector side");
    assert_eq!(semantic.keyword_score, None);
    assert!(semantic.vector_score.unwrap() > 0.9);
    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    // The cutoff applies to the fused score; above 0.5 only agreed-on chunks remain.
    q.similarity_cutoff = 0.51;
    let agreed = index.search(&q).unwrap();
    assert!(agreed.iter().all(|h| h.keyword_score.is_some() && h.vector_score.is_some()));
    assert_eq!(agreed[0].id, id(2));
    // A knowledge base without vectors is searched by keyword with the same scores.
    q.similarity_cutoff = 0.0;
    q.knowledge_base_ids = vec![KB2];
    assert!(index.search(&q).unwrap().is_empty());
}

fn vector_filters_apply_during_the_search(backend: &Backend) {
    // 3000 vectors in one knowledge base, so the graph (not brute force) is used; the
    // label filter selects a handful (exact path), a fifth or about half (filtered walk, or
    // whatever plan the database prefers).
    let dim = 24;
    let (rare, common, fifth) = (id(0x51), id(0x52), id(0x53));
    let query_vector = random_vector(5, dim);
    let chunks: Vec<ChunkRecord> = (0..3000u128)
        .map(|n| {
            let mut c = chunk(n + 1, "内容");
            c.embedding = Some(random_vector(n as u64 + 1000, dim));
            c.label_ids = match n {
                _ if n % 600 == 0 => vec![rare, common, fifth],
                _ if n % 10 == 0 => vec![common, fifth],
                _ if n % 5 == 0 => vec![fifth],
                _ if n % 2 == 0 => vec![common],
                _ => vec![],
            };
            c.file_id = Some(id(0xF000 + n % 10));
            c
        })
        .collect();
    let index = backend.indexed(&chunks);
    let mut q = SearchQuery::new(ORG, vec![KB], "");
    q.embedding = Some(query_vector.clone());
    q.limit = 10;

    q.label_ids = Some(vec![rare]);
    let mut found = ids(&index.search(&q).unwrap());
    found.sort();
    let expected: Vec<Uuid> = (0..3000u128).filter(|n| n % 600 == 0).map(|n| id(n + 1)).collect();
    assert_eq!(found, expected, "every chunk of a rare label is found");

    q.label_ids = Some(vec![common]);
    let hits = index.search(&q).unwrap();
    assert_eq!(hits.len(), 10);
    assert!(hits.iter().all(|h| (h.id.as_u128() - 1) % 2 == 0), "only labelled chunks");
    // ...and they are the true nearest labelled chunks (compared with brute force).
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let cosine = |a: &[f32], b: &[f32]| {
        a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() / (norm(a) * norm(b))
    };
    let recall_at_10 = |hits: &[Hit], label: Uuid| {
        let mut exact: Vec<(f32, Uuid)> = chunks
            .iter()
            .filter(|c| c.label_ids.contains(&label))
            .map(|c| (cosine(c.embedding.as_ref().unwrap(), &query_vector), c.id))
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let exact: Vec<Uuid> = exact.iter().take(10).map(|e| e.1).collect();
        ids(hits).iter().filter(|h| exact.contains(h)).count()
    };
    let overlap = recall_at_10(&hits, common);
    assert!(overlap >= 9, "recall@10 of the filtered walk: {overlap}/10");

    // A fifth of the vectors: the true nearest of them, too.
    q.label_ids = Some(vec![fifth]);
    let hits = index.search(&q).unwrap();
    assert_eq!(hits.len(), 10);
    assert!(hits.iter().all(|h| (h.id.as_u128() - 1) % 5 == 0), "only labelled chunks");
    let overlap = recall_at_10(&hits, fifth);
    assert!(overlap >= 9, "recall@10 of a fifth of the vectors: {overlap}/10");

    q.label_ids = None;
    q.file_ids = Some(vec![id(0xF003)]);
    let hits = index.search(&q).unwrap();
    assert_eq!(hits.len(), 10);
    assert!(hits.iter().all(|h| (h.id.as_u128() - 1) % 10 == 3));
}

// --- Durability and concurrency -----------------------------------------------------------

#[test]
fn survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let dim = 8;
    let mut options = EmbeddedOptions::default();
    let vector_chunk = |n: u128, text: &str| ChunkRecord {
        embedding: Some(random_vector(n as u64, dim)),
        file_id: Some(id(0xF0 + n % 3)),
        ..chunk(n, text)
    };
    {
        let index = EmbeddedIndex::open(dir.path(), options.clone()).unwrap();
        index.upsert(&[vector_chunk(1, "退票规定"), vector_chunk(2, "停车场")]).unwrap();
        index.commit().unwrap();
        index.upsert(&[vector_chunk(3, "never committed")]).unwrap();
    }
    // A second process cannot open it while the first has it.
    let search_vector = |index: &EmbeddedIndex, n: u64| {
        let mut q = SearchQuery::new(ORG, vec![KB], "");
        q.embedding = Some(random_vector(n, dim));
        q.limit = 1;
        ids(&index.search(&q).unwrap())
    };
    {
        let index = EmbeddedIndex::open(dir.path(), options.clone()).unwrap();
        assert!(matches!(
            EmbeddedIndex::open(dir.path(), options.clone()),
            Err(IndexError::Locked(_))
        ));
        assert_eq!(find(&index, "退票"), vec![id(1)]);
        assert!(find(&index, "never").is_empty());
        assert_eq!(index.stats().unwrap(), (2, 2));
        assert_eq!(search_vector(&index, 2), vec![id(2)]);
        // Changes after a snapshot live in the log only.
        index.delete(&[id(1)]).unwrap();
        index.upsert(&[vector_chunk(4, "会员积分")]).unwrap();
        index.set_labels(ORG, id(0xF1), &[id(0x77)], &[vector_chunk(4, "会员积分")]).unwrap();
        index.commit().unwrap();
    }
    // Force a snapshot at every commit from now on.
    options.snapshot_log_bytes = 1;
    for round in 0..2 {
        let index = EmbeddedIndex::open(dir.path(), options.clone()).unwrap();
        assert!(find(&index, "退票").is_empty(), "round {round}");
        assert_eq!(find(&index, "会员积分"), vec![id(4)]);
        assert_eq!(index.stats().unwrap(), (2, 2));
        assert_eq!(search_vector(&index, 4), vec![id(4)]);
        let mut q = SearchQuery::new(ORG, vec![KB], "");
        q.embedding = Some(random_vector(4, dim));
        q.label_ids = Some(vec![id(0x77)]);
        assert_eq!(
            ids(&index.search(&q).unwrap()),
            vec![id(4)],
            "labels survive (4 is in file F1)"
        );
        index.upsert(&[vector_chunk(10 + round, "新增")]).unwrap();
        index.delete(&[id(10 + round)]).unwrap();
        index.commit().unwrap();
    }
    let files: Vec<String> = std::fs::read_dir(dir.path().join("vectors"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.iter().filter(|f| f.starts_with("manifest-")).count(), 1, "{files:?}");
    assert_eq!(files.iter().filter(|f| f.starts_with("log-")).count(), 1, "{files:?}");
}

fn concurrent_readers_with_a_writer(backend: &Backend) {
    let index = Arc::new(backend.indexed(&[chunk(1, "退票规定")]));
    let done = Arc::new(AtomicBool::new(false));
    let dim = 8;
    let readers: Vec<_> = (0..4)
        .map(|r| {
            let index = Arc::clone(&index);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut searches = 0;
                while !done.load(Ordering::Relaxed) {
                    let mut q = query("退票规定");
                    if r % 2 == 1 {
                        // Chunk 1 has no vector: it is first by keyword, so within the
                        // fused list when the limit covers both lists.
                        q.embedding = Some(random_vector(r, dim));
                        q.limit = 100;
                    }
                    let hits = index.search(&q).unwrap();
                    // The first chunk is never touched, so it is always found.
                    assert!(hits.iter().any(|h| h.id == id(1)), "{hits:?}");
                    searches += 1;
                }
                searches
            })
        })
        .collect();
    for batch in 0..20u128 {
        let chunks: Vec<ChunkRecord> = (0..50)
            .map(|n| {
                let n = 100 + batch * 50 + n;
                ChunkRecord {
                    embedding: Some(random_vector(n as u64, dim)),
                    ..chunk(n, "退票 新文件")
                }
            })
            .collect();
        index.upsert(&chunks).unwrap();
        if batch % 3 == 0 {
            index.delete(&[id(100 + (batch - batch.min(1)) * 50)]).unwrap();
        }
        index.commit().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
    assert!(index.stats().0 > 900);
}

fn writes_are_invisible_until_commit(backend: &Backend) {
    let index = backend.indexed(&[chunk(1, "退票规定")]);
    index.upsert(&[chunk(2, "退票新规定")]).unwrap();
    index.delete(&[id(1)]).unwrap();
    assert_eq!(find(&index, "退票"), vec![id(1)]);
    index.commit().unwrap();
    assert_eq!(find(&index, "退票"), vec![id(2)]);
    index.commit().unwrap(); // nothing to commit: fine
}

fn small_and_large_scopes_are_both_filtered_exactly(backend: &Backend) {
    // KB holds 2% of the index (filters become clauses), KB2 98% (WAND plus scope checks on
    // fast fields); the same text everywhere, in two organisations.
    let (label, file) = (id(0x61), id(0xF61));
    let mut chunks = Vec::new();
    for n in 0..200u128 {
        let mut c = chunk(1000 + n, "退票规定与退款流程");
        c.knowledge_base_id = KB2;
        c.label_ids = vec![label];
        c.file_id = Some(file);
        if n % 2 == 1 {
            c.organization_id = OTHER_ORG;
        }
        chunks.push(c);
    }
    let mut small = chunk(1, "退票规定与退款流程");
    small.label_ids = vec![label];
    small.file_id = Some(file);
    chunks.push(small);
    chunks.push(chunk(2, "退票规定与退款流程"));
    let index = backend.indexed(&chunks);
    for kbs in [vec![KB], vec![KB2], vec![KB, KB2]] {
        for (labels, files) in [(None, None), (Some(vec![label]), None), (None, Some(vec![file]))] {
            let mut q = SearchQuery::new(ORG, kbs.clone(), "退票");
            q.limit = 500;
            q.label_ids = labels.clone();
            q.file_ids = files.clone();
            let hits = index.search(&q).unwrap();
            let expected: Vec<&ChunkRecord> = chunks
                .iter()
                .filter(|c| c.organization_id == ORG && kbs.contains(&c.knowledge_base_id))
                .filter(|c| labels.is_none() || c.label_ids.contains(&label))
                .filter(|c| files.is_none() || c.file_id == Some(file))
                .collect();
            assert_eq!(hits.len(), expected.len(), "{kbs:?} {labels:?} {files:?}");
            assert!(hits.iter().all(|h| expected.iter().any(|c| c.id == h.id)));
        }
    }
}

// --- PostgreSQL only ----------------------------------------------------------------------

/// A fresh database on the pgvector server, or `None` (skip) when there is none.
fn pg_database() -> Option<PgDatabase> {
    match Backend::postgres()? {
        Backend::Postgres(admin) => Some(PgDatabase::create(&admin)),
        Backend::Embedded => None,
    }
}

#[test]
fn postgres_replicas_share_one_index() {
    let Some(db) = pg_database() else { return };
    // Replicas starting together create the schema once, taking turns.
    let replicas: Vec<PgIndex> = std::thread::scope(|scope| {
        let opening: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| PgIndex::open(&db.url, PgOptions::default()).unwrap()))
            .collect();
        opening.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut a = chunk(1, "員工請假需要提前三天申請");
    a.embedding = Some(random_vector(1, 8));
    replicas[0].upsert(&[a]).unwrap();
    assert!(find(&replicas[1], "请假").is_empty(), "not visible before commit");
    replicas[0].commit().unwrap();
    assert_eq!(find(&replicas[1], "请假"), vec![id(1)]);
    assert_eq!(find(&replicas[2], "請假"), vec![id(1)]);
    // Another replica's write is checked against the committed vectors.
    let mut b = chunk(2, "x");
    b.embedding = Some(random_vector(2, 4));
    assert!(matches!(replicas[1].upsert(&[b]), Err(IndexError::DimensionMismatch { .. })));
    replicas[2].delete_file(ORG, id(0xF1)).unwrap();
    replicas[2].delete(&[id(1)]).unwrap();
    replicas[2].commit().unwrap();
    assert!(find(&replicas[0], "请假").is_empty());
    drop(replicas);
}

#[test]
fn postgres_reanalyses_chunks_of_an_older_analyzer() {
    let Some(db) = pg_database() else { return };
    {
        let index = PgIndex::open(&db.url, PgOptions::default()).unwrap();
        index.upsert(&[chunk(1, "退票規定")]).unwrap();
        index.commit().unwrap();
    }
    // Pretend analyzer version 0 wrote the row, producing other terms.
    run_admin(
        &db.url,
        "UPDATE openmai_index_chunks SET terms = 'stale:1'::tsvector, term_count = 1, analyzer = 0",
    );
    let index = PgIndex::open(&db.url, PgOptions::default()).unwrap();
    assert_eq!(find(&index, "退票"), vec![id(1)]);
    assert!(find(&index, "stale").is_empty());
}

#[test]
fn postgres_without_pgvector_is_refused_clearly() {
    // A plain PostgreSQL server (the store's test server, which has no pgvector here).
    let Ok(admin) = std::env::var("OPENMAI_TEST_DATABASE_URL") else { return };
    let db = PgDatabase::create(admin.trim());
    let mut client = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
    let has_vector = !client
        .query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'", &[])
        .unwrap()
        .is_empty();
    drop(client);
    match PgIndex::open(&db.url, PgOptions::default()) {
        Ok(_) => assert!(has_vector, "opened without pgvector"),
        Err(IndexError::ExtensionMissing(message)) => {
            assert!(!has_vector, "{message}");
            assert!(message.contains("pgvector"), "{message}");
        }
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[test]
fn postgres_a_lost_connection_fails_the_commit_and_then_recovers() {
    let Some(db) = pg_database() else { return };
    let index = PgIndex::open(&db.url, PgOptions::default()).unwrap();
    index.upsert(&[chunk(1, "退票规定")]).unwrap();
    // The writer's transaction is the only one idle in a transaction: end it from outside.
    run_admin(
        &db.admin,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = '{}' AND state = 'idle in transaction'",
            db.name
        ),
    );
    // Either the next write or the commit notices; nothing of the batch is committed.
    let _ = index.upsert(&[chunk(2, "停车场")]);
    assert!(matches!(index.commit(), Err(IndexError::Database(_))));
    assert!(find(&index, "退票").is_empty());
    assert!(find(&index, "停车场").is_empty());
    // Later batches go through on a new connection.
    index.upsert(&[chunk(3, "会员积分")]).unwrap();
    index.commit().unwrap();
    assert_eq!(find(&index, "会员积分"), vec![id(3)]);
}
