//! The jobs every Spotter runs.

use std::sync::Arc;
use std::time::Duration;

use crate::app::Core;
use crate::config::Config;
use crate::domain::jobs::{Counts, JobName};
use crate::jobs::{JobError, JobSpec, Jobs, RunContext};
use crate::services::keys::{self, Origin};
use crate::services::maintenance;
use crate::services::playlists::{self, ImportReport};

/// How often housekeeping runs.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(600);

/// How often playlists are imported when `sync.interval` is not set.
const PLAYLISTS_EVERY: Duration = Duration::from_secs(3600);

pub fn register_builtin(jobs: &Jobs, config: &Config) {
    register_playlists(jobs, config);
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

/// The three playlist imports, on the sync interval (else hourly) and at startup.
fn register_playlists(jobs: &Jobs, config: &Config) {
    let interval = if config.sync_interval.is_zero() {
        PLAYLISTS_EVERY
    } else {
        config.sync_interval
    };
    for name in [
        JobName::SpotifyPlaylists,
        JobName::ListenbrainzPlaylists,
        JobName::NavidromePlaylists,
    ] {
        jobs.register(JobSpec {
            name,
            interval,
            at_startup: true,
            body: Arc::new(move |core: Core, ctx: RunContext| {
                Box::pin(async move { run_playlists(&core, name, &ctx).await })
            }),
        });
    }
}

async fn run_playlists(core: &Core, name: JobName, ctx: &RunContext) -> Result<Counts, JobError> {
    let progress = |done: u64, total: Option<u64>| ctx.progress(done, total);
    let report = match name {
        JobName::SpotifyPlaylists => playlists::import_spotify(core, &progress).await,
        JobName::ListenbrainzPlaylists => playlists::import_listenbrainz(core, &progress).await,
        _ => playlists::import_navidrome(core, &progress).await,
    }
    .map_err(|e| JobError::new("storing imported playlists failed", e))?;
    Ok(playlist_counts(&report))
}

fn playlist_counts(r: &ImportReport) -> Counts {
    Counts::new()
        .with("users", r.users)
        .with("skipped", r.skipped)
        .with("playlists", r.playlists)
        .with("updated", r.updated)
        .with("unchanged", r.unchanged)
        .with("inactive", r.inactive)
        .with("tracks", r.tracks)
        .with("linked", r.linked)
        .with("relinked", r.relinked)
        .with("failed", r.failed)
        .with("capability_lost", r.capability_lost)
}
