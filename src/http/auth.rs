//! Sign in with Navidrome credentials (S7), sign out.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::jobs::{JobName, Trigger};
use crate::http::cookies::Cookies;
use crate::http::error::{AppError, AppResult};
use crate::http::notices::{Code, LoginNotice, redirect_with_notice};
use crate::http::pages::{PageCtx, render};
use crate::http::session::{
    PRE_SESSION_COOKIE, SESSION_COOKIE, clear_cookie, cookie, csrf_for_pre_session, pre_session_id,
    resolve_session,
};
use crate::http::state::AppState;
use crate::jobs::TriggerError;
use crate::security::client_ip::ClientInfo;
use crate::security::return_to::safe_return_path;
use crate::services::{self, sign_in};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", get(login_page))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/auth/logout", post(logout))
}

/// One message for every credential failure (S7).
const LOGIN_FAILED: &str = "Sign-in failed. Check your Navidrome username and password.";
const NAVIDROME_DOWN: &str =
    "Navidrome could not be reached. Check that it is running, then try again.";
const FORM_INCOMPLETE: &str = "Enter your username and password.";
const RATE_LIMITED: &str = "Too many sign-in attempts. Wait a minute and try again.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: PageCtx,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    username: String,
    /// The page to return to after signing in (already checked: a path on this site).
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

/// The checked return path of a `next` parameter (see `security::return_to`).
fn checked_next(raw: Option<&str>) -> Option<String> {
    raw.and_then(safe_return_path).map(str::to_owned)
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    code.and_then(LoginNotice::parse).map(LoginNotice::text)
}

fn login_response(
    state: &AppState,
    cookies: &Cookies,
    status: StatusCode,
    error: Option<&'static str>,
    username: String,
    next: Option<String>,
) -> Response {
    let pre = pre_session_id(state, cookies);
    let page = LoginPage {
        ctx: PageCtx::anonymous(csrf_for_pre_session(&state.csrf, &pre)),
        error,
        notice: None,
        username,
        next,
    };
    render(&page, status)
}

async fn login_page(
    State(state): State<AppState>,
    cookies: Cookies,
    Query(q): Query<LoginQuery>,
) -> Response {
    let page = show_login_page(&state, &cookies, q).await;
    cookies.onto(page)
}

async fn show_login_page(
    state: &AppState,
    cookies: &Cookies,
    q: LoginQuery,
) -> AppResult<Response> {
    let next = checked_next(q.next.as_deref());
    if resolve_session(state, cookies).await?.is_some() {
        return Ok(Redirect::to(next.as_deref().unwrap_or("/")).into_response());
    }
    if cookies.get(SESSION_COOKIE).is_some() {
        clear_cookie(state.config(), cookies, SESSION_COOKIE);
    }
    let pre = pre_session_id(state, cookies);
    let page = LoginPage {
        ctx: PageCtx::anonymous(csrf_for_pre_session(&state.csrf, &pre)),
        error: None,
        notice: notice_text(q.notice.as_deref()),
        username: String::new(),
        next,
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

impl LoginForm {
    /// The trimmed username and the password, if both have a usable shape.
    fn parse(self) -> Option<(String, SecretString)> {
        let username = self.username.trim().to_owned();
        let pw_len = self.password.len();
        let usable = !username.is_empty()
            && username.chars().count() <= 128
            && !username.chars().any(char::is_control)
            && (1..=1024).contains(&pw_len);
        usable.then(|| (username, SecretString::from(self.password)))
    }
}

fn too_many_attempts(
    state: &AppState,
    cookies: &Cookies,
    retry_after_secs: u64,
    next: Option<String>,
) -> Response {
    let mut resp = login_response(
        state,
        cookies,
        StatusCode::TOO_MANY_REQUESTS,
        Some(RATE_LIMITED),
        String::new(),
        next,
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    cookies: Cookies,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let outcome = sign_in_with(&state, &client, &cookies, &headers, form).await;
    cookies.onto(outcome)
}

async fn sign_in_with(
    state: &AppState,
    client: &ClientInfo,
    cookies: &Cookies,
    headers: &HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> AppResult<Response> {
    if form
        .as_ref()
        .is_err_and(|r| r.status() == StatusCode::PAYLOAD_TOO_LARGE)
    {
        return Ok(StatusCode::PAYLOAD_TOO_LARGE.into_response());
    }
    let form = form.ok().map(|Form(f)| f);
    let next = checked_next(form.as_ref().and_then(|f| f.next.as_deref()));
    if !state.limiter.check(client.ip) {
        tracing::warn!(client_ip = %client.ip, "login rate limit hit");
        return Ok(too_many_attempts(state, cookies, 60, next));
    }
    let Some((username, password)) = form.and_then(LoginForm::parse) else {
        return Ok(login_response(
            state,
            cookies,
            StatusCode::BAD_REQUEST,
            Some(FORM_INCOMPLETE),
            String::new(),
            next,
        ));
    };
    let client_ip = client.ip.to_string();
    let user_agent: String = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown device")
        .chars()
        .take(200)
        .collect();
    let attempt = sign_in::Attempt {
        username: &username,
        password: &password,
        client_ip: &client_ip,
        user_agent: &user_agent,
    };
    let session = match sign_in::sign_in(&state.core, &state.accounts, attempt).await? {
        sign_in::Outcome::SignedIn(session) => session,
        sign_in::Outcome::Refused => {
            return Ok(login_response(
                state,
                cookies,
                StatusCode::UNAUTHORIZED,
                Some(LOGIN_FAILED),
                username,
                next,
            ));
        }
        sign_in::Outcome::AccountPaused { retry_after } => {
            return Ok(too_many_attempts(
                state,
                cookies,
                retry_after.as_secs(),
                next,
            ));
        }
        sign_in::Outcome::NavidromeUnavailable => {
            return Ok(login_response(
                state,
                cookies,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(NAVIDROME_DOWN),
                username,
                next,
            ));
        }
    };
    let token = state
        .tokens
        .issue(
            session.user_id,
            &session.session_id,
            session.issued_at,
            session.ttl_secs,
        )
        .map_err(|e| AppError::Internal(anyhow::anyhow!("issuing the session token: {e}")))?;
    cookies.add(cookie(
        state.config(),
        SESSION_COOKIE,
        token,
        session.ttl_secs,
    ));
    clear_cookie(state.config(), cookies, PRE_SESSION_COOKIE);
    // The first sign-in starts the first catalogue import. A run already going (the startup
    // one) may have had no account to read with, so another follows it.
    if services::library_import::never_imported(&state.core).await? {
        let result = crate::jobs::trigger_after_current(
            &state.core,
            JobName::LibraryImport,
            Trigger::Startup,
        )
        .await;
        match result {
            Ok(_) | Err(TriggerError::ShuttingDown) => {}
            Err(e) => tracing::warn!(error = %e, "the first library import did not start"),
        }
    }
    Ok(Redirect::to(next.as_deref().unwrap_or("/")).into_response())
}

async fn logout(State(state): State<AppState>, client: ClientInfo, cookies: Cookies) -> Response {
    let signed_out = sign_out(&state, &client, &cookies).await;
    cookies.onto(signed_out)
}

async fn sign_out(state: &AppState, client: &ClientInfo, cookies: &Cookies) -> AppResult<Response> {
    if let Some(user) = resolve_session(state, cookies).await? {
        let ip = client.ip.to_string();
        services::sessions::sign_out(&state.core, user.actor(&ip), &user.session_id).await?;
    }
    clear_cookie(state.config(), cookies, SESSION_COOKIE);
    Ok(redirect_with_notice("/auth/login", LoginNotice::SignedOut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_fixed_texts() {
        assert!(notice_text(Some("signed-out")).is_some());
        assert!(notice_text(Some("<script>")).is_none());
        assert!(notice_text(None).is_none());
    }
}
