//! Playlist write-back to Navidrome as data: which tracks a playlist wants in Navidrome, how that
//! differs from what was last written, the name a new copy gets when the plain one is taken, the
//! user's choices, and why a write failed. Pure: the service does the calls.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

/// The catalogue track ids to write, in playlist order, each once (its first position wins),
/// and how many repeats were left out.
pub fn wanted<'a>(linked_in_order: impl IntoIterator<Item = &'a str>) -> (Vec<String>, usize) {
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    let mut repeats = 0;
    for id in linked_in_order {
        if seen.insert(id) {
            ids.push(id.to_owned());
        } else {
            repeats += 1;
        }
    }
    (ids, repeats)
}

/// A stamp of a track list: equal lists (same ids, same order), equal stamps.
pub fn fingerprint(ids: &[String]) -> String {
    let mut h = Sha256::new();
    for id in ids {
        h.update(id.as_bytes());
        h.update([0u8]);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// What the next write changes in the Navidrome copy, compared with what was last written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Wanted ids not in the last written list (all of them before the first write), in order.
    pub added: Vec<String>,
    /// Ids last written that are no longer wanted, in their old order.
    pub removed: Vec<String>,
    /// The tracks both lists share are in another order.
    pub reordered: bool,
}

impl Plan {
    pub fn changes_nothing(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && !self.reordered
    }
}

/// Compare the wanted list with the one last written.
pub fn plan(wanted: &[String], last_written: &[String]) -> Plan {
    let old: HashSet<&str> = last_written.iter().map(String::as_str).collect();
    let new: HashSet<&str> = wanted.iter().map(String::as_str).collect();
    let kept_new: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|id| old.contains(id))
        .collect();
    let kept_old: Vec<&str> = last_written
        .iter()
        .map(String::as_str)
        .filter(|id| new.contains(id))
        .collect();
    Plan {
        added: wanted
            .iter()
            .filter(|id| !old.contains(id.as_str()))
            .cloned()
            .collect(),
        removed: last_written
            .iter()
            .filter(|id| !new.contains(id.as_str()))
            .cloned()
            .collect(),
        reordered: kept_new != kept_old,
    }
}

/// Whether two playlist names are the same to a person: surrounding spaces and letter case
/// aside.
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// A name for a new Navidrome copy that no playlist in `taken` has: "Name (Spotify)", then
/// "Name (Spotify 2)", "Name (Spotify 3)", ...
pub fn distinct_name<'a>(
    name: &str,
    service_label: &str,
    taken: impl IntoIterator<Item = &'a str> + Clone,
) -> String {
    let base = if name.trim().is_empty() {
        "Untitled"
    } else {
        name.trim()
    };
    let free = |candidate: &str| !taken.clone().into_iter().any(|t| same_name(t, candidate));
    let first = format!("{base} ({service_label})");
    if free(&first) {
        return first;
    }
    let mut n: u32 = 2;
    loop {
        let candidate = format!("{base} ({service_label} {n})");
        if free(&candidate) || n == u32::MAX {
            return candidate;
        }
        n += 1;
    }
}

/// What to do with the Navidrome copy when write-back is turned off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NavidromeAction {
    /// Leave the Navidrome playlist as it is; only forget the pairing.
    Keep,
    /// Delete the Navidrome playlist.
    Delete,
}

impl NavidromeAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keep" => Some(Self::Keep),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keep => "keep",
            Self::Delete => "delete",
        }
    }
}

/// The user's answer when Navidrome already has a playlist of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictAction {
    /// Write into the existing Navidrome playlist (its songs are replaced).
    Pair,
    /// Create a separate playlist under a distinct name.
    NewName,
}

impl ConflictAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pair" => Some(Self::Pair),
            "new-name" => Some(Self::NewName),
            _ => None,
        }
    }
}

/// Why a write to Navidrome failed. Stored as TEXT in `playlist_writeback.last_error`; the
/// page shows `message()`, never anything Navidrome sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum WritebackError {
    Unreachable,
    ServerError,
    BadResponse,
    WrongPassword,
    /// No Navidrome password is stored (or it does not decrypt).
    NoPassword,
    /// Navidrome answered with an API error (not allowed, unknown song...).
    Refused,
}

impl WritebackError {
    pub fn message(self) -> &'static str {
        match self {
            Self::Unreachable => {
                "Navidrome could not be reached (network error or timeout). Nothing was changed; try again later."
            }
            Self::ServerError => {
                "Navidrome had a server error. Nothing was changed; try again later."
            }
            Self::BadResponse => {
                "Navidrome gave an unexpected answer. Check that the Navidrome address is right."
            }
            Self::WrongPassword => {
                "Navidrome refuses the stored password. Sign out and sign in again with your current password."
            }
            Self::NoPassword => {
                "No usable Navidrome password is stored. Sign out and sign in again to store it."
            }
            Self::Refused => "Navidrome refused the change.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn repeats_keep_their_first_position() {
        let (w, repeats) = wanted(["a", "b", "a", "c", "b"]);
        assert_eq!(w, ids(&["a", "b", "c"]));
        assert_eq!(repeats, 2);
        assert_eq!(wanted([]), (Vec::new(), 0));
    }

    #[test]
    fn fingerprints_tell_order_and_content_apart() {
        let ab = fingerprint(&ids(&["a", "b"]));
        assert_eq!(ab, fingerprint(&ids(&["a", "b"])));
        assert_ne!(ab, fingerprint(&ids(&["b", "a"])));
        assert_ne!(ab, fingerprint(&ids(&["ab"])));
        assert_ne!(fingerprint(&[]), fingerprint(&ids(&[""])));
    }

    #[test]
    fn the_first_write_adds_everything() {
        let p = plan(&ids(&["a", "b"]), &[]);
        assert_eq!(p.added, ids(&["a", "b"]));
        assert!(p.removed.is_empty());
        assert!(!p.reordered);
    }

    #[test]
    fn a_plan_names_added_removed_and_reordered() {
        let p = plan(&ids(&["c", "a", "d"]), &ids(&["a", "b", "c"]));
        assert_eq!(p.added, ids(&["d"]));
        assert_eq!(p.removed, ids(&["b"]));
        assert!(p.reordered);
        let same = plan(&ids(&["a", "c"]), &ids(&["a", "b", "c"]));
        assert!(!same.reordered);
        assert!(!same.changes_nothing());
        assert!(plan(&ids(&["a"]), &ids(&["a"])).changes_nothing());
    }

    #[test]
    fn names_compare_like_people_read_them() {
        assert!(same_name(" Road Trip ", "road trip"));
        assert!(!same_name("Road Trip", "Road Trip 2"));
    }

    #[test]
    fn a_distinct_name_skips_taken_ones() {
        assert_eq!(
            distinct_name("Mix", "Spotify", ["Mix"]),
            "Mix (Spotify)".to_owned()
        );
        assert_eq!(
            distinct_name(
                "Mix",
                "Spotify",
                ["Mix", "mix (spotify)", "Mix (Spotify 2)"]
            ),
            "Mix (Spotify 3)".to_owned()
        );
        assert_eq!(
            distinct_name("  ", "ListenBrainz", []),
            "Untitled (ListenBrainz)".to_owned()
        );
    }

    #[test]
    fn choices_parse_only_known_words() {
        assert_eq!(NavidromeAction::parse("keep"), Some(NavidromeAction::Keep));
        assert_eq!(
            NavidromeAction::parse("delete"),
            Some(NavidromeAction::Delete)
        );
        assert_eq!(NavidromeAction::parse("Delete"), None);
        assert_eq!(ConflictAction::parse("pair"), Some(ConflictAction::Pair));
        assert_eq!(
            ConflictAction::parse("new-name"),
            Some(ConflictAction::NewName)
        );
        assert_eq!(ConflictAction::parse(""), None);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn list() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("[a-e]", 0..12)
    }

    proptest! {
        #[test]
        fn the_wanted_list_holds_each_track_once_in_first_order(raw in list()) {
            let (w, repeats) = wanted(raw.iter().map(String::as_str));
            let mut seen = HashSet::new();
            prop_assert!(w.iter().all(|id| seen.insert(id.clone())));
            prop_assert_eq!(w.len() + repeats, raw.len());
            let firsts: Vec<String> = raw
                .iter()
                .enumerate()
                .filter(|(i, id)| raw.iter().position(|x| x == *id) == Some(*i))
                .map(|(_, id)| id.clone())
                .collect();
            prop_assert_eq!(w, firsts);
        }

        #[test]
        fn a_plan_accounts_for_every_track(a in list(), b in list()) {
            let (a, _) = wanted(a.iter().map(String::as_str));
            let (b, _) = wanted(b.iter().map(String::as_str));
            let p = plan(&a, &b);
            prop_assert!(plan(&a, &a).changes_nothing());
            prop_assert_eq!(p.changes_nothing(), fingerprint(&a) == fingerprint(&b));
            for id in &a {
                prop_assert!(b.contains(id) ^ p.added.contains(id));
            }
            for id in &b {
                prop_assert!(a.contains(id) ^ p.removed.contains(id));
            }
        }
    }
}
