//! Read-your-writes at acknowledgement, as release automation checks it: bouncerscript
//! sets an alias through the XML API and at once reads `print=yes` of the alias and of its
//! product from bounce, with no retry, and fails on any difference. Two real bounce
//! instances register with tuxedo (see `bouncer_core::fleet`); every write must already
//! be served by both when tuxedo answers it. A registered instance that does not answer
//! is named in the write's answer once the visibility timeout runs out, and stops
//! counting when its lease expires.

use crate::common::*;
use bouncer_test_support::{db_tests, eventually, TestCache, TestDb};
use std::time::{Duration, Instant};

db_tests! {
    acknowledged_alias_writes_are_served_by_every_bounce => alias_writes,
    an_instance_that_does_not_confirm_is_named_and_its_lease_ends => silent_instance,
}

pub const TOKEN: &str = "fleet-token-for-tests-0123456789";
/// Flips of the alias: bouncerscript's check, replayed.
const FLIPS: usize = 200;

/// Points a configuration at `cache`.
pub fn with_cache(cache: &TestCache) -> impl Fn(&mut bouncer_core::config::Config) + '_ {
    |c| {
        c.memcached.servers = vec![cache.server.clone()];
        c.memcached.prefix = cache.prefix.clone();
    }
}

pub fn fleet(c: &mut bouncer_core::config::Config) {
    c.fleet.token = Some(TOKEN.into());
}

/// A bounce on port 0 that registers with `tuxedo`; returns its base URL.
pub fn start_bounce(
    db: &TestDb,
    tuxedo: &str,
    tweak: impl Fn(&mut bouncer_core::config::Config),
) -> String {
    start_bounce_until(db, tuxedo, tweak, std::future::pending()).0
}

/// [`start_bounce`], stopping when `shutdown` resolves; the handle ends when it has.
pub fn start_bounce_until(
    db: &TestDb,
    tuxedo: &str,
    tweak: impl Fn(&mut bouncer_core::config::Config),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let mut config = bouncer_core::config::Config::default();
    config.database.url = db.url.clone();
    fleet(&mut config);
    config.fleet.tuxedo_urls = vec![tuxedo.to_owned()];
    tweak(&mut config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = bounce::build(config, listener, shutdown).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    (base, tokio::spawn(app.run_until_stopped()))
}

/// Two releases with one location each, on one healthy mirror.
pub async fn two_releases(t: &Tux, db: &TestDb) {
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
    for id in location_ids(db) {
        set_map(&mut db.conn(), id, mirror, true, true);
    }
}

fn alias_writes(db: &TestDb) {
    let cache = TestCache::new();
    block_on(async {
        let with_cache = with_cache(&cache);
        let t = start(db, |c| {
            with_cache(c);
            fleet(c);
        });
        two_releases(&t, db).await;
        // As in production, memcached holds a published generation (sentry publishes after
        // each batch), so bounce watches memcached at its poll interval.
        let published =
            bouncer_core::cache::Memcached::from_config(&bouncer_core::config::MemcachedConfig {
                servers: vec![cache.server.clone()],
                prefix: cache.prefix.clone(),
                ..Default::default()
            })
            .unwrap();
        bouncer_core::changes::publish_current(&mut db.conn(), Some(&published)).unwrap();
        let bounces: Vec<String> = (0..2)
            .map(|_| start_bounce(db, &t.base, &with_cache))
            .collect();
        registered(db, &bounces).await;
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
        let mut stale = Vec::new();
        let started = Instant::now();
        for i in 0..FLIPS {
            let target = ["Firefox-130.0-SSL", "Firefox-131.0-SSL"][i % 2];
            let form = [("alias", "firefox-latest-ssl"), ("related_product", target)];
            let r = t.release_write("create_update_alias", &form).await;
            assert_eq!(r.status(), 200);
            assert_eq!(
                r.headers().get("x-bouncer-unconfirmed"),
                None,
                "every instance confirmed"
            );
            // bouncerscript's check_aliases_match: alias and product, compared at once.
            for b in &bounces {
                let alias = print(b, "firefox-latest-ssl").await;
                let product = print(b, target).await;
                if alias != product || alias.0 != 200 {
                    stale.push((i, b.clone(), alias, product));
                }
            }
        }
        assert!(stale.is_empty(), "{} stale answers: {stale:?}", stale.len());
        let m = t.metrics().await;
        assert!(
            m.contains(&format!(
                "tuxedo_visibility_writes_total{{outcome=\"confirmed\"}} {FLIPS}"
            )),
            "{m}"
        );
        eprintln!(
            "{FLIPS} flips checked on 2 instances in {:?}",
            started.elapsed()
        );
    });
}

fn silent_instance(db: &TestDb) {
    block_on(async {
        let t = start(db, |c| {
            fleet(c);
            c.tuxedo.visibility_timeout_ms = 300;
            c.fleet.lease_secs = 2;
            c.fleet.forget_secs = 1;
        });
        two_releases(&t, db).await;
        let bounce = start_bounce(db, &t.base, |c| c.fleet.lease_secs = 2);
        registered(db, std::slice::from_ref(&bounce)).await;
        // An instance that accepts connections and never answers (hung, or cut off).
        let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent = format!("http://{}", hung.local_addr().unwrap());
        // Counts the calls it gets: a write that does not call it does not wait for it.
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let called = std::sync::Arc::clone(&calls);
        let calls_now = move || calls.load(std::sync::atomic::Ordering::SeqCst);
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            loop {
                let (s, _) = hung.accept().await.unwrap();
                called.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                open.push(s);
            }
        });
        let c = reqwest::Client::new();
        let register = |url: &str, token: &str| {
            c.post(format!("{}/__fleet__/instances", t.base))
                .bearer_auth(token)
                .json(&serde_json::json!({ "url": url }))
                .send()
        };
        // Refused without the token, and for a URL that is not a base URL.
        assert_eq!(
            register(&silent, "wrong-token-0123456789")
                .await
                .unwrap()
                .status(),
            401
        );
        assert_eq!(register("ftp://x", TOKEN).await.unwrap().status(), 400);
        let r = register(&silent, TOKEN).await.unwrap();
        assert_eq!(r.status(), 200);
        let answer: serde_json::Value = r.json().await.unwrap();
        assert!(answer["generation"].as_i64().unwrap() > 0, "{answer}");
        assert_eq!(answer["lease_secs"], 2);

        let flip = |target: &'static str| {
            t.client
                .post(t.url("create_update_alias"))
                .basic_auth(RELEASE.0, Some(RELEASE.1))
                .form(&[("alias", "firefox-latest-ssl"), ("related_product", target)])
                .send()
        };
        let sent = Instant::now();
        let r = flip("Firefox-130.0-SSL").await.unwrap();
        let took = sent.elapsed();
        assert_eq!(r.status(), 200, "the write is acknowledged all the same");
        assert_eq!(
            r.headers()
                .get("x-bouncer-unconfirmed")
                .map(|v| v.to_str().unwrap().to_owned()),
            Some(silent.clone()),
            "names the silent instance, not the one that confirmed"
        );
        assert!(took >= Duration::from_millis(300), "{took:?}");
        let m = t.metrics().await;
        let line = format!("tuxedo_visibility_unconfirmed_total{{instance=\"{silent}\"}} 1");
        assert!(m.contains(&line), "{m}");
        // The live instance was told; it serves the write.
        let print = reqwest::get(format!(
            "{bounce}/?product=firefox-latest-ssl&os=win64&lang=en-US&print=yes"
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        assert!(print.contains("130.0"), "{print}");

        // The silent instance never renews: once its lease is over, writes stop waiting
        // for it, while the live one (renewing every third of its lease) still counts. It
        // is still named — cut off, it would serve what it knew — until forgotten.
        let live = bounce.clone();
        eventually(
            "the silent instance's lease ends",
            Duration::from_secs(10),
            || {
                let live = live.clone();
                async move {
                    let m = members(db);
                    (m.live == vec![live]).then_some(())
                }
            },
        )
        .await;
        let before = calls_now();
        let r = flip("Firefox-131.0-SSL").await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(calls_now(), before, "not called, so not waited for");
        assert_eq!(
            r.headers()
                .get("x-bouncer-unconfirmed")
                .map(|v| v.to_str().unwrap().to_owned()),
            Some(silent.clone()),
            "named all the same"
        );
        eventually(
            "the silent instance is forgotten",
            Duration::from_secs(10),
            || async { members(db).lapsed.is_empty().then_some(()) },
        )
        .await;
        let r = flip("Firefox-130.0-SSL").await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers().get("x-bouncer-unconfirmed"), None);
        held.abort();
    });
}

pub fn members(db: &TestDb) -> bouncer_core::fleet::Members {
    bouncer_core::fleet::members(&mut db.conn(), Duration::from_secs(1)).unwrap()
}

/// Waits until every instance in `bases` holds a live registration.
pub async fn registered(db: &TestDb, bases: &[String]) {
    eventually(
        "bounce instances registered",
        Duration::from_secs(10),
        || async {
            let live = members(db).live;
            bases.iter().all(|b| live.contains(b)).then_some(())
        },
    )
    .await;
}

fn location_ids(db: &TestDb) -> Vec<i32> {
    use bouncer_core::schema::mirror_locations;
    use diesel::prelude::*;
    mirror_locations::table
        .select(mirror_locations::id)
        .load(&mut *db.conn())
        .unwrap()
}
