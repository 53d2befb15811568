//! The daemon's endpoints, served by the real server on port 0: heartbeat checks the
//! master, metrics show the checks of a run.

use crate::support::fake::{Behaviour, FakeMirror};
use crate::support::*;
use bouncer_test_support::{db_tests, eventually, TestDb};
use std::time::Duration;

db_tests!(the_daemon_stops_on_its_shutdown_input => daemon_stops);

/// On its shutdown input the daemon lets the run in flight finish (its lease released: the
/// next run is not refused as busy), stops its endpoints, and leaves no task running.
fn daemon_stops(db: &TestDb) {
    rt().block_on(async {
        let loc = product(db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
        let fake = FakeMirror::start(120, Behaviour::NotFound).await;
        let m = mirror(db, "m", &fake.base_url(), &[loc]);
        let mut config = config(db, 300);
        config.sentry.listen = "127.0.0.1:0".parse().unwrap();
        config.sentry.interval_secs = 3600; // one run at start, then none while the test runs
        let alive = || {
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
        };
        let before = alive();
        let (stop, told) = tokio::sync::oneshot::channel::<()>();
        let daemon = {
            let config = config.clone();
            tokio::spawn(async move {
                let told = async {
                    let _ = told.await;
                };
                sentry::daemon(&config, &Default::default(), told).await
            })
        };
        eventually(
            "the first run's checks",
            Duration::from_secs(10),
            || async { (!log_rows(db, m).is_empty()).then_some(()) },
        )
        .await;
        stop.send(()).unwrap();
        let stopped = tokio::time::timeout(Duration::from_secs(30), daemon).await;
        stopped.expect("the daemon stops").unwrap().unwrap();
        eventually(
            "no task of the daemon left",
            Duration::from_secs(5),
            || async { (alive() == before).then_some(()) },
        )
        .await;
        let again = sentry::Sentry::new(&config).unwrap();
        again.run(&Default::default()).await.unwrap();
    });
}

#[actix_web::test]
async fn endpoints_report_database_and_checks() {
    let db = TestDb::sqlite();
    let loc = product(&db, "Firefox", true, true, &["/f/:lang/a.exe"])[0];
    let fake = FakeMirror::start(120, Behaviour::NotFound).await;
    mirror(&db, "m", &fake.base_url(), &[loc]);
    let config = config(&db, 300);
    let sentry = sentry::Sentry::new(&config).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = sentry::serve(&sentry, listener, std::future::pending()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    sentry.run(&Default::default()).await.unwrap();

    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("{base}{path}")).send();
    assert_eq!(get("/__lbheartbeat__").await.unwrap().status(), 200);
    let hb = get("/__heartbeat__").await.unwrap();
    assert_eq!(hb.status(), 200);
    let hb: serde_json::Value = hb.json().await.unwrap();
    assert_eq!(hb["checks"][0]["name"], "database");
    assert_eq!(hb["checks"][0]["state"], "ok");
    let v: serde_json::Value = get("/__version__").await.unwrap().json().await.unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"sentry_checks_total{reason="http_404",result="inactive"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sentry_runs_total{outcome="completed"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sentry_mirrors{state="up"} 1"#),
        "{metrics}"
    );
}

/// `sentry run --mirror X` naming no mirror is the caller's mistake: one plain line, exit
/// code 2, no backtrace (also with `RUST_BACKTRACE=1`), and no ERROR in the log.
#[test]
fn a_mirror_filter_that_names_nothing_is_a_usage_error() {
    let db = TestDb::sqlite();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sentry"))
        .args(["run", "--mirror", "no-such-mirror"])
        .env("BOUNCER_DATABASE__URL", &db.url)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("sentry: no active mirror matches \"no-such-mirror\""),
        "{stderr}"
    );
    assert!(!stderr.contains("backtrace"), "{stderr}");
    let log = String::from_utf8_lossy(&out.stdout); // JSON log lines
    assert!(!log.contains("\"level\":\"ERROR\""), "{log}");
    assert!(log.contains("run refused"), "{log}");
}
