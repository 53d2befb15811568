//! Several vantage points end to end (issue 32): three sentry agents in three network
//! namespaces (veth pairs, no default route), each speaking for a region, a controller on
//! the host, fake mirrors that only some namespaces reach, and bounce serving clients of
//! each region by the verdicts. Clients of a region never get a mirror its vantages cannot
//! reach; the mirror stays up globally as the majority rule says; an agent that dies stops
//! counting after its lease. MariaDB and SQLite. Needs root (network namespaces).

use crate::common::*;
use bouncer_core::config::{AgentGrant, Config, Secret};
use bouncer_core::schema::*;
use bouncer_test_support::delay::DelayProxy;
use bouncer_test_support::fake_mirror::{Behaviour, FakeMirror};
use bouncer_test_support::netns::Vantage;
use bouncer_test_support::{async_db_tests, eventually, write_geo_mmdb, TestDb};
use diesel::prelude::*;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

async_db_tests! {
    vantages_in_namespaces => vantages_in_namespaces,
}

/// Where each region's clients come from (GeoIP), its country and its agent.
const REGIONS: [(&str, &str, &str, &str); 3] = [
    ("Europe", "DE", "203.0.113.0/24", "eu"),
    ("Asia", "JP", "198.51.100.0/24", "as"),
    ("America", "US", "192.0.2.0/24", "us"),
];

fn secret(agent: &str) -> String {
    format!("{agent}-agent-secret-0123456789")
}

fn sha256(s: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(s.as_bytes()))
}

/// Runs `agent` in `ns` every 200 ms until `stop`.
fn run_agent(ns: &Vantage, config: Config, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    ns.run(move || async move {
        let agent = sentry::Agent::new(&config).unwrap();
        while !stop.load(Ordering::Acquire) {
            if let Err(e) = agent.round().await {
                eprintln!("agent {}: {e}", config.sentry.vantage);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

/// `(region name, healthy)` of the verdicts of `mirror` (0 = global).
fn verdicts(db: &TestDb, mirror: i32) -> HashMap<i32, bool> {
    bouncer_region_health::table
        .filter(bouncer_region_health::mirror_id.eq(mirror))
        .select((
            bouncer_region_health::region_id,
            bouncer_region_health::healthy,
        ))
        .load::<(i32, bool)>(&mut *db.conn())
        .unwrap()
        .into_iter()
        .collect()
}

/// The hosts `n` clients of `cidr` (a /24) are sent to.
async fn hosts(base: &str, n: usize, cidr: &str) -> HashMap<String, usize> {
    let prefix = cidr.trim_end_matches("0/24");
    let http = client();
    let mut seen = HashMap::new();
    for i in 0..n {
        let r = http
            .get(format!(
                "{base}/?product=firefox-latest&os=win&lang=de&ip={prefix}{}",
                i % 250 + 1
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        let to = r.headers()["location"].to_str().unwrap();
        let host = to
            .split('/')
            .nth(2)
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .to_owned();
        *seen.entry(host).or_insert(0) += 1;
    }
    seen
}

async fn vantages_in_namespaces(db: TestDb) {
    let (net, prefix) = match db.url.starts_with("mysql") {
        true => (171, format!("bvm{}", std::process::id() % 10_000)),
        false => (172, format!("bvs{}", std::process::id() % 10_000)),
    };
    let ns: Vec<Vantage> = (1..=3).map(|k| Vantage::create(&prefix, net, k)).collect();
    // `everywhere` is reached by every namespace, Europe's through a proxy 40 ms longer;
    // `partial` only on the host side of the first two pairs: the third namespace
    // (America's agent) cannot reach it.
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    let everywhere =
        FakeMirror::start_on_each(&[local, ns[1].host_ip, ns[2].host_ip], Behaviour::Healthy).await;
    let far = std::net::SocketAddr::new(ns[0].host_ip, everywhere.port());
    let upstream = std::net::SocketAddr::new(local, everywhere.port());
    let _europe_path = DelayProxy::start(far, upstream, Duration::from_millis(40)).await;
    let partial =
        FakeMirror::start_on_each(&[ns[0].host_ip, ns[1].host_ip], Behaviour::Healthy).await;
    let (ids, regions) = {
        let c = &mut db.conn();
        let win = os(c, "win");
        let p = product(c, "firefox-latest", false, &[]);
        let loc = location(c, p, win, "/pub/:lang/setup.exe");
        let mut ids = HashMap::new();
        for (name, port) in [
            ("everywhere", everywhere.port()),
            ("partial", partial.port()),
        ] {
            let m = mirror(c, name, &format!("http://{name}.test:{port}"), 100, true);
            serve(c, loc, m, true, true);
            ids.insert(name, m);
        }
        let mut regions = HashMap::new();
        for (name, cc, _, _) in REGIONS {
            let r = region(c, name, 100, None, false);
            country(c, cc, r);
            regions.insert(name, r);
        }
        (ids, regions)
    };

    // The controller on the host: it reaches both mirrors (at the first pair's address),
    // speaks for no region, takes the three agents' findings, and runs every 300 ms.
    let pin = |c: &mut Config, at: IpAddr| {
        for host in ["everywhere.test", "partial.test"] {
            c.sentry.resolve.insert(host.into(), vec![at]);
        }
        c.sentry.families = vec![];
        c.sentry.failures_to_down = 1;
        c.sentry.successes_to_up = 1;
        c.sentry.request_timeout_ms = 1_000;
    };
    let mut controller = config(&db);
    pin(&mut controller, ns[0].host_ip);
    controller.sentry.vantage_lease_secs = 2;
    for (name, _, _, agent) in REGIONS {
        let grant = AgentGrant {
            token_sha256: sha256(&secret(agent)),
            regions: vec![name.into()],
        };
        controller.sentry.agents.insert(agent.into(), grant);
    }
    let sentry = Arc::new(sentry::Sentry::new(&controller).unwrap());
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let app = sentry::serve(&sentry, listener, std::future::pending()).unwrap();
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let runs = {
        let sentry = sentry.clone();
        tokio::spawn(async move {
            loop {
                let _ = sentry.run(&Default::default()).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };

    // One agent per namespace, reaching the controller and the mirrors at its pair's
    // host-side address only.
    let mut stops = Vec::new();
    let mut agents = Vec::new();
    for (k, (_, _, _, agent)) in REGIONS.iter().enumerate() {
        let mut c = config(&db);
        c.database.url = "sqlite:///nonexistent/an-agent-needs-no-database.db".into();
        pin(&mut c, ns[k].host_ip);
        c.sentry.vantage = (*agent).into();
        c.sentry.controller = Some(format!("http://{}:{port}", ns[k].host_ip));
        c.sentry.agent_token = Some(Secret(secret(agent)));
        let stop = Arc::new(AtomicBool::new(false));
        agents.push(run_agent(&ns[k], c, stop.clone()));
        stops.push(stop);
    }

    let (europe, asia, america) = (regions["Europe"], regions["Asia"], regions["America"]);
    let want = HashMap::from([(0, true), (europe, true), (asia, true), (america, false)]);
    eventually(
        "America's agent finds `partial` unreachable",
        Duration::from_secs(30),
        || async { (verdicts(&db, ids["partial"]) == want).then_some(()) },
    )
    .await;
    let all_up = HashMap::from([(0, true), (europe, true), (asia, true), (america, true)]);
    assert_eq!(verdicts(&db, ids["everywhere"]), all_up);

    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("geo.mmdb");
    let nets: Vec<(&str, &str, Option<&str>)> = REGIONS
        .iter()
        .map(|(_, cc, cidr, _)| (*cidr, *cc, None))
        .collect();
    write_geo_mmdb(&geo, &nets);
    let mut cfg = config(&db);
    cfg.geoip.database = Some(geo);
    cfg.bounce.allow_ip_override = true;
    let base = spawn(cfg.clone());
    let america_sent = hosts(&base, 500, REGIONS[2].2).await;
    assert_eq!(
        america_sent.keys().collect::<Vec<_>>(),
        ["everywhere.test"],
        "{america_sent:?}"
    );
    let europe_sent = hosts(&base, 500, REGIONS[0].2).await;
    assert!(
        europe_sent.contains_key("partial.test") && europe_sent.contains_key("everywhere.test"),
        "{europe_sent:?}"
    );

    // Proximity: Europe's agent measures `everywhere` 40 ms further than `partial`; with
    // `bounce.proximity = prefer` Europe's clients go to `partial`, Asia's (no delay)
    // to both.
    let measured = |mirror: i32| -> Option<i32> {
        bouncer_region_rtt::table
            .filter(bouncer_region_rtt::region_id.eq(europe))
            .filter(bouncer_region_rtt::mirror_id.eq(mirror))
            .filter(bouncer_region_rtt::samples.ge(2))
            .select(bouncer_region_rtt::ttfb_us)
            .first(&mut *db.conn())
            .ok()
    };
    eventually(
        "Europe's vantage measures both mirrors",
        Duration::from_secs(30),
        || async {
            let (e, p) = (measured(ids["everywhere"])?, measured(ids["partial"])?);
            (e > 30_000 && p < 20_000).then_some(())
        },
    )
    .await;
    let mut near = cfg.clone();
    near.bounce.proximity = bouncer_core::selection::Proximity::Prefer;
    near.bounce.proximity_min_samples = 2;
    let base_near = spawn(near);
    let europe_near = hosts(&base_near, 500, REGIONS[0].2).await;
    assert!(
        europe_near.get("partial.test").copied().unwrap_or(0) > 475,
        "{europe_near:?}"
    );
    let asia_near = hosts(&base_near, 500, REGIONS[1].2).await;
    assert!(
        asia_near.get("everywhere.test").copied().unwrap_or(0) > 150,
        "{asia_near:?}"
    );

    // America's agent dies: after its lease its verdict is gone, and America's clients
    // are served by the global verdict (up) again.
    stops[2].store(true, Ordering::Release);
    eventually(
        "the dead agent's verdict expires",
        Duration::from_secs(30),
        || async { (!verdicts(&db, ids["partial"]).contains_key(&america)).then_some(()) },
    )
    .await;
    let base = spawn(cfg);
    let america_sent = hosts(&base, 500, REGIONS[2].2).await;
    assert!(
        america_sent.contains_key("partial.test"),
        "{america_sent:?}"
    );

    for stop in &stops {
        stop.store(true, Ordering::Release);
    }
    for a in agents {
        a.join().unwrap();
    }
    runs.abort();
    drop(ns);
}
