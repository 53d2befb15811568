//! Checking one mirror: DNS, base URL, then every location, within the global and the
//! per-mirror concurrency limits and the mirror's deadline. A mirror that hangs only
//! holds its own slots until its timeouts fire; the others go on.

use crate::metrics::Metrics;
use crate::probe::{self, Class, Outcome, Reason};
use bouncer_core::files::Observed;
use chrono::{NaiveDateTime, Utc};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use url::{Host, Url};

/// A mirror to check.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: i32,
    pub name: String,
    pub baseurl: String,
    /// A reference origin: what it says of each file is recorded (see `files::learn`).
    pub reference: bool,
}

/// A location to probe on every mirror.
#[derive(Debug, Clone)]
pub struct Loc {
    pub id: i32,
    pub path: String,
    /// The size the probed file has (operator's, or learned from the reference origin):
    /// a mirror answering another `Content-Length` does not have *that* file.
    pub expected_size: Option<u64>,
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
}

/// How many problems a log reason lists before summing up the rest.
const LISTED_PROBLEMS: usize = 10;

impl MirrorReport {
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
        s
    }
}

/// The probing half of a run, shared by every mirror task.
pub struct Checker {
    pub client: reqwest::Client,
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
}

impl Checker {
    /// Checks one mirror against `locs` (and samples its bytes against `reference`, the
    /// reference origin's base URL); never fails — every problem is a result.
    pub async fn check_mirror(
        self: Arc<Self>,
        target: Target,
        locs: Arc<[Loc]>,
        reference: Option<Arc<str>>,
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
        };
        match self.reachable(&target.baseurl).await {
            Err(reason) => report.wide = Some(reason),
            Ok(()) => {
                self.probe_locations(&target, &locs, deadline, &mut report)
                    .await;
                if let Some(reference) = reference.filter(|r| **r != *target.baseurl) {
                    let sample = self.sample(&target.baseurl, &reference, &locs, &mut report);
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

    /// DNS (skipped for IP literals) and the base URL: a 5xx or no answer fails the mirror.
    async fn reachable(&self, baseurl: &str) -> Result<(), Reason> {
        let url = Url::parse(baseurl).map_err(|_| Reason::BadUrl(baseurl.to_owned()))?;
        let host = match url.host() {
            Some(Host::Domain(d)) => Some(d.to_owned()),
            Some(_) => None,
            None => return Err(Reason::BadUrl(baseurl.to_owned())),
        };
        if let Some(host) = host {
            let port = url.port_or_known_default().unwrap_or(80);
            let resolved = {
                let _permit = self.global.acquire().await;
                let lookup = tokio::net::lookup_host((host.as_str(), port));
                match tokio::time::timeout(self.request_timeout, lookup).await {
                    Ok(Ok(mut addrs)) => addrs.next().is_some(),
                    _ => false,
                }
            };
            if !resolved {
                return Err(Reason::Dns(host));
            }
        }
        let outcome = self.probe(url).await;
        match outcome.reason {
            Reason::Ok | Reason::SoftNotFound => Ok(()),
            Reason::Status(s) if s < 500 => Ok(()),
            other => Err(other),
        }
    }

    async fn probe_locations(
        &self,
        target: &Target,
        locs: &[Loc],
        deadline: tokio::time::Instant,
        report: &mut MirrorReport,
    ) {
        let mut pending = futures_util::stream::FuturesUnordered::new();
        let mut next = 0;
        loop {
            while pending.len() < self.per_mirror && next < locs.len() {
                pending.push(self.probe_location(&target.baseurl, &locs[next], next));
                next += 1;
            }
            match tokio::time::timeout_at(deadline, pending.next()).await {
                Ok(Some((i, outcome, seen))) => {
                    if target.reference && outcome.class == Class::Healthy {
                        report.observed.push((i, seen));
                    }
                    report.results.push((i, outcome));
                }
                Ok(None) => break,
                Err(_) => {
                    report.deadline_hit = true;
                    break;
                }
            }
        }
        if report.deadline_hit {
            let mut done = vec![false; locs.len()];
            for (i, _) in &report.results {
                done[*i] = true;
            }
            for (i, _) in done.iter().enumerate().filter(|(_, d)| !**d) {
                self.metrics
                    .check(Class::Unhealthy, Reason::Deadline.kind());
                report
                    .results
                    .push((i, Outcome::unhealthy(Reason::Deadline)));
            }
        }
        report.results.sort_by_key(|(i, _)| *i);
    }

    /// Probes one location; a healthy answer with another size than the file has is
    /// unhealthy (the mirror has a file of that name, not that file).
    async fn probe_location(
        &self,
        baseurl: &str,
        loc: &Loc,
        index: usize,
    ) -> (usize, Outcome, Observed) {
        let (outcome, seen) = match probe_url(baseurl, &loc.path, &self.probe_lang) {
            Ok(url) => self.probe_seen(url, loc.expected_size).await,
            Err(reason) => (Outcome::unhealthy(reason), Observed::default()),
        };
        (index, outcome, seen)
    }

    /// One HEAD under the global limit, counted in the metrics.
    async fn probe(&self, url: Url) -> Outcome {
        self.probe_seen(url, None).await.0
    }

    async fn probe_seen(&self, url: Url, expected_size: Option<u64>) -> (Outcome, Observed) {
        let _permit = self.global.acquire().await;
        let clock = Instant::now();
        let (mut outcome, seen) = probe::head(&self.client, url).await;
        if let (Class::Healthy, Some(want), Some(got)) = (outcome.class, expected_size, seen.size) {
            let got = u64::try_from(got).unwrap_or(0);
            if got != want {
                outcome = Outcome::unhealthy(Reason::SizeMismatch(got, want));
            }
        }
        self.metrics
            .check_seconds
            .observe(clock.elapsed().as_secs_f64());
        self.metrics.check(outcome.class, outcome.reason.kind());
        (outcome, seen)
    }

    /// Sampled content verification: one random slice of one random healthy file of
    /// known size, fetched from the mirror and from the reference origin and compared
    /// byte for byte. A difference makes that file unhealthy on the mirror; a mirror or
    /// reference that does not serve ranges, or fails, gives no verdict.
    async fn sample(&self, base: &str, reference: &str, locs: &[Loc], report: &mut MirrorReport) {
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
        let fetch = |url| async move {
            let _permit = self.global.acquire().await;
            probe::range(&self.client, url, start, len).await
        };
        let (mine, theirs) = tokio::join!(fetch(mine), fetch(theirs));
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
    let path = path.replace(":lang", lang);
    let raw = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    Url::parse(&raw).map_err(|_| Reason::BadUrl(raw))
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
