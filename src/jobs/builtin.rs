//! The jobs every Spotter runs.

use std::sync::Arc;
use std::time::Duration;

use crate::app::Core;
use crate::config::Config;
use crate::domain::jobs::{Counts, JobName, Trigger};
use crate::domain::provider::Provider;
use crate::jobs::{JobError, JobSpec, Jobs, RunContext};
use crate::services::history;
use crate::services::keys::{self, Origin};
use crate::services::library_import::{self, ImportError};
use crate::services::maintenance;
use crate::services::matching;
use crate::services::playlist_writeback;
use crate::services::playlists::{self, ImportReport};
use crate::services::vibes;

/// How often housekeeping runs.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(600);

/// How often playlists are imported when `sync.interval` is not set.
const PLAYLISTS_EVERY: Duration = Duration::from_secs(3600);

pub fn register_builtin(jobs: &Jobs, config: &Config) {
    register_library_import(jobs, config.sync_interval);
    register_playlists(jobs, config);
    register_matching(jobs, config);
    register_playlist_writeback(jobs, config.playlist_writeback_interval);
    register_vibes(jobs);
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
    match provider {
        Provider::Spotify => vec![JobName::SpotifyHistory, JobName::SpotifyPlaylists],
        Provider::Lastfm => vec![JobName::LastfmHistory],
        Provider::Listenbrainz => {
            vec![JobName::ListenbrainzHistory, JobName::ListenbrainzPlaylists]
        }
    }
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
    if report.added > 0 {
        match_after(core).await;
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
    if report.updated + report.relinked > 0 {
        match_after(core).await;
    }
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

/// Re-writing the playlists written to Navidrome, every `playlist_sync.sync_interval`.
fn register_playlist_writeback(jobs: &Jobs, interval: Duration) {
    jobs.register(JobSpec {
        name: JobName::PlaylistWriteback,
        interval,
        at_startup: true,
        body: Arc::new(|core: Core, ctx: RunContext| {
            Box::pin(async move { run_playlist_writeback(&core, &ctx).await })
        }),
    });
}

async fn run_playlist_writeback(core: &Core, ctx: &RunContext) -> Result<Counts, JobError> {
    let progress = |done: u64, total: Option<u64>| ctx.progress(done, total);
    let r = playlist_writeback::resync_all(core, &progress)
        .await
        .map_err(|e| JobError::new("the playlist write-back state could not be stored", e))?;
    Ok(Counts::new()
        .with("playlists", r.playlists)
        .with("updated", r.updated)
        .with("restored", r.restored)
        .with("recreated", r.recreated)
        .with("unchanged", r.unchanged)
        .with("skipped", r.skipped)
        .with("failed", r.failed))
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
    if report.added + report.updated + report.removed > 0 {
        // New songs may resolve old misses and removed ones unlink: look at every row again.
        matching::catalogue_changed(core)
            .await
            .map_err(|e| JobError::new("the catalogue could not be stored", e))?;
        match_after(core).await;
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

/// How often matching runs on its own (it also follows every sync that brings something new).
const MATCHING_EVERY: Duration = Duration::from_secs(3600);

fn register_matching(jobs: &Jobs, config: &Config) {
    let interval = if config.sync_interval.is_zero() {
        MATCHING_EVERY
    } else {
        config.sync_interval.max(MATCHING_EVERY)
    };
    jobs.register(JobSpec {
        name: JobName::Matching,
        interval,
        at_startup: true,
        body: Arc::new(|core: Core, ctx: RunContext| {
            Box::pin(async move { run_matching(&core, &ctx).await })
        }),
    });
}

async fn run_matching(core: &Core, ctx: &RunContext) -> Result<Counts, JobError> {
    let progress = |done: u64, total: u64| ctx.progress(done, Some(total));
    let r = matching::run(core, &progress)
        .await
        .map_err(|e| JobError::new("matching to the library failed", e))?;
    if r.rows > 0 {
        // Playlists written to Navidrome carry the linked songs: send the new links on.
        after_current(core, JobName::PlaylistWriteback).await;
    }
    Ok(Counts::new()
        .with("tracks", r.identities)
        .with("matched", r.matched)
        .with("review", r.review)
        .with("not_found", r.not_found)
        .with("your_decisions", r.decided_by_user)
        .with("rows", r.rows))
}

/// Start matching once the current sync's rows are stored (after a run already going).
async fn match_after(core: &Core) {
    after_current(core, JobName::Matching).await;
}

/// Start `job` now, or once its current run ends.
async fn after_current(core: &Core, job: JobName) {
    match crate::jobs::trigger_after_current(core, job, Trigger::Schedule).await {
        Ok(_)
        | Err(crate::jobs::TriggerError::ShuttingDown | crate::jobs::TriggerError::UnknownJob) => {}
        Err(e) => tracing::warn!(error = %e, job = job.as_str(), "a follow-up run did not start"),
    }
}

/// How often the Vibes job looks for scheduled mixtapes that are due (Generate starts it at once).
const VIBES_EVERY: Duration = Duration::from_secs(900);

fn register_vibes(jobs: &Jobs) {
    jobs.register(JobSpec {
        name: JobName::Vibes,
        interval: VIBES_EVERY,
        at_startup: true,
        body: Arc::new(|core: Core, ctx: RunContext| {
            Box::pin(async move { run_vibes(&core, &ctx).await })
        }),
    });
}

async fn run_vibes(core: &Core, ctx: &RunContext) -> Result<Counts, JobError> {
    let progress = |done: u64, total: u64| ctx.progress(done, Some(total));
    let cancelled = || ctx.is_cancelled();
    let r = vibes::run_queue(core, &progress, &cancelled)
        .await
        .map_err(|e| JobError::new("the mixtapes could not be generated", e))?;
    Ok(Counts::new()
        .with("scheduled", r.scheduled)
        .with("generated", r.generated)
        .with("failed", r.failed)
        .with("saved_to_navidrome", r.saved))
}
