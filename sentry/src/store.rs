//! sentry's database side: what a run covers, and the batched, transactional write of its
//! results (map rows, one log row per mirror, hysteresis state, flapping cuts, audit rows,
//! and a generation bump when bounce's view changed).

use crate::check::{Loc, MirrorReport, Target};
use crate::health::{self, MirrorState, Policy, RowState, State, Transition};
use crate::probe::{Class, Reason};
use crate::{RunOptions, SentryError};
use bouncer_core::changes::Change;
use bouncer_core::db::DbConnection;
use bouncer_core::models::{MirrorHealth, NewAuditEntry, SentryLog};
use bouncer_core::schema::{
    bouncer_audit_log, bouncer_mirror_health, mirror_locations, mirror_mirrors, mirror_products,
    sentry_log,
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
    for l in locs {
        let key = bouncer_core::files::lang_key(&l.path, lang);
        l.expected_size = known
            .get(&l.id)
            .filter(|m| m.lang == key)
            .and_then(|m| u64::try_from(m.size?).ok());
    }
    Ok(())
}

/// Records what the reference origins said of each file (where the operator did not say),
/// in one transaction with an audit row per file learned; returns the changes for bounce.
pub fn learn_files(
    conn: &mut DbConnection,
    reports: &[MirrorReport],
    locs: &[Loc],
    lang: &str,
    now: NaiveDateTime,
) -> Result<Option<i64>, SentryError> {
    bouncer_core::db::write_transaction::<_, SentryError, _>(conn, |conn| {
        let mut changes = Vec::new();
        for report in reports {
            for (i, seen) in &report.observed {
                let Some(loc) = locs.get(*i) else { continue };
                let key = bouncer_core::files::lang_key(&loc.path, lang);
                if bouncer_core::files::learn(conn, loc.id, key, seen)? {
                    let after = json!({"size": seen.size, "etag": seen.etag, "last_modified": seen.last_modified, "from_mirror": report.mirror_id});
                    let target = format!("location {} ({key})", loc.id);
                    audit(conn, "file.learn", &target, json!(null), after, now)?;
                    changes.push(Change::Location(loc.id));
                }
            }
        }
        if changes.is_empty() {
            return Ok(None);
        }
        Ok(Some(bouncer_core::changes::record(conn, &changes)?))
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
    let mut changes = write_map_rows(conn, policy, report, locs)?;
    let mirror = Change::Mirror(report.mirror_id);
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
    let prev_row: Option<MirrorHealth> = bouncer_mirror_health::table
        .find(report.mirror_id)
        .first(conn)
        .optional()?;
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

/// Applies the row-level hysteresis to the map; returns the locations whose rows bounce
/// reads changed.
/// A mirror-wide failure only touches existing rows; probed pairs get a row if missing.
fn write_map_rows(
    conn: &mut DbConnection,
    policy: &Policy,
    report: &MirrorReport,
    locs: &[Loc],
) -> Result<Vec<Change>, SentryError> {
    use bouncer_core::schema::mirror_location_mirror_map::dsl as m;
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
    let results: Vec<(i32, Class, bool, &Reason)> = if let Some(why) = &report.wide {
        locs.iter()
            .filter(|l| existing.contains_key(&l.id))
            .map(|l| (l.id, Class::Unhealthy, false, why))
            .collect()
    } else {
        report
            .results
            .iter()
            .filter_map(|(i, o)| {
                let corrupt = matches!(o.reason, Reason::ContentMismatch(..));
                locs.get(*i).map(|l| (l.id, o.class, corrupt, &o.reason))
            })
            .collect()
    };
    let mut changed = Vec::new();
    for (location_id, class, corrupt, why) in results {
        let prev = existing.get(&location_id);
        // Bytes that differ from the reference are no blip: out of service at once.
        let next = match corrupt {
            true => health::row_down(policy),
            false => health::row_step(policy, prev.map(|(_, s)| *s), class),
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
                diesel::insert_into(m::mirror_location_mirror_map)
                    .values((
                        m::location_id.eq(location_id),
                        m::mirror_id.eq(report.mirror_id),
                        values,
                        m::reason.eq(reason),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(changed)
}

/// What the map row says of why the pair is out: `''` while served, else the probe's
/// reason, within the column's width.
fn pair_reason(next: &RowState, why: &Reason) -> String {
    match next.served() {
        true => String::new(),
        false => why
            .to_string()
            .chars()
            .take(bouncer_core::limits::PAIR_REASON)
            .collect(),
    }
}

fn audit(
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
