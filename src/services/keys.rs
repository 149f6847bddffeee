//! Key rotation: re-encrypt every registered credential column under the current key (reading
//! values under the previous key or the legacy format), verify, and audit — used by
//! `spotter rotate-key` and by the online rotation at start.

use anyhow::Context;

use crate::config::Config;
use crate::crypto::FieldCipher;
use crate::db::Db;
use crate::db::rotation::RotationReport;
use crate::domain::audit::AuditKind;

/// Where a rotation was started, for the audit row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Cli,
    Startup,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Self::Cli => "cli",
            Self::Startup => "startup",
        }
    }
}

/// Re-encrypt under the current key; with `all`, also values already under it (fresh nonces).
/// One transaction: on any failure nothing changes.
pub async fn rotate(
    db: &Db,
    config: &Config,
    all: bool,
    origin: Origin,
    now: i64,
) -> anyhow::Result<RotationReport> {
    let s = &config.security;
    let cipher = FieldCipher::new(&s.encryption_key, s.encryption_key_previous.as_ref());
    let verifier = FieldCipher::new(&s.encryption_key, None);
    let report = crate::db::rotation::reencrypt_all(db, &cipher, &verifier, all)
        .await
        .context("re-encrypting stored credentials (nothing was changed)")?;
    if report.rewritten > 0 {
        let detail = format!(
            "{} value(s) re-encrypted under key {}",
            report.rewritten,
            cipher.current_key_id()
        );
        crate::db::audit::record(
            db,
            crate::db::audit::NewAuditEvent {
                user_id: None,
                kind: AuditKind::KeyRotated,
                username: "",
                client_ip: origin.as_str(),
                detail: &detail,
            },
            now,
        )
        .await?;
    }
    Ok(report)
}
