//! The matcher: which library track a remote track (a listen, a playlist entry, a DJ pick) really
//! is, or why none is. Pure: the caller loads the library into an [`Index`] once and asks it.
//!
//! Order of evidence: ISRC, then MusicBrainz recording id, then names (normalised exact, then
//! scored fuzzy over candidates from the index). An id is checked against the names before it is
//! believed; names that point at two different recordings with nearly equal scores go to review
//! instead of a guess. ADR 0009 explains the thresholds and each version rule.

mod index;
mod markers;
mod names;
mod score;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

pub(crate) use index::FastSet;
pub use index::Index;

/// Best score a name match needs to be accepted without review.
pub const ACCEPT: f64 = 0.90;
/// Below this a candidate is not worth showing in review.
pub const REVIEW_FLOOR: f64 = 0.70;
/// The best candidate must beat the best one of another recording by this much.
pub const GAP: f64 = 0.04;
/// How many candidates a decision keeps for the review queue.
pub const MAX_CANDIDATES: usize = 5;

/// One track of the user's library, as the matcher needs it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LibraryTrack {
    pub id: String,
    pub title: String,
    pub artist: String,
    #[serde(default)]
    pub album: Option<String>,
    #[serde(default)]
    pub album_artist: Option<String>,
    #[serde(default)]
    pub duration_ms: Option<u32>,
    #[serde(default)]
    pub isrc: Option<String>,
    #[serde(default)]
    pub mbid: Option<String>,
}

/// A remote track to find in the library.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub title: String,
    /// The artist credit as one string ("A feat. B", "A, B").
    pub artist: String,
    /// The service's list of artists when it gives one (Spotify); may be empty.
    pub artists: Vec<String>,
    pub album: Option<String>,
    pub duration_ms: Option<u32>,
    pub isrc: Option<String>,
    pub mbid: Option<String>,
}

/// How a decision was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Isrc,
    Mbid,
    Exact,
    Fuzzy,
    /// Not decided: sent to the review queue with its candidates.
    Review,
    /// Nothing plausible in the library.
    None,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Isrc,
        Method::Mbid,
        Method::Exact,
        Method::Fuzzy,
        Method::Review,
        Method::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Isrc => "isrc",
            Method::Mbid => "mbid",
            Method::Exact => "exact",
            Method::Fuzzy => "fuzzy",
            Method::Review => "review",
            Method::None => "none",
        }
    }

    /// True when the method links a library track.
    pub fn is_match(self) -> bool {
        matches!(
            self,
            Method::Isrc | Method::Mbid | Method::Exact | Method::Fuzzy
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode(pub String);

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown code {:?}", self.0)
    }
}

impl std::error::Error for UnknownCode {}

impl FromStr for Method {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownCode(s.to_owned()))
    }
}

/// Kinds of version that make a different recording of the same song.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VersionKind {
    Acoustic,
    Instrumental,
    Demo,
    Alternate,
    ReRecording,
    Language,
    Remix,
    /// Another named version ("Orchestral Version", "Piano Version").
    Other,
    /// Both live, but at a different venue or date.
    LiveEvent,
}

impl VersionKind {
    pub const ALL: [VersionKind; 9] = [
        VersionKind::Acoustic,
        VersionKind::Instrumental,
        VersionKind::Demo,
        VersionKind::Alternate,
        VersionKind::ReRecording,
        VersionKind::Language,
        VersionKind::Remix,
        VersionKind::Other,
        VersionKind::LiveEvent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VersionKind::Acoustic => "acoustic",
            VersionKind::Instrumental => "instrumental",
            VersionKind::Demo => "demo",
            VersionKind::Alternate => "alternate",
            VersionKind::ReRecording => "rerecording",
            VersionKind::Language => "language",
            VersionKind::Remix => "remix",
            VersionKind::Other => "other",
            VersionKind::LiveEvent => "live_event",
        }
    }

    fn phrase(self) -> &'static str {
        match self {
            VersionKind::Acoustic => "an acoustic version",
            VersionKind::Instrumental => "an instrumental",
            VersionKind::Demo => "a demo",
            VersionKind::Alternate => "an alternate take",
            VersionKind::ReRecording => "a re-recording",
            VersionKind::Language => "a version in another language",
            VersionKind::Remix => "a remix or named mix",
            VersionKind::Other => "a differently named version",
            VersionKind::LiveEvent => "a live recording from another concert",
        }
    }
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    IsrcAgrees,
    MbidAgrees,
    ExactNames,
    FuzzyClear,
    AmbiguousTopTwo,
    BelowThreshold,
    LiveOnOneSide,
    VersionMismatch(VersionKind),
    NumberMismatch,
    ArtistMismatch,
    IdContradictsNames,
    NoCandidate,
}

impl Rule {
    /// Every rule, for exhaustive checks of the codes.
    pub fn all() -> Vec<Rule> {
        let mut v = vec![
            Rule::IsrcAgrees,
            Rule::MbidAgrees,
            Rule::ExactNames,
            Rule::FuzzyClear,
            Rule::AmbiguousTopTwo,
            Rule::BelowThreshold,
            Rule::LiveOnOneSide,
            Rule::NumberMismatch,
            Rule::ArtistMismatch,
            Rule::IdContradictsNames,
            Rule::NoCandidate,
        ];
        v.extend(VersionKind::ALL.into_iter().map(Rule::VersionMismatch));
        v
    }

    /// A stable snake_case code, fit for storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::IsrcAgrees => "isrc_agrees",
            Rule::MbidAgrees => "mbid_agrees",
            Rule::ExactNames => "exact_names",
            Rule::FuzzyClear => "fuzzy_clear",
            Rule::AmbiguousTopTwo => "ambiguous_top_two",
            Rule::BelowThreshold => "below_threshold",
            Rule::LiveOnOneSide => "live_on_one_side",
            Rule::VersionMismatch(k) => match k {
                VersionKind::Acoustic => "version_mismatch_acoustic",
                VersionKind::Instrumental => "version_mismatch_instrumental",
                VersionKind::Demo => "version_mismatch_demo",
                VersionKind::Alternate => "version_mismatch_alternate",
                VersionKind::ReRecording => "version_mismatch_rerecording",
                VersionKind::Language => "version_mismatch_language",
                VersionKind::Remix => "version_mismatch_remix",
                VersionKind::Other => "version_mismatch_other",
                VersionKind::LiveEvent => "version_mismatch_live_event",
            },
            Rule::NumberMismatch => "number_mismatch",
            Rule::ArtistMismatch => "artist_mismatch",
            Rule::IdContradictsNames => "id_contradicts_names",
            Rule::NoCandidate => "no_candidate",
        }
    }

    /// One plain sentence for the UI.
    pub fn describe(self) -> String {
        match self {
            Rule::IsrcAgrees => "the ISRC points at this track and its names agree".to_owned(),
            Rule::MbidAgrees => {
                "the MusicBrainz recording id points at this track and its names agree".to_owned()
            }
            Rule::ExactNames => {
                "title and artist are the same once spelling is set aside".to_owned()
            }
            Rule::FuzzyClear => {
                "title and artist are close and no other recording comes near".to_owned()
            }
            Rule::AmbiguousTopTwo => {
                "two different recordings match almost equally well".to_owned()
            }
            Rule::BelowThreshold => "the closest track is not close enough to be sure".to_owned(),
            Rule::LiveOnOneSide => "live marker on one side only".to_owned(),
            Rule::VersionMismatch(k) => {
                format!(
                    "the library only has a different version: one side is {}",
                    k.phrase()
                )
            }
            Rule::NumberMismatch => {
                "the titles differ in a number (part, volume, symphony number)".to_owned()
            }
            Rule::ArtistMismatch => {
                "the library has this title only by another artist (a cover or another song)"
                    .to_owned()
            }
            Rule::IdContradictsNames => {
                "the ISRC or MusicBrainz id points at a track whose names disagree".to_owned()
            }
            Rule::NoCandidate => "nothing in the library has this title or artist".to_owned(),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Rule {
    type Err = UnknownCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::all()
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownCode(s.to_owned()))
    }
}

/// A library track considered for a query, with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub track_id: String,
    pub score: f64,
}

/// The matcher's answer for one query, with its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The library track, when decided.
    pub predicted: Option<String>,
    pub method: Method,
    /// Confidence, 0..=1.
    pub score: f64,
    /// The next best candidate, if any.
    pub runner_up: Option<Candidate>,
    pub rule: Rule,
    /// The top few candidates, best first (for the review queue).
    pub candidates: Vec<Candidate>,
}

impl Decision {
    fn nothing(rule: Rule) -> Decision {
        Decision {
            predicted: None,
            method: Method::None,
            score: 0.0,
            runner_up: None,
            rule,
            candidates: Vec::new(),
        }
    }
}

/// `text::normalize`, with a fast path for ASCII text (most titles and names): the same output,
/// without the Unicode decomposition.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        let b = if c.is_ascii() {
            c as u8
        } else {
            match latin1_letter(c) {
                Some(base) => base,
                // Anything else needs the full decomposition.
                None => return crate::domain::text::normalize(s),
            }
        };
        match b {
            b'&' | b'+' => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str("and");
                pending_space = true;
            }
            b'\'' | b'`' => {}
            _ if b.is_ascii_alphanumeric() => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(char::from(b.to_ascii_lowercase()));
            }
            _ => pending_space = true,
        }
    }
    out
}

/// The base letter of an accented Latin-1 letter whose decomposition is that letter plus marks.
fn latin1_letter(c: char) -> Option<u8> {
    Some(match c {
        'à'..='å' | 'À'..='Å' => b'a',
        'ç' | 'Ç' => b'c',
        'è'..='ë' | 'È'..='Ë' => b'e',
        'ì'..='ï' | 'Ì'..='Ï' => b'i',
        'ñ' | 'Ñ' => b'n',
        'ò'..='ö' | 'Ò'..='Ö' => b'o',
        'ù'..='ü' | 'Ù'..='Ü' => b'u',
        'ý' | 'ÿ' | 'Ý' => b'y',
        _ => return None,
    })
}

/// The key a title is compared by: spelling folded, edition/version labels and featured
/// artists set aside. Idempotent.
pub fn title_key(title: &str) -> String {
    markers::parse_title(title).base
}

/// The key one artist name is compared by: spelling folded, a leading or trailing "The"
/// dropped, spaces removed. Idempotent.
pub fn artist_key(name: &str) -> String {
    names::artist_key(name)
}
