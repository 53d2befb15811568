//! Faults under a steady request stream: a real memcached process killed and restarted,
//! one of two replicas cut and restored. No 5xx, no request slower than the bound,
//! correct answers throughout and after recovery, and the heartbeat says what is down.

use crate::common::*;
use bouncer_test_support::proxy::Proxy;
use bouncer_test_support::{eventually, TestDb};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A memcached process of this test's own, on a free port.
fn start_memcached(port: u16) -> Child {
    let child = Command::new("memcached")
        .args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-m",
            "16",
            "-u",
            "root",
        ])
        .spawn()
        .expect("memcached is installed (deploy/test.sh installs it)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    panic!("memcached did not start on {port}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Requests `query` in a loop until stopped; returns (count, statuses other than 200,
/// each request's time, wrong bodies).
fn stream(
    base: String,
    query: &'static str,
    expected: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, Vec<u16>, Vec<Duration>, usize)> {
    tokio::spawn(async move {
        let http = client();
        let (mut n, mut bad, mut took, mut wrong) = (0, vec![], vec![], 0);
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let r = http
                .get(format!("{base}/?{query}&print=yes"))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            took.push(started.elapsed());
            n += 1;
            if status != 200 {
                bad.push(status);
            } else if body != expected {
                wrong += 1;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (n, bad, took, wrong)
    })
}

async fn heartbeat_state(base: &str, check: &str) -> String {
    let body: serde_json::Value = client()
        .get(format!("{base}/__heartbeat__"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == check)
        .map(|c| c["state"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn memcached_killed_and_restarted() {
    let db = TestDb::mysql();
    standard(&mut db.conn());
    let port = free_port();
    let mut mc = start_memcached(port);
    let mut cfg = config(&db);
    cfg.memcached.servers = vec![format!("127.0.0.1:{port}")];
    cfg.memcached.retry_after_ms = 200;
    cfg.bounce.local_cache_ttl_ms = 100; // keep the shared tier in use
    let base = spawn(cfg);
    let expected = client()
        .get(format!("{base}/?product=firefox-latest&lang=de&print=yes"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let running = stream(
        base.clone(),
        "product=firefox-latest&lang=de",
        expected,
        stop.clone(),
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    mc.kill().unwrap();
    mc.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(heartbeat_state(&base, "memcached").await, "warning");
    let hb = client()
        .get(format!("{base}/__heartbeat__"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        hb.status(),
        200,
        "redirects still work: not out of the pool"
    );
    let mut restarted = start_memcached(port);
    let deadline = Instant::now() + Duration::from_secs(5);
    while heartbeat_state(&base, "memcached").await != "ok" {
        assert!(Instant::now() < deadline, "memcached never reported back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (n, bad, took, wrong) = running.await.unwrap();
    let slowest = took.iter().max().copied().unwrap_or_default();
    restarted.kill().unwrap();
    restarted.wait().unwrap();
    assert!(n > 50, "only {n} requests");
    assert!(bad.is_empty(), "non-200 answers: {bad:?}");
    assert_eq!(wrong, 0);
    assert!(
        slowest < Duration::from_millis(1000),
        "slowest request {slowest:?}"
    );
}

/// A replica that hangs (connections accepted, never answered): the fill that meets it
/// first pays one connect timeout and trips its breaker; after that the reader is probed
/// off the request path (`bounce_reader_probes_total`), so no later request waits on it,
/// however many retry intervals pass. Before, the first fill of every interval was the
/// probe and paid the timeout.
#[tokio::test]
async fn a_hung_replica_is_probed_off_the_request_path() {
    let db = TestDb::mysql();
    standard(&mut db.conn());
    let (one, two) = (Proxy::start(0).await, Proxy::start(0).await);
    let via = |p: &Proxy| {
        db.url
            .replace("127.0.0.1:3306", &format!("127.0.0.1:{}", p.port))
    };
    let mut cfg = config(&db);
    cfg.database.replicas = vec![via(&one), via(&two)];
    cfg.database.master_as_last_resort = false;
    cfg.database.connect_timeout_ms = 400;
    cfg.bounce.local_cache_ttl_ms = 50; // fills keep reaching the replicas
    cfg.bounce.reader_retry_after_ms = 100;
    let base = spawn(cfg);
    let expected = client()
        .get(format!("{base}/?product=firefox-latest&lang=de&print=yes"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    one.hang();
    let stop = Arc::new(AtomicBool::new(false));
    let running = stream(
        base.clone(),
        "product=firefox-latest&lang=de",
        expected,
        stop.clone(),
    );
    // Until the breaker has failed several background probes: many retry intervals.
    let probes = eventually(
        "probes of the hung replica",
        Duration::from_secs(20),
        || {
            let base = base.clone();
            async move {
                let m = client()
                    .get(format!("{base}/metrics"))
                    .send()
                    .await
                    .ok()?
                    .text()
                    .await
                    .ok()?;
                let failed = m
                    .lines()
                    .find(|l| l.starts_with("bounce_reader_probes_total{outcome=\"failed\"}"))?
                    .rsplit(' ')
                    .next()?
                    .parse::<u64>()
                    .ok()?;
                (failed >= 8).then_some(failed)
            }
        },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let (n, bad, took, wrong) = running.await.unwrap();
    assert!(bad.is_empty(), "non-200 answers: {bad:?}");
    assert_eq!(wrong, 0);
    // A request that met the hung replica waited its connect timeout (400 ms); only the
    // first fill after the hang may have.
    let waited: Vec<&Duration> = took
        .iter()
        .filter(|t| **t >= Duration::from_millis(350))
        .collect();
    assert!(
        waited.len() <= 1,
        "{} of {n} requests waited on the hung replica over {probes} probe intervals: {waited:?}",
        waited.len()
    );
    drop(two);
}

#[tokio::test]
async fn one_replica_down_the_other_serves() {
    let db = TestDb::mysql();
    standard(&mut db.conn());
    let (one, two) = (Proxy::start(0).await, Proxy::start(0).await);
    let via = |p: &Proxy| {
        db.url
            .replace("127.0.0.1:3306", &format!("127.0.0.1:{}", p.port))
    };
    let mut cfg = config(&db);
    cfg.database.replicas = vec![via(&one), via(&two)];
    cfg.database.master_as_last_resort = false;
    cfg.database.connect_timeout_ms = 300;
    cfg.bounce.local_cache_ttl_ms = 100; // fills keep reaching the replicas
    cfg.bounce.reader_retry_after_ms = 200;
    let base = spawn(cfg);
    let expected = client()
        .get(format!("{base}/?product=firefox-latest&lang=de&print=yes"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let running = stream(
        base.clone(),
        "product=firefox-latest&lang=de",
        expected,
        stop.clone(),
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    one.cut();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        heartbeat_state(&base, "database").await,
        "ok",
        "one replica still serves"
    );
    let _one_back = Proxy::start(one.port).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let (n, bad, took, wrong) = running.await.unwrap();
    let slowest = took.iter().max().copied().unwrap_or_default();
    assert!(n > 50, "only {n} requests");
    assert!(bad.is_empty(), "non-200 answers: {bad:?}");
    assert_eq!(wrong, 0);
    assert!(
        slowest < Duration::from_millis(1000),
        "slowest request {slowest:?}"
    );
    drop(two);
}
