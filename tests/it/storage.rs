//! S2: after a full sign-in flow, neither the SQLite file nor its WAL holds a secret in clear.

use crate::harness::*;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn database_and_wal_hold_no_password_in_clear() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    let jwt = b.cookies["spotter_token"].clone();
    assert_eq!(b.get("/").await.status, 200);

    let stored: String = sqlx::query_scalar("SELECT password_enc FROM navidrome_credentials")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(stored.starts_with("enc:v2:"), "{stored}");

    let mut files = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", app.db_path.display());
        if let Ok(bytes) = std::fs::read(&path) {
            files.push((path, bytes));
        }
    }
    assert!(files.iter().any(|(p, _)| p.ends_with("-wal")), "WAL file expected in WAL mode");
    for (path, bytes) in &files {
        for secret in [p.password.as_str(), jwt.as_str(), ENCRYPTION_KEY, JWT_SECRET] {
            assert!(!contains(bytes, secret.as_bytes()), "{path} contains a secret");
        }
    }
}

#[tokio::test]
async fn clear_credentials_removes_every_registered_column() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    spotter::db::credentials::clear_all(&app.state.db).await.unwrap();
    for col in spotter::crypto::registry::ENCRYPTED_COLUMNS {
        let n = count(&app, &format!("SELECT COUNT(*) FROM {} WHERE {} IS NOT NULL", col.table, col.column)).await;
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
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    let own = FieldRef { column: &NAVIDROME_PASSWORD, row_key: "1" };
    let other = FieldRef { column: &NAVIDROME_PASSWORD, row_key: "2" };
    assert!(app.state.cipher.open(own, &stored).is_ok());
    assert!(app.state.cipher.open(other, &stored).is_err());
}
