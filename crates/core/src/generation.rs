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
    publish_stamped(cache, generation, 0);
}

/// Publishes `value` with the stamp of that generation (`g stamp`; see `history`).
pub fn publish_stamped(cache: &crate::cache::Memcached, generation: i64, stamp: i64) {
    let text = match stamp {
        0 => generation.to_string(),
        s => format!("{generation} {s}"),
    };
    cache.set_for(&cache.named_key(PUBLISHED_KEY), text.as_bytes(), 0);
}

/// The generation last published, if memcached has one.
pub fn published(cache: &crate::cache::Memcached) -> Option<i64> {
    published_stamped(cache).map(|(g, _)| g)
}

/// The generation last published and its stamp (0: published without one).
pub fn published_stamped(cache: &crate::cache::Memcached) -> Option<(i64, i64)> {
    let raw = cache.get(&cache.named_key(PUBLISHED_KEY))?;
    let text = std::str::from_utf8(&raw).ok()?;
    let mut parts = text.split_whitespace();
    let g = parts.next()?.parse().ok()?;
    let stamp = match parts.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    Some((g, stamp))
}
