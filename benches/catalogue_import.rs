#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Upsert 100 000 generated tracks into a temp SQLite database through `db::library`, in
//! batches of `BATCH_TRACKS`, and print rows per second (target: at least 50 000).
//! Run: `cargo bench --bench catalogue_import`.

use std::time::Instant;

use spotter::db::library::{Batch, TrackRow, write_batch};
use spotter::services::library_import::BATCH_TRACKS;

const TRACKS: usize = 100_000;

fn track(i: usize) -> TrackRow {
    TrackRow {
        id: format!("tr_{i:016x}"),
        title: format!("Sóng number {i} (Live)"),
        album_id: format!("al_{:016x}", i / 12),
        album: format!("Album {}", i / 12),
        artist_id: Some(format!("ar_{:016x}", i / 120)),
        artist: format!("Ärtist {}", i / 120),
        track_no: Some((i % 12) as i64 + 1),
        disc_no: Some(1),
        year: Some(2000 + (i % 25) as i64),
        duration_secs: Some(180 + (i % 120) as i64),
        genres: r#"["Rock"]"#.to_owned(),
        isrc: Some(format!("USX{i:09}")),
        mbid: None,
        play_count: (i % 7) as i64,
        last_played: None,
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let db = spotter::db::connect_and_migrate(&url).await.unwrap();
    let tracks: Vec<TrackRow> = (0..TRACKS).map(track).collect();
    for (label, pass) in [("insert", 1), ("re-import, unchanged", 2)] {
        let started = Instant::now();
        for chunk in tracks.chunks(BATCH_TRACKS) {
            let batch = Batch {
                tracks: chunk.to_vec(),
                ..Batch::default()
            };
            write_batch(&db, &batch, pass).await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{label}: {TRACKS} tracks in {secs:.2} s = {:.0} rows/s",
            TRACKS as f64 / secs
        );
    }
}
