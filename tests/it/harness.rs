#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

use figment::Figment;
use figment::providers::Serialized;
use regex::Regex;
use reqwest::header::{HeaderMap, HeaderValue};
use spotter::app::Core;
use spotter::config::{Config, RawConfig};
use spotter::http::state::AppState;

pub const ENCRYPTION_KEY: &str = "5b2e8f1a9c3d7e6f0a4b8c2d6e0f3a7b1c5d9e2f6a0b4c8d3e7f1a5b9c2d6e0f";
pub const JWT_SECRET: &str = "it-jwt-secret-9f8e7d6c5b4a39281706f5e4d3c2b1a0-0f1e2d3c";

/// The Subsonic peer's base URL and demo/guest accounts.
pub struct Peer {
    pub url: String,
    pub user: String,
    pub password: String,
    pub guest_user: String,
    pub guest_password: String,
}

pub fn peer() -> Peer {
    let url = std::env::var("SPOTTER_TEST_SUBSONIC_URL").unwrap_or_else(|_| {
        panic!("SPOTTER_TEST_SUBSONIC_URL is not set: run the tests with ./scripts/test.sh, which starts the Subsonic peer")
    });
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    Peer {
        url,
        user: var("SUBSONIC_USER", "demo"),
        password: var("SUBSONIC_PASSWORD", "demo-password"),
        guest_user: var("SUBSONIC_GUEST_USER", "guest"),
        guest_password: var("SUBSONIC_GUEST_PASSWORD", "guest-password"),
    }
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub db_path: PathBuf,
    _dir: tempfile::TempDir,
    shutdown: tokio_util::sync::CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    /// Send the shutdown signal and wait for the server to return (bounded by `limit`);
    /// `Err` when it did not return in time.
    pub async fn stop_within(
        &mut self,
        limit: std::time::Duration,
    ) -> Result<std::time::Duration, tokio::time::error::Elapsed> {
        let started = std::time::Instant::now();
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(limit, server).await?.unwrap();
        }
        Ok(started.elapsed())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Options for one test server.
pub struct Options {
    pub navidrome_url: String,
    /// An existing database file to use instead of a fresh one.
    pub db_path: Option<PathBuf>,
    /// Extra settings as (dotted key, value), e.g. ("security.trusted_proxies", "").
    pub settings: Vec<(&'static str, String)>,
    /// The server's clock (the system clock unless a test moves its own).
    pub clock: Option<spotter::clock::Clock>,
}

impl Options {
    pub fn with_peer() -> Self {
        Self {
            navidrome_url: peer().url,
            db_path: None,
            settings: Vec::new(),
            clock: None,
        }
    }

    pub fn with_navidrome(url: &str) -> Self {
        Self {
            navidrome_url: url.to_owned(),
            db_path: None,
            settings: Vec::new(),
            clock: None,
        }
    }

    /// Run the server on `clock` (a manual clock the test moves).
    pub fn with_clock(mut self, clock: spotter::clock::Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    pub fn set(mut self, key: &'static str, value: &str) -> Self {
        self.settings.push((key, value.to_owned()));
        self
    }
}

pub async fn spawn_app(opts: Options) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let db_path = opts
        .db_path
        .clone()
        .unwrap_or_else(|| dir.path().join("spotter.db"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");

    let mut figment = Figment::from(Serialized::defaults(RawConfig::default()))
        .merge(("security.encryption_key", ENCRYPTION_KEY))
        .merge(("security.jwt_secret", JWT_SECRET))
        .merge(("server.base_url", base.as_str()))
        .merge(("server.host", "127.0.0.1"))
        .merge(("server.port", addr.port()))
        .merge(("database.source", db_path.display().to_string()))
        .merge(("navidrome.base_url", opts.navidrome_url.as_str()))
        .merge(("navidrome.timeout", "3s"))
        .merge(("security.secure_cookies", false));
    for (k, v) in &opts.settings {
        figment = match v.as_str() {
            "true" => figment.merge((*k, true)),
            "false" => figment.merge((*k, false)),
            s => figment.merge((*k, s)),
        };
    }
    let config = Config::from_figment(&figment).unwrap_or_else(|e| panic!("test config: {e}"));
    let db = spotter::db::connect_and_migrate(&config.database_url)
        .await
        .unwrap();
    let clock = opts
        .clock
        .clone()
        .unwrap_or_else(spotter::clock::Clock::system);
    let state = AppState::new(Core::with_clock(config, db, clock).unwrap()).unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server_state = state.clone();
    let server_shutdown = shutdown.clone();
    let server = tokio::spawn(async move {
        spotter::cli::run_server(listener, server_state, server_shutdown)
            .await
            .unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The first answer comes after start-up work (interrupted runs marked, startup runs claimed).
    let ready = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert!(ready.status().is_success());
    TestApp {
        base,
        http,
        state,
        db_path,
        _dir: dir,
        shutdown,
        server: Some(server),
    }
}

static CSRF_FIELD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"name="csrf_token" value="([^"]+)""#).unwrap());

/// A browser-like client: keeps cookies by hand (so `Secure` cookies work over test http and
/// every attribute stays visible) and sends our Origin on unsafe requests.
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookies: BTreeMap<String, String>,
    pub extra_headers: HeaderMap,
}

pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    pub set_cookies: Vec<String>,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    pub fn csrf(&self) -> String {
        CSRF_FIELD
            .captures(&self.body)
            .map(|c| c[1].to_owned())
            .unwrap_or_else(|| {
                panic!(
                    "no csrf_token in page (status {}): {}",
                    self.status, self.body
                )
            })
    }

    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookies: BTreeMap::new(),
            extra_headers: HeaderMap::new(),
        }
    }

    fn cookie_header(&self) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let s: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        HeaderValue::from_str(&s.join("; ")).ok()
    }

    async fn finish(&mut self, resp: reqwest::Response) -> Page {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let set_cookies: Vec<String> = headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for c in &set_cookies {
            let first = c.split(';').next().unwrap_or_default();
            if let Some((name, value)) = first.split_once('=') {
                let expired = c.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
                if expired {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let body = resp.text().await.unwrap_or_default();
        Page {
            status,
            headers,
            body,
            set_cookies,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let mut req = self.app.http.get(format!("{}{path}", self.app.base));
        if let Some(c) = self.cookie_header() {
            req = req.header("cookie", c);
        }
        req = req.headers(self.extra_headers.clone());
        let resp = req.send().await.unwrap();
        self.finish(resp).await
    }

    /// POST a form with our Origin.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let origin = self.app.base.clone();
        self.post_with(path, form, Some(&origin)).await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Page {
        let body = serde_urlencoded(form);
        let mut req = self
            .app
            .http
            .post(format!("{}{path}", self.app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(c) = self.cookie_header() {
            req = req.header("cookie", c);
        }
        req = req.headers(self.extra_headers.clone());
        let resp = req.send().await.unwrap();
        self.finish(resp).await
    }

    /// Sign in through the login form; returns the POST /login response.
    pub async fn login(&mut self, user: &str, password: &str) -> Page {
        let page = self.get("/auth/login").await;
        assert_eq!(page.status, 200, "login page");
        let csrf = page.csrf();
        self.post(
            "/login",
            &[
                ("username", user),
                ("password", password),
                ("csrf_token", &csrf),
            ],
        )
        .await
    }

    /// Sign in and assert it worked. The first sign-in starts the library import; this waits
    /// for it, so a test's own catalogue rows cannot race with the import.
    pub async fn login_ok(&mut self, user: &str, password: &str) {
        let resp = self.login(user, password).await;
        assert_eq!(resp.status, 303, "login failed: {}", resp.body);
        assert_eq!(resp.location(), Some("/"));
        assert!(self.cookies.contains_key("spotter_token"));
        spotter::jobs::wait_idle(
            &self.app.state.core,
            spotter::domain::jobs::JobName::LibraryImport,
        )
        .await;
    }

    /// The CSRF token of a signed-in page.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/preferences/security").await;
        assert_eq!(page.status, 200, "security page: {}", page.body);
        page.csrf()
    }
}

pub fn serde_urlencoded(form: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form.iter())
        .finish()
}

/// Count rows with a dynamic query (tests only).
pub async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.state.core.db)
        .await
        .unwrap()
}

/// The SQLite file and its `-wal`/`-shm` companions as they are on disk now.
pub fn db_files(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let path = format!("{}{suffix}", app.db_path.display());
            std::fs::read(&path).ok().map(|bytes| (path, bytes))
        })
        .collect()
}

/// Whether `needle` occurs in `haystack` (an empty needle never does).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Run the `spotter` binary against this app's database (another process, as an operator
/// would), with the same secrets; returns its exit code and stderr.
pub fn run_cli(app: &TestApp, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spotter"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SPOTTER_SECURITY_ENCRYPTION_KEY", ENCRYPTION_KEY)
        .env("SPOTTER_SECURITY_JWT_SECRET", JWT_SECRET)
        .env("SPOTTER_NAVIDROME_BASE_URL", "http://127.0.0.1:4533")
        .env("SPOTTER_DATABASE_SOURCE", app.db_path.display().to_string())
        .env("SPOTTER_LOG_LEVEL", "warn")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A Subsonic call on the real peer as `user`, for test setup and checks; the
/// `subsonic-response` object.
pub async fn peer_subsonic(
    user: &str,
    password: &str,
    method: &str,
    params: &[(&str, &str)],
) -> serde_json::Value {
    let p = peer();
    let salt = spotter::crypto::random_token(8);
    let token = spotter::clients::navidrome::subsonic_token(
        &secrecy::SecretString::from(password.to_owned()),
        &salt,
    );
    let mut q: Vec<(&str, &str)> = vec![
        ("u", user),
        ("t", &token),
        ("s", &salt),
        ("v", "1.16.1"),
        ("c", "spotter-test"),
        ("f", "json"),
    ];
    q.extend_from_slice(params);
    let url = format!("{}/rest/{method}", p.url.trim_end_matches('/'));
    let v: serde_json::Value = reqwest::Client::new()
        .get(url)
        .query(&q)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["subsonic-response"].clone()
}

/// A Subsonic call on the peer as its guest (whose playlists are throwaway).
pub async fn peer_guest_call(method: &str, params: &[(&str, &str)]) -> serde_json::Value {
    let p = peer();
    peer_subsonic(&p.guest_user, &p.guest_password, method, params).await
}
