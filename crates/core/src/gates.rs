//! Gated alias flips: "point `firefox-latest` at `Firefox-131.0` once the release is really
//! out there". A gate waits until the uptake of every location of its product (on one OS,
//! if given) is at least its threshold, then flips the alias; at its deadline (if any) it
//! flips anyway or gives up, as its operator chose. Gates live in the database, so any
//! process can carry one out and restarts lose nothing: tuxedo's checker and sentry after
//! each run both call [`check_all`]. Exactly once: the flip deletes the gate's row and
//! points the alias in one transaction, and only the caller whose delete took the row
//! flips.

use crate::changes;
use crate::db::{self, DbConnection};
use crate::schema::{
    bouncer_alias_gate_samples as samples, bouncer_alias_gates as gates, mirror_locations,
    mirror_os, mirror_products,
};
use crate::uptake::{self, Cdn};
use crate::Result;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

/// What happens at the deadline.
pub const ON_DEADLINE: [&str; 2] = ["flip", "give_up"];

/// The most samples a gate keeps (the newest). A sample is stored each time the progress
/// moves, and a flapping mirror moves it back and forth for as long as the gate waits
/// (a gate without a deadline waits for ever): without a bound the rows, and every read
/// of the alias, would grow with each check. The ETA needs only the last ten; the rest
/// is history for the operator.
pub const MAX_SAMPLES: usize = 100;

/// A pending gate as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = gates)]
pub struct Gate {
    pub id: i32,
    pub alias: String,
    pub product: String,
    pub os: Option<String>,
    pub uptake_percent: i32,
    pub deadline: Option<NaiveDateTime>,
    pub on_deadline: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// A new gate (validated by the caller: names resolved, threshold 1–100, deadline future).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = gates)]
pub struct NewGate {
    pub alias: String,
    pub product: String,
    pub os: Option<String>,
    pub uptake_percent: i32,
    pub deadline: Option<NaiveDateTime>,
    pub on_deadline: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// How far a gate is: the worst location's uptake, and each location's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    /// The lowest uptake over the gate's locations, in percent (0 with no locations).
    pub uptake_percent: f64,
    pub locations: Vec<LocationUptake>,
    /// Whether every location is at or above the threshold (and there is one).
    pub met: bool,
}

/// One location of a gate's product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationUptake {
    pub os: String,
    pub available: i64,
    pub total: i64,
    pub percent: f64,
}

/// One stored sample of a gate's progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    #[serde(serialize_with = "crate::utc::serialize")]
    pub at: NaiveDateTime,
    pub uptake_percent: f64,
}

/// What [`check`] did with one gate.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Still waiting, at this progress.
    Pending(Progress),
    /// The alias now points at the product (`deadline`: the deadline forced it).
    Flipped { deadline: bool, generation: i64 },
    /// The deadline passed (or the product is gone) and the gate was dropped.
    GaveUp { reason: String },
    /// Another process carried it out (or it was cancelled) meanwhile.
    Gone,
}

/// The pending gate of `alias`, if any.
pub fn of(conn: &mut DbConnection, alias: &str) -> Result<Option<Gate>> {
    Ok(gates::table
        .filter(gates::alias.eq(alias))
        .select(Gate::as_select())
        .load(conn)?
        .into_iter()
        .find(|g| crate::names::same(&g.alias, alias)))
}

/// Every pending gate, by alias.
pub fn all(conn: &mut DbConnection) -> Result<Vec<Gate>> {
    Ok(gates::table
        .select(Gate::as_select())
        .order(gates::alias)
        .load(conn)?)
}

/// Stores `gate` in place of any pending gate of its alias; call inside the writing
/// transaction (the caller audits). Returns the stored gate.
pub fn replace(conn: &mut DbConnection, gate: &NewGate) -> Result<Gate> {
    if let Some(old) = of(conn, &gate.alias)? {
        diesel::delete(gates::table.find(old.id)).execute(conn)?;
    }
    diesel::insert_into(gates::table)
        .values(gate)
        .execute(conn)?;
    of(conn, &gate.alias)?.ok_or_else(|| crate::CoreError::Query(diesel::result::Error::NotFound))
}

/// Drops the pending gate of `alias` (cancelled, or overridden by a direct set); call inside
/// the writing transaction. Returns the dropped gate.
pub fn remove(conn: &mut DbConnection, alias: &str) -> Result<Option<Gate>> {
    let gate = of(conn, alias)?;
    if let Some(g) = &gate {
        diesel::delete(gates::table.find(g.id)).execute(conn)?;
    }
    Ok(gate)
}

/// The gate's progress now.
pub fn progress(conn: &mut DbConnection, cdn: Option<&Cdn>, gate: &Gate) -> Result<Progress> {
    let mut q = mirror_locations::table
        .inner_join(mirror_products::table)
        .inner_join(mirror_os::table)
        .filter(mirror_products::name.eq(&gate.product))
        .select((
            mirror_locations::id,
            mirror_products::ssl_only,
            mirror_os::name,
            mirror_products::name,
        ))
        .order(mirror_os::id)
        .into_boxed();
    if let Some(os) = &gate.os {
        q = q.filter(mirror_os::name.eq(os));
    }
    let rows: Vec<(i32, bool, String, String)> = q
        .load(conn)?
        .into_iter()
        .filter(|r: &(i32, bool, String, String)| {
            crate::names::same(&r.3, &gate.product)
                && gate
                    .os
                    .as_deref()
                    .is_none_or(|o| crate::names::same(&r.2, o))
        })
        .collect();
    let keys: Vec<(i32, bool)> = rows.iter().map(|r| (r.0, r.1)).collect();
    let capacity = uptake::capacity(conn, cdn, &keys)?;
    let locations: Vec<LocationUptake> = rows
        .into_iter()
        .map(|(id, _, os, _)| {
            let c = capacity.get(&id).copied().unwrap_or_default();
            LocationUptake {
                os,
                available: c.available,
                total: c.total,
                percent: c.percent(),
            }
        })
        .collect();
    let worst = locations
        .iter()
        .map(|l| l.percent)
        .fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.min(p))))
        .unwrap_or(0.0);
    let met = !locations.is_empty()
        && locations
            .iter()
            .all(|l| l.available * 100 >= i64::from(gate.uptake_percent) * l.total && l.total > 0);
    Ok(Progress {
        uptake_percent: worst,
        locations,
        met,
    })
}

/// The stored samples of a gate, oldest first: the newest [`MAX_SAMPLES`].
pub fn samples_of(conn: &mut DbConnection, gate: &Gate) -> Result<Vec<Sample>> {
    let rows: Vec<(NaiveDateTime, i32)> = samples::table
        .filter(samples::gate_id.eq(gate.id))
        .order((samples::at.desc(), samples::id.desc()))
        .select((samples::at, samples::permyriad))
        .limit(MAX_SAMPLES as i64)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .rev()
        .map(|(at, p)| Sample {
            at,
            uptake_percent: f64::from(p) / 100.0,
        })
        .collect())
}

/// When the threshold will be reached at the rate of the recent samples; `None` when
/// uptake is not rising (or there are fewer than two samples).
pub fn eta(samples: &[Sample], threshold: i32) -> Option<NaiveDateTime> {
    let recent = &samples[samples.len().saturating_sub(10)..];
    let (first, last) = (recent.first()?, recent.last()?);
    let secs = (last.at - first.at).num_milliseconds() as f64 / 1000.0;
    let rise = last.uptake_percent - first.uptake_percent;
    if secs <= 0.0 || rise <= 0.0 {
        return None;
    }
    let left = f64::from(threshold) - last.uptake_percent;
    if left <= 0.0 {
        return Some(last.at);
    }
    let ms = (left / (rise / secs) * 1000.0).min(1e13) as i64;
    Some(last.at + chrono::Duration::milliseconds(ms))
}

/// Checks one gate at `now` and carries it out when due, as `actor`. A sample is stored
/// when the progress moved since the last one.
pub fn check(
    conn: &mut DbConnection,
    cdn: Option<&Cdn>,
    gate: &Gate,
    actor: &str,
    now: NaiveDateTime,
) -> Result<Outcome> {
    let progress = progress(conn, cdn, gate)?;
    let deadline = gate.deadline.is_some_and(|d| now >= d);
    db::write_transaction(conn, |conn| {
        // A flip creates or moves a name: first, so the checks below see every product
        // committed before it (see `name_space`).
        crate::name_space::lock(conn)?;
        let Some(current) = gates::table
            .find(gate.id)
            .select(Gate::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(Outcome::Gone);
        };
        if !progress.met && !deadline {
            sample(conn, &current, &progress, now)?;
            return Ok(Outcome::Pending(progress.clone()));
        }
        // Exactly once: only the caller whose delete takes the row goes on.
        if diesel::delete(gates::table.find(current.id)).execute(conn)? != 1 {
            return Ok(Outcome::Gone);
        }
        let view = json!({
            "alias": current.alias, "product": current.product, "os": current.os,
            "uptake_percent": current.uptake_percent, "reached": progress.uptake_percent,
        });
        let target = format!("alias:{}", current.alias);
        let product = mirror_products::table
            .select(mirror_products::name)
            .filter(mirror_products::name.eq(&current.product))
            .load::<String>(conn)?
            .into_iter()
            .find(|p| crate::names::same(p, &current.product));
        let flip = progress.met || current.on_deadline == "flip";
        // A product created under the alias's name since the gate was set (by a path that
        // did not know of the gate) would shadow the alias: never flip into that.
        let shadowed = crate::name_space::product_named(conn, &current.alias)?;
        let (Some(product), true, None) = (product, flip, &shadowed) else {
            let reason = match (flip, &shadowed) {
                (true, Some(_)) => "a product has the alias's name",
                (true, None) => "the product no longer exists",
                (false, _) => "the deadline passed below the threshold",
            };
            crate::audit::record(
                conn,
                actor,
                "alias.gate.give_up",
                &target,
                Some(view),
                Some(json!({"reason": reason})),
            )?;
            return Ok(Outcome::GaveUp {
                reason: reason.into(),
            });
        };
        let pointed = crate::aliases::point(conn, &current.alias, &product)?;
        let generation = changes::record(conn, &[pointed.change()])?;
        let action = match progress.met {
            true => "alias.gate.flip",
            false => "alias.gate.flip_at_deadline",
        };
        crate::audit::record(
            conn,
            actor,
            action,
            &format!("alias:{}", pointed.alias),
            Some(json!({"alias": pointed.alias, "related_product": pointed.before, "gate": view})),
            Some(json!({"alias": pointed.alias, "related_product": product})),
        )?;
        Ok(Outcome::Flipped {
            deadline: !progress.met,
            generation,
        })
    })
}

/// Checks every pending gate (see [`check`]); the first error stops the round.
pub fn check_all(
    conn: &mut DbConnection,
    cdn: Option<&Cdn>,
    actor: &str,
    now: NaiveDateTime,
) -> Result<Vec<(Gate, Outcome)>> {
    let mut out = Vec::new();
    for gate in all(conn)? {
        let outcome = db::classify::retrying(
            || check(conn, cdn, &gate, actor, now),
            |e: &crate::CoreError| matches!(e, crate::CoreError::Query(q) if db::classify::is_transient(q)),
        )?;
        out.push((gate, outcome));
    }
    Ok(out)
}

/// Stores a sample unless the last one has the same value, keeping the newest
/// [`MAX_SAMPLES`].
fn sample(conn: &mut DbConnection, gate: &Gate, p: &Progress, now: NaiveDateTime) -> Result<()> {
    let value = (p.uptake_percent * 100.0).round() as i32;
    let last: Option<i32> = samples::table
        .filter(samples::gate_id.eq(gate.id))
        .order((samples::at.desc(), samples::id.desc()))
        .select(samples::permyriad)
        .first(conn)
        .optional()?;
    if last == Some(value) {
        return Ok(());
    }
    diesel::insert_into(samples::table)
        .values((
            samples::gate_id.eq(gate.id),
            samples::at.eq(now),
            samples::permyriad.eq(value),
        ))
        .execute(conn)?;
    // Past the bound: the oldest go (normally the one before the newest hundred).
    let older: Vec<i64> = samples::table
        .filter(samples::gate_id.eq(gate.id))
        .order((samples::at.desc(), samples::id.desc()))
        .select(samples::id)
        .offset(MAX_SAMPLES as i64)
        .limit(1000)
        .load(conn)?;
    if !older.is_empty() {
        diesel::delete(samples::table.filter(samples::id.eq_any(&older))).execute(conn)?;
    }
    Ok(())
}
