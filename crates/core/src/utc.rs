//! Timestamps on the wire. The database keeps UTC without an offset (`NaiveDateTime`,
//! portable across MariaDB and SQLite); every API writes them as RFC 3339 with `Z`, so a
//! strict client reading a declared `date-time` parses them, and what it sends with `Z`
//! comes back with `Z`.

use chrono::{NaiveDateTime, SecondsFormat};
use serde::Serializer;

/// `2026-11-23T10:29:51.714Z` for a stored `2026-11-23 10:29:51.714`.
pub fn rfc3339(t: &NaiveDateTime) -> String {
    t.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `#[serde(serialize_with = "bouncer_core::utc::serialize")]`
pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(t))
}

/// `#[serde(serialize_with = "bouncer_core::utc::serialize_option")]`
pub fn serialize_option<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_some(&rfc3339(t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    #[test]
    fn written_with_zulu() {
        let t = NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_milli_opt(10, 29, 51, 714))
            .unwrap();
        assert_eq!(super::rfc3339(&t), "2026-11-23T10:29:51.714Z");
        let whole = NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_opt(10, 29, 51))
            .unwrap();
        assert_eq!(super::rfc3339(&whole), "2026-11-23T10:29:51Z");
    }
}
