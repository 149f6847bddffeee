//! What every outbound client shares: the one client builder (timeouts, User-Agent, rustls, no
//! redirects), base URLs that keep a sub-path, one classification of a failed call, and body
//! reads that stop at a size cap. Each client maps `CallFailure` into its own error type.
//!
//! reqwest's error values are never kept: their text embeds the request URL, which for Subsonic
//! carries the salted token in the query.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use url::Url;

use crate::domain::link_health::{self, MAX_RETRY_AFTER};

pub const USER_AGENT: &str = concat!(
    "Spotter/",
    env!("CARGO_PKG_VERSION"),
    " (+",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);

/// Total timeout of a call to Spotify, Last.fm or ListenBrainz.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest answer read from Spotify, Last.fm or ListenBrainz. Their JSON pages are well under
/// this; anything bigger is a wrong URL or a hostile peer.
pub const PROVIDER_BODY_CAP: usize = 2 * 1024 * 1024;

/// Largest answer read from Navidrome: library pages of up to 500 songs with full metadata.
pub const NAVIDROME_BODY_CAP: usize = 16 * 1024 * 1024;

/// The single outbound client builder.
pub fn http_client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// A service's base URL. Its path always ends in `/`, so API paths join under a sub-path
/// (`http://host/navidrome` and `http://host/navidrome/` behave the same); query and fragment
/// are dropped. `Debug` shows it without credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

impl BaseUrl {
    pub fn new(url: &Url) -> Self {
        let mut base = url.clone();
        base.set_query(None);
        base.set_fragment(None);
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Self(base)
    }

    /// `path` under the base. A leading `/` is ignored, so it never escapes the sub-path (which
    /// `Url::join` would do).
    pub fn join(&self, path: &str) -> Url {
        let mut url = self.0.clone();
        let joined = format!("{}{}", url.path(), path.trim_start_matches('/'));
        url.set_path(&joined);
        url
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The base for logs and `Debug`: no user name, password, query or fragment.
    pub fn redacted(&self) -> String {
        let mut url = self.0.clone();
        // Both only fail for URLs that cannot carry credentials anyway.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.into()
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
    }
}

/// The part of a client that is the same for every service: a name for `Debug`, the shared
/// reqwest client and the base URL. Its `Debug` is the redacting one every client delegates to.
#[derive(Clone)]
pub struct ServiceHttp {
    name: &'static str,
    client: reqwest::Client,
    base: BaseUrl,
}

impl ServiceHttp {
    /// `name` is what `Debug` prints (the client type's name).
    pub fn new(name: &'static str, base: &Url, timeout: Duration) -> reqwest::Result<Self> {
        Ok(Self {
            name,
            client: http_client(timeout)?,
            base: BaseUrl::new(base),
        })
    }

    /// `path` under the base URL.
    pub fn url(&self, path: &str) -> Url {
        self.base.join(path)
    }

    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }
}

impl fmt::Debug for ServiceHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.name).field("base", &self.base).finish()
    }
}

/// Why a call gave no usable answer. The messages are fixed: nothing from the peer or from
/// reqwest (which would include the URL) ends up in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    /// Connection refused, DNS or TLS failure, or a timeout (before or during the body).
    /// Retriable.
    #[error("the service could not be reached")]
    Unreachable,
    /// HTTP 429, with the wait the service asked for (capped). Retriable.
    #[error("the service is rate limiting")]
    RateLimited { retry_after: Option<Duration> },
    /// HTTP 5xx. Retriable.
    #[error("the service answered with a server error (HTTP {0})")]
    Server(u16),
    /// Any other status that is not a success (4xx, or a 3xx since redirects are never
    /// followed): what it means depends on the API, so the caller decides.
    #[error("the service answered with HTTP {0}")]
    Status(u16),
    /// The body is not what the API documents, or the connection dropped mid-body. Retriable.
    #[error("the service gave an unexpected answer")]
    Malformed,
    /// The body is larger than the cap for this service (announced or streamed).
    #[error("the service's answer is too large")]
    TooLarge,
}

impl CallFailure {
    /// Any transport error from `send`. Its text is dropped on purpose.
    pub fn from_send_error(_: reqwest::Error) -> Self {
        Self::Unreachable
    }

    /// The failure a status stands for, or `None` for a success (2xx). `now` (Unix seconds)
    /// turns a `Retry-After` date into a wait.
    pub fn from_status(status: StatusCode, headers: &HeaderMap, now: i64) -> Option<Self> {
        match status.as_u16() {
            200..=299 => None,
            429 => Some(Self::RateLimited {
                retry_after: retry_after(headers, now),
            }),
            code @ 500..=599 => Some(Self::Server(code)),
            code => Some(Self::Status(code)),
        }
    }

    /// Worth trying again later. `Status` is for the caller to judge; a too-large answer will
    /// not shrink by itself.
    pub fn is_retriable(self) -> bool {
        matches!(
            self,
            Self::Unreachable | Self::RateLimited { .. } | Self::Server(_) | Self::Malformed
        )
    }
}

/// Send a request, keeping no part of a transport error.
pub async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, CallFailure> {
    request.send().await.map_err(CallFailure::from_send_error)
}

/// The wait a rate-limited answer asks for: `Retry-After` (seconds or an HTTP date), else
/// ListenBrainz's `X-RateLimit-Reset-In` (seconds). Capped at `MAX_RETRY_AFTER`.
pub fn retry_after(headers: &HeaderMap, now: i64) -> Option<Duration> {
    [
        reqwest::header::RETRY_AFTER.as_str(),
        "x-ratelimit-reset-in",
    ]
    .into_iter()
    .filter_map(|name| headers.get(name)?.to_str().ok())
    .find_map(|value| parse_retry_after(value, now))
}

/// One `Retry-After` value as a wait from `now` (Unix seconds), capped at `MAX_RETRY_AFTER`: a
/// number too large for any integer is absurd rather than unreadable, so it becomes the cap.
/// A date in the past is no wait; anything else unreadable is `None`.
pub fn parse_retry_after(value: &str, now: i64) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && value.parse::<u64>().is_err()
    {
        return Some(MAX_RETRY_AFTER);
    }
    link_health::parse_retry_after(value, now).map(|wait| wait.min(MAX_RETRY_AFTER))
}

/// The body, read chunk by chunk, refused with `TooLarge` as soon as it passes `max_bytes` (or
/// when `Content-Length` announces more), so a hostile or misconfigured peer cannot make us
/// buffer an unbounded answer. A timeout while reading is `Unreachable`; a body cut short is
/// `Malformed`.
pub async fn read_body_capped(
    mut resp: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, CallFailure> {
    let announced = resp.content_length();
    if announced.is_some_and(|len| len > u64::try_from(max_bytes).unwrap_or(u64::MAX)) {
        return Err(CallFailure::TooLarge);
    }
    // The announced length is trusted only up to a small first allocation.
    let first_allocation =
        announced.map_or(0, |len| usize::try_from(len.min(64 * 1024)).unwrap_or(0));
    let mut body = Vec::with_capacity(first_allocation);
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if chunk.len() > max_bytes.saturating_sub(body.len()) {
                    return Err(CallFailure::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(CallFailure::Unreachable),
            Err(_) => return Err(CallFailure::Malformed),
        }
    }
}

/// The body as JSON of type `T`, read under `max_bytes`. Bad JSON is `Malformed`.
pub async fn json_capped<T: DeserializeOwned>(
    resp: reqwest::Response,
    max_bytes: usize,
) -> Result<T, CallFailure> {
    let body = read_body_capped(resp, max_bytes).await?;
    parse_json(&body)
}

/// `body` as JSON of type `T`; anything else is `Malformed`.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, CallFailure> {
    serde_json::from_slice(body).map_err(|_| CallFailure::Malformed)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use reqwest::header::HeaderValue;
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn base_url_joins_with_or_without_trailing_slash_and_keeps_a_sub_path() {
        for base in ["http://h:1/navidrome", "http://h:1/navidrome/"] {
            let b = BaseUrl::new(&url(base));
            assert_eq!(b.as_url().as_str(), "http://h:1/navidrome/");
            assert_eq!(
                b.join("rest/ping").as_str(),
                "http://h:1/navidrome/rest/ping"
            );
            assert_eq!(
                b.join("/rest/ping").as_str(),
                "http://h:1/navidrome/rest/ping"
            );
        }
        for base in ["http://h:1", "http://h:1/"] {
            assert_eq!(
                BaseUrl::new(&url(base)).join("1/validate-token").as_str(),
                "http://h:1/1/validate-token"
            );
        }
        let nested = BaseUrl::new(&url("https://api.example.org/v1"));
        assert_eq!(nested.join("me").as_str(), "https://api.example.org/v1/me");
        assert_eq!(nested.join("").as_str(), "https://api.example.org/v1/");
        let with_query = BaseUrl::new(&url("http://h/music?u=x#frag"));
        assert_eq!(
            with_query.join("rest/ping").as_str(),
            "http://h/music/rest/ping"
        );
    }

    #[test]
    fn debug_shows_no_credentials_or_query() {
        let http = ServiceHttp::new(
            "NavidromeClient",
            &url("http://ann:hunter2@h:1/music?t=secret-token"),
            Duration::from_secs(1),
        )
        .unwrap();
        let shown = format!("{http:?}");
        assert_eq!(shown, r#"NavidromeClient { base: "http://h:1/music/" }"#);
        // The request URL itself keeps the user info (reqwest sends it as basic auth).
        assert_eq!(http.url("rest/ping").username(), "ann");
    }

    #[test]
    fn statuses_are_classified() {
        let none = HeaderMap::new();
        assert_eq!(CallFailure::from_status(StatusCode::OK, &none, 0), None);
        assert_eq!(
            CallFailure::from_status(StatusCode::NO_CONTENT, &none, 0),
            None
        );
        assert_eq!(
            CallFailure::from_status(StatusCode::BAD_GATEWAY, &none, 0),
            Some(CallFailure::Server(502))
        );
        assert_eq!(
            CallFailure::from_status(StatusCode::UNAUTHORIZED, &none, 0),
            Some(CallFailure::Status(401))
        );
        assert_eq!(
            CallFailure::from_status(StatusCode::FOUND, &none, 0),
            Some(CallFailure::Status(302))
        );
        let mut limited = HeaderMap::new();
        limited.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            CallFailure::from_status(StatusCode::TOO_MANY_REQUESTS, &limited, 0),
            Some(CallFailure::RateLimited {
                retry_after: Some(Duration::from_secs(7))
            })
        );
        assert_eq!(
            CallFailure::from_status(StatusCode::TOO_MANY_REQUESTS, &none, 0),
            Some(CallFailure::RateLimited { retry_after: None })
        );
        assert!(CallFailure::Server(503).is_retriable());
        assert!(CallFailure::Unreachable.is_retriable());
        assert!(CallFailure::Malformed.is_retriable());
        assert!(!CallFailure::Status(404).is_retriable());
    }

    // Both header forms are parsed in `domain::link_health` and tested there; this adds the cap.
    #[test]
    fn absurd_retry_after_values_are_capped() {
        let now = 784_111_777;
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("31536000", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after(&u64::MAX.to_string(), now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
    }

    #[test]
    fn retry_after_header_wins_over_listenbrainz_reset_in() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-reset-in", HeaderValue::from_static("30"));
        assert_eq!(retry_after(&headers, 0), Some(Duration::from_secs(30)));
        headers.insert("retry-after", HeaderValue::from_static("5"));
        assert_eq!(retry_after(&headers, 0), Some(Duration::from_secs(5)));
        headers.insert("retry-after", HeaderValue::from_static("garbage"));
        assert_eq!(retry_after(&headers, 0), Some(Duration::from_secs(30)));
        assert_eq!(retry_after(&HeaderMap::new(), 0), None);
    }

    async fn respond(template: ResponseTemplate) -> (MockServer, reqwest::Response) {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(template)
            .mount(&server)
            .await;
        let resp = http_client(Duration::from_secs(5))
            .unwrap()
            .get(server.uri())
            .send()
            .await
            .unwrap();
        (server, resp)
    }

    #[tokio::test]
    async fn bodies_up_to_the_cap_are_read_whole() {
        let (_server, resp) =
            respond(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 1000])).await;
        assert_eq!(read_body_capped(resp, 1000).await.unwrap().len(), 1000);
        let (_server, resp) = respond(ResponseTemplate::new(200).set_body_string("")).await;
        assert!(read_body_capped(resp, 0).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_announced_body_over_the_cap_is_refused() {
        let (_server, resp) =
            respond(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 1001])).await;
        assert_eq!(
            read_body_capped(resp, 1000).await,
            Err(CallFailure::TooLarge)
        );
    }

    #[tokio::test]
    async fn json_is_parsed_under_the_cap() {
        let (_server, resp) =
            respond(ResponseTemplate::new(200).set_body_string(r#"{"n":3}"#)).await;
        let v: serde_json::Value = json_capped(resp, 100).await.unwrap();
        assert_eq!(v["n"], 3);
        let (_server, resp) = respond(ResponseTemplate::new(200).set_body_string("<html>")).await;
        assert_eq!(
            json_capped::<serde_json::Value>(resp, 100).await,
            Err(CallFailure::Malformed)
        );
    }

    /// A one-shot HTTP/1.1 server writing `raw` verbatim after reading the request head, for
    /// what wiremock cannot send: chunked bodies without a length, a lying `Content-Length`, a
    /// connection cut mid-body.
    fn raw_server(raw: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = conn.write_all(&raw);
        });
        format!("http://{addr}/")
    }

    fn chunked(total: usize, chunk: usize) -> Vec<u8> {
        let mut raw =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
        let mut left = total;
        while left > 0 {
            let n = left.min(chunk);
            raw.extend_from_slice(format!("{n:x}\r\n").as_bytes());
            raw.extend(std::iter::repeat_n(b'x', n));
            raw.extend_from_slice(b"\r\n");
            left -= n;
        }
        raw.extend_from_slice(b"0\r\n\r\n");
        raw
    }

    async fn get(uri: &str) -> reqwest::Response {
        http_client(Duration::from_secs(5))
            .unwrap()
            .get(uri)
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_streamed_body_stops_at_the_cap() {
        let resp = get(&raw_server(chunked(300_000, 16 * 1024))).await;
        assert_eq!(resp.content_length(), None);
        assert_eq!(
            read_body_capped(resp, 100_000).await,
            Err(CallFailure::TooLarge)
        );

        let resp = get(&raw_server(chunked(100_000, 16 * 1024))).await;
        assert_eq!(
            read_body_capped(resp, 100_000).await.unwrap().len(),
            100_000
        );
    }

    #[tokio::test]
    async fn a_lying_content_length_is_refused_before_reading() {
        let raw =
            b"HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n{}".to_vec();
        let resp = get(&raw_server(raw)).await;
        assert_eq!(
            read_body_capped(resp, 1024).await,
            Err(CallFailure::TooLarge)
        );
    }

    #[tokio::test]
    async fn a_body_cut_short_is_malformed() {
        let raw =
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"a\":".to_vec();
        let resp = get(&raw_server(raw)).await;
        assert_eq!(
            read_body_capped(resp, 1024).await,
            Err(CallFailure::Malformed)
        );
    }
}
