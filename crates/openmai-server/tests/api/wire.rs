//! The wire conventions every endpoint shares: authentication errors, aliases and trailing
//! slashes, casing, pagination, and DRF error bodies.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    each_engine, each_engine_with, send, send_raw, status_and_body, status_and_text,
};

#[tokio::test]
async fn authentication_errors_follow_the_seed_rules() {
    each_engine(|app| async move {
        let engine = app.engine;
        let cases = [
            (None, "missing header"),
            (Some("Api-Key NoSuchKeyButWellFormed0123456789abcdef".to_owned()), "unknown key"),
        ];
        for (header, case) in cases {
            let mut request = app.client.get(app.url("/api/v1/chatbots/"));
            if let Some(header) = header {
                request = request.header("Authorization", header);
            }
            let (status, body) = send(request).await;
            crate::snapshot!(status_and_body(status, &body), @r#"401 {"detail":"Authentication credentials were not provided."}"#);
            let _ = (engine, case);
        }
        for header in ["Bearer abc", "Api-Key  abc", "Api-Key a b", "Api-Key ab-c", "Token abc", "Api-Key"] {
            let request = app.client.get(app.url("/api/v1/chatbots/")).header("Authorization", header);
            let (status, body) = send(request).await;
            assert_eq!(status_and_body(status, &body), r#"401 {"detail":"Invalid API key format."}"#, "{engine}: {header:?}");
        }
        let (status, _) = app.get("/api/v1/chatbots/").await;
        assert_eq!(status, 200, "{engine}: the real key works");
    })
    .await;
}

#[tokio::test]
async fn every_path_answers_with_and_without_slash_and_under_the_alias() {
    each_engine(|app| async move {
        for path in ["/api/v1/chatbots/", "/api/v1/chatbots", "/api/chatbots/", "/api/chatbots"] {
            let (status, body) = app.get(path).await;
            assert_eq!(status, 200, "{}: {path}: {body}", app.engine);
            assert_eq!(body["count"], 0);
        }
        let (status, body) =
            send(app.request(Method::POST, "/api/chatbots").json(&json!({}))).await;
        assert_eq!(status, 400, "a POST without the slash is served, not redirected: {body}");
    })
    .await;
}

#[tokio::test]
async fn every_method_is_served_under_the_alias_and_without_the_trailing_slash() {
    each_engine(|app| async move {
        let (llm, rag) = app.default_models().await;
        let body = json!({"name": "Alias", "largeLanguageModel": llm, "rag": rag});
        let (status, created) = app.post("/api/chatbots", body.clone()).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap();
        for path in [
            format!("/api/v1/chatbots/{id}/"),
            format!("/api/v1/chatbots/{id}"),
            format!("/api/chatbots/{id}/"),
            format!("/api/chatbots/{id}"),
        ] {
            let (status, got) = app.get(&path).await;
            assert_eq!((status.as_u16(), &got["id"]), (200, &created["id"]), "{path}");
            let (status, put) = app.put(&path, body.clone()).await;
            assert_eq!(status, 200, "{path}: {put}");
            let (status, patched) = app.patch(&path, json!({"instructions": path})).await;
            assert_eq!((status.as_u16(), &patched["instructions"]), (200, &json!(path)));
        }
        let (status, gone) = app.delete(&format!("/api/chatbots/{id}")).await;
        assert_eq!((status.as_u16(), gone), (204, serde_json::Value::Null));
        let (status, _) = app.get(&format!("/api/chatbots/{id}")).await;
        assert_eq!(status, 404);
    })
    .await;
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_not_found() {
    each_engine(|app| async move {
        for path in [
            "/api/v1/no-such-thing/",
            "/api/no-such-thing",
            "/api/v1/chatbots/a/b/c/",
            "/api/v2/chatbots/",
        ] {
            let (status, headers, body) = send_raw(app.request(Method::GET, path)).await;
            crate::snapshot!(format!("{} {body}", status.as_u16()), @r#"404 {"detail":"Not found."}"#);
            assert_eq!(headers["content-type"], "application/json", "{path}");
        }
        let (status, body) = send(app.client.get(app.url("/api/v1/no-such-thing/"))).await;
        crate::snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Not found."}"#);
    })
    .await;
}

#[tokio::test]
async fn a_method_the_path_does_not_take_is_405_with_drf_text_and_an_allow_header() {
    each_engine(|app| async move {
        let (status, headers, body) =
            send_raw(app.request(Method::DELETE, "/api/v1/chatbots/")).await;
        crate::snapshot!(format!("{} {body}", status.as_u16()), @r#"405 {"detail":"Method \"DELETE\" not allowed."}"#);
        let allow = headers["allow"].to_str().unwrap().to_owned();
        for method in ["GET", "POST"] {
            assert!(allow.contains(method), "Allow: {allow}");
        }
        assert!(!allow.contains("DELETE"), "Allow: {allow}");

        let (status, headers, body) = send_raw(app.request(Method::POST, "/api/users")).await;
        crate::snapshot!(format!("{} {body}", status.as_u16()), @r#"405 {"detail":"Method \"POST\" not allowed."}"#);
        assert!(headers["allow"].to_str().unwrap().contains("GET"));

        let chatbot = app.chatbot("Only some methods").await;
        let path = format!("/api/v1/chatbots/{}/", chatbot["id"].as_str().unwrap());
        let (status, headers, body) = send_raw(app.request(Method::POST, &path)).await;
        crate::snapshot!(format!("{} {body}", status.as_u16()), @r#"405 {"detail":"Method \"POST\" not allowed."}"#);
        let allow = headers["allow"].to_str().unwrap().to_owned();
        for method in ["GET", "PUT", "PATCH", "DELETE"] {
            assert!(allow.contains(method), "Allow: {allow}");
        }
        let (status, body) = send(app.request(Method::DELETE, "/api/v1/auth/login/")).await;
        crate::snapshot!(status_and_body(status, &body), @r#"405 {"detail":"Method \"DELETE\" not allowed."}"#);
    })
    .await;
}

#[tokio::test]
async fn a_body_in_an_unsupported_media_type_is_415() {
    each_engine(|app| async move {
        let request = app
            .request(Method::POST, "/api/v1/chatbots/")
            .header("Content-Type", "text/plain")
            .body("name=Plain");
        let (status, body) = send(request).await;
        crate::snapshot!(status_and_body(status, &body), @r#"415 {"detail":"Unsupported media type \"text/plain\" in request."}"#);
        let request = app
            .request(Method::PATCH, "/api/v1/users/current/")
            .header("Content-Type", "application/xml")
            .body("<name>x</name>");
        let (status, body) = send(request).await;
        crate::snapshot!(status_and_body(status, &body), @r#"415 {"detail":"Unsupported media type \"application/xml\" in request."}"#);
        let (status, list) = app.get("/api/v1/chatbots/").await;
        assert_eq!((status.as_u16(), &list["count"]), (200, &json!(0)), "nothing was created");
        let request = app
            .request(Method::POST, "/api/v1/organizations/")
            .header("Content-Type", "application/json; charset=utf-8")
            .body(r#"{"name": "Charset"}"#);
        let (status, _) = send(request).await;
        assert_eq!(status, 201, "parameters on the JSON media type are fine");
    })
    .await;
}

#[tokio::test]
async fn malformed_json_is_a_json_parse_error() {
    each_engine(|app| async move {
        let request = app
            .request(Method::POST, "/api/v1/chatbots/")
            .header("Content-Type", "application/json")
            .body(r#"{"name": "#);
        let (status, body) = send(request).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"detail":"JSON parse error - EOF while parsing a value at line 1 column 9"}"#);
        let request = app
            .request(Method::POST, "/api/v1/organizations/")
            .header("Content-Type", "application/json")
            .body("{'name': 'single quotes'}");
        let (status, body) = send(request).await;
        assert_eq!(status, 400);
        assert!(body["detail"].as_str().unwrap().starts_with("JSON parse error - "), "{body}");
    })
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_whole() {
    each_engine(|app| async move {
        let (status, body) = app.post("/api/v1/chatbots/", json!([1, 2])).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"nonFieldErrors":["Invalid data. Expected a dictionary, but got list."]}"#);
        let (status, body) = app.post("/api/v1/organizations/", json!("Acme")).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"nonFieldErrors":["Invalid data. Expected a dictionary, but got str."]}"#);
        let (status, body) = app.patch("/api/v1/users/current/", json!(42)).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"nonFieldErrors":["Invalid data. Expected a dictionary, but got int."]}"#);
        let (status, body) = app.post("/api/v1/chatbots/", json!(null)).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"nonFieldErrors":["No data provided"]}"#);
    })
    .await;
}

#[tokio::test]
async fn an_empty_post_body_lists_the_required_fields() {
    each_engine(|app| async move {
        let text = status_and_text(app.request(Method::POST, "/api/v1/chatbots/")).await;
        crate::snapshot!(text, @r#"400 {"name":["This field is required."],"largeLanguageModel":["This field is required."],"rag":["This field is required."]}"#);
        let request = app
            .request(Method::POST, "/api/v1/organizations/")
            .header("Content-Type", "application/json");
        let (status, body) = send(request).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"name":["This field is required."]}"#);
    })
    .await;
}

#[tokio::test]
async fn form_encoded_and_multipart_bodies_work_like_json() {
    each_engine(|app| async move {
        let (llm, rag) = app.default_models().await;
        let request = app.request(Method::POST, "/api/v1/chatbots/").form(&[
            ("name", "Form"),
            ("model", llm.as_str()),
            ("rag", rag.as_str()),
            ("number_of_retrieved_chunks", "7"),
            ("enable_chinese_conversion", "true"),
        ]);
        let (status, body) = send(request).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(
            (&body["name"], &body["largeLanguageModel"], &body["numberOfRetrievedChunks"]),
            (&json!("Form"), &json!(llm), &json!(7))
        );
        assert_eq!(body["enableChineseConversion"], true);

        let multipart = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nMultipart\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"largeLanguageModel\"\r\n\r\n{llm}\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"rag\"\r\n\r\n{rag}\r\n--XyZ--\r\n"
        );
        let request = app
            .request(Method::POST, "/api/v1/chatbots/")
            .header("Content-Type", "multipart/form-data; boundary=XyZ")
            .body(multipart);
        let (status, body) = send(request).await;
        assert_eq!((status.as_u16(), &body["name"]), (201, &json!("Multipart")), "{body}");

        let request = app.request(Method::POST, "/api/v1/chatbots/").form(&[("name", "")]);
        let text = status_and_text(request).await;
        crate::snapshot!(text, @r#"400 {"name":["This field may not be blank."],"largeLanguageModel":["This field is required."],"rag":["This field is required."]}"#);
        let (_, list) = app.get("/api/v1/chatbots/").await;
        assert_eq!(list["count"], 2);
    })
    .await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_the_server_keeps_serving() {
    each_engine_with(
        |config| config.max_body_bytes = 64 * 1024,
        |app| async move {
            let huge = json!({"name": "x".repeat(512 * 1024)});
            let (status, body) = app.post("/api/v1/chatbots/", huge.clone()).await;
            crate::snapshot!(status_and_body(status, &body), @r#"413 {"detail":"Request body is too large."}"#);
            let (status, body) = app.patch("/api/v1/users/current/", huge).await;
            assert_eq!(status, 413, "{body}");
            let (status, body) = app.get("/api/v1/chatbots/").await;
            assert_eq!((status.as_u16(), &body["count"]), (200, &json!(0)));
            let (status, _) = app.post("/api/v1/organizations/", json!({"name": "Small"})).await;
            assert_eq!(status, 201);
        },
    )
    .await;
}

#[tokio::test]
async fn a_fresh_list_has_a_fine_first_page_and_no_second() {
    each_engine(|app| async move {
        for query in ["", "?page=1", "?page=last", "?pageSize=5"] {
            let (status, body) = app.get(&format!("/api/v1/chatbots/{query}")).await;
            crate::snapshot!(status_and_body(status, &body), @r#"200 {"count":0,"next":null,"previous":null,"results":[]}"#);
        }
        let (status, body) = app.get("/api/v1/chatbots/?page=2").await;
        crate::snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Invalid page."}"#);
    })
    .await;
}

async fn chatbots(app: &crate::helpers::TestApp, count: usize) -> Vec<String> {
    let (llm, rag) = app.default_models().await;
    let mut ids = Vec::new();
    for i in 0..count {
        let (status, body) = app
            .post(
                "/api/v1/chatbots/",
                json!({"name": format!("Bot {i:02}"), "largeLanguageModel": llm, "rag": rag}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    ids
}

#[tokio::test]
async fn pages_link_to_their_neighbours_with_absolute_urls() {
    each_engine(|app| async move {
        chatbots(&app, 12).await;
        let base = app.url("/api/v1/chatbots/");

        let (status, first) = app.get("/api/v1/chatbots/?pageSize=5").await;
        assert_eq!(status, 200);
        assert_eq!(first["count"], 12);
        assert_eq!(first["results"].as_array().unwrap().len(), 5);
        assert_eq!(first["next"], json!(format!("{base}?page=2&pageSize=5")));
        assert_eq!(first["previous"], json!(null));

        let (_, second) = app.get("/api/v1/chatbots/?page=2&pageSize=5").await;
        assert_eq!(second["next"], json!(format!("{base}?page=3&pageSize=5")));
        assert_eq!(
            second["previous"],
            json!(format!("{base}?pageSize=5")),
            "page 2 links back without a page"
        );

        let (_, last) = app.get("/api/v1/chatbots/?page=last&pageSize=5").await;
        assert_eq!(last["results"].as_array().unwrap().len(), 2);
        assert_eq!(last["next"], json!(null));
        assert_eq!(last["previous"], json!(format!("{base}?page=2&pageSize=5")));
        let (_, third) = app.get("/api/v1/chatbots/?page=3&pageSize=5").await;
        assert_eq!(third, last, "page=last is the last page");

        // Every item shows up exactly once across the pages, newest first.
        let mut seen: Vec<String> = Vec::new();
        for page in [&first, &second, &last] {
            for item in page["results"].as_array().unwrap() {
                seen.push(item["name"].as_str().unwrap().to_owned());
            }
        }
        let expected: Vec<String> = (0..12).rev().map(|i| format!("Bot {i:02}")).collect();
        assert_eq!(seen, expected);

        // The default page size is 10, and other query parameters are kept.
        let (_, default) = app.get("/api/chatbots?search=x").await;
        assert_eq!(default["results"].as_array().unwrap().len(), 10);
        assert_eq!(default["next"], json!(app.url("/api/chatbots?page=2&search=x")));
    })
    .await;
}

#[tokio::test]
async fn a_page_out_of_range_or_malformed_is_an_invalid_page() {
    each_engine(|app| async move {
        chatbots(&app, 3).await;
        for query in ["page=2", "page=4&pageSize=1", "page=0", "page=-1", "page=abc", "page=1.5"] {
            let (status, body) = app.get(&format!("/api/v1/chatbots/?{query}")).await;
            crate::snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Invalid page."}"#);
        }
        let (status, body) = app.get("/api/v1/chatbots/?page=3&pageSize=1").await;
        assert_eq!((status.as_u16(), &body["next"]), (200, &json!(null)));
    })
    .await;
}

#[tokio::test]
async fn page_size_takes_either_spelling_falls_back_to_ten_and_is_capped() {
    each_engine(|app| async move {
        chatbots(&app, 11).await;
        let count = |body: &serde_json::Value| body["results"].as_array().unwrap().len();
        let (_, body) = app.get("/api/v1/chatbots/?page_size=3").await;
        assert_eq!(count(&body), 3);
        assert_eq!(body["next"], json!(app.url("/api/v1/chatbots/?page=2&page_size=3")));
        let (_, body) = app.get("/api/v1/chatbots/?pageSize=4").await;
        assert_eq!(count(&body), 4);
        for fallback in ["pageSize=0", "pageSize=-3", "pageSize=abc", "page_size="] {
            let (status, body) = app.get(&format!("/api/v1/chatbots/?{fallback}")).await;
            assert_eq!((status.as_u16(), count(&body)), (200, 10), "{fallback}");
        }
        let (_, body) = app.get("/api/v1/chatbots/?pageSize=99999999999").await;
        assert_eq!((count(&body), &body["next"]), (11, &json!(null)));

        // More rows than the cap: a huge page size still answers 1000 at most.
        let org = app.organization_id().await;
        let template = openmai_server::api::chatbots::defaults(org, &app.state.catalog);
        app.state
            .store
            .write(move |db| {
                db.transaction(|db| {
                    for i in 0..1000 {
                        let chatbot = openmai_store::models::Chatbot {
                            id: openmai_store::models::new_id(),
                            name: format!("Bulk {i}"),
                            created_at: openmai_types::Timestamp::now(),
                            updated_at: openmai_types::Timestamp::now(),
                            ..template.clone()
                        };
                        db.insert_chatbot(&chatbot)?;
                    }
                    Ok(())
                })
            })
            .await
            .unwrap();
        let (status, body) = app.get("/api/v1/chatbots/?pageSize=5000").await;
        assert_eq!((status.as_u16(), &body["count"], count(&body)), (200, &json!(1011), 1000));
        assert_eq!(body["next"], json!(app.url("/api/v1/chatbots/?page=2&pageSize=5000")));
    })
    .await;
}

#[tokio::test]
async fn links_honour_x_forwarded_proto_and_host() {
    each_engine(|app| async move {
        chatbots(&app, 3).await;
        let request = app
            .request(Method::GET, "/api/chatbots/?pageSize=1&page=2")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "ai.example.com");
        let (status, body) = send(request).await;
        assert_eq!(status, 200);
        assert_eq!(body["next"], "https://ai.example.com/api/chatbots/?page=3&pageSize=1");
        assert_eq!(body["previous"], "https://ai.example.com/api/chatbots/?pageSize=1");
        let request = app
            .request(Method::GET, "/api/v1/chatbots?pageSize=1")
            .header("X-Forwarded-Proto", "https, http")
            .header("Host", "proxy.internal:8443");
        let (_, body) = send(request).await;
        assert_eq!(body["next"], "https://proxy.internal:8443/api/v1/chatbots?page=2&pageSize=1");
    })
    .await;
}

#[tokio::test]
async fn a_configured_public_url_is_used_for_links_over_the_request_headers() {
    each_engine_with(
        |config| config.public_url = Some("https://ai.example.com/openmai/".parse().unwrap()),
        |app| async move {
            chatbots(&app, 2).await;
            let request = app
                .request(Method::GET, "/api/v1/chatbots/?pageSize=1")
                .header("X-Forwarded-Host", "evil.example.com");
            let (_, body) = send(request).await;
            assert_eq!(
                body["next"],
                "https://ai.example.com/openmai/api/v1/chatbots/?page=2&pageSize=1"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn a_caller_over_the_rate_limit_is_throttled_with_retry_after() {
    each_engine_with(
        |config| config.rate_limit_per_minute = 2,
        |app| async move {
            for _ in 0..2 {
                let (status, _) = app.get("/api/v1/chatbots/").await;
                assert_eq!(status, 200);
            }
            let (status, headers, text) =
                send_raw(app.request(Method::GET, "/api/v1/chatbots/")).await;
            assert_eq!(status, 429, "{text}");
            let body: serde_json::Value = serde_json::from_str(&text).unwrap();
            let detail = body["detail"].as_str().unwrap();
            let wait = detail
                .strip_prefix("Request was throttled. Expected available in ")
                .and_then(|rest| {
                    rest.strip_suffix(" seconds.").or_else(|| rest.strip_suffix(" second."))
                })
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("unexpected text: {detail}"));
            assert!((1..=60).contains(&wait), "{detail}");
            let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert_eq!(retry_after, wait);
            assert_eq!(body.as_object().unwrap().len(), 1, "{body}");

            // The limit is per key: another tenant is not affected.
            let other = app.tenant("other@example.com").await;
            let (status, _) =
                send(app.request_as(&other.key, Method::GET, "/api/v1/chatbots/")).await;
            assert_eq!(status, 200);
        },
    )
    .await;
}

#[tokio::test]
async fn the_openapi_document_is_yaml_by_default_and_json_on_request() {
    each_engine(|app| async move {
        let (status, headers, yaml) = send_raw(app.client.get(app.url("/api/v1/schema/"))).await;
        assert_eq!(status, 200);
        assert!(
            headers["content-type"].to_str().unwrap().starts_with("application/vnd.oai.openapi")
        );
        assert!(yaml.starts_with("openapi: "), "{}", &yaml[..80]);
        let (status, headers, text) =
            send_raw(app.client.get(app.url("/api/schema?format=json"))).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/vnd.oai.openapi+json");
        let document: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3."));
        assert!(document["components"]["securitySchemes"]["ApiKeyAuth"].is_object());
        let mut paths: Vec<&str> =
            document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        paths.sort_unstable();
        crate::snapshot!(paths.join("\n"), @r#"
/
/api/v1/allowed-file-types/
/api/v1/attachments/
/api/v1/attachments/{id}/
/api/v1/attachments/{id}/download/
/api/v1/auth/login/
/api/v1/auth/logout/
/api/v1/auth/password/change/
/api/v1/auth/token/refresh/
/api/v1/auth/token/verify/
/api/v1/auth/user/
/api/v1/chatbot-file-contents/{id}/
/api/v1/chatbot-settings/
/api/v1/chatbot-text-nodes/
/api/v1/chatbots/
/api/v1/chatbots/{id}/
/api/v1/chatbots/{id}/completions/
/api/v1/chatbots/{id}/faqs/
/api/v1/chatbots/{id}/faqs/batch-delete/
/api/v1/chatbots/{id}/faqs/{faqId}/
/api/v1/chatbots/{id}/files/
/api/v1/chatbots/{id}/files/batch-delete/
/api/v1/chatbots/{id}/files/{fileId}/
/api/v1/chatbots/{id}/files/{fileId}/latest-failed-reason/
/api/v1/chatbots/{id}/search/
/api/v1/chatbots/{id}/webhook-records/
/api/v1/conversations/
/api/v1/conversations/{id}/
/api/v1/conversations/{id}/attachments/
/api/v1/embedding-models/
/api/v1/faqs/
/api/v1/inboxes/
/api/v1/inboxes/{id}/
/api/v1/knowledge-bases/
/api/v1/knowledge-bases/{id}/
/api/v1/knowledge-bases/{id}/documents/
/api/v1/knowledge-bases/{id}/documents/{documentId}/
/api/v1/knowledge-bases/{id}/faqs/
/api/v1/knowledge-bases/{id}/faqs/batch-delete/
/api/v1/knowledge-bases/{id}/faqs/{faqId}/
/api/v1/knowledge-bases/{id}/faqs/{faqId}/update-metadata/
/api/v1/knowledge-bases/{id}/files/
/api/v1/knowledge-bases/{id}/files/batch-delete/
/api/v1/knowledge-bases/{id}/files/batch-reparse/
/api/v1/knowledge-bases/{id}/files/{fileId}/
/api/v1/knowledge-bases/{id}/files/{fileId}/download/
/api/v1/knowledge-bases/{id}/files/{fileId}/latest-failed-reason/
/api/v1/knowledge-bases/{id}/files/{fileId}/update-metadata/
/api/v1/knowledge-bases/{id}/labels/
/api/v1/knowledge-bases/{id}/labels/{labelId}/
/api/v1/knowledge-bases/{id}/search/
/api/v1/messages/
/api/v1/messages/outgoing/
/api/v1/messages/{id}/
/api/v1/organizations/
/api/v1/organizations/{id}/
/api/v1/organizations/{id}/members/
/api/v1/organizations/{id}/members/{memberId}/
/api/v1/parsers/
/api/v1/parsers/supported-file-types/
/api/v1/parsers/{id}/
/api/v1/permissions/
/api/v1/reranker-models/
/api/v1/schema/
/api/v1/upload-presigned-url/
/api/v1/users/
/api/v1/users/current/
/api/v1/users/{id}/
/api/v1/web-chats/
/api/v1/web-chats/{id}/
/console/
/console/account/api-keys
/console/account/api-keys/{id}/revoke
/console/chatbots
/console/chatbots/new
/console/chatbots/{id}/chat
/console/chatbots/{id}/delete
/console/chatbots/{id}/edit
/console/knowledge-bases
/console/knowledge-bases/new
/console/knowledge-bases/{id}
/console/knowledge-bases/{id}/delete
/console/knowledge-bases/{id}/edit
/console/knowledge-bases/{id}/faqs
/console/knowledge-bases/{id}/faqs/new
/console/knowledge-bases/{id}/faqs/{faqId}/delete
/console/knowledge-bases/{id}/faqs/{faqId}/edit
/console/knowledge-bases/{id}/files/status
/console/knowledge-bases/{id}/files/{fileId}
/console/knowledge-bases/{id}/files/{fileId}/delete
/console/knowledge-bases/{id}/files/{fileId}/labels
/console/knowledge-bases/{id}/files/{fileId}/reparse
/console/knowledge-bases/{id}/labels
/console/knowledge-bases/{id}/labels/{labelId}/delete
/console/knowledge-bases/{id}/labels/{labelId}/rename
/console/knowledge-bases/{id}/search
/console/knowledge-bases/{id}/uploads/presign
/console/knowledge-bases/{id}/uploads/register
/console/login
/console/logout
/console/organizations/new
/console/organizations/{id}/switch
/console/static/{file}
/healthz
/storage/{bucket}
"#);
        for path in &paths {
            assert!(yaml.contains(&format!("{path}:")), "{path} in the YAML too");
        }
        let request =
            app.client.get(app.url("/api/v1/schema/")).header("Accept", "application/json");
        let (_, headers, accepted) = send_raw(request).await;
        assert_eq!(
            (headers["content-type"].to_str().unwrap(), accepted.as_str()),
            ("application/vnd.oai.openapi+json", text.as_str())
        );
        let (_, _, explicit) =
            send_raw(app.client.get(app.url("/api/v1/schema/?format=yaml"))).await;
        assert_eq!(explicit, yaml);
    })
    .await;
}

#[tokio::test]
async fn the_health_check_answers_without_credentials() {
    each_engine(|app| async move {
        let (status, body) = send(app.client.get(app.url("/healthz"))).await;
        crate::snapshot!(status_and_body(status, &body), @r#"200 {"status":"ok"}"#);
    })
    .await;
}

/// `value` without `lastUsedAt`, which moves as keys are used.
fn stable(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .filter(|(k, _)| k.as_str() != "lastUsedAt")
            .map(|(k, v)| (k.clone(), stable(v)))
            .collect(),
        serde_json::Value::Array(items) => items.iter().map(stable).collect(),
        other => other.clone(),
    }
}

#[tokio::test]
async fn every_read_endpoint_answers_under_all_four_spellings_of_its_path() {
    each_engine(|app| async move {
        let org = app.organization_id().await;
        let admin = app.admin_id().await;
        let chatbot = app.chatbot("Spellings").await;
        let (_, members) = app.get(&format!("/api/v1/organizations/{org}/members/")).await;
        let member = members["results"][0]["id"].as_str().unwrap().to_owned();
        let paths = [
            "auth/user/".to_owned(),
            "users/".to_owned(),
            "users/current/".to_owned(),
            format!("users/{admin}/"),
            "organizations/".to_owned(),
            format!("organizations/{org}/"),
            format!("organizations/{org}/members/"),
            format!("organizations/{org}/members/{member}/"),
            "permissions/".to_owned(),
            "chatbots/".to_owned(),
            format!("chatbots/{}/", chatbot["id"].as_str().unwrap()),
            "chatbot-settings/".to_owned(),
            "embedding-models/".to_owned(),
            "reranker-models/".to_owned(),
            "schema/?format=json".to_owned(),
        ];
        for path in paths {
            let (path, query) = path.split_once('?').map_or((path.as_str(), ""), |(p, q)| (p, q));
            let query = if query.is_empty() { String::new() } else { format!("?{query}") };
            let bare = path.trim_end_matches('/');
            let mut bodies = Vec::new();
            for spelling in [
                format!("/api/v1/{path}{query}"),
                format!("/api/v1/{bare}{query}"),
                format!("/api/{path}{query}"),
                format!("/api/{bare}{query}"),
            ] {
                let (status, body) = app.get(&spelling).await;
                assert_eq!(status, 200, "{spelling}: {body}");
                bodies.push(body);
            }
            // Lists carry links built from the path as sent, so compare what the path names.
            let first = stable(bodies[0].get("results").unwrap_or(&bodies[0]));
            for body in &bodies[1..] {
                assert_eq!(stable(body.get("results").unwrap_or(body)), first, "{path}");
            }
        }
        let request = app
            .client
            .post(app.url("/api/auth/login"))
            .json(&json!({"email": crate::helpers::ADMIN_EMAIL, "password": crate::helpers::ADMIN_PASSWORD}));
        let (status, _) = send(request).await;
        assert_eq!(status, 200, "POST without the slash under the alias");
    })
    .await;
}

#[tokio::test]
async fn authentication_failures_name_the_api_key_scheme() {
    each_engine(|app| async move {
        let (status, headers, _) =
            send_raw(app.client.get(app.url("/api/v1/users/current/"))).await;
        assert_eq!(
            (status.as_u16(), headers["www-authenticate"].to_str().unwrap()),
            (401, "Api-Key")
        );
        let request =
            app.client.get(app.url("/api/v1/users/current/")).header("Authorization", "Bearer abc");
        let (status, headers, _) = send_raw(request).await;
        assert_eq!(
            (status.as_u16(), headers["www-authenticate"].to_str().unwrap()),
            (401, "Api-Key")
        );
        let (status, headers, _) =
            send_raw(app.request(Method::GET, "/api/v1/users/current/")).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/json");
    })
    .await;
}
