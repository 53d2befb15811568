//! Why a mirror is listed as it is for one client (issue 32): the verdict of sentry's
//! vantages that applies to the client and what its region's vantages measured, for the
//! JSON and HTML mirror lists.

use super::load::{self, Snapshot};
use bouncer_core::networks::Family;
use std::collections::HashMap;

/// What sentry's vantages say of a mirror for one client: the verdict that applies (its
/// region's, else the global one) and what the region's vantages measured — why the
/// mirror is eligible or not, and why its weight is what it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Vantaged {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<VerdictView>,
    /// The nearest of the region's vantages' smoothed time to first byte, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples: Option<i32>,
    /// The best trusted time among the region's serving mirrors, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VerdictView {
    /// `region` (the client's region's vantages) or `global` (the rule over all).
    pub of: &'static str,
    pub healthy: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// What the vantages say of each mirror of `rows` for a client of `family` in `region`
/// (mirrors they say nothing of are left out).
pub fn explain(
    rows: &[load::MirrorRow],
    snapshot: &Snapshot,
    family: Family,
    region: Option<i32>,
    min_samples: i32,
) -> HashMap<i32, Vantaged> {
    use bouncer_core::selection::proximity;
    let measured = region.and_then(|g| {
        let of = |f: i16| snapshot.region_rtt.get(&(g, f));
        of(family.number()).or_else(|| of(0))
    });
    let served = rows.iter().filter(|r| r.serves_in(family, region));
    let best = measured
        .and_then(|m| proximity::best(served.filter_map(|r| m.get(&r.id).copied()), min_samples));
    let ms = |us: i32| f64::from(us / 100) / 10.0;
    rows.iter()
        .filter_map(|r| {
            let verdict = r.verdict(family, region).map(|v| VerdictView {
                of: if v.region == 0 { "global" } else { "region" },
                healthy: v.healthy,
                reason: v.reason.clone(),
            });
            let own = measured.and_then(|m| m.get(&r.id));
            (verdict.is_some() || own.is_some()).then(|| {
                let v = Vantaged {
                    verdict,
                    ttfb_ms: own.map(|m| ms(m.ttfb_us)),
                    samples: own.map(|m| m.samples),
                    best_ms: best.filter(|_| own.is_some()).map(ms),
                };
                (r.id, v)
            })
        })
        .collect()
}
