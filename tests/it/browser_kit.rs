//! A small kit for driving Debian's headless Chromium over the DevTools protocol
//! (chromiumoxide) against the test server. See ADR 0013.
//!
//! The API is deliberately small so that a new flow is a few lines:
//!
//! ```ignore
//! let Some(mut kit) = Kit::launch(&app.base).await else { return };
//! kit.visit("/vibes/mixtapes").await;
//! kit.fill("input[name=name]", "Sunday").await;
//! kit.submit("form[action='/vibes/mixtapes']").await;
//! kit.wait_for("document.querySelector('.mixtape-tracks li') !== null").await;
//! kit.assert_no_console_errors("after generating a mixtape");
//! ```
//!
//! Every console error, uncaught exception, failed resource load and CSP violation of every
//! page is collected from DevTools events (`Runtime.consoleAPICalled`,
//! `Runtime.exceptionThrown`, `Log.entryAdded`) and from a `securitypolicyviolation`
//! listener installed before any page script runs; `assert_no_console_errors` fails on any
//! of them. Waiting is on events or on a DOM condition polled against a deadline, never on
//! a fixed sleep.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::log::{EventEntryAdded, LogEntryLevel};
use chromiumoxide::cdp::browser_protocol::network::{
    BlockPattern, EnableParams, SetBlockedUrLsParams,
};
use chromiumoxide::cdp::browser_protocol::page::{
    AddScriptToEvaluateOnNewDocumentParams, CaptureScreenshotFormat,
};
use chromiumoxide::cdp::js_protocol::runtime::{
    ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown,
};
use chromiumoxide::page::{Page, ScreenshotParams};
use futures_util::StreamExt;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The longest any single wait may take before the test fails with what it was waiting for.
const DEADLINE: Duration = Duration::from_secs(15);

/// Records CSP violations in the page itself (a second witness beside the DevTools log).
const VIOLATION_WATCH: &str = r#"
window.__kitViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__kitViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
});
"#;

/// Run one browser step with the deadline, naming it when it does not finish.
async fn bounded<T>(what: &str, step: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, step)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer from the browser within {DEADLINE:?}"))
}

/// Where the browser test writes its screenshots (named in the README).
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots")
}

pub struct Kit {
    base: String,
    browser: Browser,
    page: Page,
    problems: Arc<Mutex<Vec<String>>>,
    handler: tokio::task::JoinHandle<()>,
    listeners: Vec<tokio::task::JoinHandle<()>>,
    width: u32,
    _profile: tempfile::TempDir,
}

impl Kit {
    /// Start headless Chromium with a fresh profile. `None` (test skipped, with a note) only
    /// when Chromium is not installed and `CI` is unset; under CI a missing Chromium fails.
    pub async fn launch(base: &str) -> Option<Self> {
        if !Path::new(CHROMIUM).exists() {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{CHROMIUM} is missing: the browser test needs Debian's chromium package \
                     (.ci/run installs it with `apt-get install chromium chromium-driver`)"
                );
            }
            eprintln!(
                "SKIPPED: {CHROMIUM} is not installed (apt-get install chromium); \
                 this test fails instead when CI is set"
            );
            return None;
        }
        let profile = tempfile::tempdir().expect("chromium profile dir");
        let config = BrowserConfig::builder()
            .chrome_executable(CHROMIUM)
            .user_data_dir(profile.path())
            .no_sandbox()
            .new_headless_mode()
            .viewport(None)
            .launch_timeout(DEADLINE)
            .request_timeout(DEADLINE)
            .args([
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ])
            .build()
            .expect("browser config");
        let (browser, mut handler) = Browser::launch(config)
            .await
            .unwrap_or_else(|e| panic!("starting {CHROMIUM} failed: {e}"));
        let handler = tokio::spawn(async move { while handler.next().await.is_some() {} });
        let page = browser.new_page("about:blank").await.expect("new page");
        let problems = Arc::new(Mutex::new(Vec::new()));
        let mut kit = Self {
            base: base.trim_end_matches('/').to_owned(),
            browser,
            page,
            problems,
            handler,
            listeners: Vec::new(),
            width: 1280,
            _profile: profile,
        };
        kit.listen().await;
        kit.page
            .execute(AddScriptToEvaluateOnNewDocumentParams::new(VIOLATION_WATCH))
            .await
            .expect("install the CSP watch");
        kit.set_width(1280).await;
        Some(kit)
    }

    async fn listen(&mut self) {
        self.page.enable_log().await.expect("Log.enable");
        self.page.enable_runtime().await.expect("Runtime.enable");
        let mut console = self
            .page
            .event_listener::<EventConsoleApiCalled>()
            .await
            .expect("console events");
        let sink = self.problems.clone();
        self.listeners.push(tokio::spawn(async move {
            while let Some(ev) = console.next().await {
                if matches!(
                    ev.r#type,
                    ConsoleApiCalledType::Error | ConsoleApiCalledType::Assert
                ) {
                    let text: Vec<String> = ev
                        .args
                        .iter()
                        .map(|a| {
                            a.value
                                .as_ref()
                                .map(ToString::to_string)
                                .or_else(|| a.description.clone())
                                .unwrap_or_default()
                        })
                        .collect();
                    sink.lock()
                        .unwrap()
                        .push(format!("console.error: {}", text.join(" ")));
                }
            }
        }));
        let mut exceptions = self
            .page
            .event_listener::<EventExceptionThrown>()
            .await
            .expect("exception events");
        let sink = self.problems.clone();
        self.listeners.push(tokio::spawn(async move {
            while let Some(ev) = exceptions.next().await {
                let d = &ev.exception_details;
                let detail = d
                    .exception
                    .as_ref()
                    .and_then(|e| e.description.clone())
                    .unwrap_or_else(|| d.text.clone());
                sink.lock()
                    .unwrap()
                    .push(format!("uncaught exception: {detail}"));
            }
        }));
        let mut log = self
            .page
            .event_listener::<EventEntryAdded>()
            .await
            .expect("log events");
        let sink = self.problems.clone();
        self.listeners.push(tokio::spawn(async move {
            while let Some(ev) = log.next().await {
                let e = &ev.entry;
                if e.level == LogEntryLevel::Error {
                    sink.lock().unwrap().push(format!(
                        "log error ({:?}): {} {}",
                        e.source,
                        e.text,
                        e.url.as_deref().unwrap_or("")
                    ));
                }
            }
        }));
    }

    pub fn page(&self) -> &Page {
        &self.page
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Emulate a window `width` CSS pixels wide (desktop mode, so the layout viewport is exactly
    /// that wide and an overflow cannot be hidden by zooming out).
    pub async fn set_width(&mut self, width: u32) {
        let params = SetDeviceMetricsOverrideParams::builder()
            .width(i64::from(width))
            .height(900)
            .device_scale_factor(1.0)
            .mobile(false)
            .build()
            .expect("metrics");
        bounded("setting the width", self.page.execute(params))
            .await
            .expect("set the width");
        self.width = width;
    }

    /// Load pages without Spotter's own script (`/static/app.js` blocked) or with it again:
    /// every page must work without JavaScript. (Chromium's own switch for scripts also stops
    /// the DevTools evaluation the kit reads pages with, so the app's script is blocked instead.)
    pub async fn set_app_script(&self, enabled: bool) {
        bounded("Network.enable", self.page.execute(EnableParams::default()))
            .await
            .expect("Network.enable");
        let pattern = format!("{}/static/app.js*", self.base);
        let params = SetBlockedUrLsParams {
            url_patterns: Some(vec![BlockPattern::new(pattern, !enabled)]),
        };
        bounded("blocking app.js", self.page.execute(params))
            .await
            .expect("block app.js");
    }

    /// Fail on browser problems as `assert_no_console_errors` does, except the load of
    /// `app.js` that `set_app_script(false)` blocks on purpose.
    pub async fn assert_no_console_errors_but_blocked_script(&self, what: &str) {
        self.problems
            .lock()
            .unwrap()
            .retain(|p| !(p.contains("ERR_BLOCKED_BY_CLIENT") && p.contains("/static/app.js")));
        self.assert_no_console_errors(what).await;
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    /// Open `path` and wait until the page has loaded. Returns the HTTP status of the page.
    pub async fn visit(&mut self, path: &str) -> u16 {
        let url = self.url(path);
        bounded(&format!("opening {url}"), self.page.goto(url.as_str()))
            .await
            .unwrap_or_else(|e| panic!("opening {url} failed: {e}"));
        self.wait_loaded(path).await;
        let status = self.status().await;
        if status >= 400 {
            // Chromium logs the error status of the document itself; the caller checks the
            // status, so only that one entry is dropped (a failing asset still counts).
            let own = format!("status of {status} ");
            self.problems
                .lock()
                .unwrap()
                .retain(|p| !(p.contains(&own) && p.ends_with(&format!(" {url}"))));
        }
        status
    }

    /// The HTTP status of the document now shown.
    pub async fn status(&self) -> u16 {
        self.eval::<u16>("performance.getEntriesByType('navigation')[0].responseStatus")
            .await
    }

    /// The path (and query) of the document now shown.
    pub async fn path(&self) -> String {
        self.eval::<String>("location.pathname + location.search")
            .await
    }

    /// Evaluate a JavaScript expression in the page and deserialize its value.
    pub async fn eval<T: serde::de::DeserializeOwned>(&self, expr: &str) -> T {
        let result = bounded(&format!("evaluating `{expr}`"), self.page.evaluate(expr))
            .await
            .unwrap_or_else(|e| panic!("evaluating `{expr}` failed: {e}"));
        result
            .into_value::<T>()
            .unwrap_or_else(|e| panic!("`{expr}` gave an unexpected value: {e}"))
    }

    /// Poll `condition` (a JavaScript expression) until it is true; fail after the deadline.
    /// Evaluation errors while a navigation replaces the document count as "not yet".
    pub async fn wait_for(&self, condition: &str) {
        let started = Instant::now();
        loop {
            if let Ok(Ok(v)) = tokio::time::timeout(DEADLINE, self.page.evaluate(condition)).await
                && v.into_value::<bool>().unwrap_or(false)
            {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "waited {DEADLINE:?} for `{condition}` on {:?}",
                self.page.url().await.ok().flatten()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn wait_loaded(&self, what: &str) {
        let started = Instant::now();
        loop {
            if let Ok(Ok(v)) =
                tokio::time::timeout(DEADLINE, self.page.evaluate("document.readyState")).await
                && v.into_value::<String>().ok().as_deref() == Some("complete")
            {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{what}: the page did not finish loading"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Type `value` into the field matched by `selector` (real key events).
    pub async fn fill(&self, selector: &str, value: &str) {
        bounded(&format!("typing into `{selector}`"), async {
            let el = self
                .page
                .find_element(selector)
                .await
                .unwrap_or_else(|e| panic!("no field `{selector}`: {e}"));
            el.click().await.expect("focus the field");
            el.type_str(value).await.expect("type into the field");
        })
        .await;
    }

    /// Click the element matched by `selector` (scrolled into view first).
    pub async fn click(&self, selector: &str) {
        bounded(&format!("clicking `{selector}`"), async {
            self.page
                .find_element(selector)
                .await
                .unwrap_or_else(|e| panic!("nothing to click at `{selector}`: {e}"))
                .click()
                .await
                .unwrap_or_else(|e| panic!("clicking `{selector}` failed: {e}"));
        })
        .await;
    }

    /// Click the element at `selector` and wait for the page it leads to (a new document,
    /// fully loaded). Returns that page's HTTP status.
    pub async fn click_and_wait(&mut self, selector: &str) -> u16 {
        let _: bool = self.eval("(window.__kitOldDocument = true)").await;
        self.click(selector).await;
        self.wait_for("window.__kitOldDocument !== true && document.readyState === 'complete'")
            .await;
        self.status().await
    }

    /// Submit the form matched by `form` with its submit button (a real click), then wait for
    /// the answer page. Returns its HTTP status.
    pub async fn submit(&mut self, form: &str) -> u16 {
        self.click_and_wait(&format!("{form} [type=submit]")).await
    }

    /// The visible text of the page.
    pub async fn text(&self) -> String {
        self.eval::<String>("document.body.innerText").await
    }

    /// Fail if any console error, exception, failed load or CSP violation was seen since the
    /// last call; `what` names the step in the failure message.
    pub async fn assert_no_console_errors(&self, what: &str) {
        let in_page: Vec<String> = self.eval("window.__kitViolations || []").await;
        let mut seen = std::mem::take(&mut *self.problems.lock().unwrap());
        seen.extend(in_page.into_iter().map(|v| format!("CSP violation: {v}")));
        assert!(
            seen.is_empty(),
            "{what} at {} px: {} problem(s) in the browser:\n  {}",
            self.width,
            seen.len(),
            seen.join("\n  ")
        );
    }

    /// Drop the problems containing every one of `parts` (an error the step causes on
    /// purpose), failing if there is none.
    pub fn expect_problem(&self, parts: &[&str]) {
        let mut problems = self.problems.lock().unwrap();
        let before = problems.len();
        problems.retain(|p| !parts.iter().all(|part| p.contains(part)));
        assert!(
            problems.len() < before,
            "expected a browser problem with {parts:?}; saw {problems:?}"
        );
    }

    /// Take whatever problems were collected so far (for the kit's own self-test).
    pub async fn take_problems(&self) -> Vec<String> {
        let in_page: Vec<String> = self.eval("window.__kitViolations || []").await;
        let mut seen = std::mem::take(&mut *self.problems.lock().unwrap());
        seen.extend(in_page.into_iter().map(|v| format!("CSP violation: {v}")));
        let _: bool = self.eval("(window.__kitViolations = [], true)").await;
        seen
    }

    /// `None` when the page fits the window; else how wide it is and which elements stick out.
    pub async fn overflow(&self) -> Option<String> {
        let (scroll, inner): (i64, i64) = self
            .eval("[document.documentElement.scrollWidth, window.innerWidth]")
            .await;
        if scroll <= inner {
            return None;
        }
        let culprits: Vec<String> = self
            .eval(
                "Array.from(document.querySelectorAll('body *'))\
                 .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)\
                 .slice(0, 8)\
                 .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + \
                      (e.className && typeof e.className === 'string' ? '.' + e.className.trim().replace(/\\s+/g, '.') : '') + \
                      ' right=' + Math.round(e.getBoundingClientRect().right))",
            )
            .await;
        Some(format!(
            "the page is {scroll} px wide in a {inner} px window; sticking out: {}",
            culprits.join(", ")
        ))
    }

    /// Fail if the page is wider than the window (a sideways scroll).
    pub async fn assert_fits_width(&self, what: &str) {
        if let Some(problem) = self.overflow().await {
            panic!("{what}: {problem}");
        }
    }

    /// Save a full-page PNG as `<screenshot_dir>/<name>-<width>.png`; returns its path.
    pub async fn screenshot(&mut self, name: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}-{}.png", self.width));
        bounded(
            &format!("screenshot {}", path.display()),
            self.page.save_screenshot(
                ScreenshotParams::builder()
                    .format(CaptureScreenshotFormat::Png)
                    .full_page(true)
                    .build(),
                &path,
            ),
        )
        .await
        .unwrap_or_else(|e| panic!("screenshot {} failed: {e}", path.display()));
        // A full-page capture resizes the view and then clears the emulated size: put it back.
        self.set_width(self.width).await;
        path
    }

    /// The cookies the browser holds for the server (to hand one to a second client).
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.page
            .get_cookies()
            .await
            .expect("cookies")
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.value)
    }

    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        for l in &self.listeners {
            l.abort();
        }
        self.handler.abort();
    }
}
