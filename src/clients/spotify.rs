//! Spotify: authorization code with PKCE (S256) through the `oauth2` crate, token refresh, and
//! the Web API. Token calls go through `http_client` (no redirects). Tokens, codes and
//! verifiers stay `SecretString`s and never reach an error value or a log line.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::http_client;
use crate::config::SpotifyConfig;
use crate::domain::link_health::{ErrorCode, Failure, parse_retry_after};

/// The scopes Spotter asks for, each with the feature that needs it. Nothing that writes.
/// `GET /v1/me` returns `id` and `display_name` without any scope (`user-read-private` only adds
/// country and subscription level, `user-read-email` the e-mail: neither is requested).
pub const SCOPES: &[(&str, &str)] = &[
    ("user-read-recently-played", "listening history sync"),
    ("playlist-read-private", "import of your private playlists"),
    (
        "playlist-read-collaborative",
        "import of collaborative playlists you joined",
    ),
    ("user-library-read", "import of your Liked Songs"),
];

type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum SpotifyError {
    /// The refresh token (or, on a callback, the code) was refused: `invalid_grant`.
    #[error("Spotify refused the grant")]
    InvalidGrant,
    /// `invalid_client` / `unauthorized_client`: the server's client id or secret is wrong.
    #[error("Spotify refused the client credentials")]
    ClientRejected,
    /// Another OAuth error answer (`invalid_request`, …).
    #[error("Spotify refused the token request")]
    TokenRequestRefused,
    /// The access token is refused by the Web API (HTTP 401).
    #[error("Spotify refused the access token")]
    Unauthorized,
    /// HTTP 403 from the Web API: typically a development-mode app and a user not allow-listed.
    #[error("Spotify refused the account")]
    Forbidden,
    #[error("Spotify is rate limiting")]
    RateLimited { retry_after: Option<Duration> },
    #[error("Spotify answered with a server error (HTTP {0})")]
    Server(u16),
    #[error("Spotify could not be reached")]
    Unreachable,
    #[error("Spotify gave an unexpected answer")]
    BadResponse,
}

impl SpotifyError {
    /// The one classification (F11). `InvalidGrant` means broken only for a refresh; the
    /// callback treats a refused code as a refused callback instead.
    pub fn failure(self) -> Failure {
        match self {
            Self::InvalidGrant => ErrorCode::InvalidGrant.into(),
            Self::ClientRejected => ErrorCode::ClientRejected.into(),
            Self::Unauthorized => ErrorCode::TokenRejected.into(),
            Self::Forbidden => ErrorCode::AccountNotAllowed.into(),
            Self::RateLimited { retry_after } => Failure::rate_limited(retry_after),
            Self::Server(_) => ErrorCode::ServerError.into(),
            Self::Unreachable => ErrorCode::Unreachable.into(),
            Self::TokenRequestRefused | Self::BadResponse => ErrorCode::BadResponse.into(),
        }
    }
}

/// What the browser is sent to, and what the server keeps for the callback.
pub struct Authorization {
    pub url: Url,
    pub state: SecretString,
    pub verifier: SecretString,
}

/// Tokens from the token endpoint.
pub struct Tokens {
    pub access: SecretString,
    /// Spotify may rotate the refresh token; `None` means "keep the one you have".
    pub refresh: Option<SecretString>,
    pub expires_in: Option<Duration>,
    pub scopes: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access", &"[REDACTED]")
            .field("refresh", &self.refresh.as_ref().map(|_| "[REDACTED]"))
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

impl Profile {
    /// What the providers page shows: the display name, else the user id.
    pub fn name(&self) -> String {
        let name = self
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.id);
        name.chars().take(128).collect()
    }
}

#[derive(Clone)]
pub struct SpotifyClient {
    oauth: OAuthClient,
    http: reqwest::Client,
    /// Always ends in `/`, so `me` joins under `/v1/`.
    api: Url,
}

impl std::fmt::Debug for SpotifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpotifyClient")
            .field("api", &self.api.as_str())
            .finish()
    }
}

impl SpotifyClient {
    pub fn new(config: &SpotifyConfig, timeout: Duration) -> anyhow::Result<Self> {
        let mut oauth = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(config.auth_url.clone()))
            .set_token_uri(TokenUrl::from_url(config.token_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(config.redirect_url.clone()));
        if let Some(secret) = &config.client_secret {
            oauth = oauth.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()));
        }
        let mut api = config.api_url.clone();
        if !api.path().ends_with('/') {
            let p = format!("{}/", api.path());
            api.set_path(&p);
        }
        Ok(Self {
            oauth,
            http: http_client(timeout)?,
            api,
        })
    }

    /// A fresh authorization request: random `state`, PKCE S256 challenge, our scopes.
    pub fn authorize(&self) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .oauth
            .authorize_url(CsrfToken::new_random)
            .add_scopes(SCOPES.iter().map(|(s, _)| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge)
            .url();
        Authorization {
            url,
            state: SecretString::from(state.secret().clone()),
            verifier: SecretString::from(verifier.secret().clone()),
        }
    }

    /// Exchange an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        code: &SecretString,
        verifier: &SecretString,
    ) -> Result<Tokens, SpotifyError> {
        let http = TokenHttp::new(self.http.clone());
        let result = self
            .oauth
            .exchange_code(AuthorizationCode::new(code.expose_secret().to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.expose_secret().to_owned()))
            .request_async(&http)
            .await;
        finish_token_call(result, http.meta())
    }

    /// Use the refresh token. A rotated refresh token comes back in `Tokens::refresh`.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Tokens, SpotifyError> {
        let http = TokenHttp::new(self.http.clone());
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let result = self
            .oauth
            .exchange_refresh_token(&token)
            .request_async(&http)
            .await;
        finish_token_call(result, http.meta())
    }

    /// `GET /me`: the account id and display name (needs no scope).
    pub async fn me(&self, access: &SecretString) -> Result<Profile, SpotifyError> {
        let url = self.api.join("me").map_err(|_| SpotifyError::BadResponse)?;
        let resp = self
            .http
            .get(url)
            .bearer_auth(access.expose_secret())
            .send()
            .await
            .map_err(|_| SpotifyError::Unreachable)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(api_error(status, resp.headers()));
        }
        let bytes = resp.bytes().await.map_err(|_| SpotifyError::Unreachable)?;
        serde_json::from_slice::<Profile>(&bytes).map_err(|_| SpotifyError::BadResponse)
    }
}

fn api_error(status: StatusCode, headers: &reqwest::header::HeaderMap) -> SpotifyError {
    match status.as_u16() {
        401 => SpotifyError::Unauthorized,
        403 => SpotifyError::Forbidden,
        429 => SpotifyError::RateLimited {
            retry_after: retry_after(headers),
        },
        s @ 500..=599 => SpotifyError::Server(s),
        _ => SpotifyError::BadResponse,
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, crate::clock::system_now()))
}

type TokenResult = Result<
    BasicTokenResponse,
    RequestTokenError<oauth2::HttpClientError<reqwest::Error>, oauth2::basic::BasicErrorResponse>,
>;

fn finish_token_call(
    result: TokenResult,
    meta: Option<ResponseMeta>,
) -> Result<Tokens, SpotifyError> {
    match result {
        Ok(tok) => {
            let access = tok.access_token().secret();
            if access.is_empty() {
                return Err(SpotifyError::BadResponse);
            }
            Ok(Tokens {
                access: SecretString::from(access.clone()),
                refresh: tok
                    .refresh_token()
                    .map(|r| r.secret())
                    .filter(|r| !r.is_empty())
                    .map(|r| SecretString::from(r.clone())),
                expires_in: tok.expires_in(),
                scopes: tok
                    .scopes()
                    .map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")),
            })
        }
        Err(e) => Err(classify_token_error(&e, meta)),
    }
}

/// Classify a token-endpoint failure. The status comes first (a 5xx or 429 is transient
/// whatever its body says); then the OAuth error code.
fn classify_token_error(
    e: &RequestTokenError<
        oauth2::HttpClientError<reqwest::Error>,
        oauth2::basic::BasicErrorResponse,
    >,
    meta: Option<ResponseMeta>,
) -> SpotifyError {
    if let RequestTokenError::Request(_) = e {
        return SpotifyError::Unreachable;
    }
    if let Some(m) = meta {
        match m.status {
            429 => {
                return SpotifyError::RateLimited {
                    retry_after: m.retry_after,
                };
            }
            s @ 500..=599 => return SpotifyError::Server(s),
            _ => {}
        }
    }
    match e {
        RequestTokenError::ServerResponse(r) => match r.error() {
            BasicErrorResponseType::InvalidGrant => SpotifyError::InvalidGrant,
            BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => {
                SpotifyError::ClientRejected
            }
            _ => SpotifyError::TokenRequestRefused,
        },
        // Unparseable bodies, redirects (never followed) and empty answers.
        _ => SpotifyError::BadResponse,
    }
}

/// Status and `Retry-After` of the token endpoint's answer, which `oauth2` does not expose.
#[derive(Debug, Clone, Copy)]
struct ResponseMeta {
    status: u16,
    retry_after: Option<Duration>,
}

/// `oauth2::AsyncHttpClient` over a reqwest 0.13 client built by `http_client` (no redirects),
/// remembering the response status for classification. One per token call.
struct TokenHttp {
    client: reqwest::Client,
    meta: Mutex<Option<ResponseMeta>>,
}

impl TokenHttp {
    fn new(client: reqwest::Client) -> Self {
        Self {
            client,
            meta: Mutex::new(None),
        }
    }

    fn meta(&self) -> Option<ResponseMeta> {
        *self
            .meta
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for TokenHttp {
    type Error = oauth2::HttpClientError<reqwest::Error>;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let resp = self.client.execute(request).await.map_err(Box::new)?;
            let status = resp.status();
            {
                let mut meta = self
                    .meta
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *meta = Some(ResponseMeta {
                    status: status.as_u16(),
                    retry_after: retry_after(resp.headers()),
                });
            }
            let mut builder = oauth2::http::Response::builder()
                .status(status)
                .version(resp.version());
            for (k, v) in resp.headers() {
                builder = builder.header(k, v);
            }
            let body = resp.bytes().await.map_err(Box::new)?;
            builder
                .body(body.to_vec())
                .map_err(oauth2::HttpClientError::Http)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_read_only() {
        for (scope, why) in SCOPES {
            assert!(
                !scope.contains("modify") && !scope.contains("write"),
                "{scope}"
            );
            assert!(!why.is_empty());
        }
        assert!(
            !SCOPES
                .iter()
                .any(|(s, _)| *s == "user-read-private" || *s == "user-read-email")
        );
    }

    #[test]
    fn profile_name_falls_back_to_id() {
        let p = Profile {
            id: "abc".into(),
            display_name: Some("  ".into()),
        };
        assert_eq!(p.name(), "abc");
        let p = Profile {
            id: "abc".into(),
            display_name: Some("Ann".into()),
        };
        assert_eq!(p.name(), "Ann");
    }

    #[test]
    fn token_failures_are_classified_by_status_first() {
        let other: RequestTokenError<
            oauth2::HttpClientError<reqwest::Error>,
            oauth2::basic::BasicErrorResponse,
        > = RequestTokenError::Other("empty".into());
        let meta = |status| {
            Some(ResponseMeta {
                status,
                retry_after: None,
            })
        };
        assert_eq!(
            classify_token_error(&other, meta(502)),
            SpotifyError::Server(502)
        );
        assert_eq!(
            classify_token_error(&other, meta(429)),
            SpotifyError::RateLimited { retry_after: None }
        );
        assert_eq!(
            classify_token_error(&other, meta(302)),
            SpotifyError::BadResponse
        );
        let invalid_grant =
            RequestTokenError::ServerResponse(oauth2::basic::BasicErrorResponse::new(
                BasicErrorResponseType::InvalidGrant,
                None,
                None,
            ));
        assert_eq!(
            classify_token_error(&invalid_grant, meta(400)),
            SpotifyError::InvalidGrant
        );
        assert_eq!(
            classify_token_error(&invalid_grant, meta(503)),
            SpotifyError::Server(503)
        );
        assert_eq!(
            SpotifyError::InvalidGrant.failure().code,
            ErrorCode::InvalidGrant
        );
        assert!(SpotifyError::Server(502).failure().code.is_retriable());
        assert!(SpotifyError::Unreachable.failure().code.is_retriable());
    }
}
