//! Proximity from measurements (issue 32): how the round trips sentry's vantages measured
//! from a region to each mirror weigh that region's candidates (`bounce.proximity`).
//! Geography stays the prior: a mirror with too few samples keeps its weight, and so does
//! every mirror when none is measured. Pure; bounce applies it when it builds a region's
//! index, so a redirect pays nothing for it.

use serde::{Deserialize, Serialize};

/// What measured proximity does to a region's candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proximity {
    /// Weights as configured (geography only).
    #[default]
    Off,
    /// Mirrors within [`NEAR_PERCENT`] of the best measured keep their weight; the others
    /// keep a hundredth of it (at least 1), so they serve only when the near ones cannot.
    Prefer,
    /// Every measured mirror's weight scaled by best / its own (at least 1).
    Blend,
}

/// "Near": at most this share of the best measured time (150 %: within 1.5 ×).
pub const NEAR_PERCENT: i64 = 150;

/// What a region's vantages measured of one mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measured {
    /// The nearest vantage's smoothed time to first byte, µs.
    pub ttfb_us: i32,
    pub samples: i32,
}

/// The best (lowest) trusted time among `measured` (those with `min_samples` or more).
pub fn best(measured: impl IntoIterator<Item = Measured>, min_samples: i32) -> Option<i32> {
    measured
        .into_iter()
        .filter(|m| m.samples >= min_samples)
        .map(|m| m.ttfb_us.max(1))
        .min()
}

/// A candidate's rating under `mode`, given its measurement and the region's `best`.
pub fn weigh(
    mode: Proximity,
    rating: i32,
    own: Option<Measured>,
    best: Option<i32>,
    min_samples: i32,
) -> i32 {
    let (Some(own), Some(best)) = (own.filter(|m| m.samples >= min_samples), best) else {
        return rating;
    };
    if rating <= 0 {
        return rating;
    }
    let (r, own, best) = (
        i64::from(rating),
        i64::from(own.ttfb_us.max(1)),
        i64::from(best),
    );
    let weighed = match mode {
        Proximity::Off => r,
        Proximity::Prefer if own * 100 <= best * NEAR_PERCENT => r,
        Proximity::Prefer => r / 100,
        Proximity::Blend => (r * best + own - 1) / own,
    };
    i32::try_from(weighed.max(1)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(ttfb_us: i32, samples: i32) -> Option<Measured> {
        Some(Measured { ttfb_us, samples })
    }

    #[test]
    fn prefer_keeps_the_near_and_blend_scales() {
        let top = Some(10_000);
        assert_eq!(weigh(Proximity::Prefer, 100, m(14_000, 5), top, 3), 100);
        assert_eq!(weigh(Proximity::Prefer, 100, m(16_000, 5), top, 3), 1);
        assert_eq!(weigh(Proximity::Blend, 100, m(20_000, 5), top, 3), 50);
        assert_eq!(weigh(Proximity::Blend, 100, m(10_000, 5), top, 3), 100);
        // Too few samples, or nothing measured: geography decides.
        assert_eq!(weigh(Proximity::Prefer, 100, m(90_000, 2), top, 3), 100);
        assert_eq!(weigh(Proximity::Blend, 100, None, top, 3), 100);
        assert_eq!(weigh(Proximity::Blend, 100, m(90_000, 5), None, 3), 100);
        assert_eq!(
            best(
                [
                    Measured {
                        ttfb_us: 5,
                        samples: 1
                    },
                    Measured {
                        ttfb_us: 9,
                        samples: 3
                    }
                ],
                3
            ),
            Some(9)
        );
    }

    proptest! {
        /// Off changes nothing; a served mirror is never weighed out; of two mirrors of one
        /// rating, the nearer never weighs less.
        #[test]
        fn weighing_is_monotone_and_keeps_everyone(
            rating in 1i32..100_000, a in 1i32..1_000_000, b in 1i32..1_000_000,
            samples in 0i32..10, mode in prop_oneof![Just(Proximity::Off), Just(Proximity::Prefer), Just(Proximity::Blend)],
        ) {
            let top = best([Measured { ttfb_us: a, samples }, Measured { ttfb_us: b, samples }], 3);
            let (wa, wb) = (weigh(mode, rating, m(a, samples), top, 3), weigh(mode, rating, m(b, samples), top, 3));
            prop_assert!(wa >= 1 && wb >= 1);
            if mode == Proximity::Off { prop_assert!(wa == rating && wb == rating); }
            if a <= b { prop_assert!(wa >= wb); }
            prop_assert!(wa <= rating && wb <= rating);
        }
    }
}
