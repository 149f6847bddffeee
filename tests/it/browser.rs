//! The real-browser test (SPEC §7, issue 14): Debian's headless Chromium signs in through the
//! login form, links ListenBrainz through its form, syncs, and visits every signed-in page at
//! 1280 and 390 px: no console error, no CSP violation, no page wider than the window, and a
//! screenshot of each page at each width in `target/screenshots/`.
//!
//! To add a flow (a mixtape, say): a step with `kit.visit`, `kit.fill`, `kit.submit`, then
//! `kit.assert_no_console_errors`, and its pages to `PAGES` or `discovered`.

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::browser_kit::Kit;
use crate::fakes::*;
use crate::harness::*;

const LB_TOKEN: &str = "3f9a6c1e-7b2d-4e8f-a1c3-5d7e9f0b2c4a";
const PHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                        (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const HOSTILE_TITLE: &str = "<script>alert('listen')</script>";
/// What the fake AI DJ writes into every field of its answer.
const HOSTILE_DJ: &str = "<script>alert(1)</script> <img src=x onerror=alert(1)> \
                          <a href=\"javascript:alert(1)\">x</a> {{ 7*7 }} {% if true %}y{% endif %}";

/// The signed-in pages with fixed addresses: (screenshot name, path).
const PAGES: &[(&str, &str)] = &[
    ("dashboard", "/"),
    ("listens", "/listens"),
    ("playlists", "/playlists"),
    ("library", "/library"),
    ("review", "/review"),
    ("services", "/preferences/providers"),
    ("listenbrainz-connect", "/auth/listenbrainz/connect"),
    ("tasks", "/preferences/tasks"),
    ("security", "/preferences/security"),
    ("notifications", "/notifications"),
    ("vibes-mixtapes", "/vibes/mixtapes"),
    ("vibes-djs", "/vibes/djs"),
    ("ai-settings", "/preferences/ai"),
    ("not-found", "/no/such/page"),
];

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// ListenBrainz answers: a few plays of tracks in the peer's library, one that is not, and
/// one whose title is markup (it must show as text).
async fn mount_listenbrainz(f: &Fakes) {
    mount_lb_validate(&f.listenbrainz, LB_TOKEN, "lb-listener").await;
    let t = now() - 600;
    let plays = [
        ("Hoppípolla", "Sigur Rós", "Takk..."),
        (
            "Crazy in Love (feat. Jay-Z)",
            "Beyoncé feat. Jay-Z",
            "Dangerously in Love",
        ),
        ("Energy Flow", "坂本龍一", "Playing the Piano"),
        ("Love On Top", "Beyoncé", "4"),
        ("Svefn-g-englar", "Sigur Rós", "Ágætis byrjun"),
        ("A Song Nobody Has", "Unknown Band", "Somewhere"),
        (HOSTILE_TITLE, "Evil & Co", "Album"),
    ];
    let listens: Vec<serde_json::Value> = plays
        .iter()
        .enumerate()
        .map(|(i, (title, artist, album))| {
            json!({
                "listened_at": t - 240 * i as i64,
                "recording_msid": format!("msid-{i}"),
                "track_metadata": {
                    "track_name": title, "artist_name": artist, "release_name": album,
                    "additional_info": {"duration_ms": 200000}
                }
            })
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/1/user/lb-listener/listens"))
        .and(header(
            "authorization",
            format!("Token {LB_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "payload": {"count": listens.len(), "user_id": "lb-listener", "listens": listens}
        })))
        .mount(&f.listenbrainz)
        .await;
    // Playlists: none (the Navidrome ones come from the peer).
    Mock::given(method("GET"))
        .and(path("/1/user/lb-listener/playlists"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "playlist_count": 0, "count": 0, "offset": 0, "playlists": []
        })))
        .mount(&f.listenbrainz)
        .await;
    Mock::given(method("GET"))
        .and(path("/1/user/lb-listener/playlists/createdfor"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "playlist_count": 0, "count": 0, "offset": 0, "playlists": []
        })))
        .mount(&f.listenbrainz)
        .await;
}

/// Poll the database until `sql` counts at least `n` (background jobs write there).
async fn wait_for_rows(app: &TestApp, sql: &str, n: i64, what: &str) {
    let started = std::time::Instant::now();
    while count(app, sql).await < n {
        if started.elapsed() > std::time::Duration::from_secs(15) {
            let runs: Vec<(String, String, String, String)> =
                sqlx::query_as("SELECT job, trigger, outcome, error FROM job_runs ORDER BY id")
                    .fetch_all(&app.state.core.db)
                    .await
                    .unwrap();
            panic!("waited 15 s for {what}; job runs: {runs:#?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// Look at the page now shown at the kit's width: no browser problem, no sideways scroll, a
/// screenshot.
async fn check_page(kit: &mut Kit, name: &str) {
    kit.assert_no_console_errors(name).await;
    kit.assert_fits_width(&format!("{name} at {} px", kit.width()))
        .await;
    kit.screenshot(name).await;
}

/// The first link on the page matching `selector`, as a path.
async fn first_link(kit: &Kit, selector: &str) -> Option<String> {
    let href = kit
        .eval::<String>(&format!(
            "(function () {{ var a = document.querySelector({sel}); \
             return a ? a.pathname + a.search : ''; }})()",
            sel = serde_json::to_string(selector).unwrap()
        ))
        .await;
    (!href.is_empty()).then_some(href)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_in_a_real_browser_at_1280_and_390_px() {
    // A stuck step fails the test (and, by dropping the kit, stops Chromium) within 2 minutes.
    tokio::time::timeout(std::time::Duration::from_secs(120), flow())
        .await
        .expect("the browser test did not finish within 2 minutes");
}

async fn flow() {
    // Server warnings appear in the output of a failing run.
    let _ = tracing_subscriber::fmt()
        .with_env_filter("spotter=warn")
        .with_test_writer()
        .try_init();
    let started = std::time::Instant::now();
    let f = Fakes::start().await;
    mount_listenbrainz(&f).await;
    // The AI DJ: an OpenAI-compatible fake whose every field is markup.
    let llm = crate::vibes::fake_llm(|labels: &[String]| {
        let tracks: Vec<serde_json::Value> = labels
            .iter()
            .take(5)
            .map(|l| json!({"id": l, "reason": HOSTILE_DJ}))
            .collect();
        json!({"intro": HOSTILE_DJ, "tracks": tracks, "outro": HOSTILE_DJ}).to_string()
    })
    .await;
    let app = spawn_app(
        f.options()
            .set("openai.base_url", &format!("{}/v1", llm.uri()))
            .set("openai.api_key", crate::vibes::KEY),
    )
    .await;
    let Some(mut kit) = Kit::launch(&app.base).await else {
        return;
    };

    // The kit itself: a CSP violation, a console error and an overflow are all noticed.
    assert_eq!(kit.visit("/auth/login").await, 200);
    let _: bool = kit
        .eval(
            "(function () { document.body.setAttribute('style', 'color: red'); \
             var s = document.createElement('script'); s.textContent = '1'; \
             document.body.appendChild(s); console.error('kit self-test'); \
             var w = document.createElement('div'); w.id = 'kit-wide'; \
             w.className = 'kit'; w.textContent = 'x'; \
             w.setAttribute('hidden', ''); document.body.appendChild(w); return true; })()",
        )
        .await;
    kit.wait_for("window.__kitViolations.length >= 2").await;
    let problems = kit.take_problems().await;
    let all = problems.join("\n");
    assert!(all.contains("kit self-test"), "console errors seen: {all}");
    assert!(
        all.contains("CSP violation: style-src-attr") || all.contains("style-src"),
        "{all}"
    );
    assert!(all.contains("script-src"), "{all}");
    let _: bool = kit
        .eval("(document.getElementById('kit-wide').style.width = '2000px', document.getElementById('kit-wide').hidden = false, true)")
        .await;
    let overflow = kit.overflow().await.expect("a 2000 px element overflows");
    assert!(overflow.contains("div#kit-wide.kit"), "{overflow}");

    // Signed out: the login page at both widths, and a page asked for before signing in.
    for width in [1280, 390] {
        kit.set_width(width).await;
        assert_eq!(kit.visit("/auth/login").await, 200);
        check_page(&mut kit, "login").await;
    }
    kit.set_width(1280).await;
    kit.visit("/preferences/tasks").await;
    assert_eq!(kit.path().await, "/auth/login?next=%2Fpreferences%2Ftasks");

    // Sign in through the real form: back on the page asked for.
    let p = peer();
    kit.fill("input[name=username]", &p.user).await;
    kit.fill("input[name=password]", &p.password).await;
    assert_eq!(kit.submit("form[action='/login']").await, 200);
    assert_eq!(kit.path().await, "/preferences/tasks");
    kit.assert_no_console_errors("signing in").await;
    spotter::jobs::wait_idle(
        &app.state.core,
        spotter::domain::jobs::JobName::LibraryImport,
    )
    .await;

    // Link ListenBrainz through its form, then sync it from the Services page.
    assert_eq!(kit.visit("/auth/listenbrainz/connect").await, 200);
    kit.fill("input[name=token]", LB_TOKEN).await;
    assert_eq!(
        kit.submit("form[action='/auth/listenbrainz/connect']")
            .await,
        200
    );
    assert_eq!(
        kit.path().await,
        "/preferences/providers?notice=linked-listenbrainz"
    );
    assert!(kit.text().await.contains("lb-listener"));
    kit.assert_no_console_errors("linking ListenBrainz").await;
    assert_eq!(
        kit.submit("form[action='/preferences/listenbrainz/sync']")
            .await,
        200
    );
    kit.assert_no_console_errors("syncing ListenBrainz").await;
    // The sync and the matching it starts run in the background: wait for their rows.
    wait_for_rows(
        &app,
        "SELECT COUNT(*) FROM listens",
        7,
        "the ListenBrainz listens",
    )
    .await;
    wait_for_rows(
        &app,
        "SELECT COUNT(*) FROM job_runs WHERE job = 'matching' AND outcome = 'ok' AND id > \
         (SELECT MAX(id) FROM job_runs WHERE job = 'listenbrainz_history')",
        1,
        "a matching run after the sync",
    )
    .await;

    // A mixtape from the AI DJ: created through the form, generated in the background, its
    // page showing the DJ's markup as text.
    assert_eq!(kit.visit("/vibes/mixtapes").await, 200);
    kit.fill("#mx-name", "Browser mix").await;
    let _: bool = kit
        .eval("(document.querySelector('#mx-len').value = '5', true)")
        .await;
    assert_eq!(kit.submit("form[action='/vibes/mixtapes']").await, 200);
    let mixtape = kit.path().await;
    assert!(mixtape.starts_with("/vibes/mixtapes/"), "{mixtape}");
    kit.set_app_script(false).await;
    assert_eq!(kit.submit("form[action$='/generate']").await, 200);
    let mixtape_id: i64 = mixtape
        .trim_start_matches("/vibes/mixtapes/")
        .parse()
        .unwrap();
    wait_for_rows(
        &app,
        &format!("SELECT COUNT(*) FROM mixtapes WHERE id = {mixtape_id} AND status = 'ready'"),
        1,
        "the generated mixtape",
    )
    .await;
    // Seen without app.js meanwhile: a busy page reloads itself when the run ends, and a
    // visit by the test would race that reload.
    kit.assert_no_console_errors_but_blocked_script("generating a mixtape")
        .await;
    kit.set_app_script(true).await;
    assert_eq!(kit.visit(&mixtape).await, 200);
    let text = kit.text().await;
    assert!(
        text.contains("<script>alert(1)</script>") && text.contains("{{ 7*7 }}"),
        "the DJ's words are not shown as text: {text}"
    );
    assert!(
        kit.eval::<bool>(
            "[...document.scripts].every(s => s.src !== '') \
             && document.querySelector('img[onerror], a[href^=\"javascript:\"]') === null"
        )
        .await,
        "the DJ's markup became elements"
    );
    kit.assert_no_console_errors("the mixtape page").await;
    assert_eq!(kit.visit("/preferences/providers").await, 200);

    // "Test connection" answers next to its button, naming the service.
    assert_eq!(
        kit.submit("form[action='/preferences/listenbrainz/test']")
            .await,
        200
    );
    let result = kit
        .eval::<String>(
            "(document.querySelector('#service-listenbrainz .test-result') || {innerText: ''}).innerText",
        )
        .await;
    assert!(result.contains("ListenBrainz"), "test result: {result:?}");
    assert_eq!(
        kit.path().await,
        "/preferences/providers?notice=test-ok&service=listenbrainz"
    );
    check_page(&mut kit, "services-tested").await;
    // The toasts' history lists what happened, with who and from where.
    kit.visit("/notifications").await;
    let history = kit.text().await;
    assert!(
        history.contains("Service linked") && history.contains("ListenBrainz"),
        "{history}"
    );

    // A second device (a phone) signs in, so the Security page lists two sessions.
    let mut phone = Browser::new(&app);
    phone
        .extra_headers
        .insert("user-agent", PHONE_UA.parse().unwrap());
    phone.login_ok(&p.user, &p.password).await;

    // Pages reached through links: an artist, an album, a playlist, a review case.
    let mut pages: Vec<(String, String)> = PAGES
        .iter()
        .map(|(n, p)| ((*n).to_owned(), (*p).to_owned()))
        .collect();
    kit.visit("/library").await;
    if let Some(artist) = first_link(&kit, "a[href^='/library/artists/']").await {
        pages.push(("artist".into(), artist.clone()));
        kit.visit(&artist).await;
        if let Some(album) = first_link(&kit, "a[href^='/library/albums/']").await {
            pages.push(("album".into(), album));
        }
    }
    kit.visit("/playlists").await;
    if let Some(pl) = first_link(&kit, "a[href^='/playlists/']").await {
        pages.push(("playlist".into(), pl));
    }
    pages.push(("mixtape".into(), mixtape.clone()));
    kit.visit("/review").await;
    if let Some(case) = first_link(&kit, "a[href^='/review/']").await {
        pages.push(("review-case".into(), case));
    }
    kit.assert_no_console_errors("finding the pages").await;

    for width in [1280, 390] {
        kit.set_width(width).await;
        for (name, path) in &pages {
            let status = kit.visit(path).await;
            let expected = if *name == "not-found" { 404 } else { 200 };
            assert_eq!(status, expected, "{path} at {width} px");
            assert!(
                kit.eval::<bool>("document.querySelector('nav.nav') !== null")
                    .await,
                "{path}: the signed-in navigation is missing"
            );
            check_page(&mut kit, name).await;
        }
    }

    // Revoking the phone asks first (no script needed: a details element), then tells the
    // phone why it was signed out.
    kit.set_width(1280).await;
    kit.visit("/preferences/security").await;
    kit.click("tr:not(.current) details.confirm summary").await;
    kit.wait_for("document.querySelector('tr:not(.current) details.confirm').open")
        .await;
    check_page(&mut kit, "security-confirm-revoke").await;
    assert_eq!(
        kit.submit("tr:not(.current) details.confirm form").await,
        200
    );
    assert_eq!(kit.path().await, "/preferences/security?notice=revoked");
    assert_eq!(
        phone.get("/listens").await.location(),
        Some("/auth/login?notice=revoked&next=%2Flistens")
    );

    // The other way round: the phone signs in again and revokes this browser, whose next page
    // says so and, after signing in, returns to the page asked for.
    phone.login_ok(&p.user, &p.password).await;
    kit.set_width(1280).await;
    kit.visit("/review").await;
    // The page's live stream is open before the revocation happens.
    kit.wait_for("document.body.dataset.stream === 'open'")
        .await;
    let page = phone.get("/preferences/security").await;
    let csrf = page.csrf();
    // This browser's session is the one the phone did not just start.
    let mine: String = sqlx::query_scalar("SELECT jti FROM sessions ORDER BY rowid LIMIT 1")
        .fetch_one(&app.state.core.db)
        .await
        .unwrap();
    let r = phone
        .post(
            &format!("/preferences/security/sessions/{mine}/revoke"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(
        r.location(),
        Some("/preferences/security?notice=revoked"),
        "{} {}",
        r.status,
        r.body
    );
    // The open page does not go stale: its stream ends, and the page reloads into the
    // sign-in page that says why (no visit by the test).
    kit.wait_for("location.pathname === '/auth/login'").await;
    kit.wait_for("document.readyState === 'complete'").await;
    // The refused reconnection of the stream is what made the page reload.
    kit.expect_problem(&["status of 401", "/events"]);
    let told = "/auth/login?notice=revoked&next=%2Freview";
    assert_eq!(kit.path().await, told);
    assert!(
        kit.text()
            .await
            .contains("You were signed out from another device")
    );
    check_page(&mut kit, "login-revoked").await;
    // The cookie is gone now; the same page at 390 px for its screenshot.
    kit.set_width(390).await;
    kit.visit(told).await;
    check_page(&mut kit, "login-revoked").await;
    kit.fill("input[name=username]", &p.user).await;
    kit.fill("input[name=password]", &p.password).await;
    assert_eq!(kit.submit("form[action='/login']").await, 200);
    assert_eq!(kit.path().await, "/review");

    // Without JavaScript: the confirmation still opens and the pages still work.
    kit.set_app_script(false).await;
    kit.set_width(390).await;
    kit.visit("/preferences/security").await;
    kit.click("tr:not(.current) details.confirm summary").await;
    kit.wait_for("document.querySelector('tr:not(.current) details.confirm').open")
        .await;
    kit.assert_no_console_errors_but_blocked_script("the confirmation without JavaScript")
        .await;
    kit.assert_fits_width("the confirmation without JavaScript")
        .await;
    kit.screenshot("security-confirm-revoke-nojs").await;
    for path in ["/", "/preferences/providers", "/listens"] {
        assert_eq!(kit.visit(path).await, 200, "{path} without JavaScript");
        kit.assert_no_console_errors_but_blocked_script(path).await;
        kit.assert_fits_width(path).await;
    }
    kit.set_app_script(true).await;

    // A listen titled with markup is shown as text.
    kit.set_width(1280).await;
    kit.visit("/listens").await;
    assert!(kit.text().await.contains(HOSTILE_TITLE));
    kit.assert_no_console_errors("the listens page with a hostile title")
        .await;

    // The dashboard with data, for the README.
    kit.visit("/").await;
    let shot = kit.screenshot("dashboard-readme").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);

    kit.close().await;
    eprintln!("browser test took {:?}", started.elapsed());
}
