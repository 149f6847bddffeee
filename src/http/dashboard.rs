//! `GET /`: the signed-in home page.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::app::Core;
use crate::domain::jobs::JobName;
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
    let session_count = services::sessions::count(&core, user.user_id).await?;
    let linked_services = services::links::linked(&core, user.user_id)
        .await?
        .into_iter()
        .map(|p| p.label().to_owned())
        .collect();
    let totals = services::history::totals(&core, user.user_id).await?;
    let latest = services::history::timeline(
        &core,
        user.user_id,
        &crate::db::listens::ListFilter::default(),
        10,
    )
    .await?;
    let overview = services::links::overview(&core, user.user_id).await?;
    let now = core.clock.now();
    let health = overview
        .links
        .iter()
        .map(|l| {
            let service = l.provider.service();
            let row = overview.health.iter().find(|h| h.service == service);
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
    let last_run = services::history::last_run(&core, JobName::LibraryImport).await?;
    let next_import = crate::jobs::next_runs(&core)
        .await?
        .into_iter()
        .find(|(j, _)| *j == JobName::LibraryImport)
        .map(|(_, at)| human_time(at));
    let page = DashboardPage {
        totals: totals.stats,
        per_service: totals
            .per_service
            .into_iter()
            .map(|(s, n)| (s.label(), n))
            .collect(),
        latest: latest.into_iter().map(Row::from).collect(),
        health,
        last_import: last_run.map(human_time),
        next_import,
        username: user.username.clone(),
        is_owner: user.is_owner,
        member_since: human_time(user.created_at),
        navidrome_url: core.config.navidrome_base_url.to_string(),
        navidrome_open_url: core.config.navidrome_public_url.to_string(),
        navidrome_status,
        session_count,
        linked_services,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "home"),
    };
    Ok(render(&page, StatusCode::OK))
}
