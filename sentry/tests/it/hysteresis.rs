//! Hysteresis, ramp and flapping across several runs, on MariaDB and SQLite.

use crate::support::fake::{Behaviour, FakeMirror};
use crate::support::*;
use bouncer_test_support::{db_tests, TestDb};

/// N = 2 failures to go down, M = 2 successes to come up, a 4-run ramp.
fn down_up_and_ramp(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
        let fake = FakeMirror::start(60, Behaviour::ServerError).await;
        let id = mirror(db, "m1", &fake.base_url(), &[loc]);
        let mut config = config(db, 300);
        config.sentry.failures_to_down = 2;
        config.sentry.successes_to_up = 2;
        config.sentry.ramp_runs = 4;
        let opts = sentry::RunOptions::default();
        let run = || sentry::run_once(&config, &opts);
        // An earlier run saw the mirror's families: IPv4, no IPv6 (the first per-family
        // run records that, a change for IPv6 clients: `families.rs`).
        seen_families(db, id, loc);

        // One failure moves nothing bounce reads.
        let g0 = generation(db);
        let s = run().await.unwrap();
        assert!(!s.catalogue_changed);
        assert_eq!(generation(db), g0);
        assert_eq!(map_rows(db, id), [(loc, true, true)]);
        assert_eq!(health(db, id).unwrap(), ("up".into(), 100, 1, 0));
        // The second takes the row and the mirror out, with an audit row.
        let s = run().await.unwrap();
        assert!(s.catalogue_changed);
        assert!(generation(db) > g0);
        assert_eq!(map_rows(db, id), [(loc, true, false)]);
        assert_eq!(health(db, id).unwrap(), ("down".into(), 0, 2, 0));
        assert_eq!(s.down, 1);

        fake.set(Behaviour::Healthy);
        run().await.unwrap();
        assert_eq!(
            map_rows(db, id),
            [(loc, true, false)],
            "one success is not enough"
        );
        assert_eq!(health(db, id).unwrap(), ("down".into(), 0, 0, 1));
        run().await.unwrap();
        assert_eq!(map_rows(db, id), [(loc, true, true)]);
        assert_eq!(health(db, id).unwrap(), ("ramping".into(), 25, 0, 2));
        let mut weights = vec![];
        for _ in 0..3 {
            run().await.unwrap();
            weights.push(health(db, id).unwrap().1);
        }
        assert_eq!(weights, [50, 75, 100]);
        assert_eq!(health(db, id).unwrap().0, "up");

        let actions: Vec<String> = audit_rows(db)
            .into_iter()
            .map(|a| a.1)
            .filter(|a| !a.starts_with("mirror.family_"))
            .collect();
        assert_eq!(
            actions,
            [
                "mirror.down",
                "mirror.up",
                "mirror.ramp",
                "mirror.ramp",
                "mirror.ramp"
            ]
        );
        let logs: Vec<bool> = log_rows(db, id).into_iter().map(|l| l.0).collect();
        assert_eq!(logs, [false, false, true, true, true, true, true]);
        assert_eq!(rating(db, id), 100, "no flapping here");
    });
}

/// What a per-family run leaves for a served IPv4-only mirror: its host's families (IPv4),
/// and no family row (its map rows are its IPv4 health).
fn seen_families(db: &TestDb, mirror_id: i32, _location_id: i32) {
    use bouncer_core::networks::Family;
    bouncer_test_support::health::record_host_families(&mut db.conn(), mirror_id, &[Family::V4]);
}

/// Four runs alternating up and down at one rating cut the rating by 10 %, once.
fn flapping_cuts_rating(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
        let fake = FakeMirror::start(61, Behaviour::Healthy).await;
        let id = mirror(db, "flappy", &fake.base_url(), &[loc]);
        let config = config(db, 300);
        let pattern = [
            Behaviour::Healthy,
            Behaviour::ServerError,
            Behaviour::Healthy,
            Behaviour::ServerError,
            Behaviour::Healthy,
        ];
        let mut ratings = vec![];
        for b in pattern {
            fake.set(b);
            sentry::run_once(&config, &Default::default())
                .await
                .unwrap();
            ratings.push(rating(db, id));
        }
        assert_eq!(ratings, [100, 100, 100, 90, 90]);
        let cuts: Vec<_> = audit_rows(db)
            .into_iter()
            .filter(|a| a.1 == "mirror.rating_cut")
            .collect();
        assert_eq!(cuts.len(), 1);
        let after: serde_json::Value = serde_json::from_str(cuts[0].3.as_deref().unwrap()).unwrap();
        assert_eq!(after["rating"], 90);
        assert!(after["reason"].as_str().unwrap().starts_with("flapping"));
        let logged: Vec<i32> = log_rows(db, id).into_iter().map(|l| l.1).collect();
        assert_eq!(logged, [100, 100, 100, 100, 90]);
    });
}

db_tests! {
    hysteresis_down_up_and_ramp => down_up_and_ramp,
    flapping_cuts_rating_once => flapping_cuts_rating,
}
