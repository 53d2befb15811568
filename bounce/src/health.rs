//! bounce's `/__heartbeat__` database check, with "warning" for the states in which it
//! still answers correctly from a fallback.

use crate::catalogue::Catalogue;
use actix_web::web;
use bouncer_service::dockerflow::{Check, CheckState};

/// The database check: ok when a replica (or, without replicas, the master) answers;
/// warning when only the master answers, or none does but last-known data is served;
/// error when nothing can answer. `replicas` is how many of the catalogue's readers are
/// replicas (the rest is the master).
pub async fn database(catalogue: &Catalogue, replicas: usize) -> Check {
    let sources = catalogue.sources().clone();
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
    let (state, detail) = if replica_ok || (replicas == 0 && master_ok) {
        (CheckState::Ok, None)
    } else if master_ok {
        (
            CheckState::Warning,
            Some("every replica is down; reading the master".to_owned()),
        )
    } else if catalogue.has_last_known() {
        let why = first_error.unwrap_or_default();
        (
            CheckState::Warning,
            Some(format!(
                "every database is down ({why}); serving last known data"
            )),
        )
    } else {
        (
            CheckState::Error,
            Some(first_error.unwrap_or_else(|| "no database configured".into())),
        )
    };
    Check {
        name: "database",
        state,
        detail,
    }
}
