#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The matcher against the labelled set in `tests/data/matching/`: every case names the library
//! track it really is (or none) and the public report its rule comes from. Precision must stay at
//! or above 0.99 and recall at or above 0.95; on failure every confusion is printed.

use std::path::Path;

use serde::Deserialize;
use spotter::domain::matching::{Index, LibraryTrack, Query};

#[derive(Deserialize)]
struct Case {
    id: String,
    source: String,
    rule: String,
    title: String,
    artist: String,
    #[serde(default)]
    artists: Vec<String>,
    #[serde(default)]
    album: Option<String>,
    #[serde(default)]
    duration_ms: Option<u32>,
    #[serde(default)]
    isrc: Option<String>,
    #[serde(default)]
    mbid: Option<String>,
    expected: Option<String>,
}

fn read<T: for<'de> Deserialize<'de>>(name: &str) -> Vec<T> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/matching")
        .join(name);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

#[test]
fn labelled_set_precision_and_recall() {
    let library: Vec<LibraryTrack> = read("library.jsonl");
    let cases: Vec<Case> = read("cases.jsonl");
    assert!(
        cases.len() >= 300,
        "the labelled set shrank to {}",
        cases.len()
    );
    let index = Index::build(library);

    let (mut predicted, mut correct, mut positives) = (0usize, 0usize, 0usize);
    let mut confusions = Vec::new();
    for case in &cases {
        assert!(
            case.source.starts_with("https://"),
            "{}: every case cites its source",
            case.id
        );
        if let Some(e) = &case.expected {
            assert!(
                index.track(e).is_some(),
                "{}: unknown expected id {e}",
                case.id
            );
            positives += 1;
        }
        let query = Query {
            title: case.title.clone(),
            artist: case.artist.clone(),
            artists: case.artists.clone(),
            album: case.album.clone(),
            duration_ms: case.duration_ms,
            isrc: case.isrc.clone(),
            mbid: case.mbid.clone(),
        };
        let d = index.match_query(&query);
        if let Some(p) = &d.predicted {
            predicted += 1;
            if Some(p) == case.expected.as_ref() {
                correct += 1;
                continue;
            }
        } else if case.expected.is_none() {
            continue;
        }
        confusions.push(format!(
            "{} [{}] {:?} by {:?}: expected {:?}, got {:?} ({}, {}, score {:.3}, candidates {:?})",
            case.id,
            case.rule,
            case.title,
            case.artist,
            case.expected,
            d.predicted,
            d.method,
            d.rule,
            d.score,
            d.candidates
                .iter()
                .map(|c| (c.track_id.as_str(), (c.score * 1000.0).round() / 1000.0))
                .collect::<Vec<_>>(),
        ));
    }
    let precision = correct as f64 / predicted.max(1) as f64;
    let recall = correct as f64 / positives.max(1) as f64;
    println!(
        "{} cases, {positives} with a library track; {predicted} predictions, {correct} correct: precision {precision:.4}, recall {recall:.4}",
        cases.len()
    );
    for c in &confusions {
        println!("  {c}");
    }
    assert!(
        precision >= 0.99 && recall >= 0.95,
        "precision {precision:.4} (≥ 0.99), recall {recall:.4} (≥ 0.95); confusions:\n{}",
        confusions.join("\n")
    );
}
