//! Noticing that the database changed, cheaply (issue 13).
//!
//! `Changes` is a generation counter the in-memory views (live sessions, page data) are tagged
//! with. It moves when this process changes something those views show (explicitly, at once)
//! and when the watcher sees `PRAGMA data_version` move on its own connection, which SQLite
//! guarantees for every commit made by *any other* connection: this process's pool, the CLI
//! (`spotter clear-credentials`, `rotate-key`), a second instance, a hand-run `sqlite3`.
//!
//! The views are trusted only while the watcher has looked recently (`STALE_AFTER`): if it
//! stops, stalls or fails, every request reads the table again, as before the cache existed.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::{ConnectOptions, Connection, SqliteConnection};

use crate::db::Db;

/// How often the watcher asks `PRAGMA data_version`.
pub const WATCH_EVERY: Duration = Duration::from_millis(200);
/// A view is served from memory only if the watcher confirmed "no change" this recently, so a
/// change made by another process is honoured within this bound (plus one request).
pub const STALE_AFTER: Duration = Duration::from_millis(700);

static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);

fn millis_since_origin(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(*ORIGIN).as_millis()).unwrap_or(u64::MAX)
}

/// The change generation and when the watcher last vouched for it.
#[derive(Debug)]
pub struct Changes {
    generation: AtomicU64,
    /// Milliseconds since `ORIGIN` (+1, so 0 means "never") of the start of the last check
    /// that found no change from another connection.
    confirmed: AtomicU64,
}

impl Default for Changes {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(1),
            confirmed: AtomicU64::new(0),
        }
    }
}

impl Changes {
    /// Something changed: every view tagged with an older generation is stale.
    pub fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The current generation, for tagging a read that is about to start.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The current generation if the watcher vouched for it within `STALE_AFTER`; else `None`
    /// (serve nothing from memory).
    pub fn trusted_generation(&self) -> Option<u64> {
        self.trusted_at(Instant::now())
    }

    fn trusted_at(&self, now: Instant) -> Option<u64> {
        let generation = self.generation.load(Ordering::Acquire);
        let confirmed = self.confirmed.load(Ordering::Acquire);
        if confirmed == 0 {
            return None;
        }
        let age = millis_since_origin(now).saturating_sub(confirmed - 1);
        (u128::from(age) <= STALE_AFTER.as_millis()).then_some(generation)
    }

    /// The watcher's check that started at `at` found no change (or has just bumped for one).
    pub fn confirm(&self, at: Instant) {
        self.confirmed
            .fetch_max(millis_since_origin(at).saturating_add(1), Ordering::AcqRel);
    }

    /// Stop vouching (the watcher failed or stopped).
    pub fn distrust(&self) {
        self.confirmed.store(0, Ordering::Release);
    }
}

/// A connection of its own, outside the pool, that only reads `PRAGMA data_version`.
pub struct DataVersion {
    conn: SqliteConnection,
}

impl DataVersion {
    /// Open a connection to the same database as `db`.
    pub async fn open(db: &Db) -> Result<Self, sqlx::Error> {
        let opts = db.connect_options();
        let conn = opts.as_ref().clone().connect().await?;
        Ok(Self { conn })
    }

    /// The value moves whenever another connection committed since the last call.
    pub async fn read(&mut self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&mut self.conn)
            .await
    }

    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_trusted_until_the_watcher_confirms() {
        let c = Changes::default();
        assert_eq!(c.trusted_generation(), None);
        c.confirm(Instant::now());
        let g = c.trusted_generation();
        assert!(g.is_some());
        c.bump();
        assert_ne!(c.trusted_generation(), g, "a bump moves the generation");
        c.distrust();
        assert_eq!(c.trusted_generation(), None);
    }

    #[test]
    fn an_old_confirmation_is_not_trusted() {
        let c = Changes::default();
        let at = Instant::now();
        c.confirm(at);
        assert!(c.trusted_at(at + STALE_AFTER / 2).is_some());
        assert_eq!(c.trusted_at(at + STALE_AFTER * 2), None);
    }
}
