//! Pointing an alias at a product: the one statement sequence both the admin interfaces
//! and gated flips use. Callers validate, then record the change and the audit row.

use crate::changes::Change;
use crate::db::DbConnection;
use crate::models::{Alias, NewAlias};
use crate::schema::mirror_aliases;
use crate::Result;
use diesel::prelude::*;

/// What [`point`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointed {
    /// The alias row's id and its name as stored.
    pub id: i32,
    pub alias: String,
    /// The product it pointed at before; `None` when the alias was created.
    pub before: Option<String>,
    /// Whether anything changed (`false`: it already pointed there).
    pub changed: bool,
}

impl Pointed {
    /// What bounce must reread.
    pub fn change(&self) -> Change {
        Change::Alias(self.id)
    }
}

/// The alias of that name ([`crate::names::same`]; the collation only finds candidates).
pub fn named(conn: &mut DbConnection, alias: &str) -> Result<Option<Alias>> {
    Ok(mirror_aliases::table
        .filter(mirror_aliases::alias.eq(alias))
        .load::<Alias>(conn)?
        .into_iter()
        .find(|a| crate::names::same(&a.alias, alias)))
}

/// Points `alias` at the product named `product` (its stored spelling), creating it.
pub fn point(conn: &mut DbConnection, alias: &str, product: &str) -> Result<Pointed> {
    match named(conn, alias)? {
        Some(a) if a.related_product == product => Ok(Pointed {
            id: a.id,
            alias: a.alias,
            before: Some(a.related_product),
            changed: false,
        }),
        Some(a) => {
            diesel::update(mirror_aliases::table.find(a.id))
                .set(mirror_aliases::related_product.eq(product))
                .execute(conn)?;
            Ok(Pointed {
                id: a.id,
                alias: a.alias,
                before: Some(a.related_product),
                changed: true,
            })
        }
        None => {
            diesel::insert_into(mirror_aliases::table)
                .values(NewAlias {
                    alias,
                    related_product: product,
                })
                .execute(conn)?;
            let id = mirror_aliases::table
                .filter(mirror_aliases::alias.eq(alias))
                .select(mirror_aliases::id)
                .first(conn)?;
            Ok(Pointed {
                id,
                alias: alias.to_owned(),
                before: None,
                changed: true,
            })
        }
    }
}
