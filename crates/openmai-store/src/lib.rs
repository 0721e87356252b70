//! OpenMai's store. One query layer ([`Db`]) written once over the [`sql::Connection`] trait,
//! which SQLite (the embedded default) and PostgreSQL (for many replicas) each implement. The
//! engine is chosen by the URL scheme: `sqlite://PATH` or `postgres://…`.
//!
//! Queries are synchronous code over a pooled connection; the async side only awaits
//! [`Store::read`] or [`Store::write`]. Where they run depends on what they wait for:
//! - SQLite reads run on the calling thread, in one read transaction. They are indexed
//!   lookups and pages that take microseconds, and handing them to another thread cost more
//!   than the query itself (27.8k against 21.5k list requests/s; docs/benchmarks.md).
//! - SQLite writes go through one writer connection on tokio's blocking pool: they may wait
//!   for the file lock or an fsync, and SQLite allows one writer at a time anyway (queuing
//!   writers here avoids busy-waiting inside SQLite).
//! - PostgreSQL calls wait on the network, so they run on the blocking pool too.

mod error;
pub mod models;
mod postgres;
mod queries;
pub mod sql;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;
mod text_layout;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use deadpool::Runtime;
use deadpool::managed::{Manager, Object, Pool, PoolError, Timeouts};

pub use crate::error::{Result, StoreError};
use crate::postgres::{PgConnection, PgManager};
use crate::sql::Connection;
pub use crate::sql::{Db, Dialect};
use crate::sqlite::{SqliteConnection, SqliteManager};

/// Where the data lives, parsed from a database URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// `sqlite://relative/or/absolute.db`, `sqlite:PATH`, `postgres://…` or `postgresql://…`.
    /// Anything else is refused rather than guessed at.
    pub fn parse(url: &str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(StoreError::InvalidUrl(
                    "a SQLite URL needs a file path, e.g. sqlite://data/openmai.db".into(),
                ));
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            url::Url::parse(url).map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        Err(StoreError::InvalidUrl(format!(
            "unsupported scheme in {:?}: use sqlite:// or postgres://",
            redact(url)
        )))
    }

    pub fn sqlite(path: impl AsRef<Path>) -> Self {
        DatabaseUrl::Sqlite(path.as_ref().to_path_buf())
    }
}

impl std::fmt::Debug for DatabaseUrl {
    /// Never prints a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Pool sizes and waits.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// SQLite readers, or PostgreSQL connections.
    pub max_connections: usize,
    /// How long a query waits for a free connection before the request fails with 503.
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_connections: 16, acquire_timeout: Duration::from_secs(10) }
    }
}

enum Pools {
    Sqlite { readers: Pool<SqliteManager>, writer: Pool<SqliteManager> },
    Postgres { pool: Pool<PgManager> },
}

/// Shared handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pools: Arc<Pools>,
    url: Arc<DatabaseUrl>,
}

impl Store {
    /// Applies pending migrations, then opens the pools.
    pub async fn open(url: &DatabaseUrl, options: &StoreOptions) -> Result<Store> {
        Self::migrate(url).await?;
        let timeouts = Timeouts {
            wait: Some(options.acquire_timeout),
            create: Some(options.acquire_timeout),
            recycle: Some(options.acquire_timeout),
        };
        let pools = match url {
            DatabaseUrl::Sqlite(path) => {
                let build = |read_only: bool, size: usize| {
                    Pool::builder(SqliteManager { path: path.clone(), read_only })
                        .max_size(size)
                        .timeouts(timeouts)
                        .runtime(Runtime::Tokio1)
                        .build()
                        .map_err(|e| StoreError::Backend(e.to_string()))
                };
                Pools::Sqlite {
                    readers: build(true, options.max_connections.max(1))?,
                    writer: build(false, 1)?,
                }
            }
            DatabaseUrl::Postgres(pg) => Pools::Postgres {
                pool: Pool::builder(PgManager { url: pg.clone() })
                    .max_size(options.max_connections.max(1))
                    .timeouts(timeouts)
                    .runtime(Runtime::Tokio1)
                    .build()
                    .map_err(|e| StoreError::Backend(e.to_string()))?,
            },
        };
        let store = Store { pools: Arc::new(pools), url: Arc::new(url.clone()) };
        // Fail at start-up, not on the first request, when the database is unreachable.
        store.read(|db| db.ping()).await?;
        Ok(store)
    }

    /// Applies every pending migration (creating the SQLite file and its folder if needed).
    pub async fn migrate(url: &DatabaseUrl) -> Result<()> {
        let url = url.clone();
        tokio::task::spawn_blocking(move || match &url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Backend(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                SqliteConnection::migrate(path)
            }
            DatabaseUrl::Postgres(pg) => PgConnection::migrate(pg),
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn dialect(&self) -> Dialect {
        match *self.pools {
            Pools::Sqlite { .. } => Dialect::Sqlite,
            Pools::Postgres { .. } => Dialect::Postgres,
        }
    }

    /// Runs read-only queries. On SQLite they use a read-only connection (so a write here
    /// fails instead of bypassing the single writer), see one snapshot, and run on the
    /// calling thread: keep them to indexed lookups and pages.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> Result<T> + Send + 'static,
    {
        match &*self.pools {
            Pools::Sqlite { readers, .. } => {
                let conn = readers.get().await.map_err(pool_error)?;
                execute(conn, |db| db.snapshot(f))
            }
            Pools::Postgres { pool } => offload(pool, f).await,
        }
    }

    /// Runs queries that may write. Wrap several writes in [`Db::transaction`] to make them
    /// atomic.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> Result<T> + Send + 'static,
    {
        match &*self.pools {
            Pools::Sqlite { writer, .. } => offload(writer, f).await,
            Pools::Postgres { pool } => offload(pool, f).await,
        }
    }
}

/// Runs `f` on tokio's blocking pool with a connection from `pool`.
async fn offload<M, T, F>(pool: &Pool<M>, f: F) -> Result<T>
where
    M: Manager<Error = StoreError> + 'static,
    M::Type: Connection + 'static,
    T: Send + 'static,
    F: FnOnce(&mut Db<'_>) -> Result<T> + Send + 'static,
{
    let conn = pool.get().await.map_err(pool_error)?;
    tokio::task::spawn_blocking(move || execute(conn, f))
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
}

/// Runs `f` on `conn`. A panic becomes an error, and the connection, which may be
/// mid-transaction, is taken out of the pool for good.
fn execute<M, T>(mut conn: Object<M>, f: impl FnOnce(&mut Db<'_>) -> Result<T>) -> Result<T>
where
    M: Manager<Error = StoreError>,
    M::Type: Connection,
{
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut db = Db::new(&mut *conn);
        f(&mut db)
    }));
    outcome.unwrap_or_else(|panic| {
        drop(Object::take(conn));
        let message = panic
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(%message, "a database task panicked");
        Err(StoreError::Backend(format!("database task panicked: {message}")))
    })
}

fn pool_error(err: PoolError<StoreError>) -> StoreError {
    match err {
        PoolError::Backend(e) => e,
        PoolError::Timeout(_) => {
            StoreError::Unavailable("timed out waiting for a connection".into())
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}
