//! Mirror uptake (how much of the mirror network has a location's file) and the mirror
//! list release automation reads.

use super::{matching_oses, matching_products, sort_key, Match};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::schema::{mirror_location_mirror_map as map, mirror_locations, mirror_mirrors};
use diesel::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

/// Uptake of one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UptakeItem {
    pub product: String,
    pub os: String,
    /// Σ rating of active mirrors whose row for this location is active and healthy.
    pub available: i64,
    /// Σ rating of all active mirrors.
    pub total: i64,
}

/// Uptake of the locations of the matching products on the matching operating systems
/// (a filter left out matches everything; at least one must be given). Sorted by product
/// name, then operating system id.
pub fn uptake(
    conn: &mut DbConnection,
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
            bouncer_core::schema::mirror_products::name,
            bouncer_core::schema::mirror_os::id,
            bouncer_core::schema::mirror_os::name,
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
    let mut locations: Vec<(i32, String, i32, String)> = query.load(conn)?;
    locations.sort_by(|a, b| (sort_key(&a.1), a.2).cmp(&(sort_key(&b.1), b.2)));

    let total: i64 = active_ratings(conn)?;
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
    Ok(locations
        .into_iter()
        .map(|(id, product, _, os)| UptakeItem {
            product,
            os,
            available: available.get(&id).copied().unwrap_or(0),
            total,
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
