//! The model's answer, from text to an ordered list of library tracks. The text is read
//! tolerantly — code fences, prose around the object, trailing commas, an answer cut off
//! mid-way, `track_id` for `id` — and never panics. Each pick must name a candidate: by its
//! label (`c12`), else by exact normalised title and artist of a candidate, else through the
//! matcher (`domain::matching`) with the candidates as its library, confident matches only;
//! picks outside the list and repeats are dropped, and too few usable picks is an error.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::domain::dj::candidates::Candidate;
use crate::domain::matching::{Index, LibraryTrack, Query};
use crate::domain::text::normalize;

/// Longest text kept from one field of the answer.
pub const TEXT_MAX: usize = 4_000;
/// Longest reason kept per track.
pub const REASON_MAX: usize = 1_000;

/// One pick as the model wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawPick {
    pub id: String,
    pub title: String,
    pub artist: String,
    pub reason: String,
}

/// The answer's parts, before they are checked against the candidates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawAnswer {
    pub intro: String,
    pub outro: String,
    pub picks: Vec<RawPick>,
}

/// Why an answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the DJ's answer was not JSON that could be read")]
    NotJson,
    #[error("the DJ's answer had no track list")]
    NoTracks,
    #[error(
        "the DJ picked only {usable} usable songs from your library ({wanted} were asked for; {outside} named songs outside the list, {repeated} repeated one)"
    )]
    TooFew {
        usable: usize,
        wanted: usize,
        outside: usize,
        repeated: usize,
    },
}

/// A checked pick: which candidate, and the DJ's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// Index into the candidates.
    pub index: usize,
    pub reason: String,
    /// Found by name rather than by label.
    pub repaired: bool,
}

/// The answer after checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub intro: String,
    pub outro: String,
    pub picks: Vec<Pick>,
    /// Picks dropped because they named nothing in the list.
    pub outside: usize,
    /// Picks dropped because they repeated an earlier one.
    pub repeated: usize,
}

/// Parse the model's text into its parts.
pub fn parse(text: &str) -> Result<RawAnswer, AnswerError> {
    let value = parse_value(text).ok_or(AnswerError::NotJson)?;
    let obj = match value {
        Value::Object(o) => o,
        // A bare list of tracks is accepted too.
        Value::Array(a) => {
            let mut o = serde_json::Map::new();
            o.insert("tracks".into(), Value::Array(a));
            o
        }
        _ => return Err(AnswerError::NotJson),
    };
    let text_of = |keys: &[&str]| -> String {
        keys.iter()
            .find_map(|k| obj.get(*k).and_then(text_value))
            .map(|s| clip(&s, TEXT_MAX))
            .unwrap_or_default()
    };
    let intro = text_of(&["intro", "opening_thoughts", "opening", "introduction"]);
    let outro = text_of(&["outro", "closing_thoughts", "closing", "sign_off"]);
    let tracks = ["tracks", "playlist", "songs", "reordered_tracks"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_array))
        .ok_or(AnswerError::NoTracks)?;
    let picks = tracks.iter().filter_map(raw_pick).collect();
    Ok(RawAnswer {
        intro,
        outro,
        picks,
    })
}

fn text_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(text_value).collect();
            (!parts.is_empty()).then(|| parts.join("\n\n"))
        }
        _ => None,
    }
}

fn raw_pick(v: &Value) -> Option<RawPick> {
    match v {
        Value::String(s) => Some(RawPick {
            id: s.trim().to_owned(),
            ..RawPick::default()
        }),
        Value::Object(o) => {
            let get = |keys: &[&str]| -> String {
                keys.iter()
                    .find_map(|k| o.get(*k).and_then(text_value))
                    .unwrap_or_default()
            };
            let pick = RawPick {
                id: clip(
                    get(&["id", "track_id", "candidate_id", "candidate"]).trim(),
                    200,
                ),
                title: clip(&get(&["title", "name", "track", "song"]), 300),
                artist: clip(&get(&["artist", "artist_name"]), 300),
                reason: clip(&get(&["reason", "why", "note", "comment"]), REASON_MAX),
            };
            (!pick.id.is_empty() || !pick.title.is_empty()).then_some(pick)
        }
        _ => None,
    }
}

fn clip(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

/// The JSON value in `text`, repaired where that is safe; `None` when nothing can be read.
pub fn parse_value(text: &str) -> Option<Value> {
    let body = unfence(text);
    let body = body.trim();
    let start = body.find(['{', '['])?;
    let body = &body[start..];
    // The outermost closing bracket of the same kind, if any: prose after it is dropped.
    let close = if body.starts_with('{') { '}' } else { ']' };
    let candidates = [body.rfind(close).map(|end| &body[..=end]), Some(body)];
    for c in candidates.into_iter().flatten() {
        if let Ok(v) = serde_json::from_str::<Value>(c) {
            return Some(v);
        }
        let fixed = strip_trailing_commas(c);
        if let Ok(v) = serde_json::from_str::<Value>(&fixed) {
            return Some(v);
        }
        if let Some(closed) = close_truncated(&fixed)
            && let Ok(v) = serde_json::from_str::<Value>(&strip_trailing_commas(&closed))
        {
            return Some(v);
        }
    }
    None
}

/// The inside of the first Markdown code fence, or the text itself.
fn unfence(text: &str) -> &str {
    let Some(open) = text.find("```") else {
        return text;
    };
    let after = &text[open + 3..];
    // Skip a language tag such as `json`.
    let after = match after.find('\n') {
        Some(nl)
            if after[..nl]
                .trim()
                .chars()
                .all(|c| c.is_ascii_alphanumeric()) =>
        {
            &after[nl + 1..]
        }
        _ => after,
    };
    match after.find("```") {
        Some(end) => &after[..end],
        None => after,
    }
}

/// Commas directly before `}` or `]` (outside strings) removed.
fn strip_trailing_commas(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_str = false;
    let mut escaped = false;
    let mut pending_comma: Option<String> = None;
    for c in s.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        if let Some(p) = pending_comma.as_mut() {
            if c.is_whitespace() {
                p.push(c);
                continue;
            }
            let held = pending_comma.take().unwrap_or_default();
            if c == '}' || c == ']' {
                // Drop the comma, keep the whitespace.
                out.push_str(&held[1..]);
            } else {
                out.push_str(&held);
            }
        }
        match c {
            ',' => pending_comma = Some(",".to_owned()),
            '"' => {
                in_str = true;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    if let Some(p) = pending_comma {
        out.push_str(&p);
    }
    out
}

/// An answer cut off mid-way, closed after the last complete value: everything after the
/// last `}` or `]` that closed something is dropped, a dangling comma too, and the brackets
/// still open at that point are closed. `None` when nothing complete was found.
fn close_truncated(s: &str) -> Option<String> {
    let mut stack: Vec<char> = Vec::new();
    let mut in_str = false;
    let mut escaped = false;
    // (byte offset just after a closing bracket or a complete string value, the stack there)
    let mut last: Option<(usize, Vec<char>)> = None;
    for (i, c) in s.char_indices() {
        if in_str {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' => stack.push('}'),
            '[' => stack.push(']'),
            '}' | ']' => {
                if stack.pop() != Some(c) {
                    return None;
                }
                last = Some((i + c.len_utf8(), stack.clone()));
                if stack.is_empty() {
                    break;
                }
            }
            _ => {}
        }
    }
    if stack.is_empty() && !in_str {
        return None;
    }
    let (cut, open) = last?;
    let mut out = s[..cut].trim_end().to_owned();
    if out.ends_with(',') {
        out.pop();
    }
    for closer in open.iter().rev() {
        out.push(*closer);
    }
    Some(out)
}

/// Check `answer` against `candidates`: keep picks in order, each candidate once, at most
/// `wanted`; at least `min_usable` must remain.
pub fn check(
    answer: RawAnswer,
    candidates: &[Candidate],
    wanted: usize,
    min_usable: usize,
) -> Result<Checked, AnswerError> {
    let by_label: HashMap<&str, usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.label.as_str(), i))
        .collect();
    let mut by_name: HashMap<(String, String), usize> = HashMap::new();
    let mut by_title: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        let t = normalize(&c.track.title);
        by_name
            .entry((normalize(&c.track.artist), t.clone()))
            .or_insert(i);
        by_title.entry(t).or_default().push(i);
    }
    let by_id: HashMap<&str, usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| (c.track.id.as_str(), i))
        .collect();
    // Built on the first pick that needs it.
    let mut index: Option<Index> = None;
    let mut used = HashSet::new();
    let mut picks = Vec::new();
    let (mut outside, mut repeated) = (0, 0);
    for raw in answer.picks {
        if picks.len() >= wanted {
            break;
        }
        let label = raw.id.trim().trim_start_matches('#').to_ascii_lowercase();
        let found = by_label
            .get(label.as_str())
            .map(|i| (*i, false))
            .or_else(|| {
                // The model gave names (or a garbled id): exact normalised title and artist, or a
                // title that only one candidate has when no artist was given.
                let title = normalize(if raw.title.is_empty() {
                    &raw.id
                } else {
                    &raw.title
                });
                if title.is_empty() {
                    return None;
                }
                if !raw.artist.is_empty() {
                    if let Some(i) = by_name.get(&(normalize(&raw.artist), title)) {
                        return Some((*i, true));
                    }
                    let index = index.get_or_insert_with(|| {
                        Index::build(
                            candidates
                                .iter()
                                .map(|c| LibraryTrack {
                                    id: c.track.id.clone(),
                                    title: c.track.title.clone(),
                                    artist: c.track.artist.clone(),
                                    album: Some(c.track.album.clone()),
                                    album_artist: None,
                                    duration_ms: None,
                                    isrc: None,
                                    mbid: None,
                                })
                                .collect(),
                        )
                    });
                    let decision = index.match_query(&Query {
                        title: raw.title.clone(),
                        artist: raw.artist.clone(),
                        ..Query::default()
                    });
                    return decision
                        .predicted
                        .filter(|_| decision.method.is_match())
                        .and_then(|id| by_id.get(id.as_str()).map(|i| (*i, true)));
                }
                match by_title.get(&title).map(Vec::as_slice) {
                    Some([only]) => Some((*only, true)),
                    _ => None,
                }
            });
        match found {
            Some((i, _)) if !used.insert(i) => repeated += 1,
            Some((index, repaired)) => picks.push(Pick {
                index,
                reason: raw.reason,
                repaired,
            }),
            None => outside += 1,
        }
    }
    if picks.len() < min_usable.max(1) {
        return Err(AnswerError::TooFew {
            usable: picks.len(),
            wanted,
            outside,
            repeated,
        });
    }
    Ok(Checked {
        intro: answer.intro,
        outro: answer.outro,
        picks,
        outside,
        repeated,
    })
}

/// An enhancement's picks: every kept song (indexes `0..keep`) exactly once and at most `add`
/// new ones, in the DJ's order; kept songs the DJ left out follow at the end in their old order.
pub fn keep_all(picks: Vec<Pick>, keep: usize, add: usize) -> Vec<Pick> {
    let mut out = Vec::with_capacity(keep + add);
    let mut seen = HashSet::new();
    let mut added = 0;
    for p in picks {
        if p.index < keep {
            if seen.insert(p.index) {
                out.push(p);
            }
        } else if added < add {
            added += 1;
            out.push(p);
        }
    }
    for index in 0..keep {
        if !seen.contains(&index) {
            out.push(Pick {
                index,
                reason: String::new(),
                repaired: true,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::dj::candidates::Track;

    fn cands(n: usize) -> Vec<Candidate> {
        (1..=n)
            .map(|i| Candidate {
                label: format!("c{i}"),
                track: Track {
                    id: format!("id{i}"),
                    title: format!("Song {i}"),
                    artist: format!("Artist {i}"),
                    album: String::new(),
                    artist_id: None,
                    album_id: None,
                    genres: vec![],
                    plays: 0,
                },
            })
            .collect()
    }

    #[test]
    fn fences_prose_and_trailing_commas_are_tolerated() {
        let text = "Sure! Here it is:\n```json\n{\"intro\": \"Hi, all\", \"tracks\": [{\"id\": \"c1\", \"reason\": \"a, b\",}, {\"track_id\": \"c2\"},],}\n```\nEnjoy!";
        let a = parse(text).unwrap();
        assert_eq!(a.intro, "Hi, all");
        assert_eq!(a.picks.len(), 2);
        assert_eq!(a.picks[0].reason, "a, b");
        assert_eq!(a.picks[1].id, "c2");
    }

    #[test]
    fn a_truncated_answer_keeps_its_complete_tracks() {
        let text = r#"{"intro": "Hello", "tracks": [{"id": "c1", "reason": "x"}, {"id": "c2", "reason": "y"}, {"id": "c3", "rea"#;
        let a = parse(text).unwrap();
        assert_eq!(a.intro, "Hello");
        assert_eq!(
            a.picks.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            vec!["c1", "c2"]
        );
        assert_eq!(parse("{\"intro\": \"cut"), Err(AnswerError::NotJson));
        assert_eq!(parse("no json here"), Err(AnswerError::NotJson));
        assert_eq!(parse("{\"intro\": \"x\"}"), Err(AnswerError::NoTracks));
    }

    #[test]
    fn outside_picks_and_repeats_are_dropped_names_are_repaired() {
        let answer = RawAnswer {
            intro: String::new(),
            outro: String::new(),
            picks: vec![
                RawPick {
                    id: "c1".into(),
                    ..RawPick::default()
                },
                RawPick {
                    id: "c1".into(),
                    ..RawPick::default()
                },
                RawPick {
                    id: "c99".into(),
                    ..RawPick::default()
                },
                RawPick {
                    id: "999".into(),
                    title: "SONG 3".into(),
                    artist: "artist 3".into(),
                    ..RawPick::default()
                },
                RawPick {
                    id: "Song 4".into(),
                    ..RawPick::default()
                },
                RawPick {
                    title: "Not In Library".into(),
                    artist: "Nobody".into(),
                    ..RawPick::default()
                },
            ],
        };
        let c = check(answer.clone(), &cands(5), 10, 2).unwrap();
        assert_eq!(
            c.picks.iter().map(|p| p.index).collect::<Vec<_>>(),
            vec![0, 2, 3]
        );
        assert!(c.picks[1].repaired && !c.picks[0].repaired);
        assert_eq!((c.outside, c.repeated), (2, 1));
        let err = check(answer, &cands(5), 10, 5).unwrap_err();
        assert!(matches!(err, AnswerError::TooFew { usable: 3, .. }));
        assert!(err.to_string().contains("only 3 usable songs"));
    }

    #[test]
    fn a_name_with_a_featured_artist_is_found_by_the_matcher() {
        let answer = RawAnswer {
            picks: vec![RawPick {
                id: "x".into(),
                title: "Song 2".into(),
                artist: "Artist 2 feat. Somebody Else".into(),
                ..RawPick::default()
            }],
            ..RawAnswer::default()
        };
        let c = check(answer, &cands(5), 5, 1).unwrap();
        assert_eq!(c.picks[0].index, 1);
        assert!(c.picks[0].repaired);
    }

    #[test]
    fn an_enhancement_keeps_every_song_and_adds_at_most_n() {
        let p = |index: usize| Pick {
            index,
            reason: String::new(),
            repaired: false,
        };
        let out = keep_all(vec![p(4), p(1), p(5), p(6), p(0)], 3, 2);
        assert_eq!(
            out.iter().map(|p| p.index).collect::<Vec<_>>(),
            vec![4, 1, 5, 0, 2]
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,400}") {
            let _ = parse(&s);
        }

        #[test]
        fn parsing_never_panics_on_json_like_text(s in r#"[\{\}\[\]",:a-c0-9 \\`]{0,200}"#) {
            let _ = parse(&s);
        }

        #[test]
        fn any_prefix_of_a_good_answer_parses_or_errs_cleanly(cut in 0usize..200) {
            let full = r#"{"intro": "Hi", "tracks": [{"id": "c1", "reason": "r1"}, {"id": "c2", "reason": "r2"}, {"id": "c3", "reason": "r3"}], "outro": "Bye"}"#;
            let cut = cut.min(full.len());
            if let Ok(a) = parse(&full[..cut]) {
                // Whatever survives is a prefix of the real list.
                for (i, p) in a.picks.iter().enumerate() {
                    prop_assert_eq!(&p.id, &format!("c{}", i + 1));
                }
            }
        }

        #[test]
        fn checked_picks_are_unique_and_from_the_list(ids in proptest::collection::vec(0usize..30, 0..40)) {
            let answer = RawAnswer {
                picks: ids.iter().map(|i| RawPick { id: format!("c{i}"), ..RawPick::default() }).collect(),
                ..RawAnswer::default()
            };
            if let Ok(c) = check(answer, &cands(20), 25, 1) {
                let set: HashSet<usize> = c.picks.iter().map(|p| p.index).collect();
                prop_assert_eq!(set.len(), c.picks.len());
                prop_assert!(c.picks.iter().all(|p| p.index < 20));
            }
        }
    }
}
