//! tuxedo's checker of gated alias flips: every `tuxedo.gate_check_secs` it checks each
//! pending gate and carries out the due ones through the one write path (sentry does the
//! same after each of its runs; the gate's row makes it exactly once). It also keeps the
//! per-gate uptake gauge.

use crate::AppState;
use actix_web::web;
use bouncer_core::gates::{self, Outcome};
use bouncer_core::uptake::Cdn;
use bouncer_service::shutdown::{self, CancellationToken};
use std::time::Duration;

/// Runs a round every `every` until the service stops; spawned by [`crate::build`].
pub(crate) async fn run(state: web::Data<AppState>, every: Duration, stop: CancellationToken) {
    shutdown::every(Duration::ZERO, every, stop, || round(&state)).await
}

/// One check of every pending gate.
pub(crate) async fn round(state: &web::Data<AppState>) {
    let cdn = Cdn::of(&state.config);
    let inner = state.clone();
    // A read unless a gate flips: then what changed is published like any write's.
    // A flip is then waited for like any acknowledged write: every live instance serves it.
    let checked = crate::exec::on_master(state, false, move |conn| {
        let before = bouncer_core::generation::current(conn).ok();
        let now = chrono::Utc::now().naive_utc();
        let checked = gates::check_all(conn, cdn.as_ref(), "tuxedo", now)?;
        let mut pending = None;
        if checked
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Flipped { .. }))
        {
            let published = crate::exec::publish(conn, &inner, before);
            pending = crate::fleet::pending(conn, &inner, before, published);
        }
        Ok((checked, pending))
    })
    .await;
    let checked = match checked {
        Ok((c, pending)) => {
            if let Some(p) = pending {
                crate::fleet::confirm(state, p).await;
            }
            c
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not check the gated alias flips");
            return;
        }
    };
    let gauge = &state.metrics.gate_uptake;
    gauge.reset();
    for (gate, outcome) in checked {
        match outcome {
            Outcome::Pending(p) => gauge
                .with_label_values(&[gate.alias.as_str(), &gate.uptake_percent.to_string()])
                .set(p.uptake_percent),
            Outcome::Flipped {
                deadline,
                generation,
            } => tracing::info!(
                alias = gate.alias,
                product = gate.product,
                deadline,
                generation,
                "gated alias flip carried out"
            ),
            Outcome::GaveUp { reason } => {
                tracing::info!(alias = gate.alias, reason, "gated alias flip given up")
            }
            Outcome::Gone => {}
        }
    }
}

/// How often to check, from the configuration (`None`: off).
pub(crate) fn every(config: &bouncer_core::config::Config) -> Option<Duration> {
    match config.tuxedo.gate_check_secs {
        0 => None,
        s => Some(Duration::from_secs(s)),
    }
}
