//! Reciprocal rank fusion of the keyword and vector result lists, normalised to 0..1.
//!
//! BM25 scores are unbounded and depend on the corpus, cosine similarities depend on the
//! embedding model, so the two cannot be added. Reciprocal rank fusion (Cormack et al., 2009)
//! uses only each chunk's rank in each list:
//!
//! ```text
//! rrf(d)   = Σ over lists L that contain d of 1 / (K + rank_L(d))     K = 60, rank from 1
//! score(d) = rrf(d) / (n / (K + 1))
//! ```
//!
//! where `n` is the number of lists that returned at least one hit (1 for a keyword-only
//! search, or when one side found nothing; 2 for a hybrid search where both did). `n / (K+1)`
//! is the largest `rrf` possible — first in every list — so `score` lies in (0, 1] and means
//! the same with and without vectors: 1.0 is "ranked first by every retriever that found
//! anything".
//!
//! What `similarityCutoff` therefore does: with one list, a cutoff `c` keeps the hits whose
//! rank `r` satisfies `(K+1)/(K+r) >= c`, e.g. 0.9 keeps the first 7, 0.8 the first 16, 0.5
//! the first 62. With two lists, a chunk found by only one of them scores at most 0.5, so a
//! cutoff above 0.5 keeps only chunks both retrievers agree on. Ties are broken by the best
//! single-list rank, then by id, so results are deterministic.

use std::collections::HashMap;

use uuid::Uuid;

use crate::Hit;

/// The RRF constant. 60 is the value from the original paper and what Elasticsearch,
/// OpenSearch and pgvector's examples use; larger values flatten the rank differences.
pub const RRF_K: f32 = 60.0;

/// Fuses a keyword list (id, BM25 score) and a vector list (id, cosine similarity), each
/// ordered best first, into at most `limit` hits scoring at least `cutoff`.
pub fn fuse(
    keyword: &[(Uuid, f32)],
    vector: &[(Uuid, f32)],
    limit: usize,
    cutoff: f32,
) -> Vec<Hit> {
    let lists = usize::from(!keyword.is_empty()) + usize::from(!vector.is_empty());
    if lists == 0 || limit == 0 {
        return Vec::new();
    }
    struct Acc {
        rrf: f32,
        best_rank: usize,
        keyword: Option<f32>,
        vector: Option<f32>,
    }
    let mut acc: HashMap<Uuid, Acc> = HashMap::with_capacity(keyword.len() + vector.len());
    for (list, is_keyword) in [(keyword, true), (vector, false)] {
        for (index, &(id, score)) in list.iter().enumerate() {
            let rank = index + 1;
            let entry = acc.entry(id).or_insert(Acc {
                rrf: 0.0,
                best_rank: usize::MAX,
                keyword: None,
                vector: None,
            });
            // An id listed twice in one list (which the indexes never do) counts once.
            let slot = if is_keyword { &mut entry.keyword } else { &mut entry.vector };
            if slot.is_some() {
                continue;
            }
            *slot = Some(score);
            entry.rrf += 1.0 / (RRF_K + rank as f32);
            entry.best_rank = entry.best_rank.min(rank);
        }
    }
    let max = lists as f32 / (RRF_K + 1.0);
    let mut hits: Vec<(Hit, usize)> = acc
        .into_iter()
        .map(|(id, a)| {
            let score = (a.rrf / max).min(1.0);
            (Hit { id, score, keyword_score: a.keyword, vector_score: a.vector }, a.best_rank)
        })
        .filter(|(hit, _)| hit.score >= cutoff)
        .collect();
    hits.sort_by(|(a, ar), (b, br)| {
        b.score.total_cmp(&a.score).then(ar.cmp(br)).then(a.id.cmp(&b.id))
    });
    hits.truncate(limit);
    hits.into_iter().map(|(hit, _)| hit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|i| Uuid::from_u128(i as u128 + 1)).collect()
    }

    #[test]
    fn keyword_only_scores_depend_on_rank_and_start_at_one() {
        let id = ids(3);
        let hits = fuse(&[(id[0], 9.0), (id[1], 5.0), (id[2], 1.0)], &[], 10, 0.0);
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), id);
        assert!((hits[0].score - 1.0).abs() < 1e-6);
        assert!((hits[1].score - 61.0 / 62.0).abs() < 1e-6);
        assert_eq!(hits[0].keyword_score, Some(9.0));
        assert_eq!(hits[0].vector_score, None);
    }

    #[test]
    fn agreement_beats_a_single_first_place() {
        let id = ids(3);
        let keyword = [(id[0], 3.0), (id[1], 2.0)];
        let vector = [(id[2], 0.9), (id[1], 0.8)];
        let hits = fuse(&keyword, &vector, 10, 0.0);
        assert_eq!(hits[0].id, id[1]);
        assert!(hits[0].score > 0.95 && hits[0].score <= 1.0);
        // First in one list only: exactly half.
        assert!((hits[1].score - 0.5).abs() < 1e-6);
        assert_eq!(hits[1].id, id[0], "ties are broken by best rank, then id");
        assert_eq!(hits[2].id, id[2]);
        assert_eq!(hits[0].keyword_score, Some(2.0));
        assert_eq!(hits[0].vector_score, Some(0.8));
    }

    #[test]
    fn cutoff_and_limit_apply_after_fusion() {
        let id = ids(20);
        let keyword: Vec<_> = id.iter().map(|&i| (i, 1.0)).collect();
        let hits = fuse(&keyword, &[], 100, 0.9);
        assert_eq!(hits.len(), 7, "(K+1)/(K+r) >= 0.9 holds for r <= 7");
        assert_eq!(fuse(&keyword, &[], 3, 0.0).len(), 3);
        assert!(fuse(&[], &[], 3, 0.0).is_empty());
        assert!(fuse(&keyword, &[], 0, 0.0).is_empty());
    }

    #[test]
    fn one_empty_side_is_scored_as_single_list() {
        let id = ids(2);
        let hits = fuse(&[], &[(id[0], 0.7), (id[1], 0.2)], 10, 0.0);
        assert!((hits[0].score - 1.0).abs() < 1e-6);
    }
}
