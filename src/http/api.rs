//! The JSON API (`/api/v1`), for the signed-in session. Without a session it answers 401 with
//! `{"error":"sign in required"}`, never a redirect. Documented in `docs/openapi.yaml`.

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::db::listens::ListFilter;
use crate::http::error::{AppResult, RenderedPage};
use crate::http::format::iso_time;
use crate::http::session::{AuthRejection, CurrentUser};
use crate::http::state::AppState;
use crate::services::history;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/library/stats", get(stats))
        .route("/api/v1/listens", get(listens))
        .route("/api/v1/jobs", get(jobs_status))
}

/// The signed-in user, for the API: a missing session is a JSON 401.
pub struct ApiUser(pub CurrentUser);

pub enum ApiRejection {
    SignIn,
    Other(Response),
}

impl IntoResponse for ApiRejection {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => json_error(StatusCode::UNAUTHORIZED, "sign in required"),
            Self::Other(r) => r,
        }
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match CurrentUser::from_request_parts(parts, state).await {
            Ok(user) => Ok(Self(user)),
            Err(AuthRejection::SignIn(_)) => Err(ApiRejection::SignIn),
            Err(other) => Err(ApiRejection::Other(other.into_response())),
        }
    }
}

/// `{"error": message}`, kept as is by the fallback-page layer.
fn json_error(status: StatusCode, message: &'static str) -> Response {
    let mut resp = (status, Json(serde_json::json!({ "error": message }))).into_response();
    resp.extensions_mut().insert(RenderedPage);
    resp
}

fn bad_request(message: &'static str) -> Response {
    json_error(StatusCode::BAD_REQUEST, message)
}

#[derive(Serialize)]
struct Stats {
    artists: i64,
    albums: i64,
    tracks: i64,
    listens: i64,
    playlists: i64,
}

async fn stats(State(state): State<AppState>, ApiUser(user): ApiUser) -> AppResult<Response> {
    let t = history::totals(&state.core, user.user_id).await?;
    Ok(Json(Stats {
        artists: t.stats.artists,
        albums: t.stats.albums,
        tracks: t.stats.tracks,
        listens: t.stats.listens,
        playlists: t.stats.playlists,
    })
    .into_response())
}

#[derive(Deserialize)]
struct ListensQuery {
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

#[derive(Serialize)]
struct ApiListen {
    played_at: String,
    title: String,
    artist: String,
    album: String,
    services: Vec<&'static str>,
    track_id: Option<String>,
}

/// RFC 3339 or Unix seconds.
fn parse_before(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return Some(secs);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

async fn listens(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<ListensQuery>,
) -> AppResult<Response> {
    let limit = match q.limit.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => DEFAULT_LIMIT,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n >= 1 => n.min(MAX_LIMIT),
            _ => return Ok(bad_request("limit must be a positive integer")),
        },
    };
    let before = match q.before.as_deref().filter(|b| !b.trim().is_empty()) {
        None => None,
        Some(b) => match parse_before(b) {
            Some(t) => Some((t, i64::MIN)),
            None => return Ok(bad_request("before must be RFC 3339 or Unix seconds")),
        },
    };
    // `(t, i64::MIN)` keeps exactly the listens played before `t`.
    let filter = ListFilter {
        before,
        ..ListFilter::default()
    };
    let rows = history::timeline(&state.core, user.user_id, &filter, limit).await?;
    let out: Vec<ApiListen> = rows
        .into_iter()
        .map(|r| ApiListen {
            played_at: iso_time(r.played_at),
            title: r.title,
            artist: r.artist,
            album: r.album,
            services: r.services.iter().map(|s| s.as_str()).collect(),
            track_id: r.track_id,
        })
        .collect();
    Ok(Json(out).into_response())
}

#[derive(Serialize)]
struct ApiRun {
    started: String,
    finished: Option<String>,
    outcome: &'static str,
    counts: serde_json::Value,
}

#[derive(Serialize)]
struct ApiJob {
    name: &'static str,
    running: bool,
    last_run: Option<ApiRun>,
    next_run: String,
}

async fn jobs_status(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
) -> AppResult<Response> {
    let out: Vec<ApiJob> = crate::jobs::overview(&state.core)
        .await?
        .into_iter()
        .map(|j| ApiJob {
            name: j.name.as_str(),
            running: j.running.is_some(),
            last_run: j.last_run.map(|r| ApiRun {
                started: iso_time(r.started_at),
                finished: r.finished_at.map(iso_time),
                outcome: r.outcome.as_str(),
                // Our own JSON object of named counts; an unreadable one reads as empty.
                counts: serde_json::from_str(&r.counts)
                    .unwrap_or_else(|_| serde_json::Value::Object(serde_json::Map::new())),
            }),
            next_run: iso_time(j.next_run),
        })
        .collect();
    Ok(Json(out).into_response())
}
