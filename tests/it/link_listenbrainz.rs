//! F4: ListenBrainz linked with a pasted token, validated first; 429 honours X-RateLimit-Reset-In.

use serde_json::json;
use spotter::crypto::registry::PROVIDER_ACCESS_TOKEN;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::fakes::*;
use crate::harness::*;

const TOKEN: &str = "8c3d7e2a-1b4f-4c6d-9e8f-0a1b2c3d4e5f";

async fn signed_in(app: &TestApp) -> Browser<'_> {
    let p = peer();
    let mut b = Browser::new(app);
    b.login_ok(&p.user, &p.password).await;
    b
}

async fn connect(b: &mut Browser<'_>, token: &str) -> Page {
    let form = b.get("/auth/listenbrainz/connect").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains(r#"name="token""#));
    let csrf = form.csrf();
    b.post(
        "/auth/listenbrainz/connect",
        &[("csrf_token", &csrf), ("token", token)],
    )
    .await
}

#[tokio::test]
async fn a_valid_token_is_stored_encrypted_with_the_user_name() {
    let f = Fakes::start().await;
    mount_lb_validate(&f.listenbrainz, TOKEN, "lb-listener").await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    let r = connect(&mut b, &format!("  {TOKEN}\n")).await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-listenbrainz"),
        "{}",
        r.body
    );
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_ACCESS_TOKEN, "listenbrainz")
            .await
            .as_deref(),
        Some(TOKEN)
    );
    let page = b.get("/preferences/providers").await;
    assert!(
        page.body.contains("Linked as lb-listener."),
        "{}",
        page.body
    );
    assert!(!page.body.contains(TOKEN));
    let csrf = page.csrf();
    let r = b
        .post("/preferences/listenbrainz/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-ok&service=listenbrainz#service-listenbrainz")
    );
    let r = b
        .post(
            "/preferences/listenbrainz/disconnect",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=unlinked-listenbrainz")
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_links").await, 0);
}

#[tokio::test]
async fn an_invalid_token_gets_a_clear_message_and_nothing_is_stored() {
    let f = Fakes::start().await;
    Mock::given(method("GET"))
        .and(path("/1/validate-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 200, "message": "Token invalid.", "valid": false
        })))
        .expect(1)
        .mount(&f.listenbrainz)
        .await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    let r = connect(&mut b, "0000-not-a-real-token").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("ListenBrainz does not accept this token"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("0000-not-a-real-token"),
        "the token is not echoed back"
    );
    // Malformed input never reaches ListenBrainz.
    for bad in ["", "two words", &"x".repeat(300)] {
        let r = connect(&mut b, bad).await;
        assert_eq!(r.status, 400, "{bad:?}");
        assert!(
            r.body
                .contains("does not look like a ListenBrainz user token")
        );
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_links").await, 0);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'service_linked'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn rate_limits_honour_x_ratelimit_reset_in() {
    let f = Fakes::start().await;
    Mock::given(method("GET"))
        .and(path("/1/validate-token"))
        .respond_with(ResponseTemplate::new(429).insert_header("x-ratelimit-reset-in", "17"))
        .up_to_n_times(1)
        .mount(&f.listenbrainz)
        .await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    let r = connect(&mut b, TOKEN).await;
    assert_eq!(r.status, 429);
    assert!(r.body.contains("try again in 17 seconds"), "{}", r.body);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_links").await, 0);

    // Linked, then rate limited on a test: backoff until now + 17 s.
    mount_lb_validate(&f.listenbrainz, TOKEN, "lb-listener").await;
    assert_eq!(connect(&mut b, TOKEN).await.status, 303);
    f.listenbrainz.reset().await;
    Mock::given(method("GET"))
        .and(path("/1/validate-token"))
        .respond_with(ResponseTemplate::new(429).insert_header("x-ratelimit-reset-in", "17"))
        .mount(&f.listenbrainz)
        .await;
    let csrf = b.csrf().await;
    let before = spotter::clock::system_now();
    let r = b
        .post("/preferences/listenbrainz/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-failed&service=listenbrainz#service-listenbrainz")
    );
    let until: i64 =
        sqlx::query_scalar("SELECT backoff_until FROM link_health WHERE provider = 'listenbrainz'")
            .fetch_one(&app.state.core.db)
            .await
            .unwrap();
    assert!(
        (before + 17..=spotter::clock::system_now() + 17).contains(&until),
        "{until} vs {before}"
    );
    // The token is kept.
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_ACCESS_TOKEN, "listenbrainz")
            .await
            .as_deref(),
        Some(TOKEN)
    );
}
