//! What the JSON API adds for products: filtered listing, flags and renaming.

use super::products::{lookup, one, target, with_languages, ProductRef, ProductView, MAX_NAME};
use super::{taken_or, valid_name, write_tx, Change, Match, Tail};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::Product;
use bouncer_core::schema::{mirror_aliases, mirror_products};
use diesel::prelude::*;
use serde::Deserialize;

/// Which products a listing shows; a filter left out matches everything.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductFilter {
    pub active: Option<bool>,
    pub ssl_only: Option<bool>,
    pub checknow: Option<bool>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
}

/// The changes of a product update; a field left out is kept.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    /// A new name; aliases pointing at the product follow it.
    pub name: Option<String>,
    pub active: Option<bool>,
    pub ssl_only: Option<bool>,
    pub checknow: Option<bool>,
}

/// Products matching `f`, sorted by name.
pub fn list(conn: &mut DbConnection, f: &ProductFilter) -> Result<Vec<ProductView>> {
    let mut rows: Vec<Product> = match f.search.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => super::matching_products(conn, Match::Fuzzy(s))?,
        _ => {
            let mut all: Vec<Product> = mirror_products::table.load(conn)?;
            all.sort_by(|a, b| super::sort_key(&a.name).cmp(&super::sort_key(&b.name)));
            all
        }
    };
    rows.retain(|p| {
        f.active.is_none_or(|v| p.active == v)
            && f.ssl_only.is_none_or(|v| p.ssl_only == v)
            && f.checknow.is_none_or(|v| p.checknow == v)
    });
    with_languages(conn, rows)
}

/// One product by id.
pub fn get(conn: &mut DbConnection, id: i32) -> Result<ProductView> {
    one(conn, id)
}

/// Applies `patch` to product `id` in one transaction. A new name must not be taken by a
/// product or an alias; aliases pointing at the old name are moved to the new one.
pub fn update(
    conn: &mut DbConnection,
    actor: &str,
    id: i32,
    patch: &ProductPatch,
) -> Result<ProductView> {
    let new_name = match &patch.name {
        Some(n) => Some(valid_name("name", n, MAX_NAME)?),
        None => None,
    };
    write_tx(conn, |conn| {
        if new_name.is_some() {
            bouncer_core::name_space::lock(conn)?;
        }
        let p = lookup(conn, ProductRef::Id(id))?;
        let before = one(conn, id)?;
        if let Some(name) = new_name.filter(|n| *n != p.name) {
            rename(conn, &p, name)?;
        }
        diesel::update(mirror_products::table.find(id))
            .set((
                mirror_products::active.eq(patch.active.unwrap_or(p.active)),
                mirror_products::ssl_only.eq(patch.ssl_only.unwrap_or(p.ssl_only)),
                mirror_products::checknow.eq(patch.checknow.unwrap_or(p.checknow)),
            ))
            .execute(conn)?;
        let after = one(conn, id)?;
        Tail::new(actor, "product.update", target(&before.name))
            .changes(&[Change::Product(id), Change::Aliases])
            .updated(conn, &before, after)
    })
}

fn rename(conn: &mut DbConnection, p: &Product, name: &str) -> Result<()> {
    let taken = mirror_products::table
        .filter(mirror_products::name.eq(name))
        .filter(mirror_products::id.ne(p.id))
        .count()
        .get_result::<i64>(conn)?;
    if taken > 0 {
        return Err(TuxedoError::ProductExists(name.to_owned()));
    }
    if let Some(alias) = bouncer_core::name_space::alias_named(conn, name)? {
        return Err(TuxedoError::ProductIsAlias(alias));
    }
    diesel::update(mirror_products::table.find(p.id))
        .set(mirror_products::name.eq(name))
        .execute(conn)
        .map_err(|e| taken_or(e, || TuxedoError::ProductExists(name.to_owned())))?;
    diesel::update(mirror_aliases::table.filter(mirror_aliases::related_product.eq(&p.name)))
        .set(mirror_aliases::related_product.eq(name))
        .execute(conn)?;
    Ok(())
}
