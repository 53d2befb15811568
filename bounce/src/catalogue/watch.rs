//! Watching the catalogue generation and applying the change log, so a committed write
//! reaches every instance within a fraction of a second and costs what it changed.
//!
//! tuxedo and sentry publish each generation's change list and then the generation to
//! memcached after each commit; bounce reads the generation every `generation_poll_ms`.
//! Without a usable published value (no memcached, server down, key evicted) it reads the
//! generation from a database every `generation_db_poll_ms` instead, and while there is
//! one, still every `generation_verify_ms`, so that a write whose publication failed is not
//! missed. The expected generation only moves up, so a late, smaller value from a slow
//! writer cannot hide a newer write.
//!
//! When the expected generation passes the applied one, the lists of the generations in
//! between are taken from memcached (or from the log on a reader that has caught up), the
//! entities they name are read again on such a reader, and the new name space and snapshot
//! are swapped in at once; location rows named are dropped. A generation without a list,
//! or one that says "everything", reloads everything. Nothing is swapped until every read
//! succeeded on a reader that had the expected generation; until then the previous state
//! keeps being served and the next check tries again.
//!
//! Every wait is bounded: reading happens before anything is locked (plan), and only the
//! swap holds the update lock (install, no I/O), checked against the generation it was
//! planned from. A check stuck on a stalled database (no answer, no error) is left to
//! finish on its own after `bounce.reader_timeout_ms`, a second check starts beside it,
//! and the stalled reader is passed over (see `readers::Breaker`), so the instance's view
//! moves on whenever another reader can answer. Nothing installed is ever older than
//! what is served: an instance's view only moves forward.

use super::image::{self, Image};
use super::load;
use super::names::{self, Names};
use super::readers::{connect, first_generation};
use super::{Catalogue, Snapshot, Sources};
use crate::BounceError;
use bouncer_core::changes::{self, Change, Touched};
use bouncer_core::db::{self, DbConnection, DbPool};
use bouncer_core::generation;
use bouncer_service::shutdown::CancellationToken;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Polling intervals.
#[derive(Clone)]
pub struct WatchConfig {
    pub cache_every: Duration,
    pub db_every: Duration,
    /// How often the database is read although memcached has a published value.
    pub verify_every: Duration,
    /// A check running longer than this gets a second one beside it.
    pub deadline: Duration,
    /// The master, asked for its generation when a database poll (no published value)
    /// sees a change: a replica may not have the newest write yet.
    pub master: Option<DbPool>,
}

/// What the watch remembers between checks.
#[derive(Clone, Copy, Debug, Default)]
pub struct WatchState {
    last_db_poll: Option<Instant>,
    /// The last generation read from a database. It is kept between database reads, so a
    /// published value below it (a lost publication) cannot pull the expectation back
    /// down on the checks in between.
    db_value: Option<i64>,
}

/// How many generations' lists are fetched one by one from memcached; a longer gap reads
/// the log from the database in one query.
const MAX_LIST_GETS: i64 = 64;

/// Reads the generation once and catches up with it; returns the expected generation.
/// `state` is only locked around its own reads and writes, never across I/O, so a check
/// stuck on a database does not hold up the next one.
pub fn check(catalogue: &Catalogue, cfg: &WatchConfig, state: &Mutex<WatchState>) -> i64 {
    let sources: &Sources = catalogue.sources();
    let published = sources.cache.as_deref().and_then(generation::published);
    let every = match published {
        Some(_) => cfg.verify_every,
        None => cfg.db_every,
    };
    let due = state.lock().is_ok_and(|mut s| {
        let due = s.last_db_poll.is_none_or(|t| t.elapsed() >= every);
        if due {
            s.last_db_poll = Some(Instant::now());
        }
        due
    });
    if due {
        catalogue.metrics().watch_queries.inc();
        let mut read = first_generation(sources);
        let before = state.lock().ok().and_then(|s| s.db_value);
        if published.is_none() && read != before {
            if let Some(master) = &cfg.master {
                catalogue.metrics().watch_queries.inc();
                read = read.into_iter().chain(read_master(master)).max();
            }
        }
        if let Ok(mut s) = state.lock() {
            s.db_value = read;
        }
    }
    let db_value = state.lock().ok().and_then(|s| s.db_value);
    let observed = published.into_iter().chain(db_value).max();
    if let Some(v) = observed {
        let before = sources.generation.fetch_max(v, Ordering::AcqRel);
        if v > before {
            tracing::info!(
                generation = v,
                previous = before,
                "catalogue generation changed"
            );
        }
    }
    if let Err(e) = catch_up(catalogue) {
        tracing::warn!(error = %e, "catalogue not brought up to date; retrying");
    }
    sources.generation.load(Ordering::Acquire)
}

/// Brings the in-memory catalogue to the expected generation (the fleet's image or a full
/// load the first time). Requests waiting for the first load are let in afterwards, also
/// when catching up from the image failed (the image is then better than nothing), but
/// not before: rows an image-started instance has not yet learnt are stale must not be
/// served.
pub fn catch_up(catalogue: &Catalogue) -> Result<(), BounceError> {
    let done = steps(catalogue);
    catalogue.announce_loaded();
    done
}

/// Plans and installs until up to date: at most an image, its catch-up, and a reload
/// that the catch-up found necessary.
fn steps(catalogue: &Catalogue) -> Result<(), BounceError> {
    for _ in 0..3 {
        match plan(catalogue)? {
            Step::UpToDate => return Ok(()),
            step => install_step(catalogue, step)?,
        }
    }
    Ok(())
}

/// What catching up found to do, read before anything is locked.
enum Step {
    UpToDate,
    /// A whole catalogue: the fleet's image (`shared`: taken from memcached, not to be
    /// stored back) or a full load.
    Whole {
        image: Image,
        shared: bool,
    },
    /// The entries the change log named, read again, over the state at `base`.
    Patch(Patch),
}

/// Patched copies of the name space and snapshot, and the location rows to drop.
struct Patch {
    base: i64,
    target: i64,
    names: Option<Names>,
    snapshot: Option<Snapshot>,
    changes: Vec<(i64, Change)>,
}

/// The I/O of catching up: what to install, read from memcached and a reader at the
/// expected generation.
fn plan(catalogue: &Catalogue) -> Result<Step, BounceError> {
    let sources = catalogue.sources();
    let expected = sources.generation.load(Ordering::Acquire);
    let applied = catalogue.applied();
    if applied == 0 {
        // Starting: the fleet's image, when memcached has one, instead of a full load.
        if let Some(image) = sources.cache.as_deref().and_then(image::take) {
            return Ok(Step::Whole {
                image,
                shared: true,
            });
        }
    }
    if applied > 0 && applied >= expected {
        return Ok(Step::UpToDate);
    }
    let lists = match applied {
        0 => None,
        _ => published_lists(sources, applied, expected),
    };
    let (mut conn, seen, behind) = connect(sources, catalogue.metrics(), expected)?;
    if behind && applied > 0 {
        return Err(BounceError::Unavailable(format!(
            "no reader has generation {expected} yet (freshest: {seen})"
        )));
    }
    sources.generation.fetch_max(seen, Ordering::AcqRel);
    if applied == 0 {
        return load_everything(catalogue, &mut conn, seen);
    }
    let (lists, target) = match lists {
        Some(l) => (l, expected),
        None => {
            catalogue.metrics().db_queries.inc();
            (changes::since(&mut conn, applied)?, seen)
        }
    };
    let complete = (applied + 1..=target).all(|g| lists.contains_key(&g));
    let all: Vec<(i64, Change)> = lists
        .into_iter()
        .filter(|(g, _)| *g <= target)
        .flat_map(|(g, l)| l.into_iter().map(move |c| (g, c)))
        .collect();
    if !complete || all.iter().any(|(_, c)| *c == Change::Everything) {
        tracing::info!(
            from = applied,
            to = target,
            "change log incomplete or says everything; reloading all"
        );
        return load_everything(catalogue, &mut conn, target.max(seen));
    }
    let patch = plan_patch(catalogue, &mut conn, applied, target, all)?;
    Ok(Step::Patch(patch))
}

/// Swaps in what [`plan`] read, unless the catalogue moved meanwhile (another check
/// installed first: the plan is then dropped, never installed over newer state).
fn install_step(catalogue: &Catalogue, step: Step) -> Result<(), BounceError> {
    let _one = catalogue
        .apply_lock
        .lock()
        .map_err(|_| BounceError::Bug("catalogue update lock poisoned".into()))?;
    let applied = catalogue.applied();
    match step {
        Step::UpToDate => {}
        Step::Whole { image, shared } if shared && applied == 0 => {
            install(catalogue, &image);
            catalogue.metrics().image_loads.inc();
        }
        Step::Whole { image, shared } if !shared && image.generation >= applied => {
            install(catalogue, &image);
            catalogue.metrics().full_loads.inc();
        }
        Step::Patch(p) if p.base == applied => {
            let count = p.changes.len() as u64;
            install_patch(catalogue, p);
            catalogue.metrics().changes_applied.inc_by(count);
        }
        _ => tracing::debug!(applied, "a plan older than the catalogue; dropped"),
    }
    Ok(())
}

/// The published lists of the generations after `applied` up to `expected`, when
/// memcached has every one of them.
fn published_lists(
    sources: &Sources,
    applied: i64,
    expected: i64,
) -> Option<BTreeMap<i64, Vec<Change>>> {
    let cache = sources.cache.as_deref()?;
    if expected - applied > MAX_LIST_GETS {
        return None;
    }
    (applied + 1..=expected)
        .map(|g| Some((g, changes::published(cache, g)?)))
        .collect()
}

/// Everything from one connection at generation `seen` or later; location rows read
/// before the oldest generation the log still covers are no longer trusted. The image is
/// stored for the fleet at once (other instances may start from it).
fn load_everything(
    catalogue: &Catalogue,
    conn: &mut DbConnection,
    seen: i64,
) -> Result<Step, BounceError> {
    let m = catalogue.metrics();
    let q = |e: diesel::result::Error| BounceError::Unavailable(format!("database: {e}"));
    let names = names::read_all(conn, m).map_err(q)?;
    let snapshot = load::read_snapshot(conn, m).map_err(q)?;
    m.db_queries.inc_by(3);
    let (horizon, per_location) = changes::location_history(conn, seen)?;
    let image = Image {
        generation: seen,
        names,
        snapshot,
        horizon,
        per_location,
    };
    if let Some(cache) = catalogue.sources().cache.as_deref() {
        image::put(cache, &image);
    }
    Ok(Step::Whole {
        image,
        shared: false,
    })
}

/// Builds and swaps in everything `image` holds.
fn install(catalogue: &Catalogue, image: &Image) {
    catalogue
        .floors
        .reset(image.horizon, image.per_location.iter().copied());
    catalogue.mirrors.live.clear();
    catalogue.install_all(
        image.names.build(),
        image.snapshot.build(),
        image.generation,
    );
    tracing::info!(
        generation = image.generation,
        products = catalogue.names().map_or(0, |n| n.products()),
        "catalogue loaded"
    );
}

/// Reads again what `all` names, into copies of the state at `base`.
fn plan_patch(
    catalogue: &Catalogue,
    conn: &mut DbConnection,
    base: i64,
    target: i64,
    all: Vec<(i64, Change)>,
) -> Result<Patch, BounceError> {
    let m = catalogue.metrics();
    let q = |e: diesel::result::Error| BounceError::Unavailable(format!("database: {e}"));
    let t: Touched = all.iter().map(|(_, c)| c).collect();

    let old_names = catalogue.names()?;
    let names = if !t.names() {
        None
    } else {
        let mut n: Names = (*old_names).clone();
        for &id in &t.products {
            n.set_product(id, names::load_product(conn, m, id).map_err(q)?);
        }
        if t.all_aliases {
            m.db_queries.inc();
            n.replace_aliases(names::load_aliases(conn).map_err(q)?);
        } else {
            for &id in &t.aliases {
                n.set_alias(id, names::load_alias(conn, m, id).map_err(q)?);
            }
        }
        for &id in &t.oses {
            n.set_os(id, names::load_os(conn, m, id).map_err(q)?);
        }
        Some(n)
    };

    let old = catalogue.snapshot()?;
    let snapshot = if !t.snapshot() {
        None
    } else {
        let mut s: Snapshot = (*old).clone();
        s.seq += 1;
        if t.rules {
            s.rules = load::rules(conn, m).map_err(q)?;
        }
        if t.network {
            let reloaded = load::network(conn, m).map_err(q)?;
            (s.regions, s.countries, s.mirror_regions) = reloaded.network;
            s.region_continents = reloaded.continents;
            s.region_rtt = reloaded.rtt;
        }
        for &id in &t.mirrors {
            let (info, regions) = load::mirror(conn, m, id).map_err(q)?;
            match info {
                Some(i) => s.mirrors.insert(id, i),
                None => s.mirrors.remove(&id),
            };
            if !t.network {
                match regions.is_empty() {
                    true => s.mirror_regions.remove(&id),
                    false => s.mirror_regions.insert(id, regions),
                };
            }
        }
        Some(s)
    };
    Ok(Patch {
        base,
        target,
        names,
        snapshot,
        changes: all,
    })
}

/// Swaps a patch in (no I/O).
fn install_patch(catalogue: &Catalogue, p: Patch) {
    // Floors before anything else: a request that reads the new state must not find old
    // rows kept.
    for (g, c) in &p.changes {
        match c {
            Change::Location(id) => catalogue.drop_location(*id, *g),
            Change::AllLocations => catalogue.drop_all_locations(*g),
            _ => {}
        }
    }
    if let Some(n) = p.names {
        catalogue.names.store(Some(Arc::new(n)));
    }
    if let Some(s) = p.snapshot {
        catalogue.snapshot.store(Some(Arc::new(s)));
    }
    catalogue.set_applied(p.target);
}

/// Checks at once and then every `cache_every`, or at once when a writer asks (see
/// [`Catalogue::serve_at_least`]), until `stop` (a check in flight is given until
/// `deadline` to finish), on a blocking thread (requests
/// that arrive before the first load wait for it, see [`Catalogue::ensure_loaded`]). One
/// check at a time, but a check running past `deadline` (stuck on a stalled database)
/// gets one more beside it; a wake during a check starts another as soon as it ends.
pub async fn run(catalogue: Arc<Catalogue>, cfg: WatchConfig, stop: CancellationToken) {
    let state = Arc::new(Mutex::new(WatchState::default()));
    let cfg = Arc::new(cfg);
    let mut tick = tokio::time::interval(cfg.cache_every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let spawn = || {
        let (c, w, s) = (Arc::clone(&catalogue), Arc::clone(&cfg), Arc::clone(&state));
        tokio::task::spawn_blocking(move || {
            check(&c, &w, &s);
        })
    };
    let mut running: Option<(Instant, tokio::task::JoinHandle<()>)> = None;
    let mut beside: Option<tokio::task::JoinHandle<()>> = None;
    let mut again = false;
    loop {
        let finished = async {
            match &mut running {
                Some((_, h)) => {
                    let _ = h.await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let start = tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => true,
            _ = catalogue.woken() => {
                again = true;
                true
            }
            _ = finished => {
                running = None;
                std::mem::take(&mut again)
            }
        };
        if beside.as_ref().is_some_and(|h| h.is_finished()) {
            beside = None;
        }
        match &running {
            None if start => {
                again = false;
                running = Some((Instant::now(), spawn()));
            }
            Some((since, _)) if since.elapsed() >= cfg.deadline && beside.is_none() => {
                catalogue.metrics().watch_stalls.inc();
                tracing::warn!(
                    after_ms = since.elapsed().as_millis() as u64,
                    "a catalogue check is not done (a database not answering); another starts beside it"
                );
                beside = Some(spawn());
            }
            _ => {}
        }
    }
    if let Some((_, check)) = running {
        let _ = tokio::time::timeout(cfg.deadline, check).await;
    }
}

/// The master's generation (the watch's confirmation of a change seen on a replica).
fn read_master(master: &DbPool) -> Option<i64> {
    let mut conn = db::conn(master).ok()?;
    generation::current(&mut conn).ok()
}
