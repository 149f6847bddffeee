//! The jobs every Spotter runs.

use std::sync::Arc;
use std::time::Duration;

use crate::app::Core;
use crate::config::Config;
use crate::domain::jobs::{Counts, JobName};
use crate::jobs::{JobError, JobSpec, Jobs, RunContext};
use crate::services::keys::{self, Origin};
use crate::services::library_import::{self, ImportError};
use crate::services::maintenance;

/// How often housekeeping runs.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(600);

pub fn register_builtin(jobs: &Jobs, config: &Config) {
    register_library_import(jobs, config.sync_interval);
    jobs.register(JobSpec {
        name: JobName::Maintenance,
        interval: MAINTENANCE_EVERY,
        at_startup: true,
        body: Arc::new(|core: Core, _ctx: RunContext| {
            Box::pin(async move { run_maintenance(&core).await })
        }),
    });
}

/// The catalogue import, every sync interval (an unchanged library costs the album list only).
fn register_library_import(jobs: &Jobs, interval: Duration) {
    jobs.register(JobSpec {
        name: JobName::LibraryImport,
        interval,
        at_startup: true,
        body: Arc::new(|core: Core, ctx: RunContext| {
            Box::pin(async move { run_library_import(&core, &ctx).await })
        }),
    });
}

async fn run_library_import(core: &Core, ctx: &RunContext) -> Result<Counts, JobError> {
    let progress = |done: u64, total: u64| ctx.progress(done, Some(total));
    let cancelled = || ctx.is_cancelled();
    let hooks = library_import::Hooks {
        progress: &progress,
        cancelled: &cancelled,
    };
    let report = library_import::import_for_owner(core, &hooks)
        .await
        .map_err(|e| {
            let message = match &e {
                ImportError::Navidrome(_) => "Navidrome did not give the catalogue",
                ImportError::Credentials => "the stored Navidrome password cannot be used",
                ImportError::Cancelled => "the import was cancelled",
                ImportError::Db(_) | ImportError::Link(_) => "the catalogue could not be stored",
            };
            JobError::new(message, e)
        })?;
    if report.skipped_no_user > 0 {
        return Ok(Counts::new().with("skipped", 1));
    }
    Ok(Counts::new()
        .with("albums", report.albums)
        .with("added", report.added)
        .with("updated", report.updated)
        .with("removed", report.removed)
        .with("unchanged", report.unchanged)
        .with("skipped_unchanged", report.skipped_unchanged)
        .with("listens", report.listens))
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
