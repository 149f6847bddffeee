//! `GET /preferences/security`: sessions (revoke one, revoke all others) and the audit log.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use crate::app::Core;
use crate::domain::audit::AuditKind;
use crate::domain::ids::SessionId;
use crate::http::cookies::Cookies;
use crate::http::error::{AppError, AppResult};
use crate::http::format::{device, human_time, iso_time};
use crate::http::notices::{Code, LoginNotice, SecurityNotice, redirect_with_notice};
use crate::http::pages::{PageCtx, render};
use crate::http::session::{CurrentUser, SESSION_COOKIE, clear_cookie};
use crate::http::state::AppState;
use crate::security::client_ip::ClientInfo;
use crate::services;
use crate::services::sessions::{self, Revoked};

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
    device: String,
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

const PAGE: &str = "/preferences/security";

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    code.and_then(SecurityNotice::parse)
        .map(SecurityNotice::text)
}

async fn security_page(
    State(core): State<Core>,
    user: CurrentUser,
    Query(q): Query<NoticeQuery>,
) -> AppResult<Response> {
    let sessions = sessions::list(&core, user.user_id)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            current: s.jti == user.session_id,
            id: s.jti.0,
            device: device(&s.user_agent),
            user_agent: s.user_agent,
            client_ip: s.client_ip,
            created: human_time(s.created_at),
            created_iso: iso_time(s.created_at),
            last_seen: human_time(s.last_seen_at),
            last_seen_iso: iso_time(s.last_seen_at),
        })
        .collect();
    let audit = services::audit::recent(&core, user.user_id, 100)
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
        retention_days: core.config.audit_retention_days,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "security"),
    };
    Ok(render(&page, StatusCode::OK))
}

async fn revoke_one(
    State(state): State<AppState>,
    client: ClientInfo,
    cookies: Cookies,
    user: CurrentUser,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let Some(target) = SessionId::parse(&id) else {
        return Err(AppError::BadRequest("That session id is not valid."));
    };
    let ip = client.ip.to_string();
    let revoked = sessions::revoke(&state.core, user.actor(&ip), &user.session_id, &target).await?;
    Ok(match revoked {
        Revoked::NotFound => redirect_with_notice(PAGE, SecurityNotice::NotFound),
        Revoked::Other => redirect_with_notice(PAGE, SecurityNotice::Revoked),
        Revoked::Current => {
            clear_cookie(state.config(), &cookies, SESSION_COOKIE);
            cookies.onto(redirect_with_notice("/auth/login", LoginNotice::SignedOut))
        }
    })
}

async fn revoke_others(
    State(core): State<Core>,
    client: ClientInfo,
    user: CurrentUser,
) -> AppResult<Response> {
    let ip = client.ip.to_string();
    sessions::revoke_others(&core, user.actor(&ip), &user.session_id).await?;
    Ok(redirect_with_notice(PAGE, SecurityNotice::RevokedOthers))
}
