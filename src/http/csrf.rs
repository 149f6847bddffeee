//! CSRF middleware (S4): every unsafe method needs a same-origin `Origin`/`Referer` and a
//! token bound to the caller's session (or pre-session before login), from the `csrf_token`
//! form field or the `X-CSRF-Token` header. A refusal is 403 and nothing runs. With a signed
//! session cookie present only the session-bound token is accepted (sign-in excepted).

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_cookies::Cookies;

use crate::http::error::AppError;
use crate::http::pages::ErrorPage;
use crate::http::session::{SESSION_COOKIE, existing_pre_session_id};
use crate::http::state::AppState;
use crate::security::csrf::{Binding, same_origin};

/// Forms are small; the body limit layer already caps everything at this size.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

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

pub async fn require_csrf(
    State(state): State<AppState>,
    cookies: Cookies,
    req: Request,
    next: Next,
) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers();
    if !same_origin(
        &state.config().base_url,
        header_str(headers, "origin"),
        header_str(headers, "referer"),
    ) {
        return refused_foreign_origin(&state.config().base_url);
    }

    // A token may be bound to the verified session (jti) or to the signed pre-session id; a
    // login form opened before another tab signed in still carries the pre-session token.
    //
    // Once a signed session exists, only its own token counts: a pre-session cookie can be
    // planted from a sibling subdomain, so it must not unlock a signed-in session's actions.
    // The sign-in form is the one exception, as signing in replaces the session anyway.
    let session_jti = cookies
        .get(SESSION_COOKIE)
        .and_then(|c| state.tokens.verify(c.value()))
        .map(|t| t.session_id);
    let pre_session_counts = session_jti.is_none() || req.uri().path() == "/login";
    let pre_session = pre_session_counts
        .then(|| existing_pre_session_id(&state.cookie_key, &cookies))
        .flatten();
    let mut bindings = Vec::with_capacity(2);
    if let Some(jti) = &session_jti {
        bindings.push(Binding::Session(jti.as_str()));
    }
    if let Some(pre) = &pre_session {
        bindings.push(Binding::PreSession(pre));
    }
    if bindings.is_empty() {
        return refused();
    }
    let valid = |token: &str| bindings.iter().any(|b| state.csrf.verify(*b, token));

    if let Some(token) = header_str(headers, "x-csrf-token") {
        if valid(token) {
            return next.run(req).await;
        }
        return refused();
    }

    let is_form = header_str(headers, header::CONTENT_TYPE.as_str()).is_some_and(|ct| {
        ct.trim_start()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !is_form {
        return refused();
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
        return AppError::BadRequest("The form is too large.").into_response();
    };
    let ok = form_field(&bytes, "csrf_token").is_some_and(|t| valid(&t));
    if !ok {
        return refused();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
