//! `kill -9` in the middle of a large catalogue import, with the real binary: the database
//! passes its integrity check and holds no duplicate, the cut-off run reads "interrupted" after
//! a restart, and the next run completes the import.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::harness::{ENCRYPTION_KEY, JWT_SECRET};

const ALBUMS: usize = 300;
const SONGS_PER_ALBUM: usize = 40;

fn subsonic(body: Value) -> ResponseTemplate {
    let mut env = json!({"status": "ok", "version": "1.16.1"});
    if let (Some(e), Some(b)) = (env.as_object_mut(), body.as_object()) {
        for (k, v) in b {
            e.insert(k.clone(), v.clone());
        }
    }
    ResponseTemplate::new(200).set_body_json(json!({ "subsonic-response": env }))
}

/// A fake Subsonic server with `ALBUMS` albums of `SONGS_PER_ALBUM` songs; each album answers
/// a little late, so an import takes a few seconds.
async fn large_library() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/ping"))
        .respond_with(subsonic(json!({})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/getArtists"))
        .respond_with(subsonic(json!({"artists": {"index": [{"name": "A",
            "artist": [{"id": "ar1", "name": "Artist", "albumCount": ALBUMS}]}]}})))
        .mount(&server)
        .await;
    let list: Vec<Value> = (0..ALBUMS)
        .map(|a| {
            json!({"id": format!("al{a}"), "name": format!("Album {a}"), "artist": "Artist",
                "artistId": "ar1", "songCount": SONGS_PER_ALBUM, "changed": "2026-01-01T00:00:00Z"})
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/rest/getAlbumList2"))
        .respond_with(subsonic(json!({"albumList2": {"album": list}})))
        .mount(&server)
        .await;
    for a in 0..ALBUMS {
        let songs: Vec<Value> = (0..SONGS_PER_ALBUM)
            .map(|s| {
                json!({"id": format!("al{a}-s{s}"), "title": format!("Song {s} of {a}"),
                    "album": format!("Album {a}"), "albumId": format!("al{a}"),
                    "artist": "Artist", "artistId": "ar1", "track": s + 1, "duration": 180})
            })
            .collect();
        Mock::given(method("GET"))
            .and(path("/rest/getAlbum"))
            .and(query_param("id", format!("al{a}")))
            .respond_with(
                subsonic(
                    json!({"album": {"id": format!("al{a}"), "name": format!("Album {a}"),
                    "changed": "2026-01-01T00:00:00Z", "song": songs}}),
                )
                .set_delay(Duration::from_millis(15)),
            )
            .mount(&server)
            .await;
    }
    server
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start the real binary and return once it logged that it listens.
fn start(db: &std::path::Path, navidrome: &str) -> Server {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_spotter"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SPOTTER_SECURITY_ENCRYPTION_KEY", ENCRYPTION_KEY)
        .env("SPOTTER_SECURITY_JWT_SECRET", JWT_SECRET)
        .env("SPOTTER_NAVIDROME_BASE_URL", navidrome)
        .env("SPOTTER_SERVER_HOST", "127.0.0.1")
        .env("SPOTTER_SERVER_PORT", port.to_string())
        .env("SPOTTER_SERVER_BASE_URL", &base)
        .env("SPOTTER_SECURITY_SECURE_COOKIES", "false")
        .env("SPOTTER_DATABASE_SOURCE", db)
        .env("SPOTTER_LOG_LEVEL", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("the server exited before listening")
            .unwrap();
        if line.contains("spotter listening") {
            break;
        }
    }
    // Keep draining its log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Server { child, base }
}

/// Sign in; the session cookie.
async fn sign_in(http: &reqwest::Client, base: &str) -> String {
    let page = http.get(format!("{base}/auth/login")).send().await.unwrap();
    let pre = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("spotter_pre="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let body = page.text().await.unwrap();
    let csrf = body
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let r = http
        .post(format!("{base}/login"))
        .header("cookie", pre)
        .header("origin", base)
        .form(&[
            ("username", "owner"),
            ("password", "pw"),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("spotter_token="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap()
}

/// Read `/events` (replaying everything buffered) until a library-import event satisfies `done`.
async fn wait_for_import_event(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    done: impl Fn(&Value) -> bool,
) {
    let mut resp = http
        .get(format!("{base}/events"))
        .header("cookie", cookie)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut buffer = String::new();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(chunk) = resp.chunk().await.unwrap() {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            for data in buffer.lines().filter_map(|l| l.strip_prefix("data: ")) {
                if let Ok(v) = serde_json::from_str::<Value>(data)
                    && v["job"] == "library_import"
                    && done(&v)
                {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "the awaited import event never came");
}

async fn open(db: &std::path::Path) -> sqlx::SqlitePool {
    spotter::db::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap()
}

async fn scalar(pool: &sqlx::SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn kill_9_mid_import_leaves_a_whole_database_and_the_next_run_completes() {
    let navidrome = large_library().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("spotter.db");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // First run: sign in (which starts the import), wait until some batches are stored, kill.
    let mut first = start(&db, &navidrome.uri());
    let cookie = sign_in(&http, &first.base).await;
    wait_for_import_event(&http, &first.base, &cookie, |v| {
        v["state"] == "progress" && v["done"].as_u64().unwrap_or(0) >= 50
    })
    .await;
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();

    let total = i64::try_from(ALBUMS * SONGS_PER_ALBUM).unwrap();
    {
        let pool = open(&db).await;
        assert!(spotter::db::integrity_ok(&pool).await.unwrap());
        let stored = scalar(&pool, "SELECT COUNT(*) FROM tracks").await;
        assert!(
            stored > 0 && stored < total,
            "cut mid-way: {stored} of {total}"
        );
        // Whole batches only: every stored album has all its songs.
        assert_eq!(
            scalar(
                &pool,
                &format!(
                    "SELECT COUNT(*) FROM (SELECT album_id FROM tracks GROUP BY album_id HAVING COUNT(*) <> {SONGS_PER_ALBUM})"
                )
            )
            .await,
            0
        );
        assert_eq!(
            scalar(
                &pool,
                "SELECT COUNT(*) FROM job_runs WHERE job = 'library_import' AND outcome = 'running'"
            )
            .await,
            1
        );
        assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM listens").await, 0);
        pool.close().await;
    }

    // Restart: the cut-off run reads interrupted, and the startup run completes the import.
    let second = start(&db, &navidrome.uri());
    let cookie = sign_in(&http, &second.base).await;
    wait_for_import_event(&http, &second.base, &cookie, |v| {
        v["state"] == "finished" && v["outcome"] == "ok"
    })
    .await;
    let pool = open(&db).await;
    assert!(spotter::db::integrity_ok(&pool).await.unwrap());
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM tracks").await, total);
    assert_eq!(
        scalar(&pool, "SELECT COUNT(DISTINCT id) FROM tracks").await,
        total
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT COUNT(*) FROM job_runs WHERE outcome = 'interrupted'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT COUNT(*) FROM job_runs WHERE outcome = 'running'"
        )
        .await,
        0
    );
    assert_eq!(scalar(&pool, "SELECT COUNT(*) FROM listens").await, 0);
    pool.close().await;
    drop(second);
}
