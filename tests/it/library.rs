//! The catalogue import: against the real Subsonic peer, and against a wiremock Subsonic for
//! removals, failures mid-pass, malformed answers and play-count growth.

use serde_json::{Value, json};
use spotter::domain::jobs::{JobName, Outcome, Trigger};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::*;

/// Run the import now (unless the sign-in already started it) and wait for it to end.
pub(crate) async fn import_now(app: &TestApp) -> spotter::db::job_runs::JobRun {
    let core = &app.state.core;
    spotter::jobs::wait_idle(core, JobName::LibraryImport).await;
    let _ = spotter::jobs::trigger(core, JobName::LibraryImport, Trigger::Manual).await;
    spotter::jobs::wait_idle(core, JobName::LibraryImport).await;
    spotter::db::job_runs::last(&core.db, JobName::LibraryImport)
        .await
        .unwrap()
        .unwrap()
}

fn counts(run: &spotter::db::job_runs::JobRun) -> Value {
    serde_json::from_str(&run.counts).unwrap()
}

/// The peer's own song count, asked directly.
async fn peer_song_count() -> i64 {
    let p = peer();
    let salt = "s4lt";
    let token = format!("{:x}", md5_hex(&format!("{}{salt}", p.password)));
    let http = reqwest::Client::new();
    let mut total = 0;
    let mut offset = 0;
    loop {
        let url = format!(
            "{}/rest/getAlbumList2?u={}&t={token}&s={salt}&v=1.16.1&c=test&f=json&type=alphabeticalByName&size=500&offset={offset}",
            p.url, p.user
        );
        let v: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        let albums = v["subsonic-response"]["albumList2"]["album"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        total += albums
            .iter()
            .map(|a| a["songCount"].as_i64().unwrap())
            .sum::<i64>();
        offset += albums.len();
        if albums.len() < 500 {
            return total;
        }
    }
}

struct Hex(String);
impl std::fmt::LowerHex for Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
fn md5_hex(s: &str) -> Hex {
    use md5::Digest;
    Hex(hex::encode(md5::Md5::digest(s.as_bytes())))
}

#[tokio::test]
async fn the_peer_library_is_imported_after_sign_in_and_a_second_run_changes_nothing() {
    let p = peer();
    let app = spawn_app(Options::with_peer()).await;
    let mut b = Browser::new(&app);
    b.login_ok(&p.user, &p.password).await;
    let run = import_now(&app).await;
    assert_eq!(run.outcome, Outcome::Ok, "{}", run.error);
    let expected = peer_song_count().await;
    assert!(expected > 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM tracks").await, expected);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM artists").await, 3);
    for title in [
        "Hoppípolla",
        "Merry Christmas Mr. Lawrence (Live)",
        "The Seed and the Sower (2011 Remaster)",
    ] {
        let sql = format!("SELECT COUNT(*) FROM tracks WHERE title = '{title}'");
        assert_eq!(count(&app, &sql).await, 1, "{title}");
    }
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM albums WHERE name = 'Ágætis byrjun'"
        )
        .await,
        1
    );
    // No listens from a first import.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM listens").await, 0);

    let again = import_now(&app).await;
    assert_eq!(again.outcome, Outcome::Ok);
    let c = counts(&again);
    assert_eq!(c["skipped_unchanged"], 1, "{c}");
    assert_eq!(c["added"], 0, "{c}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM tracks").await, expected);

    // The pages show it, escaped, and search finds accent-folded names.
    let page = b.get("/library").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sigur Rós"), "{}", page.body);
    let page = b.get("/library?q=hoppipolla").await;
    assert!(page.body.contains("Hoppípolla"), "{}", page.body);
}

// ---- A fake Subsonic server ----

const OK: &str = r#"{"subsonic-response":{"status":"ok","version":"1.16.1"}}"#;

fn ok(body: Value) -> ResponseTemplate {
    let mut env = json!({"status": "ok", "version": "1.16.1"});
    if let (Some(e), Some(b)) = (env.as_object_mut(), body.as_object()) {
        for (k, v) in b {
            e.insert(k.clone(), v.clone());
        }
    }
    ResponseTemplate::new(200).set_body_json(json!({ "subsonic-response": env }))
}

pub(crate) fn song(id: &str, title: &str, album: &str, plays: i64, played: Option<&str>) -> Value {
    let mut s = json!({"id": id, "title": title, "album": "Album", "artist": "Ärtist",
        "albumId": album, "artistId": "ar1", "track": 1, "duration": 200, "playCount": plays});
    if let Some(p) = played {
        s["played"] = json!(p);
    }
    s
}

/// Mount a library of albums (id, stamp, songs) on the fake.
pub(crate) async fn mount_library(server: &MockServer, albums: &[(&str, &str, Vec<Value>)]) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/rest/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_string(OK))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/getArtists"))
        .respond_with(ok(json!({"artists": {"index": [{"name": "A",
            "artist": [{"id": "ar1", "name": "Ärtist", "albumCount": albums.len()}]}]}})))
        .mount(server)
        .await;
    let list: Vec<Value> = albums
        .iter()
        .map(|(id, stamp, songs)| {
            json!({"id": id, "name": format!("Album {id}"), "artist": "Ärtist", "artistId": "ar1",
                "songCount": songs.len(), "changed": stamp})
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/rest/getAlbumList2"))
        .respond_with(ok(json!({"albumList2": {"album": list}})))
        .mount(server)
        .await;
    for (id, stamp, songs) in albums {
        Mock::given(method("GET"))
            .and(path("/rest/getAlbum"))
            .and(query_param("id", *id))
            .respond_with(ok(
                json!({"album": {"id": id, "name": format!("Album {id}"),
                "changed": stamp, "song": songs}}),
            ))
            .mount(server)
            .await;
    }
}

pub(crate) async fn fake_app() -> (MockServer, TestApp) {
    let server = MockServer::start().await;
    mount_library(&server, &[]).await;
    let app = spawn_app(Options::with_navidrome(&server.uri())).await;
    (server, app)
}

#[tokio::test]
async fn a_removed_song_disappears_and_its_listen_stays_without_track() {
    let (server, app) = fake_app().await;
    let songs = vec![
        song("t1", "Song (Live)", "al1", 1, Some("2026-01-01T00:00:00Z")),
        song("t2", "Söng 2", "al1", 0, None),
    ];
    mount_library(&server, &[("al1", "c1", songs.clone())]).await;
    let mut b = Browser::new(&app);
    b.login_ok("ann", "pw").await;
    assert_eq!(import_now(&app).await.outcome, Outcome::Ok);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM tracks").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM listens").await, 0);

    // t1 is played again: one navidrome listen at the new played time.
    let played = vec![
        song("t1", "Song (Live)", "al1", 2, Some("2026-01-02T00:00:00Z")),
        songs[1].clone(),
    ];
    mount_library(&server, &[("al1", "c2", played)]).await;
    let run = import_now(&app).await;
    assert_eq!(run.outcome, Outcome::Ok, "{}", run.error);
    assert_eq!(counts(&run)["listens"], 1);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM listens l JOIN listen_sources s ON s.listen_id = l.id
             WHERE s.service = 'navidrome' AND s.remote_key = 't1:1767312000'
               AND l.track_id = 't1' AND l.played_at = 1767312000"
        )
        .await,
        1
    );

    // t1 leaves the library: gone from tracks, its listen stays with no track.
    mount_library(&server, &[("al1", "c3", vec![songs[1].clone()])]).await;
    let run = import_now(&app).await;
    assert_eq!(counts(&run)["removed"], 1, "{}", run.counts);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM tracks WHERE id = 't1'").await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM listens WHERE track_id IS NULL AND title = 'Song (Live)'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_server_error_mid_pass_deletes_nothing_and_keeps_earlier_batches() {
    let (server, app) = fake_app().await;
    // 600 songs in two albums: the first album's batch commits before the second fails.
    let old = vec![song("old", "Old", "al0", 0, None)];
    mount_library(&server, &[("al0", "c", old)]).await;
    let mut b = Browser::new(&app);
    b.login_ok("ann", "pw").await;
    assert_eq!(import_now(&app).await.outcome, Outcome::Ok);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM tracks").await, 1);

    // Now al0 is gone, al1 is new and al2 answers 503.
    server.reset().await;
    let big: Vec<Value> = (0..500)
        .map(|i| song(&format!("a{i}"), &format!("A {i}"), "al1", 0, None))
        .collect();
    mount_library(&server, &[("al1", "c", big)]).await;
    Mock::given(method("GET"))
        .and(path("/rest/getAlbumList2"))
        .respond_with(ok(json!({"albumList2": {"album": [
            {"id": "al1", "name": "Album al1", "songCount": 500, "changed": "c"},
            {"id": "al2", "name": "Album al2", "songCount": 1, "changed": "c"}]}})))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/getAlbum"))
        .and(query_param("id", "al2"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let run = import_now(&app).await;
    assert_eq!(run.outcome, Outcome::Failed);
    // Nothing deleted ("old" stays), the first batch is kept.
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM tracks WHERE id = 'old'").await,
        1
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM tracks WHERE album_id = 'al1'").await,
        500
    );
}

#[tokio::test]
async fn malformed_json_fails_the_run_with_a_fixed_message() {
    let (server, app) = fake_app().await;
    let mut b = Browser::new(&app);
    b.login_ok("ann", "pw").await;
    Mock::given(method("GET"))
        .and(path("/rest/getAlbumList2"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"subsonic-response\": <html>"))
        .with_priority(1)
        .mount(&server)
        .await;
    let run = import_now(&app).await;
    assert_eq!(run.outcome, Outcome::Failed);
    assert_eq!(run.error, "Navidrome did not give the catalogue");
}

#[tokio::test]
async fn library_sync_needs_csrf_and_the_page_renders_empty_states() {
    let (_server, app) = fake_app().await;
    let mut b = Browser::new(&app);
    b.login_ok("ann", "pw").await;
    let page = b.get("/library").await;
    assert_eq!(page.status, 200);
    let refused = b.post("/library/sync", &[]).await;
    assert_eq!(refused.status, 403);
    let csrf = page.csrf();
    let ok = b.post("/library/sync", &[("csrf_token", &csrf)]).await;
    assert_eq!(ok.status, 303);
    assert!(
        ok.location()
            .unwrap_or_default()
            .starts_with("/library?notice=")
    );
    let page = b.get("/library?q=%3Cscript%3E").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script>"));
}
