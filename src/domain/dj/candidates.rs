//! Which library tracks a mixtape may be built from. The pool (seed tracks, the DJ's artists,
//! the most played and a random sample of the rest) comes from the database; here the DJ's
//! exclusions are applied, every track gets a weight (seed > the DJ's genres and artists >
//! played lately > the rest), and a weighted random sample without replacement is taken until
//! the prompt budget is spent. A large library therefore offers different songs every time,
//! never "the first N rows".

use std::collections::HashSet;

use crate::domain::dj::{Persona, normalized_list};
use crate::domain::text::normalize;

/// A library track as the DJ may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub id: String,
    pub title: String,
    pub artist: String,
    pub album: String,
    pub artist_id: Option<String>,
    pub album_id: Option<String>,
    pub genres: Vec<String>,
    /// Plays of this track in the listening history window (or Navidrome's play count).
    pub plays: i64,
}

/// A candidate as offered to the model: a short label (`c12`) and the track.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub label: String,
    pub track: Track,
}

/// Why a track is in the pool, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Seed,
    Taste,
    Played,
    Other,
}

impl Reason {
    fn weight(self, plays: i64) -> f64 {
        match self {
            Self::Seed => 16.0,
            Self::Taste => 6.0,
            // More plays, more weight, but slowly: favourites should not crowd out the rest.
            Self::Played => 2.0 + (plays.max(1) as f64).ln(),
            Self::Other => 1.0,
        }
    }
}

/// How many characters one candidate line takes in the prompt (the `prompt` module's format).
pub fn line_cost(t: &Track) -> usize {
    // "c123 | title | artist | album | g1, g2 | 12\n"
    12 + t.title.len()
        + t.artist.len()
        + t.album.len()
        + t.genres.iter().take(3).map(|g| g.len() + 2).sum::<usize>()
}

/// A tiny deterministic generator (splitmix64): the service passes a random seed, tests a
/// fixed one.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / ((1u64 << 53) as f64)
    }
}

/// What the selection is told besides the pool.
#[derive(Debug, Clone)]
pub struct Selection<'a> {
    pub persona: &'a Persona,
    /// Ids of the seed's tracks (artist's, album's, or the chosen ones).
    pub seed_ids: &'a HashSet<String>,
    /// Tracks that must not be offered (e.g. already in the playlist being enhanced).
    pub exclude_ids: &'a HashSet<String>,
    /// Characters the candidate lines may take.
    pub budget_chars: usize,
    /// Never more than this many candidates, whatever the budget.
    pub max_candidates: usize,
}

/// Whether the DJ's exclusions rule `t` out: an excluded artist (exact, normalised) or a genre
/// that is or contains an excluded one ("metal" rules out "black metal").
pub fn excluded(t: &Track, artists_out: &[String], genres_out: &[String]) -> bool {
    let artist = normalize(&t.artist);
    if artists_out.contains(&artist) {
        return true;
    }
    t.genres.iter().any(|g| {
        let g = normalize(g);
        genres_out.iter().any(|x| {
            g == *x || g.split(' ').any(|w| w == x) || (x.contains(' ') && g.contains(x.as_str()))
        })
    })
}

fn matches_taste(t: &Track, artists_in: &[String], genres_in: &[String]) -> bool {
    let artist = normalize(&t.artist);
    if artists_in.contains(&artist) {
        return true;
    }
    t.genres.iter().any(|g| {
        let g = normalize(g);
        genres_in
            .iter()
            .any(|x| g == *x || g.split(' ').any(|w| w == x) || g.contains(x.as_str()))
    })
}

/// Pick the candidates from `pool`: exclusions first, then a weighted random sample without
/// replacement (Efraimidis–Spirakis keys) until `budget_chars` or `max_candidates` is reached.
/// Labels are `c1`, `c2`, … in the order offered. Duplicate ids in the pool count once.
pub fn select(pool: Vec<Track>, sel: &Selection<'_>, rng: &mut Rng) -> Vec<Candidate> {
    let artists_out = normalized_list(&sel.persona.artists_exclude);
    let genres_out = normalized_list(&sel.persona.genres_exclude);
    let artists_in = normalized_list(&sel.persona.artists_include);
    let genres_in = normalized_list(&sel.persona.genres_include);
    let mut seen = HashSet::new();
    let mut keyed: Vec<(f64, Reason, Track)> = Vec::with_capacity(pool.len());
    for t in pool {
        if !seen.insert(t.id.clone()) || sel.exclude_ids.contains(&t.id) {
            continue;
        }
        let reason = if sel.seed_ids.contains(&t.id) {
            Reason::Seed
        } else if excluded(&t, &artists_out, &genres_out) {
            continue;
        } else if matches_taste(&t, &artists_in, &genres_in) {
            Reason::Taste
        } else if t.plays > 0 {
            Reason::Played
        } else {
            Reason::Other
        };
        let key = rng.unit().powf(1.0 / reason.weight(t.plays));
        keyed.push((key, reason, t));
    }
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = Vec::new();
    let mut spent = 0usize;
    for (_, _, t) in keyed {
        if out.len() >= sel.max_candidates {
            break;
        }
        let cost = line_cost(&t);
        if spent + cost > sel.budget_chars {
            // A long line may not fit while shorter ones still do.
            continue;
        }
        spent += cost;
        out.push(Candidate {
            label: format!("c{}", out.len() + 1),
            track: t,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(i: usize, artist: &str, genre: &str, plays: i64) -> Track {
        Track {
            id: format!("t{i}"),
            title: format!("Song {i}"),
            artist: artist.into(),
            album: "Album".into(),
            artist_id: None,
            album_id: None,
            genres: vec![genre.into()],
            plays,
        }
    }

    fn persona() -> Persona {
        Persona {
            name: "X".into(),
            genres_include: "Soul".into(),
            genres_exclude: "Metal".into(),
            artists_exclude: "Loud Band".into(),
            ..Persona::default()
        }
    }

    fn run(pool: Vec<Track>, budget: usize, seed: u64) -> Vec<Candidate> {
        let p = persona();
        let none = HashSet::new();
        let sel = Selection {
            persona: &p,
            seed_ids: &none,
            exclude_ids: &none,
            budget_chars: budget,
            max_candidates: 1000,
        };
        select(pool, &sel, &mut Rng::new(seed))
    }

    #[test]
    fn exclusions_apply_and_labels_are_sequential() {
        let pool = vec![
            track(1, "Loud Band", "Rock", 0),
            track(2, "A", "Black Metal", 0),
            track(3, "B", "Soul", 0),
            track(4, "C", "Pop", 3),
        ];
        let got = run(pool, 10_000, 1);
        let ids: HashSet<_> = got.iter().map(|c| c.track.id.as_str()).collect();
        assert_eq!(ids, HashSet::from(["t3", "t4"]));
        assert_eq!(got[0].label, "c1");
        assert_eq!(got[1].label, "c2");
    }

    #[test]
    fn the_budget_caps_the_list_and_samples_vary() {
        let pool: Vec<Track> = (0..5000).map(|i| track(i, "Artist", "Pop", 0)).collect();
        let a = run(pool.clone(), 2_000, 1);
        let b = run(pool.clone(), 2_000, 2);
        let cost: usize = a.iter().map(|c| line_cost(&c.track)).sum();
        assert!(cost <= 2_000 && a.len() > 20, "{} {}", cost, a.len());
        // Not the first N rows, and not the same sample twice.
        assert!(
            a.iter()
                .any(|c| c.track.id.trim_start_matches('t').parse::<usize>().unwrap() > 500)
        );
        let ia: HashSet<_> = a.iter().map(|c| c.track.id.clone()).collect();
        let ib: HashSet<_> = b.iter().map(|c| c.track.id.clone()).collect();
        assert!(ia.intersection(&ib).count() < ia.len() / 2);
    }

    #[test]
    fn taste_and_seed_are_favoured() {
        let mut pool: Vec<Track> = (0..2000).map(|i| track(i, "Artist", "Pop", 0)).collect();
        pool.extend((2000..2050).map(|i| track(i, "Singer", "Soul", 0)));
        let got = run(pool, 3_000, 7);
        let soul = got.iter().filter(|c| c.track.genres[0] == "Soul").count();
        // 50 of 2050 tracks (2.4 %) are Soul; with weight 6 far more of them are picked.
        assert!(soul * 100 / got.len() > 8, "{soul} of {}", got.len());
    }
}
