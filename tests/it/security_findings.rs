//! Findings of an outside test, each pinned: the IPv6 /64 limiter and the per-account budget,
//! one status for every refused sign-in, session-only CSRF tokens once signed in, slow clients,
//! shutdown with open event streams, and the pending OAuth round trips under a flood.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fakes::*;
use crate::harness::*;

async fn audit_rows(app: &TestApp, kind: &str) -> i64 {
    count(
        app,
        &format!("SELECT COUNT(*) FROM audit_events WHERE kind = '{kind}'"),
    )
    .await
}

#[tokio::test]
async fn ipv6_clients_are_limited_by_their_slash_64() {
    let p = peer();
    // Loopback is a trusted proxy by default, so X-Forwarded-For names the client.
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    let same_64 = ["2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:1::3"];
    let mut statuses = Vec::new();
    for i in 0..12 {
        b.extra_headers
            .insert("x-forwarded-for", same_64[i % 3].parse().unwrap());
        statuses.push(b.login(&p.user, "wrong").await.status);
    }
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    assert_eq!(&statuses[10..], &[429; 2], "{statuses:?}");
    // A client of another /64 still has its own budget.
    b.extra_headers
        .insert("x-forwarded-for", "2001:db8:1:2::1".parse().unwrap());
    assert_eq!(b.login(&p.user, "wrong").await.status, 401);
}

#[tokio::test]
async fn many_networks_guessing_one_account_hit_its_failure_budget() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    // Two guesses from each of many networks: each stays far below its own limit.
    for i in 0..20 {
        b.extra_headers.insert(
            "x-forwarded-for",
            format!("198.51.100.{}", i / 2).parse().unwrap(),
        );
        assert_eq!(b.login(&p.user, "wrong").await.status, 401, "guess {i}");
    }
    // The account is now paused, for the right password from a fresh network too.
    b.extra_headers
        .insert("x-forwarded-for", "203.0.113.50".parse().unwrap());
    let r = b.login(&p.user, &p.password).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.headers.get("retry-after").is_some());
    assert!(!b.cookies.contains_key("spotter_token"));
    b.extra_headers
        .insert("x-forwarded-for", "203.0.113.51".parse().unwrap());
    assert_eq!(b.login(&p.user, &p.password).await.status, 429);
    // One audit row for the pause, not one per refused guess.
    assert_eq!(audit_rows(&app, "login_account_paused").await, 1);
    // Other accounts are not affected by this account's pause.
    b.extra_headers
        .insert("x-forwarded-for", "203.0.113.52".parse().unwrap());
    assert_eq!(b.login(&p.guest_user, "wrong").await.status, 401);
}

#[tokio::test]
async fn a_refused_account_looks_exactly_like_a_wrong_password() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    Browser::new(&app).login_ok(&p.user, &p.password).await;
    let mut other = Browser::new(&app);
    let right = other.login(&p.guest_user, &p.guest_password).await;
    let wrong = other.login(&p.guest_user, "not-the-password").await;
    assert_eq!(right.status, wrong.status);
    assert_eq!(right.status, 401);
    assert_eq!(right.body, wrong.body);
    assert!(!other.cookies.contains_key("spotter_token"));
}

#[tokio::test]
async fn a_planted_pre_session_token_cannot_act_for_a_signed_in_session() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut victim = Browser::new(&app);
    victim.login_ok(&p.user, &p.password).await;
    Browser::new(&app).login_ok(&p.user, &p.password).await;
    let sessions = || count(&app, "SELECT COUNT(*) FROM sessions");
    assert_eq!(sessions().await, 2);

    // The attacker's own pre-session cookie and its matching token.
    let mut attacker = Browser::new(&app);
    let login_page = attacker.get("/auth/login").await;
    let attacker_token = login_page.csrf();
    let attacker_pre = attacker.cookies["spotter_pre"].clone();

    // Tossed into the victim's browser next to the victim's session cookie.
    victim
        .cookies
        .insert("spotter_pre".to_owned(), attacker_pre);
    let base = app.base.clone();
    for origin in [Some(base.as_str()), None] {
        let r = victim
            .post_with(
                "/preferences/security/sessions/revoke-others",
                &[("csrf_token", &attacker_token)],
                origin,
            )
            .await;
        assert_eq!(r.status, 403, "origin {origin:?}");
        assert_eq!(sessions().await, 2, "origin {origin:?}");
    }
    // The header form of the token is refused the same way.
    victim
        .extra_headers
        .insert("x-csrf-token", attacker_token.parse().unwrap());
    let r = victim
        .post_with("/preferences/security/sessions/revoke-others", &[], None)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(sessions().await, 2);
    victim.extra_headers.clear();
    // The session's own token still works.
    let own = victim.csrf().await;
    let r = victim
        .post(
            "/preferences/security/sessions/revoke-others",
            &[("csrf_token", &own)],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(sessions().await, 1);
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Read until the server closes the connection; what it sent, or `None` past `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&out).into_owned())
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_within_the_request_timeout() {
    let app = spawn_app(Options::with_peer().set("server.request_timeout", "1s")).await;
    // A real pre-session cookie and token, so the request is not refused before its body.
    let mut b = Browser::new(&app);
    let token = b.get("/auth/login").await.csrf();
    let pre = b.cookies["spotter_pre"].clone();
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: {host}\r\nOrigin: {base}\r\nCookie: spotter_pre={pre}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 400\r\n\r\n\
         csrf_token={token}&username=demo&password=abc",
        host = addr(&app),
        base = app.base,
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let answer = read_until_closed(&mut s, Duration::from_secs(10))
        .await
        .expect("a stalled body held the connection open");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn headers_that_never_finish_are_cut_off() {
    let app = spawn_app(Options::with_peer().set("server.request_timeout", "1s")).await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(stall_a_head(&mut s).await < Duration::from_secs(5));
}

/// Send a request head that never finishes; how long until the server closes the connection.
async fn stall_a_head(s: &mut TcpStream) -> Duration {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    read_until_closed(s, Duration::from_secs(10))
        .await
        .expect("stalled headers held the connection open");
    started.elapsed()
}

#[tokio::test]
async fn on_a_kept_alive_connection_each_request_gets_its_own_header_deadline() {
    // Header-read deadlines share one timer per connection: the timer is still armed for an
    // earlier request's deadline when the next request's begins, and must move on to it rather
    // than cut the connection at the old one.
    let app = spawn_app(Options::with_peer().set("server.request_timeout", "3s")).await;
    let mut s = TcpStream::connect(addr(&app)).await.unwrap();
    let get = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    s.write_all(get).await.unwrap();
    assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
    // The next head's deadline is now 3 s away; the next request comes 2 s into it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    s.write_all(get).await.unwrap();
    assert!(read_response(&mut s).await.starts_with("HTTP/1.1 200"));
    // A head that never finishes: cut off 3 s after the last answer, not 1 s after it (where
    // the first request's deadline for the next head was).
    let waited = stall_a_head(&mut s).await;
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    use spotter::http::server::MAX_CONNECTIONS_PER_CLIENT;
    // Nothing trusted: the loopback test client is an ordinary client here.
    let app = spawn_app(Options::with_peer().set("security.trusted_proxies", "")).await;
    // Connections come from 127.0.0.2, so the harness's own pooled connection (from
    // 127.0.0.1) does not count against this address.
    let connect = || async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        socket.connect(addr(&app).parse().unwrap()).await.unwrap()
    };
    let mut held = Vec::new();
    for _ in 0..MAX_CONNECTIONS_PER_CLIENT {
        let mut s = connect().await;
        // A full request and answer proves the server took this connection on.
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_response(&mut s).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        held.push(s);
    }
    let mut extra = connect().await;
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let answer = read_until_closed(&mut extra, Duration::from_secs(5))
        .await
        .expect("the extra connection was kept open");
    assert!(answer.is_empty(), "served past the cap: {answer}");
    // Another request on a held connection is still served.
    held[0]
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_response(&mut held[0]).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Read one whole HTTP/1.1 response with a Content-Length body.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed mid-response");
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if out.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn shutdown_ends_open_event_streams() {
    let p = peer();
    let mut app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    let cookie = format!("spotter_token={}", b.cookies["spotter_token"]);
    let resp = app
        .http
        .get(format!("{}/events", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut resp = resp;
    // The first comment arrives: the stream is open.
    let first = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("connected"));

    let stopped_in = app
        .stop_within(Duration::from_secs(6))
        .await
        .expect("the server waited for the event stream instead of ending it");
    assert!(stopped_in < Duration::from_secs(6));
    // And the stream itself ended.
    let rest = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(_)) = resp.chunk().await {}
    })
    .await;
    assert!(rest.is_ok(), "the event stream stayed open");
}

#[tokio::test]
async fn a_flood_of_link_starts_keeps_pending_states_bounded_and_expiring() {
    let p = peer();
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    for _ in 0..60 {
        start_spotify(&mut b).await;
        start_lastfm(&mut b).await;
    }
    assert_eq!(pending(&app, "spotify").await, 4);
    assert_eq!(pending(&app, "lastfm").await, 4);
    // Once expired, rows are gone at the next start, whoever's they are.
    sqlx::query("UPDATE oauth_states SET expires_at = 0")
        .execute(&app.state.core.db)
        .await
        .unwrap();
    start_spotify(&mut b).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM oauth_states").await, 1);
}

async fn pending(app: &TestApp, provider: &str) -> i64 {
    count(
        app,
        &format!("SELECT COUNT(*) FROM oauth_states WHERE provider = '{provider}'"),
    )
    .await
}
