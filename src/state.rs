//! The one application state, narrowed per handler with `FromRef`.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::clients::PROVIDER_TIMEOUT;
use crate::clients::lastfm::LastfmClient;
use crate::clients::listenbrainz::ListenbrainzClient;
use crate::clients::navidrome::NavidromeClient;
use crate::clients::spotify::SpotifyClient;
use crate::config::Config;
use crate::crypto::FieldCipher;
use crate::db::Db;
use crate::http::events::EventBus;
use crate::security::csrf::CsrfKey;
use crate::security::rate_limit::{AccountGuard, AccountPolicy, LoginLimiter};
use crate::security::session_token::SessionTokens;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub cipher: Arc<FieldCipher>,
    pub tokens: Arc<SessionTokens>,
    pub csrf: Arc<CsrfKey>,
    pub cookie_key: tower_cookies::Key,
    pub limiter: Arc<LoginLimiter>,
    pub accounts: Arc<AccountGuard>,
    pub navidrome: NavidromeClient,
    /// `None` when Spotify is not configured on this server.
    pub spotify: Option<SpotifyClient>,
    /// `None` when Last.fm is not configured on this server.
    pub lastfm: Option<LastfmClient>,
    pub listenbrainz: ListenbrainzClient,
    /// One Spotify token refresh at a time, so a rotated refresh token is never lost to a race.
    pub spotify_refresh: Arc<tokio::sync::Mutex<()>>,
    pub events: EventBus,
    /// Last Navidrome check shown on the dashboard, so page views don't each call Navidrome.
    pub navidrome_status: crate::http::dashboard::StatusCache,
}

impl AppState {
    pub fn new(config: Config, db: Db) -> anyhow::Result<Self> {
        let cipher = FieldCipher::new(
            &config.security.encryption_key,
            config.security.encryption_key_previous.as_ref(),
        );
        let cookie_key_bytes =
            crate::security::csrf::derive_key(&config.security.jwt_secret, "cookies");
        let cookie_key = tower_cookies::Key::try_from(cookie_key_bytes.as_slice())
            .map_err(|_| anyhow::anyhow!("derived cookie key is too short"))?;
        let navidrome = NavidromeClient::new(&config.navidrome_base_url, config.navidrome_timeout)?;
        let spotify = config
            .spotify
            .as_ref()
            .map(|c| SpotifyClient::new(c, PROVIDER_TIMEOUT))
            .transpose()?;
        let lastfm = config
            .lastfm
            .as_ref()
            .map(|c| LastfmClient::new(c, PROVIDER_TIMEOUT))
            .transpose()?;
        let listenbrainz = ListenbrainzClient::new(&config.listenbrainz_api_url, PROVIDER_TIMEOUT)?;
        Ok(Self {
            spotify,
            lastfm,
            listenbrainz,
            spotify_refresh: Arc::new(tokio::sync::Mutex::new(())),
            tokens: Arc::new(SessionTokens::new(&config.security.jwt_secret)),
            csrf: Arc::new(CsrfKey::from_secret(&config.security.jwt_secret)),
            limiter: Arc::new(LoginLimiter::new(config.security.auth_rate_limit)),
            accounts: Arc::new(AccountGuard::new(AccountPolicy::default())),
            cipher: Arc::new(cipher),
            cookie_key,
            navidrome,
            events: EventBus::new(256),
            navidrome_status: crate::http::dashboard::StatusCache::default(),
            config: Arc::new(config),
            db,
        })
    }
}
