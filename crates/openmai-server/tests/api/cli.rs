//! The `openmai` binary itself: first start, `user create`, `api-key create`, `migrate`, and
//! graceful shutdown on SIGTERM, on every engine.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use openmai_store::DatabaseUrl;
use openmai_store::testing::TestDatabase;

fn openmai() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openmai"));
    // Keep the developer's own settings out of the tests.
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("OPENMAI_")) {
        command.env_remove(key);
    }
    command.env("OPENMAI_LOG", "info");
    command
}

fn database_arg(db: &TestDatabase) -> String {
    match &db.url {
        DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        DatabaseUrl::Postgres(url) => url.clone(),
    }
}

fn run(command: &mut Command) -> Output {
    command.output().expect("openmai runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running `openmai serve`, killed when dropped.
struct Server {
    child: Child,
    base: String,
    /// What the server logged before it listened.
    log: Vec<String>,
}

impl Server {
    /// Starts the server and reads its log until it reports the address it listens on.
    fn start(command: &mut Command) -> Server {
        let mut child = command
            .args(["--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openmai serve starts");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = Vec::new();
        let mut base = None;
        for line in stderr.lines() {
            let line = line.expect("stderr line");
            if let Some(address) = line.split("listening on ").nth(1) {
                base = Some(address.trim().to_owned());
                break;
            }
            seen.push(without_colours(&line));
        }
        let base =
            base.unwrap_or_else(|| panic!("the server never listened:\n{}", seen.join("\n")));
        Server { child, base, log: seen }
    }

    /// The first-start banner: stdout up to its last line (it is printed before the server
    /// listens, so it is complete by now).
    fn banner(&mut self) -> String {
        let stdout = BufReader::new(self.child.stdout.as_mut().unwrap());
        let mut banner = String::new();
        for line in stdout.lines() {
            let line = line.expect("stdout line");
            banner.push_str(&line);
            banner.push('\n');
            if line.contains("Try: curl") {
                break;
            }
        }
        banner
    }

    /// SIGTERM, then the exit status and whatever the server printed on stdout.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM works");
        let status = self.child.wait().expect("server exits");
        let mut rest = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            std::io::Read::read_to_string(&mut out, &mut rest).expect("stdout");
        }
        (status, rest)
    }
}

/// `line` without its ANSI colour sequences.
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('\u{1b}') {
        plain.push_str(&rest[..start]);
        rest = rest[start..].find('m').map_or("", |end| &rest[start + end + 1..]);
    }
    plain.push_str(rest);
    plain
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn get(url: &str, key: Option<&str>) -> (u16, serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut request = reqwest::Client::new().get(url);
        if let Some(key) = key {
            request = request.header("Authorization", format!("Api-Key {key}"));
        }
        let response = request.send().await.expect("server answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    })
}

#[test]
fn first_start_creates_an_admin_and_a_working_key_then_stops_on_sigterm() {
    for db in TestDatabase::every_engine() {
        let data = tempfile::tempdir().unwrap();
        let mut server = Server::start(
            openmai()
                .arg("serve")
                .args(["--data-dir", &data.path().display().to_string()])
                .args(["--database-url", &database_arg(&db)])
                .env("OPENMAI_ADMIN_EMAIL", "owner@example.com"),
        );
        let banner = server.banner();
        assert!(banner.contains("owner@example.com"), "{}: {banner}", db.engine());
        let key = banner
            .lines()
            .find_map(|l| l.trim().strip_prefix("API key"))
            .map(str::trim)
            .unwrap_or_else(|| panic!("no key in the banner: {banner}"))
            .to_owned();
        assert!(key.len() >= 32 && key.chars().all(|c| c.is_ascii_alphanumeric()), "{key}");
        let generated =
            banner.lines().find_map(|l| l.trim().strip_prefix("Password")).unwrap().trim();
        assert!(generated.len() >= 16, "a password is generated when none is set: {banner}");

        assert_eq!(get(&format!("{}/healthz", server.base), None).0, 200);
        let (status, body) = get(&format!("{}/api/v1/chatbots/", server.base), Some(&key));
        assert_eq!((status, body["count"].as_u64()), (200, Some(0)), "{body}");
        let (status, _) = server.terminate();
        assert!(status.success(), "SIGTERM is a clean stop: {status:?}");

        // A second start on the same store creates nobody and prints no credentials.
        let again = Server::start(
            openmai()
                .arg("serve")
                .args(["--data-dir", &data.path().display().to_string()])
                .args(["--database-url", &database_arg(&db)]),
        );
        assert_eq!(get(&format!("{}/api/v1/chatbots/", again.base), Some(&key)).0, 200);
        let (status, printed) = again.terminate();
        assert!(status.success());
        assert!(!printed.contains("API key"), "no second banner: {printed}");
    }
}

#[test]
fn user_and_api_key_commands_create_credentials_the_api_accepts() {
    for db in TestDatabase::every_engine() {
        let url = database_arg(&db);
        let migrate = run(openmai().args(["migrate", "--database-url", &url]));
        assert!(migrate.status.success(), "{}", stderr(&migrate));
        assert!(stdout(&migrate).contains("migrations applied"));

        let created = run(openmai().args([
            "user",
            "create",
            "--email",
            "Dev@Example.com",
            "--password",
            "a long passphrase",
            "--organization",
            "Dev Team",
            "--database-url",
            &url,
        ]));
        assert!(created.status.success(), "{}", stderr(&created));
        assert!(stdout(&created).contains("dev@example.com"), "{}", stdout(&created));
        assert!(stdout(&created).contains("Dev Team"));

        let key_run = run(openmai().args([
            "api-key",
            "create",
            "--email",
            "dev@example.com",
            "--name",
            "ci",
            "--database-url",
            &url,
        ]));
        assert!(key_run.status.success(), "{}", stderr(&key_run));
        let out = stdout(&key_run);
        let key = out.lines().last().unwrap_or_default().trim().to_owned();
        assert_eq!(key.len(), 40, "the key is alone on the last line: {out:?}");
        assert!(key.chars().all(|c| c.is_ascii_alphanumeric()));

        let data = tempfile::tempdir().unwrap();
        let server = Server::start(openmai().args([
            "serve",
            "--database-url",
            &url,
            "--data-dir",
            &data.path().display().to_string(),
        ]));
        let (status, me) = get(&format!("{}/api/v1/users/current/", server.base), Some(&key));
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["email"], "dev@example.com");
        assert_eq!(me["apiKeys"][0]["name"], "ci");
        assert!(server.terminate().0.success());
    }
}

#[test]
fn cli_mistakes_fail_with_a_message_and_a_nonzero_status() {
    let db = TestDatabase::sqlite();
    let url = database_arg(&db);
    let weak = run(openmai().args([
        "user",
        "create",
        "--email",
        "x@example.com",
        "--password",
        "123",
        "--database-url",
        &url,
    ]));
    assert!(!weak.status.success());
    assert!(stderr(&weak).contains("This password is too short"), "{}", stderr(&weak));

    let bad_email = run(openmai().args([
        "user",
        "create",
        "--email",
        "nope",
        "--password",
        "a long passphrase",
        "--database-url",
        &url,
    ]));
    assert!(!bad_email.status.success());
    assert!(stderr(&bad_email).contains("Enter a valid email address."), "{}", stderr(&bad_email));

    let nobody = run(openmai().args([
        "api-key",
        "create",
        "--email",
        "ghost@example.com",
        "--database-url",
        &url,
    ]));
    assert!(!nobody.status.success());
    assert!(
        stderr(&nobody).contains("no user has the email ghost@example.com"),
        "{}",
        stderr(&nobody)
    );

    let orphan = run(openmai().args([
        "user",
        "create",
        "--email",
        "solo@example.com",
        "--password",
        "a long passphrase",
        "--database-url",
        &url,
    ]));
    assert!(orphan.status.success(), "{}", stderr(&orphan));
    let no_org = run(openmai().args([
        "api-key",
        "create",
        "--email",
        "solo@example.com",
        "--database-url",
        &url,
    ]));
    assert!(!no_org.status.success());
    assert!(stderr(&no_org).contains("belongs to no organisation"), "{}", stderr(&no_org));

    let scheme = run(openmai().args(["migrate", "--database-url", "mysql://localhost/x"]));
    assert!(!scheme.status.success());
    assert!(stderr(&scheme).contains("unsupported scheme"), "{}", stderr(&scheme));
}

#[test]
fn a_taken_port_and_a_broken_config_file_stop_the_start_with_a_reason() {
    let db = TestDatabase::sqlite();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let data = tempfile::tempdir().unwrap();
    let output = run(openmai().args([
        "serve",
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--database-url",
        &database_arg(&db),
        "--data-dir",
        &data.path().display().to_string(),
    ]));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("cannot listen on"), "{}", stderr(&output));

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("openmai.toml");
    std::fs::write(&config, "bnid = \"127.0.0.1:1\"\n").unwrap();
    let output = run(openmai().args(["serve", "--config", &config.display().to_string()]));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("bnid"), "unknown settings are named: {}", stderr(&output));
    assert!(!Path::new(&dir.path().join("data")).exists(), "nothing was created");
}

/// Runs an async block on a small runtime (these tests drive the binary synchronously).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// The API key in a first-start banner.
fn banner_key(banner: &str) -> String {
    banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("API key"))
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|| panic!("no key in the banner: {banner}"))
}

#[test]
fn kb_commands_create_ingest_a_folder_and_search_and_chat() {
    let db = TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        openmai()
            .arg("serve")
            .args(["--data-dir", &data.path().display().to_string()])
            .args(["--database-url", &database_arg(&db)])
            .env("OPENMAI_ADMIN_EMAIL", "owner@example.com"),
    );
    let key = banner_key(&server.banner());
    let api = |command: &mut Command| -> Output {
        run(command.env("OPENMAI_URL", &server.base).env("OPENMAI_API_KEY", &key))
    };

    let created = api(openmai().args(["kb", "create", "客服手冊", "--description", "常見問題"]));
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&created).contains("created knowledge base 客服手冊"), "{}", stdout(&created));

    let folder = tempfile::tempdir().unwrap();
    std::fs::create_dir(folder.path().join("sub")).unwrap();
    std::fs::write(folder.path().join("退貨.txt"), "商品到貨七天內可以退貨。").unwrap();
    std::fs::write(folder.path().join("sub/shipping.md"), "# Shipping\n\nOrders ship in two days.")
        .unwrap();
    std::fs::write(folder.path().join("sub/empty.txt"), "").unwrap();
    std::fs::write(folder.path().join("ignored.exe"), "MZ").unwrap();
    // Uploaded in several reads (`FILE_STREAM_READ_BYTES` each); not a PDF, so it fails.
    let scan: Vec<u8> = (0..2 * openmai_server::FILE_STREAM_READ_BYTES + 7)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(folder.path().join("sub/scan.pdf"), &scan).unwrap();
    let ingested = api(openmai().args(["kb", "ingest", "客服手冊"]).arg(folder.path()));
    let out = stdout(&ingested);
    assert!(out.contains("2 done, 2 failed"), "{out}\n{}", stderr(&ingested));
    assert!(out.contains("failed: empty.txt:") && out.contains("failed: scan.pdf:"), "{out}");
    assert!(!ingested.status.success(), "a failed file makes the command fail");
    let base = server.base.clone();
    let (_, kbs) = get(&format!("{base}/api/v1/knowledge-bases/"), Some(&key));
    let kb = kbs["results"][0]["id"].as_str().unwrap().to_owned();
    let (_, files) = get(&format!("{base}/api/v1/knowledge-bases/{kb}/files/"), Some(&key));
    let file = files["results"].as_array().unwrap().iter().find(|f| f["filename"] == "scan.pdf");
    let file = file.expect("scan.pdf is registered")["id"].as_str().unwrap().to_owned();
    let download = format!("{base}/api/v1/knowledge-bases/{kb}/files/{file}/download/");
    let downloaded = block_on(async {
        let request = reqwest::Client::new().get(download);
        let response = request.header("Authorization", format!("Api-Key {key}")).send().await;
        response.unwrap().bytes().await.unwrap()
    });
    assert!(
        downloaded == scan,
        "the upload arrived whole: {} of {} bytes",
        downloaded.len(),
        scan.len()
    );

    let found = api(openmai().args(["kb", "search", "客服手冊", "退貨規定"]));
    assert!(found.status.success(), "{}", stderr(&found));
    let out = stdout(&found);
    assert!(out.starts_with("1. [") && out.contains("退貨.txt"), "{out}");

    // An assistant answering from it, asked from the terminal and then asked again.
    let assistant = block_on(async {
        let client = reqwest::Client::new();
        let kbs: serde_json::Value = client
            .get(format!("{base}/api/v1/knowledge-bases/"))
            .header("Authorization", format!("Api-Key {key}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let settings: serde_json::Value = client
            .get(format!("{base}/api/v1/chatbot-settings/"))
            .header("Authorization", format!("Api-Key {key}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let created: serde_json::Value = client
            .post(format!("{base}/api/v1/chatbots/"))
            .header("Authorization", format!("Api-Key {key}"))
            .json(&serde_json::json!({"name": "店員", "largeLanguageModel": settings[0]["llms"][0]["id"],
                "rag": settings[0]["id"], "knowledgeBases": [kbs["results"][0]["id"]]}))
            .send().await.unwrap().json().await.unwrap();
        created["name"].as_str().unwrap().to_owned()
    });
    let asked = api(openmai().args(["chat", &assistant, "退貨規定是什麼？"]));
    assert!(asked.status.success(), "{}", stderr(&asked));
    let out = stdout(&asked);
    assert!(
        out.contains("商品到貨七天內可以退貨。[1]") && out.contains("Sources:\n  [1] 退貨.txt"),
        "{out}"
    );
    let conversation = stderr(&asked)
        .lines()
        .find_map(|l| l.strip_prefix("conversation: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no conversation in {}", stderr(&asked)))
        .to_owned();
    let again =
        api(openmai().args(["chat", &assistant, "Shipping?", "--conversation", &conversation]));
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("Orders ship in two days."), "{}", stdout(&again));
    let nobody = api(openmai().args(["chat", "nobody", "hi"]));
    assert!(!nobody.status.success());
    assert!(stderr(&nobody).contains("no assistant is named"), "{}", stderr(&nobody));

    let missing = api(openmai().args(["kb", "search", "nope", "x"]));
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("no knowledge base is named"), "{}", stderr(&missing));
    let unauthorised = run(openmai()
        .args(["kb", "search", "客服手冊", "x"])
        .env("OPENMAI_URL", &server.base)
        .env("OPENMAI_API_KEY", "wrong"));
    assert!(!unauthorised.status.success());
    assert!(stderr(&unauthorised).contains("401"), "{}", stderr(&unauthorised));
}

/// `openmai serve` on a data directory and a database, creating owner@example.com.
fn serve_in(data: &Path, db: &TestDatabase) -> Command {
    let mut command = openmai();
    command
        .arg("serve")
        .args(["--data-dir", &data.display().to_string()])
        .args(["--database-url", &database_arg(db)])
        .env("OPENMAI_ADMIN_EMAIL", "owner@example.com");
    command
}

/// An embedded index whose terms an older analyzer made (its commit records the analyzer
/// version) keeps no text of its own: at start the server hands it every chunk and FAQ entry
/// of the database again, records the current version, and search keeps working.
#[test]
fn an_index_from_an_older_analyzer_is_reanalysed_from_the_database_at_start() {
    let db = TestDatabase::sqlite();
    let data = tempfile::tempdir().unwrap();
    let serve = || serve_in(data.path(), &db);
    let mut server = Server::start(&mut serve());
    let key = banner_key(&server.banner());
    let api = |server: &Server, command: &mut Command| -> Output {
        run(command.env("OPENMAI_URL", &server.base).env("OPENMAI_API_KEY", &key))
    };
    assert!(api(&server, openmai().args(["kb", "create", "手冊"])).status.success());
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(folder.path().join("退貨.txt"), "商品到貨七天內可以退貨。").unwrap();
    let ingested = api(&server, openmai().args(["kb", "ingest", "手冊"]).arg(folder.path()));
    assert!(stdout(&ingested).contains("1 done, 0 failed"), "{}", stderr(&ingested));
    let base = server.base.clone();
    let (_, kbs) = get(&format!("{base}/api/v1/knowledge-bases/"), Some(&key));
    let kb = kbs["results"][0]["id"].as_str().unwrap();
    block_on(async {
        let created = reqwest::Client::new()
            .post(format!("{base}/api/v1/knowledge-bases/{kb}/faqs/"))
            .header("Authorization", format!("Api-Key {key}"))
            .json(&serde_json::json!({"question": "運費多少？", "answer": "滿千免運。"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    });
    let (status, _) = server.terminate();
    assert!(status.success());

    let meta = data.path().join("index/fulltext/meta.json");
    let current = format!("analyzer={}", openmai_index::analyzer::ANALYZER_VERSION);
    let written = std::fs::read_to_string(&meta).unwrap();
    assert!(written.contains(&current), "{written}");
    std::fs::write(&meta, written.replace(&current, "analyzer=0")).unwrap();

    let server = Server::start(&mut serve());
    assert!(
        server
            .log
            .iter()
            .any(|l| l.contains("re-analysed the search index") && l.contains("chunks=2")),
        "{:#?}",
        server.log
    );
    let found = api(&server, openmai().args(["kb", "search", "手冊", "退貨規定"]));
    assert!(stdout(&found).contains("退貨.txt"), "{}", stderr(&found));
    let faq = api(&server, openmai().args(["kb", "search", "手冊", "运费"]));
    assert!(stdout(&faq).contains("運費多少"), "{}{}", stdout(&faq), stderr(&faq));
    let (status, _) = server.terminate();
    assert!(status.success());
    assert!(std::fs::read_to_string(&meta).unwrap().contains(&current));
    // Nothing is left to re-analyse at the next start.
    let server = Server::start(&mut serve());
    assert!(!server.log.iter().any(|l| l.contains("re-analys")), "{:#?}", server.log);
}

/// kill -9 while files are being ingested; after a restart every file reaches `done` and its
/// passages are searchable: nothing lost, nothing stuck in `processing`.
#[test]
fn ingestion_survives_kill_9() {
    for db in TestDatabase::every_engine() {
        let data = tempfile::tempdir().unwrap();
        let serve = || {
            let mut command = serve_in(data.path(), &db);
            command
                .env("OPENMAI_INGEST_WORKERS", "2")
                // PostgreSQL has no "one process owns the queue": a dead worker's job is
                // taken over when its lease runs out.
                .env("OPENMAI_JOB_LEASE_SECONDS", "1");
            command
        };
        let mut server = Server::start(&mut serve());
        let key = banner_key(&server.banner());
        let base = server.base.clone();
        let client = reqwest::Client::new();
        let auth = format!("Api-Key {key}");
        const FILES: usize = 16;

        let kb = block_on(async {
            let kb: serde_json::Value = client
                .post(format!("{base}/api/v1/knowledge-bases/"))
                .header("Authorization", &auth)
                .json(&serde_json::json!({"name": "crash"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let kb = kb["id"].as_str().unwrap().to_owned();
            let mut entries = Vec::new();
            for n in 0..FILES {
                let name = format!("doc{n}.txt");
                // Large enough that parsing takes a moment.
                let text = format!("marker{n}word appears here. ").repeat(20_000);
                let form: serde_json::Value = client
                    .post(format!("{base}/api/v1/upload-presigned-url/"))
                    .header("Authorization", &auth)
                    .json(&serde_json::json!({
                        "filename": name, "modelName": "chatbot-file", "fieldName": "file",
                        "fileSize": text.len()
                    }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let mut multipart = reqwest::multipart::Form::new();
                for (field, value) in form["fields"].as_object().unwrap() {
                    multipart = multipart.text(field.clone(), value.as_str().unwrap().to_owned());
                }
                multipart = multipart.part(
                    "file",
                    reqwest::multipart::Part::bytes(text.into_bytes()).file_name(name.clone()),
                );
                let stored = client
                    .post(form["url"].as_str().unwrap())
                    .multipart(multipart)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(stored.status(), 204);
                entries.push(serde_json::json!({"file": form["fields"]["key"], "filename": name}));
            }
            let registered = client
                .post(format!("{base}/api/v1/knowledge-bases/{kb}/files/"))
                .header("Authorization", &auth)
                .json(&serde_json::json!({ "files": entries }))
                .send()
                .await
                .unwrap();
            assert_eq!(registered.status(), 201);
            // Kill as soon as work is under way.
            loop {
                let page: serde_json::Value = client
                    .get(format!("{base}/api/v1/knowledge-bases/{kb}/files/?pageSize=100"))
                    .header("Authorization", &auth)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if page["results"].as_array().unwrap().iter().any(|f| f["status"] != "initial") {
                    break;
                }
            }
            kb
        });
        server.child.kill().expect("kill -9");
        server.child.wait().unwrap();

        let server = Server::start(&mut serve());
        let base = server.base.clone();
        let statuses = block_on(async {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
            loop {
                let page: serde_json::Value = client
                    .get(format!("{base}/api/v1/knowledge-bases/{kb}/files/?pageSize=100"))
                    .header("Authorization", &auth)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let files = page["results"].as_array().unwrap().clone();
                assert_eq!(files.len(), FILES, "no file is lost");
                if files.iter().all(|f| matches!(f["status"].as_str(), Some("done" | "failed"))) {
                    break files;
                }
                assert!(std::time::Instant::now() < deadline, "files stuck: {page}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        });
        for file in &statuses {
            assert_eq!(file["status"], "done", "{}: {file}", db.engine());
        }
        block_on(async {
            for n in 0..FILES {
                let hits: serde_json::Value = client
                    .post(format!("{base}/api/v1/knowledge-bases/{kb}/search/"))
                    .header("Authorization", &auth)
                    .json(&serde_json::json!({"query": format!("marker{n}word")}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(hits[0]["chatbotFile"]["filename"], format!("doc{n}.txt"), "{hits}");
            }
        });
        assert!(server.terminate().0.success());
    }
}
