//! S6/S10: headers on every response, templates without inline script or style, escaping.

use crate::harness::*;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn assert_security_headers(page: &Page, what: &str) {
    let h = &page.headers;
    assert_eq!(h.get("content-security-policy").unwrap(), CSP, "{what}");
    assert_eq!(
        h.get("x-content-type-options").unwrap(),
        "nosniff",
        "{what}"
    );
    assert_eq!(h.get("referrer-policy").unwrap(), "same-origin", "{what}");
    assert!(h.get("permissions-policy").is_some(), "{what}");
    assert_eq!(
        h.get("cross-origin-opener-policy").unwrap(),
        "same-origin",
        "{what}"
    );
    assert_eq!(h.get("cache-control").unwrap(), "no-store", "{what}");
    assert!(h.get("x-request-id").is_some(), "{what}");
}

#[tokio::test]
async fn every_html_response_carries_the_headers() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    let anon = [
        ("/auth/login", 200),
        ("/nope", 404),
        ("/", 303),
        ("/preferences/security", 303),
    ];
    for (path, status) in anon {
        let page = b.get(path).await;
        assert_eq!(page.status, status, "{path}");
        assert_security_headers(&page, path);
        assert!(
            page.headers.get("strict-transport-security").is_none(),
            "no HSTS on http"
        );
    }
    let wrong = b.login(&p.user, "wrong").await;
    assert_security_headers(&wrong, "failed login");
    b.login_ok(&p.user, &p.password).await;
    for path in ["/", "/preferences/security", "/missing/page"] {
        let page = b.get(path).await;
        assert_security_headers(&page, path);
        if page.status == 200 {
            assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
        }
    }
}

#[tokio::test]
async fn hsts_only_when_the_base_url_is_https() {
    let app =
        spawn_app(Options::with_peer().set("server.base_url", "https://music.example.org")).await;
    let page = Browser::new(&app).get("/auth/login").await;
    assert_eq!(
        page.headers.get("strict-transport-security").unwrap(),
        "max-age=63072000; includeSubDomains"
    );
}

#[tokio::test]
async fn static_assets_are_ours_and_cache_busted() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    let login = b.get("/auth/login").await;
    let version = spotter::http::assets::version();
    assert!(login.body.contains(&format!("/static/app.css?v={version}")));
    assert!(login.body.contains(&format!("/static/app.js?v={version}")));
    let css = b.get("/static/app.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(css.headers["content-type"], "text/css; charset=utf-8");
    assert!(
        css.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(b.get("/static/../Cargo.toml").await.status, 404);
    // A missing static file answers a short plain-text 404, not an HTML page.
    for missing in ["/static/nope.js", "/static/a/b.css"] {
        let r = b.get(missing).await;
        assert_eq!(r.status, 404, "{missing}");
        assert_eq!(
            r.headers["content-type"], "text/plain; charset=utf-8",
            "{missing}"
        );
        assert!(!r.body.contains('<'), "{missing}: {}", r.body);
    }
}

#[tokio::test]
async fn error_pages_keep_the_navigation_when_signed_in() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    let anon = b.get("/no/such/page").await;
    assert_eq!(anon.status, 404);
    assert!(!anon.body.contains(r#"<nav class="nav""#));
    b.login_ok(&p.user, &p.password).await;
    for (path, status) in [("/no/such/page", 404), ("/review/not-a-number", 404)] {
        let page = b.get(path).await;
        assert_eq!(page.status, status, "{path}");
        assert!(
            page.body.contains(r#"<nav class="nav" aria-label="Main">"#),
            "{path}: {}",
            page.body
        );
        assert!(page.body.contains("Sign out"), "{path}");
        assert!(page.body.contains(&format!("Error {status}")), "{path}");
    }
    // A refused form (bad CSRF token) too: the 403 page keeps the frame.
    let r = b
        .post(
            "/preferences/security/sessions/revoke-others",
            &[("csrf_token", "x")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(
        r.body.contains(r#"<nav class="nav" aria-label="Main">"#),
        "{}",
        r.body
    );
}

#[test]
fn templates_have_no_inline_script_style_or_handlers() {
    let inline_script = regex::Regex::new(r"(?is)<script(?:\s[^>]*)?>\s*[^<\s]").unwrap();
    let handler = regex::Regex::new(r#"(?i)\son[a-z]+\s*="#).unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display();
        assert!(
            !text.contains("style="),
            "{name} has an inline style attribute"
        );
        assert!(
            !text.to_ascii_lowercase().contains("<style"),
            "{name} has a <style> block"
        );
        assert!(
            !inline_script.is_match(&text),
            "{name} has an inline script"
        );
        assert!(
            !handler.is_match(&text),
            "{name} has an inline event handler"
        );
        assert!(!text.contains("|safe"), "{name} marks output safe");
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{name} loads something remote"
        );
        checked += 1;
    }
    assert!(checked >= 5);
}

#[tokio::test]
async fn user_text_is_escaped() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    b.extra_headers
        .insert("user-agent", "<script>alert('x')</script>".parse().unwrap());
    b.login_ok(&p.user, &p.password).await;
    let page = b.get("/preferences/security").await;
    assert!(
        !page.body.contains("<script>alert"),
        "user agent rendered raw"
    );
    assert!(page.body.contains("&#60;script&#62;"));
    // A username echoed back on a failed login is escaped too.
    let mut c = Browser::new(&app);
    let r = c.login("<img src=x onerror=alert(1)>", "pw").await;
    assert!(!r.body.contains("<img src=x"));
}

#[tokio::test]
async fn health_endpoints() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    let h = b.get("/healthz").await;
    assert_eq!((h.status, h.body.as_str()), (200, "ok\n"));
    let r = b.get("/readyz").await;
    assert_eq!((r.status, r.body.as_str()), (200, "ready\n"));
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&app.state.core.db)
        .await
        .unwrap();
    assert_eq!(b.get("/readyz").await.status, 503);
}
