//! `organizations/`, `organizations/{id}/members/` and `permissions/`: an organisation exists
//! only for its members, only its owner changes it, and removing a member revokes their keys.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    each_engine, is_timestamp, is_uuid, keys, send, send_raw, status_and_body, status_and_text,
};

#[tokio::test]
async fn listing_organisations_shows_only_those_the_caller_belongs_to() {
    each_engine(|app| async move {
        let carol = app.tenant("carol@example.com").await;
        let (status, page) = app.get("/api/v1/organizations/").await;
        assert_eq!(status, 200);
        assert_eq!(page["count"], 1);
        let acme = &page["results"][0];
        crate::snapshot!(keys(acme), @"createdAt,id,name,owner");
        assert_eq!(acme["id"], json!(app.organization_id().await.to_string()));
        assert_eq!(acme["name"], "Acme");
        assert_eq!(
            acme["owner"],
            json!({"id": app.admin_id().await.to_string(), "name": "Administrator"})
        );
        assert!(is_timestamp(&acme["createdAt"]));
        assert!(!page.to_string().contains(&carol.organization_id.to_string()));

        let (status, _) = app.post("/api/v1/organizations/", json!({"name": "Second"})).await;
        assert_eq!(status, 201);
        let (_, page) = app.get("/api/organizations?pageSize=1").await;
        assert_eq!((&page["count"], &page["results"][0]["name"]), (&json!(2), &json!("Acme")));
        assert_eq!(page["next"], json!(app.url("/api/organizations?page=2&pageSize=1")));
        let (_, as_carol) =
            send(app.request_as(&carol.key, Method::GET, "/api/v1/organizations/")).await;
        assert_eq!(
            (&as_carol["count"], &as_carol["results"][0]["name"]),
            (&json!(1), &json!("Tenant Org"))
        );
    })
    .await;
}

#[tokio::test]
async fn creating_an_organisation_makes_the_caller_its_owner() {
    each_engine(|app| async move {
        let (status, org) = app.post("/api/v1/organizations/", json!({"name": "  Research  ", "owner": "ignored"})).await;
        assert_eq!(status, 201, "{org}");
        crate::snapshot!(keys(&org), @"createdAt,id,name,organizationPlan,owner,usageStatistics");
        assert!(is_uuid(&org["id"]) && is_timestamp(&org["createdAt"]));
        assert_eq!(org["name"], "Research", "surrounding whitespace is trimmed");
        assert_eq!(org["owner"]["id"], json!(app.admin_id().await.to_string()));
        crate::snapshot!(org["usageStatistics"].to_string(), @r#"{"chatbotsCount":0,"membersCount":1}"#);
        assert_eq!(org["organizationPlan"], "self-hosted");

        let id = org["id"].as_str().unwrap();
        let (status, got) = app.get(&format!("/api/v1/organizations/{id}/")).await;
        assert_eq!((status.as_u16(), &got), (200, &org));
        let (_, members) = app.get(&format!("/api/v1/organizations/{id}/members/")).await;
        assert_eq!(members["count"], 1);
        assert_eq!((&members["results"][0]["email"], &members["results"][0]["isOwner"]), (&json!("admin@example.com"), &json!(true)));
    })
    .await;
}

#[tokio::test]
async fn creating_an_organisation_without_a_valid_name_is_refused() {
    each_engine(|app| async move {
        let cases = [
            json!({}),
            json!({"name": ""}),
            json!({"name": null}),
            json!({"name": "n".repeat(256)}),
            json!({"name": {"nested": true}}),
        ];
        let mut answers = Vec::new();
        for body in cases {
            let (status, body) = app.post("/api/v1/organizations/", body).await;
            answers.push(status_and_body(status, &body));
        }
        crate::snapshot!(answers.join("\n"), @r#"
        400 {"name":["This field is required."]}
        400 {"name":["This field may not be blank."]}
        400 {"name":["This field may not be null."]}
        400 {"name":["Ensure this field has no more than 255 characters."]}
        400 {"name":["Not a valid string."]}
        "#);
        let (_, page) = app.get("/api/v1/organizations/").await;
        assert_eq!(page["count"], 1, "nothing was created");
    })
    .await;
}

#[tokio::test]
async fn renaming_needs_a_name_on_put_but_not_on_patch() {
    each_engine(|app| async move {
        let path = format!("/api/v1/organizations/{}/", app.organization_id().await);
        let (status, body) = app.put(&path, json!({})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"name":["This field is required."]}"#);
        let (status, unchanged) = app.patch(&path, json!({})).await;
        assert_eq!((status.as_u16(), &unchanged["name"]), (200, &json!("Acme")));
        let (status, body) = app.put(&path, json!({"name": "Acme Corp"})).await;
        assert_eq!((status.as_u16(), &body["name"]), (200, &json!("Acme Corp")));
        let (status, body) = app.patch(&path.trim_end_matches('/').replace("/v1", ""), json!({"name": "Acme Inc"})).await;
        assert_eq!((status.as_u16(), &body["name"]), (200, &json!("Acme Inc")));
        let (status, body) = app.patch(&path, json!({"name": ""})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"name":["This field may not be blank."]}"#);
        let (_, org) = app.get(&path).await;
        assert_eq!(org["name"], "Acme Inc");
    })
    .await;
}

#[tokio::test]
async fn another_tenants_organisation_and_members_are_not_found() {
    each_engine(|app| async move {
        let carol = app.tenant("carol@example.com").await;
        let (_, carol_members) = send(app.request_as(
            &carol.key,
            Method::GET,
            &format!("/api/v1/organizations/{}/members/", carol.organization_id),
        ))
        .await;
        let carol_member = carol_members["results"][0]["id"].as_str().unwrap().to_owned();
        let org = carol.organization_id;
        let acme = app.organization_id().await;
        let cases = [
            (Method::GET, format!("/api/v1/organizations/{org}/")),
            (Method::PUT, format!("/api/v1/organizations/{org}/")),
            (Method::PATCH, format!("/api/v1/organizations/{org}/")),
            (Method::GET, format!("/api/v1/organizations/{org}/members/")),
            (Method::POST, format!("/api/v1/organizations/{org}/members/")),
            (Method::GET, format!("/api/v1/organizations/{org}/members/{carol_member}/")),
            (Method::DELETE, format!("/api/v1/organizations/{org}/members/{carol_member}/")),
            (Method::GET, format!("/api/v1/organizations/{acme}/members/{carol_member}/")),
            (Method::DELETE, format!("/api/v1/organizations/{acme}/members/{carol_member}/")),
            (Method::GET, "/api/v1/organizations/not-a-uuid/".to_owned()),
            (Method::GET, format!("/api/v1/organizations/{acme}/members/not-a-uuid/")),
            (Method::GET, format!("/api/v1/organizations/{}/", uuid::Uuid::new_v4())),
        ];
        for (method, path) in cases {
            let request = app
                .request(method.clone(), &path)
                .json(&json!({"name": "Mine now", "email": "admin@example.com"}));
            let (status, body) = send(request).await;
            assert_eq!(
                status_and_body(status, &body),
                r#"404 {"detail":"Not found."}"#,
                "{method} {path}"
            );
        }
        let (_, still) =
            send(app.request_as(&carol.key, Method::GET, &format!("/api/v1/organizations/{org}/")))
                .await;
        assert_eq!(
            (&still["name"], &still["usageStatistics"]["membersCount"]),
            (&json!("Tenant Org"), &json!(1))
        );
    })
    .await;
}

#[tokio::test]
async fn adding_a_member_by_email_lists_them_with_their_permissions() {
    each_engine(|app| async move {
        let dave = app.user("dave@example.com").await;
        let org = app.organization_id().await;
        let path = format!("/api/v1/organizations/{org}/members/");
        let (status, created) = app.post(&path, json!({"email": "Dave@Example.com"})).await;
        assert_eq!(status, 201, "{created}");
        crate::snapshot!(keys(&created), @"createdAt,id,isOwner,name,organization");
        assert_eq!(
            (&created["organization"], &created["isOwner"]),
            (&json!(org.to_string()), &json!(false))
        );
        assert!(is_uuid(&created["id"]) && is_timestamp(&created["createdAt"]));

        let (_, page) = app.get(&path).await;
        assert_eq!(page["count"], 2);
        let listed = &page["results"][1];
        crate::snapshot!(keys(listed), @"createdAt,email,id,isOwner,name,organization,permissions");
        assert_eq!(
            (&listed["id"], &listed["email"], &listed["name"]),
            (&created["id"], &json!("dave@example.com"), &json!("dave"))
        );
        assert_eq!(listed["organization"]["id"], json!(org.to_string()));
        assert_eq!(listed["organization"]["usageStatistics"]["membersCount"], 2);
        let permissions = listed["permissions"].as_array().unwrap();
        assert!(
            !permissions.contains(&json!("member.manage"))
                && !permissions.contains(&json!("organization.manage"))
        );

        let member_path = format!("{path}{}/", created["id"].as_str().unwrap());
        let (status, member) = app.get(&member_path).await;
        assert_eq!((status.as_u16(), &member), (200, listed));
        let (status, _) = app
            .get(&format!("/api/organizations/{org}/members/{}", created["id"].as_str().unwrap()))
            .await;
        assert_eq!(status, 200);

        let (_, users) = app.get("/api/v1/users/").await;
        assert!(
            users["results"].as_array().unwrap().iter().any(|u| u["id"] == json!(dave.to_string()))
        );
    })
    .await;
}

#[tokio::test]
async fn adding_a_member_reports_unknown_duplicate_and_malformed_emails() {
    each_engine(|app| async move {
        app.user("dave@example.com").await;
        let path = format!("/api/v1/organizations/{}/members/", app.organization_id().await);
        let mut answers = Vec::new();
        for body in [
            json!({}),
            json!({"email": "nobody@example.com"}),
            json!({"email": "admin@example.com"}),
            json!({"email": "not an email"}),
            json!({"email": ""}),
            json!({"email": ["dave@example.com"]}),
        ] {
            answers.push(app.raw(Method::POST, &path, body).await);
        }
        crate::snapshot!(answers.join("\n"), @r#"
        400 {"email":["This field is required."]}
        400 {"email":["No user with this email address exists."]}
        400 {"nonFieldErrors":["The fields organization, user must make a unique set."]}
        400 {"email":["Enter a valid email address."]}
        400 {"email":["This field may not be blank."]}
        400 {"email":["Not a valid string."]}
        "#);
        let (_, page) = app.get(&path).await;
        assert_eq!(page["count"], 1, "nobody was added");
        let (status, _) = app.post(&path, json!({"email": "dave@example.com"})).await;
        assert_eq!(status, 201);
        let text = app.raw(Method::POST, &path, json!({"email": "dave@example.com"})).await;
        crate::snapshot!(text, @r#"400 {"nonFieldErrors":["The fields organization, user must make a unique set."]}"#);
    })
    .await;
}

#[tokio::test]
async fn owner_only_operations_are_forbidden_to_members() {
    each_engine(|app| async move {
        let bob = app.member("bob@example.com").await;
        let dave = app.member("dave@example.com").await;
        app.user("erin@example.com").await;
        let org = app.organization_id().await;
        let as_bob = |method: Method, path: String| app.request_as(&bob.key, method, &path);

        let (status, body) = send(as_bob(Method::GET, format!("/api/v1/organizations/{org}/"))).await;
        assert_eq!((status.as_u16(), &body["name"]), (200, &json!("Acme")), "members may read");
        let (status, body) = send(as_bob(Method::GET, format!("/api/v1/organizations/{org}/members/"))).await;
        assert_eq!((status.as_u16(), &body["count"]), (200, &json!(3)));

        let forbidden = [
            (Method::PUT, format!("/api/v1/organizations/{org}/"), json!({"name": "Bob's"})),
            (Method::PATCH, format!("/api/v1/organizations/{org}/"), json!({"name": "Bob's"})),
            (Method::POST, format!("/api/v1/organizations/{org}/members/"), json!({"email": "erin@example.com"})),
            (Method::DELETE, format!("/api/v1/organizations/{org}/members/{}/", dave.member_id), json!({})),
        ];
        for (method, path, body) in forbidden {
            let text = status_and_text(as_bob(method, path).json(&body)).await;
            crate::snapshot!(text, @r#"403 {"detail":"You do not have permission to perform this action."}"#);
        }
        let (_, after) = app.get(&format!("/api/v1/organizations/{org}/")).await;
        assert_eq!((&after["name"], &after["usageStatistics"]["membersCount"]), (&json!("Acme"), &json!(3)));
        let (status, _) = send(app.request_as(&dave.key, Method::GET, "/api/v1/chatbots/")).await;
        assert_eq!(status, 200, "Dave is still a member");

        let owner = app.get(&format!("/api/v1/organizations/{org}/members/")).await.1["results"][0]["id"].clone();
        let text = status_and_text(as_bob(Method::DELETE, format!("/api/v1/organizations/{org}/members/{}/", owner.as_str().unwrap()))).await;
        crate::snapshot!(text, @r#"403 {"detail":"You do not have permission to perform this action."}"#);
    })
    .await;
}

#[tokio::test]
async fn removing_a_member_revokes_their_api_keys() {
    each_engine(|app| async move {
        let bob = app.member("bob@example.com").await;
        let org = app.organization_id().await;
        let (status, _) = send(app.request_as(&bob.key, Method::GET, "/api/v1/chatbots/")).await;
        assert_eq!(status, 200, "Bob's key works while he is a member");

        let path = format!("/api/v1/organizations/{org}/members/{}/", bob.member_id);
        let (status, headers, text) = send_raw(app.request(Method::DELETE, &path)).await;
        assert_eq!((status.as_u16(), text.as_str()), (204, ""));
        assert!(!headers.contains_key("content-type"), "{headers:?}");

        let (status, body) = send(app.request_as(&bob.key, Method::GET, "/api/v1/chatbots/")).await;
        crate::snapshot!(status_and_body(status, &body), @r#"401 {"detail":"Authentication credentials were not provided."}"#);
        let (status, body) = app.get(&path).await;
        crate::snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Not found."}"#);
        let (status, _) = app.delete(&path).await;
        assert_eq!(status, 404, "removing twice");
        let (_, users) = app.get("/api/v1/users/").await;
        assert_eq!(users["count"], 1);
        let (status, _) = app.get(&format!("/api/v1/users/{}/", bob.user_id)).await;
        assert_eq!(status, 404, "Bob is no longer visible from Acme");
    })
    .await;
}

#[tokio::test]
async fn the_owner_cannot_be_removed_but_a_member_may_leave() {
    each_engine(|app| async move {
        let bob = app.member("bob@example.com").await;
        let org = app.organization_id().await;
        let (_, members) = app.get(&format!("/api/v1/organizations/{org}/members/")).await;
        let owner = members["results"][0]["id"].as_str().unwrap().to_owned();
        let (status, body) = app.delete(&format!("/api/v1/organizations/{org}/members/{owner}/")).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"nonFieldErrors":["The owner cannot be removed from the organization."]}"#);

        let path = format!("/api/organizations/{org}/members/{}", bob.member_id);
        let (status, body) = send(app.request_as(&bob.key, Method::DELETE, &path)).await;
        assert_eq!((status.as_u16(), body), (204, serde_json::Value::Null));
        let (status, _) = send(app.request_as(&bob.key, Method::GET, "/api/v1/users/current/")).await;
        assert_eq!(status, 401, "leaving revokes your own keys too");
        let (_, members) = app.get(&format!("/api/v1/organizations/{org}/members/")).await;
        assert_eq!(members["count"], 1);
    })
    .await;
}

#[tokio::test]
async fn a_user_without_an_organisation_can_create_one() {
    each_engine(|app| async move {
        let loner = app.user("loner@example.com").await;
        let session = app.session(loner, None).await;
        let (status, body) = send(app.request_with_session(&session, Method::GET, "/api/v1/organizations/")).await;
        crate::snapshot!(status_and_body(status, &body), @r#"200 {"count":0,"next":null,"previous":null,"results":[]}"#);
        let request = app.request_with_session(&session, Method::POST, "/api/v1/organizations/").json(&json!({"name": "Solo"}));
        let (status, org) = send(request).await;
        assert_eq!((status.as_u16(), &org["owner"]["id"]), (201, &json!(loner.to_string())));
        let (_, page) = send(app.request_with_session(&session, Method::GET, "/api/v1/organizations/")).await;
        assert_eq!((&page["count"], &page["results"][0]["name"]), (&json!(1), &json!("Solo")));
        let (status, _) = app.get(&format!("/api/v1/organizations/{}/", org["id"].as_str().unwrap())).await;
        assert_eq!(status, 404, "the administrator is not a member of Solo");
    })
    .await;
}

#[tokio::test]
async fn permissions_are_a_paginated_list() {
    each_engine(|app| async move {
        let (status, page) = app.get("/api/v1/permissions/").await;
        assert_eq!(status, 200);
        assert_eq!((&page["count"], &page["next"], &page["previous"]), (&json!(8), &json!(null), &json!(null)));
        let first = &page["results"][0];
        crate::snapshot!(keys(first), @"description,id,name");
        assert!(is_uuid(&first["id"]));
        let names: Vec<&str> = page["results"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        crate::snapshot!(names.join(","), @"api_key.manage,chatbot.manage,chatbot.view,conversation.view,knowledge_base.manage,knowledge_base.view,member.manage,organization.manage");

        let (_, last) = app.get("/api/permissions?page_size=3&page=last").await;
        assert_eq!(last["results"].as_array().unwrap().len(), 2);
        assert_eq!(last["previous"], json!(app.url("/api/permissions?page=2&page_size=3")));
        let (status, body) = app.get("/api/v1/permissions/?page=4&pageSize=3").await;
        crate::snapshot!(status_and_body(status, &body), @r#"404 {"detail":"Invalid page."}"#);
        let (status, body) = send(app.client.get(app.url("/api/v1/permissions/"))).await;
        crate::snapshot!(status_and_body(status, &body), @r#"401 {"detail":"Authentication credentials were not provided."}"#);
    })
    .await;
}
