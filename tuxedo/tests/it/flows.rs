//! The release client's three flows end to end, twice (idempotency), plus what every write
//! leaves behind: an audit row and a generation bump, or nothing at all when it fails.

use crate::common::*;
use bouncer_core::generation;
use bouncer_core::schema::bouncer_audit_log as audit;
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;
use std::collections::BTreeSet;

db_tests! {
    release_client_replay_is_idempotent => release_client_replay_is_idempotent,
    writes_are_audited_and_all_or_nothing => writes_are_audited_and_all_or_nothing,
}

const PRODUCT: &str = "Firefox-130.0-SSL";
const NIGHTLY: &str = "Firefox-nightly-latest-SSL";
const PLATFORMS: [(&str, &str); 3] = [
    (
        "win64",
        "/firefox/releases/130.0/win64/:lang/Firefox Setup 130.0.exe",
    ),
    ("osx", "/firefox/releases/130.0/mac/:lang/Firefox 130.0.dmg"),
    (
        "linux64",
        "/firefox/releases/130.0/linux-x86_64/:lang/firefox-130.0.tar.bz2",
    ),
];

/// bouncerscript's submission: show, add if missing, add the missing locations, and
/// check the paths read back equal what was submitted.
async fn submission(t: &Tux, product: &str) {
    let q = [("product", product)];
    let (_, body) = t.get("product_show", &q).await;
    if !body.contains(&format!("name=\"{product}\"")) {
        let form = [
            ("product", product),
            ("languages", "en-US"),
            ("languages", "de"),
            ("ssl_only", "true"),
        ];
        assert_eq!(t.post("product_add", &form).await.0, 200);
    }
    let (_, body) = t.get("product_show", &q).await;
    assert!(body.contains(&format!("name=\"{product}\"")), "{body}");
    let (_, existing) = t.get("location_show", &q).await;
    for (os, path) in PLATFORMS {
        if !existing.contains(&format!("os=\"{os}\"")) {
            let (status, body) = t
                .post(
                    "location_add",
                    &[("product", product), ("os", os), ("path", path)],
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    }
    let (_, body) = t.get("location_show", &q).await;
    assert_eq!(
        paths(&body),
        PLATFORMS.iter().map(|(_, p)| p.to_string()).collect()
    );
}

/// The alias step. The `print=yes` byte-identity check against real bounce instances is
/// in `read_your_writes.rs`.
async fn aliases(t: &Tux) {
    for alias in ["firefox-latest-ssl", "firefox-beta-latest-ssl"] {
        let (status, body) = t
            .post(
                "create_update_alias",
                &[("alias", alias), ("related_product", PRODUCT)],
            )
            .await;
        assert_eq!(
            (status, body),
            (200, xml_success(&format!("Created/updated alias {alias}")))
        );
    }
}

/// The nightly bump: read, then point every location of the nightly product at `dir`.
async fn nightly(t: &Tux, dir: &str) {
    let q = [("product", NIGHTLY)];
    assert_eq!(t.get("product_show", &q).await.0, 200);
    let (_, body) = t.get("location_show", &q).await;
    assert_eq!(paths(&body).len(), PLATFORMS.len());
    for (os, _) in PLATFORMS {
        let path = format!("/firefox/nightly/{dir}/{os}/:lang/f");
        let (status, body) = t
            .post(
                "location_modify",
                &[("product", NIGHTLY), ("os", os), ("path", &path)],
            )
            .await;
        assert_eq!(status, 200);
        assert!(
            body.contains(&format!("os=\"{os}\">{path}</location>")),
            "{body}"
        );
    }
}

fn paths(body: &str) -> BTreeSet<String> {
    body.split("</location>")
        .filter_map(|s| s.rsplit_once('>').map(|(_, p)| p.replace("&amp;", "&")))
        .filter(|p| p.starts_with('/'))
        .collect()
}

fn audit_count(db: &TestDb) -> i64 {
    audit::table.count().get_result(&mut *db.conn()).unwrap()
}

fn generation_now(db: &TestDb) -> i64 {
    generation::current(&mut db.conn()).unwrap()
}

fn release_client_replay_is_idempotent(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        submission(&t, NIGHTLY).await;
        let (audits0, gen0) = (audit_count(db), generation_now(db));
        submission(&t, PRODUCT).await;
        aliases(&t).await;
        nightly(&t, "2026-11-23").await;
        let (audits1, gen1) = (audit_count(db), generation_now(db));
        // product + 3 locations + 2 aliases + 3 path changes.
        assert_eq!(audits1 - audits0, 9);
        assert_eq!(gen1 - gen0, 9);
        // Second run: every step succeeds and changes nothing.
        submission(&t, PRODUCT).await;
        aliases(&t).await;
        nightly(&t, "2026-11-23").await;
        assert_eq!((audit_count(db), generation_now(db)), (audits1, gen1));
        // The next night moves every path and the generation with it.
        nightly(&t, "2026-11-24").await;
        assert_eq!(generation_now(db), gen1 + 3);
        let (_, body) = t.get("location_show", &[("product", NIGHTLY)]).await;
        assert!(
            paths(&body).iter().all(|p| p.contains("2026-11-24")),
            "{body}"
        );
    });
}

fn writes_are_audited_and_all_or_nothing(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let gen0 = generation_now(db);
        t.post(
            "product_add",
            &[("product", "Audited"), ("languages", "fr")],
        )
        .await;
        let row: bouncer_core::models::AuditEntry = audit::table
            .order(audit::id.desc())
            .first(&mut *db.conn())
            .unwrap();
        assert_eq!(
            (row.actor.as_str(), row.action.as_str(), row.target.as_str()),
            ("releng", "product.add", "product:Audited")
        );
        let after: serde_json::Value =
            serde_json::from_str(row.after_json.as_deref().unwrap()).unwrap();
        assert_eq!(after["languages"], serde_json::json!(["fr"]));
        assert_eq!(row.before_json, None);
        assert_eq!(generation_now(db), gen0 + 1);
        // A write failing half-way ("de" inserted, then "FR" clashes) leaves nothing.
        let (audits, gen) = (audit_count(db), generation_now(db));
        let mut conn = db.conn();
        let langs = vec!["de".to_owned(), "FR".to_owned()];
        let err = tuxedo::catalogue::products::add_languages(&mut conn, "t", "Audited", &langs)
            .unwrap_err();
        assert!(
            matches!(err, tuxedo::TuxedoError::LanguagesExist(_)),
            "{err}"
        );
        let now = tuxedo::catalogue::products::find(
            &mut conn,
            tuxedo::catalogue::Match::Exact("audited"),
        )
        .unwrap();
        assert_eq!(now[0].languages, vec!["fr"]);
        drop(conn);
        assert_eq!((audit_count(db), generation_now(db)), (audits, gen));
        // Refused calls write nothing either.
        assert_eq!(
            t.post(
                "location_add",
                &[("product", "Audited"), ("os", "beos"), ("path", "/x")]
            )
            .await
            .0,
            400
        );
        assert_eq!(
            t.post_as("product_delete", &[("product", "Audited")], None)
                .await
                .0,
            401
        );
        assert_eq!((audit_count(db), generation_now(db)), (audits, gen));
        // A delete records what was there.
        t.post("product_delete", &[("product", "audited")]).await;
        let row: bouncer_core::models::AuditEntry = audit::table
            .order(audit::id.desc())
            .first(&mut *db.conn())
            .unwrap();
        assert_eq!(row.action, "product.delete");
        assert!(row.before_json.unwrap().contains("\"Audited\""));
        assert_eq!(row.after_json, None);
        assert_eq!(generation_now(db), gen + 1);
    });
}

/// Counter `name` (with its labels, as the exposition writes them) on `/metrics`.
async fn counter(t: &Tux, name: &str) -> f64 {
    let text = t.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A stalled master (connections stay open, nothing comes back; an established connection
/// has no read timeout): a write answers 503 within `database.query_timeout_ms` instead of
/// as long as the stall lasts, and when the master answers again that write is rolled
/// back — the caller was told it failed, so it must not be applied behind its back.
#[test]
fn a_stalled_master_costs_the_deadline_and_applies_nothing() {
    use bouncer_core::schema::mirror_products as products;
    use bouncer_test_support::proxy::Proxy;
    use std::time::{Duration, Instant};
    let db = TestDb::mysql();
    block_on(async {
        let proxy = Proxy::start(0).await;
        let url = db.url.replace(
            &bouncer_test_support::proxy::mysql_server_addr(),
            &format!("127.0.0.1:{}", proxy.port),
        );
        assert_ne!(url, db.url);
        const TIMEOUT: Duration = Duration::from_millis(1000);
        let t = start(&db, |c| {
            c.database.url = url;
            c.database.query_timeout_ms = TIMEOUT.as_millis() as u64;
            // Only the write talks to the master during the stall: a background check
            // (history every second, gates, pruning) stalled too would be a second
            // deadline exceeded (it was, once, under CI's load).
            c.tuxedo.history_check_ms = 0;
            c.tuxedo.gate_check_secs = 0;
            c.stats.prune_every_secs = 0;
        });
        let (s, _) = t
            .admin(
                "POST",
                "/products",
                Some(serde_json::json!({"name": "before"})),
            )
            .await;
        assert_eq!(s, 201);

        // Stall the master right as the write sends its INSERT, inside its transaction.
        proxy.freeze_on(b"INSERT INTO `mirror_products`");
        let started = Instant::now();
        let write = t.admin(
            "POST",
            "/products",
            Some(serde_json::json!({"name": "stalled"})),
        );
        let (s, body) = tokio::time::timeout(TIMEOUT * 10, write)
            .await
            .expect("no answer while the master stalls");
        let took = started.elapsed();
        assert_eq!((s, code(&body)), (503, "unavailable"), "{body}");
        assert!(took < TIMEOUT * 3, "answered after {took:?}");
        assert_eq!(counter(&t, "tuxedo_db_deadline_exceeded_total").await, 1.0);

        proxy.thaw();
        // The stalled call carries on in its thread once the master answers: it must end
        // without committing (counted as a late call that failed).
        let late = |outcome: &'static str| {
            let name = format!("tuxedo_db_late_calls_total{{outcome=\"{outcome}\"}}");
            let t = &t;
            async move { counter(t, &name).await }
        };
        bouncer_test_support::eventually(
            "the stalled call finishes",
            Duration::from_secs(30),
            || async { (late("error").await + late("ok").await >= 1.0).then_some(()) },
        )
        .await;
        assert_eq!(
            (late("error").await, late("ok").await),
            (1.0, 0.0),
            "rolled back"
        );
        let names: Vec<String> = products::table
            .select(products::name)
            .order(products::name)
            .load(&mut *db.conn())
            .unwrap();
        assert_eq!(names, ["before"]);
        let (s, _) = t
            .admin(
                "POST",
                "/products",
                Some(serde_json::json!({"name": "after"})),
            )
            .await;
        assert_eq!(s, 201, "the master is back");
    });
}

/// `tuxedo_db_late_calls_total{outcome="ok"}` counts writes applied behind a 503, nothing
/// else: a read that finishes late is `read`, and a write whose `COMMIT` stalled (and then
/// went through) is `ok`.
#[test]
fn late_reads_are_not_counted_as_applied_writes() {
    use bouncer_test_support::proxy::Proxy;
    use std::time::Duration;
    let db = TestDb::mysql();
    block_on(async {
        let proxy = Proxy::start(0).await;
        let url = db.url.replace(
            &bouncer_test_support::proxy::mysql_server_addr(),
            &format!("127.0.0.1:{}", proxy.port),
        );
        let t = start(&db, |c| {
            c.database.url = url;
            c.database.query_timeout_ms = 1000;
            // Nothing else talks to the master while it stalls.
            c.tuxedo.gate_check_secs = 0;
            c.tuxedo.history_check_ms = 0;
        });
        let (s, _) = t.post("product_add", &[("product", "Firefox-1")]).await;
        assert_eq!(s, 200);
        let late = |outcome: &'static str| {
            let name = format!("tuxedo_db_late_calls_total{{outcome=\"{outcome}\"}}");
            let t = &t;
            async move { counter(t, &name).await }
        };
        let all = || async { (late("read").await, late("ok").await, late("error").await) };
        let settled = |n: f64| {
            let all = &all;
            async move {
                bouncer_test_support::eventually(
                    "the stalled call finishes",
                    Duration::from_secs(30),
                    || async {
                        let (r, o, e) = all().await;
                        (r + o + e >= n).then_some(())
                    },
                )
                .await
            }
        };

        // A read stalls past the deadline (503), then finishes: a late read. (A fuzzy
        // match: the first LIKE of the connection, so its SQL text crosses the proxy.)
        proxy.freeze_on(b" LIKE ");
        let (s, body) = t
            .get("location_show", &[("product", "Fire"), ("fuzzy", "1")])
            .await;
        assert_eq!(s, 503, "{body}");
        proxy.thaw();
        settled(1.0).await;
        assert_eq!(
            all().await,
            (1.0, 0.0, 0.0),
            "a late read is not an applied write"
        );

        // A write whose COMMIT stalls: answered 503, applied when the master answers.
        proxy.freeze_on(b"COMMIT");
        let (s, body) = t.post("product_add", &[("product", "Firefox-2")]).await;
        assert_eq!(s, 503, "{body}");
        proxy.thaw();
        settled(2.0).await;
        assert_eq!(
            all().await,
            (1.0, 1.0, 0.0),
            "the stalled commit went through"
        );
    });
}

/// Reads cannot starve writes of connections (`tuxedo.read_pool_size`): with one master
/// connection for writes and one for reads, and that one held by an unauthenticated XML
/// read the database keeps waiting (a table lock stands in for a large `location_show`),
/// a write still gets its connection and is applied while the read waits.
/// MariaDB only: SQLite (WAL) never makes a reader wait.
#[test]
fn held_reads_leave_writes_their_connections() {
    use bouncer_test_support::eventually;
    use std::time::Duration;
    let db = TestDb::mysql();
    block_on(async {
        let t = start(&db, |c| {
            c.database.pool_size = 1;
            c.tuxedo.read_pool_size = 1;
            // Long enough that the held read is still waiting when the write is done.
            c.database.query_timeout_ms = 120_000;
            c.tuxedo.gate_check_secs = 0;
            c.tuxedo.history_check_ms = 0;
        });
        let (s, _) = t.post("product_add", &[("product", "Firefox-1")]).await;
        assert_eq!(s, 200);
        // A connection of its own, not the test pool's: if the test fails, dropping it
        // closes it, which releases the lock (a pooled one would keep it).
        let mut lock = bouncer_core::db::DbUrl::parse(&db.url)
            .unwrap()
            .establish()
            .unwrap();
        diesel::sql_query("LOCK TABLES mirror_products WRITE")
            .execute(&mut lock)
            .unwrap();
        let (client, url) = (t.client.clone(), t.url("product_show"));
        let held = tokio::spawn(async move {
            let r = client.get(url).query(&[("product", "Firefox-1")]);
            r.send().await.unwrap().status().as_u16()
        });
        // The first read is at the lock: it holds the read pool's only connection.
        let mut watch = db.conn();
        eventually("a read waits for the lock", Duration::from_secs(30), || {
            #[derive(QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let n = diesel::sql_query(
                "SELECT COUNT(*) AS n FROM information_schema.processlist \
                 WHERE state LIKE 'Waiting for table metadata lock%'",
            )
            .get_result::<N>(&mut *watch)
            .unwrap()
            .n;
            async move { (n >= 1).then_some(()) }
        })
        .await;

        let (s, body) = t
            .admin(
                "POST",
                "/oses",
                Some(serde_json::json!({"name": "beos", "priority": 10})),
            )
            .await;
        assert_eq!(s, 201, "the write got no connection: {body}");
        assert!(!held.is_finished(), "the read is held until the lock goes");
        diesel::sql_query("UNLOCK TABLES")
            .execute(&mut lock)
            .unwrap();
        assert_eq!(held.await.unwrap(), 200);
    });
}

/// The master goes away while a write's statement is on the wire (MariaDB's client:
/// "Lost connection to server during query"): the database is down, not tuxedo — a 503
/// the caller may retry, nothing applied, never a 500.
#[test]
fn a_connection_lost_mid_query_is_unavailable() {
    use bouncer_core::schema::mirror_products as products;
    use bouncer_test_support::proxy::Proxy;
    use std::time::Duration;
    let db = TestDb::mysql();
    block_on(async {
        let proxy = Proxy::start(0).await;
        let url = db.url.replace(
            &bouncer_test_support::proxy::mysql_server_addr(),
            &format!("127.0.0.1:{}", proxy.port),
        );
        let t = start(&db, |c| c.database.url = url);
        proxy.freeze_on(b"INSERT INTO `mirror_products`");
        let write = t.admin(
            "POST",
            "/products",
            Some(serde_json::json!({"name": "lost"})),
        );
        let cut = async {
            bouncer_test_support::eventually(
                "the INSERT reaches the proxy",
                Duration::from_secs(10),
                || async { proxy.is_frozen().then_some(()) },
            )
            .await;
            proxy.cut();
        };
        let ((s, body), ()) = tokio::join!(write, cut);
        assert_eq!((s, code(&body)), (503, "unavailable"), "{body}");
        let names: Vec<String> = products::table
            .select(products::name)
            .load(&mut *db.conn())
            .unwrap();
        assert!(names.is_empty(), "{names:?}");
    });
}
