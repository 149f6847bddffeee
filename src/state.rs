//! The one application state, narrowed per handler with `FromRef`.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::clients::navidrome::NavidromeClient;
use crate::config::Config;
use crate::crypto::FieldCipher;
use crate::db::Db;
use crate::http::events::EventBus;
use crate::security::csrf::CsrfKey;
use crate::security::rate_limit::LoginLimiter;
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
    pub navidrome: NavidromeClient,
    pub events: EventBus,
}

impl AppState {
    pub fn new(config: Config, db: Db) -> anyhow::Result<Self> {
        let cipher = FieldCipher::new(
            &config.security.encryption_key,
            config.security.encryption_key_previous.as_ref(),
        );
        let cookie_key_bytes = crate::security::csrf::derive_key(&config.security.jwt_secret, "cookies");
        let cookie_key = tower_cookies::Key::try_from(cookie_key_bytes.as_slice())
            .map_err(|_| anyhow::anyhow!("derived cookie key is too short"))?;
        let navidrome = NavidromeClient::new(&config.navidrome_base_url, config.navidrome_timeout)?;
        Ok(Self {
            tokens: Arc::new(SessionTokens::new(&config.security.jwt_secret)),
            csrf: Arc::new(CsrfKey::from_secret(&config.security.jwt_secret)),
            limiter: Arc::new(LoginLimiter::new(config.security.auth_rate_limit)),
            cipher: Arc::new(cipher),
            cookie_key,
            navidrome,
            events: EventBus::new(256),
            config: Arc::new(config),
            db,
        })
    }
}
