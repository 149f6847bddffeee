//! `/library`: the import state with "Sync now", then artists → albums → tracks, and search.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::db::library::{AlbumItem, ArtistItem, TrackItem};
use crate::domain::jobs::{JobName, Trigger};
use crate::http::error::{AppError, AppResult};
use crate::http::format::{human_time, iso_time};
use crate::http::notices::{Code, RunNotice, redirect_with_notice};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::services::library;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/library", get(library_page))
        .route("/library/sync", post(sync_now))
        .route("/library/artists/{id}", get(artist_page))
        .route("/library/albums/{id}", get(album_page))
}

const PAGE: &str = "/library";

/// How the Library page words a "Sync now" result.
fn notice_text(notice: RunNotice) -> &'static str {
    match notice {
        RunNotice::Started => "The library sync started. Refresh to see its result.",
        RunNotice::AlreadyRunning => "A library sync is already running.",
        RunNotice::ShuttingDown => "The server is shutting down; try again after it restarts.",
    }
}

#[derive(Deserialize)]
struct LibraryQuery {
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<i64>,
}

struct Running {
    done: u64,
    total: u64,
}

#[derive(Template)]
#[template(path = "library.html")]
struct LibraryPage {
    ctx: PageCtx,
    notice: Option<&'static str>,
    query: String,
    completed: Option<(String, String)>,
    checked: Option<(String, String)>,
    running: Option<Running>,
    last_error: String,
    artists_total: i64,
    albums_total: i64,
    tracks_total: i64,
    artists: Vec<ArtistItem>,
    page: i64,
    more: bool,
    searched: bool,
    hit_artists: Vec<ArtistItem>,
    hit_albums: Vec<AlbumItem>,
    hit_tracks: Vec<TrackView>,
}

struct TrackView {
    title: String,
    artist: String,
    album: String,
    album_id: String,
    number: String,
    duration: String,
    play_count: i64,
}

fn track_view(t: TrackItem) -> TrackView {
    TrackView {
        number: match (t.disc_no, t.track_no) {
            (Some(d), Some(n)) if d > 1 => format!("{d}-{n}"),
            (_, Some(n)) => n.to_string(),
            _ => String::new(),
        },
        duration: t
            .duration_secs
            .map_or_else(String::new, |s| format!("{}:{:02}", s / 60, s % 60)),
        title: t.title,
        artist: t.artist,
        album: t.album,
        album_id: t.album_id.unwrap_or_default(),
        play_count: t.play_count,
    }
}

async fn library_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<LibraryQuery>,
) -> AppResult<Response> {
    let query: String = q.q.unwrap_or_default().chars().take(200).collect();
    let page = q.page.unwrap_or(0).max(0);
    let o = library::overview(&state.core, &query, page).await?;
    let running = state
        .core
        .jobs
        .running(JobName::LibraryImport)
        .map(|r| Running {
            done: r.progress.done,
            total: r.progress.total.unwrap_or(0),
        });
    let (hit_artists, hit_albums, hit_tracks, searched) = match o.search {
        Some(h) => (
            h.artists,
            h.albums,
            h.tracks.into_iter().map(track_view).collect(),
            true,
        ),
        None => (Vec::new(), Vec::new(), Vec::new(), false),
    };
    let view = LibraryPage {
        notice: q
            .notice
            .as_deref()
            .and_then(RunNotice::parse)
            .map(notice_text),
        query,
        completed: o.state.completed_at.map(|t| (human_time(t), iso_time(t))),
        checked: o.state.checked_at.map(|t| (human_time(t), iso_time(t))),
        running,
        last_error: o.last_error,
        artists_total: o.totals.artists,
        albums_total: o.totals.albums,
        tracks_total: o.totals.tracks,
        artists: o.artists,
        page,
        more: o.more,
        searched,
        hit_artists,
        hit_albums,
        hit_tracks,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "library"),
    };
    Ok(render(&view, StatusCode::OK))
}

async fn sync_now(State(state): State<AppState>, _user: CurrentUser) -> AppResult<Response> {
    let result = crate::jobs::trigger(&state.core, JobName::LibraryImport, Trigger::Manual).await;
    let notice = RunNotice::after_trigger(result)?;
    Ok(redirect_with_notice(PAGE, notice))
}

#[derive(Template)]
#[template(path = "library_artist.html")]
struct ArtistPage {
    ctx: PageCtx,
    artist: ArtistItem,
    albums: Vec<AlbumItem>,
    similar: Vec<crate::services::vibes::SimilarArtist>,
    djs: Vec<(i64, String)>,
}

async fn artist_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (artist, albums) = library::artist(&state.core, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let similar =
        crate::services::vibes::similar_artists(&state.core, user.user_id, &artist.id, 10).await?;
    let djs = crate::services::vibes::personas(&state.core, user.user_id)
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let view = ArtistPage {
        artist,
        albums,
        similar,
        djs,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "library"),
    };
    Ok(render(&view, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "library_album.html")]
struct AlbumPage {
    ctx: PageCtx,
    album: AlbumItem,
    tracks: Vec<TrackView>,
}

async fn album_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let (album, tracks) = library::album(&state.core, &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let view = AlbumPage {
        album,
        tracks: tracks.into_iter().map(track_view).collect(),
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "library"),
    };
    Ok(render(&view, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip() {
        for c in RunNotice::ALL {
            assert_eq!(RunNotice::parse(c.as_str()), Some(*c));
            assert!(!notice_text(*c).is_empty());
        }
        assert_eq!(RunNotice::parse("<x>"), None);
    }
}
