//! The memcached tier between the in-process cache and the databases.
//!
//! Entries are keyed by kind, catalogue generation and the entry's own key, and carry that
//! key in the value: a hash collision or a value from another generation is a miss, never
//! a wrong answer. While the generation is not known yet the tier is bypassed.

use super::load::{self, MirrorRow, Resolved, Snapshot};
use super::{fill_tracking_lag, with_reader, Sources};
use crate::metrics::Metrics;
use crate::BounceError;
use bouncer_core::selection::LocationMirrors;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Serialize, Deserialize)]
struct Entry<K, V> {
    generation: i64,
    key: K,
    value: V,
}

pub fn resolve(s: &Sources, m: &Metrics, product: &str, os: &str) -> Result<Resolved, BounceError> {
    let key = (product.to_owned(), os.to_owned());
    through(
        s,
        m,
        "resolve",
        &[product.as_bytes(), os.as_bytes()],
        key,
        |c, m| load::resolve(c, m, product, os),
    )
}

pub fn location_mirrors(
    s: &Sources,
    m: &Metrics,
    location_id: i32,
    snapshot: &Snapshot,
) -> Result<Arc<LocationMirrors>, BounceError> {
    let rows: Vec<MirrorRow> = through(
        s,
        m,
        "mirrors",
        &[&location_id.to_be_bytes()],
        location_id,
        |c, m| load::mirror_rows(c, m, location_id),
    )?;
    Ok(s.mirror_sets.get_or_build(load::candidates(rows, snapshot)))
}

/// memcached first (when the generation is known), then a reader; a value read from a
/// reader that has the expected generation is stored for the other instances (one from a
/// lagging reader is not: it would be served under the newer generation's key).
fn through<K, V>(
    s: &Sources,
    m: &Metrics,
    kind: &'static str,
    parts: &[&[u8]],
    key: K,
    query: impl FnOnce(&mut bouncer_core::db::DbConnection, &Metrics) -> diesel::QueryResult<V>,
) -> Result<V, BounceError>
where
    K: Serialize + DeserializeOwned + PartialEq,
    V: Serialize + DeserializeOwned,
{
    let current = s.generation.load(Ordering::Relaxed);
    let shared = s.cache.as_deref().filter(|_| current > 0);
    let Some(mc) = shared else {
        return with_reader(s, m, query);
    };
    let gen_bytes = current.to_be_bytes();
    let mut full: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
    full.push(&gen_bytes);
    full.extend_from_slice(parts);
    let mc_key = mc.key(kind, &full);
    m.shared_lookups.with_label_values(&[kind]).inc();
    if let Some(raw) = mc.get(&mc_key) {
        match serde_json::from_slice::<Entry<K, V>>(&raw) {
            Ok(e) if e.generation == current && e.key == key => {
                m.shared_hits.with_label_values(&[kind]).inc();
                return Ok(e.value);
            }
            _ => tracing::debug!(kind, "shared entry for another key; treated as a miss"),
        }
    }
    let (value, behind) = fill_tracking_lag(|| with_reader(s, m, query));
    let entry = Entry {
        generation: current,
        key,
        value: value?,
    };
    if behind {
        return Ok(entry.value);
    }
    if let Ok(raw) = serde_json::to_vec(&entry) {
        mc.set(&mc_key, &raw);
    }
    Ok(entry.value)
}
