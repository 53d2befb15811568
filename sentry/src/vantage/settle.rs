//! From the vantages' views to the verdicts bounce serves: per (location, mirror, family),
//! the live vantages' views through `core::vantage::decide`, compared with the stored
//! verdicts, and only the difference written (plan → apply), with a change record per
//! location so bounce refreshes, and an audit row per mirror, family and region that
//! turned.

use super::rows::{Gone, NewRegionRow};
use super::{Key, Vantages};
use crate::SentryError;
use bouncer_core::changes::Change;
use bouncer_core::db::{replace_many, DbConnection};
use bouncer_core::schema::{
    bouncer_region_health as rh, bouncer_vantage_health as vh, geoip_regions, mirror_mirrors,
};
use bouncer_core::vantage::{decide, Report};
use diesel::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Locations read at once: every vantage's rows of a location are in memory together.
const LOCATIONS_PER_READ: usize = 16;

/// The verdicts of one key: region id (0 = global) → (healthy, reason).
type Verdicts = BTreeMap<i32, (bool, String)>;

/// What [`settle`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// A change per location whose verdicts changed, for the change log.
    pub changes: Vec<Change>,
    /// Verdict rows written or removed.
    pub rows: usize,
    /// Keys whose verdicts were derived.
    pub keys: usize,
}

/// One vantage's stored view, as the rule reads it.
struct View {
    vantage: String,
    served: bool,
    reason: String,
}

/// Settles the verdicts of `keys` (of every pair with a vantage row or a verdict, when
/// `None`) from the vantages live at `now`. Call inside a transaction.
pub fn settle(
    conn: &mut DbConnection,
    vantages: &Vantages,
    keys: Option<&BTreeSet<Key>>,
    now: i64,
    at: chrono::NaiveDateTime,
) -> Result<Settled, SentryError> {
    let live = super::live(conn, vantages.lease_secs, now)?;
    let speaks_for = regions_of(conn, vantages)?;
    let locations: Vec<i32> = match keys {
        Some(keys) => keys.iter().map(|k| k.0).collect::<BTreeSet<_>>(),
        None => {
            let mut all: BTreeSet<i32> = vh::table
                .select(vh::location_id)
                .distinct()
                .load::<i32>(conn)?
                .into_iter()
                .collect();
            all.extend(
                rh::table
                    .select(rh::location_id)
                    .distinct()
                    .load::<i32>(conn)?,
            );
            all
        }
    }
    .into_iter()
    .collect();
    let mut done = Settled::default();
    let mut turned: BTreeMap<(i32, i16, i32, bool), (usize, String)> = BTreeMap::new();
    for chunk in locations.chunks(LOCATIONS_PER_READ) {
        let views = read_views(conn, chunk)?;
        let stored = read_verdicts(conn, chunk)?;
        let mut scope: BTreeSet<Key> = views.keys().chain(stored.keys()).copied().collect();
        if let Some(keys) = keys {
            scope.retain(|k| keys.contains(k));
        }
        let mut writes = Vec::new();
        let mut gone = Gone::default();
        for key in scope {
            let want = verdicts(
                views.get(&key).map_or(&[][..], |v| v),
                &live,
                &speaks_for,
                vantages,
            );
            let have = stored.get(&key).cloned().unwrap_or_default();
            if want == have {
                continue;
            }
            done.keys += 1;
            done.changes.push(Change::Location(key.0));
            for (region, (healthy, reason)) in &want {
                let row = NewRegionRow {
                    location_id: key.0,
                    mirror_id: key.1,
                    family: key.2,
                    region_id: *region,
                    healthy: *healthy,
                    reason: reason.clone(),
                };
                if have.get(region) == Some(&(*healthy, reason.clone())) {
                    continue;
                }
                writes.push(row);
                done.rows += 1;
                // A turn: a stored verdict that changes, or a first one that is down (a
                // first "up" is what no verdict meant already).
                let turned_now = have.get(region).map_or(!healthy, |(h, _)| h != healthy);
                if turned_now {
                    let t = turned.entry((key.1, key.2, *region, *healthy)).or_default();
                    t.0 += 1;
                    t.1.clone_from(reason);
                }
            }
            for region in have.keys().filter(|r| !want.contains_key(r)) {
                gone.add(key, *region);
                done.rows += 1;
            }
        }
        // New verdicts and changed ones alike, a few hundred per statement.
        replace_many::<NewRegionRow, _>(conn, rh::table, &writes)?;
        gone.delete(conn)?;
    }
    done.changes.dedup();
    audit_turns(conn, &turned, at)?;
    Ok(done)
}

/// Each vantage's region ids, from the names the configuration gives (a name that is not a
/// region is warned about and ignored: the vantage then counts only globally there).
pub(super) fn regions_of(
    conn: &mut DbConnection,
    v: &Vantages,
) -> Result<HashMap<String, Vec<i32>>, SentryError> {
    let ids: HashMap<String, i32> = geoip_regions::table
        .select((geoip_regions::name, geoip_regions::id))
        .load::<(String, i32)>(conn)?
        .into_iter()
        .collect();
    Ok(v.speaks_for
        .iter()
        .map(|(vantage, names)| {
            let regions = names
                .iter()
                .filter_map(|n| {
                    let id = ids.get(n).copied();
                    if id.is_none() {
                        tracing::warn!(vantage, region = %n, "vantage region is not a region; ignored");
                    }
                    id
                })
                .collect();
            (vantage.clone(), regions)
        })
        .collect())
}

fn read_views(
    conn: &mut DbConnection,
    locations: &[i32],
) -> Result<HashMap<Key, Vec<View>>, SentryError> {
    let mut views: HashMap<Key, Vec<View>> = HashMap::new();
    let rows = vh::table
        .filter(vh::location_id.eq_any(locations))
        .select((
            (vh::location_id, vh::mirror_id, vh::family),
            vh::vantage,
            vh::active,
            vh::healthy,
            vh::reason,
        ))
        .order((vh::location_id, vh::mirror_id, vh::family, vh::vantage))
        .load::<(Key, String, bool, bool, String)>(conn)?;
    for (key, vantage, active, healthy, reason) in rows {
        views.entry(key).or_default().push(View {
            vantage,
            served: active && healthy,
            reason,
        });
    }
    Ok(views)
}

fn read_verdicts(
    conn: &mut DbConnection,
    locations: &[i32],
) -> Result<HashMap<Key, Verdicts>, SentryError> {
    let mut stored: HashMap<Key, Verdicts> = HashMap::new();
    let rows = rh::table
        .filter(rh::location_id.eq_any(locations))
        .select((
            (rh::location_id, rh::mirror_id, rh::family),
            rh::region_id,
            rh::healthy,
            rh::reason,
        ))
        .load::<(Key, i32, bool, String)>(conn)?;
    for (key, region, healthy, reason) in rows {
        stored
            .entry(key)
            .or_default()
            .insert(region, (healthy, reason));
    }
    Ok(stored)
}

/// What the rule makes of a key's views (only the live vantages'): none when no live
/// vantage has a view, so the single-vantage health holds again.
fn verdicts(
    views: &[View],
    live: &BTreeSet<String>,
    speaks_for: &HashMap<String, Vec<i32>>,
    vantages: &Vantages,
) -> Verdicts {
    let views: Vec<&View> = views
        .iter()
        .filter(|v| live.contains(&v.vantage) && speaks_for.contains_key(&v.vantage))
        .collect();
    if views.is_empty() {
        return Verdicts::new();
    }
    let reports: Vec<Report> = views
        .iter()
        .map(|v| Report {
            vantage: v.vantage.clone(),
            regions: speaks_for.get(&v.vantage).cloned().unwrap_or_default(),
            healthy: v.served,
        })
        .collect();
    let decided = decide(&reports, vantages.rule);
    let why = |among: &[&View], healthy: bool| -> String {
        let down: Vec<&&View> = among.iter().filter(|v| !v.served).collect();
        match down.first() {
            None => String::new(),
            Some(first) => {
                let mut s = format!("{} of {} vantages down", down.len(), among.len());
                if !healthy {
                    s = format!("{}: {}; {s}", first.vantage, first.reason);
                }
                s.chars().take(bouncer_core::limits::PAIR_REASON).collect()
            }
        }
    };
    let mut out = Verdicts::new();
    out.insert(0, (decided.global, why(&views, decided.global)));
    for (region, healthy) in decided.regions {
        let among: Vec<&View> = views
            .iter()
            .filter(|v| {
                speaks_for
                    .get(&v.vantage)
                    .is_some_and(|r| r.contains(&region))
            })
            .copied()
            .collect();
        out.insert(region, (healthy, why(&among, healthy)));
    }
    out
}

/// One audit row per (mirror, family, region) whose verdict turned, with how many
/// locations turned and one reason.
fn audit_turns(
    conn: &mut DbConnection,
    turned: &BTreeMap<(i32, i16, i32, bool), (usize, String)>,
    at: chrono::NaiveDateTime,
) -> Result<(), SentryError> {
    if turned.is_empty() {
        return Ok(());
    }
    let ids: Vec<i32> = turned.keys().map(|k| k.0).collect();
    let names: HashMap<i32, String> = mirror_mirrors::table
        .filter(mirror_mirrors::id.eq_any(&ids))
        .select((mirror_mirrors::id, mirror_mirrors::name))
        .load::<(i32, String)>(conn)?
        .into_iter()
        .collect();
    for ((mirror, family, region, healthy), (locations, reason)) in turned {
        let name = names.get(mirror).map_or("?", String::as_str);
        let action = match healthy {
            true => "mirror.vantage_up",
            false => "mirror.vantage_down",
        };
        let scope = match region {
            0 => json!("global"),
            r => json!(r),
        };
        let after = json!({ "region": scope, "family": family, "healthy": healthy, "locations": locations, "reason": reason });
        crate::store::audit(
            conn,
            action,
            &format!("mirror:{name}"),
            json!({ "healthy": !healthy }),
            after,
            at,
        )?;
        tracing::info!(mirror = %name, family, region = %scope, healthy, locations, reason = %reason, "vantage verdict changed");
    }
    Ok(())
}
