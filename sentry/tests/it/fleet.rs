//! sentry against a fleet of local fake mirrors, on MariaDB and SQLite: the exact map rows,
//! log reasons, health rows and audit rows each kind of mirror produces.

use crate::support::fake::{refused_addr, Behaviour, FakeMirror};
use crate::support::*;
use bouncer_core::db;
use bouncer_test_support::{db_tests, TestDb};

const PATH: &str = "/firefox/1.0/:lang/Setup.exe";

fn ok_reason() -> String {
    "1 checked: 1 healthy, 0 inactive, 0 unhealthy".into()
}

fn inactive(why: &str) -> String {
    format!("1 checked: 0 healthy, 1 inactive, 0 unhealthy; {PATH}: {why}")
}

fn unhealthy(why: &str) -> String {
    format!("1 checked: 0 healthy, 0 inactive, 1 unhealthy; {PATH}: {why}")
}

fn fleet(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &[PATH])[0];
        // Locations of an inactive product are never probed.
        let retired = product(db, "Retired", true, false, &["/retired/:lang/x.exe"])[0];
        use Behaviour::*;
        let cases = [
            ("healthy", Healthy, (true, true), true, ok_reason()),
            (
                "notfound",
                NotFound,
                (false, false),
                true,
                inactive("HTTP 404"),
            ),
            (
                "forbidden",
                Forbidden,
                (false, false),
                true,
                inactive("HTTP 403"),
            ),
            (
                "error500",
                ServerError,
                (true, false),
                false,
                unhealthy("HTTP 500"),
            ),
            (
                "soft404",
                SoftNotFound,
                (true, false),
                false,
                unhealthy("soft 404 (200 text/html)"),
            ),
            ("redirect", Redirect, (true, true), true, ok_reason()),
            (
                "loop",
                RedirectLoop,
                (true, false),
                false,
                unhealthy("redirect loop"),
            ),
            ("slow", Slow, (true, false), false, unhealthy("timeout")),
            (
                "trickle",
                Trickle,
                (true, false),
                false,
                unhealthy("timeout"),
            ),
            (
                "hangafterheaders",
                HangAfterHeaders,
                (true, true),
                true,
                ok_reason(),
            ),
            (
                "hang",
                Hang,
                // A mirror-wide failure is the mirror state's (down below): rows kept.
                (true, true),
                false,
                "base URL: timeout".to_owned(),
            ),
            (
                "down",
                Down,
                // A mirror-wide failure is the mirror state's (down below): rows kept.
                (true, true),
                false,
                "base URL: HTTP 500".to_owned(),
            ),
        ];
        let mut checks = Vec::new();
        for (i, (name, behaviour, row, up, reason)) in cases.into_iter().enumerate() {
            let fake = FakeMirror::start(10 + i as u8, behaviour).await;
            let id = mirror(db, name, &fake.base_url(), &[loc, retired]);
            checks.push((name, id, row, up, reason, Some(fake)));
        }
        let refused = format!("http://{}/", refused_addr(40).await);
        let id = mirror(db, "refused", &refused, &[loc]);
        checks.push((
            "refused",
            id,
            (true, true),
            false,
            "base URL: connection refused".into(),
            None,
        ));
        let id = mirror(db, "nxdomain", "http://mirror.invalid/pub/", &[loc]);
        checks.push((
            "nxdomain",
            id,
            (true, true),
            false,
            "DNS failed: mirror.invalid".into(),
            None,
        ));
        let before = generation(db);

        let config = config(db, 300);
        let started = std::time::Instant::now();
        let summary = sentry::run_once(&config, &Default::default())
            .await
            .unwrap();
        let elapsed = started.elapsed();

        assert_eq!(summary.mirrors, checks.len());
        assert_eq!(
            (summary.healthy, summary.inactive, summary.unhealthy),
            (3, 2, 5)
        );
        assert!(summary.catalogue_changed);
        // Batches commit as mirrors finish; each batch that changed something bumps once.
        assert!(generation(db) > before);
        assert_eq!(summary.generation, Some(generation(db)));
        // Timeouts run in parallel: the whole fleet takes about one timeout.
        assert!(elapsed.as_millis() < 3 * 300 + 600, "run took {elapsed:?}");

        for (name, id, (active, healthy), up, reason, fake) in &checks {
            let rows = map_rows(db, *id);
            let expected_retired: Vec<_> =
                rows.iter().filter(|r| r.0 == retired).copied().collect();
            let probed: Vec<_> = rows.iter().filter(|r| r.0 == loc).copied().collect();
            assert_eq!(probed, vec![(loc, *active, *healthy)], "{name}: map row");
            if fake.is_some() {
                assert_eq!(
                    expected_retired,
                    vec![(retired, true, true)],
                    "{name}: untouched"
                );
            }
            assert_eq!(
                log_rows(db, *id),
                vec![(*up, 100, reason.clone())],
                "{name}: log"
            );
            let (state, weight) = if *up { ("up", 100) } else { ("down", 0) };
            let h = health(db, *id).unwrap();
            assert_eq!((h.0.as_str(), h.1), (state, weight), "{name}: health");
            if let Some(fake) = fake {
                let reqs = fake.requests();
                assert!(
                    reqs.iter().all(|r| r.starts_with("HEAD ")),
                    "{name}: {reqs:?}"
                );
                assert!(
                    !reqs.iter().any(|r| r.contains("retired")),
                    "{name}: {reqs:?}"
                );
            }
        }
        // The probe language replaced `:lang`; the redirect was followed once.
        let redirect = checks.iter().find(|c| c.0 == "redirect").unwrap();
        let reqs = redirect.5.as_ref().unwrap().requests();
        assert_eq!(
            reqs,
            [
                "HEAD /",
                "HEAD /firefox/1.0/en-US/Setup.exe",
                "HEAD /real/firefox/1.0/en-US/Setup.exe"
            ]
        );
        // Every mirror marked down has an audit row with its reason.
        let audits = audit_rows(db);
        let downs: Vec<_> = audits.iter().filter(|a| a.1 == "mirror.down").collect();
        assert_eq!(downs.len(), 9);
        let (actor, _, target, after) = downs.iter().find(|a| a.2 == "mirror:loop").unwrap();
        assert_eq!(actor, "sentry");
        assert_eq!(target, "mirror:loop");
        let after: serde_json::Value = serde_json::from_str(after.as_deref().unwrap()).unwrap();
        assert_eq!(after["state"], "down");
        assert_eq!(after["weight_percent"], 0);
        assert_eq!(after["reason"], unhealthy("redirect loop"));
    });
}

/// `--checknow` probes only products flagged checknow; `--mirror` restricts to one mirror,
/// and a filter that names nothing fails the run.
fn scope(db: &TestDb) {
    rt().block_on(async {
        let new = product(db, "Firefox-Beta", true, true, &["/beta/:lang/a.exe"])[0];
        let old = product(db, "Firefox-Old", false, true, &["/old/:lang/a.exe"])[0];
        let a = FakeMirror::start(50, Behaviour::Healthy).await;
        let b = FakeMirror::start(51, Behaviour::Healthy).await;
        let ida = mirror(db, "alpha.example", &a.base_url(), &[]);
        let idb = mirror(db, "bravo.example", &b.base_url(), &[]);
        let config = config(db, 300);
        let checknow = sentry::RunOptions {
            checknow: true,
            mirror: Some("ALPHA".into()),
            ..Default::default()
        };
        let s = sentry::run_once(&config, &checknow).await.unwrap();
        assert_eq!((s.mirrors, s.pairs), (1, 1));
        assert_eq!(map_rows(db, ida), vec![(new, true, true)]);
        assert!(map_rows(db, idb).is_empty());
        assert!(b.requests().is_empty());

        let all = sentry::RunOptions {
            mirror: Some(idb.to_string()),
            ..Default::default()
        };
        sentry::run_once(&config, &all).await.unwrap();
        assert_eq!(
            map_rows(db, idb),
            vec![(new, true, true), (old, true, true)]
        );

        let none = sentry::RunOptions {
            mirror: Some("charlie".into()),
            ..Default::default()
        };
        let err = sentry::run_once(&config, &none).await.unwrap_err();
        assert_eq!(err.to_string(), "no active mirror matches \"charlie\"");
        let ambiguous = sentry::RunOptions {
            mirror: Some(".example".into()),
            ..Default::default()
        };
        let err = sentry::run_once(&config, &ambiguous).await.unwrap_err();
        assert!(
            err.to_string().contains("alpha.example, bravo.example"),
            "{err}"
        );
    });
}

/// Two runs at once: the second does not start (a clear "busy" error, counted as
/// skipped) instead of deadlocking with the first; once the first ends, runs start again.
fn concurrent_runs(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
        let fake = FakeMirror::start(60, Behaviour::Slow).await;
        mirror(db, "slow", &fake.base_url(), &[loc]);
        let config = config(db, 500);
        let opts = sentry::RunOptions::default();
        let first = sentry::Sentry::new(&config).unwrap();
        let second = sentry::Sentry::new(&config).unwrap();
        let (a, b) = tokio::join!(first.run(&opts), async {
            // The first holds the lease while its slow checks run.
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            second.run(&opts).await
        });
        assert!(a.is_ok(), "{a:?}");
        let busy = b.unwrap_err();
        assert!(matches!(busy, sentry::SentryError::Busy(_)), "{busy:?}");
        assert!(busy
            .to_string()
            .contains("another sentry run is in progress"));
        second.run(&opts).await.expect("the lease was released");
    });
}

db_tests! {
    concurrent_runs_do_not_collide => concurrent_runs,
    fleet_rows_and_reasons => fleet,
    checknow_and_mirror_scope => scope,
    cdn_mode_checks_the_pins => cdn_mode,
    cdn_mode_over_https => cdn_over_https,
    a_gate_flips_when_the_cdn_has_the_release => gate_flips_with_the_cdn,
}

/// Where `firefox-latest` points.
fn latest(db: &TestDb) -> String {
    use bouncer_core::schema::mirror_aliases as a;
    use diesel::prelude::*;
    a::table
        .filter(a::alias.eq("firefox-latest"))
        .select(a::related_product)
        .first(&mut *db.conn())
        .unwrap()
}

/// A release gate end to end in CDN mode, against a fake pinned CDN whose files appear one
/// by one: `firefox-latest` flips to the new release after the run that finds the last
/// file (the https pin is down, so a location's uptake is at most half: the gate asks for
/// 50 %), not before; by a sentry started after the gate was made (nothing lives in a
/// process); exactly once.
fn gate_flips_with_the_cdn(db: &TestDb) {
    use bouncer_core::gates::{self, NewGate};
    use bouncer_core::schema::{bouncer_alias_gates, bouncer_audit_log as audit, mirror_aliases};
    use diesel::prelude::*;
    rt().block_on(async {
        product(
            db,
            "Firefox-1.0",
            false,
            true,
            &["/firefox/1.0/:lang/Setup.exe"],
        );
        let files = ["/2a/:lang/Setup.exe", "/2b/:lang/Firefox.dmg"];
        product(db, "Firefox-2.0", false, true, &files);
        diesel::insert_into(mirror_aliases::table)
            .values((
                mirror_aliases::alias.eq("firefox-latest"),
                mirror_aliases::related_product.eq("Firefox-1.0"),
            ))
            .execute(&mut *db.conn())
            .unwrap();
        let cdn = FakeMirror::start(10, Behaviour::Healthy).await;
        let on_cdn = |f: &str| format!("/pub{}", f.replace(":lang", "en-US"));
        for f in files {
            cdn.file(&on_cdn(f), false);
        }
        let mut config = config(db, 2000);
        config.bounce.pinned_http = Some(format!("{}/pub", cdn.addr));
        config.bounce.pinned_https = Some(refused_addr(11).await.to_string());
        let now = chrono::Utc::now().naive_utc();
        db::write_transaction(&mut db.conn(), |c| {
            gates::replace(
                c,
                &NewGate {
                    alias: "firefox-latest".into(),
                    product: "Firefox-2.0".into(),
                    os: None,
                    uptake_percent: 50,
                    deadline: None,
                    on_deadline: "give_up".into(),
                    created_by: "releng".into(),
                    created_at: now,
                },
            )
        })
        .unwrap();

        let first = sentry::Sentry::new(&config).unwrap();
        let s = first.run(&Default::default()).await.unwrap();
        assert_eq!(
            (s.gates_flipped, latest(db).as_str()),
            (0, "Firefox-1.0"),
            "{s:?}"
        );
        cdn.file(&on_cdn(files[0]), true);
        let s = first.run(&Default::default()).await.unwrap();
        assert_eq!(
            (s.gates_flipped, latest(db).as_str()),
            (0, "Firefox-1.0"),
            "one file of two: {s:?}"
        );

        cdn.file(&on_cdn(files[1]), true);
        let restarted = sentry::Sentry::new(&config).unwrap();
        let before = generation(db);
        let s = restarted.run(&Default::default()).await.unwrap();
        assert_eq!(
            (s.gates_flipped, latest(db).as_str()),
            (1, "Firefox-2.0"),
            "{s:?}"
        );
        assert!(
            generation(db) > before,
            "the flip reaches bounce like any write"
        );
        let count = |c: &mut bouncer_core::db::DbConnection| -> i64 {
            bouncer_alias_gates::table.count().get_result(c).unwrap()
        };
        assert_eq!(count(&mut db.conn()), 0);
        let flips: Vec<(String, String)> = audit::table
            .filter(audit::action.like("alias.gate.%"))
            .select((audit::actor, audit::action))
            .load(&mut *db.conn())
            .unwrap();
        assert_eq!(flips, [("sentry".to_owned(), "alias.gate.flip".to_owned())]);
        let s = restarted.run(&Default::default()).await.unwrap();
        assert_eq!(s.gates_flipped, 0, "once");
    });
}

/// `bouncer_cdn_health` rows: (location, scheme, base URL, active, healthy, reason).
fn cdn_rows(db: &TestDb) -> Vec<(i32, String, String, bool, bool, String)> {
    use bouncer_core::schema::bouncer_cdn_health as cdn;
    use diesel::prelude::*;
    cdn::table
        .select((
            cdn::location_id,
            cdn::scheme,
            cdn::base_url,
            cdn::active,
            cdn::healthy,
            cdn::reason,
        ))
        .order((cdn::location_id, cdn::scheme))
        .load(&mut *db.conn())
        .unwrap()
}

/// CDN mode (pinned base URLs): every location is checked on both pins like a mirror's —
/// same probe, classes and reasons — and stored per (location, scheme) at that pin; a pin
/// that does not answer at all makes every location unhealthy with the reason.
fn cdn_mode(db: &TestDb) {
    rt().block_on(async {
        let locs = product(
            db,
            "Firefox",
            false,
            true,
            &[PATH, "/firefox/1.0/:lang/Firefox.dmg"],
        );
        let cdn = FakeMirror::start(7, Behaviour::NotFound).await;
        let refused = refused_addr(8).await;
        let mut config = config(db, 2000);
        config.bounce.pinned_http = Some(format!("{}/pub", cdn.addr));
        config.bounce.pinned_https = Some(refused.to_string());
        let (http, https) = (
            format!("http://{}/pub", cdn.addr),
            format!("https://{refused}"),
        );
        let sentry = sentry::Sentry::new(&config).unwrap();

        let s = sentry.run(&Default::default()).await.unwrap();
        assert_eq!((s.cdn_pairs, s.cdn_healthy), (4, 0), "{s:?}");
        let rows = cdn_rows(db);
        assert_eq!(rows.len(), 4, "{rows:?}");
        for (i, loc) in locs.iter().enumerate() {
            let (l, scheme, base, active, healthy, reason) = &rows[2 * i];
            assert_eq!(
                (l, scheme.as_str(), base, active, healthy, reason.as_str()),
                (loc, "http", &http, &false, &false, "HTTP 404")
            );
            let (l, scheme, base, active, healthy, reason) = &rows[2 * i + 1];
            assert_eq!(
                (l, scheme.as_str(), base, active, healthy),
                (loc, "https", &https, &true, &false)
            );
            assert!(reason.starts_with("base URL: "), "{reason}");
        }
        assert!(
            cdn.requests()
                .contains(&"HEAD /pub/firefox/1.0/en-US/Setup.exe".to_owned()),
            "{:?}",
            cdn.requests()
        );

        // The files arrive on the CDN: the next run says so.
        cdn.set(Behaviour::Healthy);
        let s = sentry.run(&Default::default()).await.unwrap();
        assert_eq!((s.cdn_pairs, s.cdn_healthy), (4, 2), "{s:?}");
        let healthy: Vec<_> = cdn_rows(db)
            .into_iter()
            .filter(|r| r.4)
            .map(|r| (r.0, r.1))
            .collect();
        assert_eq!(
            healthy,
            locs.iter()
                .map(|l| (*l, "http".to_owned()))
                .collect::<Vec<_>>()
        );

        // A run restricted to one mirror does not check the CDN.
        let m = mirror(
            db,
            "only",
            &FakeMirror::start(9, Behaviour::Healthy).await.base_url(),
            &locs,
        );
        cdn.set(Behaviour::NotFound);
        let opts = sentry::RunOptions {
            mirror: Some(m.to_string()),
            ..Default::default()
        };
        let s = sentry.run(&opts).await.unwrap();
        assert_eq!(s.cdn_pairs, 0);
        assert_eq!(cdn_rows(db).iter().filter(|r| r.4).count(), 2, "unchanged");
    });
}

#[tokio::test]
async fn run_fails_when_database_is_down() {
    let mut config = bouncer_core::config::Config::default();
    config.database.url = "mysql://root@127.0.0.1:1/none".into();
    config.database.connect_timeout_ms = 300;
    let err = sentry::run_once(&config, &Default::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("database unavailable"), "{err}");
}

/// The https pin over real TLS: untrusted (a self-signed certificate, no `ca_file`) every
/// location is unhealthy with the TLS reason; with the certificate in `sentry.ca_file` the
/// same files are healthy over https.
fn cdn_over_https(db: &TestDb) {
    rt().block_on(async {
        let locs = product(db, "Firefox", false, true, &[PATH]);
        let (cdn, pem) = FakeMirror::start_tls(12, Behaviour::Healthy).await;
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, pem).unwrap();
        let mut config = config(db, 2000);
        config.bounce.pinned_http = Some(refused_addr(13).await.to_string());
        config.bounce.pinned_https = Some(format!("{}/pub", cdn.addr));
        let https_row = |db: &TestDb| {
            cdn_rows(db)
                .into_iter()
                .find(|r| r.1 == "https")
                .map(|r| (r.0, r.4, r.5))
                .unwrap()
        };

        let untrusted = sentry::Sentry::new(&config).unwrap();
        untrusted.run(&Default::default()).await.unwrap();
        let (loc, healthy, reason) = https_row(db);
        assert_eq!((loc, healthy), (locs[0], false));
        assert!(reason.starts_with("base URL: "), "{reason}");

        config.sentry.ca_file = Some(ca);
        let trusting = sentry::Sentry::new(&config).unwrap();
        let s = trusting.run(&Default::default()).await.unwrap();
        assert_eq!((s.cdn_pairs, s.cdn_healthy), (2, 1), "{s:?}");
        assert_eq!(https_row(db), (locs[0], true, "ok".to_owned()));
        assert!(cdn
            .requests()
            .contains(&"HEAD /pub/firefox/1.0/en-US/Setup.exe".to_owned()));
    });
}
