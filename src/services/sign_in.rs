//! Signing in with Navidrome credentials: the per-account failure budget, the password check
//! against Navidrome, the owner lock (or allow-list), and — in one transaction — the user row,
//! the sealed password, the new session and the audit entry.
//!
//! Every refusal that could tell something about an account (wrong password, not the owner,
//! an ownership race) is the same `Refused`, so callers cannot tell them apart.

use std::time::{Duration, Instant};

use secrecy::SecretString;

use crate::app::Core;
use crate::clients::navidrome::{Credentials, NavidromeError};
use crate::crypto::FieldRef;
use crate::crypto::registry::NAVIDROME_PASSWORD;
use crate::db;
use crate::domain::audit::AuditKind;
use crate::domain::ids::{SessionId, UserId};
use crate::security::rate_limit::{AccountCheck, AccountGuard};
use crate::services::ServiceError;
use crate::services::audit::{self, Entry};
use crate::services::navidrome::NavidromeStatus;

/// One sign-in attempt, already checked for shape by the caller.
pub struct Attempt<'a> {
    pub username: &'a str,
    pub password: &'a SecretString,
    pub client_ip: &'a str,
    pub user_agent: &'a str,
}

/// The session a successful sign-in created.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub issued_at: i64,
    pub ttl_secs: i64,
}

#[derive(Debug)]
pub enum Outcome {
    SignedIn(NewSession),
    /// Wrong credentials, or an account that may not use this Spotter: one answer for all.
    Refused,
    /// Too many failures for this account lately; it opens again after `retry_after`.
    AccountPaused {
        retry_after: Duration,
    },
    /// Navidrome did not answer usefully: nothing is known about the credentials.
    NavidromeUnavailable,
}

pub async fn sign_in(
    core: &Core,
    accounts: &AccountGuard,
    attempt: Attempt<'_>,
) -> Result<Outcome, ServiceError> {
    let username = attempt.username;
    let anonymous = |kind, detail| Entry {
        user_id: None,
        kind,
        username,
        client_ip: attempt.client_ip,
        detail,
    };

    if let AccountCheck::Paused {
        retry_after,
        first_refusal,
    } = accounts.check(username, Instant::now())
    {
        if first_refusal {
            audit::record(
                core,
                anonymous(
                    AuditKind::LoginAccountPaused,
                    "too many failed sign-ins for this account; paused for a while",
                ),
            )
            .await?;
        }
        tracing::warn!(
            client_ip = attempt.client_ip,
            "sign-in refused: account paused after too many failures"
        );
        return Ok(Outcome::AccountPaused { retry_after });
    }

    let creds = Credentials {
        username,
        password: attempt.password,
    };
    match core.clients.navidrome.ping(&creds).await {
        Ok(()) => {}
        Err(NavidromeError::WrongCredentials | NavidromeError::Api { .. }) => {
            if accounts.record_failure(username, Instant::now()) {
                tracing::warn!("an account used up its sign-in failure budget and is paused");
            }
            audit::record(
                core,
                anonymous(AuditKind::LoginFailed, "Navidrome rejected the credentials"),
            )
            .await?;
            return Ok(Outcome::Refused);
        }
        Err(e) => {
            tracing::warn!(error = %e, "navidrome unavailable during sign-in");
            return Ok(Outcome::NavidromeUnavailable);
        }
    }

    // Owner lock: the allow-list if set, else the first account to sign in owns this instance.
    let owner = db::users::find_owner(&core.db).await?;
    let allowed = &core.config.security.allowed_users;
    let permitted = if allowed.is_empty() {
        owner.as_ref().is_none_or(|o| o.username == username)
    } else {
        allowed.iter().any(|a| a == username)
    };
    if !permitted {
        audit::record(
            core,
            anonymous(AuditKind::LoginRefused, "not the owner of this Spotter"),
        )
        .await?;
        return Ok(Outcome::Refused);
    }

    let ttl_secs = i64::try_from(core.config.security.session_ttl.as_secs()).unwrap_or(86_400);
    let now = core.clock.now();
    let session_id = SessionId::new_random();
    let mut tx = crate::db::begin_write(&core.db).await?;
    let user_id = match db::users::upsert_login(&mut tx, username, owner.is_none(), now).await {
        Ok(id) => id,
        // Two first sign-ins raced for ownership: the unique owner index decided.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Ok(Outcome::Refused),
        Err(e) => return Err(e.into()),
    };
    let sealed = core.cipher.seal(
        FieldRef {
            column: &NAVIDROME_PASSWORD,
            row_key: &user_id.to_string(),
        },
        secrecy::ExposeSecret::expose_secret(attempt.password),
    )?;
    db::credentials::upsert_navidrome_password(&mut tx, user_id, &sealed, now).await?;
    db::sessions::insert(
        &mut tx,
        db::sessions::NewSession {
            jti: &session_id,
            user_id,
            expires_at: now + ttl_secs,
            client_ip: attempt.client_ip,
            user_agent: attempt.user_agent,
        },
        now,
    )
    .await?;
    let event = audit::record_in(
        &mut tx,
        now,
        Entry {
            user_id: Some(user_id),
            ..anonymous(AuditKind::LoginOk, "")
        },
    )
    .await?;
    tx.commit().await?;
    // A new session and perhaps a new user: what the pages show changed.
    crate::services::sessions::changed(core);
    event.publish(&core.events);
    // The AI DJ's starter personas, once per account.
    if let Err(e) = crate::services::vibes::ensure_starters(core, user_id).await {
        tracing::warn!(error = %e, "seeding the starter DJs failed");
    }
    accounts.record_success(username);
    // The ping above just succeeded with these credentials.
    core.navidrome_status
        .put(user_id, NavidromeStatus::Connected);
    tracing::info!(user_id = %user_id, "signed in");
    Ok(Outcome::SignedIn(NewSession {
        user_id,
        session_id,
        issued_at: now,
        ttl_secs,
    }))
}
