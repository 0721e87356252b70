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

/// `$1`, `$2`, …: the names [`SqliteConnection::bind`] binds without formatting them.
const PARAMETER_NAMES: [&str; 32] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23", "$24", "$25", "$26", "$27", "$28",
    "$29", "$30", "$31", "$32",
];

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
            // 16 KiB pages (taking effect only when the file is created): a file's text and chunks
            // go out in a quarter of the writes of the default 4 KiB, for both the WAL and its
            // checkpoint; ingestion spent a tenth of its time in those system calls.
            "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
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
        // Bound by name: SQLite numbers `$N` parameters by first appearance, not by N. The
        // common names are spelled out: formatting one per parameter was a visible share of
        // storing a file's chunks.
        for (i, param) in params.iter().enumerate() {
            match PARAMETER_NAMES.get(i) {
                Some(&name) => stmt.raw_bind_parameter(name, param),
                None => stmt.raw_bind_parameter(format!("${}", i + 1).as_str(), param),
            }
            .map_err(backend)?;
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
            Param::Uuid(ref u) => ToSqlOutput::Borrowed(ValueRef::Blob(u.as_bytes())),
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

    /// A migrated database in a temporary directory (kept alive by the first value).
    fn migrated(read_only: bool) -> (tempfile::TempDir, SqliteConnection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        SqliteConnection::migrate(&path).unwrap();
        let conn = SqliteConnection::open(&path, read_only).unwrap();
        (dir, conn)
    }

    #[test]
    fn cached_statements_are_not_recompiled_when_parameters_change() {
        let (_dir, mut conn) = migrated(true);
        let sql = "SELECT id FROM chatbots WHERE organization_id = $1 \
                   ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3";
        for i in 0..10_i64 {
            let org = uuid::Uuid::from_u128(u128::from(i.unsigned_abs()));
            conn.query(sql, params![org, 10_i64 + i, i]).unwrap();
        }
        let stmt = conn.conn.prepare_cached(sql).unwrap();
        assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
    }

    #[test]
    fn new_databases_get_large_pages_and_parameters_bind_by_name_beyond_the_table() {
        let (_dir, mut conn) = migrated(false);
        let page_size: i64 = conn.conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        assert_eq!(page_size, 16384);

        // Out of order and past the names spelled out in `PARAMETER_NAMES`.
        let values: Vec<i64> = (1..=40).collect();
        let params: Vec<Param<'_>> = values.iter().map(|&v| Param::Int(v)).collect();
        let sql = format!(
            "SELECT {}",
            (1..=40).rev().map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
        );
        let rows = conn.query(&sql, &params).unwrap();
        let got: Vec<i64> = rows[0]
            .0
            .iter()
            .map(|v| match v {
                Value::Int(n) => *n,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, (1..=40).rev().collect::<Vec<_>>());
    }
}
