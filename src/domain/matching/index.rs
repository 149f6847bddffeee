//! The library, indexed once: by ISRC, by MusicBrainz id, by title key and by artist name. A
//! query looks at the tracks that share its title or one of its artists, never at all of them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;

/// Keys are the user's own library and queries, so a fast hash beats a DoS-resistant one; Fx
/// hashes a string eight bytes at a time.
pub(crate) type FastHasher = rustc_hash::FxHasher;

/// The map's key is already a mixed hash: pass it through.
#[derive(Default, Clone, Copy)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// No further tracks under a key.
const NO_MORE: u32 = u32::MAX;

/// Tracks under one key: the first, and where the others are kept (`NO_MORE` for none). Most
/// keys have a single track; eight bytes a key keep the maps small, so building them touches
/// fewer pages.
#[derive(Debug, Clone, Copy)]
struct Postings {
    first: u32,
    more: u32,
}

/// Lookup keys are stored as 64-bit hashes, not strings: a collision only adds a candidate,
/// which is then scored (ids are checked against the track itself).
#[derive(Debug, Clone, Default)]
struct Keyed {
    map: HashMap<u64, Postings, BuildHasherDefault<PassThrough>>,
    /// The second and later tracks of the keys that have more than one.
    more: Vec<Vec<u32>>,
}

impl Keyed {
    fn with_capacity(n: usize) -> Self {
        Self {
            map: HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default()),
            more: Vec::new(),
        }
    }
}

fn key_hash(s: &str) -> u64 {
    let mut h = FastHasher::default();
    h.write(s.as_bytes());
    h.finish()
}

fn add(keyed: &mut Keyed, key: &str, idx: u32) {
    match keyed.map.entry(key_hash(key)) {
        std::collections::hash_map::Entry::Occupied(mut e) => {
            let p = e.get_mut();
            if p.more == NO_MORE {
                let Ok(slot) = u32::try_from(keyed.more.len()) else {
                    return;
                };
                p.more = slot;
                keyed.more.push(Vec::new());
            }
            keyed.more[p.more as usize].push(idx);
        }
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(Postings {
                first: idx,
                more: NO_MORE,
            });
        }
    }
}

fn lookup<'a>(keyed: &'a Keyed, key: &str) -> impl Iterator<Item = u32> + 'a {
    keyed.map.get(&key_hash(key)).into_iter().flat_map(|p| {
        let more: &[u32] = if p.more == NO_MORE {
            &[]
        } else {
            &keyed.more[p.more as usize]
        };
        std::iter::once(p.first).chain(more.iter().copied())
    })
}

/// A hash set with the fast hasher.
pub(crate) type FastSet<T> = std::collections::HashSet<T, BuildHasherDefault<FastHasher>>;

use super::markers::{numbers, parse_album, parse_title, title_core};
use super::names::Protected;
use super::score::{Fit, Outcome, Side, char_mask, score};
use super::{
    ACCEPT, Candidate, Decision, GAP, LibraryTrack, MAX_CANDIDATES, Method, Query, REVIEW_FLOOR,
    Rule,
};

#[derive(Debug, Clone)]
struct Entry {
    side: Side,
    album_artists: Vec<String>,
    /// Tracks with the same identity are copies of one recording (album and compilation,
    /// remaster and original): choosing between them is a preference, not a guess.
    identity: u64,
}

/// The library, ready to be matched against.
#[derive(Debug, Clone, Default)]
pub struct Index {
    tracks: Vec<LibraryTrack>,
    entries: Vec<OnceLock<Box<Entry>>>,
    by_id: Keyed,
    by_isrc: Keyed,
    by_mbid: Keyed,
    by_title: Keyed,
    by_name: Keyed,
    protected: Protected,
}

/// An ISRC as compared: letters and digits, upper case (borrowed when it already is).
fn isrc_key(s: &str) -> Option<Cow<'_, str>> {
    if s.is_empty() {
        return None;
    }
    if s.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Some(Cow::Borrowed(s));
    }
    let k: String = s
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!k.is_empty()).then_some(Cow::Owned(k))
}

/// A MusicBrainz id as compared: trimmed, lower case (borrowed when it already is).
fn mbid_key(s: &str) -> Option<Cow<'_, str>> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if t.bytes().all(|b| !b.is_ascii_uppercase()) {
        return Some(Cow::Borrowed(t));
    }
    Some(Cow::Owned(t.to_ascii_lowercase()))
}

/// One accepted candidate.
#[derive(Debug, Clone, Copy)]
struct Scored {
    idx: u32,
    fit: Fit,
}

/// Every candidate looked at for one query.
#[derive(Debug, Default)]
struct Tally {
    fits: Vec<Scored>,
    /// The named rule that ruled out the most alike candidate.
    ruled: Option<(Rule, f64)>,
    looked: usize,
}

impl Tally {
    fn add(&mut self, idx: u32, outcome: Outcome) {
        self.looked += 1;
        match outcome {
            Outcome::Fit(fit) => self.fits.push(Scored { idx, fit }),
            Outcome::Ruled(rule, alike) => {
                if self.ruled.is_none_or(|(_, a)| alike > a) {
                    self.ruled = Some((rule, alike));
                }
            }
            Outcome::Unlike => {}
        }
    }

    /// Best first; equal scores keep library order so the answer is deterministic.
    fn sort(&mut self) {
        self.fits.sort_by(|a, b| {
            b.fit
                .raw
                .total_cmp(&a.fit.raw)
                .then_with(|| a.idx.cmp(&b.idx))
        });
        self.fits.dedup_by_key(|s| s.idx);
    }
}

fn clamp(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

impl Index {
    /// Index the library. Tracks with an id seen before are ignored.
    ///
    /// Only the lookup keys are computed here (title key, artist names, ids); the rest of a
    /// track's comparison data is prepared the first time the track is a candidate, so indexing
    /// a large library stays cheap.
    pub fn build(tracks: Vec<LibraryTrack>) -> Index {
        let protected = Protected::from_credits(
            tracks
                .iter()
                .flat_map(|t| std::iter::once(t.artist.as_str()).chain(t.album_artist.as_deref())),
        );
        let n = tracks.len();
        let mut index = Index {
            protected,
            by_id: Keyed::with_capacity(n),
            by_isrc: Keyed::with_capacity(n),
            by_title: Keyed::with_capacity(n),
            by_name: Keyed::with_capacity(n / 8),
            ..Index::default()
        };
        index.tracks.reserve(n);
        for track in tracks {
            if index.track(&track.id).is_some() {
                continue;
            }
            let Ok(idx) = u32::try_from(index.tracks.len()) else {
                break;
            };
            add(&mut index.by_id, &track.id, idx);
            index.tracks.push(track);
        }
        // One credit string is split once, however many tracks carry it.
        let mut credit_names: HashMap<&str, Vec<String>, BuildHasherDefault<FastHasher>> =
            HashMap::default();
        for (i, track) in index.tracks.iter().enumerate() {
            let idx = i as u32;
            if let Some(k) = track.isrc.as_deref().and_then(isrc_key) {
                add(&mut index.by_isrc, &k, idx);
            }
            if let Some(k) = track.mbid.as_deref().and_then(mbid_key) {
                add(&mut index.by_mbid, &k, idx);
            }
            let (core, featured) = title_core(&track.title);
            add(&mut index.by_title, &core, idx);
            let names = credit_names
                .entry(track.artist.as_str())
                .or_insert_with(|| index.protected.names(&track.artist));
            for name in names.iter() {
                add(&mut index.by_name, name, idx);
            }
            for f in &featured {
                for name in index.protected.names(f) {
                    add(&mut index.by_name, &name, idx);
                }
            }
        }
        index.entries = (0..index.tracks.len()).map(|_| OnceLock::new()).collect();
        index
    }

    /// A track's comparison data, prepared on first use.
    fn entry(&self, idx: u32) -> &Entry {
        self.entries[idx as usize].get_or_init(|| {
            let track = &self.tracks[idx as usize];
            let side = self.side(
                &track.title,
                &track.artist,
                &[],
                track.album.as_deref(),
                track.duration_ms,
            );
            let album_artists = track
                .album_artist
                .as_deref()
                .map(|a| {
                    let mut n = self.protected.names(a);
                    n.sort_unstable();
                    n
                })
                .unwrap_or_default();
            let mut h = DefaultHasher::new();
            (
                &side.base,
                &side.primary,
                side.markers.live,
                &side.markers.live_detail,
                &side.markers.distinct,
            )
                .hash(&mut h);
            Box::new(Entry {
                identity: h.finish(),
                side,
                album_artists,
            })
        })
    }

    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    /// The library track with this id.
    pub fn track(&self, id: &str) -> Option<&LibraryTrack> {
        lookup(&self.by_id, id)
            .map(|i| &self.tracks[i as usize])
            .find(|t| t.id == id)
    }

    fn side(
        &self,
        title: &str,
        artist: &str,
        artists: &[String],
        album: Option<&str>,
        duration_ms: Option<u32>,
    ) -> Side {
        let parsed = parse_title(title);
        let mut names = self.protected.names(artist);
        let names_count = names.len();
        for a in artists {
            names.extend(self.protected.names(a));
        }
        let primary = names.first().cloned().unwrap_or_default();
        for f in &parsed.featured {
            names.extend(self.protected.names(f));
        }
        names.sort_unstable();
        names.dedup();
        let mut markers = parsed.markers;
        let album = album.map(|a| {
            let (album_markers, core) = parse_album(a);
            // Only live and unplugged albums say something about each of their tracks.
            if album_markers.live {
                markers.live = true;
                markers.live_detail.extend(album_markers.live_detail);
                markers.live_detail.sort_unstable();
                markers.live_detail.dedup();
            }
            if !album_markers.distinct.is_empty() {
                markers.distinct.extend(album_markers.distinct);
                markers.distinct.sort_unstable();
                markers.distinct.dedup();
            }
            core
        });
        Side {
            flat: title
                .contains(['(', '['])
                .then(|| super::fold(title).replace(' ', "")),
            base_mask: char_mask(&parsed.base),
            core_mask: char_mask(&parsed.core),
            head: parsed.head,
            whole: (names_count > 1).then(|| super::names::artist_key(artist)),
            numbers: numbers(&parsed.core),
            base: parsed.base,
            core: parsed.core,
            names,
            primary,
            markers,
            album,
            duration_ms,
        }
    }

    fn score_idx(&self, q: &Side, idx: u32) -> Outcome {
        let e = self.entry(idx);
        score(q, &e.side, &e.album_artists)
    }

    fn candidate(&self, s: &Scored) -> Candidate {
        Candidate {
            track_id: self.tracks[s.idx as usize].id.clone(),
            score: clamp(s.fit.raw),
        }
    }

    fn candidates(&self, fits: &[Scored]) -> Vec<Candidate> {
        fits.iter()
            .take(MAX_CANDIDATES)
            .map(|s| self.candidate(s))
            .collect()
    }

    /// Decide which library track `q` is.
    pub fn match_query(&self, q: &Query) -> Decision {
        let side = self.side(
            &q.title,
            &q.artist,
            &q.artists,
            q.album.as_deref(),
            q.duration_ms,
        );
        let mut contradicted: Vec<u32> = Vec::new();
        let isrc = q.isrc.as_deref().and_then(isrc_key);
        let mbid = q.mbid.as_deref().and_then(mbid_key);
        let isrc_hits: Vec<u32> = isrc
            .as_deref()
            .map(|k| {
                lookup(&self.by_isrc, k)
                    .filter(|&i| {
                        self.tracks[i as usize]
                            .isrc
                            .as_deref()
                            .and_then(isrc_key)
                            .as_deref()
                            == Some(k)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mbid_hits: Vec<u32> = mbid
            .as_deref()
            .map(|k| {
                lookup(&self.by_mbid, k)
                    .filter(|&i| {
                        self.tracks[i as usize]
                            .mbid
                            .as_deref()
                            .and_then(mbid_key)
                            .as_deref()
                            == Some(k)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let ids = [
            (isrc_hits, Method::Isrc, Rule::IsrcAgrees),
            (mbid_hits, Method::Mbid, Rule::MbidAgrees),
        ];
        for (hits, method, rule) in ids {
            if hits.is_empty() {
                continue;
            }
            let mut tally = Tally::default();
            for &idx in &hits {
                tally.add(idx, self.score_idx(&side, idx));
            }
            tally.sort();
            if let Some(best) = tally.fits.first() {
                return Decision {
                    predicted: Some(self.tracks[best.idx as usize].id.clone()),
                    method,
                    score: 1.0,
                    runner_up: tally.fits.get(1).map(|s| self.candidate(s)),
                    rule,
                    candidates: self.candidates(&tally.fits),
                };
            }
            contradicted.extend(hits.iter().copied());
        }
        let by_names = self.match_names(&side);
        if contradicted.is_empty() {
            return by_names;
        }
        // The id names a track the names disagree with: either the id or the names are wrong.
        let mut candidates = by_names.candidates;
        if let Some(p) = by_names.predicted
            && !candidates.iter().any(|c| c.track_id == p)
        {
            candidates.insert(
                0,
                Candidate {
                    track_id: p,
                    score: by_names.score,
                },
            );
        }
        for idx in contradicted {
            let id = &self.tracks[idx as usize].id;
            if !candidates.iter().any(|c| &c.track_id == id) {
                candidates.push(Candidate {
                    track_id: id.clone(),
                    score: 0.0,
                });
            }
        }
        candidates.truncate(MAX_CANDIDATES);
        Decision {
            predicted: None,
            method: Method::Review,
            score: candidates.first().map_or(0.0, |c| c.score),
            runner_up: candidates.get(1).cloned(),
            rule: Rule::IdContradictsNames,
            candidates,
        }
    }

    fn match_names(&self, q: &Side) -> Decision {
        let mut tally = Tally::default();
        for idx in lookup(&self.by_title, &q.core) {
            tally.add(idx, self.score_idx(q, idx));
        }
        // A title the library has by this artist settles it; otherwise look at the artist's
        // other titles for spelling differences.
        let settled = tally.fits.iter().any(|s| s.fit.exact);
        if !settled {
            for name in &q.names {
                for idx in lookup(&self.by_name, name) {
                    if self.entry(idx).side.core != q.core {
                        tally.add(idx, self.score_idx(q, idx));
                    }
                }
            }
        }
        tally.sort();
        let Some(best) = tally.fits.first().copied() else {
            let rule = match tally.ruled {
                Some((rule, _)) => rule,
                None => Rule::NoCandidate,
            };
            return Decision::nothing(rule);
        };
        if best.fit.raw < REVIEW_FLOOR {
            let rule = match tally.ruled {
                Some((rule, alike)) if alike >= best.fit.raw => rule,
                _ => Rule::BelowThreshold,
            };
            return Decision::nothing(rule);
        }
        let identity = self.entry(best.idx).identity;
        let rival = tally
            .fits
            .iter()
            .find(|s| self.entry(s.idx).identity != identity);
        let candidates = self.candidates(&tally.fits);
        let runner_up = tally.fits.get(1).map(|s| self.candidate(s));
        let review = |rule| Decision {
            predicted: None,
            method: Method::Review,
            score: clamp(best.fit.raw),
            runner_up: runner_up.clone(),
            rule,
            candidates: candidates.clone(),
        };
        if best.fit.raw < ACCEPT {
            return review(Rule::BelowThreshold);
        }
        if let Some(r) = rival
            && best.fit.raw - r.fit.raw < GAP
        {
            return review(Rule::AmbiguousTopTwo);
        }
        let (method, rule) = if best.fit.exact {
            (Method::Exact, Rule::ExactNames)
        } else {
            (Method::Fuzzy, Rule::FuzzyClear)
        };
        Decision {
            predicted: Some(self.tracks[best.idx as usize].id.clone()),
            method,
            score: clamp(best.fit.raw),
            runner_up,
            rule,
            candidates,
        }
    }
}
