//! Stored Navidrome password (encrypted, see `crypto::registry::NAVIDROME_PASSWORD`).

use crate::db::Db;
use crate::domain::ids::UserId;

pub async fn upsert_navidrome_password(
    tx: &mut sqlx::SqliteConnection,
    user_id: UserId,
    password_enc: &str,
    t: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO navidrome_credentials (user_id, password_enc, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(user_id) DO UPDATE SET password_enc = excluded.password_enc,
                                            updated_at = excluded.updated_at",
        user_id,
        password_enc,
        t
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn navidrome_password(db: &Db, user_id: UserId) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT password_enc FROM navidrome_credentials WHERE user_id = ?1",
        user_id
    )
    .fetch_optional(db)
    .await
}

pub async fn has_navidrome_password(db: &Db, user_id: UserId) -> Result<bool, sqlx::Error> {
    Ok(navidrome_password(db, user_id).await?.is_some())
}

/// Delete every stored credential (the Navidrome password, every linked service's tokens, every
/// pending OAuth state with its verifier, the AI key entered in the UI, link health) and every session. One transaction.
pub async fn clear_all(db: &Db) -> Result<u64, sqlx::Error> {
    let mut tx = crate::db::begin_write(db).await?;
    let mut n = sqlx::query!("DELETE FROM navidrome_credentials")
        .execute(&mut *tx)
        .await?
        .rows_affected();
    n += sqlx::query!("DELETE FROM provider_links")
        .execute(&mut *tx)
        .await?
        .rows_affected();
    n += sqlx::query!("DELETE FROM oauth_states")
        .execute(&mut *tx)
        .await?
        .rows_affected();
    n += sqlx::query!("UPDATE ai_settings SET api_key_enc = NULL WHERE api_key_enc IS NOT NULL")
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query!("DELETE FROM link_health")
        .execute(&mut *tx)
        .await?;
    n += sqlx::query!("DELETE FROM sessions")
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(n)
}
