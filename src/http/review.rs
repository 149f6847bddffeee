//! The review queue: `GET /review` lists what the matcher could not decide, with its
//! candidates; one click maps a case to a library track or marks it "not in library"; a
//! decision sticks for every later sync and can be undone. `GET /review/{id}?q=` searches the
//! library for another track.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::app::Core;
use crate::domain::jobs::{JobName, Trigger};
use crate::http::error::{AppError, AppResult};
use crate::http::format::{human_time, track_length};
use crate::http::notices::{Code, redirect_with_notice};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::services::matching::{self, Case, Choice, Decided, Offer};

const PAGE: &str = "/review";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/review", get(queue_page))
        .route("/review/{id}", get(case_page))
        .route("/review/{id}/map", post(map))
        .route("/review/{id}/not-in-library", post(not_in_library))
        .route("/review/decisions/{id}/undo", post(undo))
}

/// What a review action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewNotice {
    Mapped,
    NotInLibrary,
    Undone,
    Gone,
    NoSuchTrack,
}

impl Code for ReviewNotice {
    const ALL: &'static [Self] = &[
        Self::Mapped,
        Self::NotInLibrary,
        Self::Undone,
        Self::Gone,
        Self::NoSuchTrack,
    ];
    fn as_str(self) -> &'static str {
        match self {
            Self::Mapped => "mapped",
            Self::NotInLibrary => "not-in-library",
            Self::Undone => "undone",
            Self::Gone => "gone",
            Self::NoSuchTrack => "no-such-track",
        }
    }
}

impl ReviewNotice {
    fn text(self) -> &'static str {
        match self {
            Self::Mapped => {
                "Linked. Every listen and playlist entry of that song now points at the track you chose, also after later syncs."
            }
            Self::NotInLibrary => "Marked as not in your library. Later syncs will not ask again.",
            Self::Undone => "Decision taken back. The matcher will look at that song again.",
            Self::Gone => "That case is no longer open: it was decided already.",
            Self::NoSuchTrack => "That track is no longer in your library. Pick another.",
        }
    }
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    notice: Option<String>,
}

/// A candidate as shown.
pub struct OfferView {
    pub track_id: String,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub length: String,
    /// "92 %" when the matcher scored it.
    pub score: String,
}

impl From<Offer> for OfferView {
    fn from(o: Offer) -> Self {
        Self {
            track_id: o.track_id,
            title: o.title,
            artist: o.artist,
            album: o.album,
            length: track_length(o.duration_secs),
            score: o.score.map_or(String::new(), percent),
        }
    }
}

fn percent(score: f64) -> String {
    format!("{:.0} %", (score * 100.0).clamp(0.0, 100.0))
}

pub struct CaseView {
    pub id: i64,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub length: String,
    pub why: String,
    pub listens: i64,
    pub entries: i64,
    pub candidates: Vec<OfferView>,
}

impl From<Case> for CaseView {
    fn from(c: Case) -> Self {
        Self {
            id: c.id,
            title: c.title,
            artist: c.artist,
            album: c.album,
            length: track_length(c.duration_secs),
            why: c.why,
            listens: c.listens,
            entries: c.entries,
            candidates: c.candidates.into_iter().map(OfferView::from).collect(),
        }
    }
}

pub struct DecisionView {
    pub id: i64,
    pub title: String,
    pub artist: String,
    /// "Song — Artist", or None for "not in library".
    pub chosen: Option<String>,
    pub when: String,
}

#[derive(Template)]
#[template(path = "review.html")]
struct QueuePage {
    ctx: PageCtx,
    notice: Option<&'static str>,
    open: i64,
    cases: Vec<CaseView>,
    page: i64,
    more: bool,
    decisions: Vec<DecisionView>,
}

async fn queue_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<QueueQuery>,
) -> AppResult<Response> {
    let page = q.page.unwrap_or(0).clamp(0, 10_000);
    let queue = matching::queue(&state.core, user.user_id, page).await?;
    let view = QueuePage {
        notice: q
            .notice
            .as_deref()
            .and_then(ReviewNotice::parse)
            .map(ReviewNotice::text),
        open: queue.open,
        cases: queue.cases.into_iter().map(CaseView::from).collect(),
        page,
        more: queue.more,
        decisions: queue
            .decisions
            .into_iter()
            .map(|d| DecisionView {
                id: d.id,
                title: d.title,
                artist: d.artist,
                chosen: match (d.track_id, d.track_title, d.track_artist) {
                    (Some(_), Some(t), Some(a)) => Some(format!("{t} — {a}")),
                    _ => None,
                },
                when: human_time(d.decided_at),
            })
            .collect(),
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "review"),
    };
    Ok(render(&view, StatusCode::OK))
}

#[derive(Deserialize, Default)]
pub struct CaseQuery {
    #[serde(default)]
    q: Option<String>,
}

#[derive(Template)]
#[template(path = "review_case.html")]
struct CasePage {
    ctx: PageCtx,
    case: CaseView,
    query: String,
    searched: bool,
    hits: Vec<OfferView>,
}

async fn case_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<CaseQuery>,
) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let query: String =
        q.q.as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
    let Some((case, hits)) =
        matching::case_with_search(&state.core, user.user_id, id, &query).await?
    else {
        return Ok(redirect_with_notice(PAGE, ReviewNotice::Gone));
    };
    let view = CasePage {
        searched: !query.is_empty(),
        query,
        case: case.into(),
        hits: hits.into_iter().map(OfferView::from).collect(),
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "review"),
    };
    Ok(render(&view, StatusCode::OK))
}

#[derive(Deserialize)]
pub struct MapForm {
    track_id: String,
}

async fn map(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: Result<Form<MapForm>, FormRejection>,
) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let Ok(Form(form)) = form else {
        return Err(AppError::BadRequest("Choose a track."));
    };
    let track_id = form.track_id.trim();
    if track_id.is_empty() || track_id.len() > 200 {
        return Err(AppError::BadRequest("Choose a track."));
    }
    let done =
        matching::decide_case(&core, user.user_id, id, Choice::Track(track_id.to_owned())).await?;
    Ok(redirect_with_notice(
        PAGE,
        decided_notice(done, ReviewNotice::Mapped),
    ))
}

async fn not_in_library(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let done = matching::decide_case(&core, user.user_id, id, Choice::NotInLibrary).await?;
    Ok(redirect_with_notice(
        PAGE,
        decided_notice(done, ReviewNotice::NotInLibrary),
    ))
}

fn decided_notice(done: Decided, ok: ReviewNotice) -> ReviewNotice {
    match done {
        Decided::Done => ok,
        Decided::NoSuchCase => ReviewNotice::Gone,
        Decided::NoSuchTrack => ReviewNotice::NoSuchTrack,
    }
}

async fn undo(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    if !matching::undo(&core, user.user_id, id).await? {
        return Ok(redirect_with_notice(PAGE, ReviewNotice::Gone));
    }
    // The song's rows wait for the matcher: run it now rather than at the next sync.
    match crate::jobs::trigger_after_current(&core, JobName::Matching, Trigger::Manual).await {
        Ok(_) | Err(crate::jobs::TriggerError::ShuttingDown) => {}
        Err(e) => tracing::warn!(error = %e, "matching did not start after an undo"),
    }
    Ok(redirect_with_notice(PAGE, ReviewNotice::Undone))
}
