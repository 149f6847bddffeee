//! Cookies without a layer. A handler that reads or sets cookies takes [`Cookies`], parsed from
//! the request's `Cookie` headers when it is extracted, and hands it back with its response
//! ([`Cookies::onto`]), which adds a `Set-Cookie` for each change. A request whose handler never
//! asks for cookies (assets, health probes, most pages) pays nothing for them: no jar, no
//! shared state, no request extension.
//!
//! Parsing, signing and formatting are the `cookie` crate's; this is only the glue.

use std::convert::Infallible;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, CookieJar, Key};

/// The request's cookies and the changes a handler makes to them. The lock is never contended:
/// one request's handler holds it for a lookup or an insert at a time.
pub struct Cookies(Mutex<CookieJar>);

/// Names only: a cookie's value may be a session token.
impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.jar().iter().map(|c| c.name().to_owned()))
            .finish()
    }
}

impl Cookies {
    /// The cookies of these request headers: every `Cookie` header, split at `;`, each pair
    /// percent-decoded; pairs that do not parse are skipped, and of two with one name the
    /// last counts.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut jar = CookieJar::new();
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = std::str::from_utf8(value.as_bytes()) else {
                continue;
            };
            for pair in text.split(';') {
                if let Ok(cookie) = Cookie::parse_encoded(pair.to_owned()) {
                    jar.add_original(cookie);
                }
            }
        }
        Self(Mutex::new(jar))
    }

    fn jar(&self) -> MutexGuard<'_, CookieJar> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cookie named `name`, as the request sent it (or as this handler set it).
    pub fn get(&self, name: &str) -> Option<Cookie<'static>> {
        self.jar().get(name).cloned()
    }

    /// Set `cookie` (replacing one of the same name): sent with the response.
    pub fn add(&self, cookie: Cookie<'static>) {
        self.jar().add(cookie);
    }

    /// The cookie named `name` if its signature under `key` verifies, with the signature taken
    /// off; `None` when it is absent, altered or forged.
    pub fn get_signed(&self, key: &Key, name: &str) -> Option<Cookie<'static>> {
        self.jar().signed(key).get(name)
    }

    /// Set `cookie` with its value signed under `key`.
    pub fn add_signed(&self, key: &Key, cookie: Cookie<'static>) {
        self.jar().signed_mut(key).add(cookie);
    }

    /// `response` with a `Set-Cookie` for each cookie this handler set or cleared.
    pub fn onto(self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        let jar = self.0.into_inner().unwrap_or_else(PoisonError::into_inner);
        for cookie in jar.delta() {
            // Written as set, not percent-encoded: the values are ours (tokens, signed ids).
            // One that cannot be a header is left out rather than sent broken.
            if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Cookies {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(values: &[&'static str]) -> Cookies {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_static(v));
        }
        Cookies::from_headers(&h)
    }

    fn set_cookies(resp: &Response) -> Vec<String> {
        resp.headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn reads_every_cookie_header_and_the_last_of_a_name_counts() {
        let c = request(&["a=1; b=two%20words", "a=3", "junk", "c=x; =nameless"]);
        assert_eq!(c.get("a").unwrap().value(), "3");
        assert_eq!(c.get("b").unwrap().value(), "two words");
        assert_eq!(c.get("c").unwrap().value(), "x");
        assert!(c.get("junk").is_none());
        assert!(request(&[]).get("a").is_none());
    }

    #[test]
    fn debug_shows_names_not_values() {
        let c = request(&["spotter_token=secret.jwt.value; theme=dark"]);
        let shown = format!("{c:?}");
        assert!(
            shown.contains("spotter_token") && shown.contains("theme"),
            "{shown}"
        );
        assert!(
            !shown.contains("secret") && !shown.contains("dark"),
            "{shown}"
        );
    }

    #[test]
    fn only_changes_are_sent_back() {
        let c = request(&["kept=1; replaced=old"]);
        c.add(Cookie::new("replaced", "new"));
        c.add(Cookie::new("fresh", "2"));
        let resp = c.onto(());
        let mut sent = set_cookies(&resp);
        sent.sort();
        assert_eq!(sent, ["fresh=2", "replaced=new"]);
        assert!(set_cookies(&request(&["kept=1"]).onto(())).is_empty());
    }

    #[test]
    fn signed_cookies_verify_and_a_forged_or_altered_one_does_not() {
        let key = Key::generate();
        let setter = request(&[]);
        setter.add_signed(&key, Cookie::new("pre", "id-1"));
        let sent = set_cookies(&setter.onto(()));
        let pair = sent[0].split(';').next().unwrap().to_owned();
        let value = pair.split_once('=').unwrap().1.to_owned();

        let back = Cookies::from_headers(&HeaderMap::from_iter([(
            header::COOKIE,
            HeaderValue::from_str(&pair).unwrap(),
        )]));
        assert_eq!(back.get_signed(&key, "pre").unwrap().value(), "id-1");
        assert!(back.get_signed(&Key::generate(), "pre").is_none());

        let altered = value.replacen("id-1", "id-2", 1);
        let altered = HeaderValue::from_str(&format!("pre={altered}")).unwrap();
        let altered = Cookies::from_headers(&HeaderMap::from_iter([(header::COOKIE, altered)]));
        assert!(altered.get_signed(&key, "pre").is_none());
        assert!(request(&["pre=id-1"]).get_signed(&key, "pre").is_none());
    }
}
