//! The service in front of the router: everything every request goes through, written as one
//! service with one named future ([`EdgeFuture`]) instead of a chain of tower layers (each layer
//! of the chain cost a clone of itself, a future of its own and, for `from_fn` layers, a boxed
//! service and a boxed future per request).
//!
//! In order, outermost first:
//! - `Authorization` and `Cookie` are marked sensitive, so a `Debug` of the headers hides them;
//! - a request id, sent back in `x-request-id`;
//! - the request's context for the log (method, path, request id; never the query, which may
//!   carry OAuth codes), named on every line logged while serving it, and the access log line
//!   (at debug);
//! - the connection's address kept with the request, for the handlers that ask who is calling
//!   ([`ClientInfo`], believing forwarded headers from trusted proxies only);
//! - every request but the event stream must finish within the request timeout, body reading and
//!   the CSRF check included, so a client that stalls mid-body is answered 408 and its
//!   connection closed;
//! - a body over [`MAX_BODY_BYTES`] is refused with 413, declared or not;
//! - a panicking handler becomes a 500 page;
//! - a bare error status from a layer or an extractor rejection gets a proper page with a fixed
//!   message instead of framework text, in the signed-in frame when the browser is signed in;
//! - the security headers on every response, `no-store` on everything but fingerprinted assets.
//!
//! Below it, the CSRF check ([`super::csrf::CsrfLayer`]) stays a tower layer: safe methods pass
//! it without a boxed future. Cookies have no layer: the handlers that use them take
//! [`super::cookies::Cookies`] and hand it back with their response.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use futures_util::future::{CatchUnwind, Either};
use http_body_util::Limited;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;
use tower::util::Oneshot;
use tower::{Layer, Service, ServiceExt};

use crate::http::csrf::{Csrf, CsrfLayer};
use crate::http::error::{AppError, RenderedPage};
use crate::http::events::EVENTS_PATH;
use crate::http::pages::{ErrorPage, ErrorParts};
use crate::http::session;
use crate::http::state::AppState;
use crate::http::timer::{ConnectionTimer, LazySleep};
use crate::security::client_ip::{self, ClientInfo};
use crate::telemetry::{self, RequestContext, RequestId, RequestIds};

/// The largest request body accepted, declared or streamed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Routes = Csrf<Router>;
type RoutedFuture =
    Either<<Routes as tower::Service<Request<Body>>>::Future, Oneshot<Routes, Request<Body>>>;

/// The whole application: the edge around the routes. Cloning it is one reference count.
#[derive(Clone)]
pub struct App(Arc<Edge>);

/// What the edge needs, fixed at start.
struct Edge {
    state: AppState,
    routes: Routes,
    /// Send `Strict-Transport-Security` (the base URL is https).
    hsts: bool,
    request_timeout: Duration,
    request_ids: RequestIds,
}

impl App {
    pub fn new(state: AppState, routes: Router) -> Self {
        let config = state.config();
        let routes = CsrfLayer::new(state.clone()).layer(routes);
        Self(Arc::new(Edge {
            hsts: config.base_url.scheme() == "https",
            request_timeout: config.request_timeout,
            request_ids: RequestIds::default(),
            routes,
            state,
        }))
    }

    /// The service the accept loop gives one connection from `peer`.
    pub fn for_connection(&self, peer: SocketAddr) -> Connection {
        Connection(Arc::new(PerConnection {
            routes: Mutex::new(self.0.routes.clone()),
            app: self.clone(),
            deadlines: ConnectionTimer::default(),
            peer,
        }))
    }
}

impl PerConnection {
    /// Run a request through this connection's copy of the routes. A connection serves one
    /// request at a time, so the lock is never contended, and no shared reference count is
    /// touched per request (the routes' clone would take two, each a cache line the worker
    /// threads pass between them).
    fn route(&self, req: Request<Body>) -> RoutedFuture {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut cx = Context::from_waker(Waker::noop());
        match routes.poll_ready(&mut cx) {
            // The routes are always ready (no layer below the edge applies back pressure); the
            // tower contract still wants the question asked.
            Poll::Ready(Ok(())) => Either::Left(routes.call(req)),
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => Either::Right(routes.clone().oneshot(req)),
        }
    }

    /// One request through the edge: the work before the routes is done at once, and the
    /// future returned ([`EdgeFuture`]) holds only what the response needs. It is a named type,
    /// so hyper keeps it inline: no box per request, and no layers of combinators to move it
    /// through.
    fn handle<B>(self: Arc<Self>, req: Request<B>) -> EdgeFuture
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let edge = &*self.app.0;
        let (mut parts, body) = req.into_parts();
        let RequestHeaders {
            cookie,
            declared_too_large,
        } = scan_headers(&mut parts.headers);
        let request_id = edge.request_ids.next();
        let context = RequestContext {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            id: request_id,
            peer: self.peer,
        };
        // Only the access line (at debug) reads the clock.
        let started = tracing::enabled!(tracing::Level::DEBUG).then(Instant::now);
        let path = parts.uri.path();
        let is_static = path.starts_with("/static/");
        let is_events = path == EVENTS_PATH;
        let is_head = parts.method == Method::HEAD;

        let (routed, early) = if declared_too_large {
            (
                None,
                Some(Box::new(StatusCode::PAYLOAD_TOO_LARGE.into_response())),
            )
        } else {
            // A request known to have no body (most: every plain GET) skips the limit's wrapper,
            // and with it a box.
            let body = if body.is_end_stream() {
                Body::empty()
            } else {
                Body::new(Limited::new(body, MAX_BODY_BYTES))
            };
            let req = Request::from_parts(parts, body);
            // The routes' `call` runs part of the stack at once (CSRF, routing): a
            // panic there gets the panic page too.
            match std::panic::catch_unwind(AssertUnwindSafe(|| self.route(req))) {
                Ok(routed) => (Some(AssertUnwindSafe(routed).catch_unwind()), None),
                Err(_) => (None, Some(Box::new(panic_page()))),
            }
        };
        let deadline = (routed.is_some() && !is_events).then(|| {
            self.deadlines
                .sleep_until(Instant::now() + edge.request_timeout)
        });
        let finish = Finish {
            routed,
            early,
            deadline,
            nav: None,
            hsts: edge.hsts,
            connection: self,
            request_id,
            cookie,
            is_static,
            is_head,
            started,
        };
        telemetry::in_request(context, finish)
    }
}

/// hyper's future for one request: [`Finish`] with the request's log context set while it runs.
pub type EdgeFuture = TaskLocalFuture<RequestContext, Finish>;

pin_project! {
    /// The rest of a request once it is routed: wait for the routes (or the request deadline),
    /// put a page on a bare error status, and add the security headers and the request id.
    pub struct Finish {
        #[pin]
        routed: Option<CatchUnwind<AssertUnwindSafe<RoutedFuture>>>,
        // A response decided before routing (a declared body over the limit, a panic in `call`);
        // rare, so boxed: the future hyper moves around stays smaller.
        early: Option<Box<Response>>,
        deadline: Option<LazySleep>,
        // An error page being re-rendered in the signed-in frame (rare: boxed).
        nav: Option<Pin<Box<dyn Future<Output = Response> + Send>>>,
        hsts: bool,
        connection: Arc<PerConnection>,
        request_id: RequestId,
        // The request's first `Cookie` header, for that re-rendering.
        cookie: Option<HeaderValue>,
        is_static: bool,
        is_head: bool,
        started: Option<Instant>,
    }
}

impl Future for Finish {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let resp = if let Some(nav) = this.nav.as_mut() {
            let resp = std::task::ready!(nav.as_mut().poll(cx));
            *this.nav = None;
            resp
        } else {
            let resp = std::task::ready!(poll_routed(
                this.early,
                this.routed.as_mut(),
                this.deadline,
                cx
            ));
            let resp = fallback_page(resp, *this.is_head);
            match (
                this.cookie.take(),
                resp.extensions().get::<ErrorParts>().cloned(),
            ) {
                (Some(cookie), Some(page)) => {
                    let state = this.connection.app.0.state.clone();
                    let mut nav = Box::pin(with_nav(state, cookie, page, resp));
                    let Poll::Ready(resp) = nav.as_mut().poll(cx) else {
                        *this.nav = Some(nav);
                        return Poll::Pending;
                    };
                    resp
                }
                _ => resp,
            }
        };
        Poll::Ready(Ok(finish_response(
            resp,
            *this.is_static,
            *this.hsts,
            *this.request_id,
            *this.started,
        )))
    }
}

/// The response of the routes, the panic page, or 408 at the deadline. Once there is one, the
/// routes' future is dropped, as a `select` would, and the deadline with it.
fn poll_routed(
    early: &mut Option<Box<Response>>,
    mut routed: Pin<&mut Option<CatchUnwind<AssertUnwindSafe<RoutedFuture>>>>,
    deadline: &mut Option<LazySleep>,
    cx: &mut Context<'_>,
) -> Poll<Response> {
    if let Some(resp) = early.take() {
        return Poll::Ready(*resp);
    }
    let Some(future) = routed.as_mut().as_pin_mut() else {
        unreachable!("an edge future polled after it finished")
    };
    let resp = match future.poll(cx) {
        Poll::Ready(Ok(Ok(resp))) => resp,
        Poll::Ready(Ok(Err(never))) => match never {},
        Poll::Ready(Err(_)) => panic_page(),
        Poll::Pending => match deadline.as_mut().map(|d| Pin::new(d).poll(cx)) {
            Some(Poll::Ready(())) => timed_out(),
            _ => return Poll::Pending,
        },
    };
    routed.set(None);
    *deadline = None;
    Poll::Ready(resp)
}

fn timed_out() -> Response {
    tracing::info!("request timed out");
    let mut resp = StatusCode::REQUEST_TIMEOUT.into_response();
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// What every response gets last: the security headers, the request id, and the access line.
fn finish_response(
    mut resp: Response,
    is_static: bool,
    hsts: bool,
    request_id: RequestId,
    started: Option<Instant>,
) -> Response {
    let headers = resp.headers_mut();
    security_headers(headers, is_static, hsts);
    headers
        .entry(REQUEST_ID.clone())
        .or_insert_with(|| request_id.header_value());
    // One line per request only at debug: a proxy in front keeps its own access log, and at
    // info the log stays about what Spotter did (errors name the request).
    tracing::debug!(
        status = resp.status().as_u16(),
        latency_ms = started.map(|t| t.elapsed().as_millis()),
        "finished processing request"
    );
    resp
}

/// The hyper service of one connection.
pub struct Connection(Arc<PerConnection>);

/// What one connection's requests share: the app, the connection's own copy of the routes, the
/// peer address it serves, and the timer its requests' deadlines share. A request holds a
/// reference to this rather than to the app, so the reference count it touches is the
/// connection's own.
struct PerConnection {
    app: App,
    routes: Mutex<Routes>,
    deadlines: ConnectionTimer,
    peer: SocketAddr,
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for Connection {
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture;

    fn call(&self, req: Request<hyper::body::Incoming>) -> Self::Future {
        self.0.clone().handle(req)
    }
}

/// As a tower service (router-level tests drive it with `oneshot`), the peer comes from a
/// `ConnectInfo` extension, loopback without one.
impl<B> tower::Service<Request<B>> for App
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.0);
        let Connection(connection) = self.for_connection(peer);
        connection.handle(req)
    }
}

/// Who is calling (sign-in limits, audit rows, link flows): the connection's address, or the
/// client a trusted proxy names. Worked out only for the handlers that ask; the edge keeps the
/// connection's address with the request.
impl<S> FromRequestParts<S> for ClientInfo
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Some(peer) = telemetry::request_peer() else {
            return Err(AppError::Internal(anyhow::anyhow!(
                "client identity asked for outside a request served by the edge"
            )));
        };
        let state = AppState::from_ref(state);
        let trusted = &state.config().security.trusted_proxies;
        Ok(client_ip::resolve(peer, &parts.headers, trusted))
    }
}

/// What the edge reads from a request's headers.
struct RequestHeaders {
    /// The first `Cookie` header: an error page is re-rendered signed in when it names a session.
    cookie: Option<HeaderValue>,
    /// A declared `Content-Length` over [`MAX_BODY_BYTES`].
    declared_too_large: bool,
}

/// One pass over the request's headers: credentials are marked sensitive, so they print as
/// `Sensitive` in any `Debug` of the request, and what the edge needs is picked up on the way.
/// A pass costs less than a lookup per name (each hashes the name), and the entry API would
/// first make room for an insert, growing the map hyper sized to the request whenever it is full.
fn scan_headers(headers: &mut HeaderMap) -> RequestHeaders {
    let mut scanned = RequestHeaders {
        cookie: None,
        declared_too_large: false,
    };
    for (name, value) in headers.iter_mut() {
        if *name == header::COOKIE {
            value.set_sensitive(true);
            if scanned.cookie.is_none() {
                scanned.cookie = Some(value.clone());
            }
        } else if *name == header::AUTHORIZATION {
            value.set_sensitive(true);
        } else if *name == header::CONTENT_LENGTH {
            scanned.declared_too_large |= value
                .to_str()
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|len| len > MAX_BODY_BYTES as u64);
        }
    }
    scanned
}

/// An error page keeps the navigation when the browser is signed in: every error page (from a
/// handler, an extractor, the edge or a panic) is re-rendered with the signed-in frame.
async fn with_nav(
    state: AppState,
    cookie_header: HeaderValue,
    parts: ErrorParts,
    resp: Response,
) -> Response {
    let user = match session::user_from_cookie_header(&state, &cookie_header).await {
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

fn panic_page() -> Response {
    tracing::error!("handler panicked");
    ErrorPage::for_status(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorPage::default_message(StatusCode::INTERNAL_SERVER_ERROR),
    )
    .into_response_with(StatusCode::INTERNAL_SERVER_ERROR)
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

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The security headers, built once (static names and values: cloning one allocates nothing
/// and parses nothing).
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

/// The security headers for each kind of response (fingerprinted asset or not, HSTS or not),
/// built once. Cloning a map copies its index and entries as they are; inserting a header hashes
/// its name and places it anew, and growing the response's map to hold them copies it again.
/// That was about a seventh of the user-space work of a response with an empty body.
static SECURITY_HEADER_SETS: LazyLock<[HeaderMap; 4]> = LazyLock::new(|| {
    std::array::from_fn(|kind| {
        let (is_static, hsts) = (kind & 1 == 1, kind & 2 == 2);
        // Room for the response's own few headers and the request id besides these.
        let mut h = HeaderMap::with_capacity(16);
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
        h
    })
});

/// The security headers on every response; `no-store` on everything but fingerprinted assets.
/// Where the response set one of them itself, the security header's value wins. Public for the
/// load test's baseline (`examples/hello_headers.rs`), which sends the same ones.
pub fn security_headers(h: &mut HeaderMap, is_static: bool, hsts: bool) {
    let set = &SECURITY_HEADER_SETS[usize::from(is_static) | usize::from(hsts) << 1];
    // The response's own headers go into a copy of the set: a response has few of them.
    let own = std::mem::replace(h, set.clone());
    let mut current: Option<HeaderName> = None;
    for (name, value) in own {
        // A name comes with its first value only; the values after it are its own.
        if let Some(name) = name {
            current = set.keys().all(|ours| *ours != name).then_some(name);
        }
        if let Some(name) = &current {
            h.append(name.clone(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_headers_are_marked_sensitive_in_one_pass() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        let scanned = scan_headers(&mut h);
        assert!(
            scanned
                .cookie
                .is_some_and(|c| c == "a=1" && c.is_sensitive())
        );
        assert!(!scanned.declared_too_large);
        assert!(
            h.get_all(header::COOKIE)
                .iter()
                .all(HeaderValue::is_sensitive)
        );
        assert!(h[header::AUTHORIZATION].is_sensitive());
        assert!(!h[header::ACCEPT].is_sensitive());
        assert!(!format!("{h:?}").contains("Bearer"));

        // A map as full as hyper may hand over is not grown by the marking.
        let mut full = HeaderMap::new();
        full.reserve(12);
        full.insert(header::COOKIE, HeaderValue::from_static("a=1"));
        while full.len() < full.capacity() {
            let name = HeaderName::try_from(format!("x-h{}", full.len())).unwrap();
            full.insert(name, HeaderValue::from_static("v"));
        }
        let capacity = full.capacity();
        scan_headers(&mut full);
        assert_eq!(full.capacity(), capacity);
        assert!(full[header::COOKIE].is_sensitive());
    }

    #[test]
    fn the_security_headers_win_and_the_responses_own_headers_stay() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        h.append(header::SET_COOKIE, HeaderValue::from_static("a=1"));
        h.append(header::SET_COOKIE, HeaderValue::from_static("b=2"));
        h.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("ALLOWALL"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        security_headers(&mut h, false, true);
        assert_eq!(h[header::CONTENT_TYPE], "text/html");
        let cookies: Vec<_> = h.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(h.get_all(header::X_FRAME_OPTIONS).iter().count(), 1);
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h.get_all(header::CACHE_CONTROL).iter().count(), 1);
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert!(h.contains_key(header::STRICT_TRANSPORT_SECURITY));
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(h.len(), 1 + 2 + 9);

        // A fingerprinted asset keeps its own caching, and plain http has no HSTS.
        let mut h = HeaderMap::new();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("immutable"));
        security_headers(&mut h, true, false);
        assert_eq!(h[header::CACHE_CONTROL], "immutable");
        assert!(!h.contains_key(header::STRICT_TRANSPORT_SECURITY));
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h.len(), 1 + 7);
    }

    #[test]
    fn a_declared_length_over_the_limit_is_seen_in_the_pass() {
        let declared = |len: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_LENGTH, HeaderValue::from_str(len).unwrap());
            scan_headers(&mut h).declared_too_large
        };
        assert!(declared(&(MAX_BODY_BYTES + 1).to_string()));
        assert!(!declared(&MAX_BODY_BYTES.to_string()));
        assert!(!declared("not a number"));
    }
}
