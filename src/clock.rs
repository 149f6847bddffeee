//! The one source of "now" (Unix seconds, UTC). Services, jobs and clients ask a `Clock`; tests
//! use a manual clock they can move, so expiry and backoff are tested without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// System time, or a manual time that tests set and advance.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock that stands still at `unix_secs` until moved with `set` or `advance`.
    pub fn manual(unix_secs: i64) -> Self {
        Self {
            manual: Some(Arc::new(AtomicI64::new(unix_secs))),
        }
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> i64 {
        match &self.manual {
            Some(t) => t.load(Ordering::Relaxed),
            None => system_now(),
        }
    }

    /// Move a manual clock to `unix_secs` (no effect on the system clock).
    pub fn set(&self, unix_secs: i64) {
        if let Some(t) = &self.manual {
            t.store(unix_secs, Ordering::Relaxed);
        }
    }

    /// Move a manual clock forward by `secs` (no effect on the system clock).
    pub fn advance(&self, secs: i64) {
        if let Some(t) = &self.manual {
            t.fetch_add(secs, Ordering::Relaxed);
        }
    }
}

/// The system time in Unix seconds; for code that has no `Clock` at hand (the CLI's one-shot
/// commands). Before 1970 reads as 0.
pub fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = Clock::manual(1_000);
        assert_eq!(c.now(), 1_000);
        c.advance(61);
        assert_eq!(c.now(), 1_061);
        let copy = c.clone();
        copy.set(5);
        assert_eq!(c.now(), 5, "clones share the time");
    }

    #[test]
    fn the_system_clock_is_recent() {
        assert!(Clock::system().now() > 1_700_000_000);
    }
}
