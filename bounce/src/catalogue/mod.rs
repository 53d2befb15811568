//! What bounce knows of the catalogue.
//!
//! - The name space ([`names::Names`]: products, languages, locations, aliases, OSes) and
//!   the snapshot of small tables ([`Snapshot`]: rules, regions, countries, mirrors) are
//!   whole in memory, behind `ArcSwap`s: a request reads them with no lock and no I/O, and
//!   a name that does not exist costs nothing.
//! - The mirror rows of each location are read through three tiers: an in-process cache,
//!   memcached shared by all instances, then the databases (replicas first; the master
//!   only as a configured last resort). Their weighted indexes are built once per distinct
//!   candidate list and rebuilt in memory when the snapshot changes.
//!
//! Writes arrive as a change log (see `bouncer_core::changes` and [`watch`]): each names
//! what it changed, and exactly that is reloaded or dropped; everything else stays cached.
//! Every location entry carries the generation it was read at, and the generation of the
//! last change to its rows is remembered ([`Floors`]), so an entry read before a change —
//! in memcached, or by a request that started before it — is never served after it.

mod explain;
mod floors;
mod image;
mod load;
pub mod names;
mod readers;
mod shared;
pub mod watch;

pub use explain::Vantaged;
pub use load::Snapshot;
pub use readers::Sources;

use crate::files::Files;
use crate::metrics::Metrics;
use crate::BounceError;
use arc_swap::ArcSwapOption;
use bouncer_core::networks::Family;
use bouncer_core::selection::LocationMirrors;
use floors::Floors;
use load::LocationRows;
use names::Names;
use prometheus::IntCounter;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// In-process lifetime of an entry a lagging reader answered: the caught-up data follows
/// within a second.
const LAGGING_TTL: Duration = Duration::from_secs(1);

/// One location's mirror rows and the index built from them.
#[derive(Clone)]
struct LocationEntry {
    rows: Arc<LocationRows>,
    files: Arc<Files>,
    /// The snapshot `seq` the index was built with.
    seq: u64,
    sets: Sets,
    expires: Instant,
}

/// What a mirror list needs of one location: every candidate, eligible or not, sentry's
/// reasons by mirror id, and what a redirect would use.
pub struct Listing {
    pub all: Vec<bouncer_core::selection::MirrorCandidate>,
    pub reasons: std::collections::HashMap<i32, String>,
    pub found: Located,
    /// What several vantages say of each mirror for this client (issue 32).
    pub vantages: std::collections::HashMap<i32, Vantaged>,
}

/// What a request needs of one location: its weighted mirror index and its files.
#[derive(Clone)]
pub struct Located {
    pub sets: Sets,
    pub files: Arc<Files>,
}

/// A location's weighted index per address family (often one index, shared), and per
/// region where several vantages' verdicts differ by region (issue 32; usually none).
#[derive(Clone)]
pub struct Sets {
    pub v4: Arc<LocationMirrors>,
    pub v6: Arc<LocationMirrors>,
    /// The indexes of each region a verdict names.
    pub regional: Arc<[Regional]>,
}

/// (region, IPv4 index, IPv6 index).
pub type Regional = (i32, Arc<LocationMirrors>, Arc<LocationMirrors>);

impl Located {
    /// The index for clients that reached bounce over `family`, in no region a vantage
    /// speaks for.
    pub fn set(&self, family: Family) -> &Arc<LocationMirrors> {
        self.set_in(family, None)
    }

    /// The index for clients of `family` in `region`.
    pub fn set_in(&self, family: Family, region: Option<i32>) -> &Arc<LocationMirrors> {
        let regional = region.and_then(|g| self.sets.regional.iter().find(|r| r.0 == g));
        match (family, regional) {
            (Family::V4, Some((_, v4, _))) => v4,
            (Family::V6, Some((_, _, v6))) => v6,
            (Family::V4, None) => &self.sets.v4,
            (Family::V6, None) => &self.sets.v6,
        }
    }

    fn of(e: LocationEntry) -> Self {
        Self {
            sets: e.sets,
            files: e.files,
        }
    }
}

/// The in-process tier of location entries, and the last rows ever read for each location
/// (no lifetime, not dropped by changes) to answer from while the databases are
/// unreachable.
struct Tier {
    live: quick_cache::sync::Cache<i32, LocationEntry>,
    ttl: Duration,
    /// With the files built from them once (their build id keys the digest values).
    last_known: quick_cache::sync::Cache<i32, (Arc<LocationRows>, Arc<Files>)>,
    lookups: IntCounter,
    fills: IntCounter,
    stale: IntCounter,
}

/// The cached catalogue of one bounce instance.
pub struct Catalogue {
    sources: Arc<Sources>,
    metrics: Arc<Metrics>,
    deadline: Duration,
    names: ArcSwapOption<Names>,
    snapshot: ArcSwapOption<Snapshot>,
    /// The generation `names` and `snapshot` reflect (0 = not loaded).
    applied: AtomicI64,
    mirrors: Tier,
    floors: Floors,
    /// When the last answer was served from last-known data (ms since `epoch`, 0 = never).
    stale_served_ms: AtomicU64,
    epoch: Instant,
    /// Held while the catalogue is brought up to date (see [`watch::catch_up`]).
    apply_lock: std::sync::Mutex<()>,
    /// Becomes true with the first load.
    loaded: tokio::sync::watch::Sender<bool>,
    /// Set with `loaded`: the check each request makes.
    ready: AtomicBool,
    /// `applied` as it moves, for writers waiting until this instance serves their write
    /// (see [`Catalogue::serve_at_least`]).
    applied_tx: tokio::sync::watch::Sender<i64>,
    /// Wakes the watch at once instead of at its next tick.
    wake: tokio::sync::Notify,
}

impl Catalogue {
    pub fn new(
        sources: Sources,
        ttl: Duration,
        capacity: u64,
        deadline: Duration,
        metrics: Arc<Metrics>,
    ) -> Self {
        let items = usize::try_from(capacity).unwrap_or(usize::MAX).max(1);
        let mirrors = Tier {
            live: quick_cache::sync::Cache::new(items),
            ttl: ttl.max(Duration::from_millis(1)),
            last_known: quick_cache::sync::Cache::new(items),
            lookups: metrics.cache_lookups.with_label_values(&["mirrors"]),
            fills: metrics.cache_fills.with_label_values(&["mirrors"]),
            stale: metrics.stale_served.with_label_values(&["mirrors"]),
        };
        Self {
            sources: Arc::new(sources),
            metrics,
            deadline,
            names: ArcSwapOption::empty(),
            snapshot: ArcSwapOption::empty(),
            applied: AtomicI64::new(0),
            mirrors,
            floors: Floors::default(),
            stale_served_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            apply_lock: std::sync::Mutex::new(()),
            loaded: tokio::sync::watch::Sender::new(false),
            ready: AtomicBool::new(false),
            applied_tx: tokio::sync::watch::Sender::new(0),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// A writer's call (see `bouncer_core::fleet`): raises the expected generation to
    /// `generation`, wakes the watch to catch up now, and waits at most `within` until the
    /// catalogue serves it. Returns the generation applied then. Nothing here touches the
    /// request path: requests keep reading the swapped-in state without a lock.
    pub async fn serve_at_least(&self, generation: i64, within: Duration) -> i64 {
        self.sources
            .generation
            .fetch_max(generation, Ordering::AcqRel);
        let mut applied = self.applied_tx.subscribe();
        if *applied.borrow() >= generation {
            return self.applied();
        }
        self.wake.notify_one();
        let _ = tokio::time::timeout(within, applied.wait_for(|a| *a >= generation)).await;
        self.applied()
    }

    /// Resolves when a writer asked for a catch-up (see [`Self::serve_at_least`]).
    pub async fn woken(&self) {
        self.wake.notified().await
    }

    /// Records the generation the in-memory catalogue now reflects.
    fn set_applied(&self, generation: i64) {
        self.applied.store(generation, Ordering::Release);
        self.applied_tx.send_replace(generation);
    }

    /// Whether last-known data was served within `window` (for the heartbeat).
    pub fn served_stale_within(&self, window: Duration) -> bool {
        let at = self.stale_served_ms.load(Ordering::Relaxed);
        at > 0 && self.epoch.elapsed().as_millis() as u64 <= at + window.as_millis() as u64
    }

    /// Whether the catalogue is loaded (it is then kept through database outages).
    pub fn has_last_known(&self) -> bool {
        self.names.load().is_some()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn sources(&self) -> &Arc<Sources> {
        &self.sources
    }

    /// The generation the in-memory catalogue reflects (0 = not loaded yet).
    pub fn applied(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    fn not_loaded() -> BounceError {
        BounceError::Unavailable("the catalogue has not been loaded yet".into())
    }

    pub fn snapshot(&self) -> Result<Arc<Snapshot>, BounceError> {
        self.snapshot.load_full().ok_or_else(Self::not_loaded)
    }

    /// Before the first load (just after start, or while the databases were unreachable
    /// at start): a request waits for the watch to load the catalogue, within the request
    /// deadline.
    pub async fn ensure_loaded(&self) -> Result<(), BounceError> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut loaded = self.loaded.subscribe();
        let wait = async { loaded.wait_for(|done| *done).await.is_ok() };
        match tokio::time::timeout(self.deadline, wait).await {
            Ok(true) => Ok(()),
            _ => Err(Self::not_loaded()),
        }
    }

    pub fn names(&self) -> Result<Arc<Names>, BounceError> {
        self.names.load_full().ok_or_else(Self::not_loaded)
    }

    /// The weighted mirror index of one location and its files. A hit costs one lookup; an entry built
    /// with an older snapshot is rebuilt in memory from its rows; a miss reads the rows
    /// once (memcached, then a reader) however many requests wait for them, within the
    /// request deadline, and falls back to the last rows read when that fails.
    pub async fn location_mirrors(
        &self,
        location_id: i32,
        snapshot: &Arc<Snapshot>,
    ) -> Result<Located, BounceError> {
        let tier = &self.mirrors;
        tier.lookups.inc();
        if let Some(e) = tier.live.get(&location_id) {
            if e.expires > Instant::now() {
                if e.seq == snapshot.seq {
                    return Ok(Located::of(e));
                }
                return Ok(self.rebuild(location_id, e, snapshot));
            }
        }
        let lookup = async {
            tier.live
                .remove_if(&location_id, |e| e.expires <= Instant::now());
            let guard = match tier.live.get_value_or_guard_async(&location_id).await {
                Ok(e) if e.seq == snapshot.seq => return Ok(Located::of(e)),
                Ok(e) => return Ok(self.rebuild(location_id, e, snapshot)),
                Err(guard) => guard,
            };
            tier.fills.inc();
            let floor = self.floors.get(location_id);
            let (sources, metrics) = (Arc::clone(&self.sources), Arc::clone(&self.metrics));
            let read = tokio::task::spawn_blocking(move || {
                shared::location_rows(&sources, &metrics, location_id, floor)
            })
            .await
            .map_err(|e| match e.is_panic() {
                true => BounceError::Bug(format!("mirror rows fill panicked: {e}")),
                false => BounceError::Unavailable(e.to_string()),
            })??;
            let rows = Arc::new(read.value);
            let files = Arc::new(Files::new(&rows.files));
            tier.last_known
                .insert(location_id, (Arc::clone(&rows), Arc::clone(&files)));
            let sets = self.build(&rows, snapshot);
            let ttl = if read.behind { LAGGING_TTL } else { tier.ttl };
            let entry = LocationEntry {
                files,
                rows,
                seq: snapshot.seq,
                sets,
                expires: Instant::now() + tier.ttl.min(ttl),
            };
            let found = Located::of(entry.clone());
            // Rows read before the location's last change answer this request (they were
            // current when it began) but are not kept: checked before and after storing,
            // so a change recorded in between still removes them.
            if read.generation >= self.floors.get(location_id) {
                let _ = guard.insert(entry);
                if read.generation < self.floors.get(location_id) {
                    tier.live.remove(&location_id);
                }
            }
            Ok::<_, BounceError>(found)
        };
        let failure = match tokio::time::timeout(self.deadline, lookup).await {
            Ok(Ok(found)) => return Ok(found),
            Ok(Err(e @ BounceError::Bug(_))) => return Err(e),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer from the databases within {:?}", self.deadline),
        };
        match tier.last_known.get(&location_id) {
            Some((rows, files)) => {
                tier.stale.inc();
                let now = self.epoch.elapsed().as_millis() as u64;
                self.stale_served_ms.store(now.max(1), Ordering::Relaxed);
                Ok(Located {
                    sets: self.build(&rows, snapshot),
                    files,
                })
            }
            None => Err(BounceError::Unavailable(failure)),
        }
    }

    /// The location's index per address family; one shared index when sentry has no
    /// per-family rows for it (the builder deduplicates equal candidate lists).
    fn build(&self, rows: &LocationRows, snapshot: &Snapshot) -> Sets {
        let near = self.sources.proximity;
        let one = |f, region| {
            let all = load::candidates(&rows.mirrors, snapshot, f, region, near);
            self.sources.mirror_sets.get_or_build(all)
        };
        let mut regions: std::collections::BTreeSet<i32> = rows
            .mirrors
            .iter()
            .flat_map(|r| r.verdict_regions())
            .collect();
        if near.0 != bouncer_core::selection::Proximity::Off {
            regions.extend(snapshot.region_rtt.keys().map(|(g, _)| *g));
        }
        Sets {
            v4: one(Family::V4, None),
            v6: one(Family::V6, None),
            regional: regions
                .into_iter()
                .map(|g| (g, one(Family::V4, Some(g)), one(Family::V6, Some(g))))
                .collect(),
        }
    }

    /// Every mirror row of a location with what the snapshot says of its mirror, eligible
    /// or not, and sentry's reason per mirror (for the mirror list that explains the
    /// choice); the cached rows, read as a redirect reads them.
    pub async fn location_candidates(
        &self,
        location_id: i32,
        snapshot: &Arc<Snapshot>,
        family: Family,
        region: Option<i32>,
    ) -> Result<Listing, BounceError> {
        let found = self.location_mirrors(location_id, snapshot).await?;
        let rows = match self.mirrors.live.get(&location_id) {
            Some(e) => e.rows,
            None => self
                .mirrors
                .last_known
                .get(&location_id)
                .map(|(rows, _)| rows)
                .unwrap_or_default(),
        };
        let reasons = rows
            .mirrors
            .iter()
            .filter_map(|r| {
                // The host has no address of the family (sentry keeps no rows for it).
                let missing = snapshot.mirrors.get(&r.id).is_some_and(|m| !m.has(family));
                // Several vantages decide (issue 32): their reason, or none when they
                // serve it whatever sentry's own probes said.
                if let Some(v) = r.verdict(family, region).filter(|_| !missing) {
                    return (!v.healthy).then(|| {
                        let why = match v.region {
                            0 => format!("down by the vantages' rule: {}", v.reason),
                            _ => format!("down for this region's vantages: {}", v.reason),
                        };
                        (r.id, why)
                    });
                }
                match r.family_reason(family) {
                    _ if missing && r.healthy => Some((
                        r.id,
                        format!("over {}: {}", family.name(), family.no_address()),
                    )),
                    Some(why) if r.healthy => {
                        Some((r.id, format!("over {}: {why}", family.name())))
                    }
                    _ => (!r.reason.is_empty()).then(|| (r.id, r.reason.clone())),
                }
            })
            .collect();
        let vantages = explain::explain(
            &rows.mirrors,
            snapshot,
            family,
            region,
            self.sources.proximity.1,
        );
        Ok(Listing {
            vantages,
            all: load::candidates(
                &rows.mirrors,
                snapshot,
                family,
                region,
                self.sources.proximity,
            ),
            reasons,
            found,
        })
    }

    /// The entry's rows with the current snapshot (no I/O); replaces the entry only if it
    /// is still there, so a location dropped meanwhile is not brought back.
    fn rebuild(&self, id: i32, e: LocationEntry, snapshot: &Snapshot) -> Located {
        let fresh = LocationEntry {
            seq: snapshot.seq,
            sets: self.build(&e.rows, snapshot),
            ..e
        };
        let found = Located::of(fresh.clone());
        let _ = self.mirrors.live.replace(id, fresh, true);
        found
    }

    /// Publishes a fully loaded catalogue at `generation`.
    fn install_all(&self, names: Names, mut snapshot: Snapshot, generation: i64) {
        let seq = self.snapshot.load().as_ref().map_or(0, |s| s.seq + 1);
        snapshot.seq = seq;
        self.names.store(Some(Arc::new(names)));
        self.snapshot.store(Some(Arc::new(snapshot)));
        self.set_applied(generation);
    }

    /// Lets requests in that waited for the first load (see [`Self::ensure_loaded`]).
    fn announce_loaded(&self) {
        if self.names.load().is_some() && !self.ready.swap(true, Ordering::AcqRel) {
            self.loaded.send_replace(true);
        }
    }

    /// The location rows read before `generation` are no longer served anywhere.
    fn drop_all_locations(&self, generation: i64) {
        self.floors.raise_all(generation);
        self.mirrors.live.clear();
    }

    fn drop_location(&self, id: i32, generation: i64) {
        self.floors.raise(id, generation);
        self.mirrors.live.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bouncer_core::selection::MirrorCandidate;

    fn candidate(id: i32, rating: i32) -> MirrorCandidate {
        MirrorCandidate {
            mirror_id: id,
            base_url: format!("https://m{id}.example/").into(),
            rating,
            mirror_active: true,
            location_active: true,
            healthy: true,
            regions: vec![1],
            reach: Default::default(),
        }
    }

    #[test]
    fn equal_candidate_lists_share_one_index() {
        let sets = readers::MirrorSets::new(100);
        let a = sets.get_or_build((0..1000).map(|i| candidate(i, 10)).collect());
        let b = sets.get_or_build((0..1000).map(|i| candidate(i, 10)).collect());
        assert!(Arc::ptr_eq(&a, &b));
        let c = sets.get_or_build((0..1000).map(|i| candidate(i, 11)).collect());
        assert!(!Arc::ptr_eq(&a, &c), "different weights, different index");
    }
}
