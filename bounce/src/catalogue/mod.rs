//! What bounce knows of the catalogue, read through three tiers: an in-process cache
//! (no I/O on a hit), memcached shared by all instances, then the databases (replicas
//! first; the master only as a configured last resort).
//!
//! Entries:
//! - the snapshot of small tables (rules, regions, countries, mirror regions);
//! - a resolution per (product, os): alias, os, product, languages, location;
//! - the weighted mirror indexes per location.
//!
//! Concurrent requests for the same missing key wait for one fill. Writes become visible
//! through the catalogue generation (see `bouncer_core::generation` and [`watch`]): a
//! change empties the in-process tier, shared entries are keyed by generation, and a
//! replica that has not replicated the expected generation is passed over.

mod load;
mod shared;
pub mod watch;

pub use load::{Resolved, Snapshot};

use crate::metrics::Metrics;
use crate::BounceError;
use bouncer_core::cache::Memcached;
use bouncer_core::db::{self, DbConnection, DbPool};
use bouncer_core::selection::LocationMirrors;
use moka::future::Cache;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The read side of the databases plus the shared cache, as fills see them.
pub struct Sources {
    /// Replicas in order, then the master when it may be read.
    pub readers: Vec<DbPool>,
    pub cache: Option<Arc<Memcached>>,
    /// The catalogue generation this instance expects (0 = not known yet).
    pub generation: AtomicI64,
}

/// The cached catalogue of one bounce instance.
pub struct Catalogue {
    sources: Arc<Sources>,
    metrics: Arc<Metrics>,
    snapshot: Cache<(), Arc<Snapshot>>,
    resolved: Cache<(String, String), Arc<Resolved>>,
    mirrors: Cache<i32, Arc<LocationMirrors>>,
}

impl Catalogue {
    pub fn new(sources: Sources, ttl: Duration, capacity: u64, metrics: Arc<Metrics>) -> Self {
        let ttl = ttl.max(Duration::from_millis(1));
        Self {
            sources: Arc::new(sources),
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

    pub fn sources(&self) -> &Arc<Sources> {
        &self.sources
    }

    /// Drops every in-process entry (the generation moved).
    pub fn invalidate(&self) {
        self.snapshot.invalidate_all();
        self.resolved.invalidate_all();
        self.mirrors.invalidate_all();
    }

    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, BounceError> {
        self.cached("snapshot", &self.snapshot, (), |s, m| {
            with_reader(s, m, load::snapshot)
        })
        .await
    }

    pub async fn resolve(&self, product: &str, os: &str) -> Result<Arc<Resolved>, BounceError> {
        let key = (product.to_owned(), os.to_owned());
        let (p, o) = key.clone();
        self.cached("resolve", &self.resolved, key, move |s, m| {
            shared::resolve(s, m, &p, &o)
        })
        .await
    }

    pub async fn location_mirrors(
        &self,
        location_id: i32,
        snapshot: Arc<Snapshot>,
    ) -> Result<Arc<LocationMirrors>, BounceError> {
        self.cached("mirrors", &self.mirrors, location_id, move |s, m| {
            shared::location_mirrors(s, m, location_id, &snapshot)
        })
        .await
    }

    /// Looks `key` up in process; on a miss runs `fill` once on a blocking thread,
    /// however many requests wait for it.
    async fn cached<K, V, F>(
        &self,
        kind: &'static str,
        cache: &Cache<K, Arc<V>>,
        key: K,
        fill: F,
    ) -> Result<Arc<V>, BounceError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Send + Sync + 'static,
        F: FnOnce(&Sources, &Metrics) -> Result<V, BounceError> + Send + 'static,
    {
        self.metrics.cache_lookups.with_label_values(&[kind]).inc();
        let sources = Arc::clone(&self.sources);
        let metrics = Arc::clone(&self.metrics);
        cache
            .try_get_with(key, async move {
                metrics.cache_fills.with_label_values(&[kind]).inc();
                let value = tokio::task::spawn_blocking(move || fill(&sources, &metrics))
                    .await
                    .map_err(|e| BounceError::Unavailable(e.to_string()))??;
                Ok::<_, BounceError>(Arc::new(value))
            })
            .await
            .map_err(|e: Arc<BounceError>| BounceError::Unavailable(e.to_string()))
    }
}

/// Runs `query` on the first reader that has replicated the expected generation (one
/// extra query per fill). When none has, the freshest reachable one is used and the
/// entry is still bounded by the in-process lifetime.
pub fn with_reader<V>(
    sources: &Sources,
    metrics: &Metrics,
    query: impl FnOnce(&mut DbConnection, &Metrics) -> diesel::QueryResult<V>,
) -> Result<V, BounceError> {
    let expected = sources.generation.load(Ordering::Relaxed);
    let mut fallback: Option<(i64, db::PooledConn)> = None;
    let mut last_error = None;
    for pool in &sources.readers {
        let mut conn = match db::conn(pool) {
            Ok(c) => c,
            Err(e) => {
                last_error = Some(e.to_string());
                continue;
            }
        };
        if expected <= 0 {
            return run(&mut conn, metrics, query);
        }
        metrics.db_queries.inc();
        match bouncer_core::generation::current(&mut conn) {
            Ok(seen) if seen >= expected => return run(&mut conn, metrics, query),
            Ok(seen) => {
                metrics.replica_behind.inc();
                if fallback.as_ref().is_none_or(|(best, _)| seen > *best) {
                    fallback = Some((seen, conn));
                }
            }
            Err(e) => last_error = Some(e.to_string()),
        }
    }
    match fallback {
        Some((seen, mut conn)) => {
            tracing::warn!(
                expected,
                seen,
                "no reader has caught up; serving the freshest"
            );
            run(&mut conn, metrics, query)
        }
        None => Err(BounceError::Unavailable(format!(
            "database: {}",
            last_error.unwrap_or_else(|| "no database configured".into())
        ))),
    }
}

fn run<V>(
    conn: &mut DbConnection,
    metrics: &Metrics,
    query: impl FnOnce(&mut DbConnection, &Metrics) -> diesel::QueryResult<V>,
) -> Result<V, BounceError> {
    query(conn, metrics).map_err(|e| BounceError::Unavailable(format!("database: {e}")))
}
