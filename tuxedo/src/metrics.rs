//! tuxedo's Prometheus metrics, registered in the instance's own registry.

use actix_web::http::StatusCode;
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};
use std::time::Duration;

pub struct ApiMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    /// Callers answered 503 because the database did not answer within
    /// `database.query_timeout_ms`.
    pub deadline_exceeded: IntCounter,
    /// Database calls that finished after their caller had been answered 503, by outcome:
    /// `ok` a write transaction committed (only a stall of the commit itself gets there:
    /// the caller was told it failed), `error` nothing committed and it failed (a write
    /// rolled back, as it should be), `read` nothing committed and it succeeded (a read;
    /// harmless, counted apart so `ok` means a write).
    pub late_calls: IntCounterVec,
    /// Each pending gated flip's uptake (its worst location), by alias.
    pub gate_uptake: GaugeVec,
    /// Writes that waited for the bounce fleet, by outcome: confirmed (every live instance
    /// served it before the answer), unconfirmed (the visibility timeout ran out).
    pub visibility_writes: IntCounterVec,
    /// Per instance: writes acknowledged before it confirmed them.
    pub visibility_unconfirmed: IntCounterVec,
    /// How long writes waited for the fleet.
    pub visibility_wait: prometheus::Histogram,
    /// The most password checks that ran at once (set from the checker when rendered).
    pub login_checks_peak: prometheus::IntGauge,
    /// Statistics batches from bounce, by outcome: `counted`, `repeat` (sent again after a
    /// lost answer: not counted twice), `refused` (4xx), `failed` (5xx: the sender retries).
    pub stats_batches: IntCounterVec,
    /// Downloads counted from those batches.
    pub stats_downloads: IntCounter,
}

impl ApiMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let r = registry;
        let requests = counters(
            r,
            "api_requests_total",
            "API calls by endpoint and HTTP status",
            &["endpoint", "status"],
        )?;
        let duration = registered(
            r,
            HistogramVec::new(
                HistogramOpts::new("api_request_seconds", "API call duration by endpoint"),
                &["endpoint"],
            )?,
        )?;
        let deadline_exceeded = registered(
            r,
            IntCounter::new(
                "db_deadline_exceeded_total",
                "Calls answered 503 because the database did not answer in time",
            )?,
        )?;
        let late_calls = counters(
            r,
            "db_late_calls_total",
            "Database calls that finished after their caller was answered 503",
            &["outcome"],
        )?;
        let gate_uptake = registered(
            r,
            GaugeVec::new(
                Opts::new(
                    "alias_gate_uptake_percent",
                    "Uptake of each pending gated alias flip (its worst location), in percent",
                ),
                &["alias", "threshold"],
            )?,
        )?;
        let visibility_writes = counters(
            r,
            "visibility_writes_total",
            "Catalogue writes that waited for the bounce fleet, by outcome",
            &["outcome"],
        )?;
        let visibility_unconfirmed = counters(
            r,
            "visibility_unconfirmed_total",
            "Writes acknowledged before this bounce instance confirmed them",
            &["instance"],
        )?;
        let visibility_wait = registered(
            r,
            prometheus::Histogram::with_opts(
                HistogramOpts::new(
                    "visibility_wait_seconds",
                    "Time a write waited for every live bounce instance to serve it",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
            )?,
        )?;
        let login_checks_peak = registered(
            r,
            prometheus::IntGauge::new(
                "login_checks_peak",
                "The most password checks that ran at once since the start",
            )?,
        )?;
        let stats_batches = counters(
            r,
            "stats_batches_total",
            "Download statistics batches received from bounce, by outcome",
            &["outcome"],
        )?;
        let stats_downloads = registered(
            r,
            IntCounter::new(
                "stats_downloads_total",
                "Downloads counted from bounce's statistics batches",
            )?,
        )?;
        Ok(Self {
            stats_batches,
            stats_downloads,
            requests,
            duration,
            deadline_exceeded,
            late_calls,
            gate_uptake,
            visibility_writes,
            visibility_unconfirmed,
            visibility_wait,
            login_checks_peak,
        })
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

/// `metric`, registered in `registry` (which keeps a handle: the clone shares the values).
fn registered<M>(registry: &Registry, metric: M) -> prometheus::Result<M>
where
    M: prometheus::core::Collector + Clone + 'static,
{
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// A registered counter family `name` with `labels`: most of the metrics are one.
fn counters(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}
