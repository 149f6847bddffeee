//! The jobs every Spotter runs.

use std::sync::Arc;
use std::time::Duration;

use crate::app::Core;
use crate::config::Config;
use crate::domain::jobs::{Counts, JobName};
use crate::domain::provider::Provider;
use crate::jobs::{JobError, JobSpec, Jobs, RunContext};
use crate::services::history;
use crate::services::keys::{self, Origin};
use crate::services::maintenance;

/// How often housekeeping runs.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(600);

pub fn register_builtin(jobs: &Jobs, config: &Config) {
    jobs.register(JobSpec {
        name: JobName::Maintenance,
        interval: MAINTENANCE_EVERY,
        at_startup: true,
        body: Arc::new(|core: Core, _ctx: RunContext| {
            Box::pin(async move { run_maintenance(&core).await })
        }),
    });
    for provider in Provider::ALL {
        jobs.register(JobSpec {
            name: history_job(provider),
            interval: config.sync_interval,
            at_startup: true,
            body: Arc::new(move |core: Core, ctx: RunContext| {
                Box::pin(async move { run_history(&core, &ctx, provider).await })
            }),
        });
    }
}

/// The jobs that read a provider's data ("Sync now" on the providers page runs them).
pub fn jobs_for(provider: Provider) -> Vec<JobName> {
    vec![history_job(provider)]
}

fn history_job(provider: Provider) -> JobName {
    match provider {
        Provider::Spotify => JobName::SpotifyHistory,
        Provider::Lastfm => JobName::LastfmHistory,
        Provider::Listenbrainz => JobName::ListenbrainzHistory,
    }
}

/// One provider's history sync. A provider nobody linked, or whose link is unusable, is
/// skipped; a service failure is recorded in link health and fails the run with its fixed
/// message.
async fn run_history(
    core: &Core,
    ctx: &RunContext,
    provider: Provider,
) -> Result<Counts, JobError> {
    let progress = |pages: u64| ctx.progress(pages, None);
    let cancelled = || ctx.is_cancelled();
    let report = history::sync(core, provider, &progress, &cancelled)
        .await
        .map_err(|e| JobError::new("the listening history could not be stored", e))?;
    if let Some(failure) = report.failure {
        return Err(JobError::new(
            failure.code.message(),
            anyhow::anyhow!(
                "{} history sync failed: {}",
                provider.as_str(),
                failure.code.as_str()
            ),
        ));
    }
    Ok(Counts::new()
        .with("added", report.added)
        .with("merged", report.merged)
        .with("known", report.known)
        .with("skipped", report.skipped))
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
