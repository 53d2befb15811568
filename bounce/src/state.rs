//! Shared state of one bounce instance.

use crate::catalogue::watch::WatchConfig;
use crate::catalogue::{Catalogue, Sources};
use crate::geo::Geo;
use crate::metrics::Metrics;
use crate::redirect::{Deps, Pinned};
use crate::respond::Headers;
use crate::BounceError;
use bouncer_core::config::Config;
use bouncer_core::db;
use bouncer_service::dockerflow::Version;
use prometheus::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Everything a handler needs, built once at start and passed explicitly.
pub struct AppState {
    pub config: Config,
    pub catalogue: Arc<Catalogue>,
    /// Polling of the catalogue generation, started by `crate::build`.
    pub watch: WatchConfig,
    pub geo: Arc<Geo>,
    /// `geoip.asn_database`: the client's network, for mirrors that prefer or serve only
    /// some networks.
    pub asn: Arc<Geo>,
    pub pinned: Option<Pinned>,
    pub headers: Headers,
    pub metrics: Arc<Metrics>,
    pub registry: Registry,
    pub version: Version,
    /// Per-client variants of location indexes (see `choice`).
    pub variants: crate::choice::Variants,
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
        let cache = bouncer_core::cache::Memcached::from_config(&config.memcached).map(Arc::new);
        if let Some(cache) = &cache {
            crate::metrics::MemcachedCalls::register(&registry, Arc::clone(cache))?;
        }
        let mut sources = Sources::new(
            readers,
            cache,
            Duration::from_millis(config.bounce.reader_retry_after_ms),
            Duration::from_millis(config.bounce.reader_timeout_ms),
            metrics.reader_probes.clone(),
        );
        sources.proximity = (b.proximity, b.proximity_min_samples);
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
            deadline: Duration::from_millis(b.reader_timeout_ms),
            master,
        };
        let pinned = b.pinned_bases().map(|(http, https)| Pinned {
            http: http.into(),
            https: https.into(),
        });
        let headers = Headers::new(b);
        Ok(Self {
            geo: Arc::new(Geo::new(config.geoip.database.clone())),
            asn: Arc::new(Geo::asn_database(
                config.geoip.asn_database.clone(),
                metrics.asn_without_number.clone(),
            )),
            config,
            catalogue: Arc::new(catalogue),
            watch,
            pinned,
            headers,
            metrics,
            registry,
            version: Version::new(env!("CARGO_PKG_VERSION")),
            variants: crate::choice::Variants::new(10_000),
        })
    }
}

impl AppState {
    /// Whether downloads are counted: when something sends the counts to tuxedo (see
    /// [`Self::shipping`]) or writes them to the access log.
    pub(crate) fn counting(&self) -> bool {
        self.shipping() || self.config.bounce.access_log.is_some()
    }

    /// Whether counts are sent to tuxedo: a fleet to register with, and a drain interval.
    pub(crate) fn shipping(&self) -> bool {
        let (f, b) = (&self.config.fleet, &self.config.bounce);
        f.token.is_some() && !f.tuxedo_urls.is_empty() && b.stats_drain_secs > 0
    }

    /// What the redirector's pipeline reads of this state (a few borrows).
    pub(crate) fn pipeline(&self) -> Deps<'_> {
        Deps {
            config: &self.config,
            catalogue: &self.catalogue,
            geo: &self.geo,
            asn: &self.asn,
            pinned: self.pinned.as_ref(),
            variants: &self.variants,
            counting: self.counting(),
        }
    }
}
