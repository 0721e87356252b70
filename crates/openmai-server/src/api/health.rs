//! `GET /healthz` for load balancers: 200 once the server is up and its database answers,
//! 503 otherwise.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    match state.store.read(|db| db.ping()).await {
        Ok(_) => (StatusCode::OK, Json(Health { status: "ok" })),
        Err(err) => {
            tracing::warn!(%err, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable" }))
        }
    }
}
