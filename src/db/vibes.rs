//! The AI DJ's tables: AI settings and token use, personas, mixtapes and their tracks, and the
//! library reads that make a mixtape's candidate pool. Every read of a user's row is scoped by
//! `user_id`, so another user's id is "not found".

use crate::db::Db;
use crate::domain::ids::UserId;

// ---------------------------------------------------------------- AI settings and token use

#[derive(Debug, Clone, Default)]
pub struct AiSettingsRow {
    pub base_url: String,
    pub model: String,
    pub api_key_enc: Option<String>,
    pub daily_token_budget: Option<i64>,
}

pub async fn ai_settings(db: &Db, user_id: UserId) -> Result<Option<AiSettingsRow>, sqlx::Error> {
    sqlx::query_as!(
        AiSettingsRow,
        "SELECT base_url, model, api_key_enc, daily_token_budget FROM ai_settings WHERE user_id = ?1",
        user_id
    )
    .fetch_optional(db)
    .await
}

/// Store the endpoint, model and budget (the key is kept as it is).
pub async fn save_ai_settings(
    db: &Db,
    user_id: UserId,
    base_url: &str,
    model: &str,
    budget: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO ai_settings (user_id, base_url, model, daily_token_budget, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(user_id) DO UPDATE SET base_url = excluded.base_url, model = excluded.model,
             daily_token_budget = excluded.daily_token_budget, updated_at = excluded.updated_at",
        user_id,
        base_url,
        model,
        budget,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Store (sealed) or clear (`None`) the key entered in the UI.
pub async fn set_ai_key(
    db: &Db,
    user_id: UserId,
    api_key_enc: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO ai_settings (user_id, api_key_enc, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(user_id) DO UPDATE SET api_key_enc = excluded.api_key_enc,
             updated_at = excluded.updated_at",
        user_id,
        api_key_enc,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Add one call's tokens to the user's use on `day` (Unix seconds / 86400).
pub async fn add_usage(
    db: &Db,
    user_id: UserId,
    day: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO llm_usage (user_id, day, calls, prompt_tokens, completion_tokens)
         VALUES (?1, ?2, 1, ?3, ?4)
         ON CONFLICT(user_id, day) DO UPDATE SET calls = calls + 1,
             prompt_tokens = prompt_tokens + excluded.prompt_tokens,
             completion_tokens = completion_tokens + excluded.completion_tokens",
        user_id,
        day,
        prompt_tokens,
        completion_tokens
    )
    .execute(db)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub calls: i64,
    pub tokens: i64,
}

pub async fn usage(db: &Db, user_id: UserId, day: i64) -> Result<Usage, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT calls AS "calls!: i64", prompt_tokens + completion_tokens AS "tokens!: i64"
           FROM llm_usage WHERE user_id = ?1 AND day = ?2"#,
        user_id,
        day
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map_or_else(Usage::default, |r| Usage {
        calls: r.calls,
        tokens: r.tokens,
    }))
}

// ---------------------------------------------------------------- personas

#[derive(Debug, Clone)]
pub struct PersonaRow {
    pub id: i64,
    pub name: String,
    pub personality: String,
    pub genres_include: String,
    pub genres_exclude: String,
    pub artists_include: String,
    pub artists_exclude: String,
    pub vibes: String,
    pub mixtapes: i64,
}

pub async fn personas(db: &Db, user_id: UserId) -> Result<Vec<PersonaRow>, sqlx::Error> {
    sqlx::query_as!(
        PersonaRow,
        r#"SELECT p.id AS "id!", p.name, p.personality, p.genres_include, p.genres_exclude,
                  p.artists_include, p.artists_exclude, p.vibes,
                  (SELECT COUNT(*) FROM mixtapes m WHERE m.dj_id = p.id) AS "mixtapes!: i64"
           FROM dj_personas p WHERE p.user_id = ?1 ORDER BY p.id"#,
        user_id
    )
    .fetch_all(db)
    .await
}

pub async fn persona(db: &Db, user_id: UserId, id: i64) -> Result<Option<PersonaRow>, sqlx::Error> {
    sqlx::query_as!(
        PersonaRow,
        r#"SELECT p.id AS "id!", p.name, p.personality, p.genres_include, p.genres_exclude,
                  p.artists_include, p.artists_exclude, p.vibes,
                  (SELECT COUNT(*) FROM mixtapes m WHERE m.dj_id = p.id) AS "mixtapes!: i64"
           FROM dj_personas p WHERE p.user_id = ?1 AND p.id = ?2"#,
        user_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// The fields of a persona, as stored.
#[derive(Debug, Clone, Copy)]
pub struct PersonaFields<'a> {
    pub name: &'a str,
    pub personality: &'a str,
    pub genres_include: &'a str,
    pub genres_exclude: &'a str,
    pub artists_include: &'a str,
    pub artists_exclude: &'a str,
    pub vibes: &'a str,
}

/// Insert a persona; `Ok(None)` when the user already has one of that name.
pub async fn insert_persona(
    conn: &mut sqlx::SqliteConnection,
    user_id: UserId,
    p: PersonaFields<'_>,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let r = sqlx::query!(
        "INSERT INTO dj_personas (user_id, name, personality, genres_include, genres_exclude,
             artists_include, artists_exclude, vibes, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
         ON CONFLICT(user_id, name) DO NOTHING",
        user_id,
        p.name,
        p.personality,
        p.genres_include,
        p.genres_exclude,
        p.artists_include,
        p.artists_exclude,
        p.vibes,
        now
    )
    .execute(&mut *conn)
    .await?;
    Ok((r.rows_affected() == 1).then(|| r.last_insert_rowid()))
}

/// Update a persona; `Ok(false)` when it is not the user's, `Err` unique violation on a name
/// clash (the caller checks).
pub async fn update_persona(
    db: &Db,
    user_id: UserId,
    id: i64,
    p: PersonaFields<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE dj_personas SET name = ?3, personality = ?4, genres_include = ?5,
             genres_exclude = ?6, artists_include = ?7, artists_exclude = ?8, vibes = ?9,
             updated_at = ?10
         WHERE user_id = ?1 AND id = ?2",
        user_id,
        id,
        p.name,
        p.personality,
        p.genres_include,
        p.genres_exclude,
        p.artists_include,
        p.artists_exclude,
        p.vibes,
        now
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Delete a persona no mixtape uses. `Ok(false)` when it is not the user's or still in use.
pub async fn delete_persona(db: &Db, user_id: UserId, id: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM dj_personas WHERE user_id = ?1 AND id = ?2
           AND NOT EXISTS (SELECT 1 FROM mixtapes m WHERE m.dj_id = ?2)",
        user_id,
        id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Mark the starters as given to this user; `true` the first time only.
pub async fn mark_seeded(
    conn: &mut sqlx::SqliteConnection,
    user_id: UserId,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "INSERT INTO vibes_seeded (user_id, seeded_at) VALUES (?1, ?2)
         ON CONFLICT(user_id) DO NOTHING",
        user_id,
        now
    )
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

// ---------------------------------------------------------------- mixtapes

#[derive(Debug, Clone)]
pub struct MixtapeRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub dj_id: i64,
    pub dj_name: String,
    pub max_tracks: i64,
    pub seed_type: Option<String>,
    pub seed_id: Option<String>,
    pub schedule: String,
    pub status: String,
    pub error: String,
    pub intro: String,
    pub outro: String,
    pub model: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub generated_at: Option<i64>,
    pub generation_ms: Option<i64>,
    pub navidrome_playlist_id: Option<String>,
    pub saved_at: Option<i64>,
    pub created_at: i64,
    pub source_playlist_id: Option<i64>,
    pub enhance_add: Option<i64>,
    pub track_count: i64,
}

pub async fn mixtapes(db: &Db, user_id: UserId) -> Result<Vec<MixtapeRow>, sqlx::Error> {
    sqlx::query_as!(
        MixtapeRow,
        r#"SELECT m.id AS "id!", m.user_id, m.name, m.dj_id, d.name AS dj_name, m.max_tracks,
                  m.seed_type, m.seed_id, m.schedule, m.status, m.error, m.intro, m.outro,
                  m.model, m.prompt_tokens, m.completion_tokens, m.generated_at,
                  m.generation_ms, m.navidrome_playlist_id, m.saved_at, m.created_at,
                  m.source_playlist_id, m.enhance_add,
                  (SELECT COUNT(*) FROM mixtape_tracks t WHERE t.mixtape_id = m.id)
                      AS "track_count!: i64"
           FROM mixtapes m JOIN dj_personas d ON d.id = m.dj_id
           WHERE m.user_id = ?1 ORDER BY m.id DESC"#,
        user_id
    )
    .fetch_all(db)
    .await
}

pub async fn mixtape(db: &Db, user_id: UserId, id: i64) -> Result<Option<MixtapeRow>, sqlx::Error> {
    sqlx::query_as!(
        MixtapeRow,
        r#"SELECT m.id AS "id!", m.user_id, m.name, m.dj_id, d.name AS dj_name, m.max_tracks,
                  m.seed_type, m.seed_id, m.schedule, m.status, m.error, m.intro, m.outro,
                  m.model, m.prompt_tokens, m.completion_tokens, m.generated_at,
                  m.generation_ms, m.navidrome_playlist_id, m.saved_at, m.created_at,
                  m.source_playlist_id, m.enhance_add,
                  (SELECT COUNT(*) FROM mixtape_tracks t WHERE t.mixtape_id = m.id)
                      AS "track_count!: i64"
           FROM mixtapes m JOIN dj_personas d ON d.id = m.dj_id
           WHERE m.user_id = ?1 AND m.id = ?2"#,
        user_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// The stored prompt of a mixtape (shown on request only).
pub async fn mixtape_prompt(
    db: &Db,
    user_id: UserId,
    id: i64,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT prompt FROM mixtapes WHERE user_id = ?1 AND id = ?2",
        user_id,
        id
    )
    .fetch_optional(db)
    .await
}

#[derive(Debug, Clone, Copy)]
pub struct NewMixtape<'a> {
    pub name: &'a str,
    pub dj_id: i64,
    pub max_tracks: i64,
    pub seed_type: Option<&'a str>,
    pub seed_id: Option<&'a str>,
    pub schedule: &'a str,
}

/// Insert a mixtape for one of the user's own DJs; `Ok(None)` when the DJ is not theirs.
pub async fn insert_mixtape(
    db: &Db,
    user_id: UserId,
    m: NewMixtape<'_>,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let r = sqlx::query!(
        "INSERT INTO mixtapes (user_id, name, dj_id, max_tracks, seed_type, seed_id, schedule,
             created_at, updated_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8
         WHERE EXISTS (SELECT 1 FROM dj_personas WHERE id = ?3 AND user_id = ?1)",
        user_id,
        m.name,
        m.dj_id,
        m.max_tracks,
        m.seed_type,
        m.seed_id,
        m.schedule,
        now
    )
    .execute(db)
    .await?;
    Ok((r.rows_affected() == 1).then(|| r.last_insert_rowid()))
}

/// An enhancement of one of the user's imported playlists, as a mixtape; `Ok(None)` when the
/// DJ or the playlist is not theirs. `navidrome_playlist_id` is set when the result is to be
/// written back into that (Navidrome) playlist.
#[allow(clippy::too_many_arguments)]
pub async fn insert_enhancement(
    db: &Db,
    user_id: UserId,
    name: &str,
    dj_id: i64,
    playlist_id: i64,
    add: i64,
    max_tracks: i64,
    navidrome_playlist_id: Option<&str>,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let r = sqlx::query!(
        "INSERT INTO mixtapes (user_id, name, dj_id, max_tracks, source_playlist_id, enhance_add,
             navidrome_playlist_id, created_at, updated_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8
         WHERE EXISTS (SELECT 1 FROM dj_personas WHERE id = ?3 AND user_id = ?1)
           AND EXISTS (SELECT 1 FROM playlists WHERE id = ?5 AND user_id = ?1)",
        user_id,
        name,
        dj_id,
        max_tracks,
        playlist_id,
        add,
        navidrome_playlist_id,
        now
    )
    .execute(db)
    .await?;
    Ok((r.rows_affected() == 1).then(|| r.last_insert_rowid()))
}

/// One of the user's imported playlists, as an enhancement needs it.
#[derive(Debug, Clone)]
pub struct SourcePlaylist {
    pub id: i64,
    pub name: String,
    pub service: String,
    pub remote_id: String,
    pub in_library: i64,
}

pub async fn source_playlist(
    db: &Db,
    user_id: UserId,
    id: i64,
) -> Result<Option<SourcePlaylist>, sqlx::Error> {
    sqlx::query_as!(
        SourcePlaylist,
        r#"SELECT p.id AS "id!", p.name, p.service, p.remote_id,
                  (SELECT COUNT(*) FROM playlist_tracks t
                    WHERE t.playlist_id = p.id AND t.track_id IS NOT NULL) AS "in_library!: i64"
           FROM playlists p WHERE p.user_id = ?1 AND p.id = ?2"#,
        user_id,
        id
    )
    .fetch_optional(db)
    .await
}

/// The library tracks of one of the user's playlists, in playlist order (each once).
pub async fn pool_of_playlist(
    db: &Db,
    user_id: UserId,
    since: i64,
    playlist_id: i64,
) -> Result<Vec<PoolTrack>, sqlx::Error> {
    sqlx::query_as!(
        PoolTrack,
        r#"SELECT t.id AS "id!", t.title AS "title!", t.artist AS "artist!",
                  t.album AS "album!", t.artist_id, t.album_id, t.genres AS "genres!",
                  (SELECT COUNT(*) FROM listens l
                    WHERE l.user_id = ?1 AND l.track_id = t.id AND l.played_at >= ?2)
                      AS "plays!: i64"
           FROM playlist_tracks pt
           JOIN playlists p ON p.id = pt.playlist_id AND p.user_id = ?1
           JOIN tracks t ON t.id = pt.track_id
           WHERE pt.playlist_id = ?3
           GROUP BY t.id ORDER BY MIN(pt.position)"#,
        user_id,
        since,
        playlist_id
    )
    .fetch_all(db)
    .await
}

/// Change a mixtape's schedule.
pub async fn set_schedule(
    db: &Db,
    user_id: UserId,
    id: i64,
    schedule: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE mixtapes SET schedule = ?3, updated_at = ?4 WHERE user_id = ?1 AND id = ?2",
        user_id,
        id,
        schedule,
        now
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete_mixtape(db: &Db, user_id: UserId, id: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM mixtapes WHERE user_id = ?1 AND id = ?2",
        user_id,
        id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Queue a generation (unless one is already queued or running): `true` when queued now.
pub async fn queue(db: &Db, user_id: UserId, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE mixtapes SET status = 'queued', error = '', updated_at = ?3
         WHERE user_id = ?1 AND id = ?2 AND status NOT IN ('queued', 'running')",
        user_id,
        id,
        now
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether the Vibes job has anything to do: a queued or running mixtape, or a scheduled one
/// that is due. Read-only, so an idle run takes no write lock.
pub async fn has_work(db: &Db, now: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM mixtapes
             WHERE status IN ('queued', 'running')
                OR (status IN ('new', 'ready', 'failed')
                    AND ((schedule = 'daily' AND COALESCE(generated_at, created_at) + 86400 <= ?1)
                      OR (schedule = 'weekly' AND COALESCE(generated_at, created_at) + 604800 <= ?1)
                      OR (schedule = 'monthly' AND COALESCE(generated_at, created_at) + 2592000 <= ?1))))
           AS "pending!: bool""#,
        now
    )
    .fetch_one(db)
    .await
}

/// Queue every scheduled mixtape whose next generation is due; how many.
pub async fn queue_due(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE mixtapes SET status = 'queued', error = '', updated_at = ?1
         WHERE status IN ('new', 'ready', 'failed')
           AND ((schedule = 'daily' AND COALESCE(generated_at, created_at) + 86400 <= ?1)
             OR (schedule = 'weekly' AND COALESCE(generated_at, created_at) + 604800 <= ?1)
             OR (schedule = 'monthly' AND COALESCE(generated_at, created_at) + 2592000 <= ?1))",
        now
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// The queued mixtapes, oldest request first: (mixtape id, user id).
pub async fn queued(db: &Db) -> Result<Vec<(i64, UserId)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", user_id AS "user_id: UserId" FROM mixtapes
           WHERE status = 'queued' ORDER BY updated_at, id"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.user_id)).collect())
}

/// Mixtapes left running by a stopped process go back to the queue.
pub async fn requeue_running(db: &Db) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!("UPDATE mixtapes SET status = 'queued' WHERE status = 'running'")
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

pub async fn set_status(
    db: &Db,
    id: i64,
    status: &str,
    error: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE mixtapes SET status = ?2, error = ?3, updated_at = ?4 WHERE id = ?1",
        id,
        status,
        error,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

/// One track of a generated mixtape, as stored.
#[derive(Debug, Clone)]
pub struct MixtapeTrackRow {
    pub position: i64,
    pub track_id: Option<String>,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub reason: String,
}

/// A generation's result.
#[derive(Debug, Clone)]
pub struct Generated<'a> {
    pub intro: &'a str,
    pub outro: &'a str,
    pub model: &'a str,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub generation_ms: i64,
    pub prompt: &'a str,
    pub tracks: &'a [MixtapeTrackRow],
}

/// Replace a mixtape's tracks and notes with a new generation, in one transaction.
pub async fn store_generation(
    db: &Db,
    id: i64,
    g: &Generated<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = crate::db::begin_write(db).await?;
    sqlx::query!("DELETE FROM mixtape_tracks WHERE mixtape_id = ?1", id)
        .execute(&mut *tx)
        .await?;
    for t in g.tracks {
        sqlx::query!(
            "INSERT INTO mixtape_tracks (mixtape_id, position, track_id, title, artist, album, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            id,
            t.position,
            t.track_id,
            t.title,
            t.artist,
            t.album,
            t.reason
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        "UPDATE mixtapes SET status = 'ready', error = '', intro = ?2, outro = ?3, model = ?4,
             prompt_tokens = ?5, completion_tokens = ?6, generation_ms = ?7, prompt = ?8,
             generated_at = ?9, updated_at = ?9
         WHERE id = ?1",
        id,
        g.intro,
        g.outro,
        g.model,
        g.prompt_tokens,
        g.completion_tokens,
        g.generation_ms,
        g.prompt,
        now
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

pub async fn mixtape_tracks(db: &Db, id: i64) -> Result<Vec<MixtapeTrackRow>, sqlx::Error> {
    sqlx::query_as!(
        MixtapeTrackRow,
        "SELECT position, track_id, title, artist, album, reason FROM mixtape_tracks
         WHERE mixtape_id = ?1 ORDER BY position",
        id
    )
    .fetch_all(db)
    .await
}

/// Remember the Navidrome playlist a mixtape is written to.
pub async fn set_navidrome_playlist(
    db: &Db,
    id: i64,
    playlist_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE mixtapes SET navidrome_playlist_id = ?2, saved_at = ?3 WHERE id = ?1",
        id,
        playlist_id,
        now
    )
    .execute(db)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- the candidate pool

/// A library track with its recent plays, as the pool needs it.
#[derive(Debug, Clone)]
pub struct PoolTrack {
    pub id: String,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub artist_id: Option<String>,
    pub album_id: Option<String>,
    /// JSON array of strings.
    pub genres: String,
    pub plays: i64,
}

/// A random sample of the whole library (`ORDER BY random()`), with plays since `since`.
pub async fn pool_random(
    db: &Db,
    user_id: UserId,
    since: i64,
    limit: i64,
) -> Result<Vec<PoolTrack>, sqlx::Error> {
    sqlx::query_as!(
        PoolTrack,
        r#"SELECT t.id AS "id!", t.title, t.artist, t.album, t.artist_id, t.album_id, t.genres,
                  (SELECT COUNT(*) FROM listens l
                    WHERE l.user_id = ?1 AND l.track_id = t.id AND l.played_at >= ?2)
                      AS "plays!: i64"
           FROM tracks t
           WHERE t.id IN (SELECT id FROM tracks ORDER BY random() LIMIT ?3)"#,
        user_id,
        since,
        limit
    )
    .fetch_all(db)
    .await
}

/// The user's most played library tracks since `since`.
pub async fn pool_played(
    db: &Db,
    user_id: UserId,
    since: i64,
    limit: i64,
) -> Result<Vec<PoolTrack>, sqlx::Error> {
    sqlx::query_as!(
        PoolTrack,
        r#"SELECT t.id AS "id!", t.title, t.artist, t.album, t.artist_id, t.album_id, t.genres,
                  p.plays AS "plays!: i64"
           FROM (SELECT track_id, COUNT(*) AS plays FROM listens
                  WHERE user_id = ?1 AND played_at >= ?2 AND track_id IS NOT NULL
                  GROUP BY track_id ORDER BY plays DESC LIMIT ?3) p
           JOIN tracks t ON t.id = p.track_id"#,
        user_id,
        since,
        limit
    )
    .fetch_all(db)
    .await
}

/// Library tracks by id (`ids_json`: a JSON array of ids).
pub async fn pool_by_ids(
    db: &Db,
    user_id: UserId,
    since: i64,
    ids_json: &str,
) -> Result<Vec<PoolTrack>, sqlx::Error> {
    sqlx::query_as!(
        PoolTrack,
        r#"SELECT t.id AS "id!", t.title, t.artist, t.album, t.artist_id, t.album_id, t.genres,
                  (SELECT COUNT(*) FROM listens l
                    WHERE l.user_id = ?1 AND l.track_id = t.id AND l.played_at >= ?2)
                      AS "plays!: i64"
           FROM tracks t WHERE t.id IN (SELECT value FROM json_each(?3))"#,
        user_id,
        since,
        ids_json
    )
    .fetch_all(db)
    .await
}

/// Library tracks by one of the named artists (`norms_json`: normalised names), sampled.
pub async fn pool_by_artists(
    db: &Db,
    user_id: UserId,
    since: i64,
    norms_json: &str,
    limit: i64,
) -> Result<Vec<PoolTrack>, sqlx::Error> {
    sqlx::query_as!(
        PoolTrack,
        r#"SELECT t.id AS "id!", t.title, t.artist, t.album, t.artist_id, t.album_id, t.genres,
                  (SELECT COUNT(*) FROM listens l
                    WHERE l.user_id = ?1 AND l.track_id = t.id AND l.played_at >= ?2)
                      AS "plays!: i64"
           FROM tracks t WHERE t.artist_norm IN (SELECT value FROM json_each(?3))
           ORDER BY random() LIMIT ?4"#,
        user_id,
        since,
        norms_json,
        limit
    )
    .fetch_all(db)
    .await
}

/// Library tracks of an artist (by id) or of an album (by id), sampled.
pub async fn pool_of_artist_or_album(
    db: &Db,
    user_id: UserId,
    since: i64,
    artist_id: Option<&str>,
    album_id: Option<&str>,
    limit: i64,
) -> Result<Vec<PoolTrack>, sqlx::Error> {
    sqlx::query_as!(
        PoolTrack,
        r#"SELECT t.id AS "id!", t.title, t.artist, t.album, t.artist_id, t.album_id, t.genres,
                  (SELECT COUNT(*) FROM listens l
                    WHERE l.user_id = ?1 AND l.track_id = t.id AND l.played_at >= ?2)
                      AS "plays!: i64"
           FROM tracks t WHERE (?3 IS NOT NULL AND t.artist_id = ?3)
                            OR (?4 IS NOT NULL AND t.album_id = ?4)
           ORDER BY random() LIMIT ?5"#,
        user_id,
        since,
        artist_id,
        album_id,
        limit
    )
    .fetch_all(db)
    .await
}

/// The user's most played songs since `since` (any source, in the library or not).
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub title: String,
    pub artist: String,
    pub plays: i64,
}

pub async fn history(
    db: &Db,
    user_id: UserId,
    since: i64,
    limit: i64,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    sqlx::query_as!(
        HistoryRow,
        r#"SELECT MAX(title) AS "title!: String", MAX(artist) AS "artist!: String",
                  COUNT(*) AS "plays!: i64"
           FROM listens WHERE user_id = ?1 AND played_at >= ?2
           GROUP BY artist_norm, title_norm ORDER BY 3 DESC, 1 LIMIT ?3"#,
        user_id,
        since,
        limit
    )
    .fetch_all(db)
    .await
}

/// Artist and album names for a seed.
pub async fn artist_name(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT name FROM artists WHERE id = ?1", id)
        .fetch_optional(db)
        .await
}

pub async fn album_name(db: &Db, id: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let r = sqlx::query!("SELECT name, artist FROM albums WHERE id = ?1", id)
        .fetch_optional(db)
        .await?;
    Ok(r.map(|r| (r.name, r.artist)))
}

/// Artists of the library for the mixtape form's seed picker (name order, bounded).
pub async fn seed_artists(db: &Db, limit: i64) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", name FROM artists ORDER BY name_norm LIMIT ?1"#,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}

// ---------------------------------------------------------------- similar artists

/// Other artists' plays within an hour of the user's plays of `artist_id` (its latest 500).
pub async fn played_near(
    db: &Db,
    user_id: UserId,
    artist_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT t2.artist_id AS "artist_id!: String", COUNT(*) AS "n!: i64"
           FROM (SELECT l.played_at FROM listens l JOIN tracks t ON t.id = l.track_id
                  WHERE l.user_id = ?1 AND t.artist_id = ?2
                  ORDER BY l.played_at DESC LIMIT 500) a
           JOIN listens l2 ON l2.user_id = ?1
                          AND l2.played_at BETWEEN a.played_at - 3600 AND a.played_at + 3600
           JOIN tracks t2 ON t2.id = l2.track_id
           WHERE t2.artist_id IS NOT NULL AND t2.artist_id <> ?2
           GROUP BY t2.artist_id ORDER BY 2 DESC LIMIT 100"#,
        user_id,
        artist_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.artist_id, r.n)).collect())
}

/// Other artists in the same playlists of the user as `artist_id`: how many playlists.
pub async fn playlist_neighbours(
    db: &Db,
    user_id: UserId,
    artist_id: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT t2.artist_id AS "artist_id!: String", COUNT(DISTINCT pt2.playlist_id) AS "n!: i64"
           FROM playlists p
           JOIN playlist_tracks pt1 ON pt1.playlist_id = p.id
           JOIN tracks t1 ON t1.id = pt1.track_id AND t1.artist_id = ?2
           JOIN playlist_tracks pt2 ON pt2.playlist_id = p.id
           JOIN tracks t2 ON t2.id = pt2.track_id
           WHERE p.user_id = ?1 AND t2.artist_id IS NOT NULL AND t2.artist_id <> ?2
           GROUP BY t2.artist_id ORDER BY 2 DESC LIMIT 100"#,
        user_id,
        artist_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.artist_id, r.n)).collect())
}

/// The genres (lower-cased) of an artist's library tracks.
pub async fn artist_genres(db: &Db, artist_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT lower(g.value) AS "genre!: String"
           FROM tracks t, json_each(t.genres) g
           WHERE t.artist_id = ?1 AND g.type = 'text' LIMIT 50"#,
        artist_id
    )
    .fetch_all(db)
    .await
}

/// Other artists with any of `genres_json` (lower-cased): (artist id, genre) pairs.
pub async fn artists_sharing_genres(
    db: &Db,
    artist_id: &str,
    genres_json: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT DISTINCT t.artist_id AS "artist_id!: String", lower(g.value) AS "genre!: String"
           FROM tracks t, json_each(t.genres) g
           WHERE t.artist_id IS NOT NULL AND t.artist_id <> ?1 AND g.type = 'text'
             AND lower(g.value) IN (SELECT value FROM json_each(?2))
           LIMIT 5000"#,
        artist_id,
        genres_json
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.artist_id, r.genre)).collect())
}
