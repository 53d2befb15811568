//! Watching the catalogue generation, so a committed write reaches every instance within
//! a fraction of a second without a database query per request.
//!
//! tuxedo and sentry publish the generation to memcached after each commit; bounce reads
//! it every `generation_poll_ms`. Without a usable published value (no memcached, server
//! down, key evicted) it reads the generation from a database every
//! `generation_db_poll_ms` instead, and while there is one, still every
//! `generation_verify_ms`, so that a write whose publication failed is not missed. When
//! the expected generation moves the in-process tier is emptied; it becomes the larger of
//! the observed value and the master's, so a late, smaller value from a slow writer cannot
//! hide a newer write.

use super::{Catalogue, Sources};
use bouncer_core::db::{self, DbPool};
use bouncer_core::generation;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Polling intervals and where the truth lives.
#[derive(Clone)]
pub struct WatchConfig {
    pub cache_every: Duration,
    pub db_every: Duration,
    /// How often the database is read although memcached has a published value.
    pub verify_every: Duration,
    /// The master, asked for its generation when a change is seen (if configured).
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
    seen: Option<i64>,
}

/// Reads the generation once and applies a change; returns the expected generation.
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
        state.db_value = read_db(&sources.readers);
    }
    let observed = match (published, state.db_value) {
        (Some(p), Some(d)) => Some(p.max(d)),
        (p, d) => p.or(d),
    };
    if let Some(v) = observed {
        if state.seen != Some(v) {
            let master = cfg.master.as_ref().and_then(|p| {
                catalogue.metrics().watch_queries.inc();
                read_db(std::slice::from_ref(p))
            });
            let expected = v.max(master.unwrap_or(0));
            let before = sources.generation.swap(expected, Ordering::Relaxed);
            if before != 0 && before != expected {
                catalogue.invalidate();
            }
            if before != expected {
                tracing::info!(
                    generation = expected,
                    previous = before,
                    "catalogue generation changed"
                );
            }
            state.seen = Some(v);
        }
    }
    sources.generation.load(Ordering::Relaxed)
}

/// Checks once now (so the first requests already know the generation), then on a
/// blocking thread every `cache_every` until the process ends.
pub fn start(catalogue: Arc<Catalogue>, cfg: WatchConfig) {
    let mut state = WatchState::default();
    check(&catalogue, &cfg, &mut state);
    tokio::spawn(async move {
        let cfg = Arc::new(cfg);
        let mut tick = tokio::time::interval(cfg.cache_every.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let (c, w) = (Arc::clone(&catalogue), Arc::clone(&cfg));
            let mut next = state;
            let done = tokio::task::spawn_blocking(move || {
                check(&c, &w, &mut next);
                next
            })
            .await;
            state = done.unwrap_or(state);
        }
    });
}

/// The generation of the first database that answers.
fn read_db(pools: &[DbPool]) -> Option<i64> {
    pools.iter().find_map(|p| {
        let mut conn = db::conn(p).ok()?;
        generation::current(&mut conn).ok()
    })
}
