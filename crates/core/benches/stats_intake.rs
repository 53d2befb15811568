//! Cost of adding one full statistics batch (500 counts: 1,500 minute, hour and day rows)
//! as tuxedo's intake does, on MariaDB and SQLite (run: `cargo bench -p bouncer-core
//! --bench stats_intake`; MariaDB at BOUNCER_TEST_MYSQL_URL, default 127.0.0.1:3306).
//! Each iteration adds a new batch to the same rows, as bounce's drains do all minute.

use bouncer_core::stats::{self, Batch, Dims, Minute, Tally};
use bouncer_test_support::TestDb;
use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;

fn batch(id: u64) -> Batch {
    let counts = (0..stats::MAX_COUNTS)
        .map(|i| {
            let dims = Dims {
                product: format!("Firefox-{}.0", 100 + i % 50),
                os: "win64".into(),
                lang: "de".into(),
                country: "DE".into(),
                target: (i / 50).to_string(),
                family: 4,
                scheme: "https".into(),
                agent: stats::USER.into(),
            };
            let tally = Tally {
                downloads: 3,
                bytes: 3 << 20,
            };
            (dims, tally)
        })
        .collect();
    Batch {
        id: format!("bench-{id}"),
        instance: "bench".into(),
        minutes: vec![Minute {
            start: 1_765_101_600,
            counts,
        }],
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("stats_add_500_counts");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for (name, db) in [("mariadb", TestDb::mysql()), ("sqlite", TestDb::sqlite())] {
        let mut id = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                id += 1;
                // A failed add would measure nothing: stop the run with what went wrong.
                match stats::add(&mut db.conn(), &batch(id), 1_765_101_700) {
                    Ok(added) => added,
                    Err(e) => panic!("adding a batch failed: {e}"),
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
