//! The scheduler from outside: single-flight runs, drain and cancel at shutdown, interrupted
//! runs after a crash, and the Tasks page.

use std::sync::Arc;
use std::time::{Duration, Instant};

use spotter::app::Core;
use spotter::domain::jobs::{Counts, JobName, Trigger};
use spotter::jobs::{self, JobSpec, RunContext, TriggerError};
use tokio::sync::Semaphore;

use crate::harness::*;

/// Replace the maintenance job's body with one that waits for a permit from `gate` (never,
/// if the test adds none).
fn gated_maintenance(core: &Core, gate: Arc<Semaphore>) {
    core.jobs.register(JobSpec {
        name: JobName::Maintenance,
        interval: Duration::from_secs(3600),
        at_startup: false,
        body: Arc::new(move |_core: Core, ctx: RunContext| {
            let gate = Arc::clone(&gate);
            Box::pin(async move {
                ctx.progress(1, Some(2));
                let _permit = gate.acquire().await;
                Ok(Counts::new().with("done", 1))
            })
        }),
    });
}

async fn outcome_of(app: &TestApp, run_id: i64) -> String {
    count_text(
        app,
        &format!("SELECT outcome FROM job_runs WHERE id = {run_id}"),
    )
    .await
}

async fn count_text(app: &TestApp, sql: &str) -> String {
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.state.core.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_job_triggered_twice_at_once_runs_once() {
    let app = spawn_app(Options::with_peer()).await;
    let core = &app.state.core;
    jobs::wait_idle(core, JobName::Maintenance).await;
    let gate = Arc::new(Semaphore::new(0));
    gated_maintenance(core, Arc::clone(&gate));
    let before = count(&app, "SELECT COUNT(*) FROM job_runs").await;

    let (a, b) = tokio::join!(
        jobs::trigger(core, JobName::Maintenance, Trigger::Manual),
        jobs::trigger(core, JobName::Maintenance, Trigger::Manual)
    );
    let (ok, refused) = match (a, b) {
        (Ok(id), Err(e)) | (Err(e), Ok(id)) => (id, e),
        other => panic!("expected one run and one refusal, got {other:?}"),
    };
    assert!(
        matches!(refused, TriggerError::AlreadyRunning { .. }),
        "{refused:?}"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM job_runs").await,
        before + 1
    );
    assert_eq!(outcome_of(&app, ok).await, "running");

    gate.add_permits(1);
    jobs::wait_idle(core, JobName::Maintenance).await;
    assert_eq!(outcome_of(&app, ok).await, "ok");
    assert_eq!(
        count_text(
            &app,
            &format!("SELECT counts FROM job_runs WHERE id = {ok}")
        )
        .await,
        r#"{"done":1}"#
    );
    // Once finished, it can run again.
    let again = jobs::trigger(core, JobName::Maintenance, Trigger::Manual)
        .await
        .unwrap();
    assert_ne!(again, ok);
    gate.add_permits(1);
    jobs::wait_idle(core, JobName::Maintenance).await;
}

#[tokio::test]
async fn a_run_asked_for_during_a_run_follows_it_once() {
    let app = spawn_app(Options::with_peer()).await;
    let core = &app.state.core;
    jobs::wait_idle(core, JobName::Maintenance).await;
    let gate = Arc::new(Semaphore::new(0));
    gated_maintenance(core, Arc::clone(&gate));
    let before = count(&app, "SELECT COUNT(*) FROM job_runs").await;

    let first = jobs::trigger(core, JobName::Maintenance, Trigger::Manual)
        .await
        .unwrap();
    // Two asks while it runs make one follow-up, not two.
    for _ in 0..2 {
        let queued = jobs::trigger_after_current(core, JobName::Maintenance, Trigger::Startup)
            .await
            .unwrap();
        assert_eq!(queued, jobs::Started::AfterCurrent);
    }
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM job_runs").await,
        before + 1
    );

    gate.add_permits(2);
    jobs::wait_idle(core, JobName::Maintenance).await;
    assert_eq!(outcome_of(&app, first).await, "ok");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM job_runs").await,
        before + 2
    );
    let follow_up = count(
        &app,
        &format!("SELECT COUNT(*) FROM job_runs WHERE id > {first} AND job = 'maintenance' AND outcome = 'ok' AND trigger = 'startup'"),
    )
    .await;
    assert_eq!(follow_up, 1);
    assert!(core.jobs.running(JobName::Maintenance).is_none());
}

#[tokio::test]
async fn shutdown_cancels_a_long_run_at_the_deadline_and_records_it() {
    let app = spawn_app(Options::with_peer()).await;
    let core = &app.state.core;
    jobs::wait_idle(core, JobName::Maintenance).await;
    // A run that never finishes by itself.
    gated_maintenance(core, Arc::new(Semaphore::new(0)));
    let run = jobs::trigger(core, JobName::Maintenance, Trigger::Manual)
        .await
        .unwrap();

    let started = Instant::now();
    jobs::drain(core, Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drain overran its deadline: {:?}",
        started.elapsed()
    );
    assert_eq!(outcome_of(&app, run).await, "cancelled");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM job_runs WHERE outcome = 'running'"
        )
        .await,
        0
    );
    // Nothing new starts once draining began.
    assert!(matches!(
        jobs::trigger(core, JobName::Maintenance, Trigger::Manual).await,
        Err(TriggerError::ShuttingDown)
    ));
}

#[tokio::test]
async fn a_run_that_finishes_within_the_deadline_is_recorded_ok() {
    let app = spawn_app(Options::with_peer()).await;
    let core = &app.state.core;
    jobs::wait_idle(core, JobName::Maintenance).await;
    let gate = Arc::new(Semaphore::new(0));
    gated_maintenance(core, Arc::clone(&gate));
    let run = jobs::trigger(core, JobName::Maintenance, Trigger::Manual)
        .await
        .unwrap();
    let drain = jobs::drain(core, Duration::from_secs(30));
    tokio::pin!(drain);
    // The drain waits for the run; let it finish.
    tokio::select! {
        () = &mut drain => panic!("drain returned while the run was still going"),
        () = tokio::task::yield_now() => {}
    }
    gate.add_permits(1);
    drain.await;
    assert_eq!(outcome_of(&app, run).await, "ok");
}

#[tokio::test]
async fn a_run_left_running_by_a_killed_process_reads_interrupted_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spotter.db");
    let db = spotter::db::connect_and_migrate(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    // Recent enough that the startup housekeeping keeps it.
    let started = spotter::clock::system_now() - 60;
    sqlx::query(
        "INSERT INTO job_runs (job, trigger, started_at, outcome) VALUES ('maintenance', 'schedule', ?1, 'running')",
    )
    .bind(started)
    .execute(&db)
    .await
    .unwrap();
    db.close().await;

    let mut opts = Options::with_peer();
    opts.db_path = Some(path);
    let app = spawn_app(opts).await;
    assert_eq!(
        count_text(
            &app,
            &format!("SELECT outcome FROM job_runs WHERE started_at = {started}")
        )
        .await,
        "interrupted"
    );
    let mut b = Browser::new(&app);
    let p = peer();
    b.login_ok(&p.user, &p.password).await;
    let page = b.get("/preferences/tasks").await;
    assert!(
        page.body.contains("interrupted (server stopped)"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_tasks_page_lists_the_maintenance_job_and_runs_it_on_request() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let core = &app.state.core;
    jobs::wait_idle(core, JobName::Maintenance).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;

    let page = b.get("/preferences/tasks").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("id=\"task-maintenance\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("Maintenance"));
    assert!(
        page.body.contains("startup"),
        "the startup run is in the history"
    );
    assert!(page.body.contains("state-ok"), "{}", page.body);
    assert!(page.body.contains("/preferences/tasks/maintenance/run"));

    let csrf = page.csrf();
    let r = b
        .post(
            "/preferences/tasks/maintenance/run",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), Some("/preferences/tasks?notice=started"));
    jobs::wait_idle(core, JobName::Maintenance).await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM job_runs WHERE trigger = 'manual' AND outcome = 'ok'"
        )
        .await,
        1
    );
    let page = b.get("/preferences/tasks?notice=started").await;
    assert!(page.body.contains("The task was started."));
    assert!(
        page.body.contains("run now"),
        "the manual run is in the history"
    );

    // Without the CSRF token nothing starts; an unknown job is a 404.
    let before = count(&app, "SELECT COUNT(*) FROM job_runs").await;
    assert_eq!(
        b.post("/preferences/tasks/maintenance/run", &[])
            .await
            .status,
        403
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM job_runs").await, before);
    let csrf = b.csrf().await;
    assert_eq!(
        b.post("/preferences/tasks/nope/run", &[("csrf_token", &csrf)])
            .await
            .status,
        404
    );
    // Signed out, the page asks to sign in.
    assert_eq!(
        Browser::new(&app).get("/preferences/tasks").await.status,
        303
    );
}

#[tokio::test]
async fn the_jobs_api_lists_every_job_with_its_last_and_next_run() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    jobs::wait_idle(&app.state.core, JobName::Maintenance).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    let r = b.get("/api/v1/jobs").await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let jobs: Vec<serde_json::Value> = serde_json::from_str(&r.body).unwrap();
    let names: Vec<&str> = jobs.iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"maintenance"), "{names:?}");
    let m = jobs.iter().find(|j| j["name"] == "maintenance").unwrap();
    assert_eq!(m["running"], false);
    assert_eq!(m["last_run"]["outcome"], "ok");
    assert!(m["last_run"]["counts"]["sessions"].is_u64(), "{m}");
    assert!(m["last_run"]["started"].as_str().unwrap().ends_with('Z'));
    assert!(m["next_run"].as_str().unwrap().ends_with('Z'));
    for j in &jobs {
        for key in ["name", "running", "last_run", "next_run"] {
            assert!(j.get(key).is_some(), "{key} missing in {j}");
        }
    }
}
