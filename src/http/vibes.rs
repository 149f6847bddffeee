//! `/vibes`: DJ personas and mixtapes. Generate queues the mixtape and starts the Vibes job;
//! the mixtape page shows its progress, then the DJ's intro, each song with the DJ's reason,
//! and the closing words. Everything the model wrote is plain text in the templates
//! (autoescaped, paragraphs split here), never markup.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::app::Core;
use crate::db::vibes::{MixtapeRow, PersonaRow};
use crate::domain::dj::{self, Persona, Schedule, Seed, paragraphs};
use crate::domain::jobs::{JobName, Trigger};
use crate::http::error::{AppError, AppResult};
use crate::http::format::{human_time, iso_time};
use crate::http::notices::{Code, redirect_with_notice};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::services::ai::{self, AiFailure};
use crate::services::vibes::{self, MixtapeForm, Requested, SaveOutcome, Saved};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/vibes", get(|| async { Redirect::to("/vibes/mixtapes") }))
        .route("/vibes/djs", get(djs_page).post(create_dj))
        .route("/vibes/djs/{id}", get(dj_page).post(update_dj))
        .route("/vibes/djs/{id}/delete", post(delete_dj))
        .route("/vibes/mixtapes", get(mixtapes_page).post(create_mixtape))
        .route("/vibes/mixtapes/{id}", get(mixtape_page))
        .route("/vibes/mixtapes/{id}/generate", post(generate))
        .route("/vibes/mixtapes/{id}/save", post(save))
        .route("/vibes/mixtapes/{id}/schedule", post(schedule))
        .route("/vibes/mixtapes/{id}/delete", post(delete_mixtape))
        .route("/library/artists/{id}/similar-dj", post(similar_by_dj))
        .route(
            "/playlists/{id}/enhance-vibes",
            get(enhance_page).post(enhance),
        )
}

/// What a Vibes action did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VibesNotice {
    DjCreated,
    DjSaved,
    DjDeleted,
    DjInUse,
    NameTaken,
    Queued,
    AlreadyQueued,
    NotConfigured,
    BudgetSpent,
    SavedNew,
    SavedUpdated,
    NothingToSave,
    NoCredentials,
    NavidromeFailed,
    Scheduled,
    MixtapeDeleted,
}

impl Code for VibesNotice {
    const ALL: &'static [Self] = &[
        Self::DjCreated,
        Self::DjSaved,
        Self::DjDeleted,
        Self::DjInUse,
        Self::NameTaken,
        Self::Queued,
        Self::AlreadyQueued,
        Self::NotConfigured,
        Self::BudgetSpent,
        Self::SavedNew,
        Self::SavedUpdated,
        Self::NothingToSave,
        Self::NoCredentials,
        Self::NavidromeFailed,
        Self::Scheduled,
        Self::MixtapeDeleted,
    ];
    fn as_str(self) -> &'static str {
        match self {
            Self::DjCreated => "dj-created",
            Self::DjSaved => "dj-saved",
            Self::DjDeleted => "dj-deleted",
            Self::DjInUse => "dj-in-use",
            Self::NameTaken => "name-taken",
            Self::Queued => "queued",
            Self::AlreadyQueued => "already-queued",
            Self::NotConfigured => "not-configured",
            Self::BudgetSpent => "budget-spent",
            Self::SavedNew => "saved-new",
            Self::SavedUpdated => "saved-updated",
            Self::NothingToSave => "nothing-to-save",
            Self::NoCredentials => "no-credentials",
            Self::NavidromeFailed => "navidrome-failed",
            Self::Scheduled => "scheduled",
            Self::MixtapeDeleted => "mixtape-deleted",
        }
    }
}

impl VibesNotice {
    fn text(self) -> &'static str {
        match self {
            Self::DjCreated => "The DJ is ready.",
            Self::DjSaved => "The DJ was saved.",
            Self::DjDeleted => "The DJ was deleted.",
            Self::DjInUse => "That DJ still has mixtapes: delete those first.",
            Self::NameTaken => "You already have a DJ of that name.",
            Self::Queued => "The DJ is at work. This page shows the mixtape when it is done.",
            Self::AlreadyQueued => "This mixtape is already being generated.",
            Self::NotConfigured => {
                "No AI provider configured: set one up on the AI settings page first."
            }
            Self::BudgetSpent => {
                "Today's AI token budget is spent. It resets at midnight UTC; the budget can be raised on the AI settings page."
            }
            Self::SavedNew => "Saved to Navidrome as a new playlist.",
            Self::SavedUpdated => "The Navidrome playlist was updated in place.",
            Self::NothingToSave => "Generate the mixtape first: there are no songs to save yet.",
            Self::NoCredentials => {
                "Spotter has no usable Navidrome password: sign out and in again."
            }
            Self::NavidromeFailed => "Navidrome did not accept the playlist. Try again later.",
            Self::Scheduled => "The schedule was saved.",
            Self::MixtapeDeleted => "The mixtape was deleted (its Navidrome playlist stays).",
        }
    }
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

fn notice_of(q: &NoticeQuery) -> Option<&'static str> {
    q.notice
        .as_deref()
        .and_then(VibesNotice::parse)
        .map(VibesNotice::text)
}

fn parse_id(s: &str) -> AppResult<i64> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(AppError::NotFound)
}

/// Whether AI can be used, for the "No AI provider configured" banner.
async fn ai_ready(core: &Core, user: &CurrentUser) -> AppResult<bool> {
    Ok(ai::provider(core, user.user_id).await?.is_configured())
}

// ---------------------------------------------------------------- DJs

#[derive(Template)]
#[template(path = "vibes_djs.html")]
struct DjsPage {
    ctx: PageCtx,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    ai_ready: bool,
    how_to: &'static str,
    djs: Vec<DjView>,
    form: Persona,
}

struct DjView {
    id: i64,
    name: String,
    vibes: String,
    genres: String,
    mixtapes: i64,
    personality: Vec<String>,
}

impl From<PersonaRow> for DjView {
    fn from(p: PersonaRow) -> Self {
        Self {
            id: p.id,
            personality: paragraphs(&p.personality),
            name: p.name,
            vibes: p.vibes,
            genres: p.genres_include,
            mixtapes: p.mixtapes,
        }
    }
}

async fn djs_page(
    State(core): State<Core>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    let djs = vibes::personas(&core, user.user_id).await?;
    let view = DjsPage {
        notice: notice_of(&q),
        error: None,
        ai_ready: ai_ready(&core, &user).await?,
        how_to: ai::HOW_TO_CONFIGURE,
        djs: djs.into_iter().map(DjView::from).collect(),
        form: Persona::default(),
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "vibes"),
    };
    Ok(render(&view, StatusCode::OK))
}

#[derive(Deserialize)]
struct DjForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    personality: String,
    #[serde(default)]
    genres_include: String,
    #[serde(default)]
    genres_exclude: String,
    #[serde(default)]
    artists_include: String,
    #[serde(default)]
    artists_exclude: String,
    #[serde(default)]
    vibes: String,
}

impl From<DjForm> for Persona {
    fn from(f: DjForm) -> Self {
        Self {
            name: f.name,
            personality: f.personality,
            genres_include: f.genres_include,
            genres_exclude: f.genres_exclude,
            artists_include: f.artists_include,
            artists_exclude: f.artists_exclude,
            vibes: f.vibes,
        }
    }
}

async fn create_dj(
    State(core): State<Core>,
    user: CurrentUser,
    form: Result<Form<DjForm>, FormRejection>,
) -> AppResult<Response> {
    let Ok(Form(form)) = form else {
        return Err(AppError::BadRequest(
            "The DJ form was incomplete. Go back and try again.",
        ));
    };
    let persona: Persona = form.into();
    match vibes::create_persona(&core, user.user_id, persona.clone()).await? {
        Saved::Done(id) => Ok(redirect_with_notice(
            &format!("/vibes/djs/{id}"),
            VibesNotice::DjCreated,
        )),
        Saved::NameTaken => Ok(redirect_with_notice("/vibes/djs", VibesNotice::NameTaken)),
        Saved::Invalid(problem) => {
            let djs = vibes::personas(&core, user.user_id).await?;
            let view = DjsPage {
                notice: None,
                error: Some(problem.message()),
                ai_ready: ai_ready(&core, &user).await?,
                how_to: ai::HOW_TO_CONFIGURE,
                djs: djs.into_iter().map(DjView::from).collect(),
                form: persona,
                ctx: PageCtx::signed_in(user.username, user.csrf_token, "vibes"),
            };
            Ok(render(&view, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Saved::NotFound => Err(AppError::NotFound),
    }
}

#[derive(Template)]
#[template(path = "vibes_dj.html")]
struct DjPage {
    ctx: PageCtx,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    id: i64,
    mixtapes: i64,
    form: Persona,
    personality: Vec<String>,
}

async fn dj_page(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let p = vibes::persona(&core, user.user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = vibes::persona_of(&p);
    let view = DjPage {
        notice: notice_of(&q),
        error: None,
        id,
        mixtapes: p.mixtapes,
        personality: paragraphs(&form.personality),
        form,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "vibes"),
    };
    Ok(render(&view, StatusCode::OK))
}

async fn update_dj(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: Result<Form<DjForm>, FormRejection>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let Ok(Form(form)) = form else {
        return Err(AppError::BadRequest(
            "The DJ form was incomplete. Go back and try again.",
        ));
    };
    let persona: Persona = form.into();
    match vibes::update_persona(&core, user.user_id, id, persona.clone()).await? {
        Saved::Done(id) => Ok(redirect_with_notice(
            &format!("/vibes/djs/{id}"),
            VibesNotice::DjSaved,
        )),
        Saved::NameTaken => Ok(redirect_with_notice(
            &format!("/vibes/djs/{id}"),
            VibesNotice::NameTaken,
        )),
        Saved::NotFound => Err(AppError::NotFound),
        Saved::Invalid(problem) => {
            let view = DjPage {
                notice: None,
                error: Some(problem.message()),
                id,
                mixtapes: 0,
                personality: paragraphs(&persona.personality),
                form: persona,
                ctx: PageCtx::signed_in(user.username, user.csrf_token, "vibes"),
            };
            Ok(render(&view, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

async fn delete_dj(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    if vibes::persona(&core, user.user_id, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let notice = if vibes::delete_persona(&core, user.user_id, id).await? {
        VibesNotice::DjDeleted
    } else {
        VibesNotice::DjInUse
    };
    Ok(redirect_with_notice("/vibes/djs", notice))
}

// ---------------------------------------------------------------- mixtapes

struct MixtapeItem {
    id: i64,
    name: String,
    dj_name: String,
    status: &'static str,
    schedule: &'static str,
    tracks: i64,
    generated: Option<(String, String)>,
    in_navidrome: bool,
}

fn status_label(status: &str) -> &'static str {
    match status {
        "queued" => "waiting",
        "running" => "generating",
        "ready" => "ready",
        "failed" => "failed",
        _ => "not generated yet",
    }
}

impl From<MixtapeRow> for MixtapeItem {
    fn from(m: MixtapeRow) -> Self {
        Self {
            id: m.id,
            status: status_label(&m.status),
            schedule: Schedule::parse(&m.schedule)
                .unwrap_or(Schedule::None)
                .label(),
            tracks: m.track_count,
            generated: m.generated_at.map(|t| (human_time(t), iso_time(t))),
            in_navidrome: m.navidrome_playlist_id.is_some(),
            name: m.name,
            dj_name: m.dj_name,
        }
    }
}

#[derive(Template)]
#[template(path = "vibes_mixtapes.html")]
struct MixtapesPage {
    ctx: PageCtx,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    ai_ready: bool,
    how_to: &'static str,
    mixtapes: Vec<MixtapeItem>,
    djs: Vec<(i64, String)>,
    schedules: Vec<(&'static str, &'static str)>,
    form: MixtapeFormView,
}

#[derive(Default)]
struct MixtapeFormView {
    name: String,
    dj_id: i64,
    max_tracks: i64,
    seed_type: String,
    seed_id: String,
    seed_label: String,
}

#[derive(Deserialize, Default)]
struct MixtapesQuery {
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    seed_type: Option<String>,
    #[serde(default)]
    seed_id: Option<String>,
    #[serde(default)]
    seed_label: Option<String>,
    #[serde(default)]
    dj_id: Option<i64>,
}

async fn mixtapes_view(
    core: &Core,
    user: CurrentUser,
    notice: Option<&'static str>,
    error: Option<&'static str>,
    form: MixtapeFormView,
) -> AppResult<MixtapesPage> {
    let djs = vibes::personas(core, user.user_id).await?;
    let mixtapes = vibes::mixtapes(core, user.user_id).await?;
    Ok(MixtapesPage {
        notice,
        error,
        ai_ready: ai_ready(core, &user).await?,
        how_to: ai::HOW_TO_CONFIGURE,
        mixtapes: mixtapes.into_iter().map(MixtapeItem::from).collect(),
        djs: djs.into_iter().map(|d| (d.id, d.name)).collect(),
        schedules: Schedule::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        form,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "vibes"),
    })
}

async fn mixtapes_page(
    State(core): State<Core>,
    user: CurrentUser,
    Query(q): Query<MixtapesQuery>,
) -> AppResult<Response> {
    let clip =
        |s: Option<String>, n: usize| -> String { s.unwrap_or_default().chars().take(n).collect() };
    let form = MixtapeFormView {
        name: String::new(),
        dj_id: q.dj_id.unwrap_or(0),
        max_tracks: dj::DEFAULT_TRACKS,
        seed_type: clip(q.seed_type, 10),
        seed_id: clip(q.seed_id, 500),
        seed_label: clip(q.seed_label, 200),
    };
    let notice = q
        .notice
        .as_deref()
        .and_then(VibesNotice::parse)
        .map(VibesNotice::text);
    let view = mixtapes_view(&core, user, notice, None, form).await?;
    Ok(render(&view, StatusCode::OK))
}

#[derive(Deserialize)]
struct NewMixtapeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    dj_id: String,
    #[serde(default)]
    max_tracks: String,
    #[serde(default)]
    seed_type: String,
    #[serde(default)]
    seed_id: String,
    #[serde(default)]
    schedule: String,
}

async fn create_mixtape(
    State(core): State<Core>,
    user: CurrentUser,
    form: Result<Form<NewMixtapeForm>, FormRejection>,
) -> AppResult<Response> {
    let Ok(Form(f)) = form else {
        return Err(AppError::BadRequest(
            "The mixtape form was incomplete. Go back and try again.",
        ));
    };
    let dj_id: i64 = f.dj_id.trim().parse().unwrap_or(0);
    let max_tracks: i64 = match f.max_tracks.trim() {
        "" => dj::DEFAULT_TRACKS,
        s => s.parse().map_err(|_| {
            AppError::BadRequest("The length must be a number of songs between 5 and 100.")
        })?,
    };
    let seed = Seed::from_form(&f.seed_type, &f.seed_id).map_err(|_| {
        AppError::BadRequest("The seed must be an artist, an album or tracks, with an id.")
    })?;
    let schedule = match f.schedule.trim() {
        "" => Schedule::None,
        s => Schedule::parse(s).ok_or(AppError::BadRequest("Choose a schedule from the list."))?,
    };
    let form = MixtapeForm {
        name: f.name.clone(),
        dj_id,
        max_tracks,
        seed,
        schedule,
    };
    match vibes::create_mixtape(&core, user.user_id, form).await? {
        Ok(id) => Ok(Redirect::to(&format!("/vibes/mixtapes/{id}")).into_response()),
        Err(problem) => {
            let back = MixtapeFormView {
                name: f.name.chars().take(200).collect(),
                dj_id,
                max_tracks,
                seed_type: f.seed_type.chars().take(10).collect(),
                seed_id: f.seed_id.chars().take(500).collect(),
                seed_label: String::new(),
            };
            let view = mixtapes_view(&core, user, None, Some(problem.message()), back).await?;
            Ok(render(&view, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

struct TrackView {
    title: String,
    artist: String,
    album: String,
    in_library: bool,
    reason: Vec<String>,
}

#[derive(Template)]
#[template(path = "vibes_mixtape.html")]
struct MixtapePage {
    ctx: PageCtx,
    /// An enhancement: the playlist (id, name, written back in place).
    source: Option<(i64, String, bool)>,
    notice: Option<&'static str>,
    ai_ready: bool,
    how_to: &'static str,
    id: i64,
    name: String,
    dj_id: i64,
    dj_name: String,
    max_tracks: i64,
    seed: String,
    schedule: &'static str,
    schedules: Vec<(&'static str, &'static str)>,
    status: &'static str,
    busy: bool,
    events_after: u64,
    error: String,
    progress: Option<(u64, u64)>,
    intro: Vec<String>,
    outro: Vec<String>,
    tracks: Vec<TrackView>,
    model: String,
    tokens: i64,
    generated: Option<(String, String)>,
    seconds: String,
    in_navidrome: bool,
    saved: Option<(String, String)>,
    show_prompt: bool,
    prompt: Vec<String>,
}

#[derive(Deserialize, Default)]
struct MixtapeQuery {
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    prompt: Option<String>,
}

async fn mixtape_page(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<MixtapeQuery>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    // Taken before the mixtape is read: its "finished" event, if it comes after, is replayed
    // to the page's stream even when the stream opens later.
    let events_after = core.events.last_id();
    let (m, tracks) = vibes::mixtape(&core, user.user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let show_prompt = q.prompt.as_deref() == Some("1");
    let prompt = if show_prompt {
        vibes::mixtape_prompt(&core, user.user_id, id)
            .await?
            .map(|p| p.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let busy = m.status == "queued" || m.status == "running";
    let progress = core
        .jobs
        .running(JobName::Vibes)
        .filter(|_| busy)
        .map(|r| (r.progress.done, r.progress.total.unwrap_or(0).max(1)));
    let seed = match (m.seed_type.as_deref(), m.seed_id.as_deref()) {
        (Some(kind), Some(sid)) => vibes::seed_label(&core, kind, sid).await?,
        _ => String::new(),
    };
    let schedule = Schedule::parse(&m.schedule).unwrap_or(Schedule::None);
    let source = match m.source_playlist_id {
        Some(src) => vibes::source_playlist(&core, user.user_id, src)
            .await?
            .map(|p| {
                (
                    p.id,
                    p.name,
                    p.service == "navidrome"
                        && m.navidrome_playlist_id.as_deref() == Some(p.remote_id.as_str()),
                )
            }),
        None => None,
    };
    let view = MixtapePage {
        source,
        notice: q
            .notice
            .as_deref()
            .and_then(VibesNotice::parse)
            .map(VibesNotice::text),
        ai_ready: ai_ready(&core, &user).await?,
        how_to: ai::HOW_TO_CONFIGURE,
        id,
        dj_id: m.dj_id,
        dj_name: m.dj_name,
        max_tracks: m.max_tracks,
        seed,
        schedule: schedule.as_str(),
        schedules: Schedule::ALL
            .iter()
            .map(|s| (s.as_str(), s.label()))
            .collect(),
        status: status_label(&m.status),
        busy,
        events_after,
        error: if m.status == "failed" {
            m.error
        } else {
            String::new()
        },
        progress,
        intro: paragraphs(&m.intro),
        outro: paragraphs(&m.outro),
        tracks: tracks
            .into_iter()
            .map(|t| TrackView {
                in_library: t.track_id.is_some(),
                title: t.title,
                artist: t.artist,
                album: t.album,
                reason: paragraphs(&t.reason),
            })
            .collect(),
        model: m.model,
        tokens: m.prompt_tokens + m.completion_tokens,
        generated: m.generated_at.map(|t| (human_time(t), iso_time(t))),
        seconds: m
            .generation_ms
            .map(|ms| format!("{:.1}", ms as f64 / 1000.0))
            .unwrap_or_default(),
        in_navidrome: m.navidrome_playlist_id.is_some(),
        saved: m.saved_at.map(|t| (human_time(t), iso_time(t))),
        show_prompt,
        prompt,
        name: m.name,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "vibes"),
    };
    Ok(render(&view, StatusCode::OK))
}

async fn generate(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let page = format!("/vibes/mixtapes/{id}");
    let notice = match vibes::request_generation(&core, user.user_id, id).await? {
        Requested::NotFound => return Err(AppError::NotFound),
        Requested::Refused(AiFailure::NotConfigured) => VibesNotice::NotConfigured,
        Requested::Refused(_) => VibesNotice::BudgetSpent,
        Requested::AlreadyQueued => VibesNotice::AlreadyQueued,
        Requested::Queued => {
            match crate::jobs::trigger_after_current(&core, JobName::Vibes, Trigger::Manual).await {
                Ok(_) | Err(crate::jobs::TriggerError::ShuttingDown) => {}
                Err(e) => tracing::warn!(error = %e, "the Vibes job did not start"),
            }
            VibesNotice::Queued
        }
    };
    Ok(redirect_with_notice(&page, notice))
}

async fn save(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let notice = match vibes::save_to_navidrome(&core, user.user_id, id).await? {
        SaveOutcome::NotFound => return Err(AppError::NotFound),
        SaveOutcome::Saved { created: true, .. } => VibesNotice::SavedNew,
        SaveOutcome::Saved { created: false, .. } => VibesNotice::SavedUpdated,
        SaveOutcome::NothingToSave => VibesNotice::NothingToSave,
        SaveOutcome::NoCredentials => VibesNotice::NoCredentials,
        SaveOutcome::NavidromeFailed => VibesNotice::NavidromeFailed,
    };
    Ok(redirect_with_notice(
        &format!("/vibes/mixtapes/{id}"),
        notice,
    ))
}

#[derive(Deserialize)]
struct ScheduleForm {
    #[serde(default)]
    schedule: String,
}

async fn schedule(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: Result<Form<ScheduleForm>, FormRejection>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let schedule = form
        .ok()
        .and_then(|Form(f)| Schedule::parse(f.schedule.trim()))
        .ok_or(AppError::BadRequest("Choose a schedule from the list."))?;
    if !vibes::set_schedule(&core, user.user_id, id, schedule).await? {
        return Err(AppError::NotFound);
    }
    Ok(redirect_with_notice(
        &format!("/vibes/mixtapes/{id}"),
        VibesNotice::Scheduled,
    ))
}

async fn delete_mixtape(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    if !vibes::delete_mixtape(&core, user.user_id, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(redirect_with_notice(
        "/vibes/mixtapes",
        VibesNotice::MixtapeDeleted,
    ))
}

// ---------------------------------------------------------------- similar artists, by a DJ

struct RankedView {
    id: String,
    name: String,
    why: String,
    reason: Vec<String>,
}

#[derive(Template)]
#[template(path = "vibes_similar.html")]
struct SimilarPage {
    ctx: PageCtx,
    artist_id: String,
    dj_name: String,
    error: String,
    ranked: Vec<RankedView>,
}

#[derive(Deserialize)]
struct SimilarForm {
    #[serde(default)]
    dj_id: String,
}

/// The artist page's similar artists ranked by a DJ: shown, not stored.
async fn similar_by_dj(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: Result<Form<SimilarForm>, FormRejection>,
) -> AppResult<Response> {
    if id.is_empty() || id.len() > 200 {
        return Err(AppError::NotFound);
    }
    let dj_id: i64 = form
        .ok()
        .and_then(|Form(f)| f.dj_id.trim().parse().ok())
        .ok_or(AppError::BadRequest("Choose one of your DJs."))?;
    let (dj_name, error, ranked) =
        match vibes::similar_artists_by_dj(&core, user.user_id, &id, dj_id).await? {
            Ok((dj_name, list)) => (
                dj_name,
                String::new(),
                list.into_iter()
                    .map(|(s, reason)| RankedView {
                        reason: paragraphs(&reason),
                        id: s.id,
                        name: s.name,
                        why: s.why,
                    })
                    .collect(),
            ),
            Err(sentence) => (String::new(), sentence, Vec::new()),
        };
    let view = SimilarPage {
        artist_id: id,
        dj_name,
        error,
        ranked,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "library"),
    };
    Ok(render(&view, StatusCode::OK))
}

// ---------------------------------------------------------------- enhancing a playlist

#[derive(Template)]
#[template(path = "vibes_enhance.html")]
struct EnhancePage {
    ctx: PageCtx,
    error: Option<&'static str>,
    ai_ready: bool,
    how_to: &'static str,
    id: i64,
    name: String,
    in_library: i64,
    is_navidrome: bool,
    djs: Vec<(i64, String)>,
    max_add: i64,
}

async fn enhance_view(
    core: &Core,
    user: CurrentUser,
    id: i64,
    error: Option<&'static str>,
) -> AppResult<EnhancePage> {
    let source = vibes::source_playlist(core, user.user_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let djs = vibes::personas(core, user.user_id).await?;
    Ok(EnhancePage {
        error,
        ai_ready: ai_ready(core, &user).await?,
        how_to: ai::HOW_TO_CONFIGURE,
        id,
        name: source.name,
        in_library: source.in_library,
        is_navidrome: source.service == "navidrome",
        djs: djs.into_iter().map(|d| (d.id, d.name)).collect(),
        max_add: vibes::MAX_ENHANCE_ADD,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "playlists"),
    })
}

async fn enhance_page(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let view = enhance_view(&core, user, id, None).await?;
    Ok(render(&view, StatusCode::OK))
}

#[derive(Deserialize)]
struct EnhanceForm {
    #[serde(default)]
    dj_id: String,
    #[serde(default)]
    add: String,
    /// `one_time`: write the result back into the Navidrome playlist; `convert_to_mixtape`: a
    /// new mixtape.
    #[serde(default)]
    mode: String,
}

async fn enhance(
    State(core): State<Core>,
    user: CurrentUser,
    Path(id): Path<String>,
    form: Result<Form<EnhanceForm>, FormRejection>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let Ok(Form(f)) = form else {
        return Err(AppError::BadRequest(
            "The form was incomplete. Go back and try again.",
        ));
    };
    let dj_id: i64 = f.dj_id.trim().parse().unwrap_or(0);
    let add: i64 = match f.add.trim() {
        "" => 5,
        s => s
            .parse()
            .map_err(|_| AppError::BadRequest("Say how many songs to add (1 to 20)."))?,
    };
    let in_place = match f.mode.trim() {
        "one_time" => true,
        "" | "convert_to_mixtape" => false,
        _ => return Err(AppError::BadRequest("Choose where the result goes.")),
    };
    if vibes::source_playlist(&core, user.user_id, id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    let mixtape =
        match vibes::create_enhancement(&core, user.user_id, id, dj_id, add, in_place).await? {
            Ok(m) => m,
            Err(problem) => {
                let view = enhance_view(&core, user, id, Some(problem.message())).await?;
                return Ok(render(&view, StatusCode::UNPROCESSABLE_ENTITY));
            }
        };
    generate(State(core), user, Path(mixtape.to_string())).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip() {
        for c in VibesNotice::ALL {
            assert_eq!(VibesNotice::parse(c.as_str()), Some(*c));
            assert!(!c.text().is_empty());
        }
    }
}
