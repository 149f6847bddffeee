//! Command line: `serve` (default), `healthcheck`, `check-config`, `gen-secrets`,
//! `clear-credentials`, `match`.

pub mod match_files;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::Core;
use crate::clock::system_now;
use crate::config::{Config, RawConfig};
use crate::http::state::AppState;
use crate::services::keys::{self, Origin};

#[derive(Debug, Parser)]
#[command(
    name = "spotter",
    version,
    about = "Self-hosted companion for Navidrome"
)]
pub struct Cli {
    /// TOML configuration file (environment variables override it).
    #[arg(long, env = "SPOTTER_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve,
    /// GET /healthz on the configured port; exit 0 when healthy (for container health checks).
    Healthcheck,
    /// Validate the configuration and print it with secrets masked.
    CheckConfig,
    /// Print a fresh `.env` block with both required secrets, or write it to a new file that
    /// only its owner can read (mode 600).
    GenSecrets {
        /// Write to this file (it must not exist yet) instead of printing.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a consistent snapshot of the database to a new file (safe while the server runs).
    Backup {
        /// Where to write the snapshot; the file must not exist yet.
        dest: PathBuf,
    },
    /// Re-encrypt every stored credential under SPOTTER_SECURITY_ENCRYPTION_KEY, reading old
    /// values with SPOTTER_SECURITY_ENCRYPTION_KEY_PREVIOUS (keys never come from argv).
    RotateKey {
        /// Rewrite every value, also those already under the current key (fresh nonces).
        #[arg(long)]
        all: bool,
    },
    /// Match remote tracks to a library, both given as JSONL files; prints one JSON line per
    /// input line. Needs no configuration.
    Match {
        /// Library tracks: {"id","title","artist","album"?,"album_artist"?,"duration_ms"?,"isrc"?,"mbid"?}
        #[arg(long)]
        library: PathBuf,
        /// Tracks to match: {"id","title","artist","artists"?,"album"?,"duration_ms"?,"isrc"?,"mbid"?}
        #[arg(long)]
        input: PathBuf,
        /// Add the rule that decided, its explanation and the candidates to each line.
        #[arg(long)]
        explain: bool,
    },
    /// Delete every stored credential of every service and every session.
    ClearCredentials {
        /// Confirm the deletion (nothing is deleted without it).
        #[arg(long)]
        yes: bool,
    },
}

fn config_file(cli: &Cli) -> Option<PathBuf> {
    cli.config.clone().or_else(|| {
        let default = PathBuf::from("spotter.toml");
        default.exists().then_some(default)
    })
}

fn load_config(cli: &Cli) -> Result<Config, ExitCode> {
    Config::load(config_file(cli).as_deref()).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        None | Some(Command::Serve) => {
            let config = match load_config(&cli) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let _log = crate::telemetry::init(&config.log_level, config.log_format);
            match runtime().and_then(|rt| rt.block_on(serve(config))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "spotter stopped");
                    eprintln!("spotter: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Healthcheck) => healthcheck(&cli),
        Some(Command::Match {
            ref library,
            ref input,
            explain,
        }) => match match_files::run(library, input, explain, std::io::stdout().lock()) {
            Ok(_) => ExitCode::SUCCESS,
            Err(match_files::MatchFilesError::Output(e))
                if e.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("spotter match: {e}");
                ExitCode::FAILURE
            }
        },
        Some(Command::CheckConfig) => match load_config(&cli) {
            Ok(config) => {
                for (k, v) in config.masked_summary() {
                    println!("{k}={v}");
                }
                for var in crate::config::unknown_env_vars() {
                    eprintln!("warning: {var} is not a setting this version knows; it is ignored");
                }
                if config.secure_cookie_mismatch() {
                    eprintln!("warning: {}", SECURE_COOKIE_WARNING);
                }
                if let Some(w) = config.base_url_mismatch() {
                    eprintln!("warning: {w}");
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Some(Command::GenSecrets { ref out }) => {
            let block = crate::config::generate_secrets_block();
            let Some(path) = out else {
                print!("{block}");
                return ExitCode::SUCCESS;
            };
            match write_private_new(path, block.as_bytes()) {
                Ok(()) => {
                    println!(
                        "Wrote {} (readable only by you). Keep it out of version control.",
                        path.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("spotter: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Backup { ref dest }) => {
            let config = match load_config(&cli) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match runtime().and_then(|rt| rt.block_on(backup(&config, dest))) {
                Ok(()) => {
                    println!("Backup written to {}", dest.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("spotter: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::RotateKey { all }) => {
            let config = match load_config(&cli) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match runtime().and_then(|rt| rt.block_on(rotate_key(&config, all))) {
                Ok(report) => {
                    println!(
                        "Re-encrypted {} of {} stored value(s) under key {}; all verified.",
                        report.rewritten,
                        report.examined,
                        crate::crypto::key_id(&config.security.encryption_key)
                    );
                    if config.security.encryption_key_previous.is_some() {
                        println!("You can now remove SPOTTER_SECURITY_ENCRYPTION_KEY_PREVIOUS.");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("spotter: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::ClearCredentials { yes }) => {
            if !yes {
                eprintln!(
                    "This deletes every stored credential (Navidrome password, linked services) and signs everyone out.\n\
                     Run again with --yes to confirm."
                );
                return ExitCode::from(2);
            }
            let config = match load_config(&cli) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match runtime().and_then(|rt| rt.block_on(clear_credentials(&config))) {
                Ok(n) => {
                    println!("Deleted {n} stored credential and session row(s).");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("spotter: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// Create `path` with mode 600 and write `contents`; refuses an existing file.
fn write_private_new(path: &std::path::Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; it was left alone (remove it first to make new secrets)",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("creating {}", path.display()))
        }
    })?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

const SECURE_COOKIE_WARNING: &str = "SPOTTER_SECURITY_SECURE_COOKIES is true but SPOTTER_SERVER_BASE_URL is plain http on a non-local host: \
     browsers will drop the session cookie. Serve Spotter over https (through the proxy) or set SPOTTER_SECURITY_SECURE_COOKIES=false";

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

async fn serve(config: Config) -> anyhow::Result<()> {
    for var in crate::config::unknown_env_vars() {
        tracing::warn!(variable = %var, "unknown SPOTTER_ variable ignored");
    }
    if config.secure_cookie_mismatch() {
        tracing::warn!("{SECURE_COOKIE_WARNING}");
    }
    if let Some(w) = config.base_url_mismatch() {
        tracing::warn!("{w}");
    }
    let db = crate::db::connect_and_migrate(&config.database_url).await?;
    let addr = config.listen_addr;
    let core = Core::new(config, db.clone())?;
    if core.config.security.encryption_key_previous.is_some() {
        // Online rotation: move values still under the previous key to the current one.
        crate::jobs::register_key_rotation(&core.jobs);
    }
    let state = AppState::new(core)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} (SPOTTER_SERVER_HOST / SPOTTER_SERVER_PORT)"))?;
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown_signal().await;
            shutdown.cancel();
        }
    });
    tracing::info!(%addr, version = env!("CARGO_PKG_VERSION"), "spotter listening");
    run_server(listener, state, shutdown).await?;
    db.close().await;
    tracing::info!("spotter stopped");
    Ok(())
}

/// Serve the web app and run the background jobs until `shutdown` is cancelled, then stop
/// both: event streams end, open requests and running jobs get their deadlines. Runs left
/// open by a previous process are marked interrupted, and the startup runs are claimed,
/// before the first request is served.
pub async fn run_server(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    crate::jobs::recover(&state.core)
        .await
        .context("reading the task history")?;
    crate::jobs::start_startup_runs(&state.core).await;
    let scheduler = crate::jobs::run_scheduler(
        state.core.clone(),
        shutdown.clone(),
        crate::jobs::DRAIN_DEADLINE,
    );
    // The change watcher runs until the server has stopped, so the last requests are still
    // checked against it and the final activity stamps are written.
    let watcher_stop = CancellationToken::new();
    let watcher = crate::services::sessions::watch(state.core.clone(), watcher_stop.clone());
    let server = async {
        let served = crate::http::serve(listener, state, shutdown.cancelled_owned()).await;
        watcher_stop.cancel();
        served
    };
    let ((), served, ()) = tokio::join!(scheduler, server, watcher);
    served.context("serving HTTP")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

async fn rotate_key(
    config: &Config,
    all: bool,
) -> anyhow::Result<crate::db::rotation::RotationReport> {
    let db = crate::db::connect_and_migrate(&config.database_url).await?;
    let report = keys::rotate(&db, config, all, Origin::Cli, system_now()).await?;
    db.close().await;
    Ok(report)
}

async fn backup(config: &Config, dest: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        !dest.exists(),
        "{} already exists: choose a new file name",
        dest.display()
    );
    let dest_str = dest
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the backup path must be valid UTF-8"))?;
    let db = crate::db::connect_and_migrate(&config.database_url).await?;
    crate::db::backup(&db, dest_str)
        .await
        .context("writing the snapshot")?;
    db.close().await;
    let copy = crate::db::connect(&format!("sqlite://{dest_str}"))
        .await
        .context("opening the snapshot")?;
    let ok = crate::db::integrity_ok(&copy).await?;
    copy.close().await;
    anyhow::ensure!(ok, "the snapshot failed its integrity check");
    Ok(())
}

async fn clear_credentials(config: &Config) -> anyhow::Result<u64> {
    let db = crate::db::connect_and_migrate(&config.database_url).await?;
    let n = crate::services::credentials::clear_all(&db, system_now()).await?;
    db.close().await;
    Ok(n)
}

/// Only the port and host are needed: the check must work even where secrets are unreadable.
fn healthcheck(cli: &Cli) -> ExitCode {
    let raw: RawConfig = match crate::config::figment(config_file(cli).as_deref())
        .and_then(|f| f.extract().map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("healthcheck: {e}");
            return ExitCode::FAILURE;
        }
    };
    let host = match raw.server.host.trim() {
        "0.0.0.0" | "" => "127.0.0.1".to_owned(),
        "::" => "[::1]".to_owned(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_owned(),
    };
    let url = format!("http://{host}:{}/healthz", raw.server.port);
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            let client = crate::clients::http_client(Duration::from_secs(3))?;
            let resp = client.get(&url).send().await?;
            anyhow::ensure!(resp.status().is_success(), "status {}", resp.status());
            Ok(())
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("healthcheck: {url} failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
