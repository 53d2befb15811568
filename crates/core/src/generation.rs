//! The catalogue generation: one counter every write moves, so a database, a published
//! value in memcached and a bounce instance can each say how far they have seen.
//!
//! Writers do not call [`bump`] by hand any more: they record what they changed with
//! `changes::record`, which bumps inside the writing transaction and logs the changed rows
//! under the new generation (`bouncer_changes`). Because the counter row commits with the
//! change, a database that shows generation `g` also shows every write up to `g`. After
//! the commit the writer publishes `g` (with its history stamp, see `history`) to
//! memcached and, for tuxedo, calls every registered bounce instance (`fleet`). An
//! instance that learns of `g` reads the change log from the first reader that has
//! replicated `g` (a replica behind it is passed over, so stale rows are never cached as
//! new) and patches only what changed. This module holds the counter and its published
//! value; the log is `changes`, moving backwards (restores, promotions) is `history`.

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
