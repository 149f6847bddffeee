//! Matching from outside: listens are linked with an explanation, a doubtful case waits in the
//! review queue, the user's decision applies at once and on later syncs, survives a restart,
//! and can be undone; a catalogue change re-matches old misses.

use spotter::app::Core;
use spotter::domain::jobs::{JobName, Trigger};
use spotter::jobs;

use crate::harness::*;

/// Catalogue rows of the test's own, stamped so no import pass ever removes them.
async fn add_track(app: &TestApp, id: &str, title: &str, artist: &str, album: &str) {
    let norm = spotter::domain::text::normalize;
    sqlx::query(
        "INSERT INTO tracks (id, title, title_norm, album, artist, artist_norm, duration_secs,
             seen_pass) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 300, 9223372036854775807)",
    )
    .bind(id)
    .bind(title)
    .bind(norm(title))
    .bind(album)
    .bind(artist)
    .bind(norm(artist))
    .execute(&app.state.core.db)
    .await
    .unwrap();
}

async fn add_listen(app: &TestApp, played_at: i64, title: &str, artist: &str) -> i64 {
    let norm = spotter::domain::text::normalize;
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO listens (user_id, played_at, title, artist, title_norm, artist_norm)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
    )
    .bind(user_id)
    .bind(played_at)
    .bind(title)
    .bind(artist)
    .bind(norm(title))
    .bind(norm(artist))
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO listen_sources (user_id, service, remote_key, listen_id)
         VALUES (?1, 'lastfm', ?2, ?3)",
    )
    .bind(user_id)
    .bind(format!("k{id}"))
    .bind(id)
    .execute(&app.state.core.db)
    .await
    .unwrap();
    id
}

/// Run matching to the end (after a run already going, if any).
async fn rematch(core: &Core) {
    jobs::trigger_after_current(core, JobName::Matching, Trigger::Manual)
        .await
        .unwrap();
    jobs::wait_idle(core, JobName::Matching).await;
}

/// (track_id, method, rule) of a listen.
async fn link_of(app: &TestApp, listen: i64) -> (Option<String>, Option<String>, Option<String>) {
    sqlx::query_as("SELECT track_id, match_method, match_rule FROM listens WHERE id = ?1")
        .bind(listen)
        .fetch_one(&app.state.core.db)
        .await
        .unwrap()
}

async fn review_id(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT id FROM match_reviews")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn listens_are_matched_doubts_reviewed_and_decisions_stick() {
    let peer = peer();
    let mut app = spawn_app(Options::with_peer()).await;
    let mut browser = Browser::new(&app);
    browser.login_ok(&peer.user, &peer.password).await;
    let core = app.state.core.clone();
    add_track(
        &app,
        "t-bo",
        "Bohemian Rhapsody",
        "Queen",
        "A Night at the Opera",
    )
    .await;
    add_track(
        &app,
        "t-wembley",
        "Radio Ga Ga (Live at Wembley Stadium, 1986)",
        "Queen",
        "Live at Wembley '86",
    )
    .await;
    add_track(
        &app,
        "t-aid",
        "Radio Ga Ga - Live at Live Aid 1985",
        "Queen",
        "Live Aid",
    )
    .await;

    let exact = add_listen(&app, 1_000, "BOHEMIAN RHAPSODY", "queen").await;
    let live = add_listen(&app, 2_000, "Bohemian Rhapsody (Live)", "Queen").await;
    let doubt = add_listen(&app, 3_000, "Radio Ga Ga (Live)", "Queen").await;
    let missing = add_listen(&app, 4_000, "A Song Nobody Has", "Nobody Known").await;
    rematch(&core).await;

    let (track, method, rule) = link_of(&app, exact).await;
    assert_eq!(track.as_deref(), Some("t-bo"));
    assert_eq!(method.as_deref(), Some("exact"), "{rule:?}");
    let (track, method, _) = link_of(&app, live).await;
    assert_eq!(track, None, "a live play is not the studio recording");
    assert_ne!(method.as_deref(), Some("exact"));
    let (track, method, _) = link_of(&app, missing).await;
    assert_eq!((track, method.as_deref()), (None, Some("none")));
    let (track, method, _) = link_of(&app, doubt).await;
    assert_eq!((track, method.as_deref()), (None, Some("review")));

    // The queue shows the case, why it waits, and both concerts.
    let page = browser.get("/review").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Radio Ga Ga (Live)"), "{}", page.body);
    assert!(page.body.contains("Live at Wembley Stadium"));
    assert!(page.body.contains("Live at Live Aid"));
    let case = review_id(&app).await;
    let home = browser.get("/").await;
    assert!(
        home.body
            .contains(r#"<dt>Waiting for your review</dt><dd><a href="/review">1 song</a>"#),
        "{}",
        home.body
    );

    // Without the CSRF token nothing is decided.
    let refused = browser
        .post(&format!("/review/{case}/map"), &[("track_id", "t-wembley")])
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(link_of(&app, doubt).await.1.as_deref(), Some("review"));

    let csrf = page.csrf();
    let done = browser
        .post(
            &format!("/review/{case}/map"),
            &[("track_id", "t-wembley"), ("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(done.status, 303);
    assert_eq!(done.location(), Some("/review?notice=mapped"));
    let (track, method, rule) = link_of(&app, doubt).await;
    assert_eq!(track.as_deref(), Some("t-wembley"));
    assert_eq!(method.as_deref(), Some("manual"));
    assert_eq!(rule.as_deref(), Some("user_mapped"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM match_reviews").await, 0);
    let home = browser.get("/").await;
    assert!(
        home.body
            .contains("<dt>Waiting for your review</dt><dd>none</dd>"),
        "the count is not the one from before the decision: {}",
        home.body
    );

    // A later sync brings the same song again: the decision applies to it.
    let again = add_listen(&app, 5_000, "Radio Ga Ga (LIVE)", "Queen").await;
    rematch(&core).await;
    assert_eq!(link_of(&app, again).await.0.as_deref(), Some("t-wembley"));

    // And after a restart.
    app.stop_within(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let restarted = spawn_app(Options {
        db_path: Some(app.db_path.clone()),
        ..Options::with_peer()
    })
    .await;
    let later = add_listen(&restarted, 6_000, "Radio Ga Ga (Live)", "Queen").await;
    rematch(&restarted.state.core).await;
    assert_eq!(
        link_of(&restarted, later).await.0.as_deref(),
        Some("t-wembley")
    );

    // Undo: the song waits for review again.
    let mut browser = Browser::new(&restarted);
    browser.login_ok(&peer.user, &peer.password).await;
    let page = browser.get("/review").await;
    assert!(page.body.contains("Your recent decisions"), "{}", page.body);
    let decision: i64 = sqlx::query_scalar("SELECT id FROM match_decisions")
        .fetch_one(&restarted.state.core.db)
        .await
        .unwrap();
    let undone = browser
        .post(
            &format!("/review/decisions/{decision}/undo"),
            &[("csrf_token", &page.csrf())],
        )
        .await;
    assert_eq!(undone.location(), Some("/review?notice=undone"));
    jobs::wait_idle(&restarted.state.core, JobName::Matching).await;
    for listen in [doubt, again, later] {
        assert_eq!(
            link_of(&restarted, listen).await.1.as_deref(),
            Some("review")
        );
    }

    // "Not in my library" sticks as well.
    let case = review_id(&restarted).await;
    let page = browser.get("/review").await;
    let done = browser
        .post(
            &format!("/review/{case}/not-in-library"),
            &[("csrf_token", &page.csrf())],
        )
        .await;
    assert_eq!(done.location(), Some("/review?notice=not-in-library"));
    let (track, method, rule) = link_of(&restarted, doubt).await;
    assert_eq!(
        (track, method.as_deref(), rule.as_deref()),
        (None, Some("none"), Some("user_not_in_library"))
    );
}

#[tokio::test]
async fn a_catalogue_change_rematches_old_misses() {
    let peer = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut browser = Browser::new(&app);
    browser.login_ok(&peer.user, &peer.password).await;
    let core = app.state.core.clone();
    let listen = add_listen(&app, 1_000, "Brand New Song", "Newcomer Band").await;
    rematch(&core).await;
    assert_eq!(link_of(&app, listen).await.1.as_deref(), Some("none"));

    add_track(&app, "t-new", "Brand New Song", "Newcomer Band", "Debut").await;
    spotter::services::matching::catalogue_changed(&core)
        .await
        .unwrap();
    rematch(&core).await;
    let (track, method, _) = link_of(&app, listen).await;
    assert_eq!(track.as_deref(), Some("t-new"));
    assert_eq!(method.as_deref(), Some("exact"));

    // The song leaves the library: the listen stays, unlinked, and is looked at again.
    sqlx::query("DELETE FROM tracks WHERE id = 't-new'")
        .execute(&core.db)
        .await
        .unwrap();
    spotter::services::matching::catalogue_changed(&core)
        .await
        .unwrap();
    rematch(&core).await;
    let (track, method, _) = link_of(&app, listen).await;
    assert_eq!((track, method.as_deref()), (None, Some("none")));
}
