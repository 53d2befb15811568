//! The databases bounce reads, and how a reader is chosen: the first that has replicated
//! the expected generation, so a lagging replica never fills a cache with old data.

use crate::metrics::Metrics;
use crate::BounceError;
use bouncer_core::cache::Memcached;
use bouncer_core::db::{self, DbConnection, DbPool};
use bouncer_core::selection::Proximity;
use bouncer_core::selection::{LocationMirrors, MirrorCandidate};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The read side of the databases plus the shared cache, as fills see them.
pub struct Sources {
    /// Replicas in order, then the master when it may be read.
    pub readers: Vec<DbPool>,
    /// One breaker per reader: a reader that failed is skipped until a probe off the
    /// request path finds it answering again (see [`Breaker`]).
    pub breakers: Vec<Arc<Breaker>>,
    /// Counts those probes by outcome.
    probes: prometheus::IntCounterVec,
    pub cache: Option<Arc<Memcached>>,
    /// The catalogue generation this instance expects (0 = not known yet).
    pub generation: AtomicI64,
    /// Built mirror sets shared by every location with the same candidates.
    pub mirror_sets: MirrorSets,
    /// `bounce.proximity` and `bounce.proximity_min_samples`: how sentry's measurements
    /// weigh a region's candidates.
    pub proximity: (Proximity, i32),
}

impl Sources {
    /// `stall_after`: a reader with a call in flight for this long is passed over (see
    /// [`Breaker::stalled`]).
    pub fn new(
        readers: Vec<DbPool>,
        cache: Option<Arc<Memcached>>,
        retry_after: Duration,
        stall_after: Duration,
        probes: prometheus::IntCounterVec,
    ) -> Self {
        Self {
            breakers: readers
                .iter()
                .map(|_| Arc::new(Breaker::new(retry_after, stall_after)))
                .collect(),
            probes,
            readers,
            cache,
            generation: AtomicI64::new(0),
            mirror_sets: MirrorSets::new(10_000),
            proximity: (Proximity::Off, 3),
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

/// Opened by a failure; closed again only by a probe that finds the reader answering. The
/// probe runs on a thread of its own, once per `retry_after` while the breaker is open,
/// so no request ever waits on a reader that failed (the hardening round measured 3 % of
/// requests waiting a whole deadline on a hung replica when the first fill after each
/// interval was the probe). Also tracks
/// the calls in flight on its reader: a database that stalls (connections open, no
/// answers, no error) never fails a call, it holds it — so a reader whose oldest call in
/// flight is older than `stall_after` is passed over like an open breaker, and the watch
/// and fills go on with the next reader instead of queueing behind it.
pub struct Breaker {
    retry_after: Duration,
    stall_after: Duration,
    epoch: Instant,
    /// Open: requests pass the reader over.
    open: AtomicBool,
    /// When (ms since `epoch`) an open breaker's next probe is due.
    probe_at_ms: AtomicU64,
    /// A probe is running (at most one per reader).
    probing: AtomicBool,
    /// Calls in flight, and since when (ms since `epoch`) the count has been above zero.
    in_flight: std::sync::Mutex<(u32, u64)>,
}

/// A call in flight on a reader (see [`Breaker::enter`]); ends when dropped.
pub struct Busy<'a>(&'a Breaker);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if let Ok(mut f) = self.0.in_flight.lock() {
            f.0 = f.0.saturating_sub(1);
            if f.0 == 0 {
                f.1 = 0;
            }
        }
    }
}

impl Breaker {
    fn new(retry_after: Duration, stall_after: Duration) -> Self {
        Self {
            retry_after,
            stall_after,
            epoch: Instant::now(),
            open: AtomicBool::new(false),
            probe_at_ms: AtomicU64::new(0),
            probing: AtomicBool::new(false),
            in_flight: std::sync::Mutex::new((0, 0)),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Whether the caller may probe this reader now: open, its probe due, and no probe
    /// running. True for one caller at a time.
    fn claim_probe(&self) -> bool {
        self.is_open()
            && self.now_ms() >= self.probe_at_ms.load(Ordering::Acquire)
            && !self.probing.swap(true, Ordering::AcqRel)
    }

    /// Whether calls have been in flight on this reader for longer than `stall_after`
    /// without a break: it is not answering.
    pub fn stalled(&self) -> bool {
        let since = self
            .in_flight
            .lock()
            .map_or(0, |f| if f.0 > 0 { f.1 } else { 0 });
        since > 0 && self.now_ms().saturating_sub(since) >= self.stall_after.as_millis() as u64
    }

    /// Marks a call in flight until the guard is dropped.
    pub fn enter(&self) -> Busy<'_> {
        if let Ok(mut f) = self.in_flight.lock() {
            if f.0 == 0 {
                f.1 = self.now_ms().max(1);
            }
            f.0 += 1;
        }
        Busy(self)
    }

    fn trip(&self) {
        let at = self.now_ms() + self.retry_after.as_millis() as u64;
        self.probe_at_ms.store(at, Ordering::Release);
        self.open.store(true, Ordering::Release);
    }

    fn reset(&self) {
        self.open.store(false, Ordering::Release);
    }
}

/// Starts the due probes of open breakers, each on a thread of its own: a connection and
/// the generation query, bounded by the pool's connect timeout and the reader's read
/// timeout. Success closes the breaker; failure keeps it open until the next interval.
fn start_probes(sources: &Sources) {
    for (pool, breaker) in sources.readers.iter().zip(&sources.breakers) {
        if !breaker.claim_probe() {
            continue;
        }
        let (pool, probes) = (pool.clone(), sources.probes.clone());
        let probing = Arc::clone(breaker);
        let spawned = std::thread::Builder::new()
            .name("reader-probe".into())
            .spawn(move || {
                let breaker = probing;
                let answered = db::conn(&pool)
                    .map_err(|e| e.to_string())
                    .and_then(|mut c| {
                        bouncer_core::generation::current(&mut c).map_err(|e| e.to_string())
                    });
                match answered {
                    Ok(_) => {
                        breaker.reset();
                        probes.with_label_values(&["recovered"]).inc();
                        tracing::info!("database reader answers again");
                    }
                    Err(e) => {
                        breaker.trip();
                        probes.with_label_values(&["failed"]).inc();
                        tracing::warn!(error = %e, "database reader still unavailable");
                    }
                }
                breaker.probing.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            breaker.probing.store(false, Ordering::Release);
        }
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

/// A pooled connection to a reader, marked in flight on its breaker while it is used.
pub struct Connected<'a> {
    conn: db::PooledConn,
    _busy: Busy<'a>,
}

impl std::ops::Deref for Connected<'_> {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Connected<'_> {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// The readers that may be asked now: not failed recently and not stalled — or, when
/// every one that has not failed is busy past the stall limit (one slow full load on the
/// only database), those: a slow reader is better than none.
fn usable(sources: &Sources) -> Vec<(&DbPool, &Breaker)> {
    start_probes(sources);
    let closed = || {
        sources
            .readers
            .iter()
            .zip(sources.breakers.iter().map(|b| &**b))
            .filter(|(_, b)| !b.is_open())
    };
    let answering: Vec<_> = closed().filter(|(_, b)| !b.stalled()).collect();
    match answering.is_empty() {
        true => closed().collect(),
        false => answering,
    }
}

/// A connection to the first reader at or past `expected`, and that reader's generation;
/// else the freshest reachable reader marked as behind. `Err` when none answers. Readers
/// that failed recently or are stalled (see [`Breaker`]) are passed over.
pub fn connect<'a>(
    sources: &'a Sources,
    metrics: &Metrics,
    expected: i64,
) -> Result<(Connected<'a>, i64, bool), BounceError> {
    let mut fallback: Option<(i64, Connected<'a>)> = None;
    let mut last_error = None;
    let usable = usable(sources);
    let skipped = sources.readers.len() - usable.len();
    if skipped > 0 {
        last_error = Some(format!(
            "{skipped} reader(s) skipped: failed or not answering"
        ));
    }
    for (pool, breaker) in usable {
        let busy = breaker.enter();
        let conn = match db::conn(pool) {
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
        let mut conn = Connected { conn, _busy: busy };
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

/// A fill's query error: a row bounce cannot decode is its own defect (500, logged as an
/// error, no stale copy papering over it), anything else the database's trouble (503, or
/// the last rows read).
fn query_error(e: diesel::result::Error) -> BounceError {
    match db::classify::is_defect(&e) {
        true => BounceError::Bug(format!("reading the catalogue: {e}")),
        false => BounceError::Unavailable(format!("database: {e}")),
    }
}

/// The generation of the first usable reader that answers (the watch's poll).
pub fn first_generation(sources: &Sources) -> Option<i64> {
    usable(sources).into_iter().find_map(|(pool, breaker)| {
        let _busy = breaker.enter();
        let mut conn = db::conn(pool).ok()?;
        bouncer_core::generation::current(&mut conn).ok()
    })
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
    let value = query(&mut conn, metrics).map_err(query_error)?;
    Ok(Read {
        value,
        generation: if behind { seen } else { expected },
        behind,
    })
}
