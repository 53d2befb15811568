//! A mirror's networks as bounce matches them: the list as the operator gave it, plus an
//! index that answers "is this client in one of them?" in O(log n).
//!
//! The hardening round found one `only` mirror with 10,000 CIDRs cutting every client's
//! redirects from ~45k to ~7k per second: each request scanned the list. Here address
//! blocks become sorted, disjoint address ranges per family and AS numbers a sorted list,
//! so a lookup is two binary searches whatever the list's length. Built once per
//! catalogue load, never per request.

use super::NetSpec;
use ipnet::IpNet;
use std::net::IpAddr;

/// The most networks one mirror may list (tuxedo refuses more, with the reason). The
/// index keeps a lookup cheap at any size; the cap bounds memory and the cost of a
/// catalogue load (a large ISP announces a few thousand prefixes).
pub const MAX_NETWORKS: usize = 20_000;

/// A mirror's networks, indexed (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NetList {
    /// Sorted and deduplicated, as shown to operators.
    specs: Vec<NetSpec>,
    asns: Vec<u32>,
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl NetList {
    pub fn new(specs: impl IntoIterator<Item = NetSpec>) -> Self {
        let mut specs: Vec<NetSpec> = specs.into_iter().collect();
        specs.sort_unstable();
        specs.dedup();
        let mut asns = Vec::new();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for s in &specs {
            match s {
                NetSpec::Asn(a) => asns.push(*a),
                NetSpec::Net(IpNet::V4(n)) => {
                    v4.push((u32::from(n.network()), u32::from(n.broadcast())));
                }
                NetSpec::Net(IpNet::V6(n)) => {
                    v6.push((u128::from(n.network()), u128::from(n.broadcast())));
                }
            }
        }
        Self {
            asns,
            v4: disjoint(v4),
            v6: disjoint(v6),
            specs,
        }
    }

    /// Whether a client at `ip` in autonomous system `asn` is in one of the networks
    /// (the same answer as asking each [`NetSpec::contains`], in O(log n)).
    pub fn contains(&self, ip: IpAddr, asn: Option<u32>) -> bool {
        if asn.is_some_and(|a| self.asns.binary_search(&a).is_ok()) {
            return true;
        }
        match ip.to_canonical() {
            IpAddr::V4(a) => within(&self.v4, u32::from(a)),
            IpAddr::V6(a) => within(&self.v6, u128::from(a)),
        }
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &NetSpec> {
        self.specs.iter()
    }

    /// A short public description: how many blocks and autonomous systems, not which
    /// (documents served to anyone summarise; operators see the list in tuxedo).
    pub fn summary(&self) -> String {
        let asns = self.asns.len();
        let blocks = self.specs.len() - asns;
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        match (blocks, asns) {
            (b, 0) => plural(b, "address block", "address blocks"),
            (0, a) => plural(a, "autonomous system", "autonomous systems"),
            (b, a) => format!(
                "{}, {}",
                plural(b, "address block", "address blocks"),
                plural(a, "autonomous system", "autonomous systems")
            ),
        }
    }
}

impl FromIterator<NetSpec> for NetList {
    fn from_iter<I: IntoIterator<Item = NetSpec>>(iter: I) -> Self {
        Self::new(iter)
    }
}

/// Inclusive ranges, sorted by start, overlapping ones merged: a point is in the union
/// when the last range starting at or before it reaches it.
fn disjoint<T: Ord + Copy>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

fn within<T: Ord + Copy>(ranges: &[(T, T)], x: T) -> bool {
    let after = ranges.partition_point(|&(start, _)| start <= x);
    after > 0 && ranges[after - 1].1 >= x
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn spec() -> impl Strategy<Value = NetSpec> {
        prop_oneof![
            (1u32..20).prop_map(NetSpec::Asn),
            // A narrow address space, so blocks overlap, nest and touch.
            (0u32..4096, 16u8..=32).prop_map(|(a, len)| {
                let net = ipnet::Ipv4Net::new(Ipv4Addr::from(0xC000_0000 | a << 4), len)
                    .unwrap()
                    .trunc();
                NetSpec::Net(IpNet::V4(net))
            }),
            (0u128..4096, 100u8..=128).prop_map(|(a, len)| {
                let base = 0x2001_0db8_u128 << 96;
                let net = ipnet::Ipv6Net::new(Ipv6Addr::from(base | a << 8), len)
                    .unwrap()
                    .trunc();
                NetSpec::Net(IpNet::V6(net))
            }),
        ]
    }

    fn client() -> impl Strategy<Value = (IpAddr, Option<u32>)> {
        let v4 = (0u32..0x1_0000).prop_map(|a| IpAddr::V4(Ipv4Addr::from(0xC000_0000 | a)));
        let mapped = (0u32..0x1_0000)
            .prop_map(|a| IpAddr::V6(Ipv4Addr::from(0xC000_0000 | a).to_ipv6_mapped()));
        let v6 = (0u128..0x10_0000)
            .prop_map(|a| IpAddr::V6(Ipv6Addr::from((0x2001_0db8_u128 << 96) | a)));
        (prop_oneof![v4, mapped, v6], proptest::option::of(1u32..25))
    }

    proptest! {
        /// The index answers exactly what scanning the list answers.
        #[test]
        fn index_agrees_with_a_scan(
            specs in proptest::collection::vec(spec(), 0..40),
            clients in proptest::collection::vec(client(), 1..40),
        ) {
            let list = NetList::new(specs.clone());
            // Every block's edges and their neighbours, besides random clients.
            let edges = specs.iter().flat_map(|s| match s {
                NetSpec::Asn(_) => vec![],
                NetSpec::Net(IpNet::V4(n)) => {
                    let (a, b) = (u32::from(n.network()), u32::from(n.broadcast()));
                    [a.wrapping_sub(1), a, b, b.wrapping_add(1)]
                        .map(|x| (IpAddr::V4(Ipv4Addr::from(x)), None))
                        .to_vec()
                }
                NetSpec::Net(IpNet::V6(n)) => {
                    let (a, b) = (u128::from(n.network()), u128::from(n.broadcast()));
                    [a.wrapping_sub(1), a, b, b.wrapping_add(1)]
                        .map(|x| (IpAddr::V6(Ipv6Addr::from(x)), None))
                        .to_vec()
                }
            });
            for (ip, asn) in clients.into_iter().chain(edges) {
                let scanned = specs.iter().any(|s| s.contains(ip, asn));
                prop_assert_eq!(list.contains(ip, asn), scanned, "{} {:?}", ip, asn);
            }
        }
    }

    #[test]
    fn summary_counts_without_listing() {
        let list: NetList = [
            "192.0.2.0/24",
            "198.51.100.0/24",
            "AS64500",
            "2001:db8::/32",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        assert_eq!(list.len(), 4);
        assert_eq!(list.summary(), "3 address blocks, 1 autonomous system");
        let one: NetList = ["AS1".parse().unwrap()].into_iter().collect();
        assert_eq!(one.summary(), "1 autonomous system");
    }
}
