//! Weighted choice by cumulative sums and binary search: O(n) to build, O(log n) a pick.

/// Items with positive integer weights; picks item `i` with probability `w_i / Σw`.
#[derive(Debug, Clone)]
pub struct WeightedIndex<T> {
    items: Vec<T>,
    /// `cumulative[i]` = sum of weights `0..=i`; strictly increasing (zero weights are dropped).
    cumulative: Vec<u64>,
}

impl<T> Default for WeightedIndex<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            cumulative: Vec::new(),
        }
    }
}

impl<T> WeightedIndex<T> {
    /// Builds the index; items of weight 0 are left out so they can never be picked. Sums
    /// saturate, so huge weights cannot overflow (an item past saturation is unreachable,
    /// which needs a total beyond 2^64 and so cannot come from `i32` ratings).
    pub fn new(weighted: impl IntoIterator<Item = (T, u64)>) -> Self {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total: u64 = 0;
        for (item, w) in weighted {
            if w == 0 {
                continue;
            }
            let next = total.saturating_add(w);
            if next == total {
                break;
            }
            total = next;
            items.push(item);
            cumulative.push(total);
        }
        Self { items, cumulative }
    }

    /// Sum of all weights.
    pub fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// Number of pickable items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing can be picked.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Picks using `entropy`, a uniformly distributed 64-bit value. The value is scaled to
    /// `[0, total)` by multiply-shift, which has no modulo bias worth measuring.
    pub fn pick(&self, entropy: u64) -> Option<&T> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let point = ((u128::from(entropy) * u128::from(total)) >> 64) as u64;
        let i = self.cumulative.partition_point(|&c| c <= point);
        self.items.get(i)
    }

    /// Iterates over items with their weights.
    pub fn iter(&self) -> impl Iterator<Item = (&T, u64)> {
        let mut prev = 0;
        self.items.iter().zip(&self.cumulative).map(move |(t, &c)| {
            let w = c - prev;
            prev = c;
            (t, w)
        })
    }
}
