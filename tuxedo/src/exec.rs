//! The one way handlers of both APIs reach the master: a pooled connection off the async
//! executor, and after every committed write the catalogue generation published to
//! memcached with the list of what changed, so every bounce instance updates exactly those
//! entries — and then, before the write is acknowledged, every live bounce instance told to
//! serve it and waited for (see [`crate::fleet`]): release automation checks bounce right
//! after setting aliases, with no retry.

use crate::error::{Result, TuxedoError};
use crate::AppState;
use actix_web::web;
use bouncer_core::db::{self, DbConnection};
use bouncer_core::{changes, generation};
use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    /// The deadline of the database call running on this blocking thread, if any.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` on a master connection in the blocking pool. When `write` is set and `f`
/// succeeded (its transaction committed), publishes the master's generation and waits
/// until the bounce fleet serves it (bounded; see [`crate::fleet::confirm`]). A failed
/// publish is logged, not returned: the write is done and must be acknowledged; bounce
/// still sees it within its generation poll of the database.
pub(crate) async fn on_master<T, F>(state: &web::Data<AppState>, write: bool, f: F) -> Result<T>
where
    F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let inner = state.clone();
    let (out, pending) = within_deadline(state, move || {
        let state = inner;
        let mut conn = db::conn(&state.master)?;
        let before = match write {
            true => generation::current(&mut conn).ok(),
            false => None,
        };
        let out = f(&mut conn)?;
        let pending = match write {
            true => {
                let published = publish(&mut conn, &state, before);
                crate::fleet::pending(&mut conn, &state, before, published)
            }
            false => None,
        };
        Ok((out, pending))
    })
    .await?;
    if let Some(p) = pending {
        crate::fleet::confirm(state, p).await;
    }
    Ok(out)
}

/// Runs the read `f` on a connection of the API reads' own pool (`tuxedo.read_pool_size`)
/// in the blocking pool: while reads hold all of theirs, further reads wait for one (or
/// answer 503 at the deadline) and writes keep the master pool.
pub(crate) async fn on_reads<T, F>(state: &web::Data<AppState>, f: F) -> Result<T>
where
    F: FnOnce(&mut DbConnection) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let inner = state.clone();
    within_deadline(state, move || {
        let mut conn = db::conn(&inner.reads)?;
        f(&mut conn)
    })
    .await
}

/// Runs the database work `f` in the blocking pool, answering within
/// `database.query_timeout_ms` whatever the database does: an established connection has
/// no read timeout of its own, so a stalled server would otherwise hold the caller as long
/// as it stalls. Work still running then goes on in its thread; [`check_deadline`] makes a
/// write roll back there rather than commit what its caller was told failed.
pub(crate) async fn within_deadline<T, F>(state: &web::Data<AppState>, f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    let limit = Duration::from_millis(state.config.database.query_timeout_ms);
    let deadline = Instant::now() + limit;
    let late = state.metrics.late_calls.clone();
    let work = web::block(move || {
        DEADLINE.with(|d| d.set(Some(deadline)));
        let commits = db::commits_on_this_thread();
        let out = f();
        DEADLINE.with(|d| d.set(None));
        if Instant::now() >= deadline {
            // What an operator must look at is a write applied behind the caller's back;
            // a late read is harmless and counted apart.
            let outcome = match (db::commits_on_this_thread() != commits, out.is_ok()) {
                (true, _) => "ok",
                (false, false) => "error",
                (false, true) => "read",
            };
            late.with_label_values(&[outcome]).inc();
            tracing::warn!(
                outcome,
                "a database call finished after its caller was answered 503"
            );
        }
        out
    });
    match tokio::time::timeout(limit, work).await {
        Ok(done) => done.map_err(|e| TuxedoError::Internal(e.to_string()))?,
        Err(_) => {
            state.metrics.deadline_exceeded.inc();
            tracing::warn!(
                timeout_ms = limit.as_millis() as u64,
                "the database did not answer in time"
            );
            Err(TuxedoError::Unavailable(format!(
                "no answer within {} ms",
                limit.as_millis()
            )))
        }
    }
}

/// `Err` once the deadline of the database call on this thread has passed: checked before
/// a write transaction begins and before it commits, so a write whose caller was already
/// answered 503 is rolled back, not applied behind its back.
pub(crate) fn check_deadline() -> Result<()> {
    match DEADLINE.with(Cell::get) {
        Some(d) if Instant::now() >= d => Err(TuxedoError::Unavailable(
            "deadline passed; rolled back".into(),
        )),
        _ => Ok(()),
    }
}

/// Publishes the change lists of the generations after `before` (what this write, and any
/// write that committed meanwhile, changed), then the generation; returns the generation
/// published.
pub(crate) fn publish(
    conn: &mut DbConnection,
    state: &AppState,
    before: Option<i64>,
) -> Option<i64> {
    let cache = state.cache.as_deref();
    let published = match before {
        Some(before) => bouncer_core::history::publish_since(conn, cache, before),
        None => changes::publish_current(conn, cache),
    };
    match published {
        Ok(g) => {
            tracing::debug!(generation = g, "generation published");
            Some(g)
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not publish the catalogue generation");
            None
        }
    }
}
