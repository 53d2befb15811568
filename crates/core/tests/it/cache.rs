//! The memcached tier against a real server.

use bouncer_core::cache::Memcached;
use bouncer_core::config::MemcachedConfig;
use bouncer_core::generation;
use bouncer_test_support::{TestCache, TestDb};

fn memcached(test: &TestCache) -> Memcached {
    Memcached::from_config(&MemcachedConfig {
        servers: vec![test.server.clone()],
        prefix: test.prefix.clone(),
        ..MemcachedConfig::default()
    })
    .unwrap()
}

#[test]
fn round_trip_under_the_prefix() {
    let test = TestCache::new();
    let mc = memcached(&test);
    let key = mc.key("r", &[b"firefox-latest", b"win"]);
    assert!(key.starts_with(&test.prefix));
    assert_eq!(mc.get(&key), None);
    mc.set(&key, b"\x00binary\xffvalue");
    assert_eq!(mc.get(&key).as_deref(), Some(&b"\x00binary\xffvalue"[..]));
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(
        (mc.stats.hits.load(Relaxed), mc.stats.misses.load(Relaxed)),
        (1, 1)
    );
    assert!(mc.probe().is_empty());
}

#[test]
fn generation_is_published_from_the_master() {
    let test = TestCache::new();
    let mc = memcached(&test);
    let db = TestDb::sqlite();
    let mut c = db.conn();
    assert_eq!(generation::published(&mc), None);
    generation::bump(&mut c).unwrap();
    let v = bouncer_core::changes::publish_current(&mut c, Some(&mc)).unwrap();
    assert_eq!(generation::published(&mc), Some(v));
}

#[test]
fn a_dead_server_costs_at_most_the_call_timeout() {
    // A port nobody listens on: every connect is refused at once, and the pool keeps
    // retrying until its wait runs out, so the wait must be the configured timeout.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let mc = Memcached::from_config(&MemcachedConfig {
        servers: vec![addr],
        timeout_ms: 50,
        retry_after_ms: 0,
        ..MemcachedConfig::default()
    })
    .unwrap();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        assert_eq!(mc.get("k"), None);
        let waited = started.elapsed();
        assert!(
            waited < std::time::Duration::from_millis(200),
            "a dead server cost {waited:?} with a 50 ms timeout"
        );
    }
}

#[test]
fn change_lists_round_trip_through_memcached_and_the_log() {
    use bouncer_core::changes::{self, Change};
    use diesel::Connection;
    let test = TestCache::new();
    let mc = memcached(&test);
    let db = TestDb::sqlite();
    let mut c = db.conn();
    let before = generation::current(&mut c).unwrap();
    let g = c
        .transaction::<_, bouncer_core::CoreError, _>(|t| {
            changes::record(
                t,
                &[Change::Location(3), Change::Product(1), Change::Location(3)],
            )
        })
        .unwrap();
    assert_eq!(g, before + 1);
    assert_eq!(changes::published(&mc, g), None);
    assert_eq!(
        changes::publish_since(&mut c, Some(&mc), before).unwrap(),
        g
    );
    assert_eq!(
        changes::published(&mc, g),
        Some(vec![Change::Product(1), Change::Location(3)]),
        "sorted, each once"
    );
    assert_eq!(generation::published(&mc), Some(g));
    let (horizon, locations) = changes::location_history(&mut c, g).unwrap();
    assert_eq!((horizon, locations), (before, vec![(3, g)]));
}
