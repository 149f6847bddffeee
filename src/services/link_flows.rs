//! Linking services: Spotify (authorization code + PKCE), Last.fm (web auth with our own nonce
//! in the callback URL) and ListenBrainz (a pasted token).
//!
//! A round trip starts with a server-side row (`oauth_states`) holding the SHA-256 of a random
//! state, the encrypted PKCE verifier, the session that started it and a 10-minute expiry. The
//! callback consumes that row (bound to the current session) before anything else, so a
//! missing, unknown, reused, expired or other-session state is refused — with a fixed code —
//! before any call to the provider and without any write.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::app::Core;
use crate::clients::lastfm::LastfmError;
use crate::clients::listenbrainz::{ListenbrainzError, normalize_token};
use crate::clients::spotify::SpotifyError;
use crate::crypto::registry::OAUTH_VERIFIER;
use crate::crypto::{FieldRef, random_token, sha256_hex};
use crate::db;
use crate::domain::ids::{SessionId, UserId};
use crate::domain::link_health::MAX_RETRY_AFTER;
use crate::domain::provider::Provider;
use crate::services::ServiceError;
use crate::services::audit::Actor;
use crate::services::links::{self, NewCredentials};

/// A pending round trip dies after this long.
pub const STATE_TTL_SECS: i64 = 600;

/// Why a link attempt was refused. Each has a fixed message on the providers page; the code
/// travels in the redirect's query string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    SignedOut,
    StateMissing,
    StateInvalid,
    StateExpired,
    Denied,
    CodeMissing,
    ExchangeRefused,
    TokenRefused,
    Unreachable,
    RateLimited,
    ProviderError,
    SpotifyClient,
    SpotifyAccount,
    LastfmApiKey,
    NotConfigured,
    NotLinked,
}

impl Refusal {
    pub const ALL: [Refusal; 16] = [
        Self::SignedOut,
        Self::StateMissing,
        Self::StateInvalid,
        Self::StateExpired,
        Self::Denied,
        Self::CodeMissing,
        Self::ExchangeRefused,
        Self::TokenRefused,
        Self::Unreachable,
        Self::RateLimited,
        Self::ProviderError,
        Self::SpotifyClient,
        Self::SpotifyAccount,
        Self::LastfmApiKey,
        Self::NotConfigured,
        Self::NotLinked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::StateMissing => "state_missing",
            Self::StateInvalid => "state_invalid",
            Self::StateExpired => "state_expired",
            Self::Denied => "denied",
            Self::CodeMissing => "code_missing",
            Self::ExchangeRefused => "exchange_refused",
            Self::TokenRefused => "token_refused",
            Self::Unreachable => "unreachable",
            Self::RateLimited => "rate_limited",
            Self::ProviderError => "provider_error",
            Self::SpotifyClient => "spotify_client",
            Self::SpotifyAccount => "spotify_account",
            Self::LastfmApiKey => "lastfm_api_key",
            Self::NotConfigured => "not_configured",
            Self::NotLinked => "not_linked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A link attempt ended without a link: refused (a fixed code), or Spotter itself failed.
#[derive(Debug)]
pub enum FlowError {
    Refused(Refusal),
    Internal(ServiceError),
}

impl From<Refusal> for FlowError {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl<E: Into<ServiceError>> From<E> for FlowError {
    fn from(e: E) -> Self {
        Self::Internal(e.into())
    }
}

/// The signed-in caller of a link flow.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub user_id: UserId,
    pub username: &'a str,
    pub session_id: &'a SessionId,
    pub client_ip: &'a str,
}

impl<'a> Caller<'a> {
    fn actor(self) -> Actor<'a> {
        Actor {
            user_id: self.user_id,
            username: self.username,
            client_ip: self.client_ip,
        }
    }
}

/// A query parameter of a callback: absent, present but unusable (empty or too long), or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param<'a> {
    Missing,
    Unusable,
    Value(&'a str),
}

impl<'a> Param<'a> {
    fn value(self) -> Option<&'a str> {
        match self {
            Self::Value(v) => Some(v),
            Self::Missing | Self::Unusable => None,
        }
    }
}

/// What a provider's callback carried.
#[derive(Debug, Clone, Copy)]
pub struct Callback<'a> {
    pub state: Param<'a>,
    /// Spotify's authorization code.
    pub code: Param<'a>,
    /// Last.fm's one-time token.
    pub token: Param<'a>,
    /// The provider reported an error (the user declined, or it failed).
    pub error: bool,
}

async fn begin_round_trip(
    core: &Core,
    caller: Caller<'_>,
    provider: Provider,
    raw_state: &SecretString,
    verifier: Option<&SecretString>,
) -> Result<(), ServiceError> {
    let hash = sha256_hex(crate::crypto::expose(raw_state).as_bytes());
    let verifier_enc = verifier
        .map(|v| {
            core.cipher.seal(
                FieldRef {
                    column: &OAUTH_VERIFIER,
                    row_key: &hash,
                },
                crate::crypto::expose(v),
            )
        })
        .transpose()?;
    let now = core.clock.now();
    db::oauth_states::insert(
        &core.db,
        db::oauth_states::NewState {
            state_hash: &hash,
            provider,
            session_jti: caller.session_id,
            user_id: caller.user_id,
            verifier_enc: verifier_enc.as_deref(),
            expires_at: now + STATE_TTL_SECS,
        },
        now,
    )
    .await?;
    Ok(())
}

/// A pending round trip that passed every check.
struct Verified<'a> {
    caller: Caller<'a>,
    state_hash: String,
    verifier_enc: Option<String>,
}

/// The checks every callback runs first, in this order, before talking to the provider: a
/// signed-in caller, a `state`, and a live pending row of this session (consumed here).
async fn verify<'a>(
    core: &Core,
    caller: Option<Caller<'a>>,
    callback: &Callback<'_>,
    provider: Provider,
) -> Result<Verified<'a>, FlowError> {
    let caller = caller.ok_or(Refusal::SignedOut)?;
    let raw_state = match callback.state {
        Param::Missing => return Err(Refusal::StateMissing.into()),
        Param::Unusable => return Err(Refusal::StateInvalid.into()),
        Param::Value(v) => v,
    };
    let hash = sha256_hex(raw_state.as_bytes());
    let pending = db::oauth_states::consume(&core.db, &hash, provider, caller.session_id)
        .await?
        .ok_or(Refusal::StateInvalid)?;
    if pending.user_id != caller.user_id {
        return Err(Refusal::StateInvalid.into());
    }
    if pending.expires_at <= core.clock.now() {
        return Err(Refusal::StateExpired.into());
    }
    Ok(Verified {
        caller,
        state_hash: hash,
        verifier_enc: pending.verifier_enc,
    })
}

/// Start linking Spotify: the authorize URL to send the browser to.
pub async fn start_spotify(core: &Core, caller: Caller<'_>) -> Result<Url, FlowError> {
    let client = core
        .clients
        .spotify
        .as_ref()
        .ok_or(Refusal::NotConfigured)?;
    let auth = client.authorize();
    begin_round_trip(
        core,
        caller,
        Provider::Spotify,
        &auth.state,
        Some(&auth.verifier),
    )
    .await?;
    Ok(auth.url)
}

fn spotify_refusal(e: SpotifyError) -> Refusal {
    match e {
        SpotifyError::InvalidGrant
        | SpotifyError::TokenRequestRefused
        | SpotifyError::Unauthorized => Refusal::ExchangeRefused,
        SpotifyError::ClientRejected => Refusal::SpotifyClient,
        SpotifyError::Forbidden => Refusal::SpotifyAccount,
        SpotifyError::RateLimited { .. } => Refusal::RateLimited,
        SpotifyError::Unreachable => Refusal::Unreachable,
        SpotifyError::Server(_)
        | SpotifyError::BadResponse
        | SpotifyError::CapabilityLost
        | SpotifyError::NotFound => Refusal::ProviderError,
    }
}

/// Finish linking Spotify from its callback.
pub async fn finish_spotify(
    core: &Core,
    caller: Option<Caller<'_>>,
    callback: Callback<'_>,
) -> Result<(), FlowError> {
    let v = verify(core, caller, &callback, Provider::Spotify).await?;
    if callback.error {
        // The user declined (access_denied) or Spotify failed; the state is used up either way.
        return Err(Refusal::Denied.into());
    }
    let client = core
        .clients
        .spotify
        .as_ref()
        .ok_or(Refusal::NotConfigured)?;
    let code = callback.code.value().ok_or(Refusal::CodeMissing)?;
    let verifier_enc = v.verifier_enc.as_deref().ok_or(Refusal::StateInvalid)?;
    let verifier = core
        .cipher
        .open_secret(
            FieldRef {
                column: &OAUTH_VERIFIER,
                row_key: &v.state_hash,
            },
            verifier_enc,
        )
        .map_err(|e| {
            tracing::error!(error = %e, "stored PKCE verifier does not decrypt");
            Refusal::StateInvalid
        })?;
    let code = SecretString::from(code.to_owned());
    let tokens = client.exchange_code(&code, &verifier).await.map_err(|e| {
        tracing::warn!(error = %e, "Spotify code exchange failed");
        spotify_refusal(e)
    })?;
    let profile = client.me(&tokens.access).await.map_err(|e| {
        tracing::warn!(error = %e, "Spotify profile lookup failed");
        spotify_refusal(e)
    })?;
    let expires_at = tokens.expires_in.map(|d| {
        core.clock
            .now()
            .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    });
    let name = profile.name();
    links::save_link(
        core,
        v.caller.actor(),
        Provider::Spotify,
        NewCredentials {
            account_name: &name,
            access: &tokens.access,
            refresh: tokens.refresh.as_ref(),
            expires_at,
            scopes: tokens.scopes.as_deref().unwrap_or_default(),
        },
    )
    .await?;
    Ok(())
}

/// Start linking Last.fm: the auth URL (carrying our nonce in the callback) to send the browser to.
pub async fn start_lastfm(core: &Core, caller: Caller<'_>) -> Result<Url, FlowError> {
    let client = core.clients.lastfm.as_ref().ok_or(Refusal::NotConfigured)?;
    let nonce = SecretString::from(random_token(32));
    begin_round_trip(core, caller, Provider::Lastfm, &nonce, None).await?;
    Ok(client.auth_redirect(&nonce))
}

fn lastfm_refusal(e: LastfmError) -> Refusal {
    match e {
        LastfmError::TokenRefused(_) | LastfmError::InvalidSession => Refusal::TokenRefused,
        LastfmError::ApiKeyRefused(_) => Refusal::LastfmApiKey,
        LastfmError::RateLimited => Refusal::RateLimited,
        LastfmError::Unreachable => Refusal::Unreachable,
        LastfmError::Unavailable(_)
        | LastfmError::Api(_)
        | LastfmError::Server(_)
        | LastfmError::BadResponse => Refusal::ProviderError,
    }
}

/// Finish linking Last.fm from its callback.
pub async fn finish_lastfm(
    core: &Core,
    caller: Option<Caller<'_>>,
    callback: Callback<'_>,
) -> Result<(), FlowError> {
    let v = verify(core, caller, &callback, Provider::Lastfm).await?;
    let client = core.clients.lastfm.as_ref().ok_or(Refusal::NotConfigured)?;
    // Last.fm sends no token when the user does not grant access.
    let token = callback.token.value().ok_or(Refusal::Denied)?;
    let token = SecretString::from(token.to_owned());
    let session = client.get_session(&token).await.map_err(|e| {
        tracing::warn!(error = %e, "Last.fm auth.getSession failed");
        lastfm_refusal(e)
    })?;
    links::save_link(
        core,
        v.caller.actor(),
        Provider::Lastfm,
        NewCredentials {
            account_name: &session.name,
            access: &session.key,
            refresh: None,
            expires_at: None,
            scopes: "",
        },
    )
    .await?;
    Ok(())
}

/// Why a pasted ListenBrainz token was not linked.
#[derive(Debug)]
pub enum TokenRefusal {
    /// Not shaped like a ListenBrainz user token.
    BadShape,
    /// ListenBrainz does not accept it.
    Invalid,
    /// ListenBrainz asked to slow down (capped wait, when it said).
    RateLimited(Option<Duration>),
    Unreachable,
    ServerError,
    Internal(ServiceError),
}

impl<E: Into<ServiceError>> From<E> for TokenRefusal {
    fn from(e: E) -> Self {
        Self::Internal(e.into())
    }
}

/// Validate a pasted ListenBrainz token and link it; the account name on success.
pub async fn connect_listenbrainz(
    core: &Core,
    caller: Caller<'_>,
    pasted: &str,
) -> Result<String, TokenRefusal> {
    let token = normalize_token(pasted).ok_or(TokenRefusal::BadShape)?;
    let name = core
        .clients
        .listenbrainz
        .validate_token(&token)
        .await
        .map_err(|e| {
            tracing::info!(error = %e, "ListenBrainz token not accepted");
            match e {
                ListenbrainzError::InvalidToken => TokenRefusal::Invalid,
                ListenbrainzError::RateLimited { retry_after } => {
                    TokenRefusal::RateLimited(retry_after.map(|d| d.min(MAX_RETRY_AFTER)))
                }
                ListenbrainzError::Unreachable => TokenRefusal::Unreachable,
                ListenbrainzError::Server(_) | ListenbrainzError::BadResponse => {
                    TokenRefusal::ServerError
                }
            }
        })?;
    links::save_link(
        core,
        caller.actor(),
        Provider::Listenbrainz,
        NewCredentials {
            account_name: &name,
            access: &token,
            refresh: None,
            expires_at: None,
            scopes: "",
        },
    )
    .await?;
    Ok(name)
}
