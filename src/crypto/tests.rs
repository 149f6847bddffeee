use super::*;
use crate::crypto::registry::{EncryptedColumn, NAVIDROME_PASSWORD};
use proptest::prelude::*;

const OTHER: EncryptedColumn = EncryptedColumn {
    table: "provider_tokens",
    column: "access_token_enc",
    row_key: "id",
};

fn key(b: u8) -> EncryptionKey {
    EncryptionKey::from_bytes([b; 32])
}

fn field(row: &str) -> FieldRef<'_> {
    FieldRef {
        column: &NAVIDROME_PASSWORD,
        row_key: row,
    }
}

#[test]
fn sealed_value_has_the_v2_shape_and_no_plaintext() {
    let c = FieldCipher::new(&key(7), None);
    let sealed = c.seal(field("1"), "hunter2-secret").unwrap();
    assert!(sealed.starts_with(&format!("enc:v2:{}:", c.current_key_id())));
    assert!(!sealed.contains("hunter2"));
    assert_eq!(c.current_key_id().len(), 8);
}

#[test]
fn nonces_are_fresh_per_write() {
    let c = FieldCipher::new(&key(7), None);
    let a = c.seal(field("1"), "same").unwrap();
    let b = c.seal(field("1"), "same").unwrap();
    assert_ne!(a, b);
}

#[test]
fn moved_to_another_row_fails() {
    let c = FieldCipher::new(&key(7), None);
    let sealed = c.seal(field("1"), "secret").unwrap();
    assert_eq!(
        c.open(field("2"), &sealed).err(),
        Some(CryptoError::Decrypt)
    );
}

#[test]
fn moved_to_another_column_fails() {
    let c = FieldCipher::new(&key(7), None);
    let sealed = c.seal(field("1"), "secret").unwrap();
    let other = FieldRef {
        column: &OTHER,
        row_key: "1",
    };
    assert_eq!(c.open(other, &sealed).err(), Some(CryptoError::Decrypt));
}

#[test]
fn every_tampered_byte_fails() {
    let c = FieldCipher::new(&key(7), None);
    let sealed = c.seal(field("1"), "secret").unwrap();
    let (head, b64) = sealed.rsplit_once(':').unwrap();
    let blob = STANDARD.decode(b64).unwrap();
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x01;
        let tampered = format!("{head}:{}", STANDARD.encode(&bad));
        assert!(
            c.open(field("1"), &tampered).is_err(),
            "byte {i} flip accepted"
        );
    }
}

#[test]
fn wrong_key_fails() {
    let a = FieldCipher::new(&key(7), None);
    let b = FieldCipher::new(&key(8), None);
    let sealed = a.seal(field("1"), "secret").unwrap();
    assert!(matches!(
        b.open(field("1"), &sealed),
        Err(CryptoError::UnknownKey(_))
    ));
    // Same key id forged onto another key's ciphertext still fails authentication.
    let forged = sealed.replace(a.current_key_id(), b.current_key_id());
    assert_eq!(
        b.open(field("1"), &forged).err(),
        Some(CryptoError::Decrypt)
    );
}

#[test]
fn plaintext_and_garbage_are_errors_never_values() {
    let c = FieldCipher::new(&key(7), None);
    for stored in [
        "hunter2",
        "",
        "enc:v2:",
        "enc:v2:abcd",
        "enc:v1:!!!",
        "enc:v2:zz:AAAA",
        "enc:v9:x",
    ] {
        assert!(c.open(field("1"), stored).is_err(), "{stored:?} accepted");
    }
    let short = format!(
        "enc:v2:{}:{}",
        c.current_key_id(),
        STANDARD.encode([0u8; 10])
    );
    assert_eq!(c.open(field("1"), &short).err(), Some(CryptoError::Decrypt));
}

#[test]
fn previous_key_is_read_and_flagged_for_rewrite() {
    let old = FieldCipher::new(&key(1), None);
    let sealed = old.seal(field("1"), "secret").unwrap();
    let rotated = FieldCipher::new(&key(2), Some(&key(1)));
    let opened = rotated.open(field("1"), &sealed).unwrap();
    assert_eq!(opened.value.expose_secret(), "secret");
    assert!(opened.needs_rewrite);
}

/// A v1 value produced by an independent implementation (Python `cryptography`'s AESGCM:
/// key = bytes 0..32, nonce = bytes 0..12, plaintext "navidrome-passé!", no AAD).
#[test]
fn legacy_v1_vector_from_python_decrypts() {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::try_from(i).unwrap();
    }
    let c = FieldCipher::new(&EncryptionKey::from_bytes(k), None);
    let stored = "enc:v1:AAECAwQFBgcICQoLKWOgcqGXrXbobOfqwpq7xKJmK65yKdHLWYgt0O5mVYyL";
    let opened = c.open(field("42"), stored).unwrap();
    assert_eq!(opened.value.expose_secret(), "navidrome-passé!");
    assert!(opened.needs_rewrite);
}

/// Writes the Go Spotter v1 format by hand (no FieldCipher code) and reads it back.
fn write_v1(key: &[u8; 32], nonce: [u8; 12], plaintext: &str) -> String {
    let cipher = Aes256Gcm::new(key.into());
    let n = Nonce::try_from(&nonce[..]).unwrap();
    let ct = cipher.encrypt(&n, plaintext.as_bytes()).unwrap();
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&ct);
    format!("enc:v1:{}", STANDARD.encode(blob))
}

proptest! {
    #[test]
    fn ct_eq_is_equality(a in proptest::collection::vec(any::<u8>(), 0..80), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        prop_assert!(super::ct_eq(&a, &a.clone()));
        if !a.is_empty() {
            // One bit changed anywhere, in a whole word or in the tail.
            let mut b = a.clone();
            b[flip.index(a.len())] ^= 1 << bit;
            prop_assert!(!super::ct_eq(&a, &b));
            prop_assert!(!super::ct_eq(&a, &a[..a.len() - 1]));
        }
    }

    #[test]
    fn v2_round_trip(plain in ".{0,200}", row in "[0-9a-z]{1,12}", k in any::<[u8; 32]>()) {
        let c = FieldCipher::new(&EncryptionKey::from_bytes(k), None);
        let f = field(&row);
        let sealed = c.seal(f, &plain).unwrap();
        let opened = c.open(f, &sealed).unwrap();
        prop_assert_eq!(opened.value.expose_secret(), plain.as_str());
        prop_assert!(!opened.needs_rewrite);
    }

    #[test]
    fn v1_written_independently_round_trips(plain in ".{0,100}", k in any::<[u8; 32]>(), nonce in any::<[u8; 12]>()) {
        let stored = write_v1(&k, nonce, &plain);
        let c = FieldCipher::new(&EncryptionKey::from_bytes(k), None);
        let opened = c.open(field("1"), &stored).unwrap();
        prop_assert_eq!(opened.value.expose_secret(), plain.as_str());
    }
}

#[test]
fn registry_lists_unique_columns() {
    let mut seen = std::collections::HashSet::new();
    for c in registry::ENCRYPTED_COLUMNS {
        assert!(seen.insert((c.table, c.column)), "duplicate {c:?}");
        assert!(c.column.ends_with("_enc"), "{c:?} should end in _enc");
    }
}

#[test]
fn debug_shows_no_key_material() {
    let k = key(0xab);
    assert!(!format!("{k:?}").contains("ab"));
    let c = FieldCipher::new(&k, None);
    assert!(!format!("{c:?}").to_lowercase().contains("abab"));
}
