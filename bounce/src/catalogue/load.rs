//! The database side of the snapshot and the mirror rows: one function per piece, each a
//! few indexed queries on one connection.

use crate::metrics::Metrics;
use bouncer_core::db::DbConnection;
use bouncer_core::networks::{self, Code, Families, Family, NetList, NetSpec};
use bouncer_core::rules::RuleSet;
use bouncer_core::schema::*;
use bouncer_core::selection::{
    proximity, Measured, MirrorCandidate, Proximity, Reach, RegionPolicy,
};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
// hashbrown's default hasher: the country and region lookups run on every redirect.
use hashbrown::HashMap;
use std::sync::Arc;

/// The small tables, whole: rules, regions, countries, and every mirror with its rating,
/// ramp and regions. Patched per change (see [`super::watch`]); `seq` moves with every
/// patch, so a location's built mirror set knows when it has to be rebuilt.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    pub seq: u64,
    pub rules: Arc<RuleSet>,
    pub regions: HashMap<i32, RegionPolicy>,
    /// Upper-case country code → region id.
    pub countries: HashMap<String, i32>,
    pub mirror_regions: HashMap<i32, Vec<i32>>,
    /// Region id → the continents of its countries (`geoip_country_to_region.continent`).
    pub region_continents: HashMap<i32, Vec<Code>>,
    /// Mirrors users may be sent to (a base URL that is not absolute http(s) is left out).
    pub mirrors: HashMap<i32, MirrorInfo>,
    /// (region, family) → mirror → what the region's vantages measured
    /// (`bouncer_region_rtt`, issue 32).
    pub region_rtt: HashMap<(i32, i16), HashMap<i32, Measured>>,
}

/// What a mirror contributes to every location it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorInfo {
    pub base: Arc<str>,
    pub rating: i32,
    pub active: bool,
    /// sentry's ramp after recovery (`bouncer_mirror_health.weight_percent`); no row = 100.
    pub weight_percent: Option<i32>,
    /// Networks, their mode and excluded countries (issue 16); default: everyone.
    pub reach: Reach,
    /// The address families its host has (`bouncer_mirror_health.families`; `None`:
    /// every family): a pair without family rows serves only clients of those.
    pub families: Option<i16>,
}

impl MirrorInfo {
    pub fn has(&self, family: Family) -> bool {
        Families::stored_has(self.families, family)
    }
}

type RegionRow = (i32, i32, Option<i32>, bool);
type MirrorInfoRow = (i32, String, i32, bool, Option<i32>, Option<i16>);
/// (mirror, network or country) rows, and (mirror, network mode) rows.
type MirrorReachRows = (Vec<(i32, String)>, Vec<(i32, String)>, Vec<(i32, String)>);

/// The small tables as read: what a starting instance takes from memcached instead of
/// the database (see [`super::image`]).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SnapshotRows {
    rules: Vec<bouncer_core::models::RewriteRuleRow>,
    regions: Vec<RegionRow>,
    countries: Vec<(String, Option<i32>)>,
    mirror_regions: Vec<(i32, i32)>,
    mirrors: Vec<MirrorInfoRow>,
    /// (region, continent) of every country with both (issue 16; absent in images that
    /// older instances wrote).
    #[serde(default)]
    continents: Vec<(i32, String)>,
    #[serde(default)]
    reach: MirrorReachRows,
    /// (mirror, country) of the mirrors whose country is given (absent in images that
    /// older instances wrote).
    #[serde(default)]
    mirror_countries: Vec<(i32, String)>,
    /// (region, mirror, family, ttfb µs, samples) of `bouncer_region_rtt` (absent in
    /// images that older instances wrote).
    #[serde(default)]
    rtt: Vec<RttRow>,
}

type RttRow = (i32, i32, i16, i32, i32);

/// What the regions' vantages measured of the mirrors (1 query).
fn rtt_rows(c: &mut DbConnection) -> QueryResult<Vec<RttRow>> {
    bouncer_region_rtt::table
        .select((
            bouncer_region_rtt::region_id,
            bouncer_region_rtt::mirror_id,
            bouncer_region_rtt::family,
            bouncer_region_rtt::ttfb_us,
            bouncer_region_rtt::samples,
        ))
        .load(c)
}

fn build_rtt(rows: &[RttRow]) -> HashMap<(i32, i16), HashMap<i32, Measured>> {
    let mut out: HashMap<(i32, i16), HashMap<i32, Measured>> = HashMap::new();
    for &(region, mirror, family, ttfb_us, samples) in rows {
        let m = Measured { ttfb_us, samples };
        out.entry((region, family)).or_default().insert(mirror, m);
    }
    out
}

/// Everything's rows (10 queries).
pub fn read_snapshot(c: &mut DbConnection, m: &Metrics) -> QueryResult<SnapshotRows> {
    m.db_queries.inc_by(10);
    let rules = rules_rows(c)?;
    let (regions, countries, mirror_regions) = network_rows(c)?;
    let (reach, mirror_countries) = reach_rows(c, None)?;
    Ok(SnapshotRows {
        rules,
        regions,
        countries,
        mirror_regions,
        mirrors: mirror_info_rows(c, None)?,
        continents: continent_rows(c)?,
        reach,
        mirror_countries,
        rtt: rtt_rows(c)?,
    })
}

impl SnapshotRows {
    pub fn build(&self) -> Snapshot {
        let (regions, countries, mirror_regions) =
            build_network(&self.regions, &self.countries, &self.mirror_regions);
        Snapshot {
            seq: 0,
            rules: build_rules(&self.rules),
            regions,
            countries,
            mirror_regions,
            region_continents: build_continents(&self.continents),
            mirrors: build_mirror_infos(&self.mirrors, &self.reach, &self.mirror_countries),
            region_rtt: build_rtt(&self.rtt),
        }
    }
}

/// (region, continent) pairs of the countries that have both.
fn continent_rows(c: &mut DbConnection) -> QueryResult<Vec<(i32, String)>> {
    let rows: Vec<(Option<i32>, Option<String>)> = geoip_country_to_region::table
        .filter(geoip_country_to_region::region_id.is_not_null())
        .filter(geoip_country_to_region::continent.is_not_null())
        .select((
            geoip_country_to_region::region_id,
            geoip_country_to_region::continent,
        ))
        .distinct()
        .load(c)?;
    Ok(rows
        .into_iter()
        .filter_map(|(r, k)| Some((r?, k?)))
        .collect())
}

fn build_continents(rows: &[(i32, String)]) -> HashMap<i32, Vec<Code>> {
    let mut out: HashMap<i32, Vec<Code>> = HashMap::new();
    for (region, k) in rows {
        if let Some(k) = networks::code(k) {
            let v = out.entry(*region).or_default();
            if !v.contains(&k) {
                v.push(k);
            }
        }
    }
    out
}

/// Networks, excluded countries and network modes of every mirror (or of one), and the
/// countries mirrors stand in (from the same settings rows).
fn reach_rows(
    c: &mut DbConnection,
    only: Option<i32>,
) -> QueryResult<(MirrorReachRows, Vec<(i32, String)>)> {
    let mut nets = bouncer_mirror_networks::table
        .select((
            bouncer_mirror_networks::mirror_id,
            bouncer_mirror_networks::network,
        ))
        .into_boxed();
    let mut excl = bouncer_mirror_exclusions::table
        .select((
            bouncer_mirror_exclusions::mirror_id,
            bouncer_mirror_exclusions::country_code,
        ))
        .into_boxed();
    let mut settings = bouncer_mirror_settings::table
        .filter(
            bouncer_mirror_settings::network_mode
                .ne("")
                .or(bouncer_mirror_settings::country.is_not_null()),
        )
        .select((
            bouncer_mirror_settings::mirror_id,
            bouncer_mirror_settings::network_mode,
            bouncer_mirror_settings::country,
        ))
        .into_boxed();
    if let Some(id) = only {
        nets = nets.filter(bouncer_mirror_networks::mirror_id.eq(id));
        excl = excl.filter(bouncer_mirror_exclusions::mirror_id.eq(id));
        settings = settings.filter(bouncer_mirror_settings::mirror_id.eq(id));
    }
    let (nets, excl) = (nets.load(c)?, excl.load(c)?);
    let settings: Vec<(i32, String, Option<String>)> = settings.load(c)?;
    let modes = settings
        .iter()
        .filter(|(_, mode, _)| !mode.is_empty())
        .map(|(id, mode, _)| (*id, mode.clone()))
        .collect();
    let countries = settings
        .into_iter()
        .filter_map(|(id, _, cc)| Some((id, cc?)))
        .collect();
    Ok(((nets, excl, modes), countries))
}

/// Each mirror's reach from its rows; values that do not parse (written outside tuxedo)
/// are left out.
fn build_reach(rows: &MirrorReachRows) -> HashMap<i32, Reach> {
    let (nets, excl, modes) = rows;
    let mut networks: HashMap<i32, Vec<NetSpec>> = HashMap::new();
    for (id, n) in nets {
        if let Ok(n) = n.parse() {
            networks.entry(*id).or_default().push(n);
        }
    }
    let mut excludes: HashMap<i32, Vec<Code>> = HashMap::new();
    for (id, cc) in excl {
        excludes.entry(*id).or_default().extend(networks::code(cc));
    }
    let mut out: HashMap<i32, Reach> = HashMap::new();
    for (id, mode) in modes {
        out.entry(*id).or_default().mode = mode.parse().unwrap_or_default();
    }
    for (id, n) in networks {
        out.entry(id).or_default().networks = Arc::new(NetList::new(n));
    }
    for (id, mut e) in excludes {
        e.sort_unstable();
        out.entry(id).or_default().excludes = e.into();
    }
    out
}

pub fn rules(c: &mut DbConnection, m: &Metrics) -> QueryResult<Arc<RuleSet>> {
    m.db_queries.inc();
    Ok(build_rules(&rules_rows(c)?))
}

fn build_rules(rows: &[bouncer_core::models::RewriteRuleRow]) -> Arc<RuleSet> {
    let (rules, errors) = RuleSet::from_rows(rows);
    for (id, error) in errors {
        tracing::error!(rule = id, %error, "rewrite rule skipped");
    }
    Arc::new(rules)
}

type Network = (
    HashMap<i32, RegionPolicy>,
    HashMap<String, i32>,
    HashMap<i32, Vec<i32>>,
);
type NetworkRows = (Vec<RegionRow>, Vec<(String, Option<i32>)>, Vec<(i32, i32)>);

/// What a network change reloads: regions, countries and mirror regions (3 queries),
/// the regions' continents (1) and what their vantages measured (1).
pub struct Reloaded {
    pub network: Network,
    pub continents: HashMap<i32, Vec<Code>>,
    pub rtt: HashMap<(i32, i16), HashMap<i32, Measured>>,
}

pub fn network(c: &mut DbConnection, m: &Metrics) -> QueryResult<Reloaded> {
    m.db_queries.inc_by(5);
    let (regions, countries, mirror_regions) = network_rows(c)?;
    Ok(Reloaded {
        network: build_network(&regions, &countries, &mirror_regions),
        continents: build_continents(&continent_rows(c)?),
        rtt: build_rtt(&rtt_rows(c)?),
    })
}

fn network_rows(c: &mut DbConnection) -> QueryResult<NetworkRows> {
    let regions = geoip_regions::table
        .select((
            geoip_regions::id,
            geoip_regions::throttle,
            geoip_regions::fallback_id,
            geoip_regions::prevent_global_fallback,
        ))
        .load(c)?;
    let countries = geoip_country_to_region::table
        .filter(geoip_country_to_region::region_id.is_not_null())
        .select((
            geoip_country_to_region::country_code,
            geoip_country_to_region::region_id,
        ))
        .load(c)?;
    let mirror_regions = geoip_mirror_region_map::table
        .select((
            geoip_mirror_region_map::mirror_id,
            geoip_mirror_region_map::region_id,
        ))
        .load(c)?;
    Ok((regions, countries, mirror_regions))
}

fn build_network(
    regions: &[RegionRow],
    countries: &[(String, Option<i32>)],
    map: &[(i32, i32)],
) -> Network {
    let regions = regions
        .iter()
        .map(|&(id, throttle, fallback, prevent)| {
            (
                id,
                RegionPolicy {
                    id,
                    throttle,
                    fallback,
                    prevent_global_fallback: prevent,
                },
            )
        })
        .collect();
    let countries = countries
        .iter()
        .filter_map(|(code, region)| Some((code.to_ascii_uppercase(), (*region)?)))
        .collect();
    let mut mirror_regions: HashMap<i32, Vec<i32>> = HashMap::new();
    for &(mirror, region) in map {
        mirror_regions.entry(mirror).or_default().push(region);
    }
    (regions, countries, mirror_regions)
}

/// One mirror as it is now (`None`: deleted or not servable) and its regions (5 queries).
pub fn mirror(
    c: &mut DbConnection,
    m: &Metrics,
    id: i32,
) -> QueryResult<(Option<MirrorInfo>, Vec<i32>)> {
    m.db_queries.inc_by(5);
    let (reach, countries) = reach_rows(c, Some(id))?;
    let info = build_mirror_infos(&mirror_info_rows(c, Some(id))?, &reach, &countries).remove(&id);
    let regions = geoip_mirror_region_map::table
        .filter(geoip_mirror_region_map::mirror_id.eq(id))
        .select(geoip_mirror_region_map::region_id)
        .load::<i32>(c)?;
    Ok((info, regions))
}

fn mirror_info_rows(c: &mut DbConnection, only: Option<i32>) -> QueryResult<Vec<MirrorInfoRow>> {
    let mut q = mirror_mirrors::table
        .left_join(bouncer_mirror_health::table)
        .select((
            mirror_mirrors::id,
            mirror_mirrors::baseurl,
            mirror_mirrors::rating,
            mirror_mirrors::active,
            bouncer_mirror_health::weight_percent.nullable(),
            bouncer_mirror_health::families.nullable(),
        ))
        .into_boxed();
    if let Some(id) = only {
        q = q.filter(mirror_mirrors::id.eq(id));
    }
    q.load(c)
}

fn build_mirror_infos(
    rows: &[MirrorInfoRow],
    reach: &MirrorReachRows,
    countries: &[(i32, String)],
) -> HashMap<i32, MirrorInfo> {
    let mut reach = build_reach(reach);
    for (id, cc) in countries {
        // A value written outside tuxedo that is no country code is left out.
        if let Some(code) = networks::code(cc) {
            reach.entry(*id).or_default().country = Some(code);
        }
    }
    rows.iter()
        .filter(|(_, base, ..)| valid_base(base))
        .map(|(id, base, rating, active, weight_percent, families)| {
            (
                *id,
                MirrorInfo {
                    base: base.as_str().into(),
                    rating: *rating,
                    active: *active,
                    weight_percent: *weight_percent,
                    families: *families,
                    reach: reach.remove(id).unwrap_or_default(),
                },
            )
        })
        .collect()
}

fn rules_rows(c: &mut DbConnection) -> QueryResult<Vec<bouncer_core::models::RewriteRuleRow>> {
    bouncer_core::rules::load_rows(c).map_err(|e| match e {
        bouncer_core::CoreError::Query(q) => q,
        other => diesel::result::Error::QueryBuilderError(other.to_string().into()),
    })
}

/// One map row of one location, as stored in the shared tier (short field names: a
/// location served by 10,000 mirrors must still fit in one memcached item). What the
/// mirror itself contributes comes from the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MirrorRow {
    #[serde(rename = "i")]
    pub id: i32,
    #[serde(rename = "l")]
    pub location_active: bool,
    #[serde(rename = "h")]
    pub healthy: bool,
    /// sentry's reason for the pair's health (`""` while it serves), for the mirror list.
    #[serde(rename = "r", default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Health per address family (`bouncer_family_health`); empty = not probed per
    /// family, and `healthy` holds for both.
    #[serde(rename = "f", default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<FamilyRow>,
    /// The vantage rule's verdicts (`bouncer_region_health`, issue 32); empty = one
    /// vantage, and the map and family rows decide.
    #[serde(rename = "g", default, skip_serializing_if = "Vec::is_empty")]
    pub verdicts: Vec<Verdict>,
}

/// One verdict of several vantages: for clients of a family (0: any) in a region (0: in
/// no region a vantage speaks for).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Verdict {
    #[serde(rename = "n")]
    pub family: i16,
    #[serde(rename = "g")]
    pub region: i32,
    #[serde(rename = "h")]
    pub healthy: bool,
    #[serde(rename = "r", default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// One family's health of a pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FamilyRow {
    #[serde(rename = "n")]
    pub family: i16,
    #[serde(rename = "h")]
    pub healthy: bool,
    #[serde(rename = "r", default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl MirrorRow {
    /// Whether clients of `family` in `region` may be sent here as far as sentry knows:
    /// the vantages' verdict when there is one, else the single-vantage rows.
    pub fn serves_in(&self, family: Family, region: Option<i32>) -> bool {
        match self.verdict(family, region) {
            Some(v) => v.healthy,
            None => self.serves(family),
        }
    }

    /// The verdict of several vantages for clients of `family` in `region`: the region's,
    /// else the global one — of the client's family when sentry probed per family, else
    /// of any family (0).
    pub fn verdict(&self, family: Family, region: Option<i32>) -> Option<&Verdict> {
        if self.verdicts.is_empty() {
            return None;
        }
        let f = [family.number(), 0]
            .into_iter()
            .find(|f| self.verdicts.iter().any(|v| v.family == *f))?;
        let of = |g: i32| {
            self.verdicts
                .iter()
                .find(|v| v.family == f && v.region == g)
        };
        region.and_then(of).or_else(|| of(0))
    }

    /// The regions some verdict names (beside the global one).
    pub fn verdict_regions(&self) -> impl Iterator<Item = i32> + '_ {
        self.verdicts.iter().map(|v| v.region).filter(|g| *g != 0)
    }

    /// Whether clients of `family` may be sent here as far as sentry's own probes know: a
    /// pair probed per family needs that family's row to be healthy.
    pub fn serves(&self, family: Family) -> bool {
        self.healthy
            && (self.families.is_empty()
                || self
                    .families
                    .iter()
                    .any(|f| f.family == family.number() && f.healthy))
    }

    /// Why `family` is out, when sentry said so.
    pub fn family_reason(&self, family: Family) -> Option<&str> {
        match self.families.iter().find(|f| f.family == family.number()) {
            Some(f) if !f.healthy => Some(if f.reason.is_empty() {
                "unhealthy"
            } else {
                &f.reason
            }),
            Some(_) => None,
            None if self.families.is_empty() => None,
            None => Some("not probed over this family"),
        }
    }
}

/// What one location's cache entry holds: its map rows and what its files are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationRows {
    #[serde(rename = "v")]
    pub mirrors: Vec<MirrorRow>,
    #[serde(rename = "f", default)]
    pub files: Vec<bouncer_core::files::FileMeta>,
}

/// The map rows, family rows, vantage verdicts and file rows of one location (4 queries).
pub fn mirror_rows(
    c: &mut DbConnection,
    m: &Metrics,
    location_id: i32,
) -> QueryResult<LocationRows> {
    m.db_queries.inc_by(4);
    let mut verdicts: HashMap<i32, Vec<Verdict>> = HashMap::new();
    let rows: Vec<(i32, i16, i32, bool, String)> = bouncer_region_health::table
        .filter(bouncer_region_health::location_id.eq(location_id))
        .select((
            bouncer_region_health::mirror_id,
            bouncer_region_health::family,
            bouncer_region_health::region_id,
            bouncer_region_health::healthy,
            bouncer_region_health::reason,
        ))
        .order((
            bouncer_region_health::mirror_id,
            bouncer_region_health::family,
            bouncer_region_health::region_id,
        ))
        .load(c)?;
    for (mirror, family, region, healthy, reason) in rows {
        verdicts.entry(mirror).or_default().push(Verdict {
            family,
            region,
            healthy,
            reason,
        });
    }
    let mut families: HashMap<i32, Vec<FamilyRow>> = HashMap::new();
    let fam: Vec<(i32, i16, bool, String)> = bouncer_family_health::table
        .filter(bouncer_family_health::location_id.eq(location_id))
        .select((
            bouncer_family_health::mirror_id,
            bouncer_family_health::family,
            bouncer_family_health::healthy,
            bouncer_family_health::reason,
        ))
        .order((
            bouncer_family_health::mirror_id,
            bouncer_family_health::family,
        ))
        .load(c)?;
    for (mirror, family, healthy, reason) in fam {
        families.entry(mirror).or_default().push(FamilyRow {
            family,
            healthy,
            reason,
        });
    }
    let rows = mirror_location_mirror_map::table
        .filter(mirror_location_mirror_map::location_id.eq(location_id))
        .select((
            mirror_location_mirror_map::mirror_id,
            mirror_location_mirror_map::active,
            mirror_location_mirror_map::healthy,
            mirror_location_mirror_map::reason,
        ))
        .order(mirror_location_mirror_map::mirror_id.asc())
        .load::<(i32, bool, bool, String)>(c)?;
    let files = bouncer_core::files::of_location(c, location_id).map_err(|e| match e {
        bouncer_core::CoreError::Query(q) => q,
        other => diesel::result::Error::QueryBuilderError(other.to_string().into()),
    })?;
    Ok(LocationRows {
        mirrors: rows
            .into_iter()
            .map(|(id, location_active, healthy, reason)| MirrorRow {
                id,
                location_active,
                healthy,
                reason,
                families: families.remove(&id).unwrap_or_default(),
                verdicts: verdicts.remove(&id).unwrap_or_default(),
            })
            .collect(),
        files,
    })
}

/// Selection candidates from rows and the snapshot: the effective weight is the rating
/// scaled by sentry's ramp (rounded up, so a ramping mirror is never rounded out). Rows of
/// mirrors the snapshot does not have (deleted, or not servable) are left out.
/// `region`: the client's, for the vantages' verdicts (see [`MirrorRow::serves_in`]) and
/// their measurements (`near`: `bounce.proximity` and its minimum samples).
pub fn candidates(
    rows: &[MirrorRow],
    snapshot: &Snapshot,
    family: Family,
    region: Option<i32>,
    near: (Proximity, i32),
) -> Vec<MirrorCandidate> {
    let mut all = plain_candidates(rows, snapshot, family, region);
    let (mode, min_samples) = near;
    let measured = region.filter(|_| mode != Proximity::Off).and_then(|g| {
        // Measured per family when sentry probes so, else over any (0).
        let of = |f: i16| snapshot.region_rtt.get(&(g, f));
        of(family.number()).or_else(|| of(0))
    });
    if let Some(measured) = measured {
        let served = all
            .iter()
            .filter(|c| c.healthy && c.mirror_active && c.location_active);
        let best = proximity::best(
            served.filter_map(|c| measured.get(&c.mirror_id).copied()),
            min_samples,
        );
        for c in &mut all {
            let own = measured.get(&c.mirror_id).copied();
            c.rating = proximity::weigh(mode, c.rating, own, best, min_samples);
        }
    }
    all
}

fn plain_candidates(
    rows: &[MirrorRow],
    snapshot: &Snapshot,
    family: Family,
    region: Option<i32>,
) -> Vec<MirrorCandidate> {
    rows.iter()
        .filter_map(|r| {
            let info = snapshot.mirrors.get(&r.id)?;
            let regions = snapshot
                .mirror_regions
                .get(&r.id)
                .cloned()
                .unwrap_or_default();
            let pct = i64::from(info.weight_percent.unwrap_or(100).clamp(0, 100));
            let effective = (i64::from(info.rating.max(0)) * pct + 99) / 100;
            Some(MirrorCandidate {
                mirror_id: r.id,
                base_url: Arc::clone(&info.base),
                rating: i32::try_from(effective).unwrap_or(i32::MAX),
                mirror_active: info.active,
                location_active: r.location_active,
                healthy: r.serves_in(family, region) && info.has(family),
                regions: regions.clone(),
                reach: Reach {
                    continents: regions
                        .iter()
                        .filter_map(|g| snapshot.region_continents.get(g))
                        .flatten()
                        .copied()
                        .collect(),
                    ..info.reach.clone()
                },
            })
        })
        .collect()
}

/// A base URL users may be sent to: absolute http(s) with a host, no query or fragment.
fn valid_base(base: &str) -> bool {
    let ok = url::Url::parse(base).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.host().is_some()
            && u.query().is_none()
            && u.fragment().is_none()
    });
    if !ok {
        tracing::error!(
            base,
            "mirror base URL is not an absolute http(s) URL; skipped"
        );
    }
    ok
}
