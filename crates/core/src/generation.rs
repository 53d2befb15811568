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
use crate::schema::bouncer_generation::dsl::{bouncer_generation, name, value};
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

/// memcached key (under the configured prefix) holding the published generation.
const PUBLISHED_KEY: &str = "generation:catalogue";

/// Publishes `value` so bounce instances see the change within their poll interval.
pub fn publish(cache: &crate::cache::Memcached, generation: i64) {
    cache.set_for(
        &cache.named_key(PUBLISHED_KEY),
        generation.to_string().as_bytes(),
        0,
    );
}

/// The generation last published, if memcached has one.
pub fn published(cache: &crate::cache::Memcached) -> Option<i64> {
    let raw = cache.get(&cache.named_key(PUBLISHED_KEY))?;
    std::str::from_utf8(&raw).ok()?.trim().parse().ok()
}

/// After a committed write: reads the master's generation and publishes it. Cheap (one
/// query, one set) and called only on writes. Concurrent writers may publish out of
/// order; readers treat any change as a change and take the larger of the published and
/// the master's value, so a late smaller value cannot hide a write.
pub fn publish_current(
    conn: &mut DbConnection,
    cache: Option<&crate::cache::Memcached>,
) -> Result<i64> {
    let generation = current(conn)?;
    if let Some(cache) = cache {
        publish(cache, generation);
    }
    Ok(generation)
}
