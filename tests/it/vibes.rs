//! The AI DJ end to end through the real server: the catalogue comes from the real Subsonic peer,
//! the AI provider is a wiremock fake of the Chat Completions API. Covers generation with the
//! DJ's notes, save to Navidrome (created once, then updated in place), scheduled regeneration,
//! escaping of everything the model writes, what the provider may see, the token budget, the
//! settings page's write-only key, and Spotter without any provider.

use serde_json::{Value, json};
use spotter::domain::jobs::JobName;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::harness::*;

pub(crate) const KEY: &str = "sk-test-vibes-0123456789abcdefWXYZ";

/// The fake model: answers with `answer(labels)` as the message content, where `labels` are the
/// candidate ids found in the prompt.
struct FakeDj<F>(F);

impl<F: Fn(&[String]) -> String + Send + Sync + 'static> Respond for FakeDj<F> {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let user = body["messages"][1]["content"].as_str().unwrap_or("");
        let labels: Vec<String> = user
            .lines()
            .filter_map(|l| l.split(" | ").next())
            .filter(|x| {
                x.len() > 1
                    && (x.starts_with('c') || x.starts_with('e'))
                    && x[1..].parse::<u32>().is_ok()
            })
            .map(str::to_owned)
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1",
            "model": "fake-dj-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": (self.0)(&labels)}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
        }))
    }
}

/// A well-behaved DJ: the first five candidates with a reason each.
fn good_answer(labels: &[String]) -> String {
    let tracks: Vec<Value> = labels
        .iter()
        .take(5)
        .enumerate()
        .map(|(i, l)| json!({"id": l, "reason": format!("Reason number {i}.")}))
        .collect();
    json!({"intro": "Welcome to the mix.\n\nSecond paragraph.", "tracks": tracks, "outro": "Goodnight."})
        .to_string()
}

pub(crate) async fn fake_llm<F: Fn(&[String]) -> String + Send + Sync + 'static>(
    answer: F,
) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(FakeDj(answer))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"id": "fake-dj-1"}, {"id": "fake-dj-2"}]})),
        )
        .mount(&server)
        .await;
    server
}

fn options(llm: &MockServer) -> Options {
    Options::with_peer()
        .set("openai.base_url", &format!("{}/v1", llm.uri()))
        .set("openai.api_key", KEY)
}

/// Sign in as the peer's guest (its playlists are throwaway) and return the browser.
async fn sign_in(app: &TestApp) -> Browser<'_> {
    let p = peer();
    let mut b = Browser::new(app);
    b.login_ok(&p.guest_user, &p.guest_password).await;
    assert!(
        count(app, "SELECT COUNT(*) FROM tracks").await >= 5,
        "the peer's catalogue was imported"
    );
    b
}

/// The id of the user's first DJ.
async fn first_dj(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT MIN(id) FROM dj_personas")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap()
}

async fn create_mixtape(b: &mut Browser<'_>, dj: i64, extra: &[(&str, &str)]) -> i64 {
    let csrf = b.csrf().await;
    let dj = dj.to_string();
    let mut form = vec![
        ("csrf_token", csrf.as_str()),
        ("name", "Friday night"),
        ("dj_id", dj.as_str()),
        ("max_tracks", "5"),
    ];
    form.extend_from_slice(extra);
    let resp = b.post("/vibes/mixtapes", &form).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    resp.location()
        .and_then(|l| l.strip_prefix("/vibes/mixtapes/"))
        .and_then(|id| id.parse().ok())
        .expect("redirect to the new mixtape")
}

/// Press Generate and wait for the Vibes job; the mixtape page after.
async fn generate(b: &mut Browser<'_>, id: i64) -> Page {
    let csrf = b.csrf().await;
    let resp = b
        .post(
            &format!("/vibes/mixtapes/{id}/generate"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    spotter::jobs::wait_idle(&b.app.state.core, JobName::Vibes).await;
    let page = b.get(&format!("/vibes/mixtapes/{id}")).await;
    assert_eq!(page.status, 200);
    page
}

async fn subsonic(method: &str, params: &[(&str, &str)]) -> Value {
    peer_guest_call(method, params).await
}

async fn stored_tracks(app: &TestApp, id: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT track_id FROM mixtape_tracks WHERE mixtape_id = ?1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&app.state.core.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn starters_are_seeded_and_a_mixtape_is_generated_saved_and_refreshed_in_place() {
    let llm = fake_llm(good_answer).await;
    let app = spawn_app(options(&llm)).await;
    let mut b = sign_in(&app).await;

    // Four distinct starters, seeded once.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM dj_personas").await, 4);
    let djs = b.get("/vibes/djs").await;
    for name in ["Roxy Riot", "Marlowe", "Velvet Jones", "Professor Breaks"] {
        assert!(djs.body.contains(name), "{name}");
    }
    assert!(!djs.body.contains("No AI provider configured"));

    let dj = first_dj(&app).await;
    let id = create_mixtape(&mut b, dj, &[]).await;
    let name = format!("Friday night {}", spotter::crypto::random_token(6));
    sqlx::query("UPDATE mixtapes SET name = ?1 WHERE id = ?2")
        .bind(&name)
        .bind(id)
        .execute(&app.state.core.db)
        .await
        .unwrap();
    let playlist_name = format!("{name} (Spotter mixtape)");
    let page = generate(&mut b, id).await;
    assert!(page.body.contains("Welcome to the mix."), "{}", page.body);
    assert!(page.body.contains("<p>Second paragraph.</p>"));
    assert!(page.body.contains("Reason number 4."));
    assert!(page.body.contains("Goodnight."));
    assert!(page.body.contains("fake-dj-1") && page.body.contains("150 tokens"));
    let first = stored_tracks(&app, id).await;
    assert_eq!(first.len(), 5);
    // Every song is a library track.
    for t in &first {
        assert_eq!(
            count(
                &app,
                &format!(
                    "SELECT COUNT(*) FROM tracks WHERE id = '{}'",
                    t.replace('\'', "''")
                )
            )
            .await,
            1
        );
    }
    // The prompt is shown on request only.
    assert!(!page.body.contains("CANDIDATES"));
    let with_prompt = b.get(&format!("/vibes/mixtapes/{id}?prompt=1")).await;
    assert!(with_prompt.body.contains("CANDIDATES"));
    // The run is in the Tasks history.
    assert!(
        count(
            &app,
            "SELECT COUNT(*) FROM job_runs WHERE job = 'vibes' AND outcome = 'ok'"
        )
        .await
            >= 1
    );

    // Save to Navidrome: a new playlist with the songs in order.
    let csrf = b.csrf().await;
    let saved = b
        .post(
            &format!("/vibes/mixtapes/{id}/save"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(
        saved.location(),
        Some(&*format!("/vibes/mixtapes/{id}?notice=saved-new"))
    );
    let pid: String =
        sqlx::query_scalar("SELECT navidrome_playlist_id FROM mixtapes WHERE id = ?1")
            .bind(id)
            .fetch_one(&app.state.core.db)
            .await
            .unwrap();
    let remote = subsonic("getPlaylist", &[("id", &pid)]).await;
    let entries = |v: &Value| -> Vec<String> {
        v["playlist"]["entry"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| e["id"].as_str().map(str::to_owned))
            .collect()
    };
    let first_remote = entries(&remote);

    // Generate again: the same Navidrome playlist is refreshed in place, no second playlist.
    let ours = |v: Value| -> usize {
        v["playlists"]["playlist"].as_array().map_or(0, |l| {
            l.iter()
                .filter(|p| p["name"] == playlist_name.as_str())
                .count()
        })
    };
    let before = ours(subsonic("getPlaylists", &[]).await);
    generate(&mut b, id).await;
    let second = stored_tracks(&app, id).await;
    let pid2: String =
        sqlx::query_scalar("SELECT navidrome_playlist_id FROM mixtapes WHERE id = ?1")
            .bind(id)
            .fetch_one(&app.state.core.db)
            .await
            .unwrap();
    let remote2 = subsonic("getPlaylist", &[("id", &pid)]).await;
    let after = ours(subsonic("getPlaylists", &[]).await);
    // Clean up the peer before asserting.
    subsonic("deletePlaylist", &[("id", &pid)]).await;
    assert_eq!(first_remote, first);
    assert_eq!(pid2, pid);
    assert_eq!(entries(&remote2), second);
    assert_eq!((before, after), (1, 1));
}

#[tokio::test]
async fn a_scheduled_mixtape_is_regenerated_when_due_by_the_job() {
    let llm = fake_llm(good_answer).await;
    let app = spawn_app(options(&llm)).await;
    let mut b = sign_in(&app).await;
    let dj = first_dj(&app).await;
    let id = create_mixtape(&mut b, dj, &[("schedule", "daily")]).await;
    generate(&mut b, id).await;
    let first_at: i64 = sqlx::query_scalar("SELECT generated_at FROM mixtapes WHERE id = ?1")
        .bind(id)
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    // Not due yet: a run of the job leaves it alone.
    let core = &app.state.core;
    spotter::jobs::trigger(core, JobName::Vibes, spotter::domain::jobs::Trigger::Manual)
        .await
        .unwrap();
    spotter::jobs::wait_idle(core, JobName::Vibes).await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM mixtapes WHERE generated_at > 0 AND status = 'ready'"
        )
        .await,
        1
    );
    // A day later it is.
    sqlx::query("UPDATE mixtapes SET generated_at = generated_at - 86401 WHERE id = ?1")
        .bind(id)
        .execute(&core.db)
        .await
        .unwrap();
    spotter::jobs::trigger(
        core,
        JobName::Vibes,
        spotter::domain::jobs::Trigger::Schedule,
    )
    .await
    .unwrap();
    spotter::jobs::wait_idle(core, JobName::Vibes).await;
    let again: i64 = sqlx::query_scalar("SELECT generated_at FROM mixtapes WHERE id = ?1")
        .bind(id)
        .fetch_one(&core.db)
        .await
        .unwrap();
    assert!(again >= first_at, "regenerated");
    let counts: String = sqlx::query_scalar(
        "SELECT counts FROM job_runs WHERE job = 'vibes' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&core.db)
    .await
    .unwrap();
    let counts: Value = serde_json::from_str(&counts).unwrap();
    assert_eq!(counts["scheduled"], 1, "{counts}");
    assert_eq!(counts["generated"], 1, "{counts}");
    // The schedule shows on the page and can be changed.
    let page = b.get(&format!("/vibes/mixtapes/{id}")).await;
    assert!(
        page.body.contains(r#"<option value="daily" selected>"#),
        "{}",
        page.body
    );
}

const PAYLOADS: [&str; 5] = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "{{ 7*7 }}",
    "{% if true %}TEMPLATE{% endif %}",
];

fn hostile(labels: &[String]) -> String {
    let all = PAYLOADS.join(" ");
    let mut tracks: Vec<Value> = labels
        .iter()
        .take(5)
        .map(|l| json!({"id": l, "reason": all, "title": all, "artist": all}))
        .collect();
    tracks.push(json!({"id": all, "reason": all}));
    json!({"intro": format!("{all}\n\njavascript:alert(2)"), "tracks": tracks, "outro": all})
        .to_string()
}

/// Whether `text` shows in `html` as escaped text (askama writes `<` as `&#60;`).
fn shows_escaped(html: &str, text: &str) -> bool {
    let numeric = text
        .replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;");
    let named = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    html.contains(&numeric) || html.contains(&named)
}

/// What no page may contain: a live tag, attribute or executable URL from the payloads.
fn assert_inert(html: &str) {
    for bad in [
        "<script>alert",
        "<img src=x",
        "onerror=alert(1)>",
        "<a href=\"javascript:",
        "href=\"javascript:",
        "src=\"javascript:",
        ">49<",
    ] {
        assert!(!html.contains(bad), "found {bad:?} in the page");
    }
}

#[tokio::test]
async fn everything_the_model_and_the_user_write_is_shown_as_text() {
    let llm = fake_llm(hostile).await;
    let app = spawn_app(options(&llm)).await;
    let mut b = sign_in(&app).await;
    // The user's own persona and mixtape name carry the payloads too.
    let all = PAYLOADS.join(" ");
    let csrf = b.csrf().await;
    let resp = b
        .post(
            "/vibes/djs",
            &[
                ("csrf_token", &csrf),
                ("name", "<script>alert(1)</script>"),
                ("personality", &all),
                ("vibes", &all),
                ("genres_include", "<img src=x onerror=alert(1)>"),
            ],
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let dj: i64 = sqlx::query_scalar("SELECT MAX(id) FROM dj_personas")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    let id = create_mixtape(&mut b, dj, &[]).await;
    let page = generate(&mut b, id).await;
    assert!(
        shows_escaped(&page.body, "<script>alert(1)</script>"),
        "{}",
        page.body
    );
    assert!(shows_escaped(&page.body, "<img src=x onerror=alert(1)>"));
    assert!(page.body.contains("{{ 7*7 }}"));
    assert!(page.body.contains("{% if true %}TEMPLATE{% endif %}"));
    assert!(page.body.contains("javascript:alert(2)"));
    assert_eq!(
        stored_tracks(&app, id).await.len(),
        5,
        "the garbage pick was dropped"
    );
    assert_inert(&page.body);
    for path in [
        format!("/vibes/mixtapes/{id}?prompt=1"),
        "/vibes/mixtapes".to_owned(),
        "/vibes/djs".to_owned(),
        format!("/vibes/djs/{dj}"),
    ] {
        let p = b.get(&path).await;
        assert_eq!(p.status, 200, "{path}");
        assert_inert(&p.body);
    }
    // A provider error text is escaped as well.
    llm.reset().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(
                json!({"error": {"message": "bad <script>alert(1)</script> request"}}),
            ),
        )
        .mount(&llm)
        .await;
    let page = generate(&mut b, id).await;
    assert!(
        shows_escaped(&page.body, "bad <script>alert(1)</script> request"),
        "{}",
        page.body
    );
    assert_inert(&page.body);
    let csrf = b.csrf().await;
    let tested = b
        .post("/preferences/ai/test", &[("csrf_token", &csrf)])
        .await;
    assert!(
        shows_escaped(&tested.body, "bad <script>alert(1)</script> request"),
        "{}",
        tested.body
    );
    assert_inert(&tested.body);
}

#[tokio::test]
async fn the_provider_sees_only_music_and_the_users_words() {
    let llm = fake_llm(good_answer).await;
    let app = spawn_app(options(&llm)).await;
    let mut b = sign_in(&app).await;
    let p = peer();
    // Every AI feature: the settings page (model list), Test connection, generation.
    assert_eq!(b.get("/preferences/ai").await.status, 200);
    let csrf = b.csrf().await;
    let tested = b
        .post("/preferences/ai/test", &[("csrf_token", &csrf)])
        .await;
    assert!(tested.body.contains("Connection ok"), "{}", tested.body);
    let dj = first_dj(&app).await;
    let id = create_mixtape(&mut b, dj, &[]).await;
    generate(&mut b, id).await;
    let seeded = create_mixtape(&mut b, dj, &[("seed_type", "artist"), ("seed_id", "nope")]).await;
    generate(&mut b, seeded).await;
    // Enhancing a playlist.
    let playlist: i64 = sqlx::query_scalar(
        "INSERT INTO playlists (user_id, service, remote_id, name, kind, imported_at)
         SELECT id, 'spotify', 'x', 'Road trip', 'user', 0 FROM users RETURNING id",
    )
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO playlist_tracks (playlist_id, position, title, artist, title_norm, artist_norm, track_id, match_method)
         SELECT ?1, 0, 't', 'a', 't', 'a', MIN(id), 'navidrome' FROM tracks",
    )
    .bind(playlist)
    .execute(&app.state.core.db)
    .await
    .unwrap();
    let csrf = b.csrf().await;
    let dj_s = dj.to_string();
    let resp = b
        .post(
            &format!("/playlists/{playlist}/enhance-vibes"),
            &[("csrf_token", &csrf), ("dj_id", &dj_s), ("add", "2")],
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    spotter::jobs::wait_idle(&app.state.core, JobName::Vibes).await;
    assert!(
        llm.received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("Road trip")),
        "the enhancement reached the provider"
    );

    let token = b.cookies.get("spotter_token").cloned().unwrap();
    let (session_id, user_id): (String, i64) =
        sqlx::query_as("SELECT jti, user_id FROM sessions LIMIT 1")
            .fetch_one(&app.state.core.db)
            .await
            .unwrap();
    let requests = llm.received_requests().await.unwrap();
    assert!(requests.len() >= 5, "{}", requests.len());
    let mut bodies = 0;
    for r in &requests {
        // The key goes in the Authorization header and nowhere else.
        assert_eq!(
            r.headers.get("authorization").and_then(|v| v.to_str().ok()),
            Some(&*format!("Bearer {KEY}"))
        );
        let body = String::from_utf8_lossy(&r.body);
        let url = r.url.as_str();
        for secret in [
            KEY,
            &token,
            &session_id,
            &p.guest_user,
            &p.guest_password,
            &p.user,
            spotter_key(),
        ] {
            assert!(!body.contains(secret), "a request body holds {secret:?}");
            assert!(!url.contains(secret), "a request URL holds {secret:?}");
        }
        for word in [
            "user_id", "username", "email", "e-mail", "account", "session", "@",
        ] {
            assert!(
                !body.to_ascii_lowercase().contains(word),
                "{word} in {body}"
            );
        }
        assert!(!body.contains(&format!("\"{user_id}\"")));
        if !r.body.is_empty() {
            bodies += 1;
        }
    }
    assert!(bodies >= 4);
}

fn spotter_key() -> &'static str {
    ENCRYPTION_KEY
}

#[tokio::test]
async fn without_a_provider_vibes_says_so_and_everything_else_works() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = sign_in(&app).await;
    let dj = first_dj(&app).await;
    let id = create_mixtape(&mut b, dj, &[]).await;
    let playlist: i64 = sqlx::query_scalar(
        "INSERT INTO playlists (user_id, service, remote_id, name, kind, imported_at)
         SELECT id, 'navidrome', 'x', 'Mine', 'navidrome', 0 FROM users RETURNING id",
    )
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    for path in [
        "/vibes/djs".to_owned(),
        "/vibes/mixtapes".to_owned(),
        format!("/vibes/mixtapes/{id}"),
        format!("/playlists/{playlist}/enhance-vibes"),
        "/preferences/ai".to_owned(),
    ] {
        let page = b.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(page.body.contains("No AI provider configured"), "{path}");
        assert!(page.body.contains("SPOTTER_OPENAI_API_KEY"), "{path}");
    }
    let csrf = b.csrf().await;
    let resp = b
        .post(
            &format!("/vibes/mixtapes/{id}/generate"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(
        resp.location(),
        Some(&*format!("/vibes/mixtapes/{id}?notice=not-configured"))
    );
    let page = b.get(resp.location().unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No AI provider configured"));
    let tested = b
        .post("/preferences/ai/test", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(tested.status, 200);
    assert!(tested.body.contains("No AI provider configured"));
    for path in ["/", "/library", "/playlists", "/preferences/tasks"] {
        assert_eq!(b.get(path).await.status, 200, "{path}");
    }
}

#[tokio::test]
async fn the_key_entered_in_the_ui_is_write_only_and_redacted_from_errors() {
    let llm = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": format!("Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys."),
            "type": "invalid_request_error"}})))
        .mount(&llm)
        .await;
    let app = spawn_app(Options::with_peer()).await;
    let mut b = sign_in(&app).await;
    let csrf = b.csrf().await;
    let base = format!("{}/v1", llm.uri());
    let resp = b
        .post(
            "/preferences/ai",
            &[
                ("csrf_token", &csrf),
                ("base_url", &base),
                ("model", "fake-dj-2"),
                ("api_key", KEY),
                ("daily_token_budget", "5000"),
            ],
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let page = b.get("/preferences/ai").await;
    assert!(page.body.contains("configured (…WXYZ)"), "{}", page.body);
    // Audited, without the key.
    let audit = b.get("/preferences/security").await;
    assert!(
        audit.body.contains("a new AI key was stored"),
        "{}",
        audit.body
    );
    assert!(!audit.body.contains(KEY));
    assert!(!page.body.contains(KEY) && !page.body.contains("0123456789abcdef"));
    // Stored sealed, never in clear.
    let stored: String = sqlx::query_scalar("SELECT api_key_enc FROM ai_settings")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    assert!(stored.starts_with("enc:v2:"));
    for (_, bytes) in db_files(&app) {
        assert!(!contains(&bytes, KEY.as_bytes()));
    }
    // Test connection shows the provider's words without the key.
    let tested = b
        .post("/preferences/ai/test", &[("csrf_token", &csrf)])
        .await;
    assert!(
        tested.body.contains("Incorrect API key provided"),
        "{}",
        tested.body
    );
    assert!(!tested.body.contains(KEY) && !tested.body.contains("0123456789abcdef"));
    // The settings page's key was the one sent.
    let sent = llm.received_requests().await.unwrap();
    assert!(sent.iter().any(
        |r| r.headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&*format!("Bearer {KEY}"))
    ));
    // Removing it.
    let resp = b
        .post(
            "/preferences/ai",
            &[
                ("csrf_token", &csrf),
                ("base_url", &base),
                ("clear_key", "1"),
            ],
        )
        .await;
    assert_eq!(resp.status, 303);
    let page = b.get("/preferences/ai").await;
    assert!(page.body.contains("not configured"));
}

#[tokio::test]
async fn environment_settings_win_and_show_as_such() {
    let llm = fake_llm(good_answer).await;
    let app = spawn_app(options(&llm).set("openai.model", "env-model")).await;
    let mut b = sign_in(&app).await;
    let page = b.get("/preferences/ai").await;
    assert!(page.body.contains("env-model"));
    assert!(page.body.contains("from the environment"));
    assert!(page.body.contains("configured (…WXYZ)"));
    assert!(!page.body.contains(KEY));
    // The endpoint's model list is offered.
    assert!(
        page.body.contains(r#"<option value="fake-dj-2">"#),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_daily_token_budget_refuses_further_generations() {
    let llm = fake_llm(good_answer).await;
    let app = spawn_app(options(&llm).set("vibes.daily_token_budget", "100")).await;
    let mut b = sign_in(&app).await;
    let dj = first_dj(&app).await;
    let id = create_mixtape(&mut b, dj, &[]).await;
    generate(&mut b, id).await;
    assert_eq!(
        count(
            &app,
            "SELECT SUM(prompt_tokens + completion_tokens) FROM llm_usage"
        )
        .await,
        150
    );
    let csrf = b.csrf().await;
    let resp = b
        .post(
            &format!("/vibes/mixtapes/{id}/generate"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(
        resp.location(),
        Some(&*format!("/vibes/mixtapes/{id}?notice=budget-spent"))
    );
    let page = b.get(resp.location().unwrap()).await;
    assert!(page.body.contains("token budget is spent"));
    let ai = b.get("/preferences/ai").await;
    assert!(ai.body.contains("150 tokens in 1 call"), "{}", ai.body);
}

#[tokio::test]
async fn sloppy_answers_are_repaired_and_useless_ones_fail_clearly() {
    // Code fences, prose, trailing commas, `track_id`, names instead of ids.
    let llm = fake_llm(|labels: &[String]| {
        let picks: Vec<String> = labels
            .iter()
            .take(5)
            .map(|l| format!("{{\"track_id\": \"{l}\", \"reason\": \"ok\",}}"))
            .collect();
        format!(
            "Here you go!\n```json\n{{\"intro\": \"Hi\", \"tracks\": [{},],}}\n```",
            picks.join(", ")
        )
    })
    .await;
    let app = spawn_app(options(&llm)).await;
    let mut b = sign_in(&app).await;
    let dj = first_dj(&app).await;
    let id = create_mixtape(&mut b, dj, &[]).await;
    let page = generate(&mut b, id).await;
    assert_eq!(stored_tracks(&app, id).await.len(), 5, "{}", page.body);

    // Only songs outside the list: a clear failure, nothing stored over the last result.
    llm.reset().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(FakeDj(|_: &[String]| {
            json!({"intro": "x", "tracks": [{"id": "c9999"}, {"title": "Not a real song", "artist": "Nobody"}]}).to_string()
        }))
        .mount(&llm)
        .await;
    let page = generate(&mut b, id).await;
    assert!(
        page.body.contains("The DJ picked only 0 usable songs"),
        "{}",
        page.body
    );
    assert_eq!(stored_tracks(&app, id).await.len(), 5);

    // Truncated JSON that cannot be repaired.
    llm.reset().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(FakeDj(|_: &[String]| {
            "{\"intro\": \"Once upon a ti".to_owned()
        }))
        .mount(&llm)
        .await;
    let page = generate(&mut b, id).await;
    assert!(
        page.body.contains("was not JSON that could be read"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn another_users_mixtape_or_dj_is_not_found_and_bad_input_is_a_4xx() {
    let llm = fake_llm(good_answer).await;
    let app = spawn_app(options(&llm)).await;
    let mut b = sign_in(&app).await;
    for path in [
        "/vibes/mixtapes/999999",
        "/vibes/djs/999999",
        "/vibes/mixtapes/abc",
        "/vibes/djs/-1",
    ] {
        assert_eq!(b.get(path).await.status, 404, "{path}");
    }
    let csrf = b.csrf().await;
    for (path, form) in [
        (
            "/vibes/mixtapes",
            vec![
                ("csrf_token", csrf.as_str()),
                ("name", "x"),
                ("dj_id", "1"),
                ("max_tracks", "lots"),
            ],
        ),
        (
            "/vibes/mixtapes",
            vec![
                ("csrf_token", csrf.as_str()),
                ("name", "x"),
                ("dj_id", "1"),
                ("seed_type", "planet"),
                ("seed_id", "x"),
            ],
        ),
        (
            "/vibes/mixtapes/999999/generate",
            vec![("csrf_token", csrf.as_str())],
        ),
        (
            "/vibes/mixtapes/999999/save",
            vec![("csrf_token", csrf.as_str())],
        ),
    ] {
        let resp = b.post(path, &form).await;
        assert!((400..500).contains(&resp.status), "{path}: {}", resp.status);
    }
    // A DJ that is not the user's cannot be used.
    let resp = b
        .post(
            "/vibes/mixtapes",
            &[("csrf_token", &csrf), ("name", "x"), ("dj_id", "424242")],
        )
        .await;
    assert_eq!(resp.status, 422);
    assert!(resp.body.contains("Choose one of your DJs."));
    // Without the CSRF token nothing changes.
    let resp = b.post("/vibes/djs", &[("name", "Sneaky")]).await;
    assert_eq!(resp.status, 403);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM dj_personas WHERE name = 'Sneaky'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_navidrome_playlist_is_enhanced_in_place_or_as_a_new_mixtape() {
    // Shuffle the playlist's own songs: the fake answers e3, e2, e1 and then two new ones.
    let llm = fake_llm(|labels: &[String]| {
        let mut picks: Vec<Value> = labels
            .iter()
            .filter(|l| l.starts_with('e'))
            .rev()
            .map(|l| json!({"id": l, "reason": "moved"}))
            .collect();
        picks.extend(
            labels
                .iter()
                .filter(|l| l.starts_with('c'))
                .take(2)
                .map(|l| json!({"id": l, "reason": "added"})),
        );
        json!({"intro": "Better now.", "tracks": picks, "outro": "Enjoy."}).to_string()
    })
    .await;
    let app = spawn_app(options(&llm)).await;
    let mut b = sign_in(&app).await;
    // A Navidrome playlist of three library songs, on the peer and as imported.
    let songs: Vec<String> = sqlx::query_scalar("SELECT id FROM tracks ORDER BY id LIMIT 3")
        .fetch_all(&app.state.core.db)
        .await
        .unwrap();
    let name = format!("spotter-enhance-{}", spotter::crypto::random_token(6));
    let created = subsonic(
        "createPlaylist",
        &[
            ("name", &name),
            ("songId", &songs[0]),
            ("songId", &songs[1]),
            ("songId", &songs[2]),
        ],
    )
    .await;
    let remote_id = created["playlist"]["id"].as_str().unwrap().to_owned();
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    let playlist: i64 = sqlx::query_scalar(
        "INSERT INTO playlists (user_id, service, remote_id, name, kind, track_count, imported_at)
         VALUES (?1, 'navidrome', ?2, ?3, 'navidrome', 3, 0) RETURNING id",
    )
    .bind(user_id)
    .bind(&remote_id)
    .bind(&name)
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    for (i, s) in songs.iter().enumerate() {
        sqlx::query(
            "INSERT INTO playlist_tracks (playlist_id, position, title, artist, title_norm, artist_norm, track_id, match_method)
             VALUES (?1, ?2, 't', 'a', 't', 'a', ?3, 'navidrome')",
        )
        .bind(playlist)
        .bind(i as i64)
        .bind(s)
        .execute(&app.state.core.db)
        .await
        .unwrap();
    }
    let form = b.get(&format!("/playlists/{playlist}/enhance-vibes")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("one_time"));
    let dj = first_dj(&app).await.to_string();
    let csrf = b.csrf().await;
    let resp = b
        .post(
            &format!("/playlists/{playlist}/enhance-vibes"),
            &[
                ("csrf_token", &csrf),
                ("dj_id", &dj),
                ("add", "2"),
                ("mode", "one_time"),
            ],
        )
        .await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    spotter::jobs::wait_idle(&app.state.core, JobName::Vibes).await;
    let mixtape: i64 = sqlx::query_scalar("SELECT id FROM mixtapes WHERE source_playlist_id = ?1")
        .bind(playlist)
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    let stored = stored_tracks(&app, mixtape).await;
    let remote = subsonic("getPlaylist", &[("id", &remote_id)]).await;
    subsonic("deletePlaylist", &[("id", &remote_id)]).await;
    let remote_name = remote["playlist"]["name"].as_str().unwrap_or("").to_owned();
    let remote: Vec<String> = remote["playlist"]["entry"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(stored.len(), 5, "three kept, two added");
    assert_eq!(
        &stored[..3],
        &[songs[2].clone(), songs[1].clone(), songs[0].clone()]
    );
    assert!(!songs.contains(&stored[3]) && !songs.contains(&stored[4]));
    assert_eq!(
        remote, stored,
        "written back into the same Navidrome playlist"
    );
    assert_eq!(remote_name, name, "its name is kept");
    let page = b.get(&format!("/vibes/mixtapes/{mixtape}")).await;
    assert!(page.body.contains("Better now."));
    assert!(page.body.contains("written back into it in Navidrome"));

    // As a new mixtape: the playlist is left alone; a Spotify playlist cannot go in place.
    let resp = b
        .post(
            &format!("/playlists/{playlist}/enhance-vibes"),
            &[
                ("csrf_token", &csrf),
                ("dj_id", &dj),
                ("add", "1"),
                ("mode", "convert_to_mixtape"),
            ],
        )
        .await;
    assert_eq!(resp.status, 303);
    spotter::jobs::wait_idle(&app.state.core, JobName::Vibes).await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM mixtapes WHERE source_playlist_id IS NOT NULL AND navidrome_playlist_id IS NULL AND status = 'ready'").await,
        1
    );
    sqlx::query("UPDATE playlists SET service = 'spotify', kind = 'user' WHERE id = ?1")
        .bind(playlist)
        .execute(&app.state.core.db)
        .await
        .unwrap();
    let resp = b
        .post(
            &format!("/playlists/{playlist}/enhance-vibes"),
            &[("csrf_token", &csrf), ("dj_id", &dj), ("mode", "one_time")],
        )
        .await;
    assert_eq!(resp.status, 422);
    assert!(
        resp.body
            .contains("Only a Navidrome playlist can be rewritten in place")
    );
}

#[tokio::test]
async fn an_artist_page_lists_similar_artists_of_the_library() {
    let llm = fake_llm(|_: &[String]| {
        json!({"artists": [{"id": "a1", "reason": "<script>alert(1)</script> A fine next step."}]})
            .to_string()
    })
    .await;
    let app = spawn_app(options(&llm)).await;
    let mut b = sign_in(&app).await;
    let artists: Vec<(String, String)> = sqlx::query_as(
        "SELECT artist_id, MIN(id) FROM tracks WHERE artist_id IS NOT NULL GROUP BY artist_id ORDER BY artist_id LIMIT 2",
    )
    .fetch_all(&app.state.core.db)
    .await
    .unwrap();
    assert_eq!(artists.len(), 2, "the peer has two artists");
    let user_id: i64 = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    // The two artists share a playlist and were played ten minutes apart. The rows are linked
    // by Navidrome id, as the matcher (which may run after the sign-in's import) leaves them.
    let playlist: i64 = sqlx::query_scalar(
        "INSERT INTO playlists (user_id, service, remote_id, name, kind, imported_at)
         VALUES (?1, 'spotify', 'x', 'Mix', 'user', 0) RETURNING id",
    )
    .bind(user_id)
    .fetch_one(&app.state.core.db)
    .await
    .unwrap();
    for (i, (_, track)) in artists.iter().enumerate() {
        sqlx::query(
            "INSERT INTO playlist_tracks (playlist_id, position, title, artist, title_norm, artist_norm, track_id, match_method)
             VALUES (?1, ?2, 't', 'a', 't', 'a', ?3, 'navidrome')",
        )
        .bind(playlist)
        .bind(i as i64)
        .bind(track)
        .execute(&app.state.core.db)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO listens (user_id, played_at, title, artist, title_norm, artist_norm, track_id, match_method)
             VALUES (?1, ?2, 't', 'a', 't', 'a', ?3, 'navidrome')",
        )
        .bind(user_id)
        .bind(1_000_000 + i as i64 * 600)
        .bind(track)
        .execute(&app.state.core.db)
        .await
        .unwrap();
    }
    let page = b
        .get(&format!("/library/artists/{}", urlencode(&artists[0].0)))
        .await;
    assert_eq!(page.status, 200);
    let section = page.body.split("id=\"similar-artists\"").nth(1).unwrap();
    assert!(
        section.contains(&format!("/library/artists/{}", urlencode(&artists[1].0))),
        "{section}"
    );
    assert!(
        section.contains("played near it 1 time · together in 1 playlist"),
        "{section}"
    );

    // A DJ ranks them, with reasons shown as text.
    let dj = first_dj(&app).await.to_string();
    let csrf = b.csrf().await;
    let ranked = b
        .post(
            &format!("/library/artists/{}/similar-dj", urlencode(&artists[0].0)),
            &[("csrf_token", &csrf), ("dj_id", &dj)],
        )
        .await;
    assert_eq!(ranked.status, 200, "{}", ranked.body);
    assert!(
        ranked.body.contains("as Roxy Riot hears it"),
        "{}",
        ranked.body
    );
    assert!(ranked.body.contains("A fine next step."));
    assert!(shows_escaped(&ranked.body, "<script>alert(1)</script>"));
    assert_inert(&ranked.body);
    let prompt = llm.received_requests().await.unwrap();
    let body = String::from_utf8_lossy(&prompt.last().unwrap().body).into_owned();
    assert!(body.contains("a1 | "), "{body}");
    assert!(!body.contains(&peer().guest_user));
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn rotation_and_clear_credentials_cover_the_ui_key() {
    use secrecy::ExposeSecret;
    use spotter::crypto::registry::AI_API_KEY;
    use spotter::crypto::{FieldCipher, FieldRef};
    let app = spawn_app(Options::with_peer()).await;
    let mut b = sign_in(&app).await;
    let csrf = b.csrf().await;
    let resp = b
        .post(
            "/preferences/ai",
            &[("csrf_token", &csrf), ("api_key", KEY)],
        )
        .await;
    assert_eq!(resp.status, 303);
    let user: String = sqlx::query_scalar("SELECT CAST(user_id AS TEXT) FROM ai_settings")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    let hex: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&ENCRYPTION_KEY[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    let old = spotter::config::EncryptionKey::from_bytes(hex.try_into().unwrap());
    let new = spotter::config::EncryptionKey::from_bytes([0x6b; 32]);
    let rotating = FieldCipher::new(&new, Some(&old));
    let new_only = FieldCipher::new(&new, None);
    spotter::db::rotation::reencrypt_all(&app.state.core.db, &rotating, &new_only, false)
        .await
        .unwrap();
    let stored: String = sqlx::query_scalar("SELECT api_key_enc FROM ai_settings")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    let field = FieldRef {
        column: &AI_API_KEY,
        row_key: &user,
    };
    assert_eq!(
        new_only.open(field, &stored).unwrap().value.expose_secret(),
        KEY
    );
    // Bound to its row.
    let other = FieldRef {
        column: &AI_API_KEY,
        row_key: "999",
    };
    assert!(new_only.open(other, &stored).is_err());
    spotter::db::credentials::clear_all(&app.state.core.db)
        .await
        .unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM ai_settings WHERE api_key_enc IS NOT NULL"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn an_operator_prompt_directory_replaces_the_built_in_prompt() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("generate_mixtape.txt"),
        "HOUSE PROMPT for {{count}} songs.\n{{candidates}}\nAnswer in JSON.",
    )
    .unwrap();
    let llm = fake_llm(good_answer).await;
    let app =
        spawn_app(options(&llm).set("vibes.prompts_directory", &dir.path().display().to_string()))
            .await;
    let mut b = sign_in(&app).await;
    let dj = first_dj(&app).await;
    let id = create_mixtape(&mut b, dj, &[]).await;
    generate(&mut b, id).await;
    assert_eq!(stored_tracks(&app, id).await.len(), 5);
    let sent = llm.received_requests().await.unwrap();
    let body = String::from_utf8_lossy(&sent.last().unwrap().body).into_owned();
    assert!(body.contains("HOUSE PROMPT for 5 songs."), "{body}");
    // The system prompt was not replaced: still the built-in one.
    assert!(body.contains("You are Roxy Riot"), "{body}");
}

#[tokio::test]
async fn djs_are_created_edited_and_deleted_unless_in_use() {
    let app = spawn_app(Options::with_peer()).await;
    let mut b = sign_in(&app).await;
    let csrf = b.csrf().await;
    let form = |name: &'static str| {
        vec![
            ("name", name),
            ("personality", "Calm.\n\nVery calm."),
            ("genres_include", "Ambient, ambient ,Drone"),
            ("vibes", "slow"),
        ]
    };
    let mut create = form("Night Owl");
    create.push(("csrf_token", &csrf));
    let resp = b.post("/vibes/djs", &create).await;
    assert_eq!(resp.status, 303, "{}", resp.body);
    let loc = resp.location().unwrap().to_owned();
    let id: i64 = loc
        .trim_start_matches("/vibes/djs/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let page = b.get(&loc).await;
    assert!(page.body.contains("<p>Calm.</p>") && page.body.contains("<p>Very calm.</p>"));
    assert!(
        page.body.contains(r#"value="Ambient, Drone""#),
        "{}",
        page.body
    );
    // The same name again is refused; so is an empty one.
    let again = b.post("/vibes/djs", &create).await;
    assert_eq!(again.location(), Some("/vibes/djs?notice=name-taken"));
    let mut empty = form(" ");
    empty.push(("csrf_token", &csrf));
    let resp = b.post("/vibes/djs", &empty).await;
    assert_eq!(resp.status, 422);
    assert!(resp.body.contains("Give the DJ a name."));
    // Edit.
    let mut edit = form("Night Owl II");
    edit.push(("csrf_token", &csrf));
    let resp = b.post(&format!("/vibes/djs/{id}"), &edit).await;
    assert_eq!(resp.status, 303);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM dj_personas WHERE name = 'Night Owl II'"
        )
        .await,
        1
    );
    // In use: not deleted; once its mixtape is gone: deleted.
    let mixtape = create_mixtape(&mut b, id, &[]).await;
    let resp = b
        .post(&format!("/vibes/djs/{id}/delete"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(resp.location(), Some("/vibes/djs?notice=dj-in-use"));
    let resp = b
        .post(
            &format!("/vibes/mixtapes/{mixtape}/delete"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(
        resp.location(),
        Some("/vibes/mixtapes?notice=mixtape-deleted")
    );
    let resp = b
        .post(&format!("/vibes/djs/{id}/delete"), &[("csrf_token", &csrf)])
        .await;
    assert_eq!(resp.location(), Some("/vibes/djs?notice=dj-deleted"));
    assert_eq!(b.get(&format!("/vibes/djs/{id}")).await.status, 404);
    // The starters are not seeded again on the next visit.
    sqlx::query("DELETE FROM dj_personas WHERE name = 'Marlowe'")
        .execute(&app.state.core.db)
        .await
        .unwrap();
    b.get("/vibes/djs").await;
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM dj_personas WHERE name = 'Marlowe'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_page_rendered_while_generating_gets_the_finished_event_even_if_its_stream_opens_later() {
    let llm = fake_llm(good_answer).await;
    let app = spawn_app(options(&llm)).await;
    let mut b = sign_in(&app).await;
    let dj = first_dj(&app).await;
    let id = create_mixtape(&mut b, dj, &[]).await;
    sqlx::query("UPDATE mixtapes SET status = 'queued' WHERE id = ?1")
        .bind(id)
        .execute(&app.state.core.db)
        .await
        .unwrap();

    // The page names the last event it was rendered at ...
    let page = b.get(&format!("/vibes/mixtapes/{id}")).await;
    assert!(page.body.contains("The DJ is at work"), "{}", page.body);
    let after: u64 = page
        .body
        .split("data-events-after=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .expect("the waiting page carries data-events-after");
    assert_eq!(after, app.state.core.events.last_id());

    // ... the job finishes before the page's stream is open ...
    let finished = app.state.core.events.publish(
        "job",
        json!({"job": "vibes", "state": "finished", "outcome": "ok"}).to_string(),
    );
    assert!(finished > after);

    // ... and the stream opened "after" it replays that event.
    let cookie: Vec<String> = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut stream = app
        .http
        .get(format!("{}/events?after={after}", app.base))
        .header("accept", "text/event-stream")
        .header("cookie", cookie.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    // Nothing else is published: without the replay the stream would only send heartbeats.
    let mut got = String::new();
    let replayed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !got.contains(&format!("id: {finished}")) {
            got.push_str(&String::from_utf8_lossy(
                &stream.chunk().await.unwrap().unwrap(),
            ));
        }
    })
    .await;
    assert!(replayed.is_ok(), "the event was not replayed: {got}");
    assert!(got.contains("\"state\":\"finished\""), "{got}");
}
