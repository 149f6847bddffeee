//! The scheduler: named jobs, each run at most once at a time, on its interval, at startup or
//! on demand ("Run now" goes through the same `trigger`). Every run is a `job_runs` row and
//! publishes started / progress / finished on the event bus. Shutdown stops new runs, lets
//! running ones finish until a deadline, then cancels them and records "cancelled"; a run found
//! "running" at start is marked "interrupted".
//!
//! Jobs only schedule: a job's body calls services, which hold the rules.

mod builtin;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, SemaphorePermit, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::Core;
use crate::db;
use crate::domain::jobs::{Counts, JobName, Outcome, Trigger, next_due};
use crate::events::EventBus;

pub use builtin::{jobs_for, register_builtin, register_key_rotation};

/// Running jobs get this long to finish after a shutdown signal before they are cancelled.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(8);
/// At most this many calls to outside services run at once, across all jobs.
pub const MAX_OUTSIDE_CALLS: usize = 4;

/// A job's failure: a short fixed text for the run history, and the cause for the log.
#[derive(Debug)]
pub struct JobError {
    pub message: &'static str,
    pub cause: anyhow::Error,
}

impl JobError {
    pub fn new(message: &'static str, cause: impl Into<anyhow::Error>) -> Self {
        Self {
            message,
            cause: cause.into(),
        }
    }
}

pub type JobFuture = Pin<Box<dyn Future<Output = Result<Counts, JobError>> + Send>>;
pub type JobBody = Arc<dyn Fn(Core, RunContext) -> JobFuture + Send + Sync>;

/// A registered job.
pub struct JobSpec {
    pub name: JobName,
    pub interval: Duration,
    /// Run once as soon as the scheduler starts.
    pub at_startup: bool,
    pub body: JobBody,
}

impl std::fmt::Debug for JobSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSpec")
            .field("name", &self.name)
            .field("interval", &self.interval)
            .field("at_startup", &self.at_startup)
            .finish_non_exhaustive()
    }
}

/// What a run in progress has reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: Option<u64>,
}

/// A run in progress, as the Tasks page shows it.
#[derive(Debug, Clone, Copy)]
pub struct RunningInfo {
    pub run_id: i64,
    pub started_at: i64,
    pub trigger: Trigger,
    pub progress: Progress,
}

struct Running {
    /// 0 until the run's row exists.
    run_id: i64,
    started_at: i64,
    trigger: Trigger,
    progress: Arc<Mutex<Progress>>,
    done: watch::Receiver<bool>,
    /// Asked for while this run was going: run once more when it ends.
    run_again: Option<Trigger>,
}

struct Inner {
    specs: RwLock<BTreeMap<JobName, Arc<JobSpec>>>,
    running: Mutex<HashMap<JobName, Running>>,
    /// Set at shutdown: no new run starts.
    closing: CancellationToken,
    /// Set at the drain deadline: running bodies are dropped.
    cancel: CancellationToken,
    tracker: TaskTracker,
    outside_calls: Semaphore,
    wake: Notify,
}

/// The handle to the scheduler, held in `Core`.
#[derive(Clone)]
pub struct Jobs(Arc<Inner>);

impl Default for Jobs {
    fn default() -> Self {
        Self(Arc::new(Inner {
            specs: RwLock::new(BTreeMap::new()),
            running: Mutex::new(HashMap::new()),
            closing: CancellationToken::new(),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
            outside_calls: Semaphore::new(MAX_OUTSIDE_CALLS),
            wake: Notify::new(),
        }))
    }
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("jobs", &self.names())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Jobs {
    /// Add (or replace) a job; the scheduler picks it up on its next pass.
    pub fn register(&self, spec: JobSpec) {
        self.0
            .specs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(spec.name, Arc::new(spec));
        self.0.wake.notify_one();
    }

    pub fn names(&self) -> Vec<JobName> {
        self.specs().iter().map(|s| s.name).collect()
    }

    pub fn specs(&self) -> Vec<Arc<JobSpec>> {
        self.0
            .specs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// How often `name` runs, if it is registered.
    pub fn interval(&self, name: JobName) -> Option<Duration> {
        self.spec(name).map(|s| s.interval)
    }

    fn spec(&self, name: JobName) -> Option<Arc<JobSpec>> {
        self.0
            .specs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&name)
            .cloned()
    }

    /// The run of `name` in progress, if any.
    pub fn running(&self, name: JobName) -> Option<RunningInfo> {
        lock(&self.0.running).get(&name).map(|r| RunningInfo {
            run_id: r.run_id,
            started_at: r.started_at,
            trigger: r.trigger,
            progress: *lock(&r.progress),
        })
    }

    /// Wait for a permit before calling an outside service from a job.
    pub async fn outside_call(&self) -> Option<SemaphorePermit<'_>> {
        self.0.outside_calls.acquire().await.ok()
    }

    pub fn is_closing(&self) -> bool {
        self.0.closing.is_cancelled()
    }
}

/// Handed to a job's body: report progress, notice cancellation.
#[derive(Clone)]
pub struct RunContext {
    pub run_id: i64,
    pub job: JobName,
    events: EventBus,
    progress: Arc<Mutex<Progress>>,
    cancel: CancellationToken,
}

impl RunContext {
    /// Report `done` of `total` (when known); shown on the Tasks page and sent to open pages.
    pub fn progress(&self, done: u64, total: Option<u64>) {
        *lock(&self.progress) = Progress { done, total };
        publish(
            &self.events,
            self.job,
            self.run_id,
            "progress",
            &[("done", done), ("total", total.unwrap_or(0))],
            None,
        );
    }

    /// True once the run is being cancelled; long jobs check it between batches.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

fn publish(
    events: &EventBus,
    job: JobName,
    run_id: i64,
    state: &'static str,
    numbers: &[(&'static str, u64)],
    outcome: Option<Outcome>,
) {
    let mut body = serde_json::json!({
        "job": job.as_str(),
        "label": job.label(),
        "run_id": run_id,
        "state": state,
    });
    for (k, v) in numbers {
        body[*k] = serde_json::json!(v);
    }
    if let Some(o) = outcome {
        body["outcome"] = serde_json::json!(o.as_str());
    }
    events.publish("job", body.to_string());
}

/// Why a run did not start.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("no such job")]
    UnknownJob,
    #[error("the job is already running")]
    AlreadyRunning { run_id: i64 },
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("recording the run failed")]
    Db(#[from] sqlx::Error),
}

/// Start a run of `name` now, unless one is running; the new run's id.
pub async fn trigger(core: &Core, name: JobName, trigger: Trigger) -> Result<i64, TriggerError> {
    start(core, name, trigger, IfRunning::Refuse).await
}

/// What `trigger_after_current` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// A run started now, with this id.
    Now(i64),
    /// A run is in progress; another starts as soon as it ends.
    AfterCurrent,
}

/// Start a run of `name` now, or, when one is running, right after it ends. For callers whose
/// new data the current run may already have missed (the first sign-in during the startup
/// import: that run had no account to read with).
pub async fn trigger_after_current(
    core: &Core,
    name: JobName,
    trigger: Trigger,
) -> Result<Started, TriggerError> {
    match start(core, name, trigger, IfRunning::RunAgain).await {
        Ok(id) => Ok(Started::Now(id)),
        Err(TriggerError::AlreadyRunning { .. }) => Ok(Started::AfterCurrent),
        Err(e) => Err(e),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum IfRunning {
    Refuse,
    RunAgain,
}

async fn start(
    core: &Core,
    name: JobName,
    trigger: Trigger,
    if_running: IfRunning,
) -> Result<i64, TriggerError> {
    let jobs = &core.jobs;
    if jobs.is_closing() {
        return Err(TriggerError::ShuttingDown);
    }
    let spec = jobs.spec(name).ok_or(TriggerError::UnknownJob)?;
    let progress = Arc::new(Mutex::new(Progress::default()));
    let (done_tx, done_rx) = watch::channel(false);
    let started_at = core.clock.now();
    {
        // Claim the job before any await, so two triggers at once cannot both start it.
        let mut running = lock(&jobs.0.running);
        if let Some(r) = running.get_mut(&name) {
            if if_running == IfRunning::RunAgain {
                r.run_again = Some(trigger);
            }
            return Err(TriggerError::AlreadyRunning { run_id: r.run_id });
        }
        running.insert(
            name,
            Running {
                run_id: 0,
                started_at,
                trigger,
                progress: Arc::clone(&progress),
                done: done_rx,
                run_again: None,
            },
        );
    }
    let run_id = match record_start(core, name, trigger, started_at).await {
        Ok(id) => id,
        Err(e) => {
            lock(&jobs.0.running).remove(&name);
            return Err(e.into());
        }
    };
    let core = core.clone();
    jobs.0.tracker.spawn(async move {
        let (mut run_id, mut spec, mut progress) = (run_id, spec, progress);
        loop {
            let ended = run_once(&core, &spec, run_id, progress).await;
            // What the run wrote shows at once (the change watcher would see it shortly).
            core.changes.bump();
            // The claim is released and a queued follow-up taken under one lock, so a
            // trigger can neither slip in between nor be lost.
            let follow_up = {
                let mut running = lock(&core.jobs.0.running);
                match running.get_mut(&name).and_then(|r| r.run_again.take()) {
                    Some(t) if !core.jobs.is_closing() => {
                        let started_at = core.clock.now();
                        let next_progress = Arc::new(Mutex::new(Progress::default()));
                        if let Some(r) = running.get_mut(&name) {
                            r.run_id = 0;
                            r.started_at = started_at;
                            r.trigger = t;
                            r.progress = Arc::clone(&next_progress);
                        }
                        Some((t, started_at, next_progress))
                    }
                    _ => {
                        running.remove(&name);
                        None
                    }
                }
            };
            ended.announce(&core, name, run_id);
            let Some((t, started_at, next_progress)) = follow_up else {
                break;
            };
            let next_spec = core.jobs.spec(name).unwrap_or(spec);
            match record_start(&core, name, t, started_at).await {
                Ok(id) => {
                    (run_id, spec, progress) = (id, next_spec, next_progress);
                }
                Err(e) => {
                    tracing::error!(job = name.as_str(), error = %e, "recording a follow-up run failed");
                    lock(&core.jobs.0.running).remove(&name);
                    break;
                }
            }
        }
        let _ = done_tx.send(true);
    });
    Ok(run_id)
}

/// Write the run's row, note its id in the claim, and announce it.
async fn record_start(
    core: &Core,
    name: JobName,
    trigger: Trigger,
    started_at: i64,
) -> Result<i64, sqlx::Error> {
    let run_id = db::job_runs::start(&core.db, name, trigger, started_at).await?;
    core.changes.bump();
    if let Some(r) = lock(&core.jobs.0.running).get_mut(&name) {
        r.run_id = run_id;
    }
    publish(&core.events, name, run_id, "started", &[], None);
    tracing::info!(
        job = name.as_str(),
        run_id,
        trigger = trigger.as_str(),
        "job started"
    );
    Ok(run_id)
}

/// How a run ended, announced once its claim is settled.
struct Ended {
    outcome: Outcome,
    counts: Counts,
}

impl Ended {
    fn announce(&self, core: &Core, name: JobName, run_id: i64) {
        let numbers: Vec<(&'static str, u64)> = self.counts.iter().collect();
        publish(
            &core.events,
            name,
            run_id,
            "finished",
            &numbers,
            Some(self.outcome),
        );
        tracing::info!(
            job = name.as_str(),
            run_id,
            outcome = self.outcome.as_str(),
            "job finished"
        );
    }
}

/// Run the body once and record how it ended.
async fn run_once(
    core: &Core,
    spec: &JobSpec,
    run_id: i64,
    progress: Arc<Mutex<Progress>>,
) -> Ended {
    let name = spec.name;
    let ctx = RunContext {
        run_id,
        job: name,
        events: core.events.clone(),
        progress,
        cancel: core.jobs.0.cancel.clone(),
    };
    let body = (spec.body)(core.clone(), ctx);
    let cancel = core.jobs.0.cancel.clone();
    let result = tokio::select! {
        r = body => Some(r),
        () = cancel.cancelled() => None,
    };
    let (outcome, counts, error) = match result {
        Some(Ok(counts)) => (Outcome::Ok, counts, ""),
        Some(Err(e)) => {
            tracing::warn!(
                job = name.as_str(),
                run_id,
                error = format!("{:#}", e.cause),
                "job failed"
            );
            (Outcome::Failed, Counts::new(), e.message)
        }
        None => (Outcome::Cancelled, Counts::new(), "stopped at shutdown"),
    };
    if let Err(e) = db::job_runs::finish(
        &core.db,
        run_id,
        outcome,
        &counts.to_json(),
        error,
        core.clock.now(),
    )
    .await
    {
        tracing::error!(job = name.as_str(), run_id, error = %e, "recording the end of a job run failed");
    }
    Ended { outcome, counts }
}

/// Wait until the current run of `name` (if any) has finished and been recorded.
pub async fn wait_idle(core: &Core, name: JobName) {
    let done = lock(&core.jobs.0.running)
        .get(&name)
        .map(|r| r.done.clone());
    if let Some(mut done) = done {
        let _ = done.wait_for(|d| *d).await;
    }
}

/// Mark runs a previous process left open as interrupted. Call before anything can start a run.
pub async fn recover(core: &Core) -> Result<u64, sqlx::Error> {
    let n = db::job_runs::mark_interrupted(&core.db, core.clock.now()).await?;
    if n > 0 {
        tracing::warn!(
            runs = n,
            "job runs cut off by the previous stop were marked interrupted"
        );
    }
    Ok(n)
}

/// When each registered job is next due (Unix seconds).
pub async fn next_runs(core: &Core) -> Result<Vec<(JobName, i64)>, sqlx::Error> {
    let now = core.clock.now();
    let mut out = Vec::new();
    for spec in core.jobs.specs() {
        let last = db::job_runs::last(&core.db, spec.name).await?;
        let interval = i64::try_from(spec.interval.as_secs()).unwrap_or(i64::MAX);
        out.push((
            spec.name,
            next_due(last.map(|r| r.started_at), interval, now),
        ));
    }
    Ok(out)
}

/// Start the jobs that run at startup. Returns once their runs are claimed (not finished).
pub async fn start_startup_runs(core: &Core) {
    for spec in core.jobs.specs().into_iter().filter(|s| s.at_startup) {
        start_logged(core, spec.name, Trigger::Startup).await;
    }
}

/// Run jobs on their intervals until `shutdown`, then drain within `deadline`.
pub async fn run_scheduler(core: Core, shutdown: CancellationToken, deadline: Duration) {
    loop {
        let wait = match next_runs(&core).await {
            Ok(due) => {
                let now = core.clock.now();
                for (name, at) in &due {
                    if *at <= now && core.jobs.running(*name).is_none() {
                        start_logged(&core, *name, Trigger::Schedule).await;
                    }
                }
                let soonest = due.iter().map(|(_, at)| *at).filter(|at| *at > now).min();
                soonest.map_or(Duration::from_secs(60), |at| {
                    Duration::from_secs(u64::try_from(at - now).unwrap_or(1).max(1))
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the job schedule failed");
                Duration::from_secs(30)
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = core.jobs.0.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    drain(&core, deadline).await;
}

async fn start_logged(core: &Core, name: JobName, trigger_kind: Trigger) {
    match trigger(core, name, trigger_kind).await {
        Ok(_) | Err(TriggerError::AlreadyRunning { .. } | TriggerError::ShuttingDown) => {}
        Err(e) => tracing::warn!(job = name.as_str(), error = %e, "starting a job failed"),
    }
}

/// Stop new runs, give running ones until `deadline`, then cancel them (recorded as
/// "cancelled") and wait for their rows to be written.
pub async fn drain(core: &Core, deadline: Duration) {
    let inner = &core.jobs.0;
    inner.closing.cancel();
    inner.tracker.close();
    if tokio::time::timeout(deadline, inner.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            deadline_secs = deadline.as_secs(),
            "jobs still running at the shutdown deadline are cancelled"
        );
        inner.cancel.cancel();
        inner.tracker.wait().await;
    }
}

/// One job as the Tasks page shows it.
#[derive(Debug, Clone)]
pub struct JobOverview {
    pub name: JobName,
    pub interval: Duration,
    pub running: Option<RunningInfo>,
    pub last_run: Option<db::job_runs::JobRun>,
    pub next_run: i64,
}

/// Every registered job with its run in progress, last run and next due time.
pub async fn overview(core: &Core) -> Result<Vec<JobOverview>, sqlx::Error> {
    let now = core.clock.now();
    let mut out = Vec::new();
    for spec in core.jobs.specs() {
        let last_run = db::job_runs::last(&core.db, spec.name).await?;
        let interval = i64::try_from(spec.interval.as_secs()).unwrap_or(i64::MAX);
        out.push(JobOverview {
            name: spec.name,
            interval: spec.interval,
            running: core.jobs.running(spec.name),
            next_run: next_due(last_run.as_ref().map(|r| r.started_at), interval, now),
            last_run,
        });
    }
    Ok(out)
}

/// The newest runs of every job.
pub async fn history(core: &Core, limit: i64) -> Result<Vec<db::job_runs::JobRun>, sqlx::Error> {
    db::job_runs::recent(&core.db, limit).await
}
