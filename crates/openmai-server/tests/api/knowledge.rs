//! Knowledge bases, their labels and FAQs (`knowledge-bases/…`, `chatbots/{id}/faqs/…`,
//! `faqs/`), on every engine.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{each_engine, is_timestamp, is_uuid, keys, status_and_body};
use crate::snapshot;

#[tokio::test]
async fn knowledge_base_crud_with_snake_case_fields_and_defaults() {
    each_engine(|app| async move {
        // The example clients send snake_case and always `chatbots: []`.
        let (status, kb) = app
            .post(
                "/api/v1/knowledge-bases/",
                json!({
                    "name": "產品手冊", "description": "說明書",
                    "number_of_retrieved_chunks": 5, "sentence_window_size": 1,
                    "enable_hyde": false, "similarity_cutoff": 0.25, "enable_rerank": false,
                    "embedding_model": null, "reranker_model": null, "chatbots": []
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{kb}");
        snapshot!(keys(&kb), @"chatbots,chunkOverlap,chunkSize,createdAt,description,embeddingModel,enableHyde,enableRerank,filesCount,id,name,numberOfRetrievedChunks,rerankerModel,retrievalMode,sentenceWindowSize,similarityCutoff,updatedAt");
        assert!(is_uuid(&kb["id"]) && is_timestamp(&kb["createdAt"]));
        assert_eq!(kb["numberOfRetrievedChunks"], 5);
        assert_eq!(kb["similarityCutoff"], 0.25);
        assert_eq!(kb["enableRerank"], false);
        assert_eq!(kb["retrievalMode"], "keyword");
        assert_eq!(kb["filesCount"], 0);
        let id = kb["id"].as_str().unwrap().to_owned();

        // Defaults of a bare create.
        let bare = app.kb("空的").await;
        assert_eq!(bare["numberOfRetrievedChunks"], 12);
        assert_eq!(bare["sentenceWindowSize"], 2);
        assert_eq!(bare["enableRerank"], true);
        assert_eq!(bare["chunkSize"], 800);
        assert_eq!(bare["chunkOverlap"], 100);

        // PUT is partial: the clients send only what changes.
        let (status, updated) = app
            .put(&format!("/api/v1/knowledge-bases/{id}/"), json!({"description": "新版"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["name"], "產品手冊");
        assert_eq!(updated["description"], "新版");
        assert_eq!(updated["numberOfRetrievedChunks"], 5);
        let (status, patched) = app
            .patch(&format!("/api/v1/knowledge-bases/{id}"), json!({"chunkSize": 400, "chunk_overlap": 50}))
            .await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!((patched["chunkSize"].clone(), patched["chunkOverlap"].clone()), (json!(400), json!(50)));

        let (status, one) = app.get(&format!("/api/knowledge-bases/{id}/")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(one["description"], "新版");

        // Listed newest first, paginated.
        let (status, page) = app.get("/api/v1/knowledge-bases/?page_size=1").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["count"], 2);
        assert_eq!(page["results"][0]["name"], "空的");
        assert!(page["next"].as_str().unwrap().ends_with("page=2&page_size=1"), "{page}");

        let (status, body) = app.delete(&format!("/api/v1/knowledge-bases/{id}/")).await;
        assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
        let (status, body) = app.get(&format!("/api/v1/knowledge-bases/{id}/")).await;
        snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Not found."}"#);
    })
    .await;
}

#[tokio::test]
async fn knowledge_base_validation_errors_read_as_drf_writes_them() {
    each_engine(|app| async move {
        let text = app.raw(Method::POST, "/api/v1/knowledge-bases/", json!({})).await;
        snapshot!(text, @r#"400 {"name":["This field is required."]}"#);
        let text = app
            .raw(
                Method::POST,
                "/api/v1/knowledge-bases/",
                json!({
                    "name": "", "number_of_retrieved_chunks": 0, "similarity_cutoff": 2,
                    "enable_rerank": "maybe", "embedding_model": "not-a-uuid",
                    "chatbots": ["00000000-0000-0000-0000-000000000000"]
                }),
            )
            .await;
        snapshot!(text, @r#"400 {"name":["This field may not be blank."],"embeddingModel":["Must be a valid UUID."],"numberOfRetrievedChunks":["Ensure this value is greater than or equal to 1."],"similarityCutoff":["Ensure this value is less than or equal to 1.0."],"enableRerank":["Must be a valid boolean."],"chatbots":["Invalid pk \"00000000-0000-0000-0000-000000000000\" - object does not exist."]}"#);
        let text = app
            .raw(Method::POST, "/api/v1/knowledge-bases/", json!({"name": "x", "chunkSize": 200, "chunkOverlap": 150}))
            .await;
        snapshot!(text, @r#"400 {"chunkOverlap":["Ensure the overlap is at most half the chunk size."]}"#);
        let (status, body) = app.get("/api/v1/knowledge-bases/not-a-uuid/").await;
        snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Not found."}"#);
    })
    .await;
}

#[tokio::test]
async fn knowledge_bases_and_assistants_link_both_ways() {
    each_engine(|app| async move {
        let bot = app.chatbot("客服").await;
        let bot_id = bot["id"].as_str().unwrap();
        let (status, kb) = app
            .post("/api/v1/knowledge-bases/", json!({"name": "FAQ 庫", "chatbots": [bot_id]}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{kb}");
        assert_eq!(kb["chatbots"], json!([{"id": bot_id, "name": "客服"}]));
        let kb_id = kb["id"].as_str().unwrap();
        let (_, bot) = app.get(&format!("/api/v1/chatbots/{bot_id}/")).await;
        assert_eq!(bot["knowledgeBases"], json!([{"id": kb_id, "name": "FAQ 庫"}]), "{bot}");

        // Unlinking from the knowledge base's side shows on the assistant.
        let (status, kb) =
            app.patch(&format!("/api/v1/knowledge-bases/{kb_id}/"), json!({"chatbots": []})).await;
        assert_eq!(status, StatusCode::OK, "{kb}");
        assert_eq!(kb["chatbots"], json!([]));
        let (_, bot) = app.get(&format!("/api/v1/chatbots/{bot_id}/")).await;
        assert_eq!(bot["knowledgeBases"], json!([]));
    })
    .await;
}

#[tokio::test]
async fn labels_crud() {
    each_engine(|app| async move {
        let kb = app.kb("標籤").await;
        let base = format!("/api/v1/knowledge-bases/{}/labels/", kb["id"].as_str().unwrap());
        let (status, label) = app.post(&base, json!({"name": "退費"})).await;
        assert_eq!(status, StatusCode::CREATED, "{label}");
        let id = label["id"].as_str().unwrap().to_owned();
        let text = app.raw(Method::POST, &base, json!({"name": "退費"})).await;
        snapshot!(text, @r#"400 {"nonFieldErrors":["The fields knowledge_base, name must make a unique set."]}"#);
        let (status, page) = app.get(&base).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["results"][0]["id"], id.as_str());
        let (status, renamed) = app.put(&format!("{base}{id}/"), json!({"name": "退款"})).await;
        assert_eq!((status, renamed["name"].clone()), (StatusCode::OK, json!("退款")));
        let (status, got) = app.get(&format!("{base}{id}/")).await;
        assert_eq!((status, got["name"].clone()), (StatusCode::OK, json!("退款")));
        let (status, _) = app.delete(&format!("{base}{id}/")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.get(&format!("{base}{id}/")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn faqs_crud_batch_delete_and_metadata() {
    each_engine(|app| async move {
        let kb = app.kb("常見問題").await;
        let kb_id = kb["id"].as_str().unwrap();
        let base = format!("/api/v1/knowledge-bases/{kb_id}/faqs/");
        let (_, label) =
            app.post(&format!("/api/v1/knowledge-bases/{kb_id}/labels/"), json!({"name": "運費"})).await;
        let label_id = label["id"].as_str().unwrap();

        // The example client sends a made-up label id: it must not fail the request.
        let (status, faq) = app
            .post(
                &base,
                json!({"question": "運費多少？", "answer": "滿千免運。",
                       "labels": [{"id": label_id, "name": "運費"}, {"id": "label-id", "name": "x"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{faq}");
        assert_eq!(faq["labels"], json!([{"id": label_id, "name": "運費"}]));
        assert_eq!(faq["hitsCount"], 0);
        let id = faq["id"].as_str().unwrap().to_owned();

        let (status, page) = app.get(&base).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["count"], 1);
        assert_eq!(page["results"][0]["question"], "運費多少？");

        // PUT is partial (question and answer only).
        let (status, updated) = app.put(&format!("{base}{id}/"), json!({"answer": "滿 999 免運。"})).await;
        assert_eq!(status, StatusCode::OK, "{updated}");
        assert_eq!(updated["question"], "運費多少？");
        assert_eq!(updated["labels"][0]["id"], label_id);
        let (status, patched) = app.patch(&format!("{base}{id}/"), json!({"question": "運費？"})).await;
        assert_eq!((status, patched["question"].clone()), (StatusCode::OK, json!("運費？")));

        let (status, meta) = app
            .patch(
                &format!("{base}{id}/update-metadata/"),
                json!({"labels": [], "rawUserDefineMetadata": {"source": "客服"}}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{meta}");
        assert_eq!(meta["labels"], json!([]));
        assert_eq!(meta["rawUserDefineMetadata"], json!({"source": "客服"}));

        let text = app.raw(Method::POST, &base, json!({"question": "  "})).await;
        snapshot!(text, @r#"400 {"question":["This field may not be blank."],"answer":["This field is required."]}"#);

        let (_, second) = app.post(&base, json!({"question": "退貨", "answer": "七天內。"})).await;
        let (status, body) = app
            .post(&format!("{base}batch-delete/"), json!({"ids": [id, second["id"]]}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, page) = app.get(&base).await;
        assert_eq!(page["count"], 0);
        let (status, _) = app.delete(&format!("{base}{}/", second["id"].as_str().unwrap())).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn assistant_routes_work_on_linked_knowledge_bases() {
    each_engine(|app| async move {
        let bot = app.chatbot("客服").await;
        let bot_id = bot["id"].as_str().unwrap();

        // The flat `faqs/` of the example clients: the assistant gets a knowledge base.
        let (status, faq) = app
            .post(
                "/api/v1/faqs/",
                json!({"chatbot": bot_id, "question": "營業時間？", "answer": "九點到六點。"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{faq}");
        assert_eq!(faq["chatbot"], bot_id);
        let (_, bot_now) = app.get(&format!("/api/v1/chatbots/{bot_id}/")).await;
        let kb_id = bot_now["knowledgeBases"][0]["id"]
            .as_str()
            .expect("a linked knowledge base")
            .to_owned();
        assert_eq!(bot_now["knowledgeBases"][0]["name"], "客服 知識庫");

        let (status, page) = app.get(&format!("/api/v1/chatbots/{bot_id}/faqs/")).await;
        assert_eq!((status, page["count"].clone()), (StatusCode::OK, json!(1)));
        let (_, kb_page) = app.get(&format!("/api/v1/knowledge-bases/{kb_id}/faqs/")).await;
        assert_eq!(kb_page["results"][0]["id"], faq["id"]);
        let faq_id = faq["id"].as_str().unwrap();
        let (status, got) = app.get(&format!("/api/v1/chatbots/{bot_id}/faqs/{faq_id}/")).await;
        assert_eq!((status, got["answer"].clone()), (StatusCode::OK, json!("九點到六點。")));
        // This PUT is DRF's: both fields required.
        let text = app
            .raw(
                Method::PUT,
                &format!("/api/v1/chatbots/{bot_id}/faqs/{faq_id}/"),
                json!({"answer": "全天候。"}),
            )
            .await;
        snapshot!(text, @r#"400 {"question":["This field is required."]}"#);
        let (status, put) = app
            .put(
                &format!("/api/v1/chatbots/{bot_id}/faqs/{faq_id}/"),
                json!({"question": "營業時間？", "answer": "全天候。"}),
            )
            .await;
        assert_eq!((status, put["answer"].clone()), (StatusCode::OK, json!("全天候。")));
        let (status, _) = app.delete(&format!("/api/v1/chatbots/{bot_id}/faqs/{faq_id}/")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        let text =
            app.raw(Method::POST, "/api/v1/faqs/", json!({"question": "q", "answer": "a"})).await;
        snapshot!(text, @r#"400 {"chatbot":["This field is required."]}"#);
    })
    .await;
}

#[tokio::test]
async fn another_tenants_knowledge_is_not_found() {
    each_engine(|app| async move {
        let kb = app.kb("機密").await;
        let kb_id = kb["id"].as_str().unwrap();
        let (_, faq) = app
            .post(
                &format!("/api/v1/knowledge-bases/{kb_id}/faqs/"),
                json!({"question": "q", "answer": "a"}),
            )
            .await;
        let (_, label) = app
            .post(&format!("/api/v1/knowledge-bases/{kb_id}/labels/"), json!({"name": "l"}))
            .await;
        let other = app.tenant("other@example.com").await;
        let as_other = |method: Method, path: String| app.request_as(&other.key, method, &path);
        for (method, path) in [
            (Method::GET, format!("/api/v1/knowledge-bases/{kb_id}/")),
            (Method::PATCH, format!("/api/v1/knowledge-bases/{kb_id}/")),
            (Method::DELETE, format!("/api/v1/knowledge-bases/{kb_id}/")),
            (Method::GET, format!("/api/v1/knowledge-bases/{kb_id}/files/")),
            (
                Method::GET,
                format!("/api/v1/knowledge-bases/{kb_id}/faqs/{}/", faq["id"].as_str().unwrap()),
            ),
            (
                Method::GET,
                format!(
                    "/api/v1/knowledge-bases/{kb_id}/labels/{}/",
                    label["id"].as_str().unwrap()
                ),
            ),
            (Method::POST, format!("/api/v1/knowledge-bases/{kb_id}/search/")),
            (Method::GET, format!("/api/v1/knowledge-bases/{kb_id}/documents/")),
            (Method::GET, format!("/api/v1/chatbots/{kb_id}/files/")),
        ] {
            let (status, body) = crate::helpers::send(
                as_other(method.clone(), path.clone()).json(&json!({"query": "q", "name": "x"})),
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        }
        let (_, page) =
            crate::helpers::send(as_other(Method::GET, "/api/v1/knowledge-bases/".into())).await;
        assert_eq!(page["count"], 0);
        // Nor can an assistant be linked across tenants.
        let bot = app.chatbot("mine").await;
        let (status, body) = crate::helpers::send(
            as_other(Method::POST, "/api/v1/knowledge-bases/".into())
                .json(&json!({"name": "x", "chatbots": [bot["id"]]})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    })
    .await;
}

/// The search index follows the database: on a PostgreSQL server with pgvector the index is
/// kept there (no embedded index under the data directory), and a question in 繁體 finds a
/// passage in 简体 as it does in the embedded index; on one without pgvector, or with
/// `search_index = "embedded"`, the embedded index serves. Needs OPENMAI_TEST_PGVECTOR_URL
/// (crates/openmai-index/tests/setup_pgvector.sh) and/or OPENMAI_TEST_DATABASE_URL.
#[tokio::test]
async fn the_search_index_lives_in_postgresql_when_pgvector_is_there() {
    use openmai_server::config::SearchIndexKind;
    use openmai_store::testing::TestDatabase;

    let env = |name: &str| std::env::var(name).ok().filter(|url| !url.trim().is_empty());
    let pgvector = env("OPENMAI_TEST_PGVECTOR_URL");
    let plain = env(openmai_store::testing::POSTGRES_ENV);
    if pgvector.is_none() {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "note: OPENMAI_TEST_PGVECTOR_URL is not set; the PostgreSQL search index is not tested"
        );
    }
    let mut cases = Vec::new();
    if let Some(url) = &pgvector {
        cases.push((url.clone(), SearchIndexKind::Auto, true));
        cases.push((url.clone(), SearchIndexKind::Embedded, false));
    }
    if let Some(url) = &plain {
        let has_pgvector = pgvector.as_deref() == Some(url.as_str());
        cases.push((url.clone(), SearchIndexKind::Auto, has_pgvector));
    }
    for (server, search_index, in_postgres) in cases {
        let app = crate::helpers::TestApp::spawn_with(TestDatabase::postgres(server.trim()), |c| {
            c.search_index = search_index;
        })
        .await;
        let case = format!("{server} {search_index:?}");
        assert_eq!(
            !app.data_dir.path().join("index").exists(),
            in_postgres,
            "{case}: the embedded index directory exists only when it is in use"
        );
        let kb = app.kb("中文").await;
        let kb = kb["id"].as_str().unwrap().to_owned();
        let file = app
            .ingest(&kb, "简体.txt", "台湾高铁的退票规定：开车前可以免费退票。".as_bytes().to_vec())
            .await;
        assert_eq!(file["status"], "done", "{case}: {file}");
        app.ingest(&kb, "other.txt", "公司的咖啡机在三楼。".as_bytes().to_vec()).await;
        let (status, faq) = app
            .post(
                &format!("/api/v1/knowledge-bases/{kb}/faqs/"),
                json!({"question": "運費多少？", "answer": "滿千免運。"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{case}: {faq}");

        let search = |query: &'static str| {
            let app = &app;
            let kb = kb.clone();
            async move {
                let (status, hits) = app
                    .post(&format!("/api/v1/knowledge-bases/{kb}/search/"), json!({"query": query}))
                    .await;
                assert_eq!(status, StatusCode::OK, "{hits}");
                hits
            }
        };
        // Traditional question, Simplified passage.
        let hits = search("台灣高鐵的退票規定是什麼？").await;
        assert_eq!(hits.as_array().unwrap().len(), 1, "{case}: {hits}");
        assert_eq!(hits[0]["chatbotFile"]["id"], file["id"], "{case}: {hits}");
        assert!((hits[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-6, "{case}: {hits}");
        // Simplified question, Traditional FAQ.
        let hits = search("运费").await;
        assert_eq!(hits[0]["type"], "faq", "{case}: {hits}");
        assert_eq!(hits[0]["faq"]["id"], faq["id"], "{case}: {hits}");
        // Deleting the file removes its passages from the index.
        let (status, body) = app
            .delete(&format!(
                "/api/v1/knowledge-bases/{kb}/files/{}/",
                file["id"].as_str().unwrap()
            ))
            .await;
        assert!(status.is_success(), "{case}: {status} {body}");
        assert!(search("高鐵退票").await.as_array().unwrap().is_empty(), "{case}");
    }
}
