//! `GET /preferences/tasks`: every background job with its last run, its next run and a
//! "Run now" button, and the recent run history. Live progress arrives over `/events` when
//! JavaScript is on; without it a reload shows the current state.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::Core;
use crate::domain::jobs::{JobName, Outcome, Trigger};
use crate::http::error::{AppError, AppResult};
use crate::http::format::{human_time, iso_time};
use crate::http::notices::{Code, RunNotice, redirect_with_notice};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::jobs;

pub const PAGE: &str = "/preferences/tasks";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PAGE, get(tasks_page))
        .route("/preferences/tasks/{job}/run", post(run_now))
}

/// How the Tasks page words a "Run now" result.
fn notice_text(notice: RunNotice) -> &'static str {
    match notice {
        RunNotice::Started => "The task was started. Its progress shows below.",
        RunNotice::AlreadyRunning => {
            "That task is already running; it was not started a second time. Its progress shows below."
        }
        RunNotice::ShuttingDown => "The server is shutting down; no new task can start now.",
    }
}

struct JobRow {
    name: &'static str,
    label: &'static str,
    description: &'static str,
    every: String,
    running: bool,
    progress_done: u64,
    progress_total: u64,
    last_started: String,
    last_started_iso: String,
    last_duration: String,
    last_outcome: &'static str,
    last_outcome_label: &'static str,
    last_counts: String,
    last_error: String,
    next_run: String,
    next_run_iso: String,
}

struct RunRow {
    job_label: &'static str,
    trigger: &'static str,
    started: String,
    started_iso: String,
    duration: String,
    outcome: &'static str,
    outcome_label: &'static str,
    counts: String,
    error: String,
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    ctx: PageCtx,
    notice: Option<&'static str>,
    jobs: Vec<JobRow>,
    runs: Vec<RunRow>,
}

#[derive(Deserialize)]
struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

/// `3 min`, `2 h 5 min`, `45 s`.
fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        _ if secs % 3600 / 60 == 0 => format!("{} h", secs / 3600),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// `{"sessions":3,"audit_events":0}` as `sessions 3 · audit events 0`. The JSON is our own.
fn human_counts(json: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(json) else {
        return String::new();
    };
    map.iter()
        .map(|(k, v)| format!("{} {}", k.replace('_', " "), v))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn trigger_label(t: Trigger) -> &'static str {
    match t {
        Trigger::Schedule => "schedule",
        Trigger::Manual => "run now",
        Trigger::Startup => "startup",
    }
}

async fn tasks_page(
    State(core): State<Core>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    let overview = jobs::overview(&core).await?;
    let history = jobs::history(&core, 50).await?;
    let now = core.clock.now();
    let jobs = overview
        .into_iter()
        .map(|j| {
            let last = j.last_run.as_ref();
            let running = j.running.is_some();
            let progress = j.running.map(|r| r.progress).unwrap_or_default();
            JobRow {
                name: j.name.as_str(),
                label: j.name.label(),
                description: j.name.description(),
                every: human_duration(i64::try_from(j.interval.as_secs()).unwrap_or(i64::MAX)),
                running,
                progress_done: progress.done,
                progress_total: progress.total.unwrap_or(0),
                last_started: last.map(|r| human_time(r.started_at)).unwrap_or_default(),
                last_started_iso: last.map(|r| iso_time(r.started_at)).unwrap_or_default(),
                last_duration: last
                    .and_then(|r| r.finished_at.map(|f| human_duration(f - r.started_at)))
                    .unwrap_or_default(),
                last_outcome: last.map_or("never", |r| r.outcome.as_str()),
                last_outcome_label: last.map_or("never run", |r| r.outcome.label()),
                last_counts: last.map(|r| human_counts(&r.counts)).unwrap_or_default(),
                last_error: last.map(|r| r.error.clone()).unwrap_or_default(),
                next_run: if running {
                    String::new()
                } else if j.next_run <= now {
                    "due now".to_owned()
                } else {
                    human_time(j.next_run)
                },
                next_run_iso: iso_time(j.next_run),
            }
        })
        .collect();
    let runs = history
        .into_iter()
        .map(|r| RunRow {
            job_label: r.job.label(),
            trigger: trigger_label(r.trigger),
            started: human_time(r.started_at),
            started_iso: iso_time(r.started_at),
            duration: r
                .finished_at
                .map(|f| human_duration(f - r.started_at))
                .unwrap_or_default(),
            outcome: r.outcome.as_str(),
            outcome_label: if r.outcome == Outcome::Running {
                "running"
            } else {
                r.outcome.label()
            },
            counts: human_counts(&r.counts),
            error: r.error,
        })
        .collect();
    let page = TasksPage {
        notice: q
            .notice
            .as_deref()
            .and_then(RunNotice::parse)
            .map(notice_text),
        jobs,
        runs,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "tasks"),
    };
    Ok(render(&page, StatusCode::OK))
}

async fn run_now(
    State(core): State<Core>,
    _user: CurrentUser,
    Path(job): Path<String>,
) -> AppResult<Response> {
    let name = JobName::parse(&job).ok_or(AppError::NotFound)?;
    let notice = RunNotice::after_trigger(jobs::trigger(&core, name, Trigger::Manual).await)?;
    Ok(redirect_with_notice(PAGE, notice))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_counts_read_well() {
        assert_eq!(human_duration(45), "45 s");
        assert_eq!(human_duration(600), "10 min");
        assert_eq!(human_duration(3600), "1 h");
        assert_eq!(human_duration(7500), "2 h 5 min");
        assert_eq!(
            human_counts(r#"{"audit_events":2,"sessions":0}"#),
            "audit events 2 · sessions 0"
        );
        assert_eq!(human_counts("not json"), "");
    }
}
