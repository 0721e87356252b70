//! `auth/…`: dj-rest-auth's login, logout, JWT refresh and verify, the current user and
//! password change, with their texts.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use openmai_types::{Timestamp, messages};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Detail;
use crate::api::users::{UserView, own_account, update_own_profile, view};
use crate::auth::jwt::TokenType;
use crate::auth::{Caller, password, session};
use crate::error::{ApiError, ApiResult, FieldErrors};
use crate::state::AppState;
use crate::wire::form::{Form, Text};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(refresh))
        .routes(routes!(verify))
        .routes(routes!(user, update_user, patch_user))
        .routes(routes!(change_password))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub user: UserView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessToken {
    pub access: String,
}

/// The request body of `auth/login/`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct Login {
    /// The email address (also accepted as `username`).
    email: Option<String>,
    username: Option<String>,
    password: String,
}

/// Logs in with email and password; answers a JWT pair and the user.
#[utoipa::path(post, path = "/auth/login/", tag = "auth", request_body = Login,
    responses((status = 200, body = TokenPair), (status = 400, description = "Wrong credentials")))]
async fn login(State(state): State<AppState>, payload: Payload) -> ApiResult<Json<TokenPair>> {
    let mut form = Form::new(payload, false)?;
    form.alias("username", "email");
    let email = form.text("email", Text::optional(254).blank()).set().unwrap_or_default();
    let secret = form.text("password", Text::required(128).untrimmed());
    form.finish()?;
    let secret = secret.set().unwrap_or_default();
    if email.is_empty() {
        return Err(ApiError::non_field("Must include \"email\" and \"password\"."));
    }
    let email = email.to_lowercase();
    if let Err(wait) = state.login_throttle.check(&email) {
        return Err(ApiError::throttled(wait));
    }
    let user = verified_user(&state, &email, secret).await?;
    let organization = first_organization(&state, user.id).await?;
    let user_id = user.id;
    Ok(Json(TokenPair {
        access: state.jwt.issue(user_id, TokenType::Access),
        refresh: state.jwt.issue(user_id, TokenType::Refresh),
        user: view(&state, user, organization, true).await?,
    }))
}

/// The active user with this email and password, or DRF's login failure.
pub async fn verified_user(
    state: &AppState,
    email: &str,
    secret: String,
) -> ApiResult<openmai_store::models::User> {
    let lookup = email.to_owned();
    let user = state.store.read(move |db| db.find_user_by_email(&lookup)).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = password::verify(secret, stored).await;
    match user {
        Some(user) if matches && user.is_active => Ok(user),
        _ => Err(ApiError::non_field(messages::LOGIN_FAILED)),
    }
}

pub async fn first_organization(
    state: &AppState,
    user_id: uuid::Uuid,
) -> ApiResult<Option<uuid::Uuid>> {
    let orgs = state.store.read(move |db| db.organizations_of_user(user_id)).await?;
    Ok(orgs.first().map(|o| o.id))
}

/// Logs out: revokes the refresh token sent (if any) and ends the console session.
#[utoipa::path(post, path = "/auth/logout/", tag = "auth",
    responses((status = 200, body = Detail)))]
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    payload: Payload,
) -> ApiResult<Response> {
    if let serde_json::Value::Object(body) = &payload.0
        && let Some(claims) =
            body.get("refresh").and_then(|v| v.as_str()).and_then(|t| state.jwt.verify(t))
    {
        let expires = Timestamp(claims.exp * 1000);
        state.store.write(move |db| db.revoke_token(&claims.jti, expires)).await?;
    }
    let mut response = Json(Detail { detail: "Successfully logged out.".into() }).into_response();
    if let Some(current) = session::find(&state, &headers).await? {
        state.store.write(move |db| db.delete_session(current.id)).await?;
        response.headers_mut().insert(header::SET_COOKIE, session::clear(&state, &headers));
    }
    Ok(response)
}

/// Exchanges a refresh token for a new access token.
#[utoipa::path(post, path = "/auth/token/refresh/", tag = "auth",
    responses((status = 200, body = AccessToken), (status = 401, description = "Invalid token")))]
async fn refresh(State(state): State<AppState>, payload: Payload) -> ApiResult<Json<AccessToken>> {
    let mut form = Form::new(payload, false)?;
    let token = form.text("refresh", Text::required(4096));
    form.finish()?;
    let token = token.set().unwrap_or_default();
    let claims = state.jwt.verify(&token).ok_or_else(invalid_token)?;
    if claims.token_type != TokenType::Refresh {
        return Err(ApiError::token_not_valid("Token has wrong type"));
    }
    let (jti, user_id) = (claims.jti.clone(), claims.user_id);
    let (revoked, user) = state
        .store
        .read(move |db| Ok((db.is_token_revoked(&jti)?, db.get_user(user_id).ok())))
        .await?;
    if revoked {
        return Err(ApiError::token_not_valid("Token is blacklisted"));
    }
    if !user.is_some_and(|u| u.is_active) {
        return Err(invalid_token());
    }
    Ok(Json(AccessToken { access: state.jwt.issue(claims.user_id, TokenType::Access) }))
}

fn invalid_token() -> ApiError {
    ApiError::token_not_valid("Token is invalid or expired")
}

/// Checks a token; 200 with an empty object when it is valid.
#[utoipa::path(post, path = "/auth/token/verify/", tag = "auth",
    responses((status = 200, description = "`{}`"), (status = 401, description = "Invalid token")))]
async fn verify(
    State(state): State<AppState>,
    payload: Payload,
) -> ApiResult<Json<serde_json::Value>> {
    let mut form = Form::new(payload, false)?;
    let token = form.text("token", Text::required(4096));
    form.finish()?;
    let claims = state.jwt.verify(&token.set().unwrap_or_default()).ok_or_else(invalid_token)?;
    let jti = claims.jti;
    if state.store.read(move |db| db.is_token_revoked(&jti)).await? {
        return Err(ApiError::token_not_valid("Token is blacklisted"));
    }
    Ok(Json(serde_json::json!({})))
}

/// The current user.
#[utoipa::path(get, path = "/auth/user/", tag = "auth",
    responses((status = 200, body = UserView)), security(("ApiKeyAuth" = [])))]
async fn user(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<UserView>> {
    Ok(Json(own_account(&state, &caller).await?))
}

/// Replaces the current user's profile.
#[utoipa::path(put, path = "/auth/user/", tag = "auth",
    responses((status = 200, body = UserView)), security(("ApiKeyAuth" = [])))]
async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<Json<UserView>> {
    Ok(Json(update_own_profile(&state, &caller, payload, false).await?))
}

/// Changes some of the current user's profile.
#[utoipa::path(patch, path = "/auth/user/", tag = "auth",
    responses((status = 200, body = UserView)), security(("ApiKeyAuth" = [])))]
async fn patch_user(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<Json<UserView>> {
    Ok(Json(update_own_profile(&state, &caller, payload, true).await?))
}

/// The request body of `auth/password/change/`.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PasswordChange {
    old_password: String,
    new_password1: String,
    new_password2: String,
}

/// Changes the current user's password.
#[utoipa::path(post, path = "/auth/password/change/", tag = "auth", request_body = PasswordChange,
    responses((status = 200, body = Detail)), security(("ApiKeyAuth" = [])))]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<Json<Detail>> {
    let mut form = Form::new(payload, false)?;
    let rule = Text::required(128).untrimmed();
    let old = form.text("oldPassword", rule).set();
    let new1 = form.text("newPassword1", rule).set();
    let new2 = form.text("newPassword2", rule).set();
    form.finish()?;
    let (Some(old), Some(new1), Some(new2)) = (old, new1, new2) else {
        return Err(ApiError::internal("validated fields missing"));
    };
    let user_id = caller.user_id;
    let user = state.store.read(move |db| db.get_user(user_id)).await?;
    // dj-rest-auth checks the old password as a field validator: when it fails, DRF reports
    // that alone and never runs the new-password checks.
    if !password::verify(old, Some(user.password_hash)).await {
        return Err(ApiError::field(
            "oldPassword",
            "Your old password was entered incorrectly. Please enter it again.",
        ));
    }
    let mut errors = FieldErrors::default();
    if new1 != new2 {
        errors.add("newPassword2", messages::PASSWORD_MISMATCH);
    } else {
        for problem in password::problems(&new2) {
            errors.add("newPassword2", problem);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let hash = password::hash(new2).await?;
    state.store.write(move |db| db.set_user_password(user_id, &hash)).await?;
    Ok(Json(Detail { detail: "New password has been saved.".into() }))
}
