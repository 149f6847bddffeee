//! S5/F2: linking Spotify with PKCE against a fake Spotify; refused callbacks; token refresh.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};
use spotter::crypto::registry::{PROVIDER_ACCESS_TOKEN, PROVIDER_REFRESH_TOKEN};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::fakes::*;
use crate::harness::*;

async fn token_calls(f: &Fakes) -> Vec<wiremock::Request> {
    f.spotify
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/api/token")
        .collect()
}

async fn links(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) FROM provider_links").await
}

#[tokio::test]
async fn full_pkce_flow_stores_encrypted_tokens_and_refuses_a_replay() {
    let p = peer();
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;

    let authorize = start_spotify(&mut b).await;
    assert!(
        authorize.starts_with(&format!("{}/authorize?", f.spotify.uri())),
        "{authorize}"
    );
    assert_eq!(
        query_param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(&authorize, "response_type").as_deref(),
        Some("code")
    );
    assert_eq!(
        query_param(&authorize, "client_id").as_deref(),
        Some("spotter-test-client")
    );
    assert_eq!(
        query_param(&authorize, "redirect_uri").unwrap(),
        format!("{}/auth/spotify/callback", app.base)
    );
    let scopes = query_param(&authorize, "scope").unwrap();
    let mut scopes: Vec<&str> = scopes.split(' ').collect();
    scopes.sort_unstable();
    assert_eq!(
        scopes,
        [
            "playlist-read-collaborative",
            "playlist-read-private",
            "user-library-read",
            "user-read-recently-played"
        ]
    );
    let challenge = query_param(&authorize, "code_challenge").unwrap();
    let state = query_param(&authorize, "state").unwrap();
    // The state row holds a hash and an encrypted verifier, never the state itself.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM oauth_states WHERE verifier_enc LIKE 'enc:v2:%'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM oauth_states WHERE state_hash = '{state}'")
        )
        .await,
        0
    );

    mount_code_exchange(
        &f.spotify,
        "auth-code-1",
        "access-tok-1",
        "refresh-tok-1",
        3600,
    )
    .await;
    mount_me(&f.spotify, "access-tok-1", "Test Listener").await;
    let cb = format!("/auth/spotify/callback?code=auth-code-1&state={state}");
    let r = b.get(&cb).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-spotify")
    );

    // The verifier sent to the token endpoint matches the challenge of the redirect.
    let calls = token_calls(&f).await;
    assert_eq!(calls.len(), 1);
    let verifier = form_value(&calls[0].body, "code_verifier").expect("code_verifier sent");
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        challenge
    );
    assert_eq!(
        form_value(&calls[0].body, "client_id").as_deref(),
        Some("spotter-test-client")
    );
    assert!(
        calls[0].headers.get("authorization").is_none(),
        "public client: no Basic auth"
    );
    assert_eq!(
        form_value(&calls[0].body, "code").as_deref(),
        Some("auth-code-1")
    );

    // Stored encrypted, bound to (user, provider).
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_ACCESS_TOKEN, "spotify")
            .await
            .as_deref(),
        Some("access-tok-1")
    );
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_REFRESH_TOKEN, "spotify")
            .await
            .as_deref(),
        Some("refresh-tok-1")
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM oauth_states").await,
        0,
        "state consumed"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'service_linked'"
        )
        .await,
        1
    );

    let page = b.get("/preferences/providers").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Linked as Test Listener."),
        "{}",
        page.body
    );

    // Replaying the same callback is refused before any call to Spotify.
    let before = f.spotify.received_requests().await.unwrap().len();
    let r = b.get(&cb).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=state_invalid")
    );
    assert_eq!(f.spotify.received_requests().await.unwrap().len(), before);
    let page = b.get(r.location().unwrap()).await;
    assert!(
        page.body.contains("does not belong to a link attempt"),
        "{}",
        page.body
    );
    assert_eq!(links(&app).await, 1);
}

#[tokio::test]
async fn confidential_client_sends_basic_auth() {
    let p = peer();
    let f = Fakes::start().await;
    let app = spawn_app(
        f.options()
            .set("spotify.client_secret", "spotify-client-secret-value"),
    )
    .await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    link_spotify(&mut b, &f, "code-c", "access-c", "refresh-c", 3600).await;
    let calls = token_calls(&f).await;
    let auth = calls[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(auth.starts_with("Basic "), "{auth}");
    assert!(
        form_value(&calls[0].body, "code_verifier").is_some(),
        "PKCE even with a secret"
    );
}

#[tokio::test]
async fn refused_callbacks_write_nothing_and_never_reach_spotify() {
    let p = peer();
    let f = Fakes::start().await;
    mount_code_exchange(&f.spotify, "stolen-code", "access-x", "refresh-x", 3600).await;
    mount_me(&f.spotify, "access-x", "Attacker").await;
    let app = spawn_app(f.options()).await;
    let mut victim = Browser::new(&app);
    victim.login_ok(&p.user, &p.password).await;
    let mut other = Browser::new(&app);
    other.login_ok(&p.user, &p.password).await;

    // A state issued to another session.
    let authorize = start_spotify(&mut victim).await;
    let victim_state = query_param(&authorize, "state").unwrap();
    let r = other
        .get(&format!(
            "/auth/spotify/callback?code=stolen-code&state={victim_state}"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=state_invalid")
    );

    // Missing, empty, garbled and unknown states.
    for (query, code) in [
        ("code=stolen-code", "state_missing"),
        ("code=stolen-code&state=", "state_invalid"),
        ("code=stolen-code&state=%ZZ%00%ff", "state_invalid"),
        (
            "code=stolen-code&state=not-a-state-we-issued",
            "state_invalid",
        ),
        ("error=access_denied", "state_missing"),
    ] {
        let r = victim.get(&format!("/auth/spotify/callback?{query}")).await;
        assert_eq!(r.status, 303, "{query}");
        assert_eq!(
            r.location(),
            Some(format!("/preferences/providers?error={code}").as_str()),
            "{query}"
        );
        assert!(r.set_cookie("spotter_token").is_none(), "{query}");
    }
    let too_long = "s".repeat(5000);
    let r = victim
        .get(&format!("/auth/spotify/callback?code=x&state={too_long}"))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=state_invalid")
    );

    // An expired state (moved into the past rather than waiting).
    let authorize = start_spotify(&mut victim).await;
    let expired_state = query_param(&authorize, "state").unwrap();
    sqlx::query("UPDATE oauth_states SET expires_at = expires_at - 601 WHERE state_hash = ?1")
        .bind(hex::encode(Sha256::digest(expired_state.as_bytes())))
        .execute(&app.state.core.db)
        .await
        .unwrap();
    let r = victim
        .get(&format!(
            "/auth/spotify/callback?code=stolen-code&state={expired_state}"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=state_expired")
    );

    // Signed out: refused, and no session cookie appears.
    let mut anon = Browser::new(&app);
    let r = anon
        .get(&format!(
            "/auth/spotify/callback?code=stolen-code&state={victim_state}"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=signed_out")
    );
    assert!(r.set_cookie("spotter_token").is_none());

    assert!(
        token_calls(&f).await.is_empty(),
        "a refused callback reached the token endpoint"
    );
    assert_eq!(links(&app).await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind LIKE 'service_%'"
        )
        .await,
        0
    );

    // The victim's own state was not burnt by the other session's attempt.
    mount_code_exchange(&f.spotify, "good-code", "access-v", "refresh-v", 3600).await;
    mount_me(&f.spotify, "access-v", "Victim").await;
    let r = victim
        .get(&format!(
            "/auth/spotify/callback?code=good-code&state={victim_state}"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-spotify")
    );
    assert_eq!(links(&app).await, 1);
}

#[tokio::test]
async fn denial_and_failed_exchange_store_nothing() {
    let p = peer();
    let f = Fakes::start().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "Invalid authorization code"}),
        ))
        .mount(&f.spotify)
        .await;
    let app = spawn_app(f.options()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;

    let state = query_param(&start_spotify(&mut b).await, "state").unwrap();
    let r = b
        .get(&format!(
            "/auth/spotify/callback?error=access_denied&state={state}"
        ))
        .await;
    assert_eq!(r.location(), Some("/preferences/providers?error=denied"));
    assert!(token_calls(&f).await.is_empty());

    let state = query_param(&start_spotify(&mut b).await, "state").unwrap();
    let r = b
        .get(&format!(
            "/auth/spotify/callback?code=bad-code&state={state}"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=exchange_refused")
    );
    let page = b.get(r.location().unwrap()).await;
    assert!(page.body.contains("Spotify refused to complete the link"));
    assert_eq!(links(&app).await, 0);

    // The token endpoint answering with a redirect is not followed.
    f.spotify.reset().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/elsewhere", f.spotify.uri()).as_str(),
        ))
        .mount(&f.spotify)
        .await;
    let state = query_param(&start_spotify(&mut b).await, "state").unwrap();
    let r = b
        .get(&format!("/auth/spotify/callback?code=c&state={state}"))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=provider_error")
    );
    let paths: Vec<String> = f
        .spotify
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/api/token"], "the redirect was followed");
    assert_eq!(links(&app).await, 0);
}

async fn signed_in_and_linked<'a>(app: &'a TestApp, f: &Fakes, expires_in: u64) -> Browser<'a> {
    let p = peer();
    let mut b = Browser::new(app);
    b.login_ok(&p.user, &p.password).await;
    link_spotify(&mut b, f, "code-r", "access-old", "refresh-1", expires_in).await;
    b
}

async fn test_spotify(b: &mut Browser<'_>) -> Page {
    let csrf = b.csrf().await;
    b.post("/preferences/spotify/test", &[("csrf_token", &csrf)])
        .await
}

fn refresh_mock(refresh_token: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains(
            format!("refresh_token={refresh_token}").as_str(),
        ))
}

#[tokio::test]
async fn a_401_triggers_one_refresh_and_a_retry() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in_and_linked(&app, &f, 3600).await;
    // The old token is now refused.
    f.spotify.reset().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .and(header("authorization", "Bearer access-old"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"status": 401, "message": "The access token expired"}}),
        ))
        .expect(1)
        .mount(&f.spotify)
        .await;
    refresh_mock("refresh-1")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "access-new", "token_type": "Bearer", "expires_in": 3600
        })))
        .expect(1)
        .mount(&f.spotify)
        .await;
    mount_me(&f.spotify, "access-new", "Test Listener").await;

    let r = test_spotify(&mut b).await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-ok&service=spotify#service-spotify"),
        "{}",
        r.body
    );
    f.spotify.verify().await;
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_ACCESS_TOKEN, "spotify")
            .await
            .as_deref(),
        Some("access-new")
    );
    // No rotation offered: the stored refresh token is kept.
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_REFRESH_TOKEN, "spotify")
            .await
            .as_deref(),
        Some("refresh-1")
    );
}

#[tokio::test]
async fn a_second_401_after_refresh_marks_the_link_broken_without_looping() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in_and_linked(&app, &f, 3600).await;
    f.spotify.reset().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&f.spotify)
        .await;
    refresh_mock("refresh-1")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "access-new", "token_type": "Bearer", "expires_in": 3600
        })))
        .expect(1)
        .mount(&f.spotify)
        .await;
    let r = test_spotify(&mut b).await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-failed&service=spotify#service-spotify")
    );
    f.spotify.verify().await;
    let page = b.get("/preferences/providers").await;
    assert!(page.body.contains("broken — re-link"), "{}", page.body);
}

#[tokio::test]
async fn expiring_token_is_refreshed_first_and_a_rotated_refresh_token_is_persisted() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    // expires_in 30 s is inside the refresh margin: the next call refreshes first.
    let mut b = signed_in_and_linked(&app, &f, 30).await;
    f.spotify.reset().await;
    refresh_mock("refresh-1")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "access-2", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "refresh-2"
        })))
        .expect(1)
        .mount(&f.spotify)
        .await;
    mount_me(&f.spotify, "access-2", "Test Listener").await;
    let r = test_spotify(&mut b).await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-ok&service=spotify#service-spotify")
    );
    f.spotify.verify().await;
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_ACCESS_TOKEN, "spotify")
            .await
            .as_deref(),
        Some("access-2")
    );
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_REFRESH_TOKEN, "spotify")
            .await
            .as_deref(),
        Some("refresh-2")
    );
    let expires: i64 = sqlx::query_scalar("SELECT token_expires_at FROM provider_links")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    assert!(expires > spotter::clock::system_now() + 3000);
}

#[tokio::test]
async fn a_5xx_or_429_on_refresh_keeps_the_refresh_token_and_backs_off() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in_and_linked(&app, &f, 30).await;
    let sealed_before: String = sqlx::query_scalar("SELECT refresh_token_enc FROM provider_links")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    f.spotify.reset().await;
    refresh_mock("refresh-1")
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"))
        .expect(1)
        .mount(&f.spotify)
        .await;
    let r = test_spotify(&mut b).await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-failed&service=spotify#service-spotify")
    );
    f.spotify.verify().await;
    let sealed_after: String = sqlx::query_scalar("SELECT refresh_token_enc FROM provider_links")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    assert_eq!(
        sealed_before, sealed_after,
        "the refresh token must be kept on a 5xx"
    );
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_REFRESH_TOKEN, "spotify")
            .await
            .as_deref(),
        Some("refresh-1")
    );
    let (status, until, err): (String, Option<i64>, Option<String>) = sqlx::query_as(
        "SELECT status, backoff_until, last_error FROM link_health WHERE provider = 'spotify'",
    )
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    assert_eq!(status, "backoff");
    assert!(until.unwrap() > spotter::clock::system_now());
    assert_eq!(err.as_deref(), Some("server_error"));
    let page = b.get("/preferences/providers").await;
    assert!(page.body.contains("Backing off until"), "{}", page.body);
    assert!(page.body.contains("The service had a server error."));

    // A 429 with an absurd Retry-After is honoured but capped at an hour.
    f.spotify.reset().await;
    refresh_mock("refresh-1")
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "99999999"))
        .mount(&f.spotify)
        .await;
    test_spotify(&mut b).await;
    let until: i64 =
        sqlx::query_scalar("SELECT backoff_until FROM link_health WHERE provider = 'spotify'")
            .fetch_one(&app.state.core.db)
            .await
            .unwrap();
    assert!(
        until <= spotter::clock::system_now() + 3600 && until > spotter::clock::system_now() + 3000,
        "{until}"
    );
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_REFRESH_TOKEN, "spotify")
            .await
            .as_deref(),
        Some("refresh-1")
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'service_broken'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn invalid_grant_on_refresh_marks_the_link_broken() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in_and_linked(&app, &f, 30).await;
    f.spotify.reset().await;
    refresh_mock("refresh-1")
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "Refresh token revoked"}),
        ))
        .expect(2) // this test, and the manual re-test below
        .mount(&f.spotify)
        .await;
    let r = test_spotify(&mut b).await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-failed&service=spotify#service-spotify")
    );
    let status: String =
        sqlx::query_scalar("SELECT status FROM link_health WHERE provider = 'spotify'")
            .fetch_one(&app.state.core.db)
            .await
            .unwrap();
    assert_eq!(status, "broken");
    let page = b.get("/preferences/providers").await;
    assert!(page.body.contains("broken — re-link"), "{}", page.body);
    assert!(!page.body.contains("Linked as Test Listener."));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'service_broken'"
        )
        .await,
        1
    );
    // Testing again keeps it broken without a second audit row.
    test_spotify(&mut b).await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'service_broken'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn disconnect_deletes_the_tokens() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in_and_linked(&app, &f, 3600).await;
    let csrf = b.csrf().await;
    let r = b
        .post("/preferences/spotify/disconnect", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=unlinked-spotify")
    );
    assert_eq!(links(&app).await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM link_health WHERE provider = 'spotify'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'service_unlinked'"
        )
        .await,
        1
    );
    let page = b.get(r.location().unwrap()).await;
    assert!(page.body.contains("no way to revoke them"), "{}", page.body);
    // Without a CSRF token nothing happens.
    link_spotify(
        &mut b,
        &f,
        "code-again",
        "access-again",
        "refresh-again",
        3600,
    )
    .await;
    let r = b.post("/preferences/spotify/disconnect", &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(links(&app).await, 1);
}

#[tokio::test]
async fn pending_round_trips_per_session_are_bounded_and_die_with_the_session() {
    let p = peer();
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    let mut states = Vec::new();
    for _ in 0..7 {
        states.push(query_param(&start_spotify(&mut b).await, "state").unwrap());
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM oauth_states").await, 4);
    // The oldest were dropped; the newest still completes.
    let r = b
        .get(&format!(
            "/auth/spotify/callback?code=c&state={}",
            states[0]
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=state_invalid")
    );
    mount_code_exchange(&f.spotify, "c", "access-b", "refresh-b", 3600).await;
    mount_me(&f.spotify, "access-b", "Bounded").await;
    let r = b
        .get(&format!(
            "/auth/spotify/callback?code=c&state={}",
            states[6]
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-spotify")
    );
    // Signing out deletes the session row and, with it, every pending round trip.
    let csrf = b.csrf().await;
    assert_eq!(
        b.post("/logout", &[("csrf_token", &csrf)]).await.status,
        303
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM oauth_states").await, 0);
}
