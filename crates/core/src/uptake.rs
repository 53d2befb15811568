//! Uptake: how much of the serving capacity holds a location's file — the active mirrors
//! whose row for it is active and healthy, and in CDN mode the pinned CDN as sentry last
//! found it. tuxedo reports it (XML, JSON, UI); gated alias flips wait for it.

use crate::config::Config;
use crate::db::DbConnection;
use crate::networks::{Families, Family};
use crate::schema::{
    bouncer_cdn_health as cdn, bouncer_family_health as fam, bouncer_mirror_health,
    mirror_location_mirror_map as map, mirror_mirrors,
};
use crate::Result;
use diesel::prelude::*;
use std::collections::HashMap;

/// The pinned CDN as uptake counts it: `rating` (`bounce.pinned_rating`) in proportion to
/// the schemes bounce may send a location's users over (https only for an `ssl_only`
/// product, else both) on which sentry last found it healthy at today's pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cdn {
    pub http: String,
    pub https: String,
    pub rating: i64,
}

impl Cdn {
    /// `None` outside CDN mode.
    pub fn of(config: &Config) -> Option<Self> {
        let (http, https) = config.bounce.pinned_bases()?;
        Some(Self {
            http,
            https,
            rating: config.bounce.pinned_rating,
        })
    }

    /// The CDN's share of `available` for one location.
    fn share(&self, ssl_only: bool, http: bool, https: bool) -> i64 {
        match ssl_only {
            true => self.rating * i64::from(https),
            false => self.rating * (i64::from(http) + i64::from(https)) / 2,
        }
    }
}

/// One location's capacity: `available` of `total`, and what of it serves clients of each
/// address family (issue 16): a pair sentry probed per family counts for the families it
/// is healthy over, a pair without family rows for both, the CDN for both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capacity {
    pub available: i64,
    pub total: i64,
    pub available_v4: i64,
    pub available_v6: i64,
}

impl Capacity {
    /// `available / total` in percent; 0 when there is no capacity at all.
    pub fn percent(&self) -> f64 {
        self.of(self.available)
    }

    /// The share of `total` that clients of `family` can be sent to, in percent.
    pub fn percent_for(&self, family: Family) -> f64 {
        self.of(match family {
            Family::V4 => self.available_v4,
            Family::V6 => self.available_v6,
        })
    }

    fn of(&self, available: i64) -> f64 {
        match self.total {
            0 => 0.0,
            t => available as f64 * 100.0 / t as f64,
        }
    }
}

/// The capacity of each `(location id, its product's ssl_only)`, keyed by location id.
/// `total` = Σ rating of all active mirrors (+ the CDN's rating in CDN mode).
pub fn capacity(
    conn: &mut DbConnection,
    cdn_mode: Option<&Cdn>,
    locations: &[(i32, bool)],
) -> Result<HashMap<i32, Capacity>> {
    let ids: Vec<i32> = locations.iter().map(|l| l.0).collect();
    let ratings: Vec<i32> = mirror_mirrors::table
        .filter(mirror_mirrors::active.eq(true))
        .select(mirror_mirrors::rating)
        .load(conn)?;
    let mut total: i64 = ratings.into_iter().map(i64::from).sum();
    let serving: Vec<(i32, i32, i32)> = map::table
        .inner_join(mirror_mirrors::table)
        .filter(map::location_id.eq_any(&ids))
        .filter(map::active.eq(true))
        .filter(map::healthy.eq(true))
        .filter(mirror_mirrors::active.eq(true))
        .select((map::location_id, map::mirror_id, mirror_mirrors::rating))
        .load(conn)?;
    let families: Vec<(i32, i32, i16, bool)> = fam::table
        .filter(fam::location_id.eq_any(&ids))
        .select((fam::location_id, fam::mirror_id, fam::family, fam::healthy))
        .load(conn)?;
    let mut per_pair: HashMap<(i32, i32), [bool; 2]> = HashMap::new();
    for (location, mirror, family, healthy) in families {
        let slot = per_pair.entry((location, mirror)).or_default();
        match Family::from_number(family) {
            Some(Family::V4) => slot[0] |= healthy,
            Some(Family::V6) => slot[1] |= healthy,
            None => {}
        }
    }
    // A pair without family rows serves the families its mirror's host has.
    let hosts: HashMap<i32, Option<i16>> = bouncer_mirror_health::table
        .filter(bouncer_mirror_health::families.is_not_null())
        .select((
            bouncer_mirror_health::mirror_id,
            bouncer_mirror_health::families,
        ))
        .load::<(i32, Option<i16>)>(conn)?
        .into_iter()
        .collect();
    // Mirrors down as a whole (sentry's mirror state, weight 0): their pairs keep their
    // rows through a mirror-wide failure, and serve nothing meanwhile.
    let down: std::collections::HashSet<i32> = bouncer_mirror_health::table
        .filter(bouncer_mirror_health::weight_percent.eq(0))
        .select(bouncer_mirror_health::mirror_id)
        .load::<i32>(conn)?
        .into_iter()
        .collect();
    // (any family, v4, v6) per location.
    let mut available: HashMap<i32, [i64; 3]> = HashMap::new();
    for (location, mirror, rating) in serving {
        if down.contains(&mirror) {
            continue;
        }
        let [v4, v6] = per_pair
            .get(&(location, mirror))
            .copied()
            .unwrap_or_else(|| {
                let has = |f| Families::stored_has(hosts.get(&mirror).copied().flatten(), f);
                [has(Family::V4), has(Family::V6)]
            });
        let a = available.entry(location).or_default();
        let r = i64::from(rating);
        a[0] += r;
        a[1] += r * i64::from(v4);
        a[2] += r * i64::from(v6);
    }
    let mut on_cdn: HashMap<i32, (bool, bool)> = HashMap::new();
    if let Some(c) = cdn_mode {
        total += c.rating;
        let healthy: Vec<(i32, String, String)> = cdn::table
            .filter(cdn::location_id.eq_any(&ids))
            .filter(cdn::healthy.eq(true))
            .select((cdn::location_id, cdn::scheme, cdn::base_url))
            .load(conn)?;
        for (location, scheme, base) in healthy {
            let seen = on_cdn.entry(location).or_default();
            match scheme.as_str() {
                "http" if base == c.http => seen.0 = true,
                "https" if base == c.https => seen.1 = true,
                _ => {} // checked at an earlier pin: does not count
            }
        }
    }
    Ok(locations
        .iter()
        .map(|&(id, ssl_only)| {
            let [any, v4, v6] = available.get(&id).copied().unwrap_or_default();
            let (http, https) = on_cdn.get(&id).copied().unwrap_or_default();
            let cdn = cdn_mode.map_or(0, |c| c.share(ssl_only, http, https));
            let capacity = Capacity {
                available: any + cdn,
                total,
                available_v4: v4 + cdn,
                available_v6: v6 + cdn,
            };
            (id, capacity)
        })
        .collect())
}
