//! The model catalogues: `chatbot-settings/`, `embedding-models/` and `reranker-models/`,
//! plain arrays as the spec has them.

use openmai_server::config::{ProviderConfig, ProviderKind};
use reqwest::Method;
use serde_json::{Value, json};

use openmai_store::testing::TestDatabase;

use crate::helpers::{
    TestApp, each_engine, each_engine_with, is_uuid, keys, send, status_and_body,
};

fn names(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn chatbot_settings_list_the_rag_engines_with_their_language_models() {
    each_engine(|app| async move {
        let (status, settings) = app.get("/api/v1/chatbot-settings/").await;
        assert_eq!(status, 200);
        assert_eq!(settings.as_array().unwrap().len(), 1, "a bare array: {settings}");
        let rag = &settings[0];
        crate::snapshot!(keys(rag), @"id,isDefault,isEmbeddingModelSelectable,isRerankerModelSelectable,isSearchSelectable,isWorkflowSelectable,llms,name");
        assert!(is_uuid(&rag["id"]));
        assert!(is_uuid(&rag["llms"][0]["id"]));
        let mut shown = rag.clone();
        shown.as_object_mut().unwrap().remove("id");
        shown["llms"][0].as_object_mut().unwrap().remove("id");
        crate::snapshot!(shown.to_string(), @r#"{"isDefault":true,"isEmbeddingModelSelectable":true,"isRerankerModelSelectable":true,"isSearchSelectable":true,"isWorkflowSelectable":false,"llms":[{"isDefault":true,"name":"OpenMai Offline (extractive)"}],"name":"OpenMai RAG"}"#);
    })
    .await;
}

#[tokio::test]
async fn embedding_and_reranker_models_are_plain_arrays_with_a_default() {
    each_engine(|app| async move {
        for path in ["/api/v1/embedding-models/", "/api/v1/reranker-models/"] {
            let (status, models) = app.get(path).await;
            assert_eq!(status, 200, "{path}");
            let first = &models[0];
            crate::snapshot!(keys(first), @"id,isDefault,name");
            assert!(is_uuid(&first["id"]) && first["isDefault"] == true, "{path}: {models}");
        }
        let (_, embedding) = app.get("/api/embedding-models").await;
        crate::snapshot!(names(&embedding).join(","), @"OpenMai Keyword (no embeddings)");
        let (_, reranker) = app.get("/api/reranker-models").await;
        crate::snapshot!(names(&reranker).join(","), @"OpenMai Keyword Reranker");
    })
    .await;
}

async fn catalogue_ids(app: &TestApp) -> Value {
    let (_, settings) = app.get("/api/v1/chatbot-settings/").await;
    let (_, embedding) = app.get("/api/v1/embedding-models/").await;
    let (_, reranker) = app.get("/api/v1/reranker-models/").await;
    json!([settings[0]["id"], settings[0]["llms"][0]["id"], embedding[0]["id"], reranker[0]["id"]])
}

#[tokio::test]
async fn catalogue_ids_are_the_same_on_every_server_and_engine() {
    let mut servers = vec![TestApp::spawn(TestDatabase::sqlite()).await];
    for db in TestDatabase::every_engine() {
        servers.push(TestApp::spawn(db).await);
    }
    let first = catalogue_ids(&servers[0]).await;
    for app in &servers[1..] {
        assert_eq!(catalogue_ids(app).await, first, "{}", app.engine);
    }
}

#[tokio::test]
async fn configured_providers_add_their_models_to_the_catalogues() {
    each_engine_with(
        |config| {
            config.providers = vec![ProviderConfig {
                name: "openai".into(),
                kind: ProviderKind::Openai,
                base_url: None,
                api_key: None,
                api_key_env: None,
                chat_models: vec!["gpt-4o-mini".into(), "gpt-4o".into()],
                embedding_models: vec!["text-embedding-3-small".into()],
                reranker_models: vec![],
                vision_models: vec!["gpt-4o".into()],
                context_tokens: 128_000,
                max_concurrent_requests: None,
                http2_prior_knowledge: false,
            }];
            config.default_chat_model = Some("openai/gpt-4o".into());
        },
        |app| async move {
            let (_, settings) = app.get("/api/v1/chatbot-settings/").await;
            let llms = &settings[0]["llms"];
            crate::snapshot!(names(llms).join(","), @"OpenMai Offline (extractive),openai gpt-4o-mini,openai gpt-4o");
            let defaults: Vec<&Value> = llms.as_array().unwrap().iter().filter(|m| m["isDefault"] == true).collect();
            assert_eq!((defaults.len(), &defaults[0]["name"]), (1, &json!("openai gpt-4o")));
            let (_, embedding) = app.get("/api/v1/embedding-models/").await;
            crate::snapshot!(names(&embedding).join(","), @"OpenMai Keyword (no embeddings),openai text-embedding-3-small");
            let (_, reranker) = app.get("/api/v1/reranker-models/").await;
            assert_eq!(reranker.as_array().unwrap().len(), 1);

            // New assistants take the configured default; any listed model may be chosen.
            let rag = settings[0]["id"].clone();
            let (status, bot) = app.post("/api/v1/chatbots/", json!({"name": "Default", "model": defaults[0]["id"], "rag": rag})).await;
            assert_eq!(status, 201, "{bot}");
            let (_, list) = app.get("/api/v1/chatbots/").await;
            assert_eq!(list["results"][0]["largeLanguageModel"]["name"], "openai gpt-4o");
            let (status, _) = app.patch(&format!("/api/v1/chatbots/{}/", bot["id"].as_str().unwrap()), json!({"embeddingModel": embedding[1]["id"]})).await;
            assert_eq!(status, 200);
        },
    )
    .await;
}

#[tokio::test]
async fn the_catalogues_need_credentials() {
    each_engine(|app| async move {
        for path in ["/api/v1/chatbot-settings/", "/api/v1/embedding-models/", "/api/v1/reranker-models/"] {
            let (status, body) = send(app.client.get(app.url(path))).await;
            crate::snapshot!(status_and_body(status, &body), @r#"401 {"detail":"Authentication credentials were not provided."}"#);
            let (status, body) = send(app.request(Method::POST, path).json(&json!({}))).await;
            crate::snapshot!(status_and_body(status, &body), @r#"405 {"detail":"Method \"POST\" not allowed."}"#);
        }
    })
    .await;
}
