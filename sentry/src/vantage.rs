//! The controller's side of several vantage points (issue 32). What each vantage found —
//! the controller's own probes, and every `sentry agent`'s — is kept per vantage with the
//! same hysteresis as the map ([`record`]); `core::vantage`'s rule then turns the live
//! vantages' views into a verdict per region and a global one, which bounce serves
//! ([`settle`]). A report records, then settles only the pairs whose view changed; a
//! controller run settles every pair when a vantage's lease began or ran out, so a lost
//! agent stops counting within a run of its lease.
//!
//! Nothing here is on when no agent is configured: one vantage decides, as before.

mod rows;
mod settle;
mod timing;

use crate::check::{Loc, MirrorReport};
use crate::health::{row_step, Policy, RowState};
use crate::probe::Class;
use crate::SentryError;
use bouncer_core::config::SentryConfig;
use bouncer_core::db::{replace_many, DbConnection};
use bouncer_core::networks::Family;
use bouncer_core::schema::{
    bouncer_vantage_health as vh, bouncer_vantages as vs, mirror_location_mirror_map as map,
};
use bouncer_core::vantage::Rule;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rows::NewVantageRow;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

pub use settle::{settle, Settled};

/// What one vantage found of one (location, mirror, family): the unit an agent sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub location_id: i32,
    pub mirror_id: i32,
    /// 4 or 6; 0 when the probe was not made per family (a mirror with one family).
    pub family: i16,
    pub class: Seen,
    /// Why, when not healthy (`HTTP 503`, `timeout`, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// How fast the mirror answered over this family this round (µs): the base URL over
    /// a new connection, and the fastest file. On one finding per (mirror, family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_us: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_us: Option<u32>,
}

/// A probe's class on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seen {
    Healthy,
    Inactive,
    Unhealthy,
}

impl From<Class> for Seen {
    fn from(c: Class) -> Self {
        match c {
            Class::Healthy => Seen::Healthy,
            Class::Inactive => Seen::Inactive,
            Class::Unhealthy => Seen::Unhealthy,
        }
    }
}

impl From<Seen> for Class {
    fn from(s: Seen) -> Self {
        match s {
            Seen::Healthy => Class::Healthy,
            Seen::Inactive => Class::Inactive,
            Seen::Unhealthy => Class::Unhealthy,
        }
    }
}

/// A verdict's key: (location, mirror, family).
pub type Key = (i32, i32, i16);

/// The vantages the controller takes reports from, from `sentry.*`.
#[derive(Debug, Clone)]
pub struct Vantages {
    /// The controller's own vantage name.
    pub me: String,
    pub rule: Rule,
    pub lease_secs: i64,
    /// The region names each vantage speaks for (the controller's own included).
    pub speaks_for: BTreeMap<String, Vec<String>>,
    /// Each agent's name with the SHA-256 of its secret (hex, lower case).
    tokens: Vec<(String, String)>,
}

impl Vantages {
    /// `None` when no agent is configured: one vantage, nothing to settle.
    pub fn from_config(s: &SentryConfig) -> Option<Self> {
        if s.agents.is_empty() {
            return None;
        }
        let mut speaks_for: BTreeMap<String, Vec<String>> = s
            .agents
            .iter()
            .map(|(name, g)| (name.clone(), g.regions.clone()))
            .collect();
        speaks_for.insert(s.vantage.clone(), s.vantage_regions.clone());
        Some(Self {
            me: s.vantage.clone(),
            rule: s.vantage_rule,
            lease_secs: i64::try_from(s.vantage_lease_secs).unwrap_or(i64::MAX),
            speaks_for,
            tokens: s
                .agents
                .iter()
                .map(|(name, g)| (name.clone(), g.token_sha256.to_ascii_lowercase()))
                .collect(),
        })
    }

    /// The agent whose secret `secret` is (compared in constant time with every grant).
    pub fn agent(&self, secret: &str) -> Option<&str> {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        let presented = format!("{:x}", Sha256::digest(secret.as_bytes()));
        let mut found = None;
        for (name, hash) in &self.tokens {
            if bool::from(presented.as_bytes().ct_eq(hash.as_bytes())) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// What [`record`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Rows whose view changed (inserted or updated): the keys to settle.
    pub changed: BTreeSet<Key>,
    /// Findings of pairs that are not in the map (or of no family): not kept.
    pub skipped: usize,
}

/// Locations per read of the stored rows.
const LOCATIONS_PER_READ: usize = 500;

/// Keeps `vantage`'s findings: each (location, mirror, family) row steps by sentry's
/// hysteresis from what the vantage last said; a pair that is not in the map is skipped,
/// so a vantage can say nothing of what is not there. Stamps the vantage's report time
/// (its lease). Call inside a transaction.
pub fn record(
    conn: &mut DbConnection,
    policy: &Policy,
    vantage: &str,
    findings: &[Finding],
    now: i64,
) -> Result<Recorded, SentryError> {
    let mut by_location: BTreeMap<i32, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_location.entry(f.location_id).or_default().push(f);
    }
    let locations: Vec<i32> = by_location.keys().copied().collect();
    let mut done = Recorded::default();
    for chunk in locations.chunks(LOCATIONS_PER_READ) {
        let pairs: HashSet<(i32, i32)> = map::table
            .filter(map::location_id.eq_any(chunk))
            .select((map::location_id, map::mirror_id))
            .load(conn)?
            .into_iter()
            .collect();
        let before: HashMap<Key, (RowState, String)> = vh::table
            .filter(vh::vantage.eq(vantage))
            .filter(vh::location_id.eq_any(chunk))
            .select((
                (vh::location_id, vh::mirror_id, vh::family),
                (vh::active, vh::healthy, vh::fail_streak, vh::ok_streak),
                vh::reason,
            ))
            .load::<(Key, (bool, bool, i32, i32), String)>(conn)?
            .into_iter()
            .map(|(k, (active, healthy, fail_streak, ok_streak), reason)| {
                let state = RowState {
                    active,
                    healthy,
                    fail_streak,
                    ok_streak,
                };
                (k, (state, reason))
            })
            .collect();
        let mut writes = Vec::new();
        for f in chunk.iter().flat_map(|l| &by_location[l]) {
            let key = (f.location_id, f.mirror_id, f.family);
            if !pairs.contains(&(f.location_id, f.mirror_id)) || !matches!(f.family, 0 | 4 | 6) {
                done.skipped += 1;
                continue;
            }
            let prev = before.get(&key);
            let next = row_step(policy, prev.map(|(s, _)| *s), f.class.into());
            let reason = match next.served() {
                true => String::new(),
                false => (f.reason.chars())
                    .take(bouncer_core::limits::PAIR_REASON)
                    .collect(),
            };
            if prev.is_some_and(|(s, r)| *s == next && *r == reason) {
                continue;
            }
            writes.push(NewVantageRow::new(key, vantage, next, reason));
            done.changed.insert(key);
        }
        // New rows and changed ones alike, a few hundred per statement.
        replace_many::<NewVantageRow, _>(conn, vh::table, &writes)?;
    }
    timing::record(conn, vantage, findings)?;
    stamp(conn, vantage, now)?;
    Ok(done)
}

/// The vantage's report time, its lease's start.
fn stamp(conn: &mut DbConnection, vantage: &str, now: i64) -> Result<(), SentryError> {
    let updated = diesel::update(vs::table.find(vantage))
        .set(vs::reported_at.eq(now))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(vs::table)
            .values((vs::name.eq(vantage), vs::reported_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}

/// The vantages whose lease runs at `now`.
pub fn live(
    conn: &mut DbConnection,
    lease_secs: i64,
    now: i64,
) -> Result<BTreeSet<String>, SentryError> {
    let since = now.saturating_sub(lease_secs);
    Ok(vs::table
        .filter(vs::reported_at.ge(since))
        .select(vs::name)
        .load::<String>(conn)?
        .into_iter()
        .collect())
}

/// What a vantage's findings did, and the generation bounce is told of when a verdict
/// turned.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub recorded: Recorded,
    pub settled: Settled,
    pub generation: Option<i64>,
}

/// The one write path of a vantage's report: in one transaction, its findings recorded,
/// the pairs whose view changed settled, and a change record when a verdict turned. The
/// caller publishes `generation` with `settled.changes`.
pub fn apply(
    conn: &mut DbConnection,
    policy: &Policy,
    vantages: &Vantages,
    vantage: &str,
    findings: &[Finding],
    now: NaiveDateTime,
) -> Result<Applied, SentryError> {
    bouncer_core::db::write_transaction::<_, SentryError, _>(conn, |conn| {
        let secs = now.and_utc().timestamp();
        let recorded = record(conn, policy, vantage, findings, secs)?;
        let settled = match recorded.changed.is_empty() {
            true => Settled::default(),
            false => settle(conn, vantages, Some(&recorded.changed), secs, now)?,
        };
        let generation = match settled.changes.is_empty() {
            true => None,
            false => Some(bouncer_core::changes::record(conn, &settled.changes)?),
        };
        Ok(Applied {
            recorded,
            settled,
            generation,
        })
    })
}

/// Every pair settled anew, and the regions' timings, in one transaction (a controller
/// run's end: a vantage's lease may have begun or run out).
pub fn settle_all(
    conn: &mut DbConnection,
    vantages: &Vantages,
    now: NaiveDateTime,
) -> Result<Applied, SentryError> {
    bouncer_core::db::write_transaction::<_, SentryError, _>(conn, |conn| {
        let secs = now.and_utc().timestamp();
        let mut settled = settle(conn, vantages, None, secs, now)?;
        let live = live(conn, vantages.lease_secs, secs)?;
        let speaks_for = settle::regions_of(conn, vantages)?;
        if timing::settle(conn, &speaks_for, &live)? {
            settled.changes.push(bouncer_core::changes::Change::Network);
        }
        let generation = match settled.changes.is_empty() {
            true => None,
            false => Some(bouncer_core::changes::record(conn, &settled.changes)?),
        };
        Ok(Applied {
            settled,
            generation,
            ..Applied::default()
        })
    })
}

/// What a checked mirror's report says per (location, family), as a vantage's findings:
/// per address family when probed so (a family the mirror lacks is `inactive` for it),
/// family 0 otherwise; a mirror-wide failure is every location unhealthy. A family this
/// vantage could not use says nothing.
pub fn findings(report: &MirrorReport, locs: &[Loc]) -> Vec<Finding> {
    let finding = |loc: &Loc, family: i16, class: Class, reason: String| Finding {
        location_id: loc.id,
        mirror_id: report.mirror_id,
        family,
        class: class.into(),
        reason,
        connect_us: None,
        ttfb_us: None,
    };
    let families: Vec<i16> = match report.per_family {
        false => vec![0],
        true if report.wide.is_some() => Family::ALL.iter().map(|f| f.number()).collect(),
        true => report
            .families
            .iter()
            .filter(|c| c.result.has_verdict())
            .map(|c| c.family.number())
            .collect(),
    };
    if let Some(wide) = &report.wide {
        let why = wide.to_string();
        return locs
            .iter()
            .flat_map(|l| families.iter().map(move |f| (l, *f)))
            .map(|(l, f)| finding(l, f, Class::Unhealthy, why.clone()))
            .collect();
    }
    let mut out = Vec::new();
    for (i, outcome) in &report.results {
        let Some(loc) = locs.get(*i) else { continue };
        if !report.per_family {
            out.push(finding(loc, 0, outcome.class, outcome.reason.to_string()));
            continue;
        }
        for f in Family::ALL {
            if !families.contains(&f.number()) {
                continue;
            }
            if let Some((class, why)) = report.family_outcome(f, *i) {
                out.push(finding(loc, f.number(), class, why.to_string()));
            }
        }
    }
    timing::attach(report, &mut out);
    out
}
