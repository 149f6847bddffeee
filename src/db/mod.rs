//! All SQL lives here, one module per table group. Lookups return `Result<Option<T>>`.

pub mod audit;
pub mod credentials;
pub mod job_runs;
pub mod library;
pub mod links;
pub mod listens;
pub mod matching;
pub mod oauth_states;
pub mod playlist_writeback;
pub mod playlists;
pub mod rotation;
pub mod sessions;
pub mod users;
pub mod vibes;
pub mod watch;

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub type Db = SqlitePool;

/// Open (creating if missing) the SQLite database with WAL, foreign keys and a busy timeout.
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    let opts = SqliteConnectOptions::from_str(url)?;
    // Created readable by its owner only; SQLite gives the WAL and shared-memory files the
    // database file's mode.
    create_private(opts.get_filename()).map_err(sqlx::Error::Io)?;
    let opts = opts
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await
}

/// A write transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`). A plain
/// (deferred) transaction that reads first fails at its first write with "database is locked"
/// (SQLITE_BUSY_SNAPSHOT, no busy wait) when another writer committed in between, which
/// concurrent jobs do; this one waits its turn (busy timeout) instead.
pub async fn begin_write(db: &Db) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    db.begin_with("BEGIN IMMEDIATE").await
}

/// Connect and apply pending migrations.
pub async fn connect_and_migrate(url: &str) -> anyhow::Result<Db> {
    use anyhow::Context;
    let pool = connect(url)
        .await
        .with_context(|| format!("opening the database {url}"))?;
    MIGRATOR
        .run(&pool)
        .await
        .context("applying database migrations")?;
    Ok(pool)
}

/// True when the database answers and every embedded migration is applied.
pub async fn is_ready(db: &Db) -> bool {
    let applied: Result<i64, _> = sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!: i64" FROM _sqlx_migrations WHERE success = 1"#
    )
    .fetch_one(db)
    .await;
    matches!(applied, Ok(n) if usize::try_from(n).is_ok_and(|n| n >= MIGRATOR.iter().count()))
}

/// Create an empty file with mode 600 at `path` (and its folder, mode 700, if missing) unless
/// something exists there already.
pub fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    if path.as_os_str().is_empty() || path == std::path::Path::new(":memory:") || path.exists() {
        return Ok(());
    }
    // The data directory is created (private to its owner) when it does not exist yet.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Write a consistent snapshot of the live database to `dest` (which must not exist yet),
/// readable by its owner only.
pub async fn backup(db: &Db, dest: &str) -> Result<(), sqlx::Error> {
    // VACUUM INTO accepts an empty file, so the snapshot keeps the private mode it is made with.
    create_private(std::path::Path::new(dest)).map_err(sqlx::Error::Io)?;
    sqlx::query!("VACUUM INTO ?1", dest).execute(db).await?;
    Ok(())
}

/// `PRAGMA integrity_check` answers exactly `ok` on a healthy database.
pub async fn integrity_ok(db: &Db) -> Result<bool, sqlx::Error> {
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(db)
        .await?;
    Ok(rows.len() == 1 && rows[0] == "ok")
}
