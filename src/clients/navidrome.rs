//! Navidrome through the Subsonic API, with token auth: `t = md5(password + salt)` and a fresh
//! random salt on every call. The credentialed URL is never logged or put into an error.

use std::time::Duration;

use md5::{Digest, Md5};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::http::{CallFailure, NAVIDROME_BODY_CAP, ServiceHttp, read_body_capped, send};

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

impl NavidromeError {
    /// A call that failed before a Subsonic answer could be read. `status` is the HTTP status
    /// when the failure is in the body.
    fn from_call(failure: CallFailure, status: u16) -> Self {
        match failure {
            CallFailure::Unreachable => Self::Unreachable,
            CallFailure::RateLimited { .. } => Self::BadResponse { status: 429 },
            CallFailure::Server(status) | CallFailure::Status(status) => {
                Self::BadResponse { status }
            }
            CallFailure::Malformed | CallFailure::TooLarge => Self::BadResponse { status },
        }
    }
}

#[path = "navidrome_playlists.rs"]
mod playlists;
pub use playlists::{Replaced, WriteTransport};

#[path = "navidrome_mixtape.rs"]
mod mixtape;

#[derive(Clone)]
pub struct NavidromeClient {
    /// The base keeps a sub-path, so `rest/<method>` lands under `https://h/music/`.
    http: ServiceHttp,
}

impl std::fmt::Debug for NavidromeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.http, f)
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
        Ok(Self {
            http: ServiceHttp::new("NavidromeClient", base_url, timeout)?,
        })
    }

    /// `<base>/rest/<method>` (no credentials; those go in the query at send time).
    pub fn endpoint(&self, method: &str) -> Url {
        self.http.url(&format!("rest/{method}"))
    }

    /// Check the credentials with `ping`.
    pub async fn ping(&self, creds: &Credentials<'_>) -> Result<(), NavidromeError> {
        let (status, body) = self.call("ping", creds, &[]).await?;
        parse_envelope(status, &body)
    }

    /// One Subsonic call: the HTTP status and the body, read under `NAVIDROME_BODY_CAP`.
    /// Subsonic reports most errors inside a 200 answer, so the status is left to the parser.
    pub(super) async fn call(
        &self,
        method: &str,
        creds: &Credentials<'_>,
        params: &[(&str, &str)],
    ) -> Result<(u16, Vec<u8>), NavidromeError> {
        let salt = crate::crypto::random_token(12);
        let token = subsonic_token(creds.password, &salt);
        let mut query = auth_params(creds, &token, &salt);
        query.extend_from_slice(params);
        // `send` drops reqwest's error, whose text embeds the URL with t and s.
        let request = self.http.client().get(self.endpoint(method)).query(&query);
        exchange(request).await
    }

    /// One Subsonic call as a POST with every parameter (credentials included) in an
    /// `application/x-www-form-urlencoded` body: Navidrome (the OpenSubsonic `formPost`
    /// extension) and the other Subsonic servers accept it, a playlist of thousands of songs
    /// fits, and the URL carries nothing secret.
    pub(super) async fn call_form(
        &self,
        method: &str,
        creds: &Credentials<'_>,
        params: &[(&str, &str)],
    ) -> Result<(u16, Vec<u8>), NavidromeError> {
        let salt = crate::crypto::random_token(12);
        let token = subsonic_token(creds.password, &salt);
        let mut form = auth_params(creds, &token, &salt);
        form.extend_from_slice(params);
        let request = self.http.client().post(self.endpoint(method)).form(&form);
        exchange(request).await
    }
}

/// Send a request and read its answer under the cap.
async fn exchange(request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), NavidromeError> {
    let response = send(request)
        .await
        .map_err(|f| NavidromeError::from_call(f, 0))?;
    let status = response.status().as_u16();
    let body = read_body_capped(response, NAVIDROME_BODY_CAP)
        .await
        .map_err(|f| NavidromeError::from_call(f, status))?;
    Ok((status, body))
}

/// The parameters every Subsonic call carries: user, salted token, API version, client, JSON.
fn auth_params<'a>(
    creds: &Credentials<'a>,
    token: &'a str,
    salt: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("u", creds.username),
        ("t", token),
        ("s", salt),
        ("v", API_VERSION),
        ("c", CLIENT_NAME),
        ("f", "json"),
    ]
}

/// `md5(password + salt)` as lowercase hex.
pub fn subsonic_token(password: &SecretString, salt: &str) -> String {
    let mut h = Md5::new();
    h.update(password.expose_secret().as_bytes());
    h.update(salt.as_bytes());
    hex::encode(h.finalize())
}

pub(super) fn parse_envelope(http_status: u16, body: &[u8]) -> Result<(), NavidromeError> {
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
    use std::time::Instant;

    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const OK: &str = r#"{"subsonic-response":{"status":"ok","version":"1.16.1"}}"#;
    const SHORT_TIMEOUT: Duration = Duration::from_millis(300);

    async fn fake(answer: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/music/rest/ping"))
            .respond_with(answer)
            .mount(&server)
            .await;
        server
    }

    fn client(server: &MockServer, sub_path: &str) -> NavidromeClient {
        let base = Url::parse(&format!("{}{sub_path}", server.uri())).unwrap();
        NavidromeClient::new(&base, SHORT_TIMEOUT).unwrap()
    }

    async fn ping(client: &NavidromeClient) -> Result<(), NavidromeError> {
        let password = SecretString::from("sesame");
        let creds = Credentials {
            username: "ann",
            password: &password,
        };
        client.ping(&creds).await
    }

    #[tokio::test]
    async fn ping_reaches_a_sub_path_with_or_without_slash() {
        let server = fake(ResponseTemplate::new(200).set_body_string(OK)).await;
        for sub_path in ["/music", "/music/"] {
            ping(&client(&server, sub_path)).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_server_slower_than_the_timeout_is_unreachable() {
        let slow = ResponseTemplate::new(200)
            .set_body_string(OK)
            .set_delay(Duration::from_secs(30));
        let server = fake(slow).await;
        let started = Instant::now();
        let err = ping(&client(&server, "/music")).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(err, NavidromeError::Unreachable));
        assert!(err.is_retriable());
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_a_bad_response() {
        let huge = ResponseTemplate::new(200).set_body_bytes(vec![b' '; NAVIDROME_BODY_CAP + 1]);
        let server = fake(huge).await;
        let err = ping(&client(&server, "/music")).await.unwrap_err();
        assert!(matches!(err, NavidromeError::BadResponse { status: 200 }));
    }

    #[test]
    fn display_and_debug_hold_no_secrets() {
        let base = Url::parse("http://ann:pw@h:1/music?t=tok").unwrap();
        let c = NavidromeClient::new(&base, SHORT_TIMEOUT).unwrap();
        assert_eq!(
            format!("{c:?}"),
            r#"NavidromeClient { base: "http://h:1/music/" }"#
        );
        // The request URL keeps the user info: reqwest turns it into basic auth.
        assert_eq!(
            c.endpoint("ping").as_str(),
            "http://ann:pw@h:1/music/rest/ping"
        );
    }

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
