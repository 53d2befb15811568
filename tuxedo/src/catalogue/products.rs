//! Products and their languages.

use super::{matching_products, sort_key, taken_or, valid_name, write_tx, Change, Match, Tail};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::{NewProduct, NewProductLang, Product};
use bouncer_core::name_space;
use bouncer_core::schema::{mirror_product_langs, mirror_products};
use diesel::prelude::*;
use serde::Serialize;

/// Longest product name the schema holds.
pub const MAX_NAME: usize = bouncer_core::limits::PRODUCT_NAME;
/// Longest language code the schema holds.
pub const MAX_LANGUAGE: usize = bouncer_core::limits::LANGUAGE;

/// A product as the APIs show it: languages sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductView {
    pub id: i32,
    pub name: String,
    pub active: bool,
    pub ssl_only: bool,
    /// Set when sentry should probe the product's files on its next run.
    pub checknow: bool,
    pub languages: Vec<String>,
}

/// Names a product by id or by name (case-insensitive).
#[derive(Debug, Clone, Copy)]
pub enum ProductRef<'a> {
    Id(i32),
    Name(&'a str),
}

/// Which languages a delete removes.
#[derive(Debug, Clone, Copy)]
pub enum Languages<'a> {
    All,
    These(&'a [String]),
}

/// Products matching `m`, sorted by name, each with its sorted languages.
pub fn find(conn: &mut DbConnection, m: Match<'_>) -> Result<Vec<ProductView>> {
    let products = matching_products(conn, m)?;
    with_languages(conn, products)
}

/// The views of `products` (in the given order), each with its sorted languages.
pub(crate) fn with_languages(
    conn: &mut DbConnection,
    products: Vec<Product>,
) -> Result<Vec<ProductView>> {
    let ids: Vec<i32> = products.iter().map(|p| p.id).collect();
    let langs: Vec<(i32, String)> = mirror_product_langs::table
        .filter(mirror_product_langs::product_id.eq_any(&ids))
        .select((
            mirror_product_langs::product_id,
            mirror_product_langs::language,
        ))
        .load(conn)?;
    Ok(products
        .into_iter()
        .map(|p| {
            let mut languages: Vec<String> = langs
                .iter()
                .filter(|(pid, _)| *pid == p.id)
                .map(|(_, l)| l.clone())
                .collect();
            languages.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
            view(p, languages)
        })
        .collect())
}

/// Creates a product with its languages. An existing name (any case) is an error.
pub fn add(
    conn: &mut DbConnection,
    actor: &str,
    name: &str,
    languages: &[String],
    ssl_only: bool,
) -> Result<ProductView> {
    let name = valid_name("product", name, MAX_NAME).map_err(|e| match e {
        TuxedoError::Missing(_) => TuxedoError::EmptyProductName,
        other => other,
    })?;
    let languages = valid_languages(languages)?;
    write_tx(conn, |conn| {
        name_space::lock(conn)?;
        if lookup(conn, ProductRef::Name(name)).is_ok() {
            return Err(TuxedoError::ProductExists(name.to_owned()));
        }
        if let Some(alias) = name_space::alias_named(conn, name)? {
            return Err(TuxedoError::ProductIsAlias(alias));
        }
        diesel::insert_into(mirror_products::table)
            .values(NewProduct {
                name,
                active: true,
                checknow: true,
                ssl_only,
            })
            .execute(conn)
            .map_err(|e| taken_or(e, || TuxedoError::ProductExists(name.to_owned())))?;
        let product = lookup(conn, ProductRef::Name(name))?;
        insert_languages(conn, product.id, &languages)?;
        let after = one(conn, product.id)?;
        Tail::new(actor, "product.add", target(&after.name))
            .changes(&[Change::Product(product.id)])
            .added(conn, after)
    })
}

/// Deletes a product; its languages, locations and their mirror rows go with it.
pub fn delete(conn: &mut DbConnection, actor: &str, product: ProductRef<'_>) -> Result<()> {
    write_tx(conn, |conn| {
        let p = lookup(conn, product)?;
        let before = one(conn, p.id)?;
        diesel::delete(mirror_products::table.find(p.id)).execute(conn)?;
        Tail::new(actor, "product.delete", target(&p.name))
            .changes(&[Change::Product(p.id)])
            .before(&before)
            .record(conn)
    })
}

/// Adds languages to a product. If any already exists, nothing is added.
pub fn add_languages(
    conn: &mut DbConnection,
    actor: &str,
    product: &str,
    languages: &[String],
) -> Result<ProductView> {
    let languages = valid_languages(languages)?;
    if languages.is_empty() {
        return Err(TuxedoError::Missing("languages"));
    }
    write_tx(conn, |conn| {
        let p = lookup(conn, ProductRef::Name(product))?;
        let before = one(conn, p.id)?;
        insert_languages(conn, p.id, &languages)?;
        let after = one(conn, p.id)?;
        Tail::new(actor, "product.languages.add", target(&p.name))
            .changes(&[Change::Product(p.id)])
            .before(&before)
            .added(conn, after)
    })
}

/// Removes languages (or all of them) from a product; removing one it lacks is a no-op.
pub fn delete_languages(
    conn: &mut DbConnection,
    actor: &str,
    product: &str,
    languages: Languages<'_>,
) -> Result<()> {
    let languages = match languages {
        Languages::All => None,
        // Not checked as codes: a stored junk entry from before the rule can be removed.
        Languages::These(l) => Some(
            l.iter()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>(),
        ),
    };
    write_tx(conn, |conn| {
        let p = lookup(conn, ProductRef::Name(product))?;
        let before = one(conn, p.id)?;
        let of_product = mirror_product_langs::product_id.eq(p.id);
        let removed = match &languages {
            None => diesel::delete(mirror_product_langs::table.filter(of_product)).execute(conn)?,
            Some(l) => diesel::delete(
                mirror_product_langs::table
                    .filter(of_product)
                    .filter(mirror_product_langs::language.eq_any(l)),
            )
            .execute(conn)?,
        };
        if removed == 0 {
            return Ok(());
        }
        let after = one(conn, p.id)?;
        Tail::new(actor, "product.languages.delete", target(&p.name))
            .changes(&[Change::Product(p.id)])
            .before(&before)
            .after(&after)
            .record(conn)
    })
}

/// The product a reference names, or [`TuxedoError::ProductNotFound`].
pub(crate) fn lookup(conn: &mut DbConnection, product: ProductRef<'_>) -> Result<Product> {
    let found = match product {
        ProductRef::Id(id) => mirror_products::table.find(id).first(conn).optional()?,
        ProductRef::Name(n) => mirror_products::table
            .filter(mirror_products::name.eq(n.trim()))
            .load::<Product>(conn)?
            .into_iter()
            .find(|p| bouncer_core::names::same(&p.name, n.trim())),
    };
    found.ok_or_else(|| {
        TuxedoError::ProductNotFound(match product {
            ProductRef::Id(id) => id.to_string(),
            ProductRef::Name(n) => n.to_owned(),
        })
    })
}

/// One product's view by id.
pub(crate) fn one(conn: &mut DbConnection, id: i32) -> Result<ProductView> {
    let p = lookup(conn, ProductRef::Id(id))?;
    let mut languages: Vec<String> = mirror_product_langs::table
        .filter(mirror_product_langs::product_id.eq(id))
        .select(mirror_product_langs::language)
        .load(conn)?;
    languages.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    Ok(view(p, languages))
}

/// Inserts languages one by one (the multi-backend connection has no multi-row insert);
/// a language the product already has fails the whole transaction.
fn insert_languages(conn: &mut DbConnection, product_id: i32, languages: &[String]) -> Result<()> {
    for language in languages {
        diesel::insert_into(mirror_product_langs::table)
            .values(NewProductLang {
                product_id,
                language,
            })
            .execute(conn)
            .map_err(|e| taken_or(e, || TuxedoError::LanguagesExist(language.clone())))?;
    }
    Ok(())
}

/// Trims, checks and de-duplicates (case-insensitively) the languages of a request.
fn valid_languages(languages: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(languages.len());
    for l in languages {
        if l.trim().is_empty() {
            continue;
        }
        let l = valid_name("languages", l, MAX_LANGUAGE)?;
        if !bouncer_core::locale::valid(l) {
            return Err(TuxedoError::invalid(
                "languages",
                format!(
                    "{l:?} is not a language code (ASCII letters and digits in \
                     hyphen-separated parts, such as en-US or ja-JP-mac)"
                ),
            ));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(l)) {
            out.push(l.to_owned());
        }
    }
    Ok(out)
}

fn view(p: Product, languages: Vec<String>) -> ProductView {
    ProductView {
        id: p.id,
        name: p.name,
        active: p.active,
        ssl_only: p.ssl_only,
        checknow: p.checknow,
        languages,
    }
}

pub(crate) fn target(name: &str) -> String {
    format!("product:{name}")
}
