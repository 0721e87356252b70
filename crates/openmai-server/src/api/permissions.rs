//! `permissions/`: the permissions an organisation's members can hold.

use axum::Json;
use axum::extract::State;
use openmai_store::models::Permission;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::PageParams;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::links::RequestUrl;
use crate::wire::pagination::{Page, Pagination};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
}

impl From<Permission> for PermissionView {
    fn from(p: Permission) -> Self {
        PermissionView { id: p.id, name: p.name, description: p.description }
    }
}

#[utoipa::path(get, path = "/permissions/", tag = "users-orgs", params(PageParams),
    responses((status = 200, body = Page<PermissionView>)), security(("ApiKeyAuth" = [])))]
async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    Pagination(page): Pagination,
    url: RequestUrl,
) -> ApiResult<Json<Page<PermissionView>>> {
    let paged = state.store.read(move |db| db.list_permissions(page)).await?;
    Ok(Json(Page::new(paged.map(Into::into), &url)))
}
