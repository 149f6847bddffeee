//! Background job runs (`job_runs`).

use crate::db::Db;
use crate::domain::jobs::{JobName, Outcome, Trigger};

#[derive(Debug, Clone)]
pub struct JobRun {
    pub id: i64,
    pub job: JobName,
    pub trigger: Trigger,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: Outcome,
    pub counts: String,
    pub error: String,
}

/// Open a run; its id.
pub async fn start(db: &Db, job: JobName, trigger: Trigger, now: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO job_runs (job, trigger, started_at) VALUES (?1, ?2, ?3)
           RETURNING id AS "id!: i64""#,
        job,
        trigger,
        now
    )
    .fetch_one(db)
    .await
}

/// Close a run with its outcome, counts (a JSON object) and a short fixed error text.
pub async fn finish(
    db: &Db,
    id: i64,
    outcome: Outcome,
    counts_json: &str,
    error: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE job_runs SET finished_at = ?2, outcome = ?3, counts = ?4, error = ?5
         WHERE id = ?1 AND outcome = 'running'",
        id,
        now,
        outcome,
        counts_json,
        error
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Mark every run still open as interrupted (at start: no run of this process exists yet).
pub async fn mark_interrupted(db: &Db, now: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE job_runs SET outcome = 'interrupted', finished_at = ?1 WHERE outcome = 'running'",
        now
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// The newest run of `job`, if any.
pub async fn last(db: &Db, job: JobName) -> Result<Option<JobRun>, sqlx::Error> {
    sqlx::query_as!(
        JobRun,
        r#"SELECT id AS "id!: i64", job AS "job: JobName", trigger AS "trigger: Trigger",
                  started_at, finished_at, outcome AS "outcome: Outcome", counts, error
           FROM job_runs WHERE job = ?1 ORDER BY started_at DESC, id DESC LIMIT 1"#,
        job
    )
    .fetch_optional(db)
    .await
}

/// The newest runs of every job.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<JobRun>, sqlx::Error> {
    sqlx::query_as!(
        JobRun,
        r#"SELECT id AS "id!: i64", job AS "job: JobName", trigger AS "trigger: Trigger",
                  started_at, finished_at, outcome AS "outcome: Outcome", counts, error
           FROM job_runs ORDER BY started_at DESC, id DESC LIMIT ?1"#,
        limit
    )
    .fetch_all(db)
    .await
}

pub async fn find(db: &Db, id: i64) -> Result<Option<JobRun>, sqlx::Error> {
    sqlx::query_as!(
        JobRun,
        r#"SELECT id AS "id!: i64", job AS "job: JobName", trigger AS "trigger: Trigger",
                  started_at, finished_at, outcome AS "outcome: Outcome", counts, error
           FROM job_runs WHERE id = ?1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// Delete finished runs that started before `cutoff`; how many.
pub async fn prune(db: &Db, cutoff: i64) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM job_runs WHERE outcome <> 'running' AND started_at < ?1",
        cutoff
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}
