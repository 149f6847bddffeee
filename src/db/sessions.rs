use crate::db::Db;
use crate::domain::ids::{SessionId, UserId};

#[derive(Debug, Clone)]
pub struct Session {
    pub jti: SessionId,
    pub user_id: UserId,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub client_ip: String,
    pub user_agent: String,
}

pub struct NewSession<'a> {
    pub jti: &'a SessionId,
    pub user_id: UserId,
    pub expires_at: i64,
    pub client_ip: &'a str,
    pub user_agent: &'a str,
}

pub async fn insert(
    tx: &mut sqlx::SqliteConnection,
    s: NewSession<'_>,
    t: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO sessions (jti, user_id, created_at, last_seen_at, expires_at, client_ip, user_agent)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
        s.jti,
        s.user_id,
        t,
        s.expires_at,
        s.client_ip,
        s.user_agent
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A session row joined with its user, in one query (every signed-in request runs it).
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub jti: SessionId,
    pub user_id: UserId,
    pub expires_at: i64,
    pub last_seen_at: i64,
    pub username: String,
    pub is_owner: bool,
    pub user_created_at: i64,
}

pub async fn find_with_user(
    db: &Db,
    jti: &SessionId,
) -> Result<Option<ActiveSession>, sqlx::Error> {
    sqlx::query_as!(
        ActiveSession,
        r#"SELECT s.jti AS "jti!: SessionId", s.user_id AS "user_id!: UserId", s.expires_at,
                  s.last_seen_at, u.username, u.is_owner AS "is_owner!: bool",
                  u.created_at AS user_created_at
           FROM sessions s JOIN users u ON u.id = s.user_id
           WHERE s.jti = ?1"#,
        jti
    )
    .fetch_optional(db)
    .await
}

pub async fn find(db: &Db, jti: &SessionId) -> Result<Option<Session>, sqlx::Error> {
    sqlx::query_as!(
        Session,
        r#"SELECT jti AS "jti!: SessionId", user_id AS "user_id!: UserId", created_at,
                  last_seen_at, expires_at, client_ip, user_agent
           FROM sessions WHERE jti = ?1"#,
        jti
    )
    .fetch_optional(db)
    .await
}

/// Write the activity stamps gathered in memory, in one transaction; a stamp never moves back.
pub async fn touch_many(db: &Db, stamps: &[(SessionId, i64)]) -> Result<(), sqlx::Error> {
    if stamps.is_empty() {
        return Ok(());
    }
    let mut tx = crate::db::begin_write(db).await?;
    for (jti, t) in stamps {
        sqlx::query!(
            "UPDATE sessions SET last_seen_at = ?2 WHERE jti = ?1 AND last_seen_at < ?2",
            jti,
            t
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

pub async fn list_for_user(db: &Db, user_id: UserId) -> Result<Vec<Session>, sqlx::Error> {
    sqlx::query_as!(
        Session,
        r#"SELECT jti AS "jti!: SessionId", user_id AS "user_id!: UserId", created_at,
                  last_seen_at, expires_at, client_ip, user_agent
           FROM sessions WHERE user_id = ?1 ORDER BY last_seen_at DESC"#,
        user_id
    )
    .fetch_all(db)
    .await
}

pub async fn count_for_user(db: &Db, user_id: UserId) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!: i64" FROM sessions WHERE user_id = ?1"#,
        user_id
    )
    .fetch_one(db)
    .await
}

/// Delete one session of this user. Returns whether a row was deleted.
pub async fn delete(db: &Db, user_id: UserId, jti: &SessionId) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM sessions WHERE jti = ?1 AND user_id = ?2",
        jti,
        user_id
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Revoke one session of this user from elsewhere: the row is deleted and a note of its `jti`
/// kept until it would have expired. Returns whether a session was revoked.
pub async fn revoke(
    db: &Db,
    user_id: UserId,
    jti: &SessionId,
    t: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = crate::db::begin_write(db).await?;
    sqlx::query!(
        "INSERT OR REPLACE INTO revoked_sessions (jti, user_id, revoked_at, expires_at)
         SELECT jti, user_id, ?3, expires_at FROM sessions WHERE jti = ?1 AND user_id = ?2",
        jti,
        user_id,
        t
    )
    .execute(&mut *tx)
    .await?;
    let r = sqlx::query!(
        "DELETE FROM sessions WHERE jti = ?1 AND user_id = ?2",
        jti,
        user_id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(r.rows_affected() > 0)
}

/// Revoke every session of this user except `keep` (each noted as in [`revoke`]). Returns how
/// many were revoked.
pub async fn revoke_others(
    db: &Db,
    user_id: UserId,
    keep: &SessionId,
    t: i64,
) -> Result<u64, sqlx::Error> {
    let mut tx = crate::db::begin_write(db).await?;
    sqlx::query!(
        "INSERT OR REPLACE INTO revoked_sessions (jti, user_id, revoked_at, expires_at)
         SELECT jti, user_id, ?3, expires_at FROM sessions WHERE user_id = ?1 AND jti <> ?2",
        user_id,
        keep,
        t
    )
    .execute(&mut *tx)
    .await?;
    let r = sqlx::query!(
        "DELETE FROM sessions WHERE user_id = ?1 AND jti <> ?2",
        user_id,
        keep
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(r.rows_affected())
}

/// Whether `jti` was revoked from another device (and would not have expired yet).
pub async fn was_revoked(db: &Db, jti: &SessionId, t: i64) -> Result<bool, sqlx::Error> {
    let n = sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!: i64" FROM revoked_sessions WHERE jti = ?1 AND expires_at > ?2"#,
        jti,
        t
    )
    .fetch_one(db)
    .await?;
    Ok(n > 0)
}

pub async fn delete_all(db: &Db) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!("DELETE FROM sessions").execute(db).await?;
    Ok(r.rows_affected())
}

/// Remove expired and idle sessions.
pub async fn prune(db: &Db, idle_secs: i64, t: i64) -> Result<u64, sqlx::Error> {
    let idle_cutoff = t - idle_secs;
    let r = sqlx::query!(
        "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at < ?2",
        t,
        idle_cutoff
    )
    .execute(db)
    .await?;
    sqlx::query!("DELETE FROM revoked_sessions WHERE expires_at <= ?1", t)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}
