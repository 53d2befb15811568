//! Download counts at rest (see `bouncer_core::stats`): a batch counts once however often
//! it is sent, concurrent batches add up exactly, every count lands in its minute, hour
//! and day, and each granularity is pruned after its own retention.

use bouncer_core::stats::{self, Added, Batch, Dims, Granularity, Minute, Retention, Tally};
use bouncer_test_support::{db_tests, TestDb};

db_tests! {
    a_batch_counts_once_and_rolls_up => once_and_rolled_up,
    concurrent_batches_add_up_exactly => concurrent,
    each_granularity_is_pruned_after_its_retention => pruned,
}

/// 2025-12-07 10:00:00 UTC.
const T0: i64 = 1_765_101_600;

fn dims(product: &str, target: &str) -> Dims {
    Dims {
        product: product.into(),
        os: "win64".into(),
        lang: "de".into(),
        country: "DE".into(),
        target: target.into(),
        family: 4,
        scheme: "https".into(),
        agent: stats::USER.into(),
    }
}

fn batch(id: &str, minutes: &[(i64, &[(Dims, u64)])]) -> Batch {
    Batch {
        id: id.into(),
        instance: "http://bounce-1".into(),
        minutes: minutes
            .iter()
            .map(|(start, counts)| Minute {
                start: *start,
                counts: counts
                    .iter()
                    .map(|(d, n)| {
                        let t = Tally {
                            downloads: *n,
                            bytes: n * 1000,
                        };
                        (d.clone(), t)
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Downloads of `g` rows in [from, to), by (bucket, product, target).
fn totals(db: &TestDb, g: Granularity, from: i64, to: i64) -> Vec<(i64, String, String, i64, i64)> {
    let rows = stats::rows(&mut db.conn(), g, from, to).unwrap();
    let mut out: Vec<_> = rows
        .into_iter()
        .map(|r| {
            let (d, t) = (r.dims, r.tally);
            (
                r.bucket,
                d.product,
                d.target,
                t.downloads as i64,
                t.bytes as i64,
            )
        })
        .collect();
    out.sort();
    out
}

fn once_and_rolled_up(db: &TestDb) {
    use bouncer_core::models::{NewMirror, NewProduct};
    use bouncer_core::schema::{mirror_mirrors as mirrors, mirror_products as products};
    use diesel::prelude::*;
    let mut c = db.conn();
    diesel::insert_into(products::table)
        .values(NewProduct {
            name: "Firefox-130.0",
            active: true,
            checknow: false,
            ssl_only: false,
        })
        .execute(&mut *c)
        .unwrap();
    let mirror = NewMirror {
        name: "m",
        baseurl: "https://m.example/pub",
        rating: 1,
        active: true,
    };
    diesel::insert_into(mirrors::table)
        .values(mirror)
        .execute(&mut *c)
        .unwrap();
    let mirror: i32 = mirrors::table.select(mirrors::id).first(&mut *c).unwrap();
    drop(c);
    let m = mirror.to_string();
    let (a, b) = (dims("Firefox-130.0", &m), dims("Firefox-130.0", stats::CDN));
    let first = batch(
        "i1-1",
        &[
            (T0, &[(a.clone(), 3), (b.clone(), 1)]),
            (T0 + 60, &[(a.clone(), 2)]),
        ],
    );
    assert_eq!(
        stats::add(&mut db.conn(), &first, T0 + 120).unwrap(),
        Added::Counted(6)
    );
    // The sender heard no answer and sends it again: nothing changes.
    assert_eq!(
        stats::add(&mut db.conn(), &first, T0 + 130).unwrap(),
        Added::Repeat
    );
    let second = batch("i1-2", &[(T0 + 3600, &[(a.clone(), 5)])]);
    assert_eq!(
        stats::add(&mut db.conn(), &second, T0 + 3700).unwrap(),
        Added::Counted(5)
    );

    let p = || "Firefox-130.0".to_owned();
    assert_eq!(
        totals(db, Granularity::Minute, T0, T0 + 7200),
        vec![
            (T0, p(), m.clone(), 3, 3000),
            (T0, p(), "cdn".into(), 1, 1000),
            (T0 + 60, p(), m.clone(), 2, 2000),
            (T0 + 3600, p(), m.clone(), 5, 5000),
        ]
    );
    assert_eq!(
        totals(db, Granularity::Hour, T0, T0 + 7200),
        vec![
            (T0, p(), m.clone(), 5, 5000),
            (T0, p(), "cdn".into(), 1, 1000),
            (T0 + 3600, p(), m.clone(), 5, 5000),
        ]
    );
    let day = Granularity::Day.bucket(T0);
    assert_eq!(
        totals(db, Granularity::Day, day, day + 86_400),
        vec![
            (day, p(), m.clone(), 10, 10_000),
            (day, p(), "cdn".into(), 1, 1000)
        ]
    );
    // A crawler's downloads: rows of their own, beside people's of the same period.
    let bot = Dims {
        agent: stats::BOT.into(),
        ..a.clone()
    };
    let third = batch("i1-3", &[(T0 + 3600, &[(bot, 4)])]);
    stats::add(&mut db.conn(), &third, T0 + 3700).unwrap();
    let hour = stats::rows(&mut db.conn(), Granularity::Hour, T0 + 3600, T0 + 7200).unwrap();
    let mut by_agent: Vec<_> = hour
        .iter()
        .map(|r| (r.dims.agent.as_str(), r.tally.downloads))
        .collect();
    by_agent.sort();
    assert_eq!(by_agent, [("bot", 4), ("user", 5)]);
    // The legacy columns: the product's every download, the mirror's its own (people's
    // only: the bot's 4 are not in them).
    let mut c = db.conn();
    let product: i64 = products::table
        .select(products::count)
        .first(&mut *c)
        .unwrap();
    let mirror: i64 = mirrors::table
        .select(mirrors::count)
        .first(&mut *c)
        .unwrap();
    assert_eq!((product, mirror), (11, 10));
}

fn concurrent(db: &TestDb) {
    // Eight senders, each three batches on the same rows, and the same batch sent by
    // four threads at once.
    let key = dims("Firefox-131.0", "9");
    std::thread::scope(|s| {
        for sender in 0..8 {
            let key = key.clone();
            s.spawn(move || {
                for n in 0..3 {
                    let b = batch(&format!("s{sender}-{n}"), &[(T0, &[(key.clone(), 1)])]);
                    assert_eq!(
                        stats::add(&mut db.conn(), &b, T0).unwrap(),
                        Added::Counted(1)
                    );
                }
            });
        }
    });
    let same = batch("twice", &[(T0, &[(key.clone(), 100)])]);
    let outcomes: Vec<Added> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| stats::add(&mut db.conn(), &same, T0).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let counted = outcomes
        .iter()
        .filter(|o| **o == Added::Counted(100))
        .count();
    assert_eq!(counted, 1, "{outcomes:?}");
    let rows = totals(db, Granularity::Minute, T0, T0 + 60);
    assert_eq!(
        rows,
        vec![(T0, "Firefox-131.0".into(), "9".into(), 124, 124_000)]
    );
}

fn pruned(db: &TestDb) {
    let key = dims("Firefox-132.0", "1");
    let old = batch("old", &[(T0, &[(key.clone(), 1)])]);
    stats::add(&mut db.conn(), &old, T0).unwrap();
    // An imported log's batch (see `stats::log`): its id stays as long as the day rows.
    let imported = batch("import-0123-0", &[(T0, &[(key.clone(), 5)])]);
    stats::add(&mut db.conn(), &imported, T0).unwrap();
    let keep = Retention {
        minutes: 3_600,
        hours: 86_400,
        days: 30 * 86_400,
    };
    // Two hours later: the minutes are gone, the hour and the day stay.
    stats::prune(&mut db.conn(), keep, T0 + 7200).unwrap();
    assert!(totals(db, Granularity::Minute, 0, i64::MAX).is_empty());
    assert_eq!(totals(db, Granularity::Hour, 0, i64::MAX).len(), 1);
    // The batch's id went with its minutes: sent again now, it would count again.
    assert_eq!(
        stats::add(&mut db.conn(), &old, T0 + 7200).unwrap(),
        Added::Counted(1)
    );
    // The import's did not: importing the log again still counts nothing.
    assert_eq!(
        stats::add(&mut db.conn(), &imported, T0 + 7200).unwrap(),
        Added::Repeat
    );
    // Two days later only the day rows remain.
    stats::prune(&mut db.conn(), keep, T0 + 2 * 86_400).unwrap();
    assert!(totals(db, Granularity::Hour, 0, i64::MAX).is_empty());
    assert_eq!(totals(db, Granularity::Day, 0, i64::MAX)[0].3, 7);
}
