//! How well one library track fits one query, or the rule that rules it out.

use strsim::normalized_levenshtein;

use super::markers::{Markers, is_year, years};
use super::{Rule, VersionKind};

/// One side of a comparison (a query or a library track), taken apart.
#[derive(Debug, Clone, Default)]
pub(crate) struct Side {
    pub base: String,
    pub core: String,
    pub head: String,
    /// The whole title as written, spelling folded, without spaces, when it has brackets: equal
    /// when only brackets moved ("(Everything I Do) I Do It for You").
    pub flat: Option<String>,
    /// Which characters `base` and `core` hold (one bit per character class): a cheap lower
    /// bound on their edit distance.
    pub base_mask: u64,
    pub core_mask: u64,
    pub numbers: Vec<String>,
    /// Every artist name, sorted.
    pub names: Vec<String>,
    pub primary: String,
    /// The whole credit as one key ("Earth Wind and Fire" = "Earth, Wind & Fire"), when it
    /// is more than one name.
    pub whole: Option<String>,
    pub markers: Markers,
    pub album: Option<String>,
    pub duration_ms: Option<u32>,
}

/// A candidate that passed every rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fit {
    /// Title × artist similarity plus small preferences; may exceed 1.
    pub raw: f64,
    /// Same title key and same primary artist.
    pub exact: bool,
}

/// The outcome for one candidate.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Fit(Fit),
    /// Ruled out by a named rule; the number is how alike the names were.
    Ruled(Rule, f64),
    /// Not alike at all.
    Unlike,
}

/// The bytes of `s` without spaces.
fn unspaced(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().filter(|b| *b != b' ')
}

/// The whole credit's key.
fn whole(s: &Side) -> &str {
    s.whole.as_deref().unwrap_or(s.primary.as_str())
}

fn contains(sorted: &[String], key: &str) -> bool {
    sorted.binary_search_by(|n| n.as_str().cmp(key)).is_ok()
}

/// One bit per character class present in `s` (spaces ignored).
pub(crate) fn char_mask(s: &str) -> u64 {
    s.chars()
        .filter(|c| *c != ' ')
        .fold(0, |m, c| m | 1u64 << (u32::from(c) % 64))
}

/// Title similarity in 0..=1, squared so that a one-letter difference in a short title
/// ("Love Me Do" / "Love Me Too") lands in review, not in a match.
fn title_part(q: &Side, t: &Side) -> Result<f64, Outcome> {
    if q.base == t.base {
        return Ok(1.0);
    }
    if q.numbers != t.numbers {
        let strip = |s: &str| {
            s.split(' ')
                .filter(|w| !w.bytes().any(|b| b.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        return Err(if strip(&q.core) == strip(&t.core) {
            Outcome::Ruled(Rule::NumberMismatch, 1.0)
        } else {
            Outcome::Unlike
        });
    }
    // Spaces aside ("P.Y.T." = "PYT").
    if unspaced(&q.base).eq(unspaced(&t.base)) || (q.flat.is_some() && q.flat == t.flat) {
        return Ok(0.98);
    }
    // The same name with an aside, or with a subtitle on one side only ("Sunflower" /
    // "Sunflower - Spider-Man: Into the Spider-Verse").
    if q.core == t.core || (q.head == t.head && (q.core == q.head || t.core == t.head)) {
        return Ok(0.92);
    }
    // Levenshtein similarity is at most shorter/longer: skip the pairs that cannot reach 0.77.
    let ratio = |a: &str, b: &str| {
        let (la, lb) = (a.len() as f64, b.len() as f64);
        la.min(lb) / la.max(lb).max(1.0)
    };
    // Each edit changes the presence of at most two characters.
    let reachable = |qm: u64, tm: u64, a: &str, b: &str| {
        let bound = f64::from((qm ^ tm).count_ones().div_ceil(2));
        1.0 - bound / (a.len().max(b.len()).max(1) as f64) >= 0.77
    };
    let mut best: f64 = 0.0;
    if ratio(&q.base, &t.base) >= 0.75 && reachable(q.base_mask, t.base_mask, &q.base, &t.base) {
        let s = normalized_levenshtein(&q.base, &t.base);
        best = best.max(s * s);
    }
    if ratio(&q.core, &t.core) >= 0.75 && reachable(q.core_mask, t.core_mask, &q.core, &t.core) {
        let s = normalized_levenshtein(&q.core, &t.core);
        best = best.max(s * s * 0.92);
    }
    if best < 0.6 {
        return Err(Outcome::Unlike);
    }
    Ok(best)
}

/// Artist agreement in 0..=1: the primary artist of one side must be on the other.
fn artist_part(q: &Side, t: &Side, album_artists: &[String]) -> Option<f64> {
    if q.names == t.names {
        return Some(1.0);
    }
    if q.primary == t.primary || (!q.primary.is_empty() && whole(q) == whole(t)) {
        return Some(0.97);
    }
    if contains(&t.names, &q.primary)
        || contains(&q.names, &t.primary)
        || contains(album_artists, &q.primary)
    {
        return Some(0.95);
    }
    // A close spelling of one name; pairs whose lengths or letters are too far apart to reach
    // 0.85 are skipped without computing the distance.
    let close = |a: &str, b: &str| -> f64 {
        let (la, lb) = (a.len(), b.len());
        let longest = la.max(lb).max(1) as f64;
        if (la.min(lb) as f64) < 0.85 * longest {
            return 0.0;
        }
        let bound = f64::from((char_mask(a) ^ char_mask(b)).count_ones().div_ceil(2));
        if 1.0 - bound / longest < 0.85 {
            return 0.0;
        }
        normalized_levenshtein(a, b)
    };
    let mut best: f64 = 0.0;
    for n in &t.names {
        best = best.max(close(&q.primary, n));
    }
    for n in &q.names {
        best = best.max(close(&t.primary, n));
    }
    (best >= 0.85).then_some(best * best * 0.95)
}

/// The first version kind present on one side only.
fn version_difference(q: &Markers, t: &Markers) -> Option<VersionKind> {
    if q.distinct == t.distinct {
        return None;
    }
    q.distinct
        .iter()
        .find(|d| !t.distinct.contains(d))
        .or_else(|| t.distinct.iter().find(|d| !q.distinct.contains(d)))
        .map(|(k, _)| *k)
}

/// Both live: a named venue or year that differs makes another concert.
fn other_concert(q: &Markers, t: &Markers) -> bool {
    let qy: Vec<&str> = years(&q.live_detail).collect();
    let ty: Vec<&str> = years(&t.live_detail).collect();
    if !qy.is_empty() && !ty.is_empty() && !qy.iter().any(|y| ty.contains(y)) {
        return true;
    }
    let words = |m: &Markers| -> Vec<String> {
        m.live_detail
            .iter()
            .filter(|w| !is_year(w))
            .cloned()
            .collect()
    };
    let (qw, tw) = (words(q), words(t));
    !qw.is_empty() && !tw.is_empty() && !qw.iter().any(|w| tw.contains(w))
}

/// Album names agree, or one is the other with a prefix or suffix ("The Best Of" /
/// "Radiohead: The Best Of").
fn same_album(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short == long || (short.contains(' ') && format!(" {long} ").contains(&format!(" {short} ")))
}

/// Small preferences between copies of one song: the label the query names, the closer
/// duration, the same album. They order candidates; they never rule one out.
fn preferences(q: &Side, t: &Side) -> f64 {
    let mut adj = 0.0;
    let edit_involved = q.markers.edit.is_some() || t.markers.edit.is_some();
    match (&q.markers.edit, &t.markers.edit) {
        (Some(a), Some(b)) if a == b => adj += 0.03,
        (Some(_), Some(_)) => adj -= 0.04,
        (Some(_), None) => adj -= 0.01,
        (None, Some(_)) => adj -= 0.02,
        (None, None) => {}
    }
    let (qe, te) = (&q.markers.edition, &t.markers.edition);
    if !qe.is_empty() {
        if qe.iter().any(|l| te.contains(l)) {
            adj += 0.03;
        } else if qe.iter().any(|l| {
            te.iter()
                .any(|m| l.split(' ').any(|w| m.split(' ').any(|x| x == w)))
        }) {
            adj += 0.015;
        } else if !te.is_empty() {
            adj -= 0.02;
        } else {
            adj -= 0.01;
        }
    } else if !te.is_empty() {
        adj -= 0.01;
    }
    if let (Some(a), Some(b)) = (q.duration_ms, t.duration_ms) {
        let diff = a.abs_diff(b);
        adj += match diff {
            0..=2_000 => 0.02,
            2_001..=7_000 => 0.01,
            7_001..=15_000 => 0.0,
            // An edit or a live take may be much longer or shorter: duration never vetoes it.
            _ if edit_involved || q.markers.live => 0.0,
            15_001..=30_000 => -0.03,
            30_001..=60_000 => -0.06,
            _ => -0.10,
        };
    }
    if let (Some(a), Some(b)) = (&q.album, &t.album)
        && same_album(a, b)
    {
        adj += 0.02;
    }
    if q.markers.live {
        let (qd, td) = (&q.markers.live_detail, &t.markers.live_detail);
        if !qd.is_empty() && !td.is_empty() {
            adj += 0.03;
        } else if !qd.is_empty() {
            adj -= 0.02;
        }
    }
    adj
}

/// Score library track `t` against query `q`.
pub(crate) fn score(q: &Side, t: &Side, album_artists: &[String]) -> Outcome {
    let tp = match title_part(q, t) {
        Ok(v) => v,
        Err(o) => return o,
    };
    let Some(ap) = artist_part(q, t, album_artists) else {
        return if tp >= 0.92 {
            Outcome::Ruled(Rule::ArtistMismatch, tp)
        } else {
            Outcome::Unlike
        };
    };
    let names = tp * ap;
    if q.markers.live != t.markers.live {
        return Outcome::Ruled(Rule::LiveOnOneSide, names);
    }
    if let Some(kind) = version_difference(&q.markers, &t.markers) {
        return Outcome::Ruled(Rule::VersionMismatch(kind), names);
    }
    if q.markers.live && other_concert(&q.markers, &t.markers) {
        return Outcome::Ruled(Rule::VersionMismatch(VersionKind::LiveEvent), names);
    }
    Outcome::Fit(Fit {
        raw: names + preferences(q, t),
        exact: tp >= 1.0 && ap >= 0.97,
    })
}
