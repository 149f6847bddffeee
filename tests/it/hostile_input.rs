//! S17: malformed forms, cookies and paths get a 4xx page with a fixed message; never a 5xx,
//! never a session cookie, never a write.

use proptest::prelude::*;

use crate::harness::*;

async fn assert_calm(app: &TestApp, page: &Page, what: &str) {
    assert!(page.status < 500, "{what}: {} {}", page.status, page.body);
    assert!(
        page.set_cookie("spotter_token")
            .is_none_or(|c| c.contains("Max-Age=0")),
        "{what}"
    );
    assert!(
        !page.body.contains("Failed to deserialize"),
        "{what}: framework text leaked"
    );
    assert_eq!(
        count(app, "SELECT COUNT(*) FROM sessions").await,
        0,
        "{what}"
    );
}

#[tokio::test]
async fn malformed_login_forms() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    let csrf = b.get("/auth/login").await.csrf();
    let long = "x".repeat(5000);
    let bodies: Vec<Vec<(&str, &str)>> = vec![
        vec![("csrf_token", &csrf)],
        vec![("csrf_token", &csrf), ("username", "")],
        vec![
            ("csrf_token", &csrf),
            ("username", "demo"),
            ("password", ""),
        ],
        vec![
            ("csrf_token", &csrf),
            ("username", &long),
            ("password", "x"),
        ],
        vec![
            ("csrf_token", &csrf),
            ("username", "a\u{0}b"),
            ("password", "x"),
        ],
        vec![
            ("csrf_token", &csrf),
            ("username", "demo"),
            ("password", &long),
        ],
    ];
    for form in bodies {
        let r = b.post("/login", &form).await;
        assert_eq!(r.status, 400, "{form:?}");
        assert!(r.body.contains("Enter your username and password."));
        assert_calm(&app, &r, "form").await;
    }
    // Raw garbage bodies with a valid token in the header.
    for raw in [
        "%%%",
        "username=%ZZ&password=%",
        "\u{ff}\u{fe}",
        "a=b=c&&&=&",
    ] {
        let resp = app
            .http
            .post(format!("{}/login", app.base))
            .header("origin", &app.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-csrf-token", &csrf)
            .header(
                "cookie",
                format!("spotter_pre={}", b.cookies["spotter_pre"]),
            )
            .body(raw.to_owned())
            .send()
            .await
            .unwrap();
        assert!(resp.status().as_u16() < 500, "{raw:?}");
    }
}

#[tokio::test]
async fn oversize_body_is_413_with_a_page() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    let csrf = b.get("/auth/login").await.csrf();
    let big = "y".repeat(200 * 1024);
    let r = b
        .post(
            "/login",
            &[("csrf_token", &csrf), ("username", &big), ("password", "x")],
        )
        .await;
    assert_eq!(r.status, 413);
    assert!(r.body.contains("too large"));
    assert_calm(&app, &r, "oversize").await;
}

#[tokio::test]
async fn odd_paths_and_methods() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    for path in [
        "/%00",
        "/..%2f..%2fetc/passwd",
        "/static/%2e%2e/Cargo.toml",
        "/preferences/security/sessions/x/revoke",
        "/auth/login?notice=%3Cscript%3E",
        "/auth/login?notice[]=1&notice=2",
        "/events?x=%ff",
        "/really/long/".repeat(300).as_str(),
    ] {
        let r = b.get(path).await;
        assert_calm(&app, &r, path).await;
        assert!(!r.body.contains("<script>"), "{path}");
    }
    let r = app
        .http
        .delete(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "unsafe method without CSRF is refused first"
    );
    let r = app
        .http
        .put(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
}

#[tokio::test]
async fn revoke_with_a_bad_id_is_400() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    let csrf = b.csrf().await;
    let r = b
        .post(
            "/preferences/security/sessions/not-a-uuid/revoke",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = b
        .post(
            "/preferences/security/sessions/00000000-0000-4000-8000-000000000000/revoke",
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "unknown session: a notice, not an error");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM sessions").await, 1);
}

fn cookie_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,300}",
        "eyJ[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,120}\\.[A-Za-z0-9_-]{0,60}",
        "[A-Za-z0-9+/=_-]{0,200}",
    ]
}

#[test]
fn arbitrary_cookies_never_cause_a_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(spawn_app(Options::with_peer()));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(&(cookie_strategy(), cookie_strategy()), |(token, pre)| {
            rt.block_on(async {
                for path in ["/", "/auth/login", "/preferences/security"] {
                    let resp = app
                        .http
                        .get(format!("{}{path}", app.base))
                        .header(
                            "cookie",
                            format!("spotter_token={token}; spotter_pre={pre}"),
                        )
                        .send()
                        .await;
                    // Header values the client itself refuses to send are not our concern.
                    let Ok(resp) = resp else { continue };
                    assert!(resp.status().as_u16() < 500, "{path} {token:?}");
                    let login = resp.headers().get_all("set-cookie").iter().any(|c| {
                        c.to_str().is_ok_and(|c| {
                            c.starts_with("spotter_token=") && !c.contains("Max-Age=0")
                        })
                    });
                    assert!(!login, "a session cookie was issued for garbage");
                }
            });
            Ok(())
        })
        .unwrap();
    let sessions = rt.block_on(count(&app, "SELECT COUNT(*) FROM sessions"));
    assert_eq!(sessions, 0);
}
