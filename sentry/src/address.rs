//! Which addresses are public: the rule that keeps sentry's probes from being redirected
//! into the network it runs in (a blind SSRF from the checker's position).
//!
//! Pure functions only; `probe` applies them to a redirect's target before following it,
//! and to the address the answer actually came from.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is an address of the public Internet: not loopback, private, shared
/// (CGNAT), link-local, unspecified, broadcast, multicast, documentation, benchmarking or
/// reserved — nor an IPv6 address that embeds such an IPv4 one (mapped, NAT64, 6to4).
/// Written out rather than `IpAddr::is_global`, which is not stable.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[..6] == [0; 6] // IPv4-compatible (deprecated)
        || (s[0] == 0x0064 && s[1] == 0xff9b && !is_public_v4(embedded(s[6], s[7]))) // NAT64
        || (s[0] == 0x2002 && !is_public_v4(embedded(s[1], s[2]))); // 6to4
    !special
}

/// The first address of a redirect's target that it may not lead to, if any: none when
/// the mirror's own base URL is itself on a non-public address (`base_public = false`:
/// an intranet mirror, the tests' fakes on 127.0.0.x), where the operator chose that
/// network; otherwise every address the target has must be public, so a mirror on the
/// Internet cannot make sentry knock on a door of sentry's own network.
pub fn forbidden(base_public: bool, target: &[IpAddr]) -> Option<IpAddr> {
    match base_public {
        false => None,
        true => target.iter().copied().find(|ip| !is_public(*ip)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn only_internet_addresses_are_public() {
        for ip in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254", // cloud metadata
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",    // NAT64 of 10.0.0.1
            "2002:7f00:1::1",    // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::1", // 6to4 of 169.254.169.254
        ] {
            assert!(!public(ip), "{ip} is not public");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "193.0.0.1",
            "2a00:1450:4001::1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(public(ip), "{ip} is public");
        }
    }

    #[test]
    fn a_public_mirror_may_not_redirect_inside_a_private_one_may() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let net: IpAddr = "8.8.8.8".parse().unwrap();
        assert_eq!(forbidden(true, &[net, lo]), Some(lo));
        assert_eq!(forbidden(true, &[net]), None);
        assert_eq!(forbidden(false, &[lo]), None);
    }
}
