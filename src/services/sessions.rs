//! Server-side sessions: checking a session on every signed-in request (expiry, idle timeout,
//! the activity stamp), signing out, revoking one or all other sessions, and pruning.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::app::Core;
use crate::db;
use crate::db::sessions::Session;
use crate::db::watch::{DataVersion, WATCH_EVERY};
use crate::domain::audit::AuditKind;
use crate::domain::ids::{SessionId, UserId};
use crate::security::session_cache::{SessionCache, SessionView};
use crate::services::audit::{self, Actor, Entry};

/// The activity stamps gathered in memory are written this often (one transaction).
pub const FLUSH_EVERY: Duration = Duration::from_secs(30);

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The live session `jti` of `user_id`, or `None` when it is unknown, another user's, expired
/// or idle too long (an idle one is deleted on the spot).
///
/// Served from `core.sessions` while the change watcher vouches for it (`db::watch`); else, and
/// for an id not cached, the row is read. Nothing is cached for an id without a live row.
pub async fn resolve(
    core: &Core,
    jti: &SessionId,
    user_id: UserId,
) -> Result<Option<Arc<SessionView>>, sqlx::Error> {
    let now = core.clock.now();
    let hit = match core.sessions.get(jti, core.changes.trusted_generation()) {
        Some(hit) => hit,
        None => {
            // Tagged with the generation from *before* the read: a change made meanwhile
            // leaves the entry stale, so the next request reads again.
            let generation = core.changes.generation();
            let Some(row) = db::sessions::find_with_user(&core.db, jti).await? else {
                core.sessions.remove(jti);
                return Ok(None);
            };
            if row.user_id != user_id || row.expires_at <= now {
                core.sessions.remove(jti);
                return Ok(None);
            }
            let stored_seen = row.last_seen_at;
            let view = SessionView::new(
                row.jti,
                row.user_id,
                row.expires_at,
                row.username,
                row.is_owner,
                row.user_created_at,
            );
            core.sessions.insert(view, stored_seen, generation)
        }
    };
    let idle = secs(core.config.security.session_idle_timeout);
    if hit.view.user_id != user_id || hit.view.expires_at <= now {
        return Ok(None);
    }
    if now.saturating_sub(hit.last_seen) > idle {
        db::sessions::delete(&core.db, hit.view.user_id, jti).await?;
        forget(core, |c| c.remove(jti));
        return Ok(None);
    }
    core.sessions.touch(jti, now);
    Ok(Some(hit.view))
}

/// After a session row is deleted here: drop it from memory and make every cached view stale,
/// so a read that raced with the delete cannot bring it back.
fn forget(core: &Core, evict: impl FnOnce(&SessionCache)) {
    evict(&core.sessions);
    core.changes.bump();
}

/// Something this process wrote changes what pages show: serve nothing stale.
pub fn changed(core: &Core) {
    core.changes.bump();
}

/// Write the activity stamps gathered in memory (one transaction). On failure they stay
/// pending for the next flush.
pub async fn flush_activity(core: &Core) -> Result<usize, sqlx::Error> {
    let stamps = core.sessions.unsaved();
    if stamps.is_empty() {
        return Ok(0);
    }
    db::sessions::touch_many(&core.db, &stamps).await?;
    core.sessions.mark_saved(&stamps);
    Ok(stamps.len())
}

/// Keep the in-memory views honest until `stop`: every `WATCH_EVERY` read `PRAGMA data_version`
/// on a connection of its own and move the change generation when another connection (this
/// process's pool, the CLI, another instance) committed; every `FLUSH_EVERY` write the activity
/// stamps. If the watcher cannot read, nothing is served from memory until it can.
pub async fn watch(core: Core, stop: CancellationToken) {
    let mut watcher: Option<DataVersion> = None;
    let mut seen: Option<i64> = None;
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_flush = Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => break,
        }
        let started = Instant::now();
        if watcher.is_none() {
            match DataVersion::open(&core.db).await {
                Ok(w) => watcher = Some(w),
                Err(e) => tracing::warn!(error = %e, "opening the change watcher failed"),
            }
        }
        let read = match watcher.as_mut() {
            Some(w) => Some(w.read().await),
            None => None,
        };
        match read {
            Some(Ok(v)) => {
                if seen != Some(v) {
                    core.changes.bump();
                }
                seen = Some(v);
                core.changes.confirm(started);
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "reading the change counter failed");
                core.changes.distrust();
                core.changes.bump();
                if let Some(w) = watcher.take() {
                    w.close().await;
                }
            }
            None => core.changes.distrust(),
        }
        if last_flush.elapsed() >= FLUSH_EVERY {
            last_flush = Instant::now();
            if let Err(e) = flush_activity(&core).await {
                tracing::warn!(error = %e, "writing session activity failed");
            }
        }
    }
    core.changes.distrust();
    if let Err(e) = flush_activity(&core).await {
        tracing::warn!(error = %e, "writing session activity failed");
    }
    if let Some(w) = watcher {
        w.close().await;
    }
}

/// Whether `jti`, no longer a live session, was revoked from another device (its next page
/// says so) rather than signed out, expired or idle.
pub async fn was_revoked(core: &Core, jti: &SessionId) -> Result<bool, sqlx::Error> {
    db::sessions::was_revoked(&core.db, jti, core.clock.now()).await
}

/// End this session (its row is deleted, so the cookie is worthless at once).
pub async fn sign_out(core: &Core, actor: Actor<'_>, jti: &SessionId) -> Result<(), sqlx::Error> {
    db::sessions::delete(&core.db, actor.user_id, jti).await?;
    forget(core, |c| c.remove(jti));
    audit::record(core, Entry::by(actor, AuditKind::Logout, "")).await
}

/// What revoking one session did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// No such session of this user.
    NotFound,
    /// Another session was revoked.
    Other,
    /// The caller's own session was revoked: it is signed out.
    Current,
}

pub async fn revoke(
    core: &Core,
    actor: Actor<'_>,
    current: &SessionId,
    target: &SessionId,
) -> Result<Revoked, sqlx::Error> {
    let is_current = target == current;
    let gone = if is_current {
        db::sessions::delete(&core.db, actor.user_id, target).await?
    } else {
        db::sessions::revoke(&core.db, actor.user_id, target, core.clock.now()).await?
    };
    if !gone {
        return Ok(Revoked::NotFound);
    }
    forget(core, |c| c.remove(target));
    let detail = if is_current {
        "this session"
    } else {
        "another session"
    };
    audit::record(core, Entry::by(actor, AuditKind::SessionRevoked, detail)).await?;
    Ok(if is_current {
        Revoked::Current
    } else {
        Revoked::Other
    })
}

/// Sign out every session of the user but `keep`; how many ended.
pub async fn revoke_others(
    core: &Core,
    actor: Actor<'_>,
    keep: &SessionId,
) -> Result<u64, sqlx::Error> {
    let n = db::sessions::revoke_others(&core.db, actor.user_id, keep, core.clock.now()).await?;
    forget(core, |c| c.remove_user_except(actor.user_id, Some(keep)));
    let detail = format!("{n} session(s)");
    audit::record(
        core,
        Entry::by(actor, AuditKind::SessionsRevokedOthers, &detail),
    )
    .await?;
    Ok(n)
}

pub async fn list(core: &Core, user_id: UserId) -> Result<Vec<Session>, sqlx::Error> {
    db::sessions::list_for_user(&core.db, user_id).await
}

/// Delete expired and idle sessions; how many.
pub async fn prune(core: &Core) -> Result<u64, sqlx::Error> {
    // The table's stamps first, so a session in use is not pruned as idle.
    flush_activity(core).await?;
    let idle = secs(core.config.security.session_idle_timeout);
    let n = db::sessions::prune(&core.db, idle, core.clock.now()).await?;
    if n > 0 {
        forget(core, |c| c.clear());
    }
    Ok(n)
}

pub async fn count(core: &Core, user_id: UserId) -> Result<i64, sqlx::Error> {
    db::sessions::count_for_user(&core.db, user_id).await
}
