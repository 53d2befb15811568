//! Dual-stack and network-aware choice (issue 16) on a real bounce, MariaDB and SQLite:
//! clients reaching bounce over IPv4 or IPv6 (through the trusted proxy's header) only get
//! mirrors healthy over that family, by weight; mirrors that prefer or serve only their
//! networks (AS numbers from a generated GeoLite2-ASN database, CIDRs); continent fallback
//! for a country without a region; country exclusions.

use crate::common::*;
use bouncer_core::db::DbConnection;
use bouncer_core::networks::Family;
use bouncer_core::schema::*;
use bouncer_test_support::health::record_host_families;
use bouncer_test_support::{
    async_db_tests, write_asn_mmdb, write_asn_mmdb_as, write_geo_mmdb, TestDb,
};
use diesel::prelude::*;
use std::collections::HashMap;

async_db_tests! {
    sentry_then_bounce => sentry_then_bounce,
    families_never_cross => families_never_cross,
    networks_prefer_and_only => networks_prefer_and_only,
    continents_and_exclusions => continents_and_exclusions,
    asn_numbers_of_any_width => asn_numbers_of_any_width,
    vantage_verdicts_by_region => vantage_verdicts_by_region,
    proximity_from_measurements => proximity_from_measurements,
}

/// One product on win served by the given mirrors (name, rating); returns the location
/// and the mirror ids by name.
fn seed(c: &mut DbConnection, mirrors: &[(&str, i32)]) -> (i32, HashMap<String, i32>) {
    let win = os(c, "win");
    let p = product(c, "firefox-latest", false, &[]);
    let loc = location(c, p, win, "/pub/:lang/setup.exe");
    let mut ids = HashMap::new();
    for &(name, rating) in mirrors {
        let m = mirror(c, name, &format!("https://{name}.example"), rating, true);
        serve(c, loc, m, true, true);
        ids.insert(name.to_owned(), m);
    }
    (loc, ids)
}

/// A family row as sentry writes it.
fn family(c: &mut DbConnection, loc: i32, mirror: i32, family: i16, healthy: bool, reason: &str) {
    diesel::insert_into(bouncer_family_health::table)
        .values((
            bouncer_family_health::location_id.eq(loc),
            bouncer_family_health::mirror_id.eq(mirror),
            bouncer_family_health::family.eq(family),
            bouncer_family_health::healthy.eq(healthy),
            bouncer_family_health::reason.eq(reason),
        ))
        .execute(c)
        .unwrap();
}

fn networks(c: &mut DbConnection, mirror: i32, mode: &str, nets: &[&str]) {
    diesel::insert_into(bouncer_mirror_settings::table)
        .values((
            bouncer_mirror_settings::mirror_id.eq(mirror),
            bouncer_mirror_settings::reference.eq(false),
            bouncer_mirror_settings::network_mode.eq(mode),
        ))
        .execute(c)
        .unwrap();
    for n in nets {
        diesel::insert_into(bouncer_mirror_networks::table)
            .values((
                bouncer_mirror_networks::mirror_id.eq(mirror),
                bouncer_mirror_networks::network.eq(*n),
            ))
            .execute(c)
            .unwrap();
    }
}

/// Counts of the mirror host chosen for `n` clients, `ip(i)` each, through the proxy.
async fn spread(base: &str, n: usize, ip: impl Fn(usize) -> String) -> HashMap<String, usize> {
    let ips: Vec<String> = (0..n).map(ip).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let (base, ips) = (base.to_owned(), ips.clone());
        tasks.spawn(async move {
            let http = client();
            let mut counts: HashMap<String, usize> = HashMap::new();
            for ip in ips.iter().skip(worker).step_by(8) {
                let r = http
                    .get(format!("{base}/?product=firefox-latest&lang=de"))
                    .header("X-Forwarded-For", ip.as_str())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 302, "{ip}");
                let to = r.headers()["location"].to_str().unwrap();
                let host = to.split('/').nth(2).unwrap().trim_end_matches(".example");
                *counts.entry(host.to_owned()).or_insert(0) += 1;
            }
            counts
        });
    }
    let mut counts = HashMap::new();
    while let Some(part) = tasks.join_next().await {
        for (k, v) in part.unwrap() {
            *counts.entry(k).or_insert(0) += v;
        }
    }
    counts
}

fn only(counts: &HashMap<String, usize>, allowed: &[&str]) {
    let mut seen: Vec<&str> = counts.keys().map(String::as_str).collect();
    seen.sort_unstable();
    let mut want = allowed.to_vec();
    want.sort_unstable();
    assert_eq!(seen, want, "{counts:?}");
}

async fn families_never_cross(db: TestDb) {
    let (loc, id) = seed(
        &mut db.conn(),
        &[
            ("v4only", 300),
            ("v6only", 200),
            ("dual", 100),
            ("legacy", 100),
        ],
    );
    {
        let c = &mut db.conn();
        // A mirror with one family has no family rows (its map rows are that family's
        // health): its host's families say which (what sentry writes).
        record_host_families(c, id["v4only"], &[Family::V4]);
        record_host_families(c, id["v6only"], &[Family::V6]);
        family(c, loc, id["dual"], 4, true, "");
        family(c, loc, id["dual"], 6, true, "");
        // `legacy` has no family rows: what an existing database holds; either family.
    }
    let base = spawn(config(&db));
    let n = 10_000;
    let v4 = spread(&base, n, |i| format!("198.18.{}.{}", i / 250, i % 250 + 1)).await;
    only(&v4, &["v4only", "dual", "legacy"]);
    let v6 = spread(&base, n, |i| format!("2001:db8:{:x}::1", i + 1)).await;
    only(&v6, &["v6only", "dual", "legacy"]);
    // Two degrees of freedom: 27.6 is the p = 1e-6 critical value.
    let s4 = chi_square(
        &v4,
        &[("v4only", 300.0), ("dual", 100.0), ("legacy", 100.0)],
    );
    let s6 = chi_square(
        &v6,
        &[("v6only", 200.0), ("dual", 100.0), ("legacy", 100.0)],
    );
    assert!(
        s4 < 27.6 && s6 < 27.6,
        "chi-square {s4:.1} {s6:.1}: {v4:?} {v6:?}"
    );
    // An IPv4-mapped address is an IPv4 client.
    let mapped = spread(&base, 200, |i| format!("::ffff:198.18.0.{}", i + 1)).await;
    assert!(!mapped.contains_key("v6only"), "{mapped:?}");

    // The mirror list says why, for a v6 client.
    let r = client()
        .get(format!(
            "{base}/?product=firefox-latest&lang=de&format=json"
        ))
        .header("X-Forwarded-For", "2001:db8::7")
        .send()
        .await
        .unwrap();
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(list["client"]["family"], 6);
    let v4only = list["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["url"].as_str().unwrap().contains("v4only"))
        .unwrap();
    assert_eq!(v4only["excluded"], "unhealthy for this file: over IPv6");
}

async fn networks_prefer_and_only(db: TestDb) {
    let (_, id) = seed(
        &mut db.conn(),
        &[("public", 1_000), ("isp", 30), ("campus", 10)],
    );
    {
        let c = &mut db.conn();
        networks(c, id["isp"], "prefer", &["AS64500", "AS64501"]);
        networks(c, id["campus"], "only", &["AS64500", "192.0.2.0/24"]);
    }
    let dir = tempfile::tempdir().unwrap();
    let asn = dir.path().join("asn.mmdb");
    write_asn_mmdb(
        &asn,
        &[("203.0.113.0/24", 64500), ("198.51.100.0/24", 64501)],
    );
    let mut cfg = config(&db);
    cfg.geoip.asn_database = Some(asn);
    let base = spawn(cfg);

    // Outsiders: never the campus mirror; the isp mirror by its weight among everyone.
    let out = spread(&base, 4_000, |i| {
        format!("100.64.{}.{}", i / 250, i % 250 + 1)
    })
    .await;
    only(&out, &["public", "isp"]);
    // AS64500: its networks' mirrors first, weights kept (30 : 10); never the public one.
    let as64500 = spread(&base, 8_000, |i| format!("203.0.113.{}", i % 250 + 1)).await;
    only(&as64500, &["isp", "campus"]);
    let stat = chi_square(&as64500, &[("isp", 30.0), ("campus", 10.0)]);
    assert!(stat < 23.9, "chi-square {stat:.1}: {as64500:?}");
    // AS64501: the isp mirror only prefers it; the campus mirror is not for it.
    only(
        &spread(&base, 500, |i| format!("198.51.100.{}", i % 250 + 1)).await,
        &["isp"],
    );
    // By CIDR, without any AS number.
    only(
        &spread(&base, 500, |i| format!("192.0.2.{}", i % 250 + 1)).await,
        &["campus"],
    );

    let r = client()
        .get(format!(
            "{base}/?product=firefox-latest&lang=de&format=json"
        ))
        .header("X-Forwarded-For", "100.64.0.9")
        .send()
        .await
        .unwrap();
    let list: serde_json::Value = r.json().await.unwrap();
    let campus = list["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["url"].as_str().unwrap().contains("campus"))
        .unwrap();
    // A public document counts the networks; it does not list them (operators see the
    // list in tuxedo).
    assert_eq!(
        campus["excluded"],
        "serves only its networks (1 address block, 1 autonomous system)"
    );
    let r = client()
        .get(format!(
            "{base}/?product=firefox-latest&lang=de&format=json"
        ))
        .header("X-Forwarded-For", "203.0.113.9")
        .send()
        .await
        .unwrap();
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (list["decided_by"].as_str(), list["client"]["asn"].as_u64()),
        (Some("network"), Some(64500))
    );
}

async fn continents_and_exclusions(db: TestDb) {
    let (_, id) = seed(
        &mut db.conn(),
        &[("eu1", 10), ("na1", 10), ("world", 1_000)],
    );
    {
        let c = &mut db.conn();
        let eu = region(c, "Europe", 100, None, false);
        let na = region(c, "North America", 100, None, false);
        for (cc, r, k) in [("DE", eu, "EU"), ("US", na, "NA")] {
            diesel::insert_into(geoip_country_to_region::table)
                .values((
                    geoip_country_to_region::country_code.eq(cc),
                    geoip_country_to_region::region_id.eq(Some(r)),
                    geoip_country_to_region::continent.eq(Some(k)),
                ))
                .execute(c)
                .unwrap();
        }
        member(c, id["eu1"], eu);
        member(c, id["na1"], na);
        diesel::insert_into(bouncer_mirror_exclusions::table)
            .values((
                bouncer_mirror_exclusions::mirror_id.eq(id["world"]),
                bouncer_mirror_exclusions::country_code.eq("CU"),
            ))
            .execute(c)
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("geo.mmdb");
    write_geo_mmdb(
        &geo,
        &[
            ("203.0.113.0/24", "FR", Some("EU")),
            ("198.51.100.0/24", "CU", Some("NA")),
            ("192.0.2.0/24", "AQ", Some("AN")),
        ],
    );
    let mut cfg = config(&db);
    cfg.geoip.database = Some(geo.clone());
    let base = spawn(cfg);
    // France has no region: Europe's mirror, not the heavy global one.
    only(
        &spread(&base, 1_000, |i| format!("203.0.113.{}", i % 250 + 1)).await,
        &["eu1"],
    );
    // Cuba (no region) falls back to North America's mirror; the excluding one never.
    only(
        &spread(&base, 1_000, |i| format!("198.51.100.{}", i % 250 + 1)).await,
        &["na1"],
    );
    // No mirror on that continent: every mirror, by weight.
    let an = spread(&base, 2_000, |i| format!("192.0.2.{}", i % 250 + 1)).await;
    assert!(an["world"] > 1_850, "{an:?}");

    // Continent fallback off: France gets every mirror by weight; Cuba never the
    // mirror that excludes it.
    let mut cfg = config(&db);
    cfg.geoip.database = Some(geo);
    cfg.bounce.continent_fallback = false;
    let off = spawn(cfg);
    let fr = spread(&off, 2_000, |i| format!("203.0.113.{}", i % 250 + 1)).await;
    assert!(fr["world"] > 1_850, "{fr:?}");
    let cu = spread(&off, 2_000, |i| format!("198.51.100.{}", i % 250 + 1)).await;
    only(&cu, &["eu1", "na1"]);
    let r = client()
        .get(format!("{off}/?product=firefox-latest&lang=de&format=json"))
        .header("X-Forwarded-For", "198.51.100.3")
        .send()
        .await
        .unwrap();
    let list: serde_json::Value = r.json().await.unwrap();
    let world = list["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["url"].as_str().unwrap().contains("world"))
        .unwrap();
    assert_eq!(world["excluded"], "excludes clients in CU");
}

/// End to end: sentry probes real local mirrors — one listening on 127.0.0.1 only, one on
/// ::1 only, one on both (a dual-stack name through `sentry.resolve`) — and bounce, reading
/// what sentry wrote, never sends a client to a mirror of the other family.
async fn sentry_then_bounce(db: TestDb) {
    use bouncer_test_support::fake_mirror::{Behaviour, FakeMirror};
    let v4 = FakeMirror::start_on("127.0.0.1".parse().unwrap(), Behaviour::Healthy).await;
    let v6 = FakeMirror::start_on("::1".parse().unwrap(), Behaviour::Healthy).await;
    let dual = FakeMirror::start_dual(Behaviour::Healthy).await;
    {
        let c = &mut db.conn();
        let win = os(c, "win");
        let p = product(c, "firefox-latest", false, &[]);
        let loc = location(c, p, win, "/pub/:lang/setup.exe");
        for (name, base, rating) in [
            ("v4", v4.base_url(), 300),
            ("v6", v6.base_url(), 200),
            ("dual", format!("http://dual.test:{}/", dual.port()), 100),
        ] {
            let m = mirror(c, name, base.trim_end_matches('/'), rating, true);
            serve(c, loc, m, true, true);
        }
    }
    let mut cfg = config(&db);
    cfg.sentry.request_timeout_ms = 2_000;
    cfg.sentry.failures_to_down = 1;
    cfg.sentry.successes_to_up = 1;
    cfg.sentry.resolve.insert(
        "dual.test".into(),
        vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
    );
    sentry::Sentry::new(&cfg)
        .unwrap()
        .run(&Default::default())
        .await
        .unwrap();
    let base = spawn(cfg);
    let host = |h: &str| match h {
        h if h.starts_with("127.0.0.1") => "v4".to_owned(),
        h if h.starts_with("[::1]") => "v6".to_owned(),
        _ => "dual".to_owned(),
    };
    let relabel = |counts: HashMap<String, usize>| {
        let mut out: HashMap<String, usize> = HashMap::new();
        for (k, v) in counts {
            *out.entry(host(&k)).or_insert(0) += v;
        }
        out
    };
    let n = 10_000;
    let a = relabel(spread(&base, n, |i| format!("198.18.{}.{}", i / 250, i % 250 + 1)).await);
    only(&a, &["v4", "dual"]);
    let b = relabel(spread(&base, n, |i| format!("2001:db8:{:x}::1", i + 1)).await);
    only(&b, &["v6", "dual"]);
    // One degree of freedom: 23.9 is the p = 1e-6 critical value.
    let s4 = chi_square(&a, &[("v4", 300.0), ("dual", 100.0)]);
    let s6 = chi_square(&b, &[("v6", 200.0), ("dual", 100.0)]);
    assert!(
        s4 < 23.9 && s6 < 23.9,
        "chi-square {s4:.1} {s6:.1}: {a:?} {b:?}"
    );
}

/// An ASN database that stores AS numbers as uint16, as smaller writers do (issue 29,
/// item 13), gives its clients their network; one whose numbers bounce cannot read gives
/// none, and says so in `bounce_asn_records_without_number_total`.
async fn asn_numbers_of_any_width(db: TestDb) {
    let (_, id) = seed(&mut db.conn(), &[("public", 1_000), ("campus", 10)]);
    networks(&mut db.conn(), id["campus"], "only", &["AS64500"]);
    let dir = tempfile::tempdir().unwrap();
    let client_of = |base: String| async move {
        let list: serde_json::Value = client()
            .get(format!(
                "{base}/?product=firefox-latest&lang=de&format=json"
            ))
            .header("X-Forwarded-For", "203.0.113.9")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            list["client"]["asn"].as_u64(),
            list["decided_by"].as_str().unwrap().to_owned(),
        )
    };
    let narrow = dir.path().join("u16.mmdb");
    write_asn_mmdb_as(&narrow, &[("203.0.113.0/24", 64_500u16)]);
    let mut cfg = config(&db);
    cfg.geoip.asn_database = Some(narrow);
    let base = spawn(cfg);
    assert_eq!(
        client_of(base.clone()).await,
        (Some(64500), "network".into())
    );
    only(
        &spread(&base, 50, |i| format!("203.0.113.{}", i % 250 + 1)).await,
        &["campus"],
    );

    let other = dir.path().join("strings.mmdb");
    write_asn_mmdb_as(&other, &[("203.0.113.0/24", "AS64500")]);
    let mut cfg = config(&db);
    cfg.geoip.asn_database = Some(other);
    let base = spawn(cfg);
    assert_eq!(client_of(base.clone()).await, (None, "global".into()));
    let metrics = text_of(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("\nbounce_asn_records_without_number_total 1\n"),
        "{metrics}"
    );
}

/// A config whose GeoIP database places `nets` (CIDR, country, continent), with `ip=`
/// allowed; the directory holding the database lives as long as the guard returned.
fn geo_config(
    db: &TestDb,
    nets: &[(&str, &str, Option<&str>)],
) -> (bouncer_core::config::Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let geo = dir.path().join("geo.mmdb");
    write_geo_mmdb(&geo, nets);
    let mut cfg = config(db);
    cfg.geoip.database = Some(geo);
    cfg.bounce.allow_ip_override = true;
    (cfg, dir)
}

/// A verdict of several vantages (issue 32) as sentry's controller settles it.
fn verdict(c: &mut DbConnection, loc: i32, mirror: i32, region: i32, healthy: bool) {
    diesel::insert_into(bouncer_region_health::table)
        .values((
            bouncer_region_health::location_id.eq(loc),
            bouncer_region_health::mirror_id.eq(mirror),
            bouncer_region_health::family.eq(0i16),
            bouncer_region_health::region_id.eq(region),
            bouncer_region_health::healthy.eq(healthy),
            bouncer_region_health::reason.eq(if healthy {
                ""
            } else {
                "ams: timeout; 1 of 1 vantages down"
            }),
        ))
        .execute(c)
        .unwrap();
}

/// The vantages' verdicts decide per client region: a mirror down for Europe's vantages
/// is never sent to a client in Europe, still to Asia's and to clients of no region while
/// the global verdict is up; down globally, it is sent to nobody whose region has no
/// verdict of its own — whatever the map's own health says. The mirror list says why.
async fn vantage_verdicts_by_region(db: TestDb) {
    let (loc, id) = seed(&mut db.conn(), &[("a", 100), ("b", 100)]);
    let asia = {
        let c = &mut db.conn();
        let europe = region(c, "Europe", 100, None, false);
        let asia = region(c, "Asia", 100, None, false);
        country(c, "DE", europe);
        country(c, "JP", asia);
        verdict(c, loc, id["b"], 0, true);
        verdict(c, loc, id["b"], europe, false);
        asia
    };
    let (cfg, _geo) = geo_config(
        &db,
        &[
            ("203.0.113.0/24", "DE", Some("EU")),
            ("198.51.100.0/24", "JP", Some("AS")),
            ("192.0.2.0/24", "AQ", Some("AN")),
        ],
    );
    let base = spawn(cfg.clone());
    let germany = |i: usize| format!("203.0.113.{}", i % 250 + 1);
    let japan = |i: usize| format!("198.51.100.{}", i % 250 + 1);
    let nowhere = |i: usize| format!("192.0.2.{}", i % 250 + 1);
    only(&spread(&base, 1_000, germany).await, &["a"]);
    only(&spread(&base, 1_000, japan).await, &["a", "b"]);
    only(&spread(&base, 1_000, nowhere).await, &["a", "b"]);
    let list = json_of(&format!(
        "{base}/?product=firefox-latest&os=win&lang=de&format=json&ip=203.0.113.9"
    ))
    .await;
    let b = list["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["url"].as_str().is_some_and(|u| u.contains("b.example")));
    let said = serde_json::to_string(&b).unwrap();
    if let Err(e) = crate::documents::json_schema().validate(&list) {
        panic!("not the documented schema: {e}\n{list:#}");
    }
    let said_b = &b.unwrap()["vantages"]["verdict"];
    assert_eq!(
        (said_b["of"].as_str(), said_b["healthy"].as_bool()),
        (Some("region"), Some(false)),
        "{list:#}"
    );
    assert!(
        said.contains("unhealthy for this file: down for this region's vantages"),
        "{list:#}"
    );

    // Down globally too (and Asia has no verdict of its own): only `a`, even though the
    // map row of `b` is healthy.
    diesel::update(bouncer_region_health::table.filter(bouncer_region_health::region_id.eq(0)))
        .set(bouncer_region_health::healthy.eq(false))
        .execute(&mut *db.conn())
        .unwrap();
    let base = spawn(cfg.clone());
    only(&spread(&base, 1_000, japan).await, &["a"]);
    only(&spread(&base, 1_000, nowhere).await, &["a"]);
    // Asia's vantages see it up: Asia's clients get it again.
    verdict(&mut db.conn(), loc, id["b"], asia, true);
    let base = spawn(cfg);
    only(&spread(&base, 1_000, japan).await, &["a", "b"]);
    only(&spread(&base, 1_000, germany).await, &["a"]);
}

/// What a region's vantages measured of a mirror, as sentry's controller settles it.
fn measured(c: &mut DbConnection, region: i32, mirror: i32, ttfb_us: i32, samples: i32) {
    diesel::insert_into(bouncer_region_rtt::table)
        .values((
            bouncer_region_rtt::region_id.eq(region),
            bouncer_region_rtt::mirror_id.eq(mirror),
            bouncer_region_rtt::family.eq(0i16),
            bouncer_region_rtt::ttfb_us.eq(ttfb_us),
            bouncer_region_rtt::samples.eq(samples),
        ))
        .execute(c)
        .unwrap();
}

/// `bounce.proximity`: Europe's vantages measured `near` at 10 ms, `far` at 80 ms and
/// `new` at 5 ms but only once. Off: weights as configured (a third each); prefer: the
/// near one and the barely measured one (geography decides it), the far one a hundredth;
/// blend: the far one an eighth of its weight. Clients of another region: as configured.
async fn proximity_from_measurements(db: TestDb) {
    let (_, id) = seed(&mut db.conn(), &[("near", 100), ("far", 100), ("new", 100)]);
    {
        let c = &mut db.conn();
        let europe = region(c, "Europe", 100, None, false);
        let asia = region(c, "Asia", 100, None, false);
        country(c, "DE", europe);
        country(c, "JP", asia);
        measured(c, europe, id["near"], 10_000, 5);
        measured(c, europe, id["far"], 80_000, 5);
        measured(c, europe, id["new"], 5_000, 1);
    }
    let (base_cfg, _geo) = geo_config(
        &db,
        &[
            ("203.0.113.0/24", "DE", Some("EU")),
            ("198.51.100.0/24", "JP", Some("AS")),
        ],
    );
    let germany = |i: usize| format!("203.0.113.{}", i % 250 + 1);
    let japan = |i: usize| format!("198.51.100.{}", i % 250 + 1);
    let n = 6_000;
    let mut shares = HashMap::new();
    for mode in ["off", "prefer", "blend"] {
        let mut cfg = base_cfg.clone();
        cfg.bounce.proximity = serde_json::from_value(serde_json::json!(mode)).unwrap();
        let base = spawn(cfg);
        let eu = spread(&base, n, germany).await;
        let share = |h: &str| eu.get(h).copied().unwrap_or(0) as f64 / n as f64;
        shares.insert(mode, (share("near"), share("far"), share("new")));
        let asia = spread(&base, n, japan).await;
        only(&asia, &["near", "far", "new"]);
        let far = asia["far"] as f64 / n as f64;
        assert!(
            (0.28..0.39).contains(&far),
            "{mode}: Asia is not measured: {asia:?}"
        );
    }
    let (near, far, new) = shares["off"];
    assert!(
        [near, far, new].iter().all(|s| (0.28..0.39).contains(s)),
        "{shares:?}"
    );
    let (near, far, new) = shares["prefer"];
    assert!(
        far < 0.02 && (0.44..0.56).contains(&near) && (0.44..0.56).contains(&new),
        "{shares:?}"
    );
    // blend: weights 100, 13, 100 (of 213).
    // The list says why: each measured mirror's time, the best, its weight.
    let mut cfg = base_cfg;
    cfg.bounce.proximity = bouncer_core::selection::Proximity::Blend;
    let base = spawn(cfg);
    let list = json_of(&format!(
        "{base}/?product=firefox-latest&os=win&lang=de&format=json&ip=203.0.113.9"
    ))
    .await;
    if let Err(e) = crate::documents::json_schema().validate(&list) {
        panic!("not the documented schema: {e}\n{list:#}");
    }
    let far_row = list["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["url"].as_str().is_some_and(|u| u.contains("far.example")))
        .unwrap();
    assert_eq!(far_row["weight"], 13, "{list:#}");
    assert_eq!(
        far_row["vantages"],
        serde_json::json!({"ttfb_ms": 80.0, "samples": 5, "best_ms": 10.0}),
        "{list:#}"
    );
    let (near, far, new) = shares["blend"];
    assert!(
        (0.03..0.09).contains(&far) && (0.42..0.52).contains(&near) && (0.42..0.52).contains(&new),
        "{shares:?}"
    );
}
