//! `GET /playlists`: imported playlists grouped per service; `GET /playlists/{id}`: one
//! playlist's tracks in order, each shown in the library or not (yet).

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::db::playlists::Summary;
use crate::domain::provider::Service;
use crate::http::error::{AppError, AppResult};
use crate::http::format::{human_time, iso_time};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::services::playlists;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/playlists", get(list_page))
        .route("/playlists/{id}", get(detail_page))
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

#[derive(Template)]
#[template(path = "playlist.html")]
struct DetailPage {
    ctx: PageCtx,
    playlist: Row,
    service_label: &'static str,
    tracks: Vec<TrackView>,
}

fn duration(secs: Option<i64>) -> String {
    secs.filter(|s| *s > 0)
        .map_or(String::new(), |s| format!("{}:{:02}", s / 60, s % 60))
}

async fn detail_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let Some((summary, tracks)) = playlists::detail(&state.core, user.user_id, id).await? else {
        return Err(AppError::NotFound);
    };
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
    };
    Ok(render(&page, StatusCode::OK))
}
