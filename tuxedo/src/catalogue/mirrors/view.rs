//! Reading mirrors: the views the APIs show (regions, health, settings, reach) and
//! sentry's log.

use super::{HealthView, MirrorView, SentryLogView};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::{Mirror, MirrorHealth};
use bouncer_core::networks::{NetSpec, NetworkMode};
use bouncer_core::schema::{
    bouncer_mirror_exclusions as exclusions, bouncer_mirror_health as health,
    bouncer_mirror_networks as nets, bouncer_mirror_settings as settings,
    geoip_mirror_region_map as mrm, geoip_regions, mirror_mirrors, sentry_log,
};
use diesel::prelude::*;
use std::collections::HashMap;

/// Every mirror, sorted by name.
pub fn list(conn: &mut DbConnection) -> Result<Vec<MirrorView>> {
    let mut rows: Vec<Mirror> = mirror_mirrors::table.load(conn)?;
    rows.sort_by(|a, b| {
        crate::catalogue::sort_key(&a.name).cmp(&crate::catalogue::sort_key(&b.name))
    });
    views(conn, rows)
}

/// One mirror by id.
pub fn get(conn: &mut DbConnection, id: i32) -> Result<MirrorView> {
    let m = find(conn, id)?;
    view_one(conn, m)
}

/// sentry's log of mirror `id`, newest first, at most `limit` lines.
pub fn sentry_log_of(conn: &mut DbConnection, id: i32, limit: i64) -> Result<Vec<SentryLogView>> {
    find(conn, id)?;
    let rows: Vec<bouncer_core::models::SentryLog> = sentry_log::table
        .filter(sentry_log::mirror_id.eq(id))
        .order(sentry_log::log_date.desc())
        .limit(limit)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| SentryLogView {
            log_date: r.log_date,
            check_time: r.check_time,
            mirror_active: r.mirror_active,
            mirror_rating: r.mirror_rating,
            reason: r.reason,
        })
        .collect())
}

pub(super) fn find(conn: &mut DbConnection, id: i32) -> Result<Mirror> {
    mirror_mirrors::table
        .find(id)
        .first(conn)
        .optional()?
        .ok_or_else(|| TuxedoError::NotFound {
            kind: "mirror",
            key: id.to_string(),
        })
}

/// The view of one mirror.
pub(super) fn view_one(conn: &mut DbConnection, m: Mirror) -> Result<MirrorView> {
    Ok(views(conn, vec![m])?.remove(0))
}

/// `(mirror id, value)` rows as each mirror's list of values (its regions, networks,
/// excluded countries), in the order read.
fn by_mirror(rows: Vec<(i32, String)>) -> HashMap<i32, Vec<String>> {
    let mut lists: HashMap<i32, Vec<String>> = HashMap::new();
    for (mirror, value) in rows {
        lists.entry(mirror).or_default().push(value);
    }
    lists
}

/// The views of `mirrors` (in the given order) with their regions and health.
fn views(conn: &mut DbConnection, mirrors: Vec<Mirror>) -> Result<Vec<MirrorView>> {
    let ids: Vec<i32> = mirrors.iter().map(|m| m.id).collect();
    let mut regions = by_mirror(
        mrm::table
            .inner_join(geoip_regions::table)
            .filter(mrm::mirror_id.eq_any(&ids))
            .select((mrm::mirror_id, geoip_regions::name))
            .load(conn)?,
    );
    let mut healths: HashMap<i32, MirrorHealth> = health::table
        .filter(health::mirror_id.eq_any(&ids))
        .load::<MirrorHealth>(conn)?
        .into_iter()
        .map(|h| (h.mirror_id, h))
        .collect();
    // The settings row (reference flag, network mode, country); none = the defaults.
    let mut modes: HashMap<i32, Settings> = settings::table
        .filter(settings::mirror_id.eq_any(&ids))
        .select((
            settings::mirror_id,
            settings::reference,
            settings::network_mode,
            settings::country,
        ))
        .load::<(i32, bool, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, reference, m, country)| {
            let mode = m.parse().unwrap_or_default();
            (
                id,
                Settings {
                    reference,
                    mode,
                    country,
                },
            )
        })
        .collect();
    let networks = nets::table.select((nets::mirror_id, nets::network));
    let mut networks = by_mirror(networks.filter(nets::mirror_id.eq_any(&ids)).load(conn)?);
    let excluded = exclusions::table.select((exclusions::mirror_id, exclusions::country_code));
    let mut excluded = by_mirror(
        excluded
            .filter(exclusions::mirror_id.eq_any(&ids))
            .load(conn)?,
    );
    Ok(mirrors
        .into_iter()
        .map(|m| {
            let mut regions = regions.remove(&m.id).unwrap_or_default();
            regions
                .sort_by(|a, b| crate::catalogue::sort_key(a).cmp(&crate::catalogue::sort_key(b)));
            let health = match healths.remove(&m.id) {
                Some(h) => HealthView {
                    state: h.state,
                    weight_percent: h.weight_percent,
                    last_checked_at: h.last_checked_at,
                    last_reason: h.last_reason,
                },
                None => HealthView {
                    state: "up".into(),
                    weight_percent: 100,
                    last_checked_at: None,
                    last_reason: String::new(),
                },
            };
            let Settings {
                reference,
                mode: network_mode,
                country,
            } = modes.remove(&m.id).unwrap_or_default();
            let mut networks = networks.remove(&m.id).unwrap_or_default();
            // In the order bounce reads them (a value written outside tuxedo that does
            // not parse, which bounce ignores, first).
            networks.sort_by_cached_key(|n| (n.parse::<NetSpec>().ok(), n.clone()));
            let mut excluded_countries = excluded.remove(&m.id).unwrap_or_default();
            excluded_countries.sort();
            MirrorView {
                reference,
                network_mode,
                country,
                networks,
                excluded_countries,
                id: m.id,
                name: m.name,
                baseurl: m.baseurl,
                rating: m.rating,
                active: m.active,
                regions,
                health,
            }
        })
        .collect())
}

/// A mirror's settings row; the default is what no row means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Settings {
    pub(super) reference: bool,
    pub(super) mode: NetworkMode,
    pub(super) country: Option<String>,
}
