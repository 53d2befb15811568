//! The databases bounce reads, and how a reader is chosen: the first that has replicated
//! the expected generation, so a lagging replica never fills a cache with old data.

use crate::metrics::Metrics;
use crate::BounceError;
use bouncer_core::cache::Memcached;
use bouncer_core::db::{self, DbConnection, DbPool};
use bouncer_core::selection::{LocationMirrors, MirrorCandidate};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Locations usually share their mirror set (a mirror carries a whole release), so the
/// weighted indexes are built once per distinct candidate list and shared: with 10,000
/// mirrors and 1,000 locations that is one index, not a thousand.
pub struct MirrorSets {
    built: quick_cache::sync::Cache<u64, (Arc<Vec<MirrorCandidate>>, Arc<LocationMirrors>)>,
}

impl MirrorSets {
    pub fn new(capacity: u64) -> Self {
        Self {
            built: quick_cache::sync::Cache::new(
                usize::try_from(capacity).unwrap_or(usize::MAX).max(1),
            ),
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

/// A value read from a database, with what the read was.
pub struct Read<V> {
    pub value: V,
    /// The generation the reader had at least (the expected one when it had caught up).
    pub generation: i64,
    /// No reader had caught up: the freshest one answered.
    pub behind: bool,
}

/// A connection to the first reader at or past `expected`, and that reader's generation;
/// else the freshest reachable reader marked as behind. `Err` when none answers.
pub fn connect(
    sources: &Sources,
    metrics: &Metrics,
    expected: i64,
) -> Result<(db::PooledConn, i64, bool), BounceError> {
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
        metrics.db_queries.inc();
        match bouncer_core::generation::current(&mut conn) {
            Ok(seen) if seen >= expected => return Ok((conn, seen, false)),
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
        Some((seen, conn)) => Ok((conn, seen, true)),
        None => Err(BounceError::Unavailable(format!(
            "database: {}",
            last_error.unwrap_or_else(|| "no database configured".into())
        ))),
    }
}

/// Runs `query` on the first reader that has replicated the expected generation (one
/// extra query per fill). When none has, the freshest reachable one answers and the read
/// says so, for the caller to keep the value only briefly and not share it.
pub fn with_reader<V>(
    sources: &Sources,
    metrics: &Metrics,
    query: impl FnOnce(&mut DbConnection, &Metrics) -> diesel::QueryResult<V>,
) -> Result<Read<V>, BounceError> {
    let expected = sources.generation.load(Ordering::Acquire);
    let (mut conn, seen, behind) = connect(sources, metrics, expected)?;
    if behind {
        tracing::warn!(
            expected,
            seen,
            "no reader has caught up; serving the freshest"
        );
    }
    let value = query(&mut conn, metrics)
        .map_err(|e| BounceError::Unavailable(format!("database: {e}")))?;
    Ok(Read {
        value,
        generation: if behind { seen } else { expected },
        behind,
    })
}
