//! Configuration: defaults < optional TOML file < `SPOTTER_*` environment < secrets
//! (read raw from `SPOTTER_X` or `SPOTTER_X_FILE`), validated once into typed values.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Uncased, UncasedStr};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

/// Section names that own an env prefix: `SPOTTER_SECURITY_ENCRYPTION_KEY` → `security.encryption_key`.
const SECTIONS: &[&str] = &[
    "security",
    "server",
    "database",
    "navidrome",
    "spotify",
    "lastfm",
    "listenbrainz",
    "openai",
    "sync",
    "log",
    "audit",
];

/// Every secret key. Each is read raw (never parsed as TOML) from `SPOTTER_<KEY>` or `SPOTTER_<KEY>_FILE`.
pub const SECRET_KEYS: &[&str] = &[
    "security.encryption_key",
    "security.encryption_key_previous",
    "security.jwt_secret",
    "spotify.client_secret",
    "lastfm.shared_secret",
    "openai.api_key",
];

/// Values that appear in docs and examples and must never protect a real deployment.
const PLACEHOLDER_MARKERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "replace",
    "placeholder",
    "example",
    "your-",
    "your_",
    "secret-here",
    "xxxxxxxx",
];

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
    pub sync: RawSync,
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
    #[serde(deserialize_with = "loose_string")]
    pub timeout: String,
}

impl Default for RawNavidrome {
    fn default() -> Self {
        Self {
            base_url: String::new(),
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

#[derive(Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct RawOpenai {
    #[serde(skip_serializing)]
    pub api_key: Option<SecretString>,
    #[serde(deserialize_with = "loose_string")]
    pub base_url: String,
    #[serde(deserialize_with = "loose_string")]
    pub model: String,
}

impl Default for RawOpenai {
    fn default() -> Self {
        Self {
            api_key: None,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
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

/// The 32-byte AES key. No `Debug` output beyond a mask; no `Display`.
pub struct EncryptionKey(SecretBox<[u8; 32]>);

impl EncryptionKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(SecretBox::new(Box::new(bytes)))
    }
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl Clone for EncryptionKey {
    fn clone(&self) -> Self {
        Self::from_bytes(*self.expose())
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey([REDACTED])")
    }
}

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
    pub navidrome_timeout: Duration,
    /// `None` when Spotify is not configured on this server.
    pub spotify: Option<SpotifyConfig>,
    pub spotify_redirect_url: Url,
    pub lastfm: Option<LastfmConfig>,
    pub lastfm_redirect_url: Url,
    pub listenbrainz_api_url: Url,
    pub openai: OpenaiConfig,
    pub sync_interval: Duration,
    pub history_lookback: Duration,
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
        let raw: RawConfig = figment.extract().map_err(|e| {
            ConfigErrors(
                e.into_iter()
                    .map(|e| ConfigError(describe_figment_error(&e)))
                    .collect(),
            )
        })?;
        validate(raw)
    }

    /// Whether cookies should carry `Secure` while the base URL is plain http (browsers drop them).
    pub fn secure_cookie_mismatch(&self) -> bool {
        self.security.secure_cookies
            && self.base_url.scheme() == "http"
            && !is_loopback_host(&self.base_url)
    }

    /// The effective configuration as `KEY=value` lines, secrets masked.
    pub fn masked_summary(&self) -> Vec<(String, String)> {
        let set = |present: bool| if present { "[set]" } else { "[not set]" }.to_owned();
        let s = &self.security;
        vec![
            ("SPOTTER_SECURITY_ENCRYPTION_KEY".into(), "[set]".into()),
            (
                "SPOTTER_SECURITY_ENCRYPTION_KEY_PREVIOUS".into(),
                set(s.encryption_key_previous.is_some()),
            ),
            ("SPOTTER_SECURITY_JWT_SECRET".into(), "[set]".into()),
            (
                "SPOTTER_SECURITY_SECURE_COOKIES".into(),
                s.secure_cookies.to_string(),
            ),
            (
                "SPOTTER_SECURITY_SESSION_TTL".into(),
                fmt_duration(s.session_ttl),
            ),
            (
                "SPOTTER_SECURITY_SESSION_IDLE_TIMEOUT".into(),
                fmt_duration(s.session_idle_timeout),
            ),
            (
                "SPOTTER_SECURITY_AUTH_RATE_LIMIT".into(),
                s.auth_rate_limit.to_string(),
            ),
            (
                "SPOTTER_SECURITY_TRUSTED_PROXIES".into(),
                s.trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            (
                "SPOTTER_SECURITY_ALLOWED_USERS".into(),
                s.allowed_users.join(","),
            ),
            (
                "SPOTTER_SERVER_HOST".into(),
                self.listen_addr.ip().to_string(),
            ),
            (
                "SPOTTER_SERVER_PORT".into(),
                self.listen_addr.port().to_string(),
            ),
            ("SPOTTER_SERVER_BASE_URL".into(), self.base_url.to_string()),
            (
                "SPOTTER_SERVER_REQUEST_TIMEOUT".into(),
                fmt_duration(self.request_timeout),
            ),
            ("SPOTTER_DATABASE_SOURCE".into(), self.database_url.clone()),
            (
                "SPOTTER_NAVIDROME_BASE_URL".into(),
                self.navidrome_base_url.to_string(),
            ),
            (
                "SPOTTER_NAVIDROME_TIMEOUT".into(),
                fmt_duration(self.navidrome_timeout),
            ),
            (
                "SPOTTER_SPOTIFY_CLIENT_ID".into(),
                self.spotify
                    .as_ref()
                    .map(|c| c.client_id.clone())
                    .unwrap_or_default(),
            ),
            (
                "SPOTTER_SPOTIFY_CLIENT_SECRET".into(),
                set(self
                    .spotify
                    .as_ref()
                    .is_some_and(|c| c.client_secret.is_some())),
            ),
            (
                "SPOTTER_SPOTIFY_REDIRECT_URL".into(),
                self.spotify_redirect_url.to_string(),
            ),
            (
                "SPOTTER_LASTFM_API_KEY".into(),
                self.lastfm
                    .as_ref()
                    .map(|c| c.api_key.clone())
                    .unwrap_or_default(),
            ),
            (
                "SPOTTER_LASTFM_SHARED_SECRET".into(),
                set(self.lastfm.is_some()),
            ),
            (
                "SPOTTER_LASTFM_REDIRECT_URL".into(),
                self.lastfm_redirect_url.to_string(),
            ),
            (
                "SPOTTER_LISTENBRAINZ_API_URL".into(),
                self.listenbrainz_api_url.to_string(),
            ),
            (
                "SPOTTER_OPENAI_API_KEY".into(),
                set(self.openai.api_key.is_some()),
            ),
            (
                "SPOTTER_OPENAI_BASE_URL".into(),
                self.openai.base_url.to_string(),
            ),
            ("SPOTTER_OPENAI_MODEL".into(), self.openai.model.clone()),
            (
                "SPOTTER_SYNC_INTERVAL".into(),
                fmt_duration(self.sync_interval),
            ),
            (
                "SPOTTER_SYNC_HISTORY_LOOKBACK".into(),
                fmt_duration(self.history_lookback),
            ),
            ("SPOTTER_LOG_LEVEL".into(), self.log_level.clone()),
            (
                "SPOTTER_LOG_FORMAT".into(),
                match self.log_format {
                    LogFormat::Text => "text".into(),
                    LogFormat::Json => "json".into(),
                },
            ),
            (
                "SPOTTER_AUDIT_RETENTION_DAYS".into(),
                self.audit_retention_days.to_string(),
            ),
        ]
    }
}

/// `SPOTTER_*` variables this version does not know (typos, or settings of features not built yet).
pub fn unknown_env_vars() -> Vec<String> {
    let mut known: Vec<String> = vec!["SPOTTER_CONFIG".into()];
    if let Ok(cfg) = known_names() {
        known.extend(cfg);
    }
    let mut unknown: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("SPOTTER_") && !known.iter().any(|n| n == k))
        .collect();
    unknown.sort();
    unknown
}

fn known_names() -> Result<Vec<String>, serde_json::Error> {
    let value = serde_json::to_value(RawConfig::default())?;
    let mut names = Vec::new();
    if let serde_json::Value::Object(sections) = value {
        for (section, fields) in sections {
            if let serde_json::Value::Object(fields) = fields {
                for field in fields.keys() {
                    names.push(env_name(&format!("{section}.{field}")));
                }
            }
        }
    }
    for key in SECRET_KEYS {
        names.push(env_name(key));
        names.push(format!("{}_FILE", env_name(key)));
    }
    Ok(names)
}

fn env_name(key: &str) -> String {
    format!("SPOTTER_{}", key.replace('.', "_").to_ascii_uppercase())
}

fn map_env_key(key: &UncasedStr) -> Uncased<'_> {
    for section in SECTIONS {
        let prefix = format!("{section}_");
        if key.len() > prefix.len() && key.as_str()[..prefix.len()].eq_ignore_ascii_case(&prefix) {
            return format!("{section}.{}", &key.as_str()[prefix.len()..]).into();
        }
    }
    key.into()
}

/// Build the layered figment. Errors are operator-facing lines.
pub fn figment(file: Option<&Path>) -> Result<Figment, String> {
    // SPOTTER_CONFIG names the TOML file and is read by the CLI; secrets are merged raw below.
    let mut ignored: Vec<String> = vec!["config".into()];
    for key in SECRET_KEYS {
        ignored.push((*key).to_owned());
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
    for key in SECRET_KEYS {
        let var = env_name(key);
        let file_var = format!("{var}_FILE");
        let direct = std::env::var(&var).ok();
        let from_file = std::env::var(&file_var).ok();
        let value = match (direct, from_file) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{var} and {file_var} are both set: keep only one of them"
                ));
            }
            (Some(v), None) => Some(v),
            (None, Some(path)) => {
                let content = std::fs::read_to_string(&path).map_err(|e| {
                    format!("{file_var}: cannot read the file {path}: {}", e.kind())
                })?;
                let content = content.strip_suffix('\n').unwrap_or(&content);
                let content = content.strip_suffix('\r').unwrap_or(content);
                Some(content.to_owned())
            }
            (None, None) => None,
        };
        if let Some(v) = value {
            f = f.merge((*key, v));
        }
    }
    Ok(f)
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

/// Parse durations like `90s`, `5m`, `24h`, `7d`, `1h30m`, or a bare number of seconds.
pub fn parse_duration(input: &str) -> Option<Duration> {
    let s = input.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut chars = s.chars().peekable();
    let mut saw_unit = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            "ms"
        } else {
            match c {
                'd' => "d",
                'h' => "h",
                'm' => "m",
                's' => "s",
                _ => return None,
            }
        };
        let n: u64 = number.parse().ok()?;
        number.clear();
        let ms = match unit {
            "ms" => n,
            "s" => n.checked_mul(1_000)?,
            "m" => n.checked_mul(60_000)?,
            "h" => n.checked_mul(3_600_000)?,
            _ => n.checked_mul(86_400_000)?,
        };
        total = total.checked_add(ms)?;
        saw_unit = true;
    }
    if !number.is_empty() || !saw_unit {
        return None;
    }
    Some(Duration::from_millis(total))
}

fn fmt_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs.is_multiple_of(3600) && secs > 0 {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) && secs > 0 {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

fn looks_like_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if PLACEHOLDER_MARKERS.iter().any(|m| lower.contains(m)) {
        return true;
    }
    // A single repeated character (all zeros, all 'a', …) is not a secret.
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => chars.all(|c| c == first),
        None => true,
    }
}

fn validate_encryption_key(
    var: &str,
    value: &SecretString,
    errors: &mut Vec<ConfigError>,
) -> Option<EncryptionKey> {
    let v = value.expose_secret().trim();
    let fix = "generate one with `openssl rand -hex 32` or `spotter gen-secrets`";
    if v.is_empty() {
        errors.push(ConfigError(format!("{var} is empty: {fix}")));
        return None;
    }
    if looks_like_placeholder(v) {
        errors.push(ConfigError(format!(
            "{var} is a placeholder value, not a real key: {fix}"
        )));
        return None;
    }
    if v.len() != 64 {
        errors.push(ConfigError(format!(
            "{var} must be exactly 64 hex characters (32 bytes), got {} characters: {fix}",
            v.len()
        )));
        return None;
    }
    let mut bytes = [0u8; 32];
    if hex::decode_to_slice(v, &mut bytes).is_err() {
        errors.push(ConfigError(format!(
            "{var} must contain only hex characters 0-9 a-f: {fix}"
        )));
        return None;
    }
    Some(EncryptionKey::from_bytes(bytes))
}

fn parse_url(var: &str, value: &str, errors: &mut Vec<ConfigError>) -> Option<Url> {
    match Url::parse(value.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        Ok(_) => {
            errors.push(ConfigError(format!(
                "{var} must be an http:// or https:// URL with a host, e.g. https://music.example.org"
            )));
            None
        }
        Err(_) => {
            errors.push(ConfigError(format!(
                "{var} is not a valid URL: use a full URL such as https://music.example.org"
            )));
            None
        }
    }
}

pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A third-party service URL: https, or http only on a loopback host (tests, S16).
fn parse_service_url(var: &str, value: &str, errors: &mut Vec<ConfigError>) -> Option<Url> {
    let url = parse_url(var, value, errors)?;
    if url.scheme() != "https" && !is_loopback_host(&url) {
        errors.push(ConfigError(format!(
            "{var} must use https:// (plain http is accepted only for loopback test servers)"
        )));
        return None;
    }
    Some(url)
}

fn parse_dur(var: &str, value: &str, errors: &mut Vec<ConfigError>) -> Option<Duration> {
    match parse_duration(value) {
        Some(d) if !d.is_zero() => Some(d),
        _ => {
            errors.push(ConfigError(format!(
                "{var} must be a duration such as 90s, 5m, 24h or 7d (got {value:?})"
            )));
            None
        }
    }
}

fn redirect_or_default(
    var: &str,
    value: &str,
    base: Option<&Url>,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Url> {
    if value.trim().is_empty() {
        return base.and_then(|b| join_base(b, path));
    }
    parse_url(var, value, errors)
}

/// `<base>` + `path`, keeping a sub-path in the base URL (`https://h/spotter` + `/auth/x`).
pub fn join_base(base: &Url, path: &str) -> Option<Url> {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push_str(path);
    Url::parse(&s).ok()
}

#[allow(clippy::too_many_lines)]
fn validate(raw: RawConfig) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let gen_fix = "generate one with `openssl rand -hex 32` or `spotter gen-secrets`";

    let encryption_key = match &raw.security.encryption_key {
        Some(v) => validate_encryption_key("SPOTTER_SECURITY_ENCRYPTION_KEY", v, &mut errors),
        None => {
            errors.push(ConfigError(format!(
                "SPOTTER_SECURITY_ENCRYPTION_KEY is required (or SPOTTER_SECURITY_ENCRYPTION_KEY_FILE): {gen_fix}"
            )));
            None
        }
    };
    let encryption_key_previous = raw.security.encryption_key_previous.as_ref().and_then(|v| {
        validate_encryption_key("SPOTTER_SECURITY_ENCRYPTION_KEY_PREVIOUS", v, &mut errors)
    });
    if let (Some(cur), Some(prev)) = (&encryption_key, &encryption_key_previous)
        && cur.expose() == prev.expose()
    {
        errors.push(ConfigError(
            "SPOTTER_SECURITY_ENCRYPTION_KEY_PREVIOUS is the same as SPOTTER_SECURITY_ENCRYPTION_KEY: set the old key there, or remove it".into(),
        ));
    }
    let jwt_secret = match &raw.security.jwt_secret {
        None => {
            errors.push(ConfigError(format!(
                "SPOTTER_SECURITY_JWT_SECRET is required (or SPOTTER_SECURITY_JWT_SECRET_FILE): {gen_fix}"
            )));
            None
        }
        Some(v) if v.expose_secret().trim().is_empty() => {
            errors.push(ConfigError(format!(
                "SPOTTER_SECURITY_JWT_SECRET is empty: {gen_fix}"
            )));
            None
        }
        Some(v) if looks_like_placeholder(v.expose_secret()) => {
            errors.push(ConfigError(format!(
                "SPOTTER_SECURITY_JWT_SECRET is a placeholder value, not a real secret: {gen_fix}"
            )));
            None
        }
        Some(v) if v.expose_secret().len() < 32 => {
            errors.push(ConfigError(format!(
                "SPOTTER_SECURITY_JWT_SECRET must be at least 32 bytes long, got {}: {gen_fix}",
                v.expose_secret().len()
            )));
            None
        }
        Some(v) => Some(v.clone()),
    };
    if let (Some(k), Some(j)) = (&encryption_key, &jwt_secret)
        && hex::encode(k.expose()).eq_ignore_ascii_case(j.expose_secret().trim())
    {
        errors.push(ConfigError(
            "SPOTTER_SECURITY_JWT_SECRET must differ from SPOTTER_SECURITY_ENCRYPTION_KEY: generate a second secret".into(),
        ));
    }

    let session_ttl = parse_dur(
        "SPOTTER_SECURITY_SESSION_TTL",
        &raw.security.session_ttl,
        &mut errors,
    );
    let session_idle_timeout = parse_dur(
        "SPOTTER_SECURITY_SESSION_IDLE_TIMEOUT",
        &raw.security.session_idle_timeout,
        &mut errors,
    );
    if raw.security.auth_rate_limit == 0 {
        errors.push(ConfigError(
            "SPOTTER_SECURITY_AUTH_RATE_LIMIT must be at least 1 (login attempts per minute per IP)".into(),
        ));
    }
    let mut trusted_proxies = Vec::new();
    for item in &raw.security.trusted_proxies.0 {
        match item.parse::<IpNet>().or_else(|_| item.parse::<IpAddr>().map(IpNet::from)) {
            // Trusting every address lets any client forge its IP (and dodge the sign-in
            // limiter) and its scheme and host.
            Ok(net) if net.prefix_len() == 0 => errors.push(ConfigError(format!(
                "SPOTTER_SECURITY_TRUSTED_PROXIES: {item:?} trusts every address, so any client could forge X-Forwarded-For; list only your proxy's address or network (for example 172.18.0.0/16)"
            ))),
            Ok(net) => trusted_proxies.push(net),
            Err(_) => errors.push(ConfigError(format!(
                "SPOTTER_SECURITY_TRUSTED_PROXIES: {item:?} is not a CIDR such as 172.18.0.0/16 or an IP address"
            ))),
        }
    }

    let listen_addr = match raw.server.host.trim().parse::<IpAddr>() {
        Ok(ip) => Some(SocketAddr::new(ip, raw.server.port)),
        Err(_) => {
            errors.push(ConfigError(format!(
                "SPOTTER_SERVER_HOST must be an IP address such as 0.0.0.0 or 127.0.0.1 (got {:?})",
                raw.server.host
            )));
            None
        }
    };
    let base_url = parse_url("SPOTTER_SERVER_BASE_URL", &raw.server.base_url, &mut errors);
    if let Some(b) = &base_url
        && (b.query().is_some() || b.fragment().is_some())
    {
        errors.push(ConfigError(
            "SPOTTER_SERVER_BASE_URL must not carry a query or fragment".into(),
        ));
    }
    let request_timeout = parse_dur(
        "SPOTTER_SERVER_REQUEST_TIMEOUT",
        &raw.server.request_timeout,
        &mut errors,
    );

    let database_url = database_url(&raw.database.source);
    if raw.database.source.trim().is_empty() {
        errors.push(ConfigError(
            "SPOTTER_DATABASE_SOURCE is empty: give a file path such as /data/spotter.db".into(),
        ));
    }

    let navidrome_base_url = if raw.navidrome.base_url.trim().is_empty() {
        errors.push(ConfigError(
            "SPOTTER_NAVIDROME_BASE_URL is required: the URL Spotter uses to reach Navidrome, e.g. http://navidrome:4533".into(),
        ));
        None
    } else {
        parse_url(
            "SPOTTER_NAVIDROME_BASE_URL",
            &raw.navidrome.base_url,
            &mut errors,
        )
    };
    let navidrome_timeout = parse_dur(
        "SPOTTER_NAVIDROME_TIMEOUT",
        &raw.navidrome.timeout,
        &mut errors,
    );

    let spotify_redirect_url = redirect_or_default(
        "SPOTTER_SPOTIFY_REDIRECT_URL",
        &raw.spotify.redirect_url,
        base_url.as_ref(),
        "/auth/spotify/callback",
        &mut errors,
    );
    let lastfm_redirect_url = redirect_or_default(
        "SPOTTER_LASTFM_REDIRECT_URL",
        &raw.lastfm.redirect_url,
        base_url.as_ref(),
        "/auth/lastfm/callback",
        &mut errors,
    );
    let spotify_urls = (
        parse_service_url(
            "SPOTTER_SPOTIFY_AUTH_URL",
            &raw.spotify.auth_url,
            &mut errors,
        ),
        parse_service_url(
            "SPOTTER_SPOTIFY_TOKEN_URL",
            &raw.spotify.token_url,
            &mut errors,
        ),
        parse_service_url("SPOTTER_SPOTIFY_API_URL", &raw.spotify.api_url, &mut errors),
    );
    let spotify_client_id = raw.spotify.client_id.trim().to_owned();
    if spotify_client_id.is_empty() && raw.spotify.client_secret.is_some() {
        errors.push(ConfigError(
            "SPOTTER_SPOTIFY_CLIENT_SECRET is set but SPOTTER_SPOTIFY_CLIENT_ID is empty: set both, or only the client id (PKCE)".into(),
        ));
    }
    let spotify = match (&spotify_urls, &spotify_redirect_url) {
        ((Some(auth_url), Some(token_url), Some(api_url)), Some(redirect))
            if !spotify_client_id.is_empty() =>
        {
            Some(SpotifyConfig {
                client_id: spotify_client_id,
                client_secret: raw
                    .spotify
                    .client_secret
                    .clone()
                    .filter(|s| !s.expose_secret().is_empty()),
                redirect_url: redirect.clone(),
                auth_url: auth_url.clone(),
                token_url: token_url.clone(),
                api_url: api_url.clone(),
            })
        }
        _ => None,
    };

    let lastfm_auth_url =
        parse_service_url("SPOTTER_LASTFM_AUTH_URL", &raw.lastfm.auth_url, &mut errors);
    let lastfm_api_url =
        parse_service_url("SPOTTER_LASTFM_API_URL", &raw.lastfm.api_url, &mut errors);
    let lastfm_key = raw.lastfm.api_key.trim().to_owned();
    let lastfm_secret = raw
        .lastfm
        .shared_secret
        .clone()
        .filter(|s| !s.expose_secret().is_empty());
    if lastfm_key.is_empty() != lastfm_secret.is_none() {
        errors.push(ConfigError(
            "SPOTTER_LASTFM_API_KEY and SPOTTER_LASTFM_SHARED_SECRET go together: set both to enable Last.fm, or neither".into(),
        ));
    }
    let lastfm = match (
        lastfm_secret,
        &lastfm_auth_url,
        &lastfm_api_url,
        &lastfm_redirect_url,
    ) {
        (Some(shared_secret), Some(auth_url), Some(api_url), Some(redirect))
            if !lastfm_key.is_empty() =>
        {
            Some(LastfmConfig {
                api_key: lastfm_key,
                shared_secret,
                redirect_url: redirect.clone(),
                auth_url: auth_url.clone(),
                api_url: api_url.clone(),
            })
        }
        _ => None,
    };
    let listenbrainz_api_url = parse_service_url(
        "SPOTTER_LISTENBRAINZ_API_URL",
        &raw.listenbrainz.api_url,
        &mut errors,
    );
    // Any OpenAI-compatible endpoint, including a local Ollama over plain http.
    let openai_base_url = parse_url("SPOTTER_OPENAI_BASE_URL", &raw.openai.base_url, &mut errors);

    let sync_interval = parse_dur("SPOTTER_SYNC_INTERVAL", &raw.sync.interval, &mut errors);
    let history_lookback = parse_dur(
        "SPOTTER_SYNC_HISTORY_LOOKBACK",
        &raw.sync.history_lookback,
        &mut errors,
    );
    let log_format = match raw.log.format.trim().to_ascii_lowercase().as_str() {
        "text" | "" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        other => {
            errors.push(ConfigError(format!(
                "SPOTTER_LOG_FORMAT must be text or json (got {other:?})"
            )));
            None
        }
    };
    if tracing_subscriber::EnvFilter::try_new(raw.log.level.trim()).is_err() {
        errors.push(ConfigError(format!(
            "SPOTTER_LOG_LEVEL must be a level such as error, warn, info, debug or trace (got {:?})",
            raw.log.level
        )));
    }

    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    // Every Option below is Some when no error was recorded.
    let missing = || {
        ConfigErrors(vec![ConfigError(
            "internal: incomplete configuration".into(),
        )])
    };
    Ok(Config {
        security: SecurityConfig {
            encryption_key: encryption_key.ok_or_else(missing)?,
            encryption_key_previous,
            jwt_secret: jwt_secret.ok_or_else(missing)?,
            secure_cookies: raw.security.secure_cookies,
            session_ttl: session_ttl.ok_or_else(missing)?,
            session_idle_timeout: session_idle_timeout.ok_or_else(missing)?,
            auth_rate_limit: raw.security.auth_rate_limit,
            trusted_proxies,
            allowed_users: raw.security.allowed_users.0,
        },
        listen_addr: listen_addr.ok_or_else(missing)?,
        base_url: base_url.ok_or_else(missing)?,
        request_timeout: request_timeout.ok_or_else(missing)?,
        database_url,
        navidrome_base_url: navidrome_base_url.ok_or_else(missing)?,
        navidrome_timeout: navidrome_timeout.ok_or_else(missing)?,
        spotify,
        spotify_redirect_url: spotify_redirect_url.ok_or_else(missing)?,
        lastfm,
        lastfm_redirect_url: lastfm_redirect_url.ok_or_else(missing)?,
        listenbrainz_api_url: listenbrainz_api_url.ok_or_else(missing)?,
        openai: OpenaiConfig {
            api_key: raw.openai.api_key.filter(|k| !k.expose_secret().is_empty()),
            base_url: openai_base_url.ok_or_else(missing)?,
            model: raw.openai.model,
        },
        sync_interval: sync_interval.ok_or_else(missing)?,
        history_lookback: history_lookback.ok_or_else(missing)?,
        log_level: raw.log.level.trim().to_owned(),
        log_format: log_format.ok_or_else(missing)?,
        audit_retention_days: raw.audit.retention_days,
    })
}

/// Accept a bare path or a `sqlite:` URL.
fn database_url(source: &str) -> String {
    let s = source.trim();
    if s.starts_with("sqlite:") {
        s.to_owned()
    } else {
        format!("sqlite://{}", PathBuf::from(s).display())
    }
}

/// A fresh `.env` block with both required secrets.
pub fn generate_secrets_block() -> String {
    let key: [u8; 32] = rand::random();
    let jwt: [u8; 32] = rand::random();
    format!(
        "# Generated by `spotter gen-secrets`. Keep this file private (chmod 600).\n\
         SPOTTER_SECURITY_ENCRYPTION_KEY={}\n\
         SPOTTER_SECURITY_JWT_SECRET={}\n",
        hex::encode(key),
        hex::encode(jwt)
    )
}

#[cfg(test)]
mod tests;
