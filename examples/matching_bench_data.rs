//! Write the synthetic benchmark files for `spotter match`: a 200 000-track library and 10 000
//! queries (deterministic). Usage:
//!
//! ```text
//! cargo run --release --example matching_bench_data -- /tmp/spotter-match-bench
//! /usr/bin/time -v target/release/spotter match \
//!     --library /tmp/spotter-match-bench/library.jsonl \
//!     --input /tmp/spotter-match-bench/queries.jsonl > /dev/null
//! ```
//!
//! Optional second and third arguments: number of tracks and of queries.

#[path = "../benches/support/synth.rs"]
mod synth;

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde_json::json;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "/tmp/spotter-match-bench".to_owned()),
    );
    let tracks = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let queries = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    std::fs::create_dir_all(&dir)?;
    let data = synth::generate(tracks, queries);

    let mut lib = BufWriter::new(std::fs::File::create(dir.join("library.jsonl"))?);
    for t in &data.library {
        let line = json!({
            "id": t.id, "title": t.title, "artist": t.artist, "album": t.album,
            "duration_ms": t.duration_ms, "isrc": t.isrc, "mbid": t.mbid,
        });
        writeln!(lib, "{line}")?;
    }
    lib.flush()?;

    let mut input = BufWriter::new(std::fs::File::create(dir.join("queries.jsonl"))?);
    for (i, (q, expected)) in data.queries.iter().enumerate() {
        let line = json!({
            "id": i, "title": q.title, "artist": q.artist, "artists": q.artists,
            "album": q.album, "duration_ms": q.duration_ms, "isrc": q.isrc, "mbid": q.mbid,
            "expected": expected,
        });
        writeln!(input, "{line}")?;
    }
    input.flush()?;
    println!(
        "wrote {} tracks and {} queries to {}",
        data.library.len(),
        data.queries.len(),
        dir.display()
    );
    Ok(())
}
