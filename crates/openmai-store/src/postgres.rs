//! PostgreSQL, for running many OpenMai processes against one database. Queries are prepared
//! once per connection and cached, so a hot query costs one round trip.

use std::collections::HashMap;
use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{NoTls, Statement};

use crate::error::{Result, StoreError};
use crate::sql::{Connection, Dialect, Param, Row, Value};

mod embedded {
    refinery::embed_migrations!("migrations/postgres");
}

/// Statements past this many are dropped from the cache rather than kept forever; only
/// dynamically built SQL (such as `IN` lists of varying length) can get here.
const STATEMENT_CACHE_LIMIT: usize = 512;

pub struct PgConnection {
    /// Always `Some` until dropped; see the `Drop` impl.
    client: Option<postgres::Client>,
    statements: HashMap<String, Statement>,
}

impl Drop for PgConnection {
    /// Closing the sync client blocks on its own runtime, which panics on an async thread
    /// (where the pool drops idle connections), so it is closed on a thread of its own.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl PgConnection {
    pub fn connect(url: &str) -> Result<Self> {
        let client = postgres::Client::connect(url, NoTls)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(PgConnection { client: Some(client), statements: HashMap::new() })
    }

    /// Applies pending migrations under an advisory lock, so replicas that start together
    /// take turns instead of racing.
    pub fn migrate(url: &str) -> Result<()> {
        const LOCK: i64 = 0x6f70_656e_6d61_6921; // "openmai!"
        let mut conn = Self::connect(url)?;
        conn.client().execute("SELECT pg_advisory_lock($1)", &[&LOCK]).map_err(backend)?;
        let outcome = embedded::migrations::runner()
            .run(conn.client())
            .map(drop)
            .map_err(|e| StoreError::Migration(e.to_string()));
        conn.client().execute("SELECT pg_advisory_unlock($1)", &[&LOCK]).map_err(backend)?;
        outcome
    }

    pub fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(postgres::Client::is_closed)
    }

    fn client(&mut self) -> &mut postgres::Client {
        self.client.as_mut().expect("the client lives until the connection is dropped")
    }

    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.client().prepare(sql).map_err(backend)?;
        if self.statements.len() >= STATEMENT_CACHE_LIMIT {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }
}

fn refs<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Connection for PgConnection {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let stmt = self.statement(sql)?;
        self.client().execute(&stmt, &refs(params)).map_err(backend)
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let stmt = self.statement(sql)?;
        let rows = self.client().query(&stmt, &refs(params)).map_err(backend)?;
        rows.iter().map(convert_row).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.client().batch_execute(sql).map_err(backend)
    }
}

fn convert_row(row: &postgres::Row) -> Result<Row> {
    let mut cells = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_();
        let cell = if *ty == Type::BOOL {
            get(row, i)?.map(Value::Bool)
        } else if *ty == Type::INT2 {
            get::<i16>(row, i)?.map(|n| Value::Int(n.into()))
        } else if *ty == Type::INT4 {
            get::<i32>(row, i)?.map(|n| Value::Int(n.into()))
        } else if *ty == Type::INT8 {
            get(row, i)?.map(Value::Int)
        } else if *ty == Type::FLOAT4 {
            get::<f32>(row, i)?.map(|f| Value::Float(f.into()))
        } else if *ty == Type::FLOAT8 {
            get(row, i)?.map(Value::Float)
        } else if *ty == Type::UUID {
            get(row, i)?.map(Value::Uuid)
        } else if *ty == Type::JSON || *ty == Type::JSONB {
            get(row, i)?.map(Value::Json)
        } else if *ty == Type::BYTEA {
            get(row, i)?.map(Value::Bytes)
        } else {
            // TEXT, VARCHAR, NAME and anything else textual.
            get(row, i)?.map(Value::Text)
        };
        cells.push(cell.unwrap_or(Value::Null));
    }
    Ok(Row(cells))
}

fn get<'r, T: postgres::types::FromSql<'r>>(row: &'r postgres::Row, i: usize) -> Result<Option<T>> {
    row.try_get::<_, Option<T>>(i)
        .map_err(|e| StoreError::Decode { column: i, message: e.to_string() })
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Bool(b) => b.to_sql(ty, out),
            Param::Int(n) => {
                if *ty == Type::INT4 {
                    i32::try_from(n)?.to_sql(ty, out)
                } else if *ty == Type::INT2 {
                    i16::try_from(n)?.to_sql(ty, out)
                } else {
                    n.to_sql(ty, out)
                }
            }
            Param::Float(f) => {
                if *ty == Type::FLOAT4 {
                    #[allow(clippy::cast_possible_truncation)]
                    (f as f32).to_sql(ty, out)
                } else {
                    f.to_sql(ty, out)
                }
            }
            Param::Text(s) => s.to_sql(ty, out),
            Param::Uuid(u) => u.to_sql(ty, out),
            Param::Bytes(b) => b.to_sql(ty, out),
            Param::Json(v) => postgres::types::Json(v).to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // Each variant checks the column type itself when encoding.
        true
    }

    to_sql_checked!();
}

fn backend(err: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    if let Some(db) = err.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::FOREIGN_KEY_VIOLATION {
            let constraint = db.constraint().unwrap_or(db.message()).to_owned();
            return StoreError::Conflict { constraint };
        }
        return StoreError::Backend(format!("{}: {}", code.code(), db.message()));
    }
    if err.is_closed() {
        return StoreError::Unavailable(err.to_string());
    }
    StoreError::Backend(err.to_string())
}

pub struct PgManager {
    pub url: String,
}

impl deadpool::managed::Manager for PgManager {
    type Type = PgConnection;
    type Error = StoreError;

    async fn create(&self) -> Result<PgConnection> {
        let url = self.url.clone();
        tokio::task::spawn_blocking(move || PgConnection::connect(&url))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
    }

    async fn recycle(
        &self,
        conn: &mut PgConnection,
        _metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<StoreError> {
        if conn.is_closed() {
            return Err(deadpool::managed::RecycleError::message("connection closed"));
        }
        Ok(())
    }
}
