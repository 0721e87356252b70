//! The web console: fast HTTP tests with a hand-kept cookie jar, and one test that drives the
//! console in headless Chromium (through chromedriver) like a person would.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use openmai_store::testing::TestDatabase;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, send};

/// A response as a browser would see it.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The CSRF token the page's forms carry.
    pub(crate) fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start =
            self.body.find(marker).expect("the page has a form with a CSRF token") + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }

    pub(crate) fn count(&self, needle: &str) -> usize {
        self.body.matches(needle).count()
    }
}

/// A console visitor: a cookie jar over the test client (which does not follow redirects).
pub(crate) struct Visitor<'a> {
    app: &'a TestApp,
    pub(crate) cookies: BTreeMap<String, String>,
    pub(crate) accept_language: Option<&'static str>,
}

impl<'a> Visitor<'a> {
    pub(crate) fn new(app: &'a TestApp) -> Self {
        Visitor { app, cookies: BTreeMap::new(), accept_language: None }
    }

    pub(crate) async fn send(&mut self, request: reqwest::RequestBuilder) -> Reply {
        let mut request = request;
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header(header::COOKIE, jar.join("; "));
        }
        if let Some(language) = self.accept_language {
            request = request.header(header::ACCEPT_LANGUAGE, language);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(header::SET_COOKIE) {
            let cookie = cookie::Cookie::parse(value.to_str().unwrap().to_owned()).unwrap();
            let expired = cookie.max_age().is_some_and(|age| age.is_zero());
            if expired || cookie.value().is_empty() {
                self.cookies.remove(cookie.name());
            } else {
                self.cookies.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        Reply { status, headers, body: response.text().await.unwrap() }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Reply {
        let request = self.app.client.get(self.app.url(path));
        self.send(request).await
    }

    /// A form POST from the console's own pages (same `Origin`).
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let origin = self.app.base.clone();
        self.post_from(path, fields, Some(&origin)).await
    }

    pub(crate) async fn post_from(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Reply {
        let mut request = self.app.client.post(self.app.url(path)).form(fields);
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        self.send(request).await
    }

    pub(crate) async fn log_in(&mut self) {
        let reply = self
            .post("/console/login", &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        assert_eq!(reply.location(), "/console/chatbots");
        assert!(self.cookies.contains_key("openmai_session"));
    }

    /// The session's CSRF token, read from a page.
    pub(crate) async fn csrf(&mut self) -> String {
        self.get("/console/chatbots").await.csrf()
    }
}

#[tokio::test]
async fn visitors_log_in_and_failures_are_explained() {
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    let mut visitor = Visitor::new(&app);

    let root = visitor.get("/").await;
    assert_eq!((root.status, root.location()), (StatusCode::SEE_OTHER, "/console/"));
    let home = visitor.get("/console/").await;
    assert_eq!((home.status, home.location()), (StatusCode::SEE_OTHER, "/console/chatbots"));
    let bare = visitor.get("/console").await;
    assert_eq!((bare.status, bare.location()), (StatusCode::SEE_OTHER, "/console/chatbots"));
    let guarded = visitor.get("/console/chatbots").await;
    assert_eq!((guarded.status, guarded.location()), (StatusCode::SEE_OTHER, "/console/login"));
    let keys = visitor.get("/console/account/api-keys").await;
    assert_eq!(keys.location(), "/console/login");

    let login = visitor.get("/console/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains(r#"<html lang="zh-Hant-TW">"#), "{}", login.body);
    assert!(login.header("content-security-policy").contains("default-src 'self'"));
    assert!(!login.header("content-security-policy").contains("unsafe-inline"));
    assert_eq!(login.header("x-frame-options"), "DENY");
    assert_eq!(login.header("referrer-policy"), "same-origin");

    let wrong =
        visitor.post("/console/login", &[("email", ADMIN_EMAIL), ("password", "not it")]).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("電子郵件或密碼不正確。"), "{}", wrong.body);
    assert!(wrong.body.contains(&format!(r#"value="{ADMIN_EMAIL}""#)), "the email is kept");
    assert!(!visitor.cookies.contains_key("openmai_session"));
    let empty = visitor.post("/console/login", &[("email", ""), ("password", "")]).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.body.contains("請輸入電子郵件與密碼。"));

    let right = visitor
        .post("/console/login", &[("email", "  Admin@Example.com "), ("password", ADMIN_PASSWORD)])
        .await;
    assert_eq!((right.status, right.location()), (StatusCode::SEE_OTHER, "/console/chatbots"));
    let set_cookie = right.header("set-cookie");
    assert!(set_cookie.starts_with("openmai_session="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");

    let page = visitor.get("/console/chatbots").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(ADMIN_EMAIL), "the account menu shows the email");
    for label in ["AI 功能", "AI 助理", "API 金鑰", "創建組織", "登出", "繁體中文", "English"]
    {
        assert!(page.body.contains(label), "{label} missing");
    }
    for column in ["ID", "名稱", "大語言模型", "回答模式", "關聯知識庫", "最後更新時間", "操作"]
    {
        assert!(page.body.contains(&format!("<th>{column}</th>")), "column {column} missing");
    }
    assert!(page.body.contains("共 0 條資料"));
    // Logged in, the login page sends people on.
    assert_eq!(visitor.get("/console/login").await.location(), "/console/chatbots");

    let csrf = page.csrf();
    let out = visitor.post("/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, "/console/login"));
    assert!(!visitor.cookies.contains_key("openmai_session"));
    assert_eq!(visitor.get("/console/chatbots").await.location(), "/console/login");
}

#[tokio::test]
async fn console_posts_need_the_session_csrf_token() {
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    let mut visitor = Visitor::new(&app);
    visitor.log_in().await;
    let csrf = visitor.csrf().await;
    let (llm, _) = app.default_models().await;
    let fields = |csrf: &'static str| {
        vec![("csrf", csrf), ("name", "CSRF test"), ("replyMode", "normal"), ("instructions", "")]
    };

    let missing = visitor.post("/console/chatbots/new", &fields("")[1..]).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{}", missing.body);
    assert!(missing.body.contains("安全性檢查未通過"));
    let wrong = visitor.post("/console/chatbots/new", &fields("not-the-token")).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let logout = visitor.post("/console/logout", &[("csrf", "nope")]).await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    let (_, list) = app.get("/api/v1/chatbots/").await;
    assert_eq!(list["count"], 0, "nothing was created");

    let mut good = vec![("csrf", csrf.as_str()), ("largeLanguageModel", llm.as_str())];
    good.extend_from_slice(&fields("")[1..]);
    let created = visitor.post("/console/chatbots/new", &good).await;
    assert_eq!(
        (created.status, created.location()),
        (StatusCode::SEE_OTHER, "/console/chatbots?notice=created"),
        "{}",
        created.body
    );
    let (_, list) = app.get("/api/v1/chatbots/").await;
    assert_eq!(list["results"][0]["name"], "CSRF test");
    let id = list["results"][0]["id"].as_str().unwrap().to_owned();
    let delete = visitor.post(&format!("/console/chatbots/{id}/delete"), &[("csrf", "x")]).await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    let delete = visitor.post(&format!("/console/chatbots/{id}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(delete.location(), "/console/chatbots?notice=deleted");
    let (_, list) = app.get("/api/v1/chatbots/").await;
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    let mut visitor = Visitor::new(&app);
    let credentials = [("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)];

    let evil = visitor.post_from("/console/login", &credentials, Some("http://evil.example")).await;
    assert_eq!(evil.status, StatusCode::FORBIDDEN);
    assert!(!visitor.cookies.contains_key("openmai_session"));
    let port_only = app.base.replace("127.0.0.1", "localhost");
    let other_host = visitor.post_from("/console/login", &credentials, Some(&port_only)).await;
    assert_eq!(other_host.status, StatusCode::FORBIDDEN);
    let opaque = visitor.post_from("/console/login", &credentials, Some("null")).await;
    assert_eq!(opaque.status, StatusCode::FORBIDDEN);
    // Without an Origin (older clients, curl) the form works.
    let plain = visitor.post_from("/console/login", &credentials, None).await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER);

    let csrf = visitor.csrf().await;
    let fields = [("csrf", csrf.as_str()), ("name", "evil org")];
    let refused = visitor
        .post_from("/console/organizations/new", &fields, Some("https://evil.example"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let orgs = app.state.store.read(|db| db.count_organizations()).await.unwrap();
    assert_eq!(orgs, 1);
}

#[tokio::test]
async fn the_table_shows_ten_assistants_a_page_newest_first() {
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    for n in 1..=11 {
        app.chatbot(&format!("助理 {n:02}")).await;
    }
    let mut visitor = Visitor::new(&app);
    visitor.log_in().await;

    let first = visitor.get("/console/chatbots").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.count(r#"data-testid="chatbot-row""#), 10);
    assert!(first.body.contains("共 11 條資料"));
    assert!(first.body.contains("OpenMai Offline (extractive)"), "the LLM's name is shown");
    assert!(first.body.contains("一般"), "the reply mode is localized");
    assert!(first.body.contains(r#"href="/console/chatbots?page=2""#));
    let newest = first.body.find("助理 11").unwrap();
    let older = first.body.find("助理 10").unwrap();
    assert!(newest < older, "newest first");
    assert!(!first.body.contains("助理 01"));

    let second = visitor.get("/console/chatbots?page=2").await;
    assert_eq!(second.count(r#"data-testid="chatbot-row""#), 1);
    assert!(second.body.contains("助理 01") && second.body.contains("共 11 條資料"));

    // Past the end: the last page, never an error.
    let beyond = visitor.get("/console/chatbots?page=99").await;
    assert_eq!(beyond.status, StatusCode::OK);
    assert!(beyond.body.contains("助理 01"));
    for nonsense in ["abc", "0", "-1", "99999999999999999999999"] {
        let reply = visitor.get(&format!("/console/chatbots?page={nonsense}")).await;
        assert_eq!(reply.status, StatusCode::OK, "page={nonsense}");
        assert_eq!(reply.count(r#"data-testid="chatbot-row""#), 10, "page={nonsense}");
    }
}

#[tokio::test]
async fn english_is_chosen_by_the_switch_its_cookie_or_accept_language() {
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    app.chatbot("Hybrid one").await;
    let mut visitor = Visitor::new(&app);
    visitor.log_in().await;

    let english = visitor.get("/console/chatbots?lang=en").await;
    assert!(english.header("set-cookie").starts_with("openmai_lang=en"));
    assert!(english.body.contains(r#"<html lang="en">"#));
    for text in
        ["AI features", "AI assistants", "Large language model", "1 items in total", "Log out"]
    {
        assert!(english.body.contains(text), "{text} missing");
    }
    assert!(!english.body.contains("共 1 條資料"));
    // The cookie keeps the choice.
    let again = visitor.get("/console/account/api-keys").await;
    assert!(again.body.contains(r#"<html lang="en">"#) && again.body.contains("API keys"));
    let back = visitor.get("/console/chatbots?lang=zh-TW").await;
    assert!(back.body.contains(r#"<html lang="zh-Hant-TW">"#) && back.body.contains("共 1 條資料"));

    let mut stranger = Visitor::new(&app);
    stranger.accept_language = Some("en-US,en;q=0.9");
    let login = stranger.get("/console/login").await;
    assert!(login.body.contains(r#"<html lang="en">"#) && login.body.contains("Log in"));
    let wrong =
        stranger.post("/console/login", &[("email", ADMIN_EMAIL), ("password", "nope")]).await;
    assert!(wrong.body.contains("Incorrect email or password."));
    stranger.accept_language = Some("zh-TW,zh;q=0.9,en;q=0.5");
    assert!(stranger.get("/console/login").await.body.contains("登入 OpenMai"));
}

#[tokio::test]
async fn html_in_names_is_shown_as_text() {
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    app.chatbot("<script>x</script>").await;
    let mut visitor = Visitor::new(&app);
    visitor.log_in().await;
    let page = visitor.get("/console/chatbots").await;
    // askama escapes with numeric entities.
    assert!(page.body.contains("&#60;script&#62;x&#60;/script&#62;"), "{}", page.body);
    assert!(!page.body.contains("<script>x</script>"));

    let (_, list) = app.get("/api/v1/chatbots/").await;
    let id = list["results"][0]["id"].as_str().unwrap();
    let edit = visitor.get(&format!("/console/chatbots/{id}/edit")).await;
    assert!(edit.body.contains(r#"value="&#60;script&#62;x&#60;/script&#62;""#), "{}", edit.body);
}

#[tokio::test]
async fn invalid_forms_are_shown_again_with_their_input() {
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    let mut visitor = Visitor::new(&app);
    visitor.log_in().await;
    let csrf = visitor.csrf().await;

    let form = visitor.get("/console/chatbots/new").await;
    assert!(form.body.contains("角色指令") && form.body.contains("<option value=\"agent\""));
    let blank = visitor
        .post(
            "/console/chatbots/new",
            &[
                ("csrf", &csrf),
                ("name", "   "),
                ("largeLanguageModel", "not-a-model"),
                ("replyMode", "hybrid"),
                ("instructions", "keep <me>"),
            ],
        )
        .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(blank.body.contains("此欄位不可為空白。"), "{}", blank.body);
    assert!(blank.body.contains("所選項目不存在。"));
    assert!(blank.body.contains("keep &#60;me&#62;</textarea>"), "{}", blank.body);
    assert!(blank.body.contains(r#"<option value="hybrid" selected>"#));

    let chatbot = app.chatbot("Original").await;
    let id = chatbot["id"].as_str().unwrap();
    let rename = visitor
        .post(
            &format!("/console/chatbots/{id}/edit"),
            &[("csrf", &csrf), ("name", ""), ("replyMode", "bogus")],
        )
        .await;
    assert_eq!(rename.status, StatusCode::BAD_REQUEST);
    assert!(rename.body.contains("不是有效的選項。"), "{}", rename.body);

    // Unknown, malformed and other tenants' ids are a 404 page.
    let other = app.tenant("other@example.com").await;
    let theirs = app
        .request_as(&other.key, Method::POST, "/api/v1/chatbots/")
        .json(&json!({"name": "Theirs", "largeLanguageModel": chatbot["largeLanguageModel"], "rag": chatbot["rag"]}));
    let (status, theirs) = send(theirs).await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    let theirs = theirs["id"].as_str().unwrap();
    for path in [
        format!("/console/chatbots/{theirs}/edit"),
        "/console/chatbots/not-a-uuid/edit".to_owned(),
        format!("/console/chatbots/{}/edit", uuid::Uuid::nil()),
        "/console/nowhere".to_owned(),
    ] {
        let reply = visitor.get(&path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(reply.body.contains("找不到此頁面或資料。"), "{path}");
    }
    let delete =
        visitor.post(&format!("/console/chatbots/{theirs}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    let (status, _) =
        send(app.request_as(&other.key, Method::GET, &format!("/api/v1/chatbots/{theirs}/"))).await;
    assert_eq!(status, StatusCode::OK, "another tenant's assistant is untouched");
}

#[tokio::test]
async fn api_keys_are_shown_once_and_stop_working_when_revoked() {
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    let mut visitor = Visitor::new(&app);
    visitor.log_in().await;
    let csrf = visitor.csrf().await;

    let blank = visitor.post("/console/account/api-keys", &[("csrf", &csrf), ("name", " ")]).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(blank.body.contains("此欄位不可為空白。"));

    let created =
        visitor.post("/console/account/api-keys", &[("csrf", &csrf), ("name", "ci")]).await;
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.header("cache-control"), "no-store");
    let marker = r#"id="new-key" value=""#;
    let start = created.body.find(marker).expect("the new key is shown") + marker.len();
    let key = &created.body[start..start + 40];
    assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");

    let (status, _) = send(app.request_as(key, Method::GET, "/api/v1/chatbots/")).await;
    assert_eq!(status, StatusCode::OK);
    let list = visitor.get("/console/account/api-keys").await;
    assert!(!list.body.contains(key), "the full key is shown only once");
    assert!(list.body.contains(&format!("{}…", &key[..8])));
    assert!(list.body.contains("ci") && list.body.contains("default"));

    let stored = app.state.store.read(|db| {
        let user = db.find_user_by_email(ADMIN_EMAIL)?.unwrap().id;
        let org = db.organizations_of_user(user)?[0].id;
        db.list_api_keys(org, user)
    });
    let ci = stored.await.unwrap().into_iter().find(|k| k.name == "ci").unwrap();
    let revoked = visitor
        .post(&format!("/console/account/api-keys/{}/revoke", ci.id), &[("csrf", &csrf)])
        .await;
    assert_eq!(revoked.location(), "/console/account/api-keys?notice=revoked");
    let (status, body) = send(app.request_as(key, Method::GET, "/api/v1/chatbots/")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"detail": "Authentication credentials were not provided."}));
    let again = visitor
        .post(&format!("/console/account/api-keys/{}/revoke", ci.id), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn organisations_are_created_and_switched_between() {
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    app.chatbot("In Acme").await;
    let other = app.tenant("other@example.com").await;
    let mut visitor = Visitor::new(&app);
    visitor.log_in().await;
    let csrf = visitor.csrf().await;

    let form = visitor.get("/console/organizations/new").await;
    assert!(form.body.contains("組織名稱"));
    let created =
        visitor.post("/console/organizations/new", &[("csrf", &csrf), ("name", "第二組織")]).await;
    assert_eq!(created.location(), "/console/chatbots?notice=org-created");
    let page = visitor.get("/console/chatbots?notice=org-created").await;
    assert!(page.body.contains("已創建組織並切換至該組織。"));
    assert!(page.body.contains("共 0 條資料"), "the new organisation has no assistants");
    assert!(page.body.contains(r#"data-testid="current-org">第二組織<"#), "{}", page.body);

    let orgs = app
        .state
        .store
        .read(|db| {
            let user = db.find_user_by_email(ADMIN_EMAIL)?.unwrap().id;
            db.organizations_of_user(user)
        })
        .await
        .unwrap();
    assert_eq!(orgs.len(), 2);
    let acme = orgs.iter().find(|o| o.name == "Acme").unwrap();
    let switched = visitor
        .post(&format!("/console/organizations/{}/switch", acme.id), &[("csrf", &csrf)])
        .await;
    assert_eq!(switched.location(), "/console/chatbots?notice=switched");
    assert!(visitor.get("/console/chatbots").await.body.contains("共 1 條資料"));

    let foreign = visitor
        .post(
            &format!("/console/organizations/{}/switch", other.organization_id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert!(visitor.get("/console/chatbots").await.body.contains("In Acme"));
}

#[tokio::test]
async fn static_assets_are_served_with_a_long_cache() {
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    let mut visitor = Visitor::new(&app);
    let login = visitor.get("/console/login").await;
    let marker = r#"href="/console/static/console.css?v="#;
    assert!(login.body.contains(marker), "{}", login.body);
    let css = visitor.get("/console/static/console.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header("content-type").starts_with("text/css"));
    assert!(css.header("cache-control").contains("max-age=31536000"));
    let js = visitor.get("/console/static/console.js").await;
    assert!(js.header("content-type").starts_with("text/javascript"));
    assert_eq!(visitor.get("/console/static/nope.js").await.status, StatusCode::NOT_FOUND);
}

// --- The browser test -------------------------------------------------------------------

/// How long any one browser step may take before the test fails.
pub(crate) const STEP: Duration = Duration::from_secs(15);

fn installed(env: &str, default: &str, name: &str) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(env) {
        return Some(PathBuf::from(path)).filter(|p| p.exists());
    }
    let default = PathBuf::from(default);
    if default.exists() {
        return Some(default);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(name)).find(|p| p.exists())
    })
}

/// chromedriver on a free port; killed when dropped.
pub(crate) struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    pub(crate) async fn start() -> ChromeDriver {
        let binary = installed("CHROMEDRIVER", "/usr/bin/chromedriver", "chromedriver")
            .unwrap_or_else(|| {
                panic!(
                    "chromedriver was not found (looked at $CHROMEDRIVER, /usr/bin/chromedriver \
                     and $PATH). The console browser test needs Chromium and its driver: install \
                     the Debian packages `chromium chromium-driver` \
                     (apt-get install chromium chromium-driver)."
                )
            });
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut driver = ChromeDriver { child, url: format!("http://127.0.0.1:{port}") };
        let status = format!("{}/status", driver.url);
        let probe = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap();
        for _ in 0..200 {
            if let Ok(response) = probe.get(&status).send().await {
                let body: Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == true {
                    return driver;
                }
            }
            if let Ok(Some(exit)) = driver.child.try_wait() {
                panic!("chromedriver exited at start-up ({exit})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("chromedriver did not become ready on port {port}");
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn headless_chromium(driver: &ChromeDriver, profile: &std::path::Path) -> Client {
    let chromium = installed("CHROMIUM", "/usr/bin/chromium", "chromium").unwrap_or_else(|| {
        panic!(
            "Chromium was not found (looked at $CHROMIUM, /usr/bin/chromium and $PATH): install \
             the Debian packages `chromium chromium-driver`."
        )
    });
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "prefs": {"intl.accept_languages": "zh-TW,zh"},
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,900",
                // The console picks its language from Accept-Language; this test reads Chinese.
                "--lang=zh-TW",
                "--accept-lang=zh-TW,zh",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::rustls()
        .expect("TLS for the WebDriver client")
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("chromedriver starts a headless Chromium session")
}

pub(crate) async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(STEP)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

/// Polls `check` until it holds (bounded by [`STEP`]).
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + STEP;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn path_of(client: &Client) -> String {
    client.current_url().await.unwrap().path().to_owned()
}

/// The texts of every element matching `css`.
pub(crate) async fn texts(client: &Client, css: &str) -> Vec<String> {
    let mut all = Vec::new();
    for element in client.find_all(Locator::Css(css)).await.unwrap() {
        all.push(element.text().await.unwrap());
    }
    all
}

/// Saves a screenshot to `$OPENMAI_CONSOLE_SCREENSHOTS/<name>.png` when that is set (for a
/// look at the pages; the test does not need it).
pub(crate) async fn snapshot(client: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("OPENMAI_CONSOLE_SCREENSHOTS") {
        let png = client.screenshot().await.unwrap();
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png).unwrap();
    }
}

/// Clicks a button that asks `confirm()` first, and accepts.
pub(crate) async fn click_and_confirm(client: &Client, button: &fantoccini::elements::Element) {
    button.click().await.unwrap();
    eventually("the confirmation dialog", || async { client.get_alert_text().await.is_ok() }).await;
    client.accept_alert().await.unwrap();
}

#[tokio::test]
async fn a_browser_logs_in_creates_an_assistant_and_uses_an_api_key() {
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    let client = headless_chromium(&driver, profile.path()).await;
    // Close the browser whatever happens, then report.
    let outcome = AssertUnwindSafe(browse(&client, &app)).catch_unwind().await;
    let _ = client.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn browse(client: &Client, app: &TestApp) {
    // Signed out, the console leads to the login page.
    client.goto(&app.url("/console/")).await.unwrap();
    wait_for(client, "#login-form").await;
    assert_eq!(path_of(client).await, "/console/login");
    snapshot(client, "01-login").await;
    client.find(Locator::Id("email")).await.unwrap().send_keys(ADMIN_EMAIL).await.unwrap();
    client.find(Locator::Id("password")).await.unwrap().send_keys(ADMIN_PASSWORD).await.unwrap();
    client.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();

    // The assistants table, empty.
    wait_for(client, r#"[data-testid="chatbots-table"]"#).await;
    assert_eq!(path_of(client).await, "/console/chatbots");
    let total = wait_for(client, r#"[data-testid="total"]"#).await;
    assert_eq!(total.text().await.unwrap(), "共 0 條資料");
    let email = client.find(Locator::Css(r#"[data-testid="account-email"]"#)).await.unwrap();
    assert_eq!(email.text().await.unwrap(), ADMIN_EMAIL);

    // Create an assistant.
    client.find(Locator::Id("create-chatbot")).await.unwrap().click().await.unwrap();
    let name = wait_for(client, "#chatbot-form #name").await;
    name.send_keys("瀏覽器測試助理").await.unwrap();
    snapshot(client, "02-new-assistant").await;
    client.find(Locator::Id("replyMode")).await.unwrap().select_by_value("hybrid").await.unwrap();
    client
        .find(Locator::Id("instructions"))
        .await
        .unwrap()
        .send_keys("你是一位親切的客服。")
        .await
        .unwrap();
    client.find(Locator::Id("chatbot-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="notice"]"#).await;
    assert_eq!(texts(client, r#"[data-testid="chatbot-name"]"#).await, ["瀏覽器測試助理"]);
    assert_eq!(
        texts(client, r#"[data-testid="chatbot-llm"]"#).await,
        ["OpenMai Offline (extractive)"]
    );
    assert_eq!(texts(client, r#"[data-testid="chatbot-mode"]"#).await, ["混合"]);
    assert_eq!(texts(client, r#"[data-testid="chatbot-kbs"]"#).await, ["—"]);
    let total = client.find(Locator::Css(r#"[data-testid="total"]"#)).await.unwrap();
    assert_eq!(total.text().await.unwrap(), "共 1 條資料");
    snapshot(client, "03-assistants").await;

    // Rename it.
    client
        .find(Locator::Css(r#"[data-testid="edit-chatbot"]"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let name = wait_for(client, "#chatbot-form #name").await;
    assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("瀏覽器測試助理"));
    name.clear().await.unwrap();
    name.send_keys("瀏覽器測試助理（已改名）").await.unwrap();
    client.find(Locator::Id("chatbot-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="notice"]"#).await;
    assert_eq!(
        texts(client, r#"[data-testid="chatbot-name"]"#).await,
        ["瀏覽器測試助理（已改名）"]
    );

    // Create an API key and read it, once.
    client.find(Locator::Id("nav-api-keys")).await.unwrap().click().await.unwrap();
    wait_for(client, "#create-key-form").await;
    client.find(Locator::Id("key-name")).await.unwrap().send_keys("browser").await.unwrap();
    client.find(Locator::Id("create-key")).await.unwrap().click().await.unwrap();
    let shown = wait_for(client, "#new-key").await;
    let key = shown.prop("value").await.unwrap().expect("the key is in the page");
    assert_eq!(key.len(), 40, "{key}");
    let copy = client.find(Locator::Id("copy-key")).await.unwrap();
    assert_eq!(copy.text().await.unwrap(), "複製");
    snapshot(client, "04-new-api-key").await;
    copy.click().await.unwrap();
    eventually("the copy button to confirm", || async {
        copy.text().await.is_ok_and(|text| text == "已複製")
    })
    .await;

    // The key works against the API and sees the assistant made in the browser.
    let (status, list) = send(app.request_as(&key, Method::GET, "/api/v1/chatbots/")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let names: Vec<&str> =
        list["results"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["瀏覽器測試助理（已改名）"]);
    assert_eq!(list["results"][0]["replyMode"], "hybrid");

    // Revoke it in the browser; the API refuses it at once.
    let revoke = client
        .find(Locator::XPath(
            r#"//tr[@data-testid="key-row"][td[@data-testid="key-name"][normalize-space()="browser"]]//button[@data-testid="revoke-key"]"#,
        ))
        .await
        .unwrap();
    click_and_confirm(client, &revoke).await;
    wait_for(client, r#"[data-testid="notice"]"#).await;
    let remaining = texts(client, r#"[data-testid="key-name"]"#).await;
    assert!(!remaining.iter().any(|n| n == "browser"), "{remaining:?}");
    let (status, body) = send(app.request_as(&key, Method::GET, "/api/v1/chatbots/")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({"detail": "Authentication credentials were not provided."}));

    // Log out from the account menu; the console asks for a login again.
    client.find(Locator::Css("#account-menu > summary")).await.unwrap().click().await.unwrap();
    let logout = wait_for(client, "#logout").await;
    eventually("the account menu to open", || async {
        logout.is_displayed().await.unwrap_or(false)
    })
    .await;
    snapshot(client, "05-account-menu").await;
    logout.click().await.unwrap();
    wait_for(client, "#login-form").await;
    client.goto(&app.url("/console/chatbots")).await.unwrap();
    wait_for(client, "#login-form").await;
    assert_eq!(path_of(client).await, "/console/login");
}
