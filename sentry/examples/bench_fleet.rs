//! Benchmark: sentry checks MIRRORS × LOCATIONS pairs (default 200 × 500 = 100,000)
//! against local fake mirrors and reports pairs/second and peak memory (VmHWM of this
//! process, which also hosts the fake mirrors).
//!
//! `cargo run --release -p sentry --example bench_fleet [-- MIRRORS LOCATIONS [mysql]]`
//!
//! Two runs: the first creates every map row, the second is the steady state (no change).

use bouncer_core::config::Config;
use bouncer_core::models::{NewLocation, NewMirror, NewOs, NewProduct};
use bouncer_core::schema::{mirror_locations, mirror_mirrors, mirror_os, mirror_products};
use bouncer_test_support::fake_mirror::{Behaviour, FakeMirror};
use bouncer_test_support::TestDb;
use diesel::prelude::*;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mirrors: usize = args.get(1).map_or(Ok(200), |a| a.parse())?;
    let locations: usize = args.get(2).map_or(Ok(500), |a| a.parse())?;
    let db = match args.get(3).map(String::as_str) {
        Some("mysql") => TestDb::mysql(),
        _ => TestDb::sqlite(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let fakes = rt.block_on(async {
        let mut v = Vec::new();
        for i in 0..mirrors {
            let host = 2 + (i % 250) as u8;
            v.push(FakeMirror::start_with(host, Behaviour::Healthy, false).await);
        }
        v
    });
    seed(&db, &fakes, locations)?;
    let mut config = Config::default();
    config.database.url = db.url.clone();
    config.sentry.concurrency = 256;
    config.sentry.per_mirror_concurrency = 4;
    config.sentry.request_timeout_ms = 5_000;
    config.sentry.mirror_deadline_secs = 600;
    let sentry = sentry::Sentry::new(&config)?;
    for label in ["first run (creates map rows)", "steady state"] {
        let started = Instant::now();
        let s = rt.block_on(sentry.run(&Default::default()))?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{label}: {} pairs on {} mirrors in {secs:.2} s = {:.0} pairs/s (healthy {})",
            s.pairs,
            s.mirrors,
            s.pairs as f64 / secs,
            s.healthy
        );
    }
    let requests: u64 = fakes
        .iter()
        .map(|f| f.count.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    println!("requests served by the fake mirrors: {requests}");
    println!("peak memory (VmHWM): {}", peak_memory());
    println!("backend: {:?}", db.backend);
    Ok(())
}

fn seed(db: &TestDb, fakes: &[FakeMirror], locations: usize) -> anyhow::Result<()> {
    let mut c = db.conn();
    let per_product = 100;
    let products = locations.div_ceil(per_product);
    c.transaction::<_, diesel::result::Error, _>(|c| {
        for o in 0..per_product.min(locations) {
            diesel::insert_into(mirror_os::table)
                .values(NewOs {
                    name: &format!("os{o}"),
                    priority: 0,
                })
                .execute(c)?;
        }
        let os_ids: Vec<i32> = mirror_os::table
            .select(mirror_os::id)
            .order(mirror_os::id)
            .load(c)?;
        let mut made = 0;
        for p in 0..products {
            let name = format!("Product{p}");
            diesel::insert_into(mirror_products::table)
                .values(NewProduct {
                    name: &name,
                    active: true,
                    checknow: true,
                    ssl_only: false,
                })
                .execute(c)?;
            let pid: i32 = mirror_products::table
                .filter(mirror_products::name.eq(&name))
                .select(mirror_products::id)
                .first(c)?;
            for os_id in &os_ids {
                if made == locations {
                    break;
                }
                let path = format!("/pub/{name}/{os_id}/:lang/setup.bin");
                diesel::insert_into(mirror_locations::table)
                    .values(NewLocation {
                        product_id: pid,
                        os_id: *os_id,
                        path: &path,
                    })
                    .execute(c)?;
                made += 1;
            }
        }
        for (i, f) in fakes.iter().enumerate() {
            diesel::insert_into(mirror_mirrors::table)
                .values(NewMirror {
                    name: &format!("mirror{i}"),
                    baseurl: &f.base_url(),
                    rating: 100,
                    active: true,
                })
                .execute(c)?;
        }
        Ok(())
    })?;
    Ok(())
}

fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}
