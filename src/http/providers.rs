//! `GET /preferences/providers`: each service with its link state and health, the redirect
//! URIs to register (with a "redirect URI doctor"), and the Test / Disconnect actions.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use url::Url;

use crate::app::Core;
use crate::clients::spotify::SCOPES;
use crate::config::Config;
use crate::domain::jobs::Trigger;
use crate::domain::link_health::{ErrorCode, LinkStatus};
use crate::domain::provider::{Provider, Service};
use crate::http::error::{AppError, AppResult};
use crate::http::format::{human_time, iso_time};
use crate::http::notices::{
    Code, ProvidersNotice, error_text, redirect_with_error, redirect_with_notice,
};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::http::state::AppState;
use crate::jobs::TriggerError;
use crate::security::client_ip::ClientInfo;
use crate::services::link_flows::Refusal;
use crate::services::links::{self, TestOutcome};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/preferences/providers", get(providers_page))
        .route("/preferences/{provider}/test", post(test_connection))
        .route("/preferences/{provider}/disconnect", post(disconnect))
        .route("/preferences/{provider}/sync", post(sync_now))
}

pub const PAGE: &str = "/preferences/providers";

/// A 303 back to this page with a fixed refusal message.
pub fn refused(refusal: Refusal) -> Response {
    redirect_with_error(PAGE, refusal)
}

/// A 303 back to this page with a fixed notice.
pub fn notice(notice: ProvidersNotice) -> Response {
    redirect_with_notice(PAGE, notice)
}

/// A 303 back to this page with the answer to a button of one service's card: shown in that
/// card, next to the button, and the browser lands on the card (no jump to the top).
pub fn card_notice(service: Service, notice: ProvidersNotice) -> Response {
    let s = service.as_str();
    Redirect::to(&format!(
        "{PAGE}?notice={}&service={s}#service-{s}",
        notice.as_str()
    ))
    .into_response()
}

/// The answer shown in a card next to the button that asked.
struct CardResult {
    text: String,
    ok: bool,
}

fn card_result(service: Service, notice: ProvidersNotice) -> Option<CardResult> {
    let label = service.label();
    let (text, ok) = match notice {
        ProvidersNotice::TestOk => (format!("{label}: the connection works."), true),
        ProvidersNotice::TestFailed => (
            format!("{label}: the connection test failed. The state above says why."),
            false,
        ),
        ProvidersNotice::SyncStarted => (
            format!(
                "{label}: sync started. New listens appear on the Listens page as they arrive."
            ),
            true,
        ),
        ProvidersNotice::SyncRunning => (format!("{label}: a sync is already running."), true),
        ProvidersNotice::Linked(_) | ProvidersNotice::Unlinked(_) => return None,
    };
    Some(CardResult { text, ok })
}

struct ServiceCard {
    provider: &'static str,
    label: &'static str,
    /// not-configured | not-linked | ok | backoff | broken | misconfigured
    state: &'static str,
    state_label: &'static str,
    account: String,
    linked_at: String,
    linked_at_iso: String,
    checked_at: String,
    checked_at_iso: String,
    until: String,
    until_iso: String,
    reason: Option<&'static str>,
    note: Option<&'static str>,
    /// What linking gives the listener.
    benefit: &'static str,
    /// The README section on setting the service up (for a not-configured one).
    setup_doc: &'static str,
    link_href: Option<&'static str>,
    link_label: &'static str,
    can_test: bool,
    can_disconnect: bool,
    can_sync: bool,
    /// The answer to this card's last button, shown next to it.
    result: Option<CardResult>,
}

/// The redirect URIs and whether the services would accept them.
pub struct RedirectDoctor {
    pub spotify_uri: String,
    pub spotify_warning: Option<&'static str>,
    pub lastfm_uri: String,
    pub lastfm_warning: Option<&'static str>,
}

impl RedirectDoctor {
    pub fn new(config: &Config) -> Self {
        Self {
            spotify_uri: config.spotify_redirect_url.to_string(),
            spotify_warning: spotify_redirect_warning(&config.spotify_redirect_url),
            lastfm_uri: config.lastfm_redirect_url.to_string(),
            lastfm_warning: lastfm_redirect_warning(&config.lastfm_redirect_url),
        }
    }
}

/// Spotify accepts https redirect URIs, and plain http only on a loopback IP literal
/// (127.0.0.1 or [::1]); `localhost` is refused.
pub fn spotify_redirect_warning(uri: &Url) -> Option<&'static str> {
    if uri.scheme() == "https" {
        return None;
    }
    match uri.host() {
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => None,
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => None,
        Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => Some(
            "Spotify will reject this redirect URI: it refuses \"localhost\". Use http://127.0.0.1:<port> in SPOTTER_SERVER_BASE_URL (or SPOTTER_SPOTIFY_REDIRECT_URL) and open Spotter at that address.",
        ),
        _ => Some(
            "Spotify will reject this redirect URI: plain http is accepted only on 127.0.0.1. Serve Spotter over https (through the reverse proxy) and set SPOTTER_SERVER_BASE_URL to the https address.",
        ),
    }
}

/// Last.fm accepts any callback, but over plain http the one-time token crosses the network
/// in clear.
pub fn lastfm_redirect_warning(uri: &Url) -> Option<&'static str> {
    if uri.scheme() == "https" || crate::config::is_loopback_host(uri) {
        return None;
    }
    Some(
        "The Last.fm callback is plain http on a network host: the one-time authorization token would cross the network unencrypted. Serve Spotter over https.",
    )
}

#[derive(Template)]
#[template(path = "providers.html")]
struct ProvidersPage {
    ctx: PageCtx,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    services: Vec<ServiceCard>,
    doctor: RedirectDoctor,
    scopes: &'static [(&'static str, &'static str)],
}

#[derive(Deserialize)]
struct PageQuery {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    notice: Option<String>,
    /// Which card a notice answers (a button of that card asked).
    #[serde(default)]
    service: Option<String>,
}

/// What linking a service gives the listener, in their words.
fn benefit(p: Service) -> &'static str {
    match p {
        Service::Spotify => {
            "Link Spotify to bring what you play there into your history, and your Spotify playlists and Liked Songs next to your Navidrome library."
        }
        Service::Lastfm => {
            "Link Last.fm to bring your scrobbles into one listening history with your other services."
        }
        Service::Listenbrainz => {
            "Link ListenBrainz to bring your listens and the playlists it makes for you into Spotter."
        }
        Service::Navidrome => "",
    }
}

/// The README section that explains how to set a service up on the server.
fn setup_doc(p: Service) -> &'static str {
    match p {
        Service::Spotify => concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/README.md#spotify"),
        Service::Lastfm => concat!(env!("CARGO_PKG_REPOSITORY"), "/blob/main/README.md#lastfm"),
        Service::Listenbrainz | Service::Navidrome => {
            concat!(
                env!("CARGO_PKG_REPOSITORY"),
                "/blob/main/README.md#linking-services"
            )
        }
    }
}

fn link_target(p: Service) -> (Option<&'static str>, &'static str) {
    match p {
        Service::Spotify => (Some("/auth/spotify/login"), "Link Spotify"),
        Service::Lastfm => (Some("/auth/lastfm/login"), "Link Last.fm"),
        Service::Listenbrainz => (Some("/auth/listenbrainz/connect"), "Link ListenBrainz"),
        Service::Navidrome => (None, ""),
    }
}

fn disconnect_note(p: Service) -> Option<&'static str> {
    match p {
        Service::Spotify => Some(
            "Spotify has no token revocation endpoint: Disconnect deletes the tokens stored here; remove the app under \"Manage apps\" in your Spotify account to revoke access there too.",
        ),
        Service::Lastfm => Some(
            "Disconnect deletes the session key stored here; revoke the application in your Last.fm settings to end it there too.",
        ),
        Service::Listenbrainz => Some(
            "Disconnect deletes the token stored here; reset your user token on ListenBrainz to invalidate it everywhere.",
        ),
        Service::Navidrome => Some(
            "Navidrome is the account you sign in with. Signing out keeps the stored password for background work; the command spotter clear-credentials deletes it.",
        ),
    }
}

async fn providers_page(
    State(core): State<Core>,
    user: CurrentUser,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    let overview = links::overview(&core, user.user_id).await?;
    let notice = q.notice.as_deref().and_then(ProvidersNotice::parse);
    let answered = q.service.as_deref().and_then(Service::parse);
    // A card's answer goes in the card; the page-wide notice keeps only the others.
    let card_answer = match (answered, notice) {
        (Some(svc), Some(n)) => card_result(svc, n).map(|r| (svc, r)),
        _ => None,
    };
    let page_notice = if card_answer.is_some() { None } else { notice };
    let mut card_answer = card_answer;
    let now = core.clock.now();
    let mut services = Vec::with_capacity(Service::ALL.len());
    for p in Service::ALL {
        let (link_href, link_label) = link_target(p);
        let mut card = ServiceCard {
            provider: p.as_str(),
            label: p.label(),
            state: "not-configured",
            state_label: "not configured",
            account: String::new(),
            linked_at: String::new(),
            linked_at_iso: String::new(),
            checked_at: String::new(),
            checked_at_iso: String::new(),
            until: String::new(),
            until_iso: String::new(),
            reason: None,
            note: None,
            benefit: benefit(p),
            setup_doc: setup_doc(p),
            link_href: None,
            link_label,
            can_test: false,
            can_sync: false,
            can_disconnect: false,
            result: None,
        };
        if !links::configured(&core, p) {
            services.push(card);
            continue;
        }
        if card_answer.as_ref().is_some_and(|(svc, _)| *svc == p) {
            card.result = card_answer.take().map(|(_, r)| r);
        }
        let link = overview
            .links
            .iter()
            .find(|l| Some(l.provider) == p.provider());
        let linked = match p {
            Service::Navidrome => {
                card.account.clone_from(&user.username);
                overview.has_navidrome_password
            }
            _ => {
                if let Some(l) = link {
                    card.account.clone_from(&l.account_name);
                    card.linked_at = human_time(l.linked_at);
                    card.linked_at_iso = iso_time(l.linked_at);
                }
                link.is_some()
            }
        };
        card.link_href = link_href;
        if !linked {
            card.state = "not-linked";
            card.state_label = "not linked";
            if p == Service::Navidrome {
                card.note = Some("No stored Navidrome password: sign out and sign in again.");
            }
            services.push(card);
            continue;
        }
        card.can_test = true;
        card.can_disconnect = p.provider().is_some();
        card.can_sync = p.provider().is_some();
        card.note = disconnect_note(p);
        if p.provider().is_some() {
            card.link_label = "Re-link";
        }
        card.state = "ok";
        card.state_label = "linked";
        if let Some(h) = overview.health.iter().find(|h| h.service == p) {
            card.checked_at = human_time(h.last_checked_at);
            card.checked_at_iso = iso_time(h.last_checked_at);
            card.reason = h.health.last_error.map(ErrorCode::message);
            match h.health.status {
                // A lost capability leaves the link working; its reason is still explained.
                LinkStatus::Ok => {
                    card.reason = h
                        .health
                        .last_error
                        .filter(|c| *c == ErrorCode::CapabilityLost)
                        .map(ErrorCode::message);
                }
                LinkStatus::Backoff => {
                    let until = h.health.backoff_until.unwrap_or(now);
                    if until > now {
                        card.state = "backoff";
                        card.state_label = "backing off";
                        card.until = human_time(until);
                        card.until_iso = iso_time(until);
                    } else {
                        // The wait is over; the next call decides.
                        card.reason = None;
                    }
                }
                LinkStatus::Broken => {
                    card.state = "broken";
                    card.state_label = "broken";
                }
                LinkStatus::Misconfigured => {
                    card.state = "misconfigured";
                    card.state_label = "server misconfigured";
                }
            }
        }
        services.push(card);
    }
    let page = ProvidersPage {
        error: q.error.as_deref().map(error_text),
        notice: page_notice.map(ProvidersNotice::text),
        services,
        doctor: RedirectDoctor::new(&core.config),
        scopes: SCOPES,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "providers"),
    };
    Ok(render(&page, StatusCode::OK))
}

async fn test_connection(
    State(core): State<Core>,
    client: ClientInfo,
    user: CurrentUser,
    Path(service): Path<String>,
) -> AppResult<Response> {
    let service = Service::parse(&service).ok_or(AppError::NotFound)?;
    if !links::configured(&core, service) {
        return Ok(refused(Refusal::NotConfigured));
    }
    let ip = client.ip.to_string();
    Ok(
        match links::test_connection(&core, user.actor(&ip), service).await? {
            TestOutcome::NotLinked => refused(Refusal::NotLinked),
            TestOutcome::Done(h) if h.status == LinkStatus::Ok => {
                card_notice(service, ProvidersNotice::TestOk)
            }
            TestOutcome::Done(_) => card_notice(service, ProvidersNotice::TestFailed),
        },
    )
}

async fn disconnect(
    State(core): State<Core>,
    client: ClientInfo,
    user: CurrentUser,
    Path(provider): Path<String>,
) -> AppResult<Response> {
    // Navidrome is the sign-in account: it has no Disconnect.
    let provider = Provider::parse(&provider).ok_or(AppError::NotFound)?;
    let ip = client.ip.to_string();
    if !links::unlink(&core, user.actor(&ip), provider).await? {
        return Ok(refused(Refusal::NotLinked));
    }
    Ok(notice(ProvidersNotice::Unlinked(provider)))
}

/// "Sync now": run the provider's sync jobs (only for a linked provider).
async fn sync_now(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(provider): Path<String>,
) -> AppResult<Response> {
    let provider = Provider::parse(&provider).ok_or(AppError::NotFound)?;
    if !links::configured(&state.core, provider.service()) {
        return Ok(refused(Refusal::NotConfigured));
    }
    if links::find(&state.core, user.user_id, provider)
        .await?
        .is_none()
    {
        return Ok(refused(Refusal::NotLinked));
    }
    let mut running = false;
    for job in crate::jobs::jobs_for(provider) {
        match crate::jobs::trigger(&state.core, job, Trigger::Manual).await {
            Ok(_) => {}
            Err(TriggerError::AlreadyRunning { .. } | TriggerError::ShuttingDown) => running = true,
            Err(e) => return Err(AppError::Internal(e.into())),
        }
    }
    Ok(card_notice(
        provider.service(),
        if running {
            ProvidersNotice::SyncRunning
        } else {
            ProvidersNotice::SyncStarted
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spotify_redirect_rules() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(
            spotify_redirect_warning(&u("https://music.example.org/auth/spotify/callback"))
                .is_none()
        );
        assert!(
            spotify_redirect_warning(&u("http://127.0.0.1:8080/auth/spotify/callback")).is_none()
        );
        assert!(spotify_redirect_warning(&u("http://[::1]:8080/auth/spotify/callback")).is_none());
        assert!(
            spotify_redirect_warning(&u("http://localhost:8080/auth/spotify/callback"))
                .unwrap()
                .contains("localhost")
        );
        assert!(
            spotify_redirect_warning(&u("http://192.168.1.5:8080/auth/spotify/callback")).is_some()
        );
        assert!(
            lastfm_redirect_warning(&u("http://localhost:8080/auth/lastfm/callback")).is_none()
        );
        assert!(lastfm_redirect_warning(&u("http://nas.lan/auth/lastfm/callback")).is_some());
    }
}
