//! sentry's database side: what a run covers, and the batched, transactional write of its
//! results (map rows, one log row per mirror, hysteresis state, flapping cuts, audit rows,
//! and a generation bump when bounce's view changed).

use crate::check::{Loc, MirrorReport, Target};
use crate::health::{self, MirrorState, Policy, RowState, State, Transition};
use crate::learning;
use crate::plan::{self, NewFamilyRow, NewMapRow};
use crate::{RunOptions, SentryError};
use bouncer_core::changes::Change;
use bouncer_core::db::{insert_many, DbConnection};
use bouncer_core::models::{MirrorHealth, SentryLog};
use bouncer_core::networks::Family;
use bouncer_core::schema::{
    bouncer_mirror_health, mirror_locations, mirror_mirrors, mirror_products, sentry_log,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;
use std::collections::HashMap;

/// The mirrors and locations one run covers.
pub fn load_scope(
    conn: &mut DbConnection,
    opts: &RunOptions,
    probe_lang: &str,
) -> Result<(Vec<Target>, Vec<Loc>), SentryError> {
    let mirrors: Vec<(i32, String, String)> = mirror_mirrors::table
        .filter(mirror_mirrors::active.eq(true))
        .select((
            mirror_mirrors::id,
            mirror_mirrors::name,
            mirror_mirrors::baseurl,
        ))
        .order(mirror_mirrors::id)
        .load(conn)?;
    let references = bouncer_core::files::reference_mirrors(conn)?;
    let targets = mirrors
        .into_iter()
        .map(|(id, name, baseurl)| Target {
            reference: references.contains(&id),
            id,
            name,
            baseurl,
        })
        .collect();
    let targets = select_mirrors(targets, opts.mirror.as_deref())?;
    let mut q = mirror_locations::table
        .inner_join(mirror_products::table)
        .filter(mirror_products::active.eq(true))
        .select((mirror_locations::id, mirror_locations::path))
        .order(mirror_locations::id)
        .into_boxed();
    if opts.checknow && !opts.checkall {
        q = q.filter(mirror_products::checknow.eq(true));
    }
    let mut locs: Vec<Loc> = q
        .load::<(i32, String)>(conn)?
        .into_iter()
        .map(|(id, path)| Loc {
            id,
            path,
            expected_size: None,
            learned: false,
        })
        .collect();
    expect_sizes(conn, &mut locs, probe_lang)?;
    Ok((targets, locs))
}

/// Sets each location's expected size from what is known of its probed file.
pub fn expect_sizes(
    conn: &mut DbConnection,
    locs: &mut [Loc],
    lang: &str,
) -> Result<(), SentryError> {
    let known = bouncer_core::files::for_probe(conn, lang)?;
    let disputed: std::collections::HashSet<(i32, String)> =
        bouncer_core::files::disputed(conn)?.into_iter().collect();
    for l in locs {
        let key = bouncer_core::files::lang_key(&l.path, lang);
        // A disputed learned size is not enforced (see `learning::disputed`).
        let file = known
            .get(&l.id)
            .filter(|m| m.lang == key)
            .filter(|m| !disputed.contains(&(l.id, m.lang.clone())));
        l.expected_size = file.and_then(|m| u64::try_from(m.size?).ok());
        l.learned = file.is_some_and(|m| m.source == bouncer_core::files::REFERENCE);
    }
    Ok(())
}

/// What [`learn_files`] wrote.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Learning {
    /// The generation of the change, when bounce's view changed.
    pub generation: Option<i64>,
    pub learned: usize,
    pub forgotten: usize,
}

/// Learns what the reference origins said of each file (where the operator did not say)
/// and forgets what sources that are gone taught ([`learning::plan`]), in one transaction
/// with an audit row per file and a change record per location. `cdn`: whether a pinned
/// CDN is configured (a source when no mirror is flagged).
pub fn learn_files(
    conn: &mut DbConnection,
    reports: &[MirrorReport],
    locs: &[Loc],
    lang: &str,
    cdn: bool,
    now: NaiveDateTime,
) -> Result<Learning, SentryError> {
    use bouncer_core::files;
    bouncer_core::db::write_transaction::<_, SentryError, _>(conn, |conn| {
        let flagged = files::reference_mirrors(conn)?;
        let active: Vec<i32> = mirror_mirrors::table
            .filter(mirror_mirrors::id.eq_any(&flagged))
            .filter(mirror_mirrors::active.eq(true))
            .select(mirror_mirrors::id)
            .order(mirror_mirrors::id)
            .load(conn)?;
        let sources = learning::sources(active, cdn);
        let rows = files::learned(conn)?;
        let seen: Vec<learning::Seen<'_>> = reports
            .iter()
            .flat_map(|r| r.observed.iter().map(move |(i, o)| (r.mirror_id, *i, o)))
            .filter_map(|(from, i, observed)| {
                let loc = locs.get(i)?;
                Some(learning::Seen {
                    location_id: loc.id,
                    lang: files::lang_key(&loc.path, lang),
                    from,
                    observed,
                })
            })
            .collect();
        let mut changes = Vec::new();
        let mut done = Learning::default();
        for step in learning::plan(&rows, &sources, &seen) {
            match step {
                learning::Step::Learn(s) => {
                    let o = s.observed;
                    if files::learn(conn, s.location_id, s.lang, o, s.from)? {
                        let after = json!({"size": o.size, "etag": o.etag, "last_modified": o.last_modified, "from_mirror": s.from});
                        let target = format!("location {} ({})", s.location_id, s.lang);
                        audit(conn, "file.learn", &target, json!(null), after, now)?;
                        changes.push(Change::Location(s.location_id));
                        done.learned += 1;
                    }
                }
                learning::Step::Forget(r) => {
                    if files::remove(conn, r.location_id, &r.lang)?.is_none() {
                        continue;
                    }
                    let why = match r.from {
                        None => {
                            "learned from an unrecorded source that no current reference confirms"
                                .to_owned()
                        }
                        Some(files::FROM_CDN) => {
                            "the pinned CDN is no longer the reference origin".to_owned()
                        }
                        Some(id) => format!("mirror {id} is no longer an active reference origin"),
                    };
                    let target = format!("location {} ({})", r.location_id, r.lang);
                    let before = json!({"size": r.size, "from_mirror": r.from});
                    let after = json!({"reason": why});
                    audit(conn, "file.forget", &target, before, after, now)?;
                    tracing::info!(location = r.location_id, lang = %r.lang, from = ?r.from, reason = %why, "learned file metadata forgotten");
                    changes.push(Change::Location(r.location_id));
                    done.forgotten += 1;
                }
            }
        }
        changes.sort();
        changes.dedup();
        if !changes.is_empty() {
            done.generation = Some(bouncer_core::changes::record(conn, &changes)?);
        }
        Ok(done)
    })
}

/// Marks learned sizes most mirrors contradicted as not enforced (`(location, lang,
/// why)`), in one transaction with an audit row (`file.disputed`) and a WARN each;
/// returns how many were marked. bounce reads nothing of it: no change record.
pub fn record_disputes(
    conn: &mut DbConnection,
    disputes: &[(i32, String, String)],
    now: NaiveDateTime,
) -> Result<usize, SentryError> {
    bouncer_core::db::write_transaction::<_, SentryError, _>(conn, |conn| {
        let mut marked = 0;
        for (location_id, lang, why) in disputes {
            if bouncer_core::files::dispute(conn, *location_id, lang, why)? {
                let target = format!("location {location_id} ({lang})");
                audit(
                    conn,
                    "file.disputed",
                    &target,
                    json!(null),
                    json!({"reason": why}),
                    now,
                )?;
                tracing::warn!(location = location_id, lang = %lang, reason = %why, "learned file size disputed by the mirrors; not enforced");
                marked += 1;
            }
        }
        Ok(marked)
    })
}

/// `--mirror`: an id, an exact name (case-insensitive), or a substring of exactly one
/// active mirror's name or base URL. Matched in memory, so user input never meets `LIKE`.
pub fn select_mirrors(all: Vec<Target>, filter: Option<&str>) -> Result<Vec<Target>, SentryError> {
    let Some(f) = filter.map(str::trim) else {
        return Ok(all);
    };
    let none = || SentryError::NoSuchMirror(f.to_owned());
    if let Ok(id) = f.parse::<i32>() {
        let found: Vec<_> = all.into_iter().filter(|t| t.id == id).collect();
        return if found.is_empty() {
            Err(none())
        } else {
            Ok(found)
        };
    }
    let needle = f.to_lowercase();
    if let Some(exact) = all.iter().find(|t| t.name.to_lowercase() == needle) {
        return Ok(vec![exact.clone()]);
    }
    let found: Vec<_> = all
        .into_iter()
        .filter(|t| {
            t.name.to_lowercase().contains(&needle) || t.baseurl.to_lowercase().contains(&needle)
        })
        .collect();
    match found.len() {
        0 => Err(none()),
        1 => Ok(found),
        _ => Err(SentryError::AmbiguousMirror {
            filter: f.to_owned(),
            names: found.into_iter().map(|t| t.name).collect(),
        }),
    }
}

/// What writing a batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchEffect {
    /// Something bounce reads changed (and the generation was bumped).
    pub catalogue_changed: bool,
    pub generation: Option<i64>,
    /// What changed for bounce (recorded in the change log under `generation`).
    pub changes: Vec<Change>,
    /// Health state of each written mirror after the batch.
    pub states: Vec<State>,
}

/// Writes a batch of reports in one transaction.
pub fn write_batch(
    conn: &mut DbConnection,
    policy: &Policy,
    reports: &[MirrorReport],
    locs: &[Loc],
    now: NaiveDateTime,
) -> Result<BatchEffect, SentryError> {
    bouncer_core::db::write_transaction::<_, SentryError, _>(conn, |conn| {
        let mut effect = BatchEffect::default();
        for report in reports {
            if let Some((changes, state)) = write_report(conn, policy, report, locs, now)? {
                effect.changes.extend(changes);
                effect.states.push(state);
            }
        }
        effect.changes.sort();
        effect.changes.dedup();
        if !effect.changes.is_empty() {
            effect.catalogue_changed = true;
            effect.generation = Some(bouncer_core::changes::record(conn, &effect.changes)?);
        }
        Ok(effect)
    })
}

type MapRow = (i64, i32, bool, bool, i32, i32);

/// One mirror's results and what they changed for bounce; `None` when the mirror was
/// deleted during the run.
fn write_report(
    conn: &mut DbConnection,
    policy: &Policy,
    report: &MirrorReport,
    locs: &[Loc],
    now: NaiveDateTime,
) -> Result<Option<(Vec<Change>, State)>, SentryError> {
    let Some((name, rating)) = mirror_mirrors::table
        .find(report.mirror_id)
        .select((mirror_mirrors::name, mirror_mirrors::rating))
        .first::<(String, i32)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let prev_row: Option<MirrorHealth> = bouncer_mirror_health::table
        .find(report.mirror_id)
        .first(conn)
        .optional()?;
    // The host's families: what this run found, else what is stored.
    let families_before = prev_row.as_ref().and_then(|h| h.families);
    let families = report.stored_families(families_before);
    let masks = (families_before, families);
    let mut changes = write_map_rows(conn, policy, report, locs, &name, now, masks)?;
    let mirror = Change::Mirror(report.mirror_id);
    if families != families_before {
        // Read with the mirror (its eligibility per family), not with its pairs.
        changes.push(mirror);
    }
    let reason = report.summary(locs);
    let run_ok = report.run_ok();
    diesel::insert_into(sentry_log::table)
        .values(SentryLog {
            log_date: report.started,
            check_time: report.finished,
            mirror_id: report.mirror_id,
            mirror_active: run_ok,
            mirror_rating: rating,
            reason: reason.clone(),
        })
        .execute(conn)?;
    let written = Written {
        id: report.mirror_id,
        name: &name,
        target: format!("mirror:{name}"),
        now,
    };
    audit_sample(conn, &written, report, locs)?;
    let step = (policy, run_ok, families);
    let (next, weight_changed) = write_health(conn, &written, step, prev_row.as_ref(), reason)?;
    if weight_changed {
        changes.push(mirror);
    }
    if cut_if_flapping(conn, &written, rating)? {
        changes.push(mirror);
    }
    Ok(Some((changes, next.state)))
}

/// The mirror a report is written for.
struct Written<'a> {
    id: i32,
    name: &'a str,
    /// Its audit rows' target.
    target: String,
    now: NaiveDateTime,
}

/// Audits a sampled content check whose bytes differ from the reference origin's.
fn audit_sample(
    conn: &mut DbConnection,
    m: &Written<'_>,
    report: &MirrorReport,
    locs: &[Loc],
) -> Result<(), SentryError> {
    let Some((i, false)) = report.sampled else {
        return Ok(());
    };
    let (path, reason) = (
        locs.get(i).map(|l| l.path.as_str()),
        report.results.iter().find(|(j, _)| *j == i),
    );
    let after = json!({"path": path, "reason": reason.map(|(_, o)| o.reason.to_string())});
    let action = "file.content_mismatch";
    audit(conn, action, &m.target, json!(null), after, m.now)?;
    tracing::warn!(mirror = %m.name, path, "sampled bytes differ from the reference origin");
    Ok(())
}

/// Steps the mirror's own hysteresis (`(policy, run ok, families)`) from its health row
/// (`prev_row`) and writes the row, with an audit row on a transition; returns the new
/// state and whether its weight changed.
fn write_health(
    conn: &mut DbConnection,
    m: &Written<'_>,
    (policy, run_ok, families): (&Policy, bool, Option<i16>),
    prev_row: Option<&MirrorHealth>,
    reason: String,
) -> Result<(MirrorState, bool), SentryError> {
    let prev = prev_row.map_or_else(MirrorState::default, |h| MirrorState {
        state: State::parse(&h.state),
        weight_percent: h.weight_percent,
        fail_streak: h.fail_streak,
        ok_streak: h.ok_streak,
    });
    let (next, transition) = health::mirror_step(policy, prev, run_ok);
    let row = MirrorHealth {
        mirror_id: m.id,
        state: next.state.as_str().to_owned(),
        weight_percent: next.weight_percent,
        fail_streak: next.fail_streak,
        ok_streak: next.ok_streak,
        last_checked_at: Some(m.now),
        last_reason: reason.clone(),
        changed_at: match (prev_row, transition) {
            (Some(p), None) => p.changed_at,
            _ => m.now,
        },
        families,
    };
    if prev_row.is_some() {
        diesel::update(bouncer_mirror_health::table.find(m.id))
            .set(&row)
            .execute(conn)?;
    } else {
        diesel::insert_into(bouncer_mirror_health::table)
            .values(&row)
            .execute(conn)?;
    }
    if let Some(t) = transition {
        let state = |s: &MirrorState| json!({"state": s.state.as_str(), "weight_percent": s.weight_percent});
        let mut after = state(&next);
        after["reason"] = json!(reason);
        audit(conn, t.action(), &m.target, state(&prev), after, m.now)?;
        log_transition(t, m.name, &next, &reason);
    }
    Ok((next, next.weight_percent != prev.weight_percent))
}

/// Cuts the rating of a mirror whose last 4 checks alternated between up and down (the
/// one just logged included), with an audit row; `true` when it did.
fn cut_if_flapping(
    conn: &mut DbConnection,
    m: &Written<'_>,
    rating: i32,
) -> Result<bool, SentryError> {
    let last: Vec<(bool, i32)> = sentry_log::table
        .filter(sentry_log::mirror_id.eq(m.id))
        .order(sentry_log::log_date.desc())
        .select((sentry_log::mirror_active, sentry_log::mirror_rating))
        .limit(4)
        .load(conn)?;
    if !health::is_flapping(&last, rating) {
        return Ok(false);
    }
    let cut = health::cut_rating(rating);
    diesel::update(mirror_mirrors::table.find(m.id))
        .set(mirror_mirrors::rating.eq(cut))
        .execute(conn)?;
    let why = "flapping: the last 4 checks alternated between up and down";
    audit(
        conn,
        "mirror.rating_cut",
        &m.target,
        json!({"rating": rating}),
        json!({"rating": cut, "reason": why}),
        m.now,
    )?;
    tracing::warn!(mirror = %m.name, rating, cut, "{why}; rating cut by 10 %");
    Ok(true)
}

/// A family row as stored: `(location_id, family, healthy, fail_streak, ok_streak)`.
type FamilyRow = (i32, i16, bool, i32, i32);

/// Applies the row-level hysteresis to the map and, per address family, to the pairs'
/// family rows ([`plan::plan`]); returns the locations whose rows bounce reads changed.
fn write_map_rows(
    conn: &mut DbConnection,
    policy: &Policy,
    report: &MirrorReport,
    locs: &[Loc],
    name: &str,
    now: NaiveDateTime,
    masks: (Option<i16>, Option<i16>),
) -> Result<Vec<Change>, SentryError> {
    // A mirror-wide failure (DNS, the base URL) says nothing of its files: the mirror's own
    // state carries it (weight 0 once down, one `mirror:<id>` change that bounce applies
    // from memory), and its pairs keep their rows and streaks. A flapping mirror then
    // costs one change per flip, not a rewrite and a reread of every location it serves.
    if report.wide.is_some() {
        return Ok(Vec::new());
    }
    let rows = read_rows(conn, report.mirror_id, masks)?;
    let plan = plan::plan(policy, report, locs, &rows);
    apply(conn, report.mirror_id, name, &plan, now)?;
    Ok(plan.changes)
}

/// The mirror's map and family rows.
fn read_rows(
    conn: &mut DbConnection,
    mirror_id: i32,
    masks: (Option<i16>, Option<i16>),
) -> Result<plan::Rows, SentryError> {
    use bouncer_core::schema::bouncer_family_health::dsl as fh;
    use bouncer_core::schema::mirror_location_mirror_map::dsl as m;
    let map = m::mirror_location_mirror_map
        .filter(m::mirror_id.eq(mirror_id))
        .select((
            m::id,
            m::location_id,
            m::active,
            m::healthy,
            m::fail_streak,
            m::ok_streak,
        ))
        .load::<MapRow>(conn)?
        .into_iter()
        .map(|(id, loc, active, healthy, fail_streak, ok_streak)| {
            let s = RowState {
                active,
                healthy,
                fail_streak,
                ok_streak,
            };
            (loc, (id, s))
        })
        .collect();
    let mut families: HashMap<i32, [Option<RowState>; 2]> = HashMap::new();
    for (loc, family, healthy, fail, ok) in fh::bouncer_family_health
        .filter(fh::mirror_id.eq(mirror_id))
        .select((
            fh::location_id,
            fh::family,
            fh::healthy,
            fh::fail_streak,
            fh::ok_streak,
        ))
        .load::<FamilyRow>(conn)?
    {
        if let Some(f) = Family::from_number(family) {
            families.entry(loc).or_default()[f.index()] =
                Some(plan::family_state(healthy, fail, ok));
        }
    }
    Ok(plan::Rows {
        map,
        families,
        masks,
    })
}

/// Writes a [`plan::Plan`] of the mirror's rows, with its family audit rows.
fn apply(
    conn: &mut DbConnection,
    mirror_id: i32,
    name: &str,
    plan: &plan::Plan,
    now: NaiveDateTime,
) -> Result<(), SentryError> {
    use bouncer_core::schema::bouncer_family_health::dsl as fh;
    use bouncer_core::schema::mirror_location_mirror_map::dsl as m;
    if let Some(why) = plan.drop_families {
        diesel::delete(fh::bouncer_family_health.filter(fh::mirror_id.eq(mirror_id)))
            .execute(conn)?;
        match why {
            plan::DropFamilies::OneFamily(f) => {
                tracing::info!(mirror = %name, family = f.name(), "family health rows removed: the mirror has one address family")
            }
            plan::DropFamilies::NotEveryFamily => {
                tracing::info!(mirror = %name, "family health rows removed: not every family has a verdict this run")
            }
        }
    }
    for u in &plan.family_updates {
        let values = (
            fh::healthy.eq(u.next.healthy),
            fh::fail_streak.eq(u.next.fail_streak),
            fh::ok_streak.eq(u.next.ok_streak),
        );
        let row = fh::bouncer_family_health.find((mirror_id, u.location_id, u.family.number()));
        match &u.reason {
            None => diesel::update(row).set(values).execute(conn)?,
            Some(r) => diesel::update(row)
                .set((values, fh::reason.eq(r)))
                .execute(conn)?,
        };
    }
    for u in &plan.map_updates {
        let values = (
            m::active.eq(u.next.active),
            m::healthy.eq(u.next.healthy),
            m::fail_streak.eq(u.next.fail_streak),
            m::ok_streak.eq(u.next.ok_streak),
        );
        let row = m::mirror_location_mirror_map.find(u.id);
        match &u.reason {
            None => diesel::update(row).set(values).execute(conn)?,
            Some(r) => diesel::update(row)
                .set((values, m::reason.eq(r)))
                .execute(conn)?,
        };
    }
    insert_rows(conn, &plan.map_inserts, &plan.family_inserts)?;
    let target = format!("mirror:{name}");
    for a in &plan.audits {
        let action = a.action();
        audit(
            conn,
            action,
            &target,
            a.before.clone(),
            a.after.clone(),
            now,
        )?;
        tracing::info!(mirror = %name, family = a.family.name(), action, reason = a.reason.as_str(), "mirror family health changed");
    }
    Ok(())
}

/// New map and family rows in a few multi-row statements.
fn insert_rows(
    conn: &mut DbConnection,
    pairs: &[NewMapRow],
    families: &[NewFamilyRow],
) -> Result<(), SentryError> {
    use bouncer_core::schema::{bouncer_family_health, mirror_location_mirror_map};
    insert_many::<NewMapRow, _>(conn, mirror_location_mirror_map::table, pairs)?;
    insert_many::<NewFamilyRow, _>(conn, bouncer_family_health::table, families)?;
    Ok(())
}

bouncer_core::many_row!(NewMapRow => "mirror_location_mirror_map", [
    location_id: Integer, mirror_id: Integer, active: Bool, healthy: Bool,
    fail_streak: Integer, ok_streak: Integer, reason: Text,
]);

bouncer_core::many_row!(NewFamilyRow => "bouncer_family_health", [
    location_id: Integer, mirror_id: Integer, family: SmallInt, healthy: Bool,
    fail_streak: Integer, ok_streak: Integer, reason: Text,
]);

/// An audit row by sentry, stamped with the batch's time.
pub(crate) fn audit(
    conn: &mut DbConnection,
    action: &str,
    target: &str,
    before: serde_json::Value,
    after: serde_json::Value,
    now: NaiveDateTime,
) -> Result<(), SentryError> {
    let (before, after) = (Some(before), Some(after));
    bouncer_core::audit::record_at(conn, now, "sentry", action, target, before, after)?;
    Ok(())
}

fn log_transition(t: Transition, name: &str, next: &MirrorState, reason: &str) {
    tracing::info!(
        mirror = %name,
        action = t.action(),
        state = next.state.as_str(),
        weight_percent = next.weight_percent,
        reason,
        "mirror health changed"
    );
}
