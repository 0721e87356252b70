//! The portable SQL layer. Queries are written once, with `$1`-style placeholders that both
//! engines accept, against the [`Connection`] trait; the SQLite and PostgreSQL modules each
//! implement it. Rows come back as owned [`Value`]s so one `from_row` serves both engines.

use uuid::Uuid;

use crate::error::{Result, StoreError};

/// Which SQL engine a connection speaks, for the few statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A bound parameter.
#[derive(Debug, Clone, Copy)]
pub enum Param<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(&'a str),
    Uuid(Uuid),
    Bytes(&'a [u8]),
    Json(&'a serde_json::Value),
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}
impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<f64> for Param<'_> {
    fn from(v: f64) -> Self {
        Param::Float(v)
    }
}
impl From<Uuid> for Param<'_> {
    fn from(v: Uuid) -> Self {
        Param::Uuid(v)
    }
}
impl From<&Uuid> for Param<'_> {
    fn from(v: &Uuid) -> Self {
        Param::Uuid(*v)
    }
}
impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}
impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}
impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Bytes(v)
    }
}
impl<'a> From<&'a serde_json::Value> for Param<'a> {
    fn from(v: &'a serde_json::Value) -> Self {
        Param::Json(v)
    }
}
impl From<openmai_types::Timestamp> for Param<'_> {
    fn from(v: openmai_types::Timestamp) -> Self {
        Param::Int(v.millis())
    }
}
/// `None` binds as SQL NULL.
macro_rules! option_params {
    ($($ty:ty),*) => {$(
        impl<'a> From<$ty> for Param<'a> {
            fn from(v: $ty) -> Self {
                match v {
                    Some(inner) => Param::from(inner),
                    None => Param::Null,
                }
            }
        }
    )*};
}
option_params!(
    Option<Uuid>,
    Option<i64>,
    Option<bool>,
    Option<&'a str>,
    Option<openmai_types::Timestamp>
);

impl<'a> From<&'a Option<String>> for Param<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().into()
    }
}

impl<'a> From<&'a Option<serde_json::Value>> for Param<'a> {
    fn from(v: &'a Option<serde_json::Value>) -> Self {
        v.as_ref().map_or(Param::Null, Param::Json)
    }
}

/// Builds a `&[Param]` from expressions: `params![org_id, &name, 10_i64]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[$crate::sql::Param<'_>] };
    ($($value:expr),+ $(,)?) => { &[$($crate::sql::Param::from($value)),+][..] };
}

/// One cell of a result row, owned, in the engine-neutral form.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
    Uuid(Uuid),
    Json(serde_json::Value),
}

/// A result row with typed getters that paper over how each engine stores a type
/// (SQLite keeps UUIDs as 16-byte blobs, booleans as integers and JSON as text).
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Moves the cell out (leaving NULL behind): each column is read once, so strings and
    /// JSON are handed over instead of copied.
    fn take(&mut self, i: usize) -> Result<Value> {
        self.0.get_mut(i).map(std::mem::take).ok_or_else(|| decode(i, "no such column"))
    }

    /// Reads a UUID column without consuming it.
    pub fn peek_uuid(&self, i: usize) -> Result<Uuid> {
        let mut copy =
            Row(vec![self.0.get(i).cloned().ok_or_else(|| decode(i, "no such column"))?]);
        copy.uuid(0)
    }

    pub fn uuid(&mut self, i: usize) -> Result<Uuid> {
        self.opt_uuid(i)?.ok_or_else(|| decode(i, "unexpected NULL"))
    }

    pub fn opt_uuid(&mut self, i: usize) -> Result<Option<Uuid>> {
        match self.take(i)? {
            Value::Null => Ok(None),
            Value::Uuid(u) => Ok(Some(u)),
            Value::Bytes(b) => Uuid::from_slice(&b).map(Some).map_err(|e| decode(i, e)),
            Value::Text(t) => Uuid::parse_str(&t).map(Some).map_err(|e| decode(i, e)),
            other => Err(decode(i, format!("expected a uuid, got {other:?}"))),
        }
    }

    pub fn text(&mut self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| decode(i, "unexpected NULL"))
    }

    pub fn opt_text(&mut self, i: usize) -> Result<Option<String>> {
        match self.take(i)? {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t)),
            other => Err(decode(i, format!("expected text, got {other:?}"))),
        }
    }

    pub fn i64(&mut self, i: usize) -> Result<i64> {
        self.opt_i64(i)?.ok_or_else(|| decode(i, "unexpected NULL"))
    }

    pub fn opt_i64(&mut self, i: usize) -> Result<Option<i64>> {
        match self.take(i)? {
            Value::Null => Ok(None),
            Value::Int(n) => Ok(Some(n)),
            other => Err(decode(i, format!("expected an integer, got {other:?}"))),
        }
    }

    pub fn f64(&mut self, i: usize) -> Result<f64> {
        match self.take(i)? {
            Value::Float(f) => Ok(f),
            #[allow(clippy::cast_precision_loss)]
            Value::Int(n) => Ok(n as f64),
            other => Err(decode(i, format!("expected a number, got {other:?}"))),
        }
    }

    pub fn bool(&mut self, i: usize) -> Result<bool> {
        match self.take(i)? {
            Value::Bool(b) => Ok(b),
            Value::Int(n) => Ok(n != 0),
            other => Err(decode(i, format!("expected a boolean, got {other:?}"))),
        }
    }

    pub fn bytes(&mut self, i: usize) -> Result<Vec<u8>> {
        match self.take(i)? {
            Value::Bytes(b) => Ok(b),
            // SQLite hands 16-byte blobs over as UUIDs.
            Value::Uuid(u) => Ok(u.as_bytes().to_vec()),
            other => Err(decode(i, format!("expected bytes, got {other:?}"))),
        }
    }

    pub fn opt_bytes(&mut self, i: usize) -> Result<Option<Vec<u8>>> {
        match self.take(i)? {
            Value::Null => Ok(None),
            Value::Bytes(b) => Ok(Some(b)),
            Value::Uuid(u) => Ok(Some(u.as_bytes().to_vec())),
            other => Err(decode(i, format!("expected bytes, got {other:?}"))),
        }
    }

    pub fn opt_json(&mut self, i: usize) -> Result<Option<serde_json::Value>> {
        match self.take(i)? {
            Value::Null => Ok(None),
            Value::Json(v) => Ok(Some(v)),
            Value::Text(t) => serde_json::from_str(&t).map(Some).map_err(|e| decode(i, e)),
            other => Err(decode(i, format!("expected json, got {other:?}"))),
        }
    }

    pub fn timestamp(&mut self, i: usize) -> Result<openmai_types::Timestamp> {
        self.i64(i).map(openmai_types::Timestamp)
    }

    pub fn opt_timestamp(&mut self, i: usize) -> Result<Option<openmai_types::Timestamp>> {
        Ok(self.opt_i64(i)?.map(openmai_types::Timestamp))
    }
}

fn decode(column: usize, message: impl ToString) -> StoreError {
    StoreError::Decode { column, message: message.to_string() }
}

/// A live connection to one of the engines. Implemented by `sqlite::SqliteConnection` and
/// `postgres::PgConnection`; everything above this trait is engine-neutral.
pub trait Connection: Send {
    fn dialect(&self) -> Dialect;
    /// Runs a statement and returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64>;
    /// Runs a query and returns every row.
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>>;
    /// Runs parameterless statements such as `BEGIN` or `COMMIT`.
    fn batch(&mut self, sql: &str) -> Result<()>;
}

/// The handle queries are written against: a connection plus helpers. Every query method of
/// the store (`get_*`, `find_*`, `list_*`, `insert_*`, `update_*`, `delete_*`) hangs off it.
pub struct Db<'c> {
    conn: &'c mut dyn Connection,
    in_transaction: bool,
}

impl<'c> Db<'c> {
    pub fn new(conn: &'c mut dyn Connection) -> Self {
        Db { conn, in_transaction: false }
    }

    pub fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    pub fn execute(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        self.conn.execute(sql, params)
    }

    pub fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        self.conn.query(sql, params)
    }

    pub fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        Ok(self.conn.query(sql, params)?.into_iter().next())
    }

    pub fn query_one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Row> {
        self.query_opt(sql, params)?.ok_or(StoreError::NotFound)
    }

    pub fn count(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let n = self.query_one(sql, params)?.i64(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// A round trip to the database, for health checks.
    pub fn ping(&mut self) -> Result<()> {
        self.query_one("SELECT 1", &[]).map(drop)
    }

    /// `FOR UPDATE` on PostgreSQL, where rows must be locked for a read-modify-write; SQLite
    /// already serialises writers, and has no such clause.
    pub fn for_update(&self) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise.
    /// Nested calls join the outer transaction.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Db<'_>) -> Result<T>) -> Result<T> {
        let begin = match self.dialect() {
            // IMMEDIATE takes the write lock up front, so two writers never deadlock upgrading.
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        };
        self.within(begin, f)
    }

    /// Runs reads in one SQLite read transaction: they all see one snapshot (a count and the
    /// page it describes agree), and WAL's shared-memory locks are taken once, not per query.
    pub(crate) fn snapshot<T>(&mut self, f: impl FnOnce(&mut Db<'_>) -> Result<T>) -> Result<T> {
        self.within("BEGIN DEFERRED", f)
    }

    /// Runs reads that must agree with each other on either store: in one SQLite read
    /// transaction, or in one PostgreSQL transaction at `REPEATABLE READ` (at its default,
    /// `READ COMMITTED`, each statement sees the database as of its own start).
    pub(crate) fn consistent_reads<T>(
        &mut self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T>,
    ) -> Result<T> {
        let begin = match self.dialect() {
            Dialect::Sqlite => "BEGIN DEFERRED",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ",
        };
        self.within(begin, f)
    }

    fn within<T>(&mut self, begin: &str, f: impl FnOnce(&mut Db<'_>) -> Result<T>) -> Result<T> {
        if self.in_transaction {
            return f(self);
        }
        self.conn.batch(begin)?;
        self.in_transaction = true;
        let outcome = f(self);
        self.in_transaction = false;
        match outcome {
            Ok(value) => {
                self.conn.batch("COMMIT")?;
                Ok(value)
            }
            Err(err) => {
                if let Err(rollback) = self.conn.batch("ROLLBACK") {
                    tracing::error!(%rollback, "rollback failed");
                }
                Err(err)
            }
        }
    }
}

/// `$from, $from+1, …` placeholders for an `IN (…)` list of `n` values.
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
