//! The jobs every Spotter runs.

use std::sync::Arc;
use std::time::Duration;

use crate::app::Core;
use crate::domain::jobs::{Counts, JobName};
use crate::jobs::{JobError, JobSpec, Jobs, RunContext};
use crate::services::keys::{self, Origin};
use crate::services::maintenance;

/// How often housekeeping runs.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(600);

pub fn register_builtin(jobs: &Jobs) {
    jobs.register(JobSpec {
        name: JobName::Maintenance,
        interval: MAINTENANCE_EVERY,
        at_startup: true,
        body: Arc::new(|core: Core, _ctx: RunContext| {
            Box::pin(async move { run_maintenance(&core).await })
        }),
    });
}

/// Re-encrypt values still under the previous key (registered when one is configured).
pub fn register_key_rotation(jobs: &Jobs) {
    jobs.register(JobSpec {
        name: JobName::KeyRotation,
        interval: Duration::from_secs(24 * 3600),
        at_startup: true,
        body: Arc::new(|core: Core, _ctx: RunContext| {
            Box::pin(async move {
                let report = keys::rotate(
                    &core.db,
                    &core.config,
                    false,
                    Origin::Startup,
                    core.clock.now(),
                )
                .await
                .map_err(|e| JobError::new("re-encrypting stored credentials failed", e))?;
                Ok(Counts::new()
                    .with("examined", report.examined)
                    .with("rewritten", report.rewritten))
            })
        }),
    });
}

async fn run_maintenance(core: &Core) -> Result<Counts, JobError> {
    let pruned = maintenance::prune(core)
        .await
        .map_err(|e| JobError::new("the database could not be pruned", e))?;
    Ok(Counts::new()
        .with("sessions", pruned.sessions)
        .with("link_attempts", pruned.oauth_states)
        .with("audit_events", pruned.audit_events)
        .with("task_runs", pruned.job_runs))
}
