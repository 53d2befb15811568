//! Who a mirror is for, beyond regions (issue 16): the address family a client connected
//! over, the networks (autonomous systems and CIDRs) a mirror prefers or serves only, the
//! countries it must not serve, and continents. Plain data and parsing, shared by bounce
//! (choice), tuxedo (validation) and sentry (families); no diesel here.

mod list;

pub use list::{NetList, MAX_NETWORKS};

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An ISO 3166 alpha-2 country or a MaxMind continent code, upper case.
pub type Code = [u8; 2];

/// `"de"` → `*b"DE"`; anything but two ASCII letters is `None`.
pub fn code(s: &str) -> Option<Code> {
    match s.trim().as_bytes() {
        &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

/// A code as text.
pub fn code_str(c: &Code) -> &str {
    std::str::from_utf8(c).unwrap_or("??")
}

/// An address family: the one a client reached bounce over (an IPv4-mapped IPv6 address
/// is v4), or one sentry probes a mirror over (`bouncer_family_health.family`: 4 or 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// Every family, in the order they are probed and reported.
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    /// The DNS record that gives addresses of the family.
    pub fn record(self) -> &'static str {
        match self {
            Family::V4 => "A",
            Family::V6 => "AAAA",
        }
    }

    /// Why a host without an address of the family is not eligible for it (sentry's
    /// reason, bounce's mirror list).
    pub fn no_address(self) -> String {
        format!("no {} address ({})", self.name(), self.record())
    }

    /// The unspecified address of the family: a socket bound to it speaks only this family.
    pub fn unspecified(self) -> IpAddr {
        match self {
            Family::V4 => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            Family::V6 => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        }
    }

    /// 0 for IPv4, 1 for IPv6: an index into per-family arrays.
    pub fn index(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 1,
        }
    }

    /// The families a setting names (`[6, 4, 6]` → v4, v6; unknown numbers are left out).
    pub fn list(numbers: &[u8]) -> Vec<Family> {
        let mut v: Vec<Family> = numbers
            .iter()
            .filter_map(|n| Family::from_number(i16::from(*n)))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The value stored in `bouncer_family_health.family`.
    pub fn number(self) -> i16 {
        match self {
            Family::V4 => 4,
            Family::V6 => 6,
        }
    }

    pub fn from_number(n: i16) -> Option<Self> {
        match n {
            4 => Some(Family::V4),
            6 => Some(Family::V6),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// The address families a mirror's host has, as sentry found them
/// (`bouncer_mirror_health.families`: bit 1 IPv4, bit 2 IPv6). A mirror with one family is
/// not eligible for the other; no value (an older row, or a run that could not tell) means
/// every family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Families(u8);

impl Families {
    pub fn of(families: impl IntoIterator<Item = Family>) -> Self {
        Self(families.into_iter().fold(0, |m, f| m | (1 << f.index())))
    }

    pub fn has(self, f: Family) -> bool {
        self.0 & (1 << f.index()) != 0
    }

    /// The stored value (unknown bits are ignored when read).
    pub fn stored(self) -> i16 {
        i16::from(self.0)
    }

    /// Whether a stored value (`None`: every family) includes `f`.
    pub fn stored_has(value: Option<i16>, f: Family) -> bool {
        value.is_none_or(|v| Self::from_stored(v).has(f))
    }

    pub fn from_stored(v: i16) -> Self {
        Self((v & 0b11) as u8)
    }
}

/// One network a mirror serves: an autonomous system or an address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NetSpec {
    Asn(u32),
    Net(IpNet),
}

impl NetSpec {
    /// Whether a client at `ip` in autonomous system `asn` is in this network.
    pub fn contains(&self, ip: IpAddr, asn: Option<u32>) -> bool {
        match self {
            NetSpec::Asn(a) => asn == Some(*a),
            NetSpec::Net(n) => n.contains(&ip.to_canonical()),
        }
    }
}

impl FromStr for NetSpec {
    type Err = String;

    /// `AS64500` (any case) or a CIDR; a CIDR's host bits are cleared
    /// (`192.0.2.7/24` → `192.0.2.0/24`), a bare address is its own /32 or /128. An
    /// IPv4-mapped block (`::ffff:203.0.113.0/120`) is the IPv4 block it maps
    /// (`203.0.113.0/24`): clients are matched by their canonical (IPv4) address, so stored
    /// as IPv6 it would never match; one reaching past the mapped range is refused.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let asn = t.strip_prefix("AS").or_else(|| t.strip_prefix("as"));
        if let Some(n) = asn {
            return match n.parse::<u32>() {
                Ok(n) if n > 0 => Ok(NetSpec::Asn(n)),
                _ => Err(format!(
                    "invalid network {t:?}: AS numbers are 1 to 4294967295"
                )),
            };
        }
        if let Ok(net) = t.parse::<IpNet>() {
            return unmapped(net.trunc()).map(NetSpec::Net);
        }
        match t.parse::<IpAddr>() {
            Ok(ip) => Ok(NetSpec::Net(IpNet::from(ip.to_canonical()))),
            Err(_) => Err(format!(
                "invalid network {t:?}: expected AS<number> or a CIDR such as 192.0.2.0/24"
            )),
        }
    }
}

/// An IPv4-mapped IPv6 block as the IPv4 block it is (see [`NetSpec::from_str`]).
fn unmapped(net: IpNet) -> Result<IpNet, String> {
    let IpNet::V6(v6) = net else {
        return Ok(net);
    };
    match v6.addr().to_ipv4_mapped() {
        Some(v4) if v6.prefix_len() >= 96 => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
            .map(IpNet::V4)
            .map_err(|e| format!("invalid network {net}: {e}")),
        Some(_) => Err(format!(
            "invalid network {net}: an IPv4-mapped block needs a prefix of at least /96"
        )),
        None => Ok(net),
    }
}

impl fmt::Display for NetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetSpec::Asn(a) => write!(f, "AS{a}"),
            NetSpec::Net(n) => write!(f, "{n}"),
        }
    }
}

/// What a mirror's networks mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum NetworkMode {
    /// Networks are informational; the mirror serves everyone as usual.
    #[default]
    None,
    /// Clients in its networks get it first (weights kept among such mirrors); everyone
    /// else as usual.
    Prefer,
    /// Only clients in its networks (a campus or ISP mirror).
    Only,
}

impl NetworkMode {
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::None => "",
            NetworkMode::Prefer => "prefer",
            NetworkMode::Only => "only",
        }
    }
}

impl FromStr for NetworkMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" | "none" => Ok(NetworkMode::None),
            "prefer" => Ok(NetworkMode::Prefer),
            "only" => Ok(NetworkMode::Only),
            other => {
                let shown: String = other.chars().take(20).collect();
                Err(format!(
                    "invalid network_mode {shown:?}: expected none, prefer or only"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_normalise_and_match() {
        let asn: NetSpec = "as64500".parse().unwrap();
        assert_eq!(asn.to_string(), "AS64500");
        assert!(asn.contains("192.0.2.1".parse().unwrap(), Some(64500)));
        assert!(!asn.contains("192.0.2.1".parse().unwrap(), Some(64501)));
        let net: NetSpec = "192.0.2.77/24".parse().unwrap();
        assert_eq!(net.to_string(), "192.0.2.0/24");
        assert!(net.contains("192.0.2.200".parse().unwrap(), None));
        assert!(net.contains("::ffff:192.0.2.9".parse().unwrap(), None));
        assert!(!net.contains("192.0.3.1".parse().unwrap(), None));
        let v6: NetSpec = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap(), None));
        assert_eq!(
            "198.51.100.7".parse::<NetSpec>().unwrap().to_string(),
            "198.51.100.7/32"
        );
        // IPv4-mapped blocks are the IPv4 blocks they map (clients are canonical IPv4).
        let mapped: NetSpec = "::ffff:203.0.113.0/120".parse().unwrap();
        assert_eq!(mapped.to_string(), "203.0.113.0/24");
        assert!(mapped.contains("203.0.113.9".parse().unwrap(), None));
        assert_eq!(
            "::ffff:198.51.100.7"
                .parse::<NetSpec>()
                .unwrap()
                .to_string(),
            "198.51.100.7/32"
        );
        for bad in ["AS0", "AS-1", "ASx", "10.0.0.0/33", "example.org", ""] {
            assert!(bad.parse::<NetSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn families_and_codes() {
        assert_eq!(Family::of("::ffff:10.0.0.1".parse().unwrap()), Family::V4);
        assert_eq!(Family::of("::1".parse().unwrap()), Family::V6);
        assert_eq!(code(" de "), Some(*b"DE"));
        assert_eq!(code("DEU"), None);
        assert_eq!(code("d1"), None);
        assert_eq!("only".parse::<NetworkMode>(), Ok(NetworkMode::Only));
        assert!("sometimes".parse::<NetworkMode>().is_err());
        assert_eq!(Family::list(&[6, 4, 6]), [Family::V4, Family::V6]);
        assert!(Family::list(&[5]).is_empty());
        assert_eq!(Family::from_number(6), Some(Family::V6));
    }
}
