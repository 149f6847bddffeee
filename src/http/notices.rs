//! Typed page notices and refusal codes. A code travels in a redirect's query string
//! (`?notice=…`, `?error=…`) and maps to a fixed sentence: the query value is never echoed, and
//! an unknown code shows nothing (notices) or a generic sentence (errors).

use axum::response::{IntoResponse, Redirect, Response};

use crate::domain::link_health::ErrorCode;
use crate::domain::provider::Provider;
use crate::http::error::AppError;
use crate::jobs::TriggerError;
use crate::services::link_flows::Refusal;

/// A code that can be put in and read back from a query string.
pub trait Code: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

/// Notices of the sign-in page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginNotice {
    SignedOut,
    Expired,
    /// The session was revoked from another device.
    RevokedElsewhere,
}

impl Code for LoginNotice {
    const ALL: &'static [Self] = &[Self::SignedOut, Self::Expired, Self::RevokedElsewhere];
    fn as_str(self) -> &'static str {
        match self {
            Self::SignedOut => "signed-out",
            Self::Expired => "expired",
            Self::RevokedElsewhere => "revoked",
        }
    }
}

impl LoginNotice {
    pub fn text(self) -> &'static str {
        match self {
            Self::SignedOut => "You are signed out.",
            Self::Expired => "Your session ended. Sign in again.",
            Self::RevokedElsewhere => {
                "You were signed out from another device (Security → Active sessions). \
                 Sign in again to continue."
            }
        }
    }
}

/// Notices of the security page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityNotice {
    Revoked,
    RevokedOthers,
    NotFound,
}

impl Code for SecurityNotice {
    const ALL: &'static [Self] = &[Self::Revoked, Self::RevokedOthers, Self::NotFound];
    fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::RevokedOthers => "revoked-others",
            Self::NotFound => "not-found",
        }
    }
}

impl SecurityNotice {
    pub fn text(self) -> &'static str {
        match self {
            Self::Revoked => "The session was revoked.",
            Self::RevokedOthers => "All other sessions were signed out.",
            Self::NotFound => "That session no longer exists.",
        }
    }
}

/// What a "Run now" / "Sync now" button did. Each page words it its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNotice {
    Started,
    AlreadyRunning,
    ShuttingDown,
}

impl Code for RunNotice {
    const ALL: &'static [Self] = &[Self::Started, Self::AlreadyRunning, Self::ShuttingDown];
    fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::AlreadyRunning => "already-running",
            Self::ShuttingDown => "shutting-down",
        }
    }
}

impl RunNotice {
    /// The notice for a trigger's result; an unknown job is a 404, a storage failure an error.
    pub fn after_trigger(result: Result<i64, TriggerError>) -> Result<Self, AppError> {
        match result {
            Ok(_) => Ok(Self::Started),
            Err(TriggerError::AlreadyRunning { .. }) => Ok(Self::AlreadyRunning),
            Err(TriggerError::ShuttingDown) => Ok(Self::ShuttingDown),
            Err(TriggerError::UnknownJob) => Err(AppError::NotFound),
            Err(TriggerError::Db(e)) => Err(AppError::Db(e)),
        }
    }
}

/// Notices of the providers page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvidersNotice {
    Linked(Provider),
    Unlinked(Provider),
    TestOk,
    TestFailed,
    SyncStarted,
    SyncRunning,
}

impl Code for ProvidersNotice {
    const ALL: &'static [Self] = &[
        Self::Linked(Provider::Spotify),
        Self::Linked(Provider::Lastfm),
        Self::Linked(Provider::Listenbrainz),
        Self::Unlinked(Provider::Spotify),
        Self::Unlinked(Provider::Lastfm),
        Self::Unlinked(Provider::Listenbrainz),
        Self::TestOk,
        Self::TestFailed,
        Self::SyncStarted,
        Self::SyncRunning,
    ];
    fn as_str(self) -> &'static str {
        match self {
            Self::Linked(Provider::Spotify) => "linked-spotify",
            Self::Linked(Provider::Lastfm) => "linked-lastfm",
            Self::Linked(Provider::Listenbrainz) => "linked-listenbrainz",
            Self::Unlinked(Provider::Spotify) => "unlinked-spotify",
            Self::Unlinked(Provider::Lastfm) => "unlinked-lastfm",
            Self::Unlinked(Provider::Listenbrainz) => "unlinked-listenbrainz",
            Self::TestOk => "test-ok",
            Self::TestFailed => "test-failed",
            Self::SyncStarted => "sync-started",
            Self::SyncRunning => "sync-running",
        }
    }
}

impl ProvidersNotice {
    pub fn text(self) -> &'static str {
        match self {
            Self::Linked(Provider::Spotify) => "Spotify is linked.",
            Self::Linked(Provider::Lastfm) => "Last.fm is linked.",
            Self::Linked(Provider::Listenbrainz) => "ListenBrainz is linked.",
            Self::Unlinked(Provider::Spotify) => {
                "Spotify is disconnected: its tokens were deleted from this server. Spotify offers no way to revoke them from here; to remove Spotter's access, use \"Manage apps\" in your Spotify account."
            }
            Self::Unlinked(Provider::Lastfm) => {
                "Last.fm is disconnected: its session key was deleted from this server. To remove Spotter's access, use \"Applications\" in your Last.fm settings."
            }
            Self::Unlinked(Provider::Listenbrainz) => {
                "ListenBrainz is disconnected: the token was deleted from this server. To invalidate it everywhere, reset your user token on ListenBrainz."
            }
            Self::TestOk => "The connection works.",
            Self::TestFailed => "The connection test failed: see the service's state below.",
            Self::SyncStarted => {
                "Sync started: new listens appear on the Listens page as they arrive."
            }
            Self::SyncRunning => "A sync of this service is already running.",
        }
    }
}

impl Code for Refusal {
    const ALL: &'static [Self] = &Refusal::ALL;
    fn as_str(self) -> &'static str {
        Refusal::as_str(self)
    }
}

/// The fixed sentence for a refused link attempt or providers-page action.
pub fn refusal_text(r: Refusal) -> &'static str {
    match r {
        Refusal::SignedOut => {
            "Your session ended before the service answered. Sign in, then start linking again."
        }
        Refusal::StateMissing => {
            "The service's answer carried no state, so it was refused. Start linking again from this page."
        }
        Refusal::StateInvalid => {
            "This answer does not belong to a link attempt of this browser session (unknown, already used, or started elsewhere), so it was refused. Start linking again from this page."
        }
        Refusal::StateExpired => {
            "This link attempt is older than 10 minutes, so it was refused. Start linking again."
        }
        Refusal::Denied => "Access was not granted at the service. Nothing was linked.",
        Refusal::CodeMissing => {
            "The service's answer carried no authorization, so it was refused. Start linking again."
        }
        Refusal::ExchangeRefused => {
            "Spotify refused to complete the link (the authorization may have expired). Start linking again."
        }
        Refusal::TokenRefused => {
            "Last.fm refused the authorization (it may have expired or not been granted). Start linking again."
        }
        Refusal::Unreachable => "The service could not be reached. Try again in a moment.",
        Refusal::RateLimited => {
            "The service asked Spotter to slow down. Try again in a few minutes."
        }
        Refusal::ProviderError => "The service gave an unexpected answer. Try again later.",
        Refusal::SpotifyClient => ErrorCode::ClientRejected.message(),
        Refusal::SpotifyAccount => ErrorCode::AccountNotAllowed.message(),
        Refusal::LastfmApiKey => ErrorCode::ApiKeyInvalid.message(),
        Refusal::NotConfigured => "That service is not configured on this server.",
        Refusal::NotLinked => "That service is not linked.",
    }
}

/// The sentence for an `?error=` value: an unknown code gets a generic sentence.
pub fn error_text(raw: &str) -> &'static str {
    Refusal::parse(raw).map_or(
        "The request could not be completed. Start again from this page.",
        refusal_text,
    )
}

/// A 303 to `path` carrying `?notice=<code>`.
pub fn redirect_with_notice(path: &str, notice: impl Code) -> Response {
    Redirect::to(&format!("{path}?notice={}", notice.as_str())).into_response()
}

/// A 303 to `path` carrying `?error=<code>`.
pub fn redirect_with_error(path: &str, error: impl Code) -> Response {
    Redirect::to(&format!("{path}?error={}", error.as_str())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<C: Code + PartialEq + std::fmt::Debug>() {
        for c in C::ALL {
            assert_eq!(C::parse(c.as_str()), Some(*c));
        }
        assert_eq!(C::parse("<script>"), None);
    }

    #[test]
    fn every_code_round_trips_and_unknown_codes_are_refused() {
        round_trips::<LoginNotice>();
        round_trips::<RunNotice>();
        round_trips::<SecurityNotice>();
        round_trips::<ProvidersNotice>();
        round_trips::<Refusal>();
    }

    #[test]
    fn unknown_errors_get_the_generic_sentence() {
        assert_eq!(error_text("<script>"), error_text("anything-else"));
        assert_ne!(error_text("state_invalid"), error_text("nope"));
    }
}
