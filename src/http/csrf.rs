//! CSRF middleware (S4): every unsafe method needs a same-origin `Origin`/`Referer` and a
//! token bound to the caller's session (or pre-session before login), from the `csrf_token`
//! form field or the `X-CSRF-Token` header. A refusal is 403 and nothing runs. With a signed
//! session cookie present only the session-bound token is accepted (sign-in excepted).

use axum::body::{Body, to_bytes};
use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};

use crate::http::cookies::Cookies;
use crate::http::edge::MAX_BODY_BYTES;
use crate::http::error::AppError;
use crate::http::pages::ErrorPage;
use crate::http::session::{existing_pre_session_id, session_token};
use crate::http::state::AppState;
use crate::security::csrf::{Binding, same_origin};

fn refused() -> Response {
    tracing::info!("request refused by the CSRF check");
    AppError::Forbidden("This request was refused: reload the page and try again.").into_response()
}

/// The form came from another address than the configured base URL: most often Spotter was
/// opened at another name or port than `SPOTTER_SERVER_BASE_URL`. Say so, and link the right
/// address (our own configuration, never the request's).
fn refused_foreign_origin(base: &url::Url) -> Response {
    tracing::info!("request refused: Origin/Referer is not the base URL");
    ErrorPage::for_status(
        StatusCode::FORBIDDEN,
        "This form was sent from a page at another address than Spotter's own, so it was refused. If you opened Spotter at a different name or port, open it at its own address and try again.",
    )
    .with_link(base.to_string(), "Open Spotter at its own address")
    .into_response_with(StatusCode::FORBIDDEN)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn form_field(body: &[u8], field: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == field)
        .map(|(_, v)| v.into_owned())
}

/// The CSRF check as a tower layer: safe methods go straight to the inner service (no boxed
/// future, no clone of it); unsafe ones are checked before the inner service runs.
#[derive(Clone)]
pub struct CsrfLayer {
    state: AppState,
}

impl CsrfLayer {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> tower::Layer<S> for CsrfLayer {
    type Service = Csrf<S>;

    fn layer(&self, inner: S) -> Csrf<S> {
        Csrf {
            state: self.state.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct Csrf<S> {
    state: AppState,
    inner: S,
}

impl<S> tower::Service<Request> for Csrf<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            return Either::Left(self.inner.call(req));
        }
        // The service that was polled ready runs this request; a fresh clone stays behind.
        let fresh = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, fresh);
        let state = self.state.clone();
        Either::Right(Box::pin(async move {
            match check(&state, req).await {
                Ok(req) => ready.call(req).await,
                Err(refusal) => Ok(refusal),
            }
        }))
    }
}

/// Check an unsafe request; `Ok` gives it back (its body re-assembled if it was read).
async fn check(state: &AppState, req: Request) -> Result<Request, Response> {
    let headers = req.headers();
    if !same_origin(
        &state.config().base_url,
        header_str(headers, "origin"),
        header_str(headers, "referer"),
    ) {
        return Err(refused_foreign_origin(&state.config().base_url));
    }

    // A token may be bound to the verified session (jti) or to the signed pre-session id; a
    // login form opened before another tab signed in still carries the pre-session token.
    //
    // Once a signed session exists, only its own token counts: a pre-session cookie can be
    // planted from a sibling subdomain, so it must not unlock a signed-in session's actions.
    // The sign-in form is the one exception, as signing in replaces the session anyway.
    let session_jti = session_token(headers)
        .and_then(|token| state.tokens.verify(token))
        .map(|t| t.session_id);
    let pre_session_counts = session_jti.is_none() || req.uri().path() == "/login";
    let pre_session = pre_session_counts
        .then(|| existing_pre_session_id(&state.cookie_key, &Cookies::from_headers(headers)))
        .flatten();
    let mut bindings = Vec::with_capacity(2);
    if let Some(jti) = &session_jti {
        bindings.push(Binding::Session(jti.as_str()));
    }
    if let Some(pre) = &pre_session {
        bindings.push(Binding::PreSession(pre));
    }
    if bindings.is_empty() {
        return Err(refused());
    }
    let valid = |token: &str| bindings.iter().any(|b| state.csrf.verify(*b, token));

    if let Some(token) = header_str(headers, "x-csrf-token") {
        if valid(token) {
            return Ok(req);
        }
        return Err(refused());
    }

    let is_form = header_str(headers, header::CONTENT_TYPE.as_str()).is_some_and(|ct| {
        ct.trim_start()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !is_form {
        return Err(refused());
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY_BYTES).await else {
        // Over the edge's body limit, declared or streamed.
        return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response());
    };
    let ok = form_field(&bytes, "csrf_token").is_some_and(|t| valid(&t));
    if !ok {
        return Err(refused());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}
