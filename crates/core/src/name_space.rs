//! Products and aliases share one name space: bounce resolves `?product=X` to the
//! product named X if there is one, else to the alias X, so an alias named like a product
//! is unreachable and a product named like an alias (or like a pending gate's alias, which
//! becomes one when it flips) silently takes the alias's traffic or is shadowed by it.
//!
//! Every write that creates a name — a product created or renamed, an alias set, a gate
//! stored or flipped — takes [`lock`] first and then asks [`product_named`] /
//! [`alias_named`]. Checking alone is not enough on MariaDB: two transactions could each
//! see the other's name absent and both commit (issue 29's black-box test did that). The
//! lock is the catalogue generation row, which every writer updates at its end anyway, so
//! it adds no new lock order; on SQLite a write transaction (`BEGIN IMMEDIATE`) already
//! excludes every other writer.

use crate::db::DbConnection;
use crate::generation::CATALOGUE;
use crate::schema::{bouncer_alias_gates, bouncer_generation, mirror_aliases, mirror_products};
use crate::Result;
use diesel::prelude::*;

/// Serialises name-space writes until the transaction ends. Must be the transaction's
/// first statement: under MariaDB's repeatable read, later plain reads then see every
/// name committed before the lock was granted.
pub fn lock(conn: &mut DbConnection) -> Result<()> {
    match conn {
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => {
            bouncer_generation::table
                .filter(bouncer_generation::name.eq(CATALOGUE))
                .select(bouncer_generation::value)
                .for_update()
                .load::<i64>(c)?;
        }
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(_) => {}
    }
    Ok(())
}

/// The stored name of the product called `name` ([`crate::names::same`]), if any.
pub fn product_named(conn: &mut DbConnection, name: &str) -> Result<Option<String>> {
    Ok(mirror_products::table
        .filter(mirror_products::name.eq(name))
        .select(mirror_products::name)
        .load::<String>(conn)?
        .into_iter()
        .find(|p| crate::names::same(p, name)))
}

/// The stored name of the alias called `name`, or of a pending gate's alias (a name the
/// gate will create when it flips), if any.
pub fn alias_named(conn: &mut DbConnection, name: &str) -> Result<Option<String>> {
    let aliases = mirror_aliases::table
        .filter(mirror_aliases::alias.eq(name))
        .select(mirror_aliases::alias)
        .load::<String>(conn)?;
    let gated = bouncer_alias_gates::table
        .filter(bouncer_alias_gates::alias.eq(name))
        .select(bouncer_alias_gates::alias)
        .load::<String>(conn)?;
    Ok(aliases
        .into_iter()
        .chain(gated)
        .find(|a| crate::names::same(a, name)))
}
