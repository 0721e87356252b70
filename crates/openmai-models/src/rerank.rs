//! Reranking: the [`Reranker`] trait and the Cohere/Jina-compatible `/rerank` client.

use serde::{Deserialize, Serialize};

use crate::BoxFuture;
use crate::error::{ModelError, Origin, Service};
use crate::http::{Transport, clip};
use crate::options::ClientOptions;
use crate::provider::ProviderSettings;

/// A document's position in the input and its relevance to the query (higher is better; the
/// scale is the model's own).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub index: usize,
    pub score: f32,
}

/// Orders candidate passages by relevance to a query. Object-safe, like [`crate::Embedder`].
pub trait Reranker: Send + Sync {
    fn model(&self) -> &str;
    fn origin(&self) -> &Origin;
    /// At most `top_n` documents, best first (ties by input order). No documents or
    /// `top_n == 0` makes no call.
    fn rerank<'a>(
        &'a self,
        query: &'a str,
        documents: &'a [String],
        top_n: usize,
    ) -> BoxFuture<'a, Result<Vec<Ranked>, ModelError>>;
}

/// `POST {base_url}/rerank` with `{model, query, documents: [...], top_n}`, answered by
/// `{results: [{index, relevance_score}]}`: Jina, Cohere (v1 and v2), vLLM, and gateways
/// that copy them. The answer's order is not trusted: results are checked and sorted here.
#[derive(Debug)]
pub struct HttpReranker {
    transport: Transport,
    model: String,
}

impl HttpReranker {
    pub fn new(
        provider: &ProviderSettings,
        model: &str,
        options: ClientOptions,
    ) -> Result<HttpReranker, ModelError> {
        let transport = Transport::new(
            provider.origin(Service::Rerank, model),
            provider.base_url_or_default(),
            provider.api_key.as_ref(),
            options,
        )?;
        Ok(HttpReranker { transport, model: model.to_owned() })
    }

    async fn rerank_all(
        &self,
        query: &str,
        documents: &[String],
        top_n: usize,
    ) -> Result<Vec<Ranked>, ModelError> {
        // Cohere refuses a `top_n` above the number of documents.
        let top_n = top_n.min(documents.len());
        if top_n == 0 {
            return Ok(Vec::new());
        }
        let request = RerankRequest { model: &self.model, query, documents, top_n };
        let body = self.transport.post_json("rerank", &request).await?;
        let invalid = |reason: String| ModelError::InvalidResponse {
            origin: self.transport.origin().clone(),
            reason,
        };
        let response: RerankResponse = serde_json::from_slice(&body).map_err(|err| {
            invalid(format!("the body is not a rerank response ({})", clip(&err.to_string())))
        })?;
        ranked(documents.len(), top_n, response.results).map_err(invalid)
    }
}

impl Reranker for HttpReranker {
    fn model(&self) -> &str {
        &self.model
    }

    fn origin(&self) -> &Origin {
        self.transport.origin()
    }

    fn rerank<'a>(
        &'a self,
        query: &'a str,
        documents: &'a [String],
        top_n: usize,
    ) -> BoxFuture<'a, Result<Vec<Ranked>, ModelError>> {
        Box::pin(self.rerank_all(query, documents, top_n))
    }
}

#[derive(Serialize)]
struct RerankRequest<'a> {
    model: &'a str,
    query: &'a str,
    documents: &'a [String],
    top_n: usize,
}

#[derive(Deserialize)]
struct RerankResponse {
    results: Vec<RerankResult>,
}

#[derive(Deserialize)]
struct RerankResult {
    index: usize,
    relevance_score: f32,
}

/// Checks indices (in range, each once) and scores (finite), then sorts best first and keeps
/// `top_n`. Fewer results than asked for is accepted: some services cap their answers.
fn ranked(
    documents: usize,
    top_n: usize,
    results: Vec<RerankResult>,
) -> Result<Vec<Ranked>, String> {
    let mut seen = vec![false; documents];
    let mut ranked = Vec::with_capacity(results.len());
    for result in results {
        let index = result.index;
        if index >= documents {
            return Err(format!("index {index} is out of range for {documents} documents"));
        }
        if std::mem::replace(&mut seen[index], true) {
            return Err(format!("index {index} appears twice"));
        }
        if !result.relevance_score.is_finite() {
            return Err(format!("the score of document {index} is not a finite number"));
        }
        ranked.push(Ranked { index, score: result.relevance_score });
    }
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    ranked.truncate(top_n);
    Ok(ranked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(index: usize, relevance_score: f32) -> RerankResult {
        RerankResult { index, relevance_score }
    }

    #[test]
    fn results_are_sorted_and_cut() {
        let out = ranked(3, 2, vec![result(0, 0.1), result(2, 0.9), result(1, 0.5)]).unwrap();
        assert_eq!(out, vec![Ranked { index: 2, score: 0.9 }, Ranked { index: 1, score: 0.5 }]);
    }

    #[test]
    fn bad_results_are_refused() {
        assert!(ranked(2, 2, vec![result(2, 0.1)]).unwrap_err().contains("range"));
        assert!(ranked(2, 2, vec![result(1, 0.1), result(1, 0.2)]).unwrap_err().contains("twice"));
        assert!(ranked(2, 2, vec![result(0, f32::INFINITY)]).unwrap_err().contains("finite"));
    }
}
