//! The databases go away under a running bounce (a TCP proxy in front of MariaDB is cut),
//! then come back: known answers keep being served from last-known data within the
//! request deadline, unknown ones get a fast 503, the heartbeat says warning, and
//! recovery needs no restart.

use crate::common::*;
use bouncer_test_support::proxy::Proxy;
use bouncer_test_support::TestDb;
use std::time::{Duration, Instant};

/// bounce on the standard catalogue behind `proxy`, with short live entries and a
/// 500 ms request deadline.
fn behind(db: &TestDb, proxy: &Proxy, connect_timeout_ms: u64) -> String {
    behind_with(db, proxy, connect_timeout_ms, |_| {})
}

/// [`behind`], with `tweak` applied to the configuration.
fn behind_with(
    db: &TestDb,
    proxy: &Proxy,
    connect_timeout_ms: u64,
    tweak: impl FnOnce(&mut bouncer_core::config::Config),
) -> String {
    standard(&mut db.conn());
    let mut cfg = config(db);
    tweak(&mut cfg);
    cfg.database.url = db
        .url
        .replace("127.0.0.1:3306", &format!("127.0.0.1:{}", proxy.port));
    assert_ne!(cfg.database.url, db.url);
    cfg.database.connect_timeout_ms = connect_timeout_ms;
    cfg.bounce.local_cache_ttl_ms = 200;
    cfg.bounce.request_deadline_ms = DEADLINE.as_millis() as u64;
    cfg.bounce.reader_retry_after_ms = 200;
    spawn(cfg)
}

const DEADLINE: Duration = Duration::from_millis(500);
/// What a request may take beyond the deadline: answering from memory after it.
const SLACK: Duration = Duration::from_millis(250);

/// A hung database (connections accepted, never answered) with a connect timeout four
/// times the request deadline: every request still answers within the deadline.
#[tokio::test]
async fn a_hung_database_costs_at_most_the_deadline() {
    let db = TestDb::mysql();
    let proxy = Proxy::start(0).await;
    let base = behind(&db, &proxy, 2000);
    let get = |q: &'static str| {
        let base = base.clone();
        async move {
            let started = Instant::now();
            let r = client()
                .get(format!("{base}/?{q}&print=yes"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap(), started.elapsed())
        }
    };
    let (status, known, _) = get("product=firefox-latest&lang=de").await;
    assert_eq!(status, 200);
    proxy.hang();
    tokio::time::sleep(Duration::from_millis(300)).await; // let the live entries expire
    for _ in 0..5 {
        let (status, body, took) = get("product=firefox-latest&lang=de").await;
        assert_eq!((status, body), (200, known.clone()), "last-known rows");
        assert!(took < DEADLINE + SLACK, "waited {took:?}");
        let (status, _, took) = get("product=firefox-beta-latest&lang=de").await;
        assert_eq!(status, 503, "never seen: nothing to fall back on");
        assert!(took < DEADLINE + SLACK, "waited {took:?}");
    }
}

/// CDN mode answers from the names alone; the digests are a cached extra. With the
/// database hung, a location never read still redirects to the pin within the deadline
/// (without digests), and one read before keeps its digests from the last-known rows.
#[tokio::test]
async fn cdn_mode_redirects_without_the_rows() {
    let db = TestDb::mysql();
    let proxy = Proxy::start(0).await;
    let base = behind_with(&db, &proxy, 2000, |cfg| {
        cfg.bounce.pinned_http = Some("cdn.example.net/pub".into());
        cfg.bounce.pinned_https = Some("cdn.example.net/pub".into());
    });
    let meta = bouncer_core::files::FileMeta {
        lang: "de".into(),
        sha256: Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into()),
        ..Default::default()
    };
    let latest_win = {
        use bouncer_core::schema::{mirror_locations as l, mirror_products as p};
        use diesel::prelude::*;
        l::table
            .inner_join(p::table)
            .filter(p::name.eq("firefox-latest"))
            .filter(l::path.like("%win32%"))
            .select(l::id)
            .first::<i32>(&mut db.conn())
            .unwrap()
    };
    bouncer_core::files::set(&mut db.conn(), latest_win, &meta).unwrap();
    let get = |q: &'static str| {
        let base = base.clone();
        async move {
            let started = Instant::now();
            let r = client().get(format!("{base}/?{q}")).send().await.unwrap();
            let digest = r
                .headers()
                .get("digest")
                .map(|v| v.to_str().unwrap().to_owned());
            let to = r
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned());
            (r.status().as_u16(), to, digest, started.elapsed())
        }
    };
    let (status, _, digest, _) = get("product=firefox-latest&lang=de").await;
    assert_eq!((status, digest.is_some()), (302, true));
    proxy.hang();
    tokio::time::sleep(Duration::from_millis(300)).await; // let the live entries expire
    for _ in 0..3 {
        let (status, _, kept, took) = get("product=firefox-latest&lang=de").await;
        assert_eq!((status, kept), (302, digest.clone()), "last-known rows");
        assert!(took < DEADLINE + SLACK, "waited {took:?}");
        let (status, to, none, took) = get("product=firefox-beta-latest&lang=de").await;
        assert_eq!(status, 302, "the pin needs no rows");
        assert!(to.unwrap().starts_with("http://cdn.example.net/pub/"));
        assert_eq!(none, None);
        assert!(took < DEADLINE + SLACK, "waited {took:?}");
    }
}

/// No database from the start: nothing to answer with, the heartbeat is an error (500).
#[tokio::test]
async fn no_database_and_no_data_is_an_error() {
    let db = TestDb::mysql();
    let proxy = Proxy::start(0).await;
    proxy.cut();
    let base = behind(&db, &proxy, 300);
    let hb = client()
        .get(format!("{base}/__heartbeat__"))
        .send()
        .await
        .unwrap();
    assert_eq!(hb.status(), 500);
    let body: serde_json::Value = hb.json().await.unwrap();
    assert_eq!(body["checks"][0]["state"], "error", "{body}");
}

#[tokio::test]
async fn databases_down_then_back() {
    let db = TestDb::mysql();
    let proxy = Proxy::start(0).await;
    let base = behind(&db, &proxy, 300);
    let get = |q: &'static str| {
        let base = base.clone();
        async move {
            let r = client()
                .get(format!("{base}/?{q}&print=yes"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, known) = get("product=firefox-latest&lang=de").await;
    assert_eq!(status, 200);

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await; // let the live entries expire
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(
            get("product=firefox-latest&lang=de").await,
            (200, known.clone())
        );
        assert!(
            started.elapsed() < DEADLINE + SLACK,
            "waited {:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    let (status, _) = get("product=firefox-beta-latest&lang=de").await;
    assert_eq!(status, 503, "never seen: nothing to fall back on");
    assert!(started.elapsed() < DEADLINE + SLACK);
    let hb = client()
        .get(format!("{base}/__heartbeat__"))
        .send()
        .await
        .unwrap();
    assert_eq!(hb.status(), 200);
    let body: serde_json::Value = hb.json().await.unwrap();
    assert_eq!(body["checks"][0]["state"], "warning", "{body}");

    let _back = Proxy::start(proxy.port).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if get("product=firefox-beta-latest&lang=de").await.0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hb: serde_json::Value = client()
        .get(format!("{base}/__heartbeat__"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hb["checks"][0]["state"], "ok");
}

bouncer_test_support::async_db_tests! {
    a_row_bounce_cannot_decode_is_a_logged_500_not_a_503 => undecodable_row,
}

/// A row that does not fit the schema bounce was built for (here a NULL in a column the
/// code takes as NOT NULL, as a schema from another release could hold) is bounce's
/// defect: the request that needs it gets a 500 (logged as an error), not the 503 that
/// tells clients and monitors the database is down; other locations are still served.
async fn undecodable_row(db: TestDb) {
    use diesel::RunQueryDsl;
    let cat = standard(&mut db.conn());
    let statements = [
        "DROP TABLE bouncer_files".to_owned(),
        "CREATE TABLE bouncer_files (location_id INTEGER NOT NULL, lang VARCHAR(32) NOT NULL, \
         size BIGINT, sha256 VARCHAR(64), sha512 VARCHAR(128), etag VARCHAR(64), \
         last_modified VARCHAR(64), source VARCHAR(32), \
         updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, learned_from INTEGER, \
         disputed VARCHAR(64), PRIMARY KEY (location_id, lang))"
            .to_owned(),
        format!(
            "INSERT INTO bouncer_files (location_id, lang, source) VALUES ({}, 'de', NULL)",
            cat.beta_win
        ),
    ];
    for sql in &statements {
        diesel::sql_query(sql).execute(&mut *db.conn()).unwrap();
    }
    let base = spawn(config(&db));
    let get = |q: &'static str| {
        let url = format!("{base}/?{q}");
        async move {
            let r = client().get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = get("product=firefox-beta-latest&os=win&lang=de").await;
    assert_eq!((status, body.as_str()), (500, "internal error\n"));
    let (status, _) = get("product=firefox-latest&os=win&lang=de").await;
    assert_eq!(status, 302, "the rest is served");
}
