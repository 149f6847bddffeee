//! `GET /`: the signed-in home page.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::app::Core;
use crate::domain::link_health::LinkStatus;
use crate::http::error::{AppError, AppResult};
use crate::http::format::human_time;
use crate::http::listens::Row;
use crate::http::pages::{PageCtx, page_response};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::services::dashboard::Snapshot;
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

async fn dashboard(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let core = &state.core;
    let navidrome_status = navidrome::status(core, user.user_id, &user.username).await?;
    let snapshot = services::dashboard::snapshot(core, user.user_id).await?;
    let now = core.clock.now();
    let view = View {
        next_import: snapshot.next_import(core, now),
        backing_off: backing_off(&snapshot, now),
        user,
        snapshot,
        navidrome_status,
    };
    if let Some(page) = state.dashboards.get(&view) {
        return Ok(page_response(page, StatusCode::OK));
    }
    match view.page(core).render() {
        Ok(html) => {
            let page = Bytes::from(html);
            state.dashboards.put(view, page.clone());
            Ok(page_response(page, StatusCode::OK))
        }
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

/// Everything the home page shows: equal views render the same bytes.
struct View {
    user: CurrentUser,
    snapshot: Arc<Snapshot>,
    navidrome_status: NavidromeStatus,
    next_import: Option<i64>,
    /// Bit `i` is set while the `i`th linked service is backing off (the label then says until
    /// when); the clock moves the page only through this and `next_import`.
    backing_off: u64,
}

impl View {
    fn same_as(&self, other: &Self) -> bool {
        let (a, b) = (&self.user, &other.user);
        a.session_id == b.session_id
            && a.user_id == b.user_id
            && a.username == b.username
            && a.is_owner == b.is_owner
            && a.created_at == b.created_at
            && a.csrf_token == b.csrf_token
            // The same snapshot, not an equal one: a new change generation renders anew.
            && Arc::ptr_eq(&self.snapshot, &other.snapshot)
            && self.navidrome_status == other.navidrome_status
            && self.next_import == other.next_import
            && self.backing_off == other.backing_off
    }

    fn page(&self, core: &Core) -> DashboardPage {
        let data = &self.snapshot;
        let user = &self.user;
        let health = data
            .linked
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let service = p.service();
                let row = data.health.iter().find(|h| h.service == service);
                let active = self.backing_off & (1 << i.min(63)) != 0;
                let (label, css) = match row.map(|h| (&h.health.status, h.health.backoff_until)) {
                    Some((LinkStatus::Backoff, Some(until))) if active => {
                        (format!("backing off until {}", human_time(until)), "warn")
                    }
                    None | Some((LinkStatus::Ok | LinkStatus::Backoff, _)) => {
                        ("working".to_owned(), "ok")
                    }
                    Some((LinkStatus::Broken, _)) => ("broken: re-link it".to_owned(), "bad"),
                    Some((LinkStatus::Misconfigured, _)) => {
                        ("server misconfigured".to_owned(), "bad")
                    }
                };
                (service.label(), label, css)
            })
            .collect();
        DashboardPage {
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
            next_import: self.next_import.map(human_time),
            username: user.username.clone(),
            is_owner: user.is_owner,
            member_since: human_time(user.created_at),
            navidrome_url: core.config.navidrome_base_url.to_string(),
            navidrome_open_url: core.config.navidrome_public_url.to_string(),
            navidrome_status: self.navidrome_status,
            session_count: data.session_count,
            review_waiting: data.review_waiting,
            linked_services: data.linked.iter().map(|p| p.label().to_owned()).collect(),
            ctx: PageCtx::signed_in(user.username.clone(), user.csrf_token.clone(), "home"),
        }
    }
}

/// Which linked services are backing off at `now` (bit `i` for the `i`th).
fn backing_off(data: &Snapshot, now: i64) -> u64 {
    let mut bits = 0u64;
    for (i, p) in data.linked.iter().enumerate().take(64) {
        let service = p.service();
        let active = data
            .health
            .iter()
            .find(|h| h.service == service)
            .is_some_and(|h| {
                h.health.status == LinkStatus::Backoff
                    && h.health.backoff_until.is_some_and(|until| until > now)
            });
        if active {
            bits |= 1 << i;
        }
    }
    bits
}

/// At most this many rendered home pages are kept: one per signed-in browser.
const MAX_RENDERED: usize = 8;

/// Rendered home pages, one per session, served again while their [`View`] is unchanged. A
/// view a page was rendered for holds its snapshot, so a new change generation never matches.
#[derive(Default)]
pub struct RenderedDashboards(Mutex<VecDeque<(View, Bytes)>>);

impl RenderedDashboards {
    fn get(&self, view: &View) -> Option<Bytes> {
        let pages = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        pages
            .iter()
            .find(|(v, _)| v.same_as(view))
            .map(|(_, page)| page.clone())
    }

    fn put(&self, view: View, page: Bytes) {
        let mut pages = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        pages.retain(|(v, _)| v.user.session_id != view.user.session_id);
        if pages.len() >= MAX_RENDERED {
            pages.pop_front();
        }
        pages.push_back((view, page));
    }
}
