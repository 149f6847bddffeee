//! The audit log: one call writes the row and tells open pages. Inside a transaction the row is
//! written with the transaction and the event is published only after the commit.

use crate::app::Core;
use crate::db;
use crate::domain::audit::AuditKind;
use crate::domain::ids::UserId;
use crate::events::EventBus;

/// Who acted, for audit rows.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    pub user_id: UserId,
    pub username: &'a str,
    pub client_ip: &'a str,
}

/// One audit entry. `detail` must never contain a secret.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub user_id: Option<UserId>,
    pub kind: AuditKind,
    pub username: &'a str,
    pub client_ip: &'a str,
    pub detail: &'a str,
}

impl<'a> Entry<'a> {
    /// An entry about what a signed-in user did.
    pub fn by(actor: Actor<'a>, kind: AuditKind, detail: &'a str) -> Self {
        Self {
            user_id: Some(actor.user_id),
            kind,
            username: actor.username,
            client_ip: actor.client_ip,
            detail,
        }
    }

    fn row(self) -> db::audit::NewAuditEvent<'a> {
        db::audit::NewAuditEvent {
            user_id: self.user_id,
            kind: self.kind,
            username: self.username,
            client_ip: self.client_ip,
            detail: self.detail,
        }
    }
}

/// Write the row and publish the event.
pub async fn record(core: &Core, entry: Entry<'_>) -> Result<(), sqlx::Error> {
    db::audit::record(&core.db, entry.row(), core.clock.now()).await?;
    AfterCommit::of(entry).publish(&core.events);
    Ok(())
}

/// Write the row inside `tx`; publish the returned event once the transaction has committed.
pub async fn record_in(
    tx: &mut sqlx::SqliteConnection,
    now: i64,
    entry: Entry<'_>,
) -> Result<AfterCommit, sqlx::Error> {
    db::audit::record(&mut *tx, entry.row(), now).await?;
    Ok(AfterCommit::of(entry))
}

/// An audit event whose row is in a transaction not yet committed.
#[must_use = "publish the event after the transaction commits"]
#[derive(Debug)]
pub struct AfterCommit {
    kind: AuditKind,
    who: String,
    from: String,
    detail: String,
}

impl AfterCommit {
    fn of(entry: Entry<'_>) -> Self {
        Self {
            kind: entry.kind,
            who: entry.username.to_owned(),
            from: entry.client_ip.to_owned(),
            detail: entry.detail.to_owned(),
        }
    }

    pub fn publish(self, events: &EventBus) {
        events.publish_audit(self.kind, &self.who, &self.from, &self.detail);
    }
}

/// The latest entries the user may see: their own and those of failed or refused sign-ins.
pub async fn recent(
    core: &Core,
    user_id: UserId,
    limit: i64,
) -> Result<Vec<db::audit::AuditEvent>, sqlx::Error> {
    db::audit::recent(&core.db, user_id, limit).await
}

/// Delete entries older than the configured retention; how many.
pub async fn prune(core: &Core) -> Result<u64, sqlx::Error> {
    db::audit::prune(&core.db, core.config.audit_retention_days, core.clock.now()).await
}
