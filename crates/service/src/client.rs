//! Who the client is: the right-most `X-Forwarded-For` entry that is not a trusted proxy
//! (bounce's region, tuxedo's login limiter).

use actix_web::http::header::{HeaderMap, HeaderName, X_FORWARDED_FOR};
use ipnet::IpNet;
use std::borrow::Cow;
use std::net::IpAddr;

/// Every `X-Forwarded-For` line as one list, in order (RFC 9110 §5.3: several lines are
/// one comma-separated value). A proxy that appends its own line must not let the
/// client's forged first line decide. Borrowed in the usual one-line case.
pub fn forwarded_for(headers: &HeaderMap) -> Option<Cow<'_, str>> {
    // The constant name: a `&str` is parsed into a name on every call.
    joined(headers, &X_FORWARDED_FOR)
}

/// Every line of header `name`, joined with `,` (RFC 9110 §5.3: one list); borrowed when
/// there is one line, as there nearly always is. Lines that are not text are left out.
pub fn joined<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<Cow<'a, str>> {
    let mut lines = headers.get_all(name).filter_map(|v| v.to_str().ok());
    let first = lines.next()?;
    match lines.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let all: Vec<&str> = [first, second].into_iter().chain(lines).collect();
            Some(Cow::Owned(all.join(",")))
        }
    }
}

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
    fn every_forwarded_line_counts() {
        use actix_web::http::header::{HeaderName, HeaderValue};
        let mut h = HeaderMap::new();
        let name = HeaderName::from_static("x-forwarded-for");
        h.append(name.clone(), HeaderValue::from_static("6.6.6.6"));
        h.append(name, HeaderValue::from_static("203.0.113.7, 10.1.2.3"));
        let xff = forwarded_for(&h);
        assert_eq!(xff.as_deref(), Some("6.6.6.6,203.0.113.7, 10.1.2.3"));
        assert_eq!(
            client_ip(ip("127.0.0.1"), xff.as_deref(), &nets()),
            ip("203.0.113.7"),
            "the proxy's own line, not the client's forged first one"
        );
        assert_eq!(forwarded_for(&HeaderMap::new()), None);
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
