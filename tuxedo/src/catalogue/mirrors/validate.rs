//! Checking what a write of a mirror gives: base URL, rating, reach (network mode,
//! networks, excluded countries, country).

use super::MAX_RATING;
use crate::catalogue::{country_code, shown, valid_name};
use crate::error::{Result, TuxedoError};
use bouncer_core::networks::{NetSpec, NetworkMode, MAX_NETWORKS};
use std::collections::BTreeSet;

/// A mirror's reach as a write gives it, validated and normalised; `None` keeps what is.
#[derive(Debug)]
pub(super) struct Reach {
    pub(super) mode: Option<NetworkMode>,
    pub(super) networks: Option<Vec<String>>,
    pub(super) excluded: Option<Vec<String>>,
    /// `Some(None)`: clear it.
    pub(super) country: Option<Option<String>>,
}

impl Reach {
    /// Checks every value before anything is written: one bad value refuses the write.
    pub(super) fn valid(
        mode: Option<&str>,
        networks: Option<&[String]>,
        excluded: Option<&[String]>,
        country: Option<&str>,
    ) -> Result<Self> {
        Ok(Reach {
            mode: mode.map(valid_mode).transpose()?,
            networks: networks.map(valid_networks).transpose()?,
            excluded: excluded.map(valid_countries).transpose()?,
            country: country.map(valid_country).transpose()?,
        })
    }
}

/// An absolute http(s) URL with a host and neither query nor fragment (bounce appends the
/// location path to it), stored in its normalised (WHATWG) form without a trailing `/`.
/// Input whose normalised form names another host or port than its text seems to is
/// refused: sentry (a WHATWG parser), bounce and the clients that follow its redirects
/// must all reach the same server (`http://a:1\@b:2/` is `a:1` to one parser, `b:2` to
/// another).
pub(super) fn valid_baseurl(raw: &str) -> Result<String> {
    let raw = valid_name("baseurl", raw, bouncer_core::limits::BASE_URL)?;
    let bad = |reason: &str| TuxedoError::invalid("baseurl", reason);
    if let Some(c) = raw
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '\\' | '"' | '\'' | '<' | '>' | '`'))
    {
        return Err(bad(&format!("must not contain {c:?}")));
    }
    let lower = raw.to_ascii_lowercase();
    let Some(rest) = ["http://", "https://"]
        .iter()
        .find_map(|p| lower.starts_with(p).then(|| &raw[p.len()..]))
    else {
        return Err(bad("must start with http:// or https://"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains(['@', '%']) {
        return Err(bad("must not carry credentials or escapes in the host"));
    }
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("not an absolute URL: {e}")))?;
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err(bad("has no host"));
    };
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    // The host and port the text names must be the ones the parser found.
    let (text_host, text_port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            match h.contains(':') && !h.starts_with('[') {
                true => (authority, None),
                false => (h, Some(p)),
            }
        }
        _ => (authority, None),
    };
    if !text_host.eq_ignore_ascii_case(host) {
        return Err(bad(&format!(
            "names host {text_host:?} but is parsed as host {host:?}"
        )));
    }
    if let Some(p) = text_port {
        match p.parse::<u16>() {
            Ok(n) if n > 0 && Some(n) == url.port_or_known_default() => {}
            _ => return Err(bad(&format!("port {p:?} is not a port from 1 to 65535"))),
        }
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A network mode: `none` or `""`, `prefer`, `only`.
fn valid_mode(raw: &str) -> Result<NetworkMode> {
    raw.parse().map_err(|e: String| {
        TuxedoError::invalid("network_mode", unprefixed(&e, "invalid network_mode "))
    })
}

/// Networks as given: each `AS<number>` or a CIDR (a bare address is its /32 or /128),
/// at most [`bouncer_core::limits::NETWORK`] characters; normalised (`as64500` is
/// `AS64500`, host bits cleared), duplicates merged, in bounce's order; at most
/// [`MAX_NETWORKS`] of them.
fn valid_networks(raw: &[String]) -> Result<Vec<String>> {
    let max = bouncer_core::limits::NETWORK;
    if raw.len() > MAX_NETWORKS {
        return Err(TuxedoError::invalid(
            "networks",
            format!(
                "{} networks: a mirror may list at most {MAX_NETWORKS}",
                raw.len()
            ),
        ));
    }
    let mut out = BTreeSet::new();
    for n in raw {
        let t = n.trim();
        let reason = if t.chars().count() > max {
            format!("{}: longer than {max} characters", shown(t))
        } else {
            match t.parse::<NetSpec>() {
                Ok(spec) => {
                    out.insert(spec);
                    continue;
                }
                Err(e) => unprefixed(&e, "invalid network "),
            }
        };
        return Err(TuxedoError::invalid("networks", reason));
    }
    Ok(out.iter().map(NetSpec::to_string).collect())
}

/// Country codes as given: two letters each (any case; stored upper case), duplicates
/// merged, sorted.
fn valid_countries(raw: &[String]) -> Result<Vec<String>> {
    let codes = raw
        .iter()
        .map(|cc| country_code("excluded_countries", cc))
        .collect::<Result<BTreeSet<_>>>()?;
    Ok(codes.into_iter().collect())
}

/// Where a mirror stands: a two-letter code (any case; stored upper case), `""` for none.
fn valid_country(raw: &str) -> Result<Option<String>> {
    match raw.trim().is_empty() {
        true => Ok(None),
        false => country_code("country", raw).map(Some),
    }
}

/// `core::networks`' message without the words our error adds itself.
fn unprefixed(message: &str, prefix: &str) -> String {
    message.strip_prefix(prefix).unwrap_or(message).to_owned()
}

pub(super) fn valid_rating(rating: i32) -> Result<()> {
    match (0..=MAX_RATING).contains(&rating) {
        true => Ok(()),
        false => Err(TuxedoError::invalid(
            "rating",
            format!("must be between 0 and {MAX_RATING}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reach_is_checked_and_normalised() {
        let n = valid_networks(&strings(&[
            "as7",
            " 10.1.2.3/8 ",
            "AS7",
            "10.0.0.0/8",
            "::",
        ]));
        assert_eq!(n.unwrap(), ["AS7", "10.0.0.0/8", "::/128"]);
        let too_long = format!("AS{}7", "0".repeat(bouncer_core::limits::NETWORK - 2));
        for (bad, says) in [
            ("x", r#"invalid networks: "x": expected AS<number>"#),
            ("AS0", r#"invalid networks: "AS0": AS numbers"#),
            (too_long.as_str(), "…: longer than 64 characters"),
        ] {
            let e = valid_networks(&strings(&["AS1", bad]))
                .unwrap_err()
                .to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert_eq!(
            valid_countries(&strings(&["de", "FR", " de"])).unwrap(),
            ["DE", "FR"]
        );
        let e = valid_countries(&strings(&["DE", "DEU"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid excluded_countries: "DEU" is not a two-letter country code"#
        );
        assert_eq!(valid_mode("").unwrap(), NetworkMode::None);
        assert_eq!(valid_mode("none").unwrap(), NetworkMode::None);
        assert_eq!(valid_mode("only").unwrap(), NetworkMode::Only);
        assert_eq!(
            valid_mode("maybe").unwrap_err().to_string(),
            r#"invalid network_mode: "maybe": expected none, prefer or only"#
        );
        assert_eq!(shown(&"x".repeat(30)), format!("{:?}…", "x".repeat(20)));
    }

    #[test]
    fn baseurls_are_checked() {
        assert_eq!(
            valid_baseurl(" https://m.example/pub/ ").unwrap(),
            "https://m.example/pub"
        );
        assert!(valid_baseurl("http://m.example:8080").is_ok());
        for bad in [
            "ftp://m.example/pub",
            "/pub",
            "m.example/pub",
            "https://m.example/pub?x=1",
            "https://m.example/pub#f",
            "https://u:p@m.example/",
            "https:///pub",
            "http://127.0.0.1:20040\\@127.0.0.1:20043/pub",
            "http:evil.example/pub",
            "http://m.example:0/pub",
            "http://m.example/a b",
            "http://m.example/\"><x>",
            "http://m.example/<x>",
            "http://m%2eexample/",
        ] {
            assert!(valid_baseurl(bad).is_err(), "{bad}");
        }
        assert_eq!(
            valid_baseurl("HTTP://M.Example:80/pub/../dl/").unwrap(),
            "http://m.example/dl",
            "stored normalised"
        );
        assert_eq!(
            valid_baseurl("https://[2001:db8::1]:8443/pub").unwrap(),
            "https://[2001:db8::1]:8443/pub"
        );
    }
}
