//! bounce's Prometheus metrics, registered on the instance's own registry.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use std::sync::Arc;

pub struct Metrics {
    /// Answers by outcome: redirect, print, not_found, bad_request, home, attribution, error.
    pub requests: IntCounterVec,
    /// `requests` resolved per outcome once, so an answer does not hash its label.
    outcomes: Vec<(&'static str, IntCounter)>,
    pub latency: Histogram,
    /// In-process cache lookups and fills (misses) by entry kind.
    pub cache_lookups: IntCounterVec,
    pub cache_fills: IntCounterVec,
    pub db_queries: IntCounter,
    /// Generation reads from the databases by the watch (not caused by requests).
    pub watch_queries: IntCounter,
    /// memcached tier lookups and hits by entry kind.
    pub shared_lookups: IntCounterVec,
    pub shared_hits: IntCounterVec,
    /// Readers passed over because they had not replicated the expected generation.
    pub replica_behind: IntCounter,
    /// Background probes of a reader its breaker took out (`recovered`, `failed`).
    pub reader_probes: IntCounterVec,
    /// The catalogue generation this instance serves.
    pub generation: IntGauge,
    /// Answers from last-known data while the databases were unreachable, by entry kind.
    pub stale_served: IntCounterVec,
    /// Change log entries applied (each reloads or drops only what it names).
    pub changes_applied: IntCounter,
    /// Whole catalogue loads: at start, and for a write the change log does not describe.
    pub full_loads: IntCounter,
    /// Starts that took the catalogue from the fleet's image in memcached.
    pub image_loads: IntCounter,
    /// Generation checks that ran past `bounce.reader_timeout_ms` (a database not
    /// answering) and got a second check beside them.
    pub watch_stalls: IntCounter,
    /// Registrations with tuxedo (and renewals) by outcome: ok, failed.
    pub fleet_registrations: IntCounterVec,
    /// Writers' apply calls by outcome: served (the generation was served in time),
    /// behind (it was not), refused (no or a wrong token, or a bad body).
    pub fleet_applies: IntCounterVec,
    /// ASN lookups that found the client's network but no AS number bounce can read: a
    /// database in another shape, whose network rules then never match.
    pub asn_without_number: IntCounter,
    /// Download statistics: batches sent to tuxedo by outcome (`sent`, `failed`: kept and
    /// sent again, `refused`: tuxedo cannot store it, dropped), and the counts waiting in
    /// memory for tuxedo.
    pub stats_batches: IntCounterVec,
    pub stats_waiting: IntGauge,
    /// The access log's lines by outcome (`written`; `dropped`: the writer was behind).
    pub access_log_lines: IntCounterVec,
    /// 404s by what was missing (see `outcome::Missing`).
    pub not_found: IntCounterVec,
    /// Redirects to a file that are not downloads, by kind (`head`, `resume`): with
    /// `requests_total{outcome="print"|"document"}` and the 404s, what statistics leave out.
    pub not_counted: IntCounterVec,
}

/// Every `requests_total` outcome label.
const OUTCOMES: [&str; 7] = [
    "redirect",
    "print",
    "not_found",
    "bad_request",
    "home",
    "attribution",
    "error",
];

impl Metrics {
    /// Counts one answer with outcome `label`.
    pub fn count_request(&self, label: &'static str) {
        match self.outcomes.iter().find(|(known, _)| *known == label) {
            Some((_, counter)) => counter.inc(),
            None => self.requests.with_label_values(&[label]).inc(),
        }
    }

    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new("requests_total", "Answers by outcome"),
            &["outcome"],
        )?;
        let outcomes = OUTCOMES
            .iter()
            .map(|&label| (label, requests.with_label_values(&[label])))
            .collect();
        let m = Self {
            requests,
            outcomes,
            latency: Histogram::with_opts(
                HistogramOpts::new(
                    "request_duration_seconds",
                    "Time to answer a redirect request",
                )
                .buckets(vec![
                    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0,
                ]),
            )?,
            cache_lookups: IntCounterVec::new(
                Opts::new(
                    "cache_lookups_total",
                    "In-process cache lookups by entry kind",
                ),
                &["kind"],
            )?,
            cache_fills: IntCounterVec::new(
                Opts::new(
                    "cache_fills_total",
                    "In-process cache misses filled from the database",
                ),
                &["kind"],
            )?,
            db_queries: IntCounter::new("db_queries_total", "Database queries issued")?,
            watch_queries: IntCounter::new(
                "db_watch_queries_total",
                "Generation reads from the databases by the generation watch",
            )?,
            shared_lookups: IntCounterVec::new(
                Opts::new(
                    "shared_cache_lookups_total",
                    "memcached tier lookups by entry kind",
                ),
                &["kind"],
            )?,
            shared_hits: IntCounterVec::new(
                Opts::new(
                    "shared_cache_hits_total",
                    "memcached tier hits by entry kind",
                ),
                &["kind"],
            )?,
            replica_behind: IntCounter::new(
                "replica_behind_total",
                "Readers passed over for not having replicated the expected generation",
            )?,
            reader_probes: IntCounterVec::new(
                Opts::new(
                    "reader_probes_total",
                    "Background probes of a failed database reader, by outcome",
                ),
                &["outcome"],
            )?,
            generation: IntGauge::new("catalogue_generation", "Catalogue generation being served")?,
            stale_served: IntCounterVec::new(
                Opts::new(
                    "stale_served_total",
                    "Entries served from last-known data during an outage",
                ),
                &["kind"],
            )?,
            changes_applied: IntCounter::new(
                "changes_applied_total",
                "Change log entries applied to the in-memory catalogue",
            )?,
            full_loads: IntCounter::new(
                "catalogue_full_loads_total",
                "Whole catalogue loads from the database (start, or a write without a change list)",
            )?,
            image_loads: IntCounter::new(
                "catalogue_image_loads_total",
                "Starts that took the catalogue from the image in memcached",
            )?,
            watch_stalls: IntCounter::new(
                "watch_stalls_total",
                "Generation checks still running past bounce.reader_timeout_ms",
            )?,
            fleet_registrations: IntCounterVec::new(
                Opts::new(
                    "fleet_registrations_total",
                    "Registrations and renewals with tuxedo by outcome",
                ),
                &["outcome"],
            )?,
            fleet_applies: IntCounterVec::new(
                Opts::new(
                    "fleet_applies_total",
                    "Writers' calls to serve a generation, by outcome",
                ),
                &["outcome"],
            )?,
            asn_without_number: IntCounter::new(
                "asn_records_without_number_total",
                "ASN database lookups that found the network but no readable AS number",
            )?,
            stats_batches: IntCounterVec::new(
                Opts::new(
                    "stats_batches_total",
                    "Download statistics batches sent to tuxedo, by outcome",
                ),
                &["outcome"],
            )?,
            stats_waiting: IntGauge::new(
                "stats_waiting_counts",
                "Download counts in memory that tuxedo has not acknowledged",
            )?,
            not_found: IntCounterVec::new(
                Opts::new("not_found_total", "Answers 404, by what was missing"),
                &["reason"],
            )?,
            not_counted: IntCounterVec::new(
                Opts::new(
                    "redirects_not_counted_total",
                    "Redirects to a file that are not downloads, by kind (head, resume)",
                ),
                &["kind"],
            )?,
            access_log_lines: IntCounterVec::new(
                Opts::new(
                    "access_log_lines_total",
                    "Access log lines of downloads, by outcome (written, dropped)",
                ),
                &["outcome"],
            )?,
        };
        registry.register(Box::new(m.access_log_lines.clone()))?;
        registry.register(Box::new(m.not_found.clone()))?;
        registry.register(Box::new(m.not_counted.clone()))?;
        for reason in crate::outcome::Missing::ALL {
            m.not_found.with_label_values(&[reason.label()]);
        }
        registry.register(Box::new(m.stats_batches.clone()))?;
        registry.register(Box::new(m.stats_waiting.clone()))?;
        registry.register(Box::new(m.asn_without_number.clone()))?;
        registry.register(Box::new(m.watch_stalls.clone()))?;
        registry.register(Box::new(m.fleet_registrations.clone()))?;
        registry.register(Box::new(m.fleet_applies.clone()))?;
        registry.register(Box::new(m.image_loads.clone()))?;
        registry.register(Box::new(m.changes_applied.clone()))?;
        registry.register(Box::new(m.full_loads.clone()))?;
        registry.register(Box::new(m.requests.clone()))?;
        registry.register(Box::new(m.latency.clone()))?;
        registry.register(Box::new(m.cache_lookups.clone()))?;
        registry.register(Box::new(m.cache_fills.clone()))?;
        registry.register(Box::new(m.db_queries.clone()))?;
        registry.register(Box::new(m.watch_queries.clone()))?;
        registry.register(Box::new(m.shared_lookups.clone()))?;
        registry.register(Box::new(m.shared_hits.clone()))?;
        registry.register(Box::new(m.replica_behind.clone()))?;
        registry.register(Box::new(m.reader_probes.clone()))?;
        registry.register(Box::new(m.generation.clone()))?;
        registry.register(Box::new(m.stale_served.clone()))?;
        Ok(m)
    }
}

/// memcached client calls by result (`hit`, `miss`, `error`, `skipped`, `too_large`),
/// counted by the client itself and read at scrape time, so a request pays for no extra
/// shared counter.
pub struct MemcachedCalls {
    cache: Arc<bouncer_core::cache::Memcached>,
    template: IntCounterVec,
}

impl MemcachedCalls {
    pub fn register(
        registry: &Registry,
        cache: Arc<bouncer_core::cache::Memcached>,
    ) -> prometheus::Result<()> {
        let template = Self::counters()?;
        registry.register(Box::new(Self { cache, template }))
    }

    fn counters() -> prometheus::Result<IntCounterVec> {
        IntCounterVec::new(
            Opts::new("memcached_calls_total", "memcached client calls by result"),
            &["result"],
        )
    }
}

impl prometheus::core::Collector for MemcachedCalls {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.template.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        use std::sync::atomic::Ordering::Relaxed;
        let Ok(fresh) = Self::counters() else {
            return Vec::new();
        };
        let s = &self.cache.stats;
        for (label, counter) in [
            ("hit", &s.hits),
            ("miss", &s.misses),
            ("error", &s.errors),
            ("skipped", &s.skipped),
            ("too_large", &s.too_large),
        ] {
            fresh
                .with_label_values(&[label])
                .inc_by(counter.load(Relaxed));
        }
        fresh.collect()
    }
}
