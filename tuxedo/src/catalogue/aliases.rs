//! Aliases: a name bounce resolves to a product (`firefox-latest` → `Firefox-126.0`).

use super::products::{lookup, ProductRef, MAX_NAME};
use super::{audit, bump, valid_name, write_tx, Change};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::{Alias, NewAlias};
use bouncer_core::schema::mirror_aliases;
use diesel::prelude::*;
use serde_json::json;

/// Whether [`create_or_update`] created the alias or pointed an existing one elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// What [`create_or_update`] did, with the names as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AliasSet {
    pub alias: String,
    pub related_product: String,
    pub outcome: Outcome,
}

/// Points `alias` at `related_product`, creating it if needed. The product must exist and
/// the alias must not be a product's name (bounce would never reach it).
pub fn create_or_update(
    conn: &mut DbConnection,
    actor: &str,
    alias: &str,
    related_product: &str,
) -> Result<AliasSet> {
    let alias = valid_name("alias", alias, bouncer_core::limits::ALIAS)?;
    let related = valid_name("related_product", related_product, MAX_NAME)?;
    write_tx(conn, |conn| {
        if lookup(conn, ProductRef::Name(alias)).is_ok() {
            return Err(TuxedoError::AliasIsProduct(alias.to_owned()));
        }
        let product = lookup(conn, ProductRef::Name(related))
            .map_err(|_| TuxedoError::RelatedProductNotFound(related.to_owned()))?;
        let existing = named(conn, alias)?;
        let before = existing
            .as_ref()
            .map(|a| json!({"alias": a.alias, "related_product": a.related_product}));
        let outcome = match &existing {
            Some(a) if a.related_product == product.name => {
                return Ok(AliasSet {
                    alias: a.alias.clone(),
                    related_product: product.name,
                    outcome: Outcome::Unchanged,
                })
            }
            Some(a) => {
                diesel::update(mirror_aliases::table.find(a.id))
                    .set(mirror_aliases::related_product.eq(&product.name))
                    .execute(conn)?;
                Outcome::Updated
            }
            None => {
                diesel::insert_into(mirror_aliases::table)
                    .values(NewAlias {
                        alias,
                        related_product: &product.name,
                    })
                    .execute(conn)?;
                Outcome::Created
            }
        };
        let alias_id = match &existing {
            Some(a) => a.id,
            None => mirror_aliases::table
                .filter(mirror_aliases::alias.eq(alias))
                .select(mirror_aliases::id)
                .first(conn)?,
        };
        bump(conn, &[Change::Alias(alias_id)])?;
        let name = existing
            .map(|a| a.alias)
            .unwrap_or_else(|| alias.to_owned());
        audit(
            conn,
            actor,
            "alias.set",
            &format!("alias:{name}"),
            before,
            Some(json!({"alias": name, "related_product": product.name})),
        )?;
        Ok(AliasSet {
            alias: name,
            related_product: product.name,
            outcome,
        })
    })
}

/// The alias of that name ([`bouncer_core::names::same`]; the collation only finds
/// candidates).
fn named(conn: &mut DbConnection, alias: &str) -> Result<Option<Alias>> {
    Ok(mirror_aliases::table
        .filter(mirror_aliases::alias.eq(alias))
        .load::<Alias>(conn)?
        .into_iter()
        .find(|a| bouncer_core::names::same(&a.alias, alias)))
}

/// Every alias, sorted by name.
pub fn list(conn: &mut DbConnection) -> Result<Vec<Alias>> {
    let mut all: Vec<Alias> = mirror_aliases::table.load(conn)?;
    all.sort_by(|a, b| super::sort_key(&a.alias).cmp(&super::sort_key(&b.alias)));
    Ok(all)
}

/// Deletes an alias.
pub fn delete(conn: &mut DbConnection, actor: &str, alias: &str) -> Result<()> {
    let alias = valid_name("alias", alias, MAX_NAME)?;
    write_tx(conn, |conn| {
        let existing: Alias = named(conn, alias)?.ok_or_else(|| TuxedoError::NotFound {
            kind: "alias",
            key: alias.to_owned(),
        })?;
        diesel::delete(mirror_aliases::table.find(existing.id)).execute(conn)?;
        bump(conn, &[Change::Alias(existing.id)])?;
        audit(
            conn,
            actor,
            "alias.delete",
            &format!("alias:{}", existing.alias),
            Some(json!({"alias": existing.alias, "related_product": existing.related_product})),
            None,
        )
    })
}
