//! Navidrome with the stored password: the connection check behind the dashboard and "Test
//! connection", and a short-lived cache of its result so page views don't each call Navidrome.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::SecretString;

use crate::app::Core;
use crate::clients::navidrome::{Credentials, NavidromeError};
use crate::crypto::registry::NAVIDROME_PASSWORD;
use crate::db;
use crate::domain::ids::UserId;
use crate::domain::link_health::{ErrorCode, Failure};
use crate::services::links::{LinkError, open};

/// What a check with the stored password found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavidromeCheck {
    Connected,
    /// No password is stored (signed in before the password was kept, or cleared).
    NoPassword,
    /// The check failed; an undecryptable password reads as `NoCredentials`, never as plaintext.
    Failed(Failure),
}

/// The dashboard's view of Navidrome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavidromeStatus {
    Connected,
    WrongCredentials,
    Unreachable,
    NoCredentials,
}

impl From<NavidromeCheck> for NavidromeStatus {
    fn from(c: NavidromeCheck) -> Self {
        match c {
            NavidromeCheck::Connected => Self::Connected,
            NavidromeCheck::NoPassword => Self::NoCredentials,
            NavidromeCheck::Failed(f) => match f.code {
                ErrorCode::NoCredentials => Self::NoCredentials,
                ErrorCode::WrongPassword => Self::WrongCredentials,
                _ => Self::Unreachable,
            },
        }
    }
}

/// Ping Navidrome with the stored password.
pub async fn check(
    core: &Core,
    user_id: UserId,
    username: &str,
) -> Result<NavidromeCheck, LinkError> {
    let password = match stored_password(core, user_id).await? {
        None => return Ok(NavidromeCheck::NoPassword),
        Some(Err(f)) => return Ok(NavidromeCheck::Failed(f)),
        Some(Ok(p)) => p,
    };
    let creds = Credentials {
        username,
        password: &password,
    };
    Ok(match core.clients.navidrome.ping(&creds).await {
        Ok(()) => NavidromeCheck::Connected,
        Err(e) => NavidromeCheck::Failed(Failure::new(error_code(&e))),
    })
}

/// The user's stored Navidrome password, opened: `None` when none is stored, a `Failure`
/// (`NoCredentials`) when it does not decrypt.
pub async fn stored_password(
    core: &Core,
    user_id: UserId,
) -> Result<Option<Result<SecretString, Failure>>, LinkError> {
    let Some(stored) = db::credentials::navidrome_password(&core.db, user_id).await? else {
        return Ok(None);
    };
    Ok(Some(open(
        core,
        &NAVIDROME_PASSWORD,
        &user_id.to_string(),
        &stored,
    )))
}

/// The dashboard's Navidrome status, checked at most every `STATUS_TTL`.
pub async fn status(
    core: &Core,
    user_id: UserId,
    username: &str,
) -> Result<NavidromeStatus, LinkError> {
    if let Some(status) = core.navidrome_status.get(user_id) {
        return Ok(status);
    }
    // One check at a time: when the result runs out under load, the other views wait for it
    // instead of each calling Navidrome.
    let _one_at_a_time = core.navidrome_status.checking.lock().await;
    if let Some(status) = core.navidrome_status.get(user_id) {
        return Ok(status);
    }
    let status = NavidromeStatus::from(check(core, user_id, username).await?);
    core.navidrome_status.put(user_id, status);
    Ok(status)
}

pub fn error_code(e: &NavidromeError) -> ErrorCode {
    match e {
        NavidromeError::WrongCredentials => ErrorCode::WrongPassword,
        NavidromeError::Unreachable => ErrorCode::Unreachable,
        NavidromeError::BadResponse { status } if *status >= 500 => ErrorCode::ServerError,
        NavidromeError::BadResponse { .. } | NavidromeError::Api { .. } => ErrorCode::BadResponse,
    }
}

/// How long a Navidrome check result is reused.
const STATUS_TTL: Duration = Duration::from_secs(30);

/// The last check of Navidrome, per user (one user per instance, so tiny).
#[derive(Clone, Default, Debug)]
pub struct StatusCache {
    last: Arc<Mutex<Option<(UserId, Instant, NavidromeStatus)>>>,
    checking: Arc<tokio::sync::Mutex<()>>,
}

impl StatusCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(UserId, Instant, NavidromeStatus)>> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, user: UserId) -> Option<NavidromeStatus> {
        match *self.lock() {
            Some((u, at, status)) if u == user && at.elapsed() < STATUS_TTL => Some(status),
            _ => None,
        }
    }

    /// Forget the last result (the next view checks Navidrome again).
    pub fn clear(&self) {
        *self.lock() = None;
    }

    pub fn put(&self, user: UserId, status: NavidromeStatus) {
        *self.lock() = Some((user, Instant::now(), status));
    }
}
