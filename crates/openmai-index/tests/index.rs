//! Behaviour of the embedded index through the `SearchIndex` trait only, as the server uses it.
//! A PostgreSQL implementation should pass the same tests (see `suite`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use openmai_index::{
    ChunkRecord, EmbeddedIndex, EmbeddedOptions, Hit, IndexError, SearchIndex, SearchQuery,
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

fn memory() -> EmbeddedIndex {
    EmbeddedIndex::open_in_memory(EmbeddedOptions::default()).unwrap()
}

fn indexed(chunks: &[ChunkRecord]) -> EmbeddedIndex {
    let index = memory();
    index.upsert(chunks).unwrap();
    index.commit().unwrap();
    index
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

#[test]
fn traditional_question_finds_simplified_passage_and_vice_versa() {
    let index = indexed(&[
        chunk(1, "台湾高铁的退票规定：开车前可以免费退票。"),
        chunk(2, "員工請假需要提前三天向主管申請。"),
        chunk(3, "公司的咖啡机在三楼。"),
    ]);
    assert_eq!(find(&index, "高鐵退票規定是什麼？")[0], id(1));
    assert_eq!(find(&index, "员工请假怎么申请")[0], id(2));
    // Taiwan and mainland vocabulary fold too (軟體 = 软件).
    let index = indexed(&[chunk(4, "本公司提供的软件授权说明"), chunk(5, "停车场说明")]);
    assert_eq!(find(&index, "軟體授權"), vec![id(4)]);
}

#[test]
fn multi_word_chinese_question_finds_its_passage() {
    let index = indexed(&[
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

#[test]
fn unknown_words_and_names_are_found() {
    // 王小明 is in no dictionary; the character-bigram fallback still matches it as a unit.
    let index =
        indexed(&[chunk(1, "客服专员王小明负责处理退款。"), chunk(2, "王经理和小李明天出差。")]);
    assert_eq!(find(&index, "王小明")[0], id(1));
}

#[test]
fn english_is_stemmed_and_case_insensitive() {
    let index = indexed(&[
        chunk(1, "Orders are refunded within 5 business days."),
        chunk(2, "Shipping is free for members."),
        chunk(3, "Contact the IPHONE support desk."),
    ]);
    assert_eq!(find(&index, "refunds"), vec![id(1)]);
    assert_eq!(find(&index, "REFUNDING policy"), vec![id(1)]);
    assert_eq!(find(&index, "iphone"), vec![id(3)]);
    assert_eq!(find(&index, "Ｉｐｈｏｎｅ"), vec![id(3)], "full-width letters fold too");
}

#[test]
fn mixed_chinese_and_english() {
    let index = indexed(&[
        chunk(1, "iPhone 15 的保固期為一年，可以到 Apple Store 辦理。"),
        chunk(2, "MacBook 的電池保固另計。"),
        chunk(3, "退貨請在七天內申請。"),
    ]);
    assert_eq!(find(&index, "iphone 保固")[0], id(1));
    assert_eq!(find(&index, "apple store 在哪里")[0], id(1));
    assert_eq!(find(&index, "macbook电池")[0], id(2));
}

#[test]
fn stop_words_do_not_dominate() {
    let index = indexed(&[
        chunk(1, "这是我们的的确确是在那里的，也是这样的，是的，the is of and to a。"),
        chunk(2, "退票规定"),
    ]);
    let hits = find(&index, "请问退票的规定是什么？What is the refund rule?");
    assert_eq!(hits, vec![id(2)], "the passage of stop words matches nothing");
    assert!(find(&index, "的是在 the is").is_empty());
}

#[test]
fn degenerate_queries_fail_cleanly_or_find_nothing() {
    let index = indexed(&[chunk(1, "退票规定"), chunk(2, "")]);
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

#[test]
fn label_filters() {
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
    let index = indexed(&[a, b, c, d]);

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
    index.set_labels(ORG, id(0xF2), &[l3]).unwrap();
    index.commit().unwrap();
    assert_eq!(search(Some(vec![l3])), vec![id(2)]);
    assert_eq!(search(Some(vec![l2])), vec![id(3)]);
    // Relabelling in another organisation's name touches nothing.
    index.set_labels(OTHER_ORG, id(0xF1), &[l3]).unwrap();
    index.commit().unwrap();
    assert_eq!(search(Some(vec![l1])), vec![id(1), id(3)]);
}

#[test]
fn file_filters_cover_files_and_faqs() {
    let mut a = chunk(1, "退票规定 第一份文件");
    a.file_id = Some(id(0xF1));
    let mut b = chunk(2, "退票规定 第二份文件");
    b.file_id = Some(id(0xF2));
    let mut faq = chunk(3, "问：如何退票？答：在 App 申请。");
    faq.faq_id = Some(id(0xFA));
    let index = indexed(&[a, b, faq]);
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

#[test]
fn several_knowledge_bases() {
    let mut other = chunk(2, "退票规定（第二个知识库）");
    other.knowledge_base_id = KB2;
    let index = indexed(&[chunk(1, "退票规定（第一个知识库）"), other]);
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

#[test]
fn tenants_are_isolated_even_with_identical_text() {
    let dim = 16;
    let shared = random_vector(7, dim);
    let mut mine = chunk(1, "退票规定 refund policy");
    mine.embedding = Some(shared.clone());
    let mut theirs = chunk(2, "退票规定 refund policy");
    theirs.organization_id = OTHER_ORG;
    theirs.knowledge_base_id = KB2;
    theirs.embedding = Some(shared.clone());
    let index = indexed(&[mine, theirs]);

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

#[test]
fn deletion_by_id_file_and_knowledge_base() {
    let file = |n: u128, f: u128, kb: Uuid| {
        let mut c = chunk(n, "退票规定");
        c.file_id = Some(id(f));
        c.knowledge_base_id = kb;
        c.embedding = Some(random_vector(n as u64, 8));
        c
    };
    let index = indexed(&[
        file(1, 0xF1, KB),
        file(2, 0xF1, KB),
        file(3, 0xF2, KB),
        file(4, 0xF3, KB2),
        file(5, 0xF3, KB2),
    ]);
    let all = |index: &EmbeddedIndex| {
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
    assert_eq!(index.stats().unwrap(), (0, 0));
}

#[test]
fn upsert_replaces_by_id() {
    let index = indexed(&[chunk(1, "旧的内容：停车场"), chunk(2, "别的内容")]);
    index.upsert(&[chunk(1, "新的内容：退票规定")]).unwrap();
    index.upsert(&[chunk(1, "新的内容：退票规定")]).unwrap(); // idempotent
    index.commit().unwrap();
    assert!(find(&index, "停车场").is_empty());
    assert_eq!(find(&index, "退票"), vec![id(1)]);
    assert_eq!(index.stats().unwrap().0, 2);

    // Replacing a vector, and dropping it.
    let v = random_vector(1, 8);
    let mut with_vector = chunk(1, "新的内容：退票规定");
    with_vector.embedding = Some(v.clone());
    index.upsert(&[with_vector.clone(), with_vector]).unwrap();
    index.commit().unwrap();
    assert_eq!(index.stats().unwrap(), (2, 1));
    index.upsert(&[chunk(1, "新的内容：退票规定")]).unwrap();
    index.commit().unwrap();
    assert_eq!(index.stats().unwrap(), (2, 0));
}

#[test]
fn embeddings_must_match_their_knowledge_base() {
    let index = memory();
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
    assert_eq!(index.stats().unwrap(), (1, 1));
    let mut bad = chunk(3, "c");
    bad.embedding = Some(vec![1.0, f32::INFINITY, 0.0, 0.0]);
    assert!(matches!(index.upsert(&[bad]), Err(IndexError::InvalidInput(_))));
}

// --- Hybrid search ----------------------------------------------------------------------

#[test]
fn hybrid_search_fuses_keyword_and_vector_results() {
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
    let index = indexed(&chunks);
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

#[test]
fn vector_filters_apply_during_the_search() {
    // 3000 vectors in one knowledge base, so the graph (not brute force) is used; the
    // label filter selects either a handful (exact path) or about half (filtered walk).
    let dim = 24;
    let (rare, common) = (id(0x51), id(0x52));
    let query_vector = random_vector(5, dim);
    let chunks: Vec<ChunkRecord> = (0..3000u128)
        .map(|n| {
            let mut c = chunk(n + 1, "内容");
            c.embedding = Some(random_vector(n as u64 + 1000, dim));
            c.label_ids = match n {
                _ if n % 600 == 0 => vec![rare, common],
                _ if n % 2 == 0 => vec![common],
                _ => vec![],
            };
            c.file_id = Some(id(0xF000 + n % 10));
            c
        })
        .collect();
    let index = indexed(&chunks);
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
    let mut exact: Vec<(f32, Uuid)> = chunks
        .iter()
        .filter(|c| c.label_ids.contains(&common))
        .map(|c| (cosine(c.embedding.as_ref().unwrap(), &query_vector), c.id))
        .collect();
    exact.sort_by(|a, b| b.0.total_cmp(&a.0));
    let exact: Vec<Uuid> = exact.iter().take(10).map(|e| e.1).collect();
    let overlap = ids(&hits).iter().filter(|h| exact.contains(h)).count();
    assert!(overlap >= 9, "recall@10 of the filtered walk: {overlap}/10");

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
        index.set_labels(ORG, id(0xF1), &[id(0x77)]).unwrap();
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

#[test]
fn concurrent_readers_with_a_writer() {
    let index = Arc::new(indexed(&[chunk(1, "退票规定")]));
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
    assert!(index.stats().unwrap().0 > 900);
}

#[test]
fn writes_are_invisible_until_commit() {
    let index = indexed(&[chunk(1, "退票规定")]);
    index.upsert(&[chunk(2, "退票新规定")]).unwrap();
    index.delete(&[id(1)]).unwrap();
    assert_eq!(find(&index, "退票"), vec![id(1)]);
    index.commit().unwrap();
    assert_eq!(find(&index, "退票"), vec![id(2)]);
    index.commit().unwrap(); // nothing to commit: fine
}

#[test]
fn small_and_large_scopes_are_both_filtered_exactly() {
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
    let index = indexed(&chunks);
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
