//! Mirrors: where downloads are served from, their rating (share of traffic), whether they
//! take traffic, the regions they serve, who they are for beyond regions (the networks
//! they prefer or serve only, the countries they must not serve), and what sentry found
//! when it last checked them.

use super::{country_code, is_unique_violation, shown, valid_name, write_tx, Change, Tail};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::{Mirror, MirrorHealth, NewLocationMirror, NewMirror, NewMirrorRegion};
use bouncer_core::networks::{NetSpec, NetworkMode, MAX_NETWORKS};
use bouncer_core::schema::{
    bouncer_mirror_exclusions as exclusions, bouncer_mirror_health as health,
    bouncer_mirror_networks as nets, bouncer_mirror_settings as settings,
    geoip_mirror_region_map as mrm, geoip_regions, mirror_location_mirror_map as map,
    mirror_locations, mirror_mirrors, sentry_log,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};

/// Longest name and base URL the schema holds.
pub const MAX_NAME: usize = bouncer_core::limits::MIRROR_NAME;
/// Highest rating accepted (ratings are relative weights).
pub const MAX_RATING: i32 = 1_000_000;

/// sentry's view of a mirror; a mirror it never marked is `up` at 100 %.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthView {
    pub state: String,
    pub weight_percent: i32,
    #[serde(serialize_with = "bouncer_core::utc::serialize_option")]
    pub last_checked_at: Option<NaiveDateTime>,
    pub last_reason: String,
}

/// A mirror as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirrorView {
    pub id: i32,
    pub name: String,
    pub baseurl: String,
    pub rating: i32,
    pub active: bool,
    /// Names of the regions it serves, sorted.
    pub regions: Vec<String>,
    pub health: HealthView,
    /// A reference origin: sentry learns file sizes here and compares sampled bytes.
    pub reference: bool,
    /// What `networks` mean to bounce: shown as `none`, `prefer` or `only`.
    #[serde(serialize_with = "mode_name")]
    pub network_mode: NetworkMode,
    /// The networks it serves (`AS64500`, `192.0.2.0/24`), normalised and sorted.
    pub networks: Vec<String>,
    /// Countries (ISO 3166 alpha-2) bounce never sends it clients from, sorted.
    pub excluded_countries: Vec<String>,
    /// Where it stands (ISO 3166 alpha-2): bounce's `geo=` and Metalink `location`.
    pub country: Option<String>,
}

/// A mode as the API shows it: [`NetworkMode::None`] is `none`, not the column's `''`.
fn mode_name<S: Serializer>(mode: &NetworkMode, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(match mode {
        NetworkMode::None => "none",
        other => other.as_str(),
    })
}

/// A new mirror. It starts inactive unless `active` is given.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMirrorForm {
    pub name: String,
    pub baseurl: String,
    #[serde(default)]
    pub rating: i32,
    #[serde(default)]
    pub active: bool,
    /// `none` (or `""`, the default), `prefer` or `only`.
    #[serde(default)]
    pub network_mode: Option<String>,
    /// `AS<number>` or CIDRs (a bare address is its /32 or /128); none by default.
    #[serde(default)]
    pub networks: Option<Vec<String>>,
    /// Two-letter country codes; none by default.
    #[serde(default)]
    pub excluded_countries: Option<Vec<String>>,
    /// Where it stands: a two-letter country code; none by default.
    #[serde(default)]
    pub country: Option<String>,
}

/// Changes to a mirror; a field left out is kept.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorPatch {
    pub name: Option<String>,
    pub baseurl: Option<String>,
    pub rating: Option<i32>,
    pub active: Option<bool>,
    pub reference: Option<bool>,
    /// `none` (or `""`), `prefer` or `only`.
    pub network_mode: Option<String>,
    /// Replaces the whole list (`[]` clears it).
    pub networks: Option<Vec<String>>,
    /// Replaces the whole list (`[]` clears it).
    pub excluded_countries: Option<Vec<String>>,
    /// A two-letter country code; `""` clears it.
    pub country: Option<String>,
}

/// A mirror's reach as a write gives it, validated and normalised; `None` keeps what is.
#[derive(Debug)]
struct Reach {
    mode: Option<NetworkMode>,
    networks: Option<Vec<String>>,
    excluded: Option<Vec<String>>,
    /// `Some(None)`: clear it.
    country: Option<Option<String>>,
}

impl Reach {
    /// Checks every value before anything is written: one bad value refuses the write.
    fn valid(
        mode: Option<&str>,
        networks: Option<&[String]>,
        excluded: Option<&[String]>,
        country: Option<&str>,
    ) -> Result<Self> {
        Ok(Reach {
            mode: mode.map(valid_mode).transpose()?,
            networks: networks.map(valid_networks).transpose()?,
            excluded: excluded.map(valid_countries).transpose()?,
            country: country.map(valid_country).transpose()?,
        })
    }
}

/// One line of sentry's log of a mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentryLogView {
    #[serde(serialize_with = "bouncer_core::utc::serialize")]
    pub log_date: NaiveDateTime,
    #[serde(serialize_with = "bouncer_core::utc::serialize")]
    pub check_time: NaiveDateTime,
    pub mirror_active: bool,
    pub mirror_rating: i32,
    pub reason: String,
}

/// Every mirror, sorted by name.
pub fn list(conn: &mut DbConnection) -> Result<Vec<MirrorView>> {
    let mut rows: Vec<Mirror> = mirror_mirrors::table.load(conn)?;
    rows.sort_by(|a, b| super::sort_key(&a.name).cmp(&super::sort_key(&b.name)));
    views(conn, rows)
}

/// One mirror by id.
pub fn get(conn: &mut DbConnection, id: i32) -> Result<MirrorView> {
    let m = find(conn, id)?;
    view_one(conn, m)
}

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
            .map_err(|e| clash(e, name))?;
        let m: Mirror = mirror_mirrors::table
            .filter(mirror_mirrors::name.eq(name))
            .first(conn)?;
        let locations: Vec<i32> = mirror_locations::table
            .select(mirror_locations::id)
            .load(conn)?;
        for location_id in locations {
            diesel::insert_into(map::table)
                .values(NewLocationMirror {
                    location_id,
                    mirror_id: m.id,
                    active: false,
                    healthy: true,
                })
                .execute(conn)?;
        }
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
            .map_err(|e| clash(e, &new_name))?;
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
        let region = super::regions::find(conn, region_id)?;
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
        let region = super::regions::find(conn, region_id)?;
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

pub(crate) fn find(conn: &mut DbConnection, id: i32) -> Result<Mirror> {
    mirror_mirrors::table
        .find(id)
        .first(conn)
        .optional()?
        .ok_or_else(|| TuxedoError::NotFound {
            kind: "mirror",
            key: id.to_string(),
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

/// The views of `mirrors` (in the given order) with their regions and health.
/// The view of one mirror.
fn view_one(conn: &mut DbConnection, m: Mirror) -> Result<MirrorView> {
    Ok(views(conn, vec![m])?.remove(0))
}

fn views(conn: &mut DbConnection, mirrors: Vec<Mirror>) -> Result<Vec<MirrorView>> {
    let ids: Vec<i32> = mirrors.iter().map(|m| m.id).collect();
    let mut regions: HashMap<i32, Vec<String>> = HashMap::new();
    let links: Vec<(i32, String)> = mrm::table
        .inner_join(geoip_regions::table)
        .filter(mrm::mirror_id.eq_any(&ids))
        .select((mrm::mirror_id, geoip_regions::name))
        .load(conn)?;
    for (mirror, region) in links {
        regions.entry(mirror).or_default().push(region);
    }
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
    let mut networks: HashMap<i32, Vec<String>> = HashMap::new();
    let rows: Vec<(i32, String)> = nets::table
        .filter(nets::mirror_id.eq_any(&ids))
        .select((nets::mirror_id, nets::network))
        .load(conn)?;
    for (mirror, n) in rows {
        networks.entry(mirror).or_default().push(n);
    }
    let mut excluded: HashMap<i32, Vec<String>> = HashMap::new();
    let rows: Vec<(i32, String)> = exclusions::table
        .filter(exclusions::mirror_id.eq_any(&ids))
        .select((exclusions::mirror_id, exclusions::country_code))
        .load(conn)?;
    for (mirror, cc) in rows {
        excluded.entry(mirror).or_default().push(cc);
    }
    Ok(mirrors
        .into_iter()
        .map(|m| {
            let mut regions = regions.remove(&m.id).unwrap_or_default();
            regions.sort_by(|a, b| super::sort_key(a).cmp(&super::sort_key(b)));
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

/// An absolute http(s) URL with a host and neither query nor fragment (bounce appends the
/// location path to it), stored in its normalised (WHATWG) form without a trailing `/`.
/// Input whose normalised form names another host or port than its text seems to is
/// refused: sentry (a WHATWG parser), bounce and the clients that follow its redirects
/// must all reach the same server (`http://a:1\@b:2/` is `a:1` to one parser, `b:2` to
/// another).
pub(crate) fn valid_baseurl(raw: &str) -> Result<String> {
    let raw = valid_name("baseurl", raw, bouncer_core::limits::BASE_URL)?;
    let bad = |reason: &str| TuxedoError::Invalid {
        field: "baseurl",
        reason: reason.into(),
    };
    if let Some(c) = raw
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '\\' | '"' | '\'' | '<' | '>' | '`'))
    {
        return Err(bad(&format!("must not contain {c:?}")));
    }
    let lower = raw.to_ascii_lowercase();
    let Some(rest) = ["http://", "https://"]
        .iter()
        .find_map(|p| lower.starts_with(p).then(|| &raw[p.len()..]))
    else {
        return Err(bad("must start with http:// or https://"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains(['@', '%']) {
        return Err(bad("must not carry credentials or escapes in the host"));
    }
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("not an absolute URL: {e}")))?;
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(bad("has no host"));
    };
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    // The host and port the text names must be the ones the parser found.
    let (text_host, text_port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            match h.contains(':') && !h.starts_with('[') {
                true => (authority, None),
                false => (h, Some(p)),
            }
        }
        _ => (authority, None),
    };
    if !text_host.eq_ignore_ascii_case(host) {
        return Err(bad(&format!(
            "names host {text_host:?} but is parsed as host {host:?}"
        )));
    }
    if let Some(p) = text_port {
        match p.parse::<u16>() {
            Ok(n) if n > 0 && Some(n) == url.port_or_known_default() => {}
            _ => return Err(bad(&format!("port {p:?} is not a port from 1 to 65535"))),
        }
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A mirror's settings row; the default is what no row means.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Settings {
    reference: bool,
    mode: NetworkMode,
    country: Option<String>,
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

/// A network mode: `none` or `""`, `prefer`, `only`.
fn valid_mode(raw: &str) -> Result<NetworkMode> {
    raw.parse().map_err(|e: String| TuxedoError::Invalid {
        field: "network_mode",
        reason: unprefixed(&e, "invalid network_mode "),
    })
}

/// Networks as given: each `AS<number>` or a CIDR (a bare address is its /32 or /128),
/// at most [`bouncer_core::limits::NETWORK`] characters; normalised (`as64500` is
/// `AS64500`, host bits cleared), duplicates merged, in bounce's order; at most
/// [`MAX_NETWORKS`] of them.
fn valid_networks(raw: &[String]) -> Result<Vec<String>> {
    let max = bouncer_core::limits::NETWORK;
    if raw.len() > MAX_NETWORKS {
        return Err(TuxedoError::Invalid {
            field: "networks",
            reason: format!(
                "{} networks: a mirror may list at most {MAX_NETWORKS}",
                raw.len()
            ),
        });
    }
    let mut out = BTreeSet::new();
    for n in raw {
        let t = n.trim();
        let reason = if t.chars().count() > max {
            format!("{}: longer than {max} characters", shown(t))
        } else {
            match t.parse::<NetSpec>() {
                Ok(spec) => {
                    out.insert(spec);
                    continue;
                }
                Err(e) => unprefixed(&e, "invalid network "),
            }
        };
        return Err(TuxedoError::Invalid {
            field: "networks",
            reason,
        });
    }
    Ok(out.iter().map(NetSpec::to_string).collect())
}

/// Country codes as given: two letters each (any case; stored upper case), duplicates
/// merged, sorted.
fn valid_countries(raw: &[String]) -> Result<Vec<String>> {
    let codes = raw
        .iter()
        .map(|cc| country_code("excluded_countries", cc))
        .collect::<Result<BTreeSet<_>>>()?;
    Ok(codes.into_iter().collect())
}

/// Where a mirror stands: a two-letter code (any case; stored upper case), `""` for none.
fn valid_country(raw: &str) -> Result<Option<String>> {
    match raw.trim().is_empty() {
        true => Ok(None),
        false => country_code("country", raw).map(Some),
    }
}

/// `core::networks`' message without the words our error adds itself.
fn unprefixed(message: &str, prefix: &str) -> String {
    message.strip_prefix(prefix).unwrap_or(message).to_owned()
}

fn valid_rating(rating: i32) -> Result<()> {
    match (0..=MAX_RATING).contains(&rating) {
        true => Ok(()),
        false => Err(TuxedoError::Invalid {
            field: "rating",
            reason: format!("must be between 0 and {MAX_RATING}"),
        }),
    }
}

fn clash(e: diesel::result::Error, name: &str) -> TuxedoError {
    match is_unique_violation(&e) {
        true => TuxedoError::Conflict(format!("mirror {name:?} already exists")),
        false => e.into(),
    }
}

fn target(name: &str) -> String {
    format!("mirror:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reach_is_checked_and_normalised() {
        let n = valid_networks(&strings(&[
            "as7",
            " 10.1.2.3/8 ",
            "AS7",
            "10.0.0.0/8",
            "::",
        ]));
        assert_eq!(n.unwrap(), ["AS7", "10.0.0.0/8", "::/128"]);
        let too_long = format!("AS{}7", "0".repeat(bouncer_core::limits::NETWORK - 2));
        for (bad, says) in [
            ("x", r#"invalid networks: "x": expected AS<number>"#),
            ("AS0", r#"invalid networks: "AS0": AS numbers"#),
            (too_long.as_str(), "…: longer than 64 characters"),
        ] {
            let e = valid_networks(&strings(&["AS1", bad]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert_eq!(
            valid_countries(&strings(&["de", "FR", " de"])).unwrap(),
            ["DE", "FR"]
        );
        let e = valid_countries(&strings(&["DE", "DEU"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid excluded_countries: "DEU" is not a two-letter country code"#
        );
        assert_eq!(valid_mode("").unwrap(), NetworkMode::None);
        assert_eq!(valid_mode("none").unwrap(), NetworkMode::None);
        assert_eq!(valid_mode("only").unwrap(), NetworkMode::Only);
        assert_eq!(
            valid_mode("maybe").unwrap_err().to_string(),
            r#"invalid network_mode: "maybe": expected none, prefer or only"#
        );
        assert_eq!(shown(&"x".repeat(30)), format!("{:?}…", "x".repeat(20)));
    }

    #[test]
    fn baseurls_are_checked() {
        assert_eq!(
            valid_baseurl(" https://m.example/pub/ ").unwrap(),
            "https://m.example/pub"
        );
        assert!(valid_baseurl("http://m.example:8080").is_ok());
        for bad in [
            "ftp://m.example/pub",
            "/pub",
            "m.example/pub",
            "https://m.example/pub?x=1",
            "https://m.example/pub#f",
            "https://u:p@m.example/",
            "https:///pub",
            "http://127.0.0.1:20040\\@127.0.0.1:20043/pub",
            "http:evil.example/pub",
            "http://m.example:0/pub",
            "http://m.example/a b",
            "http://m.example/\"><x>",
            "http://m.example/<x>",
            "http://m%2eexample/",
        ] {
            assert!(valid_baseurl(bad).is_err(), "{bad}");
        }
        assert_eq!(
            valid_baseurl("HTTP://M.Example:80/pub/../dl/").unwrap(),
            "http://m.example/dl",
            "stored normalised"
        );
        assert_eq!(
            valid_baseurl("https://[2001:db8::1]:8443/pub").unwrap(),
            "https://[2001:db8::1]:8443/pub"
        );
    }
}
