//! Playlist write-back: an imported Spotify or ListenBrainz playlist written into Navidrome.
//!
//! The first write creates a Navidrome playlist (or, when Navidrome already has one of the same
//! name, waits for the user to pair with it or pick a distinct name) and stores its id; every
//! later write replaces the songs of that same playlist in one call, so there is never a second
//! copy, never a repeated song, and the order is the playlist's. What was written is stored
//! (ids and fingerprint): a scheduled re-sync writes only when the wanted list changed, or when
//! the Navidrome copy no longer holds it (edited or deleted in Navidrome). A failed call is
//! recorded as a fixed code and changes nothing else that is stored.
//!
//! Every write holds `Core::writeback`, so a click and the scheduled re-sync never both create a
//! playlist for the same one.

use secrecy::SecretString;

use crate::app::Core;
use crate::clients::navidrome::{
    Credentials, NavidromeClient, NavidromeError, Replaced, WriteTransport,
};
use crate::db;
use crate::db::playlist_writeback::{
    CatalogueTrack, LinkedTrack, MissingTrack, Source, Writeback, Written,
};
use crate::db::playlists::{Summary, TrackRow};
use crate::domain::audit::AuditKind;
use crate::domain::ids::UserId;
use crate::domain::provider::Service;
use crate::domain::writeback::{
    self, ConflictAction, NavidromeAction, Plan, WritebackError, distinct_name, fingerprint,
    same_name,
};
use crate::services::audit::{self, Actor, Entry};
use crate::services::links::LinkError;
use crate::services::navidrome::stored_password;

/// Whether a playlist can be written to Navidrome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    Candidate,
    /// It is one of Navidrome's own playlists.
    NavidromeOwn,
    /// It is gone from its service (the stored copy is the last one imported).
    Inactive,
}

fn eligibility(p: &Summary) -> Eligibility {
    if p.service == Service::Navidrome {
        Eligibility::NavidromeOwn
    } else if !p.active {
        Eligibility::Inactive
    } else {
        Eligibility::Candidate
    }
}

/// The write-back panel of a playlist page: computed from the database only, it writes nothing.
#[derive(Debug)]
pub struct Panel {
    pub eligibility: Eligibility,
    pub state: Option<Writeback>,
    /// The tracks a write would put in Navidrome, in order, each once.
    pub to_write: Vec<LinkedTrack>,
    /// Linked tracks left out because the same library track is already earlier.
    pub repeats: usize,
    /// Compared with the last write (everything is "added" before the first one).
    pub added: Vec<LinkedTrack>,
    pub removed: Vec<CatalogueTrack>,
    pub reordered: bool,
    /// The tracks not in the library, most played first.
    pub missing: Vec<MissingTrack>,
    /// For a Navidrome playlist: the playlist it is the written copy of.
    pub copy_of: Option<Source>,
}

impl Panel {
    pub fn enabled(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.enabled)
    }

    pub fn pending_conflict(&self) -> bool {
        self.state
            .as_ref()
            .is_some_and(|s| s.conflict_playlist_id.is_some())
    }

    /// Whether the next write would change the Navidrome copy as last written.
    pub fn changes(&self) -> bool {
        !self.enabled() || !self.added.is_empty() || !self.removed.is_empty() || self.reordered
    }
}

/// A playlist page: the playlist, its tracks and the write-back panel.
#[derive(Debug)]
pub struct PlaylistPage {
    pub summary: Summary,
    pub tracks: Vec<TrackRow>,
    pub panel: Panel,
}

/// One of the user's playlists with its tracks and write-back panel; `None` for another user's
/// or an unknown id. Reads only.
pub async fn page(
    core: &Core,
    user_id: UserId,
    id: i64,
) -> Result<Option<PlaylistPage>, LinkError> {
    let Some((summary, tracks)) = crate::services::playlists::detail(core, user_id, id).await?
    else {
        return Ok(None);
    };
    let state = db::playlist_writeback::get(&core.db, summary.id).await?;
    let (to_write, repeats) = wanted_tracks(core, summary.id).await?;
    let wanted: Vec<String> = to_write.iter().map(|t| t.track_id.clone()).collect();
    let last_written = state
        .as_ref()
        .filter(|s| s.enabled)
        .map(|s| written_ids(&s.written_tracks))
        .unwrap_or_default();
    let Plan {
        added,
        removed,
        reordered,
    } = writeback::plan(&wanted, &last_written);
    let added = to_write
        .iter()
        .filter(|t| added.contains(&t.track_id))
        .cloned()
        .collect();
    let removed = if removed.is_empty() {
        Vec::new()
    } else {
        let json = ids_json(&removed)?;
        let mut found = db::playlist_writeback::catalogue_tracks(&core.db, &json).await?;
        found.sort_by_key(|t| removed.iter().position(|id| *id == t.id));
        found
    };
    let missing = db::playlist_writeback::missing_tracks(&core.db, user_id, summary.id).await?;
    let copy_of = if summary.service == Service::Navidrome {
        db::playlist_writeback::source_of(&core.db, user_id, summary.id).await?
    } else {
        None
    };
    Ok(Some(PlaylistPage {
        panel: Panel {
            eligibility: eligibility(&summary),
            state,
            to_write,
            repeats,
            added,
            removed,
            reordered,
            missing,
            copy_of,
        },
        summary,
        tracks,
    }))
}

/// The linked tracks to write, each once (first position wins), and how many repeats were
/// dropped.
async fn wanted_tracks(
    core: &Core,
    playlist_id: i64,
) -> Result<(Vec<LinkedTrack>, usize), sqlx::Error> {
    let linked = db::playlist_writeback::linked_tracks(&core.db, playlist_id).await?;
    let (ids, repeats) = writeback::wanted(linked.iter().map(|t| t.track_id.as_str()));
    let mut tracks = Vec::with_capacity(ids.len());
    let mut next = ids.iter().peekable();
    for t in linked {
        if next.peek().is_some_and(|id| **id == t.track_id) {
            next.next();
            tracks.push(t);
        }
    }
    Ok((tracks, repeats))
}

fn written_ids(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn ids_json(ids: &[String]) -> Result<String, LinkError> {
    serde_json::to_string(ids).map_err(|e| LinkError::Db(sqlx::Error::Decode(e.into())))
}

fn error_code(e: &NavidromeError) -> WritebackError {
    match e {
        NavidromeError::WrongCredentials => WritebackError::WrongPassword,
        NavidromeError::Unreachable => WritebackError::Unreachable,
        NavidromeError::BadResponse { status } if *status >= 500 => WritebackError::ServerError,
        NavidromeError::BadResponse { .. } => WritebackError::BadResponse,
        NavidromeError::Api { .. } => WritebackError::Refused,
    }
}

// ---------------------------------------------------------------------------------------------
// Talking to Navidrome

/// The user's Navidrome session for a series of writes.
struct Navidrome<'a> {
    core: &'a Core,
    client: &'a NavidromeClient,
    creds: Credentials<'a>,
    transport: WriteTransport,
}

/// The user's stored Navidrome password, or why there is none.
async fn password(
    core: &Core,
    user_id: UserId,
) -> Result<Result<SecretString, WritebackError>, LinkError> {
    Ok(match stored_password(core, user_id).await? {
        Some(Ok(p)) => Ok(p),
        None | Some(Err(_)) => Err(WritebackError::NoPassword),
    })
}

impl<'a> Navidrome<'a> {
    async fn open(
        core: &'a Core,
        username: &'a str,
        password: &'a SecretString,
    ) -> Result<Self, WritebackError> {
        let client = &core.clients.navidrome;
        let creds = Credentials { username, password };
        let transport = {
            let _permit = core.jobs.outside_call().await;
            client.write_transport(&creds).await
        }
        .map_err(|e| error_code(&e))?;
        Ok(Self {
            core,
            client,
            creds,
            transport,
        })
    }

    /// The user's own Navidrome playlists (Navidrome also lists other users' public ones,
    /// which cannot be written to).
    async fn list(&self) -> Result<Vec<crate::domain::playlist::RemotePlaylist>, WritebackError> {
        let _permit = self.core.jobs.outside_call().await;
        let all = self
            .client
            .playlists(&self.creds)
            .await
            .map_err(|e| error_code(&e))?;
        Ok(all
            .into_iter()
            .filter(|p| p.owner_name.is_empty() || p.owner_name == self.creds.username)
            .collect())
    }

    /// The song ids of a Navidrome playlist in order; `None` when it is gone.
    async fn song_ids(&self, id: &str) -> Result<Option<Vec<String>>, WritebackError> {
        let _permit = self.core.jobs.outside_call().await;
        let entries = self
            .client
            .playlist_entries(&self.creds, id)
            .await
            .map_err(|e| error_code(&e))?;
        Ok(entries.map(|list| list.into_iter().filter_map(|t| t.remote_track_id).collect()))
    }

    /// Create a playlist named `name` holding `songs`; its id. `paired` are the Navidrome
    /// playlists other playlists write to.
    async fn create(
        &self,
        name: &str,
        songs: &[String],
        paired: &[String],
    ) -> Result<String, WritebackError> {
        let created = {
            let _permit = self.core.jobs.outside_call().await;
            self.client
                .create_playlist(&self.creds, name, songs, self.transport)
                .await
                .map_err(|e| error_code(&e))?
        };
        if let Some(id) = created {
            return Ok(id);
        }
        // The server did not say which id it gave: the first listed one of that name that no
        // other playlist is paired with.
        self.list()
            .await?
            .into_iter()
            .find(|p| p.name == name && !paired.contains(&p.remote_id))
            .map(|p| p.remote_id)
            .ok_or(WritebackError::BadResponse)
    }

    async fn replace(&self, id: &str, songs: &[String]) -> Result<Replaced, WritebackError> {
        let _permit = self.core.jobs.outside_call().await;
        self.client
            .replace_playlist_songs(&self.creds, id, songs, self.transport)
            .await
            .map_err(|e| error_code(&e))
    }

    async fn delete(&self, id: &str) -> Result<(), WritebackError> {
        let _permit = self.core.jobs.outside_call().await;
        self.client
            .delete_playlist(&self.creds, id)
            .await
            .map(|_| ())
            .map_err(|e| error_code(&e))
    }
}

/// Where a write goes.
enum Target<'a> {
    /// The paired playlist; recreated under `name` when Navidrome no longer has it.
    Paired { id: &'a str, name: &'a str },
    /// A new playlist with this name.
    New { name: String },
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// The paired playlist's songs were replaced.
    Updated,
    /// A new Navidrome playlist was created (first write, new name, or the paired one was gone).
    Created,
}

/// Write `songs` to the target and record it (with an audit row when this turns write-back
/// on). A Navidrome failure is returned as its code, recorded, and changes nothing else.
async fn write(
    nd: &Navidrome<'_>,
    actor: Actor<'_>,
    playlist: &Summary,
    was_enabled: bool,
    target: Target<'_>,
    songs: &[String],
) -> Result<Result<Write, WritebackError>, LinkError> {
    let core = nd.core;
    let paired = db::playlist_writeback::paired_elsewhere(&core.db, playlist.id).await?;
    let paired = paired.as_slice();
    let attempt = async {
        match target {
            Target::Paired { id, name } => match nd.replace(id, songs).await? {
                Replaced::Done => Ok((id.to_owned(), name.to_owned(), Write::Updated)),
                Replaced::Gone => {
                    let new_id = nd.create(name, songs, paired).await?;
                    Ok((new_id, name.to_owned(), Write::Created))
                }
            },
            Target::New { name } => {
                let new_id = nd.create(&name, songs, paired).await?;
                Ok((new_id, name, Write::Created))
            }
        }
    };
    let (navidrome_id, name, done) = match attempt.await {
        Ok(r) => r,
        Err(code) => {
            db::playlist_writeback::record_error(&core.db, playlist.id, code, core.clock.now())
                .await?;
            return Ok(Err(code));
        }
    };
    let tracks_json = ids_json(songs)?;
    let print = fingerprint(songs);
    let now = core.clock.now();
    let mut tx = core.db.begin().await?;
    db::playlist_writeback::record_written(
        &mut tx,
        playlist.id,
        Written {
            navidrome_playlist_id: &navidrome_id,
            navidrome_name: &name,
            tracks_json: &tracks_json,
            fingerprint: &print,
        },
        now,
    )
    .await?;
    let detail = format!(
        "{} playlist {} to Navidrome playlist {navidrome_id}",
        playlist.service.label(),
        playlist.id
    );
    let event = if was_enabled {
        None
    } else {
        Some(
            audit::record_in(
                &mut tx,
                now,
                Entry::by(actor, AuditKind::PlaylistWritebackEnabled, &detail),
            )
            .await?,
        )
    };
    tx.commit().await?;
    if let Some(event) = event {
        event.publish(&core.events);
    }
    Ok(Ok(done))
}

// ---------------------------------------------------------------------------------------------
// What the user asks for

/// How a "write to Navidrome" ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    Written(Write),
    /// Navidrome already has an unpaired playlist of this name: the user chooses.
    Conflict,
    /// Navidrome's own or an inactive playlist.
    NotCandidate(Eligibility),
    /// `resolve` without a pending choice.
    NothingToResolve,
    Failed(WritebackError),
}

/// Write the playlist to Navidrome now and keep it written: the paired copy is updated in
/// place (recreated when it was deleted in Navidrome); an unpaired playlist is created, unless
/// Navidrome already has one of the same name. `None` for another user's or an unknown id.
pub async fn sync(
    core: &Core,
    actor: Actor<'_>,
    id: i64,
) -> Result<Option<SyncOutcome>, LinkError> {
    let Some(playlist) = db::playlists::get(&core.db, actor.user_id, id).await? else {
        return Ok(None);
    };
    let e = eligibility(&playlist);
    if e != Eligibility::Candidate {
        return Ok(Some(SyncOutcome::NotCandidate(e)));
    }
    let _one_writer = core.writeback.lock().await;
    let state = db::playlist_writeback::get(&core.db, id).await?;
    let password = match password(core, actor.user_id).await? {
        Ok(p) => p,
        Err(code) => return failed(core, id, code).await,
    };
    let nd = match Navidrome::open(core, actor.username, &password).await {
        Ok(nd) => nd,
        Err(code) => return failed(core, id, code).await,
    };
    let (tracks, _) = wanted_tracks(core, id).await?;
    let songs: Vec<String> = tracks.into_iter().map(|t| t.track_id).collect();
    let was_enabled = state.as_ref().is_some_and(|s| s.enabled);
    if let Some(s) = &state
        && let Some(paired) = s.navidrome_playlist_id.as_deref()
    {
        let name = pick_name(&s.navidrome_name, &playlist.name);
        let target = Target::Paired { id: paired, name };
        return Ok(Some(
            match write(&nd, actor, &playlist, was_enabled, target, &songs).await? {
                Ok(w) => SyncOutcome::Written(w),
                Err(code) => SyncOutcome::Failed(code),
            },
        ));
    }
    // Not paired yet: is the name taken in Navidrome?
    let existing = match nd.list().await {
        Ok(list) => list,
        Err(code) => return failed(core, id, code).await,
    };
    let paired = db::playlist_writeback::paired_elsewhere(&core.db, id).await?;
    let same: Vec<_> = existing
        .iter()
        .filter(|p| same_name(&p.name, &playlist.name))
        .collect();
    if let Some(free) = same.iter().find(|p| !paired.contains(&p.remote_id)) {
        db::playlist_writeback::record_conflict(&core.db, id, &free.remote_id, core.clock.now())
            .await?;
        return Ok(Some(SyncOutcome::Conflict));
    }
    // Only copies of other playlists have the name: this one gets its own.
    let name = if same.is_empty() {
        pick_name("", &playlist.name).to_owned()
    } else {
        distinct_name(
            &playlist.name,
            playlist.service.label(),
            existing.iter().map(|p| p.name.as_str()),
        )
    };
    let target = Target::New { name };
    Ok(Some(
        match write(&nd, actor, &playlist, was_enabled, target, &songs).await? {
            Ok(w) => SyncOutcome::Written(w),
            Err(code) => SyncOutcome::Failed(code),
        },
    ))
}

/// The user's answer to a same-name playlist in Navidrome: write into it, or create a separate
/// one under a distinct name.
pub async fn resolve(
    core: &Core,
    actor: Actor<'_>,
    id: i64,
    action: ConflictAction,
) -> Result<Option<SyncOutcome>, LinkError> {
    let Some(playlist) = db::playlists::get(&core.db, actor.user_id, id).await? else {
        return Ok(None);
    };
    let e = eligibility(&playlist);
    if e != Eligibility::Candidate {
        return Ok(Some(SyncOutcome::NotCandidate(e)));
    }
    let _one_writer = core.writeback.lock().await;
    let state = db::playlist_writeback::get(&core.db, id).await?;
    let Some(conflict) = state.as_ref().and_then(|s| s.conflict_playlist_id.clone()) else {
        return Ok(Some(SyncOutcome::NothingToResolve));
    };
    let was_enabled = state.as_ref().is_some_and(|s| s.enabled);
    let password = match password(core, actor.user_id).await? {
        Ok(p) => p,
        Err(code) => return failed(core, id, code).await,
    };
    let nd = match Navidrome::open(core, actor.username, &password).await {
        Ok(nd) => nd,
        Err(code) => return failed(core, id, code).await,
    };
    let (tracks, _) = wanted_tracks(core, id).await?;
    let songs: Vec<String> = tracks.into_iter().map(|t| t.track_id).collect();
    let paired = db::playlist_writeback::paired_elsewhere(&core.db, id).await?;
    let existing = match nd.list().await {
        Ok(list) => list,
        Err(code) => return failed(core, id, code).await,
    };
    let target = match action {
        // Paired with another playlist since the choice was offered: a name of its own then.
        ConflictAction::Pair if !paired.contains(&conflict) => Target::Paired {
            id: &conflict,
            name: pick_name("", &playlist.name),
        },
        ConflictAction::Pair | ConflictAction::NewName => Target::New {
            name: distinct_name(
                &playlist.name,
                playlist.service.label(),
                existing.iter().map(|p| p.name.as_str()),
            ),
        },
    };
    Ok(Some(
        match write(&nd, actor, &playlist, was_enabled, target, &songs).await? {
            Ok(w) => SyncOutcome::Written(w),
            Err(code) => SyncOutcome::Failed(code),
        },
    ))
}

/// How "stop writing to Navidrome" ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToggleOutcome {
    /// Write-back was off: it was turned on (with this result).
    Enabled(SyncOutcome),
    Disabled(NavidromeAction),
    /// Write-back is on and turning it off needs the keep-or-delete answer.
    ActionNeeded,
    /// Deleting the Navidrome copy failed: write-back stays on.
    Failed(WritebackError),
}

/// Turn write-back on (as `sync`) or off. Off needs `action`: keep the Navidrome copy and
/// forget the pairing, or delete it. `None` for another user's or an unknown id.
pub async fn toggle(
    core: &Core,
    actor: Actor<'_>,
    id: i64,
    action: Option<NavidromeAction>,
) -> Result<Option<ToggleOutcome>, LinkError> {
    let Some(playlist) = db::playlists::get(&core.db, actor.user_id, id).await? else {
        return Ok(None);
    };
    let enabled = db::playlist_writeback::get(&core.db, id)
        .await?
        .is_some_and(|s| s.enabled);
    if !enabled {
        return Ok(sync(core, actor, id).await?.map(ToggleOutcome::Enabled));
    }
    let Some(action) = action else {
        return Ok(Some(ToggleOutcome::ActionNeeded));
    };
    let _one_writer = core.writeback.lock().await;
    let Some(state) = db::playlist_writeback::get(&core.db, id).await? else {
        return Ok(Some(ToggleOutcome::Disabled(action)));
    };
    if action == NavidromeAction::Delete
        && let Some(navidrome_id) = state.navidrome_playlist_id.as_deref()
    {
        let deleted = match password(core, actor.user_id).await? {
            Ok(password) => match Navidrome::open(core, actor.username, &password).await {
                Ok(nd) => nd.delete(navidrome_id).await,
                Err(code) => Err(code),
            },
            Err(code) => Err(code),
        };
        if let Err(code) = deleted {
            db::playlist_writeback::record_error(&core.db, id, code, core.clock.now()).await?;
            return Ok(Some(ToggleOutcome::Failed(code)));
        }
    }
    let now = core.clock.now();
    let detail = format!(
        "{} playlist {}: Navidrome copy {}",
        playlist.service.label(),
        playlist.id,
        match action {
            NavidromeAction::Keep => "kept",
            NavidromeAction::Delete => "deleted",
        }
    );
    let mut tx = core.db.begin().await?;
    db::playlist_writeback::disable(&mut tx, id, now).await?;
    let event = audit::record_in(
        &mut tx,
        now,
        Entry::by(actor, AuditKind::PlaylistWritebackDisabled, &detail),
    )
    .await?;
    tx.commit().await?;
    event.publish(&core.events);
    Ok(Some(ToggleOutcome::Disabled(action)))
}

async fn failed(
    core: &Core,
    id: i64,
    code: WritebackError,
) -> Result<Option<SyncOutcome>, LinkError> {
    db::playlist_writeback::record_error(&core.db, id, code, core.clock.now()).await?;
    Ok(Some(SyncOutcome::Failed(code)))
}

/// The stored Navidrome name, else the playlist's, else "Untitled".
fn pick_name<'a>(stored: &'a str, playlist_name: &'a str) -> &'a str {
    if !stored.trim().is_empty() {
        stored
    } else if !playlist_name.trim().is_empty() {
        playlist_name
    } else {
        "Untitled"
    }
}

// ---------------------------------------------------------------------------------------------
// Scheduled re-sync

/// What a re-sync of every enabled playlist did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResyncReport {
    /// Enabled playlists looked at.
    pub playlists: u64,
    /// Written because their track list changed since the last write.
    pub updated: u64,
    /// Written because the Navidrome copy no longer held what was written (edited there).
    pub restored: u64,
    /// Created again because the Navidrome copy was deleted there.
    pub recreated: u64,
    pub unchanged: u64,
    /// Inactive (gone from their service) or Navidrome's own: left alone.
    pub skipped: u64,
    /// A Navidrome failure (recorded on the playlist).
    pub failed: u64,
}

/// Reports progress: playlists done, of how many.
pub type ProgressFn<'a> = &'a (dyn Fn(u64, Option<u64>) + Send + Sync);

/// Re-write every enabled playlist whose wanted track list differs from its Navidrome copy.
/// A write is sent only when the list changed since the last write, or when the Navidrome copy
/// was edited or deleted there (then it is made equal to the list again, or recreated).
pub async fn resync_all(core: &Core, progress: ProgressFn<'_>) -> Result<ResyncReport, LinkError> {
    let mut report = ResyncReport::default();
    let rows = db::playlist_writeback::enabled(&core.db).await?;
    let total = u64::try_from(rows.len()).unwrap_or(u64::MAX);
    progress(0, Some(total));
    let mut done = 0u64;
    for user_rows in rows.chunk_by(|a, b| a.user_id == b.user_id) {
        let Some(first) = user_rows.first() else {
            continue;
        };
        let (user_id, username) = (first.user_id, first.username.clone());
        let actor = Actor {
            user_id,
            username: &username,
            client_ip: "scheduler",
        };
        let password = password(core, user_id).await?;
        let nd = match &password {
            Ok(p) => Navidrome::open(core, &username, p).await,
            Err(code) => Err(*code),
        };
        for row in user_rows {
            report.playlists += 1;
            done += 1;
            let outcome = match &nd {
                Ok(nd) if row.active && row.service != Service::Navidrome => {
                    resync_one(nd, actor, row.playlist_id).await?
                }
                Ok(_) => Resync::Skipped,
                Err(code) => {
                    db::playlist_writeback::record_error(
                        &core.db,
                        row.playlist_id,
                        *code,
                        core.clock.now(),
                    )
                    .await?;
                    Resync::Failed
                }
            };
            match outcome {
                Resync::Updated => report.updated += 1,
                Resync::Restored => report.restored += 1,
                Resync::Recreated => report.recreated += 1,
                Resync::Unchanged => report.unchanged += 1,
                Resync::Skipped => report.skipped += 1,
                Resync::Failed => report.failed += 1,
            }
            progress(done, Some(total));
        }
    }
    Ok(report)
}

enum Resync {
    Updated,
    Restored,
    Recreated,
    Unchanged,
    Skipped,
    Failed,
}

async fn resync_one(nd: &Navidrome<'_>, actor: Actor<'_>, id: i64) -> Result<Resync, LinkError> {
    let core = nd.core;
    let _one_writer = core.writeback.lock().await;
    // Read again under the lock: the user may have turned it off meanwhile.
    let Some(playlist) = db::playlists::get(&core.db, actor.user_id, id).await? else {
        return Ok(Resync::Skipped);
    };
    let Some(state) = db::playlist_writeback::get(&core.db, id)
        .await?
        .filter(|s| s.enabled)
    else {
        return Ok(Resync::Skipped);
    };
    let (tracks, _) = wanted_tracks(core, id).await?;
    let songs: Vec<String> = tracks.into_iter().map(|t| t.track_id).collect();
    let name = pick_name(&state.navidrome_name, &playlist.name);
    let Some(paired) = state.navidrome_playlist_id.as_deref() else {
        let target = Target::New {
            name: name.to_owned(),
        };
        return Ok(
            match write(nd, actor, &playlist, true, target, &songs).await? {
                Ok(_) => Resync::Recreated,
                Err(_) => Resync::Failed,
            },
        );
    };
    let changed = fingerprint(&songs) != state.written_fingerprint;
    let reason = if changed {
        Resync::Updated
    } else {
        match nd.song_ids(paired).await {
            Ok(Some(current)) if current == songs => return Ok(Resync::Unchanged),
            Ok(Some(_)) => Resync::Restored,
            Ok(None) => Resync::Recreated,
            Err(code) => {
                db::playlist_writeback::record_error(&core.db, id, code, core.clock.now()).await?;
                return Ok(Resync::Failed);
            }
        }
    };
    let target = Target::Paired { id: paired, name };
    Ok(
        match write(nd, actor, &playlist, true, target, &songs).await? {
            Ok(Write::Created) => Resync::Recreated,
            Ok(Write::Updated) => reason,
            Err(_) => Resync::Failed,
        },
    )
}
