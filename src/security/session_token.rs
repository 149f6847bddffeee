//! The `spotter_token` JWT: HS256 pinned, every registered claim set and checked (S3).
//! The signature only proves we issued it; the session row decides whether it is still valid.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{SessionId, UserId};

pub const ISSUER: &str = "spotter";
pub const AUDIENCE: &str = "spotter-web";
const LEEWAY_SECS: i64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Verified facts from a token.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub expires_at: i64,
}

pub struct SessionTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    verified: VerifiedTokens,
}

/// Tokens that passed full verification, so a browser's every request does not repeat the JWT
/// decoding and HMAC (the largest single cost of a signed-in request).
///
/// A token's signature is a pure function of the token and the secret, which is fixed for the
/// life of the process, so a token seen verified before verifies again; what can change is
/// the time, and the time claims are checked again at every use. Only verified tokens are
/// kept, so forged ones cannot fill it; a hit needs the exact token, found by a keyed hash and
/// compared in constant time. Whether the session is still live is decided elsewhere, per
/// request, as before.
struct VerifiedTokens {
    hasher: RandomState,
    entries: Mutex<HashMap<u64, Memo>>,
}

/// At most this many verified tokens are kept; a new one past that starts the memo afresh.
const MAX_VERIFIED: usize = 256;

struct Memo {
    token: Box<str>,
    verified: VerifiedToken,
    iat: i64,
    nbf: i64,
    exp: i64,
}

impl Memo {
    /// The time claims, checked as the full verification checks them.
    fn current_at(&self, now: i64) -> bool {
        self.exp >= now - LEEWAY_SECS
            && self.nbf <= now + LEEWAY_SECS
            && self.iat <= now + LEEWAY_SECS
    }
}

impl VerifiedTokens {
    fn new() -> Self {
        Self {
            hasher: RandomState::new(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, token: &str) -> u64 {
        self.hasher.hash_one(token)
    }

    /// `Some(answer)` when `token` was verified before; `None` when it must be verified.
    fn get(&self, token: &str, now: i64) -> Option<Option<VerifiedToken>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let memo = entries.get(&self.key(token))?;
        if !crate::crypto::ct_eq(memo.token.as_bytes(), token.as_bytes()) {
            return None;
        }
        Some(memo.current_at(now).then(|| memo.verified.clone()))
    }

    fn put(&self, token: &str, memo: Memo) {
        let key = self.key(token);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_VERIFIED && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, memo);
    }
}

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionTokens([REDACTED])")
    }
}

impl SessionTokens {
    pub fn new(secret: &SecretString) -> Self {
        let key = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["iss", "aud", "sub", "iat", "nbf", "exp", "jti"]);
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.leeway = LEEWAY_SECS.unsigned_abs();
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
            verified: VerifiedTokens::new(),
        }
    }

    /// Issue a token for a new session.
    pub fn issue(
        &self,
        user_id: UserId,
        session_id: &SessionId,
        now: i64,
        ttl_secs: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id.0.to_string(),
            iat: now,
            nbf: now,
            exp: now + ttl_secs,
            jti: session_id.as_str().to_owned(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Verify signature, algorithm and every claim. `None` for anything not perfectly valid.
    pub fn verify(&self, token: &str) -> Option<VerifiedToken> {
        self.verify_at(token, crate::clock::system_now())
    }

    fn verify_at(&self, token: &str, now: i64) -> Option<VerifiedToken> {
        if token.len() > 4096 {
            return None;
        }
        if let Some(answer) = self.verified.get(token, now) {
            return answer;
        }
        let c = decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        // jsonwebtoken checks nbf/exp; iat in the future is also refused.
        if c.iat > now + LEEWAY_SECS {
            return None;
        }
        let user_id = c.sub.parse::<i64>().ok().filter(|id| *id > 0)?;
        let session_id = SessionId::parse(&c.jti)?;
        let verified = VerifiedToken {
            user_id: UserId(user_id),
            session_id,
            expires_at: c.exp,
        };
        let memo = Memo {
            token: token.into(),
            verified: verified.clone(),
            iat: c.iat,
            nbf: c.nbf,
            exp: c.exp,
        };
        // jsonwebtoken reads the system clock itself; remember only what holds at `now` too.
        if memo.current_at(now) {
            self.verified.put(token, memo);
        }
        Some(verified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    fn tokens() -> SessionTokens {
        SessionTokens::new(&SecretString::from(
            "a-test-secret-that-is-long-enough-1234",
        ))
    }

    #[test]
    fn round_trip() {
        let t = tokens();
        let sid = SessionId::new_random();
        let now = crate::clock::system_now();
        let jwt = t.issue(UserId(3), &sid, now, 3600).unwrap();
        let v = t.verify(&jwt).unwrap();
        assert_eq!(v.user_id, UserId(3));
        assert_eq!(v.session_id, sid);
    }

    #[test]
    fn expired_is_refused() {
        let t = tokens();
        let now = crate::clock::system_now();
        let jwt = t
            .issue(UserId(3), &SessionId::new_random(), now - 7200, 3600)
            .unwrap();
        assert!(t.verify(&jwt).is_none());
    }

    #[test]
    fn not_yet_valid_is_refused() {
        let t = tokens();
        let now = crate::clock::system_now();
        let jwt = t
            .issue(UserId(3), &SessionId::new_random(), now + 3600, 7200)
            .unwrap();
        assert!(t.verify(&jwt).is_none());
    }

    #[test]
    fn other_secret_is_refused() {
        let other =
            SessionTokens::new(&SecretString::from("another-secret-that-is-long-enough-99"));
        let jwt = other
            .issue(
                UserId(3),
                &SessionId::new_random(),
                crate::clock::system_now(),
                3600,
            )
            .unwrap();
        assert!(tokens().verify(&jwt).is_none());
    }

    fn forge(header: &str, claims: &serde_json::Value, sig: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            sig
        )
    }

    fn good_claims() -> serde_json::Value {
        let now = crate::clock::system_now();
        serde_json::json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "3", "iat": now, "nbf": now,
            "exp": now + 3600, "jti": SessionId::new_random().as_str()})
    }

    #[test]
    fn alg_none_is_refused() {
        let jwt = forge(r#"{"alg":"none","typ":"JWT"}"#, &good_claims(), "");
        assert!(tokens().verify(&jwt).is_none());
    }

    #[test]
    fn hs512_with_same_secret_is_refused() {
        let secret = "a-test-secret-that-is-long-enough-1234";
        let jwt = encode(
            &Header::new(Algorithm::HS512),
            &good_claims(),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert!(tokens().verify(&jwt).is_none());
    }

    #[test]
    fn each_missing_or_wrong_claim_is_refused() {
        let secret = "a-test-secret-that-is-long-enough-1234";
        let sign = |c: &serde_json::Value| {
            encode(
                &Header::new(Algorithm::HS256),
                c,
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap()
        };
        assert!(tokens().verify(&sign(&good_claims())).is_some());
        for claim in ["iss", "aud", "sub", "iat", "nbf", "exp", "jti"] {
            let mut c = good_claims();
            c.as_object_mut().unwrap().remove(claim);
            assert!(
                tokens().verify(&sign(&c)).is_none(),
                "missing {claim} accepted"
            );
        }
        for (claim, value) in [
            ("iss", serde_json::json!("evil")),
            ("aud", serde_json::json!("other")),
            ("sub", serde_json::json!("0")),
            ("sub", serde_json::json!("abc")),
            ("jti", serde_json::json!("not-a-uuid")),
            (
                "iat",
                serde_json::json!(crate::clock::system_now() + 86_400),
            ),
        ] {
            let mut c = good_claims();
            c[claim] = value;
            assert!(tokens().verify(&sign(&c)).is_none(), "bad {claim} accepted");
        }
    }

    #[test]
    fn altered_payload_is_refused() {
        let t = tokens();
        let jwt = t
            .issue(
                UserId(3),
                &SessionId::new_random(),
                crate::clock::system_now(),
                3600,
            )
            .unwrap();
        let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["sub"] = serde_json::json!("4");
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(t.verify(&parts.join(".")).is_none());
        assert!(t.verify("garbage").is_none());
        assert!(t.verify("").is_none());
    }

    fn memo_len(t: &SessionTokens) -> usize {
        t.verified.entries.lock().unwrap().len()
    }

    /// A fresh token valid for an hour from now, and now.
    fn fresh(t: &SessionTokens) -> (String, i64) {
        let now = crate::clock::system_now();
        let jwt = t
            .issue(UserId(3), &SessionId::new_random(), now, 3600)
            .unwrap();
        (jwt, now)
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let t = tokens();
        let (jwt, now) = fresh(&t);
        assert!(t.verify_at(&jwt, now).is_some());
        assert_eq!(memo_len(&t), 1, "remembered");
        assert!(t.verify_at(&jwt, now + 600).is_some(), "from memory");
        assert!(
            t.verify_at(&jwt, now + 3600 + LEEWAY_SECS + 1).is_none(),
            "expired while remembered"
        );
        assert!(
            t.verify_at(&jwt, now - 3600).is_none(),
            "not yet valid at an earlier time"
        );
    }

    #[test]
    fn only_verified_tokens_are_remembered_and_only_exactly() {
        let t = tokens();
        let (jwt, _) = fresh(&t);
        assert!(t.verify(&jwt).is_some());
        // One byte of the signature changed, or the claims part swapped: refused, remembered
        // or not.
        let mut tampered = jwt.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(t.verify(&tampered).is_none());
        let forged = forge(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &good_claims(),
            jwt.rsplit('.').next().unwrap(),
        );
        assert!(t.verify(&forged).is_none());
        // A flood of forged tokens leaves only the one real token remembered.
        for i in 0..(MAX_VERIFIED * 4) {
            assert!(t.verify(&format!("{jwt}{i}")).is_none());
        }
        assert_eq!(memo_len(&t), 1);
        assert!(t.verify(&jwt).is_some());
    }

    #[test]
    fn the_memory_is_bounded() {
        let t = tokens();
        let now = crate::clock::system_now();
        for _ in 0..(MAX_VERIFIED + 10) {
            let jwt = t
                .issue(UserId(3), &SessionId::new_random(), now, 3600)
                .unwrap();
            assert!(t.verify(&jwt).is_some());
            assert!(memo_len(&t) <= MAX_VERIFIED);
        }
    }
}
