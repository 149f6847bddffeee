//! Matching the user's listens and playlist entries to the catalogue: the user's decisions
//! first, then the matcher over an index of the whole catalogue. Undecided cases go to the
//! review queue with their candidates; each row keeps its explanation (method, score, rule,
//! runner-up).

use std::collections::HashMap;
use std::sync::Arc;

use crate::app::Core;
use crate::db;
use crate::db::matching::{Explanation, MatchResult, NewReview, Pending};
use crate::domain::identity::RemoteIdentity;
use crate::domain::ids::UserId;
use crate::domain::matching::{Decision, Index, LibraryTrack, Method, Query, Rule};

/// Identities matched per transaction.
const BATCH: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("the matcher stopped unexpectedly")]
    Worker(#[from] tokio::task::JoinError),
}

/// What a run did, counted in distinct remote tracks (identities).
#[derive(Debug, Clone, Copy, Default)]
pub struct MatchReport {
    pub identities: u64,
    pub matched: u64,
    pub review: u64,
    pub not_found: u64,
    pub decided_by_user: u64,
    /// Listens and playlist entries written.
    pub rows: u64,
}

/// Match every row the matcher has not looked at yet. `progress(done, total)` counts
/// identities.
pub async fn run(
    core: &Core,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<MatchReport, MatchError> {
    let mut report = MatchReport::default();
    let users = db::matching::users_pending(&core.db).await?;
    if users.is_empty() {
        return Ok(report);
    }
    let catalogue = db::matching::catalogue(&core.db).await?;
    let index = tokio::task::spawn_blocking(move || {
        Arc::new(Index::build(
            catalogue.into_iter().map(library_track).collect(),
        ))
    })
    .await?;
    for user_id in users {
        match_user(core, &index, user_id, &mut report, progress).await?;
    }
    Ok(report)
}

async fn match_user(
    core: &Core,
    index: &Arc<Index>,
    user_id: UserId,
    report: &mut MatchReport,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(), MatchError> {
    let pending = db::matching::pending(&core.db, user_id).await?;
    let decisions: Arc<HashMap<RemoteIdentity, Option<String>>> = Arc::new(
        db::matching::decisions(&core.db, user_id)
            .await?
            .into_iter()
            .collect(),
    );
    let total = pending.len() as u64;
    let mut done = 0;
    for chunk in pending.chunks(BATCH) {
        let chunk = chunk.to_vec();
        let (index, decisions) = (Arc::clone(index), Arc::clone(&decisions));
        let results = tokio::task::spawn_blocking(move || {
            chunk
                .iter()
                .map(|p| decide(&index, &decisions, p))
                .collect::<Vec<_>>()
        })
        .await?;
        for r in &results {
            report.identities += 1;
            match r.explanation.method {
                "manual" => report.decided_by_user += 1,
                "review" => report.review += 1,
                "none" if r.explanation.rule == USER_NOT_IN_LIBRARY => report.decided_by_user += 1,
                "none" => report.not_found += 1,
                _ => report.matched += 1,
            }
        }
        report.rows +=
            db::matching::write_results(&core.db, user_id, &results, core.clock.now()).await?;
        done += results.len() as u64;
        progress(done, total);
    }
    Ok(())
}

const USER_NOT_IN_LIBRARY: &str = "user_not_in_library";

fn decide(
    index: &Index,
    decisions: &HashMap<RemoteIdentity, Option<String>>,
    p: &Pending,
) -> MatchResult {
    let identity = p.identity();
    if let Some(choice) = decisions.get(&identity) {
        return MatchResult {
            identity,
            explanation: db::matching::decided(choice.as_deref()),
            review: None,
        };
    }
    let d = index.match_query(&query(p));
    let review = (d.method == Method::Review).then(|| NewReview {
        title: p.title.clone(),
        artist: p.artist.clone(),
        album: p.album.clone(),
        duration_secs: p.duration_secs,
        rule: d.rule.as_str(),
        candidates: candidates_json(&d),
    });
    MatchResult {
        identity,
        explanation: explanation(&d),
        review,
    }
}

fn explanation(d: &Decision) -> Explanation {
    Explanation {
        track_id: d.predicted.clone(),
        method: d.method.as_str(),
        score: Some(d.score),
        rule: d.rule.as_str(),
        runner_up_id: d.runner_up.as_ref().map(|c| c.track_id.clone()),
        runner_up_score: d.runner_up.as_ref().map(|c| c.score),
    }
}

fn candidates_json(d: &Decision) -> String {
    let list: Vec<serde_json::Value> = d
        .candidates
        .iter()
        .map(|c| serde_json::json!({"track_id": c.track_id, "score": c.score}))
        .collect();
    serde_json::Value::Array(list).to_string()
}

fn query(p: &Pending) -> Query {
    Query {
        title: p.title.clone(),
        artist: p.artist.clone(),
        artists: Vec::new(),
        album: (!p.album.is_empty()).then(|| p.album.clone()),
        duration_ms: duration_ms(p.duration_secs),
        isrc: p.isrc.clone(),
        mbid: p.mbid.clone(),
    }
}

fn library_track(t: db::matching::CatalogueTrack) -> LibraryTrack {
    LibraryTrack {
        id: t.id,
        title: t.title,
        artist: t.artist,
        album: (!t.album.is_empty()).then_some(t.album),
        album_artist: t.album_artist.filter(|a| !a.is_empty()),
        duration_ms: duration_ms(t.duration_secs),
        isrc: t.isrc,
        mbid: t.mbid,
    }
}

fn duration_ms(secs: Option<i64>) -> Option<u32> {
    secs.and_then(|s| u32::try_from(s.saturating_mul(1000)).ok())
        .filter(|ms| *ms > 0)
}

/// The catalogue changed: every row (but Navidrome's own) waits for the matcher again.
pub async fn catalogue_changed(core: &Core) -> Result<u64, sqlx::Error> {
    db::matching::reset_all(&core.db).await
}

/// The sentence shown for a stored rule code.
pub fn describe_rule(code: &str) -> String {
    match code {
        "user_mapped" => "you chose this track".to_owned(),
        USER_NOT_IN_LIBRARY => "you marked it as not in your library".to_owned(),
        "navidrome_id" => "Navidrome names this track by its own id".to_owned(),
        other => other
            .parse::<Rule>()
            .map(Rule::describe)
            .unwrap_or_else(|_| "no explanation recorded".to_owned()),
    }
}

// ---- The review queue ----

/// Open cases per page.
pub const REVIEW_PAGE: i64 = 25;
/// Library search hits offered for a case.
const SEARCH_LIMIT: i64 = 20;

/// A library track offered for a case.
#[derive(Debug, Clone)]
pub struct Offer {
    pub track_id: String,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_secs: Option<i64>,
    /// The matcher's score, when the matcher proposed it.
    pub score: Option<f64>,
}

/// One open case with what the matcher proposed.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: i64,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_secs: Option<i64>,
    pub why: String,
    pub listens: i64,
    pub entries: i64,
    pub candidates: Vec<Offer>,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub open: i64,
    pub cases: Vec<Case>,
    pub more: bool,
    pub decisions: Vec<db::matching::Decision>,
}

pub async fn queue(core: &Core, user_id: UserId, page: i64) -> Result<Queue, sqlx::Error> {
    let page = page.max(0);
    let mut rows =
        db::matching::reviews(&core.db, user_id, REVIEW_PAGE + 1, page * REVIEW_PAGE).await?;
    let more = rows.len() > usize::try_from(REVIEW_PAGE).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(REVIEW_PAGE).unwrap_or(usize::MAX));
    let mut cases = Vec::with_capacity(rows.len());
    for r in rows {
        cases.push(case(core, r).await?);
    }
    Ok(Queue {
        open: db::matching::count_reviews(&core.db, user_id).await?,
        cases,
        more,
        decisions: db::matching::recent_decisions(&core.db, user_id, 20).await?,
    })
}

pub async fn open_cases(core: &Core, user_id: UserId) -> Result<i64, sqlx::Error> {
    db::matching::count_reviews(&core.db, user_id).await
}

async fn case(core: &Core, r: db::matching::Review) -> Result<Case, sqlx::Error> {
    #[derive(serde::Deserialize)]
    struct Stored {
        track_id: String,
        score: f64,
    }
    let stored: Vec<Stored> = serde_json::from_str(&r.candidates).unwrap_or_default();
    let ids: Vec<String> = stored.iter().map(|c| c.track_id.clone()).collect();
    let briefs: HashMap<String, db::matching::TrackBrief> = db::matching::briefs(&core.db, &ids)
        .await?
        .into_iter()
        .map(|b| (b.id.clone(), b))
        .collect();
    // A candidate that left the library is not offered.
    let candidates = stored
        .iter()
        .filter_map(|c| {
            briefs.get(&c.track_id).map(|b| Offer {
                track_id: b.id.clone(),
                title: b.title.clone(),
                artist: b.artist.clone(),
                album: b.album.clone(),
                duration_secs: b.duration_secs,
                score: Some(c.score),
            })
        })
        .collect();
    Ok(Case {
        id: r.id,
        title: r.title,
        artist: r.artist,
        album: r.album,
        duration_secs: r.duration_secs,
        why: describe_rule(&r.rule),
        listens: r.listens,
        entries: r.entries,
        candidates,
    })
}

/// One case, with library tracks found by `search` (names, albums) to pick from.
pub async fn case_with_search(
    core: &Core,
    user_id: UserId,
    id: i64,
    search: &str,
) -> Result<Option<(Case, Vec<Offer>)>, sqlx::Error> {
    let Some(r) = db::matching::review(&core.db, user_id, id).await? else {
        return Ok(None);
    };
    let case = case(core, r).await?;
    let norm = crate::domain::text::normalize(search);
    let hits = if norm.is_empty() {
        Vec::new()
    } else {
        db::library::search(&core.db, &norm, SEARCH_LIMIT)
            .await?
            .tracks
            .into_iter()
            .map(|t| Offer {
                track_id: t.id,
                title: t.title,
                artist: t.artist,
                album: t.album,
                duration_secs: t.duration_secs,
                score: None,
            })
            .collect()
    };
    Ok(Some((case, hits)))
}

/// The user's answer to a case.
#[derive(Debug, Clone)]
pub enum Choice {
    Track(String),
    NotInLibrary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    Done,
    /// The case is no longer open (decided elsewhere, or re-matched).
    NoSuchCase,
    /// The chosen track is not in the library.
    NoSuchTrack,
}

pub async fn decide_case(
    core: &Core,
    user_id: UserId,
    case_id: i64,
    choice: Choice,
) -> Result<Decided, sqlx::Error> {
    let track_id = match &choice {
        Choice::Track(id) => {
            if !db::matching::track_exists(&core.db, id).await? {
                return Ok(Decided::NoSuchTrack);
            }
            Some(id.as_str())
        }
        Choice::NotInLibrary => None,
    };
    let found =
        db::matching::decide(&core.db, user_id, case_id, track_id, core.clock.now()).await?;
    // The dashboard counts the queue: its next view must not be the one from before.
    core.changes.bump();
    Ok(if found {
        Decided::Done
    } else {
        Decided::NoSuchCase
    })
}

/// Take a decision back; its rows wait for the next matching run. False when there is none.
pub async fn undo(core: &Core, user_id: UserId, decision_id: i64) -> Result<bool, sqlx::Error> {
    let undone = db::matching::undo(&core.db, user_id, decision_id).await?;
    core.changes.bump();
    Ok(undone)
}
