//! How many bytes of formatted `Link` values each worker keeps: the instance's budget
//! (`bounce.link_cache_mb`) split evenly across the worker threads.
//!
//! Each worker keeps its own copies (see `links`), so a budget per worker multiplied with
//! the cores: at 20,000 keys of about 3 KB per worker, a 2-core instance held 120 MB and a
//! 16-core one nearly a gigabyte. A budget per instance says what it costs whatever the
//! machine.

use std::num::NonZeroUsize;

/// Bytes in a MiB.
const MIB: u64 = 1 << 20;

/// What a typical key costs (five values of up to 360 bytes, the key and the digests):
/// only sizes the table up front; the budget is kept by weight.
pub const TYPICAL_ENTRY_BYTES: u64 = 2 * 1024;

/// The worker threads actix-web starts when none is set, as `bouncer_service` leaves it:
/// one per available core (actix-server's own default, 2 when unknown).
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, NonZeroUsize::get)
}

/// One worker's byte budget: the instance's `mb` MiB over `workers` threads, at least one
/// typical entry (a budget below one entry would cache nothing and format every
/// redirect's values).
pub fn per_worker(mb: u64, workers: usize) -> u64 {
    let workers = u64::try_from(workers.max(1)).unwrap_or(u64::MAX);
    (mb.saturating_mul(MIB) / workers).max(TYPICAL_ENTRY_BYTES)
}

/// The table's initial size for a budget: the keys it holds at the typical size.
pub fn estimated_keys(budget: u64) -> usize {
    usize::try_from(budget / TYPICAL_ENTRY_BYTES)
        .unwrap_or(usize::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_budget_is_split_across_workers() {
        assert_eq!(per_worker(128, 2), 64 * MIB);
        assert_eq!(per_worker(128, 16), 8 * MIB);
        assert_eq!(per_worker(100, 3), 100 * MIB / 3);
        assert_eq!(per_worker(128, 0), 128 * MIB, "no worker count: one worker");
        assert_eq!(per_worker(1, 100_000), TYPICAL_ENTRY_BYTES, "never empty");
        assert_eq!(per_worker(u64::MAX, 1), u64::MAX, "saturates");
        let total: u64 = (0..16).map(|_| per_worker(128, 16)).sum();
        assert!(total <= 128 * MIB);
    }

    #[test]
    fn the_table_is_sized_for_typical_keys() {
        assert_eq!(estimated_keys(64 * MIB), 32_768);
        assert_eq!(estimated_keys(0), 1);
    }
}
