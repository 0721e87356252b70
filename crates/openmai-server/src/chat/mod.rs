//! Assistants at work: answering messages. Handlers and workers call this.
//!
//! - [`engine`]: the reply engine — retrieval, reply modes, the prompt, the model, Chinese
//!   conversion, citations and usage — and [`engine::run`], which drives a reply to its end and
//!   stores it, streaming it on the way when someone is listening.
//! - [`jobs`]: the workers that write replies to asynchronous messages (`POST messages/`) and
//!   deliver them to the assistant's webhook ([`webhooks`]).
//! - [`Chat`]: the chat models of the catalogue, ready to use, and the outbound client.

pub mod citations;
pub mod convert;
pub mod engine;
pub mod jobs;
pub mod prompt;
pub mod tokens;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use openmai_models::chat::ChatModel;
use openmai_models::{ChatSettings, ClientOptions, OfflineResponder};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::catalog::{BUILT_IN_PROVIDER, Catalog};
use crate::config::Config;
use crate::outbound::Outbound;

/// Job kinds of the conversation workers.
pub const REPLY_JOB: &str = "reply_message";
pub const WEBHOOK_JOB: &str = "deliver_webhook";

/// What writes an assistant's answers.
#[derive(Clone)]
pub enum Responder {
    /// The built-in extractive responder: answers from the retrieved passages, offline.
    Offline(Arc<OfflineResponder>),
    /// A provider's model.
    Model(Arc<dyn ChatModel>),
}

impl Responder {
    pub fn context_tokens(&self) -> usize {
        match self {
            Responder::Offline(model) => model.context_tokens(),
            Responder::Model(model) => model.context_tokens(),
        }
    }

    pub fn accepts_images(&self) -> bool {
        match self {
            Responder::Offline(_) => false,
            Responder::Model(model) => model.accepts_images(),
        }
    }
}

#[derive(Clone)]
pub struct Chat(Arc<Inner>);

pub struct Inner {
    /// By catalogue id.
    responders: HashMap<Uuid, (String, Responder)>,
    pub outbound: Outbound,
    /// Wakes idle conversation workers when a reply or a delivery is queued.
    pub wake: Arc<Notify>,
    /// Announces each reply stored and each webhook delivery attempt, to whatever waits for
    /// them (the tests do, instead of polling).
    pub happened: tokio::sync::broadcast::Sender<Happened>,
    pub settings: Settings,
}

/// Something the conversation machinery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    /// A reply (complete or failed) was stored in a conversation.
    Replied { conversation: Uuid, message: Uuid },
    /// A webhook delivery was attempted (and recorded).
    Delivered { chatbot: Uuid, message: Uuid, delivered: bool },
}

/// What answering needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub keep_alive: Duration,
    pub workers: usize,
    pub lease: Duration,
    pub webhook_max_attempts: i64,
    pub webhook_retry_delay: Duration,
    /// How long a failed reply waits before its next attempt (doubling).
    pub retry_delay: Duration,
}

impl std::ops::Deref for Chat {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Chat {
    /// Clients for every chat model of the catalogue. A provider whose key variable is unset
    /// is refused at start-up with the reason.
    pub fn from_config(config: &Config, catalog: &Catalog) -> anyhow::Result<Chat> {
        let mut responders = HashMap::new();
        for model in &catalog.chat {
            if model.provider == BUILT_IN_PROVIDER {
                let offline = Arc::new(OfflineResponder::default());
                responders.insert(
                    model.id,
                    (format!("{BUILT_IN_PROVIDER}/offline"), Responder::Offline(offline)),
                );
            }
        }
        for provider in &config.providers {
            if provider.chat_models.is_empty() {
                continue;
            }
            let settings = provider.settings()?;
            for name in &provider.chat_models {
                let chat = ChatSettings {
                    accepts_images: provider.vision_models.contains(name),
                    context_tokens: provider.context_tokens,
                };
                let defaults = ClientOptions::chat();
                let options = ClientOptions {
                    concurrency: provider.max_concurrent_requests.unwrap_or(defaults.concurrency),
                    http2_prior_knowledge: provider.http2_prior_knowledge,
                    ..defaults
                };
                let client = openmai_models::build_chat_model(&settings, name, options, chat)
                    .map_err(|e| anyhow::anyhow!("provider {:?}: {e}", provider.name))?;
                let id =
                    crate::catalog::model_id(crate::catalog::ModelKind::Chat, &provider.name, name);
                responders
                    .insert(id, (format!("{}/{name}", provider.name), Responder::Model(client)));
            }
        }
        let outbound = Outbound::new(
            config.outbound_allow_private_networks,
            Duration::from_secs(config.webhook_timeout_seconds),
        )?;
        Ok(Chat(Arc::new(Inner {
            responders,
            outbound,
            wake: Arc::new(Notify::new()),
            happened: tokio::sync::broadcast::channel(256).0,
            settings: Settings {
                keep_alive: Duration::from_secs(config.stream_keep_alive_seconds),
                workers: config.reply_workers,
                lease: Duration::from_secs(config.job_lease_seconds),
                webhook_max_attempts: config.webhook_max_attempts,
                webhook_retry_delay: Duration::from_millis(config.webhook_retry_delay_ms),
                retry_delay: Duration::from_millis(config.job_retry_delay_ms),
            },
        })))
    }

    /// The responder of a catalogue chat model, with its `provider/model` name; `None` when
    /// the model is no longer configured.
    pub fn responder(&self, model_id: Uuid) -> Option<(&str, &Responder)> {
        self.responders.get(&model_id).map(|(name, responder)| (name.as_str(), responder))
    }
}
