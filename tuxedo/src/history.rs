//! tuxedo's watch over the catalogue's history (see `bouncer_core::history`): every
//! `tuxedo.history_check_ms` it compares the master's generation with the highest one
//! published or served, and when a restore or a promotion took the master back, moves the
//! generation past it and waits for the fleet like any write — so every instance reloads
//! within about that interval, with no write and no restart needed. Writes check the same
//! at their publication.

use crate::AppState;
use actix_web::web;
use bouncer_service::shutdown::{self, CancellationToken};
use std::time::Duration;

/// Runs a check every `every` until the service stops; spawned by [`crate::build`].
pub(crate) async fn run(state: web::Data<AppState>, every: Duration, stop: CancellationToken) {
    shutdown::every(Duration::ZERO, every, stop, || check(&state)).await
}

/// One comparison; a jump is published and waited for.
pub(crate) async fn check(state: &web::Data<AppState>) {
    let inner = state.clone();
    let checked = crate::exec::on_master(state, false, move |conn| {
        let cache = inner.cache.as_deref();
        let before = bouncer_core::generation::current(conn)?;
        let Some(_) = bouncer_core::history::check(conn, cache, "tuxedo")? else {
            return Ok(None);
        };
        let published = crate::exec::publish(conn, &inner, Some(before));
        Ok(crate::fleet::pending(conn, &inner, Some(before), published))
    })
    .await;
    match checked {
        Ok(Some(pending)) => crate::fleet::confirm(state, pending).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not check the catalogue's history"),
    }
}

/// How often to check, from the configuration (`None`: off).
pub(crate) fn every(config: &bouncer_core::config::Config) -> Option<Duration> {
    match config.tuxedo.history_check_ms {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    }
}
