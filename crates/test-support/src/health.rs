//! Rows sentry writes, for tests of what reads them.

use bouncer_core::db::DbConnection;
use bouncer_core::models::MirrorHealth;
use bouncer_core::networks::{Families, Family};
use bouncer_core::schema::bouncer_mirror_health;
use diesel::prelude::*;

/// sentry's health row of a mirror that is up and whose host has `families` (sentry keeps
/// no family rows for a mirror with one family; this row says which one it has).
pub fn record_host_families(c: &mut DbConnection, mirror_id: i32, families: &[Family]) {
    let now = chrono::Utc::now().naive_utc();
    diesel::insert_into(bouncer_mirror_health::table)
        .values(MirrorHealth {
            mirror_id,
            state: "up".into(),
            weight_percent: 100,
            fail_streak: 0,
            ok_streak: 0,
            last_checked_at: Some(now),
            last_reason: String::new(),
            changed_at: now,
            families: Some(Families::of(families.iter().copied()).stored()),
        })
        .execute(c)
        .expect("insert a mirror health row");
}
