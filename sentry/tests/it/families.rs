//! Per address family (issue 16): real local mirrors on 127.0.0.1 only, on ::1 only, on
//! both (a name pinned by `sentry.resolve` to both addresses), and on a name whose IPv6
//! side refuses connections; health per (location, mirror, family), its hysteresis, the
//! audit, and `sentry.families = []` (today's behaviour, no family rows). MariaDB and SQLite.

use crate::support::fake::{Behaviour, FakeMirror};
use crate::support::*;
use bouncer_core::config::Config;
use bouncer_core::networks::{Families, Family};
use bouncer_core::schema::{bouncer_changes, bouncer_family_health};
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;
use std::net::IpAddr;

const V4: i16 = 4;
const V6: i16 = 6;

/// `(location, family, healthy, reason)` of a mirror's family rows.
fn family_rows(db: &TestDb, mirror_id: i32) -> Vec<(i32, i16, bool, String)> {
    bouncer_family_health::table
        .filter(bouncer_family_health::mirror_id.eq(mirror_id))
        .select((
            bouncer_family_health::location_id,
            bouncer_family_health::family,
            bouncer_family_health::healthy,
            bouncer_family_health::reason,
        ))
        .order((
            bouncer_family_health::location_id,
            bouncer_family_health::family,
        ))
        .load(&mut *db.conn())
        .unwrap()
}

fn all_family_rows(db: &TestDb) -> i64 {
    bouncer_family_health::table
        .count()
        .get_result(&mut *db.conn())
        .unwrap()
}

/// What the family rows of `mirror` say at every location: `(family, healthy, reason)`,
/// the same for each location in `locs`.
/// The address families sentry stored for the mirror's host.
fn host_families(db: &TestDb, mirror_id: i32) -> Option<Families> {
    bouncer_core::schema::bouncer_mirror_health::table
        .find(mirror_id)
        .select(bouncer_core::schema::bouncer_mirror_health::families)
        .first::<Option<i16>>(&mut *db.conn())
        .unwrap()
        .map(Families::from_stored)
}

fn expect(locs: &[i32], rows: &[(i16, bool, &str)]) -> Vec<(i32, i16, bool, String)> {
    locs.iter()
        .flat_map(|l| rows.iter().map(|(f, h, r)| (*l, *f, *h, r.to_string())))
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Pins `host` to 127.0.0.1 and ::1 (it is in no DNS: /etc/hosts knows only localhost).
fn dual_name(config: &mut Config, host: &str) {
    config
        .sentry
        .resolve
        .insert(host.into(), vec![ip("127.0.0.1"), ip("::1")]);
}

/// `(action, target, family)` of the family audit rows.
fn family_audits(db: &TestDb) -> Vec<(String, String, i64, String)> {
    audit_rows(db)
        .into_iter()
        .filter(|a| a.1.starts_with("mirror.family_"))
        .map(|(_, action, target, after)| {
            let after: serde_json::Value = serde_json::from_str(&after.unwrap()).unwrap();
            let family = after["family"].as_i64().unwrap();
            let reason = after["reason"].as_str().unwrap_or_default().to_owned();
            (action, target, family, reason)
        })
        .collect()
}

/// The four kinds of mirror, one run: each family is healthy exactly where the mirror
/// listens, a family the mirror lacks is unhealthy without a probe, and every map row
/// stays healthy (healthy over some family).
fn each_family_where_the_mirror_listens(db: &TestDb) {
    rt().block_on(async {
        let locs = product(
            db,
            "Firefox",
            true,
            true,
            &["/f/:lang/a.exe", "/f/:lang/b.exe"],
        );
        let v4 = FakeMirror::start(70, Behaviour::Healthy).await;
        let v6 = FakeMirror::start_on(ip("::1"), Behaviour::Healthy).await;
        let dual = FakeMirror::start_dual(Behaviour::Healthy).await;
        let (half, _refusing) = FakeMirror::start_v4_refusing_v6(Behaviour::Healthy).await;
        assert!(
            v6.base_url().starts_with("http://[::1]:"),
            "{}",
            v6.base_url()
        );
        let id4 = mirror(db, "v4-only", &v4.base_url(), &locs);
        let id6 = mirror(db, "v6-only", &v6.base_url(), &locs);
        let dual_url = format!("http://dual.test:{}/", dual.port());
        let id_dual = mirror(db, "dual", &dual_url, &locs);
        let half_url = format!("http://half.test:{}/", half.port());
        let id_half = mirror(db, "half", &half_url, &locs);
        let mut config = config(db, 2_000);
        dual_name(&mut config, "dual.test");
        dual_name(&mut config, "half.test");

        let s = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert_eq!((s.mirrors, s.pairs, s.healthy), (4, 8, 8));
        // A dual-stack mirror is probed over both families; half.test only over IPv4 (its
        // IPv6 base URL is refused).
        assert_eq!(s.probes, 2 + 2 + 4 + 2);
        assert_eq!(s.no_verdict, 0);

        // A mirror with one family keeps no family rows: its map rows are that family's
        // health, and its host's families say it has no other.
        assert_eq!(family_rows(db, id4), []);
        assert_eq!(host_families(db, id4), Some(Families::of([Family::V4])));
        assert_eq!(family_rows(db, id6), []);
        assert_eq!(host_families(db, id6), Some(Families::of([Family::V6])));
        assert_eq!(host_families(db, id_dual), Some(Families::of(Family::ALL)));
        assert_eq!(host_families(db, id_half), Some(Families::of(Family::ALL)));
        assert_eq!(
            family_rows(db, id_dual),
            expect(&locs, &[(V4, true, ""), (V6, true, "")])
        );
        assert_eq!(
            family_rows(db, id_half),
            expect(&locs, &[(V4, true, ""), (V6, false, "connection refused")])
        );
        for id in [id4, id6, id_dual, id_half] {
            let map: Vec<_> = locs.iter().map(|l| (*l, true, true)).collect();
            assert_eq!(
                map_rows(db, id),
                map,
                "mirror {id}: served over some family"
            );
        }
        // Each mirror was reached over its own families only.
        let served = dual.count.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(served, 6, "base URL + 2 files, over each family");
        assert_eq!(v6.requests().len(), 3, "base URL + 2 files, over IPv6");
        assert_eq!(half.requests().len(), 3, "IPv4 only: IPv6 was refused");
        let log = log_rows(db, id_half).pop().unwrap();
        assert!(log.0, "the mirror's run is good: IPv4 serves");
        assert!(
            log.2.ends_with("; IPv6: base URL: connection refused"),
            "{}",
            log.2
        );
        assert_eq!(health(db, id_half).unwrap().0, "up");

        // A family that stopped serving (from "either family" before any family row) is
        // audited; the dual-stack mirror has nothing to audit.
        let mut audits = family_audits(db);
        audits.sort();
        assert_eq!(
            audits,
            [
                (
                    "mirror.family_down".into(),
                    "mirror:half".into(),
                    6,
                    "base URL: connection refused".into()
                ),
                (
                    "mirror.family_down".into(),
                    "mirror:v4-only".into(),
                    6,
                    "no IPv6 address (AAAA)".into()
                ),
                (
                    "mirror.family_down".into(),
                    "mirror:v6-only".into(),
                    4,
                    "no IPv4 address (A)".into()
                ),
            ]
        );

        // A second run changes nothing: no write bounce would read again, no audit.
        let g = generation(db);
        let s = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert!(!s.catalogue_changed);
        assert_eq!(generation(db), g);
        assert_eq!(family_audits(db).len(), 3);
        assert_eq!(
            family_rows(db, id_half),
            expect(&locs, &[(V4, true, ""), (V6, false, "connection refused")])
        );
    });
}

/// failures_to_down = successes_to_up = 2, per family: one bad run over IPv6 keeps IPv6
/// served; the second takes IPv6 out (audited, recorded for bounce) while IPv4 serves;
/// the map goes down only when no family serves; IPv6 comes back after two good runs.
fn hysteresis_per_family(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
        let (fake4, fake6) = FakeMirror::start_pair(Behaviour::Healthy, Behaviour::Healthy).await;
        let url = format!("http://pair.test:{}/", fake4.port());
        let id = mirror(db, "pair", &url, &[loc]);
        let mut config = config(db, 2_000);
        config.sentry.failures_to_down = 2;
        config.sentry.successes_to_up = 2;
        dual_name(&mut config, "pair.test");
        let opts = sentry::RunOptions::default();
        let run = || sentry::run_once(&config, &opts);
        let changes_for = |g: i64| -> Vec<(String, i64)> {
            bouncer_changes::table
                .filter(bouncer_changes::generation.gt(g))
                .select((bouncer_changes::kind, bouncer_changes::entity))
                .load(&mut *db.conn())
                .unwrap()
        };

        run().await.unwrap();
        assert_eq!(
            family_rows(db, id),
            [(loc, V4, true, "".into()), (loc, V6, true, "".into())]
        );

        fake6.set(Behaviour::ServerError);
        let g = generation(db);
        let s = run().await.unwrap();
        assert!(!s.catalogue_changed, "one bad IPv6 run moves nothing");
        assert_eq!(generation(db), g);
        assert_eq!(
            family_rows(db, id),
            [(loc, V4, true, "".into()), (loc, V6, true, "".into())]
        );

        let s = run().await.unwrap();
        assert!(s.catalogue_changed);
        assert_eq!(changes_for(g), [("location".to_string(), i64::from(loc))]);
        assert_eq!(
            family_rows(db, id),
            [
                (loc, V4, true, "".into()),
                (loc, V6, false, "HTTP 500".into())
            ]
        );
        assert_eq!(map_rows(db, id), [(loc, true, true)], "IPv4 still serves");
        assert_eq!(
            health(db, id).unwrap().0,
            "up",
            "the mirror is fine over IPv4"
        );
        let audits = family_audits(db);
        assert_eq!(audits.len(), 1);
        assert_eq!(
            (audits[0].0.as_str(), audits[0].1.as_str(), audits[0].2),
            ("mirror.family_down", "mirror:pair", 6)
        );
        assert!(audits[0].3.contains("HTTP 500"), "{}", audits[0].3);

        // IPv4 fails too: its first failure keeps it (and the map) served, the second
        // takes the pair out of the map as well.
        fake4.set(Behaviour::ServerError);
        run().await.unwrap();
        assert_eq!(map_rows(db, id), [(loc, true, true)]);
        assert_eq!(family_rows(db, id)[0], (loc, V4, true, "".into()));
        run().await.unwrap();
        assert_eq!(map_rows(db, id), [(loc, true, false)]);
        assert_eq!(
            family_rows(db, id),
            [
                (loc, V4, false, "HTTP 500".into()),
                (loc, V6, false, "HTTP 500".into())
            ]
        );

        // IPv6 recovers: one good run is not enough, two are; the map serves again.
        fake6.set(Behaviour::Healthy);
        run().await.unwrap();
        assert_eq!(family_rows(db, id)[1], (loc, V6, false, "HTTP 500".into()));
        assert_eq!(map_rows(db, id), [(loc, true, false)]);
        run().await.unwrap();
        assert_eq!(
            family_rows(db, id),
            [
                (loc, V4, false, "HTTP 500".into()),
                (loc, V6, true, "".into())
            ]
        );
        assert_eq!(map_rows(db, id), [(loc, true, true)]);
        let actions: Vec<(String, i64)> =
            family_audits(db).into_iter().map(|a| (a.0, a.2)).collect();
        assert_eq!(
            actions,
            [
                ("mirror.family_down".to_string(), 6),
                ("mirror.family_down".to_string(), 4),
                ("mirror.family_up".to_string(), 6),
            ]
        );
    });
}

/// `sentry.families = []`: today's behaviour, one probe per pair and no family rows; rows
/// of an earlier per-family run are removed (the pairs are "either family" again).
fn no_families_no_family_rows(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
        let v6 = FakeMirror::start_on(ip("::1"), Behaviour::Healthy).await;
        let dual = FakeMirror::start_dual(Behaviour::Healthy).await;
        let id6 = mirror(db, "v6-only", &v6.base_url(), &[loc]);
        let dual_url = format!("http://dual.test:{}/", dual.port());
        let id_dual = mirror(db, "dual", &dual_url, &[loc]);
        let mut config = config(db, 2_000);
        dual_name(&mut config, "dual.test");
        config.sentry.families = vec![];

        let s = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert_eq!((s.pairs, s.probes, s.healthy), (2, 2, 2));
        assert_eq!(all_family_rows(db), 0);
        assert_eq!(map_rows(db, id6), [(loc, true, true)]);
        assert_eq!(map_rows(db, id_dual), [(loc, true, true)]);

        config.sentry.families = vec![4, 6];
        sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert_eq!(
            family_rows(db, id6).len(),
            0,
            "one family: the map holds it"
        );
        assert_eq!(host_families(db, id6), Some(Families::of([Family::V6])));
        assert_eq!(family_rows(db, id_dual).len(), 2);

        config.sentry.families = vec![];
        let g = generation(db);
        let s = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert_eq!(all_family_rows(db), 0);
        assert_eq!(host_families(db, id6), None, "not known: either family");
        assert!(s.catalogue_changed, "bounce reads the pairs again");
        assert!(generation(db) > g);
        assert_eq!(map_rows(db, id6), [(loc, true, true)]);
    });
}

/// An existing database (map rows, no family rows): the map's flags are where each
/// family's hysteresis starts. With failures_to_down = 2, a first per-family run in which
/// IPv6 fails keeps IPv6 served; a family the mirror lacks is out at once (that is a
/// change for bounce, recorded).
fn existing_database_keeps_working(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
        let (fake4, fake6) =
            FakeMirror::start_pair(Behaviour::Healthy, Behaviour::ServerError).await;
        let url = format!("http://pair.test:{}/", fake4.port());
        let id_pair = mirror(db, "pair", &url, &[loc]);
        let v4 = FakeMirror::start(71, Behaviour::Healthy).await;
        let id4 = mirror(db, "v4-only", &v4.base_url(), &[loc]);
        let mut config = config(db, 2_000);
        config.sentry.failures_to_down = 2;
        dual_name(&mut config, "pair.test");

        let s = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert_eq!(
            family_rows(db, id_pair),
            [(loc, V4, true, "".into()), (loc, V6, true, "".into())],
            "one IPv6 failure after the map's healthy is a blip"
        );
        assert_eq!(family_rows(db, id4), [], "one family: the map rows hold it");
        assert_eq!(host_families(db, id4), Some(Families::of([Family::V4])));
        assert!(
            s.catalogue_changed,
            "IPv6 clients lose the IPv4-only mirror"
        );
        assert_eq!(map_rows(db, id_pair), [(loc, true, true)]);
        assert_eq!(map_rows(db, id4), [(loc, true, true)]);
        let audits = family_audits(db);
        assert_eq!(audits.len(), 1, "{audits:?}");
        assert_eq!(audits[0].1, "mirror:v4-only");

        sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert_eq!(
            family_rows(db, id_pair)[1],
            (loc, V6, false, "HTTP 500".into())
        );
        assert_eq!(fake6.requests().len(), 4, "base URL and file, twice");
    });
}

/// A mirror with more locations than one multi-row insert holds (128 rows): every map and
/// family row is written, in full chunks and a last short one.
fn many_locations_in_chunks(db: &TestDb) {
    rt().block_on(async {
        let paths: Vec<String> = (0..300).map(|i| format!("/f/{i}/:lang/a.exe")).collect();
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        let locs = product(db, "Firefox", true, true, &paths);
        let dual = FakeMirror::start_dual(Behaviour::Healthy).await;
        let url = format!("http://dual.test:{}/", dual.port());
        let id = mirror(db, "dual", &url, &[]);
        let mut config = config(db, 2_000);
        dual_name(&mut config, "dual.test");
        let s = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert_eq!((s.pairs, s.healthy, s.probes), (300, 300, 600));
        let map: Vec<_> = locs.iter().map(|l| (*l, true, true)).collect();
        assert_eq!(map_rows(db, id), map);
        assert_eq!(
            family_rows(db, id),
            expect(&locs, &[(V4, true, ""), (V6, true, "")])
        );
    });
}

/// A dual-stack mirror whose name loses its IPv6 address: its family rows go (its map rows
/// hold its IPv4 health from then on), its host's families say IPv4 only, which is a
/// change for bounce and an audited `mirror.family_down` for family 6; when the address
/// comes back, rows return and the family is audited up.
fn losing_a_family_drops_the_rows(db: &TestDb) {
    rt().block_on(async {
        let locs = product(
            db,
            "Firefox",
            true,
            true,
            &["/f/:lang/a.exe", "/f/:lang/b.exe"],
        );
        let dual = FakeMirror::start_dual(Behaviour::Healthy).await;
        let url = format!("http://shrinking.test:{}/", dual.port());
        let id = mirror(db, "shrinking", &url, &locs);
        let mut config = config(db, 2_000);
        dual_name(&mut config, "shrinking.test");
        sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert_eq!(family_rows(db, id).len(), 4);
        assert_eq!(host_families(db, id), Some(Families::of(Family::ALL)));

        config
            .sentry
            .resolve
            .insert("shrinking.test".into(), vec![ip("127.0.0.1")]);
        let g = generation(db);
        let s = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert!(s.catalogue_changed, "IPv6 clients lose the mirror");
        assert!(generation(db) > g);
        assert_eq!(family_rows(db, id), []);
        assert_eq!(host_families(db, id), Some(Families::of([Family::V4])));
        let map: Vec<_> = locs.iter().map(|l| (*l, true, true)).collect();
        assert_eq!(map_rows(db, id), map);
        assert_eq!(
            family_audits(db),
            [(
                "mirror.family_down".into(),
                "mirror:shrinking".into(),
                6,
                "no IPv6 address (AAAA)".into()
            )]
        );
        // Steady: nothing changes, nothing is audited again.
        let g = generation(db);
        let s = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert!(!s.catalogue_changed);
        assert_eq!(generation(db), g);
        assert_eq!(family_audits(db).len(), 1);

        dual_name(&mut config, "shrinking.test");
        let s = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        assert!(s.catalogue_changed, "IPv6 clients get the mirror back");
        assert_eq!(family_rows(db, id).len(), 4);
        assert_eq!(host_families(db, id), Some(Families::of(Family::ALL)));
        let audits = family_audits(db);
        assert_eq!(audits.len(), 2, "{audits:?}");
        assert_eq!((&*audits[1].0, audits[1].2), ("mirror.family_up", 6));
    });
}

db_tests! {
    families_losing_a_family_drops_the_rows => losing_a_family_drops_the_rows,
    families_many_locations_in_chunks => many_locations_in_chunks,
    families_existing_database_keeps_working => existing_database_keeps_working,
    families_each_where_the_mirror_listens => each_family_where_the_mirror_listens,
    families_hysteresis_per_family => hysteresis_per_family,
    families_empty_writes_no_family_rows => no_families_no_family_rows,
}

/// The keys parse from TOML and are validated, naming the key.
#[test]
fn families_and_resolve_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bouncer.toml");
    std::fs::write(
        &file,
        "[sentry]\nfamilies = [6]\n[sentry.resolve]\n\"mirror.example\" = [\"192.0.2.1\", \"2001:db8::1\"]\n",
    )
    .unwrap();
    let c = Config::load(Some(&file)).unwrap();
    assert_eq!(c.sentry.families, [6]);
    assert_eq!(
        c.sentry.resolve["mirror.example"],
        [ip("192.0.2.1"), ip("2001:db8::1")]
    );
    assert_eq!(Config::default().sentry.families, [4, 6]);
    assert!(Config::default().sentry.resolve.is_empty());

    let refused = |edit: &dyn Fn(&mut Config)| {
        let mut c = Config::default();
        edit(&mut c);
        c.validate().unwrap_err().to_string()
    };
    assert!(refused(&|c| c.sentry.families = vec![4, 5]).contains("sentry.families"));
    assert!(refused(&|c| c.sentry.families = vec![4, 4]).contains("sentry.families"));
    let e = refused(&|c| {
        c.sentry
            .resolve
            .insert("http://m.example".into(), vec![ip("::1")]);
    });
    assert!(e.contains("sentry.resolve.http://m.example"), "{e}");
    let e = refused(&|c| {
        c.sentry.resolve.insert("m.example".into(), vec![]);
    });
    assert!(e.contains("at least one address"), "{e}");
}
