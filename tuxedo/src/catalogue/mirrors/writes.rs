//! Writing mirrors: add, update, delete, the regions they serve; each write records its
//! tail (generation, audit row).

use super::validate::{valid_baseurl, valid_rating, Reach};
use super::view::{find, get, view_one, Settings};
use super::{MirrorPatch, MirrorView, NewMirrorForm, MAX_NAME};
use crate::catalogue::{clash, map_rows, valid_name, write_tx, Change, Tail};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::{Mirror, NewMirror, NewMirrorRegion};
use bouncer_core::schema::{
    bouncer_mirror_exclusions as exclusions, bouncer_mirror_networks as nets,
    bouncer_mirror_settings as settings, geoip_mirror_region_map as mrm, mirror_locations,
    mirror_mirrors,
};
use diesel::prelude::*;
use serde_json::json;

/// Adds a mirror, with a (not yet active) row for every location so sentry probes it.
pub fn add(conn: &mut DbConnection, actor: &str, form: &NewMirrorForm) -> Result<MirrorView> {
    let name = valid_name("name", &form.name, MAX_NAME)?;
    let baseurl = valid_baseurl(&form.baseurl)?;
    valid_rating(form.rating)?;
    let reach = Reach::valid(
        form.network_mode.as_deref(),
        form.networks.as_deref(),
        form.excluded_countries.as_deref(),
        form.country.as_deref(),
    )?;
    write_tx(conn, |conn| {
        diesel::insert_into(mirror_mirrors::table)
            .values(NewMirror {
                name,
                baseurl: &baseurl,
                rating: form.rating,
                active: form.active,
            })
            .execute(conn)
            .map_err(|e| clash(e, "mirror", name))?;
        let m: Mirror = mirror_mirrors::table
            .filter(mirror_mirrors::name.eq(name))
            .first(conn)?;
        let locations: Vec<i32> = mirror_locations::table
            .select(mirror_locations::id)
            .load(conn)?;
        map_rows(conn, locations.into_iter().map(|l| (l, m.id)))?;
        let settings = Settings {
            reference: false,
            mode: reach.mode.unwrap_or_default(),
            country: reach.country.clone().flatten(),
        };
        set_settings(conn, m.id, &settings)?;
        set_networks(conn, m.id, reach.networks.as_deref().unwrap_or_default())?;
        set_exclusions(conn, m.id, reach.excluded.as_deref().unwrap_or_default())?;
        let changes = [Change::Mirror(m.id), Change::AllLocations];
        let after = view_one(conn, m)?;
        Tail::new(actor, "mirror.add", target(name))
            .changes(&changes)
            .added(conn, after)
    })
}

/// Applies `patch` to mirror `id`.
pub fn update(
    conn: &mut DbConnection,
    actor: &str,
    id: i32,
    patch: &MirrorPatch,
) -> Result<MirrorView> {
    let name = patch
        .name
        .as_deref()
        .map(|n| valid_name("name", n, MAX_NAME))
        .transpose()?;
    let baseurl = patch.baseurl.as_deref().map(valid_baseurl).transpose()?;
    if let Some(r) = patch.rating {
        valid_rating(r)?;
    }
    let reach = Reach::valid(
        patch.network_mode.as_deref(),
        patch.networks.as_deref(),
        patch.excluded_countries.as_deref(),
        patch.country.as_deref(),
    )?;
    write_tx(conn, |conn| {
        let m = find(conn, id)?;
        let before = view_one(conn, m.clone())?;
        let new_name = name.unwrap_or(&m.name).to_owned();
        diesel::update(mirror_mirrors::table.find(id))
            .set((
                mirror_mirrors::name.eq(&new_name),
                mirror_mirrors::baseurl.eq(baseurl.as_deref().unwrap_or(&m.baseurl)),
                mirror_mirrors::rating.eq(patch.rating.unwrap_or(m.rating)),
                mirror_mirrors::active.eq(patch.active.unwrap_or(m.active)),
            ))
            .execute(conn)
            .map_err(|e| clash(e, "mirror", &new_name))?;
        let was = Settings {
            reference: before.reference,
            mode: before.network_mode,
            country: before.country.clone(),
        };
        let now = Settings {
            reference: patch.reference.unwrap_or(was.reference),
            mode: reach.mode.unwrap_or(was.mode),
            country: reach.country.clone().unwrap_or_else(|| was.country.clone()),
        };
        if now != was {
            set_settings(conn, id, &now)?;
        }
        if let Some(n) = reach.networks.as_ref().filter(|n| **n != before.networks) {
            set_networks(conn, id, n)?;
        }
        let excluded = reach.excluded.as_ref();
        if let Some(e) = excluded.filter(|e| **e != before.excluded_countries) {
            set_exclusions(conn, id, e)?;
        }
        let after = get(conn, id)?;
        Tail::new(actor, "mirror.update", target(&m.name))
            .changes(&[Change::Mirror(id)])
            .updated(conn, &before, after)
    })
}

/// Deletes a mirror with its location rows, region links, health and log.
pub fn delete(conn: &mut DbConnection, actor: &str, id: i32) -> Result<()> {
    write_tx(conn, |conn| {
        let before = get(conn, id)?;
        diesel::delete(mirror_mirrors::table.find(id)).execute(conn)?;
        Tail::new(actor, "mirror.delete", target(&before.name))
            .changes(&[Change::Mirror(id)])
            .before(&before)
            .record(conn)
    })
}

/// Lets mirror `id` serve region `region_id` (already serving it is fine).
pub fn add_region(
    conn: &mut DbConnection,
    actor: &str,
    id: i32,
    region_id: i32,
) -> Result<MirrorView> {
    write_tx(conn, |conn| {
        let m = find(conn, id)?;
        let region = crate::catalogue::regions::find(conn, region_id)?;
        if link(conn, id, region_id)?.is_none() {
            diesel::insert_into(mrm::table)
                .values(NewMirrorRegion {
                    mirror_id: id,
                    region_id,
                })
                .execute(conn)?;
            Tail::new(actor, "mirror.region.add", target(&m.name))
                .changes(&[Change::Mirror(id)])
                .after(json!({"mirror": m.name, "region": region.name}))
                .record(conn)?;
        }
        get(conn, id)
    })
}

/// Stops mirror `id` serving region `region_id`; not serving it is a 404.
pub fn remove_region(conn: &mut DbConnection, actor: &str, id: i32, region_id: i32) -> Result<()> {
    write_tx(conn, |conn| {
        let m = find(conn, id)?;
        let region = crate::catalogue::regions::find(conn, region_id)?;
        let link_id = link(conn, id, region_id)?.ok_or_else(|| TuxedoError::NotFound {
            kind: "mirror region",
            key: format!("{}/{}", m.name, region.name),
        })?;
        diesel::delete(mrm::table.find(link_id)).execute(conn)?;
        Tail::new(actor, "mirror.region.remove", target(&m.name))
            .changes(&[Change::Mirror(id)])
            .before(json!({"mirror": m.name, "region": region.name}))
            .record(conn)
    })
}

fn link(conn: &mut DbConnection, mirror_id: i32, region_id: i32) -> Result<Option<i32>> {
    Ok(mrm::table
        .filter(mrm::mirror_id.eq(mirror_id))
        .filter(mrm::region_id.eq(region_id))
        .select(mrm::id)
        .first(conn)
        .optional()?)
}

/// Writes mirror `id`'s settings row: none when every value is the default. The columns
/// are written together, from the values the call ends with.
fn set_settings(conn: &mut DbConnection, id: i32, s: &Settings) -> Result<()> {
    diesel::delete(settings::table.filter(settings::mirror_id.eq(id))).execute(conn)?;
    if *s != Settings::default() {
        diesel::insert_into(settings::table)
            .values((
                settings::mirror_id.eq(id),
                settings::reference.eq(s.reference),
                settings::network_mode.eq(s.mode.as_str()),
                settings::country.eq(s.country.as_deref()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Replaces mirror `id`'s networks (validated, distinct).
fn set_networks(conn: &mut DbConnection, id: i32, list: &[String]) -> Result<()> {
    diesel::delete(nets::table.filter(nets::mirror_id.eq(id))).execute(conn)?;
    // Per backend (the multi-backend connection has no batch insert): on MariaDB a list
    // at the cap is 20 multi-row statements, not 20,000 round trips; SQLite is in-process.
    for chunk in list.chunks(1_000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|n| (nets::mirror_id.eq(id), nets::network.eq(n)))
            .collect();
        let insert = diesel::insert_into(nets::table).values(&rows);
        match conn {
            DbConnection::Mysql(c) => insert.execute(c)?,
            DbConnection::Sqlite(c) => insert.execute(c)?,
        };
    }
    Ok(())
}

/// Replaces mirror `id`'s excluded countries (validated, distinct).
fn set_exclusions(conn: &mut DbConnection, id: i32, list: &[String]) -> Result<()> {
    diesel::delete(exclusions::table.filter(exclusions::mirror_id.eq(id))).execute(conn)?;
    for cc in list {
        diesel::insert_into(exclusions::table)
            .values((
                exclusions::mirror_id.eq(id),
                exclusions::country_code.eq(cc),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn target(name: &str) -> String {
    format!("mirror:{name}")
}
