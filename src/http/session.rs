//! The signed-in user extractor and the cookie factory (S3).

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};

use crate::config::Config;
use crate::domain::ids::{SessionId, UserId};
use crate::http::cookies::Cookies;
use crate::http::error::AppError;
use crate::http::notices::{Code, LoginNotice};
use crate::http::state::AppState;
use crate::security::csrf::{Binding, CsrfKey};
use crate::security::return_to;
use crate::services;

pub const SESSION_COOKIE: &str = "spotter_token";
pub const PRE_SESSION_COOKIE: &str = "spotter_pre";

/// Build a cookie with the house flags: HttpOnly, Secure (per config), SameSite=Lax, Path=/.
pub fn cookie(
    config: &Config,
    name: &'static str,
    value: String,
    max_age_secs: i64,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(config.security.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::seconds(max_age_secs))
        .build()
}

/// Expire a cookie (same name and path as when it was set).
pub fn clear_cookie(config: &Config, cookies: &Cookies, name: &'static str) {
    cookies.add(cookie(config, name, String::new(), 0));
}

/// The signed-in user, verified against the JWT *and* the session row.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user_id: UserId,
    pub username: String,
    pub is_owner: bool,
    pub created_at: i64,
    pub session_id: SessionId,
    pub csrf_token: String,
}

impl CurrentUser {
    /// This user as the actor of an audited action from `client_ip`.
    pub fn actor<'a>(&'a self, client_ip: &'a str) -> services::audit::Actor<'a> {
        services::audit::Actor {
            user_id: self.user_id,
            username: &self.username,
            client_ip,
        }
    }

    /// This user as the caller of a link flow from `client_ip`.
    pub fn caller<'a>(&'a self, client_ip: &'a str) -> services::link_flows::Caller<'a> {
        services::link_flows::Caller {
            user_id: self.user_id,
            username: &self.username,
            session_id: &self.session_id,
            client_ip,
        }
    }
}

/// Why a request has no valid session: the login page for browsers (with the reason when the
/// session was revoked elsewhere, and the page asked for when it can be returned to), 401 for
/// event streams.
pub struct SignInRequired {
    event_stream: bool,
    revoked: bool,
    next: Option<String>,
    /// The request's cookies, with a dead session cookie cleared.
    cookies: Cookies,
}

impl SignInRequired {
    /// Where the browser is sent: `/auth/login`, with a notice code and a return path when
    /// there are any. Neither carries a secret.
    pub fn login_url(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if self.revoked {
            query.append_pair("notice", LoginNotice::RevokedElsewhere.as_str());
        }
        if let Some(next) = &self.next {
            query.append_pair("next", next);
        }
        let query = query.finish();
        if query.is_empty() {
            "/auth/login".to_owned()
        } else {
            format!("/auth/login?{query}")
        }
    }
}

impl IntoResponse for SignInRequired {
    fn into_response(self) -> Response {
        if self.event_stream {
            return self.cookies.onto(StatusCode::UNAUTHORIZED);
        }
        let mut resp = Redirect::to(&self.login_url()).into_response();
        resp.extensions_mut()
            .insert(crate::http::error::RenderedPage);
        self.cookies.onto(resp)
    }
}

pub enum AuthRejection {
    SignIn(SignInRequired),
    Error(AppError),
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn(s) => s.into_response(),
            Self::Error(e) => e.into_response(),
        }
    }
}

/// What the session cookie of a request amounts to.
pub enum Lookup {
    SignedIn(CurrentUser),
    /// No cookie, or one that is forged, altered, expired, idle or signed out.
    None,
    /// A genuine token whose session was revoked from another device.
    RevokedElsewhere,
}

/// Verify the session cookie fully. `Ok(None)` for no/invalid/revoked/expired/idle sessions.
pub async fn resolve_session(
    state: &AppState,
    cookies: &Cookies,
) -> Result<Option<CurrentUser>, AppError> {
    Ok(match lookup_session(state, cookies).await? {
        Lookup::SignedIn(user) => Some(user),
        Lookup::None | Lookup::RevokedElsewhere => None,
    })
}

/// Verify the session cookie fully and say why it is not valid when it was revoked.
pub async fn lookup_session(state: &AppState, cookies: &Cookies) -> Result<Lookup, AppError> {
    let Some(raw) = cookies.get(SESSION_COOKIE) else {
        return Ok(Lookup::None);
    };
    lookup_token(state, raw.value()).await
}

/// The signed-in user of a raw `Cookie` header, for the edge's error pages.
pub async fn user_from_cookie_header(
    state: &AppState,
    header: &HeaderValue,
) -> Result<Option<CurrentUser>, AppError> {
    let Ok(text) = header.to_str() else {
        return Ok(None);
    };
    let Some(token) = session_token_in(text) else {
        return Ok(None);
    };
    Ok(match lookup_token(state, token).await? {
        Lookup::SignedIn(user) => Some(user),
        Lookup::None | Lookup::RevokedElsewhere => None,
    })
}

/// The session cookie's value in a `Cookie` header's text, read in place: the token is
/// base64url and dots, set by us unencoded, so it needs no decoding. With several, the last
/// counts, as in the cookie jar.
fn session_token_in(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name.trim() == SESSION_COOKIE).then(|| value.trim().trim_matches('"'))
        })
        .next_back()
}

/// The session cookie's value in the request's `Cookie` headers (the last one, as in the jar).
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(session_token_in)
        .next_back()
}

async fn lookup_token(state: &AppState, raw: &str) -> Result<Lookup, AppError> {
    let Some(token) = state.tokens.verify(raw) else {
        return Ok(Lookup::None);
    };
    let Some(session) =
        services::sessions::resolve(&state.core, &token.session_id, token.user_id).await?
    else {
        if services::sessions::was_revoked(&state.core, &token.session_id).await? {
            return Ok(Lookup::RevokedElsewhere);
        }
        return Ok(Lookup::None);
    };
    // Derived once per session and kept with it, not per page.
    let csrf_token = session
        .csrf_token(|jti| state.csrf.token(Binding::Session(jti)))
        .to_owned();
    Ok(Lookup::SignedIn(CurrentUser {
        user_id: session.user_id,
        username: session.username.clone(),
        is_owner: session.is_owner,
        created_at: session.user_created_at,
        session_id: session.jti.clone(),
        csrf_token,
    }))
}

impl<S> FromRequestParts<S> for CurrentUser
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        // The token is read straight from the header; the cookie jar is only made to clear a
        // dead one.
        let revoked = match session_token(&parts.headers) {
            None => false,
            Some(token) => {
                match lookup_token(&state, token)
                    .await
                    .map_err(AuthRejection::Error)?
                {
                    Lookup::SignedIn(user) => return Ok(user),
                    Lookup::RevokedElsewhere => true,
                    Lookup::None => false,
                }
            }
        };
        let cookies = Cookies::from_headers(&parts.headers);
        if cookies.get(SESSION_COOKIE).is_some() {
            clear_cookie(state.config(), &cookies, SESSION_COOKIE);
        }
        let event_stream = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
        // Only a page that was being read is returned to; a form sent with a stale session
        // is not replayed.
        let next = (parts.method == Method::GET)
            .then(|| parts.uri.path_and_query().map(|pq| pq.as_str()))
            .flatten()
            .and_then(return_to::safe_return_path)
            .map(str::to_owned);
        Err(AuthRejection::SignIn(SignInRequired {
            event_stream,
            revoked,
            next,
            cookies,
        }))
    }
}

/// The pre-session id from the signed `spotter_pre` cookie, creating one if absent.
pub fn pre_session_id(state: &AppState, cookies: &Cookies) -> String {
    if let Some(c) = cookies.get_signed(&state.cookie_key, PRE_SESSION_COOKIE) {
        let v = c.value();
        if v.len() == 43
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return v.to_owned();
        }
    }
    let id = crate::crypto::random_token(32);
    cookies.add_signed(
        &state.cookie_key,
        cookie(state.config(), PRE_SESSION_COOKIE, id.clone(), 3600),
    );
    id
}

/// The pre-session id if a valid signed cookie is present (never creates one).
pub fn existing_pre_session_id(cookie_key: &cookie::Key, cookies: &Cookies) -> Option<String> {
    cookies
        .get_signed(cookie_key, PRE_SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

pub fn csrf_for_pre_session(csrf: &CsrfKey, id: &str) -> String {
    csrf.token(Binding::PreSession(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_session_token_is_read_from_the_cookie_headers_as_the_jar_reads_it() {
        // What the cookie jar handlers extract makes of the same headers.
        let jar_value = |values: &[&'static str]| {
            Cookies::from_headers(&headers(values))
                .get(SESSION_COOKIE)
                .map(|c| c.value().to_owned())
        };
        for values in [
            &["spotter_token=a.b.c"][..],
            &["theme=dark; spotter_token=a.b.c; spotter_pre=x"],
            &[" spotter_token = a.b.c "],
            &["spotter_token=first; spotter_token=second"],
            &["spotter_token=first", "other=1; spotter_token=second"],
            &["spotter_tokens=no; xspotter_token=no"],
            &["other=1"],
            &[],
        ] {
            let h = headers(values);
            assert_eq!(
                session_token(&h).map(str::to_owned),
                jar_value(values),
                "{values:?}"
            );
        }
    }
}
