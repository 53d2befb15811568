//! The rows the vantage tables take, inserted many at a time.

use super::Key;
use crate::health::RowState;
use crate::SentryError;
use bouncer_core::db::DbConnection;
use bouncer_core::schema::bouncer_region_health as rh;
use diesel::prelude::*;

/// One vantage's view of a (location, mirror, family).
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = bouncer_core::schema::bouncer_vantage_health)]
pub struct NewVantageRow {
    pub location_id: i32,
    pub mirror_id: i32,
    pub family: i16,
    pub vantage: String,
    pub active: bool,
    pub healthy: bool,
    pub fail_streak: i32,
    pub ok_streak: i32,
    pub reason: String,
}

impl NewVantageRow {
    pub fn new(key: Key, vantage: &str, s: RowState, reason: String) -> Self {
        let (location_id, mirror_id, family) = key;
        Self {
            location_id,
            mirror_id,
            family,
            vantage: vantage.to_owned(),
            active: s.active,
            healthy: s.healthy,
            fail_streak: s.fail_streak,
            ok_streak: s.ok_streak,
            reason,
        }
    }
}

bouncer_core::many_row!(NewVantageRow => "bouncer_vantage_health", [
    location_id: Integer, mirror_id: Integer, family: SmallInt, vantage: Text, active: Bool,
    healthy: Bool, fail_streak: Integer, ok_streak: Integer, reason: Text,
]);

/// One verdict of the rule: a region's (`region_id` > 0) or the global one (0).
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = bouncer_core::schema::bouncer_region_health)]
pub struct NewRegionRow {
    pub location_id: i32,
    pub mirror_id: i32,
    pub family: i16,
    pub region_id: i32,
    pub healthy: bool,
    pub reason: String,
}

/// Verdicts no live vantage speaks of any more, by (location, family, region): a lost
/// agent's region goes at every mirror of a location in one statement, not one per row.
#[derive(Debug, Default)]
pub struct Gone(std::collections::BTreeMap<(i32, i16, i32), Vec<i32>>);

impl Gone {
    pub fn add(&mut self, key: Key, region_id: i32) {
        let (location_id, mirror_id, family) = key;
        self.0
            .entry((location_id, family, region_id))
            .or_default()
            .push(mirror_id);
    }

    /// Deletes them all.
    pub fn delete(self, conn: &mut DbConnection) -> Result<(), SentryError> {
        for ((location_id, family, region_id), mirrors) in self.0 {
            for chunk in mirrors.chunks(500) {
                diesel::delete(
                    rh::table
                        .filter(rh::location_id.eq(location_id))
                        .filter(rh::family.eq(family))
                        .filter(rh::region_id.eq(region_id))
                        .filter(rh::mirror_id.eq_any(chunk)),
                )
                .execute(conn)?;
            }
        }
        Ok(())
    }
}

bouncer_core::many_row!(NewRegionRow => "bouncer_region_health", [
    location_id: Integer, mirror_id: Integer, family: SmallInt, region_id: Integer,
    healthy: Bool, reason: Text,
]);
