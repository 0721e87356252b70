//! Text embeddings: the [`Embedder`] trait and the OpenAI-compatible `/embeddings` client.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::BoxFuture;
use crate::error::{ModelError, Origin, Service};
use crate::http::{Transport, clip};
use crate::options::ClientOptions;
use crate::provider::ProviderSettings;

/// What a text is for. Some models embed queries and documents differently (E5's `query: ` /
/// `passage: `, nomic's `search_query: `); OpenAI-compatible APIs have no field for it, so
/// [`OpenAiEmbedder::with_prefixes`] can add the model's prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmbedKind {
    Document,
    Query,
}

/// Turns texts into vectors. Object-safe (methods return boxed futures) so the server can
/// hold an `Arc<dyn Embedder>` per knowledge base.
pub trait Embedder: Send + Sync {
    /// The model's name at its provider.
    fn model(&self) -> &str;
    /// Provider and model, for messages.
    fn origin(&self) -> &Origin;
    /// Vector length, once known: configured, or learned from the first response.
    fn dimensions(&self) -> Option<usize>;
    /// One unit-length vector per text, in input order. An empty input makes no call.
    fn embed<'a>(
        &'a self,
        texts: &'a [String],
        kind: EmbedKind,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>>;
}

/// `POST {base_url}/embeddings` with `{model, input: [...], encoding_format: "float"}`,
/// answered by `{data: [{index, embedding}], usage}`: OpenAI, Ollama (`…/v1`), vLLM, TEI's
/// OpenAI route, LM Studio, llama.cpp, Gemini's OpenAI-compatible endpoint.
///
/// Inputs are split into `batch_size` requests run at most `concurrency` at a time (per
/// client, across callers); results come back in input order whatever order the batches or
/// the `data` entries arrive in. Every response is checked (count, indices, finite numbers,
/// one dimension throughout and across calls) and every vector is scaled to unit length, so
/// cosine similarity is a plain dot product in the index whatever the model does (OpenAI's
/// are already unit length; many local models' are not).
#[derive(Debug)]
pub struct OpenAiEmbedder {
    transport: Transport,
    model: String,
    /// 0 while unknown; set by configuration or by the first valid response, then enforced.
    dimensions: AtomicUsize,
    query_prefix: String,
    document_prefix: String,
}

impl OpenAiEmbedder {
    pub fn new(
        provider: &ProviderSettings,
        model: &str,
        options: ClientOptions,
    ) -> Result<OpenAiEmbedder, ModelError> {
        let transport = Transport::new(
            provider.origin(Service::Embedding, model),
            provider.base_url_or_default(),
            provider.api_key.as_ref(),
            options,
        )?;
        Ok(OpenAiEmbedder {
            transport,
            model: model.to_owned(),
            dimensions: AtomicUsize::new(0),
            query_prefix: String::new(),
            document_prefix: String::new(),
        })
    }

    /// The vector length this model must produce (e.g. what an existing index was built
    /// with). A response of another length is an [`ModelError::InvalidResponse`]. It is
    /// checked, not sent: only some APIs accept a `dimensions` field.
    pub fn with_dimensions(self, dimensions: usize) -> Self {
        self.dimensions.store(dimensions, Ordering::Relaxed);
        self
    }

    /// Text put before each query and each document, for models trained with prefixes.
    pub fn with_prefixes(mut self, query: impl Into<String>, document: impl Into<String>) -> Self {
        self.query_prefix = query.into();
        self.document_prefix = document.into();
        self
    }

    async fn embed_all(
        &self,
        texts: &[String],
        kind: EmbedKind,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let batch_size = self.transport.options().batch_size;
        tracing::debug!(
            provider = %self.origin().provider, model = %self.model, texts = texts.len(),
            batches = texts.len().div_ceil(batch_size), "embedding"
        );
        // In-task concurrency (no spawning): dropping this future drops every request in
        // flight, and the first failure cancels the other batches. The transport's semaphore
        // bounds how many run at once; `try_join_all` keeps batch order.
        let batches = texts.chunks(batch_size).map(|batch| self.embed_batch(batch, kind));
        let vectors = futures::future::try_join_all(batches).await?;
        Ok(vectors.into_iter().flatten().collect())
    }

    async fn embed_batch(
        &self,
        texts: &[String],
        kind: EmbedKind,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let prefix = match kind {
            EmbedKind::Query => &self.query_prefix,
            EmbedKind::Document => &self.document_prefix,
        };
        let input = texts
            .iter()
            .map(|text| match prefix.is_empty() {
                true => Cow::Borrowed(text.as_str()),
                false => Cow::Owned(format!("{prefix}{text}")),
            })
            .collect();
        let request = EmbeddingRequest { model: &self.model, input, encoding_format: "float" };
        let body = self.transport.post_json("embeddings", &request).await?;
        let invalid = |reason: String| ModelError::InvalidResponse {
            origin: self.transport.origin().clone(),
            reason,
        };
        let response: EmbeddingResponse = serde_json::from_slice(&body).map_err(|err| {
            invalid(format!("the body is not an embeddings response ({})", clip(&err.to_string())))
        })?;
        if let Some(usage) = &response.usage {
            tracing::debug!(
                provider = %self.origin().provider, model = %self.model,
                prompt_tokens = usage.prompt_tokens, total_tokens = usage.total_tokens,
                "embedding usage"
            );
        }
        let mut vectors = in_input_order(texts.len(), response.data).map_err(invalid)?;
        let dimensions = vectors[0].len();
        match self.dimensions.compare_exchange(0, dimensions, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {}
            Err(known) if known == dimensions => {}
            Err(known) => {
                return Err(invalid(format!(
                    "embeddings have {dimensions} dimensions, but this model's have {known}"
                )));
            }
        }
        vectors.iter_mut().for_each(|v| normalize(v));
        Ok(vectors)
    }
}

impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn origin(&self) -> &Origin {
        self.transport.origin()
    }

    fn dimensions(&self) -> Option<usize> {
        match self.dimensions.load(Ordering::Acquire) {
            0 => None,
            n => Some(n),
        }
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
        kind: EmbedKind,
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, ModelError>> {
        Box::pin(self.embed_all(texts, kind))
    }
}

#[derive(Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: Vec<Cow<'a, str>>,
    /// Asked for explicitly: some servers default to base64 strings.
    encoding_format: &'static str,
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingItem>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    /// Optional because a few servers omit it; then (and only if every entry omits it) the
    /// position in `data` is used.
    #[serde(default)]
    index: Option<usize>,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

/// Places each vector at its `index`, refusing anything that does not give exactly one
/// finite, non-empty vector of one common length per input.
fn in_input_order(expected: usize, data: Vec<EmbeddingItem>) -> Result<Vec<Vec<f32>>, String> {
    if data.len() != expected {
        return Err(format!("expected {expected} embeddings, got {}", data.len()));
    }
    let positional = data.iter().all(|item| item.index.is_none());
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, item) in data.into_iter().enumerate() {
        let index = match (positional, item.index) {
            (true, _) => position,
            (false, Some(index)) => index,
            (false, None) => return Err(format!("entry {position} has no index")),
        };
        if index >= expected {
            return Err(format!("index {index} is out of range for {expected} inputs"));
        }
        if item.embedding.is_empty() {
            return Err(format!("embedding {index} is empty"));
        }
        // JSON cannot carry NaN, but numbers beyond f32's range arrive as infinity.
        if !item.embedding.iter().all(|x| x.is_finite()) {
            return Err(format!("embedding {index} contains a non-finite number"));
        }
        if slots[index].replace(item.embedding).is_some() {
            return Err(format!("index {index} appears twice"));
        }
    }
    // With `expected` entries, no duplicates and all in range, every slot is filled.
    let vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();
    let dimensions = vectors[0].len();
    if let Some((index, v)) = vectors.iter().enumerate().find(|(_, v)| v.len() != dimensions) {
        return Err(format!(
            "embedding {index} has {} dimensions, embedding 0 has {dimensions}",
            v.len()
        ));
    }
    Ok(vectors)
}

/// Scales to unit length (summing in f64 for accuracy). An all-zero vector stays zero: it has
/// no direction, and a zero score against it is the honest answer.
fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(index: Option<usize>, embedding: &[f32]) -> EmbeddingItem {
        EmbeddingItem { index, embedding: embedding.to_vec() }
    }

    #[test]
    fn entries_are_placed_by_index() {
        let data = vec![item(Some(1), &[2.0]), item(Some(0), &[1.0])];
        assert_eq!(in_input_order(2, data).unwrap(), vec![vec![1.0], vec![2.0]]);
        let data = vec![item(None, &[1.0]), item(None, &[2.0])];
        assert_eq!(in_input_order(2, data).unwrap(), vec![vec![1.0], vec![2.0]]);
    }

    #[test]
    fn bad_entries_are_refused() {
        let check = |expected, data| in_input_order(expected, data).unwrap_err();
        assert!(check(2, vec![item(Some(0), &[1.0])]).contains("expected 2"));
        assert!(check(2, vec![item(Some(0), &[1.0]), item(Some(0), &[1.0])]).contains("twice"));
        assert!(check(2, vec![item(Some(0), &[1.0]), item(Some(2), &[1.0])]).contains("range"));
        assert!(check(2, vec![item(Some(0), &[1.0]), item(None, &[1.0])]).contains("no index"));
        assert!(check(1, vec![item(Some(0), &[f32::INFINITY])]).contains("non-finite"));
        assert!(check(1, vec![item(Some(0), &[])]).contains("empty"));
        let data = vec![item(Some(0), &[1.0, 0.0]), item(Some(1), &[1.0])];
        assert!(check(2, data).contains("dimensions"));
    }

    #[test]
    fn vectors_become_unit_length() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        let mut zero = vec![0.0, 0.0];
        normalize(&mut zero);
        assert_eq!(zero, vec![0.0, 0.0]);
    }
}
