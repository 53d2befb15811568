//! bounce, built from a listener and a configuration so tests run the real service on
//! port 0.

mod accept;
mod access_log;
mod asn;
mod attribution;
mod catalogue;
mod choice;
mod counting;
mod documents;
mod error;
mod filename;
mod files;
mod fleet;
mod geo;
mod health;
mod html;
mod link_budget;
mod links;
mod metrics;
mod outcome;
mod redirect;
mod request;
mod respond;
mod routes;
mod shipping;
mod state;

pub use error::BounceError;
pub use state::AppState;

use actix_web::web;
use bouncer_core::config::Config;
use bouncer_service::shutdown::Background;
use bouncer_service::Application;
use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

/// Builds the state (pools, metrics), the background loops (catalogue watch, fleet lease,
/// GeoIP reloads) and the HTTP server on `listener`, all of which stop when `shutdown`
/// resolves (see [`bouncer_service::shutdown`]).
pub fn build(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Application, BounceError> {
    if config.database.migrate_on_start {
        bouncer_service::migrate(&config)?;
    }
    let fleet = fleet::Fleet::from_config(&config, listener.local_addr()?)?.map(Arc::new);
    let state = web::Data::new(AppState::new(config)?);
    tracing::info!(config = %state.config.redacted(), "bounce starting");
    if let Some(n) = state.config.bounce.link_cache_entries {
        tracing::warn!(
            link_cache_entries = n,
            "bounce.link_cache_entries is ignored: the Link cache is budgeted in bytes by bounce.link_cache_mb"
        );
    }
    let every = std::time::Duration::from_secs(state.config.geoip.reload_check_secs);
    let background = Background::new();
    state.geo.spawn_reloader(every, &background);
    state.asn.spawn_reloader(every, &background);
    // Download statistics: counted per worker when something sends them to tuxedo.
    let b = &state.config.bounce;
    let drain = std::time::Duration::from_secs(b.stats_drain_secs);
    let window = std::time::Duration::from_secs(b.stats_range_window_secs);
    let mut tallies = counting::Tallies::new(b.stats_max_counts, window, &b.stats_bots)
        .map_err(|e| BounceError::Core(bouncer_core::CoreError::Config(e)))?;
    if !state.shipping() {
        tallies = tallies.deciding_only();
    }
    let tallies = Arc::new(tallies);
    let counting = state.counting();
    let access_log = access_log::start(
        b.access_log.as_deref(),
        state.catalogue.clone(),
        state.metrics.clone(),
        &background,
    )?;
    shipping::start(
        fleet.clone(),
        Arc::clone(&tallies),
        state.catalogue.clone(),
        state.metrics.clone(),
        (
            drain,
            b.stats_max_counts,
            std::time::Duration::from_secs(b.stats_stop_secs),
        ),
        &background,
    );
    fleet::start(
        fleet,
        state.catalogue.clone(),
        state.metrics.clone(),
        state.watch.clone(),
        &background,
    );
    let separate = state.config.bounce.metrics_listen;
    let public = state.clone();
    // The instance's budget over the workers actix starts (one per core), each its own.
    let link_budget =
        link_budget::per_worker(state.config.bounce.link_cache_mb, link_budget::workers());
    let link_fills = state.metrics.cache_fills.with_label_values(&["links"]);
    let stop = bouncer_service::shutdown::input(shutdown);
    let app = Application::start(listener, stop, move |cfg| {
        cfg.app_data(public.clone());
        // Run once per worker thread: each worker its own Link values (see `links`) and
        // its own download counts (see `counting`).
        cfg.app_data(links::LinkCache::new(link_budget, link_fills.clone()));
        if counting {
            cfg.app_data(tallies.shard());
        }
        if let Some(log) = &access_log {
            cfg.app_data(log.clone());
        }
        routes::routes(cfg, separate.is_none());
    })?
    .with_background(background);
    Ok(match separate {
        Some(addr) => app.with_metrics(TcpListener::bind(addr)?, move |cfg| {
            cfg.app_data(state.clone());
            routes::metrics_only(cfg);
        })?,
        None => app,
    })
}
