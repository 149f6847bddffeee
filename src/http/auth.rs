//! Sign in with Navidrome credentials (S7), sign out.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use std::time::Instant;

use secrecy::SecretString;
use serde::Deserialize;
use tower_cookies::Cookies;

use crate::clients::navidrome::{Credentials, NavidromeError};
use crate::crypto::FieldRef;
use crate::crypto::registry::NAVIDROME_PASSWORD;
use crate::db::{self, audit::NewAuditEvent};
use crate::domain::audit::AuditKind;
use crate::domain::ids::SessionId;
use crate::error::{AppError, AppResult};
use crate::http::pages::{PageCtx, render};
use crate::http::session::{
    PRE_SESSION_COOKIE, SESSION_COOKIE, clear_cookie, cookie, csrf_for_pre_session, pre_session_id,
    resolve_session,
};
use crate::security::client_ip::ClientInfo;
use crate::security::rate_limit::AccountCheck;
use crate::state::AppState;

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
}

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "signed-out" => Some("You are signed out."),
        "expired" => Some("Your session ended. Sign in again."),
        _ => None,
    }
}

fn login_response(
    state: &AppState,
    cookies: &Cookies,
    status: StatusCode,
    error: Option<&'static str>,
    username: String,
) -> Response {
    let pre = pre_session_id(state, cookies);
    let page = LoginPage {
        ctx: PageCtx::anonymous(csrf_for_pre_session(&state.csrf, &pre)),
        error,
        notice: None,
        username,
    };
    render(&page, status)
}

async fn login_page(
    State(state): State<AppState>,
    cookies: Cookies,
    Query(q): Query<LoginQuery>,
) -> AppResult<Response> {
    if resolve_session(&state, &cookies).await?.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    if cookies.get(SESSION_COOKIE).is_some() {
        clear_cookie(&state.config, &cookies, SESSION_COOKIE);
    }
    let pre = pre_session_id(&state, &cookies);
    let page = LoginPage {
        ctx: PageCtx::anonymous(csrf_for_pre_session(&state.csrf, &pre)),
        error: None,
        notice: notice_text(q.notice.as_deref()),
        username: String::new(),
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    cookies: Cookies,
    headers: axum::http::HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> AppResult<Response> {
    if !state.limiter.check(client.ip) {
        tracing::warn!(client_ip = %client.ip, "login rate limit hit");
        let mut resp = login_response(
            &state,
            &cookies,
            StatusCode::TOO_MANY_REQUESTS,
            Some(RATE_LIMITED),
            String::new(),
        );
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("60"),
        );
        return Ok(resp);
    }
    let Ok(Form(form)) = form else {
        return Ok(login_response(
            &state,
            &cookies,
            StatusCode::BAD_REQUEST,
            Some(FORM_INCOMPLETE),
            String::new(),
        ));
    };
    let username = form.username.trim().to_owned();
    let password = SecretString::from(form.password);
    let pw_len = secrecy::ExposeSecret::expose_secret(&password).len();
    if username.is_empty()
        || username.chars().count() > 128
        || pw_len == 0
        || pw_len > 1024
        || username.chars().any(char::is_control)
    {
        return Ok(login_response(
            &state,
            &cookies,
            StatusCode::BAD_REQUEST,
            Some(FORM_INCOMPLETE),
            String::new(),
        ));
    }
    let ip = client.ip.to_string();

    if let AccountCheck::Paused {
        retry_after,
        first_refusal,
    } = state.accounts.check(&username, Instant::now())
    {
        if first_refusal {
            db::audit::record(
                &state.db,
                NewAuditEvent {
                    user_id: None,
                    kind: AuditKind::LoginAccountPaused,
                    username: &username,
                    client_ip: &ip,
                    detail: "too many failed sign-ins for this account; paused for a while",
                },
            )
            .await?;
            state.events.publish_audit(AuditKind::LoginAccountPaused);
        }
        tracing::warn!(client_ip = %client.ip, "sign-in refused: account paused after too many failures");
        let mut resp = login_response(
            &state,
            &cookies,
            StatusCode::TOO_MANY_REQUESTS,
            Some(RATE_LIMITED),
            String::new(),
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        return Ok(resp);
    }

    match state
        .navidrome
        .ping(&Credentials {
            username: &username,
            password: &password,
        })
        .await
    {
        Ok(()) => {}
        Err(NavidromeError::WrongCredentials | NavidromeError::Api { .. }) => {
            let paused = state.accounts.record_failure(&username, Instant::now());
            db::audit::record(
                &state.db,
                NewAuditEvent {
                    user_id: None,
                    kind: AuditKind::LoginFailed,
                    username: &username,
                    client_ip: &ip,
                    detail: "Navidrome rejected the credentials",
                },
            )
            .await?;
            state.events.publish_audit(AuditKind::LoginFailed);
            if paused {
                tracing::warn!("an account used up its sign-in failure budget and is paused");
            }
            return Ok(login_response(
                &state,
                &cookies,
                StatusCode::UNAUTHORIZED,
                Some(LOGIN_FAILED),
                username,
            ));
        }
        Err(e) => {
            tracing::warn!(error = %e, "navidrome unavailable during login");
            return Ok(login_response(
                &state,
                &cookies,
                StatusCode::SERVICE_UNAVAILABLE,
                Some(NAVIDROME_DOWN),
                username,
            ));
        }
    }

    // Owner lock: the allow-list if set, else the first account to sign in owns this instance.
    let owner = db::users::find_owner(&state.db).await?;
    let allowed = &state.config.security.allowed_users;
    let permitted = if allowed.is_empty() {
        owner.as_ref().is_none_or(|o| o.username == username)
    } else {
        allowed.iter().any(|a| a == &username)
    };
    if !permitted {
        db::audit::record(
            &state.db,
            NewAuditEvent {
                user_id: None,
                kind: AuditKind::LoginRefused,
                username: &username,
                client_ip: &ip,
                detail: "not the owner of this Spotter",
            },
        )
        .await?;
        state.events.publish_audit(AuditKind::LoginRefused);
        return Ok(login_response(
            &state,
            &cookies,
            StatusCode::UNAUTHORIZED,
            Some(LOGIN_FAILED),
            username,
        ));
    }

    let ttl = i64::try_from(state.config.security.session_ttl.as_secs()).unwrap_or(86_400);
    let now = db::now();
    let session_id = SessionId::new_random();
    let user_agent: String = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown device")
        .chars()
        .take(200)
        .collect();

    let mut tx = state.db.begin().await?;
    let user_id = match db::users::upsert_login(&mut tx, &username, owner.is_none()).await {
        Ok(id) => id,
        // Two first sign-ins raced for ownership: the unique owner index decided.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            drop(tx);
            return Ok(login_response(
                &state,
                &cookies,
                StatusCode::UNAUTHORIZED,
                Some(LOGIN_FAILED),
                username,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let row_key = user_id.to_string();
    let sealed = state
        .cipher
        .seal(
            FieldRef {
                column: &NAVIDROME_PASSWORD,
                row_key: &row_key,
            },
            secrecy::ExposeSecret::expose_secret(&password),
        )
        .map_err(|e| AppError::Internal(anyhow::anyhow!("sealing the password: {e}")))?;
    db::credentials::upsert_navidrome_password(&mut tx, user_id, &sealed).await?;
    db::sessions::insert(
        &mut tx,
        db::sessions::NewSession {
            jti: &session_id,
            user_id,
            expires_at: now + ttl,
            client_ip: &ip,
            user_agent: &user_agent,
        },
    )
    .await?;
    db::audit::record(
        &mut *tx,
        NewAuditEvent {
            user_id: Some(user_id),
            kind: AuditKind::LoginOk,
            username: &username,
            client_ip: &ip,
            detail: "",
        },
    )
    .await?;
    tx.commit().await?;
    state.accounts.record_success(&username);
    state.events.publish_audit(AuditKind::LoginOk);
    // The ping above just succeeded with these credentials.
    state
        .navidrome_status
        .put(user_id, crate::http::dashboard::NavidromeStatus::Connected);

    let token = state
        .tokens
        .issue(user_id, &session_id, now, ttl)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("issuing the session token: {e}")))?;
    cookies.add(cookie(&state.config, SESSION_COOKIE, token, ttl));
    clear_cookie(&state.config, &cookies, PRE_SESSION_COOKIE);
    tracing::info!(user_id = %user_id, "signed in");
    Ok(Redirect::to("/").into_response())
}

async fn logout(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    cookies: Cookies,
) -> AppResult<Response> {
    if let Some(user) = resolve_session(&state, &cookies).await? {
        db::sessions::delete(&state.db, user.user_id, &user.session_id).await?;
        let ip = client.ip.to_string();
        db::audit::record(
            &state.db,
            NewAuditEvent {
                user_id: Some(user.user_id),
                kind: AuditKind::Logout,
                username: &user.username,
                client_ip: &ip,
                detail: "",
            },
        )
        .await?;
        state.events.publish_audit(AuditKind::Logout);
    }
    clear_cookie(&state.config, &cookies, SESSION_COOKIE);
    Ok(Redirect::to("/auth/login?notice=signed-out").into_response())
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
