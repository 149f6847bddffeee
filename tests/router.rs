#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Router-level tests: the assembled app driven with `tower::ServiceExt::oneshot`, no socket.

use axum::body::{Body, to_bytes};
use axum::extract::connect_info::ConnectInfo;
use axum::http::{Request, StatusCode};
use figment::Figment;
use figment::providers::Serialized;
use spotter::app::Core;
use spotter::config::{Config, RawConfig};
use spotter::http::state::AppState;
use tower::ServiceExt;

async fn app() -> (spotter::http::App, tempfile::TempDir) {
    let (state, dir) = state().await;
    (spotter::http::build_app(state), dir)
}

async fn state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let figment = Figment::from(Serialized::defaults(RawConfig::default()))
        .merge((
            "security.encryption_key",
            "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
        ))
        .merge((
            "security.jwt_secret",
            "router-test-jwt-secret-0123456789abcdef0123",
        ))
        .merge(("navidrome.base_url", "http://127.0.0.1:9"))
        .merge((
            "database.source",
            dir.path().join("r.db").display().to_string(),
        ));
    let config = Config::from_figment(&figment).unwrap();
    let db = spotter::db::connect_and_migrate(&config.database_url)
        .await
        .unwrap();
    (AppState::new(Core::new(config, db).unwrap()).unwrap(), dir)
}

fn req(method: &str, uri: &str) -> Request<Body> {
    let mut r = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    r.extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            4000,
        ))));
    r
}

async fn body(resp: axum::response::Response) -> String {
    String::from_utf8(to_bytes(resp.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
}

#[tokio::test]
async fn protected_pages_redirect_to_login() {
    let (app, _d) = app().await;
    // The page asked for travels along (the dashboard is where sign-in leads anyway).
    for (path, login) in [
        ("/", "/auth/login"),
        (
            "/preferences/security",
            "/auth/login?next=%2Fpreferences%2Fsecurity",
        ),
    ] {
        let resp = app.clone().oneshot(req("GET", path)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(resp.headers()["location"], login);
    }
}

#[tokio::test]
async fn unknown_route_is_a_404_page() {
    let (app, _d) = app().await;
    let resp = app.oneshot(req("GET", "/does/not/exist")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert!(
        body(resp)
            .await
            .contains("There is nothing at this address.")
    );
}

#[tokio::test]
async fn wrong_method_is_a_405_page_not_framework_text() {
    let (app, _d) = app().await;
    let resp = app.oneshot(req("GET", "/logout")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        body(resp)
            .await
            .contains("does not accept that kind of request")
    );
}

#[tokio::test]
async fn login_page_sets_a_signed_pre_session_cookie() {
    let (app, _d) = app().await;
    let resp = app.oneshot(req("GET", "/auth/login")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("spotter_pre="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let html = body(resp).await;
    assert!(html.contains(r#"name="csrf_token""#));
    assert!(html.contains(r#"action="/login""#));
}

#[tokio::test]
async fn post_without_csrf_is_403_before_any_handler_runs() {
    let (app, _d) = app().await;
    let mut r = req("POST", "/login");
    r.headers_mut().insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let resp = app.oneshot(r).await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn healthz_needs_nothing() {
    let (app, _d) = app().await;
    let resp = app.oneshot(req("GET", "/healthz")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_page_with_the_security_headers() {
    let log = info_log();
    let (state, _d) = state().await;
    let routes = axum::Router::new()
        .route(
            "/boom",
            axum::routing::get(|| async {
                if std::hint::black_box(true) {
                    panic!("handler failed");
                }
                "unreachable"
            }),
        )
        .route(
            "/bare",
            axum::routing::get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        );
    let app = spotter::http::App::new(state, routes);
    let resp = app.clone().oneshot(req("GET", "/boom")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let panicked = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(!body(resp).await.contains("handler failed"));
    let resp = app.oneshot(req("GET", "/bare")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let failed = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(body(resp).await.contains("</html>"));

    // Each failure is logged once, with the request id the response carries; the access line
    // is a debug one.
    let log = log.contents();
    for (id, what) in [(panicked, "handler panicked"), (failed, "request failed")] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(&id)).collect();
        assert_eq!(lines.len(), 1, "{what}: {log}");
        assert!(lines[0].contains(what), "{what}: {log}");
    }
    assert!(!log.contains("handler failed"), "{log}");
}

/// The process-wide log of this test binary, at info as by default. Process-wide because
/// tracing caches per call site whether anyone listens: a subscriber set for one thread only
/// can miss a call site that another test's thread reached first.
fn info_log() -> spotter::telemetry::CaptureBuffer {
    static LOG: std::sync::OnceLock<spotter::telemetry::CaptureBuffer> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let log = spotter::telemetry::CaptureBuffer::default();
        spotter::telemetry::init_with("info", spotter::config::LogFormat::Text, log.clone())
            .expect("no other subscriber in this binary");
        log
    })
    .clone()
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_refused_with_413() {
    let (app, _d) = app().await;
    let login = app
        .clone()
        .oneshot(req("GET", "/auth/login"))
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let html = body(login).await;
    let token = html
        .split(r#"name="csrf_token" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    // No Content-Length: the body arrives in chunks and only its size gives it away. Once with
    // the token in the form (the CSRF check reads the body) and once in the header (the
    // handler reads it), so the refusal is about the size, not the token.
    for token_in_header in [false, true] {
        let first = if token_in_header {
            "username=".to_owned()
        } else {
            format!("csrf_token={token}&username=")
        };
        let chunks = std::iter::once(Ok::<_, std::io::Error>(first.into_bytes()))
            .chain((0..20).map(|_| Ok(vec![b'a'; 8 * 1024])));
        let mut r = req("POST", "/login");
        *r.body_mut() = Body::from_stream(futures_util::stream::iter(chunks));
        let h = r.headers_mut();
        h.insert(
            "content-type",
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        h.insert("origin", "http://localhost:8080".parse().unwrap());
        h.insert("cookie", cookie.parse().unwrap());
        if token_in_header {
            h.insert("x-csrf-token", token.parse().unwrap());
        }
        let resp = app.clone().oneshot(r).await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "token in header: {token_in_header}"
        );
        assert!(body(resp).await.contains("too large"));
    }
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_read() {
    let (app, _d) = app().await;
    let mut r = req("POST", "/login");
    r.headers_mut()
        .insert("content-length", "70000".parse().unwrap());
    let resp = app.oneshot(r).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
