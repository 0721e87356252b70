//! The assistant form's answer settings (templates, linked knowledge bases, webhook, Taiwan
//! conversion, passages per answer) and the chat page (測試對話): HTTP tests on each engine, and
//! two that chat in headless Chromium with an assistant answering from a knowledge base (a
//! text file linked through the form; a PDF, whose citations name their pages).

use std::panic::AssertUnwindSafe;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use futures::FutureExt;
use openmai_store::testing::TestDatabase;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::console::{
    ChromeDriver, STEP, Visitor, headless_chromium, path_of, snapshot as screenshot, texts,
    wait_for,
};
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, each_engine, send};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// The assistant as the API shows it.
async fn chatbot_view(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/api/v1/chatbots/{id}/")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The names of the knowledge bases an assistant is linked to, sorted.
fn linked(chatbot: &Value) -> Vec<String> {
    let mut names: Vec<String> = chatbot["knowledgeBases"]
        .as_array()
        .expect("knowledgeBases")
        .iter()
        .map(|kb| kb["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The text of the element with `data-testid="{testid}"` in a page, if there is one.
fn testid_text(body: &str, testid: &str) -> Option<String> {
    let marker = format!(r#"data-testid="{testid}">"#);
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('<')?;
    Some(body[start..start + end].to_owned())
}

#[tokio::test]
async fn console_chat_the_assistant_form_saves_and_shows_templates_knowledge_and_webhook() {
    each_engine(|app| async move {
        let refunds = id(&app.kb("退票規定").await);
        let shipping = id(&app.kb("Shipping <FAQ>").await);
        let (llm, _) = app.default_models().await;
        let mut visitor = Visitor::new(&app);
        visitor.log_in().await;
        let csrf = visitor.csrf().await;

        let form = visitor.get("/console/chatbots/new").await;
        assert_eq!(form.status, StatusCode::OK);
        for text in [
            "回答範本",
            "無法回答範本",
            "關聯知識庫",
            "Webhook 網址",
            "將回答轉換為台灣繁體中文",
            "檢索段落數",
            "{{ answer }}",
            "{{ question }}",
            "X-OpenMai-Signature: t=…,v1=…",
            "退票規定",
            "Shipping &#60;FAQ&#62;",
        ] {
            assert!(form.body.contains(text), "{text} missing");
        }
        assert!(form.body.contains(&format!(r#"value="{refunds}" data-testid="kb-choice">"#)));
        assert!(form.body.contains(r#"id="numberOfRetrievedChunks" class="short" value="12""#));
        assert!(!form.body.contains("webhook-secret"), "no secret before the assistant exists");
        assert!(!form.body.contains(r#"id="enableChineseConversion" value="true" checked"#));

        let created = visitor
            .post(
                "/console/chatbots/new",
                &[
                    ("csrf", &csrf),
                    ("name", "範本助理"),
                    ("largeLanguageModel", &llm),
                    ("replyMode", "template"),
                    ("instructions", ""),
                    ("template", "您好：{{ answer }}\r\n（問題：{{ question }}）"),
                    ("unanswerableTemplate", "抱歉，無法回答「{{ question }}」。"),
                    ("knowledgeBases", &refunds),
                    ("knowledgeBases", &shipping),
                    ("webhookUrl", "https://hooks.example.com/openmai"),
                    ("enableChineseConversion", "true"),
                    ("numberOfRetrievedChunks", "7"),
                ],
            )
            .await;
        assert_eq!(
            (created.status, created.location()),
            (StatusCode::SEE_OTHER, "/console/chatbots?notice=created"),
            "{}",
            created.body
        );
        let (_, list) = app.get("/api/v1/chatbots/").await;
        let chatbot = id(&list["results"][0]);
        let saved = chatbot_view(&app, &chatbot).await;
        assert_eq!(saved["replyMode"], "template");
        assert_eq!(saved["template"], "您好：{{ answer }}\n（問題：{{ question }}）");
        assert_eq!(saved["unanswerableTemplate"], "抱歉，無法回答「{{ question }}」。");
        assert_eq!(linked(&saved), ["Shipping <FAQ>", "退票規定"]);
        assert_eq!(saved["webhookUrl"], "https://hooks.example.com/openmai");
        assert_eq!(saved["enableChineseConversion"], true);
        assert_eq!(saved["numberOfRetrievedChunks"], 7);
        let secret = saved["webhookSecret"].as_str().unwrap().to_owned();
        assert!(!secret.is_empty());

        // The table names the linked knowledge bases; the edit page shows everything back.
        let table = visitor.get("/console/chatbots").await;
        let kbs = testid_text(&table.body, "chatbot-kbs").unwrap();
        assert!(kbs.contains("退票規定") && kbs.contains("Shipping &#60;FAQ&#62;"), "{kbs}");
        assert!(table.body.contains(&format!(r#"href="/console/chatbots/{chatbot}/chat""#)));
        let edit = visitor.get(&format!("/console/chatbots/{chatbot}/edit")).await;
        assert_eq!(edit.status, StatusCode::OK);
        assert!(edit.body.contains("您好：{{ answer }}\n（問題：{{ question }}）</textarea>"));
        assert!(edit.body.contains("抱歉，無法回答「{{ question }}」。</textarea>"));
        for kb in [&refunds, &shipping] {
            assert!(
                edit.body.contains(&format!(r#"value="{kb}" data-testid="kb-choice" checked>"#))
            );
        }
        assert!(edit.body.contains(r#"value="https://hooks.example.com/openmai""#));
        assert!(edit.body.contains(r#"id="enableChineseConversion" value="true" checked"#));
        assert!(edit.body.contains(r#"id="numberOfRetrievedChunks" class="short" value="7""#));
        assert!(
            edit.body
                .contains(&format!(r#"value="{secret}" readonly data-testid="webhook-secret""#)),
            "the webhook secret is shown, read-only"
        );
        assert!(edit.body.contains(&format!(r#"href="/console/chatbots/{chatbot}/chat""#)));
        assert!(edit.body.contains(r#"<option value="template" selected>"#));

        // Unticking and blanking clear them; the secret stays.
        let cleared = visitor
            .post(
                &format!("/console/chatbots/{chatbot}/edit"),
                &[
                    ("csrf", &csrf),
                    ("name", "範本助理"),
                    ("largeLanguageModel", &llm),
                    ("replyMode", "hybrid"),
                    ("instructions", ""),
                    ("template", ""),
                    ("unanswerableTemplate", "  "),
                    ("knowledgeBases", &shipping),
                    ("webhookUrl", ""),
                    ("numberOfRetrievedChunks", "100"),
                ],
            )
            .await;
        assert_eq!(cleared.location(), "/console/chatbots?notice=updated", "{}", cleared.body);
        let saved = chatbot_view(&app, &chatbot).await;
        assert_eq!(saved["replyMode"], "hybrid");
        assert_eq!(
            (&saved["template"], &saved["unanswerableTemplate"]),
            (&Value::Null, &Value::Null)
        );
        assert_eq!(linked(&saved), ["Shipping <FAQ>"]);
        assert_eq!(saved["webhookUrl"], Value::Null);
        assert_eq!(saved["enableChineseConversion"], false);
        assert_eq!(saved["numberOfRetrievedChunks"], 100);
        assert_eq!(saved["webhookSecret"], secret.as_str());
        let edit = visitor.get(&format!("/console/chatbots/{chatbot}/edit")).await;
        assert!(edit.body.contains(&format!(r#"value="{refunds}" data-testid="kb-choice">"#)));
        assert!(
            edit.body.contains(&format!(r#"value="{shipping}" data-testid="kb-choice" checked>"#))
        );
        assert!(!edit.body.contains(r#"id="enableChineseConversion" value="true" checked"#));

        // In English too.
        let english = visitor.get(&format!("/console/chatbots/{chatbot}/edit?lang=en")).await;
        for text in [
            "Answer template",
            "Unanswerable template",
            "Linked knowledge bases",
            "Webhook URL",
            "Webhook secret",
            "Convert answers to Taiwan Traditional Chinese",
            "Test chat",
        ] {
            assert!(english.body.contains(text), "{text} missing");
        }
    })
    .await;
}

#[tokio::test]
async fn console_chat_form_errors_are_shown_under_their_fields_and_foreign_knowledge_is_refused() {
    each_engine(|app| async move {
        let mine = id(&app.kb("Mine").await);
        let other = app.tenant("other@example.com").await;
        let (status, theirs) = send(
            app.request_as(&other.key, Method::POST, "/api/v1/knowledge-bases/")
                .json(&json!({"name": "Theirs"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{theirs}");
        let theirs = id(&theirs);
        let (llm, _) = app.default_models().await;
        let mut visitor = Visitor::new(&app);
        visitor.log_in().await;
        let csrf = visitor.csrf().await;

        let refused = visitor
            .post(
                "/console/chatbots/new",
                &[
                    ("csrf", &csrf),
                    ("name", "Refused"),
                    ("largeLanguageModel", &llm),
                    ("replyMode", "template"),
                    ("template", "keep <this>"),
                    ("knowledgeBases", &theirs),
                    ("webhookUrl", "not a url"),
                    ("numberOfRetrievedChunks", "0"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            testid_text(&refused.body, "error-knowledgeBases").as_deref(),
            Some("所選項目不存在。")
        );
        assert_eq!(
            testid_text(&refused.body, "error-webhookUrl").as_deref(),
            Some("請輸入有效的網址。")
        );
        assert_eq!(
            testid_text(&refused.body, "error-numberOfRetrievedChunks").as_deref(),
            Some("請輸入不小於 1 的數值。")
        );
        assert!(refused.body.contains("keep &#60;this&#62;</textarea>"), "the input is kept");
        assert!(refused.body.contains(r#"value="not a url""#));
        assert!(refused.body.contains(r#"class="short" value="0""#));
        assert!(!refused.body.contains(&theirs), "another tenant's knowledge base is not offered");
        assert!(refused.body.contains(&format!(r#"value="{mine}" data-testid="kb-choice">"#)));
        for (value, message) in [("abc", "請輸入整數。"), ("101", "請輸入不大於 100 的數值。")]
        {
            let reply = visitor
                .post(
                    "/console/chatbots/new",
                    &[
                        ("csrf", &csrf),
                        ("name", "Bad number"),
                        ("largeLanguageModel", &llm),
                        ("numberOfRetrievedChunks", value),
                        ("knowledgeBases", "not-a-uuid"),
                    ],
                )
                .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{value}");
            assert_eq!(
                testid_text(&reply.body, "error-numberOfRetrievedChunks").as_deref(),
                Some(message)
            );
            assert_eq!(
                testid_text(&reply.body, "error-knowledgeBases").as_deref(),
                Some("所選項目不存在。")
            );
        }
        let (_, list) = app.get("/api/v1/chatbots/").await;
        assert_eq!(list["count"], 0, "nothing was created");

        // Editing cannot link another tenant's knowledge base either; nothing changes.
        let chatbot = app.chatbot("Kept").await;
        let chatbot_id = id(&chatbot);
        let (status, _) = app
            .patch(&format!("/api/v1/chatbots/{chatbot_id}/"), json!({"knowledgeBases": [mine]}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let edit = visitor
            .post(
                &format!("/console/chatbots/{chatbot_id}/edit"),
                &[
                    ("csrf", &csrf),
                    ("name", "Renamed"),
                    ("largeLanguageModel", &llm),
                    ("replyMode", "normal"),
                    ("knowledgeBases", &mine),
                    ("knowledgeBases", &theirs),
                    ("numberOfRetrievedChunks", "5"),
                ],
            )
            .await;
        assert_eq!(edit.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            testid_text(&edit.body, "error-knowledgeBases").as_deref(),
            Some("所選項目不存在。")
        );
        assert!(edit.body.contains(r#"data-testid="webhook-secret""#), "still the edit form");
        assert!(edit.body.contains(&format!(r#"value="{mine}" data-testid="kb-choice" checked>"#)));
        let kept = chatbot_view(&app, &chatbot_id).await;
        assert_eq!((kept["name"].as_str(), linked(&kept)), (Some("Kept"), vec!["Mine".to_owned()]));
        assert_eq!(kept["numberOfRetrievedChunks"], 12);
        let (status, theirs_view) = send(app.request_as(
            &other.key,
            Method::GET,
            &format!("/api/v1/knowledge-bases/{theirs}/"),
        ))
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(theirs_view["chatbots"], json!([]), "{theirs_view}");

        // Messages in English.
        let english = visitor
            .post(
                &format!("/console/chatbots/{chatbot_id}/edit?lang=en"),
                &[
                    ("csrf", &csrf),
                    ("name", "Kept"),
                    ("largeLanguageModel", &llm),
                    ("webhookUrl", "ftp://example.com/hook"),
                    ("numberOfRetrievedChunks", "12"),
                ],
            )
            .await;
        assert_eq!(english.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            testid_text(&english.body, "error-webhookUrl").as_deref(),
            Some("Enter a valid URL.")
        );
    })
    .await;
}

#[tokio::test]
async fn console_chat_forms_need_csrf_and_the_chat_page_is_the_organisations_own() {
    each_engine(|app| async move {
        let chatbot = id(&app.chatbot("客服").await);
        let kb = id(&app.kb("KB").await);
        let (llm, _) = app.default_models().await;
        let mut visitor = Visitor::new(&app);

        // Signed out: to the login page.
        let out = visitor.get(&format!("/console/chatbots/{chatbot}/chat")).await;
        assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, "/console/login"));

        visitor.log_in().await;
        let csrf = visitor.csrf().await;
        let path = format!("/console/chatbots/{chatbot}/edit");
        let with_kb: Vec<(&str, &str)> = vec![
            ("csrf", "wrong"),
            ("name", "Changed"),
            ("largeLanguageModel", &llm),
            ("replyMode", "template"),
            ("knowledgeBases", &kb),
            ("webhookUrl", "https://hooks.example.com/x"),
            ("enableChineseConversion", "true"),
        ];
        let wrong = visitor.post(&path, &with_kb).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN);
        let missing = visitor.post(&path, &with_kb[1..]).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN);
        let cross_site = visitor.post_from(&path, &with_kb, Some("https://evil.example")).await;
        assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
        let unchanged = chatbot_view(&app, &chatbot).await;
        assert_eq!(unchanged["name"], "客服");
        assert_eq!(unchanged["webhookUrl"], Value::Null);
        assert_eq!(unchanged["enableChineseConversion"], false);
        assert_eq!(unchanged["knowledgeBases"], json!([]));

        // The chat page: the assistant, the session's CSRF token for the script, no inline
        // script, and the console's headers.
        let page = visitor.get(&format!("/console/chatbots/{chatbot}/chat")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&format!(r#"data-chatbot="{chatbot}""#)));
        assert!(page.body.contains(&format!(r#"data-csrf="{csrf}""#)));
        assert_eq!(testid_text(&page.body, "chat-title").as_deref(), Some("客服"));
        for text in ["測試對話", "新對話", "最近的對話", "送出", "Enter 送出，Shift+Enter 換行"]
        {
            assert!(page.body.contains(text), "{text} missing");
        }
        assert_eq!(page.count("<script"), 1);
        assert!(page.body.contains(r#"<script src="/console/static/console.js?v="#));
        assert!(page.header("content-security-policy").contains("script-src 'self'"));
        assert!(page.body.contains(&format!(r#"href="/console/chatbots/{chatbot}/edit""#)));
        let english = visitor.get(&format!("/console/chatbots/{chatbot}/chat?lang=en")).await;
        for text in ["Test chat", "New conversation", "Recent conversations", "Send"] {
            assert!(english.body.contains(text), "{text} missing");
        }
        visitor.get("/console/chatbots?lang=zh-TW").await;

        // Another tenant's, unknown and malformed assistants are not found.
        let other = app.tenant("other@example.com").await;
        let (llm_id, rag) = app.default_models().await;
        let (status, theirs) = send(
            app.request_as(&other.key, Method::POST, "/api/v1/chatbots/")
                .json(&json!({"name": "Theirs", "largeLanguageModel": llm_id, "rag": rag})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        for path in [
            format!("/console/chatbots/{}/chat", id(&theirs)),
            format!("/console/chatbots/{}/chat", uuid::Uuid::nil()),
            "/console/chatbots/not-a-uuid/chat".to_owned(),
        ] {
            let reply = visitor.get(&path).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
            assert!(reply.body.contains("找不到此頁面或資料。"), "{path}");
        }

        // What the page's script does with the session: a streamed answer needs the CSRF
        // header, then the conversation is listed for the assistant.
        let completions = format!("/api/v1/chatbots/{chatbot}/completions/");
        let body =
            json!({"conversation": null, "message": {"content": "你好"}, "isStreaming": true});
        let refused = visitor.send(app.client.post(app.url(&completions)).json(&body)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.body.contains("CSRF Failed"), "{}", refused.body);
        let streamed = visitor
            .send(app.client.post(app.url(&completions)).header("X-CSRFToken", &csrf).json(&body))
            .await;
        assert_eq!(streamed.status, StatusCode::OK, "{}", streamed.body);
        assert!(streamed.header("content-type").starts_with("text/event-stream"));
        let events: Vec<Value> = streamed
            .body
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        let last = events.last().expect("events");
        assert_eq!(last["done"], true, "{events:?}");
        let conversation = last["conversationId"].as_str().unwrap().to_owned();
        let listed = visitor
            .send(app.client.get(app.url(&format!("/api/v1/conversations/?chatbot={chatbot}"))))
            .await;
        let listed: Value = serde_json::from_str(&listed.body).unwrap();
        assert_eq!(listed["results"][0]["id"], conversation.as_str());
        assert_eq!(listed["results"][0]["title"], "你好");
    })
    .await;
}

// --- The browser test -------------------------------------------------------------------

const REFUND_RULES: &str = "台灣高鐵退票規定\n\n旅客可於開車前辦理退票，並支付百分之十手續費。\n\n\
    訂位說明\n\n旅客可在網站或車站訂位，訂位後請於三日內付款。\n";

#[tokio::test]
async fn console_chat_a_browser_links_a_knowledge_base_and_chats_with_citations() {
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    // The knowledge base and its file, through the API.
    let kb = id(&app.kb("高鐵規定").await);
    let file = app.ingest(&kb, "refund-rules.txt", REFUND_RULES.as_bytes().to_vec()).await;
    assert_eq!(file["status"], "done", "{file}");
    let client = headless_chromium(&driver, profile.path()).await;
    let outcome = AssertUnwindSafe(browse(&client, &app, &kb)).catch_unwind().await;
    let _ = client.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Waits (fantoccini's wait, bounded) for an element matching an XPath expression.
async fn wait_xpath(client: &Client, xpath: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(STEP)
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("{xpath} did not appear: {e}"))
}

/// The Enter key, as WebDriver types it.
fn enter() -> String {
    char::from(Key::Enter).to_string()
}

const ANSWER_DONE: &str =
    r#"//div[@data-testid="chat-message"][@data-role="assistant"][@data-state="done"]"#;

async fn browse(client: &Client, app: &TestApp, kb: &str) {
    client.goto(&app.url("/console/login")).await.unwrap();
    wait_for(client, "#login-form").await;
    client.find(Locator::Id("email")).await.unwrap().send_keys(ADMIN_EMAIL).await.unwrap();
    client.find(Locator::Id("password")).await.unwrap().send_keys(ADMIN_PASSWORD).await.unwrap();
    client.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="chatbots-table"]"#).await;

    // A new assistant linked to the knowledge base, ticked by its name.
    client.find(Locator::Id("create-chatbot")).await.unwrap().click().await.unwrap();
    wait_for(client, "#chatbot-form #name").await.send_keys("高鐵客服").await.unwrap();
    let tick = wait_xpath(
        client,
        r#"//label[contains(@class, "check")][normalize-space()="高鐵規定"]/input[@name="knowledgeBases"]"#,
    )
    .await;
    assert_eq!(tick.attr("value").await.unwrap().as_deref(), Some(kb));
    tick.click().await.unwrap();
    client.find(Locator::Id("enableChineseConversion")).await.unwrap().click().await.unwrap();
    screenshot(client, "chat-01-form").await;
    client.find(Locator::Id("chatbot-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="notice"]"#).await;
    assert_eq!(texts(client, r#"[data-testid="chatbot-kbs"]"#).await, ["高鐵規定"]);

    // Its chat page, from the table.
    client
        .find(Locator::Css(r#"[data-testid="chat-chatbot"]"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let input = wait_for(client, "#chat-input").await;
    assert!(path_of(client).await.ends_with("/chat"));
    wait_for(client, r#"[data-testid="no-conversations"]:not([hidden])"#).await;
    assert_eq!(texts(client, r#"[data-testid="chat-title"]"#).await, ["高鐵客服"]);
    let chatbot = client
        .find(Locator::Id("chat"))
        .await
        .unwrap()
        .attr("data-chatbot")
        .await
        .unwrap()
        .expect("the page names its assistant");

    // Shift+Enter is a new line, not a send.
    input.send_keys("高鐵的退票規定").await.unwrap();
    let shift_enter: String =
        [char::from(Key::Shift), char::from(Key::Enter), char::from(Key::Null)]
            .into_iter()
            .collect();
    input.send_keys(&shift_enter).await.unwrap();
    input.send_keys("是什麼？").await.unwrap();
    let typed = input.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(typed, "高鐵的退票規定\n是什麼？");
    assert!(
        client.find_all(Locator::Css(r#"[data-testid="chat-message"]"#)).await.unwrap().is_empty()
    );
    // Enter sends; the answer streams in, then its citations appear.
    input.clear().await.unwrap();
    input.send_keys("高鐵的退票規定是什麼？").await.unwrap();
    input.send_keys(&enter()).await.unwrap();
    let answer = wait_xpath(client, ANSWER_DONE).await;
    let user = texts(client, r#"[data-role="user"] [data-testid="message-content"]"#).await;
    assert_eq!(user, ["高鐵的退票規定是什麼？"]);
    let content = answer
        .find(Locator::Css(r#"[data-testid="message-content"]"#))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(content.contains("開車前辦理退票") && content.contains("[1]"), "{content}");
    assert_eq!(input.prop("value").await.unwrap().as_deref(), Some(""), "the box was emptied");
    let cited = answer.find(Locator::Css(r#"[data-testid="citation-file"]"#)).await.unwrap();
    assert_eq!(cited.text().await.unwrap(), "refund-rules.txt");
    let href = cited.attr("href").await.unwrap().unwrap_or_default();
    assert!(href.contains(&format!("/api/v1/knowledge-bases/{kb}/files/")), "{href}");
    assert!(href.ends_with("/download/"), "{href}");
    // The passages are folded until asked for.
    let passage = answer.find(Locator::Css(r#"[data-testid="citation-text"]"#)).await.unwrap();
    assert!(!passage.is_displayed().await.unwrap());
    answer
        .find(Locator::Css(r#"[data-testid="citation-passages"] > summary"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let passage = wait_xpath(
        client,
        r#"//details[@data-testid="citation-passages"][@open]//div[@data-testid="citation-text"]"#,
    )
    .await;
    assert!(passage.text().await.unwrap().contains("開車前辦理退票"));
    // The conversation is listed, current, and in the address.
    let listed = wait_xpath(
        client,
        r#"//li[@data-testid="conversation-item"][contains(@class, "is-active")]"#,
    )
    .await;
    let conversation = listed.attr("data-id").await.unwrap().expect("an id");
    assert_eq!(
        texts(client, r#"[data-testid="conversation-title"]"#).await,
        ["高鐵的退票規定是什麼？"]
    );
    let address = client.current_url().await.unwrap();
    assert_eq!(address.query(), Some(format!("conversation={conversation}").as_str()));
    screenshot(client, "chat-02-answer").await;

    // A new conversation: an empty page, and the list still offers the earlier one.
    client.find(Locator::Id("new-conversation")).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="chat-empty"]:not([hidden])"#).await;
    assert!(
        client.find_all(Locator::Css(r#"[data-testid="chat-message"]"#)).await.unwrap().is_empty()
    );
    let earlier = wait_xpath(
        client,
        &format!(
            r#"//li[@data-testid="conversation-item"][@data-id="{conversation}"][not(contains(@class, "is-active"))]"#
        ),
    )
    .await;
    assert_eq!(client.current_url().await.unwrap().query(), None);
    input.send_keys(&format!("訂位後多久要付款？{}", enter())).await.unwrap();
    wait_xpath(client, ANSWER_DONE).await;
    let second = wait_xpath(
        client,
        &format!(
            r#"//li[@data-testid="conversation-item"][contains(@class, "is-active")][@data-id!="{conversation}"]"#
        ),
    )
    .await;
    assert_ne!(second.attr("data-id").await.unwrap().as_deref(), Some(conversation.as_str()));
    let titles = texts(client, r#"[data-testid="conversation-title"]"#).await;
    assert_eq!(titles, ["訂位後多久要付款？", "高鐵的退票規定是什麼？"], "newest first");
    screenshot(client, "chat-03-second").await;

    // Reopening the earlier one shows its messages, oldest first, with their citations.
    let earlier = client
        .find(Locator::XPath(&format!(
            r#"//li[@data-testid="conversation-item"][@data-id="{conversation}"]//button"#
        )))
        .await
        .unwrap_or(earlier);
    earlier.click().await.unwrap();
    wait_xpath(
        client,
        &format!(
            r#"//li[@data-testid="conversation-item"][@data-id="{conversation}"][contains(@class, "is-active")]"#
        ),
    )
    .await;
    let reopened = wait_xpath(client, ANSWER_DONE).await;
    let roles: Vec<String> = {
        let mut roles = Vec::new();
        for message in
            client.find_all(Locator::Css(r#"[data-testid="chat-message"]"#)).await.unwrap()
        {
            roles.push(message.attr("data-role").await.unwrap().unwrap_or_default());
        }
        roles
    };
    assert_eq!(roles, ["user", "assistant"]);
    let shown = texts(client, r#"[data-testid="message-content"]"#).await;
    assert_eq!(shown[0], "高鐵的退票規定是什麼？");
    assert!(shown[1].contains("開車前辦理退票"), "{shown:?}");
    let cited = reopened.find(Locator::Css(r#"[data-testid="citation-file"]"#)).await.unwrap();
    assert_eq!(cited.text().await.unwrap(), "refund-rules.txt");

    // In English, a reload reopens the conversation named in the address.
    client
        .goto(
            &app.url(&format!(
                "/console/chatbots/{chatbot}/chat?conversation={conversation}&lang=en"
            )),
        )
        .await
        .unwrap();
    let reopened = wait_xpath(client, ANSWER_DONE).await;
    let sources = reopened.find(Locator::Css(".chat-citations-title")).await.unwrap();
    assert_eq!(sources.text().await.unwrap(), "Sources");
    let who = texts(client, ".chat-who").await;
    assert_eq!(who, ["You", "高鐵客服"]);
    assert_eq!(texts(client, "#new-conversation").await, ["+ New conversation"]);
    wait_xpath(
        client,
        &format!(
            r#"//li[@data-testid="conversation-item"][@data-id="{conversation}"][contains(@class, "is-active")]"#
        ),
    )
    .await;
    screenshot(client, "chat-04-english").await;
    // The edit page, a click away, shows the link and the webhook secret, read-only.
    client.find(Locator::Id("edit-from-chat")).await.unwrap().click().await.unwrap();
    let secret = wait_for(client, "#webhookSecret").await;
    assert!(secret.is_displayed().await.unwrap());
    assert_eq!(secret.attr("readonly").await.unwrap().as_deref(), Some("true"));
    let ticked = client.find(Locator::Css(r#"[data-testid="kb-choice"]"#)).await.unwrap();
    assert!(ticked.is_selected().await.unwrap(), "the knowledge base is linked");
    client.execute("document.getElementById('template').scrollIntoView()", vec![]).await.unwrap();
    screenshot(client, "chat-05-form-english").await;
    client.execute("window.scrollTo(0, document.body.scrollHeight)", vec![]).await.unwrap();
    screenshot(client, "chat-06-form-english-end").await;
    client.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    client.find(Locator::Id("open-chat")).await.unwrap().click().await.unwrap();
    wait_xpath(client, r#"//p[@data-testid="chat-empty"][not(@hidden)]"#).await;

    // Errors are shown, never swallowed: the assistant is deleted behind the page's back.
    let (status, _) = app.delete(&format!("/api/v1/chatbots/{chatbot}/")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let input = client.find(Locator::Id("chat-input")).await.unwrap();
    input.send_keys(&format!("Still there?{}", enter())).await.unwrap();
    let error = wait_for(client, r#"[data-testid="chat-error"]:not([hidden])"#).await;
    let message = error.text().await.unwrap();
    assert!(message.starts_with("Error: ") && message.contains("(404)"), "{message}");
    assert_eq!(
        input.prop("value").await.unwrap().as_deref(),
        Some("Still there?"),
        "the question is given back to send again"
    );
    screenshot(client, "chat-07-error").await;
}

#[tokio::test]
async fn console_chat_a_browser_sees_the_pages_a_pdf_answer_cites() {
    let driver = ChromeDriver::start().await;
    let profile = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(TestDatabase::sqlite()).await;
    let kb = id(&app.kb("旅客須知").await);
    let file = app.ingest(&kb, "refund.pdf", crate::helpers::fixture("refund.pdf")).await;
    assert_eq!(file["status"], "done", "{file}");
    let (llm, rag) = app.default_models().await;
    let (status, chatbot) = app
        .post(
            "/api/v1/chatbots/",
            json!({"name": "須知", "largeLanguageModel": llm, "rag": rag, "knowledgeBases": [kb]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{chatbot}");
    let client = headless_chromium(&driver, profile.path()).await;
    let outcome =
        AssertUnwindSafe(ask_about_a_pdf(&client, &app, &id(&chatbot))).catch_unwind().await;
    let _ = client.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn ask_about_a_pdf(client: &Client, app: &TestApp, chatbot: &str) {
    client.goto(&app.url("/console/login")).await.unwrap();
    wait_for(client, "#login-form").await;
    client.find(Locator::Id("email")).await.unwrap().send_keys(ADMIN_EMAIL).await.unwrap();
    client.find(Locator::Id("password")).await.unwrap().send_keys(ADMIN_PASSWORD).await.unwrap();
    client.find(Locator::Id("login-submit")).await.unwrap().click().await.unwrap();
    wait_for(client, r#"[data-testid="chatbots-table"]"#).await;
    client.goto(&app.url(&format!("/console/chatbots/{chatbot}/chat"))).await.unwrap();
    let input = wait_for(client, "#chat-input").await;
    input.send_keys(&format!("臨櫃退票須出示什麼？{}", enter())).await.unwrap();
    let answer = wait_xpath(client, ANSWER_DONE).await;
    let content = texts(client, r#"[data-role="assistant"] [data-testid="message-content"]"#).await;
    assert!(
        content[0].contains("臨櫃退票須出示身分證件") && content[0].contains("[1]"),
        "{content:?}"
    );
    let file = answer.find(Locator::Css(r#"[data-testid="citation-file"]"#)).await.unwrap();
    assert_eq!(file.text().await.unwrap(), "refund.pdf");
    assert_eq!(texts(client, r#"[data-testid="citation-pages"]"#).await, ["第 3 頁"]);
    answer
        .find(Locator::Css(r#"[data-testid="citation-passages"] > summary"#))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let passage = wait_xpath(
        client,
        r#"//details[@data-testid="citation-passages"][@open]//div[@data-testid="citation-passage"]"#,
    )
    .await;
    let passage = passage.text().await.unwrap();
    assert!(passage.contains("refund.pdf") && passage.contains("第 3 頁"), "{passage}");
    assert!(passage.contains("臨櫃退票須出示身分證件"), "{passage}");
    screenshot(client, "chat-08-pdf-pages").await;
}
