//! `GET /api/v2/stats`: download statistics (see docs/statistics.md), summed per hour,
//! day or month over a range of days (UTC), grouped by any of the dimensions and filtered
//! by exact values. Permission `Stats` (roles release, stats and admin): counts hold no
//! client's data, but a business's numbers are not every reader's.

use super::reply::{Json, Reply};
use super::Caller;
use crate::caller::Stats as R;
use crate::error::{Result, TuxedoError};
use actix_web::http::header;
use actix_web::{web, Either, HttpRequest, HttpResponse};
use bouncer_core::stats::{self, Dim, Period};
use chrono::{Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Stored rows a report may read; past it the caller narrows the range or filters.
const MAX_ROWS: i64 = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// First day, `YYYY-MM-DD` (default: 30 days before `to`).
    from: Option<String>,
    /// Day after the last, `YYYY-MM-DD` (default: tomorrow).
    to: Option<String>,
    /// `hour`, `day` (default) or `month`.
    granularity: Option<String>,
    /// Comma-separated dimensions.
    group_by: Option<String>,
    product: Option<String>,
    os: Option<String>,
    lang: Option<String>,
    country: Option<String>,
    target: Option<String>,
    mirror: Option<String>,
    family: Option<String>,
    scheme: Option<String>,
    /// `user` or `bot`.
    agent: Option<String>,
}

/// The report as answered.
#[derive(Serialize)]
pub struct Report {
    granularity: Period,
    from: NaiveDate,
    to: NaiveDate,
    group_by: Vec<Dim>,
    /// `period`, each grouped dimension, `downloads`, `bytes`.
    rows: Vec<Map<String, Value>>,
}

/// What a query asks, checked.
struct Asked {
    period: Period,
    from: NaiveDate,
    to: NaiveDate,
    group_by: Vec<Dim>,
    filters: Vec<(Dim, String)>,
}

/// JSON, or CSV when the caller's `Accept` asks for `text/csv`.
pub async fn stats(
    req: HttpRequest,
    q: web::Query<StatsQuery>,
    call: Caller<R>,
) -> Reply<Either<Json<Report>, HttpResponse>> {
    let csv = req
        .headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/csv"));
    let Json(report) = call.json(move |c, _, ()| report(c, &q)).await?;
    Ok(match csv {
        false => Either::Left(Json(report)),
        true => Either::Right(csv_of(&report)?),
    })
}

/// The report the query asks for.
fn report(c: &mut bouncer_core::db::DbConnection, q: &StatsQuery) -> Result<Report> {
    let asked = asked(q)?;
    let range = (midnight(asked.from), midnight(asked.to));
    let rows = stats::rows_at_most(c, asked.period.source(), range, MAX_ROWS + 1)?;
    if rows.len() as i64 > MAX_ROWS {
        return Err(TuxedoError::invalid(
            "from",
            format!("more than {MAX_ROWS} stored counts in the range: narrow it or filter"),
        ));
    }
    let lines = stats::report(&rows, asked.period, &asked.group_by, &asked.filters);
    Ok(Report {
        rows: lines
            .into_iter()
            .map(|l| {
                let mut row = Map::new();
                row.insert("period".into(), l.period.into());
                for (dim, value) in asked.group_by.iter().zip(l.values) {
                    row.insert(dim.name().into(), value.into());
                }
                row.insert("downloads".into(), l.tally.downloads.into());
                row.insert("bytes".into(), l.tally.bytes.into());
                row
            })
            .collect(),
        granularity: asked.period,
        from: asked.from,
        to: asked.to,
        group_by: asked.group_by,
    })
}

/// The report's rows as CSV: a header line (`period`, the grouped dimensions,
/// `downloads`, `bytes`), then one line per row.
fn csv_of(report: &Report) -> actix_web::Result<HttpResponse> {
    let mut columns = vec!["period"];
    columns.extend(report.group_by.iter().map(|d| d.name()));
    columns.extend(["downloads", "bytes"]);
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| actix_web::error::ErrorInternalServerError(e.to_string());
    out.write_record(&columns).map_err(failed)?;
    for row in &report.rows {
        let cell = |c: &&str| match row.get(*c) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        out.write_record(columns.iter().map(cell)).map_err(failed)?;
    }
    let body = out
        .into_inner()
        .map_err(|e| failed(e.into_error().into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .body(body))
}

/// The start of day `d` (UTC), Unix seconds.
fn midnight(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp()
}

/// The query's range, period, grouping and filters, or the first thing wrong with them.
fn asked(q: &StatsQuery) -> Result<Asked> {
    let date = |field: &'static str, v: &str| {
        NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
            .map_err(|_| TuxedoError::invalid(field, "a date YYYY-MM-DD"))
    };
    let to = match &q.to {
        Some(v) => date("to", v)?,
        None => Utc::now().date_naive() + Days::new(1),
    };
    let from = match &q.from {
        Some(v) => date("from", v)?,
        None => to.checked_sub_days(Days::new(30)).unwrap_or(NaiveDate::MIN),
    };
    let period = match q.granularity.as_deref().map(str::trim) {
        None | Some("") | Some("day") => Period::Day,
        Some("hour") => Period::Hour,
        Some("month") => Period::Month,
        Some(_) => return Err(TuxedoError::invalid("granularity", "hour, day or month")),
    };
    let days = (to - from).num_days();
    let most = if period == Period::Hour { 31 } else { 3_660 };
    if !(1..=most).contains(&days) {
        return Err(TuxedoError::invalid(
            "to",
            format!("after from, by at most {most} days for this granularity"),
        ));
    }
    let mut group_by = Vec::new();
    let names = q.group_by.iter().flat_map(|g| g.split(',')).map(str::trim);
    for name in names.filter(|n| !n.is_empty()) {
        let dim = Dim::named(name).ok_or_else(|| {
            let known = "product, os, lang, country, target (or mirror), family, scheme, agent";
            TuxedoError::invalid("group_by", known)
        })?;
        if !group_by.contains(&dim) {
            group_by.push(dim);
        }
    }
    let target = q.target.as_ref().or(q.mirror.as_ref());
    let filters = [
        (Dim::Product, &q.product),
        (Dim::Os, &q.os),
        (Dim::Lang, &q.lang),
        (Dim::Country, &q.country),
        (Dim::Target, &target.cloned()),
        (Dim::Family, &q.family),
        (Dim::Scheme, &q.scheme),
        (Dim::Agent, &q.agent),
    ]
    .into_iter()
    .filter_map(|(d, v)| v.as_ref().map(|v| (d, v.trim().to_owned())))
    .collect();
    Ok(Asked {
        period,
        from,
        to,
        group_by,
        filters,
    })
}

/// Files listed by the popular-files feed at most, and the fewest downloads listed.
const POPULAR_MAX: usize = 100;
const POPULAR_LEAST: u64 = 10;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopularQuery {
    /// How many files (1–100, default 20).
    n: Option<usize>,
}

/// The popular-files feed as answered.
#[derive(Serialize)]
pub struct PopularFeed {
    from: NaiveDate,
    to: NaiveDate,
    files: Vec<stats::Popular>,
}

/// `GET /api/v2/stats/popular`: the files downloaded most over the last 7 days (UTC days,
/// today included), for mirror operators to pre-position content. Public and cacheable
/// (an hour): it says nothing about anyone; files under 10 downloads are not listed.
pub async fn popular(req: HttpRequest, q: web::Query<PopularQuery>) -> HttpResponse {
    match popular_feed(&req, q.n.unwrap_or(20)).await {
        Ok(feed) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .json(feed),
        Err(e) => super::error_response(&e),
    }
}

async fn popular_feed(req: &HttpRequest, n: usize) -> Result<PopularFeed> {
    if !(1..=POPULAR_MAX).contains(&n) {
        return Err(TuxedoError::invalid("n", format!("1 to {POPULAR_MAX}")));
    }
    let state = crate::caller::state_of(req)?;
    let today = Utc::now().date_naive();
    let (from, to) = (today - Days::new(6), today + Days::new(1));
    let range = (midnight(from), midnight(to));
    let rows = crate::exec::on_reads(&state, move |c| {
        Ok(stats::rows_at_most(
            c,
            stats::Granularity::Day,
            range,
            MAX_ROWS,
        )?)
    })
    .await?;
    Ok(PopularFeed {
        from,
        to,
        files: stats::popular(&rows, n, POPULAR_LEAST),
    })
}
