#![allow(clippy::result_large_err)]

use super::*;
use figment::Jail;
use secrecy::ExposeSecret;

const KEY: &str = "3f9a1c0b7e6d5a4f3e2d1c0b9a8f7e6d5c4b3a291807f6e5d4c3b2a190817263";
const JWT: &str = "b7c1e9d3a5f7092e4c6a8b0d2f4e6a8c0b2d4f6e8a0c2e4b6d8f0a2c4e6b8d0f";

fn set_required(jail: &mut Jail) {
    jail.set_env("SPOTTER_SECURITY_ENCRYPTION_KEY", KEY);
    jail.set_env("SPOTTER_SECURITY_JWT_SECRET", JWT);
    jail.set_env("SPOTTER_NAVIDROME_BASE_URL", "http://navidrome:4533");
}

fn load_err(jail_fn: impl FnOnce(&mut Jail)) -> String {
    let mut out = String::new();
    Jail::expect_with(|jail| {
        jail_fn(jail);
        out = Config::load(None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        Ok(())
    });
    out
}

#[test]
fn minimal_environment_loads_with_defaults() {
    Jail::expect_with(|jail| {
        set_required(jail);
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.listen_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(c.base_url.as_str(), "http://localhost:8080/");
        assert!(c.security.secure_cookies);
        assert_eq!(c.security.session_ttl, Duration::from_secs(86_400));
        assert_eq!(c.security.auth_rate_limit, 10);
        assert_eq!(c.security.trusted_proxies.len(), 2);
        assert!(c.security.allowed_users.is_empty());
        assert_eq!(c.database_url, "sqlite://spotter.db");
        assert!(c.spotify.is_none());
        assert!(c.lastfm.is_none());
        assert_eq!(
            c.spotify_redirect_url.as_str(),
            "http://localhost:8080/auth/spotify/callback"
        );
        assert_eq!(c.security.encryption_key.expose()[0], 0x3f);
        Ok(())
    });
}

#[test]
fn underscore_inside_key_name_survives() {
    // security.encryption_key, not security.encryption.key
    Jail::expect_with(|jail| {
        set_required(jail);
        jail.set_env("SPOTTER_SECURITY_SESSION_TTL", "2h");
        jail.set_env("SPOTTER_SECURITY_TRUSTED_PROXIES", "10.0.0.0/8, 172.18.0.1");
        jail.set_env("SPOTTER_SECURITY_ALLOWED_USERS", "alice,bob");
        jail.set_env(
            "SPOTTER_SERVER_BASE_URL",
            "https://music.example.org/spotter",
        );
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.security.session_ttl, Duration::from_secs(7200));
        assert_eq!(c.security.trusted_proxies.len(), 2);
        assert_eq!(c.security.allowed_users, vec!["alice", "bob"]);
        assert_eq!(
            c.spotify_redirect_url.as_str(),
            "https://music.example.org/spotter/auth/spotify/callback"
        );
        Ok(())
    });
}

#[test]
fn precedence_defaults_then_file_then_env() {
    Jail::expect_with(|jail| {
        set_required(jail);
        jail.create_file(
            "spotter.toml",
            r#"
            [server]
            port = 9000
            base_url = "https://from-file.example"
            [security]
            auth_rate_limit = 5
            "#,
        )?;
        jail.set_env("SPOTTER_SERVER_PORT", "9100");
        let c = Config::load(Some(Path::new("spotter.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(c.listen_addr.port(), 9100, "env beats file");
        assert_eq!(
            c.base_url.as_str(),
            "https://from-file.example/",
            "file beats default"
        );
        assert_eq!(c.security.auth_rate_limit, 5);
        assert_eq!(c.listen_addr.ip().to_string(), "0.0.0.0", "default kept");
        Ok(())
    });
}

#[test]
fn numeric_looking_values_stay_text() {
    Jail::expect_with(|jail| {
        set_required(jail);
        jail.set_env("SPOTTER_SPOTIFY_CLIENT_ID", "123456");
        jail.set_env("SPOTTER_SECURITY_SESSION_TTL", "3600");
        jail.set_env("SPOTTER_SECURITY_ALLOWED_USERS", "1234");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.spotify.map(|s| s.client_id).as_deref(), Some("123456"));
        assert_eq!(c.security.session_ttl, Duration::from_secs(3600));
        assert_eq!(c.security.allowed_users, vec!["1234"]);
        Ok(())
    });
}

#[test]
fn secrets_from_files_with_trailing_newline() {
    Jail::expect_with(|jail| {
        jail.set_env("SPOTTER_NAVIDROME_BASE_URL", "http://navidrome:4533");
        jail.create_file("key", &format!("{KEY}\n"))?;
        jail.create_file("jwt", &format!("{JWT}\n"))?;
        let dir = jail.directory().to_path_buf();
        jail.set_env(
            "SPOTTER_SECURITY_ENCRYPTION_KEY_FILE",
            dir.join("key").display(),
        );
        jail.set_env(
            "SPOTTER_SECURITY_JWT_SECRET_FILE",
            dir.join("jwt").display(),
        );
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(hex::encode(c.security.encryption_key.expose()), KEY);
        assert_eq!(c.security.jwt_secret.expose_secret(), JWT);
        Ok(())
    });
}

#[test]
fn both_value_and_file_is_an_error() {
    let e = load_err(|jail| {
        set_required(jail);
        jail.set_env("SPOTTER_SECURITY_JWT_SECRET_FILE", "/run/secrets/jwt");
    });
    assert!(
        e.contains("SPOTTER_SECURITY_JWT_SECRET and SPOTTER_SECURITY_JWT_SECRET_FILE"),
        "{e}"
    );
}

#[test]
fn missing_secrets_name_the_variables() {
    let e = load_err(|jail| {
        jail.set_env("SPOTTER_NAVIDROME_BASE_URL", "http://navidrome:4533");
    });
    assert!(
        e.contains("SPOTTER_SECURITY_ENCRYPTION_KEY is required"),
        "{e}"
    );
    assert!(e.contains("SPOTTER_SECURITY_JWT_SECRET is required"), "{e}");
    assert!(e.contains("openssl rand -hex 32"), "{e}");
    // One line per problem.
    assert_eq!(e.lines().count(), 2, "{e}");
}

#[test]
fn bad_keys_are_refused() {
    let cases = [
        ("abc", "64 hex"),
        (&format!("{}g", &KEY[..63]) as &str, "hex characters"),
        (&"0".repeat(64), "placeholder"),
        (
            "change-me-to-64-hex-chars-change-me-to-64-hex-chars-change-me-00",
            "placeholder",
        ),
        ("", "empty"),
    ];
    for (key, want) in cases {
        let e = load_err(|jail| {
            set_required(jail);
            jail.set_env("SPOTTER_SECURITY_ENCRYPTION_KEY", key);
        });
        assert!(e.contains("SPOTTER_SECURITY_ENCRYPTION_KEY"), "{key}: {e}");
        assert!(e.contains(want), "{key}: {e}");
    }
}

#[test]
fn short_or_placeholder_jwt_secret_is_refused() {
    for (secret, want) in [
        ("short", "at least 32 bytes"),
        ("changeme-changeme-changeme-changeme", "placeholder"),
        ("replace-with-output-of-openssl-rand-hex-32", "placeholder"),
    ] {
        let e = load_err(|jail| {
            set_required(jail);
            jail.set_env("SPOTTER_SECURITY_JWT_SECRET", secret);
        });
        assert!(e.contains("SPOTTER_SECURITY_JWT_SECRET"), "{e}");
        assert!(e.contains(want), "{secret}: {e}");
    }
}

#[test]
fn env_example_placeholders_are_refused() {
    let example = include_str!("../../.env.example");
    for line in example
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
    {
        let (name, value) = line.split_once('=').unwrap_or_default();
        if name != "SPOTTER_SECURITY_ENCRYPTION_KEY" && name != "SPOTTER_SECURITY_JWT_SECRET" {
            continue;
        }
        let e = load_err(|jail| {
            set_required(jail);
            jail.set_env(name, value);
        });
        assert!(
            e.contains(name) && e.contains("placeholder"),
            "{name}={value}: {e}"
        );
    }
}

#[test]
fn other_invalid_values_name_their_variable() {
    let cases: &[(&str, &str)] = &[
        ("SPOTTER_SERVER_BASE_URL", "not a url"),
        ("SPOTTER_SERVER_HOST", "localhost:80"),
        ("SPOTTER_SERVER_PORT", "99999"),
        ("SPOTTER_SECURITY_SESSION_TTL", "forever"),
        ("SPOTTER_SECURITY_TRUSTED_PROXIES", "10.0.0.0/99"),
        ("SPOTTER_SECURITY_AUTH_RATE_LIMIT", "0"),
        ("SPOTTER_LOG_FORMAT", "xml"),
        ("SPOTTER_SPOTIFY_API_URL", "http://api.example.com"),
        ("SPOTTER_NAVIDROME_BASE_URL", ""),
    ];
    for (var, value) in cases {
        let e = load_err(|jail| {
            set_required(jail);
            jail.set_env(var, value);
        });
        assert!(e.contains(var), "{var}={value}: {e}");
    }
}

#[test]
fn loopback_http_is_accepted_for_test_overrides() {
    Jail::expect_with(|jail| {
        set_required(jail);
        jail.set_env("SPOTTER_SPOTIFY_CLIENT_ID", "abc");
        jail.set_env("SPOTTER_SPOTIFY_TOKEN_URL", "http://127.0.0.1:9999/token");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert!(c.spotify.is_some());
        Ok(())
    });
}

#[test]
fn masked_summary_shows_no_secret() {
    Jail::expect_with(|jail| {
        set_required(jail);
        let c = Config::load(None).map_err(|e| e.to_string())?;
        let text: String = c
            .masked_summary()
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        assert!(!text.contains(KEY) && !text.contains(JWT), "{text}");
        assert!(text.contains("SPOTTER_SECURITY_ENCRYPTION_KEY=[set]"));
        assert!(!format!("{c:?}").contains(JWT));
        assert!(!format!("{c:?}").contains(KEY));
        Ok(())
    });
}

#[test]
fn durations_parse() {
    assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
    assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
    assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
    assert_eq!(parse_duration("15"), Some(Duration::from_secs(15)));
    assert_eq!(parse_duration("h"), None);
    assert_eq!(parse_duration("5x"), None);
    assert_eq!(parse_duration("5m3"), None);
    assert_eq!(parse_duration(""), None);
}

#[test]
fn generated_secrets_pass_validation() {
    let block = generate_secrets_block();
    Jail::expect_with(|jail| {
        jail.set_env("SPOTTER_NAVIDROME_BASE_URL", "http://navidrome:4533");
        for line in block.lines().filter(|l| l.starts_with("SPOTTER_")) {
            let (k, v) = line.split_once('=').unwrap_or_default();
            jail.set_env(k, v);
        }
        Config::load(None).map_err(|e| e.to_string())?;
        Ok(())
    });
}

#[test]
fn previous_key_must_differ_from_the_current_one() {
    let e = load_err(|jail| {
        set_required(jail);
        jail.set_env("SPOTTER_SECURITY_ENCRYPTION_KEY_PREVIOUS", KEY);
    });
    assert!(
        e.contains("SPOTTER_SECURITY_ENCRYPTION_KEY_PREVIOUS"),
        "{e}"
    );
}

#[test]
fn every_raw_field_has_a_settings_row() {
    let defaults = serde_json::to_value(RawConfig::default()).unwrap_or_default();
    let mut fields = Vec::new();
    for (section, values) in defaults.as_object().into_iter().flatten() {
        for field in values.as_object().into_iter().flatten().map(|(f, _)| f) {
            fields.push(format!("{section}.{field}"));
        }
    }
    assert!(!fields.is_empty());
    let plain_rows: Vec<&str> = summary::SETTINGS
        .iter()
        .filter(|s| !matches!(s.shown, summary::Shown::Secret(_)))
        .map(|s| s.key)
        .collect();
    for field in &fields {
        assert!(
            plain_rows.contains(&field.as_str()),
            "no SETTINGS row for {field}"
        );
    }
    for row in &plain_rows {
        assert!(
            fields.iter().any(|f| f == row),
            "{row} is not a RawConfig field"
        );
    }
}

#[test]
fn every_secret_row_reaches_the_config() {
    Jail::expect_with(|jail| {
        set_required(jail);
        jail.set_env(
            "SPOTTER_SECURITY_ENCRYPTION_KEY_PREVIOUS",
            KEY.replace('3', "4"),
        );
        jail.set_env("SPOTTER_SPOTIFY_CLIENT_ID", "abc");
        jail.set_env("SPOTTER_LASTFM_API_KEY", "abc");
        for key in summary::secret_keys() {
            let var = raw::env_name(key);
            if std::env::var(&var).is_err() {
                jail.set_env(var, "a-secret-value");
            }
        }
        let c = Config::load(None).map_err(|e| e.to_string())?;
        let summary = c.masked_summary();
        for key in summary::secret_keys() {
            let var = raw::env_name(key);
            assert!(
                summary.contains(&(var.clone(), "[set]".to_owned())),
                "{var}: {summary:?}"
            );
        }
        Ok(())
    });
}

#[test]
fn summary_names_and_secret_files_are_known() {
    let known = raw::known_env_names();
    Jail::expect_with(|jail| {
        set_required(jail);
        let c = Config::load(None).map_err(|e| e.to_string())?;
        for (name, _) in c.masked_summary() {
            assert!(known.contains(&name), "{name}");
        }
        Ok(())
    });
    for key in summary::secret_keys() {
        let file_var = format!("{}_FILE", raw::env_name(key));
        assert!(known.contains(&file_var), "{file_var}");
    }
    assert!(known.iter().any(|n| n == "SPOTTER_CONFIG"));
}

#[test]
fn a_local_base_url_on_another_port_is_flagged() {
    Jail::expect_with(|jail| {
        set_required(jail);
        jail.set_env("SPOTTER_SERVER_PORT", "9090");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        let w = c
            .base_url_mismatch()
            .expect("port 8080 in the base URL, 9090 listened on");
        assert!(
            w.contains("SPOTTER_SERVER_BASE_URL=http://localhost:9090"),
            "{w}"
        );
        jail.set_env("SPOTTER_SERVER_BASE_URL", "http://localhost:9090");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert!(c.base_url_mismatch().is_none());
        // A public address is reached through a proxy: nothing to say.
        jail.set_env("SPOTTER_SERVER_BASE_URL", "https://music.example.org");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert!(c.base_url_mismatch().is_none());
        Ok(())
    });
}
