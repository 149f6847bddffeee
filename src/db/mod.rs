//! All SQL lives here, one module per table group. Lookups return `Result<Option<T>>`.

pub mod audit;
pub mod credentials;
pub mod job_runs;
pub mod library;
pub mod links;
pub mod oauth_states;
pub mod rotation;
pub mod sessions;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub type Db = SqlitePool;

/// Open (creating if missing) the SQLite database with WAL, foreign keys and a busy timeout.
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    let opts = SqliteConnectOptions::from_str(url)?
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

/// Write a consistent snapshot of the live database to `dest` (which must not exist yet).
pub async fn backup(db: &Db, dest: &str) -> Result<(), sqlx::Error> {
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
