#![allow(clippy::expect_used, clippy::unwrap_used)]

//! `spotter match` from outside: one output line per input line, in order, with the documented
//! shape; no configuration or secrets needed; a malformed line is a clear error, not a panic.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn spotter() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spotter"));
    // No SPOTTER_* variables at all: `match` must not need the server's configuration.
    c.env_clear();
    c.env("PATH", std::env::var("PATH").unwrap_or_default());
    c.current_dir(std::env::temp_dir());
    c
}

fn write(dir: &Path, name: &str, lines: &[&str]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.display().to_string()
}

const LIBRARY: &[&str] = &[
    r#"{"id":"a","title":"Wish You Were Here","artist":"Pink Floyd","album":"Wish You Were Here","duration_ms":334000,"isrc":"GBN9Y1100088"}"#,
    r#"{"id":"b","title":"Wish You Were Here - 2011 Remaster","artist":"Pink Floyd"}"#,
    r#"{"id":"c","title":"Hotel California","artist":"Eagles","mbid":"2d5a1b0e-6f3c-4b7a-9d52-1f2e3a4b5c6d"}"#,
    r#"{"id":"d","title":"Intro","artist":"The xx"}"#,
    r#"{"id":"e","title":"Intro (Live)","artist":"The xx","album":"Live at A"}"#,
    r#"{"id":"f","title":"Intro (Live)","artist":"The xx","album":"Live at B"}"#,
    "",
];

#[test]
fn one_line_per_input_line_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let library = write(dir.path(), "library.jsonl", LIBRARY);
    let input = write(
        dir.path(),
        "input.jsonl",
        &[
            r#"{"id":1,"source":"spotify","title":"Wish You Were Here - Remastered 2011","artist":"Pink Floyd"}"#,
            r#"{"id":"q2","title":"wish you were here","artist":"PINK FLOYD","album":"Wish You Were Here"}"#,
            r#"{"id":{"playlist":7,"pos":3},"title":"Anything","artist":"Anyone","isrc":"GBN9Y1100088"}"#,
            r#"{"id":null,"title":"Hotel California","artist":"Eagles","mbid":"2D5A1B0E-6F3C-4B7A-9D52-1F2E3A4B5C6D"}"#,
            r#"{"id":5,"title":"Intro - Live","artist":"The xx"}"#,
            r#"{"id":6,"title":"Nothing Like It","artist":"Nobody","artists":["Nobody","Else"]}"#,
        ],
    );
    let out = spotter()
        .args(["match", "--library", &library, "--input", &input])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);

    let ids: Vec<Value> = lines.iter().map(|l| l["id"].clone()).collect();
    assert_eq!(
        ids,
        vec![
            serde_json::json!(1),
            serde_json::json!("q2"),
            serde_json::json!({"playlist":7,"pos":3}),
            Value::Null,
            serde_json::json!(5),
            serde_json::json!(6),
        ],
        "ids are echoed as given, in input order"
    );
    for l in &lines {
        let keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 5, "{l}");
        for k in ["id", "predicted", "method", "score", "runner_up"] {
            assert!(keys.contains(&k), "{k} missing in {l}");
        }
        let score = l["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{l}");
    }
    let summary: Vec<(Value, &str)> = lines
        .iter()
        .map(|l| (l["predicted"].clone(), l["method"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (serde_json::json!("b"), "exact"),
            (serde_json::json!("a"), "exact"),
            // The ISRC points at a track whose names disagree: review, not a match.
            (Value::Null, "review"),
            (serde_json::json!("c"), "mbid"),
            // Two live recordings, no venue named: review.
            (Value::Null, "review"),
            (Value::Null, "none"),
        ]
    );
    assert_eq!(lines[0]["runner_up"], serde_json::json!("a"));
    assert_eq!(lines[5]["runner_up"], Value::Null);
}

#[test]
fn explain_adds_the_rule_and_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let library = write(dir.path(), "library.jsonl", LIBRARY);
    let input = write(
        dir.path(),
        "input.jsonl",
        &[r#"{"id":1,"title":"Hotel California (Live)","artist":"Eagles"}"#],
    );
    let out = spotter()
        .args([
            "match",
            "--explain",
            "--library",
            &library,
            "--input",
            &input,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["method"], "none");
    assert_eq!(line["rule"], "live_on_one_side");
    assert_eq!(line["why"], "live marker on one side only");
    assert!(line["candidates"].is_array());
}

#[test]
fn a_malformed_line_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let library = write(dir.path(), "library.jsonl", LIBRARY);
    let input = write(
        dir.path(),
        "input.jsonl",
        &[
            r#"{"id":1,"title":"Intro","artist":"The xx"}"#,
            r#"{"id":2,"title":"Intro""#,
        ],
    );
    let out = spotter()
        .args(["match", "--library", &library, "--input", &input])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("input.jsonl:2:"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let bad_library = write(
        dir.path(),
        "bad-library.jsonl",
        &[
            r#"{"id":"a","title":"T","artist":"A"}"#,
            "",
            r#"{"id":"b","artist":"A"}"#,
        ],
    );
    let out = spotter()
        .args(["match", "--library", &bad_library, "--input", &input])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("bad-library.jsonl:3:") && stderr.contains("title"),
        "{stderr}"
    );

    let out = spotter()
        .args([
            "match",
            "--library",
            "/nonexistent/lib.jsonl",
            "--input",
            &input,
        ])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/lib.jsonl"));
}

#[test]
fn duplicate_library_ids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let library = write(
        dir.path(),
        "library.jsonl",
        &[
            r#"{"id":"a","title":"T","artist":"A"}"#,
            r#"{"id":"a","title":"U","artist":"A"}"#,
        ],
    );
    let input = write(
        dir.path(),
        "input.jsonl",
        &[r#"{"id":1,"title":"T","artist":"A"}"#],
    );
    let out = spotter()
        .args(["match", "--library", &library, "--input", &input])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr.contains("library.jsonl:2:") && stderr.contains("duplicate"),
        "{stderr}"
    );
}
