//! The one way handlers of both APIs reach the master: a pooled connection off the async
//! executor, and after every committed write the catalogue generation published to
//! memcached with the list of what changed, so every bounce instance updates exactly those
//! entries (read your writes for release automation, which checks bounce right after
//! setting aliases).

use crate::error::{Result, TuxedoError};
use crate::AppState;
use actix_web::web;
use bouncer_core::db::{self, DbConnection};
use bouncer_core::{changes, generation};

/// Runs `f` on a master connection in the blocking pool. When `write` is set and `f`
/// succeeded (its transaction committed), publishes the master's generation. A failed
/// publish is logged, not returned: the write is done and must be acknowledged; bounce
/// still sees it within its generation poll of the database.
pub(crate) async fn on_master<T, F>(state: &web::Data<AppState>, write: bool, f: F) -> Result<T>
where
    F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let state = state.clone();
    web::block(move || {
        let mut conn = db::conn(&state.master)?;
        let before = match write {
            true => generation::current(&mut conn).ok(),
            false => None,
        };
        let out = f(&mut conn)?;
        if write {
            publish(&mut conn, &state, before);
        }
        Ok(out)
    })
    .await
    .map_err(|e| TuxedoError::Internal(e.to_string()))?
}

/// Publishes the change lists of the generations after `before` (what this write, and any
/// write that committed meanwhile, changed), then the generation.
fn publish(conn: &mut DbConnection, state: &AppState, before: Option<i64>) {
    let cache = state.cache.as_deref();
    let published = match before {
        Some(before) => changes::publish_since(conn, cache, before),
        None => generation::publish_current(conn, cache),
    };
    match published {
        Ok(g) => tracing::debug!(generation = g, "generation published"),
        Err(e) => tracing::warn!(error = %e, "could not publish the catalogue generation"),
    }
}
