//! Weighted mirror selection with regions (spec `bounce.md` part B), on plain data.
//!
//! Nothing here knows about diesel or HTTP: bounce loads rows, builds a
//! [`LocationMirrors`] once per location (and caches it), then each request costs one
//! hash-map lookup per scope and a binary search.

mod region;
mod weighted;

pub use region::{scopes, RegionId, RegionPolicy, Scope};
pub use weighted::WeightedIndex;

use crate::hash::mix64;
use std::collections::HashMap;
use std::sync::Arc;

/// One mirror's row for one location, as loaded from the database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MirrorCandidate {
    pub mirror_id: i32,
    pub base_url: Arc<str>,
    pub rating: i32,
    /// `mirror_mirrors.active`.
    pub mirror_active: bool,
    /// `mirror_location_mirror_map.active`: the file is on the mirror.
    pub location_active: bool,
    /// `mirror_location_mirror_map.healthy`: sentry found it serving.
    pub healthy: bool,
    /// Regions the mirror belongs to (may be several, or none).
    pub regions: Vec<RegionId>,
}

impl MirrorCandidate {
    /// Whether users may be sent here at all.
    pub fn eligible(&self) -> bool {
        self.mirror_active && self.location_active && self.healthy && self.rating > 0
    }
}

/// The mirror a request is sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub mirror_id: i32,
    pub base_url: Arc<str>,
}

/// Weighted indexes of one location's eligible mirrors, per scope and scheme, built once.
#[derive(Debug, Default, Clone)]
pub struct LocationMirrors {
    /// Unique per build: what a cache of values derived from this index is keyed by.
    pub id: u64,
    mirrors: Vec<Chosen>,
    global: Schemes,
    regions: HashMap<RegionId, Schemes>,
}

/// The same candidates twice: all schemes, and https only; each also ranked by weight
/// (heaviest first), the order alternatives are offered in.
#[derive(Debug, Default, Clone)]
struct Schemes {
    any: WeightedIndex<u32>,
    https: WeightedIndex<u32>,
    ranked_any: Vec<u32>,
    ranked_https: Vec<u32>,
}

impl Schemes {
    fn build(members: &[(u32, u64, bool)]) -> Self {
        let ranked = |https_only: bool| {
            let mut m: Vec<(u32, u64)> = members
                .iter()
                .filter(|&&(_, w, https)| w > 0 && (https || !https_only))
                .map(|&(i, w, _)| (i, w))
                .collect();
            m.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            m.into_iter().map(|(i, _)| i).collect()
        };
        Self {
            any: WeightedIndex::new(members.iter().map(|&(i, w, _)| (i, w))),
            https: WeightedIndex::new(
                members
                    .iter()
                    .filter(|&&(_, _, https)| https)
                    .map(|&(i, w, _)| (i, w)),
            ),
            ranked_any: ranked(false),
            ranked_https: ranked(true),
        }
    }

    fn get(&self, https_only: bool) -> &WeightedIndex<u32> {
        if https_only {
            &self.https
        } else {
            &self.any
        }
    }

    fn ranked(&self, https_only: bool) -> &[u32] {
        if https_only {
            &self.ranked_https
        } else {
            &self.ranked_any
        }
    }
}

impl LocationMirrors {
    /// Keeps eligible candidates only, each mirror once (its regions merged), and builds
    /// the indexes. A mirror in N regions keeps its own weight in the global scope.
    pub fn build(candidates: impl IntoIterator<Item = MirrorCandidate>) -> Self {
        let mut seen: HashMap<i32, usize> = HashMap::new();
        let mut kept: Vec<MirrorCandidate> = Vec::new();
        for c in candidates.into_iter().filter(MirrorCandidate::eligible) {
            match seen.get(&c.mirror_id) {
                Some(&at) => kept[at].regions.extend(c.regions),
                None => {
                    seen.insert(c.mirror_id, kept.len());
                    kept.push(c);
                }
            }
        }
        let mut global = Vec::with_capacity(kept.len());
        let mut by_region: HashMap<RegionId, Vec<(u32, u64, bool)>> = HashMap::new();
        let mut mirrors = Vec::with_capacity(kept.len());
        for (i, c) in kept.iter_mut().enumerate() {
            let Ok(idx) = u32::try_from(i) else { break };
            let entry = (idx, weight(c.rating), is_https(&c.base_url));
            global.push(entry);
            c.regions.sort_unstable();
            c.regions.dedup();
            for r in &c.regions {
                by_region.entry(*r).or_default().push(entry);
            }
            mirrors.push(Chosen {
                mirror_id: c.mirror_id,
                base_url: c.base_url.clone(),
            });
        }
        static BUILDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self {
            id: BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            mirrors,
            global: Schemes::build(&global),
            regions: by_region
                .into_iter()
                .map(|(r, m)| (r, Schemes::build(&m)))
                .collect(),
        }
    }

    /// Number of eligible mirrors.
    pub fn len(&self) -> usize {
        self.mirrors.len()
    }

    /// True when no mirror may serve this location.
    pub fn is_empty(&self) -> bool {
        self.mirrors.is_empty()
    }

    /// Tries `scopes` in order and picks by weight in the first that has a candidate.
    /// `entropy` is a random number, or a stable hash for deterministic answers.
    pub fn choose(&self, scopes: &[Scope], https_only: bool, entropy: u64) -> Option<&Chosen> {
        scopes.iter().find_map(|scope| {
            let schemes = match scope {
                Scope::Global => Some(&self.global),
                Scope::Region(r) => self.regions.get(r),
            }?;
            let idx = *schemes.get(https_only).pick(entropy)?;
            self.mirrors.get(idx as usize)
        })
    }

    /// Every eligible mirror in the order `scopes` prefers them (each scope heaviest
    /// first), without repeats: the order alternatives and mirror lists are offered in.
    pub fn ranked(&self, scopes: &[Scope], https_only: bool) -> Vec<&Chosen> {
        let mut seen = vec![false; self.mirrors.len()];
        let mut out = Vec::new();
        for scope in scopes {
            let schemes = match scope {
                Scope::Global => Some(&self.global),
                Scope::Region(r) => self.regions.get(r),
            };
            for &i in schemes.map_or(&[][..], |s| s.ranked(https_only)) {
                if let Some(slot) = seen.get_mut(i as usize).filter(|s| !**s) {
                    *slot = true;
                    out.extend(self.mirrors.get(i as usize));
                }
            }
        }
        out
    }

    /// [`Self::select`], also giving the scopes it tried (for the alternatives).
    pub fn select_scoped(
        &self,
        client_region: Option<&RegionPolicy>,
        https_only: bool,
        entropy: u64,
    ) -> (Option<&Chosen>, Vec<Scope>) {
        let roll = (mix64(entropy ^ 0x5bd1_e995) % 100) as u8;
        let scopes = scopes(client_region, roll);
        (self.choose(&scopes, https_only, entropy), scopes)
    }

    /// Region logic and pick in one: `client_region` is the policy of the client's region
    /// (if known). The same `entropy` always gives the same answer.
    pub fn select(
        &self,
        client_region: Option<&RegionPolicy>,
        https_only: bool,
        entropy: u64,
    ) -> Option<&Chosen> {
        // Derive the throttle roll from different bits than the pick, so that a client's
        // chance to stay in its region is independent of which mirror it would get there.
        let roll = (mix64(entropy ^ 0x5bd1_e995) % 100) as u8;
        self.choose(&scopes(client_region, roll), https_only, entropy)
    }
}

/// A rating as a weight: negative ratings count as zero.
fn weight(rating: i32) -> u64 {
    u64::try_from(rating).unwrap_or(0)
}

/// Whether a base URL is https (scheme compared case-insensitively).
pub fn is_https(base_url: &str) -> bool {
    base_url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

#[cfg(test)]
mod tests;
