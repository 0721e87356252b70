//! The embedding and reranking clients of the configured providers, by catalogue id. Built
//! once at start-up; a knowledge base whose embedding model is the built-in keyword model (or
//! none) retrieves by keywords only.

use std::collections::HashMap;
use std::sync::Arc;

use openmai_models::{ClientOptions, Embedder, Reranker};
use openmai_store::models::KnowledgeBase;
use uuid::Uuid;

use crate::catalog::{Catalog, ModelKind, model_id};
use crate::config::Config;

#[derive(Clone, Default)]
pub struct Models {
    embedders: HashMap<Uuid, Arc<dyn Embedder>>,
    rerankers: HashMap<Uuid, Arc<dyn Reranker>>,
}

impl Models {
    /// Clients for every configured embedding and reranker model. A provider whose key
    /// variable is unset, or whose kind cannot embed, is refused at start-up with the reason.
    pub fn from_config(config: &Config, _catalog: &Catalog) -> anyhow::Result<Models> {
        let mut models = Models::default();
        for provider in &config.providers {
            if provider.embedding_models.is_empty() && provider.reranker_models.is_empty() {
                continue;
            }
            let settings = provider.settings()?;
            for model in &provider.embedding_models {
                let client =
                    openmai_models::build_embedder(&settings, model, ClientOptions::default())
                        .map_err(|e| anyhow::anyhow!("provider {:?}: {e}", provider.name))?;
                models
                    .embedders
                    .insert(model_id(ModelKind::Embedding, &provider.name, model), client);
            }
            for model in &provider.reranker_models {
                let client =
                    openmai_models::build_reranker(&settings, model, ClientOptions::default())
                        .map_err(|e| anyhow::anyhow!("provider {:?}: {e}", provider.name))?;
                models
                    .rerankers
                    .insert(model_id(ModelKind::Reranker, &provider.name, model), client);
            }
        }
        Ok(models)
    }

    /// The knowledge base's embedding client; `None` means keyword-only retrieval.
    pub fn embedder_for(&self, kb: &KnowledgeBase) -> Option<Arc<dyn Embedder>> {
        kb.embedding_model_id.and_then(|id| self.embedders.get(&id).cloned())
    }

    /// The knowledge base's reranking client, when reranking is on and its model is a
    /// provider's (the built-in keyword reranker is applied by retrieval itself).
    pub fn reranker_for(&self, kb: &KnowledgeBase) -> Option<Arc<dyn Reranker>> {
        if !kb.enable_rerank {
            return None;
        }
        kb.reranker_model_id.and_then(|id| self.rerankers.get(&id).cloned())
    }
}
