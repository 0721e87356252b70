//! `users/`, `users/current/` and `users/{id}/`: the people of the caller's organisation.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    ADMIN_EMAIL, each_engine, is_timestamp, is_uuid, keys, send, status_and_body, status_and_text,
    without_keys,
};

#[tokio::test]
async fn the_current_user_is_the_key_owner_with_their_keys_and_permissions() {
    each_engine(|app| async move {
        let (status, me) = app.get("/api/v1/users/current/").await;
        assert_eq!(status, 200);
        crate::snapshot!(keys(&me), @"apiKeys,avatar,company,email,id,invitationCode,name,permissions");
        assert_eq!(me["id"], json!(app.admin_id().await.to_string()));
        assert_eq!((&me["email"], &me["name"], &me["avatar"]), (&json!(ADMIN_EMAIL), &json!("Administrator"), &json!(null)));
        let code = me["invitationCode"].as_str().unwrap();
        assert!(code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{code}");
        let key = &me["apiKeys"][0];
        crate::snapshot!(keys(key), @"createdAt,id,lastUsedAt,name,prefix");
        assert!(is_uuid(&key["id"]) && is_timestamp(&key["createdAt"]));
        assert_eq!(key["prefix"], json!(&app.key[..8]));
        assert!(!me.to_string().contains(&app.key), "the key itself is never shown again");
        let permissions: Vec<&str> =
            me["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        crate::snapshot!(permissions.join(","), @"api_key.manage,chatbot.manage,chatbot.view,conversation.view,knowledge_base.manage,knowledge_base.view,member.manage,organization.manage");
    })
    .await;
}

#[tokio::test]
async fn listing_users_shows_only_the_callers_organisation() {
    each_engine(|app| async move {
        let bob = app.member("bob@example.com").await;
        app.tenant("carol@example.com").await;
        let (status, page) = app.get("/api/v1/users/").await;
        assert_eq!(status, 200);
        assert_eq!(
            (&page["count"], &page["next"], &page["previous"]),
            (&json!(2), &json!(null), &json!(null))
        );
        let emails: Vec<&str> = page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap())
            .collect();
        assert_eq!(emails, [ADMIN_EMAIL, "bob@example.com"]);
        let listed_bob = &page["results"][1];
        assert_eq!(listed_bob["id"], json!(bob.user_id.to_string()));
        assert_eq!(listed_bob["apiKeys"], json!([]), "nobody else's keys are listed");
        let bob_permissions = listed_bob["permissions"].as_array().unwrap();
        assert!(!bob_permissions.contains(&json!("member.manage")), "{listed_bob}");
        assert!(bob_permissions.contains(&json!("chatbot.manage")), "{listed_bob}");

        // Bob sees the same organisation; Carol sees only her own.
        let (_, as_bob) = send(app.request_as(&bob.key, Method::GET, "/api/users")).await;
        assert_eq!(as_bob["count"], 2);
        let carol = app.tenant("carol2@example.com").await;
        let (_, as_carol) = send(app.request_as(&carol.key, Method::GET, "/api/v1/users/")).await;
        assert_eq!(as_carol["count"], 1);
        assert_eq!(as_carol["results"][0]["email"], "carol2@example.com");

        let (_, paged) = app.get("/api/v1/users/?pageSize=1&page=2").await;
        assert_eq!(paged["results"][0]["email"], "bob@example.com");
        assert_eq!(paged["previous"], json!(app.url("/api/v1/users/?pageSize=1")));
        let (status, body) = app.get("/api/v1/users/?page=3&pageSize=1").await;
        crate::snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Invalid page."}"#);
    })
    .await;
}

#[tokio::test]
async fn a_user_is_readable_by_id_only_within_the_organisation() {
    each_engine(|app| async move {
        let bob = app.member("bob@example.com").await;
        let carol = app.tenant("carol@example.com").await;
        let (status, body) = app.get(&format!("/api/v1/users/{}/", bob.user_id)).await;
        assert_eq!(
            (status.as_u16(), &body["email"], &body["apiKeys"]),
            (200, &json!("bob@example.com"), &json!([]))
        );
        let (status, body) = app.get(&format!("/api/users/{}", app.admin_id().await)).await;
        assert_eq!(status, 200);
        assert_eq!(body["apiKeys"].as_array().unwrap().len(), 1, "your own keys show on yourself");
        for path in [
            format!("/api/v1/users/{}/", carol.user_id),
            format!("/api/v1/users/{}/", uuid::Uuid::new_v4()),
            "/api/v1/users/not-a-uuid/".to_owned(),
        ] {
            let (status, body) = app.get(&path).await;
            crate::snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Not found."}"#);
        }
        let (status, _) = send(app.request_as(
            &carol.key,
            Method::GET,
            &format!("/api/v1/users/{}/", bob.user_id),
        ))
        .await;
        assert_eq!(status, 404, "and the other way round");
    })
    .await;
}

#[tokio::test]
async fn only_your_own_profile_can_be_changed_by_id() {
    each_engine(|app| async move {
        let bob = app.member("bob@example.com").await;
        let carol = app.tenant("carol@example.com").await;
        let admin = app.admin_id().await;
        let (status, body) = app.patch(&format!("/api/v1/users/{admin}/"), json!({"name": "Root"})).await;
        assert_eq!((status.as_u16(), &body["name"]), (200, &json!("Root")));
        let full = json!({"name": "Root", "email": ADMIN_EMAIL, "invitationCode": "ROOT1"});
        let (status, body) = app.put(&format!("/api/v1/users/{admin}"), full.clone()).await;
        assert_eq!((status.as_u16(), &body["invitationCode"]), (200, &json!("ROOT1")));

        for method in [Method::PUT, Method::PATCH] {
            let path = format!("/api/v1/users/{}/", bob.user_id);
            let (status, body) = send(app.request(method.clone(), &path).json(&full)).await;
            crate::snapshot!(status_and_body(status, &body), @r#"403 {"detail":"You do not have permission to perform this action."}"#);
            let path = format!("/api/v1/users/{}/", carol.user_id);
            let (status, body) = send(app.request(method, &path).json(&full)).await;
            crate::snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Not found."}"#);
        }
        let (_, bob_now) = app.get(&format!("/api/v1/users/{}/", bob.user_id)).await;
        assert_eq!(bob_now["name"], "bob");
    })
    .await;
}

#[tokio::test]
async fn updating_the_current_user_requires_fields_on_put_but_not_on_patch() {
    each_engine(|app| async move {
        let (_, before) = app.get("/api/v1/users/current/").await;
        let text = app.raw(Method::PUT, "/api/v1/users/current/", json!({})).await;
        crate::snapshot!(text, @r#"400 {"name":["This field is required."],"email":["This field is required."],"invitationCode":["This field is required."]}"#);
        let (status, body) = app.patch("/api/v1/users/current/", json!({})).await;
        assert_eq!((status.as_u16(), without_keys(&body)), (200, without_keys(&before)));
        let (status, body) = app.patch("/api/users/current", json!({"invitation_code": "NEW123", "company": "Acme"})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((&body["invitationCode"], &body["company"], &body["name"]), (&json!("NEW123"), &json!("Acme"), &before["name"]));
        let (status, body) = app.patch("/api/v1/users/current/", json!({"avatar": null, "id": "ignored", "apiKeys": []})).await;
        assert_eq!(status, 200, "read-only fields are ignored: {body}");
        assert_eq!(body["id"], before["id"]);
        assert_eq!(body["apiKeys"][0]["id"], before["apiKeys"][0]["id"]);
    })
    .await;
}

#[tokio::test]
async fn profile_validation_errors_read_as_drf() {
    each_engine(|app| async move {
        app.member("taken@example.com").await;
        let text = app
            .raw(
                Method::PATCH,
                "/api/v1/users/current/",
                json!({
                    "avatar": "not a url",
                    "name": "n".repeat(256),
                    "email": "not-an-email",
                    "company": ["list"],
                    "invitationCode": "lower case",
                }),
            )
            .await;
        crate::snapshot!(text, @r#"400 {"avatar":["Enter a valid URL."],"name":["Ensure this field has no more than 255 characters."],"email":["Enter a valid email address."],"company":["Not a valid string."],"invitationCode":["Enter a valid value."]}"#);
        let text = app.raw(Method::PATCH, "/api/v1/users/current/", json!({"name": "  ", "email": null})).await;
        crate::snapshot!(text, @r#"400 {"name":["This field may not be blank."],"email":["This field may not be null."]}"#);
        let (status, body) = app.patch("/api/v1/users/current/", json!({"email": "Taken@Example.com"})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"email":["user with this email already exists."]}"#);
        let (status, body) = app.patch("/api/v1/users/current/", json!({"invitationCode": "A".repeat(32)})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"invitationCode":["Ensure this field has no more than 31 characters."]}"#);
    })
    .await;
}

#[tokio::test]
async fn a_user_without_an_organisation_sees_only_themself() {
    each_engine(|app| async move {
        let loner = app.user("loner@example.com").await;
        let session = app.session(loner, None).await;
        let (status, me) = send(app.request_with_session(&session, Method::GET, "/api/v1/users/current/")).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!((&me["email"], &me["apiKeys"], &me["permissions"]), (&json!("loner@example.com"), &json!([]), &json!([])));
        let (status, body) = send(app.request_with_session(&session, Method::GET, &format!("/api/v1/users/{loner}/"))).await;
        assert_eq!((status.as_u16(), &body["id"]), (200, &me["id"]));
        let (status, body) = send(app.request_with_session(&session, Method::PATCH, "/api/v1/users/current/").json(&json!({"name": "Lone"}))).await;
        assert_eq!((status.as_u16(), &body["name"]), (200, &json!("Lone")));

        let (status, body) = send(app.request_with_session(&session, Method::GET, "/api/v1/users/")).await;
        crate::snapshot!(status_and_body(status, &body), @r#"403 {"detail":"You do not have permission to perform this action."}"#);
        let path = format!("/api/v1/users/{}/", app.admin_id().await);
        let (status, body) = send(app.request_with_session(&session, Method::GET, &path)).await;
        crate::snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Not found."}"#);
    })
    .await;
}

#[tokio::test]
async fn user_endpoints_need_credentials() {
    each_engine(|app| async move {
        let admin = app.admin_id().await;
        for (method, path) in [
            (Method::GET, "/api/v1/users/".to_owned()),
            (Method::GET, "/api/v1/users/current/".to_owned()),
            (Method::PATCH, "/api/v1/users/current/".to_owned()),
            (Method::GET, format!("/api/v1/users/{admin}/")),
            (Method::PUT, format!("/api/v1/users/{admin}/")),
        ] {
            let text = status_and_text(app.client.request(method, app.url(&path)).json(&json!({}))).await;
            crate::snapshot!(text, @r#"401 {"detail":"Authentication credentials were not provided."}"#);
        }
    })
    .await;
}
