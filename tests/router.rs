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

async fn app() -> (axum::Router, tempfile::TempDir) {
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
    (
        spotter::http::build_app(AppState::new(Core::new(config, db).unwrap()).unwrap()),
        dir,
    )
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
