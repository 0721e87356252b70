//! `TestApp`: the production router and store, served on 127.0.0.1:0 with a fresh database,
//! plus typed request helpers. `each_engine` runs a test body once per database engine.

#![allow(dead_code)]

use std::future::Future;

use openmai_server::config::Config;
use openmai_server::{AppState, accounts};
use openmai_store::testing::TestDatabase;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// The first administrator's API key.
    pub key: String,
    pub state: AppState,
    pub engine: &'static str,
    /// The data directory (blobs, search index, temp files), removed with the app.
    pub data_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    workers: tokio_util::sync::CancellationToken,
    _db: TestDatabase,
}

/// Another tenant: a user owning their own organisation, with a key.
pub struct Tenant {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub key: String,
}

/// A user added to the administrator's organisation, with an API key there.
pub struct Member {
    pub user_id: Uuid,
    /// The membership's id (what `organizations/{id}/members/{memberId}/` takes).
    pub member_id: Uuid,
    pub email: String,
    pub key: String,
}

/// A console session: the cookie to send and the CSRF token writes need.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    pub async fn spawn(db: TestDatabase) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    /// Starts the server exactly as `openmai serve` does, after `configure` adjusts the
    /// configuration.
    pub async fn spawn_with(db: TestDatabase, configure: impl FnOnce(&mut Config)) -> TestApp {
        let data_dir = tempfile::tempdir().expect("data directory");
        let mut config = Config {
            data_dir: data_dir.path().to_owned(),
            parser_executable: Some(std::path::PathBuf::from(env!("CARGO_BIN_EXE_openmai"))),
            database_url: Some(match &db.url {
                openmai_store::DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
                openmai_store::DatabaseUrl::Postgres(url) => url.clone(),
            }),
            admin_email: Some(ADMIN_EMAIL.into()),
            admin_password: Some(ADMIN_PASSWORD.to_owned().into()),
            organization_name: "Acme".into(),
            // Tests wait on no timer; the spacing itself is tested in `knowledge::commit`.
            index_commit_interval_ms: 0,
            ..Config::default()
        };
        configure(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().unwrap();
        config.bind = address;
        let store = openmai_server::open_store(&config).await.expect("store");
        let state = AppState::new(config.clone(), store.clone()).await.expect("state");
        let first =
            accounts::bootstrap(&store, &config).await.expect("bootstrap").expect("first start");
        let router = openmai_server::router(state.clone()).expect("router");
        let workers =
            openmai_server::start_workers(&state, config.ingest_workers).await.expect("workers");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(openmai_server::serve(router, listener, async move {
            let _ = rx.await;
        }));
        TestApp {
            base: format!("http://{address}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            key: first.api_key,
            engine: db.engine(),
            state,
            data_dir,
            shutdown: Some(tx),
            workers,
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request authenticated with `key`.
    pub fn request_as(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Authorization", format!("Api-Key {key}"))
    }

    /// A request authenticated as the administrator.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(&self.key.clone(), method, path)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        send(self.request(Method::POST, path).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        send(self.request(Method::PUT, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        send(self.request(Method::PATCH, path).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        send(self.request(Method::DELETE, path)).await
    }

    /// Sends `body` as JSON, as the administrator, and returns [`status_and_text`].
    pub async fn raw(&self, method: Method, path: &str, body: Value) -> String {
        status_and_text(self.request(method, path).json(&body)).await
    }

    /// A new user owning a new organisation, with an API key there.
    pub async fn tenant(&self, email: &str) -> Tenant {
        let store = &self.state.store;
        let (user, org) =
            accounts::create_user(store, email, ADMIN_PASSWORD, None, Some("Tenant Org"))
                .await
                .expect("tenant user");
        let org = org.expect("tenant organisation");
        let (_, key) =
            accounts::create_api_key(store, org.id, user.id, "test").await.expect("tenant key");
        Tenant { user_id: user.id, organization_id: org.id, email: user.email, key }
    }

    /// A user with no organisation yet.
    pub async fn user(&self, email: &str) -> Uuid {
        accounts::create_user(&self.state.store, email, ADMIN_PASSWORD, None, None)
            .await
            .expect("user")
            .0
            .id
    }

    /// The administrator's user id.
    pub async fn admin_id(&self) -> Uuid {
        self.state
            .store
            .read(|db| db.find_user_by_email(ADMIN_EMAIL))
            .await
            .expect("lookup")
            .expect("the administrator exists")
            .id
    }

    /// The organisation created on the first start (the administrator's).
    pub async fn organization_id(&self) -> Uuid {
        let admin = self.admin_id().await;
        let orgs = self.state.store.read(move |db| db.organizations_of_user(admin)).await.unwrap();
        orgs[0].id
    }

    /// A new user made a member of the administrator's organisation, with a key there.
    pub async fn member(&self, email: &str) -> Member {
        let user_id = self.user(email).await;
        let org = self.organization_id().await;
        let membership =
            self.state.store.write(move |db| db.insert_membership(org, user_id)).await.unwrap();
        let (_, key) = accounts::create_api_key(&self.state.store, org, user_id, "member")
            .await
            .expect("member key");
        Member { user_id, member_id: membership.id, email: membership.email, key }
    }

    /// A console session for `user_id`, acting in `organization` (or in none).
    pub async fn session(&self, user_id: Uuid, organization: Option<Uuid>) -> Session {
        let headers = axum::http::HeaderMap::new();
        let (session, set_cookie) =
            openmai_server::auth::session::start(&self.state, &headers, user_id, organization)
                .await
                .expect("session");
        let cookie = set_cookie.to_str().unwrap().split(';').next().unwrap().to_owned();
        Session { cookie, csrf: session.csrf_token }
    }

    /// A request carrying a console session (and its CSRF token).
    pub fn request_with_session(
        &self,
        session: &Session,
        method: Method,
        path: &str,
    ) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("Cookie", &session.cookie)
            .header("X-CSRFToken", &session.csrf)
    }

    /// The ids the catalogue offers by default: (language model, RAG engine).
    pub async fn default_models(&self) -> (String, String) {
        let (status, settings) = self.get("/api/v1/chatbot-settings/").await;
        assert_eq!(status, StatusCode::OK, "{settings}");
        let rag = settings[0]["id"].as_str().unwrap().to_owned();
        let llm = settings[0]["llms"][0]["id"].as_str().unwrap().to_owned();
        (llm, rag)
    }

    /// Creates an assistant with the default models and returns its JSON.
    pub async fn chatbot(&self, name: &str) -> Value {
        let (llm, rag) = self.default_models().await;
        let (status, body) = self
            .post(
                "/api/v1/chatbots/",
                serde_json::json!({"name": name, "largeLanguageModel": llm, "rag": rag}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

/// Knowledge-base helpers: upload through the presigned form, register, wait for ingestion.
impl TestApp {
    /// Creates a knowledge base and returns its JSON.
    pub async fn kb(&self, name: &str) -> Value {
        let (status, body) =
            self.post("/api/v1/knowledge-bases/", serde_json::json!({"name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// The presigned form for `filename` of `size` bytes, as `key` would get it.
    pub async fn presign_as(
        &self,
        key: &str,
        filename: &str,
        size: usize,
    ) -> (String, Vec<(String, String)>) {
        let (status, body) = send(self.request_as(key, Method::POST, "/api/v1/upload-presigned-url/").json(
            &serde_json::json!({
                "filename": filename, "modelName": "chatbot-file", "fieldName": "file", "fileSize": size
            }),
        ))
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let fields = body["fields"]
            .as_object()
            .expect("fields")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string field").to_owned()))
            .collect();
        (body["url"].as_str().expect("url").to_owned(), fields)
    }

    /// POSTs an upload form (fields, then the file) the way the example clients do, with no
    /// credentials, and returns the status and body.
    pub async fn post_form(
        &self,
        url: &str,
        fields: &[(String, String)],
        filename: &str,
        bytes: Vec<u8>,
    ) -> (StatusCode, String) {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text(name.clone(), value.clone());
        }
        form = form
            .part("file", reqwest::multipart::Part::bytes(bytes).file_name(filename.to_owned()));
        let response = self.client.post(url).multipart(form).send().await.expect("upload");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// Uploads `bytes` as `key`'s organisation and returns the storage key.
    pub async fn upload_as(&self, key: &str, filename: &str, bytes: Vec<u8>) -> String {
        let (url, fields) = self.presign_as(key, filename, bytes.len()).await;
        let (status, body) = self.post_form(&url, &fields, filename, bytes).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        fields.iter().find(|(k, _)| k == "key").expect("key field").1.clone()
    }

    pub async fn upload(&self, filename: &str, bytes: Vec<u8>) -> String {
        self.upload_as(&self.key.clone(), filename, bytes).await
    }

    /// Uploads and registers a file in knowledge base `kb`; returns the file's JSON.
    pub async fn add_file(&self, kb: &str, filename: &str, bytes: Vec<u8>) -> Value {
        let storage_key = self.upload(filename, bytes).await;
        let (status, body) = self
            .post(
                &format!("/api/v1/knowledge-bases/{kb}/files/"),
                serde_json::json!({"files": [{"file": storage_key, "filename": filename}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body[0].clone()
    }

    /// Waits (on the server's own announcement, not on a timer) until the file's ingestion
    /// ended, and returns the file's JSON.
    pub async fn settle(&self, kb: &str, file: &str) -> Value {
        let mut settled = self.state.knowledge.settled.subscribe();
        let path = format!("/api/v1/knowledge-bases/{kb}/files/{file}/");
        loop {
            let (status, body) = self.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if matches!(body["status"].as_str(), Some("done" | "failed")) {
                return body;
            }
            match tokio::time::timeout(std::time::Duration::from_secs(120), settled.recv()).await {
                Ok(Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(err)) => panic!("the workers stopped: {err}"),
                Err(_) => panic!("file {file} did not settle within 2 minutes: {body}"),
            }
        }
    }

    /// Adds a file and waits for its ingestion to end.
    pub async fn ingest(&self, kb: &str, filename: &str, bytes: Vec<u8>) -> Value {
        let file = self.add_file(kb, filename, bytes).await;
        self.settle(kb, file["id"].as_str().unwrap()).await
    }
}

/// A fixture file of the ingestion crate's test corpus.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../openmai-ingest/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.workers.cancel();
    }
}

/// Sends a request and returns the status and the JSON body (`Null` when there is none).
pub async fn send(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request reaches the server");
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text}"))
    };
    (status, body)
}

/// `"401 {"detail":"…"}"`: status and compact body, for snapshots.
pub fn status_and_body(status: StatusCode, body: &Value) -> String {
    format!("{} {}", status.as_u16(), body)
}

/// An inline snapshot that may run once per engine (insta refuses repeats otherwise).
#[macro_export]
macro_rules! snapshot {
    ($value:expr, @$snapshot:literal) => {
        insta::allow_duplicates! { insta::assert_snapshot!($value, @$snapshot) }
    };
}

/// Runs `test` against a fresh server on every engine under test.
pub async fn each_engine<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDatabase::every_engine() {
        test(TestApp::spawn(db).await).await;
    }
}

/// Runs `test` on every engine against a server whose configuration `configure` adjusted.
pub async fn each_engine_with<C, F, Fut>(configure: C, test: F)
where
    C: Fn(&mut Config),
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDatabase::every_engine() {
        test(TestApp::spawn_with(db, &configure).await).await;
    }
}

/// Sends a request and returns the status, the headers and the body as text.
pub async fn send_raw(request: RequestBuilder) -> (StatusCode, HeaderMap, String) {
    let response = request.send().await.expect("request reaches the server");
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

/// `"400 {…}"`: the status and the body exactly as the server wrote it (key order included),
/// for snapshots of field errors, whose order is part of DRF's contract.
pub async fn status_and_text(request: RequestBuilder) -> String {
    let (status, _, text) = send_raw(request).await;
    format!("{} {text}", status.as_u16())
}

/// The object's keys, sorted and comma-separated, to pin a response's shape in a snapshot.
pub fn keys(value: &Value) -> String {
    let mut keys: Vec<&str> =
        value.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys.join(",")
}

/// True for a wire timestamp: epoch milliseconds as a 13-digit string.
pub fn is_timestamp(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.len() == 13 && s.bytes().all(|b| b.is_ascii_digit()))
}

/// A user without `apiKeys`, whose `lastUsedAt` is written in the background as keys are used.
pub fn without_keys(user: &Value) -> Value {
    let mut user = user.clone();
    user.as_object_mut().expect("a user object").remove("apiKeys");
    user
}

/// True for a UUID string.
pub fn is_uuid(value: &Value) -> bool {
    value.as_str().is_some_and(|s| Uuid::parse_str(s).is_ok())
}
