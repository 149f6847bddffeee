//! S9 for linked services: every link flow (Spotify PKCE with refresh and rotation, Last.fm web
//! auth, ListenBrainz token), plus refused and failing calls, logged at TRACE level (every
//! crate, wiremock and hyper included), contains no token, code, verifier, state, nonce,
//! session key or client secret. Its own test binary: it installs the process-wide subscriber.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "it/harness.rs"]
mod harness;

#[path = "it/fakes.rs"]
#[allow(dead_code)]
mod fakes;

use fakes::*;
use harness::*;
use serde_json::json;
use spotter::config::LogFormat;
use spotter::telemetry::CaptureBuffer;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

const SPOTIFY_SECRET: &str = "spotify-client-secret-0a9b8c7d6e5f";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_log_of_every_link_flow_holds_no_secret() {
    let buffer = CaptureBuffer::default();
    spotter::telemetry::init_with("trace,spotter=trace", LogFormat::Text, buffer.clone()).unwrap();

    let f = Fakes::start().await;
    let app = spawn_app(f.options().set("spotify.client_secret", SPOTIFY_SECRET)).await;
    let mut b = Browser::new(&app);
    let mut secrets = run_all_flows(&app, &f, &mut b).await;
    secrets.push(("Spotify client secret", SPOTIFY_SECRET.to_owned()));
    secrets.push(("Last.fm shared secret", LASTFM_SECRET.to_owned()));
    let csrf = b.csrf().await;

    // Failures log too: a refresh that fails, a refused Spotify code, a broken Last.fm session,
    // an invalid ListenBrainz token.
    f.spotify.reset().await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .respond_with(ResponseTemplate::new(502).set_body_string("upstream trouble"))
        .mount(&f.spotify)
        .await;
    sqlx::query("UPDATE provider_links SET token_expires_at = 0 WHERE provider = 'spotify'")
        .execute(&app.state.core.db)
        .await
        .unwrap();
    let r = b
        .post("/preferences/spotify/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-failed&service=spotify#service-spotify")
    );
    let bad_code = secret("spbadcode");
    let state = query_param(&start_spotify(&mut b).await, "state").unwrap();
    let r = b
        .get(&format!(
            "/auth/spotify/callback?code={bad_code}&state={state}"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=provider_error")
    );
    let r = b
        .get(&format!(
            "/auth/spotify/callback?code={bad_code}&state={state}"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=state_invalid")
    );
    secrets.push(("refused Spotify code", bad_code));
    secrets.push(("second Spotify state", state));

    f.lastfm.reset().await;
    Mock::given(method("POST"))
        .and(path("/2.0/"))
        .and(body_string_contains("method=user.getInfo"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error": 9, "message": "Invalid session key"})),
        )
        .mount(&f.lastfm)
        .await;
    let r = b
        .post("/preferences/lastfm/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-failed&service=lastfm#service-lastfm")
    );

    f.listenbrainz.reset().await;
    Mock::given(method("GET"))
        .and(path("/1/validate-token"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"code": 401, "error": "Invalid authorization token."})),
        )
        .mount(&f.listenbrainz)
        .await;
    let wrong_lb = secret("lbwrong");
    let r = b
        .post(
            "/auth/listenbrainz/connect",
            &[("csrf_token", &csrf), ("token", &wrong_lb)],
        )
        .await;
    assert_eq!(r.status, 400);
    secrets.push(("refused ListenBrainz token", wrong_lb));
    drop(app);

    let log = buffer.contents();
    if let Ok(path) = std::env::var("SPOTTER_DUMP_LOG") {
        std::fs::write(path, &log).unwrap();
    }
    for expected in [
        "service linked",
        "renewed Spotify access refresh_rotated=true",
        "renewing Spotify access failed",
        "link callback refused",
        "service call failed",
        "ListenBrainz token not accepted",
    ] {
        assert!(
            log.contains(expected),
            "expected {expected:?} in the TRACE log"
        );
    }
    assert!(
        log.len() > 10_000,
        "the capture is too small to mean anything"
    );
    // Nothing of ours needed masking: the redactor is the second line of defence, not the first.
    assert!(
        !log.contains("[REDACTED]"),
        "something secret-looking reached the log"
    );
    for (what, value) in &secrets {
        assert!(
            !log.contains(value.as_str()),
            "the {what} appears in the TRACE log"
        );
    }
}
