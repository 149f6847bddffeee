//! Imported playlists (`playlists`, `playlist_tracks`) and the catalogue look-ups that link
//! their tracks. A playlist's tracks are replaced in one transaction, whole or not at all.

use crate::db::Db;
use crate::domain::ids::UserId;
use crate::domain::playlist::{PlaylistKind, RemotePlaylist};
use crate::domain::provider::{Provider, Service};

/// A user who linked a provider, with the account name the provider knows them by.
#[derive(Debug, Clone)]
pub struct LinkedUser {
    pub user_id: UserId,
    pub username: String,
    pub account_name: String,
}

/// Users who linked `provider`.
pub async fn users_linked(db: &Db, provider: Provider) -> Result<Vec<LinkedUser>, sqlx::Error> {
    sqlx::query_as!(
        LinkedUser,
        r#"SELECT u.id AS "user_id!: UserId", u.username, l.account_name
           FROM provider_links l JOIN users u ON u.id = l.user_id
           WHERE l.provider = ?1 ORDER BY u.id"#,
        provider
    )
    .fetch_all(db)
    .await
}

/// Users with a stored Navidrome password.
pub async fn users_with_navidrome(db: &Db) -> Result<Vec<LinkedUser>, sqlx::Error> {
    sqlx::query_as!(
        LinkedUser,
        r#"SELECT u.id AS "user_id!: UserId", u.username, u.username AS account_name
           FROM navidrome_credentials c JOIN users u ON u.id = c.user_id ORDER BY u.id"#
    )
    .fetch_all(db)
    .await
}

/// What is stored of one playlist.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: i64,
    pub snapshot: String,
    pub active: bool,
}

pub async fn find_remote(
    db: &Db,
    user_id: UserId,
    service: Service,
    remote_id: &str,
) -> Result<Option<Stored>, sqlx::Error> {
    sqlx::query_as!(
        Stored,
        r#"SELECT id AS "id!", snapshot, active AS "active!: bool" FROM playlists
           WHERE user_id = ?1 AND service = ?2 AND remote_id = ?3"#,
        user_id,
        service,
        remote_id
    )
    .fetch_optional(db)
    .await
}

/// Insert or update a playlist's details (active again); its id. The snapshot is left alone:
/// `replace_tracks` sets it with the tracks it stands for.
pub async fn upsert(
    conn: &mut sqlx::SqliteConnection,
    user_id: UserId,
    service: Service,
    p: &RemotePlaylist,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO playlists (user_id, service, remote_id, name, description, owner_name,
                kind, active, imported_at)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)
           ON CONFLICT(user_id, service, remote_id) DO UPDATE SET
                name = excluded.name, description = excluded.description,
                owner_name = excluded.owner_name, kind = excluded.kind, active = 1
           RETURNING id AS "id!""#,
        user_id,
        service,
        p.remote_id,
        p.name,
        p.description,
        p.owner_name,
        p.kind,
        now
    )
    .fetch_one(&mut *conn)
    .await
}

/// One track to store, already linked (or not) to the catalogue.
#[derive(Debug, Clone)]
pub struct NewTrack<'a> {
    pub position: i64,
    pub title: &'a str,
    pub artist: &'a str,
    pub album: &'a str,
    pub title_norm: &'a str,
    pub artist_norm: &'a str,
    pub duration_secs: Option<i64>,
    pub isrc: Option<&'a str>,
    pub recording_mbid: Option<&'a str>,
    pub remote_track_id: Option<&'a str>,
    pub track_id: Option<&'a str>,
}

/// Replace the tracks of playlist `id` and record the snapshot they stand for.
pub async fn replace_tracks(
    conn: &mut sqlx::SqliteConnection,
    id: i64,
    tracks: &[NewTrack<'_>],
    snapshot: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM playlist_tracks WHERE playlist_id = ?1", id)
        .execute(&mut *conn)
        .await?;
    for t in tracks {
        sqlx::query!(
            "INSERT INTO playlist_tracks (playlist_id, position, title, artist, album,
                    title_norm, artist_norm, duration_secs, isrc, recording_mbid,
                    remote_track_id, track_id, match_method, match_rule)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,
                     CASE WHEN ?12 IS NOT NULL AND ?12 = ?11 THEN 'navidrome' END,
                     CASE WHEN ?12 IS NOT NULL AND ?12 = ?11 THEN 'navidrome_id' END)",
            id,
            t.position,
            t.title,
            t.artist,
            t.album,
            t.title_norm,
            t.artist_norm,
            t.duration_secs,
            t.isrc,
            t.recording_mbid,
            t.remote_track_id,
            t.track_id
        )
        .execute(&mut *conn)
        .await?;
    }
    let count = i64::try_from(tracks.len()).unwrap_or(i64::MAX);
    sqlx::query!(
        "UPDATE playlists SET snapshot = ?2, track_count = ?3, imported_at = ?4 WHERE id = ?1",
        id,
        snapshot,
        count,
        now
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Mark inactive the user's playlists of `service` whose remote id is not in `seen` (a JSON
/// array of strings). The number marked.
pub async fn mark_vanished(
    db: &Db,
    user_id: UserId,
    service: Service,
    seen_json: &str,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE playlists SET active = 0
         WHERE user_id = ?1 AND service = ?2 AND active = 1
           AND remote_id NOT IN (SELECT value FROM json_each(?3))",
        user_id,
        service,
        seen_json
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// The catalogue track with this Navidrome id, if it is there.
pub async fn track_by_id(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT id AS "id!" FROM tracks WHERE id = ?1"#, id)
        .fetch_optional(db)
        .await
}

/// A catalogue track with this ISRC (the lowest id when several share it).
pub async fn track_by_isrc(db: &Db, isrc: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM tracks WHERE isrc = ?1 ORDER BY id LIMIT 1"#,
        isrc
    )
    .fetch_optional(db)
    .await
}

/// A catalogue track with this MusicBrainz recording id (the lowest id when several).
pub async fn track_by_mbid(db: &Db, mbid: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM tracks WHERE mbid = ?1 ORDER BY id LIMIT 1"#,
        mbid
    )
    .fetch_optional(db)
    .await
}

/// Up to two catalogue tracks with these normalised artist and title.
pub async fn tracks_by_names(
    db: &Db,
    artist_norm: &str,
    title_norm: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM tracks WHERE artist_norm = ?1 AND title_norm = ?2
           ORDER BY id LIMIT 2"#,
        artist_norm,
        title_norm
    )
    .fetch_all(db)
    .await
}

/// A playlist as the list page shows it.
#[derive(Debug, Clone)]
pub struct Summary {
    pub id: i64,
    pub service: Service,
    pub name: String,
    pub owner_name: String,
    pub kind: PlaylistKind,
    pub track_count: i64,
    pub in_library: i64,
    pub active: bool,
    pub imported_at: i64,
}

pub async fn list(db: &Db, user_id: UserId) -> Result<Vec<Summary>, sqlx::Error> {
    sqlx::query_as!(
        Summary,
        r#"SELECT p.id AS "id!", p.service AS "service: Service", p.name, p.owner_name,
                  p.kind AS "kind: PlaylistKind", p.track_count,
                  (SELECT COUNT(*) FROM playlist_tracks t
                    WHERE t.playlist_id = p.id AND t.track_id IS NOT NULL) AS "in_library!: i64",
                  p.active AS "active!: bool", p.imported_at
           FROM playlists p WHERE p.user_id = ?1
           ORDER BY p.service, p.active DESC, p.kind, p.name COLLATE NOCASE, p.id"#,
        user_id
    )
    .fetch_all(db)
    .await
}

/// One of the user's playlists (`None` for another user's or an unknown id).
pub async fn get(db: &Db, user_id: UserId, id: i64) -> Result<Option<Summary>, sqlx::Error> {
    sqlx::query_as!(
        Summary,
        r#"SELECT p.id AS "id!", p.service AS "service: Service", p.name, p.owner_name,
                  p.kind AS "kind: PlaylistKind", p.track_count,
                  (SELECT COUNT(*) FROM playlist_tracks t
                    WHERE t.playlist_id = p.id AND t.track_id IS NOT NULL) AS "in_library!: i64",
                  p.active AS "active!: bool", p.imported_at
           FROM playlists p WHERE p.user_id = ?1 AND p.id = ?2"#,
        user_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// One track of a playlist with the catalogue track it is linked to.
#[derive(Debug, Clone)]
pub struct TrackRow {
    pub position: i64,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_secs: Option<i64>,
    pub track_id: Option<String>,
    pub library_title: Option<String>,
    pub library_artist: Option<String>,
    pub library_album: Option<String>,
    pub match_method: Option<String>,
    pub match_score: Option<f64>,
    pub match_rule: Option<String>,
    pub runner_up_title: Option<String>,
    pub runner_up_score: Option<f64>,
}

pub async fn tracks(db: &Db, playlist_id: i64) -> Result<Vec<TrackRow>, sqlx::Error> {
    sqlx::query_as!(
        TrackRow,
        r#"SELECT pt.position, pt.title, pt.artist, pt.album, pt.duration_secs, pt.track_id,
                  t.title AS "library_title?", t.artist AS "library_artist?",
                  t.album AS "library_album?", pt.match_method, pt.match_score, pt.match_rule,
                  r.title || ' — ' || r.artist AS "runner_up_title?: String", pt.runner_up_score
           FROM playlist_tracks pt LEFT JOIN tracks t ON t.id = pt.track_id
                LEFT JOIN tracks r ON r.id = pt.runner_up_id
           WHERE pt.playlist_id = ?1 ORDER BY pt.position"#,
        playlist_id
    )
    .fetch_all(db)
    .await
}

/// Link the user's not-yet-linked tracks of `service` that the catalogue now has, by the same
/// exact rules as at import (Navidrome id for Navidrome playlists, ISRC, MBID, unique
/// normalised artist and title). The number linked.
pub async fn relink(db: &Db, user_id: UserId, service: Service) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE playlist_tracks SET
           match_method = CASE WHEN ?2 = 'navidrome' AND EXISTS
               (SELECT 1 FROM tracks t WHERE t.id = playlist_tracks.remote_track_id)
             THEN 'navidrome' END,
           match_rule = CASE WHEN ?2 = 'navidrome' AND EXISTS
               (SELECT 1 FROM tracks t WHERE t.id = playlist_tracks.remote_track_id)
             THEN 'navidrome_id' END,
           track_id = COALESCE(
             (SELECT t.id FROM tracks t
               WHERE ?2 = 'navidrome' AND t.id = playlist_tracks.remote_track_id),
             (SELECT t.id FROM tracks t WHERE t.isrc = playlist_tracks.isrc ORDER BY t.id LIMIT 1),
             (SELECT t.id FROM tracks t
               WHERE t.mbid = playlist_tracks.recording_mbid ORDER BY t.id LIMIT 1),
             (SELECT MIN(t.id) FROM tracks t
               WHERE playlist_tracks.artist_norm <> '' AND playlist_tracks.title_norm <> ''
                 AND t.artist_norm = playlist_tracks.artist_norm
                 AND t.title_norm = playlist_tracks.title_norm
               HAVING COUNT(*) = 1))
         WHERE track_id IS NULL AND match_method IS NULL
           AND playlist_id IN (SELECT id FROM playlists WHERE user_id = ?1 AND service = ?2)
           AND COALESCE(
             (SELECT t.id FROM tracks t
               WHERE ?2 = 'navidrome' AND t.id = playlist_tracks.remote_track_id),
             (SELECT t.id FROM tracks t WHERE t.isrc = playlist_tracks.isrc ORDER BY t.id LIMIT 1),
             (SELECT t.id FROM tracks t
               WHERE t.mbid = playlist_tracks.recording_mbid ORDER BY t.id LIMIT 1),
             (SELECT MIN(t.id) FROM tracks t
               WHERE playlist_tracks.artist_norm <> '' AND playlist_tracks.title_norm <> ''
                 AND t.artist_norm = playlist_tracks.artist_norm
                 AND t.title_norm = playlist_tracks.title_norm
               HAVING COUNT(*) = 1)) IS NOT NULL",
        user_id,
        service
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}
