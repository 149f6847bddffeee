//! The HTTP surface: one module per feature area, each with its own `router()`, assembled
//! here with the hardening middleware.

pub mod ai_settings;
pub mod api;
pub mod assets;
pub mod auth;
pub mod csrf;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod format;
pub mod health;
pub mod library;
pub mod listens;
pub mod notices;
pub mod pages;
pub mod playlists;
pub mod provider_auth;
pub mod providers;
pub mod review;
pub mod security_page;
pub mod server;
pub mod session;
pub mod state;
pub mod tasks;
pub mod vibes;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_cookies::CookieManagerLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::http::error::RenderedPage;
use crate::http::pages::ErrorPage;
use crate::http::state::AppState;
use crate::security::client_ip;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The whole application router with its middleware.
pub fn build_app(state: AppState) -> Router {
    let bounded = Router::new()
        .merge(auth::router())
        .merge(dashboard::router())
        .merge(listens::router())
        .merge(api::router())
        .merge(library::router())
        .merge(security_page::router())
        .merge(providers::router())
        .merge(tasks::router())
        .merge(playlists::router())
        .merge(review::router())
        .merge(vibes::router())
        .merge(ai_settings::router())
        .merge(provider_auth::router())
        .merge(health::router())
        .merge(assets::router())
        .fallback(not_found);

    let app = Router::new().merge(events::router()).merge(bounded);

    // Router::layer wraps from the inside out: the last layer added is the outermost.
    app.layer(middleware::from_fn_with_state(
        state.clone(),
        csrf::require_csrf,
    ))
    .layer(CookieManagerLayer::new())
    .layer(middleware::from_fn_with_state(state.clone(), client_info))
    .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
    .layer(middleware::from_fn_with_state(
        state.config().request_timeout,
        request_deadline,
    ))
    .layer(middleware::from_fn(fallback_pages))
    .layer(CatchPanicLayer::custom(panic_page))
    .layer(middleware::from_fn_with_state(
        state.clone(),
        security_headers,
    ))
    .layer(
        ServiceBuilder::new()
            .layer(SetSensitiveRequestHeadersLayer::new([
                header::AUTHORIZATION,
                header::COOKIE,
                header::SET_COOKIE,
            ]))
            .layer(SetRequestIdLayer::new(
                REQUEST_ID,
                SequentialRequestId::new(),
            ))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(make_span)
                    .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
            )
            .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
    )
    .with_state(state)
}

/// Request ids: a random per-process prefix and a counter. Unique across restarts for log
/// correlation, without a getrandom call per request.
#[derive(Clone)]
struct SequentialRequestId {
    prefix: std::sync::Arc<str>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestId {
    fn new() -> Self {
        let prefix: [u8; 6] = rand::random();
        Self {
            prefix: hex::encode(prefix).into(),
            next: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:08x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// Request span: method, path (never the query: it may carry OAuth codes) and request id.
fn make_span(req: &Request<Body>) -> tracing::Span {
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %request_id,
    )
}

async fn not_found() -> Response {
    crate::http::error::AppError::NotFound.into_response()
}

fn panic_page(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ErrorPage::for_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorPage::default_message(StatusCode::INTERNAL_SERVER_ERROR),
    )
    .into_response_with(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Resolve who is calling (trusted proxies only, S8) and keep it in the request extensions.
async fn client_info(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0);
    let info = client_ip::resolve(
        peer,
        req.headers(),
        &state.config().security.trusted_proxies,
    );
    req.extensions_mut().insert(info);
    next.run(req).await
}

/// Every request but the event stream must finish within the request timeout (S10), body
/// reading and the CSRF check included, so a client that stalls mid-body is answered 408 and
/// its connection closed.
async fn request_deadline(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    if req.uri().path() == events::EVENTS_PATH {
        return next.run(req).await;
    }
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::info!("request timed out");
            let mut resp = StatusCode::REQUEST_TIMEOUT.into_response();
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            resp
        }
    }
}

/// A bare error status from a layer or an extractor rejection gets a proper page with a fixed
/// message instead of framework text.
async fn fallback_pages(req: Request, next: Next) -> Response {
    let is_head = req.method() == Method::HEAD;
    let resp = next.run(req).await;
    let status = resp.status();
    if status.as_u16() < 400 || resp.extensions().get::<RenderedPage>().is_some() || is_head {
        return resp;
    }
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), "request failed");
    }
    let retry_after = resp.headers().get(header::RETRY_AFTER).cloned();
    let allow = resp.headers().get(header::ALLOW).cloned();
    let mut page = ErrorPage::for_status(status, ErrorPage::default_message(status))
        .into_response_with(status);
    if let Some(v) = retry_after {
        page.headers_mut().insert(header::RETRY_AFTER, v);
    }
    if let Some(v) = allow {
        page.headers_mut().insert(header::ALLOW, v);
    }
    page
}

/// S10 headers on every response; `no-store` on everything but our fingerprinted assets.
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
        ),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config().base_url.scheme() == "https" {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    resp
}

/// Serve the app on `listener` until `shutdown` resolves; background maintenance runs
/// alongside. On shutdown, event streams end and open requests get a deadline.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let maintenance = tokio::spawn(maintenance_loop(state.clone()));
    let limits = server::ServerLimits::new(
        state.config().request_timeout,
        state.config().security.trusted_proxies.clone(),
    );
    let events = state.core.events.clone();
    let app = build_app(state);
    let result = server::run(listener, app, limits, shutdown, move || events.close()).await;
    maintenance.abort();
    result
}

/// Prune expired sessions and OAuth states, old audit rows and idle limiter entries.
async fn maintenance_loop(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        state.limiter.prune();
        state.accounts.prune(std::time::Instant::now());
        if let Err(e) = crate::services::maintenance::prune(&state.core).await {
            tracing::warn!(error = %e, "pruning old rows failed");
        }
    }
}
