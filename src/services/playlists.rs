//! Playlist import (SPEC F4): Spotify playlists and Liked Songs, ListenBrainz playlists (own and
//! created for the user) and Navidrome playlists, for every user who linked the service.
//!
//! A playlist is kept per (user, service, remote id) with its tracks in order; a playlist whose
//! version stamp did not change is not fetched again; one that vanished from the service is
//! marked inactive, never deleted. Each track is linked to a catalogue track only where the
//! identity is exact: the Navidrome id, else the ISRC, else the MusicBrainz recording id, else
//! the normalised artist and title when exactly one catalogue track has them.
//!
//! Faults go into link health: retriable ones back off (never by sleeping here), a refused
//! credential marks the link broken (the job skips it until re-linked), a Spotify endpoint the
//! app may no longer use is a lost capability that leaves the link itself alone.

use secrecy::SecretString;

use crate::app::Core;
use crate::clients::listenbrainz::ListKind;
use crate::clients::navidrome::Credentials;
use crate::clients::spotify::{SpotifyClient, SpotifyError};
use crate::crypto::registry::NAVIDROME_PASSWORD;
use crate::db;
use crate::db::playlists::{LinkedUser, NewTrack};
use crate::domain::ids::UserId;
use crate::domain::link_health::{ErrorCode, Failure};
use crate::domain::playlist::{PlaylistKind, RemotePlaylist, RemoteTrack, tracks_digest};
use crate::domain::provider::{Provider, Service};
use crate::domain::text::normalize;
use crate::services::audit::Actor;
use crate::services::links::{self, CallError, LinkError};
use crate::services::navidrome as navidrome_service;

/// Pages read from one list at most (50 000 Spotify playlists, 100 000 tracks per playlist):
/// beyond this a service that always announces a next page is not believed.
const MAX_PAGES: u32 = 1000;

/// The remote id under which Spotify Liked Songs are kept.
pub const LIKED_REMOTE_ID: &str = "liked";

/// Reports progress: playlists done, of how many (once known).
pub type ProgressFn<'a> = &'a (dyn Fn(u64, Option<u64>) + Send + Sync);

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Users whose playlists were read.
    pub users: u64,
    /// 1 when nobody linked the service (or it is not configured); else users skipped because
    /// their link is backing off or broken.
    pub skipped: u64,
    /// Playlists seen on the service.
    pub playlists: u64,
    /// Playlists whose tracks were (re)written.
    pub updated: u64,
    /// Playlists left as they were (same version).
    pub unchanged: u64,
    /// Playlists newly marked inactive.
    pub inactive: u64,
    /// Tracks written, and of those linked to the catalogue.
    pub tracks: u64,
    pub linked: u64,
    /// Tracks of unchanged playlists newly linked (the catalogue gained them since).
    pub relinked: u64,
    /// Users whose import stopped on a service failure (recorded in link health).
    pub failed: u64,
    /// Users for whom Spotify no longer offers playlists.
    pub capability_lost: u64,
}

/// Spotter's own storage failed.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ImportError(#[from] LinkError);

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        Self(LinkError::Db(e))
    }
}

/// How one user's import ended (a storage error aside).
enum UserOutcome {
    Done,
    CapabilityLost,
}

fn actor(u: &LinkedUser) -> Actor<'_> {
    Actor {
        user_id: u.user_id,
        username: &u.username,
        client_ip: "scheduler",
    }
}

/// Whether automatic calls for this user and service must wait (backoff, broken).
async fn waiting(core: &Core, user_id: UserId, service: Service) -> Result<bool, ImportError> {
    let now = core.clock.now();
    Ok(db::links::health(&core.db, user_id, service)
        .await?
        .is_some_and(|h| h.health.is_waiting(now)))
}

/// Import `service` for each user, with health checks before and health recorded after.
async fn for_users(
    core: &Core,
    service: Service,
    spotify: Option<&SpotifyClient>,
    users: Vec<LinkedUser>,
    report: &mut ImportReport,
    progress: ProgressFn<'_>,
) -> Result<(), ImportError> {
    if users.is_empty() {
        report.skipped = 1;
        return Ok(());
    }
    for user in &users {
        if waiting(core, user.user_id, service).await? {
            report.skipped += 1;
            continue;
        }
        report.users += 1;
        let result = match (service, spotify) {
            (Service::Spotify, Some(client)) => {
                spotify_user(core, client, user, report, progress).await
            }
            (Service::Listenbrainz, _) => listenbrainz_user(core, user, report, progress).await,
            (Service::Navidrome, _) => navidrome_user(core, user, report, progress).await,
            _ => Ok(UserOutcome::Done),
        };
        let outcome = match result {
            Ok(UserOutcome::Done) => Ok(()),
            Ok(UserOutcome::CapabilityLost) => {
                report.capability_lost += 1;
                Err(Failure::new(ErrorCode::CapabilityLost))
            }
            Err(CallError::Service(f)) if f.code == ErrorCode::CapabilityLost => {
                report.capability_lost += 1;
                Err(f)
            }
            Err(CallError::Service(f)) => {
                report.failed += 1;
                Err(f)
            }
            Err(CallError::Storage(e)) => return Err(ImportError(e)),
        };
        links::record_health(core, actor(user), service, outcome).await?;
    }
    Ok(())
}

/// The catalogue track a playlist entry is, where that is exact.
async fn link_track(
    core: &Core,
    service: Service,
    t: &RemoteTrack,
    title_norm: &str,
    artist_norm: &str,
) -> Result<Option<String>, sqlx::Error> {
    if service == Service::Navidrome
        && let Some(id) = t.remote_track_id.as_deref()
        && let Some(found) = db::playlists::track_by_id(&core.db, id).await?
    {
        return Ok(Some(found));
    }
    if let Some(isrc) = t.isrc.as_deref()
        && let Some(found) = db::playlists::track_by_isrc(&core.db, isrc).await?
    {
        return Ok(Some(found));
    }
    if let Some(mbid) = t.recording_mbid.as_deref()
        && let Some(found) = db::playlists::track_by_mbid(&core.db, mbid).await?
    {
        return Ok(Some(found));
    }
    if title_norm.is_empty() || artist_norm.is_empty() {
        return Ok(None);
    }
    let mut found = db::playlists::tracks_by_names(&core.db, artist_norm, title_norm).await?;
    Ok(if found.len() == 1 { found.pop() } else { None })
}

/// Store a playlist with its tracks (linked where exact), in one transaction.
async fn store(
    core: &Core,
    user_id: UserId,
    service: Service,
    playlist: &RemotePlaylist,
    tracks: &[RemoteTrack],
    snapshot: &str,
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    let mut prepared = Vec::with_capacity(tracks.len());
    for t in tracks {
        let title_norm = normalize(&t.title);
        let artist_norm = normalize(&t.artist);
        let track_id = link_track(core, service, t, &title_norm, &artist_norm).await?;
        prepared.push((t, title_norm, artist_norm, track_id));
    }
    let rows: Vec<NewTrack<'_>> = prepared
        .iter()
        .map(|(t, title_norm, artist_norm, track_id)| NewTrack {
            position: i64::from(t.position),
            title: &t.title,
            artist: &t.artist,
            album: &t.album,
            title_norm,
            artist_norm,
            duration_secs: t.duration_secs,
            isrc: t.isrc.as_deref(),
            recording_mbid: t.recording_mbid.as_deref(),
            remote_track_id: t.remote_track_id.as_deref(),
            track_id: track_id.as_deref(),
        })
        .collect();
    let now = core.clock.now();
    let mut tx = crate::db::begin_write(&core.db).await?;
    let id = db::playlists::upsert(&mut tx, user_id, service, playlist, now).await?;
    db::playlists::replace_tracks(&mut tx, id, &rows, snapshot, now).await?;
    tx.commit().await?;
    report.updated += 1;
    report.tracks += u64::try_from(rows.len()).unwrap_or(u64::MAX);
    report.linked +=
        u64::try_from(rows.iter().filter(|r| r.track_id.is_some()).count()).unwrap_or(u64::MAX);
    Ok(())
}

/// Is the stored copy of this playlist at `snapshot` already? Re-activates and refreshes the
/// details of an unchanged one.
async fn unchanged(
    core: &Core,
    user_id: UserId,
    service: Service,
    playlist: &RemotePlaylist,
    snapshot: &str,
) -> Result<bool, ImportError> {
    if snapshot.is_empty() {
        return Ok(false);
    }
    let Some(stored) =
        db::playlists::find_remote(&core.db, user_id, service, &playlist.remote_id).await?
    else {
        return Ok(false);
    };
    if stored.snapshot != snapshot {
        return Ok(false);
    }
    if !stored.active {
        let mut conn = core.db.acquire().await?;
        db::playlists::upsert(&mut conn, user_id, service, playlist, core.clock.now()).await?;
    }
    Ok(true)
}

/// Mark the playlists of `service` not in `seen` inactive.
async fn mark_vanished(
    core: &Core,
    user_id: UserId,
    service: Service,
    seen: &[String],
    report: &mut ImportReport,
) -> Result<(), ImportError> {
    // Tracks the catalogue gained since their playlist was imported.
    report.relinked += db::playlists::relink(&core.db, user_id, service).await?;
    let json =
        serde_json::to_string(seen).map_err(|e| LinkError::Db(sqlx::Error::Decode(e.into())))?;
    report.inactive += db::playlists::mark_vanished(&core.db, user_id, service, &json).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Spotify

/// A Spotify call with a working token: refreshed once after a 401.
macro_rules! spotify_call {
    ($core:expr, $client:expr, $user:expr, $access:ident, $call:expr) => {{
        let _permit = $core.jobs.outside_call().await;
        match $call.await {
            Err(SpotifyError::Unauthorized) => {
                $access = links::spotify_refresh($core, $client, $user, Some(&$access)).await?;
                $call.await
            }
            other => other,
        }
    }};
}

/// Import every linked user's Spotify playlists and Liked Songs.
pub async fn import_spotify(
    core: &Core,
    progress: ProgressFn<'_>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let Some(client) = core.clients.spotify.clone() else {
        report.skipped = 1;
        return Ok(report);
    };
    let users = db::playlists::users_linked(&core.db, Provider::Spotify).await?;
    for_users(
        core,
        Service::Spotify,
        Some(&client),
        users,
        &mut report,
        progress,
    )
    .await?;
    Ok(report)
}

async fn spotify_user(
    core: &Core,
    client: &SpotifyClient,
    user: &LinkedUser,
    report: &mut ImportReport,
    progress: ProgressFn<'_>,
) -> Result<UserOutcome, CallError> {
    let Some(link) = links::find(core, user.user_id, Provider::Spotify).await? else {
        return Ok(UserOutcome::Done);
    };
    let mut access: SecretString = links::spotify_access(core, client, &link).await?;
    let uid = user.user_id;

    // The playlist list, whole.
    let mut playlists = Vec::new();
    let mut lost = false;
    let mut offset = 0u32;
    for _ in 0..MAX_PAGES {
        let page = spotify_call!(core, client, uid, access, client.playlists(&access, offset));
        match page {
            Ok(page) => {
                let n = page.raw_len;
                playlists.extend(page.items);
                if !page.has_next || n == 0 {
                    break;
                }
                offset = offset.saturating_add(n);
            }
            Err(SpotifyError::CapabilityLost) => {
                lost = true;
                playlists.clear();
                break;
            }
            Err(e) => return Err(e.failure().into()),
        }
    }
    let total = u64::try_from(playlists.len()).unwrap_or(u64::MAX) + 1;
    progress(0, Some(total));
    let mut seen: Vec<String> = Vec::new();
    for (done, playlist) in playlists.iter().enumerate() {
        report.playlists += 1;
        seen.push(playlist.remote_id.clone());
        if unchanged(core, uid, Service::Spotify, playlist, &playlist.snapshot)
            .await
            .map_err(|e| CallError::Storage(e.0))?
        {
            report.unchanged += 1;
        } else {
            match spotify_items(core, client, uid, &mut access, &playlist.remote_id).await? {
                Some(tracks) => {
                    store(
                        core,
                        uid,
                        Service::Spotify,
                        playlist,
                        &tracks,
                        &playlist.snapshot,
                        report,
                    )
                    .await
                    .map_err(|e| CallError::Storage(e.0))?;
                }
                // Gone since the list was read, or no longer served to apps: kept as it was.
                None => report.unchanged += 1,
            }
        }
        progress(u64::try_from(done + 1).unwrap_or(u64::MAX), Some(total));
    }

    // Liked Songs. The first page (newest first) and the total stand for the whole list: a
    // like adds at the top, an unlike changes the total; only a change fetches the rest.
    let playlist = RemotePlaylist {
        remote_id: LIKED_REMOTE_ID.to_owned(),
        name: "Liked Songs".to_owned(),
        description: String::new(),
        owner_name: link.account_name.clone(),
        kind: PlaylistKind::Liked,
        snapshot: String::new(),
        track_count: None,
    };
    let mut liked = Vec::new();
    let mut liked_ok = true;
    let mut snapshot = String::new();
    let mut offset = 0u32;
    for _ in 0..MAX_PAGES {
        let page = spotify_call!(
            core,
            client,
            uid,
            access,
            client.liked_tracks(&access, offset)
        );
        match page {
            Ok(page) => {
                if offset == 0 {
                    snapshot = format!(
                        "liked:{}:{}",
                        page.total.unwrap_or(0),
                        tracks_digest(&page.items)
                    );
                    if unchanged(core, uid, Service::Spotify, &playlist, &snapshot)
                        .await
                        .map_err(|e| CallError::Storage(e.0))?
                    {
                        liked_ok = false;
                        report.playlists += 1;
                        report.unchanged += 1;
                        seen.push(LIKED_REMOTE_ID.to_owned());
                        break;
                    }
                }
                let has_next = page.has_next && !page.items.is_empty();
                offset = offset.saturating_add(page.raw_len);
                liked.extend(page.items);
                if !has_next {
                    break;
                }
            }
            Err(SpotifyError::CapabilityLost) => {
                lost = true;
                liked_ok = false;
                break;
            }
            Err(e) => return Err(e.failure().into()),
        }
    }
    if liked_ok {
        report.playlists += 1;
        seen.push(LIKED_REMOTE_ID.to_owned());
        store(
            core,
            uid,
            Service::Spotify,
            &playlist,
            &liked,
            &snapshot,
            report,
        )
        .await
        .map_err(|e| CallError::Storage(e.0))?;
    }
    progress(total, Some(total));
    if lost {
        // What could not be listed is not known to be gone: nothing is marked inactive.
        return Ok(UserOutcome::CapabilityLost);
    }
    mark_vanished(core, uid, Service::Spotify, &seen, report)
        .await
        .map_err(|e| CallError::Storage(e.0))?;
    Ok(UserOutcome::Done)
}

/// All entries of one Spotify playlist; `None` when Spotify does not know it (any more).
async fn spotify_items(
    core: &Core,
    client: &SpotifyClient,
    uid: UserId,
    access: &mut SecretString,
    id: &str,
) -> Result<Option<Vec<RemoteTrack>>, CallError> {
    let mut tracks = Vec::new();
    let mut offset = 0u32;
    for _ in 0..MAX_PAGES {
        let mut token = access.clone();
        let page = spotify_call!(
            core,
            client,
            uid,
            token,
            client.playlist_items(&token, id, offset)
        );
        *access = token;
        match page {
            Ok(page) => {
                let has_next = page.has_next && !page.items.is_empty();
                offset = offset.saturating_add(page.raw_len);
                tracks.extend(page.items);
                if !has_next {
                    break;
                }
            }
            Err(SpotifyError::NotFound) => return Ok(None),
            // The items endpoint itself is gone (410) or needs Premium: the whole import is.
            Err(SpotifyError::CapabilityLost) => {
                return Err(Failure::new(ErrorCode::CapabilityLost).into());
            }
            Err(e) => return Err(e.failure().into()),
        }
    }
    Ok(Some(tracks))
}

// ---------------------------------------------------------------------------------------------
// ListenBrainz

/// Import every linked user's ListenBrainz playlists: their own and those created for them.
pub async fn import_listenbrainz(
    core: &Core,
    progress: ProgressFn<'_>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let users = db::playlists::users_linked(&core.db, Provider::Listenbrainz).await?;
    for_users(
        core,
        Service::Listenbrainz,
        None,
        users,
        &mut report,
        progress,
    )
    .await?;
    Ok(report)
}

async fn listenbrainz_user(
    core: &Core,
    user: &LinkedUser,
    report: &mut ImportReport,
    progress: ProgressFn<'_>,
) -> Result<UserOutcome, CallError> {
    let Some(link) = links::find(core, user.user_id, Provider::Listenbrainz).await? else {
        return Ok(UserOutcome::Done);
    };
    let token = links::stored_credential(core, &link)?;
    let lb = &core.clients.listenbrainz;
    let uid = user.user_id;
    let mut playlists = Vec::new();
    for list in [ListKind::Own, ListKind::CreatedFor] {
        let mut offset = 0u32;
        for _ in 0..MAX_PAGES {
            let page = {
                let _permit = core.jobs.outside_call().await;
                lb.playlists(&token, &link.account_name, list, offset)
                    .await
                    .map_err(|e| e.failure())?
            };
            let n = u32::try_from(page.playlists.len()).unwrap_or(u32::MAX);
            playlists.extend(page.playlists);
            offset = offset.saturating_add(n);
            let more = page.total.is_some_and(|t| u64::from(offset) < t);
            if n == 0 || !more {
                break;
            }
        }
    }
    let total = u64::try_from(playlists.len()).unwrap_or(u64::MAX);
    progress(0, Some(total));
    let mut seen = Vec::new();
    for (done, playlist) in playlists.iter().enumerate() {
        if seen.contains(&playlist.remote_id) {
            continue;
        }
        report.playlists += 1;
        seen.push(playlist.remote_id.clone());
        if unchanged(
            core,
            uid,
            Service::Listenbrainz,
            playlist,
            &playlist.snapshot,
        )
        .await
        .map_err(|e| CallError::Storage(e.0))?
        {
            report.unchanged += 1;
        } else {
            let tracks = {
                let _permit = core.jobs.outside_call().await;
                lb.playlist(&token, &playlist.remote_id)
                    .await
                    .map_err(|e| e.failure())?
            };
            let snapshot = if playlist.snapshot.is_empty() {
                tracks_digest(&tracks)
            } else {
                playlist.snapshot.clone()
            };
            if playlist.snapshot.is_empty()
                && unchanged(core, uid, Service::Listenbrainz, playlist, &snapshot)
                    .await
                    .map_err(|e| CallError::Storage(e.0))?
            {
                report.unchanged += 1;
            } else {
                store(
                    core,
                    uid,
                    Service::Listenbrainz,
                    playlist,
                    &tracks,
                    &snapshot,
                    report,
                )
                .await
                .map_err(|e| CallError::Storage(e.0))?;
            }
        }
        progress(u64::try_from(done + 1).unwrap_or(u64::MAX), Some(total));
    }
    mark_vanished(core, uid, Service::Listenbrainz, &seen, report)
        .await
        .map_err(|e| CallError::Storage(e.0))?;
    Ok(UserOutcome::Done)
}

// ---------------------------------------------------------------------------------------------
// Navidrome

/// Import the Navidrome playlists of every user with a stored Navidrome password.
pub async fn import_navidrome(
    core: &Core,
    progress: ProgressFn<'_>,
) -> Result<ImportReport, ImportError> {
    let mut report = ImportReport::default();
    let users = db::playlists::users_with_navidrome(&core.db).await?;
    for_users(core, Service::Navidrome, None, users, &mut report, progress).await?;
    Ok(report)
}

async fn navidrome_user(
    core: &Core,
    user: &LinkedUser,
    report: &mut ImportReport,
    progress: ProgressFn<'_>,
) -> Result<UserOutcome, CallError> {
    let uid = user.user_id;
    let Some(stored) = db::credentials::navidrome_password(&core.db, uid).await? else {
        return Ok(UserOutcome::Done);
    };
    let password = links::open(core, &NAVIDROME_PASSWORD, &uid.to_string(), &stored)?;
    let creds = Credentials {
        username: &user.username,
        password: &password,
    };
    let nd = &core.clients.navidrome;
    let fail = |e: crate::clients::navidrome::NavidromeError| {
        CallError::Service(Failure::new(navidrome_service::error_code(&e)))
    };
    let playlists = {
        let _permit = core.jobs.outside_call().await;
        nd.playlists(&creds).await.map_err(fail)?
    };
    let total = u64::try_from(playlists.len()).unwrap_or(u64::MAX);
    progress(0, Some(total));
    let mut seen = Vec::new();
    for (done, playlist) in playlists.iter().enumerate() {
        if seen.contains(&playlist.remote_id) {
            continue;
        }
        report.playlists += 1;
        seen.push(playlist.remote_id.clone());
        if unchanged(core, uid, Service::Navidrome, playlist, &playlist.snapshot)
            .await
            .map_err(|e| CallError::Storage(e.0))?
        {
            report.unchanged += 1;
        } else {
            let entries = {
                let _permit = core.jobs.outside_call().await;
                nd.playlist_entries(&creds, &playlist.remote_id)
                    .await
                    .map_err(fail)?
            };
            match entries {
                Some(tracks) => {
                    let snapshot = if playlist.snapshot.is_empty() {
                        tracks_digest(&tracks)
                    } else {
                        playlist.snapshot.clone()
                    };
                    store(
                        core,
                        uid,
                        Service::Navidrome,
                        playlist,
                        &tracks,
                        &snapshot,
                        report,
                    )
                    .await
                    .map_err(|e| CallError::Storage(e.0))?;
                }
                None => {
                    // Deleted between the two calls: not seen after all.
                    seen.pop();
                }
            }
        }
        progress(u64::try_from(done + 1).unwrap_or(u64::MAX), Some(total));
    }
    mark_vanished(core, uid, Service::Navidrome, &seen, report)
        .await
        .map_err(|e| CallError::Storage(e.0))?;
    Ok(UserOutcome::Done)
}

// ---------------------------------------------------------------------------------------------
// Pages

/// One of the user's playlists with its tracks in order; `None` for another user's or an
/// unknown id.
pub async fn detail(
    core: &Core,
    user_id: UserId,
    id: i64,
) -> Result<Option<(db::playlists::Summary, Vec<db::playlists::TrackRow>)>, sqlx::Error> {
    let Some(summary) = db::playlists::get(&core.db, user_id, id).await? else {
        return Ok(None);
    };
    let tracks = db::playlists::tracks(&core.db, summary.id).await?;
    Ok(Some((summary, tracks)))
}

/// Everything the playlists page shows, read once.
#[derive(Debug)]
pub struct Overview {
    pub playlists: Vec<db::playlists::Summary>,
    /// Providers the user linked.
    pub linked: Vec<Provider>,
    pub spotify_configured: bool,
    pub has_navidrome_password: bool,
    /// Services whose last import found a feature gone (Spotify's 2026 limits).
    pub capability_lost: Vec<Service>,
}

pub async fn overview(core: &Core, user_id: UserId) -> Result<Overview, LinkError> {
    let health = db::links::health_all(&core.db, user_id).await?;
    Ok(Overview {
        playlists: db::playlists::list(&core.db, user_id).await?,
        linked: links::linked(core, user_id).await?,
        spotify_configured: core.clients.spotify.is_some(),
        has_navidrome_password: db::credentials::has_navidrome_password(&core.db, user_id).await?,
        capability_lost: health
            .iter()
            .filter(|h| h.health.last_error == Some(ErrorCode::CapabilityLost))
            .map(|h| h.service)
            .collect(),
    })
}
