//! Sign-in against the real Subsonic peer, the owner lock, and the per-IP limiter.

use crate::harness::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GENERIC: &str = "Sign-in failed. Check your Navidrome username and password.";

#[tokio::test]
async fn login_with_the_real_peer_sets_a_hardened_cookie() {
    let p = peer();
    let app = spawn_app(Options::with_peer().set("security.secure_cookies", "true")).await;
    let mut b = Browser::new(&app);
    let resp = b.login(&p.user, &p.password).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    assert_eq!(resp.location(), Some("/"));
    let cookie = resp.set_cookie("spotter_token").expect("session cookie");
    let mut attrs: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| {
            a.trim()
                .split('=')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
        .collect();
    attrs.sort();
    assert_eq!(
        attrs,
        vec!["httponly", "max-age", "path", "samesite", "secure"],
        "{cookie}"
    );
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(cookie.contains("Max-Age=86400"), "{cookie}");
    // The pre-session cookie is gone after login (new identity, no fixation).
    assert!(
        resp.set_cookie("spotter_pre")
            .is_some_and(|c| c.contains("Max-Age=0"))
    );

    let home = b.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains(&format!("Welcome, {}", p.user)));
    assert!(
        home.body.contains("Connected"),
        "stored password works for background calls"
    );
}

#[tokio::test]
async fn cookie_without_secure_when_configured_off() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    let resp = b.login(&p.user, &p.password).await;
    let cookie = resp.set_cookie("spotter_token").unwrap();
    assert!(!cookie.to_ascii_lowercase().contains("secure"), "{cookie}");
}

#[tokio::test]
async fn wrong_password_gets_the_generic_message_and_an_audit_row() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    let resp = b.login(&p.user, "not-the-password").await;
    assert_eq!(resp.status, 401);
    assert!(resp.body.contains(GENERIC));
    assert!(resp.set_cookie("spotter_token").is_none());
    assert!(!b.cookies.contains_key("spotter_token"));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'login_failed'"
        )
        .await,
        1
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sessions").await, 0);
    // Unknown user: same message.
    let resp = b.login("nobody-here", "whatever").await;
    assert_eq!(resp.status, 401);
    assert!(resp.body.contains(GENERIC));
}

#[tokio::test]
async fn a_second_account_is_refused() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    Browser::new(&app).login_ok(&p.user, &p.password).await;
    let mut other = Browser::new(&app);
    let resp = other.login(&p.guest_user, &p.guest_password).await;
    assert_eq!(resp.status, 401);
    assert!(resp.body.contains(GENERIC));
    assert!(!other.cookies.contains_key("spotter_token"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'login_refused'"
        )
        .await,
        1
    );
    // The owner can still sign in again.
    Browser::new(&app).login_ok(&p.user, &p.password).await;
}

#[tokio::test]
async fn allowed_users_list_is_enforced() {
    let p = peer();
    let app = spawn_app(Options::with_peer().set("security.allowed_users", &p.guest_user)).await;
    let mut b = Browser::new(&app);
    assert_eq!(b.login(&p.user, &p.password).await.status, 401);
    Browser::new(&app)
        .login_ok(&p.guest_user, &p.guest_password)
        .await;
}

#[tokio::test]
async fn eleventh_attempt_in_a_minute_is_429() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    for i in 0..10 {
        let r = b.login(&p.user, "wrong").await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let r = b.login(&p.user, &p.password).await;
    assert_eq!(r.status, 429);
    assert!(r.headers.get("retry-after").is_some());
    assert!(!b.cookies.contains_key("spotter_token"));
}

#[tokio::test]
async fn spoofed_forwarded_for_from_an_untrusted_peer_does_not_bypass_the_limit() {
    let p = peer();
    // Loopback is not trusted here, so X-Forwarded-For from the test client is ignored.
    let app =
        spawn_app(Options::with_peer().set("security.trusted_proxies", "10.255.0.0/16")).await;
    let mut b = Browser::new(&app);
    for i in 0..10 {
        b.extra_headers.insert(
            "x-forwarded-for",
            format!("198.51.100.{i}").parse().unwrap(),
        );
        assert_eq!(b.login(&p.user, "wrong").await.status, 401, "attempt {i}");
    }
    b.extra_headers
        .insert("x-forwarded-for", "198.51.100.99".parse().unwrap());
    assert_eq!(b.login(&p.user, &p.password).await.status, 429);
    // The audit log recorded the real peer, not the spoofed header.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE client_ip <> '127.0.0.1'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn forwarded_for_from_a_trusted_proxy_is_the_client() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await; // loopback trusted by default
    let mut b = Browser::new(&app);
    b.extra_headers
        .insert("x-forwarded-for", "203.0.113.7".parse().unwrap());
    b.login_ok(&p.user, &p.password).await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM audit_events WHERE kind = 'login_ok' AND client_ip = '203.0.113.7'").await,
        1
    );
}

#[tokio::test]
async fn navidrome_down_says_so_without_blaming_the_password() {
    // A port with nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let app = spawn_app(Options::with_navidrome(&url)).await;
    let mut b = Browser::new(&app);
    let r = b.login("demo", "pw").await;
    assert_eq!(r.status, 503);
    assert!(r.body.contains("Navidrome could not be reached"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 0);
}

#[tokio::test]
async fn navidrome_answering_html_or_5xx_is_not_a_login() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/music/rest/ping"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"))
        .mount(&server)
        .await;
    let app = spawn_app(Options::with_navidrome(&format!("{}/music", server.uri()))).await;
    let r = Browser::new(&app).login("demo", "pw").await;
    assert_eq!(r.status, 503);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sessions").await, 0);
}

#[tokio::test]
async fn ping_uses_token_auth_with_a_fresh_salt() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/nd/rest/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"subsonic-response":{"status":"failed","version":"1.16.1","error":{"code":40,"message":"Wrong username or password"}}}"#,
        ))
        .expect(2)
        .mount(&server)
        .await;
    let app = spawn_app(Options::with_navidrome(&format!("{}/nd/", server.uri()))).await;
    let mut b = Browser::new(&app);
    assert_eq!(b.login("demo", "sesame").await.status, 401);
    assert_eq!(b.login("demo", "sesame").await.status, 401);
    let reqs = server.received_requests().await.unwrap();
    let mut salts = Vec::new();
    for r in &reqs {
        let q: std::collections::HashMap<String, String> =
            r.url.query_pairs().into_owned().collect();
        assert_eq!(q["u"], "demo");
        assert_eq!(q["c"], "spotter");
        assert_eq!(q["f"], "json");
        assert!(q.contains_key("v"));
        assert!(!q.contains_key("p"), "plain password sent");
        let want = {
            use md5::Digest;
            let mut h = md5::Md5::new();
            h.update(format!("sesame{}", q["s"]).as_bytes());
            hex::encode(h.finalize())
        };
        assert_eq!(q["t"], want);
        salts.push(q["s"].clone());
    }
    assert_ne!(salts[0], salts[1], "salt reused");
}

#[tokio::test]
async fn dashboard_reports_a_password_changed_in_navidrome() {
    let server = MockServer::start().await;
    let ok = r#"{"subsonic-response":{"status":"ok","version":"1.16.1"}}"#;
    let wrong = r#"{"subsonic-response":{"status":"failed","version":"1.16.1","error":{"code":40,"message":"Wrong username or password"}}}"#;
    Mock::given(method("GET"))
        .and(path("/rest/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_string(ok))
        .mount(&server)
        .await;
    let app = spawn_app(Options::with_navidrome(&server.uri())).await;
    let mut b = Browser::new(&app);
    b.login_ok("demo", "old-password").await;
    assert!(b.get("/").await.body.contains("Connected"));

    // The password changes in Navidrome; the next check (after the cache) says so.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/rest/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_string(wrong))
        .expect(1)
        .mount(&server)
        .await;
    app.state.core.navidrome_status.clear();
    let page = b.get("/").await;
    assert!(
        page.body.contains("Navidrome refuses the stored password"),
        "{}",
        page.body
    );
    // Cached: a second view does not call Navidrome again (expect(1) above).
    assert!(
        b.get("/")
            .await
            .body
            .contains("refuses the stored password")
    );
}
