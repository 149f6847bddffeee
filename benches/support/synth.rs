//! A deterministic synthetic library and query set for the matcher's benchmarks: pseudo-words
//! for titles and names, artists of very different sizes (a few with hundreds of tracks),
//! version labels, featured artists, ids on part of the tracks, and queries that are spelled
//! differently, carry ids, name versions the library lacks, or are not in the library at all.

#![allow(dead_code)]

use spotter::domain::matching::{LibraryTrack, Query};

/// splitmix64: tiny, fast and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Skewed towards small values: index i picked with weight about 1/(i+1).
    pub fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (((n as f64 + 1.0).powf(u)) - 1.0)
            .floor()
            .min(n as f64 - 1.0) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "te", "su", "no", "vi", "an", "el", "or", "da", "ne", "ri", "to", "ba",
    "lu", "ce", "ma", "zo", "fe", "gi", "ho", "ja", "ké", "ly", "pa", "qu", "sé", "wu",
];

fn word(rng: &mut Rng) -> String {
    let n = 2 + rng.below(2);
    let mut w = String::new();
    for _ in 0..n {
        w.push_str(SYLLABLES[rng.below(SYLLABLES.len())]);
    }
    w
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub struct Synth {
    pub library: Vec<LibraryTrack>,
    pub queries: Vec<(Query, Option<String>)>,
}

const LABELS: &[&str] = &[
    " - 2011 Remaster",
    " (Live)",
    " - Radio Edit",
    " (Acoustic)",
    " [Explicit]",
    " (Remastered)",
    " - Live at Wembley 1986",
    " (Instrumental)",
];

/// `tracks` library tracks and `queries` queries (with the expected library id when the query
/// is a library track).
pub fn generate(tracks: usize, queries: usize) -> Synth {
    let mut rng = Rng::new(0x5107_7e12);
    let vocabulary: Vec<String> = (0..6000).map(|_| word(&mut rng)).collect();
    let n_artists = (tracks / 16).max(1);
    let artists: Vec<String> = (0..n_artists)
        .map(|i| {
            let name = format!(
                "{} {}",
                capitalise(&vocabulary[rng.below(vocabulary.len())]),
                capitalise(&vocabulary[rng.below(vocabulary.len())])
            );
            match i % 10 {
                0 => format!("The {name}"),
                1 => format!(
                    "{name} & {}",
                    capitalise(&vocabulary[rng.below(vocabulary.len())])
                ),
                _ => name,
            }
        })
        .collect();
    let mut library = Vec::with_capacity(tracks);
    for i in 0..tracks {
        // Sizes fall off as 1/sqrt(rank): the biggest artist has about 1 % of the library.
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let artist = artists[((n_artists as f64) * u * u) as usize % n_artists].clone();
        let words = 1 + rng.below(4);
        // Word frequencies fall off as 1/sqrt(rank), so common words ("love") recur without
        // thousands of tracks sharing one title.
        let title: Vec<String> = (0..words)
            .map(|_| {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                capitalise(
                    &vocabulary[((vocabulary.len() as f64) * u * u) as usize % vocabulary.len()],
                )
            })
            .collect();
        let mut title = title.join(" ");
        if rng.chance(12) {
            title.push_str(LABELS[rng.below(LABELS.len())]);
        }
        if rng.chance(5) {
            title.push_str(&format!(" (feat. {})", artists[rng.below(n_artists)]));
        }
        library.push(LibraryTrack {
            id: format!("tr{i:07}"),
            title,
            artist,
            album: Some(capitalise(&vocabulary[rng.below(vocabulary.len())])),
            album_artist: None,
            duration_ms: rng.chance(95).then(|| 120_000 + rng.below(300_000) as u32),
            isrc: rng.chance(70).then(|| format!("ZZS{i:09}")),
            mbid: rng
                .chance(30)
                .then(|| format!("00000000-0000-4000-8000-{i:012}")),
        });
    }
    let mut out = Vec::with_capacity(queries);
    for _ in 0..queries {
        let t = &library[rng.below(library.len())];
        let kind = rng.below(100);
        let q = match kind {
            // The library track itself, spelled as a streaming service would.
            0..=39 => (
                Query {
                    title: if rng.chance(30) {
                        format!("{} - Remastered 2009", t.title.to_uppercase())
                    } else {
                        t.title.clone()
                    },
                    artist: t.artist.to_lowercase(),
                    artists: Vec::new(),
                    album: t.album.clone(),
                    duration_ms: t.duration_ms.map(|d| d + 1_000),
                    isrc: None,
                    mbid: None,
                },
                Some(t.id.clone()),
            ),
            // With an id.
            40..=59 => (
                Query {
                    title: t.title.clone(),
                    artist: t.artist.clone(),
                    artists: vec![t.artist.clone()],
                    album: None,
                    duration_ms: t.duration_ms,
                    isrc: t.isrc.clone(),
                    mbid: if t.isrc.is_none() {
                        t.mbid.clone()
                    } else {
                        None
                    },
                },
                Some(t.id.clone()),
            ),
            // A version the library may not have.
            60..=74 => (
                Query {
                    title: format!("{} (Live)", t.title),
                    artist: t.artist.clone(),
                    ..Query::default()
                },
                None,
            ),
            // The same title by someone else.
            75..=84 => (
                Query {
                    title: t.title.clone(),
                    artist: artists[rng.below(n_artists)].clone(),
                    ..Query::default()
                },
                None,
            ),
            // Not in the library at all.
            _ => (
                Query {
                    title: format!(
                        "{} {}",
                        capitalise(&word(&mut rng)),
                        capitalise(&word(&mut rng))
                    ),
                    artist: capitalise(&word(&mut rng)),
                    ..Query::default()
                },
                None,
            ),
        };
        out.push(q);
    }
    Synth {
        library,
        queries: out,
    }
}
