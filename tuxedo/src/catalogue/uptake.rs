//! Uptake (how much of the serving capacity has a location's file: the mirrors, and in CDN
//! mode the pinned CDN as sentry found it) and the mirror list release automation reads.

use super::{matching_oses, matching_products, sort_key, Match};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::schema::{mirror_locations, mirror_mirrors, mirror_products};
use diesel::prelude::*;
use serde::Serialize;

/// Uptake of one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UptakeItem {
    pub product: String,
    pub os: String,
    /// Σ rating of active mirrors whose row for this location is active and healthy, plus
    /// in CDN mode the CDN's share (see [`Cdn`] and `bouncer_core::uptake`).
    pub available: i64,
    /// Σ rating of all active mirrors, plus in CDN mode the CDN's rating.
    pub total: i64,
    /// What of `available` clients reaching bounce over IPv4 / IPv6 can be sent to: a
    /// pair sentry probed per family counts for the families it serves (JSON and UI
    /// only; the XML answer keeps today's bytes).
    pub available_v4: i64,
    pub available_v6: i64,
}

pub use bouncer_core::uptake::Cdn;

/// What a filter matched, or `none` (the filter's "nothing matches" error) when empty:
/// a filter matching nothing is the caller's mistake, not an empty answer.
fn found<T>(matched: Vec<T>, none: TuxedoError) -> Result<Vec<T>> {
    match matched.is_empty() {
        true => Err(none),
        false => Ok(matched),
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
    let products = product
        .map(|m| found(matching_products(conn, m)?, TuxedoError::NoProductsMatch))
        .transpose()?;
    let oses = os
        .map(|m| found(matching_oses(conn, m)?, TuxedoError::NoOsesMatch))
        .transpose()?;
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

    let keys: Vec<(i32, bool)> = locations.iter().map(|l| (l.0, l.4)).collect();
    let capacity = bouncer_core::uptake::capacity(conn, cdn_mode, &keys)?;
    Ok(locations
        .into_iter()
        .map(|(id, product, _, os, _)| {
            let c = capacity.get(&id).copied().unwrap_or_default();
            UptakeItem {
                product,
                os,
                available: c.available,
                total: c.total,
                available_v4: c.available_v4,
                available_v6: c.available_v6,
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
