//! Listens as the services report them, their per-service dedup keys, and the rule that makes
//! one play reported by several services one listen. Pure.

use crate::domain::provider::Service;
use crate::domain::text::normalize;

/// Two reports of the same song within this many seconds are one play.
pub const MERGE_WINDOW_SECS: i64 = 90;

/// Longest text kept from a service (title, artist, album).
pub const MAX_TEXT: usize = 512;

/// One play as a service reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteListen {
    pub service: Service,
    /// The service's identity of this play (see the `*_key` functions); unique per service.
    pub remote_key: String,
    /// Unix seconds.
    pub played_at: i64,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub duration_secs: Option<i64>,
    pub isrc: Option<String>,
    pub recording_mbid: Option<String>,
}

impl RemoteListen {
    pub fn title_norm(&self) -> String {
        normalize(&self.title)
    }

    pub fn artist_norm(&self) -> String {
        normalize(&self.artist)
    }
}

/// Text from a service, trimmed and bounded.
pub fn clean(s: &str) -> String {
    s.trim().chars().take(MAX_TEXT).collect()
}

/// An identifier (ISRC, MBID) if it is non-empty and plausible: ISRCs upper case, MBIDs (with
/// dashes) lower case.
pub fn clean_id(s: Option<&str>) -> Option<String> {
    let s = s?.trim();
    let plausible =
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !plausible {
        return None;
    }
    Some(if s.contains('-') {
        s.to_ascii_lowercase()
    } else {
        s.to_ascii_uppercase()
    })
}

/// Spotify: the track id and the play time in milliseconds.
pub fn spotify_key(track_id: &str, played_at_ms: i64) -> String {
    format!("{track_id}:{played_at_ms}")
}

/// Last.fm has no play id: the time, the artist and the title.
pub fn lastfm_key(uts: i64, artist: &str, title: &str) -> String {
    format!("{uts}:{}:{}", normalize(artist), normalize(title))
}

/// ListenBrainz: the time and its recording MSID, else the names.
pub fn listenbrainz_key(listened_at: i64, msid: Option<&str>, artist: &str, title: &str) -> String {
    match msid.map(str::trim).filter(|m| !m.is_empty()) {
        Some(msid) => format!("{listened_at}:{msid}"),
        None => format!("{listened_at}:{}:{}", normalize(artist), normalize(title)),
    }
}

/// The part of a stored listen the merge rule reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub played_at: i64,
    pub title_norm: String,
    pub artist_norm: String,
    pub duration_secs: Option<i64>,
}

/// How far apart two reports of one play may be: the window, or the song's length (scrobblers
/// that stamp the end of a play rather than its start), whichever is larger.
pub fn window(a: Option<i64>, b: Option<i64>) -> i64 {
    let longest = a.unwrap_or(0).max(b.unwrap_or(0)).clamp(0, 3 * 3600);
    MERGE_WINDOW_SECS.max(longest + MERGE_WINDOW_SECS / 3)
}

/// Is `listen` the same play as `candidate` (same normalised artist and title, close in time)?
pub fn same_play(listen: &RemoteListen, candidate: &Candidate) -> bool {
    !candidate.title_norm.is_empty()
        && candidate.title_norm == listen.title_norm()
        && candidate.artist_norm == listen.artist_norm()
        && (candidate.played_at - listen.played_at).abs()
            <= window(listen.duration_secs, candidate.duration_secs)
}

/// Of the stored listens near `listen`, the one it is a report of: the closest in time.
pub fn best_match<'a>(
    listen: &RemoteListen,
    candidates: impl IntoIterator<Item = (&'a Candidate, i64)>,
) -> Option<i64> {
    candidates
        .into_iter()
        .filter(|(c, _)| same_play(listen, c))
        .min_by_key(|(c, id)| ((c.played_at - listen.played_at).abs(), *id))
        .map(|(_, id)| id)
}

/// A merged listen in memory: the play and the services that saw it (in-memory model of what
/// the database does, used for tests and for reasoning about the rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub candidate: Candidate,
    /// (service, remote_key), sorted.
    pub sources: Vec<(Service, String)>,
}

/// Fold `incoming` into `merged` as the database does: a known (service, key) is skipped; a
/// play matching an existing listen not yet seen by that service joins it; anything else is a
/// new listen.
pub fn merge(merged: &mut Vec<Merged>, incoming: &[RemoteListen]) {
    for l in incoming {
        if merged.iter().any(|m| {
            m.sources
                .iter()
                .any(|(s, k)| *s == l.service && *k == l.remote_key)
        }) {
            continue;
        }
        let target = best_match(
            l,
            merged
                .iter()
                .enumerate()
                .filter(|(_, m)| !m.sources.iter().any(|(s, _)| *s == l.service))
                .map(|(i, m)| (&m.candidate, i64::try_from(i).unwrap_or(i64::MAX))),
        );
        match target.and_then(|i| usize::try_from(i).ok()) {
            Some(i) => {
                if let Some(m) = merged.get_mut(i) {
                    m.sources.push((l.service, l.remote_key.clone()));
                    m.sources
                        .sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
                }
            }
            None => merged.push(Merged {
                candidate: Candidate {
                    played_at: l.played_at,
                    title_norm: l.title_norm(),
                    artist_norm: l.artist_norm(),
                    duration_secs: l.duration_secs,
                },
                sources: vec![(l.service, l.remote_key.clone())],
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn listen(service: Service, at: i64, artist: &str, title: &str) -> RemoteListen {
        RemoteListen {
            service,
            remote_key: format!("{}:{at}:{}", service.as_str(), normalize(title)),
            played_at: at,
            title: title.into(),
            artist: artist.into(),
            album: String::new(),
            duration_secs: Some(200),
            isrc: None,
            recording_mbid: None,
        }
    }

    #[test]
    fn keys() {
        assert_eq!(spotify_key("abc", 1_700_000_000_123), "abc:1700000000123");
        assert_eq!(
            lastfm_key(1_700_000_000, "Simon & Garfunkel", "The Boxer"),
            "1700000000:simon and garfunkel:the boxer"
        );
        assert_eq!(
            listenbrainz_key(5, Some("m-1"), "A", "B"),
            "5:m-1".to_string()
        );
        assert_eq!(listenbrainz_key(5, Some(" "), "A", "B"), "5:a:b");
        assert_eq!(
            clean_id(Some(" usabc1234567 ")),
            Some("USABC1234567".into())
        );
        assert_eq!(clean_id(Some("0A1B-c2")), Some("0a1b-c2".into()));
        assert_eq!(clean_id(Some("")), None);
        assert_eq!(clean_id(Some("a b")), None);
    }

    #[test]
    fn one_play_from_three_services_is_one_listen() {
        let mut m = Vec::new();
        merge(
            &mut m,
            &[
                listen(Service::Spotify, 1_000, "Beyoncé", "Halo"),
                listen(Service::Lastfm, 1_030, "BEYONCE", "halo"),
                // A scrobbler stamping the end of the play.
                listen(Service::Listenbrainz, 1_190, "Beyonce", "Halo"),
            ],
        );
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].sources.len(), 3);
    }

    #[test]
    fn the_same_song_twice_from_one_service_is_two_listens() {
        let mut m = Vec::new();
        merge(
            &mut m,
            &[
                listen(Service::Spotify, 1_000, "A", "Song"),
                listen(Service::Spotify, 1_200, "A", "Song"),
                listen(Service::Lastfm, 1_201, "A", "Song"),
            ],
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].sources.len(), 2);
    }

    #[test]
    fn different_songs_or_distant_times_stay_apart() {
        let mut m = Vec::new();
        merge(
            &mut m,
            &[
                listen(Service::Spotify, 1_000, "A", "Song"),
                listen(Service::Lastfm, 1_000, "A", "Other"),
                listen(Service::Listenbrainz, 5_000, "A", "Song"),
            ],
        );
        assert_eq!(m.len(), 3);
    }

    fn arb_listen() -> impl Strategy<Value = RemoteListen> {
        (
            prop_oneof![
                Just(Service::Spotify),
                Just(Service::Lastfm),
                Just(Service::Listenbrainz)
            ],
            0i64..2_000,
            prop_oneof![Just("A"), Just("B")],
            prop_oneof![Just("x"), Just("y"), Just("Y!")],
        )
            .prop_map(|(s, at, a, t)| listen(s, at, a, t))
    }

    proptest! {
        #[test]
        fn merging_is_idempotent(batch in proptest::collection::vec(arb_listen(), 0..30)) {
            let mut once = Vec::new();
            merge(&mut once, &batch);
            let mut twice = once.clone();
            merge(&mut twice, &batch);
            prop_assert_eq!(&once, &twice);
            // Every report is kept exactly once.
            let mut keys: Vec<_> = batch.iter().map(|l| (l.service, l.remote_key.clone())).collect();
            keys.sort_by(|a, b| (a.0.as_str(), &a.1).cmp(&(b.0.as_str(), &b.1)));
            keys.dedup();
            let stored: usize = once.iter().map(|m| m.sources.len()).sum();
            prop_assert_eq!(stored, keys.len());
        }
    }
}
