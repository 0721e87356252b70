//! The [`Caller`] extractor: authenticates a request and applies the per-caller throttle.
//! The error texts are the MaiAgent seed's rules, exactly.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use openmai_types::{Code, Timestamp};
use uuid::Uuid;

use crate::auth::keys::{self, CachedKey, Credential};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// DRF's texts for a session write without the right CSRF header.
const CSRF_MISSING: &str = "CSRF Failed: CSRF token missing.";
const CSRF_INCORRECT: &str = "CSRF Failed: CSRF token incorrect.";

#[derive(Debug, Clone, PartialEq)]
pub enum Via {
    ApiKey { key_id: Uuid },
    Session { session_id: Uuid },
}

/// An authenticated caller: a user acting in an organisation.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    /// API keys always belong to an organisation; a console user may have none yet.
    pub organization_id: Option<Uuid>,
    pub via: Via,
}

impl Caller {
    /// The organisation every tenant-scoped query is limited to.
    pub fn organization(&self) -> ApiResult<Uuid> {
        self.organization_id.ok_or_else(ApiError::permission_denied)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        let caller = match keys::parse_authorization(parts.headers.get(AUTHORIZATION)) {
            Credential::Malformed => return Err(ApiError::invalid_api_key_format()),
            Credential::Key(key) => by_api_key(state, key).await?,
            Credential::Missing => by_session(state, parts).await?,
        };
        if let Err(wait) = state.throttle.check(&throttle_key(&caller)) {
            return Err(ApiError::throttled(wait));
        }
        Ok(caller)
    }
}

fn throttle_key(caller: &Caller) -> Uuid {
    match caller.via {
        Via::ApiKey { key_id } => key_id,
        Via::Session { .. } => caller.user_id,
    }
}

async fn by_api_key(state: &AppState, key: &str) -> ApiResult<Caller> {
    let digest = keys::digest(key);
    let cached = match state.keys.get(&digest) {
        Some(cached) => cached,
        None => {
            let owner = state.store.read(move |db| db.find_api_key_owner(&digest)).await?;
            let cached = CachedKey::new(owner);
            state.keys.insert(digest, cached.clone());
            cached
        }
    };
    // A well-formed key that does not exist reads as no credentials at all (seed rule).
    let owner = cached.owner.ok_or_else(ApiError::not_authenticated)?;
    let now = Timestamp::now();
    if cached.claim_touch(now.millis()) {
        let store = state.store.clone();
        tokio::spawn(async move {
            if let Err(err) = store.write(move |db| db.touch_api_key(owner.key_id, now)).await {
                tracing::warn!(%err, "could not record an API key's last use");
            }
        });
    }
    Ok(Caller {
        user_id: owner.user_id,
        organization_id: Some(owner.organization_id),
        via: Via::ApiKey { key_id: owner.key_id },
    })
}

async fn by_session(state: &AppState, parts: &Parts) -> ApiResult<Caller> {
    let session = crate::auth::session::find(state, &parts.headers)
        .await?
        .ok_or_else(ApiError::not_authenticated)?;
    if !parts.method.is_safe() {
        let sent = parts.headers.get("x-csrftoken").and_then(|v| v.to_str().ok());
        match sent {
            None => return Err(ApiError::with_detail(Code::PermissionDenied, CSRF_MISSING)),
            Some(token) if !constant_time_eq(token, &session.csrf_token) => {
                return Err(ApiError::with_detail(Code::PermissionDenied, CSRF_INCORRECT));
            }
            Some(_) => {}
        }
    }
    Ok(Caller {
        user_id: session.user_id,
        organization_id: session.organization_id,
        via: Via::Session { session_id: session.id },
    })
}

pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
