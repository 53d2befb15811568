//! Benchmark (issue 32): one controller run with several vantages at scale — LOCATIONS ×
//! MIRRORS pairs × 2 address families × 2 vantages (the controller's own findings, and
//! one agent's through the real channel, `POST /vantage/findings`), defaults 250 × 1,000
//! × 2 × 2 = 1,000,000 (location, mirror, family, vantage) verdicts. Per round: seconds,
//! findings per second, CPU seconds of this process (the controller: its HTTP side and
//! the database client; from /proc/self/stat) and its peak memory (VmHWM).
//!
//! `cargo run --release -p sentry --example bench_vantages [-- LOCATIONS MIRRORS [mysql|sqlite]]`
//!
//! Rounds: `first` (every view row inserted, every verdict written), `steady` (nothing
//! changes: reads only), `churn` (the agent sees 10 % of the pairs down: those views and
//! verdicts change). Each round: the controller's findings, the agent's, then every pair
//! settled (`settle_all`, what each controller run ends with). Last, the agent's lease
//! runs out and one settling removes its region's verdicts.

use bouncer_core::config::{AgentGrant, Config};
use bouncer_core::db::DbConnection;
use bouncer_test_support::TestDb;
use diesel::prelude::*;
use sentry::vantage::{Finding, Seen};
use std::time::Instant;

const SECRET: &str = "bench-agent-secret-0123456789";
/// Findings per request of the agent (as `sentry agent` sends them).
const PER_REQUEST: usize = 20_000;
/// The controller's findings per transaction (a writer batch of 64 mirrors' reports).
const PER_BATCH: usize = 32_000;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let locations: i32 = args.get(1).map_or(Ok(250), |a| a.parse())?;
    let mirrors: i32 = args.get(2).map_or(Ok(1_000), |a| a.parse())?;
    let db = match args.get(3).map(String::as_str) {
        Some("sqlite") => TestDb::sqlite(),
        _ => TestDb::mysql(),
    };
    let t = Instant::now();
    seed(&mut db.conn(), locations, mirrors)?;
    println!(
        "seeded {locations} locations x {mirrors} mirrors ({} pairs) in {:.1} s",
        locations * mirrors,
        t.elapsed().as_secs_f64()
    );
    let mut config = Config::default();
    config.database.url = db.url.clone();
    config.sentry.vantage_regions = vec!["America".into()];
    config.sentry.agents.insert(
        "agent-1".into(),
        AgentGrant {
            token_sha256: {
                use sha2::{Digest, Sha256};
                format!("{:x}", Sha256::digest(SECRET.as_bytes()))
            },
            regions: vec!["Europe".into()],
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let sentry = sentry::Sentry::new(&config)?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let app = sentry::serve(&sentry, listener, std::future::pending())?;
        let url = format!("http://127.0.0.1:{}/vantage/findings", app.port());
        tokio::spawn(app.run_until_stopped());
        let http = reqwest::Client::new();
        let all = findings(locations, mirrors);
        println!(
            "round   | findings  | controller s | agent s | settle s | total s | findings/s | CPU s | peak MiB"
        );
        for (round, down_every) in [("first", 0), ("steady", 0), ("churn", 10)] {
            let cpu0 = cpu_seconds();
            let t0 = Instant::now();
            let (pool, policy) = (sentry.pool().clone(), sentry.policy());
            let vantages = sentry.vantages().ok_or_else(|| anyhow::anyhow!("no vantages"))?;
            let mine = all.clone();
            let v = vantages.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = bouncer_core::db::conn(&pool)?;
                for chunk in mine.chunks(PER_BATCH) {
                    let now = chrono::Utc::now().naive_utc();
                    sentry::vantage::apply(&mut conn, &policy, &v, &v.me, chunk, now)?;
                }
                Ok(())
            })
            .await??;
            let t1 = Instant::now();
            let theirs: Vec<Finding> = all
                .iter()
                .enumerate()
                .map(|(i, f)| match down_every {
                    n if n > 0 && i % n == 0 => Finding {
                        class: Seen::Unhealthy,
                        reason: "timeout".into(),
                        ..f.clone()
                    },
                    _ => f.clone(),
                })
                .collect();
            for chunk in theirs.chunks(PER_REQUEST) {
                let r = http.post(&url).bearer_auth(SECRET).json(chunk).send().await?;
                anyhow::ensure!(r.status().is_success(), "{}: {}", r.status(), r.text().await?);
            }
            let t2 = Instant::now();
            let pool = sentry.pool().clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut conn = bouncer_core::db::conn(&pool)?;
                let now = chrono::Utc::now().naive_utc();
                sentry::vantage::settle_all(&mut conn, &vantages, now)?;
                Ok(())
            })
            .await??;
            let t3 = Instant::now();
            let n = all.len() * 2;
            let total = (t3 - t0).as_secs_f64();
            println!(
                "{round:<7} | {n:>9} | {:>12.1} | {:>7.1} | {:>8.1} | {total:>7.1} | {:>10.0} | {:>5.1} | {:>8.0}",
                (t1 - t0).as_secs_f64(),
                (t2 - t1).as_secs_f64(),
                (t3 - t2).as_secs_f64(),
                n as f64 / total,
                cpu_seconds() - cpu0,
                peak_mib(),
            );
        }
        // The agent is lost: past its lease, the next settling removes its region's
        // verdicts (and puts the global ones back on the controller's view alone).
        diesel::sql_query("UPDATE bouncer_vantages SET reported_at = 0 WHERE name = 'agent-1'")
            .execute(&mut db.conn())?;
        let (pool, vantages) = (sentry.pool().clone(), sentry.vantages());
        let t = Instant::now();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let vantages = vantages.ok_or_else(|| anyhow::anyhow!("no vantages"))?;
            let mut conn = bouncer_core::db::conn(&pool)?;
            sentry::vantage::settle_all(&mut conn, &vantages, chrono::Utc::now().naive_utc())?;
            Ok(())
        })
        .await??;
        println!(
            "lease   | the agent's verdicts removed in {:.1} s | peak {:.0} MiB",
            t.elapsed().as_secs_f64(),
            peak_mib()
        );
        println!("verdict rows: {}", count(&mut db.conn(), "bouncer_region_health")?);
        Ok::<_, anyhow::Error>(())
    })
}

/// Every (location, mirror, family) healthy.
fn findings(locations: i32, mirrors: i32) -> Vec<Finding> {
    let mut v = Vec::with_capacity((locations * mirrors * 2) as usize);
    for location_id in 1..=locations {
        for mirror_id in 1..=mirrors {
            for family in [4, 6] {
                v.push(Finding {
                    location_id,
                    mirror_id,
                    family,
                    class: Seen::Healthy,
                    reason: String::new(),
                    // A round's timing rides on one finding per (mirror, family).
                    connect_us: (location_id == 1).then_some(20_000 + mirror_id as u32),
                    ttfb_us: (location_id == 1).then_some(10_000 + mirror_id as u32),
                });
            }
        }
    }
    v
}

fn seed(c: &mut DbConnection, locations: i32, mirrors: i32) -> anyhow::Result<()> {
    let exec = |c: &mut DbConnection, sql: String| diesel::sql_query(sql).execute(c);
    exec(c, "INSERT INTO mirror_products (id, name, active, checknow, ssl_only) VALUES (1, 'Firefox', 1, 0, 0)".into())?;
    exec(c, "INSERT INTO geoip_regions (id, name, priority, throttle, prevent_global_fallback) VALUES (1, 'Europe', 0, 100, 0), (2, 'America', 0, 100, 0)".into())?;
    let rows = |n: i32, row: &dyn Fn(i32) -> String| (1..=n).map(row).collect::<Vec<_>>();
    // One OS per location: a product has one location per OS.
    for chunk in rows(locations, &|i| format!("({i}, 'os{i}', 0)")).chunks(1_000) {
        let sql = format!(
            "INSERT INTO mirror_os (id, name, priority) VALUES {}",
            chunk.join(",")
        );
        exec(c, sql)?;
    }
    for chunk in rows(locations, &|i| {
        format!("({i}, 1, {i}, '/f/{i}/:lang/x.exe')")
    })
    .chunks(1_000)
    {
        exec(
            c,
            format!(
                "INSERT INTO mirror_locations (id, product_id, os_id, path) VALUES {}",
                chunk.join(",")
            ),
        )?;
    }
    for chunk in rows(mirrors, &|i| {
        format!("({i}, 'm{i}', 'http://m{i}.test/', 100, 1, 0)")
    })
    .chunks(1_000)
    {
        exec(
            c,
            format!(
                "INSERT INTO mirror_mirrors (id, name, baseurl, rating, active, count) VALUES {}",
                chunk.join(",")
            ),
        )?;
    }
    for l in 1..=locations {
        let pairs = rows(mirrors, &|m| format!("({l}, {m}, 1, 1)"));
        for chunk in pairs.chunks(2_000) {
            exec(c, format!("INSERT INTO mirror_location_mirror_map (location_id, mirror_id, active, healthy) VALUES {}", chunk.join(",")))?;
        }
    }
    Ok(())
}

fn count(c: &mut DbConnection, table: &str) -> anyhow::Result<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n: N = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(c)?;
    Ok(n.n)
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident memory of this process, MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
