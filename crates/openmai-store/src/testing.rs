//! Throw-away databases for tests: a SQLite file in a temporary folder always, and a brand
//! new PostgreSQL database when `OPENMAI_TEST_DATABASE_URL` names a server. Each one is
//! dropped when the value is.

use crate::DatabaseUrl;

/// The environment variable naming a PostgreSQL server (any database on it) for tests.
pub const POSTGRES_ENV: &str = "OPENMAI_TEST_DATABASE_URL";

pub struct TestDatabase {
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = DatabaseUrl::sqlite(dir.path().join("openmai.db"));
        TestDatabase { url, _dir: Some(dir), postgres: None }
    }

    /// Creates `openmai_test_<random>` on the server `admin_url` points at.
    pub fn postgres(admin_url: &str) -> Self {
        let name = format!("openmai_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_url.to_owned();
        let statement = format!("CREATE DATABASE {name}");
        run_admin(&admin, &statement);
        let mut url = url::Url::parse(admin_url).expect("OPENMAI_TEST_DATABASE_URL is a URL");
        url.set_path(&name);
        TestDatabase {
            url: DatabaseUrl::Postgres(url.to_string()),
            _dir: None,
            postgres: Some((admin, name)),
        }
    }

    /// SQLite, plus PostgreSQL when the environment names a server: the engines every
    /// store-touching test must pass on.
    pub fn every_engine() -> Vec<TestDatabase> {
        let mut all = vec![TestDatabase::sqlite()];
        if let Ok(admin) = std::env::var(POSTGRES_ENV)
            && !admin.trim().is_empty()
        {
            all.push(TestDatabase::postgres(admin.trim()));
        }
        all
    }

    pub fn engine(&self) -> &'static str {
        match self.url {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            run_admin(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// The sync client runs its own runtime, so it gets a thread of its own rather than
/// blocking (or nesting inside) the test's runtime.
fn run_admin(admin_url: &str, statement: &str) {
    let (admin_url, statement) = (admin_url.to_owned(), statement.to_owned());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"));
        client.batch_execute(&statement).unwrap_or_else(|e| panic!("{statement}: {e}"));
    })
    .join()
    .expect("PostgreSQL admin thread");
}
