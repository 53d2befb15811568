//! tuxedo's pruning of download statistics (see `bouncer_core::stats`): every
//! `stats.prune_every_secs` it removes the counts older than their granularity's
//! retention (`stats.keep_*`), and the ids of batches older than the minute rows.

use crate::AppState;
use actix_web::web;
use bouncer_service::shutdown::{self, CancellationToken};
use std::time::Duration;

/// The interval, or `None` when pruning is off.
pub(crate) fn every(config: &bouncer_core::config::Config) -> Option<Duration> {
    let secs = config.stats.prune_every_secs;
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// Prunes every `every` until the service stops; spawned by [`crate::build`].
pub(crate) async fn run(state: web::Data<AppState>, every: Duration, stop: CancellationToken) {
    shutdown::every(Duration::ZERO, every, stop, || prune(&state)).await
}

/// One pruning.
pub(crate) async fn prune(state: &web::Data<AppState>) {
    let keep = state.config.stats.retention();
    let now = chrono::Utc::now().timestamp();
    let pruned = crate::exec::on_master(state, false, move |c| {
        Ok(bouncer_core::stats::prune(c, keep, now)?)
    });
    match pruned.await {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, "download statistics pruned"),
        Err(e) => tracing::warn!(error = %e, "could not prune download statistics"),
    }
}
