//! Uptake (how much of the serving capacity has a location's file: the mirrors, and in CDN
//! mode the pinned CDN as sentry found it) and the mirror list release automation reads.

use super::{matching_oses, matching_products, sort_key, Match};
use crate::error::{Result, TuxedoError};
use bouncer_core::config::Config;
use bouncer_core::db::DbConnection;
use bouncer_core::schema::{
    bouncer_cdn_health as cdn, mirror_location_mirror_map as map, mirror_locations, mirror_mirrors,
    mirror_products,
};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

/// Uptake of one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UptakeItem {
    pub product: String,
    pub os: String,
    /// Σ rating of active mirrors whose row for this location is active and healthy, plus
    /// in CDN mode the CDN's share (see [`Cdn`]).
    pub available: i64,
    /// Σ rating of all active mirrors, plus in CDN mode the CDN's rating.
    pub total: i64,
}

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

/// Uptake of the locations of the matching products on the matching operating systems
/// (a filter left out matches everything; at least one must be given). Sorted by product
/// name, then operating system id.
pub fn uptake(
    conn: &mut DbConnection,
    cdn_mode: Option<&Cdn>,
    product: Option<Match<'_>>,
    os: Option<Match<'_>>,
) -> Result<Vec<UptakeItem>> {
    if product.is_none() && os.is_none() {
        return Err(TuxedoError::Missing("product"));
    }
    let products = match product {
        Some(m) => {
            let found = matching_products(conn, m)?;
            if found.is_empty() {
                return Err(TuxedoError::NoProductsMatch);
            }
            Some(found)
        }
        None => None,
    };
    let oses = match os {
        Some(m) => {
            let found = matching_oses(conn, m)?;
            if found.is_empty() {
                return Err(TuxedoError::NoOsesMatch);
            }
            Some(found)
        }
        None => None,
    };
    let mut query = mirror_locations::table
        .inner_join(bouncer_core::schema::mirror_products::table)
        .inner_join(bouncer_core::schema::mirror_os::table)
        .select((
            mirror_locations::id,
            mirror_products::name,
            bouncer_core::schema::mirror_os::id,
            bouncer_core::schema::mirror_os::name,
            mirror_products::ssl_only,
        ))
        .into_boxed();
    if let Some(p) = &products {
        let ids: Vec<i32> = p.iter().map(|p| p.id).collect();
        query = query.filter(mirror_locations::product_id.eq_any(ids));
    }
    if let Some(o) = &oses {
        let ids: Vec<i32> = o.iter().map(|o| o.id).collect();
        query = query.filter(mirror_locations::os_id.eq_any(ids));
    }
    let mut locations: Vec<(i32, String, i32, String, bool)> = query.load(conn)?;
    locations.sort_by(|a, b| (sort_key(&a.1), a.2).cmp(&(sort_key(&b.1), b.2)));

    let mut total: i64 = active_ratings(conn)?;
    let ids: Vec<i32> = locations.iter().map(|l| l.0).collect();
    let serving: Vec<(i32, i32)> = map::table
        .inner_join(mirror_mirrors::table)
        .filter(map::location_id.eq_any(&ids))
        .filter(map::active.eq(true))
        .filter(map::healthy.eq(true))
        .filter(mirror_mirrors::active.eq(true))
        .select((map::location_id, mirror_mirrors::rating))
        .load(conn)?;
    let mut available: HashMap<i32, i64> = HashMap::new();
    for (location, rating) in serving {
        *available.entry(location).or_default() += i64::from(rating);
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
        .into_iter()
        .map(|(id, product, _, os, ssl_only)| {
            let mirrors = available.get(&id).copied().unwrap_or(0);
            let (http, https) = on_cdn.get(&id).copied().unwrap_or_default();
            let cdn = cdn_mode.map_or(0, |c| c.share(ssl_only, http, https));
            UptakeItem {
                product,
                os,
                available: mirrors + cdn,
                total,
            }
        })
        .collect())
}

/// Base URLs of the active mirrors, sorted by mirror name.
pub fn active_mirror_urls(conn: &mut DbConnection) -> Result<Vec<String>> {
    let mut rows: Vec<(String, String)> = mirror_mirrors::table
        .filter(mirror_mirrors::active.eq(true))
        .select((mirror_mirrors::name, mirror_mirrors::baseurl))
        .load(conn)?;
    rows.sort_by(|a, b| sort_key(&a.0).cmp(&sort_key(&b.0)));
    Ok(rows.into_iter().map(|(_, url)| url).collect())
}

fn active_ratings(conn: &mut DbConnection) -> Result<i64> {
    let ratings: Vec<i32> = mirror_mirrors::table
        .filter(mirror_mirrors::active.eq(true))
        .select(mirror_mirrors::rating)
        .load(conn)?;
    Ok(ratings.into_iter().map(i64::from).sum())
}
