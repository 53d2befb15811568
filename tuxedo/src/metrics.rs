//! tuxedo's Prometheus metrics, registered in the instance's own registry.

use actix_web::http::StatusCode;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};
use std::time::Duration;

pub struct ApiMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
}

impl ApiMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new(
                "api_requests_total",
                "API calls by endpoint and HTTP status",
            ),
            &["endpoint", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new("api_request_seconds", "API call duration by endpoint"),
            &["endpoint"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self { requests, duration })
    }

    /// Counts one call.
    pub fn observe(&self, endpoint: &str, status: StatusCode, took: Duration) {
        self.requests
            .with_label_values(&[endpoint, status.as_str()])
            .inc();
        self.duration
            .with_label_values(&[endpoint])
            .observe(took.as_secs_f64());
    }
}
