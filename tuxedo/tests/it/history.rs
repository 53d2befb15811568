//! History that moves backwards (`bouncer_core::history`): the database restored from a
//! backup taken before the last writes, under two running bounce instances that already
//! serve those writes. Without a restart, both must serve the restored catalogue — within
//! tuxedo's history check when nothing is written, and at once for a write made right
//! after the restore (its acknowledgement means every instance serves it).

use crate::common::*;
use crate::read_your_writes::{fleet, registered, start_bounce, two_releases, with_cache};
use bouncer_core::schema::{bouncer_changes, bouncer_generation, mirror_aliases};
use bouncer_test_support::{db_tests, eventually, TestCache, TestDb};
use diesel::prelude::*;
use std::time::Duration;

db_tests! {
    a_restore_is_served_without_a_restart_or_a_write => by_the_timer,
    a_write_right_after_a_restore_is_served_at_once => by_the_write,
}

/// A replica that missed the last writes is promoted: bounce read it first all along (the
/// master only as last resort), the old primary is gone, tuxedo now writes to the replica.
/// Both instances serve the promoted database's catalogue, with no restart of theirs.
#[test]
fn a_promoted_replica_that_missed_writes_is_served() {
    let (primary, replica) = (TestDb::mysql(), TestDb::mysql());
    let cache = TestCache::new();
    block_on(async {
        let t = start(&primary, |c| {
            with_cache(&cache)(c);
            fleet(c);
        });
        two_releases(&t, &primary).await;
        let reads_replica = |c: &mut bouncer_core::config::Config| {
            with_cache(&cache)(c);
            c.database.replicas = vec![replica.url.clone()];
        };
        let bounces: Vec<String> = (0..2)
            .map(|_| start_bounce(&primary, &t.base, reads_replica))
            .collect();
        registered(&primary, &bounces).await;
        flip(&t, ALIAS, "Firefox-130.0-SSL").await;
        replicate(&primary, &replica); // the replica has everything up to here
        flip(&t, ALIAS, "Firefox-131.0-SSL").await; // and misses this one
        for b in &bounces {
            assert_eq!(print(b, ALIAS).await, print(b, "Firefox-131.0-SSL").await);
        }
        // The primary is lost; tuxedo is pointed at the promoted replica.
        mysql_cli(&format!("DROP DATABASE `{}`", name_of(&primary)));
        let mut config = bouncer_core::config::Config::default();
        config.database.url = replica.url.clone();
        with_cache(&cache)(&mut config);
        fleet(&mut config);
        config.tuxedo.history_check_ms = 200;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tokio::spawn(
            tuxedo::build(config, listener, std::future::pending())
                .unwrap()
                .run_until_stopped(),
        );
        all_serve(
            &bounces,
            "Firefox-130.0-SSL",
            "the promoted replica's alias",
        )
        .await;
    });
}

/// Waits until every instance answers the alias as it answers `product`.
async fn all_serve(bounces: &[String], product: &str, what: &str) {
    for b in bounces {
        let want = print(b, product).await;
        eventually(what, Duration::from_secs(5), || async {
            (print(b, ALIAS).await == want).then_some(())
        })
        .await;
    }
}

/// The database name of a MariaDB test database.
fn name_of(db: &TestDb) -> String {
    db.url.rsplit('/').next().unwrap().to_owned()
}

/// Runs `sql` with the `mariadb` client on the test server.
fn mysql_cli(sql: &str) {
    let mut cmd = client("mariadb");
    cmd.args(["-e", sql]);
    run(cmd, None);
}

/// A MariaDB client tool (`mariadb`, `mariadb-dump`) pointed at the test server as root.
fn client(tool: &str) -> std::process::Command {
    let url = bouncer_test_support::mysql_server_url();
    let hostport = url
        .rsplit('@')
        .next()
        .unwrap()
        .trim_start_matches("mysql://");
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "3306"));
    let mut cmd = std::process::Command::new(tool);
    cmd.args(["--no-defaults", "-h", host, "-P", port, "-uroot"]);
    cmd
}

fn run(mut cmd: std::process::Command, input: Option<Vec<u8>>) -> Vec<u8> {
    use std::io::Write;
    use std::process::Stdio;
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("the mariadb client tools");
    let mut stdin = child.stdin.take().unwrap();
    if let Some(bytes) = input {
        stdin.write_all(&bytes).unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{cmd:?} failed");
    out.stdout
}

/// What replication would have brought over up to now: every row of `from` into `to`.
fn replicate(from: &TestDb, to: &TestDb) {
    let mut dump = client("mariadb-dump");
    dump.args([
        "--no-create-info",
        "--replace",
        "--skip-triggers",
        &name_of(from),
    ]);
    let rows = run(dump, None);
    let mut load = client("mariadb");
    load.arg(name_of(to));
    run(load, Some(rows));
}

const ALIAS: &str = "firefox-latest-ssl";

/// What a backup keeps of the catalogue's history here: the generation, and where the
/// alias pointed.
struct Backup {
    generation: i64,
    target: String,
}

fn backup(db: &TestDb) -> Backup {
    let mut c = db.conn();
    Backup {
        generation: bouncer_core::generation::current(&mut c).unwrap(),
        target: mirror_aliases::table
            .filter(mirror_aliases::alias.eq(ALIAS))
            .select(mirror_aliases::related_product)
            .first(&mut *c)
            .unwrap(),
    }
}

/// Puts the database back to `b` as restoring its dump would: the alias row, the change
/// log and the generation counter as they were.
fn restore(db: &TestDb, b: &Backup) {
    let mut c = db.conn();
    c.transaction::<_, diesel::result::Error, _>(|t| {
        diesel::update(mirror_aliases::table.filter(mirror_aliases::alias.eq(ALIAS)))
            .set(mirror_aliases::related_product.eq(&b.target))
            .execute(t)?;
        diesel::delete(bouncer_changes::table.filter(bouncer_changes::generation.gt(b.generation)))
            .execute(t)?;
        diesel::update(bouncer_generation::table.filter(bouncer_generation::name.eq("catalogue")))
            .set(bouncer_generation::value.eq(b.generation))
            .execute(t)?;
        Ok(())
    })
    .unwrap();
}

async fn flip(t: &Tux, alias: &str, target: &str) -> reqwest::Response {
    let r = t
        .client
        .post(t.url("create_update_alias"))
        .basic_auth(RELEASE.0, Some(RELEASE.1))
        .form(&[("alias", alias), ("related_product", target)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r
}

async fn print(base: &str, product: &str) -> String {
    let url = format!("{base}/?product={product}&os=win64&lang=en-US&print=yes");
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// tuxedo and two registered bounce instances on `db` and a memcached, the alias set to
/// 130.0 and backed up there, then set to 131.0 (served by both), then the backup restored.
async fn restored_under_a_fleet(
    db: &TestDb,
    cache: &TestCache,
    timer_ms: u64,
) -> (Tux, Vec<String>) {
    let with_cache = with_cache(cache);
    let t = start(db, |c| {
        with_cache(c);
        fleet(c);
        c.tuxedo.history_check_ms = timer_ms;
    });
    two_releases(&t, db).await;
    let bounces: Vec<String> = (0..2)
        .map(|_| start_bounce(db, &t.base, &with_cache))
        .collect();
    registered(db, &bounces).await;
    flip(&t, ALIAS, "Firefox-130.0-SSL").await;
    let old = backup(db);
    flip(&t, ALIAS, "Firefox-131.0-SSL").await;
    for b in &bounces {
        assert_eq!(print(b, ALIAS).await, print(b, "Firefox-131.0-SSL").await);
    }
    restore(db, &old);
    (t, bounces)
}

fn by_the_timer(db: &TestDb) {
    let cache = TestCache::new();
    block_on(async {
        let (t, bounces) = restored_under_a_fleet(db, &cache, 200).await;
        all_serve(&bounces, "Firefox-130.0-SSL", "the restored alias").await;
        // An instance starting now (from the fleet's image in memcached, when there is one)
        // answers the restored catalogue from its first request.
        let late = start_bounce(db, &t.base, with_cache(&cache));
        assert_eq!(
            print(&late, ALIAS).await,
            print(&late, "Firefox-130.0-SSL").await
        );
        let mut c = db.conn();
        assert!(
            bouncer_core::generation::current(&mut c).unwrap() > 1_000_000_000_000,
            "the generation jumped past everything served"
        );
        let (actor, action, _) = last_audit(&mut c);
        assert_eq!(
            (actor.as_str(), action.as_str()),
            ("tuxedo", "catalogue.history_break")
        );
    });
}

fn by_the_write(db: &TestDb) {
    let cache = TestCache::new();
    block_on(async {
        let (t, bounces) = restored_under_a_fleet(db, &cache, 0).await;
        // Right after the restore: a new alias. Acknowledged means served, together with
        // the restored state, on both instances at once.
        let r = flip(&t, "firefox-latest", "Firefox-131.0-SSL").await;
        assert_eq!(r.headers().get("x-bouncer-unconfirmed"), None);
        for b in &bounces {
            assert_eq!(
                print(b, "firefox-latest").await,
                print(b, "Firefox-131.0-SSL").await,
                "{b}"
            );
            assert_eq!(
                print(b, ALIAS).await,
                print(b, "Firefox-130.0-SSL").await,
                "{b}"
            );
        }
    });
}
