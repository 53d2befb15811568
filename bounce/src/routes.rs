//! bounce's routing table.

use crate::AppState;
use actix_web::{web, HttpResponse};
use bouncer_service::dockerflow;

/// Every path except the service endpoints is the redirector.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/__lbheartbeat__", web::to(dockerflow::lbheartbeat))
        .route("/__heartbeat__", web::to(heartbeat))
        .route("/__version__", web::to(version))
        .route("/metrics", web::to(metrics))
        .default_service(web::to(redirect));
}

async fn heartbeat(state: web::Data<AppState>) -> HttpResponse {
    let db = dockerflow::database_check("database", state.readers.clone()).await;
    dockerflow::heartbeat(&[db])
}

async fn version(state: web::Data<AppState>) -> HttpResponse {
    state.version.respond()
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    bouncer_service::metrics::render(&state.registry)
}

/// Placeholder until the redirector lands: the exact not-found answer of the spec.
async fn redirect() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("404 page not found\n")
}
