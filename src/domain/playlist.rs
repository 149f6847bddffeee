//! Imported playlists as data: their kinds, the shape every service's playlist and track is
//! brought to, and the version stamp of a track list. Pure.

use sha2::{Digest, Sha256};

/// What a playlist is. Stored as TEXT in `playlists.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "TEXT", rename_all = "snake_case")]
pub enum PlaylistKind {
    /// The account's own (or followed) playlist.
    User,
    /// Spotify Liked Songs.
    Liked,
    /// ListenBrainz recommendations made for the user (Weekly Jams, Weekly Exploration, …).
    CreatedFor,
    /// A Navidrome playlist.
    Navidrome,
}

impl PlaylistKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Liked => "liked",
            Self::CreatedFor => "created_for",
            Self::Navidrome => "navidrome",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::User => "playlist",
            Self::Liked => "Liked Songs",
            Self::CreatedFor => "made for you",
            Self::Navidrome => "Navidrome playlist",
        }
    }
}

/// A playlist as a service lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePlaylist {
    pub remote_id: String,
    pub name: String,
    pub description: String,
    pub owner_name: String,
    pub kind: PlaylistKind,
    /// The service's version stamp (Spotify `snapshot_id`, Navidrome `changed`, ListenBrainz
    /// last modification); empty when it gives none.
    pub snapshot: String,
    /// How many entries the service says it holds, if it says.
    pub track_count: Option<u64>,
}

/// One entry of a playlist as a service gives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteTrack {
    /// The entry's place in the service's list (0-based); entries without a track are skipped,
    /// so positions may have gaps.
    pub position: u32,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_secs: Option<i64>,
    pub isrc: Option<String>,
    /// MusicBrainz recording id.
    pub recording_mbid: Option<String>,
    /// The service's own id of the track (a Navidrome song id links directly).
    pub remote_track_id: Option<String>,
}

/// Longest text kept from a service for one field (names, titles): longer is cut.
pub const MAX_TEXT: usize = 512;

/// `s` trimmed and cut to `MAX_TEXT` characters.
pub fn clean_text(s: &str) -> String {
    s.trim().chars().take(MAX_TEXT).collect()
}

/// An ISRC in its canonical form (12 characters, upper case, no dashes), if it looks like one.
pub fn clean_isrc(s: &str) -> Option<String> {
    let v: String = s
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .collect::<String>()
        .to_ascii_uppercase();
    (v.len() == 12 && v.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(v)
}

/// A MusicBrainz id (lower case UUID) from a bare id or a URL ending in one.
pub fn clean_mbid(s: &str) -> Option<String> {
    let last = s.trim().trim_end_matches('/').rsplit('/').next()?;
    let v = last.to_ascii_lowercase();
    let ok = v.len() == 36
        && v.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    ok.then_some(v)
}

/// Milliseconds as whole seconds (rounded), for positive values only.
pub fn ms_to_secs(ms: i64) -> Option<i64> {
    (ms > 0).then(|| (ms + 500) / 1000)
}

/// A stamp of a track list, for services that give no version: equal lists, equal stamps.
pub fn tracks_digest(tracks: &[RemoteTrack]) -> String {
    let mut h = Sha256::new();
    for t in tracks {
        for part in [
            t.position.to_string().as_str(),
            &t.title,
            &t.artist,
            &t.album,
            &t.duration_secs.map(|d| d.to_string()).unwrap_or_default(),
            t.isrc.as_deref().unwrap_or(""),
            t.recording_mbid.as_deref().unwrap_or(""),
            t.remote_track_id.as_deref().unwrap_or(""),
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        h.update([1u8]);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_cleaned() {
        assert_eq!(
            clean_isrc("us-rc1-12-34567").as_deref(),
            Some("USRC11234567")
        );
        assert_eq!(clean_isrc("short"), None);
        assert_eq!(
            clean_mbid("https://musicbrainz.org/recording/8F3471B5-7E6A-48DA-86A9-C1C07A0F47AE")
                .as_deref(),
            Some("8f3471b5-7e6a-48da-86a9-c1c07a0f47ae")
        );
        assert_eq!(clean_mbid("https://musicbrainz.org/recording/nope"), None);
        assert_eq!(ms_to_secs(215_499), Some(215));
        assert_eq!(ms_to_secs(215_500), Some(216));
        assert_eq!(ms_to_secs(0), None);
    }

    #[test]
    fn digests_follow_content() {
        let a = RemoteTrack {
            title: "A".into(),
            artist: "B".into(),
            ..RemoteTrack::default()
        };
        let mut b = a.clone();
        assert_eq!(
            tracks_digest(std::slice::from_ref(&a)),
            tracks_digest(std::slice::from_ref(&b))
        );
        b.position = 1;
        assert_ne!(tracks_digest(&[a]), tracks_digest(&[b]));
    }
}
