#![allow(clippy::unwrap_used, clippy::expect_used)]
//! S9: a whole sign-in flow logged at TRACE level (every crate) contains no secret.
//! Its own test binary, because it installs the process-wide subscriber.

#[path = "it/harness.rs"]
mod harness;

use harness::*;
use spotter::config::LogFormat;
use spotter::telemetry::CaptureBuffer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_log_of_a_login_flow_holds_no_secret() {
    let buffer = CaptureBuffer::default();
    spotter::telemetry::init_with("trace,spotter=trace", LogFormat::Text, buffer.clone()).unwrap();

    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    let login_page = b.get("/auth/login").await;
    let pre_csrf = login_page.csrf();
    let pre_cookie = b.cookies["spotter_pre"].clone();
    // A failed attempt first, then the real one, then pages, then logout.
    assert_eq!(b.login(&p.user, "wrong-password-123").await.status, 401);
    b.login_ok(&p.user, &p.password).await;
    let jwt = b.cookies["spotter_token"].clone();
    assert_eq!(b.get("/").await.status, 200);
    let csrf = b.csrf().await;
    // A playlist written to Navidrome and deleted again: those calls carry the salted token in
    // a form body.
    let db = &app.state.core.db;
    let playlist: i64 = sqlx::query_scalar(
        "INSERT INTO playlists (user_id, service, remote_id, name, imported_at)
         VALUES ((SELECT id FROM users LIMIT 1), 'spotify', ?1, ?1, 0) RETURNING id",
    )
    .bind(format!(
        "spotter-log-test-{}",
        spotter::crypto::random_token(8)
    ))
    .fetch_one(db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO playlist_tracks (playlist_id, position, title, artist, title_norm,
                artist_norm, track_id)
         SELECT ?1, 0, title, artist, title_norm, artist_norm, id FROM tracks ORDER BY id LIMIT 1",
    )
    .bind(playlist)
    .execute(db)
    .await
    .unwrap();
    for (path, notice) in [
        (format!("/playlists/{playlist}/sync"), "written-new"),
        (
            format!("/playlists/{playlist}/toggle-sync"),
            "stopped-deleted",
        ),
    ] {
        let r = b
            .post(
                &path,
                &[("csrf_token", &csrf), ("navidrome_action", "delete")],
            )
            .await;
        assert_eq!(r.status, 303);
        assert!(
            r.location().unwrap().ends_with(notice),
            "{:?}",
            r.location()
        );
    }
    assert_eq!(
        b.post("/logout", &[("csrf_token", &csrf)]).await.status,
        303
    );
    drop(app);

    let log = buffer.contents();
    if let Ok(path) = std::env::var("SPOTTER_DUMP_LOG") {
        std::fs::write(path, &log).unwrap();
    }
    assert!(
        log.len() > 2_000,
        "the capture is too small to mean anything:\n{log}"
    );
    assert!(
        log.contains("signed in"),
        "expected the app's own events in the log"
    );
    assert!(
        log.contains("request_id"),
        "expected request spans in the log"
    );

    let secrets = [
        ("navidrome password", p.password.as_str()),
        ("wrong password", "wrong-password-123"),
        ("session JWT", jwt.as_str()),
        ("session CSRF token", csrf.as_str()),
        ("pre-session CSRF token", pre_csrf.as_str()),
        ("pre-session cookie", pre_cookie.as_str()),
        ("encryption key", ENCRYPTION_KEY),
        ("JWT secret", JWT_SECRET),
    ];
    for (what, secret) in secrets {
        assert!(!log.contains(secret), "the {what} appears in the TRACE log");
    }
    // The salted token pair of the Subsonic call.
    let token_pair = regex::Regex::new(r"[?&]t=[0-9a-f]{32}|[?&]s=[A-Za-z0-9_-]{12,}").unwrap();
    assert!(
        !token_pair.is_match(&log),
        "a Subsonic t/s pair appears in the TRACE log"
    );
    let jwt_like = regex::Regex::new(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.").unwrap();
    assert!(!jwt_like.is_match(&log), "a JWT appears in the TRACE log");
}
