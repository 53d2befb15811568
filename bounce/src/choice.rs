//! Who is asking, as mirror choice sees it (issue 16), and the index that client chooses
//! from: the address family it connected over picks the location's per-family index; a
//! country some mirror excludes, or networks some mirror prefers or serves only, give the
//! client its own variant of that index, built once per key and cached, so the common
//! client costs no allocation here.

use crate::catalogue::{Located, Snapshot};
use crate::geo::Geo;
use bouncer_core::networks::{self, Code, Family};
use bouncer_core::selection::{LocationMirrors, RegionPolicy};
use std::net::IpAddr;
use std::sync::Arc;

/// A client's place, network and family.
#[derive(Debug, Clone)]
pub struct Client<'a> {
    pub ip: Option<IpAddr>,
    pub family: Family,
    pub country: Option<Code>,
    /// The client's continent when it decides (its country has no region and continent
    /// fallback is on).
    pub continent: Option<Code>,
    pub asn: Option<u32>,
    pub region: Option<&'a RegionPolicy>,
}

impl<'a> Client<'a> {
    /// The client at `ip`, placed by `geo` (country, continent) and `asn` (its network);
    /// `continent_fallback` is `bounce.continent_fallback`.
    pub fn new(
        geo: &Geo,
        asn: &Geo,
        continent_fallback: bool,
        snapshot: &'a Snapshot,
        ip: Option<IpAddr>,
    ) -> Self {
        let place = ip.map(|ip| geo.place(ip)).unwrap_or_default();
        let region = place
            .country
            .as_ref()
            .and_then(|cc| snapshot.countries.get(networks::code_str(cc)))
            .and_then(|id| snapshot.regions.get(id));
        let continent = match (region, continent_fallback) {
            (None, true) => place.continent,
            _ => None,
        };
        Client {
            ip,
            // No address at all (never over TCP): IPv4, the family every mirror had before.
            family: ip.map_or(Family::V4, Family::of),
            asn: ip.and_then(|ip| asn.asn(ip)),
            country: place.country,
            continent,
            region,
        }
    }

    /// The client's region id (for the vantages' verdicts of its region).
    pub fn region_id(&self) -> Option<i32> {
        self.region.map(|r| r.id)
    }

    fn country_code(&self) -> Option<Code> {
        self.country
    }
}

type Key = (u64, Option<Code>, Vec<u32>);

/// Client variants of location indexes, by (index build, excluded country, matched
/// mirrors).
pub struct Variants(quick_cache::sync::Cache<Key, Arc<LocationMirrors>>);

impl Variants {
    pub fn new(capacity: usize) -> Self {
        Self(quick_cache::sync::Cache::new(capacity.max(1)))
    }
}

/// The index `client` chooses from at this location (a variant is cached in `variants`).
pub fn view(variants: &Variants, found: &Located, client: &Client<'_>) -> Arc<LocationMirrors> {
    let set = found.set_in(client.family, client.region_id());
    let Some((excluded, matched)) = set.variant_key(client.country_code(), client.ip, client.asn)
    else {
        return Arc::clone(set);
    };
    let key = (set.id, excluded, matched);
    if let Some(v) = variants.0.get(&key) {
        return v;
    }
    let v = Arc::new(set.variant(key.1, &key.2));
    variants.0.insert(key, Arc::clone(&v));
    v
}
