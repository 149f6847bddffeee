//! Linked services (`provider_links`, credentials encrypted with
//! `crypto::registry::PROVIDER_ACCESS_TOKEN` / `PROVIDER_REFRESH_TOKEN`) and link health.

use crate::db::Db;
use crate::domain::ids::UserId;
use crate::domain::link_health::{ErrorCode, Health, LinkStatus};
use crate::domain::provider::{Provider, Service};

#[derive(Debug, Clone)]
pub struct ProviderLink {
    pub user_id: UserId,
    pub provider: Provider,
    pub account_name: String,
    pub access_token_enc: String,
    pub refresh_token_enc: Option<String>,
    pub token_expires_at: Option<i64>,
    pub scopes: String,
    pub linked_at: i64,
    pub updated_at: i64,
}

pub struct NewLink<'a> {
    pub user_id: UserId,
    pub provider: Provider,
    pub account_name: &'a str,
    pub access_token_enc: &'a str,
    pub refresh_token_enc: Option<&'a str>,
    pub token_expires_at: Option<i64>,
    pub scopes: &'a str,
}

pub async fn find(
    db: &Db,
    user_id: UserId,
    provider: Provider,
) -> Result<Option<ProviderLink>, sqlx::Error> {
    sqlx::query_as!(
        ProviderLink,
        r#"SELECT user_id AS "user_id!: UserId", provider AS "provider: Provider", account_name, access_token_enc,
                  refresh_token_enc, token_expires_at, scopes, linked_at, updated_at
           FROM provider_links WHERE user_id = ?1 AND provider = ?2"#,
        user_id,
        provider
    )
    .fetch_optional(db)
    .await
}

pub async fn list(db: &Db, user_id: UserId) -> Result<Vec<ProviderLink>, sqlx::Error> {
    sqlx::query_as!(
        ProviderLink,
        r#"SELECT user_id AS "user_id!: UserId", provider AS "provider: Provider", account_name, access_token_enc,
                  refresh_token_enc, token_expires_at, scopes, linked_at, updated_at
           FROM provider_links WHERE user_id = ?1 ORDER BY provider"#,
        user_id
    )
    .fetch_all(db)
    .await
}

/// Insert or replace the link (a re-link replaces every credential).
pub async fn upsert(
    tx: &mut sqlx::SqliteConnection,
    l: NewLink<'_>,
    t: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO provider_links (user_id, provider, account_name, access_token_enc,
                refresh_token_enc, token_expires_at, scopes, linked_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
         ON CONFLICT(user_id, provider) DO UPDATE SET
                account_name = excluded.account_name,
                access_token_enc = excluded.access_token_enc,
                refresh_token_enc = excluded.refresh_token_enc,
                token_expires_at = excluded.token_expires_at,
                scopes = excluded.scopes,
                linked_at = excluded.linked_at,
                updated_at = excluded.updated_at",
        l.user_id,
        l.provider,
        l.account_name,
        l.access_token_enc,
        l.refresh_token_enc,
        l.token_expires_at,
        l.scopes,
        t
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Store refreshed tokens. `refresh_token_enc` of `None` keeps the stored refresh token.
pub async fn update_tokens(
    db: &Db,
    user_id: UserId,
    provider: Provider,
    access_token_enc: &str,
    refresh_token_enc: Option<&str>,
    token_expires_at: Option<i64>,
    t: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE provider_links SET access_token_enc = ?3,
                refresh_token_enc = COALESCE(?4, refresh_token_enc),
                token_expires_at = ?5, updated_at = ?6
         WHERE user_id = ?1 AND provider = ?2",
        user_id,
        provider,
        access_token_enc,
        refresh_token_enc,
        token_expires_at,
        t
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Delete the link, its health row and any pending round trip. Returns whether a link existed.
pub async fn delete(
    tx: &mut sqlx::SqliteConnection,
    user_id: UserId,
    provider: Provider,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM provider_links WHERE user_id = ?1 AND provider = ?2",
        user_id,
        provider
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM link_health WHERE user_id = ?1 AND provider = ?2",
        user_id,
        provider
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM oauth_states WHERE user_id = ?1 AND provider = ?2",
        user_id,
        provider
    )
    .execute(&mut *tx)
    .await?;
    Ok(r.rows_affected() > 0)
}

#[derive(Debug, Clone)]
pub struct HealthRow {
    pub service: Service,
    pub health: Health,
    pub last_checked_at: i64,
    pub last_ok_at: Option<i64>,
}

struct RawHealth {
    service: Service,
    status: String,
    backoff_until: Option<i64>,
    failure_count: i64,
    last_error: Option<String>,
    last_checked_at: i64,
    last_ok_at: Option<i64>,
}

impl From<RawHealth> for HealthRow {
    fn from(r: RawHealth) -> Self {
        Self {
            service: r.service,
            health: Health {
                // The CHECK constraint keeps unknown values out; a future value reads as broken.
                status: LinkStatus::parse(&r.status).unwrap_or(LinkStatus::Broken),
                backoff_until: r.backoff_until,
                failure_count: u32::try_from(r.failure_count).unwrap_or(u32::MAX),
                last_error: r.last_error.as_deref().and_then(ErrorCode::parse),
            },
            last_checked_at: r.last_checked_at,
            last_ok_at: r.last_ok_at,
        }
    }
}

pub async fn health(
    db: &Db,
    user_id: UserId,
    service: Service,
) -> Result<Option<HealthRow>, sqlx::Error> {
    let row = sqlx::query_as!(
        RawHealth,
        r#"SELECT provider AS "service: Service", status, backoff_until, failure_count, last_error, last_checked_at, last_ok_at
           FROM link_health WHERE user_id = ?1 AND provider = ?2"#,
        user_id,
        service
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(HealthRow::from))
}

pub async fn health_all(db: &Db, user_id: UserId) -> Result<Vec<HealthRow>, sqlx::Error> {
    let rows = sqlx::query_as!(
        RawHealth,
        r#"SELECT provider AS "service: Service", status, backoff_until, failure_count, last_error, last_checked_at, last_ok_at
           FROM link_health WHERE user_id = ?1"#,
        user_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(HealthRow::from).collect())
}

/// Write the health of one link (`ok` also stamps `last_ok_at`).
pub async fn set_health(
    db: impl sqlx::SqliteExecutor<'_>,
    user_id: UserId,
    service: Service,
    h: &Health,
    t: i64,
) -> Result<(), sqlx::Error> {
    let status = h.status.as_str();
    let failures = i64::from(h.failure_count);
    let last_error = h.last_error.map(ErrorCode::as_str);
    let ok_at = (h.status == LinkStatus::Ok).then_some(t);
    sqlx::query!(
        "INSERT INTO link_health (user_id, provider, status, backoff_until, failure_count,
                last_error, last_checked_at, last_ok_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(user_id, provider) DO UPDATE SET
                status = excluded.status,
                backoff_until = excluded.backoff_until,
                failure_count = excluded.failure_count,
                last_error = excluded.last_error,
                last_checked_at = excluded.last_checked_at,
                last_ok_at = COALESCE(excluded.last_ok_at, link_health.last_ok_at)",
        user_id,
        service,
        status,
        h.backoff_until,
        failures,
        last_error,
        t,
        ok_at
    )
    .execute(db)
    .await?;
    Ok(())
}
