//! The catalogue operations: plain functions over a database connection that every
//! interface (the XML API, the JSON API, a web UI) calls, so the rules live in one place.
//!
//! Each write runs in one transaction (all or nothing), bumps the catalogue generation when
//! it changes what bounce serves, and records an audit row (actor, action, target, before
//! and after as JSON). Input is validated before anything is written; a uniqueness clash
//! found by the database inside the transaction rolls everything back.

pub mod aliases;
pub mod audit_log;
pub mod files;
pub mod gates;
pub mod locations;
pub mod mirrors;
pub mod oses;
pub mod product_edit;
pub mod products;
pub mod regions;
pub mod rules;
pub mod uptake;

use crate::error::{Result, TuxedoError};
pub(crate) use bouncer_core::changes::Change;
use bouncer_core::db::DbConnection;
use bouncer_core::schema::{mirror_os as os_t, mirror_products as products_t};
use diesel::prelude::*;

/// The calls of a kind of row the operator lists whole, adds, and changes and deletes by
/// id (operating systems, regions, mirrors): the JSON API mounts each kind's four routes
/// with one set of handlers over these instead of four forwarding handlers a kind.
pub struct Rows<New, Patch, View> {
    pub list: fn(&mut DbConnection) -> Result<Vec<View>>,
    pub add: fn(&mut DbConnection, &str, &New) -> Result<View>,
    pub update: fn(&mut DbConnection, &str, i32, &Patch) -> Result<View>,
    pub delete: fn(&mut DbConnection, &str, i32) -> Result<()>,
}

// By hand: derived, they would ask `New`, `Patch` and `View` to be `Copy` too.
impl<N, P, V> Clone for Rows<N, P, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<N, P, V> Copy for Rows<N, P, V> {}

/// How a name given by a caller selects rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match<'a> {
    /// The same name ([`bouncer_core::names::same`]: ASCII case folding only).
    Exact(&'a str),
    /// Case-insensitive substring; `%` and `_` in the input match themselves.
    Fuzzy(&'a str),
}

/// The LIKE escape character: not `\`, which MySQL would also read as a string escape.
const LIKE_ESCAPE: char = '!';

impl Match<'_> {
    /// The LIKE pattern of a fuzzy match, with the caller's wildcards escaped.
    fn like_pattern(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('%');
        for c in s.chars() {
            if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
                out.push(LIKE_ESCAPE);
            }
            out.push(c);
        }
        out.push('%');
        out
    }

    /// Whether a row the query found has the name asked for: for an exact name the
    /// collation only finds candidates and [`bouncer_core::names::same`] decides; a fuzzy
    /// match is the query's own.
    fn admits(self, name: &str) -> bool {
        match self {
            Match::Exact(s) => bouncer_core::names::same(name, s),
            Match::Fuzzy(_) => true,
        }
    }
}

/// Products whose name matches, sorted by name.
pub(crate) fn matching_products(
    conn: &mut DbConnection,
    m: Match<'_>,
) -> Result<Vec<bouncer_core::models::Product>> {
    use products_t::dsl::*;
    let found: Vec<bouncer_core::models::Product> = match m {
        Match::Exact(s) => mirror_products.filter(name.eq(s)).load(conn)?,
        Match::Fuzzy(s) => mirror_products
            .filter(name.like(Match::like_pattern(s)).escape(LIKE_ESCAPE))
            .load(conn)?,
    };
    let mut rows: Vec<_> = found.into_iter().filter(|p| m.admits(&p.name)).collect();
    rows.sort_by(|a, b| sort_key(&a.name).cmp(&sort_key(&b.name)));
    Ok(rows)
}

/// Operating systems whose name matches, by id.
pub(crate) fn matching_oses(
    conn: &mut DbConnection,
    m: Match<'_>,
) -> Result<Vec<bouncer_core::models::Os>> {
    use os_t::dsl::*;
    let found: Vec<bouncer_core::models::Os> = match m {
        Match::Exact(s) => mirror_os.filter(name.eq(s)).order(id.asc()).load(conn)?,
        Match::Fuzzy(s) => mirror_os
            .filter(name.like(Match::like_pattern(s)).escape(LIKE_ESCAPE))
            .order(id.asc())
            .load(conn)?,
    };
    Ok(found.into_iter().filter(|o| m.admits(&o.name)).collect())
}

/// The order names are listed in, the same on every backend (the collations of MySQL and
/// SQLite disagree on punctuation against letters).
pub(crate) fn sort_key(s: &str) -> (String, &str) {
    (s.to_lowercase(), s)
}

/// Checks a caller-given name: trimmed, not empty, at most `max` characters.
pub(crate) fn valid_name<'a>(field: &'static str, value: &'a str, max: usize) -> Result<&'a str> {
    let v = value.trim();
    if v.is_empty() {
        return Err(TuxedoError::Missing(field));
    }
    if v.chars().count() > max {
        return Err(TuxedoError::invalid(
            field,
            format!("longer than {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(TuxedoError::invalid(field, "contains control characters"));
    }
    Ok(v)
}

/// One write transaction, tried again (see [`TuxedoError::is_retryable`]) when the
/// database aborted it — two identical concurrent writes deadlock on MariaDB — or when a
/// concurrent identical write inserted the same key first: the next attempt sees that row
/// and answers as for a repeat ("already exists", or an unchanged success). Two release
/// tasks racing is normal.
///
/// Called inside another write (one XML call that writes a location and states its file),
/// it runs once in a savepoint and leaves retrying to the outermost: a deadlock aborts the
/// whole transaction, not just the savepoint, so only the whole can be tried again.
pub(crate) fn write_tx<T>(
    conn: &mut DbConnection,
    mut f: impl FnMut(&mut DbConnection) -> Result<T>,
) -> Result<T> {
    if in_transaction(conn)? {
        return bouncer_core::db::write_transaction(conn, f);
    }
    bouncer_core::db::classify::retrying(
        || {
            crate::exec::check_deadline()?;
            bouncer_core::db::write_transaction(conn, |c| {
                let out = f(c)?;
                crate::exec::check_deadline()?;
                Ok(out)
            })
        },
        TuxedoError::is_retryable,
    )
}

/// Whether `conn` is inside a transaction already.
fn in_transaction(conn: &mut DbConnection) -> Result<bool> {
    use diesel::connection::{Connection, TransactionManager};
    type Manager = <DbConnection as Connection>::TransactionManager;
    let status = Manager::transaction_manager_status_mut(conn);
    Ok(status.transaction_depth()?.is_some())
}

/// Whether a database error is a unique-key clash (a concurrent or repeated write).
pub(crate) use bouncer_core::db::classify::is_unique_violation;

/// Inserts the map row of each (location id, mirror id) pair, as a new location gets one
/// for every mirror and a new mirror one for every location: not active until sentry
/// finds the file there, healthy until it checks.
pub(crate) fn map_rows(
    conn: &mut DbConnection,
    pairs: impl IntoIterator<Item = (i32, i32)>,
) -> Result<()> {
    use bouncer_core::models::NewLocationMirror;
    use bouncer_core::schema::mirror_location_mirror_map as map;
    for (location_id, mirror_id) in pairs {
        diesel::insert_into(map::table)
            .values(NewLocationMirror {
                location_id,
                mirror_id,
                active: false,
                healthy: true,
            })
            .execute(conn)?;
    }
    Ok(())
}

/// A failed write of a named `kind` (`os`, `region`, `mirror`): a unique-key clash is a
/// conflict ("{kind} {name:?} already exists"), any other error stays what it is.
pub(crate) fn clash(e: diesel::result::Error, kind: &str, name: &str) -> TuxedoError {
    taken_or(e, || {
        TuxedoError::Conflict(format!("{kind} {name:?} already exists"))
    })
}

/// A failed write: a unique-key clash is what `taken` says (each write names what was
/// there already), any other error stays what it is.
pub(crate) fn taken_or(
    e: diesel::result::Error,
    taken: impl FnOnce() -> TuxedoError,
) -> TuxedoError {
    match is_unique_violation(&e) {
        true => taken(),
        false => e.into(),
    }
}

/// A caller's instant to come (a token expiry, a gate deadline): in the future, and within
/// what a timestamp column holds on MariaDB (a later value would be stored as NULL).
pub(crate) fn valid_future(field: &'static str, at: Option<chrono::NaiveDateTime>) -> Result<()> {
    let invalid = |reason: &str| TuxedoError::invalid(field, reason);
    match at {
        // chrono reads `23:59:60` as a leap second (nanoseconds past 10⁹), which neither
        // backend can store: refused with the reason rather than failing the insert (500).
        Some(t) if chrono::Timelike::nanosecond(&t) >= 1_000_000_000 => {
            Err(invalid("a leap second (:60) cannot be stored; use :59"))
        }
        Some(t) if t <= chrono::Utc::now().naive_utc() => Err(invalid("must be in the future")),
        Some(t) if t.and_utc().timestamp() > bouncer_core::limits::LATEST_TIMESTAMP_UNIX => {
            Err(invalid("must not be after 2038-01-19T03:14:07Z"))
        }
        _ => Ok(()),
    }
}

/// One country's code, upper case; `field` names it in the refusal. Only a code a GeoIP
/// database can give a client is taken (ISO 3166-1 alpha-2, and MaxMind's `XK` for Kosovo):
/// any other pair of letters — `ZZ`, or `UK` meant as Britain — would be stored and never
/// match anyone.
pub(crate) fn country_code(field: &'static str, raw: &str) -> Result<String> {
    let invalid = |reason: String| TuxedoError::invalid(field, reason);
    let Some(code) = bouncer_core::networks::code(raw) else {
        return Err(invalid(format!(
            "{} is not a two-letter country code",
            shown(raw.trim())
        )));
    };
    let code = bouncer_core::networks::code_str(&code);
    match code == "XK" || isocountry::CountryCode::for_alpha2(code).is_ok() {
        true => Ok(code.to_owned()),
        false => Err(invalid(format!(
            "{} is not an ISO 3166-1 country code{}",
            shown(raw.trim()),
            if code == "UK" {
                " (the United Kingdom is GB)"
            } else {
                ""
            }
        ))),
    }
}

/// A caller's value for a message: quoted, its first 20 characters.
pub(crate) fn shown(s: &str) -> String {
    let start: String = s.chars().take(20).collect();
    match start.len() < s.len() {
        true => format!("{start:?}…"),
        false => format!("{start:?}"),
    }
}

/// The tail of a write: what it changed for bounce (a new catalogue generation and its
/// change log rows, see [`bump`]) and its audit row (see [`audit`]). An operation states
/// only what it changed; [`Tail::record`] writes both, inside the writing transaction.
#[must_use = "a tail records nothing until `record`, `added` or `updated`"]
pub(crate) struct Tail<'a> {
    actor: &'a str,
    action: &'a str,
    target: String,
    changes: Vec<Change>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

impl<'a> Tail<'a> {
    /// The audit row's actor, action and target; no changes, no before, no after yet.
    pub(crate) fn new(actor: &'a str, action: &'a str, target: impl Into<String>) -> Self {
        Tail {
            actor,
            action,
            target: target.into(),
            changes: Vec::new(),
            before: None,
            after: None,
        }
    }

    /// What the write changed for bounce; left out, the generation is not bumped.
    pub(crate) fn changes(mut self, changes: &[Change]) -> Self {
        self.changes = changes.to_vec();
        self
    }

    /// The audit row's `before` (as JSON).
    pub(crate) fn before(self, before: impl serde::Serialize) -> Self {
        self.before_opt(Some(before))
    }

    /// The audit row's `before` (as JSON), if there was one.
    pub(crate) fn before_opt(mut self, before: Option<impl serde::Serialize>) -> Self {
        self.before = before.map(|b| serde_json::json!(b));
        self
    }

    /// The audit row's `after` (as JSON).
    pub(crate) fn after(mut self, after: impl serde::Serialize) -> Self {
        self.after = Some(serde_json::json!(after));
        self
    }

    /// Bumps the generation with the changes (if any), then records the audit row.
    pub(crate) fn record(self, conn: &mut DbConnection) -> Result<()> {
        if !self.changes.is_empty() {
            bump(conn, &self.changes)?;
        }
        audit(
            conn,
            self.actor,
            self.action,
            &self.target,
            self.before,
            self.after,
        )
    }

    /// Records a write that always changes something (an addition, languages added) with
    /// `after` as the audit row's after; answers `after`.
    pub(crate) fn added<T: serde::Serialize>(self, conn: &mut DbConnection, after: T) -> Result<T> {
        self.after(&after).record(conn)?;
        Ok(after)
    }

    /// Records an update if it changed anything (an unchanged write bumps and audits
    /// nothing); answers `after`.
    pub(crate) fn updated<T: serde::Serialize + PartialEq>(
        self,
        conn: &mut DbConnection,
        before: &T,
        after: T,
    ) -> Result<T> {
        if *before != after {
            self.before(before).after(&after).record(conn)?;
        }
        Ok(after)
    }
}

/// Records one write in the audit log; call inside the writing transaction.
pub(crate) fn audit(
    conn: &mut DbConnection,
    actor: &str,
    action: &str,
    target: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    Ok(bouncer_core::audit::record(
        conn, actor, action, target, before, after,
    )?)
}

/// Records what the write changed for bounce (a new catalogue generation and its change
/// log rows); call inside the writing transaction.
pub(crate) fn bump(conn: &mut DbConnection, changes: &[Change]) -> Result<i64> {
    Ok(bouncer_core::changes::record(conn, changes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(Match::like_pattern("a%b_c!d"), "%a!%b!_c!!d%");
        assert_eq!(Match::like_pattern("firefox"), "%firefox%");
    }

    #[test]
    fn names_are_checked() {
        assert!(matches!(
            valid_name("product", "  ", 10),
            Err(TuxedoError::Missing("product"))
        ));
        assert_eq!(valid_name("product", " a ", 10).unwrap(), "a");
        assert!(valid_name("product", "abcdefghijk", 10).is_err());
        assert!(valid_name("product", "a\nb", 10).is_err());
    }
}
