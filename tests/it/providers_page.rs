//! The Services page: real states, the redirect URI doctor, Navidrome's test, routing edges.

use spotter::crypto::FieldRef;
use spotter::crypto::registry::NAVIDROME_PASSWORD;

use crate::fakes::*;
use crate::harness::*;

async fn signed_in(app: &TestApp) -> Browser<'_> {
    let p = peer();
    let mut b = Browser::new(app);
    b.login_ok(&p.user, &p.password).await;
    b
}

fn card<'a>(body: &'a str, provider: &str) -> &'a str {
    let start = body
        .find(&format!(r#"id="service-{provider}""#))
        .unwrap_or_else(|| panic!("no card for {provider}"));
    let rest = &body[start..];
    &rest[..rest.find("</section>").unwrap()]
}

#[tokio::test]
async fn unconfigured_services_say_so_and_cannot_be_started() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    assert_eq!(
        Browser::new(&app)
            .get("/preferences/providers")
            .await
            .location(),
        Some("/auth/login?next=%2Fpreferences%2Fproviders")
    );
    let mut b = signed_in(&app).await;
    let page = b.get("/preferences/providers").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(r#"href="/preferences/providers" aria-current="page">Services</a>"#)
    );
    for provider in ["spotify", "lastfm"] {
        let c = card(&page.body, provider);
        // In the listener's words: what linking gives, and the exact README section for
        // whoever runs the server; no environment variable names.
        assert!(c.contains("Not set up on this server yet."), "{c}");
        assert!(c.contains("README.md#"), "{c}");
        assert!(!c.contains("SPOTTER_"), "{c}");
        assert!(!c.contains("/auth/"), "{c}");
    }
    let lb = card(&page.body, "listenbrainz");
    assert!(
        lb.contains("Not linked yet.") && lb.contains(r#"href="/auth/listenbrainz/connect""#),
        "{lb}"
    );
    let nd = card(&page.body, "navidrome");
    assert!(nd.contains(&format!("Linked as {}.", p.user)), "{nd}");
    assert!(
        !nd.contains("/disconnect"),
        "Navidrome is the sign-in account: no Disconnect"
    );
    // The redirect URIs come from the base URL; 127.0.0.1 over http is fine for Spotify.
    assert!(
        page.body
            .contains(&format!("{}/auth/spotify/callback", app.base))
    );
    assert!(
        page.body
            .contains(&format!("{}/auth/lastfm/callback", app.base))
    );
    assert!(!page.body.contains("redirect-warning"));
    assert!(page.body.contains("user-library-read"));

    assert_eq!(
        b.get("/auth/spotify/login").await.location(),
        Some("/preferences/providers?error=not_configured")
    );
    assert_eq!(
        b.get("/auth/lastfm/login").await.location(),
        Some("/preferences/providers?error=not_configured")
    );
    let csrf = b.csrf().await;
    let r = b
        .post("/preferences/spotify/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=not_configured")
    );
    assert_eq!(
        b.post(
            "/preferences/navidrome/disconnect",
            &[("csrf_token", &csrf)]
        )
        .await
        .status,
        404
    );
    assert_eq!(
        b.post("/preferences/bogus/test", &[("csrf_token", &csrf)])
            .await
            .status,
        404
    );
    let r = b
        .post("/preferences/listenbrainz/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?error=not_linked")
    );
    // Codes map to fixed texts; raw values are never echoed.
    let page = b
        .get("/preferences/providers?error=%3Cscript%3Ealert(1)%3C/script%3E&notice=%3Cb%3E")
        .await;
    assert!(!page.body.contains("<script>alert") && !page.body.contains("&#60;script"));
    assert!(page.body.contains("Start again from this page."));

    // The dashboard links to the page.
    assert!(
        b.get("/")
            .await
            .body
            .contains(r#"href="/preferences/providers""#)
    );
}

#[tokio::test]
async fn the_redirect_doctor_warns_about_uris_spotify_refuses() {
    let f = Fakes::start().await;
    let app = spawn_app(
        f.options()
            .set(
                "spotify.redirect_url",
                "http://localhost:8080/auth/spotify/callback",
            )
            .set(
                "lastfm.redirect_url",
                "http://nas.lan:8080/auth/lastfm/callback",
            ),
    )
    .await;
    let mut b = signed_in(&app).await;
    let page = b.get("/preferences/providers").await;
    assert!(
        page.body
            .contains("Spotify will reject this redirect URI: it refuses &#34;localhost&#34;"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("the one-time authorization token would cross the network unencrypted")
    );
    let authorize = start_spotify(&mut b).await;
    assert_eq!(
        query_param(&authorize, "redirect_uri").as_deref(),
        Some("http://localhost:8080/auth/spotify/callback")
    );

    let app = spawn_app(f.options().set(
        "spotify.redirect_url",
        "http://music.example.org/auth/spotify/callback",
    ))
    .await;
    let mut b = signed_in(&app).await;
    let page = b.get("/preferences/providers").await;
    assert!(
        page.body
            .contains("plain http is accepted only on 127.0.0.1"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn navidrome_test_records_health() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = signed_in(&app).await;
    let csrf = b.csrf().await;
    let r = b
        .post("/preferences/navidrome/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-ok&service=navidrome#service-navidrome")
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM link_health WHERE provider = 'navidrome' AND status = 'ok'"
        )
        .await,
        1
    );

    // A stored password Navidrome no longer accepts: broken, with the fix in words.
    let wrong = app
        .state
        .core
        .cipher
        .seal(
            FieldRef {
                column: &NAVIDROME_PASSWORD,
                row_key: "1",
            },
            "not-the-password",
        )
        .unwrap();
    sqlx::query("UPDATE navidrome_credentials SET password_enc = ?1")
        .bind(wrong)
        .execute(&app.state.core.db)
        .await
        .unwrap();
    let r = b
        .post("/preferences/navidrome/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=test-failed&service=navidrome#service-navidrome")
    );
    let page = b.get("/preferences/providers").await;
    let nd = card(&page.body, "navidrome");
    assert!(
        nd.contains("broken — re-link") && nd.contains("Navidrome refuses the stored password"),
        "{nd}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'service_broken'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn provider_text_is_escaped() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    mount_code_exchange(&f.spotify, "code-x", "access-x", "refresh-x", 3600).await;
    mount_me(&f.spotify, "access-x", "<script>alert('dj')</script>").await;
    let state = query_param(&start_spotify(&mut b).await, "state").unwrap();
    let r = b
        .get(&format!("/auth/spotify/callback?code=code-x&state={state}"))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-spotify")
    );
    let page = b.get("/preferences/providers").await;
    assert!(
        !page.body.contains("<script>alert"),
        "display name rendered raw"
    );
    assert!(page.body.contains("&#60;script&#62;alert"));
}
