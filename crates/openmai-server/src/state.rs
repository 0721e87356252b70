//! The one application state every handler receives. Nothing lives in globals.

use std::ops::Deref;
use std::sync::Arc;

use openmai_store::Store;
use uuid::Uuid;

use crate::auth::jwt::Jwt;
use crate::auth::keys::{self, KeyCache};
use crate::auth::throttle::Throttle;
use crate::catalog::Catalog;
use crate::chat::Chat;
use crate::config::Config;
use crate::knowledge::Knowledge;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub catalog: Catalog,
    /// API key lookups, by digest.
    pub keys: KeyCache,
    /// Requests per minute, per API key or console user.
    pub throttle: Throttle<Uuid>,
    /// Login attempts per minute, per email.
    pub login_throttle: Throttle<String>,
    pub jwt: Jwt,
    /// Knowledge bases at work: index, blobs, models, the ingestion queue.
    pub knowledge: Knowledge,
    /// Assistants at work: chat models, replies, webhooks.
    pub chat: Chat,
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Key under which the JWT signing secret is kept in the store, shared by every replica.
const JWT_SECRET_SETTING: &str = "jwt_secret";

impl AppState {
    pub async fn new(config: Config, store: Store) -> anyhow::Result<AppState> {
        let candidate = keys::generate() + &keys::generate();
        let secret = store
            .write(move |db| db.insert_setting_if_absent(JWT_SECRET_SETTING, &candidate))
            .await?;
        let jwt = Jwt::new(secret.as_bytes(), &config);
        let catalog = Catalog::from_config(&config);
        let knowledge = Knowledge::open(&config, store.clone(), &catalog).await?;
        let chat = Chat::from_config(&config, &catalog)?;
        Ok(AppState(Arc::new(Inner {
            catalog,
            knowledge,
            chat,
            keys: keys::new_cache(),
            throttle: Throttle::per_minute(config.rate_limit_per_minute),
            login_throttle: Throttle::per_minute(config.login_attempts_per_minute),
            jwt,
            store,
            config,
        })))
    }
}
