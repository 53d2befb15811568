//! sentry's database side: what a run covers, and the batched, transactional write of its
//! results (map rows, one log row per mirror, hysteresis state, flapping cuts, audit rows,
//! and a generation bump when bounce's view changed).

use crate::check::{FamilyWhy, Loc, MirrorReport, Target};
use crate::health::{self, MirrorState, Policy, RowState, State, Transition};
use crate::learning;
use crate::probe::{Class, Reason};
use crate::{RunOptions, SentryError};
use bouncer_core::changes::Change;
use bouncer_core::db::{insert_many, DbConnection, ManyRow};
use bouncer_core::models::{MirrorHealth, NewAuditEntry, SentryLog};
use bouncer_core::networks::{Families, Family};
use bouncer_core::schema::{
    bouncer_audit_log, bouncer_mirror_health, mirror_locations, mirror_mirrors, mirror_products,
    sentry_log,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::AstPass;
use diesel::sqlite::Sqlite;
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

    let target = format!("mirror:{name}");
    if let Some((i, false)) = report.sampled {
        let (path, reason) = (
            locs.get(i).map(|l| l.path.as_str()),
            report.results.iter().find(|(j, _)| *j == i),
        );
        let after = json!({"path": path, "reason": reason.map(|(_, o)| o.reason.to_string())});
        audit(
            conn,
            "file.content_mismatch",
            &target,
            json!(null),
            after,
            now,
        )?;
        tracing::warn!(mirror = %name, path, "sampled bytes differ from the reference origin");
    }
    let prev = prev_row
        .as_ref()
        .map_or_else(MirrorState::default, |h| MirrorState {
            state: State::parse(&h.state),
            weight_percent: h.weight_percent,
            fail_streak: h.fail_streak,
            ok_streak: h.ok_streak,
        });
    let (next, transition) = health::mirror_step(policy, prev, run_ok);
    if next.weight_percent != prev.weight_percent {
        changes.push(mirror);
    }
    let row = MirrorHealth {
        mirror_id: report.mirror_id,
        state: next.state.as_str().to_owned(),
        weight_percent: next.weight_percent,
        fail_streak: next.fail_streak,
        ok_streak: next.ok_streak,
        last_checked_at: Some(now),
        last_reason: reason.clone(),
        changed_at: match (&prev_row, transition) {
            (Some(p), None) => p.changed_at,
            _ => now,
        },
        families,
    };
    if prev_row.is_some() {
        diesel::update(bouncer_mirror_health::table.find(report.mirror_id))
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
        audit(conn, t.action(), &target, state(&prev), after, now)?;
        log_transition(t, &name, &next, &reason);
    }

    let last: Vec<(bool, i32)> = sentry_log::table
        .filter(sentry_log::mirror_id.eq(report.mirror_id))
        .order(sentry_log::log_date.desc())
        .select((sentry_log::mirror_active, sentry_log::mirror_rating))
        .limit(4)
        .load(conn)?;
    if health::is_flapping(&last, rating) {
        let cut = health::cut_rating(rating);
        diesel::update(mirror_mirrors::table.find(report.mirror_id))
            .set(mirror_mirrors::rating.eq(cut))
            .execute(conn)?;
        let why = "flapping: the last 4 checks alternated between up and down";
        audit(
            conn,
            "mirror.rating_cut",
            &target,
            json!({"rating": rating}),
            json!({"rating": cut, "reason": why}),
            now,
        )?;
        tracing::warn!(mirror = %name, rating, cut, "{why}; rating cut by 10 %");
        changes.push(mirror);
    }
    Ok(Some((changes, next.state)))
}

/// A family row as stored: `(location_id, family, healthy, fail_streak, ok_streak)`.
type FamilyRow = (i32, i16, bool, i32, i32);

/// A family row's state as a [`RowState`]. The table has no `active` column: an inactive
/// row (the file is not there over that family, or the mirror has no address of it) is
/// the one not healthy and without a streak, which is how [`health::row_step`] leaves it.
fn family_state(healthy: bool, fail_streak: i32, ok_streak: i32) -> RowState {
    RowState {
        active: healthy || fail_streak > 0 || ok_streak > 0,
        healthy,
        fail_streak,
        ok_streak,
    }
}

/// The map row of a pair with family rows: the best of them (served, then unhealthy and
/// closest to coming back, then inactive), so the map is "healthy over some family".
fn best_family(rows: &[Option<RowState>]) -> Option<RowState> {
    rows.iter().flatten().copied().min_by_key(|r| {
        let rank = match (r.served(), r.active) {
            (true, _) => 0,
            (false, true) => 1,
            (false, false) => 2,
        };
        (rank, -r.ok_streak, r.fail_streak)
    })
}

/// Applies the row-level hysteresis to the map and, per address family, to the pairs'
/// family rows; returns the locations whose rows bounce reads changed.
/// A mirror-wide failure touches no row (see below); probed pairs get a row if missing.
fn write_map_rows(
    conn: &mut DbConnection,
    policy: &Policy,
    report: &MirrorReport,
    locs: &[Loc],
    name: &str,
    now: NaiveDateTime,
    (families_before, families_after): (Option<i16>, Option<i16>),
) -> Result<Vec<Change>, SentryError> {
    use bouncer_core::schema::bouncer_family_health::dsl as fh;
    use bouncer_core::schema::mirror_location_mirror_map::dsl as m;
    // A mirror-wide failure (DNS, the base URL) says nothing of its files: the mirror's own
    // state carries it (weight 0 once down, one `mirror:<id>` change that bounce applies
    // from memory), and its pairs keep their rows and streaks. A flapping mirror then
    // costs one change per flip, not a rewrite and a reread of every location it serves.
    if report.wide.is_some() {
        return Ok(Vec::new());
    }
    let existing: HashMap<i32, (i64, RowState)> = m::mirror_location_mirror_map
        .filter(m::mirror_id.eq(report.mirror_id))
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
    // By location: the row of each family (by `Family::index`), if any.
    let mut family_rows: HashMap<i32, [Option<RowState>; 2]> = HashMap::new();
    for (loc, family, healthy, fail, ok) in fh::bouncer_family_health
        .filter(fh::mirror_id.eq(report.mirror_id))
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
            family_rows.entry(loc).or_default()[f.index()] = Some(family_state(healthy, fail, ok));
        }
    }
    let mut changed = Vec::new();
    let per_family = report.writes_family_rows();
    let single = report.single_family();
    let map_before = (!existing.is_empty()).then(|| existing.values().any(|(_, s)| s.served()));
    let mut states = FamilyStates::new(&family_rows, map_before, (families_before, families_after));
    if !per_family && !family_rows.is_empty() {
        // One family (the map rows are its health), no verdict for some family, or not
        // probed per family: the pairs go by what the map says, rather than keep rows
        // nobody checked.
        diesel::delete(fh::bouncer_family_health.filter(fh::mirror_id.eq(report.mirror_id)))
            .execute(conn)?;
        changed.extend(family_rows.keys().map(|loc| Change::Location(*loc)));
        states.after = [(0, 0); 2];
        match single {
            Some(f) => {
                tracing::info!(mirror = %name, family = f.name(), "family health rows removed: the mirror has one address family")
            }
            None => {
                tracing::info!(mirror = %name, "family health rows removed: not every family has a verdict this run")
            }
        }
    }
    // Whether each map row serves after the batch (for the family audit).
    let mut map_served: HashMap<i32, bool> = existing
        .iter()
        .map(|(loc, (_, s))| (*loc, s.served()))
        .collect();
    // (location, index into the report's results, combined class, corrupt, why).
    let results: Vec<(i32, usize, Class, bool, &Reason)> = report
        .results
        .iter()
        .filter_map(|(i, o)| {
            let corrupt = matches!(o.reason, Reason::ContentMismatch(..));
            locs.get(*i)
                .map(|l| (l.id, *i, o.class, corrupt, &o.reason))
        })
        .collect();
    // Rows to insert (map, family), in a few multi-row statements after the loop: a
    // first run writes one per pair and family.
    let (mut new_pairs, mut inserts) = (Vec::new(), Vec::new());
    for (location_id, index, class, corrupt, why) in results {
        let prev = existing.get(&location_id);
        let mut family_next = [None; 2];
        if per_family {
            for f in Family::ALL {
                let before = family_rows.get(&location_id).and_then(|r| r[f.index()]);
                // A pair without family rows yet (an existing database) served either
                // family as its map row says: that is where each family's hysteresis
                // starts, so a first per-family run is no blip.
                let basis = before.or(prev.map(|(_, s)| *s));
                let (next, why) = match report.family_outcome(f, index) {
                    // Bytes that differ from the reference: out at once.
                    Some((_, FamilyWhy::Probe(_))) if corrupt => {
                        (health::row_down(policy), FamilyWhy::Probe(why))
                    }
                    Some((class, fwhy)) => (health::row_step(policy, basis, class), fwhy),
                    None => continue,
                };
                let row = FamilyWrite {
                    mirror_id: report.mirror_id,
                    location_id,
                    family: f,
                    before,
                    basis,
                    next,
                };
                if row.write(conn, &why, &mut inserts)? {
                    changed.push(Change::Location(location_id));
                }
                family_next[f.index()] = Some(next);
                states.step(f, before, next);
            }
        }
        // With family rows the map is the best of them ("healthy over some family", what
        // older readers see); without, its own hysteresis as before.
        let next = match best_family(&family_next) {
            Some(best) => best,
            // Bytes that differ from the reference are no blip: out of service at once.
            None if corrupt => health::row_down(policy),
            None => health::row_step(policy, prev.map(|(_, s)| *s), class),
        };
        let values = (
            m::active.eq(next.active),
            m::healthy.eq(next.healthy),
            m::fail_streak.eq(next.fail_streak),
            m::ok_streak.eq(next.ok_streak),
        );
        // The reason is the one of the run that changed the pair's health (kept while it
        // stays so, cleared when it serves): no extra write, no extra change, per run.
        let reason = pair_reason(&next, why);
        map_served.insert(location_id, next.served());
        match prev {
            Some((_, s)) if *s == next => {}
            Some((id, s)) if (s.active, s.healthy) == (next.active, next.healthy) => {
                diesel::update(m::mirror_location_mirror_map.find(*id))
                    .set(values)
                    .execute(conn)?;
            }
            Some((id, _)) => {
                changed.push(Change::Location(location_id));
                diesel::update(m::mirror_location_mirror_map.find(*id))
                    .set((values, m::reason.eq(reason)))
                    .execute(conn)?;
            }
            None => {
                changed.push(Change::Location(location_id));
                new_pairs.push(NewMapRow {
                    location_id,
                    mirror_id: report.mirror_id,
                    active: next.active,
                    healthy: next.healthy,
                    fail_streak: next.fail_streak,
                    ok_streak: next.ok_streak,
                    reason,
                });
            }
        }
    }
    insert_rows(conn, &new_pairs, &inserts)?;
    if per_family || single.is_some() {
        states.map_served_after = map_served.values().filter(|s| **s).count();
        audit_families(conn, report, locs, name, now, &states)?;
    }
    Ok(changed)
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

/// A map row to insert (a probed pair that had none).
#[derive(Insertable)]
#[diesel(table_name = bouncer_core::schema::mirror_location_mirror_map)]
struct NewMapRow {
    location_id: i32,
    mirror_id: i32,
    active: bool,
    healthy: bool,
    fail_streak: i32,
    ok_streak: i32,
    reason: String,
}

impl ManyRow for NewMapRow {
    const INTO: &'static str = "mirror_location_mirror_map \
        (location_id, mirror_id, active, healthy, fail_streak, ok_streak, reason)";
    const COLUMNS: usize = 7;

    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        use diesel::sql_types::{Bool, Integer, Text};
        out.push_sql("(");
        out.push_bind_param::<Integer, _>(&self.location_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&self.mirror_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&self.active)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&self.healthy)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&self.fail_streak)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&self.ok_streak)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.reason)?;
        out.push_sql(")");
        Ok(())
    }
}

impl ManyRow for NewFamilyRow {
    const INTO: &'static str = "bouncer_family_health \
        (location_id, mirror_id, family, healthy, fail_streak, ok_streak, reason)";
    const COLUMNS: usize = 7;

    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        use diesel::sql_types::{Bool, Integer, SmallInt, Text};
        out.push_sql("(");
        out.push_bind_param::<Integer, _>(&self.location_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&self.mirror_id)?;
        out.push_sql(", ");
        out.push_bind_param::<SmallInt, _>(&self.family)?;
        out.push_sql(", ");
        out.push_bind_param::<Bool, _>(&self.healthy)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&self.fail_streak)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&self.ok_streak)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&self.reason)?;
        out.push_sql(")");
        Ok(())
    }
}

/// A family row to insert.
#[derive(Insertable)]
#[diesel(table_name = bouncer_core::schema::bouncer_family_health)]
struct NewFamilyRow {
    location_id: i32,
    mirror_id: i32,
    family: i16,
    healthy: bool,
    fail_streak: i32,
    ok_streak: i32,
    reason: String,
}

/// One family row's step: what it was (`before`, `None` when the pair had no row for
/// the family), where its hysteresis started (`basis`: the map row for a pair without
/// family rows) and what it is now.
struct FamilyWrite {
    mirror_id: i32,
    location_id: i32,
    family: Family,
    before: Option<RowState>,
    basis: Option<RowState>,
    next: RowState,
}

impl FamilyWrite {
    /// Writes the row if it changed (the reason only when its health did, as for the
    /// map; a new row is queued in `inserts`); `true` when what bounce reads changed
    /// (served or not over the family).
    fn write(
        &self,
        conn: &mut DbConnection,
        why: &FamilyWhy<'_>,
        inserts: &mut Vec<NewFamilyRow>,
    ) -> Result<bool, SentryError> {
        use bouncer_core::schema::bouncer_family_health::dsl as fh;
        let next = self.next;
        // Only built when written: most rows do not change.
        let reason = || match next.served() {
            true => String::new(),
            false => truncate_reason(&why.to_string()),
        };
        let values = (
            fh::healthy.eq(next.healthy),
            fh::fail_streak.eq(next.fail_streak),
            fh::ok_streak.eq(next.ok_streak),
        );
        let key = (self.mirror_id, self.location_id, self.family.number());
        let row = fh::bouncer_family_health.find(key);
        match self.before {
            Some(b) if b == next => Ok(false),
            Some(b) if (b.served(), b.active) == (next.served(), next.active) => {
                diesel::update(row).set(values).execute(conn)?;
                Ok(false)
            }
            // Only `healthy` is read by bounce; a row turning from inactive to unhealthy
            // (or back) gets its new reason all the same.
            Some(b) => {
                diesel::update(row)
                    .set((values, fh::reason.eq(reason())))
                    .execute(conn)?;
                Ok(b.served() != next.served())
            }
            None => {
                inserts.push(NewFamilyRow {
                    location_id: self.location_id,
                    mirror_id: self.mirror_id,
                    family: self.family.number(),
                    healthy: next.healthy,
                    fail_streak: next.fail_streak,
                    ok_streak: next.ok_streak,
                    reason: reason(),
                });
                Ok(self.basis.is_none_or(|b| b.served() != next.served()))
            }
        }
    }
}

/// Per family, how many of the mirror's family rows there are and how many serve,
/// before its batch and after, and the host's families, for the audit.
struct FamilyStates {
    /// `(rows, served)` by [`Family::index`].
    before: [(usize, usize); 2],
    after: [(usize, usize); 2],
    /// Whether some map row of the mirror served before (a family without rows served
    /// wherever the map did, if the host has it); `None`: the mirror had no map row (a
    /// new mirror, nothing to compare with).
    map_served_before: Option<bool>,
    /// Map rows serving after the batch.
    map_served_after: usize,
    /// `bouncer_mirror_health.families` before and after the batch (`None`: every family).
    families: (Option<i16>, Option<i16>),
}

impl FamilyStates {
    fn new(
        rows: &HashMap<i32, [Option<RowState>; 2]>,
        map_served_before: Option<bool>,
        families: (Option<i16>, Option<i16>),
    ) -> Self {
        let mut before = [(0, 0); 2];
        for r in rows.values() {
            for (count, s) in before
                .iter_mut()
                .zip(r)
                .filter_map(|(c, s)| Some((c, s.as_ref()?)))
            {
                count.0 += 1;
                count.1 += usize::from(s.served());
            }
        }
        Self {
            before,
            after: before,
            map_served_before,
            map_served_after: 0,
            families,
        }
    }

    /// One row of family `f` went from `before` (`None`: a new row) to `next`.
    fn step(&mut self, f: Family, before: Option<RowState>, next: RowState) {
        let (rows, served) = &mut self.after[f.index()];
        match before {
            Some(b) => *served -= usize::from(b.served()),
            None => *rows += 1,
        }
        *served += usize::from(next.served());
    }

    /// Whether family `f` served somewhere before the batch and after it, with the
    /// locations it served after; `None` when the state before is unknown, or when both
    /// come from the map alone (the mirror's own audit says that).
    fn up(&self, f: Family) -> Option<(bool, bool, usize)> {
        let ((rows_before, n_before), (rows_after, n_after)) =
            (self.before[f.index()], self.after[f.index()]);
        let has = |v| Families::stored_has(v, f);
        let (had, has_now) = (has(self.families.0), has(self.families.1));
        let up_before = match (rows_before > 0, had) {
            (true, _) => n_before > 0,
            (false, false) => false,
            (false, true) => self.map_served_before?,
        };
        let (up_after, served) = match (rows_after > 0, has_now) {
            (true, _) => (n_after > 0, n_after),
            (false, false) => (false, 0),
            (false, true) if rows_before > 0 || !had => {
                (self.map_served_after > 0, self.map_served_after)
            }
            (false, true) => return None,
        };
        Some((up_before, up_after, served))
    }
}

/// Audits each family of the mirror that started or stopped serving (some location of
/// the mirror served over it, or none), as `mirror.family_down` / `mirror.family_up`.
/// A family without rows serves wherever the map does, if the host has it.
fn audit_families(
    conn: &mut DbConnection,
    report: &MirrorReport,
    locs: &[Loc],
    name: &str,
    now: NaiveDateTime,
    states: &FamilyStates,
) -> Result<(), SentryError> {
    let target = format!("mirror:{name}");
    for f in Family::ALL {
        let Some((up_before, up_after, served)) = states.up(f) else {
            continue;
        };
        if up_before == up_after {
            continue;
        }
        let (rows_before, n_before) = states.before[f.index()];
        let state = |up: bool| if up { "up" } else { "down" };
        let action = if up_after {
            "mirror.family_up"
        } else {
            "mirror.family_down"
        };
        let reason = truncate_reason(&match &report.wide {
            Some(w) => w.to_string(),
            None => report.family_summary(f, locs),
        });
        let before_json = json!({"family": f.number(), "state": state(up_before), "served_locations": if rows_before > 0 { Some(n_before) } else { None }});
        let after_json = json!({"family": f.number(), "state": state(up_after), "served_locations": served, "reason": reason});
        audit(conn, action, &target, before_json, after_json, now)?;
        tracing::info!(mirror = %name, family = f.name(), action, reason, "mirror family health changed");
    }
    Ok(())
}

/// A reason within the reason columns' width.
fn truncate_reason(why: &str) -> String {
    why.chars()
        .take(bouncer_core::limits::PAIR_REASON)
        .collect()
}

/// What the map row says of why the pair is out: `''` while served, else the probe's
/// reason, within the column's width.
fn pair_reason(next: &RowState, why: &Reason) -> String {
    match next.served() {
        true => String::new(),
        false => truncate_reason(&why.to_string()),
    }
}

pub(crate) fn audit(
    conn: &mut DbConnection,
    action: &str,
    target: &str,
    before: serde_json::Value,
    after: serde_json::Value,
    now: NaiveDateTime,
) -> Result<(), SentryError> {
    let (before, after) = (before.to_string(), after.to_string());
    diesel::insert_into(bouncer_audit_log::table)
        .values(NewAuditEntry {
            created_at: now,
            actor: "sentry",
            action,
            target,
            before_json: Some(&before),
            after_json: Some(&after),
        })
        .execute(conn)?;
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
