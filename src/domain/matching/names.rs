//! Artist credits taken apart into names ("A feat. B", "A, B & C", "B x A"), without breaking
//! names that hold a separator themselves (Earth, Wind & Fire; Tyler, the Creator).

use std::collections::HashSet;

use super::index::FastSet;

use super::fold as normalize;

/// The key of one artist name.
pub(crate) fn artist_key(name: &str) -> String {
    let mut key = normalize(name);
    if key.starts_with("the ") {
        key.drain(..4);
    }
    if key.ends_with(" the") {
        key.truncate(key.len() - 4);
    }
    key.retain(|c| c != ' ');
    key
}

const SEP_CHARS: &[char] = &[',', ';', '/', '&', '+', '×', '、', '，'];
const SEP_WORDS: &[&str] = &[
    "and",
    "x",
    "vs",
    "vs.",
    "feat",
    "feat.",
    "ft",
    "ft.",
    "featuring",
    "with",
];

/// True when a credit may hold more than one name (or "X, The").
fn has_separator(credit: &str) -> bool {
    credit.chars().any(|c| SEP_CHARS.contains(&c))
        || credit
            .split_whitespace()
            .any(|w| SEP_WORDS.iter().any(|s| s.eq_ignore_ascii_case(w)))
}

/// A credit split at every separator: the pieces and the separators between them, as written.
fn pieces(credit: &str) -> (Vec<String>, Vec<String>) {
    let mut credit = credit.trim().to_owned();
    // "Beatles, The" is "The Beatles".
    let lower = credit.to_lowercase();
    if lower.len() == credit.len()
        && lower.ends_with(", the")
        && let Some(head) = credit.get(..credit.len() - 5)
    {
        credit = format!("The {}", head.trim());
    }
    let mut parts: Vec<String> = Vec::new();
    let mut seps: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut spaced = String::with_capacity(credit.len() + 8);
    for c in credit.chars() {
        if SEP_CHARS.contains(&c) {
            spaced.push(' ');
            spaced.push(c);
            spaced.push(' ');
        } else {
            spaced.push(c);
        }
    }
    for word in spaced.split_whitespace() {
        let is_sep = (word.chars().count() == 1 && word.chars().all(|c| SEP_CHARS.contains(&c)))
            || SEP_WORDS.iter().any(|w| w.eq_ignore_ascii_case(word));
        if is_sep && !current.is_empty() {
            parts.push(current.join(" "));
            current.clear();
            seps.push(word.to_owned());
        } else if is_sep {
            // A separator right after another (", and"): keep it with the previous one.
            if let Some(last) = seps.last_mut() {
                last.push(' ');
                last.push_str(word);
            }
        } else {
            current.push(word);
        }
    }
    if !current.is_empty() {
        parts.push(current.join(" "));
    } else if !seps.is_empty() {
        seps.pop();
    }
    (parts, seps)
}

/// Separators that never appear inside a band's name.
const HARD_SEPS: &[&str] = &[
    "x",
    "vs",
    "vs.",
    "feat",
    "feat.",
    "ft",
    "ft.",
    "featuring",
    "with",
];

/// Band names hold one-word pieces (Earth, Wind & Fire; Simon & Garfunkel) or "& the …" (Nick
/// Cave & the Bad Seeds); pieces of several words each are a list of artists.
fn band_like(parts: &[String], seps: &[String]) -> bool {
    parts.iter().enumerate().any(|(i, p)| {
        let words: Vec<&str> = p.split_whitespace().collect();
        words.len() == 1
            || (i > 0
                && words.first().is_some_and(|w| w.eq_ignore_ascii_case("the"))
                && matches!(seps[i - 1].to_lowercase().as_str(), "&" | "and" | "+"))
    })
}

fn join(parts: &[String], seps: &[String]) -> String {
    let mut joined = parts.first().cloned().unwrap_or_default();
    for (p, s) in parts.iter().skip(1).zip(seps) {
        joined.push(' ');
        joined.push_str(s);
        joined.push(' ');
        joined.push_str(p);
    }
    joined
}

/// Known multi-part names that must stay whole.
#[derive(Debug, Default, Clone)]
pub(crate) struct Protected {
    keys: HashSet<String>,
    /// Keys of the first piece of each protected name: only there can a merge start.
    starts: HashSet<String>,
    longest: usize,
}

impl Protected {
    /// From every credit in the library: a credit that splits, but whose pieces are not all
    /// artists of their own in the library, is one name (Simon & Garfunkel); one whose pieces
    /// all are is a collaboration (Queen & David Bowie).
    pub(crate) fn from_credits<'a>(credits: impl Iterator<Item = &'a str>) -> Protected {
        // Each distinct credit string once, however many tracks carry it.
        let credits: FastSet<&str> = credits.collect();
        let wholes: FastSet<String> = credits.iter().map(|c| artist_key(c)).collect();
        let mut keys = HashSet::new();
        let mut starts = HashSet::new();
        let mut longest = 0;
        for credit in credits {
            if !has_separator(credit) {
                continue;
            }
            let (parts, seps) = pieces(credit);
            // "feat.", "with", "x", "vs" never join a band name: look at the runs between them.
            let mut start = 0;
            for end in 1..=parts.len() {
                let hard = end == parts.len()
                    || HARD_SEPS
                        .iter()
                        .any(|h| h.eq_ignore_ascii_case(&seps[end - 1]));
                if !hard {
                    continue;
                }
                let run = &parts[start..end];
                let run_seps = &seps[start..end - 1];
                if run.len() >= 2
                    && !run.iter().all(|p| wholes.contains(&artist_key(p)))
                    && band_like(run, run_seps)
                {
                    longest = longest.max(run.len());
                    keys.insert(artist_key(&join(run, run_seps)));
                    starts.insert(artist_key(&run[0]));
                }
                start = end;
            }
        }
        Protected {
            keys,
            starts,
            longest,
        }
    }

    /// The names of a credit, first (primary) first.
    pub(crate) fn names(&self, credit: &str) -> Vec<String> {
        if !has_separator(credit) {
            let key = artist_key(credit);
            return if key.is_empty() {
                Vec::new()
            } else {
                vec![key]
            };
        }
        let (parts, seps) = pieces(credit);
        let mut out = Vec::with_capacity(parts.len());
        let mut i = 0;
        while i < parts.len() {
            let first = artist_key(&parts[i]);
            let mut taken = 1;
            let max = if self.starts.contains(&first) {
                self.longest.min(parts.len() - i)
            } else {
                0
            };
            for len in (2..=max).rev() {
                let key = artist_key(&join(&parts[i..i + len], &seps[i..i + len - 1]));
                if self.keys.contains(&key) {
                    out.push(key);
                    taken = len;
                    break;
                }
            }
            if taken == 1 && !first.is_empty() && first != "the" {
                out.push(first);
            }
            i += taken;
        }
        if out.is_empty() {
            let whole = artist_key(credit);
            if !whole.is_empty() {
                out.push(whole);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib(credits: &[&str]) -> Protected {
        Protected::from_credits(credits.iter().copied())
    }

    #[test]
    fn keys_fold_the_and_spelling() {
        assert_eq!(artist_key("The Beatles"), "beatles");
        assert_eq!(artist_key("Beatles, The"), "beatles");
        assert_eq!(artist_key("AC/DC"), artist_key("ACDC"));
        assert_eq!(artist_key("Beyoncé"), "beyonce");
        assert_eq!(artist_key("The The"), "the");
    }

    #[test]
    fn credits_split_at_separators() {
        let p = lib(&[]);
        assert_eq!(
            p.names("Calvin Harris feat. Rihanna"),
            vec!["calvinharris", "rihanna"]
        );
        assert_eq!(p.names("A, B & C"), vec!["a", "b", "c"]);
        assert_eq!(p.names("Skrillex x Diplo"), vec!["skrillex", "diplo"]);
        assert_eq!(p.names("A; B / C vs D"), vec!["a", "b", "c", "d"]);
        assert_eq!(p.names("Beatles, The"), vec!["beatles"]);
    }

    #[test]
    fn names_holding_separators_stay_whole() {
        let p = lib(&[
            "Earth, Wind & Fire",
            "Tyler, the Creator",
            "Simon & Garfunkel",
            "Crosby, Stills, Nash & Young",
            "Queen & David Bowie",
            "Queen",
            "David Bowie",
            "Earth, Wind & Fire with The Emotions",
            "The Kid LAROI, Justin Bieber",
        ]);
        assert_eq!(
            p.names("Earth, Wind & Fire with The Emotions"),
            vec!["earthwindandfire", "emotions"]
        );
        assert_eq!(
            p.names("The Kid LAROI, Justin Bieber"),
            vec!["kidlaroi", "justinbieber"]
        );
        assert_eq!(p.names("Earth, Wind & Fire"), vec!["earthwindandfire"]);
        assert_eq!(p.names("Earth, Wind and Fire"), vec!["earthwindandfire"]);
        assert_eq!(
            p.names("Tyler, The Creator feat. Frank Ocean"),
            vec!["tylerthecreator", "frankocean"]
        );
        assert_eq!(p.names("Simon and Garfunkel"), vec!["simonandgarfunkel"]);
        assert_eq!(
            p.names("Crosby, Stills, Nash & Young"),
            vec!["crosbystillsnashandyoung"]
        );
        assert_eq!(p.names("Queen & David Bowie"), vec!["queen", "davidbowie"]);
    }
}
