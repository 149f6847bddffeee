//! `GET /`: the signed-in home page.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::app::Core;
use crate::domain::link_health::LinkStatus;
use crate::http::error::AppResult;
use crate::http::format::human_time;
use crate::http::listens::Row;
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
    /// Where the browser opens Navidrome itself.
    navidrome_open_url: String,
    navidrome_status: NavidromeStatus,
    session_count: i64,
    /// Cases waiting in the review queue.
    review_waiting: i64,
    linked_services: Vec<String>,
    totals: crate::db::listens::Stats,
    /// (service label, listens it reported)
    per_service: Vec<(&'static str, i64)>,
    latest: Vec<Row>,
    /// (service label, state label, css state)
    health: Vec<(&'static str, String, &'static str)>,
    last_import: Option<String>,
    next_import: Option<String>,
}

async fn dashboard(State(core): State<Core>, user: CurrentUser) -> AppResult<Response> {
    let navidrome_status = navidrome::status(&core, user.user_id, &user.username).await?;
    let data = services::dashboard::snapshot(&core, user.user_id).await?;
    let now = core.clock.now();
    let health = data
        .linked
        .iter()
        .map(|p| {
            let service = p.service();
            let row = data.health.iter().find(|h| h.service == service);
            let (label, css) = match row.map(|h| (&h.health.status, h.health.backoff_until)) {
                None | Some((LinkStatus::Ok, _)) => ("working".to_owned(), "ok"),
                Some((LinkStatus::Backoff, Some(until))) if until > now => {
                    (format!("backing off until {}", human_time(until)), "warn")
                }
                Some((LinkStatus::Backoff, _)) => ("working".to_owned(), "ok"),
                Some((LinkStatus::Broken, _)) => ("broken: re-link it".to_owned(), "bad"),
                Some((LinkStatus::Misconfigured, _)) => ("server misconfigured".to_owned(), "bad"),
            };
            (service.label(), label, css)
        })
        .collect();
    let page = DashboardPage {
        totals: data.totals.stats.clone(),
        per_service: data
            .totals
            .per_service
            .iter()
            .map(|(s, n)| (s.label(), *n))
            .collect(),
        latest: data.latest.iter().cloned().map(Row::from).collect(),
        health,
        last_import: data.last_import.map(human_time),
        next_import: data.next_import(&core, now).map(human_time),
        username: user.username.clone(),
        is_owner: user.is_owner,
        member_since: human_time(user.created_at),
        navidrome_url: core.config.navidrome_base_url.to_string(),
        navidrome_open_url: core.config.navidrome_public_url.to_string(),
        navidrome_status,
        session_count: data.session_count,
        review_waiting: data.review_waiting,
        linked_services: data.linked.iter().map(|p| p.label().to_owned()).collect(),
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "home"),
    };
    Ok(render(&page, StatusCode::OK))
}
