//! The model catalogues behind `chatbot-settings/`, `embedding-models/` and
//! `reranker-models/`: OpenMai's built-in offline models (the defaults, so everything works
//! without an API key or network) plus the models of each configured provider. Ids are UUIDv5
//! of the model's name, so they stay the same across restarts and replicas.

use serde::Serialize;
use uuid::Uuid;

use crate::config::{Config, ProviderKind};

/// Namespace for catalogue ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_1d55_3c1e_4c55_9d0b_6f70_656e_6d61);

pub const BUILT_IN_PROVIDER: &str = "openmai";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Chat,
    Embedding,
    Reranker,
}

impl ModelKind {
    fn tag(self) -> &'static str {
        match self {
            ModelKind::Chat => "llm",
            ModelKind::Embedding => "embedding",
            ModelKind::Reranker => "reranker",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    pub id: Uuid,
    pub name: String,
    pub is_default: bool,
    /// `openmai` for the built-in models, otherwise the provider's configured name.
    #[serde(skip)]
    pub provider: String,
    /// The model's name at its provider (e.g. `gpt-4o-mini`).
    #[serde(skip)]
    pub model: String,
    #[serde(skip)]
    pub kind: Option<ProviderKind>,
}

/// A RAG engine: how retrieval and answering are put together. OpenMai has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Rag {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub chat: Vec<Model>,
    pub embedding: Vec<Model>,
    pub reranker: Vec<Model>,
    pub rags: Vec<Rag>,
}

pub fn model_id(kind: ModelKind, provider: &str, model: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, format!("{}/{provider}/{model}", kind.tag()).as_bytes())
}

fn built_in(kind: ModelKind, model: &str, name: &str) -> Model {
    Model {
        id: model_id(kind, BUILT_IN_PROVIDER, model),
        name: name.to_owned(),
        is_default: true,
        provider: BUILT_IN_PROVIDER.into(),
        model: model.into(),
        kind: None,
    }
}

impl Catalog {
    pub fn from_config(config: &Config) -> Catalog {
        let mut chat = vec![built_in(ModelKind::Chat, "offline", "OpenMai Offline (extractive)")];
        let mut embedding =
            vec![built_in(ModelKind::Embedding, "keyword", "OpenMai Keyword (no embeddings)")];
        let mut reranker =
            vec![built_in(ModelKind::Reranker, "keyword", "OpenMai Keyword Reranker")];
        for provider in &config.providers {
            let lists = [
                (ModelKind::Chat, &provider.chat_models, &mut chat),
                (ModelKind::Embedding, &provider.embedding_models, &mut embedding),
                (ModelKind::Reranker, &provider.reranker_models, &mut reranker),
            ];
            for (kind, models, into) in lists {
                for model in models {
                    into.push(Model {
                        id: model_id(kind, &provider.name, model),
                        name: format!("{} {model}", provider.name),
                        is_default: false,
                        provider: provider.name.clone(),
                        model: model.clone(),
                        kind: Some(provider.kind),
                    });
                }
            }
        }
        if let Some((provider, model)) =
            config.default_chat_model.as_deref().and_then(|d| d.split_once('/'))
            && chat.iter().any(|m| m.provider == provider && m.model == model)
        {
            for entry in &mut chat {
                entry.is_default = entry.provider == provider && entry.model == model;
            }
        }
        let rags =
            vec![Rag { id: Uuid::new_v5(&NAMESPACE, b"rag/openmai"), name: "OpenMai RAG".into() }];
        Catalog { chat, embedding, reranker, rags }
    }

    pub fn chat_model(&self, id: Uuid) -> Option<&Model> {
        self.chat.iter().find(|m| m.id == id)
    }

    pub fn embedding_model(&self, id: Uuid) -> Option<&Model> {
        self.embedding.iter().find(|m| m.id == id)
    }

    pub fn reranker_model(&self, id: Uuid) -> Option<&Model> {
        self.reranker.iter().find(|m| m.id == id)
    }

    pub fn rag(&self, id: Uuid) -> Option<&Rag> {
        self.rags.iter().find(|r| r.id == id)
    }

    pub fn default_chat_model(&self) -> &Model {
        self.chat.iter().find(|m| m.is_default).unwrap_or(&self.chat[0])
    }

    pub fn default_rag(&self) -> &Rag {
        &self.rags[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderConfig;

    #[test]
    fn built_ins_are_the_defaults_and_ids_are_stable() {
        let catalog = Catalog::from_config(&Config::default());
        assert_eq!(catalog.chat.len(), 1);
        assert!(catalog.default_chat_model().is_default);
        let again = Catalog::from_config(&Config::default());
        assert_eq!(catalog.chat[0].id, again.chat[0].id);
        assert_eq!(catalog.rags[0].id, again.rags[0].id);
    }

    #[test]
    fn configured_providers_add_models_and_may_take_the_default() {
        let config = Config {
            providers: vec![ProviderConfig {
                name: "openai".into(),
                kind: ProviderKind::Openai,
                base_url: None,
                api_key: None,
                api_key_env: None,
                chat_models: vec!["gpt-4o-mini".into()],
                embedding_models: vec!["text-embedding-3-small".into()],
                reranker_models: vec![],
                vision_models: vec![],
                context_tokens: 8192,
                max_concurrent_requests: None,
                http2_prior_knowledge: false,
            }],
            default_chat_model: Some("openai/gpt-4o-mini".into()),
            ..Config::default()
        };
        let catalog = Catalog::from_config(&config);
        assert_eq!(catalog.chat.len(), 2);
        assert_eq!(catalog.default_chat_model().name, "openai gpt-4o-mini");
        assert_eq!(catalog.chat.iter().filter(|m| m.is_default).count(), 1);
        assert_eq!(catalog.embedding.len(), 2);
        let id = model_id(ModelKind::Chat, "openai", "gpt-4o-mini");
        assert_eq!(catalog.chat_model(id).map(|m| m.model.as_str()), Some("gpt-4o-mini"));
    }
}
