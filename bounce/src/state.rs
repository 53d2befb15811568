//! Shared state of one bounce instance.

use crate::BounceError;
use bouncer_core::config::Config;
use bouncer_core::db::{self, DbPool};
use bouncer_service::dockerflow::Version;
use prometheus::Registry;

/// Everything a handler needs, built once at start and passed explicitly.
pub struct AppState {
    pub config: Config,
    /// Read pools: the replicas, else the master.
    pub readers: Vec<DbPool>,
    pub registry: Registry,
    pub version: Version,
}

impl AppState {
    pub fn new(config: Config) -> Result<Self, BounceError> {
        let options = bouncer_service::pool_options(&config);
        let urls = if config.database.replicas.is_empty() {
            vec![config.database.url.clone()]
        } else {
            config.database.replicas.clone()
        };
        let readers = urls
            .iter()
            .map(|u| db::pool(u, options))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            config,
            readers,
            registry: Registry::new_custom(Some("bounce".into()), None)?,
            version: Version::new(env!("CARGO_PKG_VERSION")),
        })
    }
}
