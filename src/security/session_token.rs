//! The `spotter_token` JWT: HS256 pinned, every registered claim set and checked (S3).
//! The signature only proves we issued it; the session row decides whether it is still valid.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::domain::ids::{SessionId, UserId};

pub const ISSUER: &str = "spotter";
pub const AUDIENCE: &str = "spotter-web";
const LEEWAY_SECS: u64 = 30;

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
        validation.leeway = LEEWAY_SECS;
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            validation,
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
        if token.len() > 4096 {
            return None;
        }
        let data = decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let c = data.claims;
        let now = crate::clock::system_now();
        // jsonwebtoken checks nbf/exp; iat in the future is also refused.
        if c.iat > now + i64::try_from(LEEWAY_SECS).unwrap_or(0) {
            return None;
        }
        let user_id = c.sub.parse::<i64>().ok().filter(|id| *id > 0)?;
        let session_id = SessionId::parse(&c.jti)?;
        Some(VerifiedToken {
            user_id: UserId(user_id),
            session_id,
            expires_at: c.exp,
        })
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
}
