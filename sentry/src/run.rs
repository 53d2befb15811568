//! One run: load the scope, check mirrors concurrently, and stream their reports to a
//! writer thread that commits them in batches as they arrive, so a dead mirror leaves
//! bounce's view seconds after its check ends, not at the end of the run.

use crate::check::{Checker, Loc, MirrorReport, Target};
use crate::health::{Policy, State};
use crate::metrics::Metrics;
use crate::probe::Class;
use crate::vantage::{Finding, Vantages};
use crate::{store, RunOptions, SentryError};
use bouncer_core::cache::Memcached;
use bouncer_core::changes::Change;
use bouncer_core::config::Config;
use bouncer_core::db::{self, DbPool};
use bouncer_core::networks::Family;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// Most mirror reports committed in one transaction.
const BATCH: usize = 64;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Mirrors checked.
    pub mirrors: usize,
    /// (location, mirror) pairs with a result.
    pub pairs: usize,
    pub healthy: usize,
    pub inactive: usize,
    pub unhealthy: usize,
    /// Mirrors whose run counted as failed (DNS, base URL, deadline, mostly unhealthy).
    pub failed_mirrors: usize,
    /// Whether anything bounce reads changed; `generation` is the catalogue generation
    /// after the last bump.
    pub catalogue_changed: bool,
    pub generation: Option<i64>,
    /// Mirrors by health state after the run.
    pub up: usize,
    pub down: usize,
    pub ramping: usize,
    /// CDN mode: (location, scheme) pairs checked on the pinned base URLs, and how many of
    /// them were healthy.
    pub cdn_pairs: usize,
    pub cdn_healthy: usize,
    /// Gated alias flips this run carried out (its results made them due).
    pub gates_flipped: usize,
    /// Probes of locations made: `pairs` when every mirror has one address family (or
    /// `sentry.families = []`), up to twice that for dual-stack mirrors.
    pub probes: usize,
    /// (mirror, family) checks that gave no verdict: sentry's host could not use the
    /// family to reach the mirror.
    pub no_verdict: usize,
}

/// A configured checker: database pool, HTTP client, limits and metrics. Built once per
/// process; the daemon reuses it for every run (and its connections).
pub struct Sentry {
    pool: DbPool,
    /// Where the new generation is published after each committed batch that changed
    /// what bounce serves, so users stop being sent to a dead mirror within seconds.
    cache: Option<Arc<Memcached>>,
    checker: Arc<Checker>,
    policy: Policy,
    concurrency: usize,
    metrics: Arc<Metrics>,
    /// CDN mode: the pinned base URLs (http, https), checked each run beside the mirrors.
    cdn: Option<(String, String)>,
    /// How uptake counts the pinned CDN (for gated alias flips).
    uptake: Option<bouncer_core::uptake::Cdn>,
    /// `sentry.sample_bytes_per_run`.
    sample_bytes_per_run: u64,
    /// Several vantages (agents configured): the controller's own findings are one
    /// vantage's, and verdicts are settled (see `vantage`).
    vantages: Option<Arc<Vantages>>,
}

impl Sentry {
    pub fn new(config: &Config) -> Result<Self, SentryError> {
        Self::bound(config, Family::ALL.map(Family::unspecified))
    }

    /// [`Sentry::new`] with the addresses probes of each family leave from (IPv4, IPv6):
    /// the unspecified ones, except in tests of a host that cannot use a family.
    fn bound(config: &Config, local: [std::net::IpAddr; 2]) -> Result<Self, SentryError> {
        let s = &config.sentry;
        let pool = db::pool(&config.database.url, bouncer_service::pool_options(config))?;
        let metrics = Arc::new(Metrics::new()?);
        let checker = checker(s, local, metrics.clone())?;
        Ok(Self {
            pool,
            cache: Memcached::from_config(&config.memcached).map(Arc::new),
            checker: Arc::new(checker),
            policy: Policy::from_config(s),
            concurrency: s.concurrency.max(1),
            metrics,
            cdn: config.bounce.pinned_bases(),
            uptake: bouncer_core::uptake::Cdn::of(config),
            sample_bytes_per_run: s.sample_bytes_per_run,
            vantages: Vantages::from_config(s).map(Arc::new),
        })
    }

    /// The vantages the controller takes reports from (`None`: no agent configured).
    pub fn vantages(&self) -> Option<Arc<Vantages>> {
        self.vantages.clone()
    }

    /// `sentry.probe_lang`.
    pub fn probe_lang(&self) -> &str {
        &self.checker.probe_lang
    }

    /// The hysteresis thresholds.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// memcached, where each batch's generation is published (`None`: not configured).
    pub fn cache(&self) -> Option<Arc<Memcached>> {
        self.cache.clone()
    }

    /// One run; `Err` means it could not complete (the database, a bad `--mirror`), or did
    /// not start because another run holds the run lease ([`SentryError::Busy`]).
    pub async fn run(&self, opts: &RunOptions) -> Result<RunSummary, SentryError> {
        let clock = Instant::now();
        let lease = match RunLease::take(&self.pool).await {
            Ok(lease) => lease,
            Err(e) => {
                if let SentryError::Busy(_) = e {
                    self.metrics.run_skipped();
                    tracing::info!(reason = %e, "run skipped");
                }
                return Err(e);
            }
        };
        let result = self.run_inner(opts).await;
        lease.release().await;
        self.metrics.run(result.is_ok());
        self.metrics
            .run_seconds
            .observe(clock.elapsed().as_secs_f64());
        match &result {
            Ok(s) => tracing::info!(
                summary = ?s,
                seconds = clock.elapsed().as_secs_f64(),
                "run complete"
            ),
            Err(e) if e.is_usage() => tracing::warn!(error = %e, "run refused"),
            Err(e) => tracing::error!(error = %e, "run failed"),
        }
        result
    }

    /// A run in phases: its scope; the reference origins first (and the pinned CDN when it
    /// is the reference), whose files are learned; then every other mirror, each report
    /// going to the writer thread as it comes; disputes, the CDN's pairs, the gates.
    async fn run_inner(&self, opts: &RunOptions) -> Result<RunSummary, SentryError> {
        let (targets, locs) = self.scope(opts).await?;
        let progress = progress_bar((targets.len() * locs.len().max(1)) as u64);
        tracing::info!(
            mirrors = targets.len(),
            locations = locs.len(),
            checknow = opts.checknow && !opts.checkall,
            "run starting"
        );
        let (tx, rx) = mpsc::channel::<MirrorReport>(BATCH * 4);
        let writer = {
            let (pool, policy, locs) = (self.pool.clone(), self.policy, locs.clone());
            let (cache, vantages) = (self.cache.clone(), self.vantages.clone());
            tokio::task::spawn_blocking(move || {
                let to = Writer {
                    pool: &pool,
                    cache: cache.as_deref(),
                    policy: &policy,
                    vantages: vantages.as_deref(),
                };
                write_reports(&to, rx, &locs)
            })
        };
        // First the reference origins (mirrors flagged so; in CDN mode without one, the
        // pinned CDN): what they say of each file is learned before the others are held
        // to it. The pinned CDN is otherwise checked meanwhile (not in a run restricted
        // to one mirror).
        let (references, targets): (Vec<Target>, Vec<Target>) =
            targets.into_iter().partition(|t| t.reference);
        let cdn_bases = match (&self.cdn, &opts.mirror) {
            (Some(bases), None) if !locs.is_empty() => Some(bases.clone()),
            _ => None,
        };
        let cdn_first = references.is_empty() && cdn_bases.is_some();
        let cdn_as_reference = cdn_bases.as_ref().filter(|_| cdn_first);
        let (first, cdn_reports) = self
            .check_references(&references, cdn_as_reference, &locs)
            .await;
        let reference_base: Option<Arc<str>> = match (references.first(), &cdn_bases) {
            (Some(r), _) => Some(r.baseurl.as_str().into()),
            (None, Some((_, https))) => Some(https.as_str().into()),
            _ => None,
        };
        // Every run: what gone sources taught is forgotten even when no reference spoke.
        let checked = self.learn(&first, &locs).await?;
        let cdn = match (cdn_first, cdn_bases) {
            (false, Some(bases)) => Some(tokio::spawn(check_cdn(
                self.checker.clone(),
                bases,
                checked.clone(),
                false,
            ))),
            _ => None,
        };
        let teachers = references.iter().map(|t| t.id).collect();
        let first = first.into_iter().filter(|r| r.mirror_id != 0).map(Ok);
        let work = first.chain(targets.into_iter().map(Err)).collect();
        let step = (&progress, locs.len().max(1) as u64);
        let (mut summary, tallies) = self
            .check_all(work, &checked, reference_base, teachers, step, tx)
            .await?;
        progress.finish_and_clear();
        let written = writer.await??;
        if written.mirrors < summary.mirrors {
            return Err(SentryError::WriterGone);
        }
        self.record_disputes(&tallies, &checked).await?;
        let cdn_reports = match cdn {
            Some(task) => Some(task.await?),
            None => cdn_reports,
        };
        if let Some(reports) = cdn_reports {
            let found = self.write_cdn(reports, &locs).await?;
            summary.cdn_pairs = found.pairs;
            summary.cdn_healthy = found.healthy;
        }
        summary.gates_flipped = self.check_gates().await;
        self.settle_leases().await?;
        self.finish(&mut summary, &written);
        Ok(summary)
    }

    /// The run's mirrors and locations; resets the per-run budgets.
    async fn scope(&self, opts: &RunOptions) -> Result<(Vec<Target>, Arc<[Loc]>), SentryError> {
        let pool = self.pool.clone();
        let scope_opts = opts.clone();
        let lang = self.checker.probe_lang.clone();
        let (targets, locs) = tokio::task::spawn_blocking(move || {
            let mut conn = db::conn(&pool)?;
            store::load_scope(&mut conn, &scope_opts, &lang)
        })
        .await??;
        self.checker.sample_budget.store(
            self.sample_bytes_per_run,
            std::sync::atomic::Ordering::Release,
        );
        for warned in &self.checker.unusable_warned {
            warned.store(false, std::sync::atomic::Ordering::Release);
        }
        Ok((targets, locs.into()))
    }

    /// Checks the reference origins (and the pinned CDN, `cdn`, when it is the reference,
    /// whose https reports count as theirs), held to the operator's sizes only, not to
    /// what they taught.
    async fn check_references(
        &self,
        references: &[Target],
        cdn: Option<&(String, String)>,
        locs: &Arc<[Loc]>,
    ) -> (Vec<MirrorReport>, Option<Vec<crate::cdn::CdnReport>>) {
        let teaching: Arc<[Loc]> = locs.iter().map(Loc::for_reference).collect();
        let mut first: Vec<MirrorReport> =
            futures_util::future::join_all(references.iter().map(|t| {
                self.checker
                    .clone()
                    .check_mirror(t.clone(), teaching.clone(), None)
            }))
            .await;
        let Some(bases) = cdn else {
            return (first, None);
        };
        let reports = check_cdn(self.checker.clone(), bases.clone(), teaching, true).await;
        first.extend(
            reports
                .iter()
                .filter(|r| r.scheme == "https")
                .map(|r| r.report.clone()),
        );
        (first, Some(reports))
    }

    /// Checks the other mirrors (`Err`; `Ok`: a reference's report, already made) against
    /// `checked`, `concurrency` at a time, sending each report to the writer (`tx`) as it
    /// comes; returns the run's tallies. The sizes the mirrors served are counted for
    /// disputes, except the references' (`teachers`).
    async fn check_all(
        &self,
        work: Vec<Result<MirrorReport, Target>>,
        checked: &Arc<[Loc]>,
        reference_base: Option<Arc<str>>,
        teachers: std::collections::HashSet<i32>,
        (progress, step): (&ProgressBar, u64),
        tx: mpsc::Sender<MirrorReport>,
    ) -> Result<(RunSummary, Tallies), SentryError> {
        let mut summary = RunSummary::default();
        let mut tallies = Tallies::new();
        let checker = self.checker.clone();
        let mut reports = futures_util::stream::iter(work)
            .map(|t| {
                let (checker, checked, reference) =
                    (checker.clone(), checked.clone(), reference_base.clone());
                tokio::spawn(async move {
                    match t {
                        Ok(done) => done,
                        Err(t) => checker.check_mirror(t, checked, reference).await,
                    }
                })
            })
            .buffer_unordered(self.concurrency);
        while let Some(report) = reports.next().await {
            let report = report?;
            tally(&mut summary, &report);
            if !teachers.contains(&report.mirror_id) {
                crate::learning::count(&mut tallies, &report, checked);
            }
            progress.inc(step);
            if tx.send(report).await.is_err() {
                break; // the writer failed; its error is reported below
            }
        }
        Ok((summary, tallies))
    }

    /// Writes the pinned CDN's pairs.
    async fn write_cdn(
        &self,
        reports: Vec<crate::cdn::CdnReport>,
        locs: &Arc<[Loc]>,
    ) -> Result<crate::cdn::CdnSummary, SentryError> {
        let (pool, locs) = (self.pool.clone(), locs.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = db::conn(&pool)?;
            db::classify::retrying(
                || crate::cdn::write(&mut conn, &reports, &locs),
                SentryError::is_transient,
            )
        })
        .await?
    }

    /// What the writer did, in the summary and the mirror-state gauges.
    fn finish(&self, summary: &mut RunSummary, written: &Written) {
        summary.catalogue_changed = written.changed;
        summary.generation = written.generation;
        summary.up = written.count(State::Up);
        summary.down = written.count(State::Down);
        summary.ramping = written.count(State::Ramping);
        self.metrics.mirror_states(
            summary.up as i64,
            summary.down as i64,
            summary.ramping as i64,
        );
    }
}

/// Sizes served per location, for disputes ([`crate::learning::count`]).
type Tallies = std::collections::HashMap<usize, crate::learning::Tally>;

/// Counts one mirror's report in the run's summary.
fn tally(summary: &mut RunSummary, report: &MirrorReport) {
    summary.mirrors += 1;
    summary.pairs += report.results.len();
    summary.probes += report.probes();
    summary.no_verdict += report.no_verdicts();
    summary.healthy += report.count(Class::Healthy);
    summary.inactive += report.count(Class::Inactive);
    summary.unhealthy += report.count(Class::Unhealthy);
    summary.failed_mirrors += usize::from(!report.run_ok());
}

impl Sentry {
    /// Records what the reference origins said of each file and forgets what gone sources
    /// taught (`store::learn_files`), publishes it for bounce, and returns the locations
    /// with the sizes the other mirrors are held to.
    async fn learn(
        &self,
        reports: &[MirrorReport],
        locs: &Arc<[Loc]>,
    ) -> Result<Arc<[Loc]>, SentryError> {
        let (pool, cache) = (self.pool.clone(), self.cache.clone());
        let (reports, mut next) = (reports.to_vec(), locs.to_vec());
        let lang = self.checker.probe_lang.clone();
        let (cdn, metrics) = (self.cdn.is_some(), self.metrics.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = db::conn(&pool)?;
            let now = chrono::Utc::now().naive_utc();
            let done = db::classify::retrying(
                || store::learn_files(&mut conn, &reports, &next, &lang, cdn, now),
                SentryError::is_transient,
            )?;
            metrics.learned("learned", done.learned);
            metrics.learned("forgotten", done.forgotten);
            if let Some(before) = done.generation.map(|g| g - 1) {
                bouncer_core::history::publish_since(&mut conn, cache.as_deref(), before)?;
                tracing::info!(
                    generation = before + 1,
                    learned = done.learned,
                    forgotten = done.forgotten,
                    "file metadata learned from the reference origins"
                );
            }
            store::expect_sizes(&mut conn, &mut next, &lang)?;
            Ok::<_, SentryError>(next.into())
        })
        .await?
    }

    /// Marks the learned sizes most mirrors contradicted this run as not enforced from the
    /// next run on (`learning::disputed`); counted, audited and logged.
    async fn record_disputes(
        &self,
        tallies: &std::collections::HashMap<usize, crate::learning::Tally>,
        locs: &[Loc],
    ) -> Result<(), SentryError> {
        let lang = &self.checker.probe_lang;
        let disputes: Vec<(i32, String, String)> = tallies
            .iter()
            .filter_map(|(i, tally)| {
                let loc = locs.get(*i)?;
                let why = crate::learning::disputed(loc.expected_size?, tally)?;
                let key = bouncer_core::files::lang_key(&loc.path, lang).to_owned();
                Some((loc.id, key, why))
            })
            .collect();
        if disputes.is_empty() {
            return Ok(());
        }
        let (pool, metrics) = (self.pool.clone(), self.metrics.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = db::conn(&pool)?;
            let now = chrono::Utc::now().naive_utc();
            let marked = db::classify::retrying(
                || store::record_disputes(&mut conn, &disputes, now),
                SentryError::is_transient,
            )?;
            metrics.learned("disputed", marked);
            Ok::<_, SentryError>(())
        })
        .await?
    }

    /// With several vantages: every pair settled again after the run, from the vantages
    /// live now, so a lost agent stops counting at the first run after its lease (and one
    /// that came back counts again). Only verdicts that changed are written.
    async fn settle_leases(&self) -> Result<(), SentryError> {
        let Some(vantages) = self.vantages.clone() else {
            return Ok(());
        };
        let (pool, cache) = (self.pool.clone(), self.cache.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = db::conn(&pool)?;
            let now = chrono::Utc::now().naive_utc();
            let applied = db::classify::retrying(
                || crate::vantage::settle_all(&mut conn, &vantages, now),
                SentryError::is_transient,
            )?;
            tracing::info!(
                turned = applied.settled.keys,
                rows = applied.settled.rows,
                "vantage verdicts settled"
            );
            publish(
                cache.as_deref(),
                applied.generation,
                &applied.settled.changes,
            );
            Ok::<_, SentryError>(())
        })
        .await?
    }

    /// Checks the pending gated alias flips after a run and carries out the due ones
    /// (publishing what changed, as any writer does); returns how many flipped. A failure
    /// is logged, not the run's: tuxedo checks the gates too.
    async fn check_gates(&self) -> usize {
        let (pool, cdn, cache) = (self.pool.clone(), self.uptake.clone(), self.cache.clone());
        let checked = tokio::task::spawn_blocking(move || {
            let mut conn = db::conn(&pool)?;
            let before = bouncer_core::generation::current(&mut conn)?;
            let now = chrono::Utc::now().naive_utc();
            let checked = bouncer_core::gates::check_all(&mut conn, cdn.as_ref(), "sentry", now)?;
            let flipped = checked
                .iter()
                .filter(|(_, o)| matches!(o, bouncer_core::gates::Outcome::Flipped { .. }))
                .count();
            if flipped > 0 {
                bouncer_core::history::publish_since(&mut conn, cache.as_deref(), before)?;
            }
            for (gate, outcome) in &checked {
                if !matches!(outcome, bouncer_core::gates::Outcome::Pending(_)) {
                    tracing::info!(alias = gate.alias, product = gate.product, outcome = ?outcome, "gated alias flip done");
                }
            }
            Ok::<_, SentryError>(flipped)
        })
        .await;
        match checked {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not check the gated alias flips");
                0
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not check the gated alias flips");
                0
            }
        }
    }
}

/// Checks every location on both pinned base URLs, as a mirror's.
async fn check_cdn(
    checker: Arc<crate::check::Checker>,
    (http, https): (String, String),
    locs: Arc<[Loc]>,
    https_is_reference: bool,
) -> Vec<crate::cdn::CdnReport> {
    let check = |scheme: &'static str, base_url: String| {
        let (checker, locs) = (checker.clone(), locs.clone());
        async move {
            let target = crate::check::Target {
                id: 0,
                name: format!("pinned {scheme}"),
                baseurl: base_url.clone(),
                reference: https_is_reference && scheme == "https",
            };
            // The CDN is checked as before, over whatever family the system picks.
            let report = checker.check_mirror_over(target, locs, None, &[]).await;
            crate::cdn::CdnReport {
                scheme,
                base_url,
                report,
            }
        }
    };
    let (a, b) = tokio::join!(check("http", http), check("https", https));
    vec![a, b]
}

/// The run lease, renewed in the background while the run lasts: two runs at once would
/// write the same rows and deadlock each other. Dropped without [`RunLease::release`] (the
/// daemon stopped by a signal mid-run drops its run), it is released there and then, so
/// the next sentry need not wait out the lease.
struct RunLease {
    pool: DbPool,
    holder: String,
    renewer: tokio::task::JoinHandle<()>,
    released: bool,
}

const LEASE: &str = "sentry-run";
const LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl RunLease {
    async fn take(pool: &DbPool) -> Result<Self, SentryError> {
        let holder = format!(
            "{}:{}:{:08x}",
            hostname(),
            std::process::id(),
            rand::random::<u32>()
        );
        let (p, h) = (pool.clone(), holder.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = db::conn(&p)?;
            db::lease::acquire(&mut conn, LEASE, &h, LEASE_TTL)?.map_err(SentryError::Busy)
        })
        .await??;
        let (p, h) = (pool.clone(), holder.clone());
        let renewer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(LEASE_TTL / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                let (p, h) = (p.clone(), h.clone());
                let renewed = tokio::task::spawn_blocking(move || {
                    let mut conn = db::conn(&p)?;
                    db::lease::renew(&mut conn, LEASE, &h, LEASE_TTL)
                })
                .await;
                if !matches!(renewed, Ok(Ok(true))) {
                    tracing::warn!("could not renew the run lease; a second run may start");
                }
            }
        });
        Ok(Self {
            pool: pool.clone(),
            holder,
            renewer,
            released: false,
        })
    }

    async fn release(mut self) {
        self.renewer.abort();
        self.released = true;
        let (p, h) = (self.pool.clone(), self.holder.clone());
        let released = tokio::task::spawn_blocking(move || {
            let mut conn = db::conn(&p)?;
            db::lease::release(&mut conn, LEASE, &h)
        })
        .await;
        if !matches!(released, Ok(Ok(()))) {
            tracing::warn!("could not release the run lease; it expires by itself");
        }
    }
}

impl Drop for RunLease {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        self.renewer.abort();
        // Blocking, but only on the way out of an abandoned run.
        let released = db::conn(&self.pool)
            .map_err(SentryError::from)
            .and_then(|mut c| Ok(db::lease::release(&mut c, LEASE, &self.holder)?));
        match released {
            Ok(()) => tracing::info!("run abandoned; its lease is released"),
            Err(e) => tracing::warn!(error = %e, "could not release an abandoned run's lease"),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into())
}

#[derive(Default)]
struct Written {
    mirrors: usize,
    changed: bool,
    generation: Option<i64>,
    states: Vec<State>,
}

impl Written {
    fn count(&self, s: State) -> usize {
        self.states.iter().filter(|x| **x == s).count()
    }
}

/// The probing half as `sentry.*` configures it, probes of each family leaving from
/// `local` (IPv4, IPv6); the controller's and an agent's alike.
pub(crate) fn checker(
    s: &bouncer_core::config::SentryConfig,
    local: [std::net::IpAddr; 2],
    metrics: Arc<Metrics>,
) -> Result<Checker, SentryError> {
    let timeout = Duration::from_millis(s.request_timeout_ms);
    let roots = crate::probe::extra_roots(s.ca_file.as_deref())?;
    let options = crate::probe::ClientOptions {
        user_agent: &s.user_agent,
        timeout,
        idle_per_host: s.per_mirror_concurrency,
        extra_roots: &roots,
        resolve: &s.resolve,
    };
    let bound = |f: Family| crate::probe::client(&options, Some(local[f.index()]));
    let checker = Checker {
        client: crate::probe::client(&options, None)?,
        family_clients: [bound(Family::V4)?, bound(Family::V6)?],
        families: Family::list(&s.families),
        resolve: s
            .resolve
            .iter()
            .map(|(h, ips)| (h.to_ascii_lowercase(), ips.clone()))
            .collect(),
        unusable_warned: Default::default(),
        global: Arc::new(Semaphore::new(s.concurrency.max(1))),
        per_mirror: s.per_mirror_concurrency.max(1),
        request_timeout: timeout,
        mirror_deadline: Duration::from_secs(s.mirror_deadline_secs),
        probe_lang: s.probe_lang.clone(),
        metrics,
        sample_bytes: s.sample_bytes,
        sample_budget: std::sync::atomic::AtomicU64::new(s.sample_bytes_per_run),
    };
    Ok(checker)
}

/// Where the writer thread writes.
struct Writer<'a> {
    pool: &'a DbPool,
    cache: Option<&'a Memcached>,
    policy: &'a Policy,
    vantages: Option<&'a Vantages>,
}

/// Tells bounce of a committed generation (when there is a shared cache).
pub(crate) fn publish(cache: Option<&Memcached>, generation: Option<i64>, changes: &[Change]) {
    if let (Some(cache), Some(g)) = (cache, generation) {
        bouncer_core::changes::publish(cache, g, changes);
        bouncer_core::generation::publish(cache, g);
    }
}

/// The writer thread: commits whatever reports are waiting (up to [`BATCH`]) in one
/// transaction, then waits for more; with several vantages, the batch's findings are the
/// controller's own vantage's, recorded and settled next. A failed write ends the run
/// with that error.
fn write_reports(
    to: &Writer<'_>,
    mut rx: mpsc::Receiver<MirrorReport>,
    locs: &[Loc],
) -> Result<Written, SentryError> {
    let mut conn = db::conn(to.pool)?;
    let mut written = Written::default();
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let now = chrono::Utc::now().naive_utc();
        let effect = db::classify::retrying(
            || store::write_batch(&mut conn, to.policy, &batch, locs, now),
            SentryError::is_transient,
        )?;
        written.mirrors += batch.len();
        written.changed |= effect.catalogue_changed;
        written.generation = effect.generation.or(written.generation);
        written.states.extend(effect.states);
        publish(to.cache, effect.generation, &effect.changes);
        if let Some(g) = effect.generation {
            tracing::info!(
                generation = g,
                mirrors = batch.len(),
                "health changes committed"
            );
        }
        if let Some(v) = to.vantages {
            let found: Vec<Finding> = batch
                .iter()
                .flat_map(|r| crate::vantage::findings(r, locs))
                .collect();
            let applied = db::classify::retrying(
                || crate::vantage::apply(&mut conn, to.policy, v, &v.me, &found, now),
                SentryError::is_transient,
            )?;
            publish(to.cache, applied.generation, &applied.settled.changes);
            written.changed |= applied.generation.is_some();
            written.generation = applied.generation.or(written.generation);
        }
    }
    Ok(written)
}

/// A progress bar when a person is watching (stderr is a terminal); hidden otherwise, so
/// cron mails and JSON logs stay clean.
fn progress_bar(pairs: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(pairs);
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} pairs ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::{RunLease, Sentry};
    use bouncer_core::config::Config;
    use bouncer_core::models::{NewLocation, NewMirror, NewOs, NewProduct};
    use bouncer_core::schema::*;
    use bouncer_test_support::fake_mirror::{Behaviour, FakeMirror};
    use bouncer_test_support::{db_tests, TestDb};
    use diesel::prelude::*;

    /// A run dropped mid-way (the daemon stopped by SIGTERM) gives its lease back at once:
    /// the next sentry does not wait out the 60 s.
    #[tokio::test]
    async fn an_abandoned_run_releases_its_lease() {
        let db = TestDb::sqlite();
        let lease = RunLease::take(&db.pool).await.unwrap();
        assert!(RunLease::take(&db.pool).await.is_err(), "held");
        drop(lease);
        let again = RunLease::take(&db.pool).await.unwrap();
        again.release().await;
        RunLease::take(&db.pool).await.unwrap().release().await;
    }

    fn seed(db: &TestDb, mirrors: &[(&str, String)]) -> i32 {
        let mut c = db.conn();
        let values = NewProduct {
            name: "Firefox",
            active: true,
            checknow: true,
            ssl_only: false,
        };
        diesel::insert_into(mirror_products::table)
            .values(values)
            .execute(&mut *c)
            .unwrap();
        let os = NewOs {
            name: "win",
            priority: 0,
        };
        diesel::insert_into(mirror_os::table)
            .values(os)
            .execute(&mut *c)
            .unwrap();
        let (pid, os_id): (i32, i32) = (
            mirror_products::table
                .select(mirror_products::id)
                .first(&mut *c)
                .unwrap(),
            mirror_os::table
                .select(mirror_os::id)
                .first(&mut *c)
                .unwrap(),
        );
        let location = NewLocation {
            product_id: pid,
            os_id,
            path: "/f/:lang/a.exe",
        };
        diesel::insert_into(mirror_locations::table)
            .values(location)
            .execute(&mut *c)
            .unwrap();
        for (name, baseurl) in mirrors {
            let m = NewMirror {
                name,
                baseurl,
                rating: 100,
                active: true,
            };
            diesel::insert_into(mirror_mirrors::table)
                .values(m)
                .execute(&mut *c)
                .unwrap();
        }
        mirror_locations::table
            .select(mirror_locations::id)
            .first(&mut *c)
            .unwrap()
    }

    /// A host that cannot use IPv6 (here: probes of IPv6 leave from an address this host
    /// does not have, as a host without IPv6 fails to connect): no IPv6 verdict, so no
    /// family rows at all — the pairs stay "either family" as the map says, rather than
    /// every mirror being marked down for IPv6 — and earlier rows are removed; counted.
    /// A mirror with IPv6 only cannot be checked at all: it fails as a whole (as before),
    /// which is its mirror state's to say (down, weight 0), not its rows'.
    fn a_family_the_host_cannot_use_gives_no_verdict(db: &TestDb) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let dual = FakeMirror::start_dual(Behaviour::Healthy).await;
            let v6 = FakeMirror::start_on("::1".parse().unwrap(), Behaviour::Healthy).await;
            let dual_url = format!("http://dual.test:{}/", dual.port());
            let loc = seed(db, &[("dual", dual_url), ("v6", v6.base_url())]);
            let mut config = Config::default();
            config.database.url = db.url.clone();
            config.sentry.request_timeout_ms = 2_000;
            config.sentry.failures_to_down = 1;
            config.sentry.successes_to_up = 1;
            let pinned = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
            config.sentry.resolve.insert("dual.test".into(), pinned);

            // A normal host first: both families judged, rows written for the dual-stack
            // mirror (the IPv6-only one has one family: its map rows hold it).
            Sentry::new(&config)
                .unwrap()
                .run(&Default::default())
                .await
                .unwrap();
            let rows = |db: &TestDb| -> i64 {
                bouncer_family_health::table
                    .count()
                    .get_result(&mut *db.conn())
                    .unwrap()
            };
            assert_eq!(rows(db), 2);

            let no_v6 = ["0.0.0.0".parse().unwrap(), "2001:db8::5".parse().unwrap()];
            let sentry = Sentry::bound(&config, no_v6).unwrap();
            let s = sentry.run(&Default::default()).await.unwrap();
            assert_eq!(s.no_verdict, 2, "one per mirror with IPv6");
            assert_eq!(rows(db), 0);
            let map: Vec<(i32, bool, bool)> = mirror_location_mirror_map::table
                .select((
                    mirror_location_mirror_map::mirror_id,
                    mirror_location_mirror_map::active,
                    mirror_location_mirror_map::healthy,
                ))
                .order(mirror_location_mirror_map::mirror_id)
                .filter(mirror_location_mirror_map::location_id.eq(loc))
                .load(&mut *db.conn())
                .unwrap();
            assert_eq!(map, [(1, true, true), (2, true, true)]);
            let state: (String, i32) = bouncer_core::schema::bouncer_mirror_health::table
                .find(2)
                .select((
                    bouncer_core::schema::bouncer_mirror_health::state,
                    bouncer_core::schema::bouncer_mirror_health::weight_percent,
                ))
                .first(&mut *db.conn())
                .unwrap();
            assert_eq!(state, ("down".to_owned(), 0));
            let reasons: Vec<String> = sentry_log::table
                .select(sentry_log::reason)
                .load(&mut *db.conn())
                .unwrap();
            assert!(
                reasons
                    .iter()
                    .any(|r| r.contains("; IPv6: no verdict (unreachable from sentry's host")),
                "{reasons:?}"
            );
            assert!(
                reasons
                    .iter()
                    .any(|r| r.starts_with("base URL: unreachable from sentry's host")),
                "{reasons:?}"
            );
            let metrics = prometheus::TextEncoder::new()
                .encode_to_string(&sentry.metrics().registry.gather())
                .unwrap();
            assert!(
                metrics.contains("sentry_family_no_verdict_total{family=\"6\"} 2"),
                "{metrics}"
            );
        });
    }

    db_tests! {
        no_verdict_for_an_unusable_family => a_family_the_host_cannot_use_gives_no_verdict,
    }
}
