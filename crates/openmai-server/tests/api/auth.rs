//! `auth/…`: login, the JWT refresh/verify/logout cycle, the current user and password
//! change, with dj-rest-auth's and simplejwt's texts.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, each_engine, each_engine_with, is_uuid, keys, send,
    send_raw, status_and_body, status_and_text, without_keys,
};

/// Posts to an `auth/` endpoint without any credentials, as a dj-rest-auth client does.
async fn anonymous(app: &TestApp, path: &str, body: Value) -> (reqwest::StatusCode, Value) {
    send(app.client.post(app.url(path)).json(&body)).await
}

async fn login(app: &TestApp, email: &str, password: &str) -> (reqwest::StatusCode, Value) {
    anonymous(app, "/api/v1/auth/login/", json!({"email": email, "password": password})).await
}

fn is_jwt(value: &Value) -> bool {
    value.as_str().is_some_and(|t| t.split('.').count() == 3 && t.len() > 40)
}

#[tokio::test]
async fn logging_in_returns_a_token_pair_and_the_user() {
    each_engine(|app| async move {
        let (status, body) = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        crate::snapshot!(keys(&body), @"access,refresh,user");
        assert!(is_jwt(&body["access"]) && is_jwt(&body["refresh"]), "{body}");
        assert_ne!(body["access"], body["refresh"]);
        let user = &body["user"];
        crate::snapshot!(keys(user), @"apiKeys,avatar,company,email,id,invitationCode,name,permissions");
        assert!(is_uuid(&user["id"]));
        assert_eq!(user["email"], ADMIN_EMAIL);
        assert_eq!(user["apiKeys"][0]["name"], "default");
        assert!(user["permissions"].as_array().unwrap().contains(&json!("member.manage")));
    })
    .await;
}

#[tokio::test]
async fn login_accepts_username_for_the_email_in_any_case_and_as_a_form() {
    each_engine(|app| async move {
        let body = json!({"username": "ADMIN@Example.com", "password": ADMIN_PASSWORD});
        let (status, body) = anonymous(&app, "/api/auth/login", body).await;
        assert_eq!((status.as_u16(), &body["user"]["email"]), (200, &json!(ADMIN_EMAIL)));
        let request = app
            .client
            .post(app.url("/api/v1/auth/login/"))
            .form(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)]);
        let (status, body) = send(request).await;
        assert_eq!(status, 200, "{body}");
        assert!(is_jwt(&body["access"]));
    })
    .await;
}

#[tokio::test]
async fn login_failures_read_as_dj_rest_auth() {
    each_engine(|app| async move {
        let (status, body) = login(&app, ADMIN_EMAIL, "wrong password").await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"nonFieldErrors":["Unable to log in with provided credentials."]}"#);
        let (status, body) = login(&app, "nobody@example.com", ADMIN_PASSWORD).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"nonFieldErrors":["Unable to log in with provided credentials."]}"#);
        let (status, body) =
            anonymous(&app, "/api/v1/auth/login/", json!({"password": ADMIN_PASSWORD})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"nonFieldErrors":["Must include \"email\" and \"password\"."]}"#);
        let (status, body) =
            anonymous(&app, "/api/v1/auth/login/", json!({"email": ADMIN_EMAIL})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"password":["This field is required."]}"#);
        let (status, body) = anonymous(&app, "/api/v1/auth/login/", json!({})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"password":["This field is required."]}"#);
        let (status, body) = login(&app, ADMIN_EMAIL, "").await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"password":["This field may not be blank."]}"#);
        let (status, body) = anonymous(&app, "/api/v1/auth/login/", json!(["x"])).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"nonFieldErrors":["Invalid data. Expected a dictionary, but got list."]}"#);
    })
    .await;
}

#[tokio::test]
async fn repeated_login_attempts_for_one_email_are_throttled() {
    each_engine_with(
        |config| config.login_attempts_per_minute = 2,
        |app| async move {
            for _ in 0..2 {
                let (status, _) = login(&app, ADMIN_EMAIL, "wrong password").await;
                assert_eq!(status, 400);
            }
            let (status, headers, text) = send_raw(
                app.client
                    .post(app.url("/api/v1/auth/login/"))
                    .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
            )
            .await;
            assert_eq!(status, 429, "even the right password waits: {text}");
            assert!(
                text.starts_with(r#"{"detail":"Request was throttled. Expected available in "#),
                "{text}"
            );
            assert!(headers.contains_key("retry-after"));
            let (status, _) = login(&app, "someone-else@example.com", "x").await;
            assert_eq!(status, 400, "the limit is per email");
        },
    )
    .await;
}

#[tokio::test]
async fn refresh_verify_and_logout_make_a_full_cycle() {
    each_engine(|app| async move {
        let (_, tokens) = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let (access, refresh) = (tokens["access"].clone(), tokens["refresh"].clone());

        let (status, body) =
            anonymous(&app, "/api/v1/auth/token/refresh/", json!({"refresh": refresh})).await;
        assert_eq!(status, 200, "{body}");
        crate::snapshot!(keys(&body), @"access");
        assert!(is_jwt(&body["access"]));

        for token in [&access, &refresh, &body["access"]] {
            let (status, body) =
                anonymous(&app, "/api/v1/auth/token/verify/", json!({"token": token})).await;
            crate::snapshot!(status_and_body(status, &body), @"200 {}");
        }

        let (status, body) =
            anonymous(&app, "/api/v1/auth/logout/", json!({"refresh": refresh})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"200 {"detail":"Successfully logged out."}"#);

        let (status, headers, text) = send_raw(
            app.client.post(app.url("/api/v1/auth/token/refresh/")).json(&json!({"refresh": refresh})),
        )
        .await;
        crate::snapshot!(format!("{} {text}", status.as_u16()), @r#"401 {"detail":"Token is blacklisted","code":"token_not_valid"}"#);
        assert_eq!(headers["www-authenticate"], r#"Bearer realm="api""#);
        let (status, body) =
            anonymous(&app, "/api/v1/auth/token/verify/", json!({"token": refresh})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"401 {"code":"token_not_valid","detail":"Token is blacklisted"}"#);

        // The access token is not revoked by logout, and a new login works at once.
        let (status, _) =
            anonymous(&app, "/api/v1/auth/token/verify/", json!({"token": access})).await;
        assert_eq!(status, 200);
        let (status, again) = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(status, 200);
        let (status, _) =
            anonymous(&app, "/api/auth/token/refresh", json!({"refresh": again["refresh"]})).await;
        assert_eq!(status, 200);
    })
    .await;
}

#[tokio::test]
async fn invalid_tokens_are_rejected_as_simplejwt_does() {
    each_engine(|app| async move {
        let (_, tokens) = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let refresh_path = "/api/v1/auth/token/refresh/";
        let verify_path = "/api/v1/auth/token/verify/";

        let text = status_and_text(app.client.post(app.url(refresh_path)).json(&json!({"refresh": "not.a.token"}))).await;
        crate::snapshot!(text, @r#"401 {"detail":"Token is invalid or expired","code":"token_not_valid"}"#);
        let text = status_and_text(app.client.post(app.url(refresh_path)).json(&json!({"refresh": tokens["access"]}))).await;
        crate::snapshot!(text, @r#"401 {"detail":"Token has wrong type","code":"token_not_valid"}"#);
        let tampered = format!("{}x", tokens["refresh"].as_str().unwrap());
        let text = status_and_text(app.client.post(app.url(refresh_path)).json(&json!({"refresh": tampered}))).await;
        crate::snapshot!(text, @r#"401 {"detail":"Token is invalid or expired","code":"token_not_valid"}"#);
        let text = status_and_text(app.client.post(app.url(verify_path)).json(&json!({"token": "garbage"}))).await;
        crate::snapshot!(text, @r#"401 {"detail":"Token is invalid or expired","code":"token_not_valid"}"#);

        let (status, body) = anonymous(&app, refresh_path, json!({})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"refresh":["This field is required."]}"#);
        let (status, body) = anonymous(&app, verify_path, json!({"token": ""})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"token":["This field may not be blank."]}"#);
        let (status, body) = anonymous(&app, verify_path, json!({})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"token":["This field is required."]}"#);
    })
    .await;
}

#[tokio::test]
async fn a_token_signed_by_another_server_is_invalid() {
    each_engine(|app| async move {
        let (_, tokens) = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        // A refresh token from another server (another signing secret) is invalid here.
        let other = TestApp::spawn(openmai_store::testing::TestDatabase::sqlite()).await;
        let (status, body) =
            anonymous(&other, "/api/v1/auth/token/refresh/", json!({"refresh": tokens["refresh"]}))
                .await;
        crate::snapshot!(status_and_body(status, &body), @r#"401 {"code":"token_not_valid","detail":"Token is invalid or expired"}"#);
    })
    .await;
}

#[tokio::test]
async fn logging_out_without_a_token_still_succeeds() {
    each_engine(|app| async move {
        let (status, body) = send(app.client.post(app.url("/api/v1/auth/logout/"))).await;
        crate::snapshot!(status_and_body(status, &body), @r#"200 {"detail":"Successfully logged out."}"#);
        let (status, body) =
            anonymous(&app, "/api/v1/auth/logout/", json!({"refresh": "not-a-token"})).await;
        assert_eq!(status, 200, "{body}");
    })
    .await;
}

#[tokio::test]
async fn the_auth_user_endpoint_reads_and_updates_the_caller() {
    each_engine(|app| async move {
        let (status, me) = app.get("/api/v1/auth/user/").await;
        assert_eq!(status, 200);
        let (_, current) = app.get("/api/v1/users/current/").await;
        assert_eq!(without_keys(&me), without_keys(&current), "auth/user/ and users/current/ agree");
        assert_eq!(me["apiKeys"][0]["id"], current["apiKeys"][0]["id"]);

        let (status, body) = app.patch("/api/v1/auth/user/", json!({"company": "Acme Ltd"})).await;
        assert_eq!((status.as_u16(), &body["company"], &body["name"]), (200, &json!("Acme Ltd"), &me["name"]));

        let text = app.raw(Method::PUT, "/api/v1/auth/user/", json!({"company": "x"})).await;
        crate::snapshot!(text, @r#"400 {"name":["This field is required."],"email":["This field is required."],"invitationCode":["This field is required."]}"#);
        let full = json!({
            "name": "Ada",
            "email": "ada@example.com",
            "invitation_code": "ADA2024",
            "avatar": "https://example.com/ada.png",
        });
        let (status, body) = app.put("/api/v1/auth/user/", full).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["name"], &body["email"], &body["invitationCode"], &body["avatar"]),
            (&json!("Ada"), &json!("ada@example.com"), &json!("ADA2024"), &json!("https://example.com/ada.png"))
        );
        assert_eq!(body["company"], "Acme Ltd", "PUT leaves an optional field alone when not sent");
        let (status, _) = login(&app, "ada@example.com", ADMIN_PASSWORD).await;
        assert_eq!(status, 200, "the new email logs in");

        let (status, body) = send(app.client.get(app.url("/api/v1/auth/user/"))).await;
        crate::snapshot!(status_and_body(status, &body), @r#"401 {"detail":"Authentication credentials were not provided."}"#);
    })
    .await;
}

#[tokio::test]
async fn changing_the_password_checks_the_old_one_and_the_new_pair() {
    each_engine(|app| async move {
        let path = "/api/v1/auth/password/change/";
        let text = app.raw(Method::POST, path, json!({})).await;
        crate::snapshot!(text, @r#"400 {"oldPassword":["This field is required."],"newPassword1":["This field is required."],"newPassword2":["This field is required."]}"#);

        let body = json!({"oldPassword": "wrong", "newPassword1": "a new secret", "newPassword2": "different"});
        let (status, body) = app.post(path, body).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"oldPassword":["Your old password was entered incorrectly. Please enter it again."]}"#);

        let body = json!({"old_password": ADMIN_PASSWORD, "new_password1": "a new secret", "new_password2": "another secret"});
        let (status, body) = app.post(path, body).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"newPassword2":["The two password fields didn’t match."]}"#);

        let body = json!({"oldPassword": ADMIN_PASSWORD, "newPassword1": "1234", "newPassword2": "1234"});
        let (status, body) = app.post(path, body).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"newPassword2":["This password is too short. It must contain at least 8 characters.","This password is entirely numeric."]}"#);
        let body = json!({"oldPassword": ADMIN_PASSWORD, "newPassword1": "password", "newPassword2": "password"});
        let (status, body) = app.post(path, body).await;
        crate::snapshot!(status_and_body(status, &body), @r#"400 {"newPassword2":["This password is too common."]}"#);

        let (status, _) = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(status, 200, "failed changes leave the password alone");

        let body = json!({"oldPassword": ADMIN_PASSWORD, "newPassword1": "a new secret", "newPassword2": "a new secret"});
        let (status, body) = app.post("/api/auth/password/change", body).await;
        crate::snapshot!(status_and_body(status, &body), @r#"200 {"detail":"New password has been saved."}"#);
        let (status, _) = login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(status, 400, "the old password no longer works");
        let (status, _) = login(&app, ADMIN_EMAIL, "a new secret").await;
        assert_eq!(status, 200, "the new one does");
        let (status, _) = app.get("/api/v1/chatbots/").await;
        assert_eq!(status, 200, "API keys are unaffected");

        let (status, body) = anonymous(&app, path, json!({})).await;
        crate::snapshot!(status_and_body(status, &body), @r#"401 {"detail":"Authentication credentials were not provided."}"#);
    })
    .await;
}

#[tokio::test]
async fn a_user_without_an_organisation_can_log_in() {
    each_engine(|app| async move {
        app.user("loner@example.com").await;
        let (status, body) = login(&app, "loner@example.com", ADMIN_PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["apiKeys"], json!([]));
        assert_eq!(body["user"]["permissions"], json!([]));
    })
    .await;
}
