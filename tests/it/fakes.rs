//! Wiremock stand-ins for Spotify, Last.fm and ListenBrainz, and helpers for the link flows.

use serde_json::json;
use spotter::crypto::FieldRef;
use spotter::crypto::registry::EncryptedColumn;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::*;

pub const LASTFM_KEY: &str = "lfm0a1b2c3d4e5f60718293a4b5c6d7e8";
pub const LASTFM_SECRET: &str = "lfmsecret9f8e7d6c5b4a3928170615243";

pub struct Fakes {
    pub spotify: MockServer,
    pub lastfm: MockServer,
    pub listenbrainz: MockServer,
}

impl Fakes {
    pub async fn start() -> Self {
        Self {
            spotify: MockServer::start().await,
            lastfm: MockServer::start().await,
            listenbrainz: MockServer::start().await,
        }
    }

    /// Spotter pointed at the fakes: Spotify as a public PKCE client, Last.fm and ListenBrainz.
    pub fn options(&self) -> Options {
        self.options_with(Options::with_peer())
    }

    pub fn options_with(&self, o: Options) -> Options {
        let s = self.spotify.uri();
        let l = self.lastfm.uri();
        o.set("spotify.client_id", "spotter-test-client")
            .set("spotify.auth_url", &format!("{s}/authorize"))
            .set("spotify.token_url", &format!("{s}/api/token"))
            .set("spotify.api_url", &format!("{s}/v1"))
            .set("lastfm.api_key", LASTFM_KEY)
            .set("lastfm.shared_secret", LASTFM_SECRET)
            .set("lastfm.auth_url", &format!("{l}/api/auth/"))
            .set("lastfm.api_url", &format!("{l}/2.0/"))
            .set("listenbrainz.api_url", &self.listenbrainz.uri())
    }
}

/// The value of a query parameter of an absolute or relative URL.
pub fn query_param(location: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(location)
        .or_else(|_| url::Url::parse("http://x").unwrap().join(location))
        .ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A form-encoded request body as pairs.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

pub fn form_value(body: &[u8], name: &str) -> Option<String> {
    form_pairs(body)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Decrypt a stored credential of the owner (user 1) in `provider_links`.
pub async fn stored_link_secret(
    app: &TestApp,
    column: &EncryptedColumn,
    provider: &str,
) -> Option<String> {
    let sql = format!(
        "SELECT {} FROM provider_links WHERE user_id = 1 AND provider = '{provider}'",
        column.column
    );
    let stored: Option<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_optional(&app.state.core.db)
        .await
        .unwrap();
    let stored = stored.flatten()?;
    assert!(
        stored.starts_with("enc:v2:"),
        "{} is not sealed: {stored}",
        column.column
    );
    let row_key = format!("1:{provider}");
    let opened = app
        .state
        .core
        .cipher
        .open_secret(
            FieldRef {
                column,
                row_key: &row_key,
            },
            &stored,
        )
        .expect("stored credential decrypts with its row key");
    Some(spotter::crypto::expose(&opened).to_owned())
}

/// Mount the token endpoint's answer for one authorization code.
pub async fn mount_code_exchange(
    mock: &MockServer,
    code: &str,
    access: &str,
    refresh: &str,
    expires_in: u64,
) {
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .and(body_string_contains(format!("code={code}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "refresh_token": refresh,
            "scope": "user-read-recently-played playlist-read-private"
        })))
        .mount(mock)
        .await;
}

pub async fn mount_me(mock: &MockServer, access: &str, display_name: &str) {
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .and(header("authorization", format!("Bearer {access}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "spotify-user-id",
            "display_name": display_name,
            "type": "user"
        })))
        .mount(mock)
        .await;
}

/// Start a Spotify link in `b`; returns the authorize URL Spotter redirected to.
pub async fn start_spotify(b: &mut Browser<'_>) -> String {
    let r = b.get("/auth/spotify/login").await;
    assert_eq!(r.status, 303, "{}", r.body);
    r.location().expect("redirect to Spotify").to_owned()
}

/// Link Spotify end to end with the given tokens.
pub async fn link_spotify(
    b: &mut Browser<'_>,
    f: &Fakes,
    code: &str,
    access: &str,
    refresh: &str,
    expires_in: u64,
) {
    mount_code_exchange(&f.spotify, code, access, refresh, expires_in).await;
    mount_me(&f.spotify, access, "Test Listener").await;
    let authorize = start_spotify(b).await;
    let state = query_param(&authorize, "state").expect("state in the authorize URL");
    let r = b
        .get(&format!("/auth/spotify/callback?code={code}&state={state}"))
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-spotify")
    );
}

/// Start a Last.fm link; returns the nonce carried in the callback URL.
pub async fn start_lastfm(b: &mut Browser<'_>) -> String {
    let r = b.get("/auth/lastfm/login").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location().unwrap().to_owned();
    let cb = query_param(&location, "cb").expect("cb parameter");
    query_param(&cb, "state").expect("nonce in the callback URL")
}

pub async fn mount_lastfm_session(mock: &MockServer, token: &str, name: &str, session_key: &str) {
    Mock::given(method("POST"))
        .and(path("/2.0/"))
        .and(body_string_contains("method=auth.getSession"))
        .and(body_string_contains(format!("token={token}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "session": { "name": name, "key": session_key, "subscriber": 0 }
        })))
        .mount(mock)
        .await;
}

pub async fn mount_lb_validate(mock: &MockServer, token: &str, user: &str) {
    Mock::given(method("GET"))
        .and(path("/1/validate-token"))
        .and(header("authorization", format!("Token {token}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 200, "message": "Token valid.", "valid": true, "user_name": user
        })))
        .mount(mock)
        .await;
}

/// Fakes that answer every provider call with success, whatever the input: a callback that
/// got past the state check would link something.
pub async fn answer_everything(f: &Fakes) {
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "leaked-access", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "leaked-refresh"
        })))
        .mount(&f.spotify)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "x", "display_name": "x"})),
        )
        .mount(&f.spotify)
        .await;
    Mock::given(method("POST"))
        .and(path("/2.0/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "session": {"name": "x", "key": "leaked-session-key", "subscriber": 0}
        })))
        .mount(&f.lastfm)
        .await;
}

/// A distinctive random value, so a match in a file or log cannot be a coincidence.
pub fn secret(label: &str) -> String {
    format!("{label}-{}", spotter::crypto::random_token(18))
}

/// Sign in, link all three services (with a Spotify refresh that rotates the refresh token, a
/// refused replay, and a "Test connection" of each), and return every secret that crossed
/// Spotter: tokens, codes, the PKCE verifier, states and nonces, the session key, the LB token.
pub async fn run_all_flows(
    app: &TestApp,
    f: &Fakes,
    b: &mut Browser<'_>,
) -> Vec<(&'static str, String)> {
    let p = peer();
    b.login_ok(&p.user, &p.password).await;
    let mut secrets: Vec<(&'static str, String)> = Vec::new();

    // Spotify: link, replay, refresh with rotation.
    let (code, access, refresh) = (secret("spcode"), secret("spaccess"), secret("sprefresh"));
    mount_code_exchange(&f.spotify, &code, &access, &refresh, 3600).await;
    mount_me(&f.spotify, &access, "Flow Listener").await;
    let authorize = start_spotify(b).await;
    let state = query_param(&authorize, "state").unwrap();
    let cb = format!("/auth/spotify/callback?code={code}&state={state}");
    assert_eq!(
        b.get(&cb).await.location(),
        Some("/preferences/providers?notice=linked-spotify")
    );
    assert_eq!(
        b.get(&cb).await.location(),
        Some("/preferences/providers?error=state_invalid")
    );
    let verifier = f
        .spotify
        .received_requests()
        .await
        .unwrap()
        .iter()
        .find_map(|r| form_value(&r.body, "code_verifier"))
        .expect("the verifier was sent");
    let (access2, refresh2) = (secret("spaccess2"), secret("sprefresh2"));
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": access2, "token_type": "Bearer", "expires_in": 3600, "refresh_token": refresh2
        })))
        .mount(&f.spotify)
        .await;
    mount_me(&f.spotify, &access2, "Flow Listener").await;
    sqlx::query("UPDATE provider_links SET token_expires_at = 0 WHERE provider = 'spotify'")
        .execute(&app.state.core.db)
        .await
        .unwrap();
    let csrf = b.csrf().await;
    let r = b
        .post("/preferences/spotify/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-ok&service=spotify#service-spotify")
    );
    secrets.extend([
        ("Spotify code", code),
        ("Spotify state", state),
        ("PKCE verifier", verifier),
        ("Spotify access token", access),
        ("Spotify refresh token", refresh),
        ("rotated Spotify access token", access2),
        ("rotated Spotify refresh token", refresh2),
    ]);

    // Last.fm.
    let (token, key) = (secret("lfmtoken"), secret("lfmsession"));
    mount_lastfm_session(&f.lastfm, &token, "flow-listener", &key).await;
    Mock::given(method("POST"))
        .and(path("/2.0/"))
        .and(body_string_contains("method=user.getInfo"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"user": {"name": "flow-listener"}})),
        )
        .mount(&f.lastfm)
        .await;
    let nonce = start_lastfm(b).await;
    let r = b
        .get(&format!(
            "/auth/lastfm/callback?state={nonce}&token={token}"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-lastfm")
    );
    let r = b
        .post("/preferences/lastfm/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-ok&service=lastfm#service-lastfm")
    );
    secrets.extend([
        ("Last.fm nonce", nonce),
        ("Last.fm token", token),
        ("Last.fm session key", key),
    ]);

    // ListenBrainz.
    let lb = secret("lbtoken");
    mount_lb_validate(&f.listenbrainz, &lb, "flow-listener").await;
    let r = b
        .post(
            "/auth/listenbrainz/connect",
            &[("csrf_token", &csrf), ("token", &lb)],
        )
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-listenbrainz")
    );
    let r = b
        .post("/preferences/listenbrainz/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-ok&service=listenbrainz#service-listenbrainz")
    );
    secrets.push(("ListenBrainz token", lb));

    let page = b.get("/preferences/providers").await;
    assert_eq!(page.body.matches("Linked as ").count(), 4, "{}", page.body);
    secrets.push(("Navidrome password", p.password));
    secrets
}
