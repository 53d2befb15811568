//! Read-your-writes: after a committed write through the API, memcached holds the
//! master's catalogue generation, which bounce instances watch.

use crate::common::*;
use bouncer_core::cache::Memcached;
use bouncer_core::changes::{self, Change};
use bouncer_core::generation;
use bouncer_test_support::{db_tests, TestCache, TestDb};

db_tests! {
    xml_writes_publish_the_generation => xml_writes_publish_the_generation,
    json_writes_publish_the_generation => json_writes_publish_the_generation,
}

/// memcached calls here may wait long: under a loaded test run the default 50 ms (a
/// production deadline) can pass, and a timed-out call reads as a miss, which this test
/// is not about.
const PATIENT_MS: u64 = 2_000;

fn reader(cache: &TestCache) -> Memcached {
    Memcached::from_config(&bouncer_core::config::MemcachedConfig {
        servers: vec![cache.server.clone()],
        prefix: cache.prefix.clone(),
        timeout_ms: PATIENT_MS,
        ..Default::default()
    })
    .unwrap()
}

fn json_writes_publish_the_generation(db: &TestDb) {
    let cache = TestCache::new();
    block_on(async {
        let t = start(db, |c| {
            c.memcached.servers = vec![cache.server.clone()];
            c.memcached.prefix = cache.prefix.clone();
            c.memcached.timeout_ms = PATIENT_MS;
        });
        let reader = reader(&cache);
        assert_eq!(t.as_(READER, "GET", "/mirrors", None).await.0, 200);
        assert_eq!(
            generation::published(&reader),
            None,
            "reads publish nothing"
        );
        let body = serde_json::json!({"name": "m", "baseurl": "https://m.example", "rating": 1});
        assert_eq!(
            t.as_(MIRROR_OP, "POST", "/mirrors", Some(body)).await.0,
            201
        );
        let master = generation::current(&mut db.conn()).unwrap();
        assert_eq!(generation::published(&reader), Some(master));
        let published = changes::published(&reader, master).unwrap();
        assert!(
            matches!(published[..], [Change::AllLocations, Change::Mirror(_)]),
            "a new mirror: its row and every location's rows, {published:?}"
        );
        let rules = serde_json::json!([{"conditions": [{"field": "os", "op": "equals", "value": "x"}], "set_os": "win"}]);
        assert_eq!(t.admin("PUT", "/rules", Some(rules)).await.0, 200);
        let after = generation::current(&mut db.conn()).unwrap();
        assert!(after > master);
        assert_eq!(generation::published(&reader), Some(after));
        assert_eq!(
            changes::published(&reader, after),
            Some(vec![Change::Rules])
        );
    });
}

fn xml_writes_publish_the_generation(db: &TestDb) {
    let cache = TestCache::new();
    block_on(async {
        let t = start(db, |c| {
            c.memcached.servers = vec![cache.server.clone()];
            c.memcached.prefix = cache.prefix.clone();
            c.memcached.timeout_ms = PATIENT_MS;
        });
        let reader = reader(&cache);
        assert_eq!(
            generation::published(&reader),
            None,
            "nothing before a write"
        );
        // A read publishes nothing.
        t.get("product_show", &[("product", "Firefox")]).await;
        assert_eq!(generation::published(&reader), None);
        assert_eq!(
            t.post("product_add", &[("product", "Firefox")]).await.0,
            200
        );
        let master = generation::current(&mut db.conn()).unwrap();
        assert_eq!(generation::published(&reader), Some(master));
        let product: i32 = {
            use bouncer_core::schema::mirror_products::dsl::*;
            use diesel::prelude::*;
            mirror_products.select(id).first(&mut db.conn()).unwrap()
        };
        assert_eq!(
            changes::published(&reader, master),
            Some(vec![Change::Product(product)]),
            "the list names what the write changed"
        );
        let (status, _) = t
            .post(
                "create_update_alias",
                &[("alias", "fx-latest"), ("related_product", "Firefox")],
            )
            .await;
        assert_eq!(status, 200);
        let after = generation::current(&mut db.conn()).unwrap();
        assert!(after > master);
        assert_eq!(generation::published(&reader), Some(after));
        assert!(matches!(
            changes::published(&reader, after).as_deref(),
            Some([Change::Alias(_)])
        ));
        // A failed write publishes nothing new.
        assert_eq!(
            t.post("product_add", &[("product", "Firefox")]).await.0,
            400
        );
        assert_eq!(generation::published(&reader), Some(after));
    });
}
