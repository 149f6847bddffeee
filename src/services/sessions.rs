//! Server-side sessions: checking a session on every signed-in request (expiry, idle timeout,
//! the activity stamp), signing out, revoking one or all other sessions, and pruning.

use crate::app::Core;
use crate::db;
use crate::db::sessions::{ActiveSession, Session};
use crate::domain::audit::AuditKind;
use crate::domain::ids::{SessionId, UserId};
use crate::services::audit::{self, Actor, Entry};

/// The activity stamp is written at most this often, so most requests stay read-only.
const TOUCH_EVERY_SECS: i64 = 60;

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// The live session `jti` of `user_id`, or `None` when it is unknown, another user's, expired
/// or idle too long (an idle one is deleted on the spot).
pub async fn resolve(
    core: &Core,
    jti: &SessionId,
    user_id: UserId,
) -> Result<Option<ActiveSession>, sqlx::Error> {
    let Some(session) = db::sessions::find_with_user(&core.db, jti).await? else {
        return Ok(None);
    };
    let now = core.clock.now();
    let idle = secs(core.config.security.session_idle_timeout);
    if session.user_id != user_id || session.expires_at <= now {
        return Ok(None);
    }
    if now.saturating_sub(session.last_seen_at) > idle {
        db::sessions::delete(&core.db, session.user_id, &session.jti).await?;
        return Ok(None);
    }
    if now.saturating_sub(session.last_seen_at) >= TOUCH_EVERY_SECS {
        db::sessions::touch(&core.db, &session.jti, now, TOUCH_EVERY_SECS).await?;
    }
    Ok(Some(session))
}

/// Whether `jti`, no longer a live session, was revoked from another device (its next page
/// says so) rather than signed out, expired or idle.
pub async fn was_revoked(core: &Core, jti: &SessionId) -> Result<bool, sqlx::Error> {
    db::sessions::was_revoked(&core.db, jti, core.clock.now()).await
}

/// End this session (its row is deleted, so the cookie is worthless at once).
pub async fn sign_out(core: &Core, actor: Actor<'_>, jti: &SessionId) -> Result<(), sqlx::Error> {
    db::sessions::delete(&core.db, actor.user_id, jti).await?;
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
    let idle = secs(core.config.security.session_idle_timeout);
    db::sessions::prune(&core.db, idle, core.clock.now()).await
}

pub async fn count(core: &Core, user_id: UserId) -> Result<i64, sqlx::Error> {
    db::sessions::count_for_user(&core.db, user_id).await
}
