//! `GET /`: the signed-in home page.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::clients::navidrome::NavidromeError;
use crate::db;
use crate::domain::ids::UserId;
use crate::domain::link_health::Provider;
use crate::error::AppResult;
use crate::http::format::human_time;
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::links::{self, NavidromePing};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavidromeStatus {
    Connected,
    WrongCredentials,
    Unreachable,
    NoCredentials,
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

/// How long a Navidrome check result is reused by the dashboard.
const STATUS_TTL: Duration = Duration::from_secs(30);

/// The last dashboard check of Navidrome, per user (one user per instance, so tiny).
#[derive(Clone, Default)]
pub struct StatusCache(Arc<Mutex<Option<(UserId, Instant, NavidromeStatus)>>>);

impl StatusCache {
    fn get(&self, user: UserId) -> Option<NavidromeStatus> {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match *guard {
            Some((u, at, status)) if u == user && at.elapsed() < STATUS_TTL => Some(status),
            _ => None,
        }
    }

    /// Forget the last result (the next dashboard view checks Navidrome again).
    pub fn clear(&self) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    pub fn put(&self, user: UserId, status: NavidromeStatus) {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = Some((user, Instant::now(), status));
    }
}

async fn navidrome_status(state: &AppState, user: &CurrentUser) -> AppResult<NavidromeStatus> {
    if let Some(status) = state.navidrome_status.get(user.user_id) {
        return Ok(status);
    }
    let status = check_navidrome(state, user).await?;
    state.navidrome_status.put(user.user_id, status);
    Ok(status)
}

async fn check_navidrome(state: &AppState, user: &CurrentUser) -> AppResult<NavidromeStatus> {
    Ok(
        match links::navidrome_ping(state, user.user_id, &user.username).await? {
            None | Some(Err(NavidromePing::Undecryptable(_))) => NavidromeStatus::NoCredentials,
            Some(Ok(())) => NavidromeStatus::Connected,
            Some(Err(NavidromePing::Failed(NavidromeError::WrongCredentials))) => {
                NavidromeStatus::WrongCredentials
            }
            Some(Err(NavidromePing::Failed(_))) => NavidromeStatus::Unreachable,
        },
    )
}

async fn dashboard(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let navidrome_status = navidrome_status(&state, &user).await?;
    let session_count = db::sessions::count_for_user(&state.db, user.user_id).await?;
    let linked_services = db::links::list(&state.db, user.user_id)
        .await?
        .into_iter()
        .filter_map(|l| Provider::parse(&l.provider))
        .map(|p| p.label().to_owned())
        .collect();
    let page = DashboardPage {
        username: user.username.clone(),
        is_owner: user.is_owner,
        member_since: human_time(user.created_at),
        navidrome_url: state.config.navidrome_base_url.to_string(),
        navidrome_status,
        session_count,
        linked_services,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "home"),
    };
    Ok(render(&page, StatusCode::OK))
}
