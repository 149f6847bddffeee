#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Keeps the layers apart: reads every source file's references to `crate::<module>` (in `use`
//! lines, grouped `use crate::{…}` blocks and inline paths) and fails on any the layering
//! forbids. ARCHITECTURE.md explains the layers; this test is what keeps them true.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layer a source file belongs to, by its path under `src/`.
fn layer_of(rel: &str) -> &str {
    let first = rel.split('/').next().unwrap_or(rel);
    first.strip_suffix(".rs").unwrap_or(first)
}

/// Modules a layer must not reference, and why.
fn forbidden(layer: &str) -> &'static [&'static str] {
    match layer {
        // Pure rules and types: nothing of the crate.
        "domain" => &[
            "app",
            "cli",
            "clients",
            "clock",
            "config",
            "crypto",
            "db",
            "events",
            "http",
            "jobs",
            "security",
            "services",
            "telemetry",
        ],
        "db" => &["app", "cli", "clients", "services", "jobs", "http"],
        "clients" => &["app", "cli", "db", "services", "jobs", "http"],
        "services" => &["cli", "http", "jobs"],
        "jobs" => &["cli", "http"],
        "config" | "crypto" | "security" | "clock" | "events" | "telemetry" => {
            &["app", "cli", "services", "jobs", "http", "db"]
        }
        "app" => &["cli", "http"],
        _ => &[],
    }
}

/// Outside crates a layer must not use (the web framework stays in `http`).
fn forbidden_crates(layer: &str) -> &'static [&'static str] {
    match layer {
        "domain" => &["axum", "tokio", "reqwest", "tower", "cookie", "askama"],
        "services" | "jobs" | "db" | "clients" | "app" => &["axum", "cookie", "askama"],
        _ => &[],
    }
}

/// Text that must not appear under `src/http/`: SQL, transactions and cipher calls belong to
/// services and `db`.
const NOT_IN_HTTP: &[&str] = &[
    "sqlx::query",
    ".begin()",
    ".seal(",
    ".open_secret(",
    "cipher.open(",
    "AppState::new(",
];

/// Strip line comments (doc comments included) so prose does not count as a reference.
fn code_lines(source: &str) -> impl Iterator<Item = (usize, &str)> {
    source.lines().enumerate().filter_map(|(i, line)| {
        let code = match line.find("//") {
            // A `//` inside a string such as "http://…" is not a comment start.
            Some(pos) if !line[..pos].contains('"') => &line[..pos],
            _ => line,
        };
        let trimmed = code.trim();
        (!trimmed.is_empty()).then_some((i + 1, code))
    })
}

/// Every crate module a file references: `crate::x`, and the members of `use crate::{x, y::z}`.
fn referenced_modules(source: &str) -> BTreeSet<(String, usize)> {
    let mut out = BTreeSet::new();
    let mut in_group = false;
    let mut depth = 0usize;
    for (n, line) in code_lines(source) {
        let mut rest = line;
        while let Some(pos) = rest.find("crate::") {
            let after = &rest[pos + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                in_group = true;
                depth = 1;
                collect_group_members(group, n, &mut depth, &mut in_group, &mut out);
                break;
            }
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert((name, n));
            }
            rest = after;
        }
        if in_group && !line.contains("crate::{") {
            collect_group_members(line, n, &mut depth, &mut in_group, &mut out);
        }
    }
    out
}

/// Read the top-level names of a `use crate::{…}` group, possibly over several lines.
fn collect_group_members(
    text: &str,
    line: usize,
    depth: &mut usize,
    in_group: &mut bool,
    out: &mut BTreeSet<(String, usize)>,
) {
    let mut word = String::new();
    let mut at_item_start = *depth == 1;
    for c in text.chars() {
        match c {
            '{' => {
                *depth += 1;
                at_item_start = false;
                word.clear();
            }
            '}' => {
                if *depth == 1 && at_item_start && !word.is_empty() {
                    out.insert((std::mem::take(&mut word), line));
                }
                *depth = depth.saturating_sub(1);
                if *depth == 0 {
                    *in_group = false;
                    return;
                }
            }
            ',' => {
                if *depth == 1 && at_item_start && !word.is_empty() {
                    out.insert((std::mem::take(&mut word), line));
                }
                word.clear();
                at_item_start = *depth == 1;
            }
            ':' => {
                if *depth == 1 && at_item_start && !word.is_empty() {
                    out.insert((std::mem::take(&mut word), line));
                }
                at_item_start = false;
            }
            c if c.is_alphanumeric() || c == '_' => {
                if at_item_start {
                    word.push(c);
                }
            }
            _ => {
                if *depth == 1 && at_item_start && !word.is_empty() && c.is_whitespace() {
                    // `self as x` and similar: the first word is the module.
                    out.insert((std::mem::take(&mut word), line));
                    at_item_start = false;
                }
            }
        }
    }
    if *depth == 1 && at_item_start && !word.is_empty() {
        out.insert((word, line));
    }
}

/// The violations in one file's source, as readable lines.
fn check_file(rel: &str, source: &str) -> Vec<String> {
    let layer = layer_of(rel);
    let mut problems = Vec::new();
    for (module, line) in referenced_modules(source) {
        if forbidden(layer).contains(&module.as_str()) {
            problems.push(format!(
                "src/{rel}:{line}: `{layer}` must not use crate::{module}"
            ));
        }
    }
    for (n, line) in code_lines(source) {
        for krate in forbidden_crates(layer) {
            let needle = format!("{krate}::");
            let hit = line.match_indices(&needle).any(|(pos, _)| {
                pos == 0
                    || !line[..pos]
                        .chars()
                        .last()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if hit {
                problems.push(format!(
                    "src/{rel}:{n}: `{layer}` must not use the {krate} crate"
                ));
            }
        }
        for name in ["AppState", "AppError"] {
            if matches!(
                layer,
                "services" | "jobs" | "db" | "clients" | "domain" | "app"
            ) && line
                .match_indices(name)
                .any(|(pos, _)| !line[..pos].ends_with(|c: char| c.is_alphanumeric()))
            {
                problems.push(format!("src/{rel}:{n}: `{layer}` must not name {name}"));
            }
        }
        if layer == "http" {
            for needle in NOT_IN_HTTP {
                if line.contains(needle) {
                    problems.push(format!(
                        "src/{rel}:{n}: no SQL, transaction or cipher call under src/http/ (`{needle}`); go through a service"
                    ));
                }
            }
        }
    }
    problems
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_layers_keep_their_import_rules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 30, "found only {} source files", files.len());
    let mut problems = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let source = std::fs::read_to_string(path).unwrap();
        problems.extend(check_file(&rel, &source));
    }
    assert!(
        problems.is_empty(),
        "layering violations:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_catches_planted_violations() {
    // A plain use line.
    let planted = "use crate::http::state::AppState;\nfn f() {}\n";
    let p = check_file("services/example.rs", planted);
    assert!(p.iter().any(|m| m.contains("crate::http")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("AppState")), "{p:?}");

    // A grouped use over several lines.
    let grouped = "use crate::{\n    clock::Clock,\n    db::{self, Db},\n};\n";
    let p = check_file("domain/example.rs", grouped);
    assert!(p.iter().any(|m| m.contains("crate::db")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("crate::clock")), "{p:?}");

    // An inline path, and a web type in a service.
    let inline = "fn now() -> i64 { crate::db::audit::x() }\nfn g(_: axum::Router) {}\n";
    let p = check_file("clients/example.rs", inline);
    assert!(p.iter().any(|m| m.contains("crate::db")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("axum")), "{p:?}");

    // SQL under http.
    let sql = "async fn h() { sqlx::query!(\"SELECT 1\"); }\n";
    assert!(!check_file("http/example.rs", sql).is_empty());

    // What is allowed stays allowed; comments do not count.
    let fine = "use crate::domain::ids::UserId;\n// crate::http is mentioned here\nuse crate::db;\nconst U: &str = \"http://example.org/\";\n";
    assert!(check_file("services/example.rs", fine).is_empty());
    assert!(check_file("http/example.rs", "use crate::services::links;\n").is_empty());
}
