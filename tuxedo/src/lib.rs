//! tuxedo, built from a listener and a configuration so tests run the real service on
//! port 0. Until the admin API lands it serves the Dockerflow endpoints only.

mod error;

pub use error::TuxedoError;

use actix_web::{web, HttpResponse};
use bouncer_core::config::Config;
use bouncer_core::db::{self, DbPool};
use bouncer_service::dockerflow::{self, Version};
use bouncer_service::Application;
use std::net::TcpListener;

/// State shared by tuxedo's handlers.
pub struct AppState {
    pub config: Config,
    /// The master: tuxedo is the only writer of the catalogue.
    pub master: DbPool,
    pub registry: prometheus::Registry,
    pub version: Version,
}

/// Builds the state and the HTTP server on `listener`.
pub fn build(config: Config, listener: TcpListener) -> Result<Application, TuxedoError> {
    if config.database.migrate_on_start {
        bouncer_service::migrate(&config)?;
    }
    let master = db::pool(&config.database.url, bouncer_service::pool_options(&config))?;
    let state = web::Data::new(AppState {
        config,
        master,
        registry: prometheus::Registry::new_custom(Some("tuxedo".into()), None)?,
        version: Version::new(env!("CARGO_PKG_VERSION")),
    });
    tracing::info!(config = %state.config.redacted(), "tuxedo starting");
    Ok(Application::start(listener, move |cfg| {
        cfg.app_data(state.clone());
        routes(cfg);
    })?)
}

/// tuxedo's routing table.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/__lbheartbeat__", web::to(dockerflow::lbheartbeat))
        .route("/__heartbeat__", web::to(heartbeat))
        .route("/__version__", web::to(version))
        .route("/metrics", web::to(metrics));
}

async fn heartbeat(state: web::Data<AppState>) -> HttpResponse {
    let db = dockerflow::database_check("database", vec![state.master.clone()]).await;
    dockerflow::heartbeat(&[db])
}

async fn version(state: web::Data<AppState>) -> HttpResponse {
    state.version.respond()
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    bouncer_service::metrics::render(&state.registry)
}
