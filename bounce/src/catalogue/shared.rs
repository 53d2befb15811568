//! The memcached tier between the in-process cache and the databases, for location rows.
//!
//! An entry is keyed by location alone and carries the generation its rows were read at
//! and the key itself: it is served only when read at or after the location's floor (the
//! last change to its rows), so an unrelated write leaves it valid for every instance,
//! and a hash collision or an older read is a miss, never a wrong answer.

use super::load::{self, LocationRows};
use super::readers::{with_reader, Read, Sources};
use crate::metrics::Metrics;
use crate::BounceError;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Entry {
    #[serde(rename = "g")]
    generation: i64,
    #[serde(rename = "k")]
    location: i32,
    #[serde(flatten)]
    rows: LocationRows,
}

/// memcached first, then a reader; rows read from a reader that has the expected
/// generation are stored for the other instances (rows from a lagging reader are not).
pub fn location_rows(
    s: &Sources,
    m: &Metrics,
    location: i32,
    floor: i64,
) -> Result<Read<LocationRows>, BounceError> {
    let Some(mc) = s.cache.as_deref() else {
        return with_reader(s, m, |c, m| load::mirror_rows(c, m, location));
    };
    let key = mc.key("rows2", &[&location.to_be_bytes()]);
    m.shared_lookups.with_label_values(&["mirrors"]).inc();
    if let Some(raw) = mc.get(&key) {
        match serde_json::from_slice::<Entry>(&raw) {
            Ok(e) if e.location == location && e.generation >= floor && e.generation > 0 => {
                m.shared_hits.with_label_values(&["mirrors"]).inc();
                return Ok(Read {
                    value: e.rows,
                    generation: e.generation,
                    behind: false,
                });
            }
            _ => tracing::debug!(location, "shared rows older than the last change; a miss"),
        }
    }
    let read = with_reader(s, m, |c, m| load::mirror_rows(c, m, location))?;
    if !read.behind && read.generation > 0 {
        let entry = Entry {
            generation: read.generation,
            location,
            rows: read.value,
        };
        if let Ok(raw) = serde_json::to_vec(&entry) {
            mc.set(&key, &raw);
        }
        return Ok(Read {
            value: entry.rows,
            ..read
        });
    }
    Ok(read)
}
