//! Download locations: one path per (product, operating system).

use super::products::{lookup, ProductRef};
use super::{map_rows, matching_products, taken_or, valid_name, write_tx, Change, Match, Tail};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::{Location, NewLocation, Os, Product};
use bouncer_core::schema::{mirror_locations, mirror_mirrors, mirror_os, mirror_products};
use diesel::prelude::*;
use serde::Serialize;

/// Longest path the schema holds.
pub const MAX_PATH: usize = bouncer_core::limits::LOCATION_PATH;

/// One location as the APIs show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationView {
    pub id: i32,
    pub os: String,
    pub path: String,
}

/// A product with its locations, ordered by operating system id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductLocations {
    pub id: i32,
    pub name: String,
    pub locations: Vec<LocationView>,
}

/// One location with the product it belongs to (the UI's location page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationOf {
    pub product_id: i32,
    pub product: String,
    #[serde(flatten)]
    pub location: LocationView,
}

/// Location `id` with its product.
pub fn get(conn: &mut DbConnection, id: i32) -> Result<LocationOf> {
    let (l, o, p) = by_id(conn, id)?;
    Ok(LocationOf {
        product_id: p.id,
        product: p.name,
        location: view(&l, &o),
    })
}

/// The locations of the products matching `m`; products without a location are left out.
pub fn find(conn: &mut DbConnection, m: Match<'_>) -> Result<Vec<ProductLocations>> {
    let products = matching_products(conn, m)?;
    let mut out = Vec::with_capacity(products.len());
    for p in products {
        let pl = of_product(conn, &p)?;
        if !pl.locations.is_empty() {
            out.push(pl);
        }
    }
    Ok(out)
}

/// Adds the location of `product` on `os`; one already there is an error. Every mirror
/// gets a (not yet active) row for it, which the checker turns on once the file is there.
pub fn add(
    conn: &mut DbConnection,
    actor: &str,
    product: ProductRef<'_>,
    os: &str,
    path: &str,
) -> Result<ProductLocations> {
    let path = valid_path(path)?;
    write_tx(conn, |conn| {
        let (p, o) = product_and_os(conn, product, os)?;
        if find_one(conn, p.id, o.id)?.is_some() {
            return Err(exists(&p, &o));
        }
        diesel::insert_into(mirror_locations::table)
            .values(NewLocation {
                product_id: p.id,
                os_id: o.id,
                path,
            })
            .execute(conn)
            .map_err(|e| taken_or(e, || exists(&p, &o)))?;
        let location = find_one(conn, p.id, o.id)?
            .ok_or_else(|| TuxedoError::Internal("inserted location not found".into()))?;
        let mirrors: Vec<i32> = mirror_mirrors::table
            .select(mirror_mirrors::id)
            .load(conn)?;
        map_rows(conn, mirrors.into_iter().map(|m| (location.id, m)))?;
        mark_for_check(conn, p.id)?;
        Tail::new(actor, "location.add", target(&p, &o))
            .changes(&[Change::Product(p.id), Change::Location(location.id)])
            .after(view(&location, &o))
            .record(conn)?;
        of_product(conn, &p)
    })
}

/// Changes the path of an existing location (the nightly bump). Setting the path it
/// already has changes nothing and records nothing.
pub fn modify(
    conn: &mut DbConnection,
    actor: &str,
    product: &str,
    os: &str,
    path: &str,
) -> Result<ProductLocations> {
    let path = valid_path(path)?;
    write_tx(conn, |conn| {
        let (p, o) = product_and_os(conn, ProductRef::Name(product), os)?;
        let location =
            find_one(conn, p.id, o.id)?.ok_or_else(|| TuxedoError::LocationNotFound {
                product: p.name.clone(),
                os: o.name.clone(),
            })?;
        change_path(conn, actor, &p, &o, &location, path)?;
        of_product(conn, &p)
    })
}

/// Changes the path of location `id` (the JSON API names locations by id).
pub fn set_path(
    conn: &mut DbConnection,
    actor: &str,
    id: i32,
    path: &str,
) -> Result<ProductLocations> {
    let path = valid_path(path)?;
    write_tx(conn, |conn| {
        let (location, o, p) = by_id(conn, id)?;
        change_path(conn, actor, &p, &o, &location, path)?;
        of_product(conn, &p)
    })
}

/// The locations of one product (an empty list when it has none).
pub fn of(conn: &mut DbConnection, product: ProductRef<'_>) -> Result<ProductLocations> {
    let p = lookup(conn, product)?;
    of_product(conn, &p)
}

/// Sets a new path; the same path changes and records nothing.
fn change_path(
    conn: &mut DbConnection,
    actor: &str,
    p: &Product,
    o: &Os,
    location: &Location,
    path: &str,
) -> Result<()> {
    if location.path == path {
        return Ok(());
    }
    diesel::update(mirror_locations::table.find(location.id))
        .set(mirror_locations::path.eq(path))
        .execute(conn)?;
    mark_for_check(conn, p.id)?;
    let mut after = view(location, o);
    after.path = path.to_owned();
    Tail::new(actor, "location.modify", target(p, o))
        .changes(&[Change::Product(p.id)])
        .before(view(location, o))
        .after(after)
        .record(conn)
}

fn by_id(conn: &mut DbConnection, location_id: i32) -> Result<(Location, Os, Product)> {
    let found: Option<(Location, Os, Product)> = mirror_locations::table
        .inner_join(mirror_os::table)
        .inner_join(mirror_products::table)
        .filter(mirror_locations::id.eq(location_id))
        .select((Location::as_select(), Os::as_select(), Product::as_select()))
        .first(conn)
        .optional()?;
    found.ok_or_else(|| TuxedoError::LocationIdNotFound(location_id.to_string()))
}

/// Deletes a location by id (its mirror rows go with it).
pub fn delete(conn: &mut DbConnection, actor: &str, location_id: i32) -> Result<()> {
    write_tx(conn, |conn| {
        let (location, o, p) = by_id(conn, location_id)?;
        diesel::delete(mirror_locations::table.find(location.id)).execute(conn)?;
        Tail::new(actor, "location.delete", target(&p, &o))
            .changes(&[Change::Product(p.id), Change::Location(location.id)])
            .before(view(&location, &o))
            .record(conn)
    })
}

fn product_and_os(
    conn: &mut DbConnection,
    product: ProductRef<'_>,
    os: &str,
) -> Result<(Product, Os)> {
    let p = lookup(conn, product)?;
    Ok((p, super::oses::named(conn, os)?))
}

fn find_one(conn: &mut DbConnection, product_id: i32, os_id: i32) -> Result<Option<Location>> {
    Ok(mirror_locations::table
        .filter(mirror_locations::product_id.eq(product_id))
        .filter(mirror_locations::os_id.eq(os_id))
        .first(conn)
        .optional()?)
}

fn of_product(conn: &mut DbConnection, p: &Product) -> Result<ProductLocations> {
    let rows: Vec<(Location, Os)> = mirror_locations::table
        .inner_join(mirror_os::table)
        .filter(mirror_locations::product_id.eq(p.id))
        .order(mirror_os::id.asc())
        .select((Location::as_select(), Os::as_select()))
        .load(conn)?;
    Ok(ProductLocations {
        id: p.id,
        name: p.name.clone(),
        locations: rows.iter().map(|(l, o)| view(l, o)).collect(),
    })
}

/// Tells the checker to probe the product's files again.
fn mark_for_check(conn: &mut DbConnection, product_id: i32) -> Result<()> {
    diesel::update(mirror_products::table.find(product_id))
        .set(mirror_products::checknow.eq(true))
        .execute(conn)?;
    Ok(())
}

fn valid_path(path: &str) -> Result<&str> {
    let path = valid_name("path", path, MAX_PATH)?;
    if !path.starts_with('/') {
        return Err(TuxedoError::invalid("path", "must start with /"));
    }
    Ok(path)
}

fn exists(p: &Product, o: &Os) -> TuxedoError {
    TuxedoError::LocationExists {
        product: p.name.clone(),
        os: o.name.clone(),
    }
}

fn view(l: &Location, o: &Os) -> LocationView {
    LocationView {
        id: l.id,
        os: o.name.clone(),
        path: l.path.clone(),
    }
}

fn target(p: &Product, o: &Os) -> String {
    format!("location:{}:{}", p.name, o.name)
}
