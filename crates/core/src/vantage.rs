//! Health from several vantage points (issue 32): sentry agents probe the same (location,
//! mirror, family) from different networks, each speaking for some regions, and one rule
//! turns their reports into a verdict per region and a global one. Pure: the controller
//! gathers the reports, this decides, the store applies (plan → apply, as sentry does).
//!
//! The rules are the load balancers' settled ones, so a partition near one vantage cannot
//! take a mirror down for everyone:
//! - a **region** is healthy unless a strict majority of the vantages that speak for it
//!   failed (Cloudflare's "most probes pass", a tie kept healthy);
//! - **globally**, by the configured [`Rule`]: a majority of the regions that have a
//!   verdict, the vantages of no region voting as one more ([`Rule::Majority`],
//!   Cloudflare's pools); more than a share of all vantages
//!   passing ([`Rule::Threshold`], Route 53's 18 %); or down only when every vantage
//!   agrees it is down and at least a quorum of them spoke ([`Rule::AllAgree`], Apache
//!   Traffic Control).
//!
//! bounce uses the verdict of the client's region and falls back to the global one for a
//! region no vantage speaks for.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What [`valid_name`] accepts, for messages.
pub const NAME_RULE: &str = "1 to 64 letters, digits, '.', '_' or '-'";

/// Whether `name` can name a vantage (a config key, a column of 64 characters, a label).
pub fn valid_name(name: &str) -> bool {
    (1..=crate::limits::VANTAGE).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// One vantage's latest result for one (location, mirror, family).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The vantage (agent) name.
    pub vantage: String,
    /// The regions it speaks for (ids); none = it counts only globally.
    pub regions: Vec<i32>,
    pub healthy: bool,
}

/// How the global verdict is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// Healthy when at least half of the regions with a verdict are healthy; the
    /// vantages that speak for no region vote as one region more (so with no region at
    /// all, at least half of the vantages must pass).
    #[default]
    Majority,
    /// Healthy when more than `percent` % of the vantages pass.
    Threshold { percent: u8 },
    /// Down only when every vantage reports it down and at least `quorum` reported.
    AllAgree { quorum: u16 },
}

/// The verdicts of one (location, mirror, family).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdicts {
    /// Per region a vantage speaks for.
    pub regions: BTreeMap<i32, bool>,
    pub global: bool,
    /// Why, for the lists and the audit: `3 of 4 vantages down`, …
    pub reason: String,
}

impl Verdicts {
    /// The verdict for a client of `region` (the global one where no vantage speaks for
    /// the region, or the client has none).
    pub fn for_region(&self, region: Option<i32>) -> bool {
        region
            .and_then(|r| self.regions.get(&r).copied())
            .unwrap_or(self.global)
    }
}

/// The verdicts `reports` give under `rule`. No report at all: healthy (nothing says
/// otherwise; the single-vantage checks decide as before).
pub fn decide(reports: &[Report], rule: Rule) -> Verdicts {
    let mut per_region: BTreeMap<i32, (usize, usize)> = BTreeMap::new();
    for r in reports {
        for region in &r.regions {
            let (passed, failed) = per_region.entry(*region).or_default();
            match r.healthy {
                true => *passed += 1,
                false => *failed += 1,
            }
        }
    }
    let regions: BTreeMap<i32, bool> = per_region
        .iter()
        .map(|(region, (passed, failed))| (*region, failed <= passed))
        .collect();
    let passed = reports.iter().filter(|r| r.healthy).count();
    let n = reports.len();
    let global = match rule {
        _ if n == 0 => true,
        Rule::Majority => {
            // The vantages that speak for no region (the controller, usually) vote
            // together as one more region, so one region alone is not everyone.
            let unplaced = reports.iter().filter(|r| r.regions.is_empty());
            let (mut up, mut voters) = (regions.values().filter(|up| **up).count(), regions.len());
            let (ok, all) = unplaced.fold((0, 0), |(ok, all), r| {
                (ok + usize::from(r.healthy), all + 1)
            });
            if all > 0 {
                voters += 1;
                up += usize::from(ok * 2 >= all);
            }
            up * 2 >= voters
        }
        Rule::Threshold { percent } => passed * 100 > usize::from(percent) * n,
        Rule::AllAgree { quorum } => passed > 0 || n < usize::from(quorum),
    };
    let reason = match n - passed {
        0 => String::new(),
        down => format!("{down} of {n} vantages down"),
    };
    Verdicts {
        regions,
        global,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn report(vantage: &str, regions: &[i32], healthy: bool) -> Report {
        Report {
            vantage: vantage.into(),
            regions: regions.to_vec(),
            healthy,
        }
    }

    #[test]
    fn a_mirror_down_for_europe_only() {
        // Two EU vantages cannot reach it, the US one can.
        let reports = [
            report("fra", &[1], false),
            report("ams", &[1], false),
            report("iad", &[2], true),
        ];
        let v = decide(&reports, Rule::Majority);
        assert_eq!(v.regions, BTreeMap::from([(1, false), (2, true)]));
        assert!(v.global, "one region of two up: kept up globally");
        assert!(!v.for_region(Some(1)) && v.for_region(Some(2)) && v.for_region(Some(9)));
        assert_eq!(v.reason, "2 of 3 vantages down");
        assert!(!decide(&reports, Rule::Threshold { percent: 50 }).global);
        assert!(decide(&reports, Rule::Threshold { percent: 18 }).global);
        assert!(decide(&reports, Rule::AllAgree { quorum: 2 }).global);
    }

    #[test]
    fn the_vantages_of_no_region_vote_as_one_region() {
        let europe_down = [report("controller", &[], true), report("ams", &[1], false)];
        assert!(
            decide(&europe_down, Rule::Majority).global,
            "one region of two voters"
        );
        let both_down = [report("controller", &[], false), report("ams", &[1], false)];
        assert!(!decide(&both_down, Rule::Majority).global);
    }

    #[test]
    fn all_agree_needs_its_quorum() {
        let down = [report("a", &[], false), report("b", &[], false)];
        assert!(!decide(&down, Rule::AllAgree { quorum: 2 }).global);
        assert!(
            decide(&down, Rule::AllAgree { quorum: 3 }).global,
            "too few to speak"
        );
        assert!(
            decide(&[], Rule::AllAgree { quorum: 0 }).global,
            "nobody reported"
        );
    }

    fn reports() -> impl Strategy<Value = Vec<Report>> {
        prop::collection::vec((prop::collection::vec(0..4i32, 0..3), any::<bool>()), 0..12)
            .prop_map(|v| {
                v.into_iter()
                    .enumerate()
                    .map(|(i, (regions, healthy))| report(&format!("v{i}"), &regions, healthy))
                    .collect()
            })
    }

    fn rules() -> impl Strategy<Value = Rule> {
        prop_oneof![
            Just(Rule::Majority),
            (0u8..100).prop_map(|percent| Rule::Threshold { percent }),
            (0u16..6).prop_map(|quorum| Rule::AllAgree { quorum }),
        ]
    }

    proptest! {
        /// A vantage that recovers never turns a healthy verdict into a down one.
        #[test]
        fn recovering_never_takes_a_verdict_down(reports in reports(), rule in rules(), i in 0usize..12) {
            let before = decide(&reports, rule);
            let mut better = reports.clone();
            if let Some(r) = better.get_mut(i) {
                r.healthy = true;
            }
            let after = decide(&better, rule);
            prop_assert!(after.global || !before.global);
            for (region, up) in &before.regions {
                prop_assert!(!up || after.regions[region]);
            }
        }

        /// Every vantage passing: up everywhere; every vantage failing (and at least the
        /// quorum of them): down everywhere, under every rule.
        #[test]
        fn unanimity_decides(reports in reports(), rule in rules()) {
            let all = |healthy| -> Vec<Report> {
                reports.iter().cloned().map(|r| Report { healthy, ..r }).collect()
            };
            let up = decide(&all(true), rule);
            prop_assert!(up.global && up.regions.values().all(|u| *u));
            let down = decide(&all(false), rule);
            prop_assert!(down.regions.values().all(|u| !u));
            let spoke = match rule { Rule::AllAgree { quorum } => reports.len() >= usize::from(quorum), _ => true };
            if !reports.is_empty() && spoke {
                prop_assert!(!down.global, "{rule:?}");
            }
        }

        /// One vantage alone never takes a mirror down globally when at least three others
        /// see it up, under the majority and all-agree rules (a partition near one vantage).
        #[test]
        fn one_vantage_cannot_take_a_mirror_down(n in 3usize..10, regions in 1i32..4, quorum in 0u16..4) {
            let mut reports: Vec<Report> = (0..n)
                .map(|i| report(&format!("v{i}"), &[i as i32 % regions], true))
                .collect();
            reports.push(report("partitioned", &[0], false));
            prop_assert!(decide(&reports, Rule::Majority).global);
            let all_agree = Rule::AllAgree { quorum };
            prop_assert!(decide(&reports, all_agree).global);
        }
    }
}
