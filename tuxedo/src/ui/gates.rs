//! The UI of gated alias flips: the form on the aliases page, cancel, and the progress
//! panels (chart, ETA) on the aliases and uptake pages.

use super::caller::{csrf_forms, Form};
use super::catalogue::AliasForm;
use super::flow::done;
use crate::caller::Catalogue as W;
use crate::catalogue::gates::{self, GateForm, GateView};
use crate::catalogue::uptake::Cdn;
use crate::error::{Result, TuxedoError};
use actix_web::HttpResponse;
use bouncer_core::db::DbConnection;
use minijinja::{context, Value};
use serde::Deserialize;

/// Width and height of a progress chart, in SVG user units.
const CHART: (f64, f64) = (320.0, 90.0);

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct GateFields {
    csrf: String,
    alias: String,
    related_product: String,
    uptake_percent: String,
    os: String,
    /// `YYYY-MM-DD` (the start of that day, UTC) or blank.
    deadline: String,
    on_deadline: String,
}

/// `POST /ui/aliases/gate`: stores a gated flip (checked at once).
pub async fn set(f: Form<W, GateFields>) -> HttpResponse {
    let cdn = Cdn::of(&f.state().config);
    f.act("/ui/aliases".into(), move |c, who, f| {
        let form = form(&f)?;
        let (alias, product) = (&f.alias, &f.related_product);
        let d = gates::set(c, cdn.as_ref(), &who.username, alias, product, &form)?;
        Ok(done(match d.gate {
            Some(g) => format!(
                "{} will point at {} once every location is at {} % (now {:.1} %).",
                d.alias, g.related_product, g.uptake_percent, g.progress.uptake_percent
            ),
            None => format!(
                "{} already met its condition and now points at {}.",
                d.alias,
                d.related_product.unwrap_or_default()
            ),
        }))
    })
    .await
}

/// `POST /ui/aliases/gate/cancel`.
/// The form names the alias as the alias forms do.
pub async fn cancel(f: Form<W, AliasForm>) -> HttpResponse {
    f.act("/ui/aliases".into(), |c, who, f| {
        gates::cancel(c, &who.username, &f.alias)?;
        let alias = f.alias.trim();
        Ok(done(format!("The gated flip of {alias} is cancelled.")))
    })
    .await
}

csrf_forms!(GateFields);

/// The pending gates as the pages show them.
pub(super) fn panels(conn: &mut DbConnection, cdn: Option<&Cdn>) -> Result<Vec<Value>> {
    Ok(gates::pending(conn, cdn)?
        .into_iter()
        .map(|(alias, g)| panel(alias, &g))
        .collect())
}

fn panel(alias: String, g: &GateView) -> Value {
    let when = |t: &chrono::NaiveDateTime| t.format("%Y-%m-%d %H:%M UTC").to_string();
    context! {
        alias,
        product => g.related_product,
        threshold => g.uptake_percent,
        os => g.os,
        now => format!("{:.1}", g.progress.uptake_percent),
        low => g.progress.uptake_percent < f64::from(g.uptake_percent),
        eta => g.eta.as_ref().map(when),
        deadline => g.deadline.as_ref().map(when),
        on_deadline => g.on_deadline,
        locations => g.progress.locations.iter().map(|l| context! {
            os => l.os, percent => format!("{:.1}", l.percent),
        }).collect::<Vec<_>>(),
        points => points(g),
        threshold_y => format!("{:.1}", y(f64::from(g.uptake_percent))),
        width => CHART.0,
        height => CHART.1,
    }
}

/// The samples as an SVG polyline (time left to right, 0–100 % bottom to top), ending at
/// the current value.
fn points(g: &GateView) -> String {
    let mut pts: Vec<(chrono::NaiveDateTime, f64)> =
        g.samples.iter().map(|s| (s.at, s.uptake_percent)).collect();
    let now = chrono::Utc::now().naive_utc();
    pts.push((
        now.max(pts.last().map_or(now, |p| p.0)),
        g.progress.uptake_percent,
    ));
    let start = pts.first().map_or(now, |p| p.0).min(g.created_at);
    let span = ((pts.last().map_or(now, |p| p.0) - start).num_milliseconds() as f64).max(1.0);
    pts.iter()
        .map(|(t, v)| {
            let x = (*t - start).num_milliseconds() as f64 / span * CHART.0;
            format!("{x:.1},{:.1}", y(*v))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn y(percent: f64) -> f64 {
    CHART.1 - percent.clamp(0.0, 100.0) / 100.0 * CHART.1
}

fn form(f: &GateFields) -> Result<GateForm> {
    let uptake_percent = f.uptake_percent.trim().parse().map_err(|_| {
        TuxedoError::invalid(
            "uptake_percent",
            format!("{:?} is not a whole number", f.uptake_percent),
        )
    })?;
    let deadline = super::flow::date_field("deadline", &f.deadline)?.map(|d| d.and_utc());
    let blank = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    Ok(GateForm {
        uptake_percent,
        os: blank(&f.os),
        deadline,
        on_deadline: blank(&f.on_deadline),
    })
}
