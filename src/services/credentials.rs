//! Clearing every stored credential at once (`spotter clear-credentials`).

use crate::db::Db;
use crate::domain::audit::AuditKind;

/// Delete every stored credential, pending round trip and session; audited. How many rows.
pub async fn clear_all(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let n = crate::db::credentials::clear_all(db).await?;
    crate::db::audit::record(
        db,
        crate::db::audit::NewAuditEvent {
            user_id: None,
            kind: AuditKind::CredentialsCleared,
            username: "",
            client_ip: "cli",
            detail: "spotter clear-credentials",
        },
        now,
    )
    .await?;
    Ok(n)
}
