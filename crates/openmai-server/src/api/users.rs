//! `users/`, `users/{id}/` and `users/current/`: people in the caller's organisation.

use axum::Json;
use axum::extract::{Path, State};
use openmai_store::models::{ApiKey, User, UserProfile};
use openmai_types::{Timestamp, messages};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::accounts::permissions_for;
use crate::api::PageParams;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::form::{Form, Input, Text};
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(current, update_current, patch_current))
        .routes(routes!(get, update, patch))
}

/// One of the caller's API keys, as listed on their user (never the key itself).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>)]
    pub last_used_at: Option<Timestamp>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(key: ApiKey) -> Self {
        ApiKeyView {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            created_at: key.created_at,
            last_used_at: key.last_used_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: Uuid,
    pub avatar: Option<String>,
    pub name: String,
    pub email: String,
    pub company: String,
    pub invitation_code: String,
    /// The user's own live API keys in the current organisation (empty for other users).
    pub api_keys: Vec<ApiKeyView>,
    /// Permission names the user holds in the current organisation.
    pub permissions: Vec<String>,
}

impl UserView {
    fn new(user: User, api_keys: Vec<ApiKey>, permissions: Vec<String>) -> Self {
        UserView {
            id: user.id,
            avatar: user.avatar,
            name: user.name,
            email: user.email,
            company: user.company,
            invitation_code: user.invitation_code,
            api_keys: api_keys.into_iter().map(Into::into).collect(),
            permissions,
        }
    }
}

/// A user as seen from `organization`: their permissions there and, for the caller
/// themself, their API keys there.
pub async fn view(
    state: &AppState,
    user: User,
    organization: Option<Uuid>,
    is_caller: bool,
) -> ApiResult<UserView> {
    let user_id = user.id;
    let (keys, permissions) = state
        .store
        .read(move |db| {
            let Some(org) = organization else { return Ok((Vec::new(), Vec::new())) };
            let keys = if is_caller { db.list_api_keys(org, user_id)? } else { Vec::new() };
            let permissions = match db.find_membership(org, user_id)? {
                Some(member) => permissions_for(member.is_owner, &db.permission_names()?),
                None => Vec::new(),
            };
            Ok((keys, permissions))
        })
        .await?;
    Ok(UserView::new(user, keys, permissions))
}

/// Applies a profile update (PUT when `partial` is false) to the caller's own account.
pub async fn update_own_profile(
    state: &AppState,
    caller: &Caller,
    payload: Payload,
    partial: bool,
) -> ApiResult<UserView> {
    let user_id = caller.user_id;
    let current = state.store.read(move |db| db.get_user(user_id)).await?;
    let mut form = Form::new(payload, partial)?;
    let avatar = form.url("avatar", Text::optional(2048).blank().nullable());
    let name = form.text("name", Text::required(255));
    let email = form.email("email", Text::required(254));
    let company = form.text("company", Text::optional(255).blank());
    let invitation_code = form.text("invitationCode", Text::required(31));
    if let Input::Set(code) = &invitation_code
        && !code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        form.error("invitationCode", "Enter a valid value.");
    }
    form.finish()?;
    let profile = UserProfile {
        avatar: avatar.nullable().unwrap_or(current.avatar).filter(|a| !a.is_empty()),
        name: name.or(current.name),
        email: email.or(current.email),
        company: company.or(current.company),
        invitation_code: invitation_code.or(current.invitation_code),
    };
    let updated =
        state.store.write(move |db| db.update_user_profile(user_id, &profile)).await.map_err(
            |err| {
                if err.is_conflict_on("email") {
                    ApiError::field("email", messages::unique("user", "email"))
                } else {
                    err.into()
                }
            },
        )?;
    view(state, updated, caller.organization_id, true).await
}

/// The caller's own account.
pub async fn own_account(state: &AppState, caller: &Caller) -> ApiResult<UserView> {
    let user_id = caller.user_id;
    let user = state.store.read(move |db| db.get_user(user_id)).await?;
    view(state, user, caller.organization_id, true).await
}

/// Users of the caller's organisation.
#[utoipa::path(get, path = "/users/", tag = "users-orgs", params(PageParams),
    responses((status = 200, body = Page<UserView>)), security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<UserView>>> {
    let org = caller.organization()?;
    let (users, names, owner) = state
        .store
        .read(move |db| {
            let users = db.list_users_in_organization(org, page)?;
            Ok((users, db.permission_names()?, db.organization_owner(org)?))
        })
        .await?;
    let paged = users.map(|user| {
        let permissions = permissions_for(Some(user.id) == owner, &names);
        UserView::new(user, Vec::new(), permissions)
    });
    Ok(Json(Page::new(paged, &url)))
}

/// The caller.
#[utoipa::path(get, path = "/users/current/", tag = "users-orgs",
    responses((status = 200, body = UserView)), security(("ApiKeyAuth" = [])))]
async fn current(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<UserView>> {
    Ok(Json(own_account(&state, &caller).await?))
}

/// Replaces the caller's profile.
#[utoipa::path(put, path = "/users/current/", tag = "users-orgs",
    responses((status = 200, body = UserView)), security(("ApiKeyAuth" = [])))]
async fn update_current(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<Json<UserView>> {
    Ok(Json(update_own_profile(&state, &caller, payload, false).await?))
}

/// Changes some of the caller's profile.
#[utoipa::path(patch, path = "/users/current/", tag = "users-orgs",
    responses((status = 200, body = UserView)), security(("ApiKeyAuth" = [])))]
async fn patch_current(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<Json<UserView>> {
    Ok(Json(update_own_profile(&state, &caller, payload, true).await?))
}

/// A user of the caller's organisation; anyone else is 404.
#[utoipa::path(get, path = "/users/{id}/", tag = "users-orgs",
    params(("id" = Uuid, Path, description = "A UUID string identifying this user.")),
    responses((status = 200, body = UserView)), security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = find_visible(&state, &caller, &id).await?;
    let is_caller = user.id == caller.user_id;
    Ok(Json(view(&state, user, caller.organization_id, is_caller).await?))
}

/// Replaces a profile: only your own (others in your organisation are 403).
#[utoipa::path(put, path = "/users/{id}/", tag = "users-orgs",
    params(("id" = Uuid, Path, description = "A UUID string identifying this user.")),
    responses((status = 200, body = UserView)), security(("ApiKeyAuth" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<UserView>> {
    edit(&state, &caller, &id, payload, false).await.map(Json)
}

/// Changes some of a profile: only your own.
#[utoipa::path(patch, path = "/users/{id}/", tag = "users-orgs",
    params(("id" = Uuid, Path, description = "A UUID string identifying this user.")),
    responses((status = 200, body = UserView)), security(("ApiKeyAuth" = [])))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<UserView>> {
    edit(&state, &caller, &id, payload, true).await.map(Json)
}

async fn edit(
    state: &AppState,
    caller: &Caller,
    id: &str,
    payload: Payload,
    partial: bool,
) -> ApiResult<UserView> {
    let user = find_visible(state, caller, id).await?;
    if user.id != caller.user_id {
        return Err(ApiError::permission_denied());
    }
    update_own_profile(state, caller, payload, partial).await
}

/// A user in the caller's organisation (or the caller), else 404. A malformed id is 404 too,
/// as DRF's lookup gives it.
async fn find_visible(state: &AppState, caller: &Caller, id: &str) -> ApiResult<User> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::not_found())?;
    let me = caller.user_id;
    let org = caller.organization_id;
    state
        .store
        .read(move |db| match (id == me, org) {
            (true, _) => db.get_user(id).map(Some),
            (false, Some(org)) => db.find_user_in_organization(org, id),
            (false, None) => Ok(None),
        })
        .await?
        .ok_or_else(ApiError::not_found)
}
