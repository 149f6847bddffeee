//! Pending OAuth / web-auth round trips (SPEC S5). Rows hold the SHA-256 of the state, never
//! the state; the PKCE verifier is encrypted (`crypto::registry::OAUTH_VERIFIER`).

use crate::db::Db;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::provider::Provider;

/// At most this many live round trips per session and provider (two tabs, a retry).
const MAX_PENDING_PER_SESSION: i64 = 4;

pub struct NewState<'a> {
    pub state_hash: &'a str,
    pub provider: Provider,
    pub session_jti: &'a SessionId,
    pub user_id: UserId,
    pub verifier_enc: Option<&'a str>,
    pub expires_at: i64,
}

#[derive(Debug)]
pub struct ConsumedState {
    pub user_id: UserId,
    pub verifier_enc: Option<String>,
    pub expires_at: i64,
}

/// Store a new pending state; drops expired rows and this session's oldest extras.
pub async fn insert(db: &Db, s: NewState<'_>, t: i64) -> Result<(), sqlx::Error> {
    let mut tx = crate::db::begin_write(db).await?;
    sqlx::query!("DELETE FROM oauth_states WHERE expires_at <= ?1", t)
        .execute(&mut *tx)
        .await?;
    let keep = MAX_PENDING_PER_SESSION - 1;
    sqlx::query!(
        "DELETE FROM oauth_states WHERE session_jti = ?1 AND provider = ?2 AND state_hash NOT IN (
             SELECT state_hash FROM oauth_states WHERE session_jti = ?1 AND provider = ?2
             ORDER BY created_at DESC, rowid DESC LIMIT ?3)",
        s.session_jti,
        s.provider,
        keep
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "INSERT INTO oauth_states (state_hash, provider, session_jti, user_id, verifier_enc, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        s.state_hash,
        s.provider,
        s.session_jti,
        s.user_id,
        s.verifier_enc,
        t,
        s.expires_at
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Take (delete and return) the state with this hash if it was issued to this session for
/// this provider. Single use: a second call finds nothing. A state of another session is
/// left alone (and not returned).
pub async fn consume(
    db: &Db,
    state_hash: &str,
    provider: Provider,
    session_jti: &SessionId,
) -> Result<Option<ConsumedState>, sqlx::Error> {
    sqlx::query_as!(
        ConsumedState,
        r#"DELETE FROM oauth_states WHERE state_hash = ?1 AND provider = ?2 AND session_jti = ?3
           RETURNING user_id AS "user_id!: UserId", verifier_enc, expires_at AS "expires_at!""#,
        state_hash,
        provider,
        session_jti
    )
    .fetch_optional(db)
    .await
}

/// Remove expired states (maintenance).
pub async fn prune(db: &Db, t: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!("DELETE FROM oauth_states WHERE expires_at <= ?1", t)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}
