//! Playlist write-back state (`playlist_writeback`) and the reads that plan a write: the linked
//! tracks of a playlist in order, its missing tracks with the user's plays of each, and the
//! enabled playlists a re-sync walks.

use crate::db::Db;
use crate::domain::ids::UserId;
use crate::domain::provider::Service;
use crate::domain::writeback::WritebackError;

/// The write-back state of one playlist.
#[derive(Debug, Clone)]
pub struct Writeback {
    pub playlist_id: i64,
    pub enabled: bool,
    pub navidrome_playlist_id: Option<String>,
    pub navidrome_name: String,
    pub conflict_playlist_id: Option<String>,
    /// JSON array of the catalogue track ids last written, in order.
    pub written_tracks: String,
    pub written_fingerprint: String,
    pub last_written_at: Option<i64>,
    pub last_error: Option<WritebackError>,
    pub last_error_at: Option<i64>,
}

pub async fn get(db: &Db, playlist_id: i64) -> Result<Option<Writeback>, sqlx::Error> {
    sqlx::query_as!(
        Writeback,
        r#"SELECT playlist_id AS "playlist_id!", enabled AS "enabled!: bool",
                  navidrome_playlist_id, navidrome_name, conflict_playlist_id, written_tracks,
                  written_fingerprint, last_written_at,
                  last_error AS "last_error?: WritebackError", last_error_at
           FROM playlist_writeback WHERE playlist_id = ?1"#,
        playlist_id
    )
    .fetch_optional(db)
    .await
}

/// A linked track of a playlist, with the catalogue's names for it.
#[derive(Debug, Clone)]
pub struct LinkedTrack {
    pub position: i64,
    pub track_id: String,
    pub title: String,
    pub artist: String,
}

/// The playlist's tracks that are linked to the catalogue, in playlist order (repeats kept).
pub async fn linked_tracks(db: &Db, playlist_id: i64) -> Result<Vec<LinkedTrack>, sqlx::Error> {
    sqlx::query_as!(
        LinkedTrack,
        r#"SELECT pt.position, t.id AS "track_id!", t.title, t.artist
           FROM playlist_tracks pt JOIN tracks t ON t.id = pt.track_id
           WHERE pt.playlist_id = ?1 ORDER BY pt.position"#,
        playlist_id
    )
    .fetch_all(db)
    .await
}

/// A catalogue track by id, for naming what a write would remove.
#[derive(Debug, Clone)]
pub struct CatalogueTrack {
    pub id: String,
    pub title: String,
    pub artist: String,
}

/// The catalogue tracks among `ids_json` (a JSON array of ids); ids the catalogue lost are
/// left out.
pub async fn catalogue_tracks(db: &Db, ids_json: &str) -> Result<Vec<CatalogueTrack>, sqlx::Error> {
    sqlx::query_as!(
        CatalogueTrack,
        r#"SELECT t.id AS "id!", t.title, t.artist FROM tracks t
           WHERE t.id IN (SELECT value FROM json_each(?1))"#,
        ids_json
    )
    .fetch_all(db)
    .await
}

/// A playlist track not in the library, with how often the user played a song of that artist
/// and title.
#[derive(Debug, Clone)]
pub struct MissingTrack {
    pub position: i64,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub plays: i64,
}

/// The playlist's tracks not linked to the catalogue, most played first (then in playlist
/// order).
pub async fn missing_tracks(
    db: &Db,
    user_id: UserId,
    playlist_id: i64,
) -> Result<Vec<MissingTrack>, sqlx::Error> {
    sqlx::query_as!(
        MissingTrack,
        r#"SELECT pt.position, pt.title, pt.artist, pt.album,
                  (SELECT COUNT(*) FROM listens l
                    WHERE l.user_id = ?1 AND l.artist_norm = pt.artist_norm
                      AND l.title_norm = pt.title_norm) AS "plays!: i64"
           FROM playlist_tracks pt
           WHERE pt.playlist_id = ?2 AND pt.track_id IS NULL
           ORDER BY 5 DESC, pt.position"#,
        user_id,
        playlist_id
    )
    .fetch_all(db)
    .await
}

/// The Navidrome playlists paired with a playlist other than `playlist_id`.
pub async fn paired_elsewhere(db: &Db, playlist_id: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT navidrome_playlist_id AS "id!" FROM playlist_writeback
           WHERE navidrome_playlist_id IS NOT NULL AND playlist_id <> ?1"#,
        playlist_id
    )
    .fetch_all(db)
    .await
}

/// The playlist whose written copy is the imported Navidrome playlist `navidrome_playlist`.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: i64,
    pub name: String,
    pub service: Service,
}

pub async fn source_of(
    db: &Db,
    user_id: UserId,
    navidrome_playlist: i64,
) -> Result<Option<Source>, sqlx::Error> {
    sqlx::query_as!(
        Source,
        r#"SELECT p.id AS "id!", p.name, p.service AS "service: Service"
           FROM playlists nd
           JOIN playlist_writeback w ON w.navidrome_playlist_id = nd.remote_id
           JOIN playlists p ON p.id = w.playlist_id
           WHERE nd.id = ?1 AND nd.service = 'navidrome' AND nd.user_id = ?2
             AND p.user_id = ?2"#,
        navidrome_playlist,
        user_id
    )
    .fetch_optional(db)
    .await
}

/// What a successful write leaves behind.
#[derive(Debug, Clone, Copy)]
pub struct Written<'a> {
    pub navidrome_playlist_id: &'a str,
    pub navidrome_name: &'a str,
    pub tracks_json: &'a str,
    pub fingerprint: &'a str,
}

/// Record a successful write: paired with `w.navidrome_playlist_id`, enabled, no pending
/// choice, no error.
pub async fn record_written(
    conn: &mut sqlx::SqliteConnection,
    playlist_id: i64,
    w: Written<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO playlist_writeback (playlist_id, enabled, navidrome_playlist_id,
                navidrome_name, conflict_playlist_id, written_tracks, written_fingerprint,
                last_written_at, last_error, last_error_at, updated_at)
         VALUES (?1, 1, ?2, ?3, NULL, ?4, ?5, ?6, NULL, NULL, ?6)
         ON CONFLICT(playlist_id) DO UPDATE SET
                enabled = 1, navidrome_playlist_id = excluded.navidrome_playlist_id,
                navidrome_name = excluded.navidrome_name, conflict_playlist_id = NULL,
                written_tracks = excluded.written_tracks,
                written_fingerprint = excluded.written_fingerprint,
                last_written_at = excluded.last_written_at, last_error = NULL,
                last_error_at = NULL, updated_at = excluded.updated_at",
        playlist_id,
        w.navidrome_playlist_id,
        w.navidrome_name,
        w.tracks_json,
        w.fingerprint,
        now
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Record that the last attempt failed; everything else stays as it was.
pub async fn record_error(
    db: &Db,
    playlist_id: i64,
    error: WritebackError,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO playlist_writeback (playlist_id, last_error, last_error_at, updated_at)
         VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT(playlist_id) DO UPDATE SET
                last_error = excluded.last_error, last_error_at = excluded.last_error_at,
                updated_at = excluded.updated_at",
        playlist_id,
        error,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Record that Navidrome has a same-name playlist the user must choose about.
pub async fn record_conflict(
    db: &Db,
    playlist_id: i64,
    conflict_playlist_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO playlist_writeback (playlist_id, conflict_playlist_id, updated_at)
         VALUES (?1, ?2, ?3)
         ON CONFLICT(playlist_id) DO UPDATE SET
                conflict_playlist_id = excluded.conflict_playlist_id, last_error = NULL,
                last_error_at = NULL, updated_at = excluded.updated_at",
        playlist_id,
        conflict_playlist_id,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Turn write-back off and forget the pairing and what was written (the Navidrome copy itself
/// is the caller's business).
pub async fn disable(
    conn: &mut sqlx::SqliteConnection,
    playlist_id: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE playlist_writeback SET enabled = 0, navidrome_playlist_id = NULL,
                navidrome_name = '', conflict_playlist_id = NULL, written_tracks = '[]',
                written_fingerprint = '', last_error = NULL, last_error_at = NULL,
                updated_at = ?2
         WHERE playlist_id = ?1",
        playlist_id,
        now
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An enabled playlist as a re-sync sees it.
#[derive(Debug, Clone)]
pub struct Enabled {
    pub playlist_id: i64,
    pub user_id: UserId,
    pub username: String,
    pub service: Service,
    pub active: bool,
}

/// Every playlist with write-back on, by user.
pub async fn enabled(db: &Db) -> Result<Vec<Enabled>, sqlx::Error> {
    sqlx::query_as!(
        Enabled,
        r#"SELECT w.playlist_id AS "playlist_id!", p.user_id AS "user_id!: UserId", u.username,
                  p.service AS "service: Service", p.active AS "active!: bool"
           FROM playlist_writeback w
           JOIN playlists p ON p.id = w.playlist_id
           JOIN users u ON u.id = p.user_id
           WHERE w.enabled = 1
           ORDER BY p.user_id, w.playlist_id"#
    )
    .fetch_all(db)
    .await
}
