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
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::http::{
    CallFailure, PROVIDER_BODY_CAP, ServiceHttp, json_capped, read_body_capped, send,
};
use crate::config::SpotifyConfig;
use crate::domain::link_health::{ErrorCode, Failure};
use crate::domain::listen::{self, RemoteListen};
use crate::domain::provider::Service;

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

#[path = "spotify_playlists.rs"]
mod playlists;
pub use playlists::Page;

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
    /// Spotify no longer offers this endpoint to the app or account (a 403 saying Premium is
    /// required, a 404/410 for a removed endpoint).
    #[error("Spotify no longer offers this to the app")]
    CapabilityLost,
    /// The one resource asked for does not exist (any more).
    #[error("Spotify does not know this resource")]
    NotFound,
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
            Self::TokenRequestRefused | Self::BadResponse | Self::NotFound => {
                ErrorCode::BadResponse.into()
            }
            Self::CapabilityLost => ErrorCode::CapabilityLost.into(),
        }
    }
}

impl From<CallFailure> for SpotifyError {
    /// The shared classification; 401 and 403 mean something on the Web API, so `me` reads
    /// them before this.
    fn from(failure: CallFailure) -> Self {
        match failure {
            CallFailure::Unreachable => Self::Unreachable,
            CallFailure::RateLimited { retry_after } => Self::RateLimited { retry_after },
            CallFailure::Server(status) => Self::Server(status),
            CallFailure::Status(_) | CallFailure::Malformed | CallFailure::TooLarge => {
                Self::BadResponse
            }
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
    /// Based on the Web API root, so `me` joins under `/v1/`. Token calls use its client too.
    api: ServiceHttp,
}

impl std::fmt::Debug for SpotifyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.api, f)
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
        Ok(Self {
            oauth,
            api: ServiceHttp::new("SpotifyClient", &config.api_url, timeout)?,
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
        let http = TokenHttp::new(self.api.client().clone());
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
        let http = TokenHttp::new(self.api.client().clone());
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
        let request = self
            .api
            .client()
            .get(self.api.url("me"))
            .bearer_auth(access.expose_secret());
        let resp = send(request).await?;
        let now = crate::clock::system_now();
        if let Some(failure) = CallFailure::from_status(resp.status(), resp.headers(), now) {
            return Err(web_api_error(failure));
        }
        Ok(json_capped::<Profile>(resp, PROVIDER_BODY_CAP).await?)
    }
}

/// One page of `GET /me/player/recently-played`, newest first, and the cursor (ms) to read the
/// page before it (`None` when there is none).
#[derive(Debug, Default)]
pub struct RecentPage {
    pub listens: Vec<RemoteListen>,
    pub before: Option<i64>,
}

#[derive(Deserialize)]
struct RecentBody {
    #[serde(default)]
    items: Vec<PlayHistory>,
    #[serde(default)]
    cursors: Option<RecentCursors>,
}

#[derive(Deserialize)]
struct RecentCursors {
    #[serde(default)]
    before: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct PlayHistory {
    #[serde(default)]
    played_at: Option<String>,
    #[serde(default)]
    track: Option<PlayedTrack>,
}

#[derive(Deserialize)]
struct PlayedTrack {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    duration_ms: Option<i64>,
    #[serde(default)]
    artists: Vec<Named>,
    #[serde(default)]
    album: Option<Named>,
    #[serde(default)]
    external_ids: Option<ExternalIds>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ExternalIds {
    #[serde(default)]
    isrc: Option<String>,
}

impl PlayHistory {
    /// A play we can keep: a time, a track id, a title and an artist.
    fn into_listen(self) -> Option<RemoteListen> {
        let at = time::OffsetDateTime::parse(
            self.played_at.as_deref()?,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()?;
        let ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()?;
        let track = self.track?;
        let id = track.id.filter(|i| !i.is_empty() && i.len() <= 64)?;
        let title = listen::clean(track.name.as_deref().unwrap_or_default());
        let artist = listen::clean(
            &track
                .artists
                .iter()
                .filter_map(|a| a.name.as_deref())
                .collect::<Vec<_>>()
                .join(", "),
        );
        if title.is_empty() || artist.is_empty() {
            return None;
        }
        Some(RemoteListen {
            service: Service::Spotify,
            remote_key: listen::spotify_key(&id, ms),
            played_at: at.unix_timestamp(),
            title,
            artist,
            album: listen::clean(
                track
                    .album
                    .and_then(|a| a.name)
                    .as_deref()
                    .unwrap_or_default(),
            ),
            duration_secs: track.duration_ms.filter(|d| *d > 0).map(|d| d / 1000),
            isrc: listen::clean_id(track.external_ids.and_then(|e| e.isrc).as_deref()),
            recording_mbid: None,
        })
    }
}

impl SpotifyClient {
    /// `GET /me/player/recently-played?limit=50[&before=<ms>]`: one page of plays, newest
    /// first. Spotify keeps only the last 50 or so.
    pub async fn recently_played(
        &self,
        access: &SecretString,
        before_ms: Option<i64>,
    ) -> Result<RecentPage, SpotifyError> {
        let mut url = self.api.url("me/player/recently-played");
        url.query_pairs_mut().append_pair("limit", "50");
        if let Some(before) = before_ms {
            url.query_pairs_mut()
                .append_pair("before", &before.to_string());
        }
        let request = self
            .api
            .client()
            .get(url)
            .bearer_auth(access.expose_secret());
        let resp = send(request).await?;
        let now = crate::clock::system_now();
        if let Some(failure) = CallFailure::from_status(resp.status(), resp.headers(), now) {
            return Err(web_api_error(failure));
        }
        let body: RecentBody = json_capped(resp, PROVIDER_BODY_CAP).await?;
        let before = body.cursors.and_then(|c| c.before).and_then(|v| match v {
            serde_json::Value::String(s) => s.parse::<i64>().ok(),
            serde_json::Value::Number(n) => n.as_i64(),
            _ => None,
        });
        let listens: Vec<RemoteListen> = body
            .items
            .into_iter()
            .filter_map(PlayHistory::into_listen)
            .collect();
        Ok(RecentPage {
            before: before.filter(|_| !listens.is_empty()),
            listens,
        })
    }
}

/// A failed Web API call: 401 and 403 have their own meaning there.
fn web_api_error(failure: CallFailure) -> SpotifyError {
    match failure {
        CallFailure::Status(401) => SpotifyError::Unauthorized,
        CallFailure::Status(403) => SpotifyError::Forbidden,
        other => other.into(),
    }
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
/// whatever its body says); then a body that could not be read; then the OAuth error code.
fn classify_token_error(
    e: &RequestTokenError<
        oauth2::HttpClientError<reqwest::Error>,
        oauth2::basic::BasicErrorResponse,
    >,
    meta: Option<ResponseMeta>,
) -> SpotifyError {
    if let Some(failure) = meta
        .and_then(|m| m.status_failure)
        .filter(|f| matches!(f, CallFailure::RateLimited { .. } | CallFailure::Server(_)))
    {
        return failure.into();
    }
    match e {
        // No answer at all, or one whose body could not be read under the cap.
        RequestTokenError::Request(_) => meta
            .and_then(|m| m.body_failure)
            .map_or(SpotifyError::Unreachable, SpotifyError::from),
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

/// What `oauth2` does not expose about the token endpoint's answer: its status (with any
/// `Retry-After`) and whether its body was readable.
#[derive(Debug, Clone, Copy)]
struct ResponseMeta {
    /// `None` for a 2xx.
    status_failure: Option<CallFailure>,
    /// Set when the body was cut short, timed out or passed the cap.
    body_failure: Option<CallFailure>,
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

    fn set_meta(&self, meta: ResponseMeta) {
        *self
            .meta
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(meta);
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
            let now = crate::clock::system_now();
            let status_failure = CallFailure::from_status(status, resp.headers(), now);
            let mut builder = oauth2::http::Response::builder()
                .status(status)
                .version(resp.version());
            for (k, v) in resp.headers() {
                builder = builder.header(k, v);
            }
            let body = read_body_capped(resp, PROVIDER_BODY_CAP).await;
            self.set_meta(ResponseMeta {
                status_failure,
                body_failure: body.as_ref().err().copied(),
            });
            // The fixed message only: classification reads `body_failure`, not this text.
            let body = body.map_err(|f| oauth2::HttpClientError::Other(f.to_string()))?;
            builder.body(body).map_err(oauth2::HttpClientError::Http)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const SHORT_TIMEOUT: Duration = Duration::from_millis(300);

    /// A fake answering the token endpoint with `token` and `GET /v1/me` with `me`.
    async fn fake(token: ResponseTemplate, me: ResponseTemplate) -> (MockServer, SpotifyClient) {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/token"))
            .respond_with(token)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/me"))
            .respond_with(me)
            .mount(&server)
            .await;
        let url = |p: &str| Url::parse(&format!("{}{p}", server.uri())).unwrap();
        let config = SpotifyConfig {
            client_id: "client".into(),
            client_secret: Some(SecretString::from("secret")),
            redirect_url: url("/auth/spotify/callback"),
            auth_url: url("/authorize"),
            token_url: url("/api/token"),
            api_url: url("/v1"),
        };
        let client = SpotifyClient::new(&config, SHORT_TIMEOUT).unwrap();
        (server, client)
    }

    fn tokens() -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "at", "token_type": "Bearer", "expires_in": 3600
        }))
    }

    fn profile() -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": "ann"}))
    }

    fn slow(template: ResponseTemplate) -> ResponseTemplate {
        template.set_delay(Duration::from_secs(30))
    }

    fn oversized() -> ResponseTemplate {
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_bytes(vec![b' '; PROVIDER_BODY_CAP + 1])
    }

    #[tokio::test]
    async fn refresh_and_me_work_against_the_fake() {
        let (_server, client) = fake(tokens(), profile()).await;
        let tokens = client.refresh(&SecretString::from("rt")).await.unwrap();
        assert_eq!(tokens.access.expose_secret(), "at");
        assert_eq!(client.me(&tokens.access).await.unwrap().id, "ann");
    }

    #[tokio::test]
    async fn web_api_statuses_are_classified() {
        let access = SecretString::from("at");
        for (answer, expected) in [
            (ResponseTemplate::new(401), SpotifyError::Unauthorized),
            (ResponseTemplate::new(403), SpotifyError::Forbidden),
            (ResponseTemplate::new(502), SpotifyError::Server(502)),
            (ResponseTemplate::new(404), SpotifyError::BadResponse),
            (
                ResponseTemplate::new(429).insert_header("Retry-After", "20"),
                SpotifyError::RateLimited {
                    retry_after: Some(Duration::from_secs(20)),
                },
            ),
        ] {
            let (_server, client) = fake(tokens(), answer).await;
            assert_eq!(client.me(&access).await.unwrap_err(), expected);
        }
    }

    #[tokio::test]
    async fn a_slow_web_api_is_unreachable() {
        let (_server, client) = fake(tokens(), slow(profile())).await;
        let started = Instant::now();
        let err = client.me(&SecretString::from("at")).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(err, SpotifyError::Unreachable);
        assert!(err.failure().code.is_retriable());
    }

    #[tokio::test]
    async fn a_slow_token_endpoint_is_unreachable() {
        let (_server, client) = fake(slow(tokens()), profile()).await;
        let started = Instant::now();
        let err = client.refresh(&SecretString::from("rt")).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(err, SpotifyError::Unreachable);
        assert!(err.failure().code.is_retriable());
    }

    #[tokio::test]
    async fn answers_over_the_cap_are_bad_responses() {
        let (_server, client) = fake(oversized(), oversized()).await;
        assert_eq!(
            client.me(&SecretString::from("at")).await.unwrap_err(),
            SpotifyError::BadResponse
        );
        assert_eq!(
            client.refresh(&SecretString::from("rt")).await.unwrap_err(),
            SpotifyError::BadResponse
        );
    }

    #[tokio::test]
    async fn a_rate_limited_token_call_keeps_its_capped_wait() {
        let limited = ResponseTemplate::new(429).insert_header("Retry-After", "86400");
        let (_server, client) = fake(limited, profile()).await;
        assert_eq!(
            client.refresh(&SecretString::from("rt")).await.unwrap_err(),
            SpotifyError::RateLimited {
                retry_after: Some(crate::domain::link_health::MAX_RETRY_AFTER)
            }
        );
    }

    #[tokio::test]
    async fn recently_played_reads_plays_and_the_before_cursor() {
        let (server, client) = fake(tokens(), profile()).await;
        Mock::given(method("GET"))
            .and(path("/v1/me/player/recently-played"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "items": [
                    {"played_at": "2024-01-02T03:04:05.678Z", "track": {
                        "id": "t1", "name": "Song", "duration_ms": 201000,
                        "artists": [{"name": "A"}, {"name": "B"}], "album": {"name": "Al"},
                        "external_ids": {"isrc": "usx1"}}},
                    {"played_at": "not a time", "track": {"id": "t2", "name": "X", "artists": [{"name": "A"}]}},
                    {"track": null}
                ],
                "cursors": {"before": "1704164645678", "after": null}
            })))
            .mount(&server)
            .await;
        let page = client
            .recently_played(&SecretString::from("at"), Some(1))
            .await
            .unwrap();
        assert_eq!(page.before, Some(1_704_164_645_678));
        assert_eq!(page.listens.len(), 1);
        let l = &page.listens[0];
        assert_eq!(l.remote_key, "t1:1704164645678");
        assert_eq!(l.played_at, 1_704_164_645);
        assert_eq!(l.artist, "A, B");
        assert_eq!(l.duration_secs, Some(201));
        assert_eq!(l.isrc.as_deref(), Some("USX1"));
    }

    #[tokio::test]
    async fn recently_played_with_a_truncated_body_is_a_bad_response() {
        let (server, client) = fake(tokens(), profile()).await;
        Mock::given(method("GET"))
            .and(path("/v1/me/player/recently-played"))
            .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"items": [{"played_at"#))
            .mount(&server)
            .await;
        let err = client
            .recently_played(&SecretString::from("at"), None)
            .await
            .unwrap_err();
        assert_eq!(err, SpotifyError::BadResponse);
        assert!(err.failure().code.is_retriable());
    }

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
                status_failure: CallFailure::from_status(
                    reqwest::StatusCode::from_u16(status).unwrap(),
                    &reqwest::header::HeaderMap::new(),
                    0,
                ),
                body_failure: None,
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
