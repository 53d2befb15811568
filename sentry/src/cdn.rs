//! CDN mode: the pinned base URLs bounce sends every user to are checked like a mirror —
//! each location over http and over https, with the same probe, classes and reasons — and
//! the result is stored per (location, scheme) for uptake ("is the release on the CDN
//! yet?"). bounce does not read it: in CDN mode it always answers with the pin.

use crate::check::{Loc, MirrorReport};
use crate::probe::Class;
use crate::SentryError;
use bouncer_core::db::DbConnection;
use bouncer_core::schema::bouncer_cdn_health as cdn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// The stored reason is cut to its column (a TLS error can be long).
const REASON_CHARS: usize = 255;
/// Location ids per delete statement.
const CHUNK: usize = 500;

/// What checking one pinned base URL found.
pub struct CdnReport {
    pub scheme: &'static str,
    pub base_url: String,
    pub report: MirrorReport,
}

/// (locations checked, healthy) over every scheme.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CdnSummary {
    pub pairs: usize,
    pub healthy: usize,
}

#[derive(Insertable)]
#[diesel(table_name = cdn)]
struct Row {
    location_id: i32,
    scheme: &'static str,
    base_url: String,
    active: bool,
    healthy: bool,
    reason: String,
    checked_at: NaiveDateTime,
}

/// Replaces the stored results of the checked locations by `reports`, in one transaction.
/// A failure of the whole base URL (DNS, the base URL itself) makes every location
/// unhealthy with that reason, as it does a mirror's.
pub fn write(
    conn: &mut DbConnection,
    reports: &[CdnReport],
    locs: &[Loc],
) -> Result<CdnSummary, SentryError> {
    let mut rows = Vec::new();
    for r in reports {
        let at = r.report.finished;
        let row = |loc: &Loc, class: Class, reason: String| Row {
            location_id: loc.id,
            scheme: r.scheme,
            base_url: r.base_url.clone(),
            active: class != Class::Inactive,
            healthy: class == Class::Healthy,
            reason: reason.chars().take(REASON_CHARS).collect(),
            checked_at: at,
        };
        match &r.report.wide {
            Some(wide) => rows.extend(
                locs.iter()
                    .map(|l| row(l, Class::Unhealthy, format!("base URL: {wide}"))),
            ),
            None => {
                rows.extend(r.report.results.iter().filter_map(|(i, o)| {
                    locs.get(*i).map(|l| row(l, o.class, o.reason.to_string()))
                }))
            }
        }
    }
    let summary = CdnSummary {
        pairs: rows.len(),
        healthy: rows.iter().filter(|r| r.healthy).count(),
    };
    bouncer_core::db::write_transaction(conn, |conn| {
        for r in reports {
            let ids: Vec<i32> = locs.iter().map(|l| l.id).collect();
            for ids in ids.chunks(CHUNK) {
                diesel::delete(
                    cdn::table
                        .filter(cdn::scheme.eq(r.scheme))
                        .filter(cdn::location_id.eq_any(ids)),
                )
                .execute(conn)?;
            }
        }
        // One statement a row: multi-row inserts are not portable over the MultiConnection.
        for row in &rows {
            diesel::insert_into(cdn::table).values(row).execute(conn)?;
        }
        Ok::<_, SentryError>(())
    })?;
    Ok(summary)
}
