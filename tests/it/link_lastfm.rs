//! S5/F3: Last.fm web auth with a session-bound single-use nonce, signed calls, error rules.

use md5::{Digest, Md5};
use serde_json::json;
use spotter::crypto::registry::PROVIDER_ACCESS_TOKEN;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::fakes::*;
use crate::harness::*;

async fn api_calls(f: &Fakes) -> Vec<wiremock::Request> {
    f.lastfm
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/2.0/")
        .collect()
}

/// The signature computed here, independently of Spotter's code.
fn expected_sig(pairs: &[(String, String)]) -> String {
    let mut signed: Vec<&(String, String)> = pairs
        .iter()
        .filter(|(k, _)| k != "api_sig" && k != "format")
        .collect();
    signed.sort();
    let mut text = String::new();
    for (k, v) in signed {
        text.push_str(k);
        text.push_str(v);
    }
    text.push_str(LASTFM_SECRET);
    hex::encode(Md5::digest(text.as_bytes()))
}

async fn signed_in(app: &TestApp) -> Browser<'_> {
    let p = peer();
    let mut b = Browser::new(app);
    b.login_ok(&p.user, &p.password).await;
    b
}

async fn link(b: &mut Browser<'_>, f: &Fakes) {
    mount_lastfm_session(
        &f.lastfm,
        "lfm-token-1",
        "lfm-listener",
        "lfm-session-key-1",
    )
    .await;
    let nonce = start_lastfm(b).await;
    let r = b
        .get(&format!(
            "/auth/lastfm/callback?state={nonce}&token=lfm-token-1"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-lastfm"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn web_auth_flow_signs_the_call_and_stores_the_session_key_encrypted() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;

    let r = b.get("/auth/lastfm/login").await;
    assert_eq!(r.status, 303);
    let location = r.location().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{}/api/auth/?", f.lastfm.uri())),
        "{location}"
    );
    assert_eq!(
        query_param(&location, "api_key").as_deref(),
        Some(LASTFM_KEY)
    );
    let cb = query_param(&location, "cb").unwrap();
    assert!(
        cb.starts_with(&format!("{}/auth/lastfm/callback?state=", app.base)),
        "{cb}"
    );
    let nonce = query_param(&cb, "state").unwrap();
    assert!(nonce.len() >= 43, "256-bit nonce expected");

    mount_lastfm_session(
        &f.lastfm,
        "lfm-token-1",
        "lfm-listener",
        "lfm-session-key-1",
    )
    .await;
    // Last.fm appends `&token=` to the callback URL it was given.
    let r = b
        .get(&format!(
            "/auth/lastfm/callback?state={nonce}&token=lfm-token-1"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-lastfm"),
        "{}",
        r.body
    );

    let calls = api_calls(&f).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].method.as_str(),
        "POST",
        "the token travels in the body, not the URL"
    );
    assert!(calls[0].url.query().is_none());
    let pairs = form_pairs(&calls[0].body);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("method"), Some("auth.getSession"));
    assert_eq!(get("api_key"), Some(LASTFM_KEY));
    assert_eq!(get("token"), Some("lfm-token-1"));
    assert_eq!(get("format"), Some("json"));
    assert_eq!(get("api_sig"), Some(expected_sig(&pairs).as_str()));

    assert_eq!(
        stored_link_secret(&app, &PROVIDER_ACCESS_TOKEN, "lastfm")
            .await
            .as_deref(),
        Some("lfm-session-key-1")
    );
    let page = b.get("/preferences/providers").await;
    assert!(
        page.body.contains("Linked as lfm-listener."),
        "{}",
        page.body
    );

    // The test action signs user.getInfo with the session key.
    Mock::given(method("POST"))
        .and(path("/2.0/"))
        .and(body_string_contains("method=user.getInfo"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"user": {"name": "lfm-listener"}})),
        )
        .expect(1)
        .mount(&f.lastfm)
        .await;
    let csrf = b.csrf().await;
    let r = b
        .post("/preferences/lastfm/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-ok&service=lastfm#service-lastfm")
    );
    let calls = api_calls(&f).await;
    let pairs = form_pairs(&calls.last().unwrap().body);
    assert!(pairs.contains(&("sk".to_owned(), "lfm-session-key-1".to_owned())));
    let sig = pairs
        .iter()
        .find(|(k, _)| k == "api_sig")
        .unwrap()
        .1
        .clone();
    assert_eq!(sig, expected_sig(&pairs));
}

#[tokio::test]
async fn callbacks_without_a_valid_nonce_are_refused_before_get_session() {
    let f = Fakes::start().await;
    mount_lastfm_session(&f.lastfm, "planted-token", "attacker", "attacker-key").await;
    let app = spawn_app(f.options()).await;
    let mut victim = signed_in(&app).await;
    let mut other = signed_in(&app).await;

    let victim_nonce = start_lastfm(&mut victim).await;
    let cases = [(
        &mut other,
        format!("state={victim_nonce}&token=planted-token"),
        "state_invalid",
    )];
    for (browser, query, code) in cases {
        let r = browser.get(&format!("/auth/lastfm/callback?{query}")).await;
        assert_eq!(
            r.location(),
            Some(format!("/preferences/providers?error={code}").as_str()),
            "{query}"
        );
    }
    for (query, code) in [
        ("token=planted-token", "state_missing"),
        ("state=&token=planted-token", "state_invalid"),
        ("state=forged-nonce&token=planted-token", "state_invalid"),
        ("state=%C0%AF%00&token=planted-token", "state_invalid"),
    ] {
        let r = victim.get(&format!("/auth/lastfm/callback?{query}")).await;
        assert_eq!(
            r.location(),
            Some(format!("/preferences/providers?error={code}").as_str()),
            "{query}"
        );
    }
    let mut anon = Browser::new(&app);
    let r = anon
        .get(&format!(
            "/auth/lastfm/callback?state={victim_nonce}&token=planted-token"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=signed_out")
    );
    assert!(
        api_calls(&f).await.is_empty(),
        "a refused callback reached auth.getSession"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_links").await, 0);

    // The nonce is single-use: the first use links, a second is refused.
    mount_lastfm_session(&f.lastfm, "real-token", "victim", "victim-key").await;
    let r = victim
        .get(&format!(
            "/auth/lastfm/callback?state={victim_nonce}&token=real-token"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-lastfm")
    );
    let r = victim
        .get(&format!(
            "/auth/lastfm/callback?state={victim_nonce}&token=planted-token"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=state_invalid")
    );
    assert_eq!(api_calls(&f).await.len(), 1);
    assert_eq!(
        stored_link_secret(&app, &PROVIDER_ACCESS_TOKEN, "lastfm")
            .await
            .as_deref(),
        Some("victim-key")
    );

    // A valid nonce without a token (access not granted) links nothing.
    let nonce = start_lastfm(&mut victim).await;
    let r = victim
        .get(&format!("/auth/lastfm/callback?state={nonce}"))
        .await;
    assert_eq!(r.location(), Some("/preferences/providers?error=denied"));
}

#[tokio::test]
async fn refused_get_session_stores_nothing() {
    let f = Fakes::start().await;
    Mock::given(method("POST"))
        .and(path("/2.0/"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": 14, "message": "Unauthorized Token - This token has not been authorized"})))
        .mount(&f.lastfm)
        .await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    let nonce = start_lastfm(&mut b).await;
    let r = b
        .get(&format!("/auth/lastfm/callback?state={nonce}&token=t"))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=token_refused")
    );
    let page = b.get(r.location().unwrap()).await;
    assert!(page.body.contains("Last.fm refused the authorization"));
    assert!(
        !page.body.contains("Unauthorized Token"),
        "provider text is not echoed"
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_links").await, 0);
}

async fn test_lastfm(b: &mut Browser<'_>) -> Page {
    let csrf = b.csrf().await;
    b.post("/preferences/lastfm/test", &[("csrf_token", &csrf)])
        .await
}

async fn health(app: &TestApp) -> (String, Option<i64>, Option<String>) {
    sqlx::query_as(
        "SELECT status, backoff_until, last_error FROM link_health WHERE provider = 'lastfm'",
    )
    .fetch_one(&app.state.core.db)
    .await
    .unwrap()
}

async fn answer_user_get_info(f: &Fakes, status: u16, body: serde_json::Value) {
    f.lastfm.reset().await;
    Mock::given(method("POST"))
        .and(path("/2.0/"))
        .and(body_string_contains("method=user.getInfo"))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&f.lastfm)
        .await;
}

#[tokio::test]
async fn error_9_breaks_the_link_29_backs_off_26_is_a_server_problem() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    link(&mut b, &f).await;

    answer_user_get_info(
        &f,
        200,
        json!({"error": 29, "message": "Rate Limit Exceeded"}),
    )
    .await;
    assert_eq!(
        test_lastfm(&mut b).await.location(),
        Some("/preferences/providers?notice=test-failed&service=lastfm#service-lastfm")
    );
    let (status, until, err) = health(&app).await;
    assert_eq!(
        (status.as_str(), err.as_deref()),
        ("backoff", Some("rate_limited"))
    );
    assert!(until.unwrap() > spotter::clock::system_now());
    assert!(
        b.get("/preferences/providers")
            .await
            .body
            .contains("Backing off until")
    );

    answer_user_get_info(
        &f,
        200,
        json!({"error": 26, "message": "Suspended API key"}),
    )
    .await;
    test_lastfm(&mut b).await;
    let (status, _, err) = health(&app).await;
    assert_eq!(
        (status.as_str(), err.as_deref()),
        ("misconfigured", Some("api_key_invalid"))
    );
    let page = b.get("/preferences/providers").await;
    assert!(
        page.body
            .contains("Last.fm refuses this server&#39;s API key")
            || page.body.contains("Last.fm refuses this server's API key"),
        "{}",
        page.body
    );

    answer_user_get_info(
        &f,
        403,
        json!({"error": 9, "message": "Invalid session key - Please re-authenticate"}),
    )
    .await;
    test_lastfm(&mut b).await;
    let (status, _, err) = health(&app).await;
    assert_eq!(
        (status.as_str(), err.as_deref()),
        ("broken", Some("invalid_session"))
    );
    let page = b.get("/preferences/providers").await;
    assert!(page.body.contains("broken — re-link"), "{}", page.body);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'service_broken'"
        )
        .await,
        1
    );

    // Re-linking clears the broken state.
    link(&mut b, &f).await;
    let (status, _, err) = health(&app).await;
    assert_eq!((status.as_str(), err), ("ok".to_owned().as_str(), None));
}

#[tokio::test]
async fn disconnect_deletes_the_session_key() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    link(&mut b, &f).await;
    let csrf = b.csrf().await;
    let r = b
        .post("/preferences/lastfm/disconnect", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=unlinked-lastfm")
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_links").await, 0);
    let r = b
        .post("/preferences/lastfm/disconnect", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=not_linked")
    );
}
