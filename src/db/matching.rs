//! What the matcher reads (the catalogue, the rows it has not looked at yet, the user's
//! decisions) and writes (each row's explanation, the review queue). Every write for one
//! identity touches the user's listens and playlist entries alike.

use crate::db::Db;
use crate::domain::identity::RemoteIdentity;
use crate::domain::ids::UserId;

/// A catalogue track as the matcher indexes it.
#[derive(Debug, Clone)]
pub struct CatalogueTrack {
    pub id: String,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub album_artist: Option<String>,
    pub duration_secs: Option<i64>,
    pub isrc: Option<String>,
    pub mbid: Option<String>,
}

pub async fn catalogue(db: &Db) -> Result<Vec<CatalogueTrack>, sqlx::Error> {
    sqlx::query_as!(
        CatalogueTrack,
        r#"SELECT t.id AS "id!", t.title, t.artist, t.album, a.artist AS "album_artist?",
                  t.duration_secs, t.isrc, t.mbid
           FROM tracks t LEFT JOIN albums a ON a.id = t.album_id"#
    )
    .fetch_all(db)
    .await
}

/// Users with listens or playlist entries the matcher has not looked at.
pub async fn users_pending(db: &Db) -> Result<Vec<UserId>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT user_id AS "user_id!: UserId" FROM listens WHERE match_method IS NULL
           UNION
           SELECT DISTINCT p.user_id FROM playlist_tracks pt JOIN playlists p ON p.id = pt.playlist_id
           WHERE pt.match_method IS NULL"#
    )
    .fetch_all(db)
    .await
}

/// One identity waiting for the matcher, with the best evidence any of its rows carries.
#[derive(Debug, Clone)]
pub struct Pending {
    pub artist_norm: String,
    pub title_norm: String,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_secs: Option<i64>,
    pub isrc: Option<String>,
    pub mbid: Option<String>,
}

impl Pending {
    pub fn identity(&self) -> RemoteIdentity {
        RemoteIdentity::new(self.artist_norm.clone(), self.title_norm.clone())
    }
}

pub async fn pending(db: &Db, user_id: UserId) -> Result<Vec<Pending>, sqlx::Error> {
    sqlx::query_as!(
        Pending,
        r#"SELECT artist_norm AS "artist_norm!", title_norm AS "title_norm!",
                  MAX(title) AS "title!: String", MAX(artist) AS "artist!: String",
                  MAX(album) AS "album!: String", MAX(duration_secs) AS "duration_secs?: i64",
                  MAX(isrc) AS "isrc?: String", MAX(mbid) AS "mbid?: String"
           FROM (SELECT artist_norm, title_norm, title, artist, album, duration_secs, isrc,
                        recording_mbid AS mbid
                 FROM listens WHERE user_id = ?1 AND match_method IS NULL
                 UNION ALL
                 SELECT pt.artist_norm, pt.title_norm, pt.title, pt.artist, pt.album,
                        pt.duration_secs, pt.isrc, pt.recording_mbid
                 FROM playlist_tracks pt JOIN playlists p ON p.id = pt.playlist_id
                 WHERE p.user_id = ?1 AND pt.match_method IS NULL)
           GROUP BY artist_norm, title_norm"#,
        user_id
    )
    .fetch_all(db)
    .await
}

/// The user's decisions: identity → the chosen track (None: not in the library).
pub async fn decisions(
    db: &Db,
    user_id: UserId,
) -> Result<Vec<(RemoteIdentity, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT artist_norm, title_norm, track_id FROM match_decisions WHERE user_id = ?1",
        user_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (RemoteIdentity::new(r.artist_norm, r.title_norm), r.track_id))
        .collect())
}

/// How one identity was matched, written to each of its rows.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub track_id: Option<String>,
    pub method: &'static str,
    pub score: Option<f64>,
    pub rule: &'static str,
    pub runner_up_id: Option<String>,
    pub runner_up_score: Option<f64>,
}

/// A case for the review queue.
#[derive(Debug, Clone)]
pub struct NewReview {
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_secs: Option<i64>,
    pub rule: &'static str,
    /// JSON array of {"track_id", "score"}.
    pub candidates: String,
}

/// One identity's result, to be written with others in one transaction.
#[derive(Debug, Clone)]
pub struct MatchResult {
    pub identity: RemoteIdentity,
    pub explanation: Explanation,
    pub review: Option<NewReview>,
}

/// Write the results of a batch of identities in one transaction; only rows the matcher had not
/// looked at change. The number of rows written.
pub async fn write_results(
    db: &Db,
    user_id: UserId,
    results: &[MatchResult],
    now: i64,
) -> Result<u64, sqlx::Error> {
    let mut tx = crate::db::begin_write(db).await?;
    let mut rows = 0;
    for r in results {
        rows += apply(&mut tx, user_id, &r.identity, &r.explanation, true).await?;
        let (artist_norm, title_norm) = (&r.identity.artist_norm, &r.identity.title_norm);
        match &r.review {
            Some(review) => {
                sqlx::query!(
                    "INSERT INTO match_reviews (user_id, artist_norm, title_norm, title, artist,
                         album, duration_secs, rule, candidates, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (user_id, artist_norm, title_norm) DO UPDATE SET title = excluded.title,
                         artist = excluded.artist, album = excluded.album,
                         duration_secs = excluded.duration_secs, rule = excluded.rule,
                         candidates = excluded.candidates",
                    user_id,
                    artist_norm,
                    title_norm,
                    review.title,
                    review.artist,
                    review.album,
                    review.duration_secs,
                    review.rule,
                    review.candidates,
                    now
                )
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query!(
                    "DELETE FROM match_reviews
                     WHERE user_id = ?1 AND artist_norm = ?2 AND title_norm = ?3",
                    user_id,
                    artist_norm,
                    title_norm
                )
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(rows)
}

/// Write `e` to the user's rows of `identity`: only those not looked at yet when
/// `only_pending`, else all of them (a decision of the user's).
async fn apply(
    tx: &mut sqlx::SqliteConnection,
    user_id: UserId,
    identity: &RemoteIdentity,
    e: &Explanation,
    only_pending: bool,
) -> Result<u64, sqlx::Error> {
    let listens = sqlx::query!(
        "UPDATE listens SET track_id = ?4, match_method = ?5, match_score = ?6, match_rule = ?7,
             runner_up_id = ?8, runner_up_score = ?9
         WHERE user_id = ?1 AND artist_norm = ?2 AND title_norm = ?3
           AND (match_method IS NULL OR (NOT ?10 AND match_method <> 'navidrome'))",
        user_id,
        identity.artist_norm,
        identity.title_norm,
        e.track_id,
        e.method,
        e.score,
        e.rule,
        e.runner_up_id,
        e.runner_up_score,
        only_pending
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let entries = sqlx::query!(
        "UPDATE playlist_tracks SET track_id = ?4, match_method = ?5, match_score = ?6,
             match_rule = ?7, runner_up_id = ?8, runner_up_score = ?9
         WHERE artist_norm = ?2 AND title_norm = ?3
           AND playlist_id IN (SELECT id FROM playlists WHERE user_id = ?1)
           AND (match_method IS NULL OR (NOT ?10 AND match_method <> 'navidrome'))",
        user_id,
        identity.artist_norm,
        identity.title_norm,
        e.track_id,
        e.method,
        e.score,
        e.rule,
        e.runner_up_id,
        e.runner_up_score,
        only_pending
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(listens + entries)
}

/// Have the matcher look at every row again (the catalogue changed: new songs may resolve old
/// misses, a better candidate may have arrived). Decisions are re-applied from their table.
pub async fn reset_all(db: &Db) -> Result<u64, sqlx::Error> {
    let mut tx = crate::db::begin_write(db).await?;
    let a =
        sqlx::query!("UPDATE listens SET match_method = NULL WHERE match_method <> 'navidrome'")
            .execute(&mut *tx)
            .await?
            .rows_affected();
    let b = sqlx::query!(
        "UPDATE playlist_tracks SET match_method = NULL WHERE match_method <> 'navidrome'"
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(a + b)
}

/// A case in the review queue.
#[derive(Debug, Clone)]
pub struct Review {
    pub id: i64,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_secs: Option<i64>,
    pub rule: String,
    pub candidates: String,
    /// How many of the user's listens and playlist entries wait on it.
    pub listens: i64,
    pub entries: i64,
}

/// The user's open cases, those with the most plays first.
pub async fn reviews(
    db: &Db,
    user_id: UserId,
    limit: i64,
    offset: i64,
) -> Result<Vec<Review>, sqlx::Error> {
    sqlx::query_as!(
        Review,
        r#"SELECT r.id AS "id!", r.title, r.artist, r.album, r.duration_secs, r.rule, r.candidates,
                  (SELECT COUNT(*) FROM listens l
                    WHERE l.user_id = r.user_id AND l.match_method = 'review'
                      AND l.artist_norm = r.artist_norm AND l.title_norm = r.title_norm)
                  AS "listens!: i64",
                  (SELECT COUNT(*) FROM playlist_tracks pt JOIN playlists p ON p.id = pt.playlist_id
                    WHERE p.user_id = r.user_id AND pt.match_method = 'review'
                      AND pt.artist_norm = r.artist_norm AND pt.title_norm = r.title_norm)
                  AS "entries!: i64"
           FROM match_reviews r WHERE r.user_id = ?1
           ORDER BY 8 DESC, 9 DESC, r.id
           LIMIT ?2 OFFSET ?3"#,
        user_id,
        limit,
        offset
    )
    .fetch_all(db)
    .await
}

pub async fn review(db: &Db, user_id: UserId, id: i64) -> Result<Option<Review>, sqlx::Error> {
    sqlx::query_as!(
        Review,
        r#"SELECT r.id AS "id!", r.title, r.artist, r.album, r.duration_secs, r.rule,
                  r.candidates, 0 AS "listens!: i64", 0 AS "entries!: i64"
           FROM match_reviews r WHERE r.user_id = ?1 AND r.id = ?2"#,
        user_id,
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn count_reviews(db: &Db, user_id: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!: i64" FROM match_reviews WHERE user_id = ?1"#,
        user_id
    )
    .fetch_one(db)
    .await
}

/// Record the user's decision for a reviewed case and apply it to every row of its identity
/// at once; the case leaves the queue. False when there is no such case.
pub async fn decide(
    db: &Db,
    user_id: UserId,
    review_id: i64,
    track_id: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = crate::db::begin_write(db).await?;
    let Some(r) = sqlx::query!(
        "SELECT artist_norm, title_norm, title, artist FROM match_reviews
         WHERE user_id = ?1 AND id = ?2",
        user_id,
        review_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(false);
    };
    let identity = RemoteIdentity::new(r.artist_norm, r.title_norm);
    record_decision(
        &mut tx, user_id, &identity, &r.title, &r.artist, track_id, now,
    )
    .await?;
    sqlx::query!("DELETE FROM match_reviews WHERE id = ?1", review_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

/// Record a decision for any identity (from a playlist or listen page) and apply it.
pub async fn decide_identity(
    db: &Db,
    user_id: UserId,
    identity: &RemoteIdentity,
    shown: (&str, &str),
    track_id: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = crate::db::begin_write(db).await?;
    record_decision(&mut tx, user_id, identity, shown.0, shown.1, track_id, now).await?;
    sqlx::query!(
        "DELETE FROM match_reviews WHERE user_id = ?1 AND artist_norm = ?2 AND title_norm = ?3",
        user_id,
        identity.artist_norm,
        identity.title_norm
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

async fn record_decision(
    tx: &mut sqlx::SqliteConnection,
    user_id: UserId,
    identity: &RemoteIdentity,
    title: &str,
    artist: &str,
    track_id: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO match_decisions (user_id, artist_norm, title_norm, title, artist, track_id,
             decided_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (user_id, artist_norm, title_norm) DO UPDATE SET
             track_id = excluded.track_id, title = excluded.title, artist = excluded.artist,
             decided_at = excluded.decided_at",
        user_id,
        identity.artist_norm,
        identity.title_norm,
        title,
        artist,
        track_id,
        now
    )
    .execute(&mut *tx)
    .await?;
    apply(tx, user_id, identity, &decided(track_id), false).await?;
    Ok(())
}

/// The explanation a decision of the user's writes.
pub fn decided(track_id: Option<&str>) -> Explanation {
    Explanation {
        track_id: track_id.map(str::to_owned),
        method: if track_id.is_some() { "manual" } else { "none" },
        score: None,
        rule: if track_id.is_some() {
            "user_mapped"
        } else {
            "user_not_in_library"
        },
        runner_up_id: None,
        runner_up_score: None,
    }
}

/// A decision of the user's, for the list with its undo button.
#[derive(Debug, Clone)]
pub struct Decision {
    pub id: i64,
    pub title: String,
    pub artist: String,
    pub track_id: Option<String>,
    pub track_title: Option<String>,
    pub track_artist: Option<String>,
    pub decided_at: i64,
}

pub async fn recent_decisions(
    db: &Db,
    user_id: UserId,
    limit: i64,
) -> Result<Vec<Decision>, sqlx::Error> {
    sqlx::query_as!(
        Decision,
        r#"SELECT d.id AS "id!", d.title, d.artist, d.track_id, t.title AS "track_title?",
                  t.artist AS "track_artist?", d.decided_at
           FROM match_decisions d LEFT JOIN tracks t ON t.id = d.track_id
           WHERE d.user_id = ?1 ORDER BY d.decided_at DESC, d.id DESC LIMIT ?2"#,
        user_id,
        limit
    )
    .fetch_all(db)
    .await
}

/// Take a decision back: its rows wait for the matcher again. False when there is none.
pub async fn undo(db: &Db, user_id: UserId, decision_id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = crate::db::begin_write(db).await?;
    let Some(identity) = sqlx::query!(
        "DELETE FROM match_decisions WHERE user_id = ?1 AND id = ?2
         RETURNING artist_norm, title_norm",
        user_id,
        decision_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| RemoteIdentity::new(r.artist_norm, r.title_norm)) else {
        return Ok(false);
    };
    {
        sqlx::query!(
            "UPDATE listens SET track_id = NULL, match_method = NULL
             WHERE user_id = ?1 AND artist_norm = ?2 AND title_norm = ?3
               AND match_method IS NOT 'navidrome'",
            user_id,
            identity.artist_norm,
            identity.title_norm
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE playlist_tracks SET track_id = NULL, match_method = NULL
             WHERE artist_norm = ?2 AND title_norm = ?3 AND match_method IS NOT 'navidrome'
               AND playlist_id IN (SELECT id FROM playlists WHERE user_id = ?1)",
            user_id,
            identity.artist_norm,
            identity.title_norm
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Shown details of catalogue tracks by id (review candidates).
#[derive(Debug, Clone)]
pub struct TrackBrief {
    pub id: String,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_secs: Option<i64>,
}

pub async fn briefs(db: &Db, ids: &[String]) -> Result<Vec<TrackBrief>, sqlx::Error> {
    let ids = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
    sqlx::query_as!(
        TrackBrief,
        r#"SELECT id AS "id!", title, artist, album, duration_secs FROM tracks
           WHERE id IN (SELECT value FROM json_each(?1))"#,
        ids
    )
    .fetch_all(db)
    .await
}

pub async fn track_exists(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query_scalar!(r#"SELECT 1 AS "x!: i64" FROM tracks WHERE id = ?1"#, id)
            .fetch_optional(db)
            .await?
            .is_some(),
    )
}
