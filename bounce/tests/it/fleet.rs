//! bounce's side of read-your-writes at acknowledgement (`bouncer_core::fleet`): a writer's
//! apply call is answered once the instance serves the writer's generation — within the
//! writer's wait, also while the first replica is frozen (connections open, nothing
//! answered: the watch's reads must not hold the instance's view back when the master can
//! answer) — and refused without the fleet's token.

use crate::common::*;
use bouncer_core::changes::{self, Change};
use bouncer_core::generation;
use bouncer_core::schema::mirror_aliases;
use bouncer_test_support::proxy::Proxy;
use bouncer_test_support::TestDb;
use diesel::prelude::*;
use std::time::{Duration, Instant};

const TOKEN: &str = "fleet-token-for-tests-0123456789";
/// The writer's wait (tuxedo's default visibility timeout).
const WAIT: Duration = Duration::from_millis(2_000);

/// Points alias `firefox-stub` at `product` as a writer does; returns the new generation.
fn flip(db: &TestDb, product: &str) -> i64 {
    let mut c = db.conn();
    c.transaction::<_, bouncer_core::CoreError, _>(|t| {
        diesel::update(mirror_aliases::table.filter(mirror_aliases::alias.eq("firefox-stub")))
            .set(mirror_aliases::related_product.eq(product))
            .execute(t)?;
        let id: i32 = mirror_aliases::table
            .filter(mirror_aliases::alias.eq("firefox-stub"))
            .select(mirror_aliases::id)
            .first(t)?;
        changes::record(t, &[Change::Alias(id)])
    })
    .unwrap()
}

async fn apply(base: &str, token: &str, generation: i64) -> (u16, serde_json::Value) {
    let r = client()
        .post(format!("{base}/__fleet__/apply"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "generation": generation, "wait_ms": WAIT.as_millis() as u64 }))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

async fn stub(base: &str) -> String {
    text_of(&format!("{base}/?product=firefox-stub&lang=de&print=yes")).await
}

#[tokio::test]
async fn a_frozen_replica_does_not_hold_back_an_acknowledged_write() {
    let db = TestDb::mysql();
    standard(&mut db.conn());
    let replica = Proxy::start(0).await;
    let mut cfg = config(&db);
    cfg.database.replicas = vec![db
        .url
        .replace("127.0.0.1:3306", &format!("127.0.0.1:{}", replica.port))];
    cfg.database.master_as_last_resort = true;
    cfg.fleet.token = Some(TOKEN.into());
    let bases = [spawn(cfg.clone()), spawn(cfg)];
    for b in &bases {
        assert!(stub(b).await.contains("120.0"), "loaded");
    }
    replica.freeze();
    let g = flip(&db, "firefox-beta-latest");
    let started = Instant::now();
    let answers = futures_util::future::join_all(bases.iter().map(|b| apply(b, TOKEN, g))).await;
    let took = started.elapsed();
    for ((status, body), b) in answers.iter().zip(&bases) {
        assert_eq!(*status, 200, "{b}: {body}");
        assert!(
            body["applied"].as_i64().unwrap() >= g,
            "{b} serves {body}, not {g}"
        );
        assert!(stub(b).await.contains("121.0b1"), "{b} serves the write");
    }
    assert!(took < WAIT, "answered within the writer's wait: {took:?}");
    eprintln!("write -> served on both instances, first replica frozen: {took:?}");
    replica.thaw();
}

#[tokio::test]
async fn apply_calls_need_the_fleet_token() {
    let db = TestDb::sqlite();
    standard(&mut db.conn());
    let mut cfg = config(&db);
    let without = spawn(cfg.clone());
    cfg.fleet.token = Some(TOKEN.into());
    let base = spawn(cfg);
    let g = generation::current(&mut db.conn()).unwrap();
    assert_eq!(
        apply(&without, TOKEN, g).await.0,
        404,
        "no fleet, no endpoint"
    );
    assert_eq!(apply(&base, "not-the-fleet-token-0000", g).await.0, 401);
    let r = client()
        .post(format!("{base}/__fleet__/apply"))
        .bearer_auth(TOKEN)
        .body("{\"generation\": \"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let (status, body) = apply(&base, TOKEN, g).await;
    assert_eq!(status, 200);
    assert_eq!(body["applied"].as_i64(), Some(g));
    let g2 = flip(&db, "firefox-beta-latest");
    let (status, body) = apply(&base, TOKEN, g2).await;
    assert_eq!((status, body["applied"].as_i64()), (200, Some(g2)));
    assert!(stub(&base).await.contains("121.0b1"));
}
