//! Cost of one pick among 10, 1,000 and 100,000 mirrors (run: `cargo bench -p bouncer-core`).

use bouncer_core::hash::mix64;
use bouncer_core::selection::{LocationMirrors, MirrorCandidate, RegionPolicy};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;

fn fleet(n: usize) -> LocationMirrors {
    LocationMirrors::build((0..n).map(|i| MirrorCandidate {
        mirror_id: i as i32,
        base_url: format!("https://mirror{i}.example.org/pub/").into(),
        rating: 1 + (i % 1000) as i32,
        mirror_active: true,
        location_active: true,
        healthy: true,
        regions: vec![(i % 4) as i32],
        reach: Default::default(),
    }))
}

fn bench(c: &mut Criterion) {
    let policy = RegionPolicy {
        id: 1,
        throttle: 80,
        fallback: Some(2),
        prevent_global_fallback: false,
    };
    let mut group = c.benchmark_group("select");
    for n in [10usize, 1_000, 100_000] {
        let set = fleet(n);
        let mut e = 0u64;
        group.bench_with_input(BenchmarkId::new("region_weighted", n), &set, |b, set| {
            b.iter(|| {
                e = e.wrapping_add(1);
                black_box(set.select(Some(&policy), false, mix64(e)))
            })
        });
        group.bench_with_input(BenchmarkId::new("global_weighted", n), &set, |b, set| {
            b.iter(|| {
                e = e.wrapping_add(1);
                black_box(set.select(None, true, mix64(e)))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
