//! Secret values: read raw from `SPOTTER_X` or the file named by `SPOTTER_X_FILE`, refused when they
//! look like a placeholder, and never shown.

use figment::Figment;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use super::ConfigError;
use super::raw::env_name;
use super::summary::secret_keys;

/// How to get a real secret; ends every message about a missing or weak one.
const GENERATE_HINT: &str = "generate one with `openssl rand -hex 32` or `spotter gen-secrets`";

/// Values that appear in docs and examples and must never protect a real deployment.
const PLACEHOLDER_MARKERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "replace",
    "placeholder",
    "example",
    "your-",
    "your_",
    "secret-here",
    "xxxxxxxx",
];

/// The 32-byte AES key. No `Debug` output beyond a mask; no `Display`.
pub struct EncryptionKey(SecretBox<[u8; 32]>);

impl EncryptionKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(SecretBox::new(Box::new(bytes)))
    }
    pub fn expose(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }
}

impl Clone for EncryptionKey {
    fn clone(&self) -> Self {
        Self::from_bytes(*self.expose())
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptionKey([REDACTED])")
    }
}

/// Merge every secret on top of `figment`, as the raw string it was given.
///
/// Secrets bypass figment's env provider, which would parse them like TOML (a key of digits would
/// arrive as a number).
pub(super) fn merge_raw_secrets(mut figment: Figment) -> Result<Figment, String> {
    for key in secret_keys() {
        if let Some(value) = read_secret(key)? {
            figment = figment.merge((key, value));
        }
    }
    Ok(figment)
}

/// The secret from `SPOTTER_X`, or from the file `SPOTTER_X_FILE` names, but not both.
fn read_secret(key: &str) -> Result<Option<String>, String> {
    let var = env_name(key);
    let file_var = format!("{var}_FILE");
    let direct = std::env::var(&var).ok();
    let from_file = std::env::var(&file_var).ok();
    match (direct, from_file) {
        (Some(_), Some(_)) => Err(format!(
            "{var} and {file_var} are both set: keep only one of them"
        )),
        (Some(v), None) => Ok(Some(v)),
        (None, Some(path)) => {
            let content = std::fs::read_to_string(&path)
                .map_err(|e| format!("{file_var}: cannot read the file {path}: {}", e.kind()))?;
            // Editors and `echo` end the file with a newline that is not part of the secret.
            let content = content.strip_suffix('\n').unwrap_or(&content);
            let content = content.strip_suffix('\r').unwrap_or(content);
            Ok(Some(content.to_owned()))
        }
        (None, None) => Ok(None),
    }
}

/// The value of a secret the server cannot start without; records an error when it is missing.
pub(super) fn required<'a>(
    var: &str,
    value: Option<&'a SecretString>,
    errors: &mut Vec<ConfigError>,
) -> Option<&'a SecretString> {
    if value.is_none() {
        errors.push(ConfigError(format!(
            "{var} is required (or {var}_FILE): {GENERATE_HINT}"
        )));
    }
    value
}

/// An optional secret given as an empty string counts as not set.
pub(super) fn non_empty(value: Option<SecretString>) -> Option<SecretString> {
    value.filter(|s| !s.expose_secret().is_empty())
}

/// 64 hex characters that are not a placeholder.
pub(super) fn validate_encryption_key(
    var: &str,
    value: &SecretString,
    errors: &mut Vec<ConfigError>,
) -> Option<EncryptionKey> {
    let v = value.expose_secret().trim();
    if v.is_empty() {
        errors.push(ConfigError(format!("{var} is empty: {GENERATE_HINT}")));
        return None;
    }
    if looks_like_placeholder(v) {
        errors.push(ConfigError(format!(
            "{var} is a placeholder value, not a real key: {GENERATE_HINT}"
        )));
        return None;
    }
    if v.len() != 64 {
        errors.push(ConfigError(format!(
            "{var} must be exactly 64 hex characters (32 bytes), got {} characters: {GENERATE_HINT}",
            v.len()
        )));
        return None;
    }
    let mut bytes = [0u8; 32];
    if hex::decode_to_slice(v, &mut bytes).is_err() {
        errors.push(ConfigError(format!(
            "{var} must contain only hex characters 0-9 a-f: {GENERATE_HINT}"
        )));
        return None;
    }
    Some(EncryptionKey::from_bytes(bytes))
}

/// At least 32 bytes that are not a placeholder.
pub(super) fn validate_jwt_secret(
    var: &str,
    value: &SecretString,
    errors: &mut Vec<ConfigError>,
) -> Option<SecretString> {
    let v = value.expose_secret();
    if v.trim().is_empty() {
        errors.push(ConfigError(format!("{var} is empty: {GENERATE_HINT}")));
        return None;
    }
    if looks_like_placeholder(v) {
        errors.push(ConfigError(format!(
            "{var} is a placeholder value, not a real secret: {GENERATE_HINT}"
        )));
        return None;
    }
    if v.len() < 32 {
        errors.push(ConfigError(format!(
            "{var} must be at least 32 bytes long, got {}: {GENERATE_HINT}",
            v.len()
        )));
        return None;
    }
    Some(value.clone())
}

fn looks_like_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if PLACEHOLDER_MARKERS.iter().any(|m| lower.contains(m)) {
        return true;
    }
    // A single repeated character (all zeros, all 'a', …) is not a secret.
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => chars.all(|c| c == first),
        None => true,
    }
}

/// A fresh `.env` block with both required secrets.
pub fn generate_secrets_block() -> String {
    let key: [u8; 32] = rand::random();
    let jwt: [u8; 32] = rand::random();
    format!(
        "# Generated by `spotter gen-secrets`. Keep this file private (chmod 600).\n\
         SPOTTER_SECURITY_ENCRYPTION_KEY={}\n\
         SPOTTER_SECURITY_JWT_SECRET={}\n",
        hex::encode(key),
        hex::encode(jwt)
    )
}
