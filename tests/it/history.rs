//! F2–F4: listening history from Spotify, Last.fm and ListenBrainz, merged; faults; the Listens
//! page and the JSON API.

use serde_json::json;
use spotter::domain::jobs::{JobName, Outcome, Trigger};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::fakes::*;
use crate::harness::*;

const LB_TOKEN: &str = "8c3d7e2a-1b4f-4c6d-9e8f-0a1b2c3d4e5f";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn signed_in(app: &TestApp) -> Browser<'_> {
    let p = peer();
    let mut b = Browser::new(app);
    b.login_ok(&p.user, &p.password).await;
    b
}

async fn link_lb(b: &mut Browser<'_>, f: &Fakes) {
    mount_lb_validate(&f.listenbrainz, LB_TOKEN, "lb-listener").await;
    let form = b.get("/auth/listenbrainz/connect").await;
    let csrf = form.csrf();
    let r = b
        .post(
            "/auth/listenbrainz/connect",
            &[("csrf_token", &csrf), ("token", LB_TOKEN)],
        )
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-listenbrainz")
    );
}

async fn link_lastfm(b: &mut Browser<'_>, f: &Fakes) {
    mount_lastfm_session(&f.lastfm, "lfm-token-1", "lfm-listener", "lfm-sk-1").await;
    let nonce = start_lastfm(b).await;
    let r = b
        .get(&format!(
            "/auth/lastfm/callback?state={nonce}&token=lfm-token-1"
        ))
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/providers?notice=linked-lastfm"),
        "{}",
        r.body
    );
}

/// Run a job now (after any startup run) and wait for it; its own run row.
async fn run(app: &TestApp, job: JobName) -> spotter::db::job_runs::JobRun {
    // The server answers only once interrupted runs are recovered (which would mark a run
    // started before that as interrupted).
    let ready = app
        .http
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .unwrap();
    assert!(ready.status().is_success());
    let core = &app.state.core;
    let id = loop {
        spotter::jobs::wait_idle(core, job).await;
        match spotter::jobs::trigger(core, job, Trigger::Manual).await {
            Ok(id) => break id,
            Err(spotter::jobs::TriggerError::AlreadyRunning { .. }) => continue,
            Err(e) => panic!("{e}"),
        }
    };
    spotter::jobs::wait_idle(core, job).await;
    let run = spotter::db::job_runs::find(&core.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(run.outcome, Outcome::Running);
    run
}

fn spotify_item(id: &str, at: i64, title: &str, artist: &str) -> serde_json::Value {
    json!({
        "played_at": rfc3339(at),
        "track": {
            "id": id, "name": title, "duration_ms": 200_000,
            "artists": [{"name": artist}], "album": {"name": "Album"},
            "external_ids": {"isrc": "USAAA0000001"}
        }
    })
}

async fn mount_spotify_recent(f: &Fakes, access: &str, items: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/v1/me/player/recently-played"))
        .and(header("authorization", format!("Bearer {access}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "items": items, "cursors": null
        })))
        .mount(&f.spotify)
        .await;
}

fn lastfm_track(at: i64, title: &str, artist: &str) -> serde_json::Value {
    json!({
        "name": title, "mbid": "",
        "artist": {"#text": artist, "mbid": ""},
        "album": {"#text": "Album"},
        "date": {"uts": at.to_string(), "#text": "x"}
    })
}

async fn mount_lastfm_recent(f: &Fakes, page: u32, total: u32, tracks: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path("/2.0/"))
        .and(body_string_contains("method=user.getRecentTracks"))
        .and(body_string_contains(format!("page={page}&").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "recenttracks": {
                "track": tracks,
                "@attr": {"page": page.to_string(), "totalPages": total.to_string(), "user": "lfm-listener"}
            }
        })))
        .mount(&f.lastfm)
        .await;
}

fn lb_listen(at: i64, msid: &str, title: &str, artist: &str) -> serde_json::Value {
    json!({
        "listened_at": at,
        "recording_msid": msid,
        "track_metadata": {
            "track_name": title, "artist_name": artist, "release_name": "Album",
            "additional_info": {"duration_ms": 200000}
        }
    })
}

async fn mount_lb_listens(f: &Fakes, answer: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/1/user/lb-listener/listens"))
        .and(header(
            "authorization",
            format!("Token {LB_TOKEN}").as_str(),
        ))
        .respond_with(answer)
        .mount(&f.listenbrainz)
        .await;
}

fn counts(run: &spotter::db::job_runs::JobRun) -> serde_json::Value {
    serde_json::from_str(&run.counts).unwrap()
}

#[tokio::test]
async fn overlapping_plays_from_three_services_merge_and_a_second_sync_adds_nothing() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    let t = now() - 3600;

    link_spotify(&mut b, &f, "code-1", "sp-access", "sp-refresh", 3600).await;
    link_lastfm(&mut b, &f).await;
    link_lb(&mut b, &f).await;

    // One play of "Halo" seen by all three (Last.fm stamps it 30 s later, ListenBrainz at the
    // end), a Spotify-only play, and a title that must stay text.
    mount_spotify_recent(
        &f,
        "sp-access",
        json!([
            spotify_item("trk1", t, "Halo", "Beyoncé"),
            spotify_item("trk2", t - 600, "<script>alert(1)</script>", "Evil & Co"),
        ]),
    )
    .await;
    mount_lastfm_recent(
        &f,
        1,
        1,
        json!([
            {
                "name": "Now Playing Song", "artist": {"#text": "Someone"},
                "album": {"#text": ""}, "@attr": {"nowplaying": "true"}
            },
            lastfm_track(t + 30, "Halo", "BEYONCE"),
        ]),
    )
    .await;
    mount_lb_listens(
        &f,
        ResponseTemplate::new(200).set_body_json(json!({
            "payload": {"count": 1, "user_id": "lb-listener",
                         "listens": [lb_listen(t + 200, "msid-1", "halo", "Beyonce")]}
        })),
    )
    .await;

    for job in [
        JobName::SpotifyHistory,
        JobName::LastfmHistory,
        JobName::ListenbrainzHistory,
    ] {
        let r = run(&app, job).await;
        assert_eq!(r.outcome, Outcome::Ok, "{job:?}: {}", r.error);
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM listens").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM listen_sources").await, 4);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM listens WHERE title = 'Now Playing Song'"
        )
        .await,
        0
    );

    // Each new listen was published once, as JSON.
    let (events, _rx) = app.state.core.events.subscribe_from(Some(0));
    let listens: Vec<serde_json::Value> = events
        .iter()
        .filter(|e| e.kind == "listen")
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect();
    assert_eq!(listens.len(), 2, "{listens:?}");
    assert!(
        listens
            .iter()
            .any(|l| l["title"] == "<script>alert(1)</script>"
                && l["artist"] == "Evil & Co"
                && l["services"] == json!(["Spotify"])
                && l["played_at"] == rfc3339(t - 600))
    );

    // A second sync of every service adds nothing.
    for job in [
        JobName::SpotifyHistory,
        JobName::LastfmHistory,
        JobName::ListenbrainzHistory,
    ] {
        let r = run(&app, job).await;
        assert_eq!(r.outcome, Outcome::Ok);
        assert_eq!(counts(&r)["added"], 0, "{job:?}");
        assert_eq!(counts(&r)["merged"], 0, "{job:?}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM listens").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM listen_sources").await, 4);

    // The page: escaped text, services per row, filters.
    let page = b.get("/listens").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert(1)"));
    assert!(
        page.body.contains("Spotify, Last.fm, ListenBrainz")
            || page.body.contains("Last.fm, ListenBrainz, Spotify")
    );
    assert!(page.body.contains("not in library"));
    let only_lb = b.get("/listens?service=listenbrainz").await;
    assert!(only_lb.body.contains("Halo"));
    assert!(!only_lb.body.contains("alert(1)"));
    let by_artist = b.get("/listens?artist=beyonce").await;
    assert!(by_artist.body.contains("Halo"));
    assert!(!by_artist.body.contains("alert(1)"));

    // The API.
    let listens: serde_json::Value =
        serde_json::from_str(&b.get("/api/v1/listens?limit=1").await.body).unwrap();
    let arr = listens.as_array().unwrap();
    assert_eq!(arr.len(), 1);
    assert_eq!(arr[0]["title"], "Halo");
    assert_eq!(arr[0]["artist"], "Beyoncé");
    assert_eq!(arr[0]["album"], "Album");
    assert!(arr[0]["track_id"].is_null());
    assert_eq!(arr[0]["played_at"], rfc3339(t));
    let mut services: Vec<String> = arr[0]["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    services.sort();
    assert_eq!(services, ["lastfm", "listenbrainz", "spotify"]);
    let older: serde_json::Value =
        serde_json::from_str(&b.get(&format!("/api/v1/listens?before={t}")).await.body).unwrap();
    assert_eq!(older.as_array().unwrap().len(), 1);
    let stats: serde_json::Value =
        serde_json::from_str(&b.get("/api/v1/library/stats").await.body).unwrap();
    assert_eq!(stats["listens"], 2);
    for key in ["artists", "albums", "tracks", "playlists"] {
        assert!(stats[key].is_i64(), "{key}");
    }

    let dash = b.get("/").await;
    assert!(dash.body.contains("Latest listens"));
    assert!(dash.body.contains("&#60;script&#62;alert(1)"));
    assert!(!dash.body.contains("<script>alert(1)"));
}

#[tokio::test]
async fn the_api_answers_401_json_when_signed_out() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    for p in ["/api/v1/listens", "/api/v1/library/stats", "/api/v1/jobs"] {
        let r = app
            .http
            .get(format!("{}{p}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{p}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body, json!({"error": "sign in required"}));
    }
}

#[tokio::test]
async fn an_absurd_retry_after_backs_off_capped_and_the_job_finishes() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    link_lb(&mut b, &f).await;
    mount_lb_listens(
        &f,
        ResponseTemplate::new(429).insert_header("Retry-After", "86400"),
    )
    .await;
    let before = now();
    let r = run(&app, JobName::ListenbrainzHistory).await;
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.error, "The service asked us to slow down.");
    let (status, until): (String, i64) = sqlx::query_as(
        "SELECT status, backoff_until FROM link_health WHERE provider = 'listenbrainz'",
    )
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    assert_eq!(status, "backoff");
    assert!(until <= now() + 3600 && until >= before + 3000, "{until}");
    let page = b.get("/preferences/providers").await;
    assert!(page.body.contains("backing off"), "{}", page.body);
    // While backing off, the job skips.
    let r = run(&app, JobName::ListenbrainzHistory).await;
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(counts(&r)["skipped"], 1);
}

#[tokio::test]
async fn a_malformed_answer_fails_retriably_with_a_fixed_message() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    link_lb(&mut b, &f).await;
    mount_lb_listens(
        &f,
        ResponseTemplate::new(200).set_body_string(r#"{"payload": {"listens": [{"listen"#),
    )
    .await;
    let r = run(&app, JobName::ListenbrainzHistory).await;
    assert_eq!(r.outcome, Outcome::Failed);
    assert_eq!(r.error, "The service gave an unexpected answer.");
    let status: String =
        sqlx::query_scalar("SELECT status FROM link_health WHERE provider = 'listenbrainz'")
            .fetch_one(&app.state.core.db)
            .await
            .unwrap();
    assert_eq!(status, "backoff");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM listens").await, 0);
}

#[tokio::test]
async fn a_server_error_on_a_later_page_keeps_the_watermark() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    link_lastfm(&mut b, &f).await;
    let t = now() - 7200;
    mount_lastfm_recent(&f, 1, 2, json!([lastfm_track(t, "One", "A")])).await;
    Mock::given(method("POST"))
        .and(path("/2.0/"))
        .and(body_string_contains("method=user.getRecentTracks"))
        .and(body_string_contains("page=2&"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&f.lastfm)
        .await;
    let r = run(&app, JobName::LastfmHistory).await;
    assert_eq!(r.outcome, Outcome::Failed);
    // Page 1 was stored whole; the watermark did not move past what page 2 would hold.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM listens").await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM sync_state WHERE source = 'history:lastfm'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM link_health WHERE provider = 'lastfm' AND status = 'backoff'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_refused_spotify_token_is_refreshed_once_then_the_link_is_broken() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    link_spotify(&mut b, &f, "code-2", "sp-old", "sp-refresh", 3600).await;
    Mock::given(method("POST"))
        .and(path("/api/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "sp-new", "token_type": "Bearer", "expires_in": 3600
        })))
        .expect(1)
        .mount(&f.spotify)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/me/player/recently-played"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&f.spotify)
        .await;
    let r = run(&app, JobName::SpotifyHistory).await;
    assert_eq!(r.outcome, Outcome::Failed);
    let status: String =
        sqlx::query_scalar("SELECT status FROM link_health WHERE provider = 'spotify'")
            .fetch_one(&app.state.core.db)
            .await
            .unwrap();
    assert_eq!(status, "broken");
    // Broken: the next run skips until re-linked.
    let r = run(&app, JobName::SpotifyHistory).await;
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(counts(&r)["skipped"], 1);
}

#[tokio::test]
async fn a_job_for_an_unlinked_provider_is_skipped_and_sync_now_needs_a_link() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let r = run(&app, JobName::ListenbrainzHistory).await;
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(counts(&r)["skipped"], 1);

    let mut b = signed_in(&app).await;
    let csrf = b.csrf().await;
    let r = b
        .post("/preferences/listenbrainz/sync", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(r.status, 303);
    assert!(
        r.location().unwrap().contains("error="),
        "{:?}",
        r.location()
    );
    link_lb(&mut b, &f).await;
    mount_lb_listens(
        &f,
        ResponseTemplate::new(200).set_body_json(json!({"payload": {"listens": []}})),
    )
    .await;
    spotter::jobs::wait_idle(&app.state.core, JobName::ListenbrainzHistory).await;
    let page = b.get("/preferences/providers").await;
    assert!(page.body.contains("/preferences/listenbrainz/sync"));
    let r = b
        .post(
            "/preferences/listenbrainz/sync",
            &[("csrf_token", &page.csrf())],
        )
        .await;
    assert_eq!(
        r.location(),
        Some(
            "/preferences/providers?notice=sync-started&service=listenbrainz#service-listenbrainz"
        )
    );
    spotter::jobs::wait_idle(&app.state.core, JobName::ListenbrainzHistory).await;
}

#[tokio::test]
async fn the_listens_page_says_what_to_link_when_empty() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    let page = b.get("/listens").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("No listens yet. Link Spotify, Last.fm or ListenBrainz")
    );
}

#[tokio::test]
async fn a_play_is_linked_to_the_one_catalogue_track_it_names() {
    let f = Fakes::start().await;
    let app = spawn_app(f.options()).await;
    let mut b = signed_in(&app).await;
    link_lb(&mut b, &f).await;
    sqlx::query(
        "INSERT INTO tracks (id, title, title_norm, artist, artist_norm) VALUES
         ('nd-1', 'Kind of Blue Song', 'kind of blue song', 'Miles Davis', 'miles davis')",
    )
    .execute(&app.state.core.db)
    .await
    .unwrap();
    let t = now() - 600;
    mount_lb_listens(
        &f,
        ResponseTemplate::new(200).set_body_json(json!({"payload": {"listens": [
            lb_listen(t, "m-a", "Kind of Blue Song", "MILES DAVIS"),
            lb_listen(t - 400, "m-b", "Unknown Song", "Miles Davis"),
        ]}})),
    )
    .await;
    let r = run(&app, JobName::ListenbrainzHistory).await;
    assert_eq!(r.outcome, Outcome::Ok, "{}", r.error);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM listens WHERE track_id = 'nd-1' AND title = 'Kind of Blue Song'"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM listens WHERE track_id IS NULL").await,
        1
    );
    let page = b.get("/listens").await;
    assert!(page.body.contains(">in library<"), "{}", page.body);
    assert!(page.body.contains(">not in library<"));
    let api: serde_json::Value =
        serde_json::from_str(&b.get("/api/v1/listens").await.body).unwrap();
    assert_eq!(api[0]["track_id"], "nd-1");
    assert!(api[1]["track_id"].is_null());
    // Bad parameters are JSON 400s.
    assert_eq!(b.get("/api/v1/listens?limit=x").await.status, 400);
    assert_eq!(b.get("/api/v1/listens?before=yesterday").await.status, 400);
}

#[tokio::test]
async fn the_dashboard_stops_saying_backing_off_once_the_clock_passes_it() {
    let f = Fakes::start().await;
    let clock = spotter::clock::Clock::manual(spotter::clock::system_now());
    let app = spawn_app(f.options().with_clock(clock.clone())).await;
    let mut b = signed_in(&app).await;
    link_lb(&mut b, &f).await;
    mount_lb_listens(
        &f,
        ResponseTemplate::new(429).insert_header("Retry-After", "600"),
    )
    .await;
    assert_eq!(
        run(&app, JobName::ListenbrainzHistory).await.outcome,
        Outcome::Failed
    );
    let backing_off = b.get("/").await;
    assert!(
        backing_off.body.contains("backing off until"),
        "{}",
        backing_off.body
    );
    // Nothing is written: only the clock moves past the backoff.
    clock.advance(3 * 3600);
    let later = b.get("/").await;
    assert!(!later.body.contains("backing off until"), "{}", later.body);
}
