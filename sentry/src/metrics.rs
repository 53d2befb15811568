//! sentry's Prometheus metrics, in a registry of its own (never the global default one).

use crate::probe::Class;
use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Every metric sentry exports.
pub struct Metrics {
    pub registry: Registry,
    checks: IntCounterVec,
    mirror_failures: IntCounterVec,
    runs: IntCounterVec,
    mirrors: IntGaugeVec,
    samples: IntCounterVec,
    family_no_verdict: IntCounterVec,
    learned: IntCounterVec,
    vantage_findings: IntCounterVec,
    pub check_seconds: Histogram,
    pub mirror_seconds: Histogram,
    pub run_seconds: Histogram,
}

impl Metrics {
    pub fn new() -> prometheus::Result<Self> {
        let registry = Registry::new_custom(Some("sentry".into()), None)?;
        let checks = IntCounterVec::new(
            Opts::new("checks_total", "Probes by result class and reason."),
            &["result", "reason"],
        )?;
        let mirror_failures = IntCounterVec::new(
            Opts::new(
                "mirror_failures_total",
                "Mirrors that failed as a whole (DNS, base URL), by reason.",
            ),
            &["reason"],
        )?;
        let runs = IntCounterVec::new(
            Opts::new("runs_total", "Runs by outcome (completed or failed)."),
            &["outcome"],
        )?;
        let mirrors = IntGaugeVec::new(
            Opts::new(
                "mirrors",
                "Mirrors checked by the last run, by health state.",
            ),
            &["state"],
        )?;
        let samples = IntCounterVec::new(
            Opts::new(
                "samples_total",
                "Sampled content checks by result (match, mismatch, no_verdict, skipped).",
            ),
            &["result"],
        )?;
        let family_no_verdict = IntCounterVec::new(
            Opts::new(
                "family_no_verdict_total",
                "Mirrors an address family gave no verdict for: sentry's host could not use \
                 it (network unreachable, no local address of the family), by family (4, 6).",
            ),
            &["family"],
        )?;
        let learned = IntCounterVec::new(
            Opts::new(
                "learned_files_total",
                "File metadata rows written from the reference origins (learned), learned \
                 rows deleted because their source is no longer a reference (forgotten), \
                 and learned sizes most mirrors contradicted, no longer enforced (disputed).",
            ),
            &["action"],
        )?;
        let vantage_findings = IntCounterVec::new(
            Opts::new(
                "vantage_findings_total",
                "Findings taken from each agent (vantage names are the configured ones).",
            ),
            &["vantage"],
        )?;
        let buckets = vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let check_seconds = Histogram::with_opts(
            HistogramOpts::new("check_duration_seconds", "Duration of one probe.").buckets(buckets),
        )?;
        let long = vec![
            0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
        ];
        let mirror_seconds = Histogram::with_opts(
            HistogramOpts::new("mirror_duration_seconds", "Duration of one mirror's check.")
                .buckets(long.clone()),
        )?;
        let run_seconds = Histogram::with_opts(
            HistogramOpts::new("run_duration_seconds", "Duration of one run.").buckets(long),
        )?;
        registry.register(Box::new(checks.clone()))?;
        registry.register(Box::new(mirror_failures.clone()))?;
        registry.register(Box::new(runs.clone()))?;
        registry.register(Box::new(mirrors.clone()))?;
        registry.register(Box::new(samples.clone()))?;
        registry.register(Box::new(family_no_verdict.clone()))?;
        registry.register(Box::new(learned.clone()))?;
        registry.register(Box::new(vantage_findings.clone()))?;
        registry.register(Box::new(check_seconds.clone()))?;
        registry.register(Box::new(mirror_seconds.clone()))?;
        registry.register(Box::new(run_seconds.clone()))?;
        Ok(Self {
            registry,
            checks,
            mirror_failures,
            runs,
            mirrors,
            samples,
            family_no_verdict,
            learned,
            vantage_findings,
            check_seconds,
            mirror_seconds,
            run_seconds,
        })
    }

    pub fn check(&self, class: Class, reason: &str) {
        self.checks
            .with_label_values(&[class.as_str(), reason])
            .inc();
    }

    /// `n` file rows `learned` or `forgotten`.
    pub fn learned(&self, action: &str, n: usize) {
        self.learned.with_label_values(&[action]).inc_by(n as u64);
    }

    pub fn vantage_findings(&self, vantage: &str, n: usize) {
        self.vantage_findings
            .with_label_values(&[vantage])
            .inc_by(n as u64);
    }

    pub fn sample(&self, result: &str) {
        self.samples.with_label_values(&[result]).inc();
    }

    pub fn family_no_verdict(&self, f: bouncer_core::networks::Family) {
        self.family_no_verdict
            .with_label_values(&[&f.number().to_string()])
            .inc();
    }

    pub fn mirror_failure(&self, reason: &str) {
        self.mirror_failures.with_label_values(&[reason]).inc();
    }

    pub fn run(&self, completed: bool) {
        let outcome = if completed { "completed" } else { "failed" };
        self.runs.with_label_values(&[outcome]).inc();
    }

    /// A run that did not start: another one held the run lease.
    pub fn run_skipped(&self) {
        self.runs.with_label_values(&["skipped"]).inc();
    }

    /// Sets the per-state gauge from the last run's counts.
    pub fn mirror_states(&self, up: i64, down: i64, ramping: i64) {
        self.mirrors.with_label_values(&["up"]).set(up);
        self.mirrors.with_label_values(&["down"]).set(down);
        self.mirrors.with_label_values(&["ramping"]).set(ramping);
    }
}
