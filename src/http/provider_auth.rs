//! Linking services (S5): Spotify (authorization code + PKCE), Last.fm (web auth with our own
//! nonce in the callback URL) and ListenBrainz (pasted token).
//!
//! A round trip starts with a server-side row (`oauth_states`) holding the SHA-256 of a random
//! state, the encrypted PKCE verifier, the session that started it and a 10-minute expiry. The
//! callback consumes that row (`DELETE … RETURNING`, bound to the current session) before
//! anything else, so a missing, unknown, reused, expired or other-session state is refused —
//! with a fixed `?error=` code — before any call to the provider and without any write.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Form, Router};
use secrecy::SecretString;
use serde::Deserialize;
use tower_cookies::Cookies;

use crate::clients::lastfm::LastfmError;
use crate::clients::listenbrainz::{ListenbrainzError, normalize_token};
use crate::clients::spotify::SpotifyError;
use crate::crypto::registry::OAUTH_VERIFIER;
use crate::crypto::{FieldRef, random_token, sha256_hex};
use crate::db;
use crate::domain::link_health::Provider;
use crate::error::{AppError, AppResult};
use crate::http::pages::{PageCtx, render};
use crate::http::providers::{notice, refused};
use crate::http::session::{CurrentUser, resolve_session};
use crate::links::{self, Actor, NewCredentials};
use crate::security::client_ip::ClientInfo;
use crate::state::AppState;

/// A pending round trip dies after this long (S5).
pub const STATE_TTL_SECS: i64 = 600;
/// Longest accepted `state` value (ours are 22–43 characters).
const MAX_STATE_LEN: usize = 128;
/// Longest accepted authorization code or Last.fm token.
const MAX_CODE_LEN: usize = 2048;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/spotify/login", get(spotify_login))
        .route("/auth/spotify/callback", get(spotify_callback))
        .route("/auth/lastfm/login", get(lastfm_login))
        .route("/auth/lastfm/callback", get(lastfm_callback))
        .route(
            "/auth/listenbrainz/connect",
            get(listenbrainz_form).post(listenbrainz_connect),
        )
}

/// The first value of each parameter of a raw query string. Never fails: garbage yields
/// garbage values, which the checks below refuse.
struct CallbackParams {
    values: HashMap<String, String>,
}

impl CallbackParams {
    fn parse(raw: Option<&str>) -> Self {
        let mut values = HashMap::new();
        if let Some(q) = raw {
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()).take(32) {
                values
                    .entry(k.into_owned())
                    .or_insert_with(|| v.into_owned());
            }
        }
        Self { values }
    }

    /// A present, non-empty value no longer than `max`.
    fn get(&self, name: &str, max: usize) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty() && v.len() <= max)
    }

    fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

fn refuse(provider: Provider, code: &'static str) -> Response {
    tracing::info!(
        provider = provider.as_str(),
        reason = code,
        "link callback refused"
    );
    refused(code)
}

/// Store a new pending round trip for this session; returns the raw state for the redirect.
async fn begin_round_trip(
    state: &AppState,
    user: &CurrentUser,
    provider: Provider,
    raw_state: &SecretString,
    verifier: Option<&SecretString>,
) -> AppResult<()> {
    let hash = sha256_hex(crate::crypto::expose(raw_state).as_bytes());
    let verifier_enc = verifier
        .map(|v| {
            state.cipher.seal(
                FieldRef {
                    column: &OAUTH_VERIFIER,
                    row_key: &hash,
                },
                crate::crypto::expose(v),
            )
        })
        .transpose()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("sealing the PKCE verifier: {e}")))?;
    db::oauth_states::insert(
        &state.db,
        db::oauth_states::NewState {
            state_hash: &hash,
            provider: provider.as_str(),
            session_jti: &user.session_id,
            user_id: user.user_id,
            verifier_enc: verifier_enc.as_deref(),
            expires_at: db::now() + STATE_TTL_SECS,
        },
    )
    .await?;
    Ok(())
}

/// A pending round trip that passed every check.
struct Verified {
    user: CurrentUser,
    state_hash: String,
    verifier_enc: Option<String>,
}

/// The checks every callback runs first, in this order, before talking to the provider:
/// a signed-in session, a `state`, and a live pending row of this session (consumed here).
async fn verify_callback(
    state: &AppState,
    cookies: &Cookies,
    params: &CallbackParams,
    provider: Provider,
) -> AppResult<Result<Verified, &'static str>> {
    let Some(user) = resolve_session(state, cookies).await? else {
        return Ok(Err("signed_out"));
    };
    if !params.has("state") {
        return Ok(Err("state_missing"));
    }
    let Some(raw_state) = params.get("state", MAX_STATE_LEN) else {
        return Ok(Err("state_invalid"));
    };
    let hash = sha256_hex(raw_state.as_bytes());
    let Some(pending) =
        db::oauth_states::consume(&state.db, &hash, provider.as_str(), &user.session_id).await?
    else {
        return Ok(Err("state_invalid"));
    };
    if pending.user_id != user.user_id {
        return Ok(Err("state_invalid"));
    }
    if pending.expires_at <= db::now() {
        return Ok(Err("state_expired"));
    }
    Ok(Ok(Verified {
        user,
        state_hash: hash,
        verifier_enc: pending.verifier_enc,
    }))
}

// ---------------------------------------------------------------------------------------------
// Spotify

async fn spotify_login(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let Some(client) = state.spotify.as_ref() else {
        return Ok(refused("not_configured"));
    };
    let auth = client.authorize();
    begin_round_trip(
        &state,
        &user,
        Provider::Spotify,
        &auth.state,
        Some(&auth.verifier),
    )
    .await?;
    Ok(Redirect::to(auth.url.as_str()).into_response())
}

fn spotify_refusal(e: SpotifyError) -> &'static str {
    match e {
        SpotifyError::InvalidGrant
        | SpotifyError::TokenRequestRefused
        | SpotifyError::Unauthorized => "exchange_refused",
        SpotifyError::ClientRejected => "spotify_client",
        SpotifyError::Forbidden => "spotify_account",
        SpotifyError::RateLimited { .. } => "rate_limited",
        SpotifyError::Unreachable => "unreachable",
        SpotifyError::Server(_) | SpotifyError::BadResponse => "provider_error",
    }
}

async fn spotify_callback(
    State(state): State<AppState>,
    Extension(client_info): Extension<ClientInfo>,
    cookies: Cookies,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let p = Provider::Spotify;
    let params = CallbackParams::parse(query.as_deref());
    let v = match verify_callback(&state, &cookies, &params, p).await? {
        Ok(v) => v,
        Err(code) => return Ok(refuse(p, code)),
    };
    if params.has("error") {
        // The user declined (access_denied) or Spotify failed; the state is used up either way.
        return Ok(refuse(p, "denied"));
    }
    let Some(client) = state.spotify.as_ref() else {
        return Ok(refuse(p, "not_configured"));
    };
    let Some(code) = params.get("code", MAX_CODE_LEN) else {
        return Ok(refuse(p, "code_missing"));
    };
    let Some(verifier_enc) = v.verifier_enc.as_deref() else {
        return Ok(refuse(p, "state_invalid"));
    };
    let verifier = match state.cipher.open_secret(
        FieldRef {
            column: &OAUTH_VERIFIER,
            row_key: &v.state_hash,
        },
        verifier_enc,
    ) {
        Ok(verifier) => verifier,
        Err(e) => {
            tracing::error!(error = %e, "stored PKCE verifier does not decrypt");
            return Ok(refuse(p, "state_invalid"));
        }
    };
    let code = SecretString::from(code.to_owned());
    let tokens = match client.exchange_code(&code, &verifier).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "Spotify code exchange failed");
            return Ok(refuse(p, spotify_refusal(e)));
        }
    };
    let profile = match client.me(&tokens.access).await {
        Ok(profile) => profile,
        Err(e) => {
            tracing::warn!(error = %e, "Spotify profile lookup failed");
            return Ok(refuse(p, spotify_refusal(e)));
        }
    };
    let expires_at = tokens
        .expires_in
        .map(|d| db::now().saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    let ip = client_info.ip.to_string();
    let name = profile.name();
    links::save_link(
        &state,
        Actor {
            user_id: v.user.user_id,
            username: &v.user.username,
            client_ip: &ip,
        },
        p,
        NewCredentials {
            account_name: &name,
            access: &tokens.access,
            refresh: tokens.refresh.as_ref(),
            expires_at,
            scopes: tokens.scopes.as_deref().unwrap_or_default(),
        },
    )
    .await?;
    Ok(notice("linked-spotify"))
}

// ---------------------------------------------------------------------------------------------
// Last.fm

async fn lastfm_login(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    let Some(client) = state.lastfm.as_ref() else {
        return Ok(refused("not_configured"));
    };
    let nonce = SecretString::from(random_token(32));
    begin_round_trip(&state, &user, Provider::Lastfm, &nonce, None).await?;
    Ok(Redirect::to(client.auth_redirect(&nonce).as_str()).into_response())
}

fn lastfm_refusal(e: LastfmError) -> &'static str {
    match e {
        LastfmError::TokenRefused(_) | LastfmError::InvalidSession => "token_refused",
        LastfmError::ApiKeyRefused(_) => "lastfm_api_key",
        LastfmError::RateLimited => "rate_limited",
        LastfmError::Unreachable => "unreachable",
        LastfmError::Unavailable(_)
        | LastfmError::Api(_)
        | LastfmError::Server(_)
        | LastfmError::BadResponse => "provider_error",
    }
}

async fn lastfm_callback(
    State(state): State<AppState>,
    Extension(client_info): Extension<ClientInfo>,
    cookies: Cookies,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let p = Provider::Lastfm;
    let params = CallbackParams::parse(query.as_deref());
    let v = match verify_callback(&state, &cookies, &params, p).await? {
        Ok(v) => v,
        Err(code) => return Ok(refuse(p, code)),
    };
    let Some(client) = state.lastfm.as_ref() else {
        return Ok(refuse(p, "not_configured"));
    };
    let Some(token) = params.get("token", MAX_CODE_LEN) else {
        // Last.fm sends no token when the user does not grant access.
        return Ok(refuse(p, "denied"));
    };
    let token = SecretString::from(token.to_owned());
    let session = match client.get_session(&token).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "Last.fm auth.getSession failed");
            return Ok(refuse(p, lastfm_refusal(e)));
        }
    };
    let ip = client_info.ip.to_string();
    links::save_link(
        &state,
        Actor {
            user_id: v.user.user_id,
            username: &v.user.username,
            client_ip: &ip,
        },
        p,
        NewCredentials {
            account_name: &session.name,
            access: &session.key,
            refresh: None,
            expires_at: None,
            scopes: "",
        },
    )
    .await?;
    Ok(notice("linked-lastfm"))
}

// ---------------------------------------------------------------------------------------------
// ListenBrainz

#[derive(Template)]
#[template(path = "listenbrainz_connect.html")]
struct ListenbrainzPage {
    ctx: PageCtx,
    error: Option<String>,
    linked_as: Option<String>,
}

async fn listenbrainz_page(
    state: &AppState,
    user: CurrentUser,
    status: StatusCode,
    error: Option<String>,
) -> AppResult<Response> {
    let linked_as = db::links::find(&state.db, user.user_id, Provider::Listenbrainz.as_str())
        .await?
        .map(|l| l.account_name);
    let page = ListenbrainzPage {
        ctx: PageCtx::signed_in(user.username, user.csrf_token, "providers"),
        error,
        linked_as,
    };
    Ok(render(&page, status))
}

async fn listenbrainz_form(
    State(state): State<AppState>,
    user: CurrentUser,
) -> AppResult<Response> {
    listenbrainz_page(&state, user, StatusCode::OK, None).await
}

#[derive(Deserialize)]
struct ConnectForm {
    #[serde(default)]
    token: String,
}

const LB_BAD_SHAPE: &str = "That does not look like a ListenBrainz user token. Copy the \"User token\" from listenbrainz.org/settings and paste it here.";
const LB_INVALID: &str = "ListenBrainz does not accept this token. Copy the \"User token\" again from listenbrainz.org/settings (it changes when you reset it).";
const LB_UNREACHABLE: &str =
    "ListenBrainz could not be reached. Nothing was stored; try again in a moment.";
const LB_SERVER: &str =
    "ListenBrainz had a problem answering. Nothing was stored; try again later.";

async fn listenbrainz_connect(
    State(state): State<AppState>,
    Extension(client_info): Extension<ClientInfo>,
    user: CurrentUser,
    form: Result<Form<ConnectForm>, axum::extract::rejection::FormRejection>,
) -> AppResult<Response> {
    let bad = |state: AppState, user: CurrentUser, status: StatusCode, msg: String| async move {
        listenbrainz_page(&state, user, status, Some(msg)).await
    };
    let Ok(Form(form)) = form else {
        return bad(state, user, StatusCode::BAD_REQUEST, LB_BAD_SHAPE.into()).await;
    };
    let Some(token) = normalize_token(&form.token) else {
        return bad(state, user, StatusCode::BAD_REQUEST, LB_BAD_SHAPE.into()).await;
    };
    let name = match state.listenbrainz.validate_token(&token).await {
        Ok(name) => name,
        Err(e) => {
            tracing::info!(error = %e, "ListenBrainz token not accepted");
            let (status, msg) = match e {
                ListenbrainzError::InvalidToken => (StatusCode::BAD_REQUEST, LB_INVALID.to_owned()),
                ListenbrainzError::RateLimited { retry_after } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    match retry_after {
                        Some(d) => format!(
                            "ListenBrainz asks Spotter to slow down. Nothing was stored; try again in {} seconds.",
                            d.min(crate::domain::link_health::MAX_RETRY_AFTER).as_secs().max(1)
                        ),
                        None => "ListenBrainz asks Spotter to slow down. Nothing was stored; try again in a minute.".to_owned(),
                    },
                ),
                ListenbrainzError::Unreachable => (StatusCode::BAD_GATEWAY, LB_UNREACHABLE.to_owned()),
                ListenbrainzError::Server(_) | ListenbrainzError::BadResponse => {
                    (StatusCode::BAD_GATEWAY, LB_SERVER.to_owned())
                }
            };
            return bad(state, user, status, msg).await;
        }
    };
    let ip = client_info.ip.to_string();
    links::save_link(
        &state,
        Actor {
            user_id: user.user_id,
            username: &user.username,
            client_ip: &ip,
        },
        Provider::Listenbrainz,
        NewCredentials {
            account_name: &name,
            access: &token,
            refresh: None,
            expires_at: None,
            scopes: "",
        },
    )
    .await?;
    Ok(notice("linked-listenbrainz"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_params_take_the_first_value_and_bound_lengths() {
        let p = CallbackParams::parse(Some("state=a&state=b&code=&x=%ZZ"));
        assert_eq!(p.get("state", 10), Some("a"));
        assert_eq!(p.get("code", 10), None);
        assert!(p.has("code"));
        assert!(!p.has("error"));
        let long = format!("state={}", "x".repeat(200));
        assert_eq!(
            CallbackParams::parse(Some(&long)).get("state", MAX_STATE_LEN),
            None
        );
        assert!(CallbackParams::parse(None).values.is_empty());
    }
}
