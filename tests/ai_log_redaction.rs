#![allow(clippy::unwrap_used, clippy::expect_used)]
//! S9 for the AI DJ: the settings page (key entered), "Test connection" refused by a provider
//! that echoes the key, and a mixtape generation, logged at TRACE level (every crate), contain
//! neither the environment key nor the one entered in the UI. Its own test binary, because it
//! installs the process-wide subscriber.

#[path = "it/harness.rs"]
mod harness;

use harness::*;
use serde_json::json;
use spotter::config::LogFormat;
use spotter::telemetry::CaptureBuffer;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ENV_KEY: &str = "sk-env-key-AAAA1111bbbb2222cccc";
const UI_KEY: &str = "plainkey-without-prefix-9f8e7d6c5b4a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_log_of_the_ai_features_holds_no_key() {
    let buffer = CaptureBuffer::default();
    spotter::telemetry::init_with("trace,spotter=trace", LogFormat::Text, buffer.clone()).unwrap();

    let llm = MockServer::start().await;
    // The UI key is refused, echoed back in the error text.
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {UI_KEY}").as_str()))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"message": format!("Incorrect API key provided: {UI_KEY}")}}),
        ))
        .mount(&llm)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"message": format!("Incorrect API key provided: {ENV_KEY}")}}),
        ))
        .mount(&llm)
        .await;
    let base = format!("{}/v1", llm.uri());

    // First with the key entered in the UI (no key in the environment).
    let p = peer();
    let app = spawn_app(Options::with_peer().set("openai.base_url", &base)).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.guest_user, &p.guest_password).await;
    let csrf = b.csrf().await;
    let saved = b
        .post(
            "/preferences/ai",
            &[("csrf_token", &csrf), ("api_key", UI_KEY)],
        )
        .await;
    assert_eq!(saved.status, 303);
    let tested = b
        .post("/preferences/ai/test", &[("csrf_token", &csrf)])
        .await;
    assert!(tested.body.contains("Incorrect API key provided"));
    assert!(!tested.body.contains(UI_KEY));
    let dj: i64 = sqlx::query_scalar("SELECT MIN(id) FROM dj_personas")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    let dj = dj.to_string();
    let made = b
        .post(
            "/vibes/mixtapes",
            &[("csrf_token", &csrf), ("name", "Log test"), ("dj_id", &dj)],
        )
        .await;
    let page = made.location().unwrap().to_owned();
    b.post(&format!("{page}/generate"), &[("csrf_token", &csrf)])
        .await;
    spotter::jobs::wait_idle(&app.state.core, spotter::domain::jobs::JobName::Vibes).await;
    let failed = b.get(&page).await;
    assert!(
        failed.body.contains("Incorrect API key provided"),
        "{}",
        failed.body
    );
    assert!(!failed.body.contains(UI_KEY));
    drop(b);
    drop(app);

    // Then with the key from the environment.
    let app = spawn_app(
        Options::with_peer()
            .set("openai.base_url", &base)
            .set("openai.api_key", ENV_KEY),
    )
    .await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.guest_user, &p.guest_password).await;
    let csrf = b.csrf().await;
    let tested = b
        .post("/preferences/ai/test", &[("csrf_token", &csrf)])
        .await;
    assert!(tested.body.contains("Incorrect API key provided"));
    assert!(!tested.body.contains(ENV_KEY));
    drop(b);
    drop(app);

    let log = buffer.contents();
    if let Ok(path) = std::env::var("SPOTTER_DUMP_LOG") {
        std::fs::write(path, &log).unwrap();
    }
    assert!(
        log.contains("AI provider call failed"),
        "expected the app's own events"
    );
    for (what, secret) in [
        ("environment key", ENV_KEY),
        ("UI key", UI_KEY),
        ("encryption key", ENCRYPTION_KEY),
    ] {
        assert!(!log.contains(secret), "the {what} appears in the TRACE log");
    }
}
