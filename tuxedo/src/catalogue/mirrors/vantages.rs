//! What sentry's vantage points (issue 32) say of one mirror, for its UI page: per vantage
//! and address family how many of its locations it sees down (and why), when it last
//! reported and how fast the mirror answers it; and the verdicts per region.

use super::view::find;
use crate::error::Result;
use bouncer_core::db::DbConnection;
use bouncer_core::schema::{
    bouncer_region_health as rh, bouncer_vantage_health as vh, bouncer_vantage_rtt as vr,
    bouncer_vantages as vs, geoip_regions,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One vantage's view of the mirror over one family (0: not probed per family).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VantageView {
    pub vantage: String,
    pub family: i16,
    pub locations: usize,
    pub down: usize,
    /// One reason of the locations it sees down.
    pub reason: Option<String>,
    pub reported_at: Option<NaiveDateTime>,
    pub ttfb_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub samples: Option<i32>,
}

/// The rule's verdicts for one region (`"global"` for the rule over all) and family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionVerdictView {
    pub region: String,
    pub family: i16,
    pub locations: usize,
    pub down: usize,
    pub reason: Option<String>,
}

/// Both, for mirror `id` (empty when sentry runs with one vantage).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Vantages {
    pub vantages: Vec<VantageView>,
    pub verdicts: Vec<RegionVerdictView>,
}

fn ms(us: i32) -> f64 {
    f64::from(us / 100) / 10.0
}

pub fn vantages_of(conn: &mut DbConnection, id: i32) -> Result<Vantages> {
    find(conn, id)?;
    let mut views: BTreeMap<(String, i16), VantageView> = BTreeMap::new();
    let rows = vh::table
        .filter(vh::mirror_id.eq(id))
        .select((vh::vantage, vh::family, vh::active, vh::healthy, vh::reason))
        .load::<(String, i16, bool, bool, String)>(conn)?;
    let blank = |vantage: &str, family: i16| VantageView {
        vantage: vantage.to_owned(),
        family,
        locations: 0,
        down: 0,
        reason: None,
        reported_at: None,
        ttfb_ms: None,
        connect_ms: None,
        samples: None,
    };
    for (vantage, family, active, healthy, reason) in rows {
        let v = views
            .entry((vantage.clone(), family))
            .or_insert_with(|| blank(&vantage, family));
        v.locations += 1;
        if !(active && healthy) {
            v.down += 1;
            v.reason.get_or_insert(reason);
        }
    }
    let timings = vr::table
        .filter(vr::mirror_id.eq(id))
        .select((
            vr::vantage,
            vr::family,
            vr::connect_us,
            vr::ttfb_us,
            vr::samples,
        ))
        .load::<(String, i16, i32, i32, i32)>(conn)?;
    for (vantage, family, connect, ttfb, samples) in timings {
        let v = views
            .entry((vantage.clone(), family))
            .or_insert_with(|| blank(&vantage, family));
        (v.connect_ms, v.ttfb_ms, v.samples) = (Some(ms(connect)), Some(ms(ttfb)), Some(samples));
    }
    let reported: HashMap<String, i64> = vs::table
        .select((vs::name, vs::reported_at))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    for v in views.values_mut() {
        v.reported_at = reported
            .get(&v.vantage)
            .and_then(|s| chrono::DateTime::from_timestamp(*s, 0))
            .map(|t| t.naive_utc());
    }
    let names: HashMap<i32, String> = geoip_regions::table
        .select((geoip_regions::id, geoip_regions::name))
        .load::<(i32, String)>(conn)?
        .into_iter()
        .collect();
    let mut verdicts: BTreeMap<(String, i16), RegionVerdictView> = BTreeMap::new();
    let rows = rh::table
        .filter(rh::mirror_id.eq(id))
        .select((rh::region_id, rh::family, rh::healthy, rh::reason))
        .load::<(i32, i16, bool, String)>(conn)?;
    for (region, family, healthy, reason) in rows {
        let region = match region {
            0 => "global".to_owned(),
            r => names.get(&r).cloned().unwrap_or_else(|| r.to_string()),
        };
        let v = verdicts
            .entry((region.clone(), family))
            .or_insert_with(|| RegionVerdictView {
                region,
                family,
                locations: 0,
                down: 0,
                reason: None,
            });
        v.locations += 1;
        if !healthy {
            v.down += 1;
            v.reason.get_or_insert(reason);
        }
    }
    Ok(Vantages {
        vantages: views.into_values().collect(),
        verdicts: verdicts.into_values().collect(),
    })
}
