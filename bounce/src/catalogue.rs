//! What bounce knows of the catalogue, read through an in-process cache.
//!
//! Three kinds of entry, each filled by one blocking database job on a miss (concurrent
//! requests for the same missing key wait for that one fill):
//! - the snapshot of small tables (rules, regions, countries, mirror regions);
//! - a resolution per (product, os): alias, os, product, languages, location;
//! - the weighted mirror indexes per location.

use crate::metrics::Metrics;
use crate::BounceError;
use bouncer_core::db::{self, DbConnection, DbPool};
use bouncer_core::rules::RuleSet;
use bouncer_core::schema::*;
use bouncer_core::selection::{LocationMirrors, MirrorCandidate, RegionPolicy};
use diesel::prelude::*;
use moka::future::Cache;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    NoOs,
    NoProduct,
    NoLocation,
    Found(Target),
}

/// A file bounce can redirect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub location_id: i32,
    pub path: Arc<str>,
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

/// The cached catalogue of one bounce instance.
pub struct Catalogue {
    readers: Arc<Vec<DbPool>>,
    metrics: Arc<Metrics>,
    snapshot: Cache<(), Arc<Snapshot>>,
    resolved: Cache<(String, String), Arc<Resolved>>,
    mirrors: Cache<i32, Arc<LocationMirrors>>,
}

impl Catalogue {
    pub fn new(readers: Vec<DbPool>, ttl: Duration, capacity: u64, metrics: Arc<Metrics>) -> Self {
        let ttl = ttl.max(Duration::from_millis(1));
        Self {
            readers: Arc::new(readers),
            metrics,
            snapshot: Cache::builder().max_capacity(1).time_to_live(ttl).build(),
            resolved: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            mirrors: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The read pools (for the heartbeat).
    pub fn readers(&self) -> Vec<DbPool> {
        self.readers.as_ref().clone()
    }

    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, BounceError> {
        self.cached("snapshot", &self.snapshot, (), load_snapshot)
            .await
    }

    pub async fn resolve(&self, product: &str, os: &str) -> Result<Arc<Resolved>, BounceError> {
        let (p, o) = (product.to_owned(), os.to_owned());
        self.cached(
            "resolve",
            &self.resolved,
            (p.clone(), o.clone()),
            move |c, m| resolve(c, m, &p, &o),
        )
        .await
    }

    pub async fn location_mirrors(
        &self,
        location_id: i32,
        snapshot: Arc<Snapshot>,
    ) -> Result<Arc<LocationMirrors>, BounceError> {
        self.cached("mirrors", &self.mirrors, location_id, move |c, m| {
            load_location_mirrors(c, m, location_id, &snapshot)
        })
        .await
    }

    /// Looks `key` up; on a miss runs `fill` once on a blocking thread with a reader
    /// connection, however many requests wait for it.
    async fn cached<K, V, F>(
        &self,
        tier: &'static str,
        cache: &Cache<K, Arc<V>>,
        key: K,
        fill: F,
    ) -> Result<Arc<V>, BounceError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
        F: FnOnce(&mut DbConnection, &Metrics) -> QueryResult<V> + Send + 'static,
    {
        self.metrics.cache_lookups.with_label_values(&[tier]).inc();
        let readers = Arc::clone(&self.readers);
        let metrics = Arc::clone(&self.metrics);
        cache
            .try_get_with(key, async move {
                metrics.cache_fills.with_label_values(&[tier]).inc();
                let job = tokio::task::spawn_blocking(move || -> Result<V, BounceError> {
                    let mut conn = reader_conn(&readers)?;
                    fill(&mut conn, &metrics)
                        .map_err(|e| BounceError::Unavailable(format!("database: {e}")))
                });
                let value = job
                    .await
                    .map_err(|e| BounceError::Unavailable(e.to_string()))??;
                Ok::<_, BounceError>(Arc::new(value))
            })
            .await
            .map_err(|e: Arc<BounceError>| BounceError::Unavailable(e.to_string()))
    }
}

/// A connection from the first reader that gives one.
fn reader_conn(readers: &[DbPool]) -> Result<db::PooledConn, BounceError> {
    let mut last = None;
    for pool in readers {
        match db::conn(pool) {
            Ok(c) => return Ok(c),
            Err(e) => last = Some(e),
        }
    }
    Err(BounceError::Unavailable(match last {
        Some(e) => e.to_string(),
        None => "no database configured".into(),
    }))
}

fn load_snapshot(c: &mut DbConnection, m: &Metrics) -> QueryResult<Snapshot> {
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

fn resolve(c: &mut DbConnection, m: &Metrics, product: &str, os: &str) -> QueryResult<Resolved> {
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
            path: path.into(),
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

fn load_location_mirrors(
    c: &mut DbConnection,
    m: &Metrics,
    location_id: i32,
    snapshot: &Snapshot,
) -> QueryResult<LocationMirrors> {
    m.db_queries.inc();
    let rows = mirror_location_mirror_map::table
        .inner_join(mirror_mirrors::table)
        .filter(mirror_location_mirror_map::location_id.eq(location_id))
        .select((
            mirror_mirrors::id,
            mirror_mirrors::baseurl,
            mirror_mirrors::rating,
            mirror_mirrors::active,
            mirror_location_mirror_map::active,
            mirror_location_mirror_map::healthy,
        ))
        .load::<(i32, String, i32, bool, bool, bool)>(c)?;
    Ok(LocationMirrors::build(
        rows.into_iter().filter(|r| valid_base(&r.1)).map(
            |(id, base, rating, mirror_active, location_active, healthy)| MirrorCandidate {
                mirror_id: id,
                base_url: base.into(),
                rating,
                mirror_active,
                location_active,
                healthy,
                regions: snapshot
                    .mirror_regions
                    .get(&id)
                    .cloned()
                    .unwrap_or_default(),
            },
        ),
    ))
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
