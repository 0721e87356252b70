//! `chatbots/` and `chatbots/{id}/`: AI assistants, limited to the caller's organisation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    each_engine, is_timestamp, is_uuid, keys, send, send_raw, status_and_body, status_and_text,
};

#[tokio::test]
async fn creating_a_chatbot_answers_201_with_the_full_camel_case_shape() {
    each_engine(|app| async move {
        let (llm, rag) = app.default_models().await;
        let (status, bot) = app
            .post("/api/v1/chatbots/", json!({"name": "Helper", "largeLanguageModel": llm, "rag": rag}))
            .await;
        assert_eq!(status, 201, "{bot}");
        crate::snapshot!(keys(&bot), @"apiWebChatId,builtInWorkflow,createdAt,databaseType,databaseUrl,embeddingModel,enableChineseConversion,id,instructions,knowledgeBases,largeLanguageModel,name,numberOfRetrievedChunks,organization,outputFormat,outputMode,rag,replyMode,rerankerModel,template,totalWordsCount,unanswerableTemplate,updatedAt,webhookSecret,webhookUrl,workflow");
        assert!(is_uuid(&bot["id"]));
        assert!(is_timestamp(&bot["createdAt"]) && is_timestamp(&bot["updatedAt"]));
        assert_eq!(bot["organization"], json!(app.organization_id().await.to_string()));
        let mut settings = bot.clone();
        assert!(is_uuid(&bot["apiWebChatId"]));
        assert_eq!(bot["webhookSecret"].as_str().unwrap().len(), 64);
        for volatile in ["id", "createdAt", "updatedAt", "organization", "largeLanguageModel", "rag", "apiWebChatId", "webhookSecret"] {
            settings.as_object_mut().unwrap().remove(volatile);
        }
        crate::snapshot!(settings.to_string(), @r#"{"builtInWorkflow":null,"databaseType":null,"databaseUrl":null,"embeddingModel":null,"enableChineseConversion":false,"instructions":"","knowledgeBases":[],"name":"Helper","numberOfRetrievedChunks":12,"outputFormat":null,"outputMode":"text","replyMode":"normal","rerankerModel":null,"template":null,"totalWordsCount":0,"unanswerableTemplate":null,"webhookUrl":null,"workflow":null}"#);
        assert_eq!((&bot["largeLanguageModel"], &bot["rag"]), (&json!(llm), &json!(rag)));
    })
    .await;
}

#[tokio::test]
async fn the_example_clients_exact_body_creates_and_replaces_a_chatbot() {
    each_engine(|app| async move {
        let (llm, rag) = app.default_models().await;
        let body = json!({"name": "Example", "model": llm, "rag": rag, "instructions": "Be brief."});
        let (status, bot) = app.post("/api/v1/chatbots/", body).await;
        assert_eq!(status, 201, "{bot}");
        assert_eq!((&bot["largeLanguageModel"], &bot["instructions"]), (&json!(llm), &json!("Be brief.")));
        let path = format!("/api/v1/chatbots/{}/", bot["id"].as_str().unwrap());
        let body = json!({"name": "Example 2", "model": llm, "rag": rag, "instructions": "Be kind."});
        let (status, bot) = app.put(&path, body).await;
        assert_eq!((status.as_u16(), &bot["name"], &bot["instructions"]), (200, &json!("Example 2"), &json!("Be kind.")));
        let (status, body) = app.post("/api/v1/chatbots/", json!({"name": "X", "model": "gpt-4o", "rag": rag})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"largeLanguageModel":["Must be a valid UUID."]}"#);
    })
    .await;
}

#[tokio::test]
async fn creating_a_chatbot_without_a_name_lists_the_missing_fields() {
    each_engine(|app| async move {
        let text = app.raw(Method::POST, "/api/v1/chatbots/", json!({"instructions": "x"})).await;
        crate::snapshot!(text, @r#"400 {"name":["This field is required."],"largeLanguageModel":["This field is required."],"rag":["This field is required."]}"#);
        let (llm, rag) = app.default_models().await;
        let (status, body) = app.post("/api/v1/chatbots/", json!({"largeLanguageModel": llm, "rag": rag})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"name":["This field is required."]}"#);
        let (_, list) = app.get("/api/v1/chatbots/").await;
        assert_eq!(list["count"], 0);
    })
    .await;
}

#[tokio::test]
async fn chatbot_field_errors_use_drf_texts() {
    each_engine(|app| async move {
        let carol = app.tenant("carol@example.com").await;
        let unknown = "00000000-0000-4000-8000-000000000001";
        let text = app
            .raw(
                Method::POST,
                "/api/v1/chatbots/",
                json!({
                    "name": "n".repeat(256),
                    "largeLanguageModel": "not-a-uuid",
                    "rag": unknown,
                    "embeddingModel": unknown,
                    "rerankerModel": 12,
                    "instructions": ["list"],
                    "webhookUrl": "ftp://example.com/hook",
                    "replyMode": "chatty",
                    "enableChineseConversion": "maybe",
                    "outputMode": "xml",
                    "numberOfRetrievedChunks": "many",
                    "knowledgeBases": "kb",
                    "organization": carol.organization_id,
                }),
            )
            .await
            .replace(&carol.organization_id.to_string(), "CAROL-ORG");
        crate::snapshot!(text, @r#"400 {"name":["Ensure this field has no more than 255 characters."],"largeLanguageModel":["Must be a valid UUID."],"rag":["Invalid pk \"00000000-0000-4000-8000-000000000001\" - object does not exist."],"embeddingModel":["Invalid pk \"00000000-0000-4000-8000-000000000001\" - object does not exist."],"rerankerModel":["Must be a valid UUID."],"instructions":["Not a valid string."],"webhookUrl":["Enter a valid URL."],"replyMode":["\"chatty\" is not a valid choice."],"enableChineseConversion":["Must be a valid boolean."],"outputMode":["\"xml\" is not a valid choice."],"numberOfRetrievedChunks":["A valid integer is required."],"knowledgeBases":["Expected a list of items but got type \"str\"."],"organization":["Invalid pk \"CAROL-ORG\" - object does not exist."]}"#);
    })
    .await;
}

#[tokio::test]
async fn chatbot_values_out_of_range_or_null_are_refused() {
    each_engine(|app| async move {
        let bot = app.chatbot("Ranges").await;
        let path = format!("/api/v1/chatbots/{}/", bot["id"].as_str().unwrap());
        let mut answers = Vec::new();
        for body in [
            json!({"numberOfRetrievedChunks": 0}),
            json!({"numberOfRetrievedChunks": 101}),
            json!({"numberOfRetrievedChunks": 2.5}),
            json!({"name": null}),
            json!({"name": "   "}),
            json!({"largeLanguageModel": null}),
            json!({"enableChineseConversion": null}),
            json!({"replyMode": true}),
            json!({"webhookUrl": format!("https://example.com/{}", "a".repeat(500))}),
            json!({"knowledgeBases": ["not-a-uuid"]}),
            json!({"knowledgeBases": ["00000000-0000-4000-8000-000000000002"]}),
            json!({"knowledgeBases": [7]}),
        ] {
            answers.push(app.raw(Method::PATCH, &path, body).await);
        }
        crate::snapshot!(answers.join("\n"), @r#"
        400 {"numberOfRetrievedChunks":["Ensure this value is greater than or equal to 1."]}
        400 {"numberOfRetrievedChunks":["Ensure this value is less than or equal to 100."]}
        400 {"numberOfRetrievedChunks":["A valid integer is required."]}
        400 {"name":["This field may not be null."]}
        400 {"name":["This field may not be blank."]}
        400 {"largeLanguageModel":["This field may not be null."]}
        400 {"enableChineseConversion":["This field may not be null."]}
        400 {"replyMode":["\"True\" is not a valid choice."]}
        400 {"webhookUrl":["Ensure this field has no more than 511 characters."]}
        400 {"knowledgeBases":["Invalid pk \"not-a-uuid\" - object does not exist."]}
        400 {"knowledgeBases":["Invalid pk \"00000000-0000-4000-8000-000000000002\" - object does not exist."]}
        400 {"knowledgeBases":["Incorrect type. Expected pk value, received int."]}
        "#);
        let (_, unchanged) = app.get(&path).await;
        assert_eq!(unchanged, bot, "no failed update changed anything");
    })
    .await;
}

#[tokio::test]
async fn both_casings_are_accepted_on_input_and_camel_case_comes_out() {
    each_engine(|app| async move {
        let (llm, rag) = app.default_models().await;
        let snake = json!({
            "name": "Snake",
            "large_language_model": llm,
            "rag": rag,
            "number_of_retrieved_chunks": 5,
            "enable_chinese_conversion": true,
            "reply_mode": "hybrid",
            "unanswerable_template": "Sorry.",
            "webhook_url": "https://hooks.example.com/a",
            "output_format": {"snake_key": 1},
        });
        let (status, bot) = app.post("/api/v1/chatbots/", snake).await;
        assert_eq!(status, 201, "{bot}");
        assert_eq!(
            (&bot["numberOfRetrievedChunks"], &bot["enableChineseConversion"], &bot["replyMode"]),
            (&json!(5), &json!(true), &json!("hybrid"))
        );
        assert_eq!((&bot["unanswerableTemplate"], &bot["webhookUrl"]), (&json!("Sorry."), &json!("https://hooks.example.com/a")));
        assert_eq!(bot["outputFormat"], json!({"snake_key": 1}), "free-form values keep their keys");
        assert!(bot.as_object().unwrap().keys().all(|k| !k.contains('_')), "{bot}");

        let path = format!("/api/v1/chatbots/{}/", bot["id"].as_str().unwrap());
        let (_, camel) = app.patch(&path, json!({"numberOfRetrievedChunks": 8, "enableChineseConversion": false})).await;
        assert_eq!((&camel["numberOfRetrievedChunks"], &camel["enableChineseConversion"]), (&json!(8), &json!(false)));
        let (_, both) = app.patch(&path, json!({"number_of_retrieved_chunks": 3, "numberOfRetrievedChunks": 4})).await;
        assert_eq!(both["numberOfRetrievedChunks"], 4, "the camelCase spelling wins");
        let (status, body) = app.patch(&path, json!({"number_of_retrieved_chunks": 0})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"numberOfRetrievedChunks":["Ensure this value is greater than or equal to 1."]}"#);
    })
    .await;
}

#[tokio::test]
async fn put_requires_the_required_fields_while_patch_does_not() {
    each_engine(|app| async move {
        let bot = app.chatbot("Original").await;
        let path = format!("/api/v1/chatbots/{}/", bot["id"].as_str().unwrap());
        let text = app.raw(Method::PUT, &path, json!({"instructions": "only this"})).await;
        crate::snapshot!(text, @r#"400 {"name":["This field is required."],"largeLanguageModel":["This field is required."],"rag":["This field is required."]}"#);

        let (status, same) = app.patch(&path, json!({})).await;
        assert_eq!((status.as_u16(), &same["name"], &same["instructions"]), (200, &json!("Original"), &json!("")));
        let (status, patched) = app.patch(&path, json!({"instructions": "Answer in Traditional Chinese."})).await;
        assert_eq!(status, 200);
        assert_eq!((&patched["name"], &patched["instructions"]), (&json!("Original"), &json!("Answer in Traditional Chinese.")));
        assert!(patched["updatedAt"].as_str() >= bot["updatedAt"].as_str());

        let (llm, rag) = app.default_models().await;
        let (status, replaced) = app.put(&path, json!({"name": "Replaced", "largeLanguageModel": llm, "rag": rag, "id": "ignored"})).await;
        assert_eq!((status.as_u16(), &replaced["name"], &replaced["id"]), (200, &json!("Replaced"), &bot["id"]));
        let (_, got) = app.get(&path).await;
        assert_eq!(got, replaced);
    })
    .await;
}

#[tokio::test]
async fn reading_and_deleting_a_chatbot() {
    each_engine(|app| async move {
        let bot = app.chatbot("Short-lived").await;
        let id = bot["id"].as_str().unwrap();
        let (status, got) = app.get(&format!("/api/v1/chatbots/{id}/")).await;
        assert_eq!((status.as_u16(), &got), (200, &bot));

        let (status, headers, text) =
            send_raw(app.request(Method::DELETE, &format!("/api/v1/chatbots/{id}/"))).await;
        assert_eq!((status.as_u16(), text.as_str()), (204, ""));
        assert!(!headers.contains_key("content-type"));
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let text = status_and_text(
                app.request(method, &format!("/api/v1/chatbots/{id}/")).json(&json!({})),
            )
            .await;
            crate::snapshot!(text, @r#"404 {"detail":"Not found."}"#);
        }
        let (_, list) = app.get("/api/v1/chatbots/").await;
        assert_eq!(list["count"], 0);
    })
    .await;
}

#[tokio::test]
async fn a_missing_or_malformed_chatbot_id_is_not_found_before_validation() {
    each_engine(|app| async move {
        for id in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_owned(), "123".to_owned()] {
            for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
                let request = app
                    .request(method.clone(), &format!("/api/v1/chatbots/{id}/"))
                    .json(&json!({"name": ""}));
                let (status, body) = send(request).await;
                assert_eq!(
                    status_and_body(status, &body),
                    r#"404 {"detail":"Not found."}"#,
                    "{method} {id}"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn another_tenants_chatbots_are_not_found_and_never_listed() {
    each_engine(|app| async move {
        let carol = app.tenant("carol@example.com").await;
        let (llm, rag) = app.default_models().await;
        let body = json!({"name": "Carol's", "largeLanguageModel": llm, "rag": rag});
        let (status, theirs) =
            send(app.request_as(&carol.key, Method::POST, "/api/v1/chatbots/").json(&body)).await;
        assert_eq!(status, 201);
        let ours = app.chatbot("Ours").await;

        let (_, list) = app.get("/api/v1/chatbots/").await;
        assert_eq!((&list["count"], &list["results"][0]["id"]), (&json!(1), &ours["id"]));
        let path = format!("/api/v1/chatbots/{}/", theirs["id"].as_str().unwrap());
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            let (status, body) = send(
                app.request(method.clone(), &path)
                    .json(&json!({"name": "Mine", "model": llm, "rag": rag})),
            )
            .await;
            assert_eq!(
                status_and_body(status, &body),
                r#"404 {"detail":"Not found."}"#,
                "{method}"
            );
        }
        let (status, still) = send(app.request_as(&carol.key, Method::GET, &path)).await;
        assert_eq!((status.as_u16(), &still["name"]), (200, &json!("Carol's")));
        let (_, carols) = send(app.request_as(&carol.key, Method::GET, "/api/v1/chatbots/")).await;
        assert_eq!((&carols["count"], &carols["results"][0]["id"]), (&json!(1), &theirs["id"]));
        let ours_path = format!("/api/v1/chatbots/{}/", ours["id"].as_str().unwrap());
        let (status, _) = send(app.request_as(&carol.key, Method::GET, &ours_path)).await;
        assert_eq!(status, 404, "and the other way round");
    })
    .await;
}

#[tokio::test]
async fn knowledge_bases_and_the_organization_field_only_name_the_callers_own() {
    each_engine(|app| async move {
        let carol = app.tenant("carol@example.com").await;
        let org = app.organization_id().await;
        let ours = app
            .state
            .store
            .write(move |db| db.insert_knowledge_base(org, "Handbook", None))
            .await
            .unwrap();
        let carol_org = carol.organization_id;
        let theirs = app
            .state
            .store
            .write(move |db| db.insert_knowledge_base(carol_org, "Secret", None))
            .await
            .unwrap();
        let bot = app.chatbot("With knowledge").await;
        let path = format!("/api/v1/chatbots/{}/", bot["id"].as_str().unwrap());

        let (status, body) = app.patch(&path, json!({"knowledgeBases": [theirs.id]})).await;
        assert_eq!(
            status_and_body(status, &body),
            format!(
                r#"400 {{"knowledgeBases":["Invalid pk \"{}\" - object does not exist."]}}"#,
                theirs.id
            )
        );
        let (status, body) = app.patch(&path, json!({"organization": carol.organization_id})).await;
        assert_eq!(
            status_and_body(status, &body),
            format!(
                r#"400 {{"organization":["Invalid pk \"{}\" - object does not exist."]}}"#,
                carol.organization_id
            )
        );

        let (status, body) = app
            .patch(&path, json!({"knowledge_bases": [{"id": ours.id}], "organization": org}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["knowledgeBases"], json!([{"id": ours.id, "name": "Handbook"}]));
        let (_, list) = app.get("/api/v1/chatbots/").await;
        assert_eq!(
            list["results"][0]["knowledgeBases"],
            json!([{"id": ours.id, "name": "Handbook"}])
        );
        let (_, cleared) = app.patch(&path, json!({"knowledgeBases": []})).await;
        assert_eq!(cleared["knowledgeBases"], json!([]));
    })
    .await;
}

#[tokio::test]
async fn optional_models_and_templates_accept_null_and_catalogue_ids() {
    each_engine(|app| async move {
        let (_, embedding) = app.get("/api/v1/embedding-models/").await;
        let (_, reranker) = app.get("/api/v1/reranker-models/").await;
        let bot = app.chatbot("Optional").await;
        let path = format!("/api/v1/chatbots/{}/", bot["id"].as_str().unwrap());
        let body = json!({
            "embeddingModel": embedding[0]["id"],
            "rerankerModel": reranker[0]["id"],
            "template": "  Keep my spaces  ",
            "webhookUrl": "https://hooks.example.com/x?y=1",
            "outputMode": "json_schema",
            "outputFormat": {"type": "object", "properties": {"answer_text": {"type": "string"}}},
        });
        let (status, set) = app.patch(&path, body).await;
        assert_eq!(status, 200, "{set}");
        assert_eq!((&set["embeddingModel"], &set["rerankerModel"]), (&embedding[0]["id"], &reranker[0]["id"]));
        assert_eq!(set["template"], "  Keep my spaces  ");
        assert_eq!(set["outputFormat"]["properties"]["answer_text"]["type"], "string");
        let (_, list) = app.get("/api/v1/chatbots/").await;
        assert_eq!(list["results"][0]["embeddingModel"], embedding[0]);
        assert_eq!(list["results"][0]["rerankerModel"], reranker[0]);

        let body = json!({"embeddingModel": null, "rerankerModel": null, "template": null, "webhookUrl": "", "outputFormat": null});
        let (status, cleared) = app.patch(&path, body).await;
        assert_eq!(status, 200, "{cleared}");
        for field in ["embeddingModel", "rerankerModel", "template", "webhookUrl", "outputFormat"] {
            assert_eq!(cleared[field], Value::Null, "{field}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_list_shows_related_models_as_objects_newest_first() {
    each_engine(|app| async move {
        let (llm, rag) = app.default_models().await;
        for name in ["First", "Second", "Third"] {
            app.chatbot(name).await;
        }
        let (status, list) = app.get("/api/v1/chatbots/").await;
        assert_eq!(status, 200);
        let names: Vec<&str> = list["results"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Third", "Second", "First"]);
        let item = &list["results"][0];
        crate::snapshot!(keys(item), @"embeddingModel,enableChineseConversion,id,knowledgeBases,largeLanguageModel,name,rag,replyMode,rerankerModel,updatedAt");
        assert_eq!(item["largeLanguageModel"]["id"], json!(llm));
        crate::snapshot!(keys(&item["largeLanguageModel"]), @"id,isDefault,name");
        assert_eq!(item["rag"]["id"], json!(rag));
        crate::snapshot!(keys(&item["rag"]), @"id,name");
        assert!(is_timestamp(&item["updatedAt"]));
    })
    .await;
}

#[tokio::test]
async fn chatbots_need_credentials_and_an_organisation() {
    each_engine(|app| async move {
        let (status, body) = send(app.client.get(app.url("/api/v1/chatbots/"))).await;
        crate::snapshot!(status_and_body(status, &body), @r#"401 {"detail":"Authentication credentials were not provided."}"#);
        let (status, body) = send(app.client.post(app.url("/api/v1/chatbots/")).json(&json!({"name": "x"}))).await;
        crate::snapshot!(status_and_body(status, &body), @r#"401 {"detail":"Authentication credentials were not provided."}"#);

        let loner = app.user("loner@example.com").await;
        let session = app.session(loner, None).await;
        let (status, body) = send(app.request_with_session(&session, Method::GET, "/api/v1/chatbots/")).await;
        crate::snapshot!(status_and_body(status, &body), @r#"403 {"detail":"You do not have permission to perform this action."}"#);
        let without_csrf = app.client.post(app.url("/api/v1/chatbots/")).header("Cookie", &session.cookie).json(&json!({}));
        let (status, body) = send(without_csrf).await;
        crate::snapshot!(status_and_body(status, &body), @r#"403 {"detail":"CSRF Failed: CSRF token missing."}"#);
    })
    .await;
}

#[tokio::test]
async fn a_member_works_on_the_organisations_chatbots() {
    each_engine(|app| async move {
        let bob = app.member("bob@example.com").await;
        let ours = app.chatbot("Shared").await;
        let (_, list) = send(app.request_as(&bob.key, Method::GET, "/api/v1/chatbots/")).await;
        assert_eq!((&list["count"], &list["results"][0]["id"]), (&json!(1), &ours["id"]));
        let path = format!("/api/v1/chatbots/{}/", ours["id"].as_str().unwrap());
        let (status, body) = send(
            app.request_as(&bob.key, Method::PATCH, &path).json(&json!({"name": "Bob's edit"})),
        )
        .await;
        assert_eq!((status.as_u16(), &body["name"]), (200, &json!("Bob's edit")));
        let (_, seen) = app.get(&path).await;
        assert_eq!(seen["name"], "Bob's edit");
    })
    .await;
}

#[tokio::test]
async fn names_in_traditional_chinese_round_trip_and_are_measured_in_characters() {
    each_engine(|app| async move {
        let (llm, rag) = app.default_models().await;
        let name = "客服助理".repeat(63) + "測試中文";
        assert_eq!(name.chars().count(), 256);
        let body = json!({"name": name, "model": llm, "rag": rag});
        let (status, body) = app.post("/api/v1/chatbots/", body).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"name":["Ensure this field has no more than 255 characters."]}"#);
        let name: String = name.chars().take(255).collect();
        let body = json!({"name": name, "model": llm, "rag": rag, "instructions": "請用繁體中文回答。"});
        let (status, bot) = app.post("/api/v1/chatbots/", body).await;
        assert_eq!((status.as_u16(), &bot["name"]), (201, &json!(name)));
        let (_, list) = app.get("/api/v1/chatbots/").await;
        assert_eq!((&list["results"][0]["name"], &bot["instructions"]), (&json!(name), &json!("請用繁體中文回答。")));
    })
    .await;
}
