//! SQLite, the embedded default: one writer connection and a pool of read-only readers over
//! the same WAL-mode file, so reads never wait behind a write.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{OpenFlags, ToSql};

use crate::error::{Result, StoreError};
use crate::sql::{Connection, Dialect, Param, Row, Value};

mod embedded {
    refinery::embed_migrations!("migrations/sqlite");
}

pub struct SqliteConnection {
    conn: rusqlite::Connection,
}

impl SqliteConnection {
    pub fn open(path: &Path, read_only: bool) -> Result<Self> {
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(backend)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(256);
        // The query-planner stability guarantee: without it, SQLite 3.5x re-compiles a cached
        // `WHERE x = ? ORDER BY y` statement every time `?` is bound, which tripled the cost
        // of every list query (see docs/benchmarks.md). Our queries have one good plan.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(backend)?;
        let pragmas = if read_only {
            "PRAGMA foreign_keys = ON; PRAGMA query_only = ON; PRAGMA temp_store = MEMORY;"
        } else {
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA temp_store = MEMORY;"
        };
        conn.execute_batch(pragmas).map_err(backend)?;
        Ok(SqliteConnection { conn })
    }

    /// Creates the file if needed and applies every pending migration.
    pub fn migrate(path: &Path) -> Result<()> {
        let mut conn = Self::open(path, false)?;
        embedded::migrations::runner()
            .run(&mut conn.conn)
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(())
    }

    fn bind(stmt: &mut rusqlite::CachedStatement<'_>, params: &[Param<'_>]) -> Result<()> {
        // Bound by name: SQLite numbers `$N` parameters by first appearance, not by N.
        for (i, param) in params.iter().enumerate() {
            let name = format!("${}", i + 1);
            stmt.raw_bind_parameter(name.as_str(), param).map_err(backend)?;
        }
        Ok(())
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Bool(b) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(i64::from(b))),
            Param::Int(n) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(n)),
            Param::Float(f) => ToSqlOutput::Owned(rusqlite::types::Value::Real(f)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Uuid(u) => {
                ToSqlOutput::Owned(rusqlite::types::Value::Blob(u.as_bytes().to_vec()))
            }
            Param::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Param::Json(v) => ToSqlOutput::Owned(rusqlite::types::Value::Text(v.to_string())),
        })
    }
}

impl Connection for SqliteConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        Self::bind(&mut stmt, params)?;
        let changed = stmt.raw_execute().map_err(backend)?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        Self::bind(&mut stmt, params)?;
        let columns = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(backend)? {
            let mut cells = Vec::with_capacity(columns);
            for i in 0..columns {
                cells.push(match row.get_ref(i).map_err(backend)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Real(f) => Value::Float(f),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    // Every 16-byte blob in the schema is a UUID: decoded here without a copy.
                    ValueRef::Blob(b) => match uuid::Uuid::from_slice(b) {
                        Ok(id) => Value::Uuid(id),
                        Err(_) => Value::Bytes(b.to_vec()),
                    },
                });
            }
            out.push(Row(cells));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        // BEGIN/COMMIT run on every read; a cached statement skips re-parsing them.
        self.conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.raw_execute())
            .map(drop)
            .map_err(backend)
    }
}

fn backend(err: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as E;
    match &err {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.code {
            E::ConstraintViolation => StoreError::Conflict {
                constraint: message.clone().unwrap_or_else(|| failure.to_string()),
            },
            E::DatabaseBusy | E::DatabaseLocked => StoreError::Unavailable(err.to_string()),
            _ => StoreError::Backend(err.to_string()),
        },
        _ => StoreError::Backend(err.to_string()),
    }
}

/// Opens connections for the pool; `read_only` decides which pool this manager feeds.
pub struct SqliteManager {
    pub path: PathBuf,
    pub read_only: bool,
}

impl deadpool::managed::Manager for SqliteManager {
    type Type = SqliteConnection;
    type Error = StoreError;

    async fn create(&self) -> Result<SqliteConnection> {
        let (path, read_only) = (self.path.clone(), self.read_only);
        tokio::task::spawn_blocking(move || SqliteConnection::open(&path, read_only))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    async fn recycle(
        &self,
        _conn: &mut SqliteConnection,
        _metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;
    use crate::params;

    #[test]
    fn cached_statements_are_not_recompiled_when_parameters_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        SqliteConnection::migrate(&path).unwrap();
        let mut conn = SqliteConnection::open(&path, true).unwrap();
        let sql = "SELECT id FROM chatbots WHERE organization_id = $1 \
                   ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3";
        for i in 0..10_i64 {
            let org = uuid::Uuid::from_u128(u128::from(i.unsigned_abs()));
            conn.query(sql, params![org, 10_i64 + i, i]).unwrap();
        }
        let stmt = conn.conn.prepare_cached(sql).unwrap();
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
    }
}
