//! Playlist import: Spotify (2026 shapes, paging, Liked Songs, capability loss), ListenBrainz
//! (own and created-for, JSPF), Navidrome (the real Subsonic peer), exact linking to the
//! catalogue, and the Playlists pages.

use serde_json::{Value, json};
use spotter::domain::jobs::{JobName, Trigger};
use spotter::jobs::TriggerError;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::fakes::*;
use crate::harness::*;

const ISRC: &str = "USRC11234567";
const MBID: &str = "8f3471b5-7e6a-48da-86a9-c1c07a0f47ae";

/// Wait until the start-up runs of the three playlist jobs have finished, so they cannot
/// interleave with what a test sets up.
async fn settle(app: &TestApp) {
    let want = [
        "spotify_playlists",
        "listenbrainz_playlists",
        "navidrome_playlists",
    ];
    let (missed, mut rx) = app.state.core.events.subscribe_from(Some(0));
    let mut seen = std::collections::HashSet::new();
    let note = |e: &spotter::events::LiveEvent, seen: &mut std::collections::HashSet<String>| {
        if e.kind == "job"
            && let Ok(v) = serde_json::from_str::<Value>(&e.data)
            && v["state"] == "finished"
            && let Some(job) = v["job"].as_str()
            && want.contains(&job)
        {
            seen.insert(job.to_owned());
        }
    };
    for e in &missed {
        note(e, &mut seen);
    }
    tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while seen.len() < want.len() {
            match rx.recv().await {
                Ok(e) => note(&e, &mut seen),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event bus: {e}"),
            }
        }
    })
    .await
    .expect("the start-up runs finish");
}

/// Run `job` now (after any run in progress) and return its counts.
async fn run(app: &TestApp, job: JobName) -> Value {
    let core = &app.state.core;
    let id = loop {
        spotter::jobs::wait_idle(core, job).await;
        match spotter::jobs::trigger(core, job, Trigger::Manual).await {
            Ok(id) => break id,
            Err(TriggerError::AlreadyRunning { .. }) => continue,
            Err(e) => panic!("trigger: {e}"),
        }
    };
    spotter::jobs::wait_idle(core, job).await;
    // A run that stored something new hands over to matching; let that finish too.
    spotter::jobs::wait_idle(core, JobName::Matching).await;
    let (outcome, counts): (String, String) =
        sqlx::query_as("SELECT outcome, counts FROM job_runs WHERE id = ?1")
            .bind(id)
            .fetch_one(&core.db)
            .await
            .unwrap();
    assert_eq!(outcome, "ok", "{counts}");
    serde_json::from_str(&counts).unwrap()
}

async fn add_track(
    app: &TestApp,
    id: &str,
    title: &str,
    artist: &str,
    isrc: Option<&str>,
    mbid: Option<&str>,
) {
    sqlx::query(
        "INSERT INTO tracks (id, title, title_norm, artist, artist_norm, isrc, mbid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(id)
    .bind(title)
    .bind(spotter::domain::text::normalize(title))
    .bind(artist)
    .bind(spotter::domain::text::normalize(artist))
    .bind(isrc)
    .bind(mbid)
    .execute(&app.state.core.db)
    .await
    .unwrap();
}

/// Every stored playlist and playlist track, for "nothing changed" comparisons.
async fn dump(app: &TestApp) -> Vec<String> {
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT json_array(id, service, remote_id, name, kind, track_count, snapshot, active, imported_at)
         FROM playlists ORDER BY id",
    )
    .fetch_all(&app.state.core.db)
    .await
    .unwrap();
    let tracks: Vec<String> = sqlx::query_scalar(
        "SELECT json_array(playlist_id, position, title, artist, isrc, track_id)
         FROM playlist_tracks ORDER BY playlist_id, position",
    )
    .fetch_all(&app.state.core.db)
    .await
    .unwrap();
    rows.extend(tracks);
    rows
}

async fn playlist_id(app: &TestApp, remote_id: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM playlists WHERE remote_id = ?1")
        .bind(remote_id)
        .fetch_one(&app.state.core.db)
        .await
        .unwrap()
}

fn track(id: &str, name: &str, artist: &str, isrc: Option<&str>) -> Value {
    json!({
        "id": id, "name": name, "duration_ms": 201_000,
        "artists": [{"name": artist}], "album": {"name": "Album"},
        "external_ids": isrc.map_or(json!({}), |i| json!({"isrc": i}))
    })
}

async fn mount_page(mock: &MockServer, p: &str, offset: &str, body: Value, times: Option<u64>) {
    let m = Mock::given(method("GET"))
        .and(path(p))
        .and(query_param("offset", offset))
        .and(header("authorization", "Bearer sp-access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body));
    match times {
        Some(n) => m.up_to_n_times(n).mount(mock).await,
        None => m.mount(mock).await,
    }
}

fn playlist(id: &str, name: &str, snapshot: &str, total: u64) -> Value {
    json!({"id": id, "name": name, "owner": {"id": "ann", "display_name": "Ann"},
           "snapshot_id": snapshot, "items": {"total": total}})
}

async fn spotify_app(f: &Fakes) -> TestApp {
    let app = spawn_app(f.options()).await;
    settle(&app).await;
    app
}

async fn sign_in_and_link<'a>(app: &'a TestApp, f: &Fakes) -> Browser<'a> {
    let p = peer();
    let mut b = Browser::new(app);
    b.login_ok(&p.user, &p.password).await;
    link_spotify(&mut b, f, "code-1", "sp-access", "sp-refresh", 3600).await;
    b
}

#[tokio::test]
async fn spotify_playlists_and_liked_songs_are_imported_whole_in_order_and_linked() {
    let f = Fakes::start().await;
    let sp = &f.spotify;
    let evil = "<script>alert(1)</script> Mix";
    // Two pages of playlists; the second later loses pC.
    mount_page(
        sp,
        "/v1/me/playlists",
        "0",
        json!({
            "items": [playlist("pA", evil, "a1", 3), playlist("pB", "Bee", "b1", 1)],
            "total": 3, "next": "https://api.spotify.com/v1/me/playlists?offset=2&limit=50"
        }),
        None,
    )
    .await;
    mount_page(
        sp,
        "/v1/me/playlists",
        "2",
        json!({
            "items": [playlist("pC", "Sea", "c1", 0)], "total": 3, "next": null
        }),
        Some(3),
    )
    .await;
    mount_page(
        sp,
        "/v1/me/playlists",
        "2",
        json!({"items": [], "total": 2, "next": null}),
        None,
    )
    .await;
    // pA's entries over two pages, under `item` (2026) and `track` (older).
    mount_page(sp, "/v1/playlists/pA/items", "0", json!({
        "items": [
            {"added_at": "2026-01-01T00:00:00Z", "item": track("t1", "First", "Nobody Known", None)},
            {"added_at": "2026-01-01T00:00:00Z", "item": track("t2", "Second", "Someone", Some(ISRC))}
        ],
        "total": 3, "next": "https://api.spotify.com/v1/playlists/pA/items?offset=2"
    }), None).await;
    mount_page(
        sp,
        "/v1/playlists/pA/items",
        "2",
        json!({
            "items": [{"added_at": "x", "track": track("t3", "Song Y", "Artist X", None)}],
            "total": 3, "next": null
        }),
        None,
    )
    .await;
    mount_page(
        sp,
        "/v1/playlists/pB/items",
        "0",
        json!({
            "items": [{"item": track("t4", "Bee Song", "Bee", None)}], "total": 1, "next": null
        }),
        None,
    )
    .await;
    mount_page(
        sp,
        "/v1/playlists/pC/items",
        "0",
        json!({"items": [], "total": 0, "next": null}),
        None,
    )
    .await;
    mount_page(sp, "/v1/me/tracks", "0", json!({
        "items": [{"added_at": "2026-02-01T00:00:00Z", "track": track("t9", "Loved", "Lover", Some(ISRC))}],
        "total": 1, "next": null
    }), None).await;

    let app = spotify_app(&f).await;
    // Signed in first: the first sign-in's library import replaces the catalogue.
    let mut b = sign_in_and_link(&app, &f).await;
    add_track(
        &app,
        "nd-isrc",
        "Second (Remastered)",
        "Someone",
        Some(ISRC),
        None,
    )
    .await;
    add_track(&app, "nd-names", "Song Y", "Artist X", None, None).await;
    // Two library tracks share these names: not exact, so not linked.
    add_track(&app, "nd-dup1", "Bee Song", "Bee", None, None).await;
    add_track(&app, "nd-dup2", "Bee Song", "Bee", None, None).await;

    let c = run(&app, JobName::SpotifyPlaylists).await;
    assert_eq!(c["users"], 1, "{c}");
    assert_eq!(c["playlists"], 4, "{c}");
    assert_eq!(c["updated"], 4, "{c}");
    assert_eq!(c["tracks"], 5, "{c}");
    assert_eq!(c["linked"], 3, "{c}");

    let a = playlist_id(&app, "pA").await;
    let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
        "SELECT position, title, track_id FROM playlist_tracks WHERE playlist_id = ?1 ORDER BY position",
    )
    .bind(a)
    .fetch_all(&app.state.core.db)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (0, "First".to_owned(), None),
            (1, "Second".to_owned(), Some("nd-isrc".to_owned())),
            (2, "Song Y".to_owned(), Some("nd-names".to_owned())),
        ]
    );
    // Import links only unique exact names; the matcher then sees two identical copies of one
    // recording and links one of them.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM playlist_tracks WHERE track_id LIKE 'nd-dup%' AND match_method = 'exact'"
        )
        .await,
        1
    );
    // The liked song carries the ISRC of another song: evidence, not proof. It waits for review.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM playlist_tracks WHERE title = 'Loved' AND track_id IS NULL AND match_method = 'review'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM playlists WHERE kind = 'liked' AND remote_id = 'liked' AND track_count = 1").await,
        1
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM playlists WHERE active = 1").await,
        4
    );

    // A second import with nothing changed on Spotify changes nothing here.
    let before = dump(&app).await;
    let c = run(&app, JobName::SpotifyPlaylists).await;
    assert_eq!(c["updated"], 0, "{c}");
    assert_eq!(c["unchanged"], 4, "{c}");
    assert_eq!(dump(&app).await, before);

    // A track the catalogue gains later is linked without refetching its playlist.
    add_track(&app, "nd-late", "First", "Nobody Known", None, None).await;
    // What the library import does when the catalogue changed.
    spotter::services::matching::catalogue_changed(&app.state.core)
        .await
        .unwrap();
    let c = run(&app, JobName::SpotifyPlaylists).await;
    assert_eq!(c["updated"], 0, "{c}");
    // "First" by its names, and the liked song by its ISRC (an exact link the matcher, which
    // runs next, takes back: the names disagree).
    assert_eq!(c["relinked"], 2, "{c}");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM playlist_tracks WHERE title = 'Loved' AND track_id IS NULL AND match_method = 'review'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM playlist_tracks WHERE title = 'First' AND track_id = 'nd-late'"
        )
        .await,
        1
    );

    // pC vanished from Spotify: kept, marked inactive.
    let c = run(&app, JobName::SpotifyPlaylists).await;
    assert_eq!(c["inactive"], 1, "{c}");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM playlists WHERE remote_id = 'pC' AND active = 0"
        )
        .await,
        1
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM playlists").await, 4);

    // The pages: escaped names, grouped per service, tracks in and not in the library.
    let list = b.get("/playlists").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62; Mix"),
        "{}",
        list.body
    );
    assert!(!list.body.contains("<script>alert(1)"));
    assert!(list.body.contains("Liked Songs"));
    assert!(list.body.contains("inactive"));
    assert!(list.body.contains(r#"href="/playlists""#), "nav entry");
    assert!(list.body.contains("Link ListenBrainz on the Services page"));
    let detail = b.get(&format!("/playlists/{a}")).await;
    assert_eq!(detail.status, 200);
    let liked = playlist_id(&app, "liked").await;
    let liked_page = b.get(&format!("/playlists/{liked}")).await.body;
    assert!(
        liked_page.contains("waiting for your review"),
        "{liked_page}"
    );
    assert!(
        liked_page.contains("points at a track whose names disagree"),
        "the explanation is shown: {liked_page}"
    );
    assert!(detail.body.contains("in library</span>"));
    assert!(
        detail.body.contains("Second (Remastered)"),
        "library title shown"
    );
    let first = detail.body.find("First").unwrap();
    let third = detail.body.find("Song Y").unwrap();
    assert!(first < third, "tracks in order");
    for missing in ["/playlists/999999", "/playlists/abc", "/playlists/-1"] {
        let r = b.get(missing).await;
        assert_eq!(r.status, 404, "{missing}");
        assert!(r.body.contains("There is nothing at this address."));
    }

    // Another user's playlist is a 404 like an unknown id.
    let db = &app.state.core.db;
    sqlx::query("INSERT INTO users (id, username, created_at) VALUES (99, 'someone-else', 0)")
        .execute(db)
        .await
        .unwrap();
    let theirs: i64 = sqlx::query_scalar(
        "INSERT INTO playlists (user_id, service, remote_id, name, imported_at)
         VALUES (99, 'spotify', 'theirs', 'Their secret mix', 0) RETURNING id",
    )
    .fetch_one(db)
    .await
    .unwrap();
    let r = b.get(&format!("/playlists/{theirs}")).await;
    assert_eq!(r.status, 404);
    assert!(!b.get("/playlists").await.body.contains("Their secret mix"));
}

#[tokio::test]
async fn premium_required_is_a_lost_capability_not_a_broken_link() {
    let f = Fakes::start().await;
    let premium = ResponseTemplate::new(403).set_body_json(json!({
        "error": {"status": 403, "message": "Active premium subscription required for the owner of the app"}
    }));
    for p in ["/v1/me/playlists", "/v1/me/tracks"] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(premium.clone())
            .mount(&f.spotify)
            .await;
    }
    let app = spotify_app(&f).await;
    let mut b = sign_in_and_link(&app, &f).await;
    let c = run(&app, JobName::SpotifyPlaylists).await;
    assert_eq!(c["capability_lost"], 1, "{c}");
    assert_eq!(c["failed"], 0, "{c}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM link_health WHERE provider = 'spotify' AND status = 'ok' AND last_error = 'capability_lost'").await,
        1
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM playlists").await, 0);
    // The next run tries again (the link is not waiting), and still does not crash.
    let c = run(&app, JobName::SpotifyPlaylists).await;
    assert_eq!(c["capability_lost"], 1, "{c}");

    let page = b.get("/playlists").await;
    assert!(page.body.contains("capability-lost"), "{}", page.body);
    assert!(page.body.contains("Listening history is not affected"));
    let services = b.get("/preferences/providers").await;
    assert!(services.body.contains("capability-lost"));
    assert!(
        services.body.contains("Linked as"),
        "the link itself is not broken"
    );
}

#[tokio::test]
async fn nobody_linked_ends_ok_with_skipped() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    settle(&app).await;
    for job in [
        JobName::SpotifyPlaylists,
        JobName::ListenbrainzPlaylists,
        JobName::NavidromePlaylists,
    ] {
        let c = run(&app, job).await;
        assert_eq!(c["skipped"], 1, "{job:?} {c}");
    }
}

const LB_TOKEN: &str = "lb-token-0000-1111";

fn jspf_summary(mbid: &str, title: &str, creator: &str, modified: &str) -> Value {
    json!({"playlist": {
        "identifier": format!("https://listenbrainz.org/playlist/{mbid}"),
        "title": title, "creator": creator, "date": "2026-11-30T00:00:00+00:00",
        "extension": {"https://musicbrainz.org/doc/jspf#playlist": {"last_modified_at": modified}},
        "track": []
    }})
}

#[tokio::test]
async fn listenbrainz_own_and_created_for_playlists_are_imported_from_jspf() {
    let f = Fakes::start().await;
    let lb = &f.listenbrainz;
    mount_lb_validate(lb, LB_TOKEN, "lb-listener").await;
    let own = "11111111-2222-4333-8444-555555555555";
    let jams = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    let explore = "aaaaaaaa-bbbb-4ccc-8ddd-ffffffffffff";
    let auth_value = format!("Token {LB_TOKEN}");
    let auth = || header("authorization", auth_value.as_str());
    Mock::given(method("GET"))
        .and(path("/1/user/lb-listener/playlists"))
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 1, "offset": 0, "playlist_count": 1,
            "playlists": [jspf_summary(own, "Road trip", "lb-listener", "2026-11-01T00:00:00+00:00")]
        })))
        .mount(lb)
        .await;
    Mock::given(method("GET"))
        .and(path("/1/user/lb-listener/playlists/createdfor"))
        .and(auth())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 2, "offset": 0, "playlist_count": 2,
            "playlists": [
                jspf_summary(jams, "Weekly Jams for lb-listener, week of 2026-11-30 Mon", "listenbrainz", "2026-11-30T00:00:00+00:00"),
                jspf_summary(explore, "Weekly Exploration for lb-listener", "listenbrainz", "2026-11-30T00:00:00+00:00")
            ]
        })))
        .mount(lb)
        .await;
    for (mbid, title) in [(own, "Road"), (jams, "Jam"), (explore, "Explore")] {
        Mock::given(method("GET"))
            .and(path(format!("/1/playlist/{mbid}")))
            .and(auth())
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"playlist": {
                "identifier": format!("https://listenbrainz.org/playlist/{mbid}"),
                "title": title, "creator": "listenbrainz",
                "track": [
                    {"title": "Anything (2011 Remaster)", "creator": "Band", "album": "LP", "duration": 180_000,
                     "identifier": [format!("https://musicbrainz.org/recording/{MBID}")]},
                    {"title": format!("{title} two"), "creator": "Band",
                     "identifier": "https://musicbrainz.org/recording/00000000-0000-4000-8000-000000000000"}
                ]
            }})))
            .mount(lb)
            .await;
    }
    let app = spawn_app(f.options()).await;
    settle(&app).await;
    let p = peer();
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    let form = b.get("/auth/listenbrainz/connect").await;
    let csrf = form.csrf();
    let r = b
        .post(
            "/auth/listenbrainz/connect",
            &[("csrf_token", &csrf), ("token", LB_TOKEN)],
        )
        .await;
    assert_eq!(r.status, 303);
    add_track(&app, "nd-mbid", "Anything", "Band", None, Some(MBID)).await;

    let c = run(&app, JobName::ListenbrainzPlaylists).await;
    assert_eq!(c["playlists"], 3, "{c}");
    assert_eq!(c["updated"], 3, "{c}");
    assert_eq!(c["linked"], 3, "{c}");
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM playlists WHERE service = 'listenbrainz' AND kind = 'created_for'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM playlists WHERE service = 'listenbrainz' AND kind = 'user'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) FROM playlist_tracks WHERE recording_mbid = '{MBID}' AND duration_secs = 180 AND position = 0 AND track_id = 'nd-mbid'")).await,
        3
    );
    let before = dump(&app).await;
    let c = run(&app, JobName::ListenbrainzPlaylists).await;
    assert_eq!(c["unchanged"], 3, "{c}");
    assert_eq!(dump(&app).await, before);
    let page = b.get("/playlists").await;
    assert!(page.body.contains("Weekly Exploration for lb-listener"));
    assert!(page.body.contains("made for you"));
}

#[tokio::test]
async fn a_listenbrainz_rate_limit_backs_off_without_waiting() {
    let f = Fakes::start().await;
    let lb = &f.listenbrainz;
    mount_lb_validate(lb, LB_TOKEN, "lb-listener").await;
    Mock::given(method("GET"))
        .and(path("/1/user/lb-listener/playlists"))
        .respond_with(ResponseTemplate::new(429).insert_header("X-RateLimit-Reset-In", "99999999"))
        .mount(lb)
        .await;
    let app = spawn_app(f.options()).await;
    settle(&app).await;
    let p = peer();
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    let csrf = b.get("/auth/listenbrainz/connect").await.csrf();
    b.post(
        "/auth/listenbrainz/connect",
        &[("csrf_token", &csrf), ("token", LB_TOKEN)],
    )
    .await;
    let c = run(&app, JobName::ListenbrainzPlaylists).await;
    assert_eq!(c["failed"], 1, "{c}");
    // Capped at MAX_RETRY_AFTER (1 h) from now.
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM link_health WHERE provider = 'listenbrainz' AND status = 'backoff' AND last_error = 'rate_limited' AND backoff_until <= last_checked_at + 3600").await,
        1
    );
    // While backing off the job skips the user.
    let c = run(&app, JobName::ListenbrainzPlaylists).await;
    assert_eq!(c["skipped"], 1, "{c}");
    assert_eq!(c["users"], 0, "{c}");
}

/// A Subsonic call on the peer as `user` (test setup only).
async fn subsonic(user: &str, password: &str, method: &str, params: &[(&str, &str)]) -> Value {
    let v = peer_subsonic(user, password, method, params).await;
    assert_eq!(v["status"], "ok", "{method}: {v}");
    v
}

#[tokio::test]
async fn navidrome_playlists_from_the_peer_link_by_song_id() {
    let p = peer();
    let (user, password) = (p.guest_user.clone(), p.guest_password.clone());
    let songs = subsonic(&user, &password, "getRandomSongs", &[("size", "2")]).await;
    let songs = songs["randomSongs"]["song"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(songs.len() >= 2, "the peer library has songs");
    let (s1, s2) = (
        songs[0]["id"].as_str().unwrap().to_owned(),
        songs[1]["id"].as_str().unwrap().to_owned(),
    );
    let name = format!(
        "spotter-playlists-test-{}",
        spotter::crypto::random_token(8)
    );
    let created = subsonic(
        &user,
        &password,
        "createPlaylist",
        &[("name", &name), ("songId", &s1), ("songId", &s2)],
    )
    .await;
    let remote_id = created["playlist"]["id"].as_str().unwrap().to_owned();

    let app = spawn_app(Options::with_peer()).await;
    settle(&app).await;
    let mut b = Browser::new(&app);
    b.login_ok(&user, &password).await;
    // The sign-in imported the peer's catalogue. Keep only the first song in it, under a
    // different title: the id decides.
    sqlx::query("DELETE FROM tracks WHERE id <> ?1")
        .bind(&s1)
        .execute(&app.state.core.db)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE tracks SET title = 'Catalogue title', artist = 'Catalogue artist' WHERE id = ?1",
    )
    .bind(&s1)
    .execute(&app.state.core.db)
    .await
    .unwrap();
    if count(&app, "SELECT COUNT(*) FROM tracks").await == 0 {
        add_track(&app, &s1, "Catalogue title", "Catalogue artist", None, None).await;
    }

    let c = run(&app, JobName::NavidromePlaylists).await;
    let rows: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT t.position, t.remote_track_id, t.track_id FROM playlist_tracks t
         JOIN playlists p ON p.id = t.playlist_id
         WHERE p.remote_id = ?1 AND p.kind = 'navidrome' ORDER BY t.position",
    )
    .bind(&remote_id)
    .fetch_all(&app.state.core.db)
    .await
    .unwrap();
    let id = playlist_id(&app, &remote_id).await;
    let page = b.get(&format!("/playlists/{id}")).await;
    // The throwaway playlist goes before any assertion can fail.
    subsonic(&user, &password, "deletePlaylist", &[("id", &remote_id)]).await;

    assert!(c["updated"].as_u64().unwrap() >= 1, "{c}");
    assert_eq!(
        rows,
        vec![
            (0, Some(s1.clone()), Some(s1.clone())),
            (1, Some(s2.clone()), None)
        ]
    );
    assert!(page.body.contains(&name));
    assert!(page.body.contains("Catalogue title"));
    assert!(page.body.contains("not in library"));

    let c = run(&app, JobName::NavidromePlaylists).await;
    assert!(c["inactive"].as_u64().unwrap() >= 1, "{c}");
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM playlists WHERE remote_id = '{remote_id}' AND active = 0"
            )
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_and_a_garbled_answer_backs_off() {
    let f = Fakes::start().await;
    let sp = &f.spotify;
    Mock::given(method("GET"))
        .and(path("/v1/me/playlists"))
        .and(header("authorization", "Bearer sp-access"))
        .respond_with(ResponseTemplate::new(401))
        .mount(sp)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(wiremock::matchers::body_string_contains(
            "grant_type=refresh_token",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "sp-access-2", "token_type": "Bearer", "expires_in": 3600
        })))
        .expect(1)
        .mount(sp)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/me/playlists"))
        .and(header("authorization", "Bearer sp-access-2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": [], "total": 0, "next": null})),
        )
        .mount(sp)
        .await;
    // A body cut short is malformed: retriable, with the fixed "unexpected answer" code.
    Mock::given(method("GET"))
        .and(path("/v1/me/tracks"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"items": [{"track": "#))
        .mount(sp)
        .await;
    let app = spotify_app(&f).await;
    let _b = sign_in_and_link(&app, &f).await;
    let c = run(&app, JobName::SpotifyPlaylists).await;
    assert_eq!(c["failed"], 1, "{c}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM link_health WHERE provider = 'spotify' AND status = 'backoff' AND last_error = 'bad_response'").await,
        1
    );
    assert_eq!(
        stored_link_secret(
            &app,
            &spotter::crypto::registry::PROVIDER_ACCESS_TOKEN,
            "spotify"
        )
        .await
        .as_deref(),
        Some("sp-access-2")
    );
}
