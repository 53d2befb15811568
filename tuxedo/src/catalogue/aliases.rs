//! Aliases: a name bounce resolves to a product (`firefox-latest` → `Firefox-126.0`).

use super::products::{lookup, ProductRef, MAX_NAME};
use super::{valid_name, write_tx, Change, Tail};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::Alias;
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
/// the alias must not be a product's name (bounce would never reach it). A set that moves
/// the alias drops its pending gated flip: the latest instruction wins (the release
/// client's `create_update_alias` is immediate, as it always was). A set that leaves the
/// alias where it is keeps the gate: release automation re-runs last release's
/// `create_update_alias` as a matter of course, and that repeat must not silently cancel
/// the gate set for the new release (cancelling is `DELETE /aliases/{alias}/gate`).
pub fn create_or_update(
    conn: &mut DbConnection,
    actor: &str,
    alias: &str,
    related_product: &str,
) -> Result<AliasSet> {
    let alias = valid_name("alias", alias, bouncer_core::limits::ALIAS)?;
    let related = valid_name("related_product", related_product, MAX_NAME)?;
    write_tx(conn, |conn| {
        bouncer_core::name_space::lock(conn)?;
        let product = target(conn, alias, related)?;
        let pointed = bouncer_core::aliases::point(conn, alias, &product)?;
        if pointed.changed {
            drop_gate(conn, actor, &pointed.alias, "overridden by a direct set")?;
        }
        let outcome = match (&pointed.before, pointed.changed) {
            (_, false) => Outcome::Unchanged,
            (None, true) => Outcome::Created,
            (Some(_), true) => Outcome::Updated,
        };
        if pointed.changed {
            Tail::new(actor, "alias.set", format!("alias:{}", pointed.alias))
                .changes(&[pointed.change()])
                .before_opt(
                    (pointed.before.as_ref())
                        .map(|b| json!({"alias": pointed.alias, "related_product": b})),
                )
                .after(json!({"alias": pointed.alias, "related_product": product}))
                .record(conn)?;
        }
        Ok(AliasSet {
            alias: pointed.alias,
            related_product: product,
            outcome,
        })
    })
}

/// The stored name of the product `alias` may point at: it must exist, and the alias must
/// not be a product's name.
pub(crate) fn target(conn: &mut DbConnection, alias: &str, related: &str) -> Result<String> {
    if lookup(conn, ProductRef::Name(alias)).is_ok() {
        return Err(TuxedoError::AliasIsProduct(alias.to_owned()));
    }
    Ok(lookup(conn, ProductRef::Name(related))
        .map_err(|_| TuxedoError::RelatedProductNotFound(related.to_owned()))?
        .name)
}

/// Drops the pending gate of `alias`, if any, with an audit row saying why.
pub(crate) fn drop_gate(
    conn: &mut DbConnection,
    actor: &str,
    alias: &str,
    why: &str,
) -> Result<bool> {
    let Some(gate) = bouncer_core::gates::remove(conn, alias)? else {
        return Ok(false);
    };
    Tail::new(actor, "alias.gate.cancel", format!("alias:{}", gate.alias))
        .before(json!({
            "alias": gate.alias, "related_product": gate.product,
            "uptake_percent": gate.uptake_percent,
        }))
        .after(json!({"reason": why}))
        .record(conn)?;
    Ok(true)
}

/// The alias of that name ([`bouncer_core::names::same`]; the collation only finds
/// candidates).
fn named(conn: &mut DbConnection, alias: &str) -> Result<Option<Alias>> {
    Ok(bouncer_core::aliases::named(conn, alias)?)
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
        drop_gate(conn, actor, &existing.alias, "the alias was deleted")?;
        Tail::new(actor, "alias.delete", format!("alias:{}", existing.alias))
            .changes(&[Change::Alias(existing.id)])
            .before(json!({"alias": existing.alias, "related_product": existing.related_product}))
            .record(conn)
    })
}
