//! Download statistics, counted on the request path with no I/O: each worker thread
//! adds a redirect's [`Download`] to its own [`Shard`] (a lock nobody else takes except
//! the drain, every few seconds), keyed by ids and small copies, so counting allocates
//! only for a combination the worker has not seen this interval. Memory is bounded by
//! `bounce.stats_max_counts` per shard: past it, new combinations count under one
//! "other" key of their minute (still counted, less detailed). Only redirects to a file
//! are downloads; which ones is decided by the caller (GET, not `print=yes`: see
//! `routes`). A download manager resuming a file asks again with a `Range` header: such a
//! request for a file the same client got within `bounce.stats_range_window_secs` is not
//! counted again. The client is remembered as a salted hash of its address and the file
//! (the salt is random per process and never leaves it), in one bounded cache the workers
//! share (a resume may reach another worker than the first request did). A download whose
//! User-Agent matches the bot mask (`bounce.stats_bots`, one Aho-Corasick automaton built
//! at start) is counted as a bot's, under keys of its own; the User-Agent is not kept.
//! `shipping` sends what the shards hold.

use crate::outcome::{Download, Lang, Served};
use aho_corasick::AhoCorasick;
use bouncer_core::hash::stable_hash;
use bouncer_core::networks::{Code, Family};
use bouncer_core::stats::Tally;
use hashbrown::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What one count is kept under: a download's dimensions and its minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// Unix minutes.
    pub minute: u32,
    /// Product and OS ids; 0 for [`Key::other`].
    pub product: i32,
    pub os: i32,
    pub lang: Lang,
    pub served: Served,
    pub country: Option<Code>,
    pub family: Option<Family>,
    pub https: bool,
    /// The User-Agent matched the bot mask.
    pub bot: bool,
}

impl Key {
    fn of(d: &Download, minute: u32, bot: bool) -> Self {
        Key {
            minute,
            product: d.product,
            os: d.os,
            lang: d.lang,
            served: d.served,
            country: d.country,
            family: d.family,
            https: d.https,
            bot,
        }
    }

    /// The key of whatever did not fit in `minute`.
    pub fn other(minute: u32) -> Self {
        Key {
            minute,
            product: 0,
            os: 0,
            lang: Lang::OTHER,
            served: Served::Mirror(0),
            country: None,
            family: None,
            https: false,
            bot: false,
        }
    }

    pub fn is_other(&self) -> bool {
        self.product == 0
    }
}

/// Counts by key.
pub type Counts = HashMap<Key, Tally>;

/// Adds `tally` under `key`, or under its minute's other key when `counts` is full.
pub fn add(counts: &mut Counts, key: Key, tally: Tally, max: usize) {
    if let Some(t) = counts.get_mut(&key) {
        return t.add(tally);
    }
    let key = match counts.len() < max {
        true => key,
        false => Key::other(key.minute),
    };
    counts.entry(key).or_default().add(tally);
}

/// Clients remembered for the `Range` rule (about 40 bytes each).
const SEEN: usize = 200_000;

/// The clients counted lately, by the hash of client and file (see the module docs).
type Seen = quick_cache::sync::Cache<u64, Instant>;

/// What decides a count, the same for every worker (built once at start).
struct Rules {
    seen: Seen,
    max: usize,
    window: Duration,
    /// Keys the clients' hashes; random per process.
    salt: u64,
    bots: AhoCorasick,
    /// Counts are kept for the drain (there is one: `AppState::shipping`); without it a
    /// download is only decided on (for the access log).
    keep: bool,
}

/// Every worker's shard, for the drain.
pub struct Tallies {
    shards: Mutex<Vec<Arc<Mutex<Counts>>>>,
    rules: Arc<Rules>,
}

impl Tallies {
    /// `max`: `bounce.stats_max_counts`; `window`: `bounce.stats_range_window_secs`;
    /// `bots`: `bounce.stats_bots`.
    pub fn new(max: usize, window: Duration, bots: &[String]) -> Result<Self, String> {
        let bots = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(bots)
            .map_err(|e| format!("bounce.stats_bots: {e}"))?;
        let rules = Rules {
            seen: Seen::new(SEEN),
            max,
            window,
            salt: rand::random(),
            bots,
            keep: true,
        };
        Ok(Self {
            shards: Mutex::new(Vec::new()),
            rules: Arc::new(rules),
        })
    }

    /// Decides what counts without keeping counts (nothing drains them); before any
    /// shard is made.
    pub fn deciding_only(mut self) -> Self {
        if let Some(rules) = Arc::get_mut(&mut self.rules) {
            rules.keep = false;
        }
        self
    }

    /// A new worker's shard.
    pub fn shard(&self) -> Shard {
        let counts = Arc::new(Mutex::new(Counts::new()));
        if let Ok(mut shards) = self.shards.lock() {
            shards.push(Arc::clone(&counts));
        }
        Shard {
            counts,
            rules: Arc::clone(&self.rules),
        }
    }

    /// What every shard counted since the last call (each shard's counts are swapped for
    /// an empty map under its lock: a worker waits at most for one swap).
    pub fn take(&self) -> Vec<Counts> {
        let shards = match self.shards.lock() {
            Ok(s) => s.clone(),
            Err(_) => return Vec::new(),
        };
        shards
            .iter()
            .filter_map(|s| s.lock().ok().map(|mut c| std::mem::take(&mut *c)))
            .collect()
    }
}

/// One worker's counts (its app data; see [`Tallies::shard`]).
#[derive(Clone)]
pub struct Shard {
    counts: Arc<Mutex<Counts>>,
    rules: Arc<Rules>,
}

impl Shard {
    /// Counts one download now, unless it is a `Range` request (`ranged`) for a file
    /// this client got within the window; as a bot's when `user_agent` matches the mask.
    /// The key it counted under, if it counted.
    pub fn record(
        &self,
        d: &Download,
        client: Option<IpAddr>,
        ranged: bool,
        user_agent: &[u8],
    ) -> Option<Key> {
        let minute = now_minutes();
        let tally = Tally {
            downloads: 1,
            bytes: d.bytes,
        };
        if let Some(ip) = client.filter(|_| !self.rules.window.is_zero()) {
            let who = self.client_file(ip, d);
            let now = Instant::now();
            let recent = self
                .rules
                .seen
                .get(&who)
                .is_some_and(|at| now.duration_since(at) < self.rules.window);
            if ranged && recent {
                return None;
            }
            self.rules.seen.insert(who, now);
        }
        let key = Key::of(d, minute, self.rules.bots.is_match(user_agent));
        let kept = self.rules.keep.then(|| self.counts.lock().ok()).flatten();
        if let Some(mut counts) = kept {
            add(&mut counts, key, tally, self.rules.max);
        }
        Some(key)
    }

    /// The salted hash of a client and a file.
    fn client_file(&self, ip: IpAddr, d: &Download) -> u64 {
        let ip = match ip {
            IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            IpAddr::V6(a) => a.octets(),
        };
        let (product, os) = (d.product.to_be_bytes(), d.os.to_be_bytes());
        let parts: [&[u8]; 5] = [
            &self.rules.salt.to_be_bytes(),
            &ip,
            &product,
            &os,
            d.lang.as_str().as_bytes(),
        ];
        stable_hash(&parts)
    }
}

fn now_minutes() -> u32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    u32::try_from(secs / 60).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn download(product: i32) -> Download {
        Download {
            product,
            os: 1,
            lang: Lang::new("de"),
            served: Served::Cdn,
            country: None,
            client: None,
            family: None,
            https: true,
            bytes: 10,
        }
    }

    #[test]
    fn a_full_shard_counts_new_combinations_as_other() {
        let tallies = Tallies::new(2, Duration::from_secs(3600), &[]).unwrap();
        let shard = tallies.shard();
        for product in [1, 2, 3, 4, 1] {
            shard.record(&download(product), None, false, b"");
        }
        let counts: Vec<Counts> = tallies.take();
        let merged = &counts[0];
        assert_eq!(merged.len(), 3, "two keys and the other one");
        let total: u64 = merged.values().map(|t| t.downloads).sum();
        assert_eq!(total, 5, "nothing lost");
        let other: u64 = merged
            .iter()
            .filter(|(k, _)| k.is_other())
            .map(|(_, t)| t.downloads)
            .sum();
        assert_eq!(other, 2);
        assert!(tallies.take()[0].is_empty(), "taken means gone");
    }

    #[test]
    fn a_client_resuming_a_file_counts_once() {
        let tallies = Tallies::new(100, Duration::from_secs(3600), &[]).unwrap();
        let (shard, other_worker) = (tallies.shard(), tallies.shard());
        let (a, b) = ("192.0.2.1".parse().ok(), "192.0.2.2".parse().ok());
        let d = download(1);
        shard.record(&d, a, false, b""); // counted
        other_worker.record(&d, a, true, b""); // a resume, on another worker: not counted
        shard.record(&d, a, true, b"");
        shard.record(&d, b, true, b""); // another client's first: counted
        shard.record(&d, a, false, b""); // a new GET without Range: counted
        shard.record(&download(2), a, true, b""); // another file: counted
        let total: u64 = tallies
            .take()
            .iter()
            .flat_map(|c| c.values())
            .map(|t| t.downloads)
            .sum();
        assert_eq!(total, 4);
        let off = Tallies::new(100, Duration::ZERO, &[]).unwrap();
        let shard = off.shard();
        shard.record(&d, a, false, b"");
        shard.record(&d, a, true, b"");
        let total: u64 = off.take()[0].values().map(|t| t.downloads).sum();
        assert_eq!(total, 2, "window 0: every request counts");
    }

    #[test]
    fn a_crawler_counts_in_its_own_bucket() {
        let bots = ["bot".to_owned(), "spider".to_owned()];
        let tallies = Tallies::new(100, Duration::ZERO, &bots).unwrap();
        let shard = tallies.shard();
        let d = download(1);
        let firefox = b"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:130.0) Firefox/130.0";
        shard.record(&d, None, false, firefox);
        shard.record(&d, None, false, b"Wget/1.21");
        shard.record(&d, None, false, b"Mozilla/5.0 (compatible; Googlebot/2.1)");
        shard.record(&d, None, false, b"Baiduspider");
        let mut by_agent: Vec<(bool, u64)> = tallies.take()[0]
            .iter()
            .map(|(k, t)| (k.bot, t.downloads))
            .collect();
        by_agent.sort();
        assert_eq!(by_agent, [(false, 2), (true, 2)], "case ignored: GoogleBot");
    }
}
