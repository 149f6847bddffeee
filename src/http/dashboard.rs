//! `GET /`: the signed-in home page.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::app::Core;
use crate::http::error::AppResult;
use crate::http::format::human_time;
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::services::navidrome::NavidromeStatus;
use crate::services::{self, navidrome};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    ctx: PageCtx,
    username: String,
    is_owner: bool,
    member_since: String,
    navidrome_url: String,
    navidrome_status: NavidromeStatus,
    session_count: i64,
    linked_services: Vec<String>,
}

async fn dashboard(State(core): State<Core>, user: CurrentUser) -> AppResult<Response> {
    let navidrome_status = navidrome::status(&core, user.user_id, &user.username).await?;
    let session_count = services::sessions::count(&core, user.user_id).await?;
    let linked_services = services::links::linked(&core, user.user_id)
        .await?
        .into_iter()
        .map(|p| p.label().to_owned())
        .collect();
    let page = DashboardPage {
        username: user.username.clone(),
        is_owner: user.is_owner,
        member_since: human_time(user.created_at),
        navidrome_url: core.config.navidrome_base_url.to_string(),
        navidrome_status,
        session_count,
        linked_services,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "home"),
    };
    Ok(render(&page, StatusCode::OK))
}
