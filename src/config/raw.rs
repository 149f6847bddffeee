//! The figment layers (defaults < optional TOML file < `SPOTTER_*` environment < raw secrets) and
//! the raw, unvalidated shape they deserialize into.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Uncased, UncasedStr};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::summary::{SETTINGS, secret_keys};
use super::{ConfigError, ConfigErrors, secrets};

/// The raw, unvalidated shape of the configuration (what figment deserializes).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RawConfig {
    pub security: RawSecurity,
    pub server: RawServer,
    pub database: RawDatabase,
    pub navidrome: RawNavidrome,
    pub spotify: RawSpotify,
    pub lastfm: RawLastfm,
    pub listenbrainz: RawListenbrainz,
    pub openai: RawOpenai,
    pub vibes: RawVibes,
    pub sync: RawSync,
    pub playlist_sync: RawPlaylistSync,
    pub log: RawLog,
    pub audit: RawAudit,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawSecurity {
    #[serde(skip_serializing)]
    pub encryption_key: Option<SecretString>,
    #[serde(skip_serializing)]
    pub encryption_key_previous: Option<SecretString>,
    #[serde(skip_serializing)]
    pub jwt_secret: Option<SecretString>,
    pub secure_cookies: bool,
    #[serde(deserialize_with = "loose_string")]
    pub session_ttl: String,
    #[serde(deserialize_with = "loose_string")]
    pub session_idle_timeout: String,
    pub auth_rate_limit: u32,
    pub trusted_proxies: StringList,
    pub allowed_users: StringList,
}

impl Default for RawSecurity {
    fn default() -> Self {
        Self {
            encryption_key: None,
            encryption_key_previous: None,
            jwt_secret: None,
            secure_cookies: true,
            session_ttl: "24h".into(),
            session_idle_timeout: "8h".into(),
            auth_rate_limit: 10,
            trusted_proxies: StringList(vec!["127.0.0.1/32".into(), "::1/128".into()]),
            allowed_users: StringList(Vec::new()),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawServer {
    #[serde(deserialize_with = "loose_string")]
    pub host: String,
    pub port: u16,
    #[serde(deserialize_with = "loose_string")]
    pub base_url: String,
    #[serde(deserialize_with = "loose_string")]
    pub request_timeout: String,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            host: "0.0.0.0".into(),
            port: 8080,
            base_url: "http://localhost:8080".into(),
            request_timeout: "30s".into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawDatabase {
    #[serde(deserialize_with = "loose_string")]
    pub source: String,
}

impl Default for RawDatabase {
    fn default() -> Self {
        Self {
            source: "spotter.db".into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawNavidrome {
    #[serde(deserialize_with = "loose_string")]
    pub base_url: String,
    /// Where a browser opens Navidrome, when not at `base_url` (e.g. behind the proxy).
    #[serde(deserialize_with = "loose_string")]
    pub public_url: String,
    #[serde(deserialize_with = "loose_string")]
    pub timeout: String,
}

impl Default for RawNavidrome {
    fn default() -> Self {
        Self {
            base_url: String::new(),
            public_url: String::new(),
            timeout: "10s".into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawSpotify {
    #[serde(deserialize_with = "loose_string")]
    pub client_id: String,
    #[serde(skip_serializing)]
    pub client_secret: Option<SecretString>,
    #[serde(deserialize_with = "loose_string")]
    pub redirect_url: String,
    #[serde(deserialize_with = "loose_string")]
    pub auth_url: String,
    #[serde(deserialize_with = "loose_string")]
    pub token_url: String,
    #[serde(deserialize_with = "loose_string")]
    pub api_url: String,
}

impl Default for RawSpotify {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            client_secret: None,
            redirect_url: String::new(),
            auth_url: "https://accounts.spotify.com/authorize".into(),
            token_url: "https://accounts.spotify.com/api/token".into(),
            api_url: "https://api.spotify.com/v1".into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawLastfm {
    #[serde(deserialize_with = "loose_string")]
    pub api_key: String,
    #[serde(skip_serializing)]
    pub shared_secret: Option<SecretString>,
    #[serde(deserialize_with = "loose_string")]
    pub redirect_url: String,
    #[serde(deserialize_with = "loose_string")]
    pub auth_url: String,
    #[serde(deserialize_with = "loose_string")]
    pub api_url: String,
}

impl Default for RawLastfm {
    fn default() -> Self {
        Self {
            api_key: String::new(),
            shared_secret: None,
            redirect_url: String::new(),
            auth_url: "https://www.last.fm/api/auth/".into(),
            api_url: "https://ws.audioscrobbler.com/2.0/".into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawListenbrainz {
    #[serde(deserialize_with = "loose_string")]
    pub api_url: String,
}

impl Default for RawListenbrainz {
    fn default() -> Self {
        Self {
            api_url: "https://api.listenbrainz.org".into(),
        }
    }
}

/// Empty base URL and model mean "not set here": the default applies, and the AI settings
/// page may choose another (see `validate_openai`).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RawOpenai {
    #[serde(skip_serializing)]
    pub api_key: Option<SecretString>,
    #[serde(deserialize_with = "loose_string")]
    pub base_url: String,
    #[serde(deserialize_with = "loose_string")]
    pub model: String,
}

/// The AI DJ ("Vibes").
#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawVibes {
    /// Tokens (prompt + answer) a user may spend per UTC day; 0 = no limit.
    #[serde(deserialize_with = "loose_string")]
    pub daily_token_budget: String,
    /// A directory whose `system.txt`, `generate_mixtape.txt`, `enhance_playlist.txt` or
    /// `similar_artists.txt` replace the built-in
    /// prompts; empty = built-in only.
    #[serde(deserialize_with = "loose_string")]
    pub prompts_directory: String,
    /// Total timeout of one call to the model.
    #[serde(deserialize_with = "loose_string")]
    pub timeout: String,
    /// Roughly how many tokens the candidate list may take in a prompt.
    #[serde(deserialize_with = "loose_string")]
    pub prompt_tokens: String,
}

impl Default for RawVibes {
    fn default() -> Self {
        Self {
            daily_token_budget: "200000".into(),
            prompts_directory: String::new(),
            timeout: "120s".into(),
            prompt_tokens: "6000".into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawSync {
    #[serde(deserialize_with = "loose_string")]
    pub interval: String,
    #[serde(deserialize_with = "loose_string")]
    pub history_lookback: String,
}

impl Default for RawSync {
    fn default() -> Self {
        Self {
            interval: "5m".into(),
            history_lookback: "720h".into(),
        }
    }
}

/// Playlist write-back to Navidrome (the names are Go Spotter's).
#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawPlaylistSync {
    #[serde(deserialize_with = "loose_string")]
    pub sync_interval: String,
}

impl Default for RawPlaylistSync {
    fn default() -> Self {
        Self {
            sync_interval: "1h".into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawLog {
    #[serde(deserialize_with = "loose_string")]
    pub level: String,
    #[serde(deserialize_with = "loose_string")]
    pub format: String,
}

impl Default for RawLog {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawAudit {
    pub retention_days: u32,
}

impl Default for RawAudit {
    fn default() -> Self {
        Self {
            retention_days: 365,
        }
    }
}

/// A list given either as a TOML array or as a comma-separated string (the env form).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "ListOrString", into = "Vec<String>")]
pub struct StringList(pub Vec<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrString {
    List(Vec<Loose>),
    One(Loose),
}

/// Env values are parsed like TOML, so `123` arrives as a number: take it back as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl From<Loose> for String {
    fn from(v: Loose) -> Self {
        match v {
            Loose::Text(s) => s,
            Loose::Int(i) => i.to_string(),
            Loose::Float(f) => f.to_string(),
            Loose::Bool(b) => b.to_string(),
        }
    }
}

fn loose_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Loose::deserialize(d).map(String::from)
}

impl From<ListOrString> for StringList {
    fn from(v: ListOrString) -> Self {
        let items: Vec<String> = match v {
            ListOrString::List(items) => items.into_iter().map(String::from).collect(),
            ListOrString::One(s) => String::from(s).split(',').map(str::to_owned).collect(),
        };
        StringList(
            items
                .into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
        )
    }
}

impl From<StringList> for Vec<String> {
    fn from(v: StringList) -> Self {
        v.0
    }
}

/// Build the layered figment. Errors are operator-facing lines.
pub fn figment(file: Option<&Path>) -> Result<Figment, String> {
    // SPOTTER_CONFIG names the TOML file and is read by the CLI; secrets are merged raw below.
    let mut ignored: Vec<String> = vec!["config".into()];
    for key in secret_keys() {
        ignored.push(key.to_owned());
        ignored.push(format!("{key}_file"));
    }
    let ignored_refs: Vec<&str> = ignored.iter().map(String::as_str).collect();

    let mut f = Figment::from(Serialized::defaults(RawConfig::default()));
    if let Some(path) = file {
        f = f.merge(Toml::file_exact(path));
    }
    // Values stay strings here; typed parsing happens in `validate` so errors name the variable.
    f = f.merge(
        Env::prefixed("SPOTTER_")
            .map(map_env_key)
            .ignore(&ignored_refs),
    );
    secrets::merge_raw_secrets(f)
}

/// Deserialize the layers into `RawConfig`, one operator-facing line per problem.
pub(super) fn extract(figment: &Figment) -> Result<RawConfig, ConfigErrors> {
    figment.extract().map_err(|e| {
        ConfigErrors(
            e.into_iter()
                .map(|e| ConfigError(describe_figment_error(&e)))
                .collect(),
        )
    })
}

/// `SPOTTER_*` variables this version does not know (typos, or settings of features not built yet).
pub fn unknown_env_vars() -> Vec<String> {
    let known = known_env_names();
    let mut unknown: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("SPOTTER_") && !known.iter().any(|n| n == k))
        .collect();
    unknown.sort();
    unknown
}

/// Every variable a setting can be given by, plus `SPOTTER_CONFIG` (the TOML file).
pub(super) fn known_env_names() -> Vec<String> {
    let mut names: Vec<String> = vec!["SPOTTER_CONFIG".into()];
    for setting in SETTINGS {
        names.push(env_name(setting.key));
    }
    for key in secret_keys() {
        names.push(format!("{}_FILE", env_name(key)));
    }
    names
}

/// `security.jwt_secret` → `SPOTTER_SECURITY_JWT_SECRET`.
pub(super) fn env_name(key: &str) -> String {
    format!("SPOTTER_{}", key.replace('.', "_").to_ascii_uppercase())
}

/// Only the section name owns the first `_`: `SECURITY_ENCRYPTION_KEY` → `security.encryption_key`.
fn map_env_key(key: &UncasedStr) -> Uncased<'_> {
    for section in sections() {
        let prefix = format!("{section}_");
        if key.len() > prefix.len() && key.as_str()[..prefix.len()].eq_ignore_ascii_case(&prefix) {
            return format!("{section}.{}", &key.as_str()[prefix.len()..]).into();
        }
    }
    key.into()
}

/// The section names, in the order the settings list first mentions them.
fn sections() -> Vec<&'static str> {
    let mut sections: Vec<&'static str> = Vec::new();
    for setting in SETTINGS {
        let section = setting.section();
        if !sections.contains(&section) {
            sections.push(section);
        }
    }
    sections
}

fn describe_figment_error(e: &figment::Error) -> String {
    let path = e.path.join(".");
    let var = if path.is_empty() {
        String::from("configuration")
    } else {
        env_name(&path)
    };
    match &e.kind {
        figment::error::Kind::UnknownField(field, _) => {
            let full = if path.is_empty() {
                field.clone()
            } else {
                format!("{path}.{field}")
            };
            format!(
                "{} is not a known setting: check the spelling against the README's configuration table",
                env_name(&full)
            )
        }
        figment::error::Kind::InvalidType(actual, expected) => {
            format!("{var} has the wrong type ({actual}); expected {expected}")
        }
        figment::error::Kind::Message(m) => format!("{var}: {m}"),
        other => format!("{var}: {other}"),
    }
}
