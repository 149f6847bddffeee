//! `GET /preferences/security`: sessions (revoke one, revoke all others) and the audit log.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use tower_cookies::Cookies;

use crate::db::{self, audit::NewAuditEvent};
use crate::domain::audit::AuditKind;
use crate::domain::ids::SessionId;
use crate::error::{AppError, AppResult};
use crate::http::format::{human_time, iso_time};
use crate::http::pages::{PageCtx, render};
use crate::http::session::{CurrentUser, SESSION_COOKIE, clear_cookie};
use crate::security::client_ip::ClientInfo;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/preferences/security", get(security_page))
        .route(
            "/preferences/security/sessions/{id}/revoke",
            post(revoke_one),
        )
        .route(
            "/preferences/security/sessions/revoke-others",
            post(revoke_others),
        )
}

struct SessionRow {
    id: String,
    current: bool,
    user_agent: String,
    client_ip: String,
    created: String,
    created_iso: String,
    last_seen: String,
    last_seen_iso: String,
}

struct AuditRow {
    kind: String,
    label: &'static str,
    username: String,
    client_ip: String,
    detail: String,
    at: String,
    at_iso: String,
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage {
    ctx: PageCtx,
    notice: Option<&'static str>,
    sessions: Vec<SessionRow>,
    audit: Vec<AuditRow>,
    retention_days: u32,
}

#[derive(Deserialize)]
struct NoticeQuery {
    #[serde(default)]
    notice: Option<String>,
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "revoked" => Some("The session was revoked."),
        "revoked-others" => Some("All other sessions were signed out."),
        "not-found" => Some("That session no longer exists."),
        _ => None,
    }
}

async fn security_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    let sessions = db::sessions::list_for_user(&state.db, user.user_id)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            current: s.jti == user.session_id,
            id: s.jti.0,
            user_agent: s.user_agent,
            client_ip: s.client_ip,
            created: human_time(s.created_at),
            created_iso: iso_time(s.created_at),
            last_seen: human_time(s.last_seen_at),
            last_seen_iso: iso_time(s.last_seen_at),
        })
        .collect();
    let audit = db::audit::recent(&state.db, user.user_id, 100)
        .await?
        .into_iter()
        .map(|e| AuditRow {
            label: AuditKind::label(&e.kind),
            kind: e.kind,
            username: e.username,
            client_ip: e.client_ip,
            detail: e.detail,
            at: human_time(e.created_at),
            at_iso: iso_time(e.created_at),
        })
        .collect();
    let page = SecurityPage {
        notice: notice_text(q.notice.as_deref()),
        sessions,
        audit,
        retention_days: state.config.audit_retention_days,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "security"),
    };
    Ok(render(&page, StatusCode::OK))
}

async fn revoke_one(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    cookies: Cookies,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let Some(target) = SessionId::parse(&id) else {
        return Err(AppError::BadRequest("That session id is not valid."));
    };
    let deleted = db::sessions::delete(&state.db, user.user_id, &target).await?;
    if !deleted {
        return Ok(Redirect::to("/preferences/security?notice=not-found").into_response());
    }
    let ip = client.ip.to_string();
    let is_current = target == user.session_id;
    db::audit::record(
        &state.db,
        NewAuditEvent {
            user_id: Some(user.user_id),
            kind: AuditKind::SessionRevoked,
            username: &user.username,
            client_ip: &ip,
            detail: if is_current {
                "this session"
            } else {
                "another session"
            },
        },
    )
    .await?;
    state.events.publish_audit(AuditKind::SessionRevoked);
    if is_current {
        clear_cookie(&state.config, &cookies, SESSION_COOKIE);
        return Ok(Redirect::to("/auth/login?notice=signed-out").into_response());
    }
    Ok(Redirect::to("/preferences/security?notice=revoked").into_response())
}

async fn revoke_others(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    user: CurrentUser,
) -> AppResult<Response> {
    let n = db::sessions::delete_others(&state.db, user.user_id, &user.session_id).await?;
    let ip = client.ip.to_string();
    let detail = format!("{n} session(s)");
    db::audit::record(
        &state.db,
        NewAuditEvent {
            user_id: Some(user.user_id),
            kind: AuditKind::SessionsRevokedOthers,
            username: &user.username,
            client_ip: &ip,
            detail: &detail,
        },
    )
    .await?;
    state.events.publish_audit(AuditKind::SessionsRevokedOthers);
    Ok(Redirect::to("/preferences/security?notice=revoked-others").into_response())
}
