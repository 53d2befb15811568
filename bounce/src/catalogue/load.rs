//! The database side of the catalogue: one function per entry kind, each a few indexed
//! queries on one connection.

use crate::metrics::Metrics;
use bouncer_core::db::DbConnection;
use bouncer_core::rules::RuleSet;
use bouncer_core::schema::*;
use bouncer_core::selection::{MirrorCandidate, RegionPolicy};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The small tables, loaded whole.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub rules: RuleSet,
    pub regions: HashMap<i32, RegionPolicy>,
    /// Upper-case country code → region id.
    pub countries: HashMap<String, i32>,
    pub mirror_regions: HashMap<i32, Vec<i32>>,
}

/// What (product, os) resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resolved {
    NoOs,
    NoProduct,
    NoLocation,
    Found(Target),
}

/// A file bounce can redirect to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub location_id: i32,
    pub path: String,
    pub ssl_only: bool,
    /// Languages as stored; empty = the product accepts every language.
    pub langs: Vec<String>,
}

impl Target {
    /// The language to put in the path: the stored spelling when the product lists
    /// languages (none matching = not offered), else the requested one.
    pub fn language<'a>(&'a self, requested: &'a str) -> Option<&'a str> {
        if self.langs.is_empty() {
            return Some(requested);
        }
        self.langs
            .iter()
            .find(|l| l.eq_ignore_ascii_case(requested))
            .map(String::as_str)
    }
}

pub fn snapshot(c: &mut DbConnection, m: &Metrics) -> QueryResult<Snapshot> {
    m.db_queries.inc_by(4);
    let rows = rules_rows(c)?;
    let (rules, errors) = RuleSet::from_rows(&rows);
    for (id, error) in errors {
        tracing::error!(rule = id, %error, "rewrite rule skipped");
    }
    let regions = geoip_regions::table
        .select((
            geoip_regions::id,
            geoip_regions::throttle,
            geoip_regions::fallback_id,
            geoip_regions::prevent_global_fallback,
        ))
        .load::<(i32, i32, Option<i32>, bool)>(c)?
        .into_iter()
        .map(|(id, throttle, fallback, prevent)| {
            (
                id,
                RegionPolicy {
                    id,
                    throttle,
                    fallback,
                    prevent_global_fallback: prevent,
                },
            )
        })
        .collect();
    let countries = geoip_country_to_region::table
        .filter(geoip_country_to_region::region_id.is_not_null())
        .select((
            geoip_country_to_region::country_code,
            geoip_country_to_region::region_id,
        ))
        .load::<(String, Option<i32>)>(c)?
        .into_iter()
        .filter_map(|(code, region)| Some((code.to_ascii_uppercase(), region?)))
        .collect();
    let mut mirror_regions: HashMap<i32, Vec<i32>> = HashMap::new();
    for (mirror, region) in geoip_mirror_region_map::table
        .select((
            geoip_mirror_region_map::mirror_id,
            geoip_mirror_region_map::region_id,
        ))
        .load::<(i32, i32)>(c)?
    {
        mirror_regions.entry(mirror).or_default().push(region);
    }
    Ok(Snapshot {
        rules,
        regions,
        countries,
        mirror_regions,
    })
}

fn rules_rows(c: &mut DbConnection) -> QueryResult<Vec<bouncer_core::models::RewriteRuleRow>> {
    bouncer_core::rules::load_rows(c).map_err(|e| match e {
        bouncer_core::CoreError::Query(q) => q,
        other => diesel::result::Error::QueryBuilderError(other.to_string().into()),
    })
}

pub fn resolve(
    c: &mut DbConnection,
    m: &Metrics,
    product: &str,
    os: &str,
) -> QueryResult<Resolved> {
    m.db_queries.inc();
    let related: Option<String> = mirror_aliases::table
        .filter(mirror_aliases::alias.eq(product))
        .select(mirror_aliases::related_product)
        .first(c)
        .optional()?;
    let product = related.as_deref().unwrap_or(product);
    m.db_queries.inc();
    let Some(os_id) = mirror_os::table
        .filter(mirror_os::name.eq(os))
        .select(mirror_os::id)
        .first::<i32>(c)
        .optional()?
    else {
        return Ok(Resolved::NoOs);
    };
    m.db_queries.inc();
    let Some((product_id, ssl_only)) = mirror_products::table
        .filter(mirror_products::name.eq(product))
        .select((mirror_products::id, mirror_products::ssl_only))
        .first::<(i32, bool)>(c)
        .optional()?
    else {
        return Ok(Resolved::NoProduct);
    };
    m.db_queries.inc_by(2);
    let langs = mirror_product_langs::table
        .filter(mirror_product_langs::product_id.eq(product_id))
        .select(mirror_product_langs::language)
        .load::<String>(c)?;
    let location = mirror_locations::table
        .filter(mirror_locations::product_id.eq(product_id))
        .filter(mirror_locations::os_id.eq(os_id))
        .select((mirror_locations::id, mirror_locations::path))
        .first::<(i32, String)>(c)
        .optional()?;
    Ok(match location {
        // A path must start with '/': appended to a base URL it then cannot change the
        // host the user is sent to.
        Some((location_id, path)) if path.starts_with('/') => Resolved::Found(Target {
            location_id,
            path,
            ssl_only,
            langs,
        }),
        Some((location_id, path)) => {
            tracing::error!(
                location_id,
                path,
                "location path does not start with '/'; not served"
            );
            Resolved::NoLocation
        }
        None => Resolved::NoLocation,
    })
}

/// One mirror's row for one location, as stored in the shared tier (short field names:
/// a location served by 10,000 mirrors must still fit in one memcached item).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MirrorRow {
    #[serde(rename = "i")]
    pub id: i32,
    #[serde(rename = "b")]
    pub base: String,
    #[serde(rename = "r")]
    pub rating: i32,
    #[serde(rename = "m")]
    pub mirror_active: bool,
    #[serde(rename = "l")]
    pub location_active: bool,
    #[serde(rename = "h")]
    pub healthy: bool,
    /// sentry's ramp after recovery (`bouncer_mirror_health.weight_percent`); no row = 100.
    #[serde(rename = "w")]
    pub weight_percent: Option<i32>,
}

/// The map rows of one location with their mirrors and health.
pub fn mirror_rows(
    c: &mut DbConnection,
    m: &Metrics,
    location_id: i32,
) -> QueryResult<Vec<MirrorRow>> {
    m.db_queries.inc();
    let rows = mirror_location_mirror_map::table
        .inner_join(mirror_mirrors::table.left_join(bouncer_mirror_health::table))
        .filter(mirror_location_mirror_map::location_id.eq(location_id))
        .select((
            mirror_mirrors::id,
            mirror_mirrors::baseurl,
            mirror_mirrors::rating,
            mirror_mirrors::active,
            mirror_location_mirror_map::active,
            mirror_location_mirror_map::healthy,
            bouncer_mirror_health::weight_percent.nullable(),
        ))
        .order(mirror_mirrors::id.asc())
        .load::<(i32, String, i32, bool, bool, bool, Option<i32>)>(c)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, base, rating, mirror_active, location_active, healthy, weight_percent)| {
                MirrorRow {
                    id,
                    base,
                    rating,
                    mirror_active,
                    location_active,
                    healthy,
                    weight_percent,
                }
            },
        )
        .collect())
}

/// Selection candidates from rows: the effective weight is the rating scaled by sentry's
/// ramp (rounded up, so a ramping mirror is never rounded out), regions from the snapshot.
pub fn candidates(rows: Vec<MirrorRow>, snapshot: &Snapshot) -> Vec<MirrorCandidate> {
    rows.into_iter()
        .filter(|r| valid_base(&r.base))
        .map(|r| {
            let pct = i64::from(r.weight_percent.unwrap_or(100).clamp(0, 100));
            let effective = (i64::from(r.rating.max(0)) * pct + 99) / 100;
            MirrorCandidate {
                mirror_id: r.id,
                base_url: r.base.into(),
                rating: i32::try_from(effective).unwrap_or(i32::MAX),
                mirror_active: r.mirror_active,
                location_active: r.location_active,
                healthy: r.healthy,
                regions: snapshot
                    .mirror_regions
                    .get(&r.id)
                    .cloned()
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// A base URL users may be sent to: absolute http(s) with a host, no query or fragment.
fn valid_base(base: &str) -> bool {
    let ok = url::Url::parse(base).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host().is_some()
            && u.query().is_none()
            && u.fragment().is_none()
    });
    if !ok {
        tracing::error!(
            base,
            "mirror base URL is not an absolute http(s) URL; skipped"
        );
    }
    ok
}
