//! The daemon's HTTP side: Dockerflow endpoints and metrics, nothing else.

use crate::run::Sentry;
use actix_web::{web, HttpResponse};
use bouncer_core::db::DbPool;
use bouncer_service::dockerflow::{self, Version};
use bouncer_service::shutdown;
use bouncer_service::Application;
use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

struct State {
    pool: DbPool,
    cache: Option<Arc<bouncer_core::cache::Memcached>>,
    metrics: Arc<crate::Metrics>,
    version: Version,
}

/// Starts the endpoints of `sentry` on `listener` (tests pass a port-0 listener).
pub fn serve(
    sentry: &Sentry,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Application> {
    let state = web::Data::new(State {
        pool: sentry.pool().clone(),
        cache: sentry.cache(),
        metrics: sentry.metrics(),
        version: Version::new(env!("CARGO_PKG_VERSION")),
    });
    Application::start(listener, shutdown::input(shutdown), move |cfg| {
        cfg.app_data(state.clone());
        routes(cfg);
    })
}

/// The daemon's table of contents.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/__lbheartbeat__", web::get().to(dockerflow::lbheartbeat))
        .route("/__heartbeat__", web::get().to(heartbeat))
        .route("/__version__", web::get().to(version))
        .route("/metrics", web::get().to(metrics));
}

async fn heartbeat(state: web::Data<State>) -> HttpResponse {
    let mut checks = vec![dockerflow::database_check("database", vec![state.pool.clone()]).await];
    checks.extend(dockerflow::memcached_check(state.cache.clone()).await);
    dockerflow::heartbeat(&checks)
}

async fn version(state: web::Data<State>) -> HttpResponse {
    state.version.respond()
}

async fn metrics(state: web::Data<State>) -> HttpResponse {
    bouncer_service::metrics::render(&state.metrics.registry)
}
