//! bounce's `/__heartbeat__`: the databases it reads and memcached, with "degraded" for
//! the states in which it still answers correctly from a fallback.

use crate::AppState;
use actix_web::web;
use bouncer_service::dockerflow::{Check, CheckState};

/// The database check: ok when a replica (or, without replicas, the master) answers;
/// degraded when only the master answers, or none does but last-known data is served;
/// failed when nothing can answer.
pub async fn database(state: &web::Data<AppState>) -> Check {
    let sources = state.catalogue.sources().clone();
    let replicas = state.config.database.replicas.len();
    let results = web::block(move || {
        sources
            .readers
            .iter()
            .map(|p| bouncer_core::db::ping(p).map_err(|e| e.to_string()))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let replica_ok = results.iter().take(replicas).any(Result::is_ok);
    let master_ok = results.len() > replicas && results[replicas].is_ok();
    let first_error = results.iter().find_map(|r| r.clone().err());
    let (state_, detail) = if replica_ok || (replicas == 0 && master_ok) {
        (CheckState::Ok, None)
    } else if master_ok {
        (
            CheckState::Degraded,
            Some("every replica is down; reading the master".to_owned()),
        )
    } else if state.catalogue.has_last_known() {
        let why = first_error.unwrap_or_default();
        (
            CheckState::Degraded,
            Some(format!(
                "every database is down ({why}); serving last known data"
            )),
        )
    } else {
        (
            CheckState::Failed,
            Some(first_error.unwrap_or_else(|| "no database configured".into())),
        )
    };
    Check {
        name: "database",
        state: state_,
        detail,
    }
}

/// The memcached check (only when servers are configured).
pub async fn memcached(state: &web::Data<AppState>) -> Option<Check> {
    let cache = state.catalogue.sources().cache.clone()?;
    let failed = web::block(move || cache.probe()).await.unwrap_or_default();
    let detail = failed
        .iter()
        .map(|(s, e)| format!("{s}: {e}"))
        .collect::<Vec<_>>()
        .join("; ");
    Some(Check::from_result(
        "memcached",
        if failed.is_empty() {
            Ok(())
        } else {
            Err(detail)
        },
    ))
}
