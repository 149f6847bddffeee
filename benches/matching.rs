//! The matcher on a synthetic 200 000-track library: time to build the index, and time per
//! query over a mix of 10 000 queries (spelled differently, with ids, other versions, covers,
//! unknown songs). Run: `cargo bench --bench matching`. Under `cargo test` it runs once on a
//! small library, as a smoke test.
//!
//! The whole-process figure (load, index, match) comes from timing `spotter match` itself; see
//! `examples/matching_bench_data.rs` and ADR 0009.

#[path = "support/synth.rs"]
mod synth;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use spotter::domain::matching::Index;

fn sizes() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") {
        (200_000, 10_000)
    } else {
        (2_000, 200)
    }
}

fn matching(c: &mut Criterion) {
    let (tracks, queries) = sizes();
    let data = synth::generate(tracks, queries);
    let index = Index::build(data.library.clone());

    let mut group = c.benchmark_group("matching");
    group.sample_size(10);
    group.bench_function(format!("build index ({tracks} tracks)"), |b| {
        b.iter_batched(
            || data.library.clone(),
            |lib| black_box(Index::build(lib)),
            BatchSize::LargeInput,
        )
    });
    group.bench_function(format!("{queries} queries"), |b| {
        b.iter(|| {
            for (q, _) in &data.queries {
                black_box(index.match_query(q));
            }
        })
    });
    group.finish();

    let mut i = 0;
    c.bench_function("one query (mixed)", |b| {
        b.iter(|| {
            i = (i + 1) % data.queries.len();
            black_box(index.match_query(&data.queries[i].0))
        })
    });
}

criterion_group!(benches, matching);
criterion_main!(benches);
