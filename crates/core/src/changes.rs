//! The change log: the one write path every writer (tuxedo's APIs and UI, sentry, the rules
//! loader, the legacy import) takes to tell bounce what a committed write changed.
//!
//! Inside the writing transaction, [`record`] bumps the catalogue generation and stores one
//! row per changed entity under that generation (the outbox pattern: the log commits with
//! the data and replicates with it, so a crash between commit and publish loses nothing).
//! After the commit the writer calls [`publish_since`] (or [`publish`]), which puts each
//! generation's list in memcached next to the generation itself. bounce instances read the
//! lists (memcached first, the log on a replica otherwise) and update exactly the entries
//! named; a generation without a list (a writer that predates the log, a hand edit that
//! bumped the counter) counts as [`Change::Everything`].

use crate::cache::Memcached;
use crate::db::DbConnection;
use crate::generation;
use crate::schema::bouncer_changes;
use crate::Result;
use diesel::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// One changed entity, by id (ids survive renames; names are looked up again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// A product's row, languages or locations (not the mirrors of its locations).
    Product(i32),
    /// One alias row.
    Alias(i32),
    /// Every alias (a product rename rewrites the aliases that point at it).
    Aliases,
    /// One operating system row.
    Os(i32),
    /// The mirror map rows of one location (mirrors added or removed, active, healthy).
    Location(i32),
    /// The mirror map rows of every location (a mirror added to all of them).
    AllLocations,
    /// One mirror's row, health ramp or region membership, wherever it is served.
    Mirror(i32),
    /// Regions and the country to region map.
    Network,
    /// The rewrite rules.
    Rules,
    /// Anything: reload all.
    Everything,
}

/// Generations of the log kept; bounce reads only what its instances have not applied yet,
/// and a starting instance what its shared cache entries might predate.
pub const RETAINED_GENERATIONS: i64 = 100_000;

/// How many rows one read of the log returns at most; more means "reload all".
pub const READ_LIMIT: i64 = 20_000;

impl Change {
    fn parts(self) -> (&'static str, i64) {
        match self {
            Change::Product(id) => ("product", id.into()),
            Change::Alias(id) => ("alias", id.into()),
            Change::Aliases => ("aliases", 0),
            Change::Os(id) => ("os", id.into()),
            Change::Location(id) => ("location", id.into()),
            Change::AllLocations => ("locations", 0),
            Change::Mirror(id) => ("mirror", id.into()),
            Change::Network => ("network", 0),
            Change::Rules => ("rules", 0),
            Change::Everything => ("all", 0),
        }
    }

    /// The change a stored row stands for; an unknown kind (a newer writer) is everything.
    pub fn from_parts(kind: &str, entity: i64) -> Change {
        let id = i32::try_from(entity).ok();
        match (kind, id) {
            ("product", Some(id)) => Change::Product(id),
            ("alias", Some(id)) => Change::Alias(id),
            ("aliases", _) => Change::Aliases,
            ("os", Some(id)) => Change::Os(id),
            ("location", Some(id)) => Change::Location(id),
            ("locations", _) => Change::AllLocations,
            ("mirror", Some(id)) => Change::Mirror(id),
            ("network", _) => Change::Network,
            ("rules", _) => Change::Rules,
            _ => Change::Everything,
        }
    }

    /// `kind:entity`, the form the lists take in memcached.
    pub fn encode(self) -> String {
        let (kind, entity) = self.parts();
        format!("{kind}:{entity}")
    }

    pub fn decode(s: &str) -> Option<Change> {
        let (kind, entity) = s.split_once(':')?;
        Some(Change::from_parts(kind, entity.parse().ok()?))
    }
}

/// What a run of changes touched, by kind: how a reader decides which of its entries to
/// read again.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Touched {
    pub products: BTreeSet<i32>,
    pub aliases: BTreeSet<i32>,
    pub oses: BTreeSet<i32>,
    pub locations: BTreeSet<i32>,
    pub mirrors: BTreeSet<i32>,
    pub all_aliases: bool,
    pub all_locations: bool,
    pub network: bool,
    pub rules: bool,
    pub everything: bool,
}

impl<'a> FromIterator<&'a Change> for Touched {
    fn from_iter<I: IntoIterator<Item = &'a Change>>(changes: I) -> Self {
        let mut t = Touched::default();
        for change in changes {
            match *change {
                Change::Product(id) => _ = t.products.insert(id),
                Change::Alias(id) => _ = t.aliases.insert(id),
                Change::Aliases => t.all_aliases = true,
                Change::Os(id) => _ = t.oses.insert(id),
                Change::Location(id) => _ = t.locations.insert(id),
                Change::AllLocations => t.all_locations = true,
                Change::Mirror(id) => _ = t.mirrors.insert(id),
                Change::Network => t.network = true,
                Change::Rules => t.rules = true,
                Change::Everything => t.everything = true,
            }
        }
        t
    }
}

impl Touched {
    /// Whether a name (product, alias, OS) has to be read again.
    pub fn names(&self) -> bool {
        !(self.products.is_empty() && self.aliases.is_empty() && self.oses.is_empty())
            || self.all_aliases
    }

    /// Whether the mirror snapshot (mirrors, regions, rules) has to be read again.
    pub fn snapshot(&self) -> bool {
        !self.mirrors.is_empty() || self.network || self.rules
    }
}

/// Records `changes` as one new generation and returns it; call inside the writing
/// transaction. An empty list is recorded as [`Change::Everything`].
pub fn record(conn: &mut DbConnection, changes: &[Change]) -> Result<i64> {
    let generation_ = generation::bump(conn)?;
    // The generation's identity (see `history`): nonzero, so 0 can mean "no stamp".
    let stamp = {
        use rand::RngExt;
        rand::rng().random_range(1..i64::MAX)
    };
    let mut list: Vec<Change> = changes.to_vec();
    list.sort();
    list.dedup();
    if list.is_empty() {
        list.push(Change::Everything);
    }
    for change in list {
        let (kind, entity) = change.parts();
        diesel::insert_into(bouncer_changes::table)
            .values((
                bouncer_changes::generation.eq(generation_),
                bouncer_changes::kind.eq(kind),
                bouncer_changes::entity.eq(entity),
                bouncer_changes::stamp.eq(stamp),
            ))
            .execute(conn)?;
    }
    if generation_ % 1024 == 0 {
        diesel::delete(
            bouncer_changes::table
                .filter(bouncer_changes::generation.lt(generation_ - RETAINED_GENERATIONS)),
        )
        .execute(conn)?;
    }
    Ok(generation_)
}

/// The logged changes of the generations after `after`, by generation (at most
/// [`READ_LIMIT`] rows; the caller treats a full read as "reload all").
pub fn since(conn: &mut DbConnection, after: i64) -> Result<BTreeMap<i64, Vec<Change>>> {
    let rows = bouncer_changes::table
        .filter(bouncer_changes::generation.gt(after))
        .select((
            bouncer_changes::generation,
            bouncer_changes::kind,
            bouncer_changes::entity,
        ))
        .order(bouncer_changes::id.asc())
        .limit(READ_LIMIT)
        .load::<(i64, String, i64)>(conn)?;
    let mut out: BTreeMap<i64, Vec<Change>> = BTreeMap::new();
    let full = rows.len() as i64 >= READ_LIMIT;
    for (g, kind, entity) in rows {
        out.entry(g)
            .or_default()
            .push(Change::from_parts(&kind, entity));
    }
    if full {
        if let Some(list) = out.values_mut().last() {
            list.push(Change::Everything);
        }
    }
    Ok(out)
}

/// The stamp of generation `g` in this database's log (`None`: not logged, or before
/// stamps; see [`crate::history`]).
pub fn stamp_of(conn: &mut DbConnection, g: i64) -> Result<Option<i64>> {
    Ok(bouncer_changes::table
        .filter(bouncer_changes::generation.eq(g))
        .select(bouncer_changes::stamp)
        .first::<i64>(conn)
        .optional()?
        .filter(|s| *s != 0))
}

/// For a starting instance at generation `current`: the generation below which no shared
/// location entry can be trusted (the log does not reach back that far, has a gap, or a
/// change to every location was logged there), and the last logged change to each
/// location's rows. Three queries, bounded by the retained log.
pub fn location_history(conn: &mut DbConnection, current: i64) -> Result<(i64, Vec<(i32, i64)>)> {
    let oldest: Option<i64> = bouncer_changes::table
        .select(diesel::dsl::min(bouncer_changes::generation))
        .first(conn)?;
    let distinct: i64 = bouncer_changes::table
        .select(diesel::dsl::count(bouncer_changes::generation).aggregate_distinct())
        .first(conn)?;
    let mut horizon = match oldest {
        Some(g) if distinct == current - g + 1 => g - 1,
        _ => current,
    };
    let rows = bouncer_changes::table
        .filter(bouncer_changes::kind.eq_any(["location", "locations", "all"]))
        .group_by((bouncer_changes::kind, bouncer_changes::entity))
        .select((
            bouncer_changes::kind,
            bouncer_changes::entity,
            diesel::dsl::max(bouncer_changes::generation),
        ))
        .load::<(String, i64, Option<i64>)>(conn)?;
    let mut per_location = Vec::new();
    for (kind, entity, g) in rows {
        let g = g.unwrap_or(0);
        match Change::from_parts(&kind, entity) {
            Change::Location(id) => per_location.push((id, g)),
            _ => horizon = horizon.max(g),
        }
    }
    Ok((horizon, per_location))
}

fn list_key(cache: &Memcached, generation_: i64) -> String {
    cache.named_key(&format!("changes:{generation_}"))
}

/// Lifetime of a published list: instances read it within a poll interval.
const LIST_TTL_SECS: u32 = 3600;

/// Puts one generation's list in memcached (before the generation itself is published).
pub fn publish(cache: &Memcached, generation_: i64, changes: &[Change]) {
    let text = changes
        .iter()
        .map(|c| c.encode())
        .collect::<Vec<_>>()
        .join(",");
    cache.set_for(
        &list_key(cache, generation_),
        text.as_bytes(),
        LIST_TTL_SECS,
    );
}

/// The published list of one generation, if memcached has it.
pub fn published(cache: &Memcached, generation_: i64) -> Option<Vec<Change>> {
    let raw = cache.get(&list_key(cache, generation_))?;
    let text = std::str::from_utf8(&raw).ok()?;
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(Change::decode)
        .collect()
}

/// After a commit: publishes the lists of every generation after `after` and then the
/// master's generation. Returns the generation published. Writers call it through
/// [`crate::history::publish_since`], which first repairs a history that went back.
pub fn publish_since(
    conn: &mut DbConnection,
    cache: Option<&Memcached>,
    after: i64,
) -> Result<i64> {
    if let Some(cache) = cache {
        for (g, list) in since(conn, after)? {
            publish(cache, g, &list);
        }
    }
    publish_current(conn, cache)
}

/// Publishes the master's generation with its stamp (see [`crate::history`]).
pub fn publish_current(conn: &mut DbConnection, cache: Option<&Memcached>) -> Result<i64> {
    let g = generation::current(conn)?;
    if let Some(cache) = cache {
        let stamp = stamp_of(conn, g)?.unwrap_or(0);
        generation::publish_stamped(cache, g, stamp);
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_through_their_text_form() {
        for c in [
            Change::Product(7),
            Change::Alias(1),
            Change::Aliases,
            Change::Os(3),
            Change::Location(99),
            Change::AllLocations,
            Change::Mirror(5),
            Change::Network,
            Change::Rules,
            Change::Everything,
        ] {
            assert_eq!(Change::decode(&c.encode()), Some(c));
        }
        assert_eq!(Change::from_parts("future-kind", 1), Change::Everything);
        assert_eq!(Change::decode("product"), None);
    }
}
