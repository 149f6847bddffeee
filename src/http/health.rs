//! `/healthz` (process up, no DB) and `/readyz` (DB reachable and migrated).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::db::{self, Db};
use crate::http::error::RenderedPage;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

async fn readyz(State(db): State<Db>) -> impl IntoResponse {
    if db::is_ready(&db).await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let mut r = (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response();
        r.extensions_mut().insert(RenderedPage);
        r
    }
}
