//! A hanging mirror never delays the others: the run takes about one timeout, not one per
//! location or per mirror; a mirror past its deadline is cut short.

use crate::support::fake::{Behaviour, FakeMirror};
use crate::support::*;
use bouncer_test_support::TestDb;
use std::time::{Duration, Instant};

#[test]
fn one_hanging_mirror_among_many_costs_one_timeout() {
    let db = TestDb::sqlite();
    rt().block_on(async {
        let paths = ["/a/:lang/1", "/a/:lang/2", "/a/:lang/3", "/a/:lang/4"];
        let locs = product(&db, "Firefox", true, true, &paths);
        let mut healthy = vec![];
        for i in 0..30u8 {
            let fake = FakeMirror::start(70 + i, Behaviour::Healthy).await;
            healthy.push(mirror(&db, &format!("ok{i}"), &fake.base_url(), &locs));
        }
        let hang = FakeMirror::start(110, Behaviour::Hang).await;
        let hang_id = mirror(&db, "hang", &hang.base_url(), &locs);
        // Hangs on every file: four locations, probed in parallel (per-mirror limit 4).
        let slow = FakeMirror::start(111, Behaviour::Slow).await;
        let slow_id = mirror(&db, "slow", &slow.base_url(), &locs);

        let timeout_ms = 500;
        let config = config(&db, timeout_ms);
        let started = Instant::now();
        let s = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        let elapsed = started.elapsed();
        // Serially this would be 4 timeouts for `slow` alone plus one for `hang`.
        assert!(
            elapsed < Duration::from_millis(3 * timeout_ms),
            "run took {elapsed:?}"
        );
        assert_eq!(s.healthy, 30 * 4);
        assert_eq!(map_rows(&db, healthy[7]).len(), 4);
        // Cut short as a whole: the mirror's state, not its rows, takes it out.
        assert!(map_rows(&db, hang_id).iter().all(|r| r.1 && r.2));
        assert_eq!(health(&db, hang_id).unwrap().0, "down");
        assert!(map_rows(&db, slow_id).iter().all(|r| r.1 && !r.2));
        assert_eq!(log_rows(&db, hang_id)[0].2, "base URL: timeout");
        assert!(log_rows(&db, slow_id)[0]
            .2
            .starts_with("4 checked: 0 healthy, 0 inactive, 4 unhealthy"));
    });
}

#[test]
fn a_mirror_past_its_deadline_is_cut_short() {
    let db = TestDb::sqlite();
    rt().block_on(async {
        let paths: Vec<String> = (0..12).map(|i| format!("/d/:lang/{i}")).collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let locs = product(&db, "Firefox", true, true, &paths);
        let slow = FakeMirror::start(112, Behaviour::Slow).await;
        let id = mirror(&db, "slow", &slow.base_url(), &locs);
        let mut config = config(&db, 400);
        config.sentry.per_mirror_concurrency = 1;
        config.sentry.mirror_deadline_secs = 1;
        let started = Instant::now();
        sentry::run_once(&config, &Default::default()).await.unwrap();
        // 12 serial timeouts would be 4.8 s; the deadline stops it after 1 s.
        assert!(started.elapsed() < Duration::from_millis(2500), "{:?}", started.elapsed());
        let reason = &log_rows(&db, id)[0].2;
        assert!(
            reason.starts_with("12 checked: 0 healthy, 0 inactive, 12 unhealthy; mirror deadline exceeded; /d/:lang/0: timeout; /d/:lang/1: timeout; /d/:lang/2: mirror deadline exceeded"),
            "{reason}"
        );
        assert!(reason.ends_with("; … 2 more"), "{reason}");
        assert_eq!(map_rows(&db, id).len(), 12);
    });
}
