//! `spotter match`: the product's matcher on JSONL files, for debugging a user's report and for
//! benchmarks. Needs no configuration and no secrets.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::matching::{Decision, FastSet, Index, LibraryTrack, Query};

/// A failure that names the file and line it comes from.
#[derive(Debug, thiserror::Error)]
pub enum MatchFilesError {
    #[error("{file}: {source}")]
    Open {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Line {
        file: String,
        line: usize,
        message: String,
    },
    #[error("writing the output: {0}")]
    Output(std::io::Error),
}

/// A library id as given: a string or a number, read without buffering the value.
struct LibraryId(String);

impl<'de> Deserialize<'de> for LibraryId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl serde::de::Visitor<'_> for IdVisitor {
            type Value = LibraryId;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<LibraryId, E> {
                Ok(LibraryId(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<LibraryId, E> {
                Ok(LibraryId(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<LibraryId, E> {
                Ok(LibraryId(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<LibraryId, E> {
                Ok(LibraryId(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<LibraryId, E> {
                Ok(LibraryId(v.to_string()))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

#[derive(Deserialize)]
struct LibraryLine {
    id: LibraryId,
    title: String,
    artist: String,
    #[serde(default)]
    album: Option<String>,
    #[serde(default)]
    album_artist: Option<String>,
    #[serde(default)]
    duration_ms: Option<u32>,
    #[serde(default)]
    isrc: Option<String>,
    #[serde(default)]
    mbid: Option<String>,
}

#[derive(Deserialize)]
struct InputLine {
    id: Value,
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
}

#[derive(Serialize)]
struct OutputLine<'a> {
    id: &'a Value,
    predicted: Option<&'a str>,
    method: &'static str,
    score: f64,
    runner_up: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidates: Option<Vec<(&'a str, f64)>>,
}

fn open(path: &Path) -> Result<BufReader<File>, MatchFilesError> {
    File::open(path)
        .map(|f| BufReader::with_capacity(1 << 16, f))
        .map_err(|source| MatchFilesError::Open {
            file: path.display().to_string(),
            source,
        })
}

/// Each non-blank line of a JSONL file, with its 1-based number.
fn lines<T: for<'de> Deserialize<'de>>(
    path: &Path,
) -> Result<impl Iterator<Item = Result<(usize, T), MatchFilesError>>, MatchFilesError> {
    let file = path.display().to_string();
    let reader = open(path)?;
    Ok(reader.lines().enumerate().filter_map(move |(i, line)| {
        let n = i + 1;
        let err = |message: String| MatchFilesError::Line {
            file: file.clone(),
            line: n,
            message,
        };
        match line {
            Err(e) => Some(Err(err(e.to_string()))),
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some(
                serde_json::from_str::<T>(&l)
                    .map(|v| (n, v))
                    .map_err(|e| err(e.to_string())),
            ),
        }
    }))
}

/// Read a library file into an index.
pub fn load_library(path: &Path) -> Result<Index, MatchFilesError> {
    let file = path.display().to_string();
    let mut reader = open(path)?;
    // Room for every line up front (a library line is rarely under 64 bytes): growing a vector
    // of 200 000 tracks step by step would copy it several times. Unused room is never touched.
    let estimate = std::fs::metadata(path).map_or(0, |m| m.len() / 64);
    let capacity = usize::try_from(estimate).unwrap_or(0).min(4_000_000);
    let mut tracks = Vec::with_capacity(capacity);
    let mut lines = Vec::with_capacity(capacity);
    // One line buffer for the whole file: no copy of the file and no allocation per line.
    let mut line = String::new();
    let mut n = 0;
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|e| MatchFilesError::Line {
                file: file.clone(),
                line: n + 1,
                message: e.to_string(),
            })?;
        if read == 0 {
            break;
        }
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        let l: LibraryLine = serde_json::from_str(&line).map_err(|e| MatchFilesError::Line {
            file: file.clone(),
            line: n,
            message: e.to_string(),
        })?;
        lines.push(n);
        tracks.push(LibraryTrack {
            id: l.id.0,
            title: l.title,
            artist: l.artist,
            album: l.album,
            album_artist: l.album_artist,
            duration_ms: l.duration_ms,
            isrc: l.isrc,
            mbid: l.mbid,
        });
    }
    let mut seen = FastSet::with_capacity_and_hasher(tracks.len(), Default::default());
    for (t, line) in tracks.iter().zip(&lines) {
        if !seen.insert(t.id.as_str()) {
            return Err(MatchFilesError::Line {
                file,
                line: *line,
                message: format!("duplicate library id {:?}", t.id),
            });
        }
    }
    drop(seen);
    Ok(Index::build(tracks))
}

fn write_line(
    out: &mut impl Write,
    id: &Value,
    d: &Decision,
    explain: bool,
) -> Result<(), MatchFilesError> {
    let line = OutputLine {
        id,
        predicted: d.predicted.as_deref(),
        method: d.method.as_str(),
        score: (d.score * 10_000.0).round() / 10_000.0,
        runner_up: d.runner_up.as_ref().map(|c| c.track_id.as_str()),
        rule: explain.then(|| d.rule.as_str()),
        why: explain.then(|| d.rule.describe()),
        candidates: explain.then(|| {
            d.candidates
                .iter()
                .map(|c| (c.track_id.as_str(), (c.score * 10_000.0).round() / 10_000.0))
                .collect()
        }),
    };
    serde_json::to_writer(&mut *out, &line)
        .map_err(|e| MatchFilesError::Output(std::io::Error::other(e)))?;
    out.write_all(b"\n").map_err(MatchFilesError::Output)
}

/// Match every line of `input` against the library in `library`, writing one JSON line per
/// input line to `out`, in order. Returns how many lines were matched.
pub fn run(
    library: &Path,
    input: &Path,
    explain: bool,
    out: impl Write,
) -> Result<usize, MatchFilesError> {
    let index = load_library(library)?;
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut count = 0;
    for item in lines::<InputLine>(input)? {
        let (_, l) = item?;
        let query = Query {
            title: l.title,
            artist: l.artist,
            artists: l.artists,
            album: l.album,
            duration_ms: l.duration_ms,
            isrc: l.isrc,
            mbid: l.mbid,
        };
        let decision = index.match_query(&query);
        write_line(&mut out, &l.id, &decision, explain)?;
        count += 1;
    }
    out.flush().map_err(MatchFilesError::Output)?;
    // The process ends here: freeing 200 000 tracks one by one would only cost time.
    std::mem::forget(index);
    Ok(count)
}
