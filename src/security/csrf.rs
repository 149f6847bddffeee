//! CSRF tokens (S4): HMAC-SHA256 over the session id under a key derived from the JWT secret,
//! so a token is valid for exactly one session (or one pre-session before login), needs no
//! storage, and is compared in constant time. Origin/Referer are checked separately.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Sha256, Sha512};
use url::Url;

type HmacSha256 = Hmac<Sha256>;

/// Derive a sub-key from the JWT secret for one purpose, so keys never overlap.
pub fn derive_key(secret: &SecretString, purpose: &str) -> Vec<u8> {
    let mut mac = match <Hmac<Sha512> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
    {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(b"spotter/derive/v1|");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// What a CSRF token is bound to.
#[derive(Debug, Clone, Copy)]
pub enum Binding<'a> {
    Session(&'a str),
    PreSession(&'a str),
}

pub struct CsrfKey(SecretBox<Vec<u8>>);

impl std::fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfKey([REDACTED])")
    }
}

impl CsrfKey {
    pub fn from_secret(secret: &SecretString) -> Self {
        Self(SecretBox::new(Box::new(derive_key(secret, "csrf"))))
    }

    fn mac(&self, binding: Binding<'_>) -> HmacSha256 {
        let mut mac = match <HmacSha256 as KeyInit>::new_from_slice(self.0.expose_secret()) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        match binding {
            Binding::Session(id) => {
                mac.update(b"session|");
                mac.update(id.as_bytes());
            }
            Binding::PreSession(id) => {
                mac.update(b"pre-session|");
                mac.update(id.as_bytes());
            }
        }
        mac
    }

    pub fn token(&self, binding: Binding<'_>) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(binding).finalize().into_bytes())
    }

    /// Constant-time check of a submitted token.
    pub fn verify(&self, binding: Binding<'_>, submitted: &str) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(submitted.trim()) else {
            return false;
        };
        self.mac(binding).verify_slice(&raw).is_ok()
    }
}

/// Does the request come from our own pages? `Origin` must equal the base URL's origin; without
/// `Origin`, a `Referer` must start with it. A `null` or foreign origin is refused; a request
/// with neither header (old clients, curl) is allowed and relies on the token alone.
pub fn same_origin(base: &Url, origin: Option<&str>, referer: Option<&str>) -> bool {
    let ours = base.origin().ascii_serialization();
    if let Some(origin) = origin {
        return origin.trim() == ours;
    }
    if let Some(referer) = referer {
        return Url::parse(referer.trim()).is_ok_and(|r| r.origin().ascii_serialization() == ours);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CsrfKey {
        CsrfKey::from_secret(&SecretString::from("0123456789abcdef0123456789abcdef-test"))
    }

    #[test]
    fn token_is_bound_to_its_session() {
        let k = key();
        let t = k.token(Binding::Session("a"));
        assert!(k.verify(Binding::Session("a"), &t));
        assert!(!k.verify(Binding::Session("b"), &t));
        assert!(!k.verify(Binding::PreSession("a"), &t));
        assert!(!k.verify(Binding::Session("a"), ""));
        assert!(!k.verify(Binding::Session("a"), "!!!"));
        assert!(!k.verify(Binding::Session("a"), &t[..t.len() - 2]));
    }

    #[test]
    fn other_secret_gives_other_tokens() {
        let other =
            CsrfKey::from_secret(&SecretString::from("another-secret-0123456789abcdef-xyz"));
        let t = key().token(Binding::Session("a"));
        assert!(!other.verify(Binding::Session("a"), &t));
    }

    #[test]
    fn origin_rules() {
        let base = Url::parse("https://music.example.org/spotter").unwrap();
        assert!(same_origin(&base, Some("https://music.example.org"), None));
        assert!(!same_origin(&base, Some("https://evil.example"), None));
        assert!(!same_origin(&base, Some("null"), None));
        assert!(!same_origin(&base, Some("http://music.example.org"), None));
        assert!(same_origin(
            &base,
            None,
            Some("https://music.example.org/spotter/x")
        ));
        assert!(!same_origin(&base, None, Some("https://evil.example/")));
        assert!(!same_origin(&base, None, Some("not a url")));
        assert!(same_origin(&base, None, None));
        // Origin wins over Referer.
        assert!(!same_origin(
            &base,
            Some("https://evil.example"),
            Some("https://music.example.org/")
        ));
    }
}
