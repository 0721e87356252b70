//! `organizations/` and `organizations/{id}/members/`. An organisation exists for a user only
//! if they belong to it: any other id is 404. Only the owner may rename it or change its
//! members; a member may remove themself.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use openmai_store::StoreError;
use openmai_store::models::{Member, Organization};
use openmai_types::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::accounts::permissions_for;
use crate::api::{NamedRef, PageParams};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::wire::form::{Form, Text};
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};
use crate::wire::payload::Payload;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update, patch))
        .routes(routes!(list_members, add_member))
        .routes(routes!(get_member, remove_member))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationListItem {
    pub id: Uuid,
    pub name: String,
    pub owner: NamedRef,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageStatistics {
    pub chatbots_count: u64,
    pub members_count: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
    pub owner: NamedRef,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
    pub usage_statistics: UsageStatistics,
    /// Always `self-hosted`.
    pub organization_plan: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub organization: OrganizationView,
    pub is_owner: bool,
    pub permissions: Vec<String>,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
}

/// The answer to adding a member (`MemberCreate`): the organisation's id, not its object.
/// `email` is write-only in `MemberCreate`, so it is not echoed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberCreated {
    pub id: Uuid,
    pub name: String,
    pub organization: Uuid,
    pub is_owner: bool,
    #[schema(value_type = String, example = "1728181396000")]
    pub created_at: Timestamp,
}

/// The request body of `organizations/{id}/members/`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct MemberCreate {
    /// The email of an existing OpenMai user.
    email: String,
}

/// The request body of `organizations/`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct OrganizationInput {
    name: String,
}

fn owner(org: &Organization) -> NamedRef {
    NamedRef { id: org.owner_id, name: org.owner_name.clone() }
}

async fn full_view(state: &AppState, org: Organization) -> ApiResult<OrganizationView> {
    let id = org.id;
    let (chatbots, members) =
        state.store.read(move |db| Ok((db.count_chatbots(id)?, db.count_members(id)?))).await?;
    Ok(OrganizationView {
        owner: owner(&org),
        id: org.id,
        name: org.name,
        created_at: org.created_at,
        usage_statistics: UsageStatistics { chatbots_count: chatbots, members_count: members },
        organization_plan: "self-hosted".into(),
    })
}

/// The organisation if the caller belongs to it; 404 otherwise (also for malformed ids).
async fn visible(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Organization> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::not_found())?;
    let user = caller.user_id;
    state
        .store
        .read(move |db| db.find_organization_for_user(id, user))
        .await?
        .ok_or_else(ApiError::not_found)
}

fn name_from(payload: Payload, partial: bool) -> ApiResult<Option<String>> {
    let mut form = Form::new(payload, partial)?;
    let name = form.text("name", Text::required(255));
    form.finish()?;
    Ok(name.set())
}

/// The organisations the caller belongs to.
#[utoipa::path(get, path = "/organizations/", tag = "users-orgs", params(PageParams),
    responses((status = 200, body = Page<OrganizationListItem>)), security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<OrganizationListItem>>> {
    let user = caller.user_id;
    let paged = state.store.read(move |db| db.list_organizations_for_user(user, page)).await?;
    Ok(Json(Page::new(
        paged.map(|org| OrganizationListItem {
            owner: owner(&org),
            id: org.id,
            name: org.name,
            created_at: org.created_at,
        }),
        &url,
    )))
}

/// Creates an organisation owned by the caller.
#[utoipa::path(post, path = "/organizations/", tag = "users-orgs", request_body = OrganizationInput,
    responses((status = 201, body = OrganizationView)), security(("ApiKeyAuth" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<OrganizationView>)> {
    let name = name_from(payload, false)?.unwrap_or_default();
    let user = caller.user_id;
    let org = state.store.write(move |db| db.insert_organization(&name, user)).await?;
    Ok((StatusCode::CREATED, Json(full_view(&state, org).await?)))
}

#[utoipa::path(get, path = "/organizations/{id}/", tag = "users-orgs",
    params(("id" = Uuid, Path, description = "A UUID string identifying this organization.")),
    responses((status = 200, body = OrganizationView)), security(("ApiKeyAuth" = [])))]
async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OrganizationView>> {
    let org = visible(&state, &caller, &id).await?;
    Ok(Json(full_view(&state, org).await?))
}

/// Renames the organisation (owner only).
#[utoipa::path(put, path = "/organizations/{id}/", tag = "users-orgs", request_body = OrganizationInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this organization.")),
    responses((status = 200, body = OrganizationView)), security(("ApiKeyAuth" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<OrganizationView>> {
    rename(&state, &caller, &id, payload, false).await.map(Json)
}

/// Renames the organisation (owner only).
#[utoipa::path(patch, path = "/organizations/{id}/", tag = "users-orgs", request_body = OrganizationInput,
    params(("id" = Uuid, Path, description = "A UUID string identifying this organization.")),
    responses((status = 200, body = OrganizationView)), security(("ApiKeyAuth" = [])))]
async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<Json<OrganizationView>> {
    rename(&state, &caller, &id, payload, true).await.map(Json)
}

async fn rename(
    state: &AppState,
    caller: &Caller,
    id: &str,
    payload: Payload,
    partial: bool,
) -> ApiResult<OrganizationView> {
    let org = visible(state, caller, id).await?;
    if org.owner_id != caller.user_id {
        return Err(ApiError::permission_denied());
    }
    let org = match name_from(payload, partial)? {
        Some(name) => {
            let org_id = org.id;
            state.store.write(move |db| db.rename_organization(org_id, &name)).await?
        }
        None => org,
    };
    full_view(state, org).await
}

async fn member_view(state: &AppState, org: Organization, member: Member) -> ApiResult<MemberView> {
    let names = state.store.read(|db| db.permission_names()).await?;
    Ok(MemberView {
        id: member.id,
        name: member.name,
        email: member.email,
        permissions: permissions_for(member.is_owner, &names),
        is_owner: member.is_owner,
        created_at: member.created_at,
        organization: full_view(state, org).await?,
    })
}

#[utoipa::path(get, path = "/organizations/{id}/members/", tag = "users-orgs",
    params(("id" = Uuid, Path, description = "A UUID string identifying this organization."), PageParams),
    responses((status = 200, body = Page<MemberView>)), security(("ApiKeyAuth" = [])))]
async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<MemberView>>> {
    let org = visible(&state, &caller, &id).await?;
    let org_id = org.id;
    let (paged, names) = state
        .store
        .read(move |db| Ok((db.list_members(org_id, page)?, db.permission_names()?)))
        .await?;
    let organization = full_view(&state, org).await?;
    let paged = paged.map(|member| MemberView {
        id: member.id,
        name: member.name,
        email: member.email,
        permissions: permissions_for(member.is_owner, &names),
        is_owner: member.is_owner,
        created_at: member.created_at,
        organization: organization.clone(),
    });
    Ok(Json(Page::new(paged, &url)))
}

/// Adds an existing user, by email (owner only).
#[utoipa::path(post, path = "/organizations/{id}/members/", tag = "users-orgs", request_body = MemberCreate,
    params(("id" = Uuid, Path, description = "A UUID string identifying this organization.")),
    responses((status = 201, body = MemberCreated)), security(("ApiKeyAuth" = [])))]
async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Payload,
) -> ApiResult<(StatusCode, Json<MemberCreated>)> {
    let org = visible(&state, &caller, &id).await?;
    if org.owner_id != caller.user_id {
        return Err(ApiError::permission_denied());
    }
    let mut form = Form::new(payload, false)?;
    let email = form.email("email", Text::required(254));
    form.finish()?;
    let email = email.set().unwrap_or_default();
    let org_id = org.id;
    let added = state
        .store
        .write(move |db| {
            let Some(user) = db.find_user_by_email(&email)? else { return Ok(None) };
            db.insert_membership(org_id, user.id).map(Some)
        })
        .await;
    let member = match added {
        Ok(Some(member)) => member,
        Ok(None) => {
            return Err(ApiError::field("email", "No user with this email address exists."));
        }
        Err(StoreError::Conflict { .. }) => {
            return Err(ApiError::non_field(
                "The fields organization, user must make a unique set.",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    Ok((
        StatusCode::CREATED,
        Json(MemberCreated {
            id: member.id,
            name: member.name,
            organization: member.organization_id,
            is_owner: member.is_owner,
            created_at: member.created_at,
        }),
    ))
}

async fn find_member(state: &AppState, org: &Organization, member_id: &str) -> ApiResult<Member> {
    let member_id = Uuid::parse_str(member_id).map_err(|_| ApiError::not_found())?;
    let org_id = org.id;
    state
        .store
        .read(move |db| db.find_member(org_id, member_id))
        .await?
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(get, path = "/organizations/{id}/members/{memberId}/", tag = "users-orgs",
    params(
        ("id" = Uuid, Path, description = "A UUID string identifying this organization."),
        ("memberId" = Uuid, Path, description = "A UUID string identifying this member."),
    ),
    responses((status = 200, body = MemberView)), security(("ApiKeyAuth" = [])))]
async fn get_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, member_id)): Path<(String, String)>,
) -> ApiResult<Json<MemberView>> {
    let org = visible(&state, &caller, &id).await?;
    let member = find_member(&state, &org, &member_id).await?;
    Ok(Json(member_view(&state, org, member).await?))
}

/// Removes a member (owner only; members may remove themselves). Their API keys for this
/// organisation stop working at once.
#[utoipa::path(delete, path = "/organizations/{id}/members/{memberId}/", tag = "users-orgs",
    params(
        ("id" = Uuid, Path, description = "A UUID string identifying this organization."),
        ("memberId" = Uuid, Path, description = "A UUID string identifying this member."),
    ),
    responses((status = 204)), security(("ApiKeyAuth" = [])))]
async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, member_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let org = visible(&state, &caller, &id).await?;
    let member = find_member(&state, &org, &member_id).await?;
    // Permission first, as DRF checks object permissions before any validation.
    if org.owner_id != caller.user_id && member.user_id != caller.user_id {
        return Err(ApiError::permission_denied());
    }
    if member.is_owner {
        return Err(ApiError::non_field("The owner cannot be removed from the organization."));
    }
    let (org_id, member_id) = (org.id, member.id);
    state.store.write(move |db| db.delete_membership(org_id, member_id)).await?;
    // Their keys were revoked in the store; drop any cached lookups too.
    state.keys.invalidate_all();
    Ok(StatusCode::NO_CONTENT)
}
