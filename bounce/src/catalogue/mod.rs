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
use bouncer_core::selection::{LocationMirrors, MirrorCandidate};
use prometheus::IntCounter;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// In-process lifetime of an entry a lagging reader answered (see [`with_reader`]).
const LAGGING_TTL: Duration = Duration::from_secs(1);

/// The read side of the databases plus the shared cache, as fills see them.
pub struct Sources {
    /// Replicas in order, then the master when it may be read.
    pub readers: Vec<DbPool>,
    /// One breaker per reader: a reader that failed is skipped for a while, so a dead
    /// replica costs one connect timeout per interval, not one per fill.
    pub breakers: Vec<Breaker>,
    pub cache: Option<Arc<Memcached>>,
    /// The catalogue generation this instance expects (0 = not known yet).
    pub generation: AtomicI64,
    /// Built mirror sets shared by every location with the same candidates.
    pub mirror_sets: MirrorSets,
}

/// Locations usually share their mirror set (a mirror carries a whole release), so the
/// weighted indexes are built once per distinct candidate list and shared: with 10,000
/// mirrors and 1,000 locations that is one index, not a thousand.
pub struct MirrorSets {
    built: moka::sync::Cache<u64, (Arc<Vec<MirrorCandidate>>, Arc<LocationMirrors>)>,
}

impl MirrorSets {
    fn new(capacity: u64) -> Self {
        Self {
            built: moka::sync::Cache::builder().max_capacity(capacity).build(),
        }
    }

    /// The shared index for `candidates` (the candidates are compared in full, so a
    /// fingerprint collision builds a new index instead of sharing a wrong one).
    pub fn get_or_build(&self, candidates: Vec<MirrorCandidate>) -> Arc<LocationMirrors> {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&candidates, &mut h);
        let fingerprint = std::hash::Hasher::finish(&h);
        if let Some((known, set)) = self.built.get(&fingerprint) {
            if *known == candidates {
                return set;
            }
        }
        let set = Arc::new(LocationMirrors::build(candidates.iter().cloned()));
        self.built
            .insert(fingerprint, (Arc::new(candidates), Arc::clone(&set)));
        set
    }
}

impl Sources {
    pub fn new(readers: Vec<DbPool>, cache: Option<Arc<Memcached>>, retry_after: Duration) -> Self {
        Self {
            breakers: readers.iter().map(|_| Breaker::new(retry_after)).collect(),
            readers,
            cache,
            generation: AtomicI64::new(0),
            mirror_sets: MirrorSets::new(10_000),
        }
    }
}

/// Open for `retry_after` after a failure; closed again by the next success.
pub struct Breaker {
    retry_after: Duration,
    epoch: Instant,
    open_until_ms: AtomicU64,
}

impl Breaker {
    fn new(retry_after: Duration) -> Self {
        Self {
            retry_after,
            epoch: Instant::now(),
            open_until_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn is_open(&self) -> bool {
        self.open_until_ms.load(Ordering::Relaxed) > self.now_ms()
    }

    fn trip(&self) {
        let until = self.now_ms() + self.retry_after.as_millis() as u64;
        self.open_until_ms.store(until, Ordering::Relaxed);
    }

    fn reset(&self) {
        self.open_until_ms.store(0, Ordering::Relaxed);
    }
}

/// The cached catalogue of one bounce instance.
pub struct Catalogue {
    sources: Arc<Sources>,
    metrics: Arc<Metrics>,
    deadline: Duration,
    snapshot: Tier<(), Snapshot>,
    resolved: Tier<ProductOs, Resolved>,
    mirrors: Tier<i32, Arc<LocationMirrors>>,
    /// When the last answer was served from last-known data (ms since `epoch`, 0 = never).
    stale_served_ms: AtomicU64,
    epoch: Instant,
}

/// One kind of entry: the live in-process cache, and the last value ever filled for each
/// key (no lifetime, not emptied by generation changes) to answer from while the
/// databases are unreachable.
///
/// The live cache is `quick_cache` rather than moka: a hit is a hash lookup under a shard
/// read lock, with no access-order bookkeeping, and its placeholders give one fill per key
/// with the other requests waiting for it. Lifetimes are checked on read.
struct Tier<K, V> {
    live: quick_cache::sync::Cache<K, Live<V>>,
    ttl: Duration,
    last_known: moka::sync::Cache<K, Arc<V>>,
    counters: TierCounters,
}

/// A live entry and when it stops being served.
struct Live<V> {
    value: Arc<V>,
    expires: Instant,
}

impl<V> Clone for Live<V> {
    fn clone(&self) -> Self {
        Self {
            value: Arc::clone(&self.value),
            expires: self.expires,
        }
    }
}

/// A borrowed form of a tier's key: a hit is looked up without allocating; the owned key
/// is made only on a miss.
trait KeyRef<K>: std::hash::Hash + quick_cache::Equivalent<K> {
    fn to_key(&self) -> K;
}

impl<K: std::hash::Hash + Eq + Clone> KeyRef<K> for K {
    fn to_key(&self) -> K {
        self.clone()
    }
}

/// The key of a resolution. `Hash` must match [`ProductOsRef`]'s (both hash two strs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ProductOs {
    product: String,
    os: String,
}

#[derive(Hash)]
struct ProductOsRef<'a> {
    product: &'a str,
    os: &'a str,
}

impl quick_cache::Equivalent<ProductOs> for ProductOsRef<'_> {
    fn equivalent(&self, key: &ProductOs) -> bool {
        self.product == key.product && self.os == key.os
    }
}

impl KeyRef<ProductOs> for ProductOsRef<'_> {
    fn to_key(&self) -> ProductOs {
        ProductOs {
            product: self.product.to_owned(),
            os: self.os.to_owned(),
        }
    }
}

/// This kind's counters, resolved once so that a lookup does not hash label values.
struct TierCounters {
    lookups: IntCounter,
    fills: IntCounter,
    stale: IntCounter,
}

impl TierCounters {
    fn new(metrics: &Metrics, kind: &str) -> Self {
        Self {
            lookups: metrics.cache_lookups.with_label_values(&[kind]),
            fills: metrics.cache_fills.with_label_values(&[kind]),
            stale: metrics.stale_served.with_label_values(&[kind]),
        }
    }
}

impl<K, V> Tier<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn new(capacity: u64, ttl: Duration, counters: TierCounters) -> Self {
        let items = usize::try_from(capacity).unwrap_or(usize::MAX).max(1);
        Self {
            live: quick_cache::sync::Cache::new(items),
            ttl,
            last_known: moka::sync::Cache::builder().max_capacity(capacity).build(),
            counters,
        }
    }

    /// The live value for `key`, if it has not outlived the tier's lifetime.
    fn fresh<Q: KeyRef<K> + ?Sized>(&self, key: &Q) -> Option<Arc<V>> {
        self.live
            .get(key)
            .filter(|e| e.expires > Instant::now())
            .map(|e| e.value)
    }
}

impl Catalogue {
    pub fn new(
        sources: Sources,
        ttl: Duration,
        capacity: u64,
        deadline: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        let ttl = ttl.max(Duration::from_millis(1));
        let counters = |kind| TierCounters::new(&metrics, kind);
        Self {
            snapshot: Tier::new(1, ttl, counters("snapshot")),
            resolved: Tier::new(capacity, ttl, counters("resolve")),
            mirrors: Tier::new(capacity, ttl, counters("mirrors")),
            sources: Arc::new(sources),
            metrics,
            deadline,
            stale_served_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Whether last-known data was served within `window` (for the heartbeat).
    pub fn served_stale_within(&self, window: Duration) -> bool {
        let at = self.stale_served_ms.load(Ordering::Relaxed);
        at > 0 && self.epoch.elapsed().as_millis() as u64 <= at + window.as_millis() as u64
    }

    /// Whether any last-known data exists to fall back on.
    pub fn has_last_known(&self) -> bool {
        self.resolved.last_known.entry_count() > 0 || self.snapshot.last_known.contains_key(&())
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn sources(&self) -> &Arc<Sources> {
        &self.sources
    }

    /// Drops every in-process entry (the generation moved).
    pub fn invalidate(&self) {
        self.snapshot.live.clear();
        self.resolved.live.clear();
        self.mirrors.live.clear();
    }

    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, BounceError> {
        self.cached(&self.snapshot, &(), |s, m, _| {
            with_reader(s, m, load::snapshot)
        })
        .await
    }

    pub async fn resolve(&self, product: &str, os: &str) -> Result<Arc<Resolved>, BounceError> {
        let key = ProductOsRef { product, os };
        self.cached(&self.resolved, &key, |s, m, k: &ProductOs| {
            shared::resolve(s, m, &k.product, &k.os)
        })
        .await
    }

    pub async fn location_mirrors(
        &self,
        location_id: i32,
        snapshot: Arc<Snapshot>,
    ) -> Result<Arc<Arc<LocationMirrors>>, BounceError> {
        self.cached(&self.mirrors, &location_id, move |s, m, id: &i32| {
            shared::location_mirrors(s, m, *id, &snapshot)
        })
        .await
    }

    /// Looks `key` up in process; on a miss runs `fill` once on a blocking thread,
    /// however many requests wait for it. A request waits at most the deadline; when the
    /// fill fails or is late, the last known value answers (or 503 when there is none).
    /// A fill cut off by the deadline still completes on its blocking thread, and what it
    /// wrote to memcached serves the next request.
    async fn cached<Q, K, V, F>(
        &self,
        tier: &Tier<K, V>,
        key: &Q,
        fill: F,
    ) -> Result<Arc<V>, BounceError>
    where
        Q: KeyRef<K> + ?Sized,
        K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
        V: Send + Sync + 'static,
        F: FnOnce(&Sources, &Metrics, &K) -> Result<V, BounceError> + Send + 'static,
    {
        tier.counters.lookups.inc();
        // The hot path: a hit costs one lookup and no allocation.
        if let Some(value) = tier.fresh(key) {
            return Ok(value);
        }
        let key = key.to_key();
        let lookup = async {
            // An expired entry is dropped first, so that the placeholder below is ours
            // (or another request's fill), never the expired value again.
            tier.live.remove_if(&key, |e| e.expires <= Instant::now());
            let guard = match tier.live.get_value_or_guard_async(&key).await {
                Ok(filled) => return Ok(filled.value),
                Err(guard) => guard,
            };
            tier.counters.fills.inc();
            let sources = Arc::clone(&self.sources);
            let metrics = Arc::clone(&self.metrics);
            let filled = key.clone();
            let (value, behind) = tokio::task::spawn_blocking(move || {
                fill_tracking_lag(|| fill(&sources, &metrics, &filled))
            })
            .await
            .map_err(|e| BounceError::Unavailable(e.to_string()))?;
            let value = Arc::new(value?);
            let ttl = if behind {
                tier.ttl.min(LAGGING_TTL)
            } else {
                tier.ttl
            };
            let _ = guard.insert(Live {
                value: Arc::clone(&value),
                expires: Instant::now() + ttl,
            });
            tier.last_known.insert(key.clone(), Arc::clone(&value));
            Ok::<_, BounceError>(value)
        };
        let failure = match tokio::time::timeout(self.deadline, lookup).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer from the databases within {:?}", self.deadline),
        };
        match tier.last_known.get(&key) {
            Some(value) => {
                tier.counters.stale.inc();
                let now = self.epoch.elapsed().as_millis() as u64;
                self.stale_served_ms.store(now.max(1), Ordering::Relaxed);
                Ok(value)
            }
            None => Err(BounceError::Unavailable(failure)),
        }
    }
}

thread_local! {
    /// Set by [`with_reader`] when the fill running on this (blocking) thread was answered
    /// by a reader behind the expected generation. A fill runs start to end on one thread,
    /// so [`Catalogue::cached`] clears it before and reads it after.
    static SERVED_BEHIND: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `fill` and tells whether a lagging reader answered any of its queries. Calls nest:
/// an outer call also sees what an inner one saw.
fn fill_tracking_lag<V>(fill: impl FnOnce() -> V) -> (V, bool) {
    let outer = SERVED_BEHIND.with(|f| f.replace(false));
    let value = fill();
    let behind = SERVED_BEHIND.with(|f| f.get());
    SERVED_BEHIND.with(|f| f.set(outer || behind));
    (value, behind)
}

/// Runs `query` on the first reader that has replicated the expected generation (one
/// extra query per fill). When none has, the freshest reachable one is used, and the
/// entry it gives lives only [`LAGGING_TTL`] in process, so the caught-up data follows
/// within a second.
pub fn with_reader<V>(
    sources: &Sources,
    metrics: &Metrics,
    query: impl FnOnce(&mut DbConnection, &Metrics) -> diesel::QueryResult<V>,
) -> Result<V, BounceError> {
    let expected = sources.generation.load(Ordering::Relaxed);
    let mut fallback: Option<(i64, db::PooledConn)> = None;
    let mut last_error = None;
    for (pool, breaker) in sources.readers.iter().zip(&sources.breakers) {
        if breaker.is_open() {
            last_error.get_or_insert_with(|| "reader skipped after a recent failure".to_owned());
            continue;
        }
        let mut conn = match db::conn(pool) {
            Ok(c) => {
                breaker.reset();
                c
            }
            Err(e) => {
                breaker.trip();
                tracing::warn!(error = %e, "database reader unavailable; skipped for a while");
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
            SERVED_BEHIND.with(|f| f.set(true));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: i32, rating: i32) -> MirrorCandidate {
        MirrorCandidate {
            mirror_id: id,
            base_url: format!("https://m{id}.example/").into(),
            rating,
            mirror_active: true,
            location_active: true,
            healthy: true,
            regions: vec![1],
        }
    }

    #[test]
    fn a_borrowed_resolution_key_finds_the_owned_one() {
        let live = quick_cache::sync::Cache::<ProductOs, u32>::new(16);
        live.insert(
            ProductOsRef {
                product: "firefox",
                os: "win64",
            }
            .to_key(),
            7,
        );
        let found = |product, os| live.get(&ProductOsRef { product, os });
        assert_eq!(found("firefox", "win64"), Some(7));
        assert_eq!(found("firefox", "win"), None);
        assert_eq!(found("firefoxwin", "64"), None, "the two parts stay apart");
    }

    #[test]
    fn equal_candidate_lists_share_one_index() {
        let sets = MirrorSets::new(100);
        let a = sets.get_or_build((0..1000).map(|i| candidate(i, 10)).collect());
        let b = sets.get_or_build((0..1000).map(|i| candidate(i, 10)).collect());
        assert!(Arc::ptr_eq(&a, &b));
        let c = sets.get_or_build((0..1000).map(|i| candidate(i, 11)).collect());
        assert!(!Arc::ptr_eq(&a, &c), "different weights, different index");
    }
}
