//! The prompts, embedded in the binary (an operator may replace them from a directory, see
//! `services::vibes`), and how they are filled in. Only music text and the user's own words go
//! in: the DJ's persona, track / artist / album names, genres and play counts. Never an account
//! name, id, e-mail, token or key: nothing of the sort is passed to these functions.

use crate::domain::dj::Persona;
use crate::domain::dj::candidates::{Candidate, Track};

pub const SYSTEM: &str = include_str!("../../../prompts/system.txt");
pub const GENERATE_MIXTAPE: &str = include_str!("../../../prompts/generate_mixtape.txt");
pub const ENHANCE_PLAYLIST: &str = include_str!("../../../prompts/enhance_playlist.txt");
pub const SIMILAR_ARTISTS: &str = include_str!("../../../prompts/similar_artists.txt");

/// The user message asking the DJ to rank similar artists: `artists` as (name, why).
pub fn similar_artists(
    template: &str,
    artist: &str,
    genres: &[String],
    artists: &[(String, String)],
) -> String {
    let lines: Vec<String> = artists
        .iter()
        .enumerate()
        .map(|(i, (name, why))| format!("a{} | {} | {}", i + 1, field(name, 80), field(why, 200)))
        .collect();
    let genres = if genres.is_empty() {
        "genres unknown".to_owned()
    } else {
        genres
            .iter()
            .take(5)
            .map(|g| field(g, 40))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let artist = field(artist, 80);
    let lines = lines.join("\n");
    fill(
        template,
        &[
            ("artist", artist.as_str()),
            ("genres", genres.as_str()),
            ("artists", lines.as_str()),
        ],
    )
}

/// A played song as the prompt shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Played {
    pub title: String,
    pub artist: String,
    pub plays: i64,
}

/// The seed as the prompt describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedText {
    None,
    Artist(String),
    Album { name: String, artist: String },
    Tracks(Vec<(String, String)>),
}

/// `{{name}}` placeholders replaced in one pass (a value that itself contains `{{x}}` is not
/// expanded again); unknown names are left as they are.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                match values.iter().find(|(k, _)| *k == name) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// One field of a candidate line: no separators or line breaks, bounded length.
fn field(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c == '|' || c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    cleaned.trim().to_owned()
}

/// `label | title | artist | album | genres | plays`
pub fn candidate_line(label: &str, t: &Track) -> String {
    let genres: Vec<String> = t.genres.iter().take(3).map(|g| field(g, 40)).collect();
    format!(
        "{label} | {} | {} | {} | {} | {}",
        field(&t.title, 120),
        field(&t.artist, 80),
        field(&t.album, 80),
        genres.join(", "),
        t.plays
    )
}

fn or_none(s: &str) -> &str {
    if s.trim().is_empty() { "(none)" } else { s }
}

/// The system message: who the DJ is.
pub fn system(template: &str, p: &Persona) -> String {
    let personality = if p.personality.trim().is_empty() {
        "A friendly DJ who loves a well-made mix."
    } else {
        p.personality.as_str()
    };
    fill(
        template,
        &[("dj_name", p.name.as_str()), ("personality", personality)],
    )
}

fn history_text(history: &[Played]) -> String {
    if history.is_empty() {
        return "(nothing recorded)".to_owned();
    }
    history
        .iter()
        .map(|h| {
            format!(
                "- {} by {} ({} plays)",
                field(&h.title, 120),
                field(&h.artist, 80),
                h.plays
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn seed_text(seed: &SeedText) -> String {
    match seed {
        SeedText::None => {
            "No particular starting point: follow your taste and the listener's.".into()
        }
        SeedText::Artist(a) => format!(
            "Build the mix around the artist {}: include some of their songs and songs that sit well next to them.",
            field(a, 80)
        ),
        SeedText::Album { name, artist } => format!(
            "Build the mix around the album {} by {}: include some of its songs and songs that sit well next to them.",
            field(name, 120),
            field(artist, 80)
        ),
        SeedText::Tracks(ts) => {
            let list: Vec<String> = ts
                .iter()
                .map(|(t, a)| format!("{} by {}", field(t, 120), field(a, 80)))
                .collect();
            format!(
                "Build the mix around these songs (include them): {}.",
                list.join("; ")
            )
        }
    }
}

fn taste(p: &Persona) -> [(&'static str, &str); 5] {
    [
        ("genres_include", or_none(&p.genres_include)),
        ("genres_exclude", or_none(&p.genres_exclude)),
        ("artists_include", or_none(&p.artists_include)),
        ("artists_exclude", or_none(&p.artists_exclude)),
        ("vibes", or_none(&p.vibes)),
    ]
}

/// The user message of a mixtape generation.
pub fn mixtape(
    template: &str,
    p: &Persona,
    count: usize,
    seed: &SeedText,
    history: &[Played],
    candidates: &[Candidate],
) -> String {
    let lines: Vec<String> = candidates
        .iter()
        .map(|c| candidate_line(&c.label, &c.track))
        .collect();
    let count = count.to_string();
    let seed = seed_text(seed);
    let history = history_text(history);
    let lines = lines.join("\n");
    let mut values: Vec<(&str, &str)> = taste(p).to_vec();
    values.extend([
        ("count", count.as_str()),
        ("seed", seed.as_str()),
        ("history", history.as_str()),
        ("candidates", lines.as_str()),
    ]);
    fill(template, &values)
}

/// The user message of a playlist enhancement: `existing` labelled `e1…`, `candidates` `c1…`.
pub fn enhance(
    template: &str,
    p: &Persona,
    playlist_name: &str,
    add: usize,
    existing: &[Candidate],
    candidates: &[Candidate],
) -> String {
    let ex: Vec<String> = existing
        .iter()
        .map(|c| candidate_line(&c.label, &c.track))
        .collect();
    let cs: Vec<String> = candidates
        .iter()
        .map(|c| candidate_line(&c.label, &c.track))
        .collect();
    let count = add.to_string();
    let name = field(playlist_name, 120);
    let ex = ex.join("\n");
    let cs = cs.join("\n");
    let mut values: Vec<(&str, &str)> = taste(p).to_vec();
    values.extend([
        ("count", count.as_str()),
        ("playlist_name", name.as_str()),
        ("existing", ex.as_str()),
        ("candidates", cs.as_str()),
    ]);
    fill(template, &values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_once_and_keeps_unknowns() {
        assert_eq!(
            fill("a {{x}} b {{ y }} {{z}} {{", &[("x", "{{y}}"), ("y", "2")]),
            "a {{y}} b 2 {{z}} {{"
        );
    }

    #[test]
    fn the_mixtape_prompt_has_every_part() {
        let p = crate::domain::dj::starters().remove(0);
        let c = Candidate {
            label: "c1".into(),
            track: Track {
                id: "navidrome-id-1".into(),
                title: "Song | with\nbreak".into(),
                artist: "Band".into(),
                album: "LP".into(),
                artist_id: None,
                album_id: None,
                genres: vec!["Rock".into()],
                plays: 3,
            },
        };
        let text = mixtape(
            GENERATE_MIXTAPE,
            &p,
            12,
            &SeedText::Artist("Band".into()),
            &[Played {
                title: "Hit".into(),
                artist: "Band".into(),
                plays: 9,
            }],
            &[c],
        );
        assert!(
            text.contains("c1 | Song   with break | Band | LP | Rock | 3"),
            "{text}"
        );
        assert!(text.contains("12 songs"));
        assert!(text.contains("Hit by Band (9 plays)"));
        assert!(!text.contains("{{"), "{text}");
        // Library ids stay out of the prompt: the model sees labels only.
        assert!(!text.contains("navidrome-id-1"));
        let sys = system(SYSTEM, &p);
        assert!(sys.contains("Roxy Riot") && !sys.contains("{{"));
    }
}
