//! Download logs, both ways: the [`Line`] bounce's access log writes per download it
//! counts (`bounce.access_log`, JSON), and [`import`], which folds such logs — or nginx's
//! combined format in front of bounce — into the same roll-ups as the live path, the
//! backfill the seed planned ("backfill these stats from HTTP logs").
//!
//! Importing twice changes nothing: a log is read in chunks of [`CHUNK`] lines, and each
//! chunk's batches get ids made from the chunk's bytes, so [`super::add`] recognises them
//! as it recognises a batch bounce sent again. (A log still being written should be
//! imported once rotated: its last chunk changes as it grows.) Such ids are kept as long
//! as the day rows, not the minute rows like bounce's (see [`super::prune`]).
//!
//! nginx's lines say less than bounce's: a GET answered 302 whose query names a product
//! known to the catalogue (or an alias of one) is a download; the target is
//! [`super::OTHER`] and the scheme `https` (nginx does not log where the redirect went),
//! the country `--`, and a `Range` resume cannot be told from a first request. The
//! User-Agent goes through the same bot mask and is not kept.

use super::{Batch, Dims, Minute, Tally, BOT, MAX_COUNTS, OTHER, USER};
use crate::db::DbConnection;
use crate::hash::stable_hash;
use crate::names::canonical;
use crate::schema::{mirror_aliases as aliases, mirror_os as oses, mirror_products as products};
use crate::Result;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

/// One download as bounce's access log writes it: its time (UTC, to the second), its
/// dimensions as statistics store them and the file's size (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub time: DateTime<Utc>,
    #[serde(flatten)]
    pub dims: Dims,
    pub bytes: u64,
}

/// Lines per chunk (the unit an import recognises again).
pub const CHUNK: usize = 10_000;
/// Prefix of an imported batch's id.
pub const IMPORT: &str = "import-";

/// What an import read and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub lines: u64,
    /// Downloads counted now (0 for chunks imported before).
    pub downloads: u64,
    /// Chunks already imported, left alone.
    pub repeats: u64,
    /// Lines that are not downloads (HEAD, 404, other paths, blank) or not readable.
    pub skipped: u64,
}

/// Folds the log `input` (bounce's JSON lines, nginx's combined lines, or both) into the
/// statistics. `bots`: the mask (`bounce.stats_bots`) for nginx's User-Agents.
pub fn import(
    conn: &mut DbConnection,
    input: impl BufRead,
    bots: &[String],
    now: i64,
) -> Result<Imported> {
    let names = Catalogue::load(conn)?;
    let bots: Vec<String> = bots.iter().map(|b| b.to_ascii_lowercase()).collect();
    let mut done = Imported::default();
    let mut chunk: Vec<String> = Vec::with_capacity(CHUNK);
    for line in input.lines() {
        chunk.push(line?);
        if chunk.len() == CHUNK {
            import_chunk(conn, &chunk, &names, &bots, now, &mut done)?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        import_chunk(conn, &chunk, &names, &bots, now, &mut done)?;
    }
    Ok(done)
}

fn import_chunk(
    conn: &mut DbConnection,
    chunk: &[String],
    names: &Catalogue,
    bots: &[String],
    now: i64,
    done: &mut Imported,
) -> Result<()> {
    let mut minutes: BTreeMap<i64, BTreeMap<Dims, Tally>> = BTreeMap::new();
    for line in chunk {
        done.lines += 1;
        let Some((at, dims, tally)) = read(line, names, bots) else {
            done.skipped += 1;
            continue;
        };
        let minute = minutes.entry(at - at.rem_euclid(60)).or_default();
        minute.entry(dims).or_default().add(tally);
    }
    for batch in batches(&chunk_id(chunk), minutes) {
        match super::add(conn, &batch, now)? {
            super::Added::Counted(n) => done.downloads += n,
            super::Added::Repeat => done.repeats += 1,
        }
    }
    Ok(())
}

/// The id of a chunk: 128 bits of its lines' bytes.
fn chunk_id(chunk: &[String]) -> String {
    let lines: Vec<&[u8]> = chunk.iter().map(|l| l.as_bytes()).collect();
    let salted: Vec<&[u8]> = std::iter::once(&b"second half"[..])
        .chain(lines.iter().copied())
        .collect();
    format!(
        "{IMPORT}{:016x}{:016x}",
        stable_hash(&lines),
        stable_hash(&salted)
    )
}

/// A chunk's counts as batches of at most [`MAX_COUNTS`], ids `<chunk>-<n>`.
fn batches(id: &str, minutes: BTreeMap<i64, BTreeMap<Dims, Tally>>) -> Vec<Batch> {
    let mut out: Vec<Batch> = Vec::new();
    let mut room = 0;
    for (start, counts) in minutes {
        for (dims, tally) in counts {
            if room == 0 {
                out.push(Batch {
                    id: format!("{id}-{}", out.len()),
                    instance: "tuxedo stats import".into(),
                    minutes: Vec::new(),
                });
                room = MAX_COUNTS;
            }
            room -= 1;
            let Some(batch) = out.last_mut() else { break };
            match batch.minutes.last_mut() {
                Some(m) if m.start == start => m.counts.push((dims, tally)),
                _ => batch.minutes.push(Minute {
                    start,
                    counts: vec![(dims, tally)],
                }),
            }
        }
    }
    out
}

/// A line as a download (its second, dimensions, tally), or `None`.
fn read(line: &str, names: &Catalogue, bots: &[String]) -> Option<(i64, Dims, Tally)> {
    let line = line.trim();
    if line.starts_with('{') {
        let l: Line = serde_json::from_str(line).ok()?;
        // What the intake would refuse (a hand-edited or foreign line) is not a download.
        if l.dims.refused().is_some() || l.bytes > i64::MAX as u64 {
            return None;
        }
        let tally = Tally {
            downloads: 1,
            bytes: l.bytes,
        };
        return Some((l.time.timestamp(), l.dims, tally));
    }
    let c = Combined::parse(line)?;
    if c.method != "GET" || c.status != 302 {
        return None;
    }
    let query = c.target.split_once('?').map_or("", |(_, q)| q);
    let mut asked: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        asked
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    if asked.get("print").is_some_and(|p| p == "yes") {
        return None;
    }
    let product = names.product(asked.get("product")?)?;
    let os = names.os(asked.get("os")?)?;
    let agent = c.user_agent.to_ascii_lowercase();
    let dims = Dims {
        product,
        os,
        lang: asked.get("lang").map_or("en-US", String::as_str).to_owned(),
        country: "--".into(),
        target: OTHER.into(),
        family: if c.addr.contains(':') { 6 } else { 4 },
        scheme: "https".into(),
        agent: match bots.iter().any(|b| agent.contains(b.as_str())) {
            true => BOT.into(),
            false => USER.into(),
        },
    };
    Some((
        c.time,
        dims,
        Tally {
            downloads: 1,
            bytes: 0,
        },
    ))
}

/// The catalogue's product, alias and OS names, canonical → as stored.
struct Catalogue {
    products: HashMap<String, String>,
    oses: HashMap<String, String>,
}

impl Catalogue {
    fn load(conn: &mut DbConnection) -> Result<Self> {
        let by_canonical = |names: Vec<String>| -> HashMap<String, String> {
            names.into_iter().map(|n| (canonical(&n), n)).collect()
        };
        let mut products = by_canonical(products::table.select(products::name).load(conn)?);
        let linked: Vec<(String, String)> = aliases::table
            .select((aliases::alias, aliases::related_product))
            .load(conn)?;
        for (alias, product) in linked {
            let stored = products.get(&canonical(&product)).cloned();
            if let Some(stored) = stored {
                products.entry(canonical(&alias)).or_insert(stored);
            }
        }
        let oses = by_canonical(oses::table.select(oses::name).load(conn)?);
        Ok(Self { products, oses })
    }

    fn product(&self, asked: &str) -> Option<String> {
        self.products.get(&canonical(asked)).cloned()
    }

    fn os(&self, asked: &str) -> Option<String> {
        self.oses.get(&canonical(asked)).cloned()
    }
}

/// The fields of an nginx `combined` line bounce's import reads:
/// `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
/// "$http_referer" "$http_user_agent"`.
#[derive(Debug, PartialEq, Eq)]
struct Combined<'a> {
    addr: &'a str,
    time: i64,
    method: &'a str,
    target: &'a str,
    status: u16,
    user_agent: &'a str,
}

impl<'a> Combined<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let (addr, rest) = line.split_once(' ')?;
        let (_, rest) = rest.split_once(" [")?;
        let (time, rest) = rest.split_once("] \"")?;
        let time = DateTime::parse_from_str(time, "%d/%b/%Y:%H:%M:%S %z").ok()?;
        let (request, rest) = rest.split_once("\" ")?;
        let mut request = request.split(' ');
        let (method, target) = (request.next()?, request.next()?);
        let (status, rest) = rest.split_once(' ')?;
        // The last quoted field is the User-Agent.
        let user_agent = rest
            .trim_end()
            .strip_suffix('"')
            .and_then(|r| r.rsplit_once(" \""))
            .map_or("", |(_, ua)| ua);
        Some(Combined {
            addr,
            time: time.timestamp(),
            method,
            target,
            status: status.parse().ok()?,
            user_agent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nginx_combined_lines() {
        let line = r#"2001:db8::7 - - [07/Dec/2026:10:15:42 +0100] "GET /?product=firefox-latest&os=win64&lang=de HTTP/1.1" 302 0 "-" "Mozilla/5.0 (compatible; Googlebot/2.1)""#;
        let c = Combined::parse(line).unwrap();
        assert_eq!(
            c,
            Combined {
                addr: "2001:db8::7",
                time: 1_796_634_942,
                method: "GET",
                target: "/?product=firefox-latest&os=win64&lang=de",
                status: 302,
                user_agent: "Mozilla/5.0 (compatible; Googlebot/2.1)",
            }
        );
        assert_eq!(Combined::parse("not a log line"), None);
    }

    #[test]
    fn a_chunk_splits_into_batches_with_stable_ids() {
        let dims = |i: usize| Dims {
            product: format!("P{i}"),
            os: "win64".into(),
            lang: "de".into(),
            country: "--".into(),
            target: OTHER.into(),
            family: 4,
            scheme: "https".into(),
            agent: USER.into(),
        };
        let mut minutes: BTreeMap<i64, BTreeMap<Dims, Tally>> = BTreeMap::new();
        for i in 0..(MAX_COUNTS + 10) {
            let t = Tally {
                downloads: 1,
                bytes: 0,
            };
            minutes
                .entry((i as i64 % 3) * 60)
                .or_default()
                .insert(dims(i), t);
        }
        let chunk = vec!["a".to_owned(), "b".to_owned()];
        let id = chunk_id(&chunk);
        assert_eq!(id, chunk_id(&chunk), "the same bytes, the same id");
        assert_ne!(id, chunk_id(&["a".to_owned(), "c".to_owned()]));
        let out = batches(&id, minutes);
        let sizes: Vec<usize> = out
            .iter()
            .map(|b| b.minutes.iter().map(|m| m.counts.len()).sum())
            .collect();
        assert_eq!(sizes, [MAX_COUNTS, 10]);
        assert!(out.iter().all(|b| b.refused().is_none()));
        assert_eq!(out[1].id, format!("{id}-1"));
    }
}
