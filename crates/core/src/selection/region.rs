//! Which regions to try, in which order, for one client.

/// `geoip_regions.id`.
pub type RegionId = i32;

/// The parts of a region that steer selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionPolicy {
    pub id: RegionId,
    /// Percentage (0–100) of the region's clients kept on its own mirrors first.
    pub throttle: i32,
    /// Where the other clients go first, and where everyone goes when the region is empty.
    pub fallback: Option<RegionId>,
    /// No global fallback for this region's clients.
    pub prevent_global_fallback: bool,
}

/// Where candidates are taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The mirrors whose networks hold the client (`prefer` and `only` mirrors).
    Network,
    Region(RegionId),
    /// The mirrors of a continent's regions, for a client whose country has no region.
    Continent(crate::networks::Code),
    Global,
}

/// The scopes to try in order. `roll` is uniform in `0..100`: a client with
/// `roll < throttle` stays in its region first, the others try the fallback region first.
/// Either way the other of the two comes next (one level: the fallback region's own
/// fallback is not followed), then every mirror unless the client's region prevents it.
/// A throttled client of a region without fallback goes to every mirror (or, when global
/// fallback is prevented, stays in its region).
/// A client with no known region goes straight to every mirror.
pub fn scopes(client: Option<&RegionPolicy>, roll: u8) -> Vec<Scope> {
    scopes_with(client, None, roll)
}

/// [`scopes`], with continent fallback: a client with no region but a known `continent`
/// tries that continent's mirrors before every mirror.
pub fn scopes_with(
    client: Option<&RegionPolicy>,
    continent: Option<crate::networks::Code>,
    roll: u8,
) -> Vec<Scope> {
    let Some(region) = client else {
        return match continent {
            Some(k) => vec![Scope::Continent(k), Scope::Global],
            None => vec![Scope::Global],
        };
    };
    let own = Scope::Region(region.id);
    let mut order = Vec::with_capacity(3);
    match region.fallback.filter(|&f| f != region.id) {
        Some(f) if i32::from(roll) >= region.throttle.clamp(0, 100) => {
            order.extend([Scope::Region(f), own]);
        }
        Some(f) => order.extend([own, Scope::Region(f)]),
        // Throttled with nowhere regional to go: straight to every mirror, if allowed.
        None if i32::from(roll) >= region.throttle.clamp(0, 100)
            && !region.prevent_global_fallback => {}
        None => order.push(own),
    }
    if !region.prevent_global_fallback {
        order.push(Scope::Global);
    }
    order
}
