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
pub mod notifications;
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
use std::sync::Arc;
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
        .merge(notifications::router())
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

    let routes = Router::new()
        .merge(events::router())
        .merge(bounded)
        .with_state(state.clone());

    // The middleware wraps the router once, outermost first, instead of being layered onto
    // every route (`Router::layer` boxes each layer of each route, and a request then clones
    // those boxes level by level).
    let stack = ServiceBuilder::new()
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
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(middleware::from_fn_with_state(
            Edge {
                state: state.clone(),
                hsts: state.config().base_url.scheme() == "https",
                request_timeout: state.config().request_timeout,
                trusted_proxies: Arc::from(state.config().security.trusted_proxies.as_slice()),
            },
            edge,
        ))
        .layer(CatchPanicLayer::custom(panic_page))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .map_request(|req: axum::http::Request<_>| req.map(Body::new))
        .layer(CookieManagerLayer::new())
        .layer(csrf::CsrfLayer::new(state))
        .service(routes);
    Router::new().fallback_service(stack)
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
        // "<prefix>-<counter as 8+ hex digits>", written into one buffer (no `format!`).
        let mut id = Vec::with_capacity(self.prefix.len() + 17);
        id.extend_from_slice(self.prefix.as_bytes());
        id.push(b'-');
        let digits = (16 - n.leading_zeros() / 4).max(8);
        for shift in (0..digits).rev() {
            let nibble = (n >> (shift * 4)) & 0xf;
            id.push(b"0123456789abcdef"[usize::try_from(nibble).unwrap_or(0)]);
        }
        HeaderValue::from_maybe_shared(axum::body::Bytes::from(id))
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

async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/static/") {
        return assets::missing();
    }
    crate::http::error::AppError::NotFound.into_response()
}

/// An error page keeps the navigation when the browser is signed in: every error page (from a
/// handler, an extractor, a layer or a panic) is re-rendered with the signed-in frame.
async fn with_nav(
    state: &AppState,
    cookie_header: Option<HeaderValue>,
    resp: Response,
) -> Response {
    let Some(parts) = resp
        .extensions()
        .get::<crate::http::pages::ErrorParts>()
        .cloned()
    else {
        return resp;
    };
    let Some(cookie_header) = cookie_header else {
        return resp;
    };
    let user = match session::user_from_cookie_header(state, &cookie_header).await {
        Ok(Some(user)) => user,
        _ => return resp,
    };
    let mut page = parts.render_signed_in(user.username, user.csrf_token);
    // Keep the original response's headers (Retry-After, Allow, cookies being cleared…).
    let (resp_parts, _) = resp.into_parts();
    for (name, value) in &resp_parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    page
}

fn panic_page(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ErrorPage::for_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorPage::default_message(StatusCode::INTERNAL_SERVER_ERROR),
    )
    .into_response_with(StatusCode::INTERNAL_SERVER_ERROR)
}

/// What the edge middleware needs, fixed at start.
#[derive(Clone)]
struct Edge {
    state: AppState,
    /// Send `Strict-Transport-Security` (the base URL is https).
    hsts: bool,
    request_timeout: Duration,
    trusted_proxies: Arc<[ipnet::IpNet]>,
}

/// The per-request work around every route, in one middleware (each `from_fn` layer costs a
/// boxed service and a boxed future per request):
/// - resolve who is calling (trusted proxies only, S8) into the request extensions;
/// - every request but the event stream must finish within the request timeout (S10), body
///   reading and the CSRF check included, so a client that stalls mid-body is answered 408 and
///   its connection closed;
/// - a bare error status from a layer or an extractor rejection gets a proper page with a fixed
///   message instead of framework text;
/// - the S10 headers on every response, `no-store` on everything but our fingerprinted assets.
async fn edge(State(edge): State<Edge>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0);
    let info = client_ip::resolve(peer, req.headers(), &edge.trusted_proxies);
    req.extensions_mut().insert(info);
    let path = req.uri().path();
    let is_static = path.starts_with("/static/");
    let is_events = path == events::EVENTS_PATH;
    let is_head = req.method() == Method::HEAD;
    let cookie_header = req.headers().get(header::COOKIE).cloned();

    let resp = if is_events {
        next.run(req).await
    } else {
        match tokio::time::timeout(edge.request_timeout, next.run(req)).await {
            Ok(resp) => resp,
            Err(_) => {
                tracing::info!("request timed out");
                let mut resp = StatusCode::REQUEST_TIMEOUT.into_response();
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                resp
            }
        }
    };
    let resp = fallback_page(resp, is_head);
    let mut resp = with_nav(&edge.state, cookie_header, resp).await;
    security_headers(resp.headers_mut(), is_static, edge.hsts);
    resp
}

/// A bare error status becomes a page with a fixed message (`Retry-After` and `Allow` kept).
fn fallback_page(resp: Response, is_head: bool) -> Response {
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

/// The S10 headers, built once (static names and values: cloning one allocates nothing and
/// parses nothing).
static HEADER_PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");
static HEADER_COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
static HEADER_CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");
static VALUE_CSP: HeaderValue = HeaderValue::from_static(CSP);
static VALUE_NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
static VALUE_SAME_ORIGIN: HeaderValue = HeaderValue::from_static("same-origin");
static VALUE_DENY: HeaderValue = HeaderValue::from_static("DENY");
static VALUE_PERMISSIONS: HeaderValue = HeaderValue::from_static(
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
);
static VALUE_NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
static VALUE_HSTS: HeaderValue = HeaderValue::from_static("max-age=63072000; includeSubDomains");

/// S10 headers on every response; `no-store` on everything but our fingerprinted assets.
fn security_headers(h: &mut axum::http::HeaderMap, is_static: bool, hsts: bool) {
    h.insert(header::CONTENT_SECURITY_POLICY, VALUE_CSP.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, VALUE_NOSNIFF.clone());
    h.insert(header::REFERRER_POLICY, VALUE_SAME_ORIGIN.clone());
    h.insert(header::X_FRAME_OPTIONS, VALUE_DENY.clone());
    h.insert(HEADER_PERMISSIONS_POLICY.clone(), VALUE_PERMISSIONS.clone());
    h.insert(HEADER_COOP.clone(), VALUE_SAME_ORIGIN.clone());
    h.insert(HEADER_CORP.clone(), VALUE_SAME_ORIGIN.clone());
    if !is_static {
        h.insert(header::CACHE_CONTROL, VALUE_NO_STORE.clone());
    }
    if hsts {
        h.insert(header::STRICT_TRANSPORT_SECURITY, VALUE_HSTS.clone());
    }
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
