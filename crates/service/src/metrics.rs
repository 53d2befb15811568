//! Prometheus metrics: each service instance owns a registry (no global state, so tests
//! can run several instances in one process) and serves it as `/metrics`.

use actix_web::HttpResponse;
use prometheus::core::Collector;
use prometheus::{Encoder, IntCounter, Registry, TextEncoder};

/// Renders a registry in the Prometheus text format, with the process's count of client
/// protocol errors (see [`bouncer_core::telemetry`]).
pub fn render(registry: &Registry) -> HttpResponse {
    let mut families = registry.gather();
    if let Ok(c) = IntCounter::new(
        "http_client_errors_total",
        "Malformed requests and broken client connections (not logged as errors)",
    ) {
        c.inc_by(bouncer_core::telemetry::client_errors());
        families.extend(c.collect());
    }
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&families, &mut buf) {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(buf),
        Err(e) => {
            tracing::error!(error = %e, "metrics encoding failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
