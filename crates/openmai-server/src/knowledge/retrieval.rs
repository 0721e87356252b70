//! Retrieval: BM25 (and vectors, where a knowledge base has an embedding model) fused by the
//! index, then reranked, filtered by the similarity cutoff and cut to the number asked for.
//! Passages and FAQs come back together, best first.

use std::collections::HashMap;

use openmai_index::{Hit, SearchQuery};
use openmai_store::models::{Chunk, Faq, KnowledgeBase, LabelRef};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::knowledge::Knowledge;

/// Candidates fetched per hit wanted, so reranking has something to choose from.
const CANDIDATES_PER_HIT: usize = 3;

#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub query: String,
    pub limit: usize,
    /// Overrides the knowledge bases' own cutoff.
    pub similarity_cutoff: Option<f64>,
    pub label_ids: Option<Vec<Uuid>>,
    pub file_ids: Option<Vec<Uuid>>,
    pub knowledge_bases: Vec<KnowledgeBase>,
}

#[derive(Debug, Clone)]
pub enum SearchHit {
    Chunk { chunk: Chunk, score: f32, labels: Vec<LabelRef> },
    Faq { faq: Faq, score: f32 },
}

impl SearchHit {
    pub fn score(&self) -> f32 {
        match self {
            SearchHit::Chunk { score, .. } | SearchHit::Faq { score, .. } => *score,
        }
    }

    fn set_score(&mut self, value: f32) {
        match self {
            SearchHit::Chunk { score, .. } | SearchHit::Faq { score, .. } => *score = value,
        }
    }

    /// The text a reranker judges.
    pub fn text(&self) -> String {
        match self {
            SearchHit::Chunk { chunk, .. } => match &chunk.heading {
                Some(heading) => format!("{heading}\n{}", chunk.content),
                None => chunk.content.clone(),
            },
            SearchHit::Faq { faq, .. } => crate::knowledge::faq_text(faq),
        }
    }

    pub fn id(&self) -> Uuid {
        match self {
            SearchHit::Chunk { chunk, .. } => chunk.id,
            SearchHit::Faq { faq, .. } => faq.id,
        }
    }
}

impl Knowledge {
    /// Searches the request's knowledge bases for the organisation.
    pub async fn search(
        &self,
        organization_id: Uuid,
        request: SearchRequest,
    ) -> ApiResult<Vec<SearchHit>> {
        if request.query.trim().is_empty()
            || request.knowledge_bases.is_empty()
            || request.limit == 0
        {
            return Ok(Vec::new());
        }
        let wanted = request.limit.saturating_mul(CANDIDATES_PER_HIT).clamp(request.limit, 300);

        // Knowledge bases sharing an embedding model are searched together; each group
        // embeds the query once (keyword-only groups need no embedding).
        let mut groups: HashMap<Option<Uuid>, Vec<&KnowledgeBase>> = HashMap::new();
        for kb in &request.knowledge_bases {
            let model = self.models.embedder_for(kb).and(kb.embedding_model_id);
            groups.entry(model).or_default().push(kb);
        }
        let mut hits: Vec<Hit> = Vec::new();
        for (_, kbs) in groups {
            let embedding = match self.models.embedder_for(kbs[0]) {
                Some(embedder) => match embedder
                    .embed(std::slice::from_ref(&request.query), openmai_models::EmbedKind::Query)
                    .await
                {
                    Ok(mut vectors) => vectors.pop(),
                    Err(err) => {
                        // Keyword retrieval still answers while the provider is down.
                        tracing::warn!(%err, "query embedding failed; searching by keywords only");
                        None
                    }
                },
                None => None,
            };
            let query = SearchQuery {
                organization_id,
                knowledge_base_ids: kbs.iter().map(|kb| kb.id).collect(),
                text: request.query.clone(),
                embedding,
                label_ids: request.label_ids.clone(),
                file_ids: request.file_ids.clone(),
                limit: wanted,
                similarity_cutoff: 0.0,
            };
            hits.extend(self.index(move |index| index.search(&query)).await?);
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.dedup_by_key(|h| h.id);

        let mut results = self.hydrate(organization_id, &hits).await?;
        self.rerank(&request, &mut results).await;
        let cutoff = request.similarity_cutoff.unwrap_or_else(|| {
            request
                .knowledge_bases
                .iter()
                .map(|kb| kb.similarity_cutoff)
                .fold(f64::INFINITY, f64::min)
        });
        #[allow(clippy::cast_possible_truncation)]
        let cutoff = if cutoff.is_finite() { cutoff as f32 } else { 0.0 };
        results.retain(|hit| hit.score() >= cutoff);
        results.truncate(request.limit);
        self.count_hits(&results);
        Ok(results)
    }

    /// Turns index hits into passages and FAQs from the store, in hit order. Hits the store no
    /// longer has (deleted a moment ago) are dropped.
    async fn hydrate(&self, organization_id: Uuid, hits: &[Hit]) -> ApiResult<Vec<SearchHit>> {
        let ids: Vec<Uuid> = hits.iter().map(|h| h.id).collect();
        let (chunks, faqs, labels) = self
            .store
            .read(move |db| {
                let chunks = db.chunks_by_ids(organization_id, &ids)?;
                let faqs = db.faqs_by_ids(organization_id, &ids)?;
                let files: Vec<Uuid> = chunks.iter().map(|c| c.file_id).collect();
                let labels = db.labels_of_files(&files)?;
                Ok((chunks, faqs, labels))
            })
            .await?;
        let mut chunks: HashMap<Uuid, Chunk> = chunks.into_iter().map(|c| (c.id, c)).collect();
        let mut faqs: HashMap<Uuid, Faq> = faqs.into_iter().map(|f| (f.id, f)).collect();
        let mut results = Vec::with_capacity(hits.len());
        for hit in hits {
            if let Some(chunk) = chunks.remove(&hit.id) {
                let labels = labels.get(&chunk.file_id).cloned().unwrap_or_default();
                results.push(SearchHit::Chunk { chunk, score: hit.score, labels });
            } else if let Some(faq) = faqs.remove(&hit.id) {
                results.push(SearchHit::Faq { faq, score: hit.score });
            }
        }
        Ok(results)
    }

    /// Reorders candidates by the knowledge base's reranker: a provider's `/rerank` model, or
    /// the built-in keyword reranker (the share of the question's terms a passage contains,
    /// blended with the retrieval score). A provider failure keeps the retrieval order.
    async fn rerank(&self, request: &SearchRequest, results: &mut Vec<SearchHit>) {
        if results.is_empty() {
            return;
        }
        let Some(kb) = request.knowledge_bases.iter().find(|kb| kb.enable_rerank) else { return };
        if let Some(reranker) = self.models.reranker_for(kb) {
            let texts: Vec<String> = results.iter().map(SearchHit::text).collect();
            match reranker.rerank(&request.query, &texts, results.len()).await {
                Ok(ranked) => {
                    let mut taken: Vec<Option<SearchHit>> =
                        std::mem::take(results).into_iter().map(Some).collect();
                    for entry in ranked {
                        if let Some(mut hit) = taken.get_mut(entry.index).and_then(Option::take) {
                            hit.set_score(entry.score.clamp(0.0, 1.0));
                            results.push(hit);
                        }
                    }
                }
                Err(err) => tracing::warn!(%err, "reranking failed; keeping the retrieval order"),
            }
            return;
        }
        let question: Vec<String> = openmai_index::analyzer::terms(&request.query);
        if question.is_empty() {
            return;
        }
        for hit in results.iter_mut() {
            let terms: std::collections::HashSet<String> =
                openmai_index::analyzer::terms(&hit.text()).into_iter().collect();
            #[allow(clippy::cast_precision_loss)]
            let coverage = question.iter().filter(|t| terms.contains(*t)).count() as f32
                / question.len() as f32;
            hit.set_score(0.5 * hit.score() + 0.5 * coverage);
        }
        results.sort_by(|a, b| b.score().total_cmp(&a.score()));
    }

    /// `hitsCount`: counted in the background, never slowing the answer. Counts wait in
    /// memory while a write of earlier ones is under way, so under load many searches share
    /// one write instead of adding one each.
    fn count_hits(&self, results: &[SearchHit]) {
        if results.is_empty() {
            return;
        }
        {
            let mut pending = self.hits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for hit in results {
                let counts = match hit {
                    SearchHit::Chunk { .. } => &mut pending.chunks,
                    SearchHit::Faq { .. } => &mut pending.faqs,
                };
                *counts.entry(hit.id()).or_default() += 1;
            }
            if pending.writing {
                return;
            }
            pending.writing = true;
        }
        let knowledge = self.clone();
        tokio::spawn(async move {
            loop {
                let (chunks, faqs) = {
                    let mut pending =
                        knowledge.hits.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if pending.chunks.is_empty() && pending.faqs.is_empty() {
                        pending.writing = false;
                        return;
                    }
                    (std::mem::take(&mut pending.chunks), std::mem::take(&mut pending.faqs))
                };
                let (chunks, faqs): (Vec<_>, Vec<_>) =
                    (chunks.into_iter().collect(), faqs.into_iter().collect());
                if let Err(err) = knowledge.store.write(move |db| db.add_hits(&chunks, &faqs)).await
                {
                    tracing::debug!(%err, "could not count retrieval hits");
                }
            }
        });
    }
}

/// Retrieval hits not yet written (`hitsCount`), and whether a write is under way.
#[derive(Debug, Default)]
pub struct PendingHits {
    chunks: HashMap<Uuid, i64>,
    faqs: HashMap<Uuid, i64>,
    writing: bool,
}
