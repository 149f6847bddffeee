//! `GET /notifications`: the last events behind the toasts (from the audit log), so a toast
//! that vanished can be read again.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::app::Core;
use crate::domain::audit::AuditKind;
use crate::http::error::AppResult;
use crate::http::format::{human_time, iso_time};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::services;

pub const PAGE: &str = "/notifications";
/// How many of the latest events the page shows.
const SHOWN: i64 = 30;

pub fn router() -> Router<AppState> {
    Router::new().route(PAGE, get(notifications_page))
}

struct Row {
    kind: String,
    label: &'static str,
    who: String,
    from: String,
    detail: String,
    at: String,
    at_iso: String,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    ctx: PageCtx,
    rows: Vec<Row>,
}

async fn notifications_page(State(core): State<Core>, user: CurrentUser) -> AppResult<Response> {
    let rows = services::audit::recent(&core, user.user_id, SHOWN)
        .await?
        .into_iter()
        .map(|e| Row {
            label: AuditKind::label(&e.kind),
            kind: e.kind,
            who: e.username,
            from: e.client_ip,
            detail: e.detail,
            at: human_time(e.created_at),
            at_iso: iso_time(e.created_at),
        })
        .collect();
    let page = NotificationsPage {
        rows,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "notifications"),
    };
    Ok(render(&page, StatusCode::OK))
}
