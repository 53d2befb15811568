//! Download statistics, counted on the request path with no I/O: each worker thread
//! adds a redirect's [`Download`] to its own [`Shard`] (a lock nobody else takes except
//! the drain, every few seconds), keyed by ids and small copies, so counting allocates
//! only for a combination the worker has not seen this interval. Memory is bounded by
//! `bounce.stats_max_counts` per shard: past it, new combinations count under one
//! "other" key of their minute (still counted, less detailed). Only redirects to a file
//! are downloads; which ones is decided by the caller (GET, not `print=yes`: see
//! `routes`). `shipping` sends what the shards hold.

use crate::outcome::{Download, Lang, Served};
use bouncer_core::networks::{Code, Family};
use bouncer_core::stats::Tally;
use hashbrown::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

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
}

impl Key {
    fn of(d: &Download, minute: u32) -> Self {
        Key {
            minute,
            product: d.product,
            os: d.os,
            lang: d.lang,
            served: d.served,
            country: d.country,
            family: d.family,
            https: d.https,
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

/// Every worker's shard, for the drain.
pub struct Tallies {
    shards: Mutex<Vec<Arc<Mutex<Counts>>>>,
    max: usize,
}

impl Tallies {
    pub fn new(max: usize) -> Self {
        Self {
            shards: Mutex::new(Vec::new()),
            max,
        }
    }

    /// A new worker's shard.
    pub fn shard(&self) -> Shard {
        let counts = Arc::new(Mutex::new(Counts::new()));
        if let Ok(mut shards) = self.shards.lock() {
            shards.push(Arc::clone(&counts));
        }
        Shard {
            counts,
            max: self.max,
        }
    }

    /// What every shard counted since the last call, merged (each shard is swapped for an
    /// empty map under its lock: a worker waits at most for one swap).
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
    max: usize,
}

impl Shard {
    /// Counts one download now.
    pub fn record(&self, d: &Download) {
        let minute = now_minutes();
        let tally = Tally {
            downloads: 1,
            bytes: d.bytes,
        };
        if let Ok(mut counts) = self.counts.lock() {
            add(&mut counts, Key::of(d, minute), tally, self.max);
        }
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
            family: None,
            https: true,
            bytes: 10,
        }
    }

    #[test]
    fn a_full_shard_counts_new_combinations_as_other() {
        let tallies = Tallies::new(2);
        let shard = tallies.shard();
        for product in [1, 2, 3, 4, 1] {
            shard.record(&download(product));
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
}
