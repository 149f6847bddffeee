//! Configuration: defaults < optional TOML file < `SPOTTER_*` environment < secrets
//! (read raw from `SPOTTER_X` or `SPOTTER_X_FILE`), validated once into typed values.
//!
//! - `raw`: the figment layers and the `Raw*` section structs with their defaults.
//! - `validate`: `RawConfig` → `Config`, one `validate_<section>` function per section.
//! - `secrets`: `_FILE` handling, placeholder refusal, `EncryptionKey`, `gen-secrets`.
//! - `summary`: the one list of settings (`SETTINGS`), which drives the `check-config` summary,
//!   the `SPOTTER_*` names this version knows and which settings are secrets.
//!
//! To add a setting to a section:
//! 1. `raw.rs`: add the field to the section's `Raw*` struct (text fields take
//!    `deserialize_with = "loose_string"`, secrets are `Option<SecretString>` with
//!    `skip_serializing`) and its default to that struct's `Default`.
//! 2. Here: add the typed field to `Config` or to the section's `*Config` struct.
//! 3. `validate.rs`: parse it in `validate_<section>`, pushing a `ConfigError` that names the
//!    variable when it is wrong.
//! 4. `summary.rs`: add one row to `SETTINGS` (`value`, `secret` or `hidden`). That row makes the
//!    variable known, makes a secret read raw and by `_FILE`, and puts it in the summary. A test
//!    fails when a plain `Raw*` field has no row (secret fields are not serialized, so it cannot
//!    see those: give every secret a `secret` row).
//!
//! Then document it in the README's configuration table.

mod raw;
mod secrets;
mod summary;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use ipnet::IpNet;
use secrecy::SecretString;
use url::Url;

pub use raw::{
    RawAudit, RawConfig, RawDatabase, RawLastfm, RawListenbrainz, RawLog, RawNavidrome, RawOpenai,
    RawSecurity, RawServer, RawSpotify, RawSync, RawVibes, StringList, figment, unknown_env_vars,
};
pub use secrets::{EncryptionKey, generate_secrets_block};
pub use validate::{is_loopback_host, join_base, parse_duration};

/// One configuration problem, phrased for the operator: which variable, and how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Every problem found, one line each.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "config error: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct SecurityConfig {
    pub encryption_key: EncryptionKey,
    pub encryption_key_previous: Option<EncryptionKey>,
    pub jwt_secret: SecretString,
    pub secure_cookies: bool,
    pub session_ttl: Duration,
    pub session_idle_timeout: Duration,
    pub auth_rate_limit: u32,
    pub trusted_proxies: Vec<IpNet>,
    pub allowed_users: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SpotifyConfig {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub redirect_url: Url,
    pub auth_url: Url,
    pub token_url: Url,
    pub api_url: Url,
}

#[derive(Debug, Clone)]
pub struct LastfmConfig {
    pub api_key: String,
    pub shared_secret: SecretString,
    pub redirect_url: Url,
    pub auth_url: Url,
    pub api_url: Url,
}

#[derive(Debug, Clone)]
pub struct OpenaiConfig {
    pub api_key: Option<SecretString>,
    pub base_url: Url,
    pub model: String,
    /// `SPOTTER_OPENAI_BASE_URL` was given (it then wins over the AI settings page).
    pub base_url_set: bool,
    /// `SPOTTER_OPENAI_MODEL` was given (it then wins over the AI settings page).
    pub model_set: bool,
}

/// The default endpoint and model when neither the environment nor the settings page names one.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
pub const OPENAI_DEFAULT_MODEL: &str = "gpt-4o-mini";

#[derive(Debug, Clone)]
pub struct VibesConfig {
    /// Tokens per user and UTC day; `None` = no limit.
    pub daily_token_budget: Option<u64>,
    pub prompts_directory: Option<PathBuf>,
    pub timeout: Duration,
    /// Roughly how many tokens the candidate list may take in a prompt.
    pub prompt_tokens: u64,
}

/// The validated configuration the application runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub security: SecurityConfig,
    pub listen_addr: SocketAddr,
    pub base_url: Url,
    pub request_timeout: Duration,
    pub database_url: String,
    pub navidrome_base_url: Url,
    /// Where the browser opens Navidrome ("Open Navidrome" link); `navidrome_base_url` unless
    /// `SPOTTER_NAVIDROME_PUBLIC_URL` is set.
    pub navidrome_public_url: Url,
    pub navidrome_timeout: Duration,
    /// `None` when Spotify is not configured on this server.
    pub spotify: Option<SpotifyConfig>,
    pub spotify_redirect_url: Url,
    pub lastfm: Option<LastfmConfig>,
    pub lastfm_redirect_url: Url,
    pub listenbrainz_api_url: Url,
    pub openai: OpenaiConfig,
    pub vibes: VibesConfig,
    pub sync_interval: Duration,
    pub history_lookback: Duration,
    /// How often playlists written to Navidrome are re-synced.
    pub playlist_writeback_interval: Duration,
    pub log_level: String,
    pub log_format: LogFormat,
    pub audit_retention_days: u32,
}

impl Config {
    /// Load from the environment (and the TOML file at `file`, if given) and validate.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigErrors> {
        let figment = figment(file).map_err(|e| ConfigErrors(vec![ConfigError(e)]))?;
        Self::from_figment(&figment)
    }

    pub fn from_figment(figment: &Figment) -> Result<Self, ConfigErrors> {
        validate::validate(raw::extract(figment)?)
    }

    /// Whether cookies should carry `Secure` while the base URL is plain http (browsers drop them).
    pub fn secure_cookie_mismatch(&self) -> bool {
        self.security.secure_cookies
            && self.base_url.scheme() == "http"
            && !is_loopback_host(&self.base_url)
    }

    /// A warning when the base URL names this machine on another port than the one Spotter
    /// listens on: no proxy can be in between, so the browser would be at the wrong address and
    /// every form would be refused as cross-site.
    pub fn base_url_mismatch(&self) -> Option<String> {
        let base_port = self.base_url.port_or_known_default()?;
        if !is_loopback_host(&self.base_url) || base_port == self.listen_addr.port() {
            return None;
        }
        Some(format!(
            "SPOTTER_SERVER_BASE_URL is {} but Spotter listens on port {}: browse to the base URL and forms will fail, browse to the port and they are refused. Set SPOTTER_SERVER_BASE_URL=http://{}:{} (or put a proxy on port {base_port})",
            self.base_url.as_str().trim_end_matches('/'),
            self.listen_addr.port(),
            self.base_url.host_str().unwrap_or("localhost"),
            self.listen_addr.port(),
        ))
    }
}

#[cfg(test)]
mod tests;
