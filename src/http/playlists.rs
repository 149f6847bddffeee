//! `GET /playlists`: imported playlists grouped per service; `GET /playlists/{id}`: one
//! playlist's tracks in order, each shown in the library or not (yet), with the panel that
//! writes it to Navidrome (`POST /playlists/{id}/sync`, `/toggle-sync`,
//! `/resolve-navidrome-conflict`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::app::Core;
use crate::db::playlists::Summary;
use crate::domain::provider::Service;
use crate::domain::writeback::{ConflictAction, NavidromeAction};
use crate::http::error::{AppError, AppResult};
use crate::http::format::{human_time, iso_time};
use crate::http::notices::{Code, redirect_with_notice};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::security::client_ip::ClientInfo;
use crate::services::playlist_writeback::{
    self, Eligibility, Panel, SyncOutcome, ToggleOutcome, Write,
};
use crate::services::playlists;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/playlists", get(list_page))
        .route("/playlists/{id}", get(detail_page))
        .route("/playlists/{id}/sync", post(sync))
        .route("/playlists/{id}/toggle-sync", post(toggle_sync))
        .route(
            "/playlists/{id}/resolve-navidrome-conflict",
            post(resolve_conflict),
        )
}

struct Row {
    id: i64,
    name: String,
    owner: String,
    kind: &'static str,
    track_count: i64,
    in_library: i64,
    active: bool,
    imported: String,
    imported_iso: String,
}

impl From<&Summary> for Row {
    fn from(s: &Summary) -> Self {
        Self {
            id: s.id,
            name: display_name(&s.name),
            owner: s.owner_name.clone(),
            kind: s.kind.label(),
            track_count: s.track_count,
            in_library: s.in_library,
            active: s.active,
            imported: human_time(s.imported_at),
            imported_iso: iso_time(s.imported_at),
        }
    }
}

fn display_name(name: &str) -> String {
    if name.trim().is_empty() {
        "(untitled)".to_owned()
    } else {
        name.to_owned()
    }
}

struct Group {
    service: &'static str,
    label: &'static str,
    rows: Vec<Row>,
    /// What to do when there is nothing yet.
    empty: &'static str,
    /// A feature the service no longer offers, explained.
    warning: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "playlists.html")]
struct ListPage {
    ctx: PageCtx,
    groups: Vec<Group>,
}

async fn list_page(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let o = playlists::overview(&state.core, user.user_id).await?;
    let mut groups = Vec::new();
    for service in [Service::Spotify, Service::Listenbrainz, Service::Navidrome] {
        let linked = match service.provider() {
            Some(p) => o.linked.contains(&p),
            None => o.has_navidrome_password,
        };
        let empty = match service {
            Service::Spotify if !o.spotify_configured => {
                "Spotify is not configured on this server, so its playlists cannot be imported."
            }
            Service::Spotify if !linked => {
                "Link Spotify on the Services page to import your playlists and Liked Songs."
            }
            Service::Listenbrainz if !linked => {
                "Link ListenBrainz on the Services page to import your playlists and the ones made for you (Weekly Jams, Weekly Exploration)."
            }
            Service::Navidrome if !linked => {
                "No stored Navidrome password: sign out and sign in again to import your Navidrome playlists."
            }
            _ => "Nothing imported yet. Imports run every hour and at start.",
        };
        let warning = o
            .capability_lost
            .contains(&service)
            .then(|| crate::domain::link_health::ErrorCode::CapabilityLost.message());
        groups.push(Group {
            service: service.as_str(),
            label: service.label(),
            rows: o
                .playlists
                .iter()
                .filter(|p| p.service == service)
                .map(Row::from)
                .collect(),
            empty,
            warning,
        });
    }
    let page = ListPage {
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "playlists"),
        groups,
    };
    Ok(render(&page, StatusCode::OK))
}

struct TrackView {
    position: i64,
    title: String,
    artist: String,
    album: String,
    duration: String,
    in_library: bool,
    library_title: String,
    library_artist: String,
    /// How the link was made, or why there is none.
    how: Option<String>,
    waits_for_review: bool,
}

/// "exact · 100 % · title and artist are the same … · runner-up: X (71 %)".
fn how_matched(t: &crate::db::playlists::TrackRow) -> Option<String> {
    let method = t.match_method.as_deref()?;
    let mut parts = vec![method.to_owned()];
    if let Some(score) = t.match_score.filter(|_| method != "none") {
        parts.push(format!("{:.0} %", score * 100.0));
    }
    if let Some(rule) = t.match_rule.as_deref() {
        parts.push(crate::services::matching::describe_rule(rule));
    }
    if let (Some(title), Some(score)) = (&t.runner_up_title, t.runner_up_score) {
        parts.push(format!("runner-up: {title} ({:.0} %)", score * 100.0));
    }
    Some(parts.join(" · "))
}

/// A track named in the write-back preview.
struct NamedTrack {
    title: String,
    artist: String,
}

struct MissingView {
    position: i64,
    title: String,
    artist: String,
    album: String,
    plays: i64,
}

/// The write-back panel as the page shows it.
struct WritebackView {
    /// Why this playlist cannot be written, when it cannot.
    not_candidate: Option<&'static str>,
    /// For a Navidrome playlist written from another one: that one's id, name and service.
    copy_of: Option<(i64, String, &'static str)>,
    enabled: bool,
    conflict: bool,
    /// A Spotify / ListenBrainz suffix for the "new name" choice.
    service_label: &'static str,
    navidrome_name: String,
    last_written: Option<(String, String)>,
    last_error: Option<&'static str>,
    to_write: Vec<NamedTrack>,
    repeats: usize,
    added: Vec<NamedTrack>,
    removed: Vec<NamedTrack>,
    reordered: bool,
    changes: bool,
    missing: Vec<MissingView>,
}

impl WritebackView {
    fn new(p: Panel, service: Service) -> Self {
        let enabled = p.enabled();
        let conflict = p.pending_conflict();
        let changes = p.changes();
        let state = p.state.as_ref();
        let navidrome_name = state.map(|s| s.navidrome_name.clone()).unwrap_or_default();
        let last_written = state
            .and_then(|s| s.last_written_at)
            .filter(|_| enabled)
            .map(|t| (human_time(t), iso_time(t)));
        let last_error = state.and_then(|s| s.last_error).map(|e| e.message());
        let named = |title: String, artist: String| NamedTrack { title, artist };
        Self {
            not_candidate: match p.eligibility {
                Eligibility::Candidate => None,
                Eligibility::NavidromeOwn => {
                    Some("This is one of your Navidrome playlists: it is already in Navidrome.")
                }
                Eligibility::Inactive => Some(
                    "This playlist is gone from its service, so it is no longer written to Navidrome.",
                ),
            },
            copy_of: p
                .copy_of
                .map(|c| (c.id, display_name(&c.name), c.service.label())),
            enabled,
            conflict,
            service_label: service.label(),
            navidrome_name,
            last_written,
            last_error,
            to_write: p
                .to_write
                .into_iter()
                .map(|t| named(t.title, t.artist))
                .collect(),
            repeats: p.repeats,
            added: p
                .added
                .into_iter()
                .map(|t| named(t.title, t.artist))
                .collect(),
            removed: p
                .removed
                .into_iter()
                .map(|t| named(t.title, t.artist))
                .collect(),
            reordered: p.reordered,
            changes,
            missing: p
                .missing
                .into_iter()
                .map(|m| MissingView {
                    position: m.position + 1,
                    title: m.title,
                    artist: m.artist,
                    album: m.album,
                    plays: m.plays,
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "playlist.html")]
struct DetailPage {
    ctx: PageCtx,
    playlist: Row,
    service_label: &'static str,
    tracks: Vec<TrackView>,
    notice: Option<&'static str>,
    writeback: WritebackView,
}

fn duration(secs: Option<i64>) -> String {
    secs.filter(|s| *s > 0)
        .map_or(String::new(), |s| format!("{}:{:02}", s / 60, s % 60))
}

#[derive(Deserialize)]
struct DetailQuery {
    #[serde(default)]
    notice: Option<String>,
}

async fn detail_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let Some(page) = playlist_writeback::page(&state.core, user.user_id, id).await? else {
        return Err(AppError::NotFound);
    };
    let (summary, tracks) = (page.summary, page.tracks);
    let page = DetailPage {
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "playlists"),
        service_label: summary.service.label(),
        playlist: Row::from(&summary),
        tracks: tracks
            .into_iter()
            .map(|t| TrackView {
                how: how_matched(&t),
                waits_for_review: t.match_method.as_deref() == Some("review"),
                position: t.position + 1,
                title: t.title,
                artist: t.artist,
                album: t.album,
                duration: duration(t.duration_secs),
                in_library: t.track_id.is_some(),
                library_title: t.library_title.unwrap_or_default(),
                library_artist: t.library_artist.unwrap_or_default(),
            })
            .collect(),
        notice: q
            .notice
            .as_deref()
            .and_then(WritebackNotice::parse)
            .map(WritebackNotice::text),
        writeback: WritebackView::new(page.panel, summary.service),
    };
    Ok(render(&page, StatusCode::OK))
}

/// What a write-back button did, shown on the playlist page. A failure's reason is the one
/// stored on the playlist, shown by the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WritebackNotice {
    Created,
    Updated,
    Conflict,
    NotCandidate,
    NothingToResolve,
    Failed,
    StoppedKept,
    StoppedDeleted,
    ChooseKeepOrDelete,
}

impl Code for WritebackNotice {
    const ALL: &'static [Self] = &[
        Self::Created,
        Self::Updated,
        Self::Conflict,
        Self::NotCandidate,
        Self::NothingToResolve,
        Self::Failed,
        Self::StoppedKept,
        Self::StoppedDeleted,
        Self::ChooseKeepOrDelete,
    ];
    fn as_str(self) -> &'static str {
        match self {
            Self::Created => "written-new",
            Self::Updated => "written",
            Self::Conflict => "name-taken",
            Self::NotCandidate => "not-writable",
            Self::NothingToResolve => "nothing-to-resolve",
            Self::Failed => "write-failed",
            Self::StoppedKept => "stopped-kept",
            Self::StoppedDeleted => "stopped-deleted",
            Self::ChooseKeepOrDelete => "choose-keep-or-delete",
        }
    }
}

impl WritebackNotice {
    fn text(self) -> &'static str {
        match self {
            Self::Created => {
                "The playlist was created in Navidrome. It is kept up to date from now on."
            }
            Self::Updated => "The Navidrome playlist was updated.",
            Self::Conflict => {
                "Navidrome already has a playlist with this name. Choose below whether to write into it or to create a separate one."
            }
            Self::NotCandidate => "This playlist cannot be written to Navidrome.",
            Self::NothingToResolve => "There is no name clash to resolve any more.",
            Self::Failed => "Writing to Navidrome failed; nothing was lost. The reason is below.",
            Self::StoppedKept => {
                "This playlist is no longer written to Navidrome. The Navidrome copy was kept."
            }
            Self::StoppedDeleted => {
                "This playlist is no longer written to Navidrome, and the Navidrome copy was deleted."
            }
            Self::ChooseKeepOrDelete => {
                "Choose whether to keep or delete the Navidrome copy when you stop writing this playlist."
            }
        }
    }

    fn after_sync(outcome: SyncOutcome) -> Self {
        match outcome {
            SyncOutcome::Written(Write::Created) => Self::Created,
            SyncOutcome::Written(Write::Updated) => Self::Updated,
            SyncOutcome::Conflict => Self::Conflict,
            SyncOutcome::NotCandidate(_) => Self::NotCandidate,
            SyncOutcome::NothingToResolve => Self::NothingToResolve,
            SyncOutcome::Failed(_) => Self::Failed,
        }
    }
}

fn back_to(id: i64, notice: WritebackNotice) -> Response {
    redirect_with_notice(&format!("/playlists/{id}"), notice)
}

fn playlist_id(raw: &str) -> Result<i64, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

/// "Write to Navidrome" / "Update now": write now and keep it written.
async fn sync(
    State(core): State<Core>,
    client: ClientInfo,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = playlist_id(&id)?;
    let ip = client.ip.to_string();
    let outcome = playlist_writeback::sync(&core, user.actor(&ip), id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(back_to(id, WritebackNotice::after_sync(outcome)))
}

#[derive(Deserialize)]
struct ToggleForm {
    #[serde(default)]
    navidrome_action: Option<String>,
}

/// Turn write-back on, or off with `navidrome_action=keep|delete`.
async fn toggle_sync(
    State(core): State<Core>,
    client: ClientInfo,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<ToggleForm>,
) -> AppResult<Response> {
    let id = playlist_id(&id)?;
    let action = match form.navidrome_action.as_deref() {
        None | Some("") => None,
        Some(s) => Some(NavidromeAction::parse(s).ok_or(AppError::BadRequest(
            "unknown choice for the Navidrome copy",
        ))?),
    };
    let ip = client.ip.to_string();
    let outcome = playlist_writeback::toggle(&core, user.actor(&ip), id, action)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(back_to(
        id,
        match outcome {
            ToggleOutcome::Enabled(o) => WritebackNotice::after_sync(o),
            ToggleOutcome::Disabled(NavidromeAction::Keep) => WritebackNotice::StoppedKept,
            ToggleOutcome::Disabled(NavidromeAction::Delete) => WritebackNotice::StoppedDeleted,
            ToggleOutcome::ActionNeeded => WritebackNotice::ChooseKeepOrDelete,
            ToggleOutcome::Failed(_) => WritebackNotice::Failed,
        },
    ))
}

#[derive(Deserialize)]
struct ConflictForm {
    #[serde(default)]
    action: String,
}

/// The answer to a same-name Navidrome playlist: `action=pair` or `action=new-name`.
async fn resolve_conflict(
    State(core): State<Core>,
    client: ClientInfo,
    user: CurrentUser,
    Path(id): Path<String>,
    Form(form): Form<ConflictForm>,
) -> AppResult<Response> {
    let id = playlist_id(&id)?;
    let action = ConflictAction::parse(&form.action)
        .ok_or(AppError::BadRequest("choose pair or new-name"))?;
    let ip = client.ip.to_string();
    let outcome = playlist_writeback::resolve(&core, user.actor(&ip), id, action)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(back_to(id, WritebackNotice::after_sync(outcome)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip() {
        for n in WritebackNotice::ALL {
            assert_eq!(WritebackNotice::parse(n.as_str()), Some(*n));
            assert!(!n.text().is_empty());
        }
        assert_eq!(WritebackNotice::parse("<b>"), None);
    }
}
