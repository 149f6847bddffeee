//! Listening history from Spotify, Last.fm and ListenBrainz, merged into one timeline.
//!
//! Per user and provider: skip while the link is broken, misconfigured or backing off; read
//! pages newer than the watermark (the first sync looks back `sync.history_lookback`); store
//! each page in one transaction (`db::listens::store_batch`); move the watermark only after
//! every page is stored; record link health from the one failure classification. A new listen
//! is published as a `listen` event (JSON built by serde_json, shown with `textContent`).

use secrecy::SecretString;

use crate::app::Core;
use crate::clients::spotify::SpotifyError;
use crate::db;
use crate::db::links::ProviderLink;
use crate::db::listens::{Added, BatchOutcome};
use crate::domain::ids::UserId;
use crate::domain::link_health::{ErrorCode, Failure, LinkStatus};
use crate::domain::listen::RemoteListen;
use crate::domain::provider::{Provider, Service};
use crate::services::audit::Actor;
use crate::services::links::{self, CallError, LinkError};

/// At most this many pages per provider and run (Spotify keeps ~50 plays anyway).
pub const MAX_PAGES: u32 = 50;

/// What one provider's sync did across users.
#[derive(Debug, Default, Clone)]
pub struct SyncReport {
    pub users: u64,
    /// Users skipped: not linked usable (broken, misconfigured, backing off).
    pub skipped: u64,
    pub added: u64,
    pub merged: u64,
    pub known: u64,
    /// The first service failure, if any (recorded in link health).
    pub failure: Option<Failure>,
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Link(#[from] LinkError),
}

impl From<CallError> for Step {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Service(f) => Step::Service(f),
            CallError::Storage(e) => Step::Storage(HistoryError::Link(e)),
        }
    }
}

impl From<sqlx::Error> for Step {
    fn from(e: sqlx::Error) -> Self {
        Step::Storage(HistoryError::Db(e))
    }
}

impl From<Failure> for Step {
    fn from(f: Failure) -> Self {
        Step::Service(f)
    }
}

/// Why one user's sync stopped.
enum Step {
    Service(Failure),
    Storage(HistoryError),
    /// The run is being cancelled: stored pages stay, the watermark does not move.
    Cancelled,
}

/// The `sync_state.source` of a provider's history.
fn source(provider: Provider) -> String {
    format!("history:{}", provider.as_str())
}

/// Sync the history of `provider` for every user who linked it. `progress` gets the number of
/// pages stored so far.
pub async fn sync(
    core: &Core,
    provider: Provider,
    progress: &(dyn Fn(u64) + Send + Sync),
    cancelled: &(dyn Fn() -> bool + Send + Sync),
) -> Result<SyncReport, HistoryError> {
    let mut report = SyncReport::default();
    if !links::configured(core, provider.service()) {
        report.skipped = 1;
        return Ok(report);
    }
    let users = db::listens::linked_users(&core.db, provider).await?;
    if users.is_empty() {
        report.skipped = 1;
        return Ok(report);
    }
    let mut pages = 0u64;
    for user_id in users {
        report.users += 1;
        if !usable(core, user_id, provider.service()).await? {
            report.skipped += 1;
            continue;
        }
        let Some(link) = links::find(core, user_id, provider).await? else {
            report.skipped += 1;
            continue;
        };
        let outcome = sync_user(
            core,
            &link,
            &mut report,
            &mut |n| {
                pages += n;
                progress(pages);
            },
            cancelled,
        )
        .await;
        let username = db::users::find_by_id(&core.db, user_id)
            .await?
            .map(|u| u.username)
            .unwrap_or_default();
        let actor = Actor {
            user_id,
            username: &username,
            client_ip: "",
        };
        match outcome {
            Ok(()) => {
                links::record_health(core, actor, provider.service(), Ok(())).await?;
            }
            Err(Step::Service(failure)) => {
                links::record_health(core, actor, provider.service(), Err(failure)).await?;
                report.failure.get_or_insert(failure);
            }
            Err(Step::Storage(e)) => return Err(e),
            Err(Step::Cancelled) => break,
        }
    }
    Ok(report)
}

/// May the job call the service for this user now? Not while broken, misconfigured or
/// backing off (until re-linked or the wait is over).
async fn usable(core: &Core, user_id: UserId, service: Service) -> Result<bool, sqlx::Error> {
    let Some(row) = db::links::health(&core.db, user_id, service).await? else {
        return Ok(true);
    };
    Ok(match row.health.status {
        LinkStatus::Ok => true,
        LinkStatus::Broken | LinkStatus::Misconfigured => false,
        LinkStatus::Backoff => row
            .health
            .backoff_until
            .is_none_or(|until| until <= core.clock.now()),
    })
}

async fn sync_user(
    core: &Core,
    link: &ProviderLink,
    report: &mut SyncReport,
    progress: &mut (dyn FnMut(u64) + Send),
    cancelled: &(dyn Fn() -> bool + Send + Sync),
) -> Result<(), Step> {
    let src = source(link.provider);
    let now = core.clock.now();
    let lookback = i64::try_from(core.config.history_lookback.as_secs()).unwrap_or(i64::MAX);
    let watermark = db::listens::cursor(&core.db, link.user_id, &src)
        .await?
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or_else(|| now.saturating_sub(lookback));
    let mut newest = watermark;
    let store = |batch: Vec<RemoteListen>| {
        let batch: Vec<RemoteListen> = batch
            .into_iter()
            .filter(|l| l.played_at >= watermark)
            .collect();
        async move { db::listens::store_batch(&core.db, link.user_id, &batch).await }
    };
    let mut pages = 0u32;
    match link.provider {
        Provider::Spotify => {
            let Some(client) = core.clients.spotify.as_ref() else {
                return Err(Failure::new(ErrorCode::ClientRejected).into());
            };
            let mut access = links::spotify_access(core, client, link).await?;
            let mut before: Option<i64> = None;
            let mut refreshed = false;
            while pages < MAX_PAGES {
                let page = {
                    let _permit = core.jobs.outside_call().await;
                    client.recently_played(&access, before).await
                };
                let page = match page {
                    Ok(p) => p,
                    Err(SpotifyError::Unauthorized) if !refreshed => {
                        refreshed = true;
                        access = refresh(core, link.user_id, &access).await?;
                        continue;
                    }
                    Err(e) => return Err(e.failure().into()),
                };
                pages += 1;
                let oldest = page.listens.iter().map(|l| l.played_at).min();
                newest = newest.max(page.listens.iter().map(|l| l.played_at).max().unwrap_or(0));
                let outcome = store(page.listens).await?;
                tally(core, report, outcome);
                progress(1);
                if cancelled() {
                    return Err(Step::Cancelled);
                }
                match (page.before, oldest) {
                    (Some(b), Some(o)) if o > watermark => before = Some(b),
                    _ => break,
                }
            }
        }
        Provider::Lastfm => {
            let Some(client) = core.clients.lastfm.as_ref() else {
                return Err(Failure::new(ErrorCode::ApiKeyInvalid).into());
            };
            let session_key = links::stored_credential(core, link)?;
            let mut page_no = 1u32;
            while pages < MAX_PAGES {
                let page = {
                    let _permit = core.jobs.outside_call().await;
                    client
                        .recent_tracks(&session_key, &link.account_name, watermark, page_no)
                        .await
                        .map_err(|e| e.failure())?
                };
                pages += 1;
                newest = newest.max(page.listens.iter().map(|l| l.played_at).max().unwrap_or(0));
                let outcome = store(page.listens).await?;
                tally(core, report, outcome);
                progress(1);
                if cancelled() {
                    return Err(Step::Cancelled);
                }
                if page.page >= page.total_pages {
                    break;
                }
                page_no = page.page + 1;
            }
        }
        Provider::Listenbrainz => {
            let token = links::stored_credential(core, link)?;
            let client = &core.clients.listenbrainz;
            let mut max_ts: Option<i64> = None;
            while pages < MAX_PAGES {
                let page = {
                    let _permit = core.jobs.outside_call().await;
                    client
                        .listens(&token, &link.account_name, max_ts)
                        .await
                        .map_err(|e| e.failure())?
                };
                pages += 1;
                newest = newest.max(page.listens.iter().map(|l| l.played_at).max().unwrap_or(0));
                let outcome = store(page.listens).await?;
                tally(core, report, outcome);
                progress(1);
                if cancelled() {
                    return Err(Step::Cancelled);
                }
                match page.before {
                    Some(b) if b > watermark && max_ts.is_none_or(|m| b < m) => max_ts = Some(b),
                    _ => break,
                }
            }
        }
    }
    if newest > watermark
        || db::listens::cursor(&core.db, link.user_id, &src)
            .await?
            .is_none()
    {
        db::listens::set_cursor(
            &core.db,
            link.user_id,
            &src,
            &newest.to_string(),
            core.clock.now(),
        )
        .await?;
    }
    Ok(())
}

async fn refresh(
    core: &Core,
    user_id: UserId,
    rejected: &SecretString,
) -> Result<SecretString, Step> {
    let Some(client) = core.clients.spotify.as_ref() else {
        return Err(Failure::new(ErrorCode::ClientRejected).into());
    };
    Ok(links::spotify_refresh(core, client, user_id, Some(rejected)).await?)
}

fn tally(core: &Core, report: &mut SyncReport, outcome: BatchOutcome) {
    report.merged += outcome.merged;
    report.known += outcome.known;
    report.added += u64::try_from(outcome.added.len()).unwrap_or(u64::MAX);
    for added in &outcome.added {
        publish(core, added);
    }
}

/// The `listen` event: plain JSON, every field escaped by serde_json.
fn publish(core: &Core, added: &Added) {
    let played_at = time::OffsetDateTime::from_unix_timestamp(added.played_at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let data = serde_json::json!({
        "title": added.title,
        "artist": added.artist,
        "services": [added.service.label()],
        "played_at": played_at,
    });
    core.events.publish("listen", data.to_string());
}

/// The user's merged listens, newest first (`limit` at most 500).
pub async fn timeline(
    core: &Core,
    user_id: UserId,
    filter: &db::listens::ListFilter,
    limit: i64,
) -> Result<Vec<db::listens::ListenRow>, sqlx::Error> {
    db::listens::list(&core.db, user_id, filter, limit.clamp(1, 500)).await
}

/// Totals for the dashboard and the API: catalogue, history, playlists, and listens per service.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub stats: db::listens::Stats,
    pub per_service: Vec<(Service, i64)>,
}

pub async fn totals(core: &Core, user_id: UserId) -> Result<Totals, sqlx::Error> {
    Ok(Totals {
        stats: db::listens::stats(&core.db, user_id).await?,
        per_service: db::listens::per_service(&core.db, user_id).await?,
    })
}

/// When `job` last started, if ever (the dashboard's "last library import").
pub async fn last_run(
    core: &Core,
    job: crate::domain::jobs::JobName,
) -> Result<Option<i64>, sqlx::Error> {
    Ok(db::job_runs::last(&core.db, job)
        .await?
        .map(|r| r.started_at))
}
