//! Housekeeping: expired sessions and OAuth round trips, audit rows past their retention, and
//! task history older than `JOB_RUN_RETENTION_DAYS`.

use crate::app::Core;
use crate::db;

/// Finished task runs are kept this long.
pub const JOB_RUN_RETENTION_DAYS: i64 = 90;

/// What one pass removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub oauth_states: u64,
    pub audit_events: u64,
    pub job_runs: u64,
}

pub async fn prune(core: &Core) -> Result<Pruned, sqlx::Error> {
    Ok(Pruned {
        sessions: crate::services::sessions::prune(core).await?,
        oauth_states: db::oauth_states::prune(&core.db, core.clock.now()).await?,
        audit_events: crate::services::audit::prune(core).await?,
        job_runs: db::job_runs::prune(&core.db, core.clock.now() - JOB_RUN_RETENTION_DAYS * 86_400)
            .await?,
    })
}
