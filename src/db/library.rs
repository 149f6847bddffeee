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

/// New tracks per multi-row insert. A statement's round trip through the driver costs more
/// than SQLite's own work for one row, so new rows go in many to a statement.
const INSERT_ROWS: usize = 16;

/// A track about to be inserted, with its normalised keys.
struct NewTrack<'a> {
    track: &'a TrackRow,
    title_norm: String,
    artist_norm: String,
}

impl<'a> NewTrack<'a> {
    fn of(track: &'a TrackRow) -> Self {
        Self {
            track,
            title_norm: crate::domain::text::normalize(&track.title),
            artist_norm: crate::domain::text::normalize(&track.artist),
        }
    }
}

/// The stored columns an import compares, to tell a changed track from an unchanged one.
struct StoredTrack {
    id: String,
    title: String,
    album_id: Option<String>,
    album: String,
    artist_id: Option<String>,
    artist: String,
    track_no: Option<i64>,
    disc_no: Option<i64>,
    year: Option<i64>,
    duration_secs: Option<i64>,
    genres: String,
    isrc: Option<String>,
    mbid: Option<String>,
    play_count: i64,
    last_played: Option<i64>,
}

impl StoredTrack {
    fn same_as(&self, t: &TrackRow) -> bool {
        self.title == t.title
            && self.album_id.as_deref() == Some(t.album_id.as_str())
            && self.album == t.album
            && self.artist_id == t.artist_id
            && self.artist == t.artist
            && self.track_no == t.track_no
            && self.disc_no == t.disc_no
            && self.year == t.year
            && self.duration_secs == t.duration_secs
            && self.genres == t.genres
            && self.isrc == t.isrc
            && self.mbid == t.mbid
            && self.play_count == t.play_count
            && self.last_played == t.last_played
    }
}

/// Insert `INSERT_ROWS` new tracks in one statement (the indices list them).
macro_rules! insert_tracks_many {
    ($conn:expr, $rows:expr, $pass:expr; $($i:literal)+) => {
        sqlx::query!(
            "INSERT INTO tracks (id, title, title_norm, album_id, album, artist_id, artist,
                 artist_norm, track_no, disc_no, year, duration_secs, genres, isrc, mbid,
                 play_count, last_played, seen_pass) VALUES "
                + "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?), (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?),"
                + "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?), (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?),"
                + "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?), (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?),"
                + "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?), (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?),"
                + "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?), (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?),"
                + "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?), (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?),"
                + "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?), (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?),"
                + "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?), (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            $(
                $rows[$i].track.id,
                $rows[$i].track.title,
                $rows[$i].title_norm,
                $rows[$i].track.album_id,
                $rows[$i].track.album,
                $rows[$i].track.artist_id,
                $rows[$i].track.artist,
                $rows[$i].artist_norm,
                $rows[$i].track.track_no,
                $rows[$i].track.disc_no,
                $rows[$i].track.year,
                $rows[$i].track.duration_secs,
                $rows[$i].track.genres,
                $rows[$i].track.isrc,
                $rows[$i].track.mbid,
                $rows[$i].track.play_count,
                $rows[$i].track.last_played,
                $pass,
            )+
        )
        .execute($conn)
        .await
    };
}

/// Insert or update one track; true when a stored row changed or a new one was written.
async fn upsert_track(
    tx: &mut sqlx::SqliteConnection,
    t: &TrackRow,
    pass: i64,
) -> Result<bool, sqlx::Error> {
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
             last_played = excluded.last_played, seen_pass = excluded.seen_pass",
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
    Ok(changed > 0)
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
    let stored: HashMap<String, StoredTrack> = sqlx::query_as!(
        StoredTrack,
        r#"SELECT id AS "id!", title, album_id, album, artist_id, artist, track_no, disc_no, year,
                  duration_secs, genres, isrc, mbid, play_count, last_played
           FROM tracks WHERE id IN (SELECT value FROM json_each(?1))"#,
        ids
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|t| (t.id.clone(), t))
    .collect();

    // Sort the batch by what each row needs: new rows go in many to a statement, changed rows
    // one by one, unchanged rows are only stamped, all at once.
    let mut new_rows: Vec<NewTrack<'_>> = Vec::new();
    let mut one_by_one: Vec<&TrackRow> = Vec::new();
    let mut unchanged: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::with_capacity(batch.tracks.len());
    for t in &batch.tracks {
        if !seen.insert(t.id.as_str()) {
            // The same id twice in one batch: the later copy wins through the upsert.
            one_by_one.push(t);
            continue;
        }
        match stored.get(&t.id) {
            None => new_rows.push(NewTrack::of(t)),
            Some(s) if s.same_as(t) => unchanged.push(t.id.as_str()),
            Some(_) => one_by_one.push(t),
        }
    }

    let mut chunks = new_rows.chunks_exact(INSERT_ROWS);
    for rows in &mut chunks {
        insert_tracks_many!(&mut *tx, rows, pass; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)?;
    }
    for row in chunks.remainder() {
        upsert_track(&mut tx, row.track, pass).await?;
    }
    counts.added += new_rows.len() as u64;

    for t in one_by_one {
        if stored.contains_key(&t.id) {
            if upsert_track(&mut tx, t, pass).await? {
                counts.updated += 1;
            } else {
                counts.unchanged += 1;
            }
        } else {
            upsert_track(&mut tx, t, pass).await?;
        }
    }

    if !unchanged.is_empty() {
        let ids = serde_json::to_string(&unchanged).unwrap_or_else(|_| "[]".to_owned());
        sqlx::query!(
            "UPDATE tracks SET seen_pass = ?1 WHERE id IN (SELECT value FROM json_each(?2))",
            pass,
            ids
        )
        .execute(&mut *tx)
        .await?;
        counts.unchanged += unchanged.len() as u64;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn track(i: usize) -> TrackRow {
        TrackRow {
            id: format!("t{i}"),
            title: format!("Sóng {i} (Live)"),
            album_id: "al1".to_owned(),
            album: "Album".to_owned(),
            artist_id: Some("ar1".to_owned()),
            artist: "The Ärtist".to_owned(),
            track_no: Some(i as i64),
            disc_no: Some(1),
            year: Some(2001),
            duration_secs: Some(200),
            genres: r#"["Rock"]"#.to_owned(),
            isrc: i.is_multiple_of(2).then(|| format!("ISRC{i}")),
            mbid: None,
            play_count: 0,
            last_played: None,
        }
    }

    async fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = crate::db::connect_and_migrate(&url).await.unwrap();
        (dir, db)
    }

    fn batch(tracks: Vec<TrackRow>) -> Batch {
        Batch {
            tracks,
            ..Batch::default()
        }
    }

    #[tokio::test]
    async fn new_changed_unchanged_and_repeated_tracks_are_told_apart() {
        let (_dir, db) = db().await;
        // 37 = two full multi-row statements and a remainder; one id twice.
        let mut tracks: Vec<TrackRow> = (0..37).map(track).collect();
        let mut repeat = track(5);
        repeat.title = "Second copy".to_owned();
        tracks.push(repeat);
        let first = write_batch(&db, &batch(tracks.clone()), 1).await.unwrap();
        assert_eq!((first.added, first.updated, first.unchanged), (37, 0, 0));
        let stored = sqlx::query!(
            r#"SELECT title, title_norm, artist_norm, isrc, seen_pass FROM tracks WHERE id = 't20'"#
        )
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(stored.title, "Sóng 20 (Live)");
        assert_eq!(stored.title_norm, "song 20 live");
        assert_eq!(stored.artist_norm, "the artist");
        assert_eq!(stored.isrc.as_deref(), Some("ISRC20"));
        assert_eq!(stored.seen_pass, 1);
        let repeated = sqlx::query_scalar!("SELECT title FROM tracks WHERE id = 't5'")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(repeated, "Second copy", "the later copy in a batch wins");

        tracks.pop();
        tracks[5].title = "Second copy".to_owned();
        let second = write_batch(&db, &batch(tracks.clone()), 2).await.unwrap();
        assert_eq!((second.added, second.updated, second.unchanged), (0, 0, 37));

        tracks[30].play_count = 3;
        tracks.push(track(99));
        let third = write_batch(&db, &batch(tracks), 3).await.unwrap();
        assert_eq!((third.added, third.updated, third.unchanged), (1, 1, 36));
        let old_pass = sqlx::query_scalar!("SELECT COUNT(*) FROM tracks WHERE seen_pass <> 3")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(
            old_pass, 0,
            "every row of the batch is stamped with its pass"
        );
    }
}
