//! sentry, the mirror health checker: probes every (location, mirror) pair with HEAD
//! requests, bounded and fast, and writes what it found to the master database with
//! hysteresis (see `docs/sentry.md`).
//!
//! Entry points: [`run_once`] (cron) and [`daemon`] (a run every interval, plus the
//! Dockerflow and metrics endpoints). Both build a [`Sentry`], which tests use directly.

mod address;
mod agent;
mod cdn;
mod check;
mod error;
mod forget;
mod health;
mod learning;
mod metrics;
mod plan;
mod probe;
mod report;
mod run;
mod server;
mod store;
pub mod vantage;

pub use agent::{agent, Agent, Round};
pub use bouncer_core::networks::Family;
pub use check::{FamilyCheck, FamilyResult, Loc, MirrorReport, Target};
pub use error::SentryError;
pub use forget::{forget_learned, ForgetOptions, Forgotten};
pub use health::{MirrorState, Policy, RowState, State};
pub use metrics::Metrics;
pub use probe::{classify, Class, Outcome, Reason};
pub use run::{RunSummary, Sentry};
pub use server::{serve, Scope};
pub use vantage::{Finding, Seen};

use bouncer_core::config::Config;
use bouncer_service::shutdown::{self, CancellationToken};
use std::future::Future;
use std::time::Duration;

/// What one run covers.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunOptions {
    /// Kept for cron compatibility: a run always exits when done.
    #[arg(long)]
    pub once: bool,
    /// Only locations of products flagged `checknow` (new releases).
    #[arg(long, conflicts_with = "checkall")]
    pub checknow: bool,
    /// Every location of every active product (the default).
    #[arg(long)]
    pub checkall: bool,
    /// Only this mirror: its id, its name, or part of exactly one mirror's name or base URL.
    #[arg(long)]
    pub mirror: Option<String>,
}

/// One run against the master database (for cron: the caller exits non-zero on `Err`).
pub async fn run_once(config: &Config, opts: &RunOptions) -> Result<RunSummary, SentryError> {
    Sentry::new(config)?.run(opts).await
}

/// Serves the Dockerflow and metrics endpoints on `sentry.listen` and runs once per
/// `sentry.interval_secs` until `shutdown` resolves; a failed run is logged and retried at
/// the next tick. On `shutdown` the endpoints stop and a run in flight finishes (its lease
/// released) before this returns.
pub async fn daemon(
    config: &Config,
    opts: &RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), SentryError> {
    let sentry = Sentry::new(config)?;
    let listener = std::net::TcpListener::bind(config.sentry.listen)?;
    let stop = CancellationToken::new();
    let server = serve(&sentry, listener, stop.clone().cancelled_owned())?;
    tracing::info!(listen = %config.sentry.listen, "sentry daemon starting");
    let told = async {
        tokio::select! {
            () = shutdown => stop.cancel(),
            () = stop.cancelled() => {}
        }
    };
    let served = async {
        let served = server.run_until_stopped().await;
        stop.cancel(); // a listener that failed ends the runs too
        served
    };
    let every = Duration::from_secs(config.sentry.interval_secs);
    let runs = shutdown::every(Duration::ZERO, every, stop.clone(), || async {
        match sentry.run(opts).await {
            Ok(_) | Err(SentryError::Busy(_)) => {} // a busy lease is logged as a skip
            Err(e) => tracing::error!(error = %e, "run failed"),
        }
    });
    let ((), served, ()) = tokio::join!(told, served, runs);
    tracing::info!("sentry daemon stopped");
    Ok(served?)
}
