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

impl NewRegionRow {
    /// Removes the stored verdict (no live vantage speaks of it any more).
    pub fn delete(key: Key, region_id: i32, conn: &mut DbConnection) -> Result<(), SentryError> {
        let (location_id, mirror_id, family) = key;
        diesel::delete(rh::table.find((location_id, mirror_id, family, region_id)))
            .execute(conn)?;
        Ok(())
    }
}

bouncer_core::many_row!(NewRegionRow => "bouncer_region_health", [
    location_id: Integer, mirror_id: Integer, family: SmallInt, region_id: Integer,
    healthy: Bool, reason: Text,
]);
