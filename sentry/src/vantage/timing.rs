//! Proximity from measurements (issue 32): each vantage's timings of each mirror, smoothed
//! (EWMA), and per region the nearest live vantage's, which bounce weighs candidates by
//! (`bounce.proximity`). A round's timing rides on one finding per (mirror, family), so a
//! round counts once however its findings are split into requests.

use super::Finding;
use crate::check::MirrorReport;
use crate::SentryError;
use bouncer_core::db::DbConnection;
use bouncer_core::schema::{bouncer_region_rtt as rr, bouncer_vantage_rtt as vr};
use diesel::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The weight of a new sample in the average (α = 0.3, in tenths).
const ALPHA_TENTHS: i64 = 3;

/// A region's timing moves bounce's weights only past this relative change (percent), so
/// the jitter of each run does not reload every bounce.
const MOVED_PERCENT: i64 = 10;

/// Below this many samples a region's figure counts as moved whenever its count changes
/// (bounce trusts a figure from `bounce.proximity_min_samples`, at most this).
pub const EARLY_SAMPLES: i32 = 10;

/// Puts the report's timing of each lane on the first finding of its (mirror, family).
pub fn attach(report: &MirrorReport, found: &mut [Finding]) {
    let mut done = BTreeSet::new();
    for f in found.iter_mut() {
        if done.contains(&f.family) {
            continue;
        }
        let lane = report.timings.iter().find(|t| match t.family {
            Some(fam) => fam.number() == f.family,
            None => f.family == 0,
        });
        // A mirror with one family reports family 0 over that family's lane.
        let lane = lane
            .or_else(|| (f.family == 0 && report.timings.len() == 1).then(|| &report.timings[0]));
        if let Some(t) = lane {
            f.connect_us = Some(t.connect_us);
            f.ttfb_us = t.ttfb_us;
            done.insert(f.family);
        }
    }
}

/// One smoothing step: the sample's weight is α.
fn ewma(old: i32, sample: u32) -> i32 {
    let (old, sample) = (i64::from(old), i64::from(sample));
    let next = old + (sample - old) * ALPHA_TENTHS / 10;
    i32::try_from(next.max(0)).unwrap_or(i32::MAX)
}

/// Folds the timings of `findings` into `vantage`'s averages.
pub fn record(
    conn: &mut DbConnection,
    vantage: &str,
    findings: &[Finding],
) -> Result<(), SentryError> {
    let samples: BTreeMap<(i32, i16), (u32, u32)> = findings
        .iter()
        .filter_map(|f| Some(((f.mirror_id, f.family), (f.connect_us?, f.ttfb_us?))))
        .collect();
    if samples.is_empty() {
        return Ok(());
    }
    let mirrors: Vec<i32> = samples
        .keys()
        .map(|k| k.0)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut before: HashMap<(i32, i16), (i32, i32, i32)> = HashMap::new();
    for chunk in mirrors.chunks(500) {
        let rows = vr::table
            .filter(vr::vantage.eq(vantage))
            .filter(vr::mirror_id.eq_any(chunk))
            .select((
                vr::mirror_id,
                vr::family,
                vr::connect_us,
                vr::ttfb_us,
                vr::samples,
            ))
            .load::<(i32, i16, i32, i32, i32)>(conn)?;
        before.extend(rows.into_iter().map(|(m, f, c, t, n)| ((m, f), (c, t, n))));
    }
    let known: BTreeSet<i32> = bouncer_core::schema::mirror_mirrors::table
        .filter(bouncer_core::schema::mirror_mirrors::id.eq_any(&mirrors))
        .select(bouncer_core::schema::mirror_mirrors::id)
        .load::<i32>(conn)?
        .into_iter()
        .collect();
    for ((mirror, family), (connect, ttfb)) in samples {
        if !known.contains(&mirror) {
            continue;
        }
        match before.get(&(mirror, family)) {
            Some((c, t, n)) => {
                diesel::update(vr::table.find((mirror, family, vantage)))
                    .set((
                        vr::connect_us.eq(ewma(*c, connect)),
                        vr::ttfb_us.eq(ewma(*t, ttfb)),
                        vr::samples.eq(n.saturating_add(1).min(1_000_000)),
                    ))
                    .execute(conn)?;
            }
            None => {
                let clamp = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
                diesel::insert_into(vr::table)
                    .values((
                        vr::mirror_id.eq(mirror),
                        vr::family.eq(family),
                        vr::vantage.eq(vantage),
                        vr::connect_us.eq(clamp(connect)),
                        vr::ttfb_us.eq(clamp(ttfb)),
                        vr::samples.eq(1),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// A region's expectation of a mirror: (ttfb µs, samples).
type Expect = (i32, i32);

/// The regions' timings from the live vantages: per (region, mirror, family) the nearest
/// vantage's. Writes what moved past [`MOVED_PERCENT`] (or appeared, or is gone); returns
/// whether anything did (bounce then reloads its regions).
pub fn settle(
    conn: &mut DbConnection,
    speaks_for: &HashMap<String, Vec<i32>>,
    live: &BTreeSet<String>,
) -> Result<bool, SentryError> {
    let mut want: BTreeMap<(i32, i32, i16), Expect> = BTreeMap::new();
    let rows = vr::table
        .select((
            vr::mirror_id,
            vr::family,
            vr::vantage,
            vr::ttfb_us,
            vr::samples,
        ))
        .load::<(i32, i16, String, i32, i32)>(conn)?;
    for (mirror, family, vantage, ttfb, samples) in rows {
        if !live.contains(&vantage) {
            continue;
        }
        for region in speaks_for.get(&vantage).into_iter().flatten() {
            let e = want
                .entry((*region, mirror, family))
                .or_insert((ttfb, samples));
            if ttfb < e.0 {
                *e = (ttfb, samples);
            }
        }
    }
    let have: BTreeMap<(i32, i32, i16), Expect> = rr::table
        .select((
            rr::region_id,
            rr::mirror_id,
            rr::family,
            rr::ttfb_us,
            rr::samples,
        ))
        .load::<(i32, i32, i16, i32, i32)>(conn)?
        .into_iter()
        .map(|(r, m, f, t, n)| ((r, m, f), (t, n)))
        .collect();
    let mut moved = false;
    for (key, (ttfb, samples)) in &want {
        let (region, mirror, family) = *key;
        match have.get(key) {
            Some((t, n)) if !far(*t, *ttfb) => {
                if n != samples {
                    diesel::update(rr::table.find((region, mirror, family)))
                        .set(rr::samples.eq(samples))
                        .execute(conn)?;
                    // Early samples decide whether bounce trusts the figure at all.
                    moved |= *n < EARLY_SAMPLES;
                }
            }
            Some(_) => {
                diesel::update(rr::table.find((region, mirror, family)))
                    .set((rr::ttfb_us.eq(ttfb), rr::samples.eq(samples)))
                    .execute(conn)?;
                moved = true;
            }
            None => {
                diesel::insert_into(rr::table)
                    .values((
                        rr::region_id.eq(region),
                        rr::mirror_id.eq(mirror),
                        rr::family.eq(family),
                        rr::ttfb_us.eq(ttfb),
                        rr::samples.eq(samples),
                    ))
                    .execute(conn)?;
                moved = true;
            }
        }
    }
    for key in have.keys().filter(|k| !want.contains_key(k)) {
        diesel::delete(rr::table.find(*key)).execute(conn)?;
        moved = true;
    }
    Ok(moved)
}

/// Whether `new` is more than [`MOVED_PERCENT`] away from `old`.
fn far(old: i32, new: i32) -> bool {
    let (old, new) = (i64::from(old), i64::from(new));
    (new - old).abs() * 100 > old.max(1) * MOVED_PERCENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_moves_a_third_of_the_way_and_jitter_is_not_a_move() {
        assert_eq!(ewma(10_000, 20_000), 13_000);
        assert_eq!(ewma(10_000, 0), 7_000);
        assert!(!far(10_000, 10_900) && far(10_000, 11_100) && far(10_000, 8_000));
    }
}
