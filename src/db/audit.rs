use crate::db::Db;
use crate::domain::audit::AuditKind;
use crate::domain::ids::UserId;

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: i64,
    pub kind: String,
    pub username: String,
    pub client_ip: String,
    pub detail: String,
    pub created_at: i64,
}

/// What an audit row records. `detail` must never contain a secret.
pub struct NewAuditEvent<'a> {
    pub user_id: Option<UserId>,
    pub kind: AuditKind,
    pub username: &'a str,
    pub client_ip: &'a str,
    pub detail: &'a str,
}

pub async fn record(
    db: impl sqlx::SqliteExecutor<'_>,
    e: NewAuditEvent<'_>,
    t: i64,
) -> Result<(), sqlx::Error> {
    let kind = e.kind.as_str();
    // Bounded lengths: a hostile username or header cannot bloat the table.
    let username: String = e.username.chars().take(128).collect();
    let detail: String = e.detail.chars().take(256).collect();
    sqlx::query!(
        "INSERT INTO audit_events (user_id, kind, username, client_ip, detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        e.user_id,
        kind,
        username,
        e.client_ip,
        detail,
        t
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Latest events: the owner's plus those with no user (failed or refused logins).
pub async fn recent(db: &Db, user_id: UserId, limit: i64) -> Result<Vec<AuditEvent>, sqlx::Error> {
    sqlx::query_as!(
        AuditEvent,
        r#"SELECT id AS "id!", kind, username, client_ip, detail, created_at
           FROM audit_events WHERE user_id = ?1 OR user_id IS NULL
           ORDER BY created_at DESC, id DESC LIMIT ?2"#,
        user_id,
        limit
    )
    .fetch_all(db)
    .await
}

pub async fn prune(db: &Db, retention_days: u32, now: i64) -> Result<u64, sqlx::Error> {
    let cutoff = now - i64::from(retention_days) * 86_400;
    let r = sqlx::query!("DELETE FROM audit_events WHERE created_at < ?1", cutoff)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}
