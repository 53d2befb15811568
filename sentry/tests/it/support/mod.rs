//! Helpers of the integration tests: fake mirrors, a seeded catalogue, and readers of
//! what sentry wrote.
#![allow(dead_code)]

pub use bouncer_test_support::fake_mirror as fake;

use bouncer_core::config::Config;
use bouncer_core::models::*;
use bouncer_core::schema::*;
use bouncer_test_support::TestDb;
use diesel::prelude::*;

/// A config for `db` with a short timeout and no hysteresis (one run decides), so one run
/// shows the raw result classes.
pub fn config(db: &TestDb, timeout_ms: u64) -> Config {
    let mut c = Config::default();
    c.database.url = db.url.clone();
    c.sentry.request_timeout_ms = timeout_ms;
    c.sentry.failures_to_down = 1;
    c.sentry.successes_to_up = 1;
    c.sentry.concurrency = 32;
    c.sentry.per_mirror_concurrency = 4;
    c.sentry.mirror_deadline_secs = 20;
    c
}

/// A multi-threaded runtime for a test body (the db_tests! bodies are synchronous).
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Adds an active product with one location per path (OS names `os0`, `os1`…); returns
/// the location ids.
pub fn product(db: &TestDb, name: &str, checknow: bool, active: bool, paths: &[&str]) -> Vec<i32> {
    let mut c = db.conn();
    diesel::insert_into(mirror_products::table)
        .values(NewProduct {
            name,
            active,
            checknow,
            ssl_only: false,
        })
        .execute(&mut *c)
        .unwrap();
    let pid: i32 = mirror_products::table
        .filter(mirror_products::name.eq(name))
        .select(mirror_products::id)
        .first(&mut *c)
        .unwrap();
    paths
        .iter()
        .map(|path| {
            let os = format!("{name}-os-{path}");
            diesel::insert_into(mirror_os::table)
                .values(NewOs {
                    name: &os[..os.len().min(32)],
                    priority: 0,
                })
                .execute(&mut *c)
                .unwrap();
            let os_id: i32 = mirror_os::table
                .filter(mirror_os::name.eq(&os[..os.len().min(32)]))
                .select(mirror_os::id)
                .first(&mut *c)
                .unwrap();
            diesel::insert_into(mirror_locations::table)
                .values(NewLocation {
                    product_id: pid,
                    os_id,
                    path,
                })
                .execute(&mut *c)
                .unwrap();
            mirror_locations::table
                .filter(mirror_locations::os_id.eq(os_id))
                .select(mirror_locations::id)
                .first(&mut *c)
                .unwrap()
        })
        .collect()
}

/// Adds an active mirror with rating 100 and a served map row for each location (as the
/// admin creates them); returns its id.
pub fn mirror(db: &TestDb, name: &str, baseurl: &str, locations: &[i32]) -> i32 {
    let mut c = db.conn();
    diesel::insert_into(mirror_mirrors::table)
        .values(NewMirror {
            name,
            baseurl,
            rating: 100,
            active: true,
        })
        .execute(&mut *c)
        .unwrap();
    let id = mirror_mirrors::table
        .filter(mirror_mirrors::name.eq(name))
        .select(mirror_mirrors::id)
        .first(&mut *c)
        .unwrap();
    for &location_id in locations {
        diesel::insert_into(mirror_location_mirror_map::table)
            .values(NewLocationMirror {
                location_id,
                mirror_id: id,
                active: true,
                healthy: true,
            })
            .execute(&mut *c)
            .unwrap();
    }
    id
}

/// `(location_id, active, healthy)` of a mirror's map rows, by location.
pub fn map_rows(db: &TestDb, mirror_id: i32) -> Vec<(i32, bool, bool)> {
    mirror_location_mirror_map::table
        .filter(mirror_location_mirror_map::mirror_id.eq(mirror_id))
        .select((
            mirror_location_mirror_map::location_id,
            mirror_location_mirror_map::active,
            mirror_location_mirror_map::healthy,
        ))
        .order(mirror_location_mirror_map::location_id)
        .load(&mut *db.conn())
        .unwrap()
}

/// `(mirror_active, rating, reason)` of a mirror's log rows, oldest first.
pub fn log_rows(db: &TestDb, mirror_id: i32) -> Vec<(bool, i32, String)> {
    sentry_log::table
        .filter(sentry_log::mirror_id.eq(mirror_id))
        .order(sentry_log::log_date)
        .select((
            sentry_log::mirror_active,
            sentry_log::mirror_rating,
            sentry_log::reason,
        ))
        .load(&mut *db.conn())
        .unwrap()
}

/// The mirror's health row: `(state, weight_percent, fail_streak, ok_streak)`.
pub fn health(db: &TestDb, mirror_id: i32) -> Option<(String, i32, i32, i32)> {
    bouncer_mirror_health::table
        .find(mirror_id)
        .select((
            bouncer_mirror_health::state,
            bouncer_mirror_health::weight_percent,
            bouncer_mirror_health::fail_streak,
            bouncer_mirror_health::ok_streak,
        ))
        .first(&mut *db.conn())
        .optional()
        .unwrap()
}

/// Audit rows `(actor, action, target, after_json)`, oldest first.
pub fn audit_rows(db: &TestDb) -> Vec<(String, String, String, Option<String>)> {
    bouncer_audit_log::table
        .order(bouncer_audit_log::id)
        .select((
            bouncer_audit_log::actor,
            bouncer_audit_log::action,
            bouncer_audit_log::target,
            bouncer_audit_log::after_json,
        ))
        .load(&mut *db.conn())
        .unwrap()
}

pub fn rating(db: &TestDb, mirror_id: i32) -> i32 {
    mirror_mirrors::table
        .find(mirror_id)
        .select(mirror_mirrors::rating)
        .first(&mut *db.conn())
        .unwrap()
}

pub fn generation(db: &TestDb) -> i64 {
    bouncer_core::generation::current(&mut db.conn()).unwrap()
}
