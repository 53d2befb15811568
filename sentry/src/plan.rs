//! What one mirror's results do to its map and family rows, decided without a database
//! ([`plan`]): the row-level hysteresis per pair and per address family, the rows to
//! insert and update, the change records for bounce and the family audit. `store` reads
//! the rows before and writes the [`Plan`].

use crate::health::{self, Policy, RowState};
use crate::probe::{Class, Reason};
use crate::report::{FamilyWhy, Loc, MirrorReport};
use bouncer_core::changes::Change;
use bouncer_core::networks::{Families, Family};
use diesel::prelude::Insertable;
use serde_json::{json, Value};
use std::collections::HashMap;

/// A mirror's rows before its batch.
#[derive(Debug, Default, Clone)]
pub struct Rows {
    /// Map rows by location: `(row id, state)`.
    pub map: HashMap<i32, (i64, RowState)>,
    /// Family rows by location: the row of each family (by [`Family::index`]), if any.
    pub families: HashMap<i32, [Option<RowState>; 2]>,
    /// `bouncer_mirror_health.families` before and after the batch (`None`: every family).
    pub masks: (Option<i16>, Option<i16>),
}

/// What writing one mirror's results does to its rows.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Every family row of the mirror goes, first (the pairs go by the map), and why.
    pub drop_families: Option<DropFamilies>,
    pub family_updates: Vec<FamilyUpdate>,
    pub map_updates: Vec<MapUpdate>,
    /// Rows to insert (a first run writes one per pair and family).
    pub map_inserts: Vec<NewMapRow>,
    pub family_inserts: Vec<NewFamilyRow>,
    /// Locations whose rows bounce reads changed (sorted, once each).
    pub changes: Vec<Change>,
    /// Families that started or stopped serving, in [`Family::ALL`] order.
    pub audits: Vec<FamilyAudit>,
}

/// Why a mirror's family rows are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropFamilies {
    /// The mirror has one address family: the map rows are its health.
    OneFamily(Family),
    /// Not every family has a verdict this run (or it was not probed per family).
    NotEveryFamily,
}

/// A map row's new state; its reason only when its health changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapUpdate {
    pub id: i64,
    pub next: RowState,
    pub reason: Option<String>,
}

/// A family row's new state; its reason only when what it serves changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyUpdate {
    pub location_id: i32,
    pub family: Family,
    pub next: RowState,
    pub reason: Option<String>,
}

/// A family of the mirror that started (`up`) or stopped serving: a `mirror.family_up`
/// or `mirror.family_down` audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyAudit {
    pub family: Family,
    pub up: bool,
    pub reason: String,
    pub before: Value,
    pub after: Value,
}

impl FamilyAudit {
    pub fn action(&self) -> &'static str {
        if self.up {
            "mirror.family_up"
        } else {
            "mirror.family_down"
        }
    }
}

/// A map row to insert (a probed pair that had none).
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = bouncer_core::schema::mirror_location_mirror_map)]
pub struct NewMapRow {
    pub location_id: i32,
    pub mirror_id: i32,
    pub active: bool,
    pub healthy: bool,
    pub fail_streak: i32,
    pub ok_streak: i32,
    pub reason: String,
}

/// A family row to insert.
#[derive(Debug, Clone, PartialEq, Eq, Insertable)]
#[diesel(table_name = bouncer_core::schema::bouncer_family_health)]
pub struct NewFamilyRow {
    pub location_id: i32,
    pub mirror_id: i32,
    pub family: i16,
    pub healthy: bool,
    pub fail_streak: i32,
    pub ok_streak: i32,
    pub reason: String,
}

/// Applies the row-level hysteresis to the map and, per address family, to the pairs'
/// family rows. A mirror-wide failure touches no row: the mirror's own state carries it.
/// Probed pairs get a row if missing.
pub fn plan(policy: &Policy, report: &MirrorReport, locs: &[Loc], rows: &Rows) -> Plan {
    let mut plan = Plan::default();
    if report.wide.is_some() {
        return plan;
    }
    let per_family = report.writes_family_rows();
    let single = report.single_family();
    let map_before = (!rows.map.is_empty()).then(|| rows.map.values().any(|(_, s)| s.served()));
    let mut states = FamilyStates::new(&rows.families, map_before, rows.masks);
    if !per_family && !rows.families.is_empty() {
        // One family (the map rows are its health), no verdict for some family, or not
        // probed per family: the pairs go by what the map says, rather than keep rows
        // nobody checked.
        plan.drop_families =
            Some(single.map_or(DropFamilies::NotEveryFamily, DropFamilies::OneFamily));
        plan.changes
            .extend(rows.families.keys().map(|loc| Change::Location(*loc)));
        states.after = [(0, 0); 2];
    }
    // Whether each map row serves after the batch (for the family audit).
    let mut map_served: HashMap<i32, bool> = rows
        .map
        .iter()
        .map(|(loc, (_, s))| (*loc, s.served()))
        .collect();
    for (index, o) in &report.results {
        let Some(loc) = locs.get(*index) else {
            continue;
        };
        let pair = Pair {
            location_id: loc.id,
            index: *index,
            class: o.class,
            corrupt: matches!(o.reason, Reason::ContentMismatch(..)),
            why: &o.reason,
        };
        let family_next = match per_family {
            true => plan.family_rows(policy, report, rows, &pair, &mut states),
            false => [None; 2],
        };
        let next = plan.map_row(policy, report.mirror_id, rows, &pair, &family_next);
        map_served.insert(pair.location_id, next.served());
    }
    if per_family || single.is_some() {
        states.map_served_after = map_served.values().filter(|s| **s).count();
        plan.audits = family_audits(report, locs, &states);
    }
    plan.changes.sort();
    plan.changes.dedup();
    plan
}

/// One probed pair of the report.
struct Pair<'r> {
    location_id: i32,
    /// Into the run's locations.
    index: usize,
    /// Combined over the families.
    class: Class,
    /// Bytes that differ from the reference origin's.
    corrupt: bool,
    why: &'r Reason,
}

impl Plan {
    /// Steps the pair's family rows; returns each family's new state (`None`: no verdict).
    fn family_rows(
        &mut self,
        policy: &Policy,
        report: &MirrorReport,
        rows: &Rows,
        pair: &Pair<'_>,
        states: &mut FamilyStates,
    ) -> [Option<RowState>; 2] {
        let prev = rows.map.get(&pair.location_id).map(|(_, s)| *s);
        let mut family_next = [None; 2];
        for f in Family::ALL {
            let before = rows
                .families
                .get(&pair.location_id)
                .and_then(|r| r[f.index()]);
            // A pair without family rows yet (an existing database) served either family
            // as its map row says: that is where each family's hysteresis starts, so a
            // first per-family run is no blip.
            let basis = before.or(prev);
            let (next, why) = match report.family_outcome(f, pair.index) {
                // Bytes that differ from the reference: out at once.
                Some((_, FamilyWhy::Probe(_))) if pair.corrupt => {
                    (health::row_down(policy), FamilyWhy::Probe(pair.why))
                }
                Some((class, fwhy)) => (health::row_step(policy, basis, class), fwhy),
                None => continue,
            };
            let row = FamilyStep {
                mirror_id: report.mirror_id,
                location_id: pair.location_id,
                family: f,
                before,
                basis,
                next,
            };
            if self.family_row(&row, &why) {
                self.changes.push(Change::Location(pair.location_id));
            }
            family_next[f.index()] = Some(next);
            states.step(f, before, next);
        }
        family_next
    }

    /// Writes the family row if it changed (the reason only when its health did, as for
    /// the map); `true` when what bounce reads changed (served or not over the family).
    fn family_row(&mut self, row: &FamilyStep, why: &FamilyWhy<'_>) -> bool {
        let next = row.next;
        // Only built when written: most rows do not change.
        let reason = || match next.served() {
            true => String::new(),
            false => truncate_reason(&why.to_string()),
        };
        let update = |reason| FamilyUpdate {
            location_id: row.location_id,
            family: row.family,
            next,
            reason,
        };
        match row.before {
            Some(b) if b == next => false,
            Some(b) if (b.served(), b.active) == (next.served(), next.active) => {
                self.family_updates.push(update(None));
                false
            }
            // Only `healthy` is read by bounce; a row turning from inactive to unhealthy
            // (or back) gets its new reason all the same.
            Some(b) => {
                self.family_updates.push(update(Some(reason())));
                b.served() != next.served()
            }
            None => {
                self.family_inserts.push(NewFamilyRow {
                    location_id: row.location_id,
                    mirror_id: row.mirror_id,
                    family: row.family.number(),
                    healthy: next.healthy,
                    fail_streak: next.fail_streak,
                    ok_streak: next.ok_streak,
                    reason: reason(),
                });
                row.basis.is_none_or(|b| b.served() != next.served())
            }
        }
    }

    /// Steps the pair's map row; returns its new state.
    fn map_row(
        &mut self,
        policy: &Policy,
        mirror_id: i32,
        rows: &Rows,
        pair: &Pair<'_>,
        family_next: &[Option<RowState>; 2],
    ) -> RowState {
        let prev = rows.map.get(&pair.location_id);
        // With family rows the map is the best of them ("healthy over some family", what
        // older readers see); without, its own hysteresis as before.
        let next = match best_family(family_next) {
            Some(best) => best,
            // Bytes that differ from the reference are no blip: out of service at once.
            None if pair.corrupt => health::row_down(policy),
            None => health::row_step(policy, prev.map(|(_, s)| *s), pair.class),
        };
        // The reason is the one of the run that changed the pair's health (kept while it
        // stays so, cleared when it serves): no extra write, no extra change, per run.
        let reason = pair_reason(&next, pair.why);
        match prev {
            Some((_, s)) if *s == next => {}
            Some((id, s)) if (s.active, s.healthy) == (next.active, next.healthy) => {
                self.map_updates.push(MapUpdate {
                    id: *id,
                    next,
                    reason: None,
                });
            }
            Some((id, _)) => {
                self.changes.push(Change::Location(pair.location_id));
                self.map_updates.push(MapUpdate {
                    id: *id,
                    next,
                    reason: Some(reason),
                });
            }
            None => {
                self.changes.push(Change::Location(pair.location_id));
                self.map_inserts.push(NewMapRow {
                    location_id: pair.location_id,
                    mirror_id,
                    active: next.active,
                    healthy: next.healthy,
                    fail_streak: next.fail_streak,
                    ok_streak: next.ok_streak,
                    reason,
                });
            }
        }
        next
    }
}

/// A family row's state as a [`RowState`]. The table has no `active` column: an inactive
/// row (the file is not there over that family, or the mirror has no address of it) is
/// the one not healthy and without a streak, which is how [`health::row_step`] leaves it.
pub fn family_state(healthy: bool, fail_streak: i32, ok_streak: i32) -> RowState {
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

/// One family row's step: what it was (`before`, `None` when the pair had no row for
/// the family), where its hysteresis started (`basis`: the map row for a pair without
/// family rows) and what it is now.
struct FamilyStep {
    mirror_id: i32,
    location_id: i32,
    family: Family,
    before: Option<RowState>,
    basis: Option<RowState>,
    next: RowState,
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

/// Each family of the mirror that started or stopped serving (some location of the
/// mirror served over it, or none), for `mirror.family_down` / `mirror.family_up`. A
/// family without rows serves wherever the map does, if the host has it.
fn family_audits(report: &MirrorReport, locs: &[Loc], states: &FamilyStates) -> Vec<FamilyAudit> {
    let mut audits = Vec::new();
    for f in Family::ALL {
        let Some((up_before, up_after, served)) = states.up(f) else {
            continue;
        };
        if up_before == up_after {
            continue;
        }
        let (rows_before, n_before) = states.before[f.index()];
        let state = |up: bool| if up { "up" } else { "down" };
        let reason = truncate_reason(&match &report.wide {
            Some(w) => w.to_string(),
            None => report.family_summary(f, locs),
        });
        let before = json!({"family": f.number(), "state": state(up_before), "served_locations": if rows_before > 0 { Some(n_before) } else { None }});
        let after = json!({"family": f.number(), "state": state(up_after), "served_locations": served, "reason": reason});
        audits.push(FamilyAudit {
            family: f,
            up: up_after,
            reason,
            before,
            after,
        });
    }
    audits
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::Outcome;

    const POLICY: Policy = Policy {
        failures_to_down: 2,
        successes_to_up: 2,
        ramp_runs: 0,
    };

    fn locs(n: i32) -> Vec<Loc> {
        (1..=n)
            .map(|id| Loc {
                id,
                path: format!("/f{id}"),
                expected_size: None,
                learned: false,
            })
            .collect()
    }

    /// A report of mirror 7, one result per location (by index).
    fn report(classes: &[Class]) -> MirrorReport {
        let now = chrono::Utc::now().naive_utc();
        let outcome = |class: &Class| Outcome {
            class: *class,
            reason: match class {
                Class::Healthy => Reason::Ok,
                Class::Inactive => Reason::Status(404),
                Class::Unhealthy => Reason::Status(500),
            },
        };
        MirrorReport {
            mirror_id: 7,
            started: now,
            finished: now,
            wide: None,
            results: classes.iter().map(outcome).enumerate().collect(),
            deadline_hit: false,
            observed: Vec::new(),
            sampled: None,
            per_family: false,
            families: Vec::new(),
            timings: Vec::new(),
        }
    }

    fn state(active: bool, healthy: bool, fail_streak: i32, ok_streak: i32) -> RowState {
        RowState {
            active,
            healthy,
            fail_streak,
            ok_streak,
        }
    }

    /// Map rows of locations 1.. (row id 100 + location).
    fn stored(states: &[RowState]) -> Rows {
        Rows {
            map: (1..)
                .zip(states)
                .map(|(loc, s)| (loc, (100 + i64::from(loc), *s)))
                .collect(),
            ..Rows::default()
        }
    }

    fn update(id: i64, next: RowState, reason: Option<&str>) -> MapUpdate {
        MapUpdate {
            id,
            next,
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn map_hysteresis() {
        let served = state(true, true, 0, 0);
        let http500 = Reason::Status(500).to_string();
        // (row before, this run, update, whether bounce's view changed)
        let cases = [
            // Unchanged: nothing to write.
            (served, Class::Healthy, None, false),
            // One failure of failures_to_down = 2: still served, the streak counts.
            (
                served,
                Class::Unhealthy,
                Some(update(101, state(true, true, 1, 0), None)),
                false,
            ),
            // The second: out, with the run's reason.
            (
                state(true, true, 1, 0),
                Class::Unhealthy,
                Some(update(101, state(true, false, 2, 0), Some(&http500))),
                true,
            ),
            // Down: one success of successes_to_up = 2 is not enough.
            (
                state(true, false, 2, 0),
                Class::Healthy,
                Some(update(101, state(true, false, 0, 1), None)),
                false,
            ),
            // The second: back in service, the reason cleared.
            (
                state(true, false, 0, 1),
                Class::Healthy,
                Some(update(101, served, Some(""))),
                true,
            ),
            // The file is gone: out at once.
            (
                served,
                Class::Inactive,
                Some(update(
                    101,
                    state(false, false, 0, 0),
                    Some(&Reason::Status(404).to_string()),
                )),
                true,
            ),
        ];
        for (before, class, want, changed) in cases {
            let p = plan(&POLICY, &report(&[class]), &locs(1), &stored(&[before]));
            assert_eq!(p.map_updates, Vec::from_iter(want), "{before:?} {class:?}");
            assert_eq!(p.changes.is_empty(), !changed, "{before:?} {class:?}");
            assert!(p.map_inserts.is_empty() && p.family_updates.is_empty());
            assert!(p.audits.is_empty() && p.drop_families.is_none());
        }
    }

    #[test]
    fn new_pairs_are_inserted_as_found() {
        let classes = [Class::Healthy, Class::Unhealthy, Class::Inactive];
        let p = plan(&POLICY, &report(&classes), &locs(3), &Rows::default());
        let rows: Vec<_> = p
            .map_inserts
            .iter()
            .map(|r| {
                (
                    r.location_id,
                    r.mirror_id,
                    r.active,
                    r.healthy,
                    r.fail_streak,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (1, 7, true, true, 0),
                (2, 7, true, false, 1),
                (3, 7, false, false, 0)
            ]
        );
        assert_eq!(p.map_inserts[1].reason, Reason::Status(500).to_string());
        assert_eq!(p.map_inserts[0].reason, "");
        assert_eq!(p.changes, (1..=3).map(Change::Location).collect::<Vec<_>>());
    }

    #[test]
    fn a_mirror_wide_failure_plans_nothing() {
        let mut r = report(&[Class::Unhealthy]);
        r.wide = Some(Reason::Timeout);
        let p = plan(&POLICY, &r, &locs(1), &stored(&[state(true, true, 0, 0)]));
        assert_eq!(p, Plan::default());
    }

    #[test]
    fn family_rows_go_when_not_probed_per_family() {
        let mut rows = stored(&[state(true, true, 0, 0)]);
        rows.families.insert(
            1,
            [
                Some(family_state(true, 0, 0)),
                Some(family_state(false, 2, 0)),
            ],
        );
        let p = plan(&POLICY, &report(&[Class::Healthy]), &locs(1), &rows);
        assert_eq!(p.drop_families, Some(DropFamilies::NotEveryFamily));
        assert_eq!(p.changes, [Change::Location(1)]);
        assert!(p.map_updates.is_empty());
    }

    #[test]
    fn family_hysteresis_starts_from_the_map_and_audits_a_family_going_down() {
        use crate::report::{FamilyCheck, FamilyResult};
        let mut r = report(&[Class::Healthy]);
        r.per_family = true;
        r.families = vec![
            FamilyCheck {
                family: Family::V4,
                result: FamilyResult::Probed(Some(r.results.clone())),
            },
            FamilyCheck {
                family: Family::V6,
                result: FamilyResult::Wide(Reason::Timeout),
            },
        ];
        let served = state(true, true, 0, 0);
        // A first per-family run: each family starts where the map row is; no blip.
        let first = plan(&POLICY, &r, &locs(1), &stored(&[served]));
        let rows: Vec<_> = first
            .family_inserts
            .iter()
            .map(|f| (f.family, f.healthy, f.fail_streak))
            .collect();
        assert_eq!(rows, [(4, true, 0), (6, true, 1)]);
        assert!(first.changes.is_empty() && first.map_updates.is_empty());
        assert!(first.audits.is_empty());
        // The next: v6 fails again and goes out (failures_to_down = 2); v4 keeps the
        // map served, and the family's audit says v6 is down.
        let mut rows = stored(&[served]);
        rows.families.insert(
            1,
            [
                Some(family_state(true, 0, 0)),
                Some(family_state(true, 1, 0)),
            ],
        );
        let second = plan(&POLICY, &r, &locs(1), &rows);
        assert_eq!(second.changes, [Change::Location(1)]);
        assert_eq!(second.family_updates.len(), 1);
        let u = &second.family_updates[0];
        assert_eq!((u.family, u.next), (Family::V6, state(true, false, 2, 0)));
        assert!(u.reason.as_deref().is_some_and(|r| !r.is_empty()));
        assert!(second.map_updates.is_empty() && second.family_inserts.is_empty());
        let audits: Vec<_> = second
            .audits
            .iter()
            .map(|a| (a.family, a.action()))
            .collect();
        assert_eq!(audits, [(Family::V6, "mirror.family_down")]);
    }
}
