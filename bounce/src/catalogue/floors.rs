//! The generation of the last change to each location's mirror rows: rows read before it
//! (by another instance into memcached, or by a request that began before the change) are
//! not served. Bounded by the number of locations, never by the traffic.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::RwLock;

#[derive(Default)]
pub struct Floors {
    /// Below this, no rows are trusted (a change to every location, or the oldest
    /// generation the change log still covers at start).
    all: AtomicI64,
    per_location: RwLock<HashMap<i32, i64>>,
}

impl Floors {
    /// The oldest generation rows of `location` may have been read at and still be served.
    pub fn get(&self, location: i32) -> i64 {
        let own = self
            .per_location
            .read()
            .map_or(i64::MAX, |m| m.get(&location).copied().unwrap_or(0));
        own.max(self.all.load(Ordering::Acquire))
    }

    pub fn raise(&self, location: i32, generation: i64) {
        match self.per_location.write() {
            Ok(mut m) => {
                let at = m.entry(location).or_insert(generation);
                *at = (*at).max(generation);
            }
            Err(_) => self.raise_all(generation),
        }
    }

    pub fn raise_all(&self, generation: i64) {
        self.all.fetch_max(generation, Ordering::AcqRel);
    }

    /// Replaces everything (a full load at start or after an unknown write).
    pub fn reset(&self, all: i64, per_location: impl IntoIterator<Item = (i32, i64)>) {
        if let Ok(mut m) = self.per_location.write() {
            *m = per_location.into_iter().collect();
        }
        self.all.fetch_max(all, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_floor_is_the_larger_of_its_own_and_the_common_one() {
        let f = Floors::default();
        assert_eq!(f.get(1), 0);
        f.raise(1, 7);
        f.raise(1, 5);
        assert_eq!(f.get(1), 7, "never lowered");
        assert_eq!(f.get(2), 0);
        f.raise_all(9);
        assert_eq!(f.get(1), 9);
        f.reset(3, [(2, 12)]);
        assert_eq!((f.get(1), f.get(2)), (9, 12));
    }
}
