//! Similar artists in the user's own library: listening co-occurrence (played within an hour of
//! each other), playlist co-occurrence (in the same playlists) and shared genres, each scaled to
//! 0..1 against the strongest signal of its kind and weighted. Only artists in the library can
//! appear, since every signal comes from library tracks.

use std::collections::HashMap;

/// The raw signals for one other artist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    /// Plays of this artist within an hour of a play of the target.
    pub played_near: i64,
    /// Playlists holding both.
    pub playlists: i64,
    /// Genres (normalised) both have.
    pub shared_genres: Vec<String>,
}

/// One similar artist, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Similar {
    pub artist_id: String,
    pub score: f64,
    pub signals: Signals,
}

const W_PLAYED: f64 = 0.45;
const W_PLAYLISTS: f64 = 0.35;
const W_GENRES: f64 = 0.20;

/// Rank `signals` (by artist id); `target_genres` is how many genres the target has. At most
/// `limit`, ties broken by id for a stable order.
pub fn rank(signals: HashMap<String, Signals>, target_genres: usize, limit: usize) -> Vec<Similar> {
    let max_played = signals
        .values()
        .map(|s| s.played_near)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let max_lists = signals
        .values()
        .map(|s| s.playlists)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let genres = target_genres.max(1) as f64;
    let mut out: Vec<Similar> = signals
        .into_iter()
        .map(|(artist_id, s)| {
            let score = W_PLAYED * (s.played_near as f64 / max_played)
                + W_PLAYLISTS * (s.playlists as f64 / max_lists)
                + W_GENRES * (s.shared_genres.len() as f64 / genres).min(1.0);
            Similar {
                artist_id,
                score,
                signals: s,
            }
        })
        .filter(|s| s.score > 0.0)
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.artist_id.cmp(&b.artist_id))
    });
    out.truncate(limit);
    out
}

/// Why an artist is listed, in words.
pub fn why(s: &Signals) -> String {
    let mut parts = Vec::new();
    if s.played_near > 0 {
        parts.push(format!(
            "played near it {} time{}",
            s.played_near,
            if s.played_near == 1 { "" } else { "s" }
        ));
    }
    if s.playlists > 0 {
        parts.push(format!(
            "together in {} playlist{}",
            s.playlists,
            if s.playlists == 1 { "" } else { "s" }
        ));
    }
    if !s.shared_genres.is_empty() {
        let shown: Vec<&str> = s.shared_genres.iter().take(3).map(String::as_str).collect();
        parts.push(format!("shares {}", shown.join(", ")));
    }
    parts.join(" · ")
}

/// The DJ's ranking of `n` artists offered as `a1…aN`: (index, reason) in the DJ's order, each
/// once; artists the DJ left out are not listed. `None` when the answer cannot be read.
pub fn rerank(answer: &str, n: usize) -> Option<Vec<(usize, String)>> {
    let value = crate::domain::dj::answer::parse_value(answer)?;
    let list = match &value {
        serde_json::Value::Object(o) => o
            .get("artists")
            .or_else(|| o.get("ranking"))
            .and_then(serde_json::Value::as_array)?,
        serde_json::Value::Array(a) => a,
        _ => return None,
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for item in list {
        let (id, reason) = match item {
            serde_json::Value::String(s) => (s.as_str(), ""),
            serde_json::Value::Object(o) => (
                o.get("id")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(""),
                o.get("reason")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(""),
            ),
            _ => continue,
        };
        let Some(index) = id
            .trim()
            .strip_prefix('a')
            .and_then(|d| d.parse::<usize>().ok())
            .and_then(|k| k.checked_sub(1))
            .filter(|i| *i < n)
        else {
            continue;
        };
        if seen.insert(index) {
            out.push((index, reason.chars().take(500).collect()));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_djs_ranking_keeps_known_ids_once() {
        let r = rerank(
            r#"```json
{"artists": [{"id": "a2", "reason": "close"}, {"id": "a2"}, {"id": "a9"}, {"id": "x"}, {"id": "a1", "reason": "ok"},]}
```"#,
            3,
        )
        .unwrap();
        assert_eq!(r, vec![(1, "close".to_owned()), (0, "ok".to_owned())]);
        assert_eq!(rerank("nope", 3), None);
    }

    #[test]
    fn listening_and_playlists_outweigh_a_shared_genre() {
        let mut m = HashMap::new();
        m.insert(
            "genre-only".to_owned(),
            Signals {
                shared_genres: vec!["rock".into()],
                ..Signals::default()
            },
        );
        m.insert(
            "played".to_owned(),
            Signals {
                played_near: 10,
                playlists: 2,
                ..Signals::default()
            },
        );
        m.insert("nothing".to_owned(), Signals::default());
        let r = rank(m, 1, 10);
        assert_eq!(
            r.iter().map(|s| s.artist_id.as_str()).collect::<Vec<_>>(),
            vec!["played", "genre-only"]
        );
        assert_eq!(
            why(&r[0].signals),
            "played near it 10 times · together in 2 playlists"
        );
        assert_eq!(why(&r[1].signals), "shares rock");
    }
}
