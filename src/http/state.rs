//! The web state: the `Core` plus the keys only the web layer needs (cookie key, CSRF key,
//! session token signer, sign-in limiters). Handlers narrow it with `FromRef` to what they use.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::app::Core;
use crate::config::Config;
use crate::db::Db;
use crate::events::EventBus;
use crate::http::dashboard::RenderedDashboards;
use crate::security::csrf::CsrfKey;
use crate::security::rate_limit::{AccountGuard, AccountPolicy, LoginLimiter};
use crate::security::session_token::SessionTokens;

/// Cloned several times per request (middleware, extractors): one `Arc`, so a clone is one
/// reference count.
#[derive(Clone)]
pub struct AppState(Arc<WebParts>);

impl std::ops::Deref for AppState {
    type Target = WebParts;
    fn deref(&self) -> &WebParts {
        &self.0
    }
}

impl FromRef<AppState> for Core {
    fn from_ref(state: &AppState) -> Self {
        state.core.clone()
    }
}

/// What `AppState` holds; reached through `Deref` (`state.core`, `state.csrf`, ...).
pub struct WebParts {
    pub core: Core,
    pub tokens: Arc<SessionTokens>,
    pub csrf: Arc<CsrfKey>,
    pub cookie_key: cookie::Key,
    pub limiter: Arc<LoginLimiter>,
    pub accounts: Arc<AccountGuard>,
    /// Rendered home pages, reused while nothing they show changed.
    pub dashboards: RenderedDashboards,
}

impl AppState {
    pub fn new(core: Core) -> anyhow::Result<Self> {
        let secret = &core.config.security.jwt_secret;
        let cookie_key_bytes = crate::security::csrf::derive_key(secret, "cookies");
        let cookie_key = cookie::Key::try_from(cookie_key_bytes.as_slice())
            .map_err(|_| anyhow::anyhow!("derived cookie key is too short"))?;
        Ok(Self(Arc::new(WebParts {
            tokens: Arc::new(SessionTokens::new(secret)),
            csrf: Arc::new(CsrfKey::from_secret(secret)),
            limiter: Arc::new(LoginLimiter::new(core.config.security.auth_rate_limit)),
            accounts: Arc::new(AccountGuard::new(AccountPolicy::default())),
            cookie_key,
            dashboards: RenderedDashboards::default(),
            core,
        })))
    }

    pub fn config(&self) -> &Config {
        &self.core.config
    }
}

impl FromRef<AppState> for Db {
    fn from_ref(state: &AppState) -> Self {
        state.core.db.clone()
    }
}

impl FromRef<AppState> for EventBus {
    fn from_ref(state: &AppState) -> Self {
        state.core.events.clone()
    }
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(state: &AppState) -> Self {
        Arc::clone(&state.core.config)
    }
}
