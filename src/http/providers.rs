//! `GET /preferences/providers`: each service with its link state and health, the redirect
//! URIs to register (with a "redirect URI doctor"), and the Test / Disconnect actions.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use url::Url;

use crate::clients::spotify::SCOPES;
use crate::config::Config;
use crate::db;
use crate::domain::link_health::{ErrorCode, LinkStatus, Provider};
use crate::error::{AppError, AppResult};
use crate::http::format::{human_time, iso_time};
use crate::http::pages::{PageCtx, render};
use crate::http::session::CurrentUser;
use crate::links::{self, Actor, TestOutcome};
use crate::security::client_ip::ClientInfo;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/preferences/providers", get(providers_page))
        .route("/preferences/{provider}/test", post(test_connection))
        .route("/preferences/{provider}/disconnect", post(disconnect))
}

pub const PAGE: &str = "/preferences/providers";

/// `/preferences/providers?error=<code>`: the redirect for a refused callback or action.
pub fn refused(code: &'static str) -> Response {
    Redirect::to(&format!("{PAGE}?error={code}")).into_response()
}

pub fn notice(code: &'static str) -> Response {
    Redirect::to(&format!("{PAGE}?notice={code}")).into_response()
}

/// The fixed message for an `?error=` code. Unknown codes get a generic sentence: the query
/// value is never echoed.
pub fn error_text(code: &str) -> &'static str {
    match code {
        "signed_out" => {
            "Your session ended before the service answered. Sign in, then start linking again."
        }
        "state_missing" => {
            "The service's answer carried no state, so it was refused. Start linking again from this page."
        }
        "state_invalid" => {
            "This answer does not belong to a link attempt of this browser session (unknown, already used, or started elsewhere), so it was refused. Start linking again from this page."
        }
        "state_expired" => {
            "This link attempt is older than 10 minutes, so it was refused. Start linking again."
        }
        "denied" => "Access was not granted at the service. Nothing was linked.",
        "code_missing" => {
            "The service's answer carried no authorization, so it was refused. Start linking again."
        }
        "exchange_refused" => {
            "Spotify refused to complete the link (the authorization may have expired). Start linking again."
        }
        "token_refused" => {
            "Last.fm refused the authorization (it may have expired or not been granted). Start linking again."
        }
        "unreachable" => "The service could not be reached. Try again in a moment.",
        "rate_limited" => "The service asked Spotter to slow down. Try again in a few minutes.",
        "provider_error" => "The service gave an unexpected answer. Try again later.",
        "spotify_client" => ErrorCode::ClientRejected.message(),
        "spotify_account" => ErrorCode::AccountNotAllowed.message(),
        "lastfm_api_key" => ErrorCode::ApiKeyInvalid.message(),
        "not_configured" => "That service is not configured on this server.",
        "not_linked" => "That service is not linked.",
        _ => "The request could not be completed. Start again from this page.",
    }
}

fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "linked-spotify" => "Spotify is linked.",
        "linked-lastfm" => "Last.fm is linked.",
        "linked-listenbrainz" => "ListenBrainz is linked.",
        "unlinked-spotify" => {
            "Spotify is disconnected: its tokens were deleted from this server. Spotify offers no way to revoke them from here; to remove Spotter's access, use \"Manage apps\" in your Spotify account."
        }
        "unlinked-lastfm" => {
            "Last.fm is disconnected: its session key was deleted from this server. To remove Spotter's access, use \"Applications\" in your Last.fm settings."
        }
        "unlinked-listenbrainz" => {
            "ListenBrainz is disconnected: the token was deleted from this server. To invalidate it everywhere, reset your user token on ListenBrainz."
        }
        "test-ok" => "The connection works.",
        "test-failed" => "The connection test failed: see the service's state below.",
        _ => return None,
    })
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
    setup_hint: &'static str,
    link_href: Option<&'static str>,
    link_label: &'static str,
    can_test: bool,
    can_disconnect: bool,
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
}

fn configured(state: &AppState, p: Provider) -> bool {
    match p {
        Provider::Spotify => state.spotify.is_some(),
        Provider::Lastfm => state.lastfm.is_some(),
        Provider::Listenbrainz | Provider::Navidrome => true,
    }
}

fn setup_hint(p: Provider) -> &'static str {
    match p {
        Provider::Spotify => {
            "Set SPOTTER_SPOTIFY_CLIENT_ID (and optionally SPOTTER_SPOTIFY_CLIENT_SECRET) from a Spotify app, then restart. The README explains how."
        }
        Provider::Lastfm => {
            "Set SPOTTER_LASTFM_API_KEY and SPOTTER_LASTFM_SHARED_SECRET from a Last.fm API account, then restart. The README explains how."
        }
        Provider::Listenbrainz | Provider::Navidrome => "",
    }
}

fn link_target(p: Provider) -> (Option<&'static str>, &'static str) {
    match p {
        Provider::Spotify => (Some("/auth/spotify/login"), "Link Spotify"),
        Provider::Lastfm => (Some("/auth/lastfm/login"), "Link Last.fm"),
        Provider::Listenbrainz => (Some("/auth/listenbrainz/connect"), "Link ListenBrainz"),
        Provider::Navidrome => (None, ""),
    }
}

fn disconnect_note(p: Provider) -> Option<&'static str> {
    match p {
        Provider::Spotify => Some(
            "Spotify has no token revocation endpoint: Disconnect deletes the tokens stored here; remove the app under \"Manage apps\" in your Spotify account to revoke access there too.",
        ),
        Provider::Lastfm => Some(
            "Disconnect deletes the session key stored here; revoke the application in your Last.fm settings to end it there too.",
        ),
        Provider::Listenbrainz => Some(
            "Disconnect deletes the token stored here; reset your user token on ListenBrainz to invalidate it everywhere.",
        ),
        Provider::Navidrome => Some(
            "Navidrome is the account you sign in with. Signing out keeps the stored password for background work; the command spotter clear-credentials deletes it.",
        ),
    }
}

async fn providers_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    let links = db::links::list(&state.db, user.user_id).await?;
    let health = db::links::health_all(&state.db, user.user_id).await?;
    let now = db::now();
    let mut services = Vec::with_capacity(Provider::ALL.len());
    for p in Provider::ALL {
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
            setup_hint: setup_hint(p),
            link_href: None,
            link_label,
            can_test: false,
            can_disconnect: false,
        };
        if !configured(&state, p) {
            services.push(card);
            continue;
        }
        let link = links.iter().find(|l| l.provider == p.as_str());
        let linked = match p {
            Provider::Navidrome => {
                card.account.clone_from(&user.username);
                db::credentials::has_navidrome_password(&state.db, user.user_id).await?
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
            if p == Provider::Navidrome {
                card.note = Some("No stored Navidrome password: sign out and sign in again.");
            }
            services.push(card);
            continue;
        }
        card.can_test = true;
        card.can_disconnect = p.is_linkable();
        card.note = disconnect_note(p);
        if p.is_linkable() {
            card.link_label = "Re-link";
        }
        card.state = "ok";
        card.state_label = "linked";
        if let Some(h) = health.iter().find(|h| h.provider == p.as_str()) {
            card.checked_at = human_time(h.last_checked_at);
            card.checked_at_iso = iso_time(h.last_checked_at);
            card.reason = h.health.last_error.map(ErrorCode::message);
            match h.health.status {
                LinkStatus::Ok => card.reason = None,
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
        notice: q.notice.as_deref().and_then(notice_text),
        services,
        doctor: RedirectDoctor::new(&state.config),
        scopes: SCOPES,
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "providers"),
    };
    Ok(render(&page, StatusCode::OK))
}

fn parse_provider(raw: &str) -> AppResult<Provider> {
    Provider::parse(raw).ok_or(AppError::NotFound)
}

async fn test_connection(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    user: CurrentUser,
    Path(provider): Path<String>,
) -> AppResult<Response> {
    let provider = parse_provider(&provider)?;
    if !configured(&state, provider) {
        return Ok(refused("not_configured"));
    }
    let ip = client.ip.to_string();
    let actor = Actor {
        user_id: user.user_id,
        username: &user.username,
        client_ip: &ip,
    };
    match links::test_connection(&state, actor, provider).await? {
        TestOutcome::NotLinked => Ok(refused("not_linked")),
        TestOutcome::Done(h) if h.status == LinkStatus::Ok => Ok(notice("test-ok")),
        TestOutcome::Done(_) => Ok(notice("test-failed")),
    }
}

async fn disconnect(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    user: CurrentUser,
    Path(provider): Path<String>,
) -> AppResult<Response> {
    let provider = parse_provider(&provider)?;
    if !provider.is_linkable() {
        return Err(AppError::NotFound);
    }
    let ip = client.ip.to_string();
    let actor = Actor {
        user_id: user.user_id,
        username: &user.username,
        client_ip: &ip,
    };
    if !links::unlink(&state, actor, provider).await? {
        return Ok(refused("not_linked"));
    }
    Ok(notice(match provider {
        Provider::Spotify => "unlinked-spotify",
        Provider::Lastfm => "unlinked-lastfm",
        Provider::Listenbrainz | Provider::Navidrome => "unlinked-listenbrainz",
    }))
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

    #[test]
    fn error_codes_are_fixed_texts() {
        assert_eq!(error_text("<script>"), error_text("anything-else"));
        assert_ne!(error_text("state_invalid"), error_text("nope"));
        assert!(notice_text("<b>").is_none());
    }
}
