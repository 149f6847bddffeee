//! S4: every unsafe request needs a session-bound token and a same-origin Origin/Referer.

use crate::harness::*;

async fn signed_in(app: &TestApp) -> Browser<'_> {
    let p = peer();
    let mut b = Browser::new(app);
    b.login_ok(&p.user, &p.password).await;
    b
}

async fn sessions(app: &TestApp) -> i64 {
    count(app, "SELECT COUNT(*) FROM sessions").await
}

#[tokio::test]
async fn logout_without_token_is_refused_and_changes_nothing() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = signed_in(&app).await;
    let r = b.post("/logout", &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(sessions(&app).await, 1);
    let r = b.post("/logout", &[("csrf_token", "forged")]).await;
    assert_eq!(r.status, 403);
    assert_eq!(sessions(&app).await, 1);
    assert_eq!(b.get("/").await.status, 200, "still signed in");
}

#[tokio::test]
async fn foreign_or_null_origin_is_refused_even_with_a_valid_token() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = signed_in(&app).await;
    let token = b.csrf().await;
    for origin in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        let r = b
            .post_with("/logout", &[("csrf_token", &token)], Some(origin))
            .await;
        assert_eq!(r.status, 403, "origin {origin}");
        // The page says what went wrong and links Spotter's own address, never the origin.
        assert!(r.body.contains("another address"), "{}", r.body);
        assert!(
            r.body.contains(&format!("href=\"{}/\"", app.base)),
            "{}",
            r.body
        );
        assert!(!r.body.contains("evil.example"));
    }
    // Foreign Referer without Origin.
    b.extra_headers
        .insert("referer", "https://evil.example/page".parse().unwrap());
    let r = b
        .post_with("/logout", &[("csrf_token", &token)], None)
        .await;
    assert_eq!(r.status, 403);
    b.extra_headers.clear();
    assert_eq!(sessions(&app).await, 1);
    // Same-origin Referer without Origin is fine.
    b.extra_headers.insert(
        "referer",
        format!("{}/preferences/security", app.base)
            .parse()
            .unwrap(),
    );
    let r = b
        .post_with("/logout", &[("csrf_token", &token)], None)
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(sessions(&app).await, 0);
}

#[tokio::test]
async fn a_token_from_another_session_is_refused() {
    let app = spawn_app(Options::with_peer()).await;
    let mut a = signed_in(&app).await;
    let mut b = signed_in(&app).await;
    let token_a = a.csrf().await;
    let r = b
        .post(
            "/preferences/security/sessions/revoke-others",
            &[("csrf_token", &token_a)],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(sessions(&app).await, 2);
    let token_b = b.csrf().await;
    let r = b
        .post(
            "/preferences/security/sessions/revoke-others",
            &[("csrf_token", &token_b)],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(sessions(&app).await, 1);
}

#[tokio::test]
async fn header_token_works_for_scripts() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = signed_in(&app).await;
    let token = b.csrf().await;
    b.extra_headers
        .insert("x-csrf-token", token.parse().unwrap());
    let r = b.post_with("/logout", &[], Some(&app.base.clone())).await;
    assert_eq!(r.status, 303);
    assert_eq!(sessions(&app).await, 0);
}

#[tokio::test]
async fn login_form_needs_its_pre_session_token() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    // No pre-session cookie at all.
    let r = b
        .post(
            "/login",
            &[
                ("username", &p.user),
                ("password", &p.password),
                ("csrf_token", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    // A token from another browser's login page.
    let mut other = Browser::new(&app);
    let foreign = other.get("/auth/login").await.csrf();
    b.get("/auth/login").await;
    let r = b
        .post(
            "/login",
            &[
                ("username", &p.user),
                ("password", &p.password),
                ("csrf_token", &foreign),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 0);
    // A tampered pre-session cookie is not accepted either.
    let real = b.get("/auth/login").await.csrf();
    let pre = b.cookies.get("spotter_pre").cloned().unwrap();
    // Change the first character (to one it is not: a cookie already starting with the
    // replacement would be no tampering at all).
    let swapped = if pre.starts_with('A') { 'B' } else { 'A' };
    b.cookies
        .insert("spotter_pre".into(), format!("{swapped}{}", &pre[1..]));
    let r = b
        .post(
            "/login",
            &[
                ("username", &p.user),
                ("password", &p.password),
                ("csrf_token", &real),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(sessions(&app).await, 0);
}

#[tokio::test]
async fn json_or_multipart_posts_without_header_token_are_refused() {
    let app = spawn_app(Options::with_peer()).await;
    let b = signed_in(&app).await;
    let cookie: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let r = app
        .http
        .post(format!("{}/logout", app.base))
        .header("cookie", cookie.join("; "))
        .header("origin", &app.base)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(sessions(&app).await, 1);
}
