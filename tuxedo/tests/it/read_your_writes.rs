//! Read-your-writes end to end: release automation sets an alias through tuxedo and right
//! after asks bounce to `print=yes` the alias and its product, requiring identical bytes.
//! Two real bounce instances share memcached with tuxedo; every write must be served by
//! both within one second (the bound under test, so the test measures it).

use crate::common::*;
use bouncer_test_support::{db_tests, TestCache, TestDb};
use std::time::{Duration, Instant};

db_tests! {
    alias_writes_are_served_by_every_bounce_within_a_second => alias_writes,
}

const BOUND: Duration = Duration::from_secs(1);

fn alias_writes(db: &TestDb) {
    let cache = TestCache::new();
    block_on(async {
        let with_cache = |c: &mut bouncer_core::config::Config| {
            c.memcached.servers = vec![cache.server.clone()];
            c.memcached.prefix = cache.prefix.clone();
        };
        let t = start(db, with_cache);
        let mirror = add_mirror(&mut db.conn(), "m1", 100, true);
        for (product, version) in [
            ("Firefox-130.0-SSL", "130.0"),
            ("Firefox-131.0-SSL", "131.0"),
        ] {
            let form = [
                ("product", product),
                ("languages", "en-US"),
                ("ssl_only", "true"),
            ];
            assert_eq!(t.post("product_add", &form).await.0, 200);
            let path = format!("/firefox/releases/{version}/win64/:lang/Firefox Setup.exe");
            let (status, body) = t
                .post(
                    "location_add",
                    &[("product", product), ("os", "win64"), ("path", &path)],
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
        // The checker found the files on the mirror.
        for id in location_ids(db) {
            set_map(&mut db.conn(), id, mirror, true, true);
        }
        // As in production, memcached holds a published generation (sentry publishes after
        // each batch), so bounce watches memcached, not the database: only tuxedo's own
        // publication can tell it about the writes below.
        let published =
            bouncer_core::cache::Memcached::from_config(&bouncer_core::config::MemcachedConfig {
                servers: vec![cache.server.clone()],
                prefix: cache.prefix.clone(),
                ..Default::default()
            })
            .unwrap();
        bouncer_core::generation::publish_current(&mut db.conn(), Some(&published)).unwrap();
        let bounces: Vec<String> = (0..2)
            .map(|_| {
                let mut config = bouncer_core::config::Config::default();
                config.database.url = db.url.clone();
                with_cache(&mut config);
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let app = bounce::build(config, listener).unwrap();
                let base = format!("http://127.0.0.1:{}", app.port());
                tokio::spawn(app.run_until_stopped());
                base
            })
            .collect();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let print = |base: &str, product: &str| {
            let url = format!("{base}/?product={product}&os=win64&lang=en-US&print=yes");
            let client = client.clone();
            async move {
                let r = client.get(url).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        // Both instances have cached the products (and the missing alias) before the write.
        for b in &bounces {
            assert_eq!(print(b, "Firefox-130.0-SSL").await.0, 200);
            assert_eq!(print(b, "Firefox-131.0-SSL").await.0, 200);
            assert_ne!(print(b, "firefox-latest-ssl").await.0, 200);
        }
        for target in [
            "Firefox-130.0-SSL",
            "Firefox-131.0-SSL",
            "Firefox-130.0-SSL",
        ] {
            let form = [("alias", "firefox-latest-ssl"), ("related_product", target)];
            let (status, body) = t.post("create_update_alias", &form).await;
            assert_eq!(status, 200, "{body}");
            let written = Instant::now();
            for b in &bounces {
                let expected = print(b, target).await;
                assert_eq!(expected.0, 200);
                loop {
                    let got = print(b, "firefox-latest-ssl").await;
                    if got == expected {
                        break;
                    }
                    assert!(
                        written.elapsed() < BOUND,
                        "{b} still serves {got:?} for the alias, not {expected:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            assert!(written.elapsed() < BOUND);
        }
    });
}

fn location_ids(db: &TestDb) -> Vec<i32> {
    use bouncer_core::schema::mirror_locations;
    use diesel::prelude::*;
    mirror_locations::table
        .select(mirror_locations::id)
        .load(&mut *db.conn())
        .unwrap()
}
