//! Prometheus metrics: each service instance owns a registry (no global state, so tests
//! can run several instances in one process) and serves it as `/metrics`.

use actix_web::HttpResponse;
use prometheus::{Encoder, Registry, TextEncoder};

/// Renders a registry in the Prometheus text format.
pub fn render(registry: &Registry) -> HttpResponse {
    let mut buf = Vec::new();
    match TextEncoder::new().encode(&registry.gather(), &mut buf) {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(buf),
        Err(e) => {
            tracing::error!(error = %e, "metrics encoding failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
