//! Link health (SPEC F11): which services exist, the fixed error codes every provider failure
//! is classified into (retriable, broken, or a server misconfiguration), and the backoff rule.
//! Pure: the caller passes the clock and the jitter.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    Ok,
    /// A retriable failure: calls wait until `backoff_until`.
    Backoff,
    /// The stored credential no longer works: the user must re-link.
    Broken,
    /// The service refuses this server's own app credentials: an operator fix, not a re-link.
    Misconfigured,
}

impl LinkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Backoff => "backoff",
            Self::Broken => "broken",
            Self::Misconfigured => "misconfigured",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Ok, Self::Backoff, Self::Broken, Self::Misconfigured]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// How a failure is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Try again later (with backoff); never discard credentials.
    Retriable,
    /// The link is broken until the user links again.
    Broken,
    /// The server's configuration is wrong; retrying or re-linking does not help.
    Misconfigured,
    /// One feature of the service is no longer offered to this account or app (Spotify's 2026
    /// API limits): the link itself still works, so its status is left as it was.
    Limited,
}

/// Every provider failure becomes one of these fixed codes. They are what the database stores
/// and what the page explains; provider text (which might echo a token) never is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Connection refused, DNS failure, TLS failure or timeout.
    Unreachable,
    /// The service answered 5xx.
    ServerError,
    /// 429, Last.fm error 29.
    RateLimited,
    /// An answer that is not what the API documents (malformed JSON, a redirect, a proxy page).
    BadResponse,
    /// Spotify: the refresh token was revoked or expired (`invalid_grant`).
    InvalidGrant,
    /// The access token or user token is refused (Spotify 401 after a refresh, ListenBrainz).
    TokenRejected,
    /// Last.fm error 9: the session key is no longer valid.
    InvalidSession,
    /// Navidrome refuses the stored password.
    WrongPassword,
    /// Spotify refuses the account (a development-mode app without this user allow-listed).
    AccountNotAllowed,
    /// Spotify refuses the client id / secret (`invalid_client`).
    ClientRejected,
    /// Last.fm error 10 or 26: the API key is invalid or suspended.
    ApiKeyInvalid,
    /// Nothing usable is stored (missing, or it does not decrypt).
    NoCredentials,
    /// The service no longer offers a feature to this account or app (Spotify: playlists need
    /// the app owner's Premium, or the endpoint was removed). The link keeps working.
    CapabilityLost,
}

impl ErrorCode {
    const ALL: [ErrorCode; 13] = [
        Self::Unreachable,
        Self::ServerError,
        Self::RateLimited,
        Self::BadResponse,
        Self::InvalidGrant,
        Self::TokenRejected,
        Self::InvalidSession,
        Self::WrongPassword,
        Self::AccountNotAllowed,
        Self::ClientRejected,
        Self::ApiKeyInvalid,
        Self::NoCredentials,
        Self::CapabilityLost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::ServerError => "server_error",
            Self::RateLimited => "rate_limited",
            Self::BadResponse => "bad_response",
            Self::InvalidGrant => "invalid_grant",
            Self::TokenRejected => "token_rejected",
            Self::InvalidSession => "invalid_session",
            Self::WrongPassword => "wrong_password",
            Self::AccountNotAllowed => "account_not_allowed",
            Self::ClientRejected => "client_rejected",
            Self::ApiKeyInvalid => "api_key_invalid",
            Self::NoCredentials => "no_credentials",
            Self::CapabilityLost => "capability_lost",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn class(self) -> FailureClass {
        match self {
            Self::Unreachable | Self::ServerError | Self::RateLimited | Self::BadResponse => {
                FailureClass::Retriable
            }
            Self::InvalidGrant
            | Self::TokenRejected
            | Self::InvalidSession
            | Self::WrongPassword
            | Self::NoCredentials => FailureClass::Broken,
            Self::AccountNotAllowed | Self::ClientRejected | Self::ApiKeyInvalid => {
                FailureClass::Misconfigured
            }
            Self::CapabilityLost => FailureClass::Limited,
        }
    }

    pub fn is_retriable(self) -> bool {
        self.class() == FailureClass::Retriable
    }

    /// A fixed sentence for the page.
    pub fn message(self) -> &'static str {
        match self {
            Self::Unreachable => "The service could not be reached (network error or timeout).",
            Self::ServerError => "The service had a server error.",
            Self::RateLimited => "The service asked us to slow down.",
            Self::BadResponse => "The service gave an unexpected answer.",
            Self::InvalidGrant => {
                "Spotify no longer accepts the stored authorization (it was revoked or expired)."
            }
            Self::TokenRejected => "The service no longer accepts the stored token.",
            Self::InvalidSession => {
                "Last.fm no longer accepts the stored session (access was revoked)."
            }
            Self::WrongPassword => {
                "Navidrome refuses the stored password. Sign out and sign in again with your current password."
            }
            Self::AccountNotAllowed => {
                "Spotify refuses this account for this app. If the Spotify app is in development mode, add the account under \"User Management\" in the Spotify developer dashboard."
            }
            Self::ClientRejected => {
                "Spotify refuses this server's client id or secret. Check SPOTTER_SPOTIFY_CLIENT_ID and SPOTTER_SPOTIFY_CLIENT_SECRET."
            }
            Self::ApiKeyInvalid => {
                "Last.fm refuses this server's API key (invalid or suspended). Check SPOTTER_LASTFM_API_KEY and SPOTTER_LASTFM_SHARED_SECRET."
            }
            Self::NoCredentials => "No usable credentials are stored.",
            Self::CapabilityLost => {
                "Spotify no longer lets this app read playlists (its 2026 API limits: the app owner needs Premium, or the endpoint was removed). Listening history is not affected."
            }
        }
    }
}

/// One classified failure, with the wait the service asked for, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub code: ErrorCode,
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            retry_after: None,
        }
    }

    pub fn rate_limited(retry_after: Option<Duration>) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            retry_after,
        }
    }
}

impl From<ErrorCode> for Failure {
    fn from(code: ErrorCode) -> Self {
        Self::new(code)
    }
}

/// First retry after this long.
pub const BACKOFF_BASE: Duration = Duration::from_secs(30);
/// Exponential growth stops here.
pub const BACKOFF_CAP: Duration = Duration::from_secs(6 * 3600);
/// A `Retry-After` / `X-RateLimit-Reset-In` beyond this is treated as this (absurd values).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How long to wait before attempt `failures + 1`, given `failures` consecutive failures
/// (≥ 1). With a server-given wait, that wait (capped at `MAX_RETRY_AFTER`, at least 1 s);
/// otherwise "equal jitter" exponential backoff: half the exponential delay fixed, half random
/// (`jitter` in [0, 1)), capped at `BACKOFF_CAP`.
pub fn backoff_delay(failures: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
    if let Some(ra) = retry_after {
        return ra.clamp(Duration::from_secs(1), MAX_RETRY_AFTER);
    }
    let exp = failures.saturating_sub(1).min(20);
    let full = BACKOFF_BASE
        .checked_mul(1u32 << exp)
        .unwrap_or(BACKOFF_CAP)
        .min(BACKOFF_CAP);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let half = full / 2;
    half + half.mul_f64(jitter)
}

/// Parse a `Retry-After` value (delta seconds, or an HTTP date) into a wait from `now_unix`.
pub fn parse_retry_after(value: &str, now_unix: i64) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let delta = at.unix_timestamp().saturating_sub(now_unix);
    Some(Duration::from_secs(u64::try_from(delta).unwrap_or(0)))
}

/// The persisted health of one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub status: LinkStatus,
    pub backoff_until: Option<i64>,
    pub failure_count: u32,
    pub last_error: Option<ErrorCode>,
}

impl Health {
    pub fn ok() -> Self {
        Self {
            status: LinkStatus::Ok,
            backoff_until: None,
            failure_count: 0,
            last_error: None,
        }
    }

    /// The health after a failure, given the previous consecutive failure count.
    pub fn after_failure(previous_failures: u32, failure: Failure, now: i64, jitter: f64) -> Self {
        let failure_count = previous_failures.saturating_add(1);
        let (status, backoff_until) = match failure.code.class() {
            FailureClass::Retriable => {
                let wait = backoff_delay(failure_count, failure.retry_after, jitter);
                let secs = i64::try_from(wait.as_secs()).unwrap_or(i64::MAX);
                (LinkStatus::Backoff, Some(now.saturating_add(secs.max(1))))
            }
            FailureClass::Broken => (LinkStatus::Broken, None),
            FailureClass::Misconfigured => (LinkStatus::Misconfigured, None),
            FailureClass::Limited => (LinkStatus::Ok, None),
        };
        Self {
            status,
            backoff_until,
            failure_count,
            last_error: Some(failure.code),
        }
    }

    /// The health after a `Limited` failure: the link's status, wait and failure count stay as
    /// they were (`previous`, or ok); only the code is noted, for the page to explain.
    pub fn after_capability_loss(previous: Option<&Health>, code: ErrorCode) -> Self {
        let mut h = previous.cloned().unwrap_or_else(Self::ok);
        h.last_error = Some(code);
        h
    }

    /// Whether automatic calls must wait (a manual "Test connection" may still run).
    pub fn is_waiting(&self, now: i64) -> bool {
        match self.status {
            LinkStatus::Ok => false,
            LinkStatus::Backoff => self.backoff_until.is_some_and(|t| t > now),
            LinkStatus::Broken | LinkStatus::Misconfigured => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_round_trip_and_classify() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
            assert!(!c.message().is_empty());
        }
        assert_eq!(ErrorCode::parse("nope"), None);
        assert!(ErrorCode::ServerError.is_retriable());
        assert!(ErrorCode::Unreachable.is_retriable());
        assert!(ErrorCode::RateLimited.is_retriable());
        assert_eq!(ErrorCode::InvalidGrant.class(), FailureClass::Broken);
        assert_eq!(ErrorCode::InvalidSession.class(), FailureClass::Broken);
        assert_eq!(
            ErrorCode::ApiKeyInvalid.class(),
            FailureClass::Misconfigured
        );
        for s in [
            LinkStatus::Ok,
            LinkStatus::Backoff,
            LinkStatus::Broken,
            LinkStatus::Misconfigured,
        ] {
            assert_eq!(LinkStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn backoff_grows_then_caps() {
        assert_eq!(backoff_delay(1, None, 1.0), BACKOFF_BASE);
        assert_eq!(backoff_delay(1, None, 0.0), BACKOFF_BASE / 2);
        assert_eq!(backoff_delay(2, None, 1.0), BACKOFF_BASE * 2);
        assert_eq!(backoff_delay(3, None, 1.0), BACKOFF_BASE * 4);
        assert_eq!(backoff_delay(40, None, 1.0), BACKOFF_CAP);
        assert_eq!(backoff_delay(u32::MAX, None, 1.0), BACKOFF_CAP);
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        assert_eq!(
            backoff_delay(1, Some(Duration::from_secs(120)), 0.5),
            Duration::from_secs(120)
        );
        assert_eq!(
            backoff_delay(9, Some(Duration::from_secs(5)), 0.5),
            Duration::from_secs(5)
        );
        assert_eq!(
            backoff_delay(1, Some(Duration::from_secs(10_000_000)), 0.5),
            MAX_RETRY_AFTER
        );
        assert_eq!(
            backoff_delay(1, Some(Duration::ZERO), 0.5),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn retry_after_header_forms() {
        assert_eq!(parse_retry_after(" 42 ", 0), Some(Duration::from_secs(42)));
        let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:40:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn transitions() {
        let now = 1_000;
        let h = Health::after_failure(0, Failure::new(ErrorCode::ServerError), now, 1.0);
        assert_eq!(h.status, LinkStatus::Backoff);
        assert_eq!(h.backoff_until, Some(now + 30));
        assert_eq!(h.failure_count, 1);
        assert!(h.is_waiting(now + 29));
        assert!(!h.is_waiting(now + 30));
        let h = Health::after_failure(
            1,
            Failure::rate_limited(Some(Duration::from_secs(90))),
            now,
            0.3,
        );
        assert_eq!(h.backoff_until, Some(now + 90));
        let h = Health::after_failure(2, Failure::new(ErrorCode::InvalidGrant), now, 0.3);
        assert_eq!(h.status, LinkStatus::Broken);
        assert_eq!(h.backoff_until, None);
        assert!(h.is_waiting(i64::MAX));
        let h = Health::after_failure(0, Failure::new(ErrorCode::ApiKeyInvalid), now, 0.3);
        assert_eq!(h.status, LinkStatus::Misconfigured);
        assert!(!Health::ok().is_waiting(now));
    }

    #[test]
    fn a_lost_capability_leaves_the_link_as_it_was() {
        assert_eq!(ErrorCode::CapabilityLost.class(), FailureClass::Limited);
        let h = Health::after_capability_loss(None, ErrorCode::CapabilityLost);
        assert_eq!(h.status, LinkStatus::Ok);
        assert_eq!(h.failure_count, 0);
        assert_eq!(h.last_error, Some(ErrorCode::CapabilityLost));
        assert!(!h.is_waiting(0));
        let backoff = Health::after_failure(0, Failure::new(ErrorCode::ServerError), 10, 0.0);
        let h = Health::after_capability_loss(Some(&backoff), ErrorCode::CapabilityLost);
        assert_eq!(h.status, LinkStatus::Backoff);
        assert_eq!(h.backoff_until, backoff.backoff_until);
        assert_eq!(h.failure_count, 1);
    }

    proptest! {
        #[test]
        fn backoff_is_bounded(failures in 0u32..=u32::MAX, ra in proptest::option::of(0u64..u64::MAX / 2), jitter in proptest::num::f64::ANY) {
            let d = backoff_delay(failures, ra.map(Duration::from_secs), jitter);
            prop_assert!(d <= BACKOFF_CAP.max(MAX_RETRY_AFTER));
            prop_assert!(d >= Duration::from_secs(1));
            if let Some(ra) = ra {
                prop_assert_eq!(d, Duration::from_secs(ra).clamp(Duration::from_secs(1), MAX_RETRY_AFTER));
            } else {
                prop_assert!(d <= BACKOFF_CAP);
                prop_assert!(d >= BACKOFF_BASE / 2);
            }
        }

        #[test]
        fn backoff_never_shrinks_without_jitter(failures in 1u32..64) {
            prop_assert!(backoff_delay(failures + 1, None, 0.5) >= backoff_delay(failures, None, 0.5));
        }

        #[test]
        fn retriable_failures_always_end_in_the_future(prev in 0u32..1000, now in 0i64..4_000_000_000, jitter in 0.0f64..1.0, ra in proptest::option::of(0u64..100_000_000)) {
            let h = Health::after_failure(prev, Failure { code: ErrorCode::ServerError, retry_after: ra.map(Duration::from_secs) }, now, jitter);
            let until = h.backoff_until.unwrap();
            prop_assert!(until > now);
            prop_assert!(until - now <= 6 * 3600);
            prop_assert_eq!(h.failure_count, prev + 1);
        }
    }
}
