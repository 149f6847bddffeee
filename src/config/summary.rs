//! The one list of settings. The masked summary `spotter check-config` prints, the `SPOTTER_*`
//! names this version knows, and which settings are read raw as secrets all come from it.

use std::time::Duration;

use super::{Config, LogFormat};

/// One setting: its `section.field` key (env name `SPOTTER_SECTION_FIELD`) and how it is shown.
pub(super) struct Setting {
    pub key: &'static str,
    pub shown: Shown,
}

pub(super) enum Shown {
    /// The effective (validated) value.
    Value(fn(&Config) -> String),
    /// Only whether it is set. Also makes the setting a secret: read raw from `SPOTTER_X` or
    /// `SPOTTER_X_FILE`, never parsed as TOML.
    Secret(fn(&Config) -> bool),
    /// Known, but left out of the summary: endpoints only tests point elsewhere.
    Hidden,
}

impl Setting {
    /// `security` for `security.jwt_secret`.
    pub fn section(&self) -> &'static str {
        self.key
            .split_once('.')
            .map_or(self.key, |(section, _)| section)
    }
}

const fn value(key: &'static str, show: fn(&Config) -> String) -> Setting {
    Setting {
        key,
        shown: Shown::Value(show),
    }
}

const fn secret(key: &'static str, is_set: fn(&Config) -> bool) -> Setting {
    Setting {
        key,
        shown: Shown::Secret(is_set),
    }
}

const fn hidden(key: &'static str) -> Setting {
    Setting {
        key,
        shown: Shown::Hidden,
    }
}

/// Every setting, in the order `check-config` prints them. A `Raw*` field without a row here
/// would be reported as an unknown variable (a test catches that).
pub(super) const SETTINGS: &[Setting] = &[
    secret("security.encryption_key", |_| true),
    secret("security.encryption_key_previous", |c| {
        c.security.encryption_key_previous.is_some()
    }),
    secret("security.jwt_secret", |_| true),
    value("security.secure_cookies", |c| {
        c.security.secure_cookies.to_string()
    }),
    value("security.session_ttl", |c| {
        fmt_duration(c.security.session_ttl)
    }),
    value("security.session_idle_timeout", |c| {
        fmt_duration(c.security.session_idle_timeout)
    }),
    value("security.auth_rate_limit", |c| {
        c.security.auth_rate_limit.to_string()
    }),
    value("security.trusted_proxies", |c| {
        c.security
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }),
    value("security.allowed_users", |c| {
        c.security.allowed_users.join(",")
    }),
    value("server.host", |c| c.listen_addr.ip().to_string()),
    value("server.port", |c| c.listen_addr.port().to_string()),
    value("server.base_url", |c| c.base_url.to_string()),
    value("server.request_timeout", |c| {
        fmt_duration(c.request_timeout)
    }),
    value("database.source", |c| c.database_url.clone()),
    value("navidrome.base_url", |c| c.navidrome_base_url.to_string()),
    value("navidrome.public_url", |c| {
        c.navidrome_public_url.to_string()
    }),
    value("navidrome.timeout", |c| fmt_duration(c.navidrome_timeout)),
    value("spotify.client_id", |c| {
        c.spotify
            .as_ref()
            .map(|s| s.client_id.clone())
            .unwrap_or_default()
    }),
    secret("spotify.client_secret", |c| {
        c.spotify
            .as_ref()
            .is_some_and(|s| s.client_secret.is_some())
    }),
    value("spotify.redirect_url", |c| {
        c.spotify_redirect_url.to_string()
    }),
    hidden("spotify.auth_url"),
    hidden("spotify.token_url"),
    hidden("spotify.api_url"),
    value("lastfm.api_key", |c| {
        c.lastfm
            .as_ref()
            .map(|l| l.api_key.clone())
            .unwrap_or_default()
    }),
    secret("lastfm.shared_secret", |c| c.lastfm.is_some()),
    value("lastfm.redirect_url", |c| c.lastfm_redirect_url.to_string()),
    hidden("lastfm.auth_url"),
    hidden("lastfm.api_url"),
    value("listenbrainz.api_url", |c| {
        c.listenbrainz_api_url.to_string()
    }),
    secret("openai.api_key", |c| c.openai.api_key.is_some()),
    value("openai.base_url", |c| c.openai.base_url.to_string()),
    value("openai.model", |c| c.openai.model.clone()),
    value("vibes.daily_token_budget", |c| {
        c.vibes
            .daily_token_budget
            .map_or_else(|| "0 (no limit)".to_owned(), |n| n.to_string())
    }),
    value("vibes.prompts_directory", |c| {
        c.vibes
            .prompts_directory
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }),
    value("vibes.timeout", |c| fmt_duration(c.vibes.timeout)),
    value("vibes.prompt_tokens", |c| c.vibes.prompt_tokens.to_string()),
    value("sync.interval", |c| fmt_duration(c.sync_interval)),
    value("sync.history_lookback", |c| {
        fmt_duration(c.history_lookback)
    }),
    value("playlist_sync.sync_interval", |c| {
        fmt_duration(c.playlist_writeback_interval)
    }),
    value("log.level", |c| c.log_level.clone()),
    value("log.format", |c| {
        match c.log_format {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
        .to_owned()
    }),
    value("audit.retention_days", |c| {
        c.audit_retention_days.to_string()
    }),
];

/// The keys of the secret settings, in list order.
pub(super) fn secret_keys() -> impl Iterator<Item = &'static str> {
    SETTINGS
        .iter()
        .filter(|s| matches!(s.shown, Shown::Secret(_)))
        .map(|s| s.key)
}

impl Config {
    /// The effective configuration as `KEY=value` lines, secrets masked.
    pub fn masked_summary(&self) -> Vec<(String, String)> {
        SETTINGS
            .iter()
            .filter_map(|setting| {
                let shown = match setting.shown {
                    Shown::Value(show) => show(self),
                    Shown::Secret(is_set) if is_set(self) => "[set]".to_owned(),
                    Shown::Secret(_) => "[not set]".to_owned(),
                    Shown::Hidden => return None,
                };
                Some((super::raw::env_name(setting.key), shown))
            })
            .collect()
    }
}

/// In the largest unit that divides it evenly: `24h`, `90m`, `45s`.
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
