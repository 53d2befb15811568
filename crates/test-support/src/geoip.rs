//! Tiny MaxMind databases for tests, shaped like GeoIP2-Country and GeoLite2-ASN records.

use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
struct Country<'a> {
    iso_code: &'a str,
}

#[derive(Serialize)]
struct Continent<'a> {
    code: &'a str,
}

#[derive(Serialize)]
struct Record<'a> {
    country: Country<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continent: Option<Continent<'a>>,
}

#[derive(Serialize)]
struct AsnRecord<'a, N> {
    autonomous_system_number: N,
    autonomous_system_organization: &'a str,
}

/// Writes a `.mmdb` mapping each network (`"203.0.113.0/24"`, `"2001:db8::/32"`) to a
/// country ISO code, readable as a GeoIP2 Country or City database.
pub fn write_country_mmdb(path: &Path, networks: &[(&str, &str)]) {
    let with: Vec<(&str, &str, Option<&str>)> =
        networks.iter().map(|&(n, c)| (n, c, None)).collect();
    write_geo_mmdb(path, &with);
}

/// Same, with a continent code (`"EU"`) per network where given.
pub fn write_geo_mmdb(path: &Path, networks: &[(&str, &str, Option<&str>)]) {
    let mut writer = mmdb_writer::Writer::new("GeoIP2-Country");
    for &(net, code, continent) in networks {
        let net: ipnet::IpNet = net.parse().expect("network");
        let record = Record {
            country: Country { iso_code: code },
            continent: continent.map(|code| Continent { code }),
        };
        writer.insert(net, &record).expect("insert network");
    }
    std::fs::write(path, writer.to_bytes().expect("encode mmdb")).expect("write mmdb");
}

/// Writes a GeoLite2-ASN-shaped `.mmdb`: each network to an autonomous system number.
pub fn write_asn_mmdb(path: &Path, networks: &[(&str, u32)]) {
    write_asn_mmdb_as(path, networks);
}

/// Same, with the number stored as the type of `N`: `u16` and `u64` as smaller writers
/// store it (the writer picks the mmdb type from the Rust type), or a `&str` for a
/// database in another shape.
pub fn write_asn_mmdb_as<N: Serialize + Copy>(path: &Path, networks: &[(&str, N)]) {
    let mut writer = mmdb_writer::Writer::new("GeoLite2-ASN");
    for &(net, asn) in networks {
        let net: ipnet::IpNet = net.parse().expect("network");
        let record = AsnRecord {
            autonomous_system_number: asn,
            autonomous_system_organization: "test network",
        };
        writer.insert(net, &record).expect("insert network");
    }
    std::fs::write(path, writer.to_bytes().expect("encode mmdb")).expect("write mmdb");
}
