//! Field encryption for credential columns (SPEC S2, ADR 0003).
//!
//! Format: `enc:v2:<key-id>:<base64(nonce ‖ ciphertext ‖ tag)>`, AES-256-GCM with a fresh
//! 96-bit nonce and associated data binding the value to its table, column and row key.
//! Legacy Go Spotter values (`enc:v1:<base64>`, same key, no AAD) are read for migration.

pub mod registry;

use aes_gcm::aead::{Aead, Generate, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::EncryptionKey;
pub use registry::EncryptedColumn;

const V2_PREFIX: &str = "enc:v2:";
const V1_PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("value is not in a known encrypted format")]
    UnknownFormat,
    #[error("value was encrypted with an unknown key (id {0})")]
    UnknownKey(String),
    #[error("value failed to decrypt (wrong key, wrong row or column, or tampered)")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    #[error("decrypted value is not UTF-8")]
    NotUtf8,
}

/// Where a value lives: its column (from the registry) and the row key it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct FieldRef<'a> {
    pub column: &'a EncryptedColumn,
    pub row_key: &'a str,
}

impl FieldRef<'_> {
    fn aad(&self) -> Vec<u8> {
        format!(
            "spotter/v2|{}|{}|{}",
            self.column.table, self.column.column, self.row_key
        )
        .into_bytes()
    }
}

struct KeySlot {
    id: String,
    cipher: Aes256Gcm,
}

impl KeySlot {
    fn new(key: &EncryptionKey) -> Self {
        Self {
            id: key_id(key),
            cipher: Aes256Gcm::new(key.expose().into()),
        }
    }
}

/// Stable, non-secret identifier of a key: the first 8 hex chars of SHA-256(key).
pub fn key_id(key: &EncryptionKey) -> String {
    let digest = Sha256::digest(key.expose());
    hex::encode(&digest[..4])
}

/// Seals and opens credential values. Cheap to clone behind an `Arc`.
pub struct FieldCipher {
    current: KeySlot,
    previous: Option<KeySlot>,
}

impl std::fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldCipher")
            .field("current_key_id", &self.current.id)
            .field("previous_key_id", &self.previous.as_ref().map(|k| &k.id))
            .finish()
    }
}

/// What `open` found: the plaintext, and whether the stored value should be re-written
/// (legacy v1 format or the previous key).
pub struct Opened {
    pub value: SecretString,
    pub needs_rewrite: bool,
}

impl FieldCipher {
    pub fn new(current: &EncryptionKey, previous: Option<&EncryptionKey>) -> Self {
        Self {
            current: KeySlot::new(current),
            previous: previous.map(KeySlot::new),
        }
    }

    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypt `plaintext` for the given column and row.
    pub fn seal(&self, field: FieldRef<'_>, plaintext: &str) -> Result<String, CryptoError> {
        let nonce = Nonce::generate();
        let aad = field.aad();
        let ct = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ct.len());
        blob.extend_from_slice(nonce.as_slice());
        blob.extend_from_slice(&ct);
        Ok(format!(
            "{V2_PREFIX}{}:{}",
            self.current.id,
            STANDARD.encode(blob)
        ))
    }

    /// Decrypt a stored value. Anything that is not a valid ciphertext for this exact
    /// column and row is an error, never plaintext.
    pub fn open(&self, field: FieldRef<'_>, stored: &str) -> Result<Opened, CryptoError> {
        if let Some(rest) = stored.strip_prefix(V2_PREFIX) {
            let (kid, b64) = rest.split_once(':').ok_or(CryptoError::UnknownFormat)?;
            let slot = if kid == self.current.id {
                &self.current
            } else {
                match &self.previous {
                    Some(p) if p.id == kid => p,
                    _ => return Err(CryptoError::UnknownKey(kid.to_owned())),
                }
            };
            let blob = STANDARD
                .decode(b64)
                .map_err(|_| CryptoError::UnknownFormat)?;
            let value = open_blob(&slot.cipher, &blob, &field.aad())?;
            return Ok(Opened {
                value,
                needs_rewrite: kid != self.current.id,
            });
        }
        if let Some(b64) = stored.strip_prefix(V1_PREFIX) {
            let blob = STANDARD
                .decode(b64)
                .map_err(|_| CryptoError::UnknownFormat)?;
            let mut last = CryptoError::Decrypt;
            for slot in std::iter::once(&self.current).chain(self.previous.iter()) {
                match open_blob(&slot.cipher, &blob, &[]) {
                    Ok(value) => {
                        return Ok(Opened {
                            value,
                            needs_rewrite: true,
                        });
                    }
                    Err(e) => last = e,
                }
            }
            return Err(last);
        }
        Err(CryptoError::UnknownFormat)
    }

    /// Open and return the secret only.
    pub fn open_secret(
        &self,
        field: FieldRef<'_>,
        stored: &str,
    ) -> Result<SecretString, CryptoError> {
        self.open(field, stored).map(|o| o.value)
    }
}

fn open_blob(cipher: &Aes256Gcm, blob: &[u8], aad: &[u8]) -> Result<SecretString, CryptoError> {
    if blob.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Decrypt);
    }
    let nonce = Nonce::try_from(&blob[..NONCE_LEN]).map_err(|_| CryptoError::Decrypt)?;
    let pt = cipher
        .decrypt(
            &nonce,
            Payload {
                msg: &blob[NONCE_LEN..],
                aad,
            },
        )
        .map_err(|_| CryptoError::Decrypt)?;
    String::from_utf8(pt)
        .map(SecretString::from)
        .map_err(|_| CryptoError::NotUtf8)
}

/// Constant-time equality for tokens (the length is not secret). Compared a word at a time:
/// `subtle` guards each comparison from the optimiser, and per byte that guard was two fifths
/// of the cost of checking a signed-in request's login token.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::{Choice, ConstantTimeEq};
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_rest) = a.as_chunks::<8>();
    let (b_words, b_rest) = b.as_chunks::<8>();
    let mut same = Choice::from(1);
    for (x, y) in a_words.iter().zip(b_words) {
        same &= u64::from_ne_bytes(*x).ct_eq(&u64::from_ne_bytes(*y));
    }
    (same & a_rest.ct_eq(b_rest)).into()
}

/// A random URL-safe token of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 hex of a secret, for storing lookups (never the secret itself).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Expose helper kept in one place so reviewers can grep for it.
pub fn expose(s: &SecretString) -> &str {
    s.expose_secret()
}

#[cfg(test)]
mod tests;
