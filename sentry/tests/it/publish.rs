//! A run that changes what bounce serves publishes the new generation to memcached.

use crate::support::fake::{Behaviour, FakeMirror};
use crate::support::*;
use bouncer_core::cache::Memcached;
use bouncer_core::generation;
use bouncer_test_support::{db_tests, TestCache, TestDb};

fn publishes_after_a_change(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
        // A 404 takes the row out at once (no hysteresis for a missing file).
        let fake = FakeMirror::start(61, Behaviour::NotFound).await;
        mirror(db, "m1", &fake.base_url(), &[loc]);
        let test_cache = TestCache::new();
        let mut config = config(db, 300);
        config.memcached.servers = vec![test_cache.server.clone()];
        config.memcached.prefix = test_cache.prefix.clone();
        config.memcached.timeout_ms = 2_000; // a loaded test run is not a deadline test
        let cache = Memcached::from_config(&config.memcached).unwrap();
        assert_eq!(generation::published(&cache), None);
        let summary = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert!(summary.catalogue_changed);
        assert_eq!(generation::published(&cache), Some(generation(db)));
    });
}

db_tests! {
    publishes => publishes_after_a_change,
}
