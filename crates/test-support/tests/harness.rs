//! The harness itself: generated GeoIP files read back with the production reader,
//! memcached namespaces, and per-test databases that are isolated and dropped.
// Test code: a panic is how a test (or its helper) fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bouncer_core::db::Backend;
use bouncer_core::schema::mirror_os;
use bouncer_test_support::{write_country_mmdb, TestCache, TestDb};
use diesel::prelude::*;

fn country(reader: &maxminddb::Reader<Vec<u8>>, ip: &str) -> Option<String> {
    let found = reader.lookup(ip.parse().unwrap()).unwrap();
    let record: Option<maxminddb::geoip2::Country> = found.decode().unwrap();
    record.and_then(|r| r.country.iso_code.map(str::to_owned))
}

#[test]
fn generated_mmdb_answers_ipv4_and_ipv6() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.mmdb");
    write_country_mmdb(
        &path,
        &[
            ("203.0.113.0/24", "DE"),
            ("198.51.100.0/24", "US"),
            ("2001:db8::/32", "JP"),
        ],
    );
    let reader = maxminddb::Reader::open_readfile(&path).unwrap();
    assert_eq!(country(&reader, "203.0.113.9").as_deref(), Some("DE"));
    assert_eq!(country(&reader, "198.51.100.200").as_deref(), Some("US"));
    assert_eq!(country(&reader, "2001:db8::1").as_deref(), Some("JP"));
    assert_eq!(country(&reader, "192.0.2.1"), None);
}

#[test]
fn cache_namespaces_do_not_collide() {
    let (a, b) = (TestCache::new(), TestCache::new());
    assert_ne!(a.prefix, b.prefix);
    a.client.set(&a.key("k"), "from-a", 60).unwrap();
    assert_eq!(
        a.client.get::<String>(&a.key("k")).unwrap().as_deref(),
        Some("from-a")
    );
    assert_eq!(b.client.get::<String>(&b.key("k")).unwrap(), None);
}

#[test]
fn databases_are_isolated_and_dropped() {
    for backend in [Backend::Mysql, Backend::Sqlite] {
        let (one, two) = (TestDb::new(backend), TestDb::new(backend));
        assert_ne!(one.url, two.url);
        diesel::insert_into(mirror_os::table)
            .values((mirror_os::name.eq("win"), mirror_os::priority.eq(0)))
            .execute(&mut *one.conn())
            .unwrap();
        let seen: i64 = mirror_os::table
            .count()
            .get_result(&mut *two.conn())
            .unwrap();
        assert_eq!(seen, 0, "{backend:?}: a test sees only its own rows");
        if backend == Backend::Mysql {
            let url = one.url.clone();
            drop(one);
            let reopened = bouncer_core::db::DbUrl::parse(&url).unwrap().establish();
            assert!(reopened.is_err(), "the database is dropped with its TestDb");
        }
    }
}
