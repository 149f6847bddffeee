//! The AI DJ, as pure rules: personas and the starters, which library tracks a mixtape may be
//! built from (`candidates`), the prompt (`prompt`), and how the model's answer becomes an
//! ordered list of library tracks (`answer`). No I/O: the service feeds it rows and sends the
//! prompt.

pub mod answer;
pub mod candidates;
pub mod prompt;
pub mod similar;

use crate::domain::text::normalize;

/// A DJ persona as stored. The lists are kept as the user typed them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Persona {
    pub name: String,
    pub personality: String,
    pub genres_include: String,
    pub genres_exclude: String,
    pub artists_include: String,
    pub artists_exclude: String,
    pub vibes: String,
}

/// Limits on what a persona may hold.
pub const NAME_MAX: usize = 100;
pub const PERSONALITY_MAX: usize = 10_000;
pub const LIST_MAX: usize = 2_000;

/// Why a persona form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonaProblem {
    NameMissing,
    NameTooLong,
    PersonalityTooLong,
    ListTooLong,
}

impl PersonaProblem {
    pub fn message(self) -> &'static str {
        match self {
            Self::NameMissing => "Give the DJ a name.",
            Self::NameTooLong => "The name is too long (at most 100 characters).",
            Self::PersonalityTooLong => "The personality is too long (at most 10 000 characters).",
            Self::ListTooLong => {
                "A genre, artist or vibe list is too long (at most 2 000 characters)."
            }
        }
    }
}

impl Persona {
    /// Trimmed fields, lists tidied to `a, b, c`; or why the form cannot be stored.
    pub fn cleaned(self) -> Result<Self, PersonaProblem> {
        let name = self.name.trim().to_owned();
        if name.is_empty() {
            return Err(PersonaProblem::NameMissing);
        }
        if name.chars().count() > NAME_MAX {
            return Err(PersonaProblem::NameTooLong);
        }
        let personality = self.personality.trim().replace("\r\n", "\n");
        if personality.chars().count() > PERSONALITY_MAX {
            return Err(PersonaProblem::PersonalityTooLong);
        }
        let tidy = |s: &str| -> Result<String, PersonaProblem> {
            let joined = split_list(s).join(", ");
            if joined.chars().count() > LIST_MAX {
                Err(PersonaProblem::ListTooLong)
            } else {
                Ok(joined)
            }
        };
        Ok(Self {
            name,
            personality,
            genres_include: tidy(&self.genres_include)?,
            genres_exclude: tidy(&self.genres_exclude)?,
            artists_include: tidy(&self.artists_include)?,
            artists_exclude: tidy(&self.artists_exclude)?,
            vibes: tidy(&self.vibes)?,
        })
    }
}

/// A comma- or newline-separated list as its trimmed, non-empty items (first occurrence kept).
pub fn split_list(s: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    s.split([',', '\n', ';'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .filter(|t| seen.insert(normalize(t)))
        .map(str::to_owned)
        .collect()
}

/// A list's items normalised for comparison (empty ones dropped).
pub fn normalized_list(s: &str) -> Vec<String> {
    split_list(s)
        .iter()
        .map(|t| normalize(t))
        .filter(|t| !t.is_empty())
        .collect()
}

/// The four starter personas every user gets once: distinct voices and tastes.
pub fn starters() -> Vec<Persona> {
    vec![
        Persona {
            name: "Roxy Riot".into(),
            personality: include_str!("../../../prompts/personas/rock.txt")
                .trim()
                .into(),
            genres_include: "Rock, Hard Rock, Classic Rock, Punk, Garage Rock, Metal".into(),
            genres_exclude: "Smooth Jazz, Easy Listening".into(),
            artists_include: String::new(),
            artists_exclude: String::new(),
            vibes: "loud, high-energy, sweaty, anthemic".into(),
        },
        Persona {
            name: "Marlowe".into(),
            personality: include_str!("../../../prompts/personas/indie.txt")
                .trim()
                .into(),
            genres_include: "Indie, Indie Rock, Alternative, Indie Pop, Shoegaze, Folk".into(),
            genres_exclude: "Top 40, Dance".into(),
            artists_include: String::new(),
            artists_exclude: String::new(),
            vibes: "wistful, textured, literate, a little off-kilter".into(),
        },
        Persona {
            name: "Velvet Jones".into(),
            personality: include_str!("../../../prompts/personas/soul.txt")
                .trim()
                .into(),
            genres_include: "Soul, R&B, Funk, Neo-Soul, Motown, Quiet Storm".into(),
            genres_exclude: "Metal, Hardcore".into(),
            artists_include: String::new(),
            artists_exclude: String::new(),
            vibes: "late-night, warm, romantic, smooth".into(),
        },
        Persona {
            name: "Professor Breaks".into(),
            personality: include_str!("../../../prompts/personas/hiphop.txt")
                .trim()
                .into(),
            genres_include: "Hip-Hop, Rap, Boom Bap, Jazz Rap, Trip Hop".into(),
            genres_exclude: "Country".into(),
            artists_include: String::new(),
            artists_exclude: String::new(),
            vibes: "head-nodding, crate-digging, confident, storytelling".into(),
        },
    ]
}

/// How often a mixtape is regenerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    None,
    Daily,
    Weekly,
    Monthly,
}

impl Schedule {
    pub const ALL: [Self; 4] = [Self::None, Self::Daily, Self::Weekly, Self::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::None => "Only when I press Generate",
            Self::Daily => "Every day",
            Self::Weekly => "Every week",
            Self::Monthly => "Every month",
        }
    }

    /// Seconds between two generations, `None` when not scheduled.
    pub fn every_secs(self) -> Option<i64> {
        match self {
            Self::None => None,
            Self::Daily => Some(86_400),
            Self::Weekly => Some(7 * 86_400),
            Self::Monthly => Some(30 * 86_400),
        }
    }

    /// When a mixtape last generated at `last` (never: `None`) is next due.
    pub fn next_due(self, last: Option<i64>, created_at: i64) -> Option<i64> {
        let every = self.every_secs()?;
        Some(last.unwrap_or(created_at).saturating_add(every))
    }
}

/// A seed the form gave that is not one of ours (unknown kind, or no id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSeed;

/// What a mixtape is built around, besides the DJ's taste.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seed {
    Artist(String),
    Album(String),
    Tracks(Vec<String>),
}

impl Seed {
    /// From the form's `seed_type` and `seed_id`; empty type means no seed. `Err` for a type
    /// that is not one of ours or an empty id.
    pub fn from_form(kind: &str, id: &str) -> Result<Option<Self>, BadSeed> {
        let id = id.trim();
        match kind.trim() {
            "" | "none" => Ok(None),
            _ if id.is_empty() || id.len() > 4_000 => Err(BadSeed),
            "artist" => Ok(Some(Self::Artist(id.to_owned()))),
            "album" => Ok(Some(Self::Album(id.to_owned()))),
            "tracks" => {
                let ids: Vec<String> = id
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .take(50)
                    .map(str::to_owned)
                    .collect();
                if ids.is_empty() {
                    Err(BadSeed)
                } else {
                    Ok(Some(Self::Tracks(ids)))
                }
            }
            _ => Err(BadSeed),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Artist(_) => "artist",
            Self::Album(_) => "album",
            Self::Tracks(_) => "tracks",
        }
    }

    pub fn id_text(&self) -> String {
        match self {
            Self::Artist(id) | Self::Album(id) => id.clone(),
            Self::Tracks(ids) => ids.join(","),
        }
    }
}

/// Allowed mixtape lengths.
pub const MIN_TRACKS: i64 = 5;
pub const MAX_TRACKS: i64 = 100;
pub const DEFAULT_TRACKS: i64 = 25;

/// AI text as paragraphs: split on blank lines (or single newlines), trimmed, empty ones
/// dropped. Rendering keeps them apart with one element each, so no HTML is ever built from
/// the text.
pub fn paragraphs(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n")
        .split('\n')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starters_are_four_distinct_and_valid() {
        let s = starters();
        assert_eq!(s.len(), 4);
        let names: std::collections::HashSet<_> = s.iter().map(|p| p.name.clone()).collect();
        assert_eq!(names.len(), 4);
        for p in s {
            assert!(p.personality.len() > 200, "{}", p.name);
            assert_eq!(p.clone().cleaned().unwrap(), p);
        }
    }

    #[test]
    fn lists_are_tidied_and_deduplicated() {
        assert_eq!(
            split_list(" Rock,, rock ;Punk\n  Metal "),
            vec!["Rock", "Punk", "Metal"]
        );
        let p = Persona {
            name: "  X ".into(),
            genres_include: "a,b , c".into(),
            ..Persona::default()
        };
        assert_eq!(p.cleaned().unwrap().genres_include, "a, b, c");
        assert_eq!(
            Persona::default().cleaned(),
            Err(PersonaProblem::NameMissing)
        );
    }

    #[test]
    fn seeds_and_schedules_parse() {
        assert_eq!(Seed::from_form("", "x"), Ok(None));
        assert_eq!(
            Seed::from_form("artist", " a1 "),
            Ok(Some(Seed::Artist("a1".into())))
        );
        assert_eq!(
            Seed::from_form("tracks", "t1, t2,"),
            Ok(Some(Seed::Tracks(vec!["t1".into(), "t2".into()])))
        );
        assert_eq!(Seed::from_form("album", " "), Err(BadSeed));
        assert_eq!(Seed::from_form("genre", "x"), Err(BadSeed));
        assert_eq!(
            Schedule::Weekly.next_due(Some(10), 0),
            Some(10 + 7 * 86_400)
        );
        assert_eq!(Schedule::None.next_due(Some(10), 0), None);
    }

    #[test]
    fn paragraphs_split_on_newlines() {
        assert_eq!(
            paragraphs("One.\r\n\r\n  Two <b>\n\nThree"),
            vec!["One.", "Two <b>", "Three"]
        );
        assert!(paragraphs("  \n ").is_empty());
    }
}
