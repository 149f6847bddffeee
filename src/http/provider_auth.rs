//! Linking services: the routes of the Spotify and Last.fm round trips and the ListenBrainz
//! token form. Each handler parses its input, calls one `services::link_flows` function and
//! maps the outcome to a redirect or a page; the rules (state checks before any provider call,
//! single use, expiry) live in the service.

use std::collections::HashMap;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use crate::domain::link_health::MAX_RETRY_AFTER;
use crate::domain::provider::Provider;
use crate::http::cookies::Cookies;
use crate::http::error::{AppError, AppResult};
use crate::http::notices::ProvidersNotice;
use crate::http::pages::{PageCtx, render};
use crate::http::providers::{notice, refused};
use crate::http::session::{CurrentUser, resolve_session};
use crate::http::state::AppState;
use crate::security::client_ip::ClientInfo;
use crate::services::link_flows::{self, Callback, FlowError, Param, TokenRefusal};
use crate::services::links;

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
/// garbage values, which the service refuses.
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

    /// Absent, present but empty or longer than `max`, or a value.
    fn param(&self, name: &str, max: usize) -> Param<'_> {
        match self.values.get(name) {
            None => Param::Missing,
            Some(v) if v.is_empty() || v.len() > max => Param::Unusable,
            Some(v) => Param::Value(v),
        }
    }

    fn callback(&self) -> Callback<'_> {
        Callback {
            state: self.param("state", MAX_STATE_LEN),
            code: self.param("code", MAX_CODE_LEN),
            token: self.param("token", MAX_CODE_LEN),
            error: self.values.contains_key("error"),
        }
    }
}

/// A flow that ended without a link: refusals go back to the providers page with their code.
fn flow_failed(provider: Provider, e: FlowError) -> AppResult<Response> {
    match e {
        FlowError::Refused(r) => {
            tracing::info!(
                provider = provider.as_str(),
                reason = r.as_str(),
                "link callback refused"
            );
            Ok(refused(r))
        }
        FlowError::Internal(e) => Err(e.into()),
    }
}

fn start_result(provider: Provider, r: Result<url::Url, FlowError>) -> AppResult<Response> {
    match r {
        Ok(url) => Ok(Redirect::to(url.as_str()).into_response()),
        Err(e) => flow_failed(provider, e),
    }
}

fn finish_result(provider: Provider, r: Result<(), FlowError>) -> AppResult<Response> {
    match r {
        Ok(()) => Ok(notice(ProvidersNotice::Linked(provider))),
        Err(e) => flow_failed(provider, e),
    }
}

async fn spotify_login(
    State(state): State<AppState>,
    client: ClientInfo,
    user: CurrentUser,
) -> AppResult<Response> {
    let ip = client.ip.to_string();
    let r = link_flows::start_spotify(&state.core, user.caller(&ip)).await;
    start_result(Provider::Spotify, r)
}

async fn lastfm_login(
    State(state): State<AppState>,
    client: ClientInfo,
    user: CurrentUser,
) -> AppResult<Response> {
    let ip = client.ip.to_string();
    let r = link_flows::start_lastfm(&state.core, user.caller(&ip)).await;
    start_result(Provider::Lastfm, r)
}

async fn spotify_callback(
    State(state): State<AppState>,
    client: ClientInfo,
    cookies: Cookies,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let params = CallbackParams::parse(query.as_deref());
    let user = resolve_session(&state, &cookies).await?;
    let ip = client.ip.to_string();
    let caller = user.as_ref().map(|u| u.caller(&ip));
    let r = link_flows::finish_spotify(&state.core, caller, params.callback()).await;
    finish_result(Provider::Spotify, r)
}

async fn lastfm_callback(
    State(state): State<AppState>,
    client: ClientInfo,
    cookies: Cookies,
    RawQuery(query): RawQuery,
) -> AppResult<Response> {
    let params = CallbackParams::parse(query.as_deref());
    let user = resolve_session(&state, &cookies).await?;
    let ip = client.ip.to_string();
    let caller = user.as_ref().map(|u| u.caller(&ip));
    let r = link_flows::finish_lastfm(&state.core, caller, params.callback()).await;
    finish_result(Provider::Lastfm, r)
}

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
    let linked_as = links::find(&state.core, user.user_id, Provider::Listenbrainz)
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

/// The status and message for a token that was not linked.
fn token_refusal(r: TokenRefusal) -> Result<(StatusCode, String), AppError> {
    Ok(match r {
        TokenRefusal::BadShape => (StatusCode::BAD_REQUEST, LB_BAD_SHAPE.to_owned()),
        TokenRefusal::Invalid => (StatusCode::BAD_REQUEST, LB_INVALID.to_owned()),
        TokenRefusal::RateLimited(retry_after) => (
            StatusCode::TOO_MANY_REQUESTS,
            match retry_after {
                Some(d) => format!(
                    "ListenBrainz asks Spotter to slow down. Nothing was stored; try again in {} seconds.",
                    d.min(MAX_RETRY_AFTER).as_secs().max(1)
                ),
                None => "ListenBrainz asks Spotter to slow down. Nothing was stored; try again in a minute.".to_owned(),
            },
        ),
        TokenRefusal::Unreachable => (StatusCode::BAD_GATEWAY, LB_UNREACHABLE.to_owned()),
        TokenRefusal::ServerError => (StatusCode::BAD_GATEWAY, LB_SERVER.to_owned()),
        TokenRefusal::Internal(e) => return Err(e.into()),
    })
}

async fn listenbrainz_connect(
    State(state): State<AppState>,
    client: ClientInfo,
    user: CurrentUser,
    form: Result<Form<ConnectForm>, FormRejection>,
) -> AppResult<Response> {
    let pasted = form.map(|Form(f)| f.token).unwrap_or_default();
    let ip = client.ip.to_string();
    let r = link_flows::connect_listenbrainz(&state.core, user.caller(&ip), &pasted).await;
    match r {
        Ok(_) => Ok(notice(ProvidersNotice::Linked(Provider::Listenbrainz))),
        Err(refusal) => {
            let (status, msg) = token_refusal(refusal)?;
            listenbrainz_page(&state, user, status, Some(msg)).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_params_take_the_first_value_and_bound_lengths() {
        let p = CallbackParams::parse(Some("state=a&state=b&code=&x=%ZZ"));
        assert_eq!(p.param("state", 10), Param::Value("a"));
        assert_eq!(p.param("code", 10), Param::Unusable);
        assert_eq!(p.param("token", 10), Param::Missing);
        assert!(!p.callback().error);
        let long = format!("state={}", "x".repeat(200));
        assert_eq!(
            CallbackParams::parse(Some(&long)).param("state", MAX_STATE_LEN),
            Param::Unusable
        );
        assert!(CallbackParams::parse(None).values.is_empty());
    }
}
