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
    let v = generation::publish_current(&mut c, Some(&mc)).unwrap();
    assert_eq!(generation::published(&mc), Some(v));
}
