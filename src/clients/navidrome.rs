//! Navidrome through the Subsonic API, with token auth: `t = md5(password + salt)` and a fresh
//! random salt on every call. The credentialed URL is never logged or put into an error.

use std::time::Duration;

use md5::{Digest, Md5};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::http_client;

const API_VERSION: &str = "1.16.1";
const CLIENT_NAME: &str = "spotter";

#[derive(Debug, thiserror::Error)]
pub enum NavidromeError {
    /// Subsonic error 40/41/44 (or an auth failure): the username or password is wrong.
    #[error("Navidrome rejected the credentials")]
    WrongCredentials,
    /// Connection refused, DNS failure, timeout, TLS failure.
    #[error("Navidrome could not be reached")]
    Unreachable,
    /// Reached, but the answer was not a Subsonic answer (wrong URL, proxy page, 5xx).
    #[error("Navidrome gave an unexpected answer (HTTP {status})")]
    BadResponse { status: u16 },
    /// A Subsonic error other than credentials.
    #[error("Navidrome error {code}")]
    Api { code: i64 },
}

impl NavidromeError {
    /// Errors worth retrying later.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Self::Unreachable | Self::BadResponse { .. })
    }
}

#[derive(Clone)]
pub struct NavidromeClient {
    http: reqwest::Client,
    /// Always ends in `/`, so `rest/<method>` joins under a sub-path (`https://h/music/`).
    base: Url,
}

impl std::fmt::Debug for NavidromeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NavidromeClient")
            .field("base", &self.base.as_str())
            .finish()
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "subsonic-response")]
    response: SubsonicResponse,
}

#[derive(Deserialize)]
struct SubsonicResponse {
    status: String,
    #[serde(default)]
    error: Option<SubsonicError>,
}

#[derive(Deserialize)]
struct SubsonicError {
    code: i64,
}

/// Credentials for one call. The password stays a secret; only the salted hash leaves.
pub struct Credentials<'a> {
    pub username: &'a str,
    pub password: &'a SecretString,
}

impl NavidromeClient {
    pub fn new(base_url: &Url, timeout: Duration) -> reqwest::Result<Self> {
        let mut base = base_url.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        base.set_query(None);
        base.set_fragment(None);
        Ok(Self {
            http: http_client(timeout)?,
            base,
        })
    }

    /// `<base>/rest/<method>` (no credentials; those go in the query at send time).
    pub fn endpoint(&self, method: &str) -> Url {
        // join never fails for a relative path made of ASCII letters
        self.base
            .join(&format!("rest/{method}"))
            .unwrap_or_else(|_| self.base.clone())
    }

    /// Check the credentials with `ping`.
    pub async fn ping(&self, creds: &Credentials<'_>) -> Result<(), NavidromeError> {
        let response = self.call("ping", creds, &[]).await?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|_| NavidromeError::Unreachable)?;
        parse_envelope(status.as_u16(), &bytes)
    }

    async fn call(
        &self,
        method: &str,
        creds: &Credentials<'_>,
        params: &[(&str, &str)],
    ) -> Result<reqwest::Response, NavidromeError> {
        let salt = crate::crypto::random_token(12);
        let token = subsonic_token(creds.password, &salt);
        let mut query: Vec<(&str, &str)> = vec![
            ("u", creds.username),
            ("t", &token),
            ("s", &salt),
            ("v", API_VERSION),
            ("c", CLIENT_NAME),
            ("f", "json"),
        ];
        query.extend_from_slice(params);
        // Errors are mapped here so reqwest's error (which embeds the URL with t and s)
        // is never displayed or logged.
        self.http
            .get(self.endpoint(method))
            .query(&query)
            .send()
            .await
            .map_err(|_| NavidromeError::Unreachable)
    }
}

/// `md5(password + salt)` as lowercase hex.
pub fn subsonic_token(password: &SecretString, salt: &str) -> String {
    let mut h = Md5::new();
    h.update(password.expose_secret().as_bytes());
    h.update(salt.as_bytes());
    hex::encode(h.finalize())
}

fn parse_envelope(http_status: u16, body: &[u8]) -> Result<(), NavidromeError> {
    let Ok(env) = serde_json::from_slice::<Envelope>(body) else {
        // Navidrome answers 401 for some auth failures without an envelope.
        return Err(if http_status == 401 {
            NavidromeError::WrongCredentials
        } else {
            NavidromeError::BadResponse {
                status: http_status,
            }
        });
    };
    if env.response.status == "ok" {
        return Ok(());
    }
    match env.response.error.map(|e| e.code) {
        // 40 wrong credentials, 41 token auth unsupported for LDAP users, 44 invalid API key.
        Some(40 | 41 | 44) => Err(NavidromeError::WrongCredentials),
        Some(code) => Err(NavidromeError::Api { code }),
        None => Err(NavidromeError::BadResponse {
            status: http_status,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_matches_subsonic_vector() {
        let pw = SecretString::from("sesame");
        assert_eq!(
            subsonic_token(&pw, "c19b2d"),
            "26719a1196d2a940705a59634eb18eab"
        );
    }

    #[test]
    fn endpoint_keeps_sub_path_with_or_without_slash() {
        let t = Duration::from_secs(1);
        for base in ["http://h:1/audio", "http://h:1/audio/"] {
            let c = NavidromeClient::new(&Url::parse(base).unwrap(), t).unwrap();
            assert_eq!(c.endpoint("ping").as_str(), "http://h:1/audio/rest/ping");
        }
        let c = NavidromeClient::new(&Url::parse("http://h:1").unwrap(), t).unwrap();
        assert_eq!(c.endpoint("ping").as_str(), "http://h:1/rest/ping");
    }

    #[test]
    fn envelopes_are_classified() {
        let ok = br#"{"subsonic-response":{"status":"ok","version":"1.16.1"}}"#;
        assert!(parse_envelope(200, ok).is_ok());
        let wrong =
            br#"{"subsonic-response":{"status":"failed","error":{"code":40,"message":"x"}}}"#;
        assert!(matches!(
            parse_envelope(200, wrong),
            Err(NavidromeError::WrongCredentials)
        ));
        let other = br#"{"subsonic-response":{"status":"failed","error":{"code":10}}}"#;
        assert!(matches!(
            parse_envelope(200, other),
            Err(NavidromeError::Api { code: 10 })
        ));
        assert!(matches!(
            parse_envelope(502, b"<html>bad gateway</html>"),
            Err(NavidromeError::BadResponse { status: 502 })
        ));
        assert!(matches!(
            parse_envelope(401, b""),
            Err(NavidromeError::WrongCredentials)
        ));
        assert!(matches!(
            parse_envelope(422, br#"{"detail":[]}"#),
            Err(NavidromeError::BadResponse { status: 422 })
        ));
    }
}
