//! The statistics page (`/ui/stats`; roles release, stats, admin): downloads over time per
//! product (an SVG chart, no script), the top countries, and the share each mirror
//! carried against the CDN and the fallback — the offload ratio, the figure that says
//! whether the mirror network is doing its job. The same stored counts as
//! `GET /api/v2/stats`, summed here by [`view`], a pure function of the rows.

use super::caller::Viewer;
use crate::caller::Stats as S;
use crate::error::{Result, TuxedoError};
use actix_web::{web, HttpResponse};
use bouncer_core::stats::{self, Dims, Granularity, Row};
use chrono::{Days, NaiveDate, Utc};
use minijinja::{context, Value};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Chart size in SVG user units, and the products drawn (the rest summed as "others").
const CHART: (f64, f64) = (640.0, 180.0);
const SERIES: usize = 5;
/// Countries and targets listed at most.
const TOP: usize = 10;
/// Days a page covers at most, and stored rows it reads at most (as the API's report).
const MAX_DAYS: i64 = 366;
const MAX_ROWS: i64 = 1_000_000;

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct StatsQuery {
    /// `YYYY-MM-DD`; default 30 days before `to`.
    from: String,
    /// The day after the last; default tomorrow.
    to: String,
    /// Exact product name, or blank for all.
    product: String,
    /// `user` (default), `bot` or `all`.
    agent: String,
}

/// `GET /ui/stats`.
pub async fn page(q: web::Query<StatsQuery>, v: Viewer<S>) -> HttpResponse {
    let q = q.into_inner();
    v.page("stats.html", move |c, _| {
        let (from, to) = range(&q)?;
        let day = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc()
                .timestamp()
        };
        let rows = stats::rows_at_most(c, Granularity::Day, (day(from), day(to)), MAX_ROWS + 1)?;
        if rows.len() as i64 > MAX_ROWS {
            let why = format!("more than {MAX_ROWS} stored counts in the range: narrow it");
            return Err(TuxedoError::invalid("from", why));
        }
        let agent = match q.agent.trim() {
            "" => stats::USER,
            a => a,
        };
        let product = q.product.trim();
        let kept: Vec<Row> = rows
            .into_iter()
            .filter(|r| agent == "all" || r.dims.agent == agent)
            .filter(|r| product.is_empty() || r.dims.product == product)
            .collect();
        let names = mirror_names(c)?;
        let shown = view(&kept, (day(from), day(to)), &names);
        Ok(context! {
            from => from.to_string(), to => to.to_string(), product, agent, ..shown
        })
    })
    .await
}

/// The form's range, checked.
fn range(q: &StatsQuery) -> Result<(NaiveDate, NaiveDate)> {
    let date = |field: &'static str, v: &str| -> Result<Option<NaiveDate>> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| TuxedoError::invalid(field, "a date YYYY-MM-DD"))
    };
    let to = date("to", &q.to)?.unwrap_or(Utc::now().date_naive() + Days::new(1));
    let from = date("from", &q.from)?
        .unwrap_or_else(|| to.checked_sub_days(Days::new(30)).unwrap_or(NaiveDate::MIN));
    if !(1..=MAX_DAYS).contains(&(to - from).num_days()) {
        return Err(TuxedoError::invalid(
            "to",
            format!("after from, by at most {MAX_DAYS} days"),
        ));
    }
    Ok((from, to))
}

fn mirror_names(c: &mut bouncer_core::db::DbConnection) -> Result<HashMap<String, String>> {
    use bouncer_core::schema::mirror_mirrors as m;
    use diesel::prelude::*;
    let all: Vec<(i32, String)> = m::table.select((m::id, m::name)).load(c)?;
    Ok(all.into_iter().map(|(id, n)| (id.to_string(), n)).collect())
}

/// What the page shows of `rows` (day rows in `[from, to)`, Unix seconds): the totals,
/// the chart, the countries and the targets.
pub fn view(rows: &[Row], (from, to): (i64, i64), mirrors: &HashMap<String, String>) -> Value {
    let total: u64 = rows.iter().map(|r| r.tally.downloads).sum();
    let bytes: u64 = rows.iter().map(|r| r.tally.bytes).sum();
    let by = |f: fn(&Dims) -> String| -> Vec<(String, u64)> {
        let mut sums: BTreeMap<String, u64> = BTreeMap::new();
        for r in rows {
            *sums.entry(f(&r.dims)).or_default() += r.tally.downloads;
        }
        let mut v: Vec<(String, u64)> = sums.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    };
    let share = |n: u64| match total {
        0 => 0.0,
        t => n as f64 * 100.0 / t as f64,
    };
    let bars = |v: Vec<(String, u64)>, label: &dyn Fn(&str) -> String| -> Vec<Value> {
        v.into_iter()
            .take(TOP)
            .map(|(k, n)| {
                context! { name => label(&k), downloads => n, percent => format!("{:.1}", share(n)) }
            })
            .collect()
    };
    let targets = by(|d| d.target.clone());
    let mirrored: u64 = targets
        .iter()
        .filter(|(t, _)| t.parse::<i32>().is_ok())
        .map(|(_, n)| n)
        .sum();
    let target_name = |t: &str| match mirrors.get(t) {
        Some(name) => name.clone(),
        None if t.parse::<i32>().is_ok() => format!("mirror {t} (deleted)"),
        None => t.to_owned(),
    };
    context! {
        total,
        gigabytes => format!("{:.1}", bytes as f64 / 1e9),
        offload => format!("{:.1}", share(mirrored)),
        series => chart(rows, from, to),
        peak => peak(rows),
        first_day => bouncer_core::stats::Period::Day.label(from),
        last_day => bouncer_core::stats::Period::Day.label(to - 86_400),
        width => CHART.0, height => CHART.1,
        countries => bars(by(|d| d.country.clone()), &|c| c.to_owned()),
        targets => bars(targets, &target_name),
    }
}

/// The most downloads of one product on one day (the chart's top).
fn peak(rows: &[Row]) -> u64 {
    let mut per: HashMap<(&str, i64), u64> = HashMap::new();
    for r in rows {
        *per.entry((&r.dims.product, r.bucket)).or_default() += r.tally.downloads;
    }
    per.into_values().max().unwrap_or(0)
}

/// Downloads per day of the [`SERIES`] products downloaded most, and of the rest: each a
/// polyline over the range (days left to right, 0 to the busiest day bottom to top).
fn chart(rows: &[Row], from: i64, to: i64) -> Vec<Value> {
    let days = usize::try_from((to - from) / 86_400).unwrap_or(0).max(1);
    let mut per: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for r in rows {
        let i = usize::try_from((r.bucket - from) / 86_400).unwrap_or(0);
        if let Some(n) = per
            .entry(&r.dims.product)
            .or_insert_with(|| vec![0; days])
            .get_mut(i)
        {
            *n += r.tally.downloads;
        }
    }
    let mut order: Vec<(&str, Vec<u64>)> = per.into_iter().collect();
    order.sort_by_key(|(name, v)| (std::cmp::Reverse(v.iter().sum::<u64>()), *name));
    let mut series: Vec<(String, Vec<u64>)> = Vec::new();
    for (i, (name, v)) in order.into_iter().enumerate() {
        match (i < SERIES, series.get_mut(SERIES)) {
            (true, _) => series.push((name.to_owned(), v)),
            (false, Some(others)) => others.1.iter_mut().zip(v).for_each(|(a, b)| *a += b),
            (false, None) => series.push(("others".to_owned(), v)),
        }
    }
    let top = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let step = CHART.0 / days.saturating_sub(1).max(1) as f64;
    series
        .into_iter()
        .enumerate()
        .map(|(i, (name, v))| {
            let total: u64 = v.iter().sum();
            let points = v
                .iter()
                .enumerate()
                .map(|(d, n)| {
                    let y = CHART.1 - *n as f64 / top * CHART.1;
                    format!("{:.1},{y:.1}", d as f64 * step)
                })
                .collect::<Vec<_>>()
                .join(" ");
            context! { name, total, points, class => format!("s{i}") }
        })
        .collect()
}
