//! The merged listening history (`listens`, `listen_sources`), the per-source sync watermark
//! (`sync_state`) and the totals the dashboard and the API show.
//!
//! A page of remote listens is stored in one transaction: a report already known under its
//! (service, key) is skipped (the `listen_sources` primary key), a report of a play another
//! service already reported joins that listen (`domain::listen::best_match`), anything else is a
//! new listen linked to the catalogue when the match is exact.

use crate::db::Db;
use crate::domain::ids::UserId;
use crate::domain::listen::{self, Candidate, RemoteListen};
use crate::domain::provider::{Provider, Service};

/// The users who linked `provider`.
pub async fn linked_users(db: &Db, provider: Provider) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT user_id AS "user_id!: UserId" FROM provider_links WHERE provider = ?1 ORDER BY user_id"#,
        provider
    )
    .fetch_all(db)
    .await
}

/// The stored cursor of `source` for the user, if any.
pub async fn cursor(db: &Db, user_id: UserId, source: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT cursor FROM sync_state WHERE user_id = ?1 AND source = ?2",
        user_id,
        source
    )
    .fetch_optional(db)
    .await
}

pub async fn set_cursor(
    db: &Db,
    user_id: UserId,
    source: &str,
    cursor: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO sync_state (user_id, source, cursor, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(user_id, source) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
        user_id,
        source,
        cursor,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A listen a batch added (for the live event).
#[derive(Debug, Clone)]
pub struct Added {
    pub played_at: i64,
    pub title: String,
    pub artist: String,
    pub service: Service,
}

/// What storing a batch did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// New listens.
    pub added: Vec<Added>,
    /// Reports that joined a listen another service had reported.
    pub merged: u64,
    /// Reports already stored.
    pub known: u64,
}

/// Widest distance the merge rule can accept (a 3 h track plus the window).
const SEARCH_SECS: i64 = 3 * 3600 + listen::MERGE_WINDOW_SECS;

/// Store a batch of one user's remote listens in one transaction: all of it or none.
pub async fn store_batch(
    db: &Db,
    user_id: UserId,
    batch: &[RemoteListen],
) -> Result<BatchOutcome, sqlx::Error> {
    let mut out = BatchOutcome::default();
    let mut tx = crate::db::begin_write(db).await?;
    for l in batch {
        let known = sqlx::query_scalar!(
            r#"SELECT listen_id AS "id!: i64" FROM listen_sources
               WHERE user_id = ?1 AND service = ?2 AND remote_key = ?3"#,
            user_id,
            l.service,
            l.remote_key
        )
        .fetch_optional(&mut *tx)
        .await?;
        if known.is_some() {
            out.known += 1;
            continue;
        }
        let title_norm = l.title_norm();
        let artist_norm = l.artist_norm();
        let from = l.played_at.saturating_sub(SEARCH_SECS);
        let to = l.played_at.saturating_add(SEARCH_SECS);
        let rows = sqlx::query!(
            r#"SELECT id AS "id!: i64", played_at, title_norm, artist_norm, duration_secs
               FROM listens
               WHERE user_id = ?1 AND artist_norm = ?2 AND title_norm = ?3
                 AND played_at BETWEEN ?4 AND ?5
                 AND NOT EXISTS (SELECT 1 FROM listen_sources s
                                 WHERE s.listen_id = listens.id AND s.service = ?6)"#,
            user_id,
            artist_norm,
            title_norm,
            from,
            to,
            l.service
        )
        .fetch_all(&mut *tx)
        .await?;
        let candidates: Vec<(Candidate, i64)> = rows
            .into_iter()
            .map(|r| {
                (
                    Candidate {
                        played_at: r.played_at,
                        title_norm: r.title_norm,
                        artist_norm: r.artist_norm,
                        duration_secs: r.duration_secs,
                    },
                    r.id,
                )
            })
            .collect();
        let listen_id = match listen::best_match(l, candidates.iter().map(|(c, id)| (c, *id))) {
            Some(id) => {
                sqlx::query!(
                    "UPDATE listens SET isrc = COALESCE(isrc, ?2),
                                recording_mbid = COALESCE(recording_mbid, ?3),
                                duration_secs = COALESCE(duration_secs, ?4),
                                album = CASE WHEN album = '' THEN ?5 ELSE album END
                         WHERE id = ?1",
                    id,
                    l.isrc,
                    l.recording_mbid,
                    l.duration_secs,
                    l.album
                )
                .execute(&mut *tx)
                .await?;
                out.merged += 1;
                id
            }
            None => {
                let track_id = catalogue_track(&mut tx, l, &title_norm, &artist_norm).await?;
                let id = sqlx::query_scalar!(
                    r#"INSERT INTO listens (user_id, played_at, title, artist, album, title_norm,
                                  artist_norm, duration_secs, isrc, recording_mbid, track_id)
                           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                           RETURNING id AS "id!: i64""#,
                    user_id,
                    l.played_at,
                    l.title,
                    l.artist,
                    l.album,
                    title_norm,
                    artist_norm,
                    l.duration_secs,
                    l.isrc,
                    l.recording_mbid,
                    track_id
                )
                .fetch_one(&mut *tx)
                .await?;
                out.added.push(Added {
                    played_at: l.played_at,
                    title: l.title.clone(),
                    artist: l.artist.clone(),
                    service: l.service,
                });
                id
            }
        };
        sqlx::query!(
            "INSERT INTO listen_sources (user_id, service, remote_key, listen_id) VALUES (?1, ?2, ?3, ?4)",
            user_id,
            l.service,
            l.remote_key,
            listen_id
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// The catalogue track a play is exactly of: by ISRC, then MusicBrainz recording id, then
/// normalised title and artist when exactly one track has them.
async fn catalogue_track(
    tx: &mut sqlx::SqliteConnection,
    l: &RemoteListen,
    title_norm: &str,
    artist_norm: &str,
) -> Result<Option<String>, sqlx::Error> {
    if let Some(isrc) = l.isrc.as_deref() {
        let ids = sqlx::query_scalar!("SELECT id FROM tracks WHERE isrc = ?1 LIMIT 2", isrc)
            .fetch_all(&mut *tx)
            .await?;
        if let [id] = ids.as_slice() {
            return Ok(Some(id.clone()));
        }
    }
    if let Some(mbid) = l.recording_mbid.as_deref() {
        let ids = sqlx::query_scalar!("SELECT id FROM tracks WHERE mbid = ?1 LIMIT 2", mbid)
            .fetch_all(&mut *tx)
            .await?;
        if let [id] = ids.as_slice() {
            return Ok(Some(id.clone()));
        }
    }
    let ids = sqlx::query_scalar!(
        "SELECT id FROM tracks WHERE artist_norm = ?1 AND title_norm = ?2 LIMIT 2",
        artist_norm,
        title_norm
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(match ids.as_slice() {
        [id] => Some(id.clone()),
        _ => None,
    })
}

/// One listen as pages and the API show it.
#[derive(Debug, Clone)]
pub struct ListenRow {
    pub id: i64,
    pub played_at: i64,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub track_id: Option<String>,
    /// The services that reported it, in name order.
    pub services: Vec<Service>,
}

/// Which listens to show.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub service: Option<Service>,
    /// Normalised artist name.
    pub artist_norm: Option<String>,
    /// Only listens before this (played_at, id), newest first.
    pub before: Option<(i64, i64)>,
}

/// The user's listens, newest first.
pub async fn list(
    db: &Db,
    user_id: UserId,
    filter: &ListFilter,
    limit: i64,
) -> Result<Vec<ListenRow>, sqlx::Error> {
    let service = filter.service.map(Service::as_str);
    let (before_at, before_id) = filter.before.unwrap_or((i64::MAX, i64::MAX));
    let rows = sqlx::query!(
        r#"SELECT l.id AS "id!: i64", l.played_at, l.title, l.artist, l.album, l.track_id,
                  (SELECT group_concat(s.service, ',') FROM
                      (SELECT DISTINCT service FROM listen_sources WHERE listen_id = l.id ORDER BY service) s)
                  AS "services: String"
           FROM listens l
           WHERE l.user_id = ?1
             AND (l.played_at < ?2 OR (l.played_at = ?2 AND l.id < ?3))
             AND (?4 IS NULL OR EXISTS (SELECT 1 FROM listen_sources x
                                         WHERE x.listen_id = l.id AND x.service = ?4))
             AND (?5 IS NULL OR l.artist_norm = ?5)
           ORDER BY l.played_at DESC, l.id DESC
           LIMIT ?6"#,
        user_id,
        before_at,
        before_id,
        service,
        filter.artist_norm,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ListenRow {
            id: r.id,
            played_at: r.played_at,
            title: r.title,
            artist: r.artist,
            album: r.album,
            track_id: r.track_id,
            services: r
                .services
                .unwrap_or_default()
                .split(',')
                .filter_map(Service::parse)
                .collect(),
        })
        .collect())
}

/// Catalogue and history totals.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub artists: i64,
    pub albums: i64,
    pub tracks: i64,
    pub listens: i64,
    pub playlists: i64,
}

pub async fn stats(db: &Db, user_id: UserId) -> Result<Stats, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT (SELECT COUNT(*) FROM artists) AS "artists!: i64",
                  (SELECT COUNT(*) FROM albums) AS "albums!: i64",
                  (SELECT COUNT(*) FROM tracks) AS "tracks!: i64",
                  (SELECT COUNT(*) FROM listens WHERE user_id = ?1) AS "listens!: i64",
                  (SELECT COUNT(*) FROM playlists WHERE user_id = ?1) AS "playlists!: i64""#,
        user_id
    )
    .fetch_one(db)
    .await?;
    Ok(Stats {
        artists: r.artists,
        albums: r.albums,
        tracks: r.tracks,
        listens: r.listens,
        playlists: r.playlists,
    })
}

/// How many listens each service reported.
pub async fn per_service(db: &Db, user_id: UserId) -> Result<Vec<(Service, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT service AS "service!: Service", COUNT(*) AS "n!: i64"
           FROM listen_sources WHERE user_id = ?1 GROUP BY service ORDER BY service"#,
        user_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.service, r.n)).collect())
}
