//! Checking one mirror: DNS, base URL, then every location, within the global and the
//! per-mirror concurrency limits and the mirror's deadline. A mirror that hangs only
//! holds its own slots until its timeouts fire; the others go on.
//!
//! Per address family (`sentry.families`): the families a mirror has come from its base
//! URL (an IP literal) or from DNS (`sentry.resolve` first); each is probed on its own,
//! over a client bound to that family, base URL first; a family the mirror lacks is
//! reported [`FamilyResult::Missing`] without a probe.

use crate::metrics::Metrics;
use crate::probe::{self, Class, Outcome, Reason};
use bouncer_core::files::Observed;
use bouncer_core::networks::Family;
use chrono::Utc;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use url::{Host, Url};

pub(crate) use crate::report::improve;
pub use crate::report::{FamilyCheck, FamilyResult, Loc, MirrorReport, Target, Timing};

/// What a base URL's answer means: a 2xx/3xx/4xx (a listing, a forbidden index) is fine;
/// a 5xx or no answer fails.
fn base_verdict(reason: Reason) -> Result<(), Reason> {
    match reason {
        Reason::Ok | Reason::SoftNotFound => Ok(()),
        Reason::Status(s) if s < 500 => Ok(()),
        other => Err(other),
    }
}

/// The probing half of a run, shared by every mirror task.
pub struct Checker {
    /// The client of a check not made per family (`sentry.families = []`, the pinned CDN)
    /// and of content samples: whatever family the system picks.
    pub client: reqwest::Client,
    /// One client per family, bound to its unspecified address (IPv4, IPv6).
    pub family_clients: [reqwest::Client; 2],
    /// `sentry.families`: the families probed separately (empty: not per family).
    pub families: Vec<Family>,
    /// `sentry.resolve`, keys in lower case: used instead of DNS.
    pub resolve: HashMap<String, Vec<IpAddr>>,
    pub global: Arc<Semaphore>,
    pub per_mirror: usize,
    pub request_timeout: Duration,
    pub mirror_deadline: Duration,
    pub probe_lang: String,
    pub metrics: Arc<Metrics>,
    /// Bytes sampled per mirror and run (0 = no sampling).
    pub sample_bytes: u64,
    /// Bytes sampling may still fetch this run (reset at the start of each run).
    pub sample_budget: AtomicU64,
    /// Whether this run already warned that a family is unusable from here (per family).
    pub unusable_warned: [AtomicBool; 2],
}

/// What the probes of one mirror's locations gave: per lane (family), the outcomes by
/// location index, sorted.
struct Probed {
    lanes: Vec<Vec<(usize, Outcome)>>,
    observed: Vec<(usize, Observed)>,
    deadline_hit: bool,
    /// Per lane, the fastest answer (µs): a round trip on a reused connection plus the
    /// mirror's own time.
    fastest: Vec<Option<u32>>,
}

/// A lane to probe locations over: its family (`None`: not per family), its client, and
/// how long its base URL took to answer (µs, over a new connection).
type Lane<'a> = (Option<Family>, &'a reqwest::Client, u32);

impl Checker {
    /// Checks one mirror against `locs` (and samples its bytes against `reference`, the
    /// reference origin's base URL), per family as configured; never fails — every
    /// problem is a result.
    pub async fn check_mirror(
        self: Arc<Self>,
        target: Target,
        locs: Arc<[Loc]>,
        reference: Option<Arc<str>>,
    ) -> MirrorReport {
        let families = self.families.clone();
        self.check_mirror_over(target, locs, reference, &families)
            .await
    }

    /// [`Checker::check_mirror`] over `families` (`[]`: one probe per location over
    /// whatever family the system picks, as for the pinned CDN).
    pub async fn check_mirror_over(
        self: Arc<Self>,
        target: Target,
        locs: Arc<[Loc]>,
        reference: Option<Arc<str>>,
        families: &[Family],
    ) -> MirrorReport {
        let started = Utc::now().naive_utc();
        let clock = Instant::now();
        let deadline = tokio::time::Instant::now() + self.mirror_deadline;
        let mut report = MirrorReport {
            mirror_id: target.id,
            started,
            finished: started,
            wide: None,
            results: Vec::new(),
            deadline_hit: false,
            observed: Vec::new(),
            sampled: None,
            per_family: !families.is_empty(),
            families: Vec::new(),
            timings: Vec::new(),
        };
        let base = self.base(&target.baseurl).await;
        let hops = match &base {
            Ok((_, addrs)) => self.hops(addrs),
            Err(_) => self.hops(&[]),
        };
        let lanes = match base {
            Err(reason) => Err(reason),
            Ok((url, _)) if families.is_empty() => self
                .reachable(url, &hops)
                .await
                .map(|us| vec![(None, &self.client, us)]),
            Ok((url, addrs)) => {
                self.families_of(&target, url, &addrs, families, &mut report, &hops)
                    .await
            }
        };
        match lanes {
            Err(reason) => report.wide = Some(reason),
            Ok(lanes) => {
                let clients: Vec<&reqwest::Client> = lanes.iter().map(|(_, c, _)| *c).collect();
                let probed = self
                    .probe_locations(&target, &locs, &clients, deadline, &hops)
                    .await;
                report.deadline_hit = probed.deadline_hit;
                report.observed = probed.observed;
                report.timings = lanes
                    .iter()
                    .zip(&probed.fastest)
                    .map(|((family, _, connect_us), ttfb_us)| Timing {
                        family: *family,
                        connect_us: *connect_us,
                        ttfb_us: *ttfb_us,
                    })
                    .collect();
                let families: Vec<Option<Family>> = lanes.iter().map(|(f, _, _)| *f).collect();
                self.record_lanes(&mut report, &families, probed.lanes);
                if let Some(reference) = reference.filter(|r| **r != *target.baseurl) {
                    let sample =
                        self.sample(&target.baseurl, &hops, &reference, &locs, &mut report);
                    let _ = tokio::time::timeout_at(deadline, sample).await;
                }
            }
        }
        if let Some(w) = &report.wide {
            self.metrics.mirror_failure(w.kind());
        }
        self.metrics
            .mirror_seconds
            .observe(clock.elapsed().as_secs_f64());
        report.finished = Utc::now().naive_utc();
        report
    }

    /// Records the outcomes of each lane (`families`, in order; `None`: not per family):
    /// the results are the best over the lanes, each family's its own.
    fn record_lanes(
        &self,
        report: &mut MirrorReport,
        families: &[Option<Family>],
        lanes: Vec<Vec<(usize, Outcome)>>,
    ) {
        let mut outcomes = lanes.into_iter();
        let first = outcomes.next().unwrap_or_default();
        let rest: Vec<_> = outcomes.collect();
        if rest.is_empty() {
            // One family probed (or none per family): its outcomes are the results.
            report.results = first;
            if let Some(Some(f)) = families.first() {
                self.set_family(report, *f, FamilyResult::Probed(None));
            }
            return;
        }
        let mut best = first.clone();
        for other in &rest {
            for ((_, b), (_, o)) in best.iter_mut().zip(other) {
                improve(b, o);
            }
        }
        report.results = best;
        for (f, own) in families.iter().zip(std::iter::once(first).chain(rest)) {
            if let Some(f) = f {
                self.set_family(report, *f, FamilyResult::Probed(Some(own)));
            }
        }
    }

    /// Records how family `f` fared (replacing a placeholder).
    fn set_family(&self, report: &mut MirrorReport, f: Family, result: FamilyResult) {
        match report.families.iter_mut().find(|c| c.family == f) {
            Some(c) => c.result = result,
            None => report.families.push(FamilyCheck { family: f, result }),
        }
        report.families.sort_by_key(|c| c.family);
    }

    /// The families of the mirror and their base URLs: the lanes to probe its locations
    /// over (family and client), or the reason the whole mirror failed (DNS, or the base
    /// URL over every family it has). Fills `report.families` with how each fared.
    async fn families_of<'a>(
        &'a self,
        target: &Target,
        url: Url,
        addrs: &[IpAddr],
        families: &[Family],
        report: &mut MirrorReport,
        hops: &probe::Hops<'_>,
    ) -> Result<Vec<Lane<'a>>, Reason> {
        let bad = || Reason::BadUrl(target.baseurl.clone());
        let mut candidates = Vec::new();
        for f in Family::ALL {
            let result = if !families.contains(&f) {
                FamilyResult::Off
            } else if !addrs.iter().any(|a| Family::of(*a) == f) {
                FamilyResult::Missing
            } else {
                candidates.push(f);
                continue;
            };
            self.set_family(report, f, result);
        }
        let Some(first) = families.first() else {
            return Err(bad());
        };
        if candidates.is_empty() {
            return Err(Reason::NoAddress(*first));
        }
        let bases = futures_util::future::join_all(
            candidates
                .iter()
                .map(|f| self.probe(&self.family_clients[f.index()], url.clone(), hops)),
        )
        .await;
        let mut lanes = Vec::new();
        let mut failed = None;
        let mut unusable = None;
        for (f, (outcome, us)) in candidates.into_iter().zip(bases) {
            match base_verdict(outcome.reason) {
                Ok(()) => lanes.push((Some(f), &self.family_clients[f.index()], us)),
                Err(r @ Reason::Unreachable(_)) => {
                    self.no_verdict(target, f, &r);
                    unusable.get_or_insert(r.clone());
                    self.set_family(report, f, FamilyResult::NoVerdict(r));
                }
                Err(r) => {
                    failed.get_or_insert(r.clone());
                    self.set_family(report, f, FamilyResult::Wide(r));
                }
            }
        }
        match (lanes.is_empty(), failed.or(unusable)) {
            (true, Some(reason)) => Err(reason),
            _ => Ok(lanes),
        }
    }

    /// A family sentry's host cannot use to reach `target`: counted, and warned of once
    /// per run and family.
    fn no_verdict(&self, target: &Target, f: Family, reason: &Reason) {
        self.metrics.family_no_verdict(f);
        if !self.unusable_warned[f.index()].swap(true, Ordering::AcqRel) {
            tracing::warn!(
                family = f.name(),
                mirror = %target.name,
                reason = %reason,
                "sentry's host cannot use {} to reach this mirror: no {} verdict, so its \
                 pairs keep no family rows (the map, judged over the other family, holds \
                 for both); further mirrors this run are only counted \
                 (sentry_family_no_verdict_total)",
                f.name(),
                f.name()
            );
        }
    }

    /// The addresses of the base URL's host: an IP literal's own, `sentry.resolve`'s, or
    /// DNS's (within the request timeout, under the global limit).
    async fn addresses(&self, url: &Url) -> Result<Vec<IpAddr>, Reason> {
        let host = match url.host() {
            Some(Host::Ipv4(ip)) => return Ok(vec![IpAddr::V4(ip)]),
            Some(Host::Ipv6(ip)) => return Ok(vec![IpAddr::V6(ip)]),
            Some(Host::Domain(d)) => d,
            None => return Err(Reason::BadUrl(url.to_string())),
        };
        if let Some(pinned) = self.resolve.get(&host.to_ascii_lowercase()) {
            return Ok(pinned.clone());
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let _permit = self.global.acquire().await;
        let lookup = tokio::net::lookup_host((host, port));
        match tokio::time::timeout(self.request_timeout, lookup).await {
            Ok(Ok(addrs)) => {
                let ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                match ips.is_empty() {
                    true => Err(Reason::Dns(host.to_owned())),
                    false => Ok(ips),
                }
            }
            _ => Err(Reason::Dns(host.to_owned())),
        }
    }

    /// The base URL parsed, and its host's addresses ([`Checker::addresses`]): a bad URL
    /// or a failed lookup fails the whole mirror.
    async fn base(&self, baseurl: &str) -> Result<(Url, Vec<IpAddr>), Reason> {
        let url = Url::parse(baseurl).map_err(|_| Reason::BadUrl(baseurl.to_owned()))?;
        let addrs = self.addresses(&url).await?;
        Ok((url, addrs))
    }

    /// Where redirects of a mirror whose base URL has `addrs` may lead: anywhere public,
    /// and within a non-public network only for a mirror that is itself on one.
    fn hops(&self, addrs: &[IpAddr]) -> probe::Hops<'_> {
        probe::Hops {
            base_public: addrs.iter().all(|ip| crate::address::is_public(*ip)),
            resolve: &self.resolve,
            timeout: self.request_timeout,
        }
    }

    /// The base URL (its host already resolved, see [`Checker::base`]): a 5xx or no
    /// answer fails the mirror; else how long the answer took (µs, a new connection).
    async fn reachable(&self, url: Url, hops: &probe::Hops<'_>) -> Result<u32, Reason> {
        let (outcome, us) = self.probe(&self.client, url, hops).await;
        base_verdict(outcome.reason).map(|()| us)
    }

    /// Probes every location over each client (a lane per family), at most
    /// `per_mirror` probes in flight over all of them, until the deadline.
    async fn probe_locations(
        &self,
        target: &Target,
        locs: &[Loc],
        clients: &[&reqwest::Client],
        deadline: tokio::time::Instant,
        hops: &probe::Hops<'_>,
    ) -> Probed {
        let width = clients.len().max(1);
        let mut out = Probed {
            lanes: vec![Vec::with_capacity(locs.len()); width],
            observed: Vec::new(),
            deadline_hit: false,
            fastest: vec![None; width],
        };
        let base = ProbeBase::new(&target.baseurl);
        let mut pending = futures_util::stream::FuturesUnordered::new();
        let mut next = 0;
        let jobs = locs.len() * clients.len();
        let mut seen = vec![false; if target.reference { locs.len() } else { 0 }];
        loop {
            while pending.len() < self.per_mirror && next < jobs {
                let (i, lane) = (next / width, next % width);
                let probe = self.probe_location(clients[lane], &base, &locs[i], i, hops);
                pending.push(async move { (lane, probe.await) });
                next += 1;
            }
            match tokio::time::timeout_at(deadline, pending.next()).await {
                Ok(Some((lane, (i, outcome, observed, us)))) => {
                    if let Some(us) = us {
                        let f = &mut out.fastest[lane];
                        *f = Some(f.map_or(us, |f| f.min(us)));
                    }
                    if target.reference && outcome.class == Class::Healthy && !seen[i] {
                        seen[i] = true;
                        out.observed.push((i, observed));
                    }
                    out.lanes[lane].push((i, outcome));
                }
                Ok(None) => break,
                Err(_) => {
                    out.deadline_hit = true;
                    break;
                }
            }
        }
        for results in &mut out.lanes {
            if out.deadline_hit {
                let mut done = vec![false; locs.len()];
                for (i, _) in results.iter() {
                    done[*i] = true;
                }
                for (i, _) in done.iter().enumerate().filter(|(_, d)| !**d) {
                    self.metrics
                        .check(Class::Unhealthy, Reason::Deadline.kind());
                    results.push((i, Outcome::unhealthy(Reason::Deadline)));
                }
            }
            results.sort_by_key(|(i, _)| *i);
        }
        out
    }

    /// Probes one location; a healthy answer with another size than the file has is
    /// unhealthy (the mirror has a file of that name, not that file).
    async fn probe_location(
        &self,
        client: &reqwest::Client,
        base: &ProbeBase<'_>,
        loc: &Loc,
        index: usize,
        hops: &probe::Hops<'_>,
    ) -> (usize, Outcome, Observed, Option<u32>) {
        let (outcome, seen, us) = match base.url(&loc.path, &self.probe_lang) {
            Ok(url) => {
                let (o, seen, us) = self.probe_seen(client, url, loc.expected_size, hops).await;
                // An answer (the file there or not) measures the path; a failure does not.
                let answered = o.class != Class::Unhealthy || matches!(o.reason, Reason::Status(_));
                (o, seen, answered.then_some(us))
            }
            Err(reason) => (Outcome::unhealthy(reason), Observed::default(), None),
        };
        (index, outcome, seen, us)
    }

    /// One HEAD under the global limit, counted in the metrics, with how long its answer
    /// took (µs).
    async fn probe(
        &self,
        client: &reqwest::Client,
        url: Url,
        hops: &probe::Hops<'_>,
    ) -> (Outcome, u32) {
        let (outcome, _, us) = self.probe_seen(client, url, None, hops).await;
        (outcome, us)
    }

    /// [`Checker::probe`], held to the file's size when it is known (see
    /// [`probe::held_to_size`]), with what the answer said of the file.
    async fn probe_seen(
        &self,
        client: &reqwest::Client,
        url: Url,
        expected_size: Option<u64>,
        hops: &probe::Hops<'_>,
    ) -> (Outcome, Observed, u32) {
        let _permit = self.global.acquire().await;
        let clock = Instant::now();
        let (outcome, seen) = probe::head(client, url, expected_size, hops).await;
        let took = clock.elapsed();
        self.metrics.check_seconds.observe(took.as_secs_f64());
        self.metrics.check(outcome.class, outcome.reason.kind());
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        (outcome, seen, us)
    }

    /// Sampled content verification: one random slice of one random healthy file of
    /// known size, fetched from the mirror and from the reference origin and compared
    /// byte for byte. A difference makes that file unhealthy on the mirror; a mirror or
    /// reference that does not serve ranges, or fails, gives no verdict.
    async fn sample(
        &self,
        base: &str,
        hops: &probe::Hops<'_>,
        reference: &str,
        locs: &[Loc],
        report: &mut MirrorReport,
    ) {
        use rand::RngExt;
        if self.sample_bytes == 0 {
            return;
        }
        let candidates: Vec<(usize, u64)> = report
            .results
            .iter()
            .filter(|(_, o)| o.class == Class::Healthy)
            .filter_map(|(i, _)| Some((*i, locs.get(*i)?.expected_size.filter(|s| *s > 0)?)))
            .collect();
        if candidates.is_empty() {
            return;
        }
        // The random choice, made before any await (the thread's generator stays here).
        let (i, start, len) = {
            let mut rng = rand::rng();
            let (i, size) = candidates[rng.random_range(0..candidates.len())];
            let len = self.sample_bytes.min(size);
            (i, rng.random_range(0..=size - len), len)
        };
        let taken = self
            .sample_budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| b.checked_sub(len));
        if taken.is_err() {
            self.metrics.sample("skipped");
            return;
        }
        let Some(loc) = locs.get(i) else { return };
        let (Ok(mine), Ok(theirs)) = (
            probe_url(base, &loc.path, &self.probe_lang),
            probe_url(reference, &loc.path, &self.probe_lang),
        ) else {
            return;
        };
        let reference_hops = match self.base(reference).await {
            Ok((_, addrs)) => self.hops(&addrs),
            Err(_) => self.hops(&[]),
        };
        let fetch = |url, hops| async move {
            let _permit = self.global.acquire().await;
            probe::range(&self.client, url, start, len, hops).await
        };
        let (mine, theirs) = tokio::join!(fetch(mine, hops), fetch(theirs, &reference_hops));
        let (Ok(Some(mine)), Ok(Some(theirs))) = (mine, theirs) else {
            self.metrics.sample("no_verdict");
            return;
        };
        let matched = mine == theirs;
        self.metrics
            .sample(if matched { "match" } else { "mismatch" });
        report.sampled = Some((i, matched));
        if !matched {
            let end = start + len - 1;
            if let Some((_, o)) = report.results.iter_mut().find(|(j, _)| *j == i) {
                *o = Outcome::unhealthy(Reason::ContentMismatch(start, end));
            }
        }
    }
}

/// `base URL + path`, with `:lang` replaced by the probe language. The base URL may carry
/// a path of its own (`https://host/pub/mozilla.org`), so this concatenates, not joins.
pub fn probe_url(base: &str, path: &str, lang: &str) -> Result<Url, Reason> {
    joined_url(base, &path.replace(":lang", lang))
}

fn joined_url(base: &str, path: &str) -> Result<Url, Reason> {
    let raw = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    Url::parse(&raw).map_err(|_| Reason::BadUrl(raw))
}

/// A mirror's base URL parsed once, for the probe URLs of all its locations: the same
/// URLs as [`probe_url`], without parsing the scheme and host again for every location
/// (a good part of a probe's CPU against a fast mirror). Taken only where that is exactly
/// [`probe_url`]'s result: a base URL already in its parsed form with no query or fragment,
/// and a path of printable ASCII without `?`, `#`, `\` or a trailing space; anything else
/// goes through [`probe_url`].
pub struct ProbeBase<'a> {
    raw: &'a str,
    parsed: Option<Url>,
}

impl<'a> ProbeBase<'a> {
    pub fn new(raw: &'a str) -> Self {
        let parsed = Url::parse(raw).ok().filter(|u| {
            let canonical = u.as_str() == raw || u.as_str().strip_suffix('/') == Some(raw);
            canonical && u.query().is_none() && u.fragment().is_none() && !u.cannot_be_a_base()
        });
        Self { raw, parsed }
    }

    pub fn url(&self, path: &str, lang: &str) -> Result<Url, Reason> {
        let path = path.replace(":lang", lang);
        let plain =
            |b: u8| (b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'\\')) || b == b' ';
        match &self.parsed {
            Some(base) if path.bytes().all(plain) && !path.ends_with(' ') => {
                let mut url = base.clone();
                let joined = format!(
                    "{}/{}",
                    base.path().trim_end_matches('/'),
                    path.trim_start_matches('/')
                );
                url.set_path(&joined);
                Ok(url)
            }
            _ => joined_url(self.raw, &path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_urls_keep_the_base_path_and_substitute_the_language() {
        let u = probe_url(
            "https://m.example/pub/",
            "/firefox/1.0/win/:lang/Setup.exe",
            "en-US",
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            "https://m.example/pub/firefox/1.0/win/en-US/Setup.exe"
        );
        assert!(matches!(
            probe_url("not a url", "/a", "en-US"),
            Err(Reason::BadUrl(_))
        ));
    }

    /// The parsed-once base gives exactly the URLs of [`probe_url`], and falls back to it
    /// where it could not.
    #[test]
    fn probe_base_urls_are_probe_urls() {
        let bases = [
            "http://127.0.0.2:8080/",
            "http://127.0.0.2:8080",
            "https://m.example/pub/mozilla.org/",
            "https://m.example/pub/mozilla.org",
            "http://[::1]:80/",
            "http://M.Example/",
            "http://m.example/pub/?x=1",
            "http://m.example/pub/ ",
            "http://m.example//",
            "ftp://m.example/pub",
            "not a url",
        ];
        let paths = [
            "/firefox/releases/1.0/win32/:lang/Firefox Setup 1.0.exe",
            "firefox/1.0/:lang/a.exe",
            "/a/../b/./c.exe",
            "/a/%20b%zz/ü.exe",
            "/a?b=1",
            "/a#frag",
            "/a\\b",
            "/a/b ",
            "",
            "//double//slash",
            "/a\tb",
        ];
        for base in bases {
            let b = ProbeBase::new(base);
            for path in paths {
                let fast = b.url(path, "en-US").map(|u| u.to_string());
                let slow = probe_url(base, path, "en-US").map(|u| u.to_string());
                assert_eq!(fast, slow, "{base} + {path}");
            }
        }
        assert!(ProbeBase::new("http://127.0.0.2:8080/").parsed.is_some());
        assert!(ProbeBase::new("http://M.Example/").parsed.is_none());
    }
}
