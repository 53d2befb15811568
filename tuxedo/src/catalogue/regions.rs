//! GeoIP regions (groups of countries served by a set of mirrors) and the country → region
//! map bounce uses to pick a client's region.

use super::{clash, valid_name, write_tx, Change, Rows, Tail};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::{CountryRegion, NewRegion, Region};
use bouncer_core::schema::{geoip_country_to_region as countries, geoip_regions};
use diesel::prelude::*;
use serde::{Deserialize, Deserializer, Serialize};

/// Longest region name the schema holds.
pub const MAX_NAME: usize = bouncer_core::limits::REGION_NAME;

/// A region as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionView {
    pub id: i32,
    pub name: String,
    pub priority: i32,
    /// Percentage of the region's requests served by its own mirrors (0–100).
    pub throttle: i32,
    /// Region tried when this one has no usable mirror.
    pub fallback_id: Option<i32>,
    /// When set, a region without usable mirrors does not fall back to the global pool.
    pub prevent_global_fallback: bool,
}

/// A new region.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRegionForm {
    pub name: String,
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "full_throttle")]
    pub throttle: i32,
    pub fallback_id: Option<i32>,
    #[serde(default)]
    pub prevent_global_fallback: bool,
}

fn full_throttle() -> i32 {
    100
}

/// Changes to a region; a field left out is kept, `"fallback_id": null` clears it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPatch {
    pub name: Option<String>,
    pub priority: Option<i32>,
    pub throttle: Option<i32>,
    #[serde(default, deserialize_with = "present")]
    pub fallback_id: Option<Option<i32>>,
    pub prevent_global_fallback: Option<bool>,
}

/// Tells "given as null" (`Some(None)`) from "left out" (`None`, by `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Option<i32>>, D::Error> {
    Option::<i32>::deserialize(d).map(Some)
}

/// A country's row in the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountryView {
    pub country_code: String,
    pub region_id: Option<i32>,
    pub region: Option<String>,
    pub country_name: Option<String>,
    pub continent: Option<String>,
}

/// Where a country goes; names are kept when left out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryForm {
    pub region_id: i32,
    pub country_name: Option<String>,
    pub continent: Option<String>,
}

/// Regions as the JSON API lists, adds, updates and deletes them.
pub const ROWS: Rows<NewRegionForm, RegionPatch, RegionView> = Rows {
    list,
    add,
    update,
    delete,
};

/// Every region, by priority then name.
pub fn list(conn: &mut DbConnection) -> Result<Vec<RegionView>> {
    let mut rows: Vec<Region> = geoip_regions::table.load(conn)?;
    rows.sort_by(|a, b| {
        (a.priority, super::sort_key(&a.name)).cmp(&(b.priority, super::sort_key(&b.name)))
    });
    Ok(rows.into_iter().map(view).collect())
}

/// Adds a region.
pub fn add(conn: &mut DbConnection, actor: &str, form: &NewRegionForm) -> Result<RegionView> {
    let name = valid_name("name", &form.name, MAX_NAME)?;
    valid_throttle(form.throttle)?;
    write_tx(conn, |conn| {
        if let Some(f) = form.fallback_id {
            find(conn, f).map_err(|_| bad_fallback(f))?;
        }
        diesel::insert_into(geoip_regions::table)
            .values(NewRegion {
                name,
                priority: form.priority,
                throttle: form.throttle,
                fallback_id: form.fallback_id,
                prevent_global_fallback: form.prevent_global_fallback,
            })
            .execute(conn)
            .map_err(|e| clash(e, "region", name))?;
        let r: Region = geoip_regions::table
            .filter(geoip_regions::name.eq(name))
            .first(conn)?;
        let after = view(r);
        Tail::new(actor, "region.add", target(name))
            .changes(&[Change::Network])
            .added(conn, after)
    })
}

/// Applies `patch` to region `id`. A fallback must be another existing region.
pub fn update(
    conn: &mut DbConnection,
    actor: &str,
    id: i32,
    patch: &RegionPatch,
) -> Result<RegionView> {
    let name = patch
        .name
        .as_deref()
        .map(|n| valid_name("name", n, MAX_NAME))
        .transpose()?;
    if let Some(t) = patch.throttle {
        valid_throttle(t)?;
    }
    write_tx(conn, |conn| {
        let r = find(conn, id)?;
        let fallback = patch.fallback_id.unwrap_or(r.fallback_id);
        if let Some(f) = fallback.filter(|f| Some(*f) != r.fallback_id) {
            if f == id {
                return Err(TuxedoError::invalid(
                    "fallback_id",
                    "a region cannot fall back to itself",
                ));
            }
            find(conn, f).map_err(|_| bad_fallback(f))?;
        }
        let new_name = name.unwrap_or(&r.name).to_owned();
        diesel::update(geoip_regions::table.find(id))
            .set((
                geoip_regions::name.eq(&new_name),
                geoip_regions::priority.eq(patch.priority.unwrap_or(r.priority)),
                geoip_regions::throttle.eq(patch.throttle.unwrap_or(r.throttle)),
                geoip_regions::fallback_id.eq(fallback),
                geoip_regions::prevent_global_fallback.eq(patch
                    .prevent_global_fallback
                    .unwrap_or(r.prevent_global_fallback)),
            ))
            .execute(conn)
            .map_err(|e| clash(e, "region", &new_name))?;
        let before = view(r);
        let after = view(find(conn, id)?);
        Tail::new(actor, "region.update", target(&before.name))
            .changes(&[Change::Network])
            .updated(conn, &before, after)
    })
}

/// Deletes a region: its mirror links go, its countries and the regions falling back to
/// it are left without a region.
pub fn delete(conn: &mut DbConnection, actor: &str, id: i32) -> Result<()> {
    write_tx(conn, |conn| {
        let before = view(find(conn, id)?);
        diesel::update(countries::table.filter(countries::region_id.eq(id)))
            .set(countries::region_id.eq(None::<i32>))
            .execute(conn)?;
        diesel::update(geoip_regions::table.filter(geoip_regions::fallback_id.eq(id)))
            .set(geoip_regions::fallback_id.eq(None::<i32>))
            .execute(conn)?;
        diesel::delete(geoip_regions::table.find(id)).execute(conn)?;
        Tail::new(actor, "region.delete", target(&before.name))
            .changes(&[Change::Network])
            .before(&before)
            .record(conn)
    })
}

/// Every country row, by code.
pub fn countries(conn: &mut DbConnection) -> Result<Vec<CountryView>> {
    let rows: Vec<(CountryRegion, Option<String>)> = countries::table
        .left_join(geoip_regions::table)
        .select((CountryRegion::as_select(), geoip_regions::name.nullable()))
        .order(countries::country_code.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(|(c, r)| country_view(c, r)).collect())
}

/// Puts country `code` (an ISO 3166-1 code, any case, as a mirror's country) in a
/// region, creating its row if needed: `ZZ` would be stored and never match a client.
pub fn set_country(
    conn: &mut DbConnection,
    actor: &str,
    code: &str,
    form: &CountryForm,
) -> Result<CountryView> {
    let code = super::country_code("country_code", code)?;
    let name = form
        .country_name
        .as_deref()
        .map(|n| valid_name("country_name", n, bouncer_core::limits::COUNTRY_NAME))
        .transpose()?;
    let continent = form
        .continent
        .as_deref()
        .map(|c| valid_name("continent", c, bouncer_core::limits::CONTINENT))
        .transpose()?;
    write_tx(conn, |conn| {
        let region = find(conn, form.region_id).map_err(|_| {
            TuxedoError::invalid(
                "region_id",
                format!("region {} does not exist", form.region_id),
            )
        })?;
        let before = country(conn, &code)?;
        let row = CountryRegion {
            country_code: code.clone(),
            region_id: Some(region.id),
            country_name: name
                .map(str::to_owned)
                .or(before.as_ref().and_then(|b| b.country_name.clone())),
            continent: continent
                .map(str::to_owned)
                .or(before.as_ref().and_then(|b| b.continent.clone())),
        };
        match &before {
            Some(_) => diesel::update(countries::table.find(&code))
                .set((
                    countries::region_id.eq(row.region_id),
                    countries::country_name.eq(&row.country_name),
                    countries::continent.eq(&row.continent),
                ))
                .execute(conn)?,
            None => diesel::insert_into(countries::table)
                .values(&row)
                .execute(conn)?,
        };
        let after = country_view(row, Some(region.name));
        if before.as_ref() != Some(&to_row(&after)) {
            Tail::new(actor, "country.set", format!("country:{code}"))
                .changes(&[Change::Network])
                .before_opt(before.map(|b| country_view(b, None)))
                .after(&after)
                .record(conn)?;
        }
        Ok(after)
    })
}

/// Takes country `code` out of its region (bounce then serves it from the global pool).
pub fn clear_country(conn: &mut DbConnection, actor: &str, code: &str) -> Result<()> {
    let code = valid_code(code)?;
    write_tx(conn, |conn| {
        let before = country(conn, &code)?.ok_or_else(|| TuxedoError::NotFound {
            kind: "country",
            key: code.clone(),
        })?;
        if before.region_id.is_none() {
            return Ok(());
        }
        diesel::update(countries::table.find(&code))
            .set(countries::region_id.eq(None::<i32>))
            .execute(conn)?;
        Tail::new(actor, "country.clear", format!("country:{code}"))
            .changes(&[Change::Network])
            .before(country_view(before, None))
            .record(conn)
    })
}

pub(crate) fn find(conn: &mut DbConnection, id: i32) -> Result<Region> {
    geoip_regions::table
        .find(id)
        .first(conn)
        .optional()?
        .ok_or_else(|| TuxedoError::NotFound {
            kind: "region",
            key: id.to_string(),
        })
}

fn country(conn: &mut DbConnection, code: &str) -> Result<Option<CountryRegion>> {
    Ok(countries::table.find(code).first(conn).optional()?)
}

/// Two ASCII letters, stored upper-case.
fn valid_code(code: &str) -> Result<String> {
    let code = code.trim();
    match code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) {
        true => Ok(code.to_ascii_uppercase()),
        false => Err(TuxedoError::invalid(
            "country_code",
            format!("{code:?} is not a two-letter country code"),
        )),
    }
}

fn valid_throttle(t: i32) -> Result<()> {
    match (0..=100).contains(&t) {
        true => Ok(()),
        false => Err(TuxedoError::invalid(
            "throttle",
            "must be between 0 and 100",
        )),
    }
}

fn bad_fallback(id: i32) -> TuxedoError {
    TuxedoError::invalid("fallback_id", format!("region {id} does not exist"))
}

fn view(r: Region) -> RegionView {
    RegionView {
        id: r.id,
        name: r.name,
        priority: r.priority,
        throttle: r.throttle,
        fallback_id: r.fallback_id,
        prevent_global_fallback: r.prevent_global_fallback,
    }
}

fn country_view(c: CountryRegion, region: Option<String>) -> CountryView {
    CountryView {
        country_code: c.country_code,
        region_id: c.region_id,
        region,
        country_name: c.country_name,
        continent: c.continent,
    }
}

fn to_row(v: &CountryView) -> CountryRegion {
    CountryRegion {
        country_code: v.country_code.clone(),
        region_id: v.region_id,
        country_name: v.country_name.clone(),
        continent: v.continent.clone(),
    }
}

fn target(name: &str) -> String {
    format!("region:{name}")
}
