//! Several vantage points (issue 32): a controller and two agents (`sentry::Agent`, the
//! same code as `sentry agent`), each speaking for a region, over the controller's agent
//! channel; a mirror only some vantages reach is down for their region and up globally
//! while the rule says so; a lost agent stops counting after its lease; the channel takes
//! findings from configured agents only. MariaDB and SQLite.

use crate::support::fake::{refused_addr, Behaviour, FakeMirror};
use crate::support::*;
use bouncer_core::config::{AgentGrant, Config};
use bouncer_core::models::NewRegion;
use bouncer_core::schema::{
    bouncer_audit_log, bouncer_region_health, bouncer_region_rtt, bouncer_vantage_rtt,
    bouncer_vantages, geoip_regions,
};
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;
use std::net::IpAddr;

const EU_SECRET: &str = "eu-1-secret-0123456789";
const AS_SECRET: &str = "as-1-secret-0123456789";

fn sha256(s: &str) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(s.as_bytes()))
}

fn region(db: &TestDb, name: &str) -> i32 {
    let mut c = db.conn();
    diesel::insert_into(geoip_regions::table)
        .values(NewRegion {
            name,
            priority: 0,
            throttle: 100,
            fallback_id: None,
            prevent_global_fallback: false,
        })
        .execute(&mut *c)
        .unwrap();
    geoip_regions::table
        .filter(geoip_regions::name.eq(name))
        .select(geoip_regions::id)
        .first(&mut *c)
        .unwrap()
}

/// `(region, healthy)` of the verdicts of a mirror (one location).
fn verdicts(db: &TestDb, mirror_id: i32) -> Vec<(i32, bool)> {
    bouncer_region_health::table
        .filter(bouncer_region_health::mirror_id.eq(mirror_id))
        .select((
            bouncer_region_health::region_id,
            bouncer_region_health::healthy,
        ))
        .order(bouncer_region_health::region_id)
        .load(&mut *db.conn())
        .unwrap()
}

fn sorted(mut v: [(i32, bool); 3]) -> Vec<(i32, bool)> {
    v.sort();
    v.to_vec()
}

/// The controller's config: two agents, eu-1 for Europe and as-1 for Asia.
fn controller(db: &TestDb) -> Config {
    let mut c = config(db, 1_000);
    c.sentry.families = vec![];
    let grant = |secret: &str, region: &str| AgentGrant {
        token_sha256: sha256(secret),
        regions: vec![region.into()],
    };
    c.sentry
        .agents
        .insert("eu-1".into(), grant(EU_SECRET, "Europe"));
    c.sentry
        .agents
        .insert("as-1".into(), grant(AS_SECRET, "Asia"));
    c
}

/// An agent's config: its name, secret, the controller, and where it finds `b.test`.
fn agent(db: &TestDb, name: &str, secret: &str, controller: &str, b_at: IpAddr) -> Config {
    let mut c = config(db, 1_000);
    c.database.url = "sqlite:///nonexistent/agents-need-no-database.db".into();
    c.sentry.families = vec![];
    c.sentry.vantage = name.into();
    c.sentry.controller = Some(controller.into());
    c.sentry.agent_token = Some(bouncer_core::config::Secret(secret.into()));
    c.sentry.resolve.insert("b.test".into(), vec![b_at]);
    c
}

fn a_mirror_down_for_one_region_only(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
        let europe = region(db, "Europe");
        let asia = region(db, "Asia");
        let fake_a = FakeMirror::start(80, Behaviour::Healthy).await;
        let fake_b = FakeMirror::start(81, Behaviour::Healthy).await;
        let a = mirror(db, "a", &fake_a.base_url(), &[loc]);
        let b = mirror(
            db,
            "b",
            &format!("http://b.test:{}/", fake_b.port()),
            &[loc],
        );
        let mut config = controller(db);
        config
            .sentry
            .resolve
            .insert("b.test".into(), vec!["127.0.0.81".parse().unwrap()]);
        let sentry = sentry::Sentry::new(&config).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let app = sentry::serve(&sentry, listener, std::future::pending()).unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());

        // The controller alone: its own view, global (it speaks for no region).
        sentry.run(&Default::default()).await.unwrap();
        assert_eq!(verdicts(db, a), [(0, true)]);
        assert_eq!(verdicts(db, b), [(0, true)]);

        // eu-1 cannot reach b.test (nothing listens where it finds it), as-1 can.
        let refused = refused_addr(82).await.ip();
        let eu = sentry::Agent::new(&agent(db, "eu-1", EU_SECRET, &base, refused)).unwrap();
        let asia_ok = agent(db, "as-1", AS_SECRET, &base, "127.0.0.81".parse().unwrap());
        let r = eu.round().await.unwrap();
        assert_eq!((r.mirrors, r.findings), (2, 2));
        sentry::Agent::new(&asia_ok).unwrap().round().await.unwrap();
        // b: down for Europe, up for Asia, and globally up (a majority of regions).
        assert_eq!(
            verdicts(db, a),
            sorted([(0, true), (europe, true), (asia, true)])
        );
        assert_eq!(
            verdicts(db, b),
            sorted([(0, true), (europe, false), (asia, true)])
        );
        // Their timings: each agent's per mirror it reached (eu-1 did not reach b), and
        // after the controller's run, per region the nearest vantage's.
        let timed: Vec<(i32, String, i32)> = bouncer_vantage_rtt::table
            .select((
                bouncer_vantage_rtt::mirror_id,
                bouncer_vantage_rtt::vantage,
                bouncer_vantage_rtt::samples,
            ))
            .filter(bouncer_vantage_rtt::vantage.ne("controller"))
            .order((bouncer_vantage_rtt::mirror_id, bouncer_vantage_rtt::vantage))
            .load(&mut *db.conn())
            .unwrap();
        assert_eq!(
            timed,
            [
                (a, "as-1".into(), 1),
                (a, "eu-1".into(), 1),
                (b, "as-1".into(), 1)
            ]
        );
        sentry.run(&Default::default()).await.unwrap();
        let expected: Vec<(i32, i32, i32)> = bouncer_region_rtt::table
            .select((
                bouncer_region_rtt::region_id,
                bouncer_region_rtt::mirror_id,
                bouncer_region_rtt::ttfb_us,
            ))
            .order((bouncer_region_rtt::region_id, bouncer_region_rtt::mirror_id))
            .load(&mut *db.conn())
            .unwrap();
        let places: Vec<(i32, i32)> = expected.iter().map(|(r, m, _)| (*r, *m)).collect();
        let mut want = vec![(europe, a), (asia, a), (asia, b)];
        want.sort();
        assert_eq!(places, want);
        assert!(expected.iter().all(|(_, _, us)| *us > 0), "{expected:?}");
        assert_eq!(
            verdicts(db, b),
            sorted([(0, true), (europe, false), (asia, true)])
        );
        let why: String = bouncer_region_health::table
            .filter(bouncer_region_health::mirror_id.eq(b))
            .filter(bouncer_region_health::region_id.eq(europe))
            .select(bouncer_region_health::reason)
            .first(&mut *db.conn())
            .unwrap();
        assert!(why.starts_with("eu-1: "), "{why}");
        assert!(why.ends_with("1 of 1 vantages down"), "{why}");

        // as-1 loses b.test too: down in both regions, so down globally.
        let asia_lost = agent(db, "as-1", AS_SECRET, &base, refused);
        sentry::Agent::new(&asia_lost)
            .unwrap()
            .round()
            .await
            .unwrap();
        assert_eq!(
            verdicts(db, b),
            sorted([(0, false), (europe, false), (asia, false)])
        );
        let audits: Vec<String> = bouncer_audit_log::table
            .filter(bouncer_audit_log::target.eq("mirror:b"))
            .filter(bouncer_audit_log::action.eq("mirror.vantage_down"))
            .select(bouncer_audit_log::after_json)
            .load::<Option<String>>(&mut *db.conn())
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(audits.len(), 3, "{audits:?}");

        // eu-1 and as-1 go silent past their lease: the next controller run settles b by
        // the controller's own view alone (up), and the regions' verdicts are gone.
        diesel::update(bouncer_vantages::table.filter(bouncer_vantages::name.ne("controller")))
            .set(bouncer_vantages::reported_at.eq(0))
            .execute(&mut *db.conn())
            .unwrap();
        sentry.run(&Default::default()).await.unwrap();
        assert_eq!(verdicts(db, b), [(0, true)]);
        assert_eq!(verdicts(db, a), [(0, true)]);
        let left: i64 = bouncer_region_rtt::table
            .count()
            .get_result(&mut *db.conn())
            .unwrap();
        assert_eq!(left, 0, "the silent agents' timings no longer count");
    });
}

/// The channel: only a configured agent's token is taken; what an agent says of a pair
/// that is not in the map is skipped; a body that is not findings is a 400.
fn the_channel_takes_findings_from_agents_only(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
        region(db, "Europe");
        let fake = FakeMirror::start(83, Behaviour::Healthy).await;
        let m = mirror(db, "m", &fake.base_url(), &[loc]);
        let sentry = sentry::Sentry::new(&controller(db)).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let app = sentry::serve(&sentry, listener, std::future::pending()).unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::new();
        let finding = |mirror_id: i32| {
            serde_json::json!([{ "location_id": loc, "mirror_id": mirror_id, "family": 0, "class": "unhealthy", "reason": "HTTP 503" }])
        };
        let post = |token: Option<&str>, body: serde_json::Value| {
            let mut req = client.post(format!("{base}/vantage/findings")).json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        assert_eq!(post(None, finding(m)).await.unwrap().status(), 401);
        assert_eq!(post(Some("not-a-token-of-anyone"), finding(m)).await.unwrap().status(), 401);
        let scope = client.get(format!("{base}/vantage/scope")).send().await.unwrap();
        assert_eq!(scope.status(), 401);
        assert_eq!(verdicts(db, m), []);

        let skipped = post(Some(EU_SECRET), finding(m + 1000)).await.unwrap();
        assert_eq!(skipped.status(), 200);
        let said: serde_json::Value = skipped.json().await.unwrap();
        assert_eq!((said["skipped"].as_u64(), said["changed"].as_u64()), (Some(1), Some(0)));
        let bad = post(Some(EU_SECRET), serde_json::json!({"findings": 1})).await.unwrap();
        assert_eq!(bad.status(), 400);
        assert!(bad.text().await.unwrap().starts_with("bad request: findings:"));

        let taken = post(Some(EU_SECRET), finding(m)).await.unwrap();
        assert_eq!(taken.status(), 200);
        let europe_down = verdicts(db, m);
        assert!(europe_down.contains(&(0, false)) && europe_down.len() == 2, "{europe_down:?}");
        let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains(r#"sentry_vantage_findings_total{vantage="eu-1"} 2"#), "{metrics}");

        // No agents configured: the channel is not there.
        let mut alone = controller(db);
        alone.sentry.agents.clear();
        let sentry = sentry::Sentry::new(&alone).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let app = sentry::serve(&sentry, listener, std::future::pending()).unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let r = client.get(format!("{base}/vantage/scope")).bearer_auth(EU_SECRET).send().await.unwrap();
        assert_eq!(r.status(), 404);
    });
}

db_tests! {
    vantages_a_mirror_down_for_one_region_only => a_mirror_down_for_one_region_only,
    vantages_the_channel_takes_findings_from_agents_only => the_channel_takes_findings_from_agents_only,
}
