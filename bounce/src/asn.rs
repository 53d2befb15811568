//! The AS number of a GeoLite2-ASN-shaped record, whatever unsigned width its writer chose.
//!
//! MaxMind writes `autonomous_system_number` as a uint32, but the format lets a writer
//! pick the smallest type that holds a value, and smaller writers store uint16 (or
//! uint64). maxminddb's own `geoip2::Asn` asks the decoder for exactly a u32, so such a
//! database decoded to an error on every lookup, which read as "no AS": every network
//! rule silently never matched. This record takes any unsigned width (and a
//! non-negative int32) and keeps a value that fits an AS number (32 bits).

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// The one field a redirect reads; the organisation's name is skipped, not built.
#[derive(serde::Deserialize, Default)]
pub struct AsnRecord {
    #[serde(default, deserialize_with = "any_unsigned")]
    pub autonomous_system_number: Option<u32>,
}

/// The number as a u32, from whichever integer type the database holds; `None` for a
/// value outside 0..=u32::MAX or a field of another kind (a string).
fn any_unsigned<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    d.deserialize_any(Number)
}

struct Number;

impl<'de> Visitor<'de> for Number {
    type Value = Option<u32>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an unsigned AS number")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(u32::try_from(v).ok())
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        Ok(u32::try_from(v).ok())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u32::try_from(v).ok())
    }

    // Anything else (a string, a map) is not a number: no AS, not a failed record.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::AsnRecord;

    fn number(json: &str) -> Option<u32> {
        serde_json::from_str::<AsnRecord>(json)
            .unwrap()
            .autonomous_system_number
    }

    #[test]
    fn any_unsigned_width_that_fits() {
        assert_eq!(
            number(r#"{"autonomous_system_number": 64500}"#),
            Some(64500)
        );
        assert_eq!(
            number(r#"{"autonomous_system_number": 4200000000}"#),
            Some(4_200_000_000)
        );
        assert_eq!(number(r#"{"autonomous_system_number": 4294967296}"#), None);
        assert_eq!(number(r#"{"autonomous_system_number": -1}"#), None);
        assert_eq!(number(r#"{"autonomous_system_number": "AS64500"}"#), None);
        assert_eq!(number(r#"{"autonomous_system_organization": "x"}"#), None);
    }
}
