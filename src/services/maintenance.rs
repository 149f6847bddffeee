//! Housekeeping: expired sessions and OAuth round trips, audit rows past their retention.

use crate::app::Core;
use crate::db;

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub oauth_states: u64,
    pub audit_events: u64,
}

pub async fn prune(core: &Core) -> Result<Pruned, sqlx::Error> {
    Ok(Pruned {
        sessions: crate::services::sessions::prune(core).await?,
        oauth_states: db::oauth_states::prune(&core.db, core.clock.now()).await?,
        audit_events: crate::services::audit::prune(core).await?,
    })
}
