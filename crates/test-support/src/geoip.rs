//! Tiny MaxMind databases for tests, shaped like GeoIP2-Country records.

use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
struct Country<'a> {
    iso_code: &'a str,
}

#[derive(Serialize)]
struct Record<'a> {
    country: Country<'a>,
}

/// Writes a `.mmdb` mapping each network (`"203.0.113.0/24"`, `"2001:db8::/32"`) to a
/// country ISO code, readable as a GeoIP2 Country or City database.
pub fn write_country_mmdb(path: &Path, networks: &[(&str, &str)]) {
    let mut writer = mmdb_writer::Writer::new("GeoIP2-Country");
    for (net, code) in networks {
        let net: ipnet::IpNet = net.parse().expect("network");
        writer
            .insert(
                net,
                &Record {
                    country: Country { iso_code: code },
                },
            )
            .expect("insert network");
    }
    std::fs::write(path, writer.to_bytes().expect("encode mmdb")).expect("write mmdb");
}
