//! The Navidrome catalogue (artists, albums, tracks), its import bookkeeping
//! (`library_state`) and the listens the import derives from Navidrome's play counts.
//! Writes go in batches, one transaction each: a batch lands whole or not at all.

use std::collections::{HashMap, HashSet};

use crate::db::Db;
use crate::domain::ids::UserId;

#[derive(Debug, Clone, Default)]
pub struct LibraryState {
    pub pass: i64,
    pub fingerprint: String,
    pub completed_at: Option<i64>,
    pub checked_at: Option<i64>,
}

pub async fn state(db: &Db) -> Result<LibraryState, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT pass, fingerprint, completed_at, checked_at FROM library_state WHERE id = 1"
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map_or_else(LibraryState::default, |r| LibraryState {
        pass: r.pass,
        fingerprint: r.fingerprint,
        completed_at: r.completed_at,
        checked_at: r.checked_at,
    }))
}

/// A fresh pass number, never used before (a failed pass does not hand its number on).
pub async fn start_pass(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"UPDATE library_state SET started_pass = MAX(pass, started_pass) + 1 WHERE id = 1
           RETURNING started_pass AS "p!: i64""#
    )
    .fetch_one(db)
    .await
}

/// The check found the library unchanged.
pub async fn mark_checked(db: &Db, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE library_state SET checked_at = ?1 WHERE id = 1", now)
        .execute(db)
        .await?;
    Ok(())
}

/// Each stored album's change stamp, by id.
pub async fn album_stamps(db: &Db) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows = sqlx::query!("SELECT id, changed FROM albums")
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.changed)).collect())
}

/// What the last import knew about a track's plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlayState {
    pub play_count: i64,
    pub last_played: Option<i64>,
}

/// The stored play state of the tracks of these albums.
pub async fn play_states(
    db: &Db,
    album_ids: &[&str],
) -> Result<HashMap<String, PlayState>, sqlx::Error> {
    let ids = serde_json::to_string(album_ids).unwrap_or_else(|_| "[]".to_owned());
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", play_count, last_played FROM tracks
           WHERE album_id IN (SELECT value FROM json_each(?1))"#,
        ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.id,
                PlayState {
                    play_count: r.play_count,
                    last_played: r.last_played,
                },
            )
        })
        .collect())
}

#[derive(Debug, Clone)]
pub struct ArtistRow {
    pub id: String,
    pub name: String,
    pub mbid: Option<String>,
    pub album_count: i64,
}

#[derive(Debug, Clone)]
pub struct AlbumRow {
    pub id: String,
    pub name: String,
    pub artist_id: Option<String>,
    pub artist: String,
    pub year: Option<i64>,
    pub genre: String,
    pub mbid: Option<String>,
    pub song_count: i64,
    pub duration_secs: Option<i64>,
    pub stamp: String,
}

#[derive(Debug, Clone)]
pub struct TrackRow {
    pub id: String,
    pub title: String,
    pub album_id: String,
    pub album: String,
    pub artist_id: Option<String>,
    pub artist: String,
    pub track_no: Option<i64>,
    pub disc_no: Option<i64>,
    pub year: Option<i64>,
    pub duration_secs: Option<i64>,
    /// JSON array of genre names.
    pub genres: String,
    pub isrc: Option<String>,
    pub mbid: Option<String>,
    pub play_count: i64,
    pub last_played: Option<i64>,
}

/// A play Navidrome's counters showed since the last import.
#[derive(Debug, Clone)]
pub struct NavidromeListen {
    pub user_id: UserId,
    pub track_id: String,
    pub played_at: i64,
    pub remote_key: String,
}

/// One batch: written in one transaction.
#[derive(Debug, Default)]
pub struct Batch {
    pub artists: Vec<ArtistRow>,
    pub albums: Vec<AlbumRow>,
    pub tracks: Vec<TrackRow>,
    /// Albums found unchanged: they and their tracks are only stamped as seen.
    pub unchanged_albums: Vec<String>,
    pub listens: Vec<NavidromeListen>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.artists.is_empty()
            && self.albums.is_empty()
            && self.tracks.is_empty()
            && self.unchanged_albums.is_empty()
            && self.listens.is_empty()
    }
}

/// What a batch did to tracks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub listens: u64,
}

/// Write a batch in one transaction, stamping every row it holds (and every track of an
/// unchanged album) with `pass`.
pub async fn write_batch(db: &Db, batch: &Batch, pass: i64) -> Result<BatchCounts, sqlx::Error> {
    let mut counts = BatchCounts::default();
    let mut tx = db.begin().await?;
    for a in &batch.artists {
        let norm = crate::domain::text::normalize(&a.name);
        sqlx::query!(
            "INSERT INTO artists (id, name, name_norm, mbid, album_count, seen_pass)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, name_norm = excluded.name_norm,
                 mbid = excluded.mbid, album_count = excluded.album_count,
                 seen_pass = excluded.seen_pass",
            a.id,
            a.name,
            norm,
            a.mbid,
            a.album_count,
            pass
        )
        .execute(&mut *tx)
        .await?;
    }
    let ids: Vec<&str> = batch.tracks.iter().map(|t| t.id.as_str()).collect();
    let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned());
    let existing: HashSet<String> = sqlx::query_scalar!(
        r#"SELECT id AS "id!" FROM tracks WHERE id IN (SELECT value FROM json_each(?1))"#,
        ids
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    for t in &batch.tracks {
        let title_norm = crate::domain::text::normalize(&t.title);
        let artist_norm = crate::domain::text::normalize(&t.artist);
        let changed = sqlx::query!(
            "INSERT INTO tracks (id, title, title_norm, album_id, album, artist_id, artist,
                 artist_norm, track_no, disc_no, year, duration_secs, genres, isrc, mbid,
                 play_count, last_played, seen_pass)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
             ON CONFLICT(id) DO UPDATE SET title = excluded.title, title_norm = excluded.title_norm,
                 album_id = excluded.album_id, album = excluded.album,
                 artist_id = excluded.artist_id, artist = excluded.artist,
                 artist_norm = excluded.artist_norm, track_no = excluded.track_no,
                 disc_no = excluded.disc_no, year = excluded.year,
                 duration_secs = excluded.duration_secs, genres = excluded.genres,
                 isrc = excluded.isrc, mbid = excluded.mbid, play_count = excluded.play_count,
                 last_played = excluded.last_played, seen_pass = excluded.seen_pass
             WHERE (tracks.title, tracks.album_id, tracks.album, tracks.artist_id, tracks.artist,
                    tracks.track_no, tracks.disc_no, tracks.year, tracks.duration_secs,
                    tracks.genres, tracks.isrc, tracks.mbid, tracks.play_count, tracks.last_played)
                IS NOT (excluded.title, excluded.album_id, excluded.album, excluded.artist_id,
                    excluded.artist, excluded.track_no, excluded.disc_no, excluded.year,
                    excluded.duration_secs, excluded.genres, excluded.isrc, excluded.mbid,
                    excluded.play_count, excluded.last_played)",
            t.id,
            t.title,
            title_norm,
            t.album_id,
            t.album,
            t.artist_id,
            t.artist,
            artist_norm,
            t.track_no,
            t.disc_no,
            t.year,
            t.duration_secs,
            t.genres,
            t.isrc,
            t.mbid,
            t.play_count,
            t.last_played,
            pass
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if !existing.contains(&t.id) {
            counts.added += 1;
        } else if changed > 0 {
            counts.updated += 1;
        } else {
            counts.unchanged += 1;
            sqlx::query!("UPDATE tracks SET seen_pass = ?1 WHERE id = ?2", pass, t.id)
                .execute(&mut *tx)
                .await?;
        }
    }
    for a in &batch.albums {
        let norm = crate::domain::text::normalize(&a.name);
        sqlx::query!(
            "INSERT INTO albums (id, name, name_norm, artist_id, artist, year, genre, mbid,
                 song_count, duration_secs, changed, seen_pass)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, name_norm = excluded.name_norm,
                 artist_id = excluded.artist_id, artist = excluded.artist, year = excluded.year,
                 genre = excluded.genre, mbid = excluded.mbid, song_count = excluded.song_count,
                 duration_secs = excluded.duration_secs, changed = excluded.changed,
                 seen_pass = excluded.seen_pass",
            a.id,
            a.name,
            norm,
            a.artist_id,
            a.artist,
            a.year,
            a.genre,
            a.mbid,
            a.song_count,
            a.duration_secs,
            a.stamp,
            pass
        )
        .execute(&mut *tx)
        .await?;
    }
    if !batch.unchanged_albums.is_empty() {
        let ids =
            serde_json::to_string(&batch.unchanged_albums).unwrap_or_else(|_| "[]".to_owned());
        counts.unchanged += sqlx::query!(
            "UPDATE tracks SET seen_pass = ?1 WHERE album_id IN (SELECT value FROM json_each(?2))",
            pass,
            ids
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query!(
            "UPDATE albums SET seen_pass = ?1 WHERE id IN (SELECT value FROM json_each(?2))",
            pass,
            ids
        )
        .execute(&mut *tx)
        .await?;
    }
    for l in &batch.listens {
        if insert_navidrome_listen(&mut tx, l).await? {
            counts.listens += 1;
        }
    }
    tx.commit().await?;
    Ok(counts)
}

/// Record one Navidrome play as a listen of the track, unless that play is already recorded.
async fn insert_navidrome_listen(
    tx: &mut sqlx::SqliteConnection,
    l: &NavidromeListen,
) -> Result<bool, sqlx::Error> {
    let known = sqlx::query_scalar!(
        r#"SELECT 1 AS "x!: i64" FROM listen_sources
           WHERE user_id = ?1 AND service = 'navidrome' AND remote_key = ?2"#,
        l.user_id,
        l.remote_key
    )
    .fetch_optional(&mut *tx)
    .await?;
    if known.is_some() {
        return Ok(false);
    }
    let id = sqlx::query_scalar!(
        r#"INSERT INTO listens (user_id, played_at, title, artist, album, title_norm,
               artist_norm, duration_secs, isrc, recording_mbid, track_id)
           SELECT ?1, ?2, title, artist, album, title_norm, artist_norm, duration_secs, isrc,
               mbid, id FROM tracks WHERE id = ?3
           RETURNING id AS "id!: i64""#,
        l.user_id,
        l.played_at,
        l.track_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else {
        return Ok(false);
    };
    sqlx::query!(
        "INSERT INTO listen_sources (user_id, service, remote_key, listen_id)
         VALUES (?1, 'navidrome', ?2, ?3)",
        l.user_id,
        l.remote_key,
        id
    )
    .execute(&mut *tx)
    .await?;
    Ok(true)
}

/// Rows a complete pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub tracks: u64,
    pub albums: u64,
    pub artists: u64,
}

/// After a complete pass: delete what it did not see and record it as the last complete
/// import. One transaction. Listens of removed tracks stay (their `track_id` becomes NULL).
pub async fn finish_pass(
    db: &Db,
    pass: i64,
    fingerprint: &str,
    now: i64,
) -> Result<Removed, sqlx::Error> {
    let mut tx = db.begin().await?;
    let tracks = sqlx::query!("DELETE FROM tracks WHERE seen_pass < ?1", pass)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let albums = sqlx::query!("DELETE FROM albums WHERE seen_pass < ?1", pass)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    let artists = sqlx::query!("DELETE FROM artists WHERE seen_pass < ?1", pass)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query!(
        "UPDATE library_state SET pass = ?1, fingerprint = ?2, completed_at = ?3, checked_at = ?3
         WHERE id = 1",
        pass,
        fingerprint,
        now
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Removed {
        tracks,
        albums,
        artists,
    })
}

// ---- Reading the catalogue for the Library pages ----

#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub artists: i64,
    pub albums: i64,
    pub tracks: i64,
}

pub async fn totals(db: &Db) -> Result<Totals, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT (SELECT COUNT(*) FROM artists) AS "artists!: i64",
                  (SELECT COUNT(*) FROM albums) AS "albums!: i64",
                  (SELECT COUNT(*) FROM tracks) AS "tracks!: i64""#
    )
    .fetch_one(db)
    .await?;
    Ok(Totals {
        artists: r.artists,
        albums: r.albums,
        tracks: r.tracks,
    })
}

#[derive(Debug, Clone)]
pub struct ArtistItem {
    pub id: String,
    pub name: String,
    pub album_count: i64,
}

/// A page of artists A-Z (by normalised name), with the albums stored for each.
pub async fn artists_page(
    db: &Db,
    limit: i64,
    offset: i64,
) -> Result<Vec<ArtistItem>, sqlx::Error> {
    sqlx::query_as!(
        ArtistItem,
        r#"SELECT a.id AS "id!", a.name,
                  (SELECT COUNT(*) FROM albums b WHERE b.artist_id = a.id) AS "album_count!: i64"
           FROM artists a ORDER BY a.name_norm, a.id LIMIT ?1 OFFSET ?2"#,
        limit,
        offset
    )
    .fetch_all(db)
    .await
}

pub async fn artist(db: &Db, id: &str) -> Result<Option<ArtistItem>, sqlx::Error> {
    sqlx::query_as!(
        ArtistItem,
        r#"SELECT a.id AS "id!", a.name,
                  (SELECT COUNT(*) FROM albums b WHERE b.artist_id = a.id) AS "album_count!: i64"
           FROM artists a WHERE a.id = ?1"#,
        id
    )
    .fetch_optional(db)
    .await
}

#[derive(Debug, Clone)]
pub struct AlbumItem {
    pub id: String,
    pub name: String,
    pub artist_id: Option<String>,
    pub artist: String,
    pub year: Option<i64>,
    pub song_count: i64,
}

pub async fn albums_of(db: &Db, artist_id: &str) -> Result<Vec<AlbumItem>, sqlx::Error> {
    sqlx::query_as!(
        AlbumItem,
        r#"SELECT id AS "id!", name, artist_id, artist, year, song_count FROM albums
           WHERE artist_id = ?1 ORDER BY year, name_norm LIMIT 1000"#,
        artist_id
    )
    .fetch_all(db)
    .await
}

pub async fn album(db: &Db, id: &str) -> Result<Option<AlbumItem>, sqlx::Error> {
    sqlx::query_as!(
        AlbumItem,
        r#"SELECT id AS "id!", name, artist_id, artist, year, song_count FROM albums
           WHERE id = ?1"#,
        id
    )
    .fetch_optional(db)
    .await
}

#[derive(Debug, Clone)]
pub struct TrackItem {
    pub id: String,
    pub title: String,
    pub album_id: Option<String>,
    pub album: String,
    pub artist: String,
    pub track_no: Option<i64>,
    pub disc_no: Option<i64>,
    pub duration_secs: Option<i64>,
    pub play_count: i64,
}

pub async fn tracks_of(db: &Db, album_id: &str) -> Result<Vec<TrackItem>, sqlx::Error> {
    sqlx::query_as!(
        TrackItem,
        r#"SELECT id AS "id!", title, album_id, album, artist, track_no, disc_no, duration_secs,
                  play_count
           FROM tracks WHERE album_id = ?1 ORDER BY disc_no, track_no, title_norm LIMIT 5000"#,
        album_id
    )
    .fetch_all(db)
    .await
}

/// Search results, each list bounded by `limit`.
#[derive(Debug, Clone, Default)]
pub struct SearchHits {
    pub artists: Vec<ArtistItem>,
    pub albums: Vec<AlbumItem>,
    pub tracks: Vec<TrackItem>,
}

/// Substring search over normalised names. `norm` is the normalised query.
pub async fn search(db: &Db, norm: &str, limit: i64) -> Result<SearchHits, sqlx::Error> {
    let escaped = norm
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = format!("%{escaped}%");
    let artists = sqlx::query_as!(
        ArtistItem,
        r#"SELECT a.id AS "id!", a.name,
                  (SELECT COUNT(*) FROM albums b WHERE b.artist_id = a.id) AS "album_count!: i64"
           FROM artists a WHERE a.name_norm LIKE ?1 ESCAPE '\'
           ORDER BY a.name_norm LIMIT ?2"#,
        pattern,
        limit
    )
    .fetch_all(db)
    .await?;
    let albums = sqlx::query_as!(
        AlbumItem,
        r#"SELECT id AS "id!", name, artist_id, artist, year, song_count FROM albums
           WHERE name_norm LIKE ?1 ESCAPE '\' ORDER BY name_norm LIMIT ?2"#,
        pattern,
        limit
    )
    .fetch_all(db)
    .await?;
    let tracks = sqlx::query_as!(
        TrackItem,
        r#"SELECT id AS "id!", title, album_id, album, artist, track_no, disc_no, duration_secs,
                  play_count
           FROM tracks WHERE title_norm LIKE ?1 ESCAPE '\' OR artist_norm LIKE ?1 ESCAPE '\'
           ORDER BY title_norm LIMIT ?2"#,
        pattern,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(SearchHits {
        artists,
        albums,
        tracks,
    })
}
