//! Background jobs as data: their names, what started a run, how it ended, what it counted,
//! and when a job is next due. Pure: the scheduler in `jobs/` does the waiting.

use std::fmt::Write as _;

/// Every background job. Stored as TEXT in `job_runs.job`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum JobName {
    /// Prune expired sessions and link attempts, old audit rows and old job runs.
    Maintenance,
    /// Re-encrypt credentials still under the previous key (only with one configured).
    KeyRotation,
    /// Import the Navidrome catalogue (added by the library work; named here for the dashboard).
    LibraryImport,
    /// Read new plays from Spotify's recently played.
    SpotifyHistory,
    /// Read new scrobbles from Last.fm.
    LastfmHistory,
    /// Read new listens from ListenBrainz.
    ListenbrainzHistory,
    /// Import Spotify playlists and Liked Songs.
    SpotifyPlaylists,
    /// Import ListenBrainz playlists (own and created for the user).
    ListenbrainzPlaylists,
    /// Import Navidrome playlists.
    NavidromePlaylists,
    /// Link listens and playlist entries to the catalogue; doubtful ones go to review.
    Matching,
    /// Keep the playlists written to Navidrome up to date.
    PlaylistWriteback,
    /// Generate the AI DJ's queued mixtapes and regenerate scheduled ones that are due.
    Vibes,
}

impl JobName {
    pub const ALL: [JobName; 12] = [
        Self::Maintenance,
        Self::KeyRotation,
        Self::LibraryImport,
        Self::SpotifyHistory,
        Self::LastfmHistory,
        Self::ListenbrainzHistory,
        Self::SpotifyPlaylists,
        Self::ListenbrainzPlaylists,
        Self::NavidromePlaylists,
        Self::Matching,
        Self::PlaylistWriteback,
        Self::Vibes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Maintenance => "maintenance",
            Self::KeyRotation => "key_rotation",
            Self::LibraryImport => "library_import",
            Self::SpotifyHistory => "spotify_history",
            Self::LastfmHistory => "lastfm_history",
            Self::ListenbrainzHistory => "listenbrainz_history",
            Self::SpotifyPlaylists => "spotify_playlists",
            Self::ListenbrainzPlaylists => "listenbrainz_playlists",
            Self::NavidromePlaylists => "navidrome_playlists",
            Self::Matching => "matching",
            Self::PlaylistWriteback => "playlist_writeback",
            Self::Vibes => "vibes",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|j| j.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Maintenance => "Maintenance",
            Self::KeyRotation => "Key rotation",
            Self::LibraryImport => "Library import",
            Self::SpotifyHistory => "Spotify history",
            Self::LastfmHistory => "Last.fm history",
            Self::ListenbrainzHistory => "ListenBrainz history",
            Self::SpotifyPlaylists => "Spotify playlists",
            Self::ListenbrainzPlaylists => "ListenBrainz playlists",
            Self::NavidromePlaylists => "Navidrome playlists",
            Self::Matching => "Matching",
            Self::PlaylistWriteback => "Playlists to Navidrome",
            Self::Vibes => "AI DJ mixtapes",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Maintenance => {
                "Removes expired sessions and link attempts, audit entries past their retention and old task history."
            }
            Self::KeyRotation => {
                "Re-encrypts stored credentials still under the previous encryption key with the current one."
            }
            Self::LibraryImport => "Imports the Navidrome catalogue (artists, albums, tracks).",
            Self::SpotifyHistory => {
                "Reads recently played tracks from Spotify into the listening history."
            }
            Self::LastfmHistory => "Reads new scrobbles from Last.fm into the listening history.",
            Self::ListenbrainzHistory => {
                "Reads new listens from ListenBrainz into the listening history."
            }
            Self::SpotifyPlaylists => {
                "Imports your Spotify playlists and Liked Songs, and links their tracks to your library."
            }
            Self::ListenbrainzPlaylists => {
                "Imports your ListenBrainz playlists and those made for you (Weekly Jams, Weekly Exploration, Daily Jams)."
            }
            Self::NavidromePlaylists => {
                "Imports your Navidrome playlists, so they show next to the others."
            }
            Self::Matching => {
                "Links your listens and playlist tracks to the songs in your library; doubtful cases wait in the review queue. Runs after every sync that brings something new."
            }
            Self::PlaylistWriteback => {
                "Updates the Navidrome copies of the playlists you chose to write to Navidrome, when they changed."
            }
            Self::Vibes => {
                "Generates the mixtapes you asked for and regenerates scheduled ones (daily, weekly, monthly), refreshing their Navidrome playlists in place."
            }
        }
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Manual,
    Startup,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Manual => "manual",
            Self::Startup => "startup",
        }
    }
}

/// How a run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum Outcome {
    Running,
    Ok,
    Failed,
    /// Stopped at shutdown after the drain deadline.
    Cancelled,
    /// Found still running at start: the process died under it.
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled at shutdown",
            Self::Interrupted => "interrupted (server stopped)",
        }
    }
}

/// Named counts a run reports, in the order it added them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts(Vec<(&'static str, u64)>);

impl Counts {
    pub fn new() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn with(mut self, name: &'static str, n: u64) -> Self {
        self.0.push((name, n));
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.0.iter().copied()
    }

    /// `{"name": n, ...}`: names are our own identifiers, so no escaping is needed beyond
    /// refusing anything that is not one.
    pub fn to_json(&self) -> String {
        let mut s = String::from("{");
        for (i, (k, v)) in self
            .0
            .iter()
            .filter(|(k, _)| k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .enumerate()
        {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "\"{k}\":{v}");
        }
        s.push('}');
        s
    }
}

/// When a job with `interval_secs` is next due, given when it last started (never: due now).
pub fn next_due(last_started: Option<i64>, interval_secs: i64, now: i64) -> i64 {
    match last_started {
        None => now,
        Some(t) => t.saturating_add(interval_secs.max(1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for j in JobName::ALL {
            assert_eq!(JobName::parse(j.as_str()), Some(j));
        }
        assert_eq!(JobName::parse("Maintenance"), None);
    }

    #[test]
    fn counts_serialise_in_order_and_drop_odd_names() {
        let c = Counts::new()
            .with("sessions", 3)
            .with("bad\"name", 1)
            .with("audit_events", 0);
        assert_eq!(c.to_json(), r#"{"sessions":3,"audit_events":0}"#);
        assert_eq!(Counts::new().to_json(), "{}");
    }

    #[test]
    fn a_job_never_run_is_due_now() {
        assert_eq!(next_due(None, 600, 1_000), 1_000);
        assert_eq!(next_due(Some(1_000), 600, 1_200), 1_600);
        assert_eq!(next_due(Some(1_000), 0, 1_200), 1_001);
    }
}
