//! `GET /listens`: the merged listening history, newest first, filtered by service and artist,
//! paged by a `before` cursor (`<played_at>:<id>`).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use crate::db::listens::{ListFilter, ListenRow};
use crate::domain::provider::{Provider, Service};
use crate::domain::text::normalize;
use crate::http::error::AppResult;
use crate::http::format::{human_time, iso_time};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::services::history;

/// Listens per page.
const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/listens", get(listens))
}

#[derive(Deserialize, Default)]
pub struct ListensQuery {
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    artist: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

/// One row as the page shows it.
pub struct Row {
    pub when: String,
    pub when_iso: String,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub services: Vec<&'static str>,
    pub in_library: bool,
}

impl From<ListenRow> for Row {
    fn from(r: ListenRow) -> Self {
        Self {
            when: human_time(r.played_at),
            when_iso: iso_time(r.played_at),
            title: r.title,
            artist: r.artist,
            album: r.album,
            services: r.services.iter().map(|s| s.label()).collect(),
            in_library: r.track_id.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "listens.html")]
struct ListensPage {
    ctx: PageCtx,
    rows: Vec<Row>,
    /// (value, label, selected)
    services: Vec<(&'static str, &'static str, bool)>,
    artist: String,
    /// The query string of the next page, if there is one.
    next: Option<String>,
    filtered: bool,
}

/// `<played_at>:<id>`.
fn parse_cursor(s: &str) -> Option<(i64, i64)> {
    let (at, id) = s.split_once(':')?;
    Some((at.parse().ok()?, id.parse().ok()?))
}

async fn listens(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListensQuery>,
) -> AppResult<Response> {
    let service = q
        .service
        .as_deref()
        .and_then(Service::parse)
        .filter(|s| s.provider().is_some());
    let artist = q
        .artist
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| a.chars().take(200).collect::<String>())
        .unwrap_or_default();
    let filter = ListFilter {
        service,
        artist_norm: (!artist.is_empty()).then(|| normalize(&artist)),
        before: q.before.as_deref().and_then(parse_cursor),
    };
    let mut found = history::timeline(&state.core, user.user_id, &filter, PAGE_SIZE + 1).await?;
    let more = found.len() > usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(PAGE_SIZE).unwrap_or(usize::MAX));
    let next = if more {
        found.last().map(|last| {
            let mut qs = url::form_urlencoded::Serializer::new(String::new());
            if let Some(s) = service {
                qs.append_pair("service", s.as_str());
            }
            if !artist.is_empty() {
                qs.append_pair("artist", &artist);
            }
            qs.append_pair("before", &format!("{}:{}", last.played_at, last.id));
            qs.finish()
        })
    } else {
        None
    };
    let page = ListensPage {
        rows: found.into_iter().map(Row::from).collect(),
        services: Provider::ALL
            .iter()
            .map(|p| (p.as_str(), p.label(), Some(p.service()) == service))
            .collect(),
        filtered: service.is_some() || !artist.is_empty() || filter.before.is_some(),
        artist,
        next,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "listens"),
    };
    Ok(render(&page, StatusCode::OK))
}
