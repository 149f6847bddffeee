//! S2/S12/S15 for linked services: after every link flow the SQLite file and its WAL hold no
//! token, code, verifier, state or key in clear; key rotation covers the new columns; and
//! clear-credentials removes them all.

use spotter::crypto::registry::{ENCRYPTED_COLUMNS, PROVIDER_ACCESS_TOKEN, PROVIDER_REFRESH_TOKEN};
use spotter::crypto::{FieldCipher, FieldRef};

use crate::fakes::*;
use crate::harness::*;

const SPOTIFY_SECRET: &str = "spotify-client-secret-5f4e3d2c1b0a";

#[tokio::test]
async fn database_and_wal_hold_no_provider_secret_after_all_flows() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options().set("spotify.client_secret", SPOTIFY_SECRET)).await;
    let mut b = Browser::new(&app);
    let mut secrets = run_all_flows(&app, &f, &mut b).await;
    secrets.push(("Spotify client secret", SPOTIFY_SECRET.to_owned()));
    secrets.push(("Last.fm shared secret", LASTFM_SECRET.to_owned()));
    assert!(secrets.len() >= 14);
    // Every credential column holds only sealed values.
    for col in ENCRYPTED_COLUMNS {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {} IS NOT NULL AND {} NOT LIKE 'enc:v2:%'",
            col.table, col.column, col.column
        );
        assert_eq!(count(&app, &sql).await, 0, "{}.{}", col.table, col.column);
    }

    let files = db_files(&app);
    assert!(
        files.iter().any(|(p, _)| p.ends_with("-wal")),
        "WAL file expected"
    );
    for (path, bytes) in &files {
        for (what, value) in &secrets {
            assert!(
                !contains(bytes, value.as_bytes()),
                "{path} contains the {what}"
            );
        }
    }
}

#[tokio::test]
async fn rotation_and_clear_credentials_cover_provider_links() {
    use secrecy::ExposeSecret;
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = Browser::new(&app);
    run_all_flows(&app, &f, &mut b).await;
    // A pending Spotify round trip too, so the verifier column has a value.
    start_spotify(&mut b).await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM oauth_states WHERE verifier_enc IS NOT NULL"
        )
        .await,
        1
    );

    let old = spotter::config::EncryptionKey::from_bytes(hex_key(ENCRYPTION_KEY));
    let new = spotter::config::EncryptionKey::from_bytes([0x5a; 32]);
    let rotating = FieldCipher::new(&new, Some(&old));
    let new_only = FieldCipher::new(&new, None);
    let report =
        spotter::db::rotation::reencrypt_all(&app.state.core.db, &rotating, &new_only, false)
            .await
            .unwrap();
    // Navidrome password, verifier, 3 access tokens, 1 refresh token.
    assert_eq!(report.rewritten, 6, "{report:?}");
    let stored: String = sqlx::query_scalar(
        "SELECT refresh_token_enc FROM provider_links WHERE provider = 'spotify'",
    )
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    let opened = new_only
        .open(
            FieldRef {
                column: &PROVIDER_REFRESH_TOKEN,
                row_key: "1:spotify",
            },
            &stored,
        )
        .unwrap();
    assert!(opened.value.expose_secret().starts_with("sprefresh2-"));
    // Bound to its row: the Spotify token does not open as another provider's.
    let lb: String = sqlx::query_scalar(
        "SELECT access_token_enc FROM provider_links WHERE provider = 'listenbrainz'",
    )
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    assert!(
        new_only
            .open(
                FieldRef {
                    column: &PROVIDER_ACCESS_TOKEN,
                    row_key: "1:spotify"
                },
                &lb
            )
            .is_err()
    );
    assert!(
        new_only
            .open(
                FieldRef {
                    column: &PROVIDER_ACCESS_TOKEN,
                    row_key: "1:listenbrainz"
                },
                &lb
            )
            .is_ok()
    );

    let n = spotter::db::credentials::clear_all(&app.state.core.db)
        .await
        .unwrap();
    assert!(n >= 6, "{n}");
    for col in ENCRYPTED_COLUMNS {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {} IS NOT NULL",
            col.table, col.column
        );
        assert_eq!(count(&app, &sql).await, 0, "{}.{}", col.table, col.column);
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_links").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM link_health").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM oauth_states").await, 0);
    // The Navidrome password went too, so the user is signed out. The rows were deleted behind
    // the server's back (as `spotter clear-credentials` does from its own process): honoured
    // within 1 s (ADR 0011), so retry until then.
    let done = std::time::Instant::now();
    let mut status = 0;
    while done.elapsed() < std::time::Duration::from_secs(1) {
        status = b.get("/preferences/providers").await.status;
        if status == 303 {
            break;
        }
    }
    assert_eq!(status, 303);
}

fn hex_key(s: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    hex::decode_to_slice(s, &mut k).unwrap();
    k
}
