//! From `RawConfig` to `Config`, one function per section.
//!
//! Each section function records every problem it finds as a `ConfigError` that names the
//! variable and says how to fix it, so the operator sees all of them at once; its typed result is
//! used only when no section recorded an error.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use secrecy::ExposeSecret;
use url::Url;

use super::raw::{
    RawAudit, RawConfig, RawDatabase, RawLastfm, RawListenbrainz, RawLog, RawNavidrome, RawOpenai,
    RawPlaylistSync, RawSecurity, RawServer, RawSpotify, RawSync, RawVibes,
};
use super::{
    Config, ConfigError, ConfigErrors, LastfmConfig, LogFormat, OpenaiConfig, SecurityConfig,
    SpotifyConfig, VibesConfig, secrets,
};

pub(super) fn validate(raw: RawConfig) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let security = validate_security(raw.security, &mut errors);
    let server = validate_server(&raw.server, &mut errors);
    let base_url = server.as_ref().map(|s| &s.base_url);
    let database_url = validate_database(&raw.database, &mut errors);
    let navidrome = validate_navidrome(&raw.navidrome, &mut errors);
    let spotify = validate_spotify(raw.spotify, base_url, &mut errors);
    let lastfm = validate_lastfm(raw.lastfm, base_url, &mut errors);
    let listenbrainz_api_url = validate_listenbrainz(&raw.listenbrainz, &mut errors);
    let openai = validate_openai(raw.openai, &mut errors);
    let vibes = validate_vibes(&raw.vibes, &mut errors);
    let sync = validate_sync(&raw.sync, &raw.playlist_sync, &mut errors);
    let log = validate_log(&raw.log, &mut errors);
    let audit_retention_days = validate_audit(&raw.audit);

    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    // A section returns no value only after recording why, so this is a bug, not bad input.
    let (
        Some(security),
        Some(server),
        Some(database_url),
        Some(navidrome),
        Some(spotify),
        Some(lastfm),
        Some(listenbrainz_api_url),
        Some(openai),
        Some(vibes),
        Some(sync),
        Some(log),
    ) = (
        security,
        server,
        database_url,
        navidrome,
        spotify,
        lastfm,
        listenbrainz_api_url,
        openai,
        vibes,
        sync,
        log,
    )
    else {
        return Err(ConfigErrors(vec![ConfigError(
            "internal: incomplete configuration".into(),
        )]));
    };
    Ok(Config {
        security,
        listen_addr: server.listen_addr,
        base_url: server.base_url,
        request_timeout: server.request_timeout,
        database_url,
        navidrome_base_url: navidrome.base_url,
        navidrome_public_url: navidrome.public_url,
        navidrome_timeout: navidrome.timeout,
        spotify: spotify.client,
        spotify_redirect_url: spotify.redirect_url,
        lastfm: lastfm.client,
        lastfm_redirect_url: lastfm.redirect_url,
        listenbrainz_api_url,
        openai,
        vibes,
        sync_interval: sync.interval,
        history_lookback: sync.history_lookback,
        playlist_writeback_interval: sync.playlist_writeback_interval,
        log_level: log.level,
        log_format: log.format,
        audit_retention_days,
    })
}

fn validate_security(raw: RawSecurity, errors: &mut Vec<ConfigError>) -> Option<SecurityConfig> {
    const KEY_VAR: &str = "SPOTTER_SECURITY_ENCRYPTION_KEY";
    const JWT_VAR: &str = "SPOTTER_SECURITY_JWT_SECRET";

    let encryption_key = secrets::required(KEY_VAR, raw.encryption_key.as_ref(), errors)
        .and_then(|v| secrets::validate_encryption_key(KEY_VAR, v, errors));
    let encryption_key_previous = raw.encryption_key_previous.as_ref().and_then(|v| {
        secrets::validate_encryption_key("SPOTTER_SECURITY_ENCRYPTION_KEY_PREVIOUS", v, errors)
    });
    if let (Some(cur), Some(prev)) = (&encryption_key, &encryption_key_previous)
        && cur.expose() == prev.expose()
    {
        errors.push(ConfigError(
            "SPOTTER_SECURITY_ENCRYPTION_KEY_PREVIOUS is the same as SPOTTER_SECURITY_ENCRYPTION_KEY: set the old key there, or remove it".into(),
        ));
    }
    let jwt_secret = secrets::required(JWT_VAR, raw.jwt_secret.as_ref(), errors)
        .and_then(|v| secrets::validate_jwt_secret(JWT_VAR, v, errors));
    if let (Some(k), Some(j)) = (&encryption_key, &jwt_secret)
        && hex::encode(k.expose()).eq_ignore_ascii_case(j.expose_secret().trim())
    {
        errors.push(ConfigError(
            "SPOTTER_SECURITY_JWT_SECRET must differ from SPOTTER_SECURITY_ENCRYPTION_KEY: generate a second secret".into(),
        ));
    }

    let session_ttl = parse_dur("SPOTTER_SECURITY_SESSION_TTL", &raw.session_ttl, errors);
    let session_idle_timeout = parse_dur(
        "SPOTTER_SECURITY_SESSION_IDLE_TIMEOUT",
        &raw.session_idle_timeout,
        errors,
    );
    if raw.auth_rate_limit == 0 {
        errors.push(ConfigError(
            "SPOTTER_SECURITY_AUTH_RATE_LIMIT must be at least 1 (login attempts per minute per IP)".into(),
        ));
    }
    let mut trusted_proxies = Vec::new();
    for item in &raw.trusted_proxies.0 {
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

    Some(SecurityConfig {
        encryption_key: encryption_key?,
        encryption_key_previous,
        jwt_secret: jwt_secret?,
        secure_cookies: raw.secure_cookies,
        session_ttl: session_ttl?,
        session_idle_timeout: session_idle_timeout?,
        auth_rate_limit: raw.auth_rate_limit,
        trusted_proxies,
        allowed_users: raw.allowed_users.0,
    })
}

struct ServerSettings {
    listen_addr: SocketAddr,
    base_url: Url,
    request_timeout: Duration,
}

fn validate_server(raw: &RawServer, errors: &mut Vec<ConfigError>) -> Option<ServerSettings> {
    let listen_addr = match raw.host.trim().parse::<IpAddr>() {
        Ok(ip) => Some(SocketAddr::new(ip, raw.port)),
        Err(_) => {
            errors.push(ConfigError(format!(
                "SPOTTER_SERVER_HOST must be an IP address such as 0.0.0.0 or 127.0.0.1 (got {:?})",
                raw.host
            )));
            None
        }
    };
    let base_url = parse_url("SPOTTER_SERVER_BASE_URL", &raw.base_url, errors);
    if let Some(b) = &base_url
        && (b.query().is_some() || b.fragment().is_some())
    {
        errors.push(ConfigError(
            "SPOTTER_SERVER_BASE_URL must not carry a query or fragment".into(),
        ));
    }
    let request_timeout = parse_dur(
        "SPOTTER_SERVER_REQUEST_TIMEOUT",
        &raw.request_timeout,
        errors,
    );
    Some(ServerSettings {
        listen_addr: listen_addr?,
        base_url: base_url?,
        request_timeout: request_timeout?,
    })
}

/// The sqlx URL of the database.
fn validate_database(raw: &RawDatabase, errors: &mut Vec<ConfigError>) -> Option<String> {
    if raw.source.trim().is_empty() {
        errors.push(ConfigError(
            "SPOTTER_DATABASE_SOURCE is empty: give a file path such as /data/spotter.db".into(),
        ));
        return None;
    }
    Some(database_url(&raw.source))
}

struct NavidromeSettings {
    base_url: Url,
    public_url: Url,
    timeout: Duration,
}

fn validate_navidrome(
    raw: &RawNavidrome,
    errors: &mut Vec<ConfigError>,
) -> Option<NavidromeSettings> {
    let base_url = if raw.base_url.trim().is_empty() {
        errors.push(ConfigError(
            "SPOTTER_NAVIDROME_BASE_URL is required: the URL Spotter uses to reach Navidrome, e.g. http://navidrome:4533".into(),
        ));
        None
    } else {
        parse_url("SPOTTER_NAVIDROME_BASE_URL", &raw.base_url, errors)
    };
    let timeout = parse_dur("SPOTTER_NAVIDROME_TIMEOUT", &raw.timeout, errors);
    let public_url = if raw.public_url.trim().is_empty() {
        base_url.clone()
    } else {
        parse_url("SPOTTER_NAVIDROME_PUBLIC_URL", &raw.public_url, errors)
    };
    Some(NavidromeSettings {
        base_url: base_url?,
        public_url: public_url?,
        timeout: timeout?,
    })
}

struct SpotifySettings {
    /// `None` when no client id is configured.
    client: Option<SpotifyConfig>,
    /// Known even while Spotify is off, so the Services page can show what to register.
    redirect_url: Url,
}

/// `base_url` is the server's, when valid: the default redirect URL hangs off it.
fn validate_spotify(
    raw: RawSpotify,
    base_url: Option<&Url>,
    errors: &mut Vec<ConfigError>,
) -> Option<SpotifySettings> {
    let redirect_url = redirect_or_default(
        "SPOTTER_SPOTIFY_REDIRECT_URL",
        &raw.redirect_url,
        base_url,
        "/auth/spotify/callback",
        errors,
    );
    let auth_url = parse_service_url("SPOTTER_SPOTIFY_AUTH_URL", &raw.auth_url, errors);
    let token_url = parse_service_url("SPOTTER_SPOTIFY_TOKEN_URL", &raw.token_url, errors);
    let api_url = parse_service_url("SPOTTER_SPOTIFY_API_URL", &raw.api_url, errors);
    let client_id = raw.client_id.trim().to_owned();
    if client_id.is_empty() && raw.client_secret.is_some() {
        errors.push(ConfigError(
            "SPOTTER_SPOTIFY_CLIENT_SECRET is set but SPOTTER_SPOTIFY_CLIENT_ID is empty: set both, or only the client id (PKCE)".into(),
        ));
    }

    let (redirect_url, auth_url, token_url, api_url) =
        (redirect_url?, auth_url?, token_url?, api_url?);
    let client = (!client_id.is_empty()).then(|| SpotifyConfig {
        client_id,
        client_secret: secrets::non_empty(raw.client_secret),
        redirect_url: redirect_url.clone(),
        auth_url,
        token_url,
        api_url,
    });
    Some(SpotifySettings {
        client,
        redirect_url,
    })
}

struct LastfmSettings {
    /// `None` unless both the API key and the shared secret are set.
    client: Option<LastfmConfig>,
    redirect_url: Url,
}

/// `base_url` is the server's, when valid: the default redirect URL hangs off it.
fn validate_lastfm(
    raw: RawLastfm,
    base_url: Option<&Url>,
    errors: &mut Vec<ConfigError>,
) -> Option<LastfmSettings> {
    let redirect_url = redirect_or_default(
        "SPOTTER_LASTFM_REDIRECT_URL",
        &raw.redirect_url,
        base_url,
        "/auth/lastfm/callback",
        errors,
    );
    let auth_url = parse_service_url("SPOTTER_LASTFM_AUTH_URL", &raw.auth_url, errors);
    let api_url = parse_service_url("SPOTTER_LASTFM_API_URL", &raw.api_url, errors);
    let api_key = raw.api_key.trim().to_owned();
    let shared_secret = secrets::non_empty(raw.shared_secret);
    if api_key.is_empty() != shared_secret.is_none() {
        errors.push(ConfigError(
            "SPOTTER_LASTFM_API_KEY and SPOTTER_LASTFM_SHARED_SECRET go together: set both to enable Last.fm, or neither".into(),
        ));
    }

    let (redirect_url, auth_url, api_url) = (redirect_url?, auth_url?, api_url?);
    let client = match shared_secret {
        Some(shared_secret) if !api_key.is_empty() => Some(LastfmConfig {
            api_key,
            shared_secret,
            redirect_url: redirect_url.clone(),
            auth_url,
            api_url,
        }),
        _ => None,
    };
    Some(LastfmSettings {
        client,
        redirect_url,
    })
}

/// The ListenBrainz API URL.
fn validate_listenbrainz(raw: &RawListenbrainz, errors: &mut Vec<ConfigError>) -> Option<Url> {
    parse_service_url("SPOTTER_LISTENBRAINZ_API_URL", &raw.api_url, errors)
}

fn validate_openai(raw: RawOpenai, errors: &mut Vec<ConfigError>) -> Option<OpenaiConfig> {
    // Any OpenAI-compatible endpoint, including a local Ollama over plain http.
    let base_url_set = !raw.base_url.trim().is_empty();
    let model_set = !raw.model.trim().is_empty();
    let base_url = if base_url_set {
        parse_url("SPOTTER_OPENAI_BASE_URL", &raw.base_url, errors)
    } else {
        Url::parse(super::OPENAI_DEFAULT_BASE_URL).ok()
    };
    Some(OpenaiConfig {
        api_key: secrets::non_empty(raw.api_key),
        base_url: base_url?,
        model: if model_set {
            raw.model.trim().to_owned()
        } else {
            super::OPENAI_DEFAULT_MODEL.to_owned()
        },
        base_url_set,
        model_set,
    })
}

fn validate_vibes(raw: &RawVibes, errors: &mut Vec<ConfigError>) -> Option<VibesConfig> {
    let budget = match raw.daily_token_budget.trim().parse::<u64>() {
        Ok(0) => Some(None),
        Ok(n) => Some(Some(n)),
        Err(_) => {
            errors.push(ConfigError(format!(
                "SPOTTER_VIBES_DAILY_TOKEN_BUDGET must be a whole number of tokens (0 = no limit), got {:?}",
                raw.daily_token_budget
            )));
            None
        }
    };
    let prompt_tokens = match raw.prompt_tokens.trim().parse::<u64>() {
        Ok(n) if (500..=1_000_000).contains(&n) => Some(n),
        _ => {
            errors.push(ConfigError(format!(
                "SPOTTER_VIBES_PROMPT_TOKENS must be a number of tokens between 500 and 1000000, got {:?}",
                raw.prompt_tokens
            )));
            None
        }
    };
    let timeout = parse_dur("SPOTTER_VIBES_TIMEOUT", &raw.timeout, errors);
    let dir = raw.prompts_directory.trim();
    Some(VibesConfig {
        daily_token_budget: budget?,
        prompts_directory: (!dir.is_empty()).then(|| PathBuf::from(dir)),
        timeout: timeout?,
        prompt_tokens: prompt_tokens?,
    })
}

struct SyncSettings {
    interval: Duration,
    history_lookback: Duration,
    playlist_writeback_interval: Duration,
}

fn validate_sync(
    raw: &RawSync,
    playlist_sync: &RawPlaylistSync,
    errors: &mut Vec<ConfigError>,
) -> Option<SyncSettings> {
    let interval = parse_dur("SPOTTER_SYNC_INTERVAL", &raw.interval, errors);
    let history_lookback = parse_dur(
        "SPOTTER_SYNC_HISTORY_LOOKBACK",
        &raw.history_lookback,
        errors,
    );
    let playlist_writeback_interval = parse_dur(
        "SPOTTER_PLAYLIST_SYNC_SYNC_INTERVAL",
        &playlist_sync.sync_interval,
        errors,
    );
    Some(SyncSettings {
        interval: interval?,
        history_lookback: history_lookback?,
        playlist_writeback_interval: playlist_writeback_interval?,
    })
}

struct LogSettings {
    level: String,
    format: LogFormat,
}

fn validate_log(raw: &RawLog, errors: &mut Vec<ConfigError>) -> Option<LogSettings> {
    let format = match raw.format.trim().to_ascii_lowercase().as_str() {
        "text" | "" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        other => {
            errors.push(ConfigError(format!(
                "SPOTTER_LOG_FORMAT must be text or json (got {other:?})"
            )));
            None
        }
    };
    if tracing_subscriber::EnvFilter::try_new(raw.level.trim()).is_err() {
        errors.push(ConfigError(format!(
            "SPOTTER_LOG_LEVEL must be a level such as error, warn, info, debug or trace (got {:?})",
            raw.level
        )));
    }
    Some(LogSettings {
        level: raw.level.trim().to_owned(),
        format: format?,
    })
}

/// Audit retention in days; any number is accepted (deserializing already refused non-numbers).
fn validate_audit(raw: &RawAudit) -> u32 {
    raw.retention_days
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

/// Accept a bare path or a `sqlite:` URL.
fn database_url(source: &str) -> String {
    let s = source.trim();
    if s.starts_with("sqlite:") {
        s.to_owned()
    } else {
        format!("sqlite://{}", PathBuf::from(s).display())
    }
}
