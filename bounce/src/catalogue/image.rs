//! The catalogue image: the rows of the last full load, kept in memcached so that a
//! starting instance takes the catalogue from where the fleet already put it instead of
//! reading every table from the replicas. Restarting N instances costs one full load, not
//! N; each then catches up from the image's generation through the change log like any
//! running instance.
//!
//! The image is JSON split into chunks below memcached's item size, under a key unique to
//! the writer, with a small manifest naming the generation, the chunks and their length.
//! A manifest whose chunks are gone (evicted, another writer's) or do not add up is
//! ignored and the instance loads from the database as before.

use super::load::SnapshotRows;
use super::names::NameRows;
use bouncer_core::cache::Memcached;
use serde::{Deserialize, Serialize};

/// Everything a full load read, at one generation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Image {
    pub generation: i64,
    pub names: NameRows,
    pub snapshot: SnapshotRows,
    /// The location-row floors at `generation` (see [`super::floors`]).
    pub horizon: i64,
    pub per_location: Vec<(i32, i64)>,
}

/// memcached's default item limit is 1 MiB including its own overhead.
const CHUNK: usize = 512 * 1024;
/// An image is taken by instances starting soon after it was written; an older one
/// would only mean a long catch-up.
const TTL_SECS: u32 = 900;
const MANIFEST: &str = "catalogue-image";

/// Stores `image` (chunks first, the manifest last, so a reader never sees a manifest
/// whose chunks are still missing). Failures only mean the next instance loads from the
/// database.
pub fn put(cache: &Memcached, image: &Image) {
    let Ok(bytes) = serde_json::to_vec(image) else {
        return;
    };
    let id = format!("{}-{}", std::process::id(), rand::random::<u64>());
    let chunks = bytes.chunks(CHUNK).collect::<Vec<_>>();
    for (i, chunk) in chunks.iter().enumerate() {
        cache.set_for(&chunk_key(cache, &id, i), chunk, TTL_SECS);
    }
    let manifest = format!("{} {id} {} {}", image.generation, chunks.len(), bytes.len());
    cache.set_for(&cache.named_key(MANIFEST), manifest.as_bytes(), TTL_SECS);
}

/// The image memcached holds, if it is whole.
pub fn take(cache: &Memcached) -> Option<Image> {
    let manifest = String::from_utf8(cache.get(&cache.named_key(MANIFEST))?).ok()?;
    let mut parts = manifest.split(' ');
    let (_generation, id) = (parts.next()?, parts.next()?);
    let count: usize = parts.next()?.parse().ok()?;
    let len: usize = parts.next()?.parse().ok()?;
    let mut bytes = Vec::with_capacity(len);
    for i in 0..count {
        bytes.extend(cache.get(&chunk_key(cache, id, i))?);
    }
    if bytes.len() != len {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

fn chunk_key(cache: &Memcached, id: &str, i: usize) -> String {
    cache.named_key(&format!("{MANIFEST}:{id}:{i}"))
}
