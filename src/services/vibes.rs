//! The AI DJ ("Vibes"): personas (with the four starters), mixtapes, their generation (run by
//! the Vibes job: candidates from the library, the prompt, the model call, the answer checked
//! against the candidates, the result stored), and writing a mixtape to Navidrome.
//!
//! What the model sees is built only from music text and what the user typed (see
//! `domain::dj::prompt`); the account's name, ids and credentials are never passed in.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use crate::app::Core;
use crate::db;
use crate::db::vibes::{MixtapeRow, MixtapeTrackRow, PersonaFields, PersonaRow, PoolTrack};
use crate::domain::dj::answer::{self, AnswerError};
use crate::domain::dj::candidates::{self, Candidate, Rng, Selection, Track};
use crate::domain::dj::prompt::{self, Played, SeedText};
use crate::domain::dj::{self, Persona, PersonaProblem, Schedule, Seed};
use crate::domain::ids::UserId;
use crate::domain::text::normalize;
use crate::services::ServiceError;
use crate::services::ai::{self, AiFailure};

/// How far back "recent listening" reaches.
const HISTORY_WINDOW_SECS: i64 = 30 * 86_400;
/// Most-played songs shown to the DJ.
const HISTORY_LINES: i64 = 30;
/// Pool sizes read from the library before the selection.
const POOL_RANDOM: i64 = 4_000;
const POOL_PLAYED: i64 = 400;
const POOL_TASTE: i64 = 600;
const POOL_SEED: i64 = 300;
/// Songs an enhancement may add.
pub const MAX_ENHANCE_ADD: i64 = 20;
/// Never more candidates than this, whatever the budget.
const MAX_CANDIDATES: usize = 600;
/// Answer tokens allowed per song asked for (reason) plus the intro and outro.
const ANSWER_TOKENS_PER_TRACK: u32 = 80;
const ANSWER_TOKENS_BASE: u32 = 600;

/// The persona row as the domain type.
pub fn persona_of(r: &PersonaRow) -> Persona {
    Persona {
        name: r.name.clone(),
        personality: r.personality.clone(),
        genres_include: r.genres_include.clone(),
        genres_exclude: r.genres_exclude.clone(),
        artists_include: r.artists_include.clone(),
        artists_exclude: r.artists_exclude.clone(),
        vibes: r.vibes.clone(),
    }
}

fn fields(p: &Persona) -> PersonaFields<'_> {
    PersonaFields {
        name: &p.name,
        personality: &p.personality,
        genres_include: &p.genres_include,
        genres_exclude: &p.genres_exclude,
        artists_include: &p.artists_include,
        artists_exclude: &p.artists_exclude,
        vibes: &p.vibes,
    }
}

/// Give the user the four starter personas, once (at the first sign-in, or the first visit to
/// Vibes for accounts older than this feature). A starter whose name the user already took is
/// skipped.
pub async fn ensure_starters(core: &Core, user_id: UserId) -> Result<(), ServiceError> {
    let now = core.clock.now();
    let mut tx = crate::db::begin_write(&core.db).await?;
    if db::vibes::mark_seeded(&mut tx, user_id, now).await? {
        for p in dj::starters() {
            db::vibes::insert_persona(&mut tx, user_id, fields(&p), now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub async fn personas(core: &Core, user_id: UserId) -> Result<Vec<PersonaRow>, ServiceError> {
    ensure_starters(core, user_id).await?;
    Ok(db::vibes::personas(&core.db, user_id).await?)
}

pub async fn persona(
    core: &Core,
    user_id: UserId,
    id: i64,
) -> Result<Option<PersonaRow>, ServiceError> {
    Ok(db::vibes::persona(&core.db, user_id, id).await?)
}

/// What saving a persona did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Done(i64),
    Invalid(PersonaProblem),
    NameTaken,
    NotFound,
}

pub async fn create_persona(
    core: &Core,
    user_id: UserId,
    p: Persona,
) -> Result<Saved, ServiceError> {
    let p = match p.cleaned() {
        Ok(p) => p,
        Err(e) => return Ok(Saved::Invalid(e)),
    };
    let mut conn = core.db.acquire().await?;
    Ok(
        match db::vibes::insert_persona(&mut conn, user_id, fields(&p), core.clock.now()).await? {
            Some(id) => Saved::Done(id),
            None => Saved::NameTaken,
        },
    )
}

pub async fn update_persona(
    core: &Core,
    user_id: UserId,
    id: i64,
    p: Persona,
) -> Result<Saved, ServiceError> {
    let p = match p.cleaned() {
        Ok(p) => p,
        Err(e) => return Ok(Saved::Invalid(e)),
    };
    match db::vibes::update_persona(&core.db, user_id, id, fields(&p), core.clock.now()).await {
        Ok(true) => Ok(Saved::Done(id)),
        Ok(false) => Ok(Saved::NotFound),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(Saved::NameTaken),
        Err(e) => Err(e.into()),
    }
}

/// Delete a persona; `false` when it is not the user's or a mixtape still uses it.
pub async fn delete_persona(core: &Core, user_id: UserId, id: i64) -> Result<bool, ServiceError> {
    Ok(db::vibes::delete_persona(&core.db, user_id, id).await?)
}

// ---------------------------------------------------------------- mixtapes

/// The mixtape form.
#[derive(Debug, Clone)]
pub struct MixtapeForm {
    pub name: String,
    pub dj_id: i64,
    pub max_tracks: i64,
    pub seed: Option<Seed>,
    pub schedule: Schedule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixtapeProblem {
    NameMissing,
    NoSuchDj,
}

impl MixtapeProblem {
    pub fn message(self) -> &'static str {
        match self {
            Self::NameMissing => "Give the mixtape a name (at most 200 characters).",
            Self::NoSuchDj => "Choose one of your DJs.",
        }
    }
}

pub async fn create_mixtape(
    core: &Core,
    user_id: UserId,
    f: MixtapeForm,
) -> Result<Result<i64, MixtapeProblem>, ServiceError> {
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Ok(Err(MixtapeProblem::NameMissing));
    }
    let seed_id = f.seed.as_ref().map(Seed::id_text);
    let id = db::vibes::insert_mixtape(
        &core.db,
        user_id,
        db::vibes::NewMixtape {
            name,
            dj_id: f.dj_id,
            max_tracks: f.max_tracks.clamp(dj::MIN_TRACKS, dj::MAX_TRACKS),
            seed_type: f.seed.as_ref().map(Seed::kind),
            seed_id: seed_id.as_deref(),
            schedule: f.schedule.as_str(),
        },
        core.clock.now(),
    )
    .await?;
    Ok(id.ok_or(MixtapeProblem::NoSuchDj))
}

/// Why an enhancement was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnhanceProblem {
    NoSuchPlaylistOrDj,
    NothingInLibrary,
    /// Written back in place only works for Navidrome playlists.
    NotNavidrome,
}

impl EnhanceProblem {
    pub fn message(self) -> &'static str {
        match self {
            Self::NoSuchPlaylistOrDj => "Choose one of your DJs and one of your playlists.",
            Self::NothingInLibrary => {
                "None of this playlist's songs is in your library, so there is nothing to reorder."
            }
            Self::NotNavidrome => {
                "Only a Navidrome playlist can be rewritten in place; choose \"as a new mixtape\"."
            }
        }
    }
}

/// Set up an enhancement of one of the user's imported playlists as a mixtape (queued by the
/// caller): reordered with `add` library songs, either a new mixtape or, for a Navidrome
/// playlist, written back into that playlist (same id) once generated.
pub async fn create_enhancement(
    core: &Core,
    user_id: UserId,
    playlist_id: i64,
    dj_id: i64,
    add: i64,
    in_place: bool,
) -> Result<Result<i64, EnhanceProblem>, ServiceError> {
    let Some(source) = db::vibes::source_playlist(&core.db, user_id, playlist_id).await? else {
        return Ok(Err(EnhanceProblem::NoSuchPlaylistOrDj));
    };
    if source.in_library == 0 {
        return Ok(Err(EnhanceProblem::NothingInLibrary));
    }
    if in_place && source.service != "navidrome" {
        return Ok(Err(EnhanceProblem::NotNavidrome));
    }
    let add = add.clamp(1, MAX_ENHANCE_ADD);
    let name: String = format!("{} (enhanced)", source.name)
        .chars()
        .take(200)
        .collect();
    let id = db::vibes::insert_enhancement(
        &core.db,
        user_id,
        &name,
        dj_id,
        playlist_id,
        add,
        (source.in_library + add).clamp(dj::MIN_TRACKS, 10_000),
        in_place.then_some(source.remote_id.as_str()),
        core.clock.now(),
    )
    .await?;
    Ok(id.ok_or(EnhanceProblem::NoSuchPlaylistOrDj))
}

/// One of the user's playlists, for the enhance form.
pub async fn source_playlist(
    core: &Core,
    user_id: UserId,
    playlist_id: i64,
) -> Result<Option<db::vibes::SourcePlaylist>, ServiceError> {
    Ok(db::vibes::source_playlist(&core.db, user_id, playlist_id).await?)
}

pub async fn mixtapes(core: &Core, user_id: UserId) -> Result<Vec<MixtapeRow>, ServiceError> {
    Ok(db::vibes::mixtapes(&core.db, user_id).await?)
}

/// A mixtape with its tracks.
pub async fn mixtape(
    core: &Core,
    user_id: UserId,
    id: i64,
) -> Result<Option<(MixtapeRow, Vec<MixtapeTrackRow>)>, ServiceError> {
    let Some(m) = db::vibes::mixtape(&core.db, user_id, id).await? else {
        return Ok(None);
    };
    let tracks = db::vibes::mixtape_tracks(&core.db, id).await?;
    Ok(Some((m, tracks)))
}

pub async fn mixtape_prompt(
    core: &Core,
    user_id: UserId,
    id: i64,
) -> Result<Option<String>, ServiceError> {
    Ok(db::vibes::mixtape_prompt(&core.db, user_id, id).await?)
}

pub async fn set_schedule(
    core: &Core,
    user_id: UserId,
    id: i64,
    schedule: Schedule,
) -> Result<bool, ServiceError> {
    Ok(db::vibes::set_schedule(&core.db, user_id, id, schedule.as_str(), core.clock.now()).await?)
}

pub async fn delete_mixtape(core: &Core, user_id: UserId, id: i64) -> Result<bool, ServiceError> {
    Ok(db::vibes::delete_mixtape(&core.db, user_id, id).await?)
}

/// What pressing Generate did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// Queued; the Vibes job will generate it.
    Queued,
    /// Already queued or being generated.
    AlreadyQueued,
    NotFound,
    /// Refused before queueing (no provider, budget spent).
    Refused(AiFailure),
}

/// Queue a generation of the user's mixtape (the caller starts the Vibes job).
pub async fn request_generation(
    core: &Core,
    user_id: UserId,
    id: i64,
) -> Result<Requested, ServiceError> {
    if db::vibes::mixtape(&core.db, user_id, id).await?.is_none() {
        return Ok(Requested::NotFound);
    }
    let p = ai::provider(core, user_id).await?;
    if !p.is_configured() {
        return Ok(Requested::Refused(AiFailure::NotConfigured));
    }
    if let Some(budget) = p.budget {
        let used = db::vibes::usage(&core.db, user_id, ai::day_of(core.clock.now()))
            .await?
            .tokens;
        let used = u64::try_from(used).unwrap_or(0);
        if used >= budget {
            return Ok(Requested::Refused(AiFailure::BudgetSpent { used, budget }));
        }
    }
    Ok(
        if db::vibes::queue(&core.db, user_id, id, core.clock.now()).await? {
            Requested::Queued
        } else {
            Requested::AlreadyQueued
        },
    )
}

/// What one run of the Vibes job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunReport {
    pub scheduled: u64,
    pub generated: u64,
    pub failed: u64,
    pub saved: u64,
}

/// Generate every queued mixtape (scheduled ones that are due are queued first). A mixtape
/// that was saved to Navidrome has its playlist refreshed in place after each generation.
/// `progress(done, total)` counts steps (four per mixtape).
pub async fn run_queue(
    core: &Core,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
    cancelled: &(dyn Fn() -> bool + Send + Sync),
) -> Result<RunReport, ServiceError> {
    let mut report = RunReport::default();
    if !db::vibes::has_work(&core.db, core.clock.now()).await? {
        return Ok(report);
    }
    db::vibes::requeue_running(&core.db).await?;
    report.scheduled = db::vibes::queue_due(&core.db, core.clock.now()).await?;
    let queued = db::vibes::queued(&core.db).await?;
    let total = queued.len() as u64 * STEPS;
    for (n, (id, user_id)) in queued.into_iter().enumerate() {
        if cancelled() {
            break;
        }
        let base = n as u64 * STEPS;
        let step = |s: u64| progress(base + s, total);
        step(0);
        db::vibes::set_status(&core.db, id, "running", "", core.clock.now()).await?;
        match generate(core, user_id, id, &step).await {
            Ok(Ok(())) => {
                report.generated += 1;
                if let Some(m) = db::vibes::mixtape(&core.db, user_id, id).await?
                    && m.navidrome_playlist_id.is_some()
                {
                    match save_to_navidrome(core, user_id, id).await? {
                        SaveOutcome::Saved { .. } => report.saved += 1,
                        other => {
                            tracing::warn!(mixtape = id, outcome = ?other, "refreshing the Navidrome playlist failed");
                        }
                    }
                }
            }
            Ok(Err(message)) => {
                report.failed += 1;
                db::vibes::set_status(&core.db, id, "failed", &message, core.clock.now()).await?;
            }
            Err(e) => {
                report.failed += 1;
                db::vibes::set_status(
                    &core.db,
                    id,
                    "failed",
                    "Spotter could not store the mixtape; the details are in the server log.",
                    core.clock.now(),
                )
                .await?;
                tracing::error!(mixtape = id, error = %e, "generating a mixtape failed");
            }
        }
        step(STEPS);
    }
    Ok(report)
}

const STEPS: u64 = 4;

/// The prompt templates: the operator's override directory first, then the built-in ones.
fn template(core: &Core, file: &str, builtin: &'static str) -> String {
    if let Some(dir) = &core.config.vibes.prompts_directory {
        match std::fs::read_to_string(Path::new(dir).join(file)) {
            Ok(t) if !t.trim().is_empty() => return t,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file, error = %e, "prompt override unreadable; using the built-in one")
            }
        }
    }
    builtin.to_owned()
}

fn track_of(r: PoolTrack) -> Track {
    let genres: Vec<String> = serde_json::from_str(&r.genres).unwrap_or_default();
    Track {
        id: r.id,
        title: r.title,
        artist: r.artist,
        album: r.album,
        artist_id: r.artist_id,
        album_id: r.album_id,
        genres,
        plays: r.plays,
    }
}

/// Generate one mixtape: `Ok(Err(sentence))` is a failure the user sees on the mixtape page.
async fn generate(
    core: &Core,
    user_id: UserId,
    id: i64,
    step: &(dyn Fn(u64) + Send + Sync),
) -> Result<Result<(), String>, ServiceError> {
    let started = Instant::now();
    let Some(m) = db::vibes::mixtape(&core.db, user_id, id).await? else {
        return Ok(Err("The mixtape is gone.".into()));
    };
    let Some(dj_row) = db::vibes::persona(&core.db, user_id, m.dj_id).await? else {
        return Ok(Err("The mixtape's DJ is gone.".into()));
    };
    let persona = persona_of(&dj_row);
    let p = ai::provider(core, user_id).await?;
    if !p.is_configured() {
        return Ok(Err(format!(
            "{} {}",
            ai::NOT_CONFIGURED,
            ai::HOW_TO_CONFIGURE
        )));
    }
    let seed = match (m.seed_type.as_deref(), m.seed_id.as_deref()) {
        (Some(kind), Some(id)) => Seed::from_form(kind, id).ok().flatten(),
        _ => None,
    };
    let wanted = usize::try_from(m.max_tracks.clamp(dj::MIN_TRACKS, dj::MAX_TRACKS)).unwrap_or(25);

    // 1. Candidates from the library (and, for an enhancement, the playlist's own songs).
    let since = core.clock.now() - HISTORY_WINDOW_SECS;
    let enhance = match m.source_playlist_id {
        Some(src) => {
            let Some(source) = db::vibes::source_playlist(&core.db, user_id, src).await? else {
                return Ok(Err("The playlist to enhance is gone.".into()));
            };
            let existing: Vec<Track> = db::vibes::pool_of_playlist(&core.db, user_id, since, src)
                .await?
                .into_iter()
                .map(track_of)
                .collect();
            if existing.is_empty() {
                return Ok(Err(
                    "None of the playlist's songs is in your library, so there is nothing to reorder."
                        .into(),
                ));
            }
            let add =
                usize::try_from(m.enhance_add.unwrap_or(5).clamp(1, MAX_ENHANCE_ADD)).unwrap_or(5);
            Some((source, existing, add))
        }
        None => None,
    };
    let (pool, seed_ids, seed_text) =
        pool_for(core, user_id, since, &persona, seed.as_ref()).await?;
    if pool.is_empty() {
        return Ok(Err(
            "Your library is empty: import it from Navidrome (Library → Sync now) first.".into(),
        ));
    }
    let budget_chars =
        usize::try_from(core.config.vibes.prompt_tokens.saturating_mul(4)).unwrap_or(24_000);
    let exclude: HashSet<String> = enhance
        .as_ref()
        .map(|(_, existing, _)| existing.iter().map(|t| t.id.clone()).collect())
        .unwrap_or_default();
    let selection = Selection {
        persona: &persona,
        seed_ids: &seed_ids,
        exclude_ids: &exclude,
        budget_chars,
        max_candidates: MAX_CANDIDATES,
    };
    let picked = candidates::select(pool, &selection, &mut Rng::new(rand::random()));
    let min_candidates = if enhance.is_some() {
        1
    } else {
        usize::try_from(dj::MIN_TRACKS).unwrap_or(5)
    };
    if picked.len() < min_candidates {
        return Ok(Err(format!(
            "Only {} songs of your library fit this DJ (after their exclusions); a mixtape needs at least {}.",
            picked.len(),
            dj::MIN_TRACKS
        )));
    }
    step(1);

    // 2. The prompt and the call.
    let system = prompt::system(&template(core, "system.txt", prompt::SYSTEM), &persona);
    // `candidates`: everything a pick may name (for an enhancement, the playlist's songs
    // labelled e1… first); `wanted`: how many picks to keep; `keep`: the playlist's songs.
    let (candidates, user_prompt, wanted, keep) = match &enhance {
        Some((source, existing, add)) => {
            let existing_c: Vec<Candidate> = existing
                .iter()
                .enumerate()
                .map(|(i, t)| Candidate {
                    label: format!("e{}", i + 1),
                    track: t.clone(),
                })
                .collect();
            let add = (*add).min(picked.len());
            let user_prompt = prompt::enhance(
                &template(core, "enhance_playlist.txt", prompt::ENHANCE_PLAYLIST),
                &persona,
                &source.name,
                add,
                &existing_c,
                &picked,
            );
            let keep = existing_c.len();
            let mut all = existing_c;
            all.extend(picked);
            (all, user_prompt, keep + add, Some((keep, add)))
        }
        None => {
            let wanted = wanted.min(picked.len());
            let history: Vec<Played> = db::vibes::history(&core.db, user_id, since, HISTORY_LINES)
                .await?
                .into_iter()
                .map(|h| Played {
                    title: h.title,
                    artist: h.artist,
                    plays: h.plays,
                })
                .collect();
            let user_prompt = prompt::mixtape(
                &template(core, "generate_mixtape.txt", prompt::GENERATE_MIXTAPE),
                &persona,
                wanted,
                &seed_text,
                &history,
                &picked,
            );
            (picked, user_prompt, wanted, None)
        }
    };
    let max_tokens = ANSWER_TOKENS_BASE
        + ANSWER_TOKENS_PER_TRACK * u32::try_from(wanted).unwrap_or(100).min(200);
    let answer = match ai::chat(
        core,
        user_id,
        &p,
        &system,
        &user_prompt,
        max_tokens,
        ai::Purpose::Generation,
    )
    .await?
    {
        Ok(a) => a,
        Err(e) => return Ok(Err(e.user_message(p.key.as_ref()))),
    };
    step(2);

    // 3. The answer, checked against the candidates.
    let min = if keep.is_some() {
        1
    } else {
        min_usable(wanted)
    };
    let mut checked = match answer::parse(&answer.content)
        .and_then(|raw| answer::check(raw, &candidates, wanted, min))
    {
        Ok(c) => c,
        Err(e) => return Ok(Err(answer_failure(&e))),
    };
    if let Some((keep, add)) = keep {
        checked.picks = answer::keep_all(checked.picks, keep, add);
    }
    if checked.outside + checked.repeated > 0 {
        tracing::info!(
            mixtape = id,
            outside = checked.outside,
            repeated = checked.repeated,
            "the DJ's answer named songs outside the list or repeated one; those were dropped"
        );
    }
    step(3);

    // 4. Store.
    let tracks: Vec<MixtapeTrackRow> = checked
        .picks
        .iter()
        .enumerate()
        .filter_map(|(i, pick)| {
            let c: &Candidate = candidates.get(pick.index)?;
            Some(MixtapeTrackRow {
                position: i64::try_from(i).unwrap_or(0),
                track_id: Some(c.track.id.clone()),
                title: c.track.title.clone(),
                artist: c.track.artist.clone(),
                album: c.track.album.clone(),
                reason: pick.reason.clone(),
            })
        })
        .collect();
    let full_prompt = format!("[system]\n{system}\n\n[user]\n{user_prompt}");
    db::vibes::store_generation(
        &core.db,
        id,
        &db::vibes::Generated {
            intro: &checked.intro,
            outro: &checked.outro,
            model: &answer.model,
            prompt_tokens: i64::try_from(answer.prompt_tokens).unwrap_or(i64::MAX),
            completion_tokens: i64::try_from(answer.completion_tokens).unwrap_or(i64::MAX),
            generation_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            prompt: &full_prompt,
            tracks: &tracks,
        },
        core.clock.now(),
    )
    .await?;
    Ok(Ok(()))
}

/// At least half of the songs asked for must be usable.
fn min_usable(wanted: usize) -> usize {
    wanted.div_ceil(2).max(1)
}

fn answer_failure(e: &AnswerError) -> String {
    format!(
        "{}. Try Generate again; a different model may follow the instructions better.",
        capitalised(&e.to_string())
    )
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The pool to choose candidates from: the seed's tracks, the DJ's artists, the user's most
/// played and a random sample of the library. Also the seed's ids and how the prompt names it.
async fn pool_for(
    core: &Core,
    user_id: UserId,
    since: i64,
    persona: &Persona,
    seed: Option<&Seed>,
) -> Result<(Vec<Track>, HashSet<String>, SeedText), ServiceError> {
    let mut pool: Vec<PoolTrack> = Vec::new();
    let mut seed_rows: Vec<PoolTrack> = Vec::new();
    let seed_text = match seed {
        None => SeedText::None,
        Some(Seed::Artist(a)) => {
            seed_rows = db::vibes::pool_of_artist_or_album(
                &core.db,
                user_id,
                since,
                Some(a),
                None,
                POOL_SEED,
            )
            .await?;
            match db::vibes::artist_name(&core.db, a).await? {
                Some(name) => SeedText::Artist(name),
                None => SeedText::None,
            }
        }
        Some(Seed::Album(a)) => {
            seed_rows = db::vibes::pool_of_artist_or_album(
                &core.db,
                user_id,
                since,
                None,
                Some(a),
                POOL_SEED,
            )
            .await?;
            match db::vibes::album_name(&core.db, a).await? {
                Some((name, artist)) => SeedText::Album { name, artist },
                None => SeedText::None,
            }
        }
        Some(Seed::Tracks(ids)) => {
            let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
            seed_rows = db::vibes::pool_by_ids(&core.db, user_id, since, &json).await?;
            if seed_rows.is_empty() {
                SeedText::None
            } else {
                SeedText::Tracks(
                    seed_rows
                        .iter()
                        .map(|t| (t.title.clone(), t.artist.clone()))
                        .collect(),
                )
            }
        }
    };
    let seed_ids: HashSet<String> = seed_rows.iter().map(|t| t.id.clone()).collect();
    pool.append(&mut seed_rows);
    let artists: Vec<String> = dj::split_list(&persona.artists_include)
        .iter()
        .map(|a| normalize(a))
        .collect();
    if !artists.is_empty() {
        let json = serde_json::to_string(&artists).unwrap_or_else(|_| "[]".into());
        pool.extend(db::vibes::pool_by_artists(&core.db, user_id, since, &json, POOL_TASTE).await?);
    }
    pool.extend(db::vibes::pool_played(&core.db, user_id, since, POOL_PLAYED).await?);
    pool.extend(db::vibes::pool_random(&core.db, user_id, since, POOL_RANDOM).await?);
    Ok((
        pool.into_iter().map(track_of).collect(),
        seed_ids,
        seed_text,
    ))
}

// ---------------------------------------------------------------- Navidrome

/// What "Save to Navidrome" did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Written; `created` when the playlist was new.
    Saved {
        created: bool,
        songs: usize,
    },
    NotFound,
    /// Nothing generated yet (or no track is still in the library).
    NothingToSave,
    /// No usable stored Navidrome password.
    NoCredentials,
    /// Navidrome refused or could not be reached.
    NavidromeFailed,
}

/// Write the mixtape's songs to its Navidrome playlist: created the first time, replaced in
/// place (same id) every later time. A playlist deleted in Navidrome meanwhile is created anew.
pub async fn save_to_navidrome(
    core: &Core,
    user_id: UserId,
    id: i64,
) -> Result<SaveOutcome, ServiceError> {
    let Some(m) = db::vibes::mixtape(&core.db, user_id, id).await? else {
        return Ok(SaveOutcome::NotFound);
    };
    let song_ids: Vec<String> = db::vibes::mixtape_tracks(&core.db, id)
        .await?
        .into_iter()
        .filter_map(|t| t.track_id)
        .collect();
    if song_ids.is_empty() {
        return Ok(SaveOutcome::NothingToSave);
    }
    let Some(user) = db::users::find_by_id(&core.db, user_id).await? else {
        return Ok(SaveOutcome::NotFound);
    };
    let password = match crate::services::navidrome::stored_password(core, user_id).await {
        Ok(Some(Ok(p))) => p,
        Ok(_) => return Ok(SaveOutcome::NoCredentials),
        Err(e) => return Err(e.into()),
    };
    let creds = crate::clients::navidrome::Credentials {
        username: &user.username,
        password: &password,
    };
    let nd = &core.clients.navidrome;
    // An enhancement written back in place keeps the playlist's own name.
    let in_place = match (m.source_playlist_id, &m.navidrome_playlist_id) {
        (Some(src), Some(pid)) => db::vibes::source_playlist(&core.db, user_id, src)
            .await?
            .filter(|s| s.service == "navidrome" && s.remote_id == *pid),
        _ => None,
    };
    let name = match in_place {
        Some(source) => source.name,
        None => format!("{} (Spotter mixtape)", m.name),
    };
    let _permit = core.jobs.outside_call().await;
    let result = match &m.navidrome_playlist_id {
        Some(pid) => match nd
            .replace_mixtape_playlist(&creds, pid, &name, &song_ids)
            .await
        {
            Ok(()) => Ok((pid.clone(), false)),
            Err(e) if e.is_not_found() => nd
                .create_mixtape_playlist(&creds, &name, &song_ids)
                .await
                .map(|pid| (pid, true)),
            Err(e) => Err(e),
        },
        None => nd
            .create_mixtape_playlist(&creds, &name, &song_ids)
            .await
            .map(|pid| (pid, true)),
    };
    match result {
        Ok((pid, created)) => {
            db::vibes::set_navidrome_playlist(&core.db, id, &pid, core.clock.now()).await?;
            Ok(SaveOutcome::Saved {
                created,
                songs: song_ids.len(),
            })
        }
        Err(e) => {
            tracing::warn!(mixtape = id, error = %e, "writing the mixtape to Navidrome failed");
            Ok(SaveOutcome::NavidromeFailed)
        }
    }
}

// ---------------------------------------------------------------- similar artists

/// A similar artist of the library, as the artist page shows it.
#[derive(Debug, Clone)]
pub struct SimilarArtist {
    pub id: String,
    pub name: String,
    pub why: String,
}

/// The artists of the library most like `artist_id` for this user: listening co-occurrence,
/// playlist co-occurrence and shared genres (`domain::dj::similar`). No AI call.
pub async fn similar_artists(
    core: &Core,
    user_id: UserId,
    artist_id: &str,
    limit: usize,
) -> Result<Vec<SimilarArtist>, ServiceError> {
    use std::collections::HashMap;

    use crate::domain::dj::similar::{self, Signals};

    let mut signals: HashMap<String, Signals> = HashMap::new();
    for (id, n) in db::vibes::played_near(&core.db, user_id, artist_id).await? {
        signals.entry(id).or_default().played_near = n;
    }
    for (id, n) in db::vibes::playlist_neighbours(&core.db, user_id, artist_id).await? {
        signals.entry(id).or_default().playlists = n;
    }
    let genres = db::vibes::artist_genres(&core.db, artist_id).await?;
    if !genres.is_empty() {
        let json = serde_json::to_string(&genres).unwrap_or_else(|_| "[]".into());
        for (id, g) in db::vibes::artists_sharing_genres(&core.db, artist_id, &json).await? {
            signals.entry(id).or_default().shared_genres.push(g);
        }
    }
    let ranked = similar::rank(signals, genres.len(), limit);
    let mut out = Vec::with_capacity(ranked.len());
    for s in ranked {
        if let Some(name) = db::vibes::artist_name(&core.db, &s.artist_id).await? {
            out.push(SimilarArtist {
                why: similar::why(&s.signals),
                id: s.artist_id,
                name,
            });
        }
    }
    Ok(out)
}

/// How a mixtape's seed is named on its page: the artist or album name, or the number of songs.
pub async fn seed_label(core: &Core, kind: &str, id: &str) -> Result<String, ServiceError> {
    Ok(match Seed::from_form(kind, id) {
        Ok(Some(Seed::Artist(a))) => match db::vibes::artist_name(&core.db, &a).await? {
            Some(name) => format!("around the artist {name}"),
            None => "around an artist no longer in the library".to_owned(),
        },
        Ok(Some(Seed::Album(a))) => match db::vibes::album_name(&core.db, &a).await? {
            Some((name, artist)) => format!("around the album {name} by {artist}"),
            None => "around an album no longer in the library".to_owned(),
        },
        Ok(Some(Seed::Tracks(ids))) => format!(
            "around {} chosen song{}",
            ids.len(),
            if ids.len() == 1 { "" } else { "s" }
        ),
        _ => String::new(),
    })
}

/// The similar artists as a DJ ranks them, each with the DJ's reason; artists the DJ left out
/// follow without one. `Ok(Err(sentence))` when the DJ could not be asked or answered nothing
/// usable. One short call (a page waits on it), counted against the budget.
pub async fn similar_artists_by_dj(
    core: &Core,
    user_id: UserId,
    artist_id: &str,
    dj_id: i64,
) -> Result<Result<(String, Vec<(SimilarArtist, String)>), String>, ServiceError> {
    let Some(dj_row) = db::vibes::persona(&core.db, user_id, dj_id).await? else {
        return Ok(Err("Choose one of your DJs.".into()));
    };
    let Some(artist) = db::vibes::artist_name(&core.db, artist_id).await? else {
        return Ok(Err("That artist is no longer in the library.".into()));
    };
    let similar = similar_artists(core, user_id, artist_id, 20).await?;
    if similar.is_empty() {
        return Ok(Ok((dj_row.name, Vec::new())));
    }
    let p = ai::provider(core, user_id).await?;
    if !p.is_configured() {
        return Ok(Err(format!(
            "{} {}",
            ai::NOT_CONFIGURED,
            ai::HOW_TO_CONFIGURE
        )));
    }
    let persona = persona_of(&dj_row);
    let genres = db::vibes::artist_genres(&core.db, artist_id).await?;
    let offered: Vec<(String, String)> = similar
        .iter()
        .map(|s| (s.name.clone(), s.why.clone()))
        .collect();
    let system = prompt::system(&template(core, "system.txt", prompt::SYSTEM), &persona);
    let user_prompt = prompt::similar_artists(
        &template(core, "similar_artists.txt", prompt::SIMILAR_ARTISTS),
        &artist,
        &genres,
        &offered,
    );
    let answer = match ai::chat(
        core,
        user_id,
        &p,
        &system,
        &user_prompt,
        1_500,
        ai::Purpose::Check,
    )
    .await?
    {
        Ok(a) => a,
        Err(e) => return Ok(Err(e.user_message(p.key.as_ref()))),
    };
    let Some(order) = crate::domain::dj::similar::rerank(&answer.content, similar.len()) else {
        return Ok(Err(
            "The DJ's answer could not be read. Try again; a different model may follow the instructions better.".into(),
        ));
    };
    let mut used = HashSet::new();
    let mut out = Vec::with_capacity(similar.len());
    for (index, reason) in order {
        if let Some(s) = similar.get(index) {
            used.insert(index);
            out.push((s.clone(), reason));
        }
    }
    for (i, s) in similar.into_iter().enumerate() {
        if !used.contains(&i) {
            out.push((s, String::new()));
        }
    }
    Ok(Ok((dj_row.name, out)))
}
