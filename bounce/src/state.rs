//! Shared state of one bounce instance.

use crate::catalogue::watch::WatchConfig;
use crate::catalogue::{Catalogue, Sources};
use crate::geo::Geo;
use crate::metrics::Metrics;
use crate::BounceError;
use bouncer_core::config::Config;
use bouncer_core::db;
use bouncer_service::dockerflow::Version;
use prometheus::Registry;
use std::sync::Arc;
use std::time::Duration;

/// CDN mode: the two base URLs, built once.
#[derive(Debug, Clone)]
pub struct Pinned {
    pub http: String,
    pub https: String,
}

/// Everything a handler needs, built once at start and passed explicitly.
pub struct AppState {
    pub config: Config,
    pub catalogue: Arc<Catalogue>,
    /// Polling of the catalogue generation, started by `crate::build`.
    pub watch: WatchConfig,
    pub geo: Arc<Geo>,
    pub pinned: Option<Pinned>,
    pub metrics: Arc<Metrics>,
    pub registry: Registry,
    pub version: Version,
}

impl AppState {
    pub fn new(config: Config) -> Result<Self, BounceError> {
        let options = bouncer_service::pool_options(&config);
        let mut readers = config
            .database
            .replicas
            .iter()
            .map(|u| db::pool(u, options))
            .collect::<Result<Vec<_>, _>>()?;
        let master = if readers.is_empty() || config.database.master_as_last_resort {
            let pool = db::pool(&config.database.url, options)?;
            readers.push(pool.clone());
            Some(pool)
        } else {
            None
        };
        let registry = Registry::new_custom(Some("bounce".into()), None)?;
        let metrics = Arc::new(Metrics::new(&registry)?);
        let b = &config.bounce;
        let sources = Sources::new(
            readers,
            bouncer_core::cache::Memcached::from_config(&config.memcached).map(Arc::new),
            Duration::from_millis(config.bounce.reader_retry_after_ms),
        );
        let catalogue = Catalogue::new(
            sources,
            Duration::from_millis(b.local_cache_ttl_ms),
            b.local_cache_capacity,
            Duration::from_millis(b.request_deadline_ms),
            Arc::clone(&metrics),
        );
        let watch = WatchConfig {
            cache_every: Duration::from_millis(b.generation_poll_ms),
            db_every: Duration::from_millis(b.generation_db_poll_ms),
            verify_every: Duration::from_millis(b.generation_verify_ms),
            master,
        };
        let pinned = match (&b.pinned_http, &b.pinned_https) {
            (Some(http), Some(https)) => Some(Pinned {
                http: format!("http://{http}"),
                https: format!("https://{https}"),
            }),
            _ => None,
        };
        Ok(Self {
            geo: Arc::new(Geo::new(config.geoip.database.clone())),
            config,
            catalogue: Arc::new(catalogue),
            watch,
            pinned,
            metrics,
            registry,
            version: Version::new(env!("CARGO_PKG_VERSION")),
        })
    }
}
