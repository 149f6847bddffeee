//! The home page's data, kept in memory between changes (issue 13).
//!
//! Totals (a `COUNT(*)` over the whole catalogue), the latest listens, link health, the session
//! count and the last library import take about ten queries to gather. They change only when a
//! job runs, a service is linked or its health moves, or a session starts or ends, and each of
//! those moves the change generation (`db::watch::Changes`): explicitly where this process
//! writes, and through the watcher for every commit of any connection. A snapshot is gathered
//! once per generation and served to every view until the next change; what depends on the
//! clock (backoff labels, the next import) is worked out per view from the stored times.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::app::Core;
use crate::db;
use crate::db::links::HealthRow;
use crate::db::listens::ListenRow;
use crate::domain::ids::UserId;
use crate::domain::jobs::{JobName, next_due};
use crate::domain::provider::Provider;
use crate::services::history::{self, Totals};
use crate::services::links::LinkError;

/// What the home page shows from the database, as of one change generation.
#[derive(Debug)]
pub struct Snapshot {
    pub totals: Totals,
    pub latest: Vec<ListenRow>,
    pub linked: Vec<Provider>,
    pub health: Vec<HealthRow>,
    pub session_count: i64,
    /// Cases in the review queue.
    pub review_waiting: i64,
    /// When the library import last started.
    pub last_import: Option<i64>,
}

impl Snapshot {
    /// When the library import is next due, if it is scheduled on this server.
    pub fn next_import(&self, core: &Core, now: i64) -> Option<i64> {
        let interval = core.jobs.interval(JobName::LibraryImport)?;
        let interval = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX);
        Some(next_due(self.last_import, interval, now))
    }
}

/// At most this many users' snapshots are kept (an instance has one user, or a short list).
const MAX_USERS: usize = 16;
/// How many latest listens the home page lists.
pub const LATEST: i64 = 10;

/// The snapshots, per user, each with the generation it was gathered in.
#[derive(Default)]
pub struct PageData {
    snapshots: Mutex<HashMap<UserId, (u64, Arc<Snapshot>)>>,
    /// One gathering at a time: after a change, concurrent views wait for one snapshot instead
    /// of each running the queries.
    gathering: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for PageData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageData").finish_non_exhaustive()
    }
}

impl PageData {
    fn get(&self, user_id: UserId, generation: Option<u64>) -> Option<Arc<Snapshot>> {
        let generation = generation?;
        let map = self
            .snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&user_id)
            .filter(|(g, _)| *g == generation)
            .map(|(_, s)| Arc::clone(s))
    }

    fn put(&self, user_id: UserId, generation: u64, snapshot: Arc<Snapshot>) {
        let mut map = self
            .snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_USERS && !map.contains_key(&user_id) {
            map.clear();
        }
        map.insert(user_id, (generation, snapshot));
    }
}

/// The home page's data for `user_id`: from memory while nothing changed, else gathered once.
pub async fn snapshot(core: &Core, user_id: UserId) -> Result<Arc<Snapshot>, LinkError> {
    if let Some(s) = core
        .page_data
        .get(user_id, core.changes.trusted_generation())
    {
        return Ok(s);
    }
    let _one_at_a_time = core.page_data.gathering.lock().await;
    if let Some(s) = core
        .page_data
        .get(user_id, core.changes.trusted_generation())
    {
        return Ok(s);
    }
    // Tagged with the generation from before the reads: a change meanwhile leaves it stale.
    let generation = core.changes.generation();
    let snapshot = Arc::new(gather(core, user_id).await?);
    core.page_data
        .put(user_id, generation, Arc::clone(&snapshot));
    Ok(snapshot)
}

async fn gather(core: &Core, user_id: UserId) -> Result<Snapshot, LinkError> {
    let totals = history::totals(core, user_id).await?;
    let latest =
        history::timeline(core, user_id, &db::listens::ListFilter::default(), LATEST).await?;
    let linked = db::links::list(&core.db, user_id)
        .await?
        .into_iter()
        .map(|l| l.provider)
        .collect();
    let health = db::links::health_all(&core.db, user_id).await?;
    let session_count = db::sessions::count_for_user(&core.db, user_id).await?;
    let review_waiting = db::matching::count_reviews(&core.db, user_id).await?;
    let last_import = history::last_run(core, JobName::LibraryImport).await?;
    Ok(Snapshot {
        totals,
        latest,
        linked,
        health,
        session_count,
        review_waiting,
        last_import,
    })
}
