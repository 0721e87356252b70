//! `chatbots/{id}/completions/`: sync and streamed answers, continuation, reply modes,
//! Chinese conversion while streaming, attachments, provider failures, a client that hangs up,
//! and bad bodies, on every engine. The built-in offline model answers from the knowledge
//! base; provider models are a fake OpenAI-compatible server (`fake_llm`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fake_llm::{FakeLlm, Script};
use crate::helpers::{
    TestApp, each_engine, each_engine_with, fixture, is_timestamp, is_uuid, send, send_raw,
    status_and_text,
};
use crate::snapshot;

const REFUND_ZH_HANS: &str = "台湾高铁退票规定\n\n旅客可于开车前办理退票，并支付百分之十手续费。\n\n\
    订位说明\n\n旅客可在网站或车站订位，订位后请于三日内付款。";

/// A knowledge base holding the (Simplified) refund rules, and an assistant answering from it
/// with the given settings.
async fn assistant(app: &TestApp, settings: Value) -> (String, String) {
    let kb = app.kb("高鐵").await;
    let kb_id = kb["id"].as_str().unwrap().to_owned();
    let file = app.ingest(&kb_id, "refund.txt", REFUND_ZH_HANS.as_bytes().to_vec()).await;
    assert_eq!(file["status"], "done", "{file}");
    let (llm, rag) = app.default_models().await;
    let mut body = json!({"name": "客服", "largeLanguageModel": llm, "rag": rag,
        "knowledgeBases": [kb_id]});
    for (key, value) in settings.as_object().unwrap() {
        body[key] = value.clone();
    }
    let (status, chatbot) = app.post("/api/v1/chatbots/", body).await;
    assert_eq!(status, StatusCode::CREATED, "{chatbot}");
    (chatbot["id"].as_str().unwrap().to_owned(), kb_id)
}

/// The catalogue id of the fake provider's `model`.
async fn fake_model(app: &TestApp, model: &str) -> String {
    let (_, settings) = app.get("/api/v1/chatbot-settings/").await;
    settings[0]["llms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == format!("fake {model}"))
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .expect("the fake model is in the catalogue")
}

/// POSTs a streamed completion and returns the headers and each event's raw `data:` text.
async fn stream(
    app: &TestApp,
    chatbot: &str,
    body: Value,
) -> (reqwest::header::HeaderMap, Vec<String>) {
    let (status, headers, text) = send_raw(
        app.request(Method::POST, &format!("/api/v1/chatbots/{chatbot}/completions/")).json(&body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let events = text
        .split("\n\n")
        .filter(|e| !e.is_empty() && !e.starts_with(':'))
        .map(|e| {
            e.strip_prefix("data: ").unwrap_or_else(|| panic!("not a data event: {e:?}")).to_owned()
        })
        .collect();
    (headers, events)
}

async fn complete(app: &TestApp, chatbot: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/chatbots/{chatbot}/completions/"), body).await
}

/// The conversation's messages, oldest first.
async fn conversation_messages(app: &TestApp, conversation: &str) -> Vec<Value> {
    let (status, page) =
        app.get(&format!("/api/v1/messages/?conversation={conversation}&pageSize=100")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut messages = page["results"].as_array().unwrap().clone();
    messages.reverse();
    messages
}

#[tokio::test]
async fn the_offline_model_answers_from_the_knowledge_base_whole_streamed_and_continued() {
    each_engine(|app| async move {
        let (chatbot, _) = assistant(&app, json!({})).await;

        // The Python client: snake_case `is_streaming`, not streaming.
        let (status, answer) = complete(
            &app,
            &chatbot,
            json!({"conversation": null, "message": {"content": "高鐵的退票規定是什麼？", "attachments": []}, "is_streaming": false}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(crate::helpers::keys(&answer), "content,conversationId,done");
        assert_eq!(answer["done"], true);
        let content = answer["content"].as_str().unwrap();
        // A Traditional question about a Simplified passage is answered in Traditional.
        assert!(content.contains("開車前辦理退票") && content.contains("[1]"), "{content}");
        let conversation = answer["conversationId"].as_str().unwrap().to_owned();

        let messages = conversation_messages(&app, &conversation).await;
        assert_eq!(messages.len(), 2);
        assert_eq!((&messages[0]["type"], &messages[1]["type"]), (&json!("incoming"), &json!("outgoing")));
        let reply = &messages[1];
        assert_eq!(reply["content"], answer["content"]);
        assert_eq!(reply["citations"][0]["filename"], "refund.txt");
        assert!(reply["citations"][0]["file"].as_str().unwrap().ends_with("/download/"));
        let node = &reply["citationNodes"][0];
        assert!(node["chatbotTextNode"]["text"].as_str().unwrap().contains("退票"), "{node}");
        assert!(is_timestamp(&reply["createdAt"]) && reply["sender"]["id"].is_i64());
        assert_eq!(reply["sender"]["name"], "客服");
        let (_, chatbot_view) = app.get(&format!("/api/v1/chatbots/{chatbot}/")).await;
        assert!(chatbot_view["totalWordsCount"].as_i64().unwrap() > 0, "{chatbot_view}");

        // The C# client: camelCase `isStreaming`, continuing the conversation.
        let (headers, events) = stream(
            &app,
            &chatbot,
            json!({"conversation": conversation, "message": {"content": "訂位後多久要付款？"}, "isStreaming": true}),
        )
        .await;
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        assert_eq!(headers["cache-control"], "no-cache");
        assert_eq!(headers["x-accel-buffering"], "no");
        assert!(events.len() >= 2, "{events:?}");
        let (last, pieces) = events.split_last().unwrap();
        let prefix = format!("{{\"conversationId\":\"{conversation}\",\"content\":");
        for piece in pieces {
            assert!(piece.starts_with(&prefix) && piece.ends_with(",\"done\":false}"), "{piece}");
        }
        assert_eq!(last, &format!("{prefix}\"\",\"done\":true}}"));
        let streamed: String = pieces
            .iter()
            .map(|p| serde_json::from_str::<Value>(p).unwrap()["content"].as_str().unwrap().to_owned())
            .collect();
        assert!(streamed.contains("三日內付款"), "{streamed}");

        // The answer was stored before the last event: the conversation has both turns.
        let messages = conversation_messages(&app, &conversation).await;
        assert_eq!(messages.len(), 4);
        assert_eq!(messages[3]["content"], streamed.as_str());
        let (_, listed) = app.get(&format!("/api/v1/conversations/{conversation}/")).await;
        assert_eq!(listed["lastMessage"]["content"], streamed.as_str());
        assert_eq!(listed["title"], "高鐵的退票規定是什麼？");
    })
    .await;
}

#[tokio::test]
async fn nothing_relevant_is_said_plainly_or_with_the_unanswerable_template() {
    each_engine(|app| async move {
        let (chatbot, _) = assistant(&app, json!({})).await;
        let (status, answer) =
            complete(&app, &chatbot, json!({"message": {"content": "公司的年假有幾天？"}})).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["content"], "抱歉，知識庫中找不到與這個問題相關的資料。");
        let (status, answer) =
            complete(&app, &chatbot, json!({"message": {"content": "How many days of leave?"}}))
                .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            answer["content"],
            "Sorry, I could not find anything about this in the knowledge base."
        );

        let (custom, _) =
            assistant(&app, json!({"unanswerableTemplate": "這個問題請洽客服專線 0800-000-000。"}))
                .await;
        let (_, answer) =
            complete(&app, &custom, json!({"message": {"content": "公司的年假有幾天？"}})).await;
        assert_eq!(answer["content"], "這個問題請洽客服專線 0800-000-000。");
    })
    .await;
}

#[tokio::test]
async fn template_and_hybrid_modes_answer_faqs_directly_and_normal_mode_asks_the_model() {
    let fake = FakeLlm::start().await;
    let provider = fake.provider();
    each_engine_with(
        |config| config.providers = vec![provider.clone()],
        |app| {
            let fake = &fake;
            async move {
                let model = fake_model(&app, crate::fake_llm::MODEL).await;
                let (template, kb) = assistant(
                    &app,
                    json!({"replyMode": "template", "template": "您好！{{ answer }}",
                           "unanswerableTemplate": "請洽客服。", "largeLanguageModel": model}),
                )
                .await;
                let (status, faq) = app
                    .post(
                        &format!("/api/v1/knowledge-bases/{kb}/faqs/"),
                        json!({"question": "如何辦理退票？", "answer": "請於開車前至車站窗口辦理退票。"}),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{faq}");
                let before = fake.requests().len();

                let (_, answer) =
                    complete(&app, &template, json!({"message": {"content": "如何辦理退票"}})).await;
                assert_eq!(answer["content"], "您好！請於開車前至車站窗口辦理退票。");
                let (_, answer) =
                    complete(&app, &template, json!({"message": {"content": "公司的年假有幾天"}})).await;
                assert_eq!(answer["content"], "請洽客服。");
                assert_eq!(fake.requests().len(), before, "template mode never asks the model");
                let messages =
                    conversation_messages(&app, answer["conversationId"].as_str().unwrap()).await;
                assert!(messages[1]["citationNodes"].as_array().unwrap().is_empty());

                let (status, hybrid) = app
                    .patch(&format!("/api/v1/chatbots/{template}/"), json!({"replyMode": "hybrid", "template": null}))
                    .await;
                assert_eq!(status, StatusCode::OK, "{hybrid}");
                let (_, answer) =
                    complete(&app, &template, json!({"message": {"content": "如何辦理退票？"}})).await;
                assert_eq!(answer["content"], "請於開車前至車站窗口辦理退票。");
                let conversation = answer["conversationId"].as_str().unwrap().to_owned();
                let cited = &conversation_messages(&app, &conversation).await[1]["citationNodes"];
                assert_eq!(cited[0]["chatbotTextNode"]["text"], "如何辦理退票？\n請於開車前至車站窗口辦理退票。");
                assert_eq!(fake.requests().len(), before);
                // Anything else goes to the model, with the passages and the instructions.
                let (status, answer) = complete(
                    &app,
                    &template,
                    json!({"message": {"content": "訂位後多久要付款？"}}),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                assert_eq!(answer["content"], "Fake answer [1].");
                let request = fake.requests().pop().unwrap();
                assert_eq!(request["model"], "gpt-fake");
                assert_eq!(request["stream"], true);
                let system = request["messages"][0]["content"].as_str().unwrap();
                assert!(system.contains("[1] refund.txt") && system.contains("三日内付款"), "{system}");
                let reply = conversation_messages(&app, answer["conversationId"].as_str().unwrap()).await;
                assert_eq!(reply[1]["citations"][0]["filename"], "refund.txt");

                // Normal mode, continuing: the history goes with the question.
                app.patch(&format!("/api/v1/chatbots/{template}/"), json!({"replyMode": "normal", "instructions": "請用繁體中文回答。"}))
                    .await;
                let (_, next) = complete(
                    &app,
                    &template,
                    json!({"conversation": answer["conversationId"], "message": {"content": "如何辦理退票？"}}),
                )
                .await;
                assert_eq!(next["content"], "Fake answer [1].", "normal mode asks the model even for an FAQ");
                let request = fake.requests().pop().unwrap();
                let turns: Vec<&str> = request["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["role"].as_str().unwrap())
                    .collect();
                assert_eq!(turns, ["system", "user", "assistant", "user"]);
                assert!(request["messages"][0]["content"].as_str().unwrap().starts_with("請用繁體中文回答。"));
                assert_eq!(request["messages"][1]["content"], "訂位後多久要付款？");
            }
        },
    )
    .await;
}

#[tokio::test]
async fn chinese_conversion_applies_while_streaming_without_splitting_a_phrase() {
    let fake = FakeLlm::start().await;
    let provider = fake.provider();
    each_engine_with(
        |config| config.providers = vec![provider.clone()],
        |app| {
            let fake = &fake;
            async move {
                let model = fake_model(&app, crate::fake_llm::MODEL).await;
                let (chatbot, _) = assistant(
                    &app,
                    json!({"largeLanguageModel": model, "enableChineseConversion": true}),
                )
                .await;
                fake.then(Script::Answer(
                    ["软", "件很好，内", "存不", "够。出租", "车在台北"].map(String::from).to_vec(),
                ));
                let (_, events) = stream(
                    &app,
                    &chatbot,
                    json!({"message": {"content": "電腦怎麼樣？"}, "isStreaming": true}),
                )
                .await;
                let pieces: Vec<String> = events
                    .iter()
                    .map(|e| {
                        serde_json::from_str::<Value>(e).unwrap()["content"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect();
                assert_eq!(pieces.concat(), "軟體很好，記憶體不夠。計程車在臺北");
                assert!(pieces.len() >= 3, "it still streams: {pieces:?}");
                assert!(!pieces.iter().any(|p| p.contains('内') || p.contains('內')), "{pieces:?}");

                fake.then(Script::Answer(vec!["内".into(), "存".into()]));
                let (_, whole) =
                    complete(&app, &chatbot, json!({"message": {"content": "記憶體？"}})).await;
                assert_eq!(whole["content"], "記憶體");
            }
        },
    )
    .await;
}

#[tokio::test]
async fn provider_failures_are_gateway_errors_and_are_recorded() {
    let fake = FakeLlm::start().await;
    let provider = fake.provider();
    each_engine_with(
        |config| config.providers = vec![provider.clone()],
        |app| {
            let fake = &fake;
            async move {
                let model = fake_model(&app, crate::fake_llm::MODEL).await;
                let (chatbot, _) = assistant(&app, json!({"largeLanguageModel": model})).await;
                let path = format!("/api/v1/chatbots/{chatbot}/completions/");
                let body = json!({"message": {"content": "退票？"}, "isStreaming": true});

                fake.then(Script::Status(401, json!({"error": {"message": "Incorrect API key provided: sk-fake-key."}}), None));
                let text = status_and_text(app.request(Method::POST, &path).json(&body)).await;
                snapshot!(text, @r#"502 {"detail":"The language model provider (fake, gpt-fake) refused the request: 401 Incorrect API key provided: [redacted]."}"#);

                for _ in 0..3 {
                    fake.then(Script::Status(429, json!({"error": {"message": "Rate limit reached."}}), Some("0")));
                }
                let (status, error) = app.post(&path, json!({"message": {"content": "退票？"}})).await;
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{error}");
                assert!(error["detail"].as_str().unwrap().contains("rate limiting"), "{error}");

                for _ in 0..3 {
                    fake.then(Script::Status(503, json!({"error": {"message": "overloaded"}}), Some("0")));
                }
                let (status, error) = app.post(&path, json!({"message": {"content": "退票？"}})).await;
                assert_eq!(status, StatusCode::BAD_GATEWAY, "{error}");

                // A 429 that passes is retried and nobody notices.
                fake.then(Script::Status(429, json!({}), Some("0")));
                let (status, answer) = app.post(&path, json!({"message": {"content": "退票？"}})).await;
                assert_eq!((status, answer["content"].clone()), (StatusCode::OK, json!("Fake answer [1].")));

                // Failed replies are recorded in their conversations.
                let (_, page) = app.get("/api/v1/messages/?pageSize=100").await;
                let failed: Vec<&Value> = page["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|m| m["status"] == "failed")
                    .collect();
                assert_eq!(failed.len(), 3, "{page}");
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_client_that_hangs_up_stops_the_model_and_keeps_what_was_written() {
    let fake = FakeLlm::start().await;
    let provider = fake.provider();
    each_engine_with(
        |config| {
            config.providers = vec![provider.clone()];
            // A silent model: the server learns the client left when a keep-alive fails.
            config.stream_keep_alive_seconds = 1;
        },
        |app| {
            let fake = &fake;
            async move {
                let model = fake_model(&app, crate::fake_llm::MODEL).await;
                let (chatbot, _) = assistant(&app, json!({"largeLanguageModel": model})).await;
                let mut happened = app.state.chat.happened.subscribe();
                fake.then(Script::Hang("第一段，".into()));
                let mut response = app
                    .request(Method::POST, &format!("/api/v1/chatbots/{chatbot}/completions/"))
                    .json(&json!({"message": {"content": "退票？"}, "isStreaming": true}))
                    .send()
                    .await
                    .unwrap();
                let first = response.chunk().await.unwrap().unwrap();
                let first = String::from_utf8_lossy(&first).into_owned();
                assert!(
                    first.starts_with("data: {\"conversationId\":") && first.contains("第一段，"),
                    "{first}"
                );
                drop(response);

                // The provider sees its connection closed…
                tokio::time::timeout(std::time::Duration::from_secs(10), fake.hung_up())
                    .await
                    .expect("the provider's stream was dropped");
                // …and the partial answer is stored, marked failed.
                let stored =
                    tokio::time::timeout(std::time::Duration::from_secs(10), happened.recv())
                        .await
                        .expect("the reply was stored")
                        .unwrap();
                let openmai_server::chat::Happened::Replied { message, .. } = stored else {
                    panic!("{stored:?}")
                };
                let (_, reply) = app.get(&format!("/api/v1/messages/{message}/")).await;
                assert_eq!(
                    (reply["status"].clone(), reply["content"].clone()),
                    (json!("failed"), json!("第一段，"))
                );
            }
        },
    )
    .await;
}

#[tokio::test]
async fn attachments_reach_the_model_images_to_vision_models_and_documents_as_passages() {
    let fake = FakeLlm::start().await;
    let provider = fake.provider();
    each_engine_with(
        |config| config.providers = vec![provider.clone()],
        |app| {
            let fake = &fake;
            async move {
                let png = b"\x89PNG\r\n\x1a\nfake image bytes".to_vec();
                let key = upload_attachment(&app, "照片.png", png.clone()).await;
                let (status, image) = app
                    .post(
                        "/api/v1/attachments/",
                        json!({"file": key, "filename": "照片.png", "type": "image"}),
                    )
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{image}");
                assert_eq!(
                    crate::helpers::keys(&image),
                    "conversation,createdAt,file,filename,id,size,type"
                );
                let (status, downloaded, bytes) = {
                    let response = app
                        .request(
                            Method::GET,
                            &format!(
                                "/api/v1/attachments/{}/download/",
                                image["id"].as_str().unwrap()
                            ),
                        )
                        .send()
                        .await
                        .unwrap();
                    let status = response.status();
                    let headers = response.headers().clone();
                    (status, headers, response.bytes().await.unwrap())
                };
                assert_eq!(status, StatusCode::OK);
                assert!(
                    downloaded["content-disposition"]
                        .to_str()
                        .unwrap()
                        .contains("filename*=UTF-8''%E7%85%A7")
                );
                assert_eq!(bytes.as_ref(), png.as_slice());

                // The Python client sends {id, type, filename, file}.
                let vision = fake_model(&app, crate::fake_llm::VISION_MODEL).await;
                let (chatbot, _) = assistant(&app, json!({"largeLanguageModel": vision})).await;
                let (status, answer) = complete(
                    &app,
                    &chatbot,
                    json!({"message": {
                    "content": "這張照片是什麼？", "attachments": [image.clone()]}}),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                let request = fake.requests().pop().unwrap();
                let parts =
                    request["messages"].as_array().unwrap().last().unwrap()["content"].clone();
                assert_eq!(parts[0], json!({"type": "text", "text": "這張照片是什麼？"}));
                let url = parts[1]["image_url"]["url"].as_str().unwrap();
                assert!(url.starts_with("data:image/png;base64,"), "{url}");
                let messages =
                    conversation_messages(&app, answer["conversationId"].as_str().unwrap()).await;
                assert_eq!(messages[0]["attachments"][0]["id"], image["id"]);

                // A model without vision is told about the image; the C# client sends ids.
                let plain = fake_model(&app, crate::fake_llm::MODEL).await;
                app.patch(
                    &format!("/api/v1/chatbots/{chatbot}/"),
                    json!({"largeLanguageModel": plain}),
                )
                .await;
                complete(
                    &app,
                    &chatbot,
                    json!({"message": {"content": "看得到嗎？", "attachments": [image["id"]]}}),
                )
                .await;
                let request = fake.requests().pop().unwrap();
                let last =
                    request["messages"].as_array().unwrap().last().unwrap()["content"].clone();
                assert_eq!(last, "看得到嗎？\n[attached image: 照片.png]");

                // A document is parsed and answered from, by the offline model too.
                let key = upload_attachment(&app, "refund.pdf", fixture("refund.pdf")).await;
                let (offline, _) = assistant(&app, json!({})).await;
                let (status, answer) = complete(
                    &app,
                    &offline,
                    json!({"message": {
                    "content": "臨櫃退票需要帶什麼？",
                    "attachments": [{"type": "other", "filename": "refund.pdf", "file": key}]}}),
                )
                .await;
                assert_eq!(status, StatusCode::OK, "{answer}");
                assert!(answer["content"].as_str().unwrap().contains("身分證件"), "{answer}");

                // Multipart straight to attachments/.
                let form = reqwest::multipart::Form::new()
                    .text("type", "image")
                    .part("file", reqwest::multipart::Part::bytes(png).file_name("direct.png"));
                let (status, direct) =
                    send(app.request(Method::POST, "/api/v1/attachments/").multipart(form)).await;
                assert_eq!(status, StatusCode::CREATED, "{direct}");
                assert_eq!(
                    (direct["filename"].clone(), direct["type"].clone()),
                    (json!("direct.png"), json!("image"))
                );
            }
        },
    )
    .await;
}

/// Uploads through the presigned form as a chat attachment; returns the storage key.
pub async fn upload_attachment(app: &TestApp, filename: &str, bytes: Vec<u8>) -> String {
    let (status, form) = app
        .post(
            "/api/v1/upload-presigned-url/",
            json!({"filename": filename, "modelName": "attachment", "fieldName": "file", "fileSize": bytes.len()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{form}");
    let fields: Vec<(String, String)> = form["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let (status, body) =
        app.post_form(form["url"].as_str().unwrap(), &fields, filename, bytes).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    fields.iter().find(|(k, _)| k == "key").unwrap().1.clone()
}

#[tokio::test]
async fn bad_bodies_are_refused_in_drf_shape_and_other_tenants_are_invisible() {
    each_engine(|app| async move {
        let (chatbot, _) = assistant(&app, json!({})).await;
        let path = format!("/api/v1/chatbots/{chatbot}/completions/");
        let post = |body: Value| status_and_text(app.request(Method::POST, &path).json(&body));
        let text = post(json!({})).await;
        snapshot!(text, @r#"400 {"message":["This field is required."]}"#);
        let text = post(json!({"message": "hi"})).await;
        snapshot!(text, @r#"400 {"message":{"nonFieldErrors":["Invalid data. Expected a dictionary, but got str."]}}"#);
        let text = post(json!({"message": {}})).await;
        snapshot!(text, @r#"400 {"message":{"content":["This field is required."]}}"#);
        let text = post(json!({"message": {"content": " "}})).await;
        snapshot!(text, @r#"400 {"message":{"content":["This field may not be blank."]}}"#);
        let text = post(json!({"message": {"content": "x"}, "isStreaming": "maybe"})).await;
        snapshot!(text, @r#"400 {"isStreaming":["Must be a valid boolean."]}"#);
        let text = post(json!({"conversation": "nope", "message": {"content": "x"}})).await;
        snapshot!(text, @r#"400 {"conversation":["Must be a valid UUID."]}"#);
        let unknown = uuid::Uuid::new_v4();
        assert_eq!(
            post(json!({"conversation": unknown, "message": {"content": "x"}})).await,
            format!(r#"400 {{"conversation":["Invalid pk \"{unknown}\" - object does not exist."]}}"#)
        );
        assert_eq!(
            post(json!({"message": {"content": "x", "attachments": [unknown]}})).await,
            format!(r#"400 {{"message":{{"attachments":["Invalid pk \"{unknown}\" - object does not exist."]}}}}"#)
        );
        let malformed = status_and_text(
            app.request(Method::POST, &path).header("Content-Type", "application/json").body("{\"message\": "),
        )
        .await;
        assert!(malformed.starts_with(r#"400 {"detail":"JSON parse error - "#), "{malformed}");
        // Nothing was stored by the refused requests.
        let (_, page) = app.get("/api/v1/conversations/").await;
        assert!(page["results"].as_array().unwrap().is_empty(), "{page}");

        // Another tenant cannot use the assistant nor continue its conversations.
        let (_, answer) = complete(&app, &chatbot, json!({"message": {"content": "退票？"}})).await;
        let conversation = answer["conversationId"].as_str().unwrap().to_owned();
        let other = app.tenant("other@example.com").await;
        let (status, _) = send(app.request_as(&other.key, Method::POST, &path).json(&json!({"message": {"content": "x"}}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let their_bot = {
            let (llm, rag) = app.default_models().await;
            let (_, bot) = send(app.request_as(&other.key, Method::POST, "/api/v1/chatbots/").json(
                &json!({"name": "theirs", "largeLanguageModel": llm, "rag": rag}),
            ))
            .await;
            bot["id"].as_str().unwrap().to_owned()
        };
        let text = status_and_text(
            app.request_as(&other.key, Method::POST, &format!("/api/v1/chatbots/{their_bot}/completions/"))
                .json(&json!({"conversation": conversation, "message": {"content": "x"}})),
        )
        .await;
        assert_eq!(text, format!(r#"400 {{"conversation":["Invalid pk \"{conversation}\" - object does not exist."]}}"#));
        let (status, _) = send(app.request_as(&other.key, Method::GET, &format!("/api/v1/conversations/{conversation}/"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(is_uuid(&json!(conversation)));
    })
    .await;
}
