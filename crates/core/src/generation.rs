//! The catalogue generation: how a write becomes visible to every bounce instance quickly,
//! and how a lagging replica is recognised.
//!
//! Every writer (tuxedo, sentry) calls [`bump`] inside the transaction that changes what
//! bounce serves. Because the counter row commits with the change, a database that shows
//! generation `g` also shows every write up to `g`. After the commit the writer publishes
//! the new value to memcached; bounce instances watch it, drop their in-process entries
//! when it moves, and key shared cache entries by it. When bounce fills an entry for
//! generation `g` from a replica that reports less than `g`, the replica has not caught up
//! and the read goes to the master instead, so stale data is never cached as new.

use crate::db::DbConnection;
use crate::schema::bouncer_generation::dsl::*;
use crate::Result;
use diesel::prelude::*;

/// The name of the counter for the download catalogue.
pub const CATALOGUE: &str = "catalogue";

/// Increments the catalogue generation; call inside the writing transaction. Returns the
/// new value.
pub fn bump(conn: &mut DbConnection) -> Result<i64> {
    diesel::update(bouncer_generation.filter(name.eq(CATALOGUE)))
        .set(value.eq(value + 1))
        .execute(conn)?;
    current(conn)
}

/// The catalogue generation this database has seen.
pub fn current(conn: &mut DbConnection) -> Result<i64> {
    Ok(bouncer_generation
        .filter(name.eq(CATALOGUE))
        .select(value)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}
