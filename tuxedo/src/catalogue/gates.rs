//! Gated alias flips as the interfaces see them: set one, read an alias with its pending
//! gate and progress, cancel. The gate itself (progress, carrying it out exactly once)
//! lives in `bouncer_core::gates`, shared with sentry.

use super::aliases::{drop_gate, target};
use super::{valid_name, write_tx, Tail};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::gates::{self, Gate, NewGate, Outcome, Progress, Sample};
use bouncer_core::uptake::Cdn;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The condition of a gated flip, as callers send it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateForm {
    /// Uptake every location of the product must reach, 1–100 (percent, by rating).
    pub uptake_percent: i32,
    /// Only the product's locations on this OS count.
    pub os: Option<String>,
    /// When to stop waiting (RFC 3339).
    pub deadline: Option<DateTime<Utc>>,
    /// At the deadline: `flip` anyway or `give_up` (the default).
    pub on_deadline: Option<String>,
}

/// The OS `os` names, when `product` has a location on it: a gate counting only the
/// locations on an OS the product is not on could never be met.
fn located_on(conn: &mut DbConnection, product: &str, os: &str) -> Result<String> {
    use bouncer_core::schema::mirror_locations as l;
    let os = super::oses::named(conn, os)?;
    let product_id = super::products::lookup(conn, super::products::ProductRef::Name(product))?.id;
    let located: i64 = l::table
        .filter(l::product_id.eq(product_id))
        .filter(l::os_id.eq(os.id))
        .count()
        .get_result(conn)?;
    match located {
        0 => Err(TuxedoError::invalid(
            "os",
            format!(
                "{product} has no location on {}: the gate could never be met",
                os.name
            ),
        )),
        _ => Ok(os.name),
    }
}

/// An alias with its pending gate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AliasDetail {
    pub alias: String,
    /// The product it points at now (`None`: the alias does not exist yet).
    pub related_product: Option<String>,
    pub gate: Option<GateView>,
}

/// A pending gate with its progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateView {
    pub related_product: String,
    pub uptake_percent: i32,
    pub os: Option<String>,
    #[serde(serialize_with = "bouncer_core::utc::serialize_option")]
    pub deadline: Option<NaiveDateTime>,
    pub on_deadline: String,
    pub created_by: String,
    #[serde(serialize_with = "bouncer_core::utc::serialize")]
    pub created_at: NaiveDateTime,
    pub progress: Progress,
    /// The worst location's uptake each time it changed, oldest first.
    pub samples: Vec<Sample>,
    /// When the threshold is reached at the recent rate; `None` while uptake is not rising.
    #[serde(serialize_with = "bouncer_core::utc::serialize_option")]
    pub eta: Option<NaiveDateTime>,
}

/// Stores a gated flip of `alias` to `related_product` (replacing a pending one), then
/// checks it at once: a condition already met flips now. Returns the alias as it is then.
pub fn set(
    conn: &mut DbConnection,
    cdn: Option<&Cdn>,
    actor: &str,
    alias: &str,
    related_product: &str,
    form: &GateForm,
) -> Result<AliasDetail> {
    let alias = valid_name("alias", alias, bouncer_core::limits::ALIAS)?;
    let related = valid_name(
        "related_product",
        related_product,
        super::products::MAX_NAME,
    )?;
    if !(1..=100).contains(&form.uptake_percent) {
        return Err(TuxedoError::invalid(
            "uptake_percent",
            "must be between 1 and 100",
        ));
    }
    let now = Utc::now();
    super::valid_future("deadline", form.deadline.map(|d| d.naive_utc()))?;
    let on_deadline = form.on_deadline.as_deref().unwrap_or("give_up");
    if !gates::ON_DEADLINE.contains(&on_deadline) {
        return Err(TuxedoError::invalid(
            "on_deadline",
            "must be flip or give_up",
        ));
    }
    let os = form
        .os
        .as_deref()
        .map(|o| valid_name("os", o, bouncer_core::limits::OS_NAME))
        .transpose()?;
    let gate = write_tx(conn, |conn| {
        bouncer_core::name_space::lock(conn)?;
        let product = target(conn, alias, related)?;
        let os = match os {
            Some(o) => Some(located_on(conn, &product, o)?),
            None => None,
        };
        let stored_alias = bouncer_core::aliases::named(conn, alias)?
            .map_or_else(|| alias.to_owned(), |a| a.alias);
        let gate = gates::replace(
            conn,
            &NewGate {
                alias: stored_alias,
                product,
                os,
                uptake_percent: form.uptake_percent,
                deadline: form.deadline.map(|d| d.naive_utc()),
                on_deadline: on_deadline.to_owned(),
                created_by: actor.to_owned(),
                created_at: now.naive_utc(),
            },
        )?;
        Tail::new(actor, "alias.gate.set", format!("alias:{}", gate.alias))
            .after(json!({
                "alias": gate.alias, "related_product": gate.product, "os": gate.os,
                "uptake_percent": gate.uptake_percent,
                "deadline": gate.deadline.as_ref().map(bouncer_core::utc::rfc3339),
                "on_deadline": gate.on_deadline,
            }))
            .record(conn)?;
        Ok(gate)
    })?;
    // The gate is stored (and acknowledged) whatever happens next: a failed first check
    // is the checkers' to repeat, not the caller's error.
    if let Err(e) = check(conn, cdn, &gate, actor) {
        tracing::warn!(alias = gate.alias, error = %e, "first check of a new gate failed");
    }
    detail(conn, cdn, &gate.alias)
}

/// Checks `gate` now, as `actor` (carrying it out when due).
pub fn check(
    conn: &mut DbConnection,
    cdn: Option<&Cdn>,
    gate: &Gate,
    actor: &str,
) -> Result<Outcome> {
    Ok(gates::check(
        conn,
        cdn,
        gate,
        actor,
        Utc::now().naive_utc(),
    )?)
}

/// The alias and its pending gate; 404 when there is neither.
pub fn detail(conn: &mut DbConnection, cdn: Option<&Cdn>, alias: &str) -> Result<AliasDetail> {
    let alias = valid_name("alias", alias, bouncer_core::limits::ALIAS)?;
    let row = bouncer_core::aliases::named(conn, alias)?;
    let gate = gates::of(conn, alias)?;
    if row.is_none() && gate.is_none() {
        return Err(TuxedoError::NotFound {
            kind: "alias",
            key: alias.to_owned(),
        });
    }
    let name = row
        .as_ref()
        .map(|a| a.alias.clone())
        .or_else(|| gate.as_ref().map(|g| g.alias.clone()))
        .unwrap_or_default();
    Ok(AliasDetail {
        alias: name,
        related_product: row.map(|a| a.related_product),
        gate: gate.map(|g| view(conn, cdn, g)).transpose()?,
    })
}

/// Every pending gate with its progress, by alias.
pub fn pending(conn: &mut DbConnection, cdn: Option<&Cdn>) -> Result<Vec<(String, GateView)>> {
    gates::all(conn)?
        .into_iter()
        .map(|g| Ok((g.alias.clone(), view(conn, cdn, g)?)))
        .collect()
}

/// Cancels the pending gate of `alias`; 404 when there is none.
pub fn cancel(conn: &mut DbConnection, actor: &str, alias: &str) -> Result<()> {
    let alias = valid_name("alias", alias, bouncer_core::limits::ALIAS)?;
    write_tx(conn, |conn| {
        match drop_gate(conn, actor, alias, "cancelled")? {
            true => Ok(()),
            false => Err(TuxedoError::NotFound {
                kind: "gate of alias",
                key: alias.to_owned(),
            }),
        }
    })
}

fn view(conn: &mut DbConnection, cdn: Option<&Cdn>, g: Gate) -> Result<GateView> {
    let progress = gates::progress(conn, cdn, &g)?;
    let samples = gates::samples_of(conn, &g)?;
    let eta = gates::eta(&samples, g.uptake_percent);
    Ok(GateView {
        related_product: g.product,
        uptake_percent: g.uptake_percent,
        os: g.os,
        deadline: g.deadline,
        on_deadline: g.on_deadline,
        created_by: g.created_by,
        created_at: g.created_at,
        progress,
        samples,
        eta,
    })
}
