//! Conversations, messages (cursor pages, feedback, asynchronous replies), web chats, inboxes,
//! and webhook delivery (signature, retries, records, refused addresses), on every engine.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use openmai_server::chat::Happened;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::helpers::{
    TestApp, each_engine, each_engine_with, is_timestamp, keys, send, status_and_text,
};
use crate::snapshot;

/// Waits (on the server's announcements) for `count` replies to be stored.
async fn replies(happened: &mut tokio::sync::broadcast::Receiver<Happened>, count: usize) {
    let mut seen = 0;
    while seen < count {
        let event = tokio::time::timeout(Duration::from_secs(30), happened.recv())
            .await
            .expect("a reply within 30 s")
            .expect("the channel is open");
        if matches!(event, Happened::Replied { .. }) {
            seen += 1;
        }
    }
}

#[tokio::test]
async fn conversations_and_messages_page_by_cursor_and_stay_in_their_organisation() {
    each_engine(|app| async move {
        let chatbot = app.chatbot("客服").await;
        let web_chat = chatbot["apiWebChatId"].as_str().expect("an API web chat").to_owned();
        let (status, conversation) =
            app.post("/api/v1/conversations/", json!({"webChat": web_chat})).await;
        assert_eq!(status, StatusCode::CREATED, "{conversation}");
        snapshot!(keys(&conversation), @"autoReplyEnabled,chatbot,contact,createdAt,enableGroupMention,id,inbox,isAutoReplyNow,isGroupChat,lastMessage,lastMessageCreatedAt,lastReadAt,title,unreadMessagesCount,webChat");
        assert_eq!(conversation["inbox"]["channelType"], "web");
        assert_eq!(conversation["chatbot"], chatbot["id"]);
        let id = conversation["id"].as_str().unwrap().to_owned();

        let mut happened = app.state.chat.happened.subscribe();
        for n in 0..3 {
            let (status, message) = app
                .post("/api/v1/messages/", json!({"conversation": id, "content": format!("問題 {n}"), "attachments": []}))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{message}");
            assert_eq!((message["type"].clone(), message["conversation"].clone()), (json!("incoming"), json!(id)));
            snapshot!(keys(&message), @"attachments,citationNodes,citations,content,conversation,createdAt,feedback,id,queryMetadata,sender,status,type");
        }
        // Each gets its reply in the background.
        replies(&mut happened, 3).await;

        let (status, first) = app.get(&format!("/api/v1/messages/?conversation={id}&pageSize=4")).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(keys(&first), "next,previous,results");
        assert_eq!(first["results"].as_array().unwrap().len(), 4);
        assert!(first["previous"].is_null());
        let next = first["next"].as_str().expect("a next page").to_owned();
        assert!(next.starts_with(&app.base) && next.contains("cursor="), "{next}");
        let (_, second) = send(app.client.get(&next).header("Authorization", format!("Api-Key {}", app.key))).await;
        let ids = |page: &Value| -> Vec<String> {
            page["results"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect()
        };
        assert_eq!(ids(&second).len(), 2);
        assert!(second["next"].is_null());
        let previous = second["previous"].as_str().expect("a previous page").to_owned();
        let (_, back) = send(app.client.get(&previous).header("Authorization", format!("Api-Key {}", app.key))).await;
        assert_eq!(ids(&back), ids(&first));
        // Newest first, all six.
        let mut all = ids(&first);
        all.extend(ids(&second));
        let times: Vec<String> = first["results"].as_array().unwrap().iter().chain(second["results"].as_array().unwrap()).map(|m| m["createdAt"].as_str().unwrap().to_owned()).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
        let text = status_and_text(app.request(Method::GET, "/api/v1/messages/?cursor=bogus")).await;
        snapshot!(text, @r#"404 {"detail":"Invalid cursor"}"#);

        // Feedback.
        let reply = &first["results"][0];
        assert_eq!(reply["type"], "outgoing");
        let reply_id = reply["id"].as_str().unwrap();
        let (status, liked) = app.patch(&format!("/api/v1/messages/{reply_id}/"), json!({"feedback": "like"})).await;
        assert_eq!((status, liked["feedback"].clone()), (StatusCode::OK, json!("like")));
        let (_, cleared) = app.patch(&format!("/api/v1/messages/{reply_id}/"), json!({"feedback": ""})).await;
        assert!(cleared["feedback"].is_null(), "{cleared}");
        let text = status_and_text(app.request(Method::PATCH, &format!("/api/v1/messages/{reply_id}/")).json(&json!({"feedback": "meh"}))).await;
        snapshot!(text, @r#"400 {"feedback":["\"meh\" is not a valid choice."]}"#);

        // The conversation lists with its latest message.
        let (_, listed) = app.get("/api/v1/conversations/").await;
        assert_eq!(listed["results"][0]["id"], json!(id));
        assert_eq!(listed["results"][0]["lastMessage"]["id"], reply["id"]);
        assert!(is_timestamp(&listed["results"][0]["lastMessageCreatedAt"]));
        let inbox = conversation["inbox"]["id"].as_str().unwrap();
        let (_, by_inbox) = app.get(&format!("/api/v1/conversations/?inbox={inbox}")).await;
        assert_eq!(by_inbox["results"].as_array().unwrap().len(), 1);

        // The web chat's image upload: presigned upload, then registered in the conversation,
        // then sent with a message (the Python example's objects, the C# example's ids).
        let key = crate::completions::upload_attachment(&app, "螢幕截圖.png", b"\x89PNG fake".to_vec()).await;
        let (status, attachment) = app
            .post(&format!("/api/v1/conversations/{id}/attachments/"), json!({"file": key, "filename": "螢幕截圖.png", "type": "image"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{attachment}");
        assert_eq!((attachment["conversation"].clone(), attachment["type"].clone()), (json!(id), json!("image")));
        assert!(attachment["file"].as_str().unwrap().starts_with(&app.base));
        let (status, with_image) = app
            .post("/api/v1/messages/", json!({"conversation": id, "content": "看這張", "attachments": [attachment["id"]]}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{with_image}");
        assert_eq!(with_image["attachments"][0]["filename"], "螢幕截圖.png");
        replies(&mut happened, 1).await;
        let text = status_and_text(app.request(Method::POST, "/api/v1/conversations/00000000-0000-0000-0000-000000000000/attachments/").json(&json!({"file": key, "filename": "x.png"}))).await;
        snapshot!(text, @r#"404 {"detail":"Not found."}"#);
        let text = status_and_text(app.request(Method::POST, &format!("/api/v1/conversations/{id}/attachments/")).json(&json!({"file": "uploads/nope", "filename": "x.png"}))).await;
        snapshot!(text, @r#"400 {"file":["The file has not been uploaded (no object has this key)."]}"#);
        let (_, attachments) = app.get("/api/v1/attachments/").await;
        assert_eq!(attachments["count"], 1);
        let (status, _) = app.delete(&format!("/api/v1/attachments/{}/", attachment["id"].as_str().unwrap())).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.get(&format!("/api/v1/attachments/{}/", attachment["id"].as_str().unwrap())).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Bad bodies, and another organisation.
        let post = |body: Value| status_and_text(app.request(Method::POST, "/api/v1/messages/").json(&body));
        let text = post(json!({})).await;
        snapshot!(text, @r#"400 {"conversation":["This field is required."]}"#);
        let text = post(json!({"conversation": id, "content": ""})).await;
        snapshot!(text, @r#"400 {"content":["This field may not be blank."]}"#);
        let text = post(json!({"conversation": id, "content": "x", "attachments": "x"})).await;
        snapshot!(text, @r#"400 {"attachments":["Expected a list of items but got type \"str\"."]}"#);
        let text = status_and_text(app.request(Method::POST, "/api/v1/conversations/").json(&json!({}))).await;
        snapshot!(text, @r#"400 {"webChat":["This field is required."]}"#);
        let other = app.tenant("rival@example.com").await;
        let as_other = |method: Method, path: &str| app.request_as(&other.key, method, path);
        assert_eq!(send(as_other(Method::GET, &format!("/api/v1/conversations/{id}/"))).await.0, StatusCode::NOT_FOUND);
        assert_eq!(send(as_other(Method::GET, &format!("/api/v1/messages/{reply_id}/"))).await.0, StatusCode::NOT_FOUND);
        let text = status_and_text(as_other(Method::GET, &format!("/api/v1/messages/?conversation={id}"))).await;
        snapshot!(text, @r#"400 {"conversation":["Select a valid choice. That choice is not one of the available choices."]}"#);
        let text = status_and_text(as_other(Method::POST, "/api/v1/messages/").json(&json!({"conversation": id, "content": "x"}))).await;
        assert_eq!(text, format!(r#"400 {{"conversation":["Invalid pk \"{id}\" - object does not exist."]}}"#));
        let text = status_and_text(as_other(Method::POST, "/api/v1/conversations/").json(&json!({"webChat": web_chat}))).await;
        assert_eq!(text, format!(r#"400 {{"webChat":["Invalid pk \"{web_chat}\" - object does not exist."]}}"#));
        let (_, theirs) = send(as_other(Method::GET, "/api/v1/conversations/")).await;
        assert!(theirs["results"].as_array().unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn web_chats_and_inboxes() {
    each_engine(|app| async move {
        let chatbot = app.chatbot("官網助理").await;
        let bot = chatbot["id"].as_str().unwrap().to_owned();
        let (status, chats) = app.get("/api/v1/web-chats/").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(chats.as_array().unwrap().len(), 1, "a bare list: {chats}");
        assert_eq!(chats[0]["id"], chatbot["apiWebChatId"]);
        assert_eq!((chats[0]["name"].clone(), chats[0]["accessType"].clone()), (json!("官網助理"), json!("api")));

        let (status, web) = app
            .post("/api/v1/web-chats/", json!({"chatbot": bot, "description": "官網", "theme": {"primaryColor": "#112233"}, "enable_file_upload": true}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{web}");
        assert_eq!((web["accessType"].clone(), web["enableFileUpload"].clone()), (json!("web"), json!(true)));
        assert_eq!(web["theme"]["primaryColor"], "#112233");
        assert_eq!(web["theme"]["dialogColor"], "#FFFFFF");
        let web_id = web["id"].as_str().unwrap().to_owned();
        let (status, patched) =
            app.patch(&format!("/api/v1/web-chats/{web_id}/"), json!({"isActive": false, "backUrl": "https://example.com"})).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!((patched["isActive"].clone(), patched["description"].clone()), (json!(false), json!("官網")));
        let text = status_and_text(app.request(Method::POST, "/api/v1/web-chats/").json(&json!({}))).await;
        snapshot!(text, @r#"400 {"chatbot":["This field is required."]}"#);
        let text = status_and_text(app.request(Method::PATCH, &format!("/api/v1/web-chats/{web_id}/")).json(&json!({"avatar": "not a url"}))).await;
        snapshot!(text, @r#"400 {"avatar":["Enter a valid URL."]}"#);
        let text = status_and_text(app.request(Method::DELETE, &format!("/api/v1/web-chats/{web_id}/"))).await;
        snapshot!(text, @r#"405 {"detail":"Method \"DELETE\" not allowed."}"#);

        // Each web chat has its inbox, whose channel is the web chat.
        let (status, inboxes) = app.get("/api/v1/inboxes/?channelType=web").await;
        assert_eq!(status, StatusCode::OK, "{inboxes}");
        assert_eq!(inboxes["count"], 2);
        for inbox in inboxes["results"].as_array().unwrap() {
            assert_eq!(inbox["channel"]["name"], "官網助理");
            assert_eq!(inbox["chatbot"], json!(bot));
        }
        let (status, line) =
            app.post("/api/v1/inboxes/", json!({"name": "LINE 官方帳號", "channelType": "line", "chatbot": bot})).await;
        assert_eq!(status, StatusCode::CREATED, "{line}");
        assert!(line["channel"].is_null());
        let line_id = line["id"].as_str().unwrap().to_owned();
        let (status, renamed) =
            app.put(&format!("/api/v1/inboxes/{line_id}/"), json!({"name": "LINE", "channelType": "line"})).await;
        assert_eq!((status, renamed["name"].clone()), (StatusCode::OK, json!("LINE")));
        let text = status_and_text(app.request(Method::PATCH, &format!("/api/v1/inboxes/{line_id}/")).json(&json!({"channelType": "web"}))).await;
        snapshot!(text, @r#"400 {"channelType":["An inbox's channel type cannot be changed."]}"#);
        let (_, all) = app.get(&format!("/api/v1/inboxes/?chatbot={bot}&ordering=name")).await;
        assert_eq!(all["count"], 3);
        let text = status_and_text(app.request(Method::GET, "/api/v1/inboxes/?channelType=fax")).await;
        snapshot!(text, @r#"400 {"channelType":["Select a valid choice. fax is not one of the available choices."]}"#);
        // An id filter that is not an id, on each list that has one.
        for (path, field) in [("inboxes/?chatbot=nope", "chatbot"), ("conversations/?inbox=nope", "inbox"), ("messages/?conversation=nope", "conversation")] {
            let text = status_and_text(app.request(Method::GET, &format!("/api/v1/{path}"))).await;
            assert_eq!(text, format!(r#"400 {{"{field}":["Select a valid choice. That choice is not one of the available choices."]}}"#));
        }

        // The API inbox goes only with its assistant; a web inbox takes its web chat along.
        let api_inbox = all["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["channel"]["id"] == chatbot["apiWebChatId"])
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let text = status_and_text(app.request(Method::DELETE, &format!("/api/v1/inboxes/{api_inbox}/"))).await;
        snapshot!(text, @r#"400 {"nonFieldErrors":["This is the assistant's API inbox; it is deleted with the assistant."]}"#);
        let web_inbox = all["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["channel"]["id"] == json!(web_id))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, _) = app.delete(&format!("/api/v1/inboxes/{web_inbox}/")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = app.get(&format!("/api/v1/web-chats/{web_id}/")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let other = app.tenant("rival@example.com").await;
        let (status, _) = send(app.request_as(&other.key, Method::GET, &format!("/api/v1/inboxes/{line_id}/"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let text = status_and_text(app.request_as(&other.key, Method::POST, "/api/v1/inboxes/").json(&json!({"name": "x", "channelType": "line", "chatbot": bot}))).await;
        assert_eq!(text, format!(r#"400 {{"chatbot":["Invalid pk \"{bot}\" - object does not exist."]}}"#));
        let (_, theirs) = send(app.request_as(&other.key, Method::GET, "/api/v1/web-chats/")).await;
        assert_eq!(theirs, json!([]));
    })
    .await;
}

/// A webhook receiver: answers with the scripted statuses (then 200), and reports each
/// delivery (headers and body).
struct Receiver {
    url: String,
    deliveries: mpsc::UnboundedReceiver<(HeaderMap, Bytes)>,
}

#[derive(Clone)]
struct ReceiverState {
    statuses: Arc<Mutex<Vec<u16>>>,
    sink: mpsc::UnboundedSender<(HeaderMap, Bytes)>,
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> (AxumStatus, &'static str) {
    let _ = state.sink.send((headers, body));
    let status = {
        let mut statuses = state.statuses.lock().unwrap();
        if statuses.is_empty() { 200 } else { statuses.remove(0) }
    };
    (AxumStatus::from_u16(status).unwrap(), "Webhook 接收成功")
}

async fn receiver(statuses: Vec<u16>) -> Receiver {
    let (sink, deliveries) = mpsc::unbounded_channel();
    let state = ReceiverState { statuses: Arc::new(Mutex::new(statuses)), sink };
    let router = Router::new().route("/hook", post(receive)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Receiver { url, deliveries }
}

async fn next_delivery(receiver: &mut Receiver) -> (HeaderMap, Value) {
    let (headers, body) = tokio::time::timeout(Duration::from_secs(30), receiver.deliveries.recv())
        .await
        .expect("a delivery within 30 s")
        .expect("the receiver is running");
    (headers, serde_json::from_slice(&body).unwrap())
}

async fn with_webhook(app: &TestApp, url: &str) -> Value {
    let chatbot = app.chatbot("通知助理").await;
    let (status, updated) = app
        .patch(
            &format!("/api/v1/chatbots/{}/", chatbot["id"].as_str().unwrap()),
            json!({"webhookUrl": url}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    updated
}

#[tokio::test]
async fn asynchronous_replies_are_delivered_signed_retried_and_recorded() {
    each_engine_with(
        |config| {
            config.outbound_allow_private_networks = true;
            config.webhook_retry_delay_ms = 20;
        },
        |app| async move {
            let mut hook = receiver(vec![500]).await;
            let chatbot = with_webhook(&app, &hook.url).await;
            let secret = chatbot["webhookSecret"].as_str().unwrap().to_owned();
            assert_eq!(secret.len(), 64);
            let (_, conversation) =
                app.post("/api/v1/conversations/", json!({"webChat": chatbot["apiWebChatId"]})).await;
            let (status, question) = app
                .post("/api/v1/messages/", json!({"conversation": conversation["id"], "content": "你好", "attachments": []}))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{question}");

            // The first delivery is answered 500, so it comes again.
            let (_, first) = next_delivery(&mut hook).await;
            let (headers, body) = next_delivery(&mut hook).await;
            assert_eq!(first, body);
            assert_eq!(body["type"], "outgoing");
            assert_eq!(body["conversation"], conversation["id"]);
            assert!(!body["content"].as_str().unwrap().is_empty());
            assert!(is_timestamp(&body["createdAt"]) && body["citations"].is_array());
            assert_eq!(body["sender"]["name"], "通知助理");

            // The signature: t=<seconds>,v1=HMAC-SHA256(secret, "<t>.<body>").
            let signature = headers["x-openmai-signature"].to_str().unwrap();
            let (t, v1) = signature.split_once(",v1=").unwrap();
            let t = t.strip_prefix("t=").unwrap();
            let raw = serde_json::to_vec(&body).unwrap();
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(format!("{t}.").as_bytes());
            mac.update(&raw);
            let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(v1, expected);

            // Both attempts are recorded, newest first.
            let mut happened = app.state.chat.happened.subscribe();
            let path = format!("/api/v1/chatbots/{}/webhook-records/", chatbot["id"].as_str().unwrap());
            let mut records = app.get(&path).await.1;
            while records["count"] != 2 {
                tokio::time::timeout(Duration::from_secs(30), happened.recv()).await.unwrap().unwrap();
                records = app.get(&path).await.1;
            }
            let codes: Vec<Value> = records["results"].as_array().unwrap().iter().map(|r| r["statusCode"].clone()).collect();
            assert_eq!(codes, [json!(200), json!(500)]);
            assert_eq!(records["results"][0]["attempt"], 2);
            assert_eq!(records["results"][0]["response"], "Webhook 接收成功");
            assert_eq!(records["results"][0]["requestBody"]["content"], body["content"]);
            assert_eq!(records["results"][0]["chatbot"]["id"], chatbot["id"]);

            // A human agent's reply is delivered the same way.
            let (status, agent) = app
                .post("/api/v1/messages/outgoing/", json!({"conversation": conversation["id"], "content": "客服人員稍後回覆您。"}))
                .await;
            assert_eq!((status, agent["type"].clone()), (StatusCode::CREATED, json!("outgoing")));
            let (_, delivered) = next_delivery(&mut hook).await;
            assert_eq!(delivered["content"], "客服人員稍後回覆您。");

            let other = app.tenant("rival@example.com").await;
            let (status, _) = send(app.request_as(&other.key, Method::GET, &path)).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        },
    )
    .await;
}

#[tokio::test]
async fn webhooks_to_private_addresses_are_refused_unless_allowed() {
    each_engine(|app| async move {
        let hook = receiver(vec![]).await;
        let chatbot = with_webhook(&app, &hook.url).await;
        let mut happened = app.state.chat.happened.subscribe();
        let (_, conversation) =
            app.post("/api/v1/conversations/", json!({"webChat": chatbot["apiWebChatId"]})).await;
        let (status, _) = app
            .post(
                "/api/v1/messages/",
                json!({"conversation": conversation["id"], "content": "你好"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        loop {
            let event = tokio::time::timeout(Duration::from_secs(30), happened.recv())
                .await
                .unwrap()
                .unwrap();
            if let Happened::Delivered { delivered, .. } = event {
                assert!(!delivered);
                break;
            }
        }
        let path = format!("/api/v1/chatbots/{}/webhook-records/", chatbot["id"].as_str().unwrap());
        let (_, records) = app.get(&path).await;
        assert_eq!(records["count"], 1, "refused for good, not retried: {records}");
        assert!(records["results"][0]["statusCode"].is_null());
        let response = records["results"][0]["response"].as_str().unwrap();
        assert!(response.contains("127.0.0.1 is not a public address"), "{response}");
    })
    .await;
}
