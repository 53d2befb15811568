//! Download statistics at rest. bounce counts downloads in memory (no I/O on the request
//! path) and sends what it counted, in [`Batch`]es, to tuxedo, which adds them here with
//! [`add`]: one transaction per batch, recognised by its id when it is sent again (the
//! sender retries until it hears an answer, so an answer lost on the way must not count
//! twice). Each count is added to its minute, hour and day rows at once, so a report over
//! a month reads days, not forty thousand minutes, and each granularity is pruned after
//! its own retention ([`prune`]). Nothing here identifies a client: the dimensions are the
//! catalogue's names, a country and an address family.

use crate::db::classify::{is_transient, is_unique_violation, retrying};
use crate::db::{write_transaction, DbConnection};
use crate::schema::{bouncer_download_counts as counts, bouncer_stats_batches as batches};
use crate::Result;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod log;
mod upsert;

/// Where bounce sends its batches (tuxedo; bearer `fleet.token`, like the registry).
pub const PATH: &str = "/__fleet__/stats";
/// Longest batch id.
pub const MAX_ID: usize = 64;
/// Most counts one batch may carry (a sender splits more into several batches): at most
/// about 700 bytes of JSON each (names at their longest), so a full batch stays within
/// tuxedo's default body limit (500 KiB) — a batch refused as too large would be dropped.
pub const MAX_COUNTS: usize = 500;
/// The target of a download that went to the CDN (CDN mode) or to the fallback host.
pub const CDN: &str = "cdn";
pub const FALLBACK: &str = "fallback";
/// The bucket of whatever did not fit a bounded counter set (see bounce's counting).
pub const OTHER: &str = "other";
/// The agents a download is counted under: a person's client, or a crawler (its
/// User-Agent matched bounce's bot mask, `bounce.stats_bots`).
pub const USER: &str = "user";
pub const BOT: &str = "bot";

/// What bounce knows about a download: the key of a count.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Dims {
    pub product: String,
    pub os: String,
    pub lang: String,
    /// ISO 3166 alpha-2, or `--` when unknown.
    pub country: String,
    /// A mirror's id, [`CDN`], [`FALLBACK`] or [`OTHER`].
    pub target: String,
    /// 4 or 6; 0 when unknown.
    pub family: i16,
    /// `http` or `https`: the redirect's.
    pub scheme: String,
    /// [`USER`] or [`BOT`]; a sender that predates the bot mask counts people only.
    #[serde(default = "user")]
    pub agent: String,
}

fn user() -> String {
    USER.to_owned()
}

impl Dims {
    /// The short key the row is stored under: a hash of every dimension, so the primary key
    /// stays within MariaDB's limit whatever the names' lengths. People's downloads keep
    /// the key they had before the agent was a dimension (rows of the same period go on
    /// adding up); a bot's differs.
    pub fn key(&self) -> i64 {
        let family = self.family.to_be_bytes();
        let parts: [&[u8]; 7] = [
            self.product.as_bytes(),
            self.os.as_bytes(),
            self.lang.as_bytes(),
            self.country.as_bytes(),
            self.target.as_bytes(),
            &family,
            self.scheme.as_bytes(),
        ];
        match self.agent == USER {
            true => crate::hash::stable_hash(&parts) as i64,
            false => {
                let bot = [self.agent.as_bytes()];
                let parts: Vec<&[u8]> = parts.iter().chain(&bot).copied().collect();
                crate::hash::stable_hash(&parts) as i64
            }
        }
    }

    /// Why these dimensions cannot be stored, if they cannot.
    fn refused(&self) -> Option<String> {
        let long = |what: &str, v: &str, max: usize| {
            (v.is_empty() || v.chars().count() > max)
                .then(|| format!("{what}: 1 to {max} characters"))
        };
        long("product", &self.product, 255)
            .or_else(|| long("os", &self.os, 255))
            .or_else(|| long("lang", &self.lang, 32))
            .or_else(|| long("target", &self.target, 32))
            .or_else(|| {
                let ok = self.country.len() == 2
                    && self
                        .country
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b == b'-');
                (!ok).then(|| "country: two capital letters, or --".to_owned())
            })
            .or_else(|| (![0, 4, 6].contains(&self.family)).then(|| "family: 0, 4 or 6".to_owned()))
            .or_else(|| {
                (!["http", "https"].contains(&self.scheme.as_str()))
                    .then(|| "scheme: http or https".to_owned())
            })
            .or_else(|| {
                (![USER, BOT].contains(&self.agent.as_str()))
                    .then(|| format!("agent: {USER} or {BOT}"))
            })
    }
}

/// Downloads and the bytes they were for (when the file's size is known).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub downloads: u64,
    pub bytes: u64,
}

impl Tally {
    /// Adds `other` (saturating: a count never wraps).
    pub fn add(&mut self, other: Tally) {
        self.downloads = self.downloads.saturating_add(other.downloads);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// One minute's counts of one sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minute {
    /// The minute's start, Unix seconds (a multiple of 60).
    pub start: i64,
    pub counts: Vec<(Dims, Tally)>,
}

/// What a bounce instance sends: its counts since the last batch it had acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Chosen by the sender, unique per batch; sent again unchanged when retried.
    pub id: String,
    /// The sender (its fleet URL), for the operator.
    pub instance: String,
    pub minutes: Vec<Minute>,
}

impl Batch {
    /// Why the batch cannot be added, if it cannot (the receiver answers 400 with it).
    pub fn refused(&self) -> Option<String> {
        if self.id.is_empty() || self.id.len() > MAX_ID {
            return Some(format!("id: 1 to {MAX_ID} bytes"));
        }
        if self.instance.len() > 255 {
            return Some("instance: at most 255 bytes".into());
        }
        let n: usize = self.minutes.iter().map(|m| m.counts.len()).sum();
        if n > MAX_COUNTS {
            return Some(format!("{n} counts: at most {MAX_COUNTS} per batch"));
        }
        for m in &self.minutes {
            if m.start % 60 != 0 || m.start < 0 {
                return Some(format!("minute {}: not the start of a minute", m.start));
            }
            for (dims, tally) in &m.counts {
                if let Some(why) = dims.refused() {
                    return Some(why);
                }
                if tally.downloads > i64::MAX as u64 || tally.bytes > i64::MAX as u64 {
                    return Some("a count beyond 2^63".into());
                }
            }
        }
        None
    }

    /// The batch as two of about half its counts each, with ids of their own (`<id>a`,
    /// `<id>b`), for a receiver that refused it as too large (it counted none of it);
    /// `Err` with the batch when it holds one count or its id has no room left.
    pub fn halves(self) -> std::result::Result<(Batch, Batch), Batch> {
        let counts: Vec<(i64, &(Dims, Tally))> = self
            .minutes
            .iter()
            .flat_map(|m| m.counts.iter().map(move |c| (m.start, c)))
            .collect();
        if counts.len() < 2 || self.id.len() + 1 > MAX_ID {
            return Err(self);
        }
        let half = |part: &[(i64, &(Dims, Tally))], tag: char| {
            let mut minutes: Vec<Minute> = Vec::new();
            for (start, count) in part {
                match minutes.last_mut() {
                    Some(m) if m.start == *start => m.counts.push((*count).clone()),
                    _ => minutes.push(Minute {
                        start: *start,
                        counts: vec![(*count).clone()],
                    }),
                }
            }
            Batch {
                id: format!("{}{tag}", self.id),
                instance: self.instance.clone(),
                minutes,
            }
        };
        let (a, b) = counts.split_at(counts.len() / 2);
        Ok((half(a, 'a'), half(b, 'b')))
    }

    /// Downloads in the batch.
    pub fn downloads(&self) -> u64 {
        let all = self.minutes.iter().flat_map(|m| &m.counts);
        all.fold(0u64, |n, (_, t)| n.saturating_add(t.downloads))
    }
}

/// The periods a count is kept for, and their letters in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    Minute,
    Hour,
    Day,
}

impl Granularity {
    pub const ALL: [Granularity; 3] = [Self::Minute, Self::Hour, Self::Day];

    fn letter(self) -> &'static str {
        match self {
            Self::Minute => "m",
            Self::Hour => "h",
            Self::Day => "d",
        }
    }

    fn seconds(self) -> i64 {
        match self {
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }

    /// The start of the period holding `t` (Unix seconds, UTC).
    pub fn bucket(self, t: i64) -> i64 {
        t - t.rem_euclid(self.seconds())
    }
}

/// What [`add`] did with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Counted: this many downloads.
    Counted(u64),
    /// Seen before (same id): nothing counted again.
    Repeat,
}

/// Adds `batch` (checked with [`Batch::refused`] first) in one transaction: all of it or,
/// when its id was added before, nothing. Concurrent batches adding to the same rows are
/// retried on a clash.
pub fn add(conn: &mut DbConnection, batch: &Batch, now: i64) -> Result<Added> {
    // Merge first: one statement per row, however often a key repeats across minutes.
    let mut rows: BTreeMap<(Granularity, i64, i64), (&Dims, Tally)> = BTreeMap::new();
    for m in &batch.minutes {
        for (dims, tally) in &m.counts {
            let key = dims.key();
            for g in Granularity::ALL {
                let row = rows
                    .entry((g, g.bucket(m.start), key))
                    .or_insert((dims, Tally::default()));
                row.1.add(*tally);
            }
        }
    }
    // Stored from u64s below 2^63 (see `Batch::refused`).
    let count_rows: Vec<upsert::CountRow<'_>> = rows
        .iter()
        .map(|((g, bucket, key), (dims, tally))| upsert::CountRow {
            granularity: g.letter(),
            bucket: *bucket,
            key: *key,
            dims,
            downloads: tally.downloads as i64,
            bytes: tally.bytes as i64,
        })
        .collect();
    let attempt = || {
        write_transaction(conn, |c| {
            let first = diesel::insert_into(batches::table)
                .values((
                    batches::id.eq(&batch.id),
                    batches::instance.eq(&batch.instance),
                    batches::received_at.eq(now),
                ))
                .execute(c);
            match first {
                Err(e) if is_unique_violation(&e) => return Ok(Added::Repeat),
                other => other?,
            };
            upsert::add_rows(c, &count_rows)?;
            add_legacy(c, batch)?;
            Ok(Added::Counted(batch.downloads()))
        })
    };
    // A clash on a count row: a concurrent batch created it first; the next try adds to it.
    let clash = |e: &diesel::result::Error| is_transient(e) || is_unique_violation(e);
    Ok(retrying(attempt, clash)?)
}

/// Keeps the legacy `count` columns current (products by name, mirrors by id), which the
/// old admin showed and reports of that era read: one statement per product and mirror in
/// the batch. People's downloads only: those columns never knew bots apart.
fn add_legacy(c: &mut DbConnection, batch: &Batch) -> diesel::QueryResult<()> {
    use crate::schema::{mirror_mirrors as mirrors, mirror_products as products};
    let mut by_product: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_mirror: BTreeMap<i32, i64> = BTreeMap::new();
    let all = batch.minutes.iter().flat_map(|m| &m.counts);
    for (dims, tally) in all.filter(|(d, _)| d.agent == USER) {
        let n = tally.downloads as i64;
        *by_product.entry(&dims.product).or_default() += n;
        if let Ok(id) = dims.target.parse::<i32>() {
            *by_mirror.entry(id).or_default() += n;
        }
    }
    for (name, n) in by_product {
        diesel::update(products::table.filter(products::name.eq(name)))
            .set(products::count.eq(products::count + n))
            .execute(c)?;
    }
    for (id, n) in by_mirror {
        diesel::update(mirrors::table.find(id))
            .set(mirrors::count.eq(mirrors::count + n))
            .execute(c)?;
    }
    Ok(())
}

/// How long each granularity is kept, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub minutes: i64,
    pub hours: i64,
    pub days: i64,
}

impl Retention {
    fn of(&self, g: Granularity) -> i64 {
        match g {
            Granularity::Minute => self.minutes,
            Granularity::Hour => self.hours,
            Granularity::Day => self.days,
        }
    }
}

/// Removes rows older than their retention, and the ids of batches older than the minute
/// rows (a batch retried that late would be counted again — its minutes are gone anyway);
/// imported batches' ids stay as long as the day rows (a log imported again next month
/// must still count once, see [`log`]). Returns the count rows removed.
pub fn prune(conn: &mut DbConnection, keep: Retention, now: i64) -> Result<usize> {
    let mut removed = 0;
    for g in Granularity::ALL {
        let horizon = g.bucket(now - keep.of(g));
        removed += diesel::delete(
            counts::table
                .filter(counts::granularity.eq(g.letter()))
                .filter(counts::bucket.lt(horizon)),
        )
        .execute(conn)?;
    }
    let imported = batches::id.like(format!("{}%", log::IMPORT));
    diesel::delete(
        batches::table
            .filter(batches::received_at.lt(now - keep.minutes))
            .filter(diesel::dsl::not(imported.clone())),
    )
    .execute(conn)?;
    diesel::delete(
        batches::table
            .filter(batches::received_at.lt(now - keep.days))
            .filter(imported),
    )
    .execute(conn)?;
    Ok(removed)
}

/// One stored count, as reports read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The period's start, Unix seconds.
    pub bucket: i64,
    pub dims: Dims,
    pub tally: Tally,
}

type DimsColumns = (String, String, String, String, String, i16, String, String);

/// The rows of granularity `g` with `from <= bucket < to`.
pub fn rows(conn: &mut DbConnection, g: Granularity, from: i64, to: i64) -> Result<Vec<Row>> {
    rows_at_most(conn, g, (from, to), i64::MAX)
}

/// [`rows`], at most `limit` of them (a report that would read more is refused).
pub fn rows_at_most(
    conn: &mut DbConnection,
    g: Granularity,
    (from, to): (i64, i64),
    limit: i64,
) -> Result<Vec<Row>> {
    let rows: Vec<(i64, DimsColumns, (i64, i64))> = counts::table
        .filter(counts::granularity.eq(g.letter()))
        .filter(counts::bucket.ge(from))
        .filter(counts::bucket.lt(to))
        .order((counts::bucket.asc(), counts::dims.asc()))
        .limit(limit)
        .select((
            counts::bucket,
            (
                counts::product,
                counts::os,
                counts::lang,
                counts::country,
                counts::target,
                counts::family,
                counts::scheme,
                counts::agent,
            ),
            (counts::downloads, counts::bytes),
        ))
        .load(conn)?;
    let row = |(bucket, d, t): (i64, DimsColumns, (i64, i64))| Row {
        bucket,
        dims: Dims {
            product: d.0,
            os: d.1,
            lang: d.2,
            country: d.3,
            target: d.4,
            family: d.5,
            scheme: d.6,
            agent: d.7,
        },
        // Stored from u64s below 2^63 (see `Batch::refused`), sums saturating there.
        tally: Tally {
            downloads: t.0.max(0) as u64,
            bytes: t.1.max(0) as u64,
        },
    };
    Ok(rows.into_iter().map(row).collect())
}

/// The dimensions a report can group by and filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dim {
    Product,
    Os,
    Lang,
    Country,
    /// A mirror's id, `cdn`, `fallback` or `other` (`mirror` is accepted for it).
    Target,
    Family,
    Scheme,
    /// `user` or `bot`.
    Agent,
}

impl Dim {
    pub const ALL: [Dim; 8] = [
        Dim::Product,
        Dim::Os,
        Dim::Lang,
        Dim::Country,
        Dim::Target,
        Dim::Family,
        Dim::Scheme,
        Dim::Agent,
    ];

    /// The dimension a report parameter names.
    pub fn named(name: &str) -> Option<Dim> {
        Some(match name {
            "product" => Dim::Product,
            "os" => Dim::Os,
            "lang" => Dim::Lang,
            "country" => Dim::Country,
            "target" | "mirror" => Dim::Target,
            "family" => Dim::Family,
            "scheme" => Dim::Scheme,
            "agent" => Dim::Agent,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Dim::Product => "product",
            Dim::Os => "os",
            Dim::Lang => "lang",
            Dim::Country => "country",
            Dim::Target => "target",
            Dim::Family => "family",
            Dim::Scheme => "scheme",
            Dim::Agent => "agent",
        }
    }

    /// This dimension's value in `d`.
    pub fn of(self, d: &Dims) -> String {
        match self {
            Dim::Product => d.product.clone(),
            Dim::Os => d.os.clone(),
            Dim::Lang => d.lang.clone(),
            Dim::Country => d.country.clone(),
            Dim::Target => d.target.clone(),
            Dim::Family => d.family.to_string(),
            Dim::Scheme => d.scheme.clone(),
            Dim::Agent => d.agent.clone(),
        }
    }
}

/// The periods a report is summed over: hours and days as stored, months from days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Hour,
    Day,
    Month,
}

impl Period {
    /// The stored rows a report of this period reads.
    pub fn source(self) -> Granularity {
        match self {
            Period::Hour => Granularity::Hour,
            Period::Day | Period::Month => Granularity::Day,
        }
    }

    /// The period holding `bucket`, as a report names it (UTC): `2026-12-07T10`,
    /// `2026-12-07`, `2026-12`.
    pub fn label(self, bucket: i64) -> String {
        let at = chrono::DateTime::from_timestamp(bucket, 0).unwrap_or_default();
        at.format(match self {
            Period::Hour => "%Y-%m-%dT%H",
            Period::Day => "%Y-%m-%d",
            Period::Month => "%Y-%m",
        })
        .to_string()
    }
}

/// One line of a report: a period, the grouped dimensions' values (in `group_by`'s
/// order) and the sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub period: String,
    pub values: Vec<String>,
    pub tally: Tally,
}

/// Sums `rows` per period and per the values of `group_by`, keeping only the rows whose
/// dimensions equal every `filters` value; lines in period order, then by values.
pub fn report(
    rows: &[Row],
    period: Period,
    group_by: &[Dim],
    filters: &[(Dim, String)],
) -> Vec<Line> {
    let mut sums: BTreeMap<(String, Vec<String>), Tally> = BTreeMap::new();
    let kept = rows
        .iter()
        .filter(|r| filters.iter().all(|(dim, want)| dim.of(&r.dims) == *want));
    for r in kept {
        let values = group_by.iter().map(|d| d.of(&r.dims)).collect();
        sums.entry((period.label(r.bucket), values))
            .or_default()
            .add(r.tally);
    }
    sums.into_iter()
        .map(|((period, values), tally)| Line {
            period,
            values,
            tally,
        })
        .collect()
}

/// A file (product, OS, language) and its downloads, as the popular-files feed lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Popular {
    pub product: String,
    pub os: String,
    pub lang: String,
    pub downloads: u64,
}

/// The `n` files downloaded most in `rows`, most first (ties by name); a file with fewer
/// than `least` downloads is not listed (small counts say too much about few people, and
/// little about what to pre-position). `other` rows are not files, and bots' downloads
/// say nothing about what people will ask for.
pub fn popular(rows: &[Row], n: usize, least: u64) -> Vec<Popular> {
    let mut sums: BTreeMap<(&str, &str, &str), u64> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.dims.product != OTHER && r.dims.os != OTHER && r.dims.agent == USER)
    {
        let d = &r.dims;
        let sum = sums.entry((&d.product, &d.os, &d.lang)).or_default();
        *sum = sum.saturating_add(r.tally.downloads);
    }
    let mut files: Vec<Popular> = sums
        .into_iter()
        .filter(|(_, downloads)| *downloads >= least)
        .map(|((product, os, lang), downloads)| Popular {
            product: product.to_owned(),
            os: os.to_owned(),
            lang: lang.to_owned(),
            downloads,
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.downloads));
    files.truncate(n);
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(product: &str) -> Dims {
        Dims {
            product: product.into(),
            os: "win64".into(),
            lang: "de".into(),
            country: "DE".into(),
            target: "7".into(),
            family: 4,
            scheme: "https".into(),
            agent: USER.into(),
        }
    }

    #[test]
    fn a_batch_halves_into_two_with_every_count_and_ids_of_their_own() {
        let t = Tally {
            downloads: 1,
            bytes: 0,
        };
        let batch = Batch {
            id: "b-1".into(),
            instance: "i".into(),
            minutes: vec![
                Minute {
                    start: 60,
                    counts: vec![(dims("A"), t), (dims("B"), t)],
                },
                Minute {
                    start: 120,
                    counts: vec![(dims("C"), t)],
                },
            ],
        };
        let (a, b) = batch.clone().halves().unwrap();
        assert_eq!((a.id.as_str(), b.id.as_str()), ("b-1a", "b-1b"));
        assert_eq!((a.downloads(), b.downloads()), (1, 2));
        assert_eq!(
            b.minutes.iter().map(|m| m.start).collect::<Vec<_>>(),
            [60, 120]
        );
        assert_eq!(
            a.clone().halves().unwrap_err(),
            a,
            "one count does not halve"
        );
    }

    #[test]
    fn buckets_start_their_period() {
        let t = 1_765_000_123; // some second
        assert_eq!(Granularity::Minute.bucket(t), t - t % 60);
        assert_eq!(Granularity::Hour.bucket(t) % 3600, 0);
        assert_eq!(Granularity::Day.bucket(t) % 86_400, 0);
        assert!(Granularity::Day.bucket(t) <= Granularity::Hour.bucket(t));
    }

    #[test]
    fn every_dimension_changes_the_key() {
        let base = dims("Firefox-130.0");
        let mut others = vec![dims("Firefox-131.0")];
        for f in 0..7 {
            let mut d = base.clone();
            match f {
                0 => d.os = "linux".into(),
                1 => d.lang = "fr".into(),
                2 => d.country = "FR".into(),
                3 => d.target = CDN.into(),
                4 => d.family = 6,
                5 => d.scheme = "http".into(),
                _ => d.agent = BOT.into(),
            }
            others.push(d);
        }
        for o in &others {
            assert_ne!(o.key(), base.key(), "{o:?}");
        }
        // People's rows keep the key they had before the agent was a dimension.
        let family = base.family.to_be_bytes();
        let before: [&[u8]; 7] = [
            b"Firefox-130.0",
            b"win64",
            b"de",
            b"DE",
            b"7",
            &family,
            b"https",
        ];
        assert_eq!(base.key(), crate::hash::stable_hash(&before) as i64);
        // Field boundaries count: ("ab", "c") is not ("a", "bc").
        let (mut a, mut b) = (base.clone(), base.clone());
        (a.product, a.os) = ("ab".into(), "c".into());
        (b.product, b.os) = ("a".into(), "bc".into());
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn reports_sum_per_period_and_group_after_the_filters() {
        let day = 1_796_601_600; // 2026-12-07 00:00 UTC
        let row = |bucket, product: &str, country: &str, n| Row {
            bucket,
            dims: Dims {
                country: country.into(),
                ..dims(product)
            },
            tally: Tally {
                downloads: n,
                bytes: n * 10,
            },
        };
        let rows = [
            row(day, "A", "DE", 1),
            row(day, "A", "FR", 2),
            row(day, "B", "DE", 4),
            row(day + 86_400, "A", "DE", 8),
        ];
        let lines = report(&rows, Period::Day, &[Dim::Product], &[]);
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.period.as_str(), l.values.join(","), l.tally.downloads))
            .collect();
        assert_eq!(
            got,
            vec![
                ("2026-12-07", "A".into(), 3),
                ("2026-12-07", "B".into(), 4),
                ("2026-12-08", "A".into(), 8)
            ]
        );
        let month = report(&rows, Period::Month, &[], &[(Dim::Country, "DE".into())]);
        assert_eq!(month.len(), 1);
        assert_eq!(
            (
                month[0].period.as_str(),
                month[0].tally.downloads,
                month[0].tally.bytes
            ),
            ("2026-12", 13, 130)
        );
    }

    #[test]
    fn popular_files_are_the_most_downloaded_without_small_counts() {
        let row = |product: &str, lang: &str, n| Row {
            bucket: 0,
            dims: Dims {
                lang: lang.into(),
                ..dims(product)
            },
            tally: Tally {
                downloads: n,
                bytes: 0,
            },
        };
        let rows = [
            row("A", "de", 30),
            row("A", "de", 20),
            row("B", "de", 40),
            row("A", "fr", 9),
            row(OTHER, "de", 1000),
            row("C", "de", 45),
        ];
        let top: Vec<_> = popular(&rows, 2, 10)
            .into_iter()
            .map(|p| (p.product, p.lang, p.downloads))
            .collect();
        assert_eq!(
            top,
            vec![("A".into(), "de".into(), 50), ("C".into(), "de".into(), 45)]
        );
        assert!(
            popular(&rows, 10, 10).iter().all(|p| p.lang != "fr"),
            "9 < 10"
        );
    }

    #[test]
    fn batches_that_cannot_be_stored_say_why() {
        let ok = Batch {
            id: "b1".into(),
            instance: "http://bounce-1".into(),
            minutes: vec![Minute {
                start: 120,
                counts: vec![(
                    dims("Firefox"),
                    Tally {
                        downloads: 1,
                        bytes: 0,
                    },
                )],
            }],
        };
        assert_eq!(ok.refused(), None);
        let mut bad = ok.clone();
        bad.minutes[0].start = 121;
        assert!(bad.refused().unwrap().contains("not the start of a minute"));
        let mut bad = ok.clone();
        bad.minutes[0].counts[0].0.country = "de".into();
        assert!(bad.refused().unwrap().starts_with("country"));
        let mut bad = ok.clone();
        bad.id = "x".repeat(65);
        assert!(bad.refused().unwrap().starts_with("id"));
        let mut bad = ok;
        bad.minutes[0].counts[0].0.family = 5;
        assert!(bad.refused().unwrap().starts_with("family"));
    }
}
