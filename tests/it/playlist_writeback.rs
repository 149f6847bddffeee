//! Playlist write-back to Navidrome: against the real Subsonic peer (create, update in place,
//! dry run, pairing with a same-name playlist, keep/delete on stop, a copy deleted in Navidrome,
//! an edited copy restored by the scheduled re-sync), and against a wiremock Subsonic for the
//! transports (form POST, URL chunks) and failures.

use serde_json::{Value, json};
use spotter::domain::jobs::{JobName, Trigger};
use spotter::jobs::TriggerError;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::*;

/// A Subsonic call on the peer as the guest account (test setup and checks only).
async fn peer_call(method: &str, params: &[(&str, &str)]) -> Value {
    peer_guest_call(method, params).await
}

/// The song ids of a peer playlist in order; `None` when the peer has no such playlist.
async fn peer_songs(id: &str) -> Option<Vec<String>> {
    let r = peer_call("getPlaylist", &[("id", id)]).await;
    if r["status"] != "ok" {
        assert_eq!(r["error"]["code"], 70, "{r}");
        return None;
    }
    Some(
        r["playlist"]["entry"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect(),
    )
}

/// The ids of the guest's peer playlists called `name`.
async fn peer_named(name: &str) -> Vec<String> {
    let r = peer_call("getPlaylists", &[]).await;
    assert_eq!(r["status"], "ok", "{r}");
    r["playlists"]["playlist"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|p| p["name"] == name)
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Deletes the named peer playlists when dropped, so a failing test leaves nothing behind.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.0);
        // Drop cannot await: a small runtime of its own on another thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for name in names {
                    for id in peer_named(&name).await {
                        peer_call("deletePlaylist", &[("id", &id)]).await;
                    }
                }
            });
        })
        .join();
    }
}

fn unique_name(what: &str) -> String {
    format!("spotter-wb-{what}-{}", spotter::crypto::random_token(8))
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
    let (outcome, counts): (String, String) =
        sqlx::query_as("SELECT outcome, counts FROM job_runs WHERE id = ?1")
            .bind(id)
            .fetch_one(&core.db)
            .await
            .unwrap();
    assert_eq!(outcome, "ok", "{counts}");
    serde_json::from_str(&counts).unwrap()
}

/// An entry of a test playlist: linked to a catalogue track, or not in the library.
enum Entry<'a> {
    Linked(&'a str),
    Missing(&'a str, &'a str),
}

/// Store a Spotify playlist called `name` for the signed-in user; its id.
async fn add_playlist(app: &TestApp, name: &str, entries: &[Entry<'_>]) -> i64 {
    let db = &app.state.core.db;
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users ORDER BY id LIMIT 1")
        .fetch_one(db)
        .await
        .unwrap();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO playlists (user_id, service, remote_id, name, kind, track_count, imported_at)
         VALUES (?1, 'spotify', ?2, ?3, 'user', ?4, 0) RETURNING id",
    )
    .bind(user_id)
    .bind(spotter::crypto::random_token(8))
    .bind(name)
    .bind(i64::try_from(entries.len()).unwrap())
    .fetch_one(db)
    .await
    .unwrap();
    set_entries(app, id, entries).await;
    id
}

/// Replace the playlist's tracks (as an import would), as already matched: the rows carry a
/// method, so a matching run started by the server meanwhile neither relinks them nor, having
/// linked nothing, sends a write-back of its own that would race with the test's.
async fn set_entries(app: &TestApp, id: i64, entries: &[Entry<'_>]) {
    let db = &app.state.core.db;
    sqlx::query("DELETE FROM playlist_tracks WHERE playlist_id = ?1")
        .bind(id)
        .execute(db)
        .await
        .unwrap();
    for (pos, e) in entries.iter().enumerate() {
        let (title, artist, track_id, method): (String, String, Option<&str>, &str) = match e {
            Entry::Linked(track) => {
                let (t, a): (String, String) =
                    sqlx::query_as("SELECT title, artist FROM tracks WHERE id = ?1")
                        .bind(*track)
                        .fetch_one(db)
                        .await
                        .unwrap();
                (t, a, Some(*track), "manual")
            }
            Entry::Missing(t, a) => ((*t).to_owned(), (*a).to_owned(), None, "none"),
        };
        sqlx::query(
            "INSERT INTO playlist_tracks (playlist_id, position, title, artist, title_norm,
                    artist_norm, track_id, match_method) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(id)
        .bind(i64::try_from(pos).unwrap())
        .bind(&title)
        .bind(&artist)
        .bind(spotter::domain::text::normalize(&title))
        .bind(spotter::domain::text::normalize(&artist))
        .bind(track_id)
        .bind(method)
        .execute(db)
        .await
        .unwrap();
    }
}

/// `n` plays of a song by the signed-in user (not in the library, as the matcher would say).
async fn add_plays(app: &TestApp, title: &str, artist: &str, n: i64) {
    let db = &app.state.core.db;
    for i in 0..n {
        sqlx::query(
            "INSERT INTO listens (user_id, played_at, title, artist, title_norm, artist_norm,
                    match_method)
             VALUES ((SELECT id FROM users ORDER BY id LIMIT 1), ?1, ?2, ?3, ?4, ?5, 'none')",
        )
        .bind(1_700_000_000 + i)
        .bind(title)
        .bind(artist)
        .bind(spotter::domain::text::normalize(title))
        .bind(spotter::domain::text::normalize(artist))
        .execute(db)
        .await
        .unwrap();
    }
}

/// The stored Navidrome playlist id of a playlist, if paired.
async fn paired_id(app: &TestApp, id: i64) -> Option<String> {
    sqlx::query_scalar::<_, Option<String>>(
        "SELECT navidrome_playlist_id FROM playlist_writeback WHERE playlist_id = ?1",
    )
    .bind(id)
    .fetch_optional(&app.state.core.db)
    .await
    .unwrap()
    .flatten()
}

/// Sign in to `app` on the peer as guest (which imports the peer's catalogue).
async fn signed_in(app: &TestApp) -> Browser<'_> {
    let p = peer();
    let mut b = Browser::new(app);
    b.login_ok(&p.guest_user, &p.guest_password).await;
    b
}

/// The first catalogue track ids (the peer's song ids).
async fn catalogue(app: &TestApp) -> Vec<String> {
    let songs: Vec<String> = sqlx::query_scalar("SELECT id FROM tracks ORDER BY id LIMIT 5")
        .fetch_all(&app.state.core.db)
        .await
        .unwrap();
    assert_eq!(songs.len(), 5, "the peer's catalogue was imported");
    songs
}

async fn post(b: &mut Browser<'_>, path: &str, extra: &[(&str, &str)]) -> Page {
    let csrf = b.csrf().await;
    let mut form = vec![("csrf_token", csrf.as_str())];
    form.extend_from_slice(extra);
    b.post(path, &form).await
}

#[tokio::test]
async fn a_playlist_is_created_once_then_updated_in_place_in_order() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = signed_in(&app).await;
    let s = catalogue(&app).await;
    let name = unique_name("inplace");
    let _cleanup = Cleanup(vec![name.clone()]);
    let id = add_playlist(
        &app,
        &name,
        &[
            Entry::Linked(&s[0]),
            Entry::Missing("Rare Song", "Nobody"),
            Entry::Linked(&s[1]),
            Entry::Linked(&s[0]),
            Entry::Missing("Loved Song", "Somebody"),
            Entry::Linked(&s[2]),
        ],
    )
    .await;
    add_plays(&app, "Loved Song", "Somebody", 3).await;
    add_plays(&app, "Rare song", "nobody", 1).await;

    // The preview: statistics, what will be added, the missing tracks most played first. It
    // writes nothing, here or on the peer.
    let page = b.get(&format!("/playlists/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("4 of 6 tracks are in your library"),
        "{}",
        page.body
    );
    assert!(page.body.contains("1 of them repeat"), "{}", page.body);
    assert!(page.body.contains("3 to add"), "{}", page.body);
    assert!(page.body.contains("2 missing from your library"));
    let missing = &page.body[page.body.find("missing from your library").unwrap()..];
    let loved = missing.find("Loved Song").unwrap();
    let rare = missing.find("Rare Song").unwrap();
    assert!(loved < rare, "most played first");
    assert!(
        missing.contains("<td>3</td><td>Loved Song</td>"),
        "{missing}"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM playlist_writeback").await,
        0
    );
    assert!(
        peer_named(&name).await.is_empty(),
        "the dry run wrote nothing"
    );

    // The first write creates the Navidrome playlist: linked tracks, each once, in order.
    let r = post(&mut b, &format!("/playlists/{id}/sync"), &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=written-new").as_str())
    );
    let first = paired_id(&app, id)
        .await
        .expect("the Navidrome id is stored");
    assert_eq!(peer_named(&name).await, vec![first.clone()]);
    assert_eq!(
        peer_songs(&first).await.unwrap(),
        vec![s[0].clone(), s[1].clone(), s[2].clone()]
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'playlist_writeback_enabled'"
        )
        .await,
        1
    );
    let page = b.get(&format!("/playlists/{id}")).await;
    assert!(page.body.contains("nothing would change"), "{}", page.body);
    // Imported back as a Navidrome playlist, the copy says where it comes from.
    run(&app, JobName::NavidromePlaylists).await;
    let copy: i64 = sqlx::query_scalar(
        "SELECT id FROM playlists WHERE service = 'navidrome' AND remote_id = ?1",
    )
    .bind(&first)
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    let page = b.get(&format!("/playlists/{copy}")).await;
    assert!(
        page.body.contains(&format!(
            r#"the Navidrome copy of the Spotify playlist <a href="/playlists/{id}">"#
        )),
        "{}",
        page.body
    );

    // The playlist changes: the preview names the change, the next write replaces the songs
    // of the same Navidrome playlist.
    set_entries(
        &app,
        id,
        &[
            Entry::Linked(&s[2]),
            Entry::Linked(&s[0]),
            Entry::Linked(&s[3]),
            Entry::Linked(&s[2]),
        ],
    )
    .await;
    let page = b.get(&format!("/playlists/{id}")).await;
    assert!(page.body.contains("1 to add"), "{}", page.body);
    assert!(page.body.contains("1 to remove"), "{}", page.body);
    assert!(
        page.body.contains("The order of its songs changes"),
        "{}",
        page.body
    );
    assert_eq!(
        peer_songs(&first).await.unwrap().len(),
        3,
        "the preview wrote nothing"
    );
    let r = post(&mut b, &format!("/playlists/{id}/sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=written").as_str())
    );
    assert_eq!(paired_id(&app, id).await.as_deref(), Some(first.as_str()));
    assert_eq!(
        peer_named(&name).await,
        vec![first.clone()],
        "no second playlist"
    );
    let wanted = vec![s[2].clone(), s[0].clone(), s[3].clone()];
    assert_eq!(peer_songs(&first).await.unwrap(), wanted);

    // Nothing changed: the scheduled re-sync writes nothing.
    let c = run(&app, JobName::PlaylistWriteback).await;
    assert_eq!(
        (c["playlists"].as_u64(), c["unchanged"].as_u64()),
        (Some(1), Some(1)),
        "{c}"
    );

    // Edited in Navidrome (a song removed): the re-sync makes it equal to the playlist again.
    let edit = peer_call(
        "updatePlaylist",
        &[("playlistId", &first), ("songIndexToRemove", "0")],
    )
    .await;
    assert_eq!(edit["status"], "ok", "{edit}");
    let c = run(&app, JobName::PlaylistWriteback).await;
    assert_eq!(c["restored"], 1, "{c}");
    assert_eq!(peer_songs(&first).await.unwrap(), wanted);

    // Deleted in Navidrome: the re-sync creates it again and stores the new id.
    peer_call("deletePlaylist", &[("id", &first)]).await;
    let c = run(&app, JobName::PlaylistWriteback).await;
    assert_eq!(c["recreated"], 1, "{c}");
    let second = paired_id(&app, id).await.unwrap();
    assert_ne!(second, first);
    assert_eq!(peer_named(&name).await, vec![second.clone()]);
    assert_eq!(peer_songs(&second).await.unwrap(), wanted);

    // A manual write after a deletion in Navidrome recreates it too.
    peer_call("deletePlaylist", &[("id", &second)]).await;
    let r = post(&mut b, &format!("/playlists/{id}/sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=written-new").as_str())
    );
    let third = paired_id(&app, id).await.unwrap();
    assert_eq!(peer_songs(&third).await.unwrap(), wanted);

    // Stop, deleting the Navidrome copy.
    let page = b.get(&format!("/playlists/{id}")).await;
    assert!(
        page.body
            .contains(r#"name="navidrome_action" value="keep""#)
    );
    assert!(
        page.body
            .contains(r#"name="navidrome_action" value="delete""#)
    );
    let r = post(
        &mut b,
        &format!("/playlists/{id}/toggle-sync"),
        &[("navidrome_action", "delete")],
    )
    .await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=stopped-deleted").as_str())
    );
    assert_eq!(peer_songs(&third).await, None);
    assert!(peer_named(&name).await.is_empty());
    assert_eq!(paired_id(&app, id).await, None);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'playlist_writeback_disabled'
               AND detail LIKE '%deleted'"
        )
        .await,
        1
    );
    // Off: the re-sync leaves it alone.
    let c = run(&app, JobName::PlaylistWriteback).await;
    assert_eq!(c["playlists"], 0, "{c}");
    assert!(peer_named(&name).await.is_empty());
}

#[tokio::test]
async fn a_same_name_playlist_in_navidrome_is_paired_or_avoided_never_doubled() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = signed_in(&app).await;
    let s = catalogue(&app).await;
    let name = unique_name("pair");
    let _cleanup = Cleanup(vec![name.clone(), format!("{name} (Spotify)")]);
    let created = peer_call("createPlaylist", &[("name", &name), ("songId", &s[4])]).await;
    let existing = created["playlist"]["id"].as_str().unwrap().to_owned();
    let id = add_playlist(&app, &name, &[Entry::Linked(&s[0]), Entry::Linked(&s[1])]).await;

    // Turning write-back on finds the name taken: the user chooses; nothing is written yet.
    let r = post(&mut b, &format!("/playlists/{id}/toggle-sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=name-taken").as_str())
    );
    assert_eq!(peer_named(&name).await, vec![existing.clone()]);
    assert_eq!(peer_songs(&existing).await.unwrap(), vec![s[4].clone()]);
    assert_eq!(paired_id(&app, id).await, None);
    let page = b.get(&format!("/playlists/{id}?notice=name-taken")).await;
    assert!(
        page.body.contains(r#"name="action" value="pair""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"name="action" value="new-name""#));
    assert!(
        page.body
            .contains("Navidrome already has a playlist with this name")
    );

    // Pair: the existing playlist gets this playlist's songs; still one playlist of the name.
    let r = post(
        &mut b,
        &format!("/playlists/{id}/resolve-navidrome-conflict"),
        &[("action", "pair")],
    )
    .await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=written").as_str())
    );
    assert_eq!(
        paired_id(&app, id).await.as_deref(),
        Some(existing.as_str())
    );
    assert_eq!(peer_named(&name).await, vec![existing.clone()]);
    assert_eq!(
        peer_songs(&existing).await.unwrap(),
        vec![s[0].clone(), s[1].clone()]
    );

    // Turning it off without the keep-or-delete answer changes nothing.
    let r = post(&mut b, &format!("/playlists/{id}/toggle-sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=choose-keep-or-delete").as_str())
    );
    assert_eq!(
        paired_id(&app, id).await.as_deref(),
        Some(existing.as_str())
    );

    // Stop and keep: the Navidrome playlist stays as it is, the pairing is forgotten.
    let r = post(
        &mut b,
        &format!("/playlists/{id}/toggle-sync"),
        &[("navidrome_action", "keep")],
    )
    .await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=stopped-kept").as_str())
    );
    assert_eq!(paired_id(&app, id).await, None);
    assert_eq!(
        peer_songs(&existing).await.unwrap(),
        vec![s[0].clone(), s[1].clone()]
    );

    // On again: the kept copy has the name, so the choice comes back; a new name this time.
    let r = post(&mut b, &format!("/playlists/{id}/sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=name-taken").as_str())
    );
    let r = post(
        &mut b,
        &format!("/playlists/{id}/resolve-navidrome-conflict"),
        &[("action", "new-name")],
    )
    .await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=written-new").as_str())
    );
    let renamed = peer_named(&format!("{name} (Spotify)")).await;
    assert_eq!(renamed.len(), 1);
    assert_eq!(
        paired_id(&app, id).await.as_deref(),
        Some(renamed[0].as_str())
    );
    assert_eq!(peer_named(&name).await, vec![existing.clone()]);
    let page = b.get(&format!("/playlists/{id}")).await;
    assert!(page.body.contains(&format!("{name} (Spotify)")));

    // A second playlist of the same name: the first one's copy is not offered for pairing.
    let other = add_playlist(&app, &format!("{name} (Spotify)"), &[Entry::Linked(&s[3])]).await;
    let r = post(&mut b, &format!("/playlists/{other}/sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{other}?notice=written-new").as_str())
    );
    let third_name = format!("{name} (Spotify) (Spotify)");
    let _cleanup_third = Cleanup(vec![third_name.clone()]);
    assert_eq!(peer_named(&third_name).await.len(), 1);
    assert_eq!(
        peer_songs(&renamed[0]).await.unwrap(),
        vec![s[0].clone(), s[1].clone()],
        "the first playlist's copy is untouched"
    );
}

#[tokio::test]
async fn posts_without_a_csrf_token_write_nothing_and_bad_choices_are_refused() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = signed_in(&app).await;
    let s = catalogue(&app).await;
    let name = unique_name("csrf");
    let _cleanup = Cleanup(vec![name.clone()]);
    let id = add_playlist(&app, &name, &[Entry::Linked(&s[0])]).await;
    for (path, form) in [
        (format!("/playlists/{id}/sync"), vec![]),
        (format!("/playlists/{id}/toggle-sync"), vec![]),
        (
            format!("/playlists/{id}/resolve-navidrome-conflict"),
            vec![("action", "new-name")],
        ),
    ] {
        let r = b.post(&path, &form).await;
        assert_eq!(r.status, 403, "{path}");
    }
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM playlist_writeback").await,
        0
    );
    assert!(peer_named(&name).await.is_empty());

    let r = post(
        &mut b,
        &format!("/playlists/{id}/resolve-navidrome-conflict"),
        &[("action", "merge")],
    )
    .await;
    assert_eq!(r.status, 400);
    let r = post(
        &mut b,
        &format!("/playlists/{id}/toggle-sync"),
        &[("navidrome_action", "<b>")],
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(!r.body.contains("<b>"));
    let r = post(
        &mut b,
        &format!("/playlists/{id}/resolve-navidrome-conflict"),
        &[("action", "pair")],
    )
    .await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=nothing-to-resolve").as_str())
    );
    for path in ["/playlists/999999/sync", "/playlists/abc/sync"] {
        assert_eq!(post(&mut b, path, &[]).await.status, 404, "{path}");
    }

    // Navidrome's own playlists and inactive ones are not written back.
    sqlx::query("UPDATE playlists SET service = 'navidrome', kind = 'navidrome' WHERE id = ?1")
        .bind(id)
        .execute(&app.state.core.db)
        .await
        .unwrap();
    let r = post(&mut b, &format!("/playlists/{id}/sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=not-writable").as_str())
    );
    let page = b.get(&format!("/playlists/{id}")).await;
    assert!(page.body.contains("already in Navidrome"));
    assert!(!page.body.contains("/sync\""), "no write button");
    sqlx::query(
        "UPDATE playlists SET service = 'spotify', kind = 'user', active = 0 WHERE id = ?1",
    )
    .bind(id)
    .execute(&app.state.core.db)
    .await
    .unwrap();
    let r = post(&mut b, &format!("/playlists/{id}/sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=not-writable").as_str())
    );
    assert!(peer_named(&name).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// A scripted Subsonic server: transports and failures

const OK: &str = r#"{"subsonic-response":{"status":"ok","version":"1.16.1"}}"#;

fn ok(v: Value) -> ResponseTemplate {
    let mut body = json!({"status": "ok", "version": "1.16.1"});
    if let (Some(b), Some(extra)) = (body.as_object_mut(), v.as_object()) {
        for (k, val) in extra {
            b.insert(k.clone(), val.clone());
        }
    }
    ResponseTemplate::new(200).set_body_json(json!({ "subsonic-response": body }))
}

/// A fake Navidrome that signs in and has an empty library (the test adds catalogue rows).
async fn fake(extensions: Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_string(OK))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/getOpenSubsonicExtensions"))
        .respond_with(ok(json!({ "openSubsonicExtensions": extensions })))
        .mount(&server)
        .await;
    for (call, answer) in [
        ("getArtists", json!({"artists": {"index": []}})),
        ("getAlbumList2", json!({"albumList2": {"album": []}})),
        ("getPlaylists", json!({"playlists": {"playlist": []}})),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/rest/{call}")))
            .respond_with(ok(answer))
            .mount(&server)
            .await;
    }
    server
}

/// A playlist of `songs` catalogue tracks `tr_0000`, `tr_0001`, ... (after sign-in).
async fn long_playlist(app: &TestApp, songs: usize) -> i64 {
    let mut entries = Vec::new();
    let ids: Vec<String> = (0..songs).map(|i| format!("tr_{i:04}")).collect();
    for id in &ids {
        sqlx::query(
            "INSERT INTO tracks (id, title, title_norm, artist, artist_norm)
             VALUES (?1, ?1, ?1, 'Artist', 'artist')",
        )
        .bind(id)
        .execute(&app.state.core.db)
        .await
        .unwrap();
    }
    entries.extend(ids.iter().map(|id| Entry::Linked(id)));
    add_playlist(app, "Long one", &entries).await
}

fn params(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

#[tokio::test]
async fn a_long_playlist_goes_in_one_form_post_with_nothing_secret_in_the_url() {
    let server = fake(json!([{"name": "formPost", "versions": [1]}])).await;
    Mock::given(method("POST"))
        .and(path("/rest/createPlaylist"))
        .respond_with(ok(
            json!({"playlist": {"id": "pl_new", "name": "Long one"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let app = spawn_app(Options::with_navidrome(&server.uri())).await;
    let mut b = Browser::new(&app);
    b.login_ok("ann", "pw").await;
    let id = long_playlist(&app, 250).await;
    let r = post(&mut b, &format!("/playlists/{id}/sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=written-new").as_str())
    );
    let requests = server.received_requests().await.unwrap();
    let create = requests
        .iter()
        .find(|r| r.url.path() == "/rest/createPlaylist")
        .unwrap();
    assert_eq!(create.url.query(), None, "no parameter in the URL");
    let form = params(&create.body);
    let songs: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "songId")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(songs.len(), 250);
    assert_eq!(songs[0], "tr_0000");
    assert_eq!(songs[249], "tr_0249");
    assert!(form.iter().any(|(k, v)| k == "name" && v == "Long one"));
    assert!(form.iter().any(|(k, _)| k == "t") && form.iter().any(|(k, _)| k == "s"));
    assert_eq!(paired_id(&app, id).await.as_deref(), Some("pl_new"));
}

#[tokio::test]
async fn without_form_post_a_long_playlist_is_written_in_url_chunks() {
    // Not OpenSubsonic: the extensions call is unknown (HTTP 404).
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/getOpenSubsonicExtensions"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    for (call, answer) in [
        ("ping", json!({})),
        ("getArtists", json!({"artists": {"index": []}})),
        ("getAlbumList2", json!({"albumList2": {"album": []}})),
        ("getPlaylists", json!({"playlists": {"playlist": []}})),
        ("createPlaylist", json!({"playlist": {"id": "pl_chunked"}})),
        ("updatePlaylist", json!({})),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/rest/{call}")))
            .respond_with(ok(answer))
            .mount(&server)
            .await;
    }
    let app = spawn_app(Options::with_navidrome(&server.uri())).await;
    let mut b = Browser::new(&app);
    b.login_ok("ann", "pw").await;
    let id = long_playlist(&app, 250).await;
    let r = post(&mut b, &format!("/playlists/{id}/sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=written-new").as_str())
    );
    let requests = server.received_requests().await.unwrap();
    let mut sent: Vec<String> = Vec::new();
    let mut calls = Vec::new();
    for r in &requests {
        let p = r.url.path();
        if p == "/rest/createPlaylist" || p == "/rest/updatePlaylist" {
            calls.push(p.to_owned());
            let q = params(r.url.query().unwrap_or("").as_bytes());
            let n = q
                .iter()
                .filter(|(k, _)| k == "songId" || k == "songIdToAdd")
                .count();
            assert!(n <= 100, "{n} songs in one URL");
            sent.extend(
                q.into_iter()
                    .filter(|(k, _)| k == "songId" || k == "songIdToAdd")
                    .map(|(_, v)| v),
            );
        }
    }
    assert_eq!(
        calls,
        vec![
            "/rest/createPlaylist",
            "/rest/updatePlaylist",
            "/rest/updatePlaylist"
        ]
    );
    let want: Vec<String> = (0..250).map(|i| format!("tr_{i:04}")).collect();
    assert_eq!(sent, want, "every song once, in order");
}

#[tokio::test]
async fn a_navidrome_failure_shows_a_fixed_message_and_loses_nothing() {
    let server = fake(json!([{"name": "formPost", "versions": [1]}])).await;
    Mock::given(method("POST"))
        .and(path("/rest/createPlaylist"))
        .respond_with(ok(json!({"playlist": {"id": "pl_kept"}})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let app = spawn_app(Options::with_navidrome(&server.uri())).await;
    let mut b = Browser::new(&app);
    b.login_ok("ann", "pw").await;
    let id = long_playlist(&app, 3).await;
    let r = post(&mut b, &format!("/playlists/{id}/sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=written-new").as_str())
    );
    let before: String = sqlx::query_scalar(
        "SELECT json_array(enabled, navidrome_playlist_id, written_tracks, written_fingerprint)
         FROM playlist_writeback WHERE playlist_id = ?1",
    )
    .bind(id)
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();

    // Navidrome now fails with a body that must not reach the page.
    Mock::given(method("POST"))
        .and(path("/rest/createPlaylist"))
        .respond_with(ResponseTemplate::new(500).set_body_string("<b>stack trace: secret</b>"))
        .mount(&server)
        .await;
    set_entries(&app, id, &[Entry::Linked("tr_0001")]).await;
    let r = post(&mut b, &format!("/playlists/{id}/sync"), &[]).await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=write-failed").as_str())
    );
    let page = b.get(r.location().unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Navidrome had a server error"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("stack trace"));
    assert!(!page.body.contains("secret"));
    let after: String = sqlx::query_scalar(
        "SELECT json_array(enabled, navidrome_playlist_id, written_tracks, written_fingerprint)
         FROM playlist_writeback WHERE playlist_id = ?1",
    )
    .bind(id)
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    assert_eq!(before, after, "what was stored is kept");
    let c = run(&app, JobName::PlaylistWriteback).await;
    assert_eq!(c["failed"], 1, "{c}");
    // Deleting fails too: write-back stays on.
    Mock::given(method("GET"))
        .and(path("/rest/deletePlaylist"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let r = post(
        &mut b,
        &format!("/playlists/{id}/toggle-sync"),
        &[("navidrome_action", "delete")],
    )
    .await;
    assert_eq!(
        r.location(),
        Some(format!("/playlists/{id}?notice=write-failed").as_str())
    );
    assert_eq!(paired_id(&app, id).await.as_deref(), Some("pl_kept"));
}
