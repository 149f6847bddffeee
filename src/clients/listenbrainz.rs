//! ListenBrainz: the user pastes their user token; it is checked with `/1/validate-token`
//! (`Authorization: Token <token>`). A 429 carries `X-RateLimit-Reset-In` (seconds).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::http::{CallFailure, PROVIDER_BODY_CAP, ServiceHttp, json_capped, send};
use crate::domain::link_health::{ErrorCode, Failure};
use crate::domain::listen::{self, RemoteListen};
use crate::domain::provider::Service;

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

impl From<CallFailure> for ListenbrainzError {
    /// The shared classification; a 4xx other than 429 is for the caller to read first.
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

#[path = "listenbrainz_playlists.rs"]
mod playlists;
pub use playlists::{ListKind, PlaylistList};

#[derive(Clone)]
pub struct ListenbrainzClient {
    http: ServiceHttp,
}

impl std::fmt::Debug for ListenbrainzClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.http, f)
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
        Ok(Self {
            http: ServiceHttp::new("ListenbrainzClient", base_url, timeout)?,
        })
    }

    /// Check a user token; returns the ListenBrainz user name it belongs to.
    pub async fn validate_token(&self, token: &SecretString) -> Result<String, ListenbrainzError> {
        let request = self
            .http
            .client()
            .get(self.http.url("1/validate-token"))
            .header(
                reqwest::header::AUTHORIZATION,
                format!("Token {}", token.expose_secret()),
            );
        let resp = send(request).await?;
        let now = crate::clock::system_now();
        if let Some(failure) = CallFailure::from_status(resp.status(), resp.headers(), now) {
            return Err(match failure {
                CallFailure::Status(400 | 401 | 403) => ListenbrainzError::InvalidToken,
                other => other.into(),
            });
        }
        let v: Validation = json_capped(resp, PROVIDER_BODY_CAP).await?;
        let name = v.user_name.unwrap_or_default();
        let name = name.trim();
        if !v.valid || name.is_empty() {
            return Err(ListenbrainzError::InvalidToken);
        }
        Ok(name.chars().take(128).collect())
    }
}

/// One page of a user's listens, newest first, and the `max_ts` to read the page before it.
#[derive(Debug, Default)]
pub struct ListensPage {
    pub listens: Vec<RemoteListen>,
    pub before: Option<i64>,
}

#[derive(Deserialize)]
struct ListensBody {
    payload: ListensPayload,
}

#[derive(Deserialize)]
struct ListensPayload {
    #[serde(default)]
    listens: Vec<LbListen>,
}

#[derive(Deserialize)]
struct LbListen {
    #[serde(default)]
    listened_at: Option<i64>,
    #[serde(default)]
    recording_msid: Option<String>,
    #[serde(default)]
    track_metadata: Option<TrackMetadata>,
}

#[derive(Deserialize)]
struct TrackMetadata {
    #[serde(default)]
    track_name: Option<String>,
    #[serde(default)]
    artist_name: Option<String>,
    #[serde(default)]
    release_name: Option<String>,
    #[serde(default)]
    additional_info: Option<AdditionalInfo>,
    #[serde(default)]
    mbid_mapping: Option<MbidMapping>,
}

#[derive(Deserialize)]
struct AdditionalInfo {
    #[serde(default)]
    recording_mbid: Option<String>,
    #[serde(default)]
    recording_msid: Option<String>,
    #[serde(default)]
    isrc: Option<String>,
    #[serde(default)]
    duration_ms: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct MbidMapping {
    #[serde(default)]
    recording_mbid: Option<String>,
}

impl LbListen {
    fn into_listen(self) -> Option<RemoteListen> {
        let at = self.listened_at.filter(|t| *t > 0)?;
        let meta = self.track_metadata?;
        let title = listen::clean(meta.track_name.as_deref().unwrap_or_default());
        let artist = listen::clean(meta.artist_name.as_deref().unwrap_or_default());
        if title.is_empty() || artist.is_empty() {
            return None;
        }
        let info = meta.additional_info;
        let msid = self
            .recording_msid
            .or_else(|| info.as_ref().and_then(|i| i.recording_msid.clone()))
            .filter(|m| m.len() <= 64);
        let mbid = meta
            .mbid_mapping
            .and_then(|m| m.recording_mbid)
            .or_else(|| info.as_ref().and_then(|i| i.recording_mbid.clone()));
        let duration_ms = info.as_ref().and_then(|i| match i.duration_ms.as_ref()? {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        Some(RemoteListen {
            service: Service::Listenbrainz,
            remote_key: listen::listenbrainz_key(at, msid.as_deref(), &artist, &title),
            played_at: at,
            album: listen::clean(meta.release_name.as_deref().unwrap_or_default()),
            title,
            artist,
            duration_secs: duration_ms.filter(|d| *d > 0).map(|d| d / 1000),
            isrc: listen::clean_id(info.as_ref().and_then(|i| i.isrc.as_deref())),
            recording_mbid: listen::clean_id(mbid.as_deref()),
        })
    }
}

impl ListenbrainzClient {
    /// `GET /1/user/{name}/listens?count=100[&max_ts=…]`: one page, newest first.
    pub async fn listens(
        &self,
        token: &SecretString,
        user: &str,
        max_ts: Option<i64>,
    ) -> Result<ListensPage, ListenbrainzError> {
        let mut url = self.http.url("1/user/");
        url.path_segments_mut()
            .map_err(|()| ListenbrainzError::BadResponse)?
            .pop_if_empty()
            .push(user)
            .push("listens");
        url.query_pairs_mut().append_pair("count", "100");
        if let Some(max) = max_ts {
            url.query_pairs_mut()
                .append_pair("max_ts", &max.to_string());
        }
        let request = self.http.client().get(url).header(
            reqwest::header::AUTHORIZATION,
            format!("Token {}", token.expose_secret()),
        );
        let resp = send(request).await?;
        let now = crate::clock::system_now();
        if let Some(failure) = CallFailure::from_status(resp.status(), resp.headers(), now) {
            return Err(match failure {
                CallFailure::Status(401 | 403) => ListenbrainzError::InvalidToken,
                other => other.into(),
            });
        }
        let body: ListensBody = json_capped(resp, PROVIDER_BODY_CAP).await?;
        let raw_oldest = body
            .payload
            .listens
            .iter()
            .filter_map(|l| l.listened_at)
            .min();
        let listens: Vec<RemoteListen> = body
            .payload
            .listens
            .into_iter()
            .filter_map(LbListen::into_listen)
            .collect();
        Ok(ListensPage {
            listens,
            before: raw_oldest,
        })
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
    use std::time::Instant;

    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const SHORT_TIMEOUT: Duration = Duration::from_millis(300);

    async fn validate(answer: ResponseTemplate) -> Result<String, ListenbrainzError> {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/1/validate-token"))
            .and(header("authorization", "Token tok-1"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let base = Url::parse(&server.uri()).unwrap();
        let client = ListenbrainzClient::new(&base, SHORT_TIMEOUT).unwrap();
        client.validate_token(&SecretString::from("tok-1")).await
    }

    #[tokio::test]
    async fn a_valid_token_names_its_user() {
        let ok = ResponseTemplate::new(200)
            .set_body_string(r#"{"code":200,"valid":true,"user_name":" ann "}"#);
        assert_eq!(validate(ok).await.unwrap(), "ann");
        let invalid = ResponseTemplate::new(200).set_body_string(r#"{"valid":false}"#);
        assert_eq!(
            validate(invalid).await,
            Err(ListenbrainzError::InvalidToken)
        );
        let refused = ResponseTemplate::new(401).set_body_string(r#"{"code":401}"#);
        assert_eq!(
            validate(refused).await,
            Err(ListenbrainzError::InvalidToken)
        );
    }

    #[tokio::test]
    async fn rate_limits_and_server_errors_are_retriable() {
        let limited = ResponseTemplate::new(429).insert_header("X-RateLimit-Reset-In", "12");
        assert_eq!(
            validate(limited).await,
            Err(ListenbrainzError::RateLimited {
                retry_after: Some(Duration::from_secs(12))
            })
        );
        let absurd = ResponseTemplate::new(429).insert_header("X-RateLimit-Reset-In", "999999999");
        assert_eq!(
            validate(absurd).await,
            Err(ListenbrainzError::RateLimited {
                retry_after: Some(crate::domain::link_health::MAX_RETRY_AFTER)
            })
        );
        assert_eq!(
            validate(ResponseTemplate::new(503)).await,
            Err(ListenbrainzError::Server(503))
        );
        assert!(ListenbrainzError::Server(503).failure().code.is_retriable());
    }

    #[tokio::test]
    async fn a_server_slower_than_the_timeout_is_unreachable() {
        let slow = ResponseTemplate::new(200)
            .set_body_string(r#"{"valid":true,"user_name":"ann"}"#)
            .set_delay(Duration::from_secs(30));
        let started = Instant::now();
        let err = validate(slow).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(err, ListenbrainzError::Unreachable);
        assert!(err.failure().code.is_retriable());
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_a_bad_response() {
        let huge = ResponseTemplate::new(200).set_body_bytes(vec![b' '; PROVIDER_BODY_CAP + 1]);
        assert_eq!(validate(huge).await, Err(ListenbrainzError::BadResponse));
        let garbled = ResponseTemplate::new(200).set_body_string("<html>");
        assert_eq!(validate(garbled).await, Err(ListenbrainzError::BadResponse));
    }

    #[test]
    fn token_shapes() {
        assert!(normalize_token("  8c2a-11ef-aaaa  ").is_some());
        assert!(normalize_token("").is_none());
        assert!(normalize_token("a b").is_none());
        assert!(normalize_token(&"x".repeat(200)).is_none());
        assert!(normalize_token("tok\u{e9}").is_none());
    }
}

#[cfg(test)]
mod listens_tests {
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    #[tokio::test]
    async fn a_page_is_read_with_the_mapping_and_the_cursor() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/1/user/ann%20b/listens"))
            .and(query_param("count", "100"))
            .and(query_param("max_ts", "99"))
            .and(header("authorization", "Token tok"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "payload": {"listens": [
                    {"listened_at": 50, "recording_msid": "m-1", "track_metadata": {
                        "track_name": "T", "artist_name": "A", "release_name": "R",
                        "additional_info": {"duration_ms": 180000, "isrc": "usx1"},
                        "mbid_mapping": {"recording_mbid": "AB-CD"}}},
                    {"listened_at": 40, "track_metadata": {"track_name": "", "artist_name": "A"}}
                ]}
            })))
            .mount(&server)
            .await;
        let client =
            ListenbrainzClient::new(&Url::parse(&server.uri()).unwrap(), Duration::from_secs(2))
                .unwrap();
        let page = client
            .listens(&SecretString::from("tok"), "ann b", Some(99))
            .await
            .unwrap();
        assert_eq!(page.listens.len(), 1);
        assert_eq!(page.before, Some(40));
        let l = &page.listens[0];
        assert_eq!(l.remote_key, "50:m-1");
        assert_eq!(l.duration_secs, Some(180));
        assert_eq!(l.isrc.as_deref(), Some("USX1"));
        assert_eq!(l.recording_mbid.as_deref(), Some("ab-cd"));
    }
}
