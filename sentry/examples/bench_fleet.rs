//! Benchmark: sentry checks MIRRORS × LOCATIONS pairs (default 200 × 500 = 100,000)
//! against local fake mirrors and reports pairs/second, CPU time per pair (user + system
//! of this process, from /proc/self/stat) and peak memory (VmHWM of this process, which
//! also hosts the fake mirrors).
//!
//! `cargo run --release -p sentry --example bench_fleet [-- MIRRORS LOCATIONS [sqlite|mysql] [v4|dual]]`
//!
//! `v4` (the default): each fake mirror on its own 127.0.0.x, base URL an IP literal (one
//! address family). `dual`: each fake mirror on 127.0.0.1 and ::1 at one port, base URL
//! `http://mirrorN.test:PORT/` pinned to both by `sentry.resolve`.
//!
//! Two runs: the first creates every map row, the second is the steady state (no change);
//! `BENCH_RUNS=1` makes only the first.

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
    let dual = match args.get(4).map(String::as_str) {
        None | Some("v4") => false,
        Some("dual") => true,
        Some(other) => anyhow::bail!("mode {other:?}: expected v4 or dual"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let fakes = rt.block_on(async {
        let mut v = Vec::new();
        for i in 0..mirrors {
            let host = 2 + (i % 250) as u8;
            v.push(match dual {
                true => FakeMirror::start_dual_with(Behaviour::Healthy, false).await,
                false => FakeMirror::start_with(host, Behaviour::Healthy, false).await,
            });
        }
        v
    });
    let base_urls: Vec<String> = fakes
        .iter()
        .enumerate()
        .map(|(i, f)| match dual {
            true => format!("http://mirror{i}.test:{}/", f.port()),
            false => f.base_url(),
        })
        .collect();
    seed(&db, &base_urls, locations)?;
    // The configuration through a file, so this example builds against a sentry without
    // `sentry.resolve` too (for the before/after comparison, in `v4` mode).
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bench.toml");
    let mut toml = format!("[database]\nurl = {:?}\n", db.url);
    if dual {
        toml.push_str("[sentry.resolve]\n");
        for i in 0..mirrors {
            toml.push_str(&format!("\"mirror{i}.test\" = [\"127.0.0.1\", \"::1\"]\n"));
        }
    }
    std::fs::write(&file, toml)?;
    let mut config = Config::load(Some(&file))?;
    config.sentry.concurrency = 256;
    config.sentry.per_mirror_concurrency = 4;
    config.sentry.request_timeout_ms = 5_000;
    config.sentry.mirror_deadline_secs = 600;
    let sentry = sentry::Sentry::new(&config)?;
    // `BENCH_RUNS=1`: the first run only (with a run of 2, the difference of their
    // instruction counts under callgrind is the steady state's).
    let runs: usize = std::env::var("BENCH_RUNS").map_or(Ok(2), |r| r.parse())?;
    for label in ["first run (creates map rows)", "steady state"]
        .into_iter()
        .take(runs)
    {
        let started = Instant::now();
        let cpu = cpu_seconds();
        let s = rt.block_on(sentry.run(&Default::default()))?;
        let secs = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu;
        println!(
            "{label}: {} pairs on {} mirrors in {secs:.2} s = {:.0} pairs/s (healthy {}); \
             CPU {cpu:.2} s = {:.1} µs/pair",
            s.pairs,
            s.mirrors,
            s.pairs as f64 / secs,
            s.healthy,
            cpu * 1e6 / s.pairs.max(1) as f64,
        );
    }
    let requests: u64 = fakes
        .iter()
        .map(|f| f.count.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    println!("requests served by the fake mirrors: {requests}");
    println!("peak memory (VmHWM): {}", peak_memory());
    println!(
        "backend: {:?}, mirrors: {}",
        db.backend,
        if dual { "dual-stack" } else { "IPv4 only" }
    );
    Ok(())
}

/// User + system CPU time of this process so far (every thread), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // utime and stime are fields 14 and 15 of the line; after the name (field 2) they are
    // at indexes 11 and 12.
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // In clock ticks: `getconf CLK_TCK`, 100 per second on Linux.
    const CLK_TCK: f64 = 100.0;
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / CLK_TCK,
        _ => 0.0,
    }
}

fn seed(db: &TestDb, base_urls: &[String], locations: usize) -> anyhow::Result<()> {
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
        for (i, baseurl) in base_urls.iter().enumerate() {
            diesel::insert_into(mirror_mirrors::table)
                .values(NewMirror {
                    name: &format!("mirror{i}"),
                    baseurl,
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
