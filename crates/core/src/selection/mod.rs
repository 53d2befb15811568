//! Weighted mirror selection with regions (spec `bounce.md` part B), on plain data.
//!
//! Nothing here knows about diesel or HTTP: bounce loads rows, builds a
//! [`LocationMirrors`] once per location (and caches it), then each request costs one
//! hash-map lookup per scope and a binary search.

pub mod proximity;
mod region;
mod weighted;

pub use proximity::{Measured, Proximity};
pub use region::{scopes, scopes_with, RegionId, RegionPolicy, Scope};
pub use weighted::WeightedIndex;

use crate::hash::mix64;
use crate::networks::{Code, NetList, NetworkMode};
// hashbrown's default hasher: a scope lookup runs on every redirect, and SipHash was
// most of its cost; keys are ids and codes from the catalogue, not from requests.
use hashbrown::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

/// Who a mirror is for beyond its regions (issue 16). The default: everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Reach {
    /// Continents of the mirror's regions (from their countries), for clients whose
    /// country has no region.
    pub continents: Vec<Code>,
    /// The networks it prefers or serves only, per `mode` (indexed: a client is matched
    /// in O(log n) however long the list).
    pub networks: Arc<NetList>,
    pub mode: NetworkMode,
    /// Countries it must not serve.
    pub excludes: Arc<[Code]>,
    /// The country it stands in, if the operator gave it (RFC 6249 `geo=`).
    pub country: Option<Code>,
    /// Set only in a client's variant of a set (see [`LocationMirrors::variant`]): the
    /// client is in one of the mirror's networks.
    pub matched: bool,
}

impl Reach {
    /// Whether the mirror's networks steer choice at all.
    pub fn networked(&self) -> bool {
        self.mode != NetworkMode::None && !self.networks.is_empty()
    }
}

/// One mirror's row for one location, as loaded from the database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
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
    pub reach: Reach,
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
    continents: HashMap<Code, Schemes>,
    /// A client's variant only: the mirrors whose networks hold the client.
    network: Option<Schemes>,
    /// The eligible candidates, by index: what a client's variant is built from.
    kept: Vec<MirrorCandidate>,
    /// Indexes of mirrors whose networks steer choice (`prefer` / `only`).
    networked: Vec<u32>,
    /// Every country some mirror of the set excludes.
    excluding: HashSet<Code>,
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
        let mut by_continent: HashMap<Code, Vec<(u32, u64, bool)>> = HashMap::new();
        let mut network = Vec::new();
        let mut networked = Vec::new();
        let mut excluding = HashSet::new();
        let mut mirrors = Vec::with_capacity(kept.len());
        for (i, c) in kept.iter_mut().enumerate() {
            let Ok(idx) = u32::try_from(i) else { break };
            let entry = (idx, weight(c.rating), is_https(&c.base_url));
            c.regions.sort_unstable();
            c.regions.dedup();
            c.reach.continents.sort_unstable();
            c.reach.continents.dedup();
            excluding.extend(c.reach.excludes.iter().copied());
            if c.reach.networked() {
                networked.push(idx);
            }
            if c.reach.matched {
                network.push(entry);
            }
            // A mirror that serves only its networks is in no other scope.
            if !(c.reach.networked() && c.reach.mode == NetworkMode::Only) {
                global.push(entry);
                for r in &c.regions {
                    by_region.entry(*r).or_default().push(entry);
                }
                for k in &c.reach.continents {
                    by_continent.entry(*k).or_default().push(entry);
                }
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
            regions: schemes(by_region),
            continents: schemes(by_continent),
            network: (!network.is_empty()).then(|| Schemes::build(&network)),
            kept,
            networked,
            excluding,
        }
    }

    /// Whether a client in `country` at `ip` (autonomous system `asn`) needs its own
    /// variant of this set: some mirror excludes its country, or some mirror's networks
    /// hold it. `None` — the common case, decided without allocating — means the set
    /// itself serves the client. `Some((country excluded, matched mirror indexes))` is
    /// the variant's key.
    pub fn variant_key(
        &self,
        country: Option<Code>,
        ip: Option<IpAddr>,
        asn: Option<u32>,
    ) -> Option<(Option<Code>, Vec<u32>)> {
        let excluded = country.filter(|c| self.excluding.contains(c));
        let matched: Vec<u32> = match ip {
            Some(ip) if !self.networked.is_empty() => self
                .networked
                .iter()
                .copied()
                .filter(|&i| {
                    self.kept
                        .get(i as usize)
                        .is_some_and(|c| c.reach.networks.contains(ip, asn))
                })
                .collect(),
            _ => Vec::new(),
        };
        (excluded.is_some() || !matched.is_empty()).then_some((excluded, matched))
    }

    /// The set as one client sees it (key from [`Self::variant_key`]): without the mirrors
    /// that exclude its country, with the mirrors whose networks hold it as a first scope
    /// ([`Scope::Network`]), weights kept. Built once per key and cached by the caller.
    pub fn variant(&self, excluded: Option<Code>, matched: &[u32]) -> Self {
        let candidates = self.kept.iter().enumerate().filter_map(|(i, c)| {
            if excluded.is_some_and(|cc| c.reach.excludes.contains(&cc)) {
                return None;
            }
            let mut c = c.clone();
            c.reach.matched = u32::try_from(i).is_ok_and(|i| matched.contains(&i));
            Some(c)
        });
        Self::build(candidates)
    }

    /// The eligible mirror with this id, as the set holds it.
    pub fn candidate(&self, mirror_id: i32) -> Option<&MirrorCandidate> {
        self.kept.iter().find(|c| c.mirror_id == mirror_id)
    }

    fn scope(&self, scope: &Scope) -> Option<&Schemes> {
        match scope {
            Scope::Global => Some(&self.global),
            Scope::Region(r) => self.regions.get(r),
            Scope::Continent(k) => self.continents.get(k),
            Scope::Network => self.network.as_ref(),
        }
    }

    /// Whether this set has a network scope (a client's variant whose networks matched).
    pub fn has_network_scope(&self) -> bool {
        self.network.is_some()
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
            let schemes = self.scope(scope)?;
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
            let schemes = self.scope(scope);
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
    /// `continent`: the client's, when its country has no region and continent fallback
    /// is on.
    pub fn select_scoped(
        &self,
        client_region: Option<&RegionPolicy>,
        continent: Option<Code>,
        https_only: bool,
        entropy: u64,
    ) -> (Option<&Chosen>, Vec<Scope>) {
        let roll = (mix64(entropy ^ 0x5bd1_e995) % 100) as u8;
        let scopes = self.scopes_for(client_region, continent, roll);
        (self.choose(&scopes, https_only, entropy), scopes)
    }

    /// The scopes a client tries in this set: its networks' mirrors first (a variant
    /// with a network scope), then the region order of [`scopes_with`].
    pub fn scopes_for(
        &self,
        client_region: Option<&RegionPolicy>,
        continent: Option<Code>,
        roll: u8,
    ) -> Vec<Scope> {
        let mut order = scopes_with(client_region, continent, roll);
        if self.network.is_some() {
            order.insert(0, Scope::Network);
        }
        order
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

/// Weighted indexes per key (region or continent).
fn schemes<K: std::hash::Hash + Eq>(m: HashMap<K, Vec<(u32, u64, bool)>>) -> HashMap<K, Schemes> {
    m.into_iter()
        .map(|(k, v)| (k, Schemes::build(&v)))
        .collect()
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
