//! The in-memory view of live sessions (S3, issue 13), keyed by `jti`, bounded.
//!
//! The `sessions` table stays the authority. This cache only remembers rows it has read, each
//! tagged with the change generation (`db::watch::Changes`) current when the read *started*;
//! an entry is used only while that generation is still current, so any write to the database
//! (a revocation here, or by another process, seen by the watcher) makes every entry stale and
//! the next request reads its row again. The caller checks expiry and the idle timeout on every
//! request, cached or not.
//!
//! Nothing is inserted for an id that has no row: a forged or revoked `jti` (whose JWT must
//! verify before the cache is asked at all) costs a read and leaves no trace. When full, stale
//! entries go first, then the least recently seen; the map never holds more than `capacity`.
//!
//! The activity stamp lives here too: requests move it in memory, and a background flush writes
//! the ones that moved (`unsaved` / `mark_saved`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::domain::ids::{SessionId, UserId};

/// A live session as the web layer needs it; shared, never changed once loaded.
#[derive(Debug)]
pub struct SessionView {
    pub jti: SessionId,
    pub user_id: UserId,
    pub expires_at: i64,
    pub username: String,
    pub is_owner: bool,
    pub user_created_at: i64,
    /// The session's CSRF token, derived once (by the web layer, which holds the key).
    csrf: OnceLock<String>,
}

impl SessionView {
    pub fn new(
        jti: SessionId,
        user_id: UserId,
        expires_at: i64,
        username: String,
        is_owner: bool,
        user_created_at: i64,
    ) -> Self {
        Self {
            jti,
            user_id,
            expires_at,
            username,
            is_owner,
            user_created_at,
            csrf: OnceLock::new(),
        }
    }

    /// The CSRF token of this session, computed by `derive` the first time only.
    pub fn csrf_token(&self, derive: impl FnOnce(&str) -> String) -> &str {
        self.csrf.get_or_init(|| derive(self.jti.as_str()))
    }
}

struct Slot {
    view: Arc<SessionView>,
    /// The change generation when this row was read.
    generation: u64,
    /// The latest use seen in this process.
    last_seen: i64,
    /// What the table holds (as far as this process knows).
    stored_seen: i64,
}

/// A cached session and its latest use.
#[derive(Debug, Clone)]
pub struct Hit {
    pub view: Arc<SessionView>,
    pub last_seen: i64,
}

pub struct SessionCache {
    slots: Mutex<HashMap<SessionId, Slot>>,
    capacity: usize,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl SessionCache {
    /// Sessions are a single user's devices; a thousand is far beyond real use.
    pub const DEFAULT_CAPACITY: usize = 1024;

    pub fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The entry for `jti` if it was read in `generation` (the current one); `None` means: read
    /// the row. `None` for `generation` itself means the change watcher cannot vouch for the
    /// cache right now, so nothing is served from it.
    pub fn get(&self, jti: &SessionId, generation: Option<u64>) -> Option<Hit> {
        let generation = generation?;
        let slots = self.lock();
        let slot = slots.get(jti)?;
        (slot.generation == generation).then(|| Hit {
            view: Arc::clone(&slot.view),
            last_seen: slot.last_seen,
        })
    }

    /// Remember a row read in `generation` (taken *before* the read). A use this process saw
    /// after the stored stamp is kept, and so is an already derived CSRF token. Returns the
    /// entry as it now stands.
    pub fn insert(&self, view: SessionView, stored_seen: i64, generation: u64) -> Hit {
        let mut slots = self.lock();
        let (last_seen, view) = match slots.get(&view.jti) {
            Some(old) => {
                if let Some(t) = old.view.csrf.get() {
                    let _ = view.csrf.set(t.clone());
                }
                (old.last_seen.max(stored_seen), Arc::new(view))
            }
            None => {
                if slots.len() >= self.capacity {
                    evict(&mut slots, generation, self.capacity);
                }
                (stored_seen, Arc::new(view))
            }
        };
        slots.insert(
            view.jti.clone(),
            Slot {
                view: Arc::clone(&view),
                generation,
                last_seen,
                stored_seen,
            },
        );
        Hit { view, last_seen }
    }

    /// Note a use of `jti` at `now` (in memory; `unsaved` hands it to the flush).
    pub fn touch(&self, jti: &SessionId, now: i64) {
        if let Some(slot) = self.lock().get_mut(jti) {
            slot.last_seen = slot.last_seen.max(now);
        }
    }

    pub fn remove(&self, jti: &SessionId) {
        self.lock().remove(jti);
    }

    /// Drop every entry of `user_id` but `keep`.
    pub fn remove_user_except(&self, user_id: UserId, keep: Option<&SessionId>) {
        self.lock()
            .retain(|jti, s| s.view.user_id != user_id || Some(jti) == keep);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Uses not yet written to the table: (jti, latest use).
    pub fn unsaved(&self) -> Vec<(SessionId, i64)> {
        self.lock()
            .iter()
            .filter(|(_, s)| s.last_seen > s.stored_seen)
            .map(|(jti, s)| (jti.clone(), s.last_seen))
            .collect()
    }

    /// The table now holds these stamps.
    pub fn mark_saved(&self, saved: &[(SessionId, i64)]) {
        let mut slots = self.lock();
        for (jti, t) in saved {
            if let Some(s) = slots.get_mut(jti) {
                s.stored_seen = s.stored_seen.max(*t);
            }
        }
    }
}

/// Make room for one entry: stale generations first, then the least recently seen.
fn evict(slots: &mut HashMap<SessionId, Slot>, generation: u64, capacity: usize) {
    slots.retain(|_, s| s.generation == generation);
    while slots.len() >= capacity {
        let Some(oldest) = slots
            .iter()
            .min_by_key(|(_, s)| s.last_seen)
            .map(|(jti, _)| jti.clone())
        else {
            break;
        };
        slots.remove(&oldest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(jti: &str, user: i64) -> SessionView {
        SessionView::new(
            SessionId(jti.to_owned()),
            UserId(user),
            10_000,
            "demo".into(),
            true,
            1,
        )
    }

    #[test]
    fn an_entry_is_served_only_in_the_generation_it_was_read() {
        let c = SessionCache::new(8);
        let jti = SessionId("a".into());
        c.insert(view("a", 1), 100, 7);
        assert_eq!(c.get(&jti, Some(7)).map(|h| h.last_seen), Some(100));
        assert!(c.get(&jti, Some(8)).is_none(), "a change makes it stale");
        assert!(c.get(&jti, None).is_none(), "no watcher, no cache");
        assert!(c.get(&SessionId("b".into()), Some(7)).is_none());
    }

    #[test]
    fn a_flood_of_unknown_ids_never_grows_the_cache() {
        let c = SessionCache::new(16);
        for i in 0..100_000 {
            let forged = SessionId(format!("forged-{i}"));
            assert!(c.get(&forged, Some(1)).is_none());
            c.touch(&forged, i);
            c.remove(&forged);
        }
        assert!(c.is_empty(), "lookups, touches and removals insert nothing");
    }

    #[test]
    fn inserts_beyond_the_bound_evict_and_the_bound_holds() {
        let c = SessionCache::new(16);
        for i in 0..10_000_i64 {
            c.insert(
                view(&format!("s{i}"), 1),
                i,
                1 + u64::try_from(i / 1000).unwrap(),
            );
            assert!(c.len() <= 16, "len {} at {i}", c.len());
        }
        assert_eq!(c.len(), 16);
        // The most recent ones survive.
        assert!(c.get(&SessionId("s9999".into()), Some(10)).is_some());
        assert!(c.get(&SessionId("s0".into()), Some(10)).is_none());
    }

    #[test]
    fn uses_are_kept_across_a_reload_and_flushed_once() {
        let c = SessionCache::new(4);
        let jti = SessionId("a".into());
        c.insert(view("a", 1), 100, 1);
        c.touch(&jti, 160);
        c.touch(&jti, 150);
        assert_eq!(c.unsaved(), vec![(jti.clone(), 160)]);
        // Another write elsewhere: the row is read again with its older stamp.
        let hit = c.insert(view("a", 1), 100, 2);
        assert_eq!(hit.last_seen, 160, "the use seen here is not lost");
        let unsaved = c.unsaved();
        c.mark_saved(&unsaved);
        assert!(c.unsaved().is_empty());
    }

    #[test]
    fn removal_by_user_keeps_the_named_session() {
        let c = SessionCache::new(8);
        c.insert(view("a", 1), 1, 1);
        c.insert(view("b", 1), 1, 1);
        c.insert(view("c", 2), 1, 1);
        c.remove_user_except(UserId(1), Some(&SessionId("b".into())));
        assert!(c.get(&SessionId("a".into()), Some(1)).is_none());
        assert!(c.get(&SessionId("b".into()), Some(1)).is_some());
        assert!(c.get(&SessionId("c".into()), Some(1)).is_some());
    }

    #[test]
    fn the_csrf_token_is_derived_once_and_survives_a_reload() {
        let c = SessionCache::new(4);
        let hit = c.insert(view("a", 1), 1, 1);
        let mut calls = 0;
        let t = hit
            .view
            .csrf_token(|jti| {
                calls += 1;
                format!("tok-{jti}")
            })
            .to_owned();
        assert_eq!(hit.view.csrf_token(|_| unreachable!()), t);
        let again = c.insert(view("a", 1), 1, 2);
        assert_eq!(again.view.csrf_token(|_| unreachable!()), t);
        assert_eq!(calls, 1);
    }
}
