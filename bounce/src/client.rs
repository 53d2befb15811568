//! Who the client is: the right-most `X-Forwarded-For` entry that is not a trusted proxy.

use ipnet::IpNet;
use std::net::IpAddr;

/// The client address. Forwarded entries are believed only when the peer itself is a
/// trusted proxy, and read from the right: the left-most entries are whatever the client
/// chose to send.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(&canonical(*ip)));
    let peer = peer.map(canonical);
    match (peer, forwarded_for) {
        (Some(p), Some(xff)) if is_trusted(&p) => {
            let mut last = p;
            for entry in xff.rsplit(',') {
                let Ok(ip) = entry.trim().parse::<IpAddr>().map(canonical) else {
                    break;
                };
                if !is_trusted(&ip) {
                    return Some(ip);
                }
                last = ip;
            }
            Some(last)
        }
        (p, _) => p,
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets() -> Vec<IpNet> {
        vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ]
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn right_most_untrusted_entry() {
        let got = client_ip(
            ip("127.0.0.1"),
            Some("6.6.6.6, 203.0.113.7, 10.1.2.3"),
            &nets(),
        );
        assert_eq!(
            got,
            ip("203.0.113.7"),
            "never the forgeable left-most entry"
        );
    }

    #[test]
    fn untrusted_peer_is_the_client() {
        assert_eq!(
            client_ip(ip("198.51.100.1"), Some("203.0.113.7"), &nets()),
            ip("198.51.100.1")
        );
        assert_eq!(
            client_ip(ip("::ffff:198.51.100.1"), None, &nets()),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn garbage_and_all_trusted() {
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("10.0.0.1, 10.0.0.2"), &nets()),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("203.0.113.7, junk"), &nets()),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("2001:db8::1"), &nets()),
            ip("2001:db8::1")
        );
        assert_eq!(client_ip(None, Some("203.0.113.7"), &nets()), None);
    }
}
