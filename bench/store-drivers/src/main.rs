//! Serves the same query — one organisation's count plus its 10 newest rows — through sqlx's
//! SQLite driver (`/sqlx`) and through rusqlite on tokio's blocking pool (`/rusqlite`), so a
//! load generator outside the process can compare them. Usage: see run.sh.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

#[derive(Serialize, sqlx::FromRow)]
struct Bot {
    id: uuid::Uuid,
    name: String,
    llm: String,
    updated_at: i64,
}

#[derive(Clone)]
struct Shared {
    sqlx: sqlx::SqlitePool,
    rusqlite: Arc<Vec<Mutex<rusqlite::Connection>>>,
    next: Arc<AtomicUsize>,
    org: uuid::Uuid,
}

const COUNT: &str = "SELECT COUNT(*) FROM chatbots WHERE org = $1";
const PAGE: &str =
    "SELECT id, name, llm, updated_at FROM chatbots WHERE org = $1 ORDER BY updated_at DESC LIMIT 10";

#[tokio::main]
async fn main() {
    let path = std::env::temp_dir().join(format!("store-drivers-{}.db", std::process::id()));
    let connections: u32 = std::env::var("POOL").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let sqlx = SqlitePoolOptions::new()
        .max_connections(connections)
        .min_connections(connections)
        .connect_with(options)
        .await
        .expect("sqlite");
    sqlx::query("CREATE TABLE chatbots (id BLOB PRIMARY KEY, org BLOB NOT NULL, name TEXT NOT NULL, llm TEXT NOT NULL, updated_at INTEGER NOT NULL)")
        .execute(&sqlx).await.unwrap();
    sqlx::query("CREATE INDEX chatbots_org ON chatbots (org, updated_at)").execute(&sqlx).await.unwrap();
    let org = uuid::Uuid::new_v4();
    for i in 0..50_i64 {
        sqlx::query("INSERT INTO chatbots VALUES ($1, $2, $3, $4, $5)")
            .bind(uuid::Uuid::new_v4())
            .bind(org)
            .bind(format!("assistant {i}"))
            .bind("offline")
            .bind(i)
            .execute(&sqlx)
            .await
            .unwrap();
    }
    let rusqlite = (0..connections)
        .map(|_| Mutex::new(rusqlite::Connection::open(&path).expect("open")))
        .collect();
    let shared = Shared { sqlx, rusqlite: Arc::new(rusqlite), next: Arc::new(AtomicUsize::new(0)), org };
    let app = Router::new()
        .route("/sqlx", get(with_sqlx))
        .route("/rusqlite", get(with_rusqlite))
        .with_state(shared);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:18090").await.expect("bind");
    println!("listening on 127.0.0.1:18090 with {connections} connections per driver");
    axum::serve(listener, app).await.unwrap();
}

async fn with_sqlx(State(s): State<Shared>) -> Json<(i64, Vec<Bot>)> {
    let (count,): (i64,) = sqlx::query_as(COUNT).bind(s.org).fetch_one(&s.sqlx).await.unwrap();
    let rows: Vec<Bot> = sqlx::query_as(PAGE).bind(s.org).fetch_all(&s.sqlx).await.unwrap();
    Json((count, rows))
}

async fn with_rusqlite(State(s): State<Shared>) -> Json<(i64, Vec<Bot>)> {
    let result = tokio::task::spawn_blocking(move || {
        let conn = s.rusqlite[s.next.fetch_add(1, Ordering::Relaxed) % s.rusqlite.len()].lock().unwrap();
        let org = s.org.as_bytes().to_vec();
        let count: i64 = conn.prepare_cached(COUNT).unwrap().query_row([&org], |r| r.get(0)).unwrap();
        let mut page = conn.prepare_cached(PAGE).unwrap();
        let rows = page
            .query_map([&org], |r| {
                Ok(Bot {
                    id: uuid::Uuid::from_slice(&r.get::<_, Vec<u8>>(0)?).unwrap(),
                    name: r.get(1)?,
                    llm: r.get(2)?,
                    updated_at: r.get(3)?,
                })
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        (count, rows)
    })
    .await
    .unwrap();
    Json(result)
}
