//! The replicated topology for real (deploy/topology): a MariaDB primary and a GTID
//! replica on their own ports, two memcached servers, tuxedo on the primary and two bounce
//! instances reading the replica, registered with tuxedo as a fleet. A release submission
//! through tuxedo is served by both bounce instances when tuxedo acknowledges it (the
//! replica may lag: an instance reads the master for what the replica has not replicated);
//! with the replica stopped bounce keeps answering.

use crate::common::*;
use bouncer_test_support::TestDb;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/topology")
        .join(name)
}

/// Starts (or keeps) the topology and returns its env file's settings.
fn topology() -> HashMap<String, String> {
    let out = Command::new("bash")
        .arg(script("start.sh"))
        .output()
        .expect("run start.sh");
    assert!(
        out.status.success(),
        "start.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::env::var("BOUNCER_TOPOLOGY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../var/topology"));
    std::fs::read_to_string(dir.join("env"))
        .expect("topology env file")
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

/// Stops the topology when the test ends, passed or failed: left running it holds its
/// ports, and a run from another checkout (CI's fresh clone) could not start its own.
struct StopAtEnd;

impl Drop for StopAtEnd {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(script("stop.sh")).output();
    }
}

#[test]
fn submission_reaches_both_bounces_through_the_replica() {
    let _stop = StopAtEnd;
    let env = topology();
    let primary = &env["BOUNCER_TOPOLOGY_PRIMARY_URL"];
    let replica_server = &env["BOUNCER_TOPOLOGY_REPLICA_URL"];
    let memcached: Vec<String> = env["BOUNCER_TOPOLOGY_MEMCACHED_SERVERS"]
        .split(',')
        .map(str::to_owned)
        .collect();
    let db = TestDb::mysql_on(primary);
    let db_name = db.url.rsplit('/').next().unwrap().to_owned();
    let replica = format!("{replica_server}/{db_name}");
    let prefix = format!("topo{}", bouncer_test_support::unique_suffix());
    let with_cache = |c: &mut bouncer_core::config::Config| {
        c.memcached.servers = memcached.clone();
        c.memcached.prefix = prefix.clone();
    };
    block_on(async {
        let t = start(&db, |c| {
            with_cache(c);
            crate::read_your_writes::fleet(c);
            // The acknowledgement waits for both instances however slow the machine: the
            // test is about what is served at the acknowledgement, not how fast.
            c.tuxedo.visibility_timeout_ms = 30_000;
        });
        let mirror = add_mirror(&mut db.conn(), "m1", 100, true);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        // The replica has the whole schema (every migration replicated from the primary)
        // before bounce starts: a replica still creating tables answers bounce's reads
        // with errors no deployment sees.
        let applied = |url: &str| -> Option<i64> {
            use diesel::prelude::*;
            let mut c = bouncer_core::db::DbUrl::parse(url).ok()?.establish().ok()?;
            #[derive(QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let q = "SELECT COUNT(*) AS n FROM __diesel_schema_migrations";
            diesel::sql_query(q)
                .get_result::<N>(&mut c)
                .ok()
                .map(|r| r.n)
        };
        let want = applied(&db.url).expect("the primary's migrations");
        let deadline = Instant::now() + Duration::from_secs(10);
        while applied(&replica) != Some(want) {
            assert!(
                Instant::now() < deadline,
                "replica never got {db_name}'s schema"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let bounces: Vec<String> = (0..2)
            .map(|_| {
                let mut config = bouncer_core::config::Config::default();
                config.database.url = db.url.clone();
                config.database.replicas = vec![replica.clone()];
                config.database.master_as_last_resort = true;
                config.database.connect_timeout_ms = 500;
                with_cache(&mut config);
                crate::read_your_writes::fleet(&mut config);
                config.fleet.tuxedo_urls = vec![t.base.clone()];
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let app = bounce::build(config, listener, std::future::pending()).unwrap();
                let base = format!("http://127.0.0.1:{}", app.port());
                tokio::spawn(app.run_until_stopped());
                base
            })
            .collect();
        crate::read_your_writes::registered(&db, &bounces).await;
        let print = |base: &str, product: &str| {
            let url = format!("{base}/?product={product}&os=win64&lang=de&print=yes");
            let client = client.clone();
            async move {
                let r = client.get(url).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        for b in &bounces {
            assert_eq!(
                print(b, "firefox-latest").await.0,
                404,
                "nothing released yet"
            );
        }

        // The release client's submission, then the checker marks the file present.
        let form = [
            ("product", "Firefox-140.0"),
            ("languages", "de"),
            ("languages", "en-US"),
        ];
        assert_eq!(t.post("product_add", &form).await.0, 200);
        let path = "/firefox/releases/140.0/win64/:lang/Firefox%20Setup%20140.0.exe";
        let (status, body) = t
            .post(
                "location_add",
                &[
                    ("product", "Firefox-140.0"),
                    ("os", "win64"),
                    ("path", path),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        {
            use bouncer_core::schema::mirror_locations;
            use diesel::prelude::*;
            let mut c = db.conn();
            let ids: Vec<i32> = mirror_locations::table
                .select(mirror_locations::id)
                .load(&mut *c)
                .unwrap();
            for &id in &ids {
                set_map(&mut c, id, mirror, true, true);
            }
            // As sentry does: the map rows' change is recorded, so an instance that
            // already holds the location (it applied location_add's change) rereads it.
            let changes: Vec<bouncer_core::changes::Change> = ids
                .iter()
                .map(|&id| bouncer_core::changes::Change::Location(id))
                .collect();
            bouncer_core::changes::record(&mut c, &changes).unwrap();
        }
        let form = [
            ("alias", "firefox-latest"),
            ("related_product", "Firefox-140.0"),
        ];
        let r = t.release_write("create_update_alias", &form).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers().get("x-bouncer-unconfirmed"),
            None,
            "both instances confirmed"
        );
        let expected =
            "https://m1.example/pub/firefox/releases/140.0/win64/de/Firefox%20Setup%20140.0.exe";
        for b in &bounces {
            assert_eq!(
                print(b, "firefox-latest").await,
                (200, expected.to_owned()),
                "{b} serves the acknowledged alias at once"
            );
        }

        // The replica stops: bounce keeps answering (from its tiers, then the master).
        let out = Command::new("bash")
            .arg(script("stop.sh"))
            .arg("replica")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "stop.sh replica: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for b in &bounces {
            assert_eq!(print(b, "firefox-latest").await, (200, expected.to_owned()));
            assert_eq!(
                print(b, "Firefox-140.0").await.0,
                200,
                "a key not cached yet comes from the master"
            );
            let hb: serde_json::Value = client
                .get(format!("{b}/__heartbeat__"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(hb["checks"][0]["state"], "warning", "{hb}");
        }
        topology(); // the replica comes back and catches up
        let deadline = Instant::now() + Duration::from_secs(10);
        for b in &bounces {
            loop {
                let hb: serde_json::Value = client
                    .get(format!("{b}/__heartbeat__"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if hb["checks"][0]["state"] == "ok" {
                    break;
                }
                assert!(Instant::now() < deadline, "{b} never recovered: {hb}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
}
