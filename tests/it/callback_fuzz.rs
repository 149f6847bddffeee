//! S17 for OAuth callbacks: arbitrary query strings at both callbacks, signed in and signed
//! out, never get a 5xx, a panic, a session cookie, a stored token, or a call to the provider —
//! even with live pending states and fakes that would accept anything.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::fakes::*;
use crate::harness::*;

fn query() -> impl Strategy<Value = String> {
    let key = "state|code|token|error|cb|api_key|[a-z_]{1,8}";
    let value = prop_oneof![
        "[ -~]{0,64}",
        "(%[0-9A-Fa-f]{2}){0,12}",
        "%[^0-9A-Fa-f]?.{0,3}",
        "\\PC{0,24}",
        "[A-Za-z0-9_-]{20,50}",
        Just(String::new()),
    ];
    let pairs = proptest::collection::vec((key, value), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    });
    prop_oneof![4 => pairs, 1 => "[ -~]{0,300}", 1 => "\\PC{0,80}"]
}

#[test]
fn arbitrary_queries_at_both_callbacks_are_refused_calmly() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let f = rt.block_on(Fakes::start());
    rt.block_on(answer_everything(&f));
    let app = rt.block_on(spawn_app(f.options()));
    let session_cookie = rt.block_on(async {
        let p = peer();
        let mut b = Browser::new(&app);
        b.login_ok(&p.user, &p.password).await;
        // Live pending round trips, so a lucky guess would have something to hit.
        start_spotify(&mut b).await;
        start_lastfm(&mut b).await;
        format!("spotter_token={}", b.cookies["spotter_token"])
    });

    let mut runner = TestRunner::new(Config {
        cases: 160,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(
        &(query(), any::<bool>(), any::<bool>()),
        |(q, signed_in, lastfm)| {
            let cb = if lastfm { "lastfm" } else { "spotify" };
            let Ok(url) = reqwest::Url::parse(&format!("{}/auth/{cb}/callback?{q}", app.base))
            else {
                return Ok(());
            };
            rt.block_on(async {
                let mut req = app.http.get(url);
                if signed_in {
                    req = req.header("cookie", &session_cookie);
                }
                let resp = req
                    .send()
                    .await
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                let status = resp.status().as_u16();
                prop_assert!(status < 500, "{cb} {q:?} -> {status}");
                prop_assert_eq!(status, 303, "{} {:?}", cb, q);
                let location = resp
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                prop_assert!(
                    location.starts_with("/preferences/providers?error="),
                    "{} {:?} -> {}",
                    cb,
                    q,
                    location
                );
                for c in resp.headers().get_all("set-cookie") {
                    let c = c.to_str().unwrap_or_default();
                    prop_assert!(
                        !c.starts_with("spotter_token=") || c.contains("Max-Age=0"),
                        "{c}"
                    );
                }
                let links = count(&app, "SELECT COUNT(*) FROM provider_links").await;
                prop_assert_eq!(links, 0, "{} {:?} stored a link", cb, q);
                Ok(())
            })
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(async {
        let calls = f.spotify.received_requests().await.unwrap().len()
            + f.lastfm.received_requests().await.unwrap().len();
        assert_eq!(calls, 0, "a fuzzed callback reached a provider");
        assert_eq!(
            count(&app, "SELECT COUNT(*) FROM oauth_states").await,
            2,
            "live states untouched"
        );
    });
}
