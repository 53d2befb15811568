//! What checking a mirror found, and its verdict text: the report of one mirror, per
//! location and per address family, and what it means for the map, the family rows and
//! the mirror's own health. Pure: the checker's I/O is in `check`.

use crate::probe::{Class, Outcome, Reason};
use bouncer_core::files::Observed;
use bouncer_core::networks::{Families, Family};
use chrono::NaiveDateTime;

/// A mirror to check.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Target {
    pub id: i32,
    pub name: String,
    pub baseurl: String,
    /// A reference origin: what it says of each file is recorded (see `files::learn`).
    pub reference: bool,
}

/// A location to probe on every mirror.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Loc {
    pub id: i32,
    pub path: String,
    /// The size the probed file has (operator's, or learned from the reference origin):
    /// a mirror answering another `Content-Length` does not have *that* file.
    pub expected_size: Option<u64>,
    /// Whether `expected_size` was learned from a reference origin rather than stated by
    /// the operator: a reference is not held to what the references taught (it would
    /// never be able to teach a new size of the file).
    pub learned: bool,
}

impl Loc {
    /// This location as a reference origin is held to it: to the operator's size only.
    pub fn for_reference(&self) -> Loc {
        Loc {
            expected_size: self.expected_size.filter(|_| !self.learned),
            ..self.clone()
        }
    }
}

/// What checking one mirror found.
#[derive(Debug, Clone)]
pub struct MirrorReport {
    pub mirror_id: i32,
    pub started: NaiveDateTime,
    pub finished: NaiveDateTime,
    /// A failure of the whole mirror (DNS, base URL); no location was probed.
    pub wide: Option<Reason>,
    /// `(index into the run's locations, outcome)`, sorted by index; locations left when
    /// the deadline passed carry [`Reason::Deadline`].
    pub results: Vec<(usize, Outcome)>,
    pub deadline_hit: bool,
    /// For a reference origin: what each healthy answer said of its file.
    pub observed: Vec<(usize, Observed)>,
    /// The sampled content check, if one ran: `(index, matched)`.
    pub sampled: Option<(usize, bool)>,
    /// Whether the mirror was checked per address family (`sentry.families` not empty).
    /// `families` then says how each family fared, unless DNS or the URL failed first.
    pub per_family: bool,
    pub families: Vec<FamilyCheck>,
    /// How fast the mirror answered over each lane probed (proximity, issue 32).
    pub timings: Vec<Timing>,
}

/// How fast a mirror answered over one lane (a family, or `None`: not per family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub family: Option<Family>,
    /// The base URL's answer over a new connection (connect, TLS, first byte), µs.
    pub connect_us: u32,
    /// The fastest answer of a location, µs; `None` when no location answered.
    pub ttfb_us: Option<u32>,
}

/// How one address family of a mirror fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyCheck {
    pub family: Family,
    pub result: FamilyResult,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FamilyResult {
    /// Not probed: `sentry.families` leaves it out.
    Off,
    /// The mirror has no address of the family (no A / AAAA record, or an IP literal of
    /// the other family): every pair unhealthy for it, without a probe.
    Missing,
    /// sentry's own host could not use the family to reach the mirror: no verdict.
    NoVerdict(Reason),
    /// The family's base URL failed: every location unhealthy for it with `base URL: …`.
    Wide(Reason),
    /// Probed: the outcome of each location (index, sorted); `None` when it is the only
    /// family probed, whose outcomes are the report's `results`.
    Probed(Option<Vec<(usize, Outcome)>>),
}

impl FamilyResult {
    /// Whether it says something of the mirror (a verdict to store).
    pub fn has_verdict(&self) -> bool {
        !matches!(self, FamilyResult::Off | FamilyResult::NoVerdict(_))
    }
}

/// How many problems a log reason lists before summing up the rest.
const LISTED_PROBLEMS: usize = 10;

impl MirrorReport {
    /// Whether every address family has a verdict this run (probed, missing, or failed at
    /// its base URL): only then are the pairs' family rows written.
    pub fn family_verdicts(&self) -> bool {
        self.per_family
            && Family::ALL.iter().all(|f| {
                self.families
                    .iter()
                    .any(|c| c.family == *f && c.result.has_verdict())
            })
    }

    /// Whether the pairs' family rows are written for this report: checked per family,
    /// and every family has a verdict (a mirror-wide failure is one for every family,
    /// unless a family could not be judged at all).
    pub fn writes_family_rows(&self) -> bool {
        match self.wide {
            _ if !self.per_family => false,
            Some(_) => self.families.iter().all(|c| c.result.has_verdict()),
            None => self.family_verdicts() && self.single_family().is_none(),
        }
    }

    /// The families the mirror has addresses of, when this run found it has exactly one
    /// and every other is [`FamilyResult::Missing`]: then the map rows are that family's
    /// health and no family row is needed (most mirrors; the checker's steady state reads
    /// and compares one row per pair, as before per-family probing). `None` otherwise:
    /// not checked per family, a family without a verdict, a mirror-wide failure, or
    /// several families (whose health is kept per family).
    pub fn single_family(&self) -> Option<Family> {
        if self.wide.is_some() || !self.family_verdicts() {
            return None;
        }
        let mut present = self
            .families
            .iter()
            .filter(|c| c.result != FamilyResult::Missing);
        match (present.next(), present.next()) {
            (Some(c), None) if c.result == FamilyResult::Probed(None) => Some(c.family),
            _ => None,
        }
    }

    /// What to store as the mirror's address families, given what is stored: known when
    /// every family has a verdict (probed, missing, or failed at its base URL); unknown
    /// (`None`: every family, as the map says) when not checked per family or a family
    /// had no verdict; unchanged after a mirror-wide failure, which tells nothing of them.
    pub fn stored_families(&self, before: Option<i16>) -> Option<i16> {
        if self.wide.is_some() {
            return before;
        }
        if !self.family_verdicts() {
            return None;
        }
        let present = self
            .families
            .iter()
            .filter(|c| c.result != FamilyResult::Missing)
            .map(|c| c.family);
        Some(Families::of(present).stored())
    }

    /// Probes of locations made: one per location and family probed.
    pub fn probes(&self) -> usize {
        let per_family: usize = self
            .families
            .iter()
            .map(|c| match &c.result {
                FamilyResult::Probed(Some(v)) => v.len(),
                FamilyResult::Probed(None) => self.results.len(),
                _ => 0,
            })
            .sum();
        match self.per_family {
            true => per_family,
            false => self.results.len(),
        }
    }

    /// Families that gave no verdict (sentry's host could not use them).
    pub fn no_verdicts(&self) -> usize {
        self.families
            .iter()
            .filter(|c| matches!(c.result, FamilyResult::NoVerdict(_)))
            .count()
    }

    /// What family `f` gave for the location at `index`: `(class, reason)`; `None` when
    /// the family has no verdict (or was not probed).
    pub fn family_outcome(&self, f: Family, index: usize) -> Option<(Class, FamilyWhy<'_>)> {
        let check = self.families.iter().find(|c| c.family == f)?;
        let outcomes = match &check.result {
            FamilyResult::Off | FamilyResult::NoVerdict(_) => return None,
            FamilyResult::Missing => return Some((Class::Inactive, FamilyWhy::Missing(f))),
            FamilyResult::Wide(r) => return Some((Class::Unhealthy, FamilyWhy::BaseUrl(r))),
            FamilyResult::Probed(Some(v)) => v,
            FamilyResult::Probed(None) => &self.results,
        };
        let i = outcomes.binary_search_by_key(&index, |(i, _)| *i).ok()?;
        let o = &outcomes[i].1;
        Some((o.class, FamilyWhy::Probe(&o.reason)))
    }

    /// Whether the run counts as good for the mirror's hysteresis: no mirror-wide failure,
    /// no deadline, and at most half of its probes unhealthy (a 404 is an honest answer).
    pub fn run_ok(&self) -> bool {
        let unhealthy = self.count(Class::Unhealthy);
        self.wide.is_none() && !self.deadline_hit && unhealthy * 2 <= self.results.len()
    }

    pub fn count(&self, class: Class) -> usize {
        self.results
            .iter()
            .filter(|(_, o)| o.class == class)
            .count()
    }

    /// The `sentry_log.reason` text: what failed and why.
    pub fn summary(&self, locs: &[Loc]) -> String {
        if let Some(w) = &self.wide {
            return match w {
                Reason::Dns(_) | Reason::BadUrl(_) => w.to_string(),
                other => format!("base URL: {other}"),
            };
        }
        let mut s = format!(
            "{} checked: {} healthy, {} inactive, {} unhealthy",
            self.results.len(),
            self.count(Class::Healthy),
            self.count(Class::Inactive),
            self.count(Class::Unhealthy)
        );
        if self.deadline_hit {
            s.push_str("; mirror deadline exceeded");
        }
        let problems: Vec<_> = self
            .results
            .iter()
            .filter(|(_, o)| o.class != Class::Healthy)
            .collect();
        for (i, o) in problems.iter().take(LISTED_PROBLEMS) {
            let path = locs.get(*i).map_or("?", |l| l.path.as_str());
            s.push_str(&format!("; {path}: {}", o.reason));
        }
        if problems.len() > LISTED_PROBLEMS {
            s.push_str(&format!("; … {} more", problems.len() - LISTED_PROBLEMS));
        }
        for c in &self.families {
            if let Some(note) = self.family_note(c, locs) {
                s.push_str(&format!("; {}: {note}", c.family.name()));
            }
        }
        s
    }

    /// What a family's own result adds to the log reason: nothing for a single family
    /// (the combined counts are its own) or a missing one, else its counts and its first
    /// problem.
    fn family_note(&self, c: &FamilyCheck, locs: &[Loc]) -> Option<String> {
        match &c.result {
            FamilyResult::Off | FamilyResult::Missing | FamilyResult::Probed(None) => None,
            FamilyResult::NoVerdict(r) => Some(format!("no verdict ({r})")),
            FamilyResult::Wide(r) => Some(format!("base URL: {r}")),
            FamilyResult::Probed(Some(v)) => {
                let n = |class| v.iter().filter(|(_, o)| o.class == class).count();
                let mut note = format!(
                    "{} healthy, {} inactive, {} unhealthy",
                    n(Class::Healthy),
                    n(Class::Inactive),
                    n(Class::Unhealthy)
                );
                if let Some((i, o)) = v.iter().find(|(_, o)| o.class != Class::Healthy) {
                    let path = locs.get(*i).map_or("?", |l| l.path.as_str());
                    note.push_str(&format!(", first {path}: {}", o.reason));
                }
                (n(Class::Healthy) < v.len()).then_some(note)
            }
        }
    }

    /// What family `f` did this run, for the audit of its transition: its reason when it
    /// is missing, the log reason when it is the only family probed, else its own note.
    pub fn family_summary(&self, f: Family, locs: &[Loc]) -> String {
        let c = self.families.iter().find(|c| c.family == f);
        match c.map(|c| &c.result) {
            Some(FamilyResult::Missing) => Reason::NoAddress(f).to_string(),
            Some(FamilyResult::Probed(None)) => self.summary(locs),
            Some(_) => c
                .and_then(|c| self.family_note(c, locs))
                .unwrap_or_else(|| "ok".into()),
            None => String::new(),
        }
    }
}

/// Why a family row is what it is.
#[derive(Debug, Clone, Copy)]
pub enum FamilyWhy<'a> {
    Missing(Family),
    BaseUrl(&'a Reason),
    Probe(&'a Reason),
}

impl std::fmt::Display for FamilyWhy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FamilyWhy::Missing(family) => write!(f, "{}", Reason::NoAddress(*family)),
            // As the map's reason for a mirror-wide failure: the bare reason.
            FamilyWhy::BaseUrl(r) => write!(f, "{r}"),
            FamilyWhy::Probe(r) => write!(f, "{r}"),
        }
    }
}

/// Keeps in `best` the better of two outcomes of one location over two families:
/// healthy, then inactive (an honest answer), then unhealthy; the first on a tie.
pub(crate) fn improve(best: &mut Outcome, other: &Outcome) {
    let rank = |c: Class| match c {
        Class::Healthy => 0,
        Class::Inactive => 1,
        Class::Unhealthy => 2,
    };
    if rank(other.class) < rank(best.class) {
        *best = other.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn report(results: Vec<Outcome>) -> MirrorReport {
        let now = Utc::now().naive_utc();
        MirrorReport {
            mirror_id: 1,
            started: now,
            finished: now,
            wide: None,
            results: results.into_iter().enumerate().collect(),
            deadline_hit: false,
            observed: Vec::new(),
            sampled: None,
            per_family: false,
            families: Vec::new(),
            timings: Vec::new(),
        }
    }

    #[test]
    fn summary_lists_problems_and_run_ok_tolerates_a_minority() {
        let ok = Outcome {
            class: Class::Healthy,
            reason: Reason::Ok,
        };
        let locs: Vec<Loc> = ["/a", "/b", "/c"]
            .iter()
            .enumerate()
            .map(|(i, p)| Loc {
                id: i as i32,
                path: p.to_string(),
                expected_size: None,
                learned: false,
            })
            .collect();
        let r = report(vec![
            ok.clone(),
            Outcome::unhealthy(Reason::Status(500)),
            ok.clone(),
        ]);
        assert!(r.run_ok());
        assert_eq!(
            r.summary(&locs),
            "3 checked: 2 healthy, 0 inactive, 1 unhealthy; /b: HTTP 500"
        );
        let r = report(vec![
            Outcome::unhealthy(Reason::Timeout),
            Outcome::unhealthy(Reason::Status(500)),
            ok,
        ]);
        assert!(!r.run_ok());
        let mut r = report(vec![]);
        r.wide = Some(Reason::Timeout);
        assert!(!r.run_ok());
        assert_eq!(r.summary(&locs), "base URL: timeout");
    }
}
