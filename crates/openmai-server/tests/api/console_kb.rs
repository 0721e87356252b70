//! The console's knowledge-base pages (知識庫): HTTP tests of every page, form and JSON
//! endpoint on each engine, and one test that drives them in headless Chromium: create a
//! knowledge base, upload a file through the real file input, watch it become 完成, search it.

use std::panic::AssertUnwindSafe;

use fantoccini::{Client, Locator};
use futures::FutureExt;
use openmai_store::testing::TestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::console::{
    ChromeDriver, Visitor, click_and_confirm, eventually, headless_chromium, path_of,
    snapshot as screenshot, texts, wait_for,
};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, each_engine, send};

const NOT_FOUND_TEXT: &str = "找不到此頁面或資料。";

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// A JSON request from the console's own script: session cookie, `X-CSRFToken`.
async fn post_json(
    visitor: &mut Visitor<'_>,
    app: &TestApp,
    path: &str,
    csrf: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(csrf) = csrf {
        request = request.header("X-CSRFToken", csrf);
    }
    let reply = visitor.send(request).await;
    let json = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply.status, json)
}

async fn get_json(visitor: &mut Visitor<'_>, app: &TestApp, path: &str) -> (StatusCode, Value) {
    let reply = visitor.send(app.client.get(app.url(path))).await;
    let json = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply.status, json)
}

/// Uploads a file as the files page's script does and registers it; returns the file.
async fn upload_through_console(
    visitor: &mut Visitor<'_>,
    app: &TestApp,
    csrf: &str,
    kb: &str,
    filename: &str,
    bytes: Vec<u8>,
) -> Value {
    let (status, form) = post_json(
        visitor,
        app,
        &format!("/console/knowledge-bases/{kb}/uploads/presign"),
        Some(csrf),
        json!({"filename": filename, "fileSize": bytes.len()}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{form}");
    let fields: Vec<(String, String)> = form["fields"]
        .as_object()
        .expect("fields")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let key = form["fields"]["key"].as_str().expect("the storage key").to_owned();
    let (status, body) =
        app.post_form(form["url"].as_str().unwrap(), &fields, filename, bytes).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, registered) = post_json(
        visitor,
        app,
        &format!("/console/knowledge-bases/{kb}/uploads/register"),
        Some(csrf),
        json!({"files": [{"file": key, "filename": filename}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    registered["files"][0].clone()
}

#[tokio::test]
async fn console_kb_table_lists_ten_knowledge_bases_a_page() {
    each_engine(|app| async move {
        let bot = app.chatbot("客服助理").await;
        for n in 1..=10 {
            app.kb(&format!("知識庫 {n:02}")).await;
        }
        let (status, linked) = app
            .post(
                "/api/v1/knowledge-bases/",
                json!({"name": "<b>最新</b>", "description": "產品 & 服務", "chatbots": [id(&bot)]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{linked}");
        let mut visitor = Visitor::new(&app);
        visitor.log_in().await;

        let menu = visitor.get("/console/chatbots").await;
        assert!(menu.body.contains(r#"href="/console/knowledge-bases" id="nav-knowledge-bases">知識庫<"#));
        let first = visitor.get("/console/knowledge-bases").await;
        assert_eq!(first.status, StatusCode::OK);
        assert!(first.body.contains(r#"nav-item is-active" href="/console/knowledge-bases""#), "the menu highlights 知識庫");
        for column in ["名稱", "描述", "檔案數", "關聯 AI 助理", "最後更新時間", "操作"] {
            assert!(first.body.contains(&format!("<th>{column}</th>")), "column {column} missing");
        }
        assert_eq!(first.count(r#"data-testid="kb-row""#), 10);
        assert!(first.body.contains("共 11 條資料"));
        // Escaped, newest first, with its description and assistant.
        assert!(first.body.contains("&#60;b&#62;最新&#60;/b&#62;"), "{}", first.body);
        assert!(!first.body.contains("<b>最新</b>"));
        assert!(first.body.contains("產品 &#38; 服務"));
        assert!(first.body.contains(">客服助理<"));
        assert!(first.body.find("最新").unwrap() < first.body.find("知識庫 10").unwrap());
        assert!(!first.body.contains("知識庫 01"));
        assert!(first.body.contains(r#"href="/console/knowledge-bases?page=2""#));
        assert!(first.body.contains(r#"data-confirm="確定要刪除此知識庫嗎？"#), "deleting asks first");

        let second = visitor.get("/console/knowledge-bases?page=2").await;
        assert_eq!(second.count(r#"data-testid="kb-row""#), 1);
        assert!(second.body.contains("知識庫 01"));
        let beyond = visitor.get("/console/knowledge-bases?page=99").await;
        assert_eq!(beyond.status, StatusCode::OK);
        assert!(beyond.body.contains("知識庫 01"), "past the end: the last page");

        let english = visitor.get("/console/knowledge-bases?lang=en").await;
        for text in ["Knowledge bases", "<th>Files</th>", "11 items in total", "Create knowledge base"] {
            assert!(english.body.contains(text), "{text} missing");
        }

        // Signed out: the login page.
        let mut stranger = Visitor::new(&app);
        let guarded = stranger.get("/console/knowledge-bases").await;
        assert_eq!((guarded.status, guarded.location()), (StatusCode::SEE_OTHER, "/console/login"));
    })
    .await;
}

#[tokio::test]
async fn console_kb_forms_create_edit_and_delete() {
    each_engine(|app| async move {
        let bot_a = app.chatbot("助理甲").await;
        let bot_b = app.chatbot("助理乙").await;
        let embedding = app.state.catalog.embedding[0].id.to_string();
        let reranker = app.state.catalog.reranker[0].id.to_string();
        let mut visitor = Visitor::new(&app);
        visitor.log_in().await;
        let csrf = visitor.csrf().await;

        let form = visitor.get("/console/knowledge-bases/new").await;
        assert_eq!(form.status, StatusCode::OK);
        for text in [
            "建立知識庫",
            "檢索段落數",
            "相似度門檻",
            "段落長度（字元）",
            "段落重疊（字元）",
            "嵌入模型",
            "重排序模型",
            "啟用重排序",
            "助理甲",
            "OpenMai Keyword (no embeddings)",
        ] {
            assert!(form.body.contains(text), "{text} missing");
        }
        assert!(
            form.body.contains(
                r#"name="numberOfRetrievedChunks" id="numberOfRetrievedChunks" value="12""#
            ),
            "defaults are shown"
        );

        let (a, b) = (id(&bot_a), id(&bot_b));
        let created = visitor
            .post(
                "/console/knowledge-bases/new",
                &[
                    ("csrf", &csrf),
                    ("name", "  產品手冊  "),
                    ("description", "第一行\r\n第二行"),
                    ("chatbots", &a),
                    ("chatbots", &b),
                    ("numberOfRetrievedChunks", "8"),
                    ("similarityCutoff", "0.25"),
                    ("chunkSize", "600"),
                    ("chunkOverlap", "50"),
                    ("embeddingModel", &embedding),
                    ("rerankerModel", &reranker),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let location = created.location().to_owned();
        let kb = location
            .strip_prefix("/console/knowledge-bases/")
            .and_then(|rest| rest.strip_suffix("?notice=kb-created"))
            .unwrap_or_else(|| panic!("{location}"))
            .to_owned();
        let (status, stored) = app.get(&format!("/api/v1/knowledge-bases/{kb}/")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(stored["name"], "產品手冊");
        assert_eq!(stored["description"], "第一行\n第二行");
        assert_eq!(stored["numberOfRetrievedChunks"], 8);
        assert_eq!(stored["similarityCutoff"], 0.25);
        assert_eq!(
            (stored["chunkSize"].clone(), stored["chunkOverlap"].clone()),
            (json!(600), json!(50))
        );
        assert_eq!(stored["embeddingModel"], embedding.as_str());
        assert_eq!(stored["rerankerModel"], reranker.as_str());
        assert_eq!(stored["enableRerank"], false, "an unticked checkbox is off");
        assert_eq!(stored["chatbots"].as_array().unwrap().len(), 2);

        let page = visitor.get(&location).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("已建立知識庫。"));
        for tab in ["檔案", "常見問題", "標籤", "搜尋測試", "上傳檔案"] {
            assert!(page.body.contains(tab), "{tab} missing");
        }
        assert!(page.body.contains("助理乙, 助理甲") || page.body.contains("助理甲, 助理乙"));

        let edit = visitor.get(&format!("/console/knowledge-bases/{kb}/edit")).await;
        assert!(edit.body.contains(r#"value="產品手冊""#));
        assert!(edit.body.contains(&format!(r#"<option value="{a}" selected>"#)));
        assert!(edit.body.contains(r#"id="chunkSize" value="600""#));
        let updated = visitor
            .post(
                &format!("/console/knowledge-bases/{kb}/edit"),
                &[
                    ("csrf", &csrf),
                    ("name", "產品手冊 v2"),
                    ("description", ""),
                    ("chatbots", &b),
                    ("numberOfRetrievedChunks", "20"),
                    ("similarityCutoff", "0"),
                    ("chunkSize", "1000"),
                    ("chunkOverlap", "100"),
                    ("embeddingModel", ""),
                    ("rerankerModel", ""),
                    ("enableRerank", "true"),
                ],
            )
            .await;
        assert_eq!(
            (updated.status, updated.location()),
            (StatusCode::SEE_OTHER, "/console/knowledge-bases?notice=kb-updated"),
            "{}",
            updated.body
        );
        let (_, stored) = app.get(&format!("/api/v1/knowledge-bases/{kb}/")).await;
        assert_eq!(stored["name"], "產品手冊 v2");
        assert_eq!(stored["description"], Value::Null);
        assert_eq!(stored["chatbots"], json!([{"id": b, "name": "助理乙"}]));
        assert_eq!(
            (stored["numberOfRetrievedChunks"].clone(), stored["chunkSize"].clone()),
            (json!(20), json!(1000))
        );
        assert_eq!(
            (stored["embeddingModel"].clone(), stored["rerankerModel"].clone()),
            (Value::Null, Value::Null)
        );
        assert_eq!(stored["enableRerank"], true);
        let list = visitor.get("/console/knowledge-bases?notice=kb-updated").await;
        assert!(list.body.contains("已更新知識庫。") && list.body.contains("產品手冊 v2"));

        let refused = visitor
            .post(&format!("/console/knowledge-bases/{kb}/delete"), &[("csrf", "nope")])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let deleted = visitor
            .post(&format!("/console/knowledge-bases/{kb}/delete"), &[("csrf", &csrf)])
            .await;
        assert_eq!(deleted.location(), "/console/knowledge-bases?notice=kb-deleted");
        let (status, _) = app.get(&format!("/api/v1/knowledge-bases/{kb}/")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let list = visitor.get("/console/knowledge-bases?notice=kb-deleted").await;
        assert!(list.body.contains("已刪除知識庫。") && list.body.contains("尚無知識庫"));
    })
    .await;
}

#[tokio::test]
async fn console_kb_forms_show_errors_with_the_input_kept() {
    each_engine(|app| async move {
        let other = app.tenant("other@example.com").await;
        let (llm, rag) = app.default_models().await;
        let (status, theirs) = send(
            app.request_as(&other.key, Method::POST, "/api/v1/chatbots/")
                .json(&json!({"name": "Theirs", "largeLanguageModel": llm, "rag": rag})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let mut visitor = Visitor::new(&app);
        visitor.log_in().await;
        let csrf = visitor.csrf().await;
        let fields = |name: &'static str, size: &'static str, overlap: &'static str| {
            vec![
                ("name", name),
                ("description", "保留 <這段>"),
                ("numberOfRetrievedChunks", "0"),
                ("similarityCutoff", "2"),
                ("chunkSize", size),
                ("chunkOverlap", overlap),
                ("embeddingModel", "not-a-model"),
                ("rerankerModel", ""),
            ]
        };

        let mut sent = vec![("csrf", csrf.as_str())];
        sent.extend(fields("   ", "50", "x"));
        let blank = visitor.post("/console/knowledge-bases/new", &sent).await;
        assert_eq!(blank.status, StatusCode::BAD_REQUEST);
        for message in [
            "請修正下列欄位後再送出。",
            "此欄位不可為空白。",
            "請輸入不小於 1 的數值。",
            "請輸入不大於 1 的數值。",
            "請輸入不小於 100 的數值。",
            "請輸入整數。",
            "所選項目不存在。",
        ] {
            assert!(blank.body.contains(message), "{message} missing: {}", blank.body);
        }
        assert!(
            blank.body.contains("保留 &#60;這段&#62;</textarea>"),
            "the input is kept, escaped"
        );
        assert!(blank.body.contains(r#"id="chunkSize" value="50""#));
        let (_, list) = app.get("/api/v1/knowledge-bases/").await;
        assert_eq!(list["count"], 0, "nothing was created");

        // The overlap is checked once the rest is valid, as the API does.
        let overlap = visitor
            .post(
                "/console/knowledge-bases/new",
                &[
                    ("csrf", &csrf),
                    ("name", "重疊"),
                    ("chunkSize", "200"),
                    ("chunkOverlap", "150"),
                    ("numberOfRetrievedChunks", "5"),
                    ("similarityCutoff", "0"),
                ],
            )
            .await;
        assert_eq!(overlap.status, StatusCode::BAD_REQUEST);
        assert!(overlap.body.contains("段落重疊不可超過段落長度的一半。"), "{}", overlap.body);
        assert!(overlap.body.contains(r#"data-testid="error-chunkOverlap""#));

        // Another tenant's assistant cannot be linked.
        let foreign = id(&theirs);
        let linked = visitor
            .post(
                "/console/knowledge-bases/new",
                &[
                    ("csrf", &csrf),
                    ("name", "連結"),
                    ("chatbots", &foreign),
                    ("numberOfRetrievedChunks", "5"),
                    ("similarityCutoff", "0"),
                    ("chunkSize", "800"),
                    ("chunkOverlap", "100"),
                ],
            )
            .await;
        assert_eq!(linked.status, StatusCode::BAD_REQUEST);
        assert!(
            linked.body.contains(r#"data-testid="error-chatbots">所選項目不存在。"#),
            "{}",
            linked.body
        );

        // English messages in English.
        let english = visitor
            .post(
                "/console/knowledge-bases/new?lang=en",
                &[
                    ("csrf", &csrf),
                    ("name", "x"),
                    ("numberOfRetrievedChunks", "500"),
                    ("similarityCutoff", "0"),
                    ("chunkSize", "800"),
                    ("chunkOverlap", "100"),
                ],
            )
            .await;
        assert!(english.body.contains("Enter a value no greater than 100."), "{}", english.body);
        // `?lang=` is remembered (a cookie); choose Chinese again.
        visitor.get("/console/knowledge-bases?lang=zh-TW").await;

        let kb = id(&app.kb("原名").await);
        let edit = visitor
            .post(
                &format!("/console/knowledge-bases/{kb}/edit"),
                &[("csrf", &csrf), ("name", ""), ("chunkSize", "9000")],
            )
            .await;
        assert_eq!(edit.status, StatusCode::BAD_REQUEST);
        assert!(
            edit.body.contains("此欄位不可為空白。")
                && edit.body.contains("請輸入不大於 8000 的數值。")
        );
        let (_, stored) = app.get(&format!("/api/v1/knowledge-bases/{kb}/")).await;
        assert_eq!(stored["name"], "原名");
    })
    .await;
}

#[tokio::test]
async fn console_kb_posts_need_csrf_and_other_tenants_are_not_found() {
    each_engine(|app| async move {
        let other = app.tenant("other@example.com").await;
        let (status, theirs) = send(
            app.request_as(&other.key, Method::POST, "/api/v1/knowledge-bases/")
                .json(&json!({"name": "Theirs"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let theirs = id(&theirs);
        let key = app.upload_as(&other.key, "theirs.txt", b"secret".to_vec()).await;
        let (status, their_files) = send(
            app.request_as(
                &other.key,
                Method::POST,
                &format!("/api/v1/knowledge-bases/{theirs}/files/"),
            )
            .json(&json!({"files": [{"file": key, "filename": "theirs.txt"}]})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let their_file = id(&their_files[0]);
        let mine = id(&app.kb("Mine").await);

        let mut visitor = Visitor::new(&app);
        visitor.log_in().await;
        let csrf = visitor.csrf().await;

        // CSRF: forms and the upload endpoints.
        let missing = visitor.post("/console/knowledge-bases/new", &[("name", "x")]).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN);
        assert!(missing.body.contains("安全性檢查未通過"));
        for path in [
            format!("/console/knowledge-bases/{mine}/delete"),
            format!("/console/knowledge-bases/{mine}/labels"),
            format!("/console/knowledge-bases/{mine}/faqs/new"),
            format!("/console/knowledge-bases/{mine}/search"),
        ] {
            let reply = visitor
                .post(
                    &path,
                    &[
                        ("csrf", "wrong"),
                        ("name", "x"),
                        ("question", "q"),
                        ("answer", "a"),
                        ("query", "q"),
                    ],
                )
                .await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        }
        let cross_site = visitor
            .post_from(
                &format!("/console/knowledge-bases/{mine}/labels"),
                &[("csrf", &csrf), ("name", "x")],
                Some("https://evil.example"),
            )
            .await;
        assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
        let presign = format!("/console/knowledge-bases/{mine}/uploads/presign");
        let body = json!({"filename": "a.txt", "fileSize": 3});
        let (status, refused) = post_json(&mut visitor, &app, &presign, None, body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
        assert!(refused["detail"].as_str().unwrap().starts_with("CSRF Failed"), "{refused}");
        let (status, _) =
            post_json(&mut visitor, &app, &presign, Some("wrong"), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let mut stranger = Visitor::new(&app);
        let (status, anonymous) =
            post_json(&mut stranger, &app, &presign, Some(&csrf), body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{anonymous}");
        let (_, labels) = app.get(&format!("/api/v1/knowledge-bases/{mine}/labels/")).await;
        assert_eq!(labels["count"], 0, "nothing was written");

        // Another tenant's knowledge base, file and ids that name nothing: 404 pages.
        let nil = uuid::Uuid::nil();
        for path in [
            format!("/console/knowledge-bases/{theirs}"),
            format!("/console/knowledge-bases/{theirs}/edit"),
            format!("/console/knowledge-bases/{theirs}/faqs"),
            format!("/console/knowledge-bases/{theirs}/faqs/new"),
            format!("/console/knowledge-bases/{theirs}/labels"),
            format!("/console/knowledge-bases/{theirs}/search"),
            format!("/console/knowledge-bases/{theirs}/files/{their_file}"),
            format!("/console/knowledge-bases/{mine}/files/{their_file}"),
            format!("/console/knowledge-bases/{mine}/faqs/{nil}/edit"),
            format!("/console/knowledge-bases/{nil}"),
            "/console/knowledge-bases/not-a-uuid".to_owned(),
            format!("/console/knowledge-bases/{mine}/files/not-a-uuid"),
        ] {
            let reply = visitor.get(&path).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
            assert!(reply.body.contains(NOT_FOUND_TEXT), "{path}");
        }
        for path in [
            format!("/console/knowledge-bases/{theirs}/delete"),
            format!("/console/knowledge-bases/{theirs}/labels"),
            format!("/console/knowledge-bases/{mine}/files/{their_file}/delete"),
            format!("/console/knowledge-bases/{mine}/files/{their_file}/reparse"),
            format!("/console/knowledge-bases/{mine}/labels/{nil}/delete"),
        ] {
            let reply = visitor.post(&path, &[("csrf", &csrf), ("name", "x")]).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        }
        let (status, _) = post_json(
            &mut visitor,
            &app,
            &format!("/console/knowledge-bases/{theirs}/uploads/presign"),
            Some(&csrf),
            body,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = get_json(
            &mut visitor,
            &app,
            &format!("/console/knowledge-bases/{theirs}/files/status?ids={their_file}"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, states) = get_json(
            &mut visitor,
            &app,
            &format!("/console/knowledge-bases/{mine}/files/status?ids={their_file}"),
        )
        .await;
        assert_eq!(
            (status, states),
            (StatusCode::OK, json!({"files": []})),
            "their file is not in my knowledge base"
        );
        // Their upload key cannot be registered in mine.
        let (status, refused) = post_json(
            &mut visitor,
            &app,
            &format!("/console/knowledge-bases/{mine}/uploads/register"),
            Some(&csrf),
            json!({"files": [{"file": key, "filename": "theirs.txt"}]}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            refused["files"][0]["file"][0]
                .as_str()
                .unwrap()
                .starts_with("No uploaded file has this key"),
            "{refused}"
        );

        let (status, kb) = send(app.request_as(
            &other.key,
            Method::GET,
            &format!("/api/v1/knowledge-bases/{theirs}/"),
        ))
        .await;
        assert_eq!(status, StatusCode::OK, "another tenant's knowledge base is untouched");
        assert_eq!(kb["filesCount"], 1);
    })
    .await;
}

#[tokio::test]
async fn console_kb_files_are_uploaded_followed_parsed_again_and_deleted() {
    each_engine(|app| async move {
        let kb = id(&app.kb("檔案").await);
        let mut visitor = Visitor::new(&app);
        visitor.log_in().await;
        let csrf = visitor.csrf().await;

        let empty = visitor.get(&format!("/console/knowledge-bases/{kb}")).await;
        assert_eq!(empty.status, StatusCode::OK);
        for column in
            ["檔名", "類型", "大小", "狀態", "失敗原因", "區塊數", "標籤", "上傳時間", "操作"]
        {
            assert!(empty.body.contains(&format!("<th>{column}</th>")), "column {column} missing");
        }
        assert!(empty.body.contains("尚無檔案") && empty.body.contains("共 0 條資料"));
        assert!(empty.body.contains(r#"accept=".pdf,.docx,"#), "the file input lists the formats");
        assert!(empty.body.contains(&format!(r#"data-csrf="{csrf}""#)));
        assert!(!empty.body.contains("data-pending"));

        // The upload endpoints validate as upload-presigned-url/ does.
        let presign = format!("/console/knowledge-bases/{kb}/uploads/presign");
        let (status, refused) = post_json(
            &mut visitor,
            &app,
            &presign,
            Some(&csrf),
            json!({"filename": "virus.exe", "fileSize": 3}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            refused["filename"][0]
                .as_str()
                .unwrap()
                .starts_with(r#"Files of type ".exe" cannot be uploaded"#),
            "{refused}"
        );
        let too_big = app.state.config.max_upload_bytes + 1;
        let (status, refused) = post_json(
            &mut visitor,
            &app,
            &presign,
            Some(&csrf),
            json!({"filename": "a.txt", "fileSize": too_big}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(refused["fileSize"].is_array(), "{refused}");
        let register = format!("/console/knowledge-bases/{kb}/uploads/register");
        let (status, refused) =
            post_json(&mut visitor, &app, &register, Some(&csrf), json!({"files": []})).await;
        assert_eq!(
            (status, refused),
            (StatusCode::BAD_REQUEST, json!({"files": ["This list may not be empty."]}))
        );

        let text = "退票規定：演出前七天可以全額退票，之後酌收百分之十手續費。";
        let file = upload_through_console(
            &mut visitor,
            &app,
            &csrf,
            &kb,
            "退票規定.txt",
            text.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(file["filename"], "退票規定.txt");
        assert!(
            matches!(file["status"].as_str(), Some("initial" | "processing" | "done")),
            "{file}"
        );
        let file_id = id(&file);
        let listed = visitor.get(&format!("/console/knowledge-bases/{kb}")).await;
        assert!(listed.body.contains("退票規定.txt") && listed.body.contains("共 1 條資料"));

        let settled = app.settle(&kb, &file_id).await;
        assert_eq!(settled["status"], "done", "{settled}");
        let status_url =
            format!("/console/knowledge-bases/{kb}/files/status?ids={file_id},not-an-id");
        let (status, states) = get_json(&mut visitor, &app, &status_url).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(states["files"][0]["status"], "done", "{states}");
        assert_eq!(states["files"][0]["statusLabel"], "完成");
        assert!(states["files"][0]["chunksCount"].as_i64().unwrap() >= 1);
        let (_, english) = get_json(&mut visitor, &app, &format!("{status_url}&lang=en")).await;
        assert_eq!(english["files"][0]["statusLabel"], "Done");
        // `?lang=` is remembered (a cookie); choose Chinese again.
        visitor.get("/console/knowledge-bases?lang=zh-TW").await;

        let page = visitor.get(&format!("/console/knowledge-bases/{kb}")).await;
        assert!(
            page.body.contains(
                r#"<span class="badge status-done" data-testid="file-status">完成</span>"#
            ),
            "{}",
            page.body
        );
        assert!(page.body.contains(r#"<span class="tag">txt</span>"#));

        // A file that cannot be parsed fails with its reason shown.
        let broken = app.ingest(&kb, "empty.txt", Vec::new()).await;
        assert_eq!(broken["status"], "failed");
        let page = visitor.get(&format!("/console/knowledge-bases/{kb}")).await;
        assert!(page.body.contains(">失敗</span>"));
        assert!(page.body.contains("The file is empty (0 bytes)."), "{}", page.body);

        // The file's page: its chunks, 10 a page, and its labels.
        let (status, label) = app
            .post(&format!("/api/v1/knowledge-bases/{kb}/labels/"), json!({"name": "票務"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let chunks = visitor.get(&format!("/console/knowledge-bases/{kb}/files/{file_id}")).await;
        assert_eq!(chunks.status, StatusCode::OK);
        for column in ["頁碼", "標題", "內容", "字元數"] {
            assert!(chunks.body.contains(&format!("<th>{column}</th>")), "column {column} missing");
        }
        assert!(chunks.body.contains("演出前七天可以全額退票"), "{}", chunks.body);
        assert!(chunks.count(r#"data-testid="chunk-row""#) >= 1);
        assert!(
            chunks.body.contains(&format!(r#"value="{}">"#, id(&label)))
                && chunks.body.contains("票務")
        );
        let label_id = id(&label);
        let saved = visitor
            .post(
                &format!("/console/knowledge-bases/{kb}/files/{file_id}/labels"),
                &[("csrf", &csrf), ("labels", &label_id), ("labels", "junk")],
            )
            .await;
        assert_eq!(
            saved.location(),
            format!("/console/knowledge-bases/{kb}/files/{file_id}?notice=labels-saved")
        );
        let (_, stored) = app.get(&format!("/api/v1/knowledge-bases/{kb}/files/{file_id}/")).await;
        assert_eq!(stored["labels"], json!([{"id": label_id, "name": "票務"}]));
        let page = visitor.get(&format!("/console/knowledge-bases/{kb}")).await;
        assert!(page.body.contains(r#"data-testid="file-labels">票務<"#));

        // Parse again: queued, then done again.
        let reparsed = visitor
            .post(
                &format!("/console/knowledge-bases/{kb}/files/{file_id}/reparse"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(
            reparsed.location(),
            format!("/console/knowledge-bases/{kb}?notice=file-reparsed")
        );
        let page = visitor.get(reparsed.location()).await;
        assert!(page.body.contains("已重新排入解析。"));
        assert_eq!(app.settle(&kb, &file_id).await["status"], "done");

        let deleted = visitor
            .post(
                &format!("/console/knowledge-bases/{kb}/files/{file_id}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(
            deleted.location(),
            format!("/console/knowledge-bases/{kb}?notice=file-deleted")
        );
        let (status, _) = app.get(&format!("/api/v1/knowledge-bases/{kb}/files/{file_id}/")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let again = visitor
            .post(
                &format!("/console/knowledge-bases/{kb}/files/{file_id}/delete"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        let page = visitor.get(deleted.location()).await;
        assert!(
            page.body.contains("已刪除檔案。") && page.body.contains("共 1 條資料"),
            "{}",
            page.body
        );
    })
    .await;
}

#[tokio::test]
async fn console_kb_labels_and_faqs_are_managed_on_their_tabs() {
    each_engine(|app| async move {
        let kb = id(&app.kb("問答").await);
        let mut visitor = Visitor::new(&app);
        visitor.log_in().await;
        let csrf = visitor.csrf().await;
        let labels_path = format!("/console/knowledge-bases/{kb}/labels");

        let empty = visitor.get(&labels_path).await;
        assert!(empty.body.contains("尚無標籤") && empty.body.contains("新增標籤"));
        let added = visitor.post(&labels_path, &[("csrf", &csrf), ("name", " 退票 ")]).await;
        assert_eq!(added.location(), format!("{labels_path}?notice=label-created"));
        visitor.post(&labels_path, &[("csrf", &csrf), ("name", "<i>會員</i>")]).await;
        let taken = visitor.post(&labels_path, &[("csrf", &csrf), ("name", "退票")]).await;
        assert_eq!(taken.status, StatusCode::BAD_REQUEST);
        assert!(taken.body.contains("此知識庫已有同名的標籤。"), "{}", taken.body);
        assert!(taken.body.contains(r#"id="label-name" value="退票""#), "the input is kept");
        let blank = visitor.post(&labels_path, &[("csrf", &csrf), ("name", "  ")]).await;
        assert!(
            blank.status == StatusCode::BAD_REQUEST && blank.body.contains("此欄位不可為空白。")
        );

        let (_, labels) = app.get(&format!("/api/v1/knowledge-bases/{kb}/labels/")).await;
        assert_eq!(labels["count"], 2);
        let refund = labels["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "退票")
            .unwrap()
            .clone();
        let member = labels["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "<i>會員</i>")
            .unwrap()
            .clone();
        let page = visitor.get(&labels_path).await;
        assert!(page.body.contains("&#60;i&#62;會員&#60;/i&#62;"));
        let rename = format!("{labels_path}/{}/rename", id(&refund));
        let clash = visitor.post(&rename, &[("csrf", &csrf), ("name", "<i>會員</i>")]).await;
        assert_eq!(clash.status, StatusCode::BAD_REQUEST);
        assert!(
            clash.body.contains(r#"data-testid="error-rename">此知識庫已有同名的標籤。"#),
            "{}",
            clash.body
        );
        let renamed = visitor.post(&rename, &[("csrf", &csrf), ("name", "退款")]).await;
        assert_eq!(renamed.location(), format!("{labels_path}?notice=label-renamed"));

        // FAQs, with labels.
        let faqs_path = format!("/console/knowledge-bases/{kb}/faqs");
        assert!(visitor.get(&faqs_path).await.body.contains("尚無常見問題"));
        let form = visitor.get(&format!("{faqs_path}/new")).await;
        assert!(form.body.contains("退款") && form.body.contains(r#"name="labels""#));
        let invalid = visitor
            .post(
                &format!("{faqs_path}/new"),
                &[("csrf", &csrf), ("question", " "), ("answer", "留著 <我>")],
            )
            .await;
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
        assert!(invalid.body.contains(r#"data-testid="error-question">此欄位不可為空白。"#));
        assert!(invalid.body.contains("留著 &#60;我&#62;</textarea>"));
        let refund_id = id(&refund);
        let created = visitor
            .post(
                &format!("{faqs_path}/new"),
                &[
                    ("csrf", &csrf),
                    ("question", "可以退款嗎？"),
                    ("answer", "演出前七天\r\n可以全額退款。"),
                    ("labels", &refund_id),
                ],
            )
            .await;
        assert_eq!(
            created.location(),
            format!("{faqs_path}?notice=faq-created"),
            "{}",
            created.body
        );
        let (_, faqs) = app.get(&format!("/api/v1/knowledge-bases/{kb}/faqs/")).await;
        assert_eq!(faqs["count"], 1);
        let faq = faqs["results"][0].clone();
        assert_eq!(faq["answer"], "演出前七天\n可以全額退款。");
        assert_eq!(faq["labels"], json!([{"id": refund_id, "name": "退款"}]));
        let list = visitor.get(&format!("{faqs_path}?notice=faq-created")).await;
        assert!(list.body.contains("已新增常見問題。") && list.body.contains("可以退款嗎？"));
        assert!(list.body.contains(r#"data-testid="faq-labels">退款<"#));
        for column in ["問題", "答案", "標籤", "命中次數"] {
            assert!(list.body.contains(&format!("<th>{column}</th>")), "column {column} missing");
        }

        let edit_path = format!("{faqs_path}/{}/edit", id(&faq));
        let edit = visitor.get(&edit_path).await;
        assert!(edit.body.contains("可以退款嗎？</textarea>"));
        assert!(edit.body.contains(&format!(r#"value="{refund_id}" checked"#)));
        let member_id = id(&member);
        let saved = visitor
            .post(
                &edit_path,
                &[
                    ("csrf", &csrf),
                    ("question", "怎麼退款？"),
                    ("answer", "請聯絡客服。"),
                    ("labels", &member_id),
                ],
            )
            .await;
        assert_eq!(saved.location(), format!("{faqs_path}?notice=faq-updated"));
        let (_, stored) =
            app.get(&format!("/api/v1/knowledge-bases/{kb}/faqs/{}/", id(&faq))).await;
        assert_eq!(stored["question"], "怎麼退款？");
        assert_eq!(stored["labels"][0]["id"], member_id.as_str());

        // Deleting a label takes it off the FAQ.
        let dropped =
            visitor.post(&format!("{labels_path}/{member_id}/delete"), &[("csrf", &csrf)]).await;
        assert_eq!(dropped.location(), format!("{labels_path}?notice=label-deleted"));
        let (_, stored) =
            app.get(&format!("/api/v1/knowledge-bases/{kb}/faqs/{}/", id(&faq))).await;
        assert_eq!(stored["labels"], json!([]));

        let deleted =
            visitor.post(&format!("{faqs_path}/{}/delete", id(&faq)), &[("csrf", &csrf)]).await;
        assert_eq!(deleted.location(), format!("{faqs_path}?notice=faq-deleted"));
        let again =
            visitor.post(&format!("{faqs_path}/{}/delete", id(&faq)), &[("csrf", &csrf)]).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        let (_, faqs) = app.get(&format!("/api/v1/knowledge-bases/{kb}/faqs/")).await;
        assert_eq!(faqs["count"], 0);
    })
    .await;
}

#[tokio::test]
async fn console_kb_search_test_shows_passages_and_faqs() {
    each_engine(|app| async move {
        let kb = id(&app.kb("搜尋").await);
        let file = app
            .ingest(
                &kb,
                "高鐵.txt",
                "台灣高鐵的退票規定：開車前可以免費退票，開車後需要支付手續費。"
                    .as_bytes()
                    .to_vec(),
            )
            .await;
        assert_eq!(file["status"], "done", "{file}");
        let (status, _) = app
            .post(
                &format!("/api/v1/knowledge-bases/{kb}/faqs/"),
                json!({"question": "退票要手續費嗎？", "answer": "開車前退票免手續費。"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let mut visitor = Visitor::new(&app);
        visitor.log_in().await;
        let csrf = visitor.csrf().await;
        let path = format!("/console/knowledge-bases/{kb}/search");

        let form = visitor.get(&path).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(
            form.body.contains("搜尋測試") && form.body.contains(r#"id="search-limit" value="12""#)
        );
        assert!(!form.body.contains(r#"data-testid="search-results""#));

        let results = visitor
            .post(&path, &[("csrf", &csrf), ("query", "退票規定"), ("numberOfRetrievedChunks", "")])
            .await;
        assert_eq!(results.status, StatusCode::OK, "{}", results.body);
        assert!(results.body.contains(r#"data-testid="search-results""#));
        assert!(results.body.contains("開車前可以免費退票"), "{}", results.body);
        assert!(results.body.contains(&format!(
            r#"href="/console/knowledge-bases/{kb}/files/{}" data-testid="hit-file">高鐵.txt<"#,
            id(&file)
        )));
        assert!(
            results.body.contains(r#"data-kind="faq""#)
                && results.body.contains("退票要手續費嗎？")
        );
        assert!(
            results.body.contains(r#"data-testid="hit-score">0."#)
                || results.body.contains(r#"data-testid="hit-score">1.000"#)
        );
        assert!(results.body.contains("找到 2 筆結果"), "{}", results.body);
        assert!(
            results.body.contains(r#"id="search-query" value="退票規定""#),
            "the query is kept"
        );

        let limited = visitor
            .post(
                &path,
                &[("csrf", &csrf), ("query", "退票規定"), ("numberOfRetrievedChunks", "1")],
            )
            .await;
        assert_eq!(limited.count(r#"data-testid="hit""#), 1);
        let nothing = visitor.post(&path, &[("csrf", &csrf), ("query", "股票投資")]).await;
        assert!(nothing.body.contains("沒有符合的段落或常見問題。"));

        let blank = visitor
            .post(&path, &[("csrf", &csrf), ("query", " "), ("numberOfRetrievedChunks", "0")])
            .await;
        assert_eq!(blank.status, StatusCode::BAD_REQUEST);
        assert!(blank.body.contains(r#"data-testid="error-query">此欄位不可為空白。"#));
        assert!(blank.body.contains(r#"data-testid="error-limit">請輸入不小於 1 的數值。"#));
    })
    .await;
}

// --- The browser test -------------------------------------------------------------------

/// Parsing and indexing a small file takes a moment; allow more than one step.
const INGESTION: std::time::Duration = std::time::Duration::from_secs(90);

#[tokio::test]
async fn console_kb_a_browser_creates_a_knowledge_base_uploads_a_file_and_searches_it() {
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    let client = headless_chromium(&driver, profile.path()).await;
    let outcome = AssertUnwindSafe(browse(&client, &app, files.path())).catch_unwind().await;
    let _ = client.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// The text of the first element matching `css`, or empty.
async fn text_of(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(element) => element.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn browse(client: &Client, app: &TestApp, dir: &std::path::Path) {
    client.goto(&app.url("/console/login")).await.unwrap();
    wait_for(client, "#login-form").await;
    client.find(Locator::Id("email")).await.unwrap().send_keys(ADMIN_EMAIL).await.unwrap();
    client.find(Locator::Id("password")).await.unwrap().send_keys(ADMIN_PASSWORD).await.unwrap();
    client.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="chatbots-table"]"#).await;

    // 知識庫, empty; create one.
    client.find(Locator::Id("nav-knowledge-bases")).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="kbs-table"]"#).await;
    assert_eq!(path_of(client).await, "/console/knowledge-bases");
    assert_eq!(text_of(client, r#"[data-testid="total"]"#).await, "共 0 條資料");
    client.find(Locator::Id("create-kb")).await.unwrap().click().await.unwrap();
    let name = wait_for(client, "#kb-form #name").await;
    name.send_keys("瀏覽器知識庫").await.unwrap();
    client.find(Locator::Id("description")).await.unwrap().send_keys("票務常見規定").await.unwrap();
    screenshot(client, "kb-01-new").await;
    client.find(Locator::Id("kb-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="uploader"]"#).await;
    assert_eq!(text_of(client, r#"[data-testid="notice"]"#).await, "已建立知識庫。");
    assert_eq!(text_of(client, r#"[data-testid="kb-title"]"#).await, "瀏覽器知識庫");
    assert_eq!(text_of(client, "#tab-files").await, "檔案");

    // Upload through the real file input; the progress bar fills, the row appears.
    let path = dir.join("refund-policy.txt");
    std::fs::write(&path, "退票規定：演出前七天可以全額退票，之後酌收百分之十的手續費。").unwrap();
    let input = client.find(Locator::Id("file-input")).await.unwrap();
    input.send_keys(&path.display().to_string()).await.unwrap();
    eventually("the upload to finish", || async {
        text_of(client, r#"[data-testid="upload-state"]"#).await == "已上傳"
    })
    .await;
    // A numeric property: fantoccini's `prop` only reads strings.
    let progress = client
        .execute(
            r#"return document.querySelector('[data-testid="upload-progress"]').value"#,
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(progress, serde_json::json!(100));
    eventually("the file to appear in the table", || async {
        texts(client, r#"[data-testid="file-name"]"#).await == ["refund-policy.txt"]
    })
    .await;
    screenshot(client, "kb-02-uploaded").await;

    // The status turns 完成 without reloading the page.
    let marker = client.execute("window.__sameDocument = true; return true;", vec![]).await;
    assert!(marker.is_ok());
    let deadline = tokio::time::Instant::now() + INGESTION;
    loop {
        let status = text_of(client, r#"[data-testid="file-status"]"#).await;
        if status == "完成" {
            break;
        }
        assert_ne!(
            status,
            "失敗",
            "{}",
            text_of(client, r#"[data-testid="file-failed-reason"]"#).await
        );
        assert!(tokio::time::Instant::now() < deadline, "the file did not become 完成: {status}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let same = client.execute("return window.__sameDocument === true;", vec![]).await.unwrap();
    assert_eq!(same, json!(true), "the page was not reloaded");
    let chunks: i64 = text_of(client, r#"[data-testid="file-chunks"]"#).await.parse().unwrap();
    assert!(chunks >= 1);
    screenshot(client, "kb-03-done").await;

    // The chunk viewer.
    client.find(Locator::Css(r#"[data-testid="file-name"]"#)).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="chunks-table"]"#).await;
    let passages = texts(client, r#"[data-testid="chunk-text"]"#).await;
    assert!(passages.iter().any(|p| p.contains("演出前七天可以全額退票")), "{passages:?}");
    screenshot(client, "kb-04-chunks").await;

    // The search test finds the passage.
    client.find(Locator::Id("tab-search")).await.unwrap().click().await.unwrap();
    let query = wait_for(client, "#search-query").await;
    query.send_keys("退票規定").await.unwrap();
    client.find(Locator::Id("search-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="hit"]"#).await;
    let found = texts(client, r#"[data-testid="hit-text"]"#).await;
    assert!(found[0].contains("演出前七天可以全額退票"), "{found:?}");
    assert_eq!(text_of(client, r#"[data-testid="hit-file"]"#).await, "refund-policy.txt");
    let score: f64 = text_of(client, r#"[data-testid="hit-score"]"#).await.parse().unwrap();
    assert!(score > 0.0 && score <= 1.0, "{score}");
    screenshot(client, "kb-05-search").await;

    // Back on the files tab: delete the file, after confirming.
    client.find(Locator::Id("tab-files")).await.unwrap().click().await.unwrap();
    let delete = wait_for(client, r#"[data-testid="delete-file"]"#).await;
    click_and_confirm(client, &delete).await;
    wait_for(client, r#"[data-testid="notice"]"#).await;
    assert_eq!(text_of(client, r#"[data-testid="notice"]"#).await, "已刪除檔案。");
    assert!(texts(client, r#"[data-testid="file-name"]"#).await.is_empty());
}
