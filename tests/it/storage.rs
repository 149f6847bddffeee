//! S2: after a full sign-in flow, neither the SQLite file nor its WAL holds a secret in clear.

use crate::harness::*;

#[tokio::test]
async fn database_and_wal_hold_no_password_in_clear() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    let jwt = b.cookies["spotter_token"].clone();
    assert_eq!(b.get("/").await.status, 200);

    let stored: String = sqlx::query_scalar("SELECT password_enc FROM navidrome_credentials")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    assert!(stored.starts_with("enc:v2:"), "{stored}");

    let files = db_files(&app);
    assert!(
        files.iter().any(|(p, _)| p.ends_with("-wal")),
        "WAL file expected in WAL mode"
    );
    for (path, bytes) in &files {
        for secret in [
            p.password.as_str(),
            jwt.as_str(),
            ENCRYPTION_KEY,
            JWT_SECRET,
        ] {
            assert!(
                !contains(bytes, secret.as_bytes()),
                "{path} contains a secret"
            );
        }
    }
}

#[tokio::test]
async fn clear_credentials_removes_every_registered_column() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    spotter::db::credentials::clear_all(&app.state.core.db)
        .await
        .unwrap();
    for col in spotter::crypto::registry::ENCRYPTED_COLUMNS {
        let n = count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM {} WHERE {} IS NOT NULL",
                col.table, col.column
            ),
        )
        .await;
        assert_eq!(n, 0, "{}.{} still holds values", col.table, col.column);
    }
    // And the user is signed out everywhere.
    assert_eq!(b.get("/").await.status, 303);
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_does_not_decrypt() {
    use spotter::crypto::FieldRef;
    use spotter::crypto::registry::NAVIDROME_PASSWORD;
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    Browser::new(&app).login_ok(&p.user, &p.password).await;
    let stored: String = sqlx::query_scalar("SELECT password_enc FROM navidrome_credentials")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    let own = FieldRef {
        column: &NAVIDROME_PASSWORD,
        row_key: "1",
    };
    let other = FieldRef {
        column: &NAVIDROME_PASSWORD,
        row_key: "2",
    };
    assert!(app.state.core.cipher.open(own, &stored).is_ok());
    assert!(app.state.core.cipher.open(other, &stored).is_err());
}

fn key(hex_key: &str) -> spotter::config::EncryptionKey {
    let mut b = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut b).unwrap();
    spotter::config::EncryptionKey::from_bytes(b)
}

async fn stored_password(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT password_enc FROM navidrome_credentials")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn rotate_key_moves_every_value_to_the_new_key_all_or_nothing() {
    use secrecy::ExposeSecret;
    use spotter::crypto::registry::NAVIDROME_PASSWORD;
    use spotter::crypto::{FieldCipher, FieldRef, key_id};
    use spotter::db::rotation::reencrypt_all;

    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    Browser::new(&app).login_ok(&p.user, &p.password).await;
    let old = key(ENCRYPTION_KEY);
    let new = key("a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f91");
    let field = FieldRef {
        column: &NAVIDROME_PASSWORD,
        row_key: "1",
    };

    // Without the previous key nothing opens: refused, nothing changed.
    let before = stored_password(&app).await;
    let new_only = FieldCipher::new(&new, None);
    assert!(
        reencrypt_all(&app.state.core.db, &new_only, &new_only, false)
            .await
            .is_err()
    );
    assert_eq!(stored_password(&app).await, before);

    let rotating = FieldCipher::new(&new, Some(&old));
    let report = reencrypt_all(&app.state.core.db, &rotating, &new_only, false)
        .await
        .unwrap();
    assert_eq!((report.examined, report.rewritten), (1, 1));
    let after = stored_password(&app).await;
    assert!(
        after.starts_with(&format!("enc:v2:{}:", key_id(&new))),
        "{after}"
    );
    assert_eq!(
        new_only.open(field, &after).unwrap().value.expose_secret(),
        p.password
    );
    assert!(FieldCipher::new(&old, None).open(field, &after).is_err());

    // Running again finds nothing to do.
    let again = reencrypt_all(&app.state.core.db, &rotating, &new_only, false)
        .await
        .unwrap();
    assert_eq!(again.rewritten, 0);
}

#[tokio::test]
async fn legacy_v1_values_are_migrated_to_v2() {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::Engine;
    use secrecy::ExposeSecret;
    use spotter::crypto::registry::NAVIDROME_PASSWORD;
    use spotter::crypto::{FieldCipher, FieldRef};

    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    Browser::new(&app).login_ok(&p.user, &p.password).await;
    // What Go Spotter wrote: AES-256-GCM, random 12-byte nonce, base64(nonce‖ct‖tag), no AAD.
    let k = key(ENCRYPTION_KEY);
    let cipher = aes_gcm::Aes256Gcm::new(k.expose().into());
    let nonce_bytes: [u8; 12] = rand::random();
    let nonce = aes_gcm::Nonce::try_from(&nonce_bytes[..]).unwrap();
    let ct = cipher.encrypt(&nonce, p.password.as_bytes()).unwrap();
    let v1 = format!(
        "enc:v1:{}",
        base64::engine::general_purpose::STANDARD.encode([&nonce_bytes[..], &ct].concat())
    );
    sqlx::query("UPDATE navidrome_credentials SET password_enc = ?1")
        .bind(&v1)
        .execute(&app.state.core.db)
        .await
        .unwrap();
    let c = FieldCipher::new(&k, None);
    let report = spotter::db::rotation::reencrypt_all(&app.state.core.db, &c, &c, false)
        .await
        .unwrap();
    assert_eq!(report.rewritten, 1);
    let after = stored_password(&app).await;
    assert!(after.starts_with("enc:v2:"));
    let field = FieldRef {
        column: &NAVIDROME_PASSWORD,
        row_key: "1",
    };
    assert_eq!(
        c.open(field, &after).unwrap().value.expose_secret(),
        p.password
    );
}
