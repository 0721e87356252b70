//! The OpenMai server: the MaiAgent-compatible API, the web console, and the start-up that
//! `openmai serve` and the tests share.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod catalog;
pub mod chat;
pub mod cli;
pub mod config;
pub mod console;
pub mod error;
pub mod jobs;
pub mod knowledge;
pub mod outbound;
pub mod state;
pub mod wire;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::Method;
use axum::{Extension, Router, ServiceExt};
use openmai_store::{Store, StoreOptions};
use openmai_types::{Code, Timestamp, messages};
use tower::Layer;
use tower_http::trace::TraceLayer;

pub use crate::config::Config;
use crate::error::ApiError;
pub use crate::state::AppState;

/// Files are streamed (uploads from the CLI, downloads from the API) in reads of this size.
/// A `tokio::fs::File` behind `ReaderStream::new` or `reqwest::Body::from` is read 4 KiB at a
/// time, each read a trip through tokio's blocking pool and a socket write of its own:
/// uploading a 210 MB corpus so cost the CLI 1.7 CPU-s, most of it in the kernel (0.4 now).
pub const FILE_STREAM_READ_BYTES: usize = 256 * 1024;

/// Opens (and migrates) the configured store.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database()?;
    let options = StoreOptions {
        max_connections: config.database_max_connections,
        ..StoreOptions::default()
    };
    Store::open(&url, &options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database {url}: {e}"))
}

/// Every route: the API (and its OpenAPI document), the console, health.
pub fn router(state: AppState) -> anyhow::Result<Router> {
    let max_upload = usize::try_from(state.config.max_upload_bytes).unwrap_or(usize::MAX);
    let (routes, openapi) = api::router(max_upload)
        .merge(api::uploads::storage_router())
        .merge(console::router())
        .split_for_parts();
    let rendered = Arc::new(api::schema::Rendered::new(&openapi)?);
    let body_limit = state.config.max_body_bytes;
    Ok(routes
        .layer(Extension(rendered))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(state))
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::with_detail(Code::MethodNotAllowed, messages::method_not_allowed(method.as_str()))
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes in-flight requests.
/// Paths are normalised (the `/api/` alias, optional trailing slashes) before routing.
pub async fn serve(
    router: Router,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = tower::util::MapRequestLayer::new(wire::path::normalize).layer(router);
    // Streamed answers are many small writes: without TCP_NODELAY, Nagle's algorithm holds
    // each behind the client's delayed ACK (about 40 ms a piece).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, ServiceExt::<Request>::into_make_service(app))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Starts `count` ingestion workers and the configured number of conversation workers
/// (replies to asynchronous messages, webhook deliveries). On SQLite, jobs left "running" by a
/// process that died are queued again first: one process owns the file, so nobody else is
/// working on them. The returned token stops the workers.
pub async fn start_workers(
    state: &AppState,
    count: usize,
) -> anyhow::Result<tokio_util::sync::CancellationToken> {
    let token = tokio_util::sync::CancellationToken::new();
    let replies = state.chat.settings.workers;
    if count == 0 && replies == 0 {
        return Ok(token);
    }
    if state.store.dialect() == openmai_store::Dialect::Sqlite {
        let requeued = state.store.write(|db| db.requeue_running_jobs()).await?;
        if requeued > 0 {
            tracing::info!(requeued, "resuming jobs interrupted by the last stop");
        }
    }
    knowledge::worker::spawn(&state.knowledge, count, token.clone());
    chat::jobs::spawn(state, replies, token.clone());
    Ok(token)
}

/// Periodic housekeeping: forgets idle throttle state and drops expired sessions and
/// revoked tokens. Runs until the process stops.
pub fn spawn_housekeeping(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            state.throttle.forget_idle();
            state.login_throttle.forget_idle();
            let now = Timestamp::now();
            if let Err(err) = state.store.write(move |db| db.delete_expired_credentials(now)).await
            {
                tracing::warn!(%err, "could not delete expired sessions");
            }
        }
    })
}
