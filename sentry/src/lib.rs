//! sentry's runs. The checking itself is not implemented yet: a run connects to the master,
//! counts what it would check, and reports that (see the sentry issue).

use bouncer_core::config::Config;
use bouncer_core::db;
use bouncer_core::schema::mirror_mirrors;
use diesel::prelude::*;
use std::time::Duration;

/// sentry's one error type.
#[derive(Debug, thiserror::Error)]
pub enum SentryError {
    #[error(transparent)]
    Core(#[from] bouncer_core::CoreError),
    #[error("run task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What one run covers.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunOptions {
    /// Kept for cron compatibility: a run always exits when done.
    #[arg(long)]
    pub once: bool,
    /// Only locations of products flagged `checknow`.
    #[arg(long, conflicts_with = "checkall")]
    pub checknow: bool,
    /// Every location of every active product.
    #[arg(long)]
    pub checkall: bool,
    /// Only this mirror (id, or part of its name or base URL).
    #[arg(long)]
    pub mirror: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub mirrors: i64,
}

/// One run against the master database.
pub async fn run_once(config: &Config, opts: &RunOptions) -> Result<RunSummary, SentryError> {
    let pool = db::pool(&config.database.url, bouncer_service::pool_options(config))?;
    let mirrors = tokio::task::spawn_blocking(move || -> Result<i64, SentryError> {
        let mut conn = db::conn(&pool)?;
        let n = mirror_mirrors::table
            .filter(mirror_mirrors::active.eq(true))
            .count()
            .get_result(&mut *conn)
            .map_err(bouncer_core::CoreError::from)?;
        Ok(n)
    })
    .await??;
    tracing::warn!(
        mirrors,
        checknow = opts.checknow,
        "mirror checks are not implemented yet; nothing was probed"
    );
    Ok(RunSummary { mirrors })
}

/// Runs forever, one run per interval; a failed run is logged and retried next time.
pub async fn daemon(config: &Config, opts: &RunOptions) -> Result<(), SentryError> {
    let mut tick = tokio::time::interval(Duration::from_secs(config.sentry.interval_secs));
    loop {
        tick.tick().await;
        if let Err(e) = run_once(config, opts).await {
            tracing::error!(error = %e, "run failed");
        }
    }
}
