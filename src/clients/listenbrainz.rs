//! ListenBrainz: the user pastes their user token; it is checked with `/1/validate-token`
//! (`Authorization: Token <token>`). A 429 carries `X-RateLimit-Reset-In` (seconds).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::http_client;
use crate::domain::link_health::{ErrorCode, Failure};

#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum ListenbrainzError {
    #[error("ListenBrainz does not accept the token")]
    InvalidToken,
    #[error("ListenBrainz is rate limiting")]
    RateLimited { retry_after: Option<Duration> },
    #[error("ListenBrainz answered with a server error (HTTP {0})")]
    Server(u16),
    #[error("ListenBrainz could not be reached")]
    Unreachable,
    #[error("ListenBrainz gave an unexpected answer")]
    BadResponse,
}

impl ListenbrainzError {
    pub fn failure(self) -> Failure {
        match self {
            Self::InvalidToken => ErrorCode::TokenRejected.into(),
            Self::RateLimited { retry_after } => Failure::rate_limited(retry_after),
            Self::Server(_) => ErrorCode::ServerError.into(),
            Self::Unreachable => ErrorCode::Unreachable.into(),
            Self::BadResponse => ErrorCode::BadResponse.into(),
        }
    }
}

#[derive(Clone)]
pub struct ListenbrainzClient {
    http: reqwest::Client,
    /// Always ends in `/`.
    base: Url,
}

impl std::fmt::Debug for ListenbrainzClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenbrainzClient")
            .field("base", &self.base.as_str())
            .finish()
    }
}

#[derive(Deserialize)]
struct Validation {
    #[serde(default)]
    valid: bool,
    #[serde(default)]
    user_name: Option<String>,
}

/// The longest plausible token (LB tokens are UUIDs); anything longer is refused unsent.
pub const MAX_TOKEN_LEN: usize = 128;

impl ListenbrainzClient {
    pub fn new(base_url: &Url, timeout: Duration) -> reqwest::Result<Self> {
        let mut base = base_url.clone();
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        Ok(Self {
            http: http_client(timeout)?,
            base,
        })
    }

    /// Check a user token; returns the ListenBrainz user name it belongs to.
    pub async fn validate_token(&self, token: &SecretString) -> Result<String, ListenbrainzError> {
        let url = self
            .base
            .join("1/validate-token")
            .map_err(|_| ListenbrainzError::BadResponse)?;
        let resp = self
            .http
            .get(url)
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Token {}", token.expose_secret()),
            )
            .send()
            .await
            .map_err(|_| ListenbrainzError::Unreachable)?;
        let status = resp.status().as_u16();
        let reset_in = resp
            .headers()
            .get("x-ratelimit-reset-in")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp
            .bytes()
            .await
            .map_err(|_| ListenbrainzError::Unreachable)?;
        match status {
            200 => {
                let v: Validation =
                    serde_json::from_slice(&bytes).map_err(|_| ListenbrainzError::BadResponse)?;
                let name = v.user_name.unwrap_or_default();
                let name = name.trim();
                if !v.valid || name.is_empty() {
                    return Err(ListenbrainzError::InvalidToken);
                }
                Ok(name.chars().take(128).collect())
            }
            400 | 401 | 403 => Err(ListenbrainzError::InvalidToken),
            429 => Err(ListenbrainzError::RateLimited {
                retry_after: reset_in,
            }),
            s @ 500..=599 => Err(ListenbrainzError::Server(s)),
            _ => Err(ListenbrainzError::BadResponse),
        }
    }
}

/// A pasted token, trimmed, if it has a plausible shape (printable ASCII, no spaces).
pub fn normalize_token(input: &str) -> Option<SecretString> {
    let t = input.trim();
    if t.is_empty() || t.len() > MAX_TOKEN_LEN || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(SecretString::from(t.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shapes() {
        assert!(normalize_token("  8c2a-11ef-aaaa  ").is_some());
        assert!(normalize_token("").is_none());
        assert!(normalize_token("a b").is_none());
        assert!(normalize_token(&"x".repeat(200)).is_none());
        assert!(normalize_token("tok\u{e9}").is_none());
    }
}
