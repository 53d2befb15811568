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

use super::image::{self, Image};
use super::load;
use super::names::{self, Names};
use super::readers::connect;
use super::{Catalogue, Snapshot, Sources};
use crate::BounceError;
use bouncer_core::changes::{self, Change, Touched};
use bouncer_core::db::{self, DbConnection, DbPool};
use bouncer_core::generation;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Polling intervals.
#[derive(Clone)]
pub struct WatchConfig {
    pub cache_every: Duration,
    pub db_every: Duration,
    /// How often the database is read although memcached has a published value.
    pub verify_every: Duration,
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
pub fn check(catalogue: &Catalogue, cfg: &WatchConfig, state: &mut WatchState) -> i64 {
    let sources: &Sources = catalogue.sources();
    let published = sources.cache.as_deref().and_then(generation::published);
    let every = match published {
        Some(_) => cfg.verify_every,
        None => cfg.db_every,
    };
    if state.last_db_poll.is_none_or(|t| t.elapsed() >= every) {
        state.last_db_poll = Some(Instant::now());
        catalogue.metrics().watch_queries.inc();
        let before = state.db_value;
        state.db_value = read_db(&sources.readers);
        if published.is_none() && state.db_value != before {
            if let Some(master) = &cfg.master {
                catalogue.metrics().watch_queries.inc();
                let truth = read_db(std::slice::from_ref(master));
                state.db_value = state.db_value.into_iter().chain(truth).max();
            }
        }
    }
    let observed = published.into_iter().chain(state.db_value).max();
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
    let _one = catalogue
        .apply_lock
        .lock()
        .map_err(|_| BounceError::Bug("catalogue update lock poisoned".into()))?;
    let done = catch_up_locked(catalogue);
    catalogue.announce_loaded();
    done
}

fn catch_up_locked(catalogue: &Catalogue) -> Result<(), BounceError> {
    let sources = catalogue.sources();
    let expected = sources.generation.load(Ordering::Acquire);
    let mut applied = catalogue.applied();
    if applied == 0 {
        // Starting: the fleet's image, when memcached has one, instead of a full load.
        if let Some(image) = sources.cache.as_deref().and_then(image::take) {
            install(catalogue, &image);
            catalogue.metrics().image_loads.inc();
            applied = image.generation;
        }
    }
    if applied > 0 && applied >= expected {
        return Ok(());
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
    apply(catalogue, &mut conn, &all)?;
    catalogue.set_applied(target);
    catalogue.metrics().changes_applied.inc_by(all.len() as u64);
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
/// before the oldest generation the log still covers are no longer trusted.
fn load_everything(
    catalogue: &Catalogue,
    conn: &mut DbConnection,
    seen: i64,
) -> Result<(), BounceError> {
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
    install(catalogue, &image);
    m.full_loads.inc();
    if let Some(cache) = catalogue.sources().cache.as_deref() {
        image::put(cache, &image);
    }
    Ok(())
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

/// Reads again what `all` names and swaps the result in.
fn apply(
    catalogue: &Catalogue,
    conn: &mut DbConnection,
    all: &[(i64, Change)],
) -> Result<(), BounceError> {
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
            let (network, continents) = load::network(conn, m).map_err(q)?;
            (s.regions, s.countries, s.mirror_regions) = network;
            s.region_continents = continents;
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

    // Floors before anything else: a request that reads the new state must not find old
    // rows kept.
    for (g, c) in all {
        match c {
            Change::Location(id) => catalogue.drop_location(*id, *g),
            Change::AllLocations => catalogue.drop_all_locations(*g),
            _ => {}
        }
    }
    if let Some(n) = names {
        catalogue.names.store(Some(Arc::new(n)));
    }
    if let Some(s) = snapshot {
        catalogue.snapshot.store(Some(Arc::new(s)));
    }
    Ok(())
}

/// Checks at once and then every `cache_every`, or at once when a writer asks (see
/// [`Catalogue::serve_at_least`]), until the process ends, on a blocking thread (requests
/// that arrive before the first load wait for it, see [`Catalogue::ensure_loaded`]).
pub async fn run(catalogue: Arc<Catalogue>, cfg: WatchConfig) {
    let mut state = WatchState::default();
    {
        let cfg = Arc::new(cfg);
        let mut tick = tokio::time::interval(cfg.cache_every.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = catalogue.woken() => {}
            }
            let (c, w) = (Arc::clone(&catalogue), Arc::clone(&cfg));
            let mut next = state;
            let done = tokio::task::spawn_blocking(move || {
                check(&c, &w, &mut next);
                next
            })
            .await;
            state = done.unwrap_or(state);
        }
    }
}

/// The generation of the first database that answers.
fn read_db(pools: &[DbPool]) -> Option<i64> {
    pools.iter().find_map(|p| {
        let mut conn = db::conn(p).ok()?;
        generation::current(&mut conn).ok()
    })
}
