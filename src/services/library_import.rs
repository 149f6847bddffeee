//! Importing the Navidrome catalogue: page the album list, skip everything when its
//! fingerprint is unchanged, fetch only albums whose change stamp moved, write in batches,
//! and delete what a *complete* pass did not see. Re-scans also turn growing play counts (and
//! a moved OpenSubsonic `played` time) into listens of the owner. See
//! `docs/adr/0006-catalogue-import.md`.

use std::collections::HashMap;

use md5::{Digest, Md5};
use secrecy::SecretString;

use crate::app::Core;
use crate::clients::navidrome::{Credentials, NavidromeError};
use crate::clients::navidrome_catalogue::{ALBUM_PAGE, Album, AlbumSummary, Artist, Song};
use crate::db;
use crate::db::library::{
    AlbumRow, ArtistRow, Batch, BatchCounts, NavidromeListen, PlayState, TrackRow,
};
use crate::domain::ids::UserId;
use crate::domain::link_health::Failure;
use crate::domain::provider::Service;
use crate::services::audit::Actor;
use crate::services::links::{self, LinkError};
use crate::services::navidrome::{self as nav_service};

/// Tracks per write transaction.
pub const BATCH_TRACKS: usize = 500;

/// Why an import stopped. Nothing is deleted after any of these.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("Navidrome call failed: {0}")]
    Navidrome(#[from] NavidromeError),
    #[error("the stored Navidrome password cannot be used")]
    Credentials,
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("storage error")]
    Link(#[from] LinkError),
    #[error("cancelled")]
    Cancelled,
}

/// What an import did (track counts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub albums: u64,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    pub unchanged: u64,
    /// 1 when the album list was unchanged and nothing else was read.
    pub skipped_unchanged: u64,
    /// 1 when there was no signed-in owner with a stored password.
    pub skipped_no_user: u64,
    /// Listens derived from Navidrome play counts.
    pub listens: u64,
}

impl ImportReport {
    fn add(&mut self, c: BatchCounts) {
        self.added += c.added;
        self.updated += c.updated;
        self.unchanged += c.unchanged;
        self.listens += c.listens;
    }
}

/// Progress and cancellation hooks (the job passes its run context's).
pub struct Hooks<'a> {
    pub progress: &'a (dyn Fn(u64, u64) + Send + Sync),
    pub cancelled: &'a (dyn Fn() -> bool + Send + Sync),
}

/// True until a first complete import.
pub async fn never_imported(core: &Core) -> Result<bool, sqlx::Error> {
    Ok(db::library::state(&core.db).await?.completed_at.is_none())
}

/// Import with the owner's stored password; ends with `skipped_no_user` when nobody signed in.
pub async fn import_for_owner(core: &Core, hooks: &Hooks<'_>) -> Result<ImportReport, ImportError> {
    let Some(owner) = db::users::find_owner(&core.db).await? else {
        return Ok(ImportReport {
            skipped_no_user: 1,
            ..ImportReport::default()
        });
    };
    let actor = Actor {
        user_id: owner.id,
        username: &owner.username,
        client_ip: "",
    };
    let password = match nav_service::stored_password(core, owner.id).await? {
        None => {
            return Ok(ImportReport {
                skipped_no_user: 1,
                ..ImportReport::default()
            });
        }
        Some(Err(f)) => {
            links::record_health(core, actor, Service::Navidrome, Err(f)).await?;
            return Err(ImportError::Credentials);
        }
        Some(Ok(p)) => p,
    };
    import(core, actor, &password, hooks).await
}

/// Import the catalogue as `actor` (whose Navidrome password is `password`); Navidrome's answer
/// is recorded as the link health of Navidrome.
pub async fn import(
    core: &Core,
    actor: Actor<'_>,
    password: &SecretString,
    hooks: &Hooks<'_>,
) -> Result<ImportReport, ImportError> {
    let creds = Credentials {
        username: actor.username,
        password,
    };
    let result = run(core, actor.user_id, &creds, hooks).await;
    let outcome = match &result {
        Err(ImportError::Navidrome(e)) => Err(Failure::new(nav_service::error_code(e))),
        _ => Ok(()),
    };
    if !matches!(result, Err(ImportError::Db(_) | ImportError::Cancelled)) {
        links::record_health(core, actor, Service::Navidrome, outcome).await?;
    }
    result
}

async fn run(
    core: &Core,
    user_id: UserId,
    creds: &Credentials<'_>,
    hooks: &Hooks<'_>,
) -> Result<ImportReport, ImportError> {
    let client = &core.clients.navidrome;
    let state = db::library::state(&core.db).await?;
    let baseline_done = state.completed_at.is_some();

    // 1. The album list, A-Z, in pages of 500: also the change check.
    let mut albums: Vec<AlbumSummary> = Vec::new();
    loop {
        let page = {
            let _permit = core.jobs.outside_call().await;
            client.album_page(creds, albums.len(), ALBUM_PAGE).await?
        };
        let n = page.len();
        albums.extend(page);
        if n < ALBUM_PAGE || (hooks.cancelled)() {
            break;
        }
    }
    if (hooks.cancelled)() {
        return Err(ImportError::Cancelled);
    }
    let fingerprint = fingerprint(&albums);
    let mut report = ImportReport {
        albums: albums.len() as u64,
        ..ImportReport::default()
    };
    if baseline_done && fingerprint == state.fingerprint {
        db::library::mark_checked(&core.db, core.clock.now()).await?;
        report.skipped_unchanged = 1;
        return Ok(report);
    }

    // 2. A fresh pass; artists first (one call).
    let pass = db::library::start_pass(&core.db).await?;
    let artists = {
        let _permit = core.jobs.outside_call().await;
        client.artists(creds).await?
    };
    let artists_batch = Batch {
        artists: artists.iter().map(artist_row).collect(),
        ..Batch::default()
    };
    db::library::write_batch(&core.db, &artists_batch, pass).await?;

    // 3. Albums: unchanged ones are only stamped, changed ones are read with their songs.
    let stamps = db::library::album_stamps(&core.db).await?;
    let total = albums.len() as u64;
    let mut done = 0u64;
    (hooks.progress)(0, total);
    let mut batch = Batch::default();
    let mut fetched: Vec<Album> = Vec::new();
    for summary in &albums {
        if (hooks.cancelled)() {
            return Err(ImportError::Cancelled);
        }
        let stamp = summary.stamp();
        if stamps.get(&summary.id) == Some(&stamp) {
            batch.unchanged_albums.push(summary.id.clone());
        } else {
            let album = {
                let _permit = core.jobs.outside_call().await;
                client.album(creds, &summary.id).await?
            };
            fetched.push(Album {
                summary: AlbumSummary {
                    id: summary.id.clone(),
                    ..album.summary
                },
                song: album.song,
            });
        }
        done += 1;
        let pending: usize = fetched.iter().map(|a| a.song.len()).sum();
        if pending >= BATCH_TRACKS || batch.unchanged_albums.len() >= BATCH_TRACKS {
            let counts = flush(
                core,
                user_id,
                pass,
                baseline_done,
                &mut batch,
                &mut fetched,
                &albums_by_id(&albums),
            )
            .await?;
            report.add(counts);
            (hooks.progress)(done, total);
        }
    }
    let counts = flush(
        core,
        user_id,
        pass,
        baseline_done,
        &mut batch,
        &mut fetched,
        &albums_by_id(&albums),
    )
    .await?;
    report.add(counts);
    (hooks.progress)(done, total);

    // 4. The pass was complete: delete what it did not see.
    let removed = db::library::finish_pass(&core.db, pass, &fingerprint, core.clock.now()).await?;
    report.removed = removed.tracks;
    Ok(report)
}

fn albums_by_id(albums: &[AlbumSummary]) -> HashMap<&str, &AlbumSummary> {
    albums.iter().map(|a| (a.id.as_str(), a)).collect()
}

/// Write the pending albums (their songs, and listens from grown play counts) as one batch.
async fn flush(
    core: &Core,
    user_id: UserId,
    pass: i64,
    baseline_done: bool,
    batch: &mut Batch,
    fetched: &mut Vec<Album>,
    listed: &HashMap<&str, &AlbumSummary>,
) -> Result<BatchCounts, ImportError> {
    let ids: Vec<&str> = fetched.iter().map(|a| a.summary.id.as_str()).collect();
    let before = if baseline_done && !ids.is_empty() {
        db::library::play_states(&core.db, &ids).await?
    } else {
        HashMap::new()
    };
    let now = core.clock.now();
    for album in fetched.iter() {
        // The listed summary's stamp is what the next check compares.
        let stamp = listed
            .get(album.summary.id.as_str())
            .map_or_else(|| album.summary.stamp(), |s| s.stamp());
        batch.albums.push(album_row(&album.summary, &stamp));
        for song in &album.song {
            let row = track_row(song, &album.summary);
            if let Some(old) = before.get(&song.id)
                && let Some(listen) = play_listen(user_id, &row, *old, now)
            {
                batch.listens.push(listen);
            }
            batch.tracks.push(row);
        }
    }
    fetched.clear();
    if batch.is_empty() {
        return Ok(BatchCounts::default());
    }
    let counts = db::library::write_batch(&core.db, batch, pass).await?;
    *batch = Batch::default();
    Ok(counts)
}

/// A play seen in Navidrome's counters since the last import: the play count grew, or the
/// last play time moved. One listen at the `played` time (else now).
pub fn play_listen(
    user_id: UserId,
    row: &TrackRow,
    before: PlayState,
    now: i64,
) -> Option<NavidromeListen> {
    let count_grew = row.play_count > before.play_count;
    let played_moved = match (row.last_played, before.last_played) {
        (Some(new), Some(old)) => new > old,
        (Some(_), None) => true,
        _ => false,
    };
    if !count_grew && !played_moved {
        return None;
    }
    let played_at = row.last_played.unwrap_or(now);
    Some(NavidromeListen {
        user_id,
        track_id: row.id.clone(),
        played_at,
        remote_key: format!("{}:{played_at}", row.id),
    })
}

/// A digest of the album list: ids and change stamps in list order.
pub fn fingerprint(albums: &[AlbumSummary]) -> String {
    let mut h = Md5::new();
    for a in albums {
        h.update(a.id.as_bytes());
        h.update([0]);
        h.update(a.stamp().as_bytes());
        h.update([b'\n']);
    }
    format!("albums:{}:{}", albums.len(), hex::encode(h.finalize()))
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn artist_row(a: &Artist) -> ArtistRow {
    ArtistRow {
        id: a.id.clone(),
        name: a.name.clone().unwrap_or_default(),
        mbid: non_empty(a.music_brainz_id.as_deref()),
        album_count: a.album_count.unwrap_or(0),
    }
}

fn album_row(a: &AlbumSummary, stamp: &str) -> AlbumRow {
    AlbumRow {
        id: a.id.clone(),
        name: a.display_name().to_owned(),
        artist_id: non_empty(a.artist_id.as_deref()),
        artist: a.artist.clone().unwrap_or_default(),
        year: a.year,
        genre: a.genre.clone().unwrap_or_default(),
        mbid: non_empty(a.music_brainz_id.as_deref()),
        song_count: a.song_count.unwrap_or(0),
        duration_secs: a.duration,
        stamp: stamp.to_owned(),
    }
}

fn track_row(s: &Song, album: &AlbumSummary) -> TrackRow {
    TrackRow {
        id: s.id.clone(),
        title: s.title.clone().unwrap_or_default(),
        album_id: album.id.clone(),
        album: s
            .album
            .clone()
            .unwrap_or_else(|| album.display_name().to_owned()),
        artist_id: non_empty(s.artist_id.as_deref()),
        artist: s.artist.clone().unwrap_or_default(),
        track_no: s.track,
        disc_no: s.disc_number,
        year: s.year,
        duration_secs: s.duration,
        genres: serde_json::to_string(&s.genre_names()).unwrap_or_else(|_| "[]".to_owned()),
        isrc: s.isrc.as_ref().and_then(|i| i.first()).map(str::to_owned),
        mbid: non_empty(s.music_brainz_id.as_deref()),
        play_count: s.play_count.unwrap_or(0),
        last_played: s.played.as_deref().and_then(parse_time),
    }
}

/// Subsonic timestamps: RFC 3339 with or without fraction, or without a zone (read as UTC).
pub fn parse_time(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, PrimitiveDateTime, macros::format_description};
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp());
    }
    let no_zone = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let no_zone_frac =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]");
    PrimitiveDateTime::parse(s, no_zone)
        .or_else(|_| PrimitiveDateTime::parse(s, no_zone_frac))
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_of_every_shape_parse() {
        assert_eq!(parse_time("1970-01-01T00:01:00Z"), Some(60));
        assert_eq!(parse_time("1970-01-01T00:01:00.000Z"), Some(60));
        assert_eq!(parse_time("1970-01-01T00:01:00"), Some(60));
        assert_eq!(parse_time("1970-01-01T00:01:00+01:00"), Some(60 - 3600));
        assert_eq!(parse_time("yesterday"), None);
    }

    fn row(play_count: i64, last_played: Option<i64>) -> TrackRow {
        TrackRow {
            id: "t".into(),
            title: String::new(),
            album_id: "a".into(),
            album: String::new(),
            artist_id: None,
            artist: String::new(),
            track_no: None,
            disc_no: None,
            year: None,
            duration_secs: None,
            genres: "[]".into(),
            isrc: None,
            mbid: None,
            play_count,
            last_played,
        }
    }

    #[test]
    fn plays_become_one_listen_per_observed_change() {
        let u = UserId(1);
        let old = PlayState {
            play_count: 2,
            last_played: Some(100),
        };
        assert!(play_listen(u, &row(2, Some(100)), old, 500).is_none());
        let l = play_listen(u, &row(3, Some(200)), old, 500).unwrap();
        assert_eq!((l.played_at, l.remote_key.as_str()), (200, "t:200"));
        let l = play_listen(u, &row(3, None), old, 500).unwrap();
        assert_eq!(l.played_at, 500);
        assert!(play_listen(u, &row(1, Some(50)), old, 500).is_none());
    }
}
