//! What each file is: its size and hashes, per location and language.
//!
//! A location's path may hold `:lang` (one file per language) or not (one file for all);
//! rows of the second kind are stored under the language `""`. The operator states what a
//! file is (tuxedo's JSON API); where it did not, sentry learns the size, `ETag` and
//! `Last-Modified` from the reference origin (a mirror flagged `reference`, or the pinned
//! CDN). sentry then holds every mirror to that size, and bounce sends the hashes
//! (`Repr-Digest`, Metalink) — so a user is sent to a mirror that has *that* file.
//!
//! Writers call these inside their write transaction and record [`crate::changes::Change::Location`]
//! for the location: bounce keeps file metadata in the location's cache entry.

use crate::db::DbConnection;
use crate::schema::{bouncer_files as files, bouncer_mirror_settings as settings};
use crate::Result;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// `source` of a row the operator wrote; sentry never overwrites it.
pub const OPERATOR: &str = "operator";
/// `source` of a row sentry learned from the reference origin.
pub const REFERENCE: &str = "reference";

/// Widths of the columns a caller writes (see `limits`).
pub const ETAG: usize = 255;
pub const LAST_MODIFIED: usize = 64;
pub const DISPUTED: usize = 255;

/// One file's metadata. Hashes are lowercase hex.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileMeta {
    #[serde(rename = "l")]
    pub lang: String,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(rename = "H", default, skip_serializing_if = "Option::is_none")]
    pub sha512: Option<String>,
    #[serde(rename = "e", default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    #[serde(rename = "o", default)]
    pub source: String,
}

/// What one HEAD of the reference origin said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub size: Option<i64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

type Row = (
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn meta((lang, size, sha256, sha512, etag, last_modified, source): Row) -> FileMeta {
    FileMeta {
        lang,
        size,
        sha256,
        sha512,
        etag,
        last_modified,
        source,
    }
}

macro_rules! columns {
    () => {
        (
            files::lang,
            files::size,
            files::sha256,
            files::sha512,
            files::etag,
            files::last_modified,
            files::source,
        )
    };
}

/// The language key a file of `path` is stored under for `lang`.
pub fn lang_key<'a>(path: &str, lang: &'a str) -> &'a str {
    match path.contains(":lang") {
        true => lang,
        false => "",
    }
}

/// Every file of one location, by language key.
pub fn of_location(conn: &mut DbConnection, location_id: i32) -> Result<Vec<FileMeta>> {
    let rows: Vec<Row> = files::table
        .filter(files::location_id.eq(location_id))
        .select(columns!())
        .order(files::lang.asc())
        .load(conn)?;
    Ok(rows.into_iter().map(meta).collect())
}

/// The file sentry probes for each location (language `lang`, or the one file of a path
/// without `:lang`), by location id.
pub fn for_probe(conn: &mut DbConnection, lang: &str) -> Result<HashMap<i32, FileMeta>> {
    let rows: Vec<(i32, Row)> = files::table
        .filter(files::lang.eq(lang).or(files::lang.eq("")))
        .select((files::location_id, columns!()))
        .load(conn)?;
    Ok(rows.into_iter().map(|(id, r)| (id, meta(r))).collect())
}

/// Stores what the operator says file `m.lang` of a location is (replacing any row);
/// returns the row it replaced.
pub fn set(conn: &mut DbConnection, location_id: i32, m: &FileMeta) -> Result<Option<FileMeta>> {
    let before = remove(conn, location_id, &m.lang)?;
    diesel::insert_into(files::table)
        .values((
            files::location_id.eq(location_id),
            files::lang.eq(&m.lang),
            files::size.eq(m.size),
            files::sha256.eq(&m.sha256),
            files::sha512.eq(&m.sha512),
            files::etag.eq(&m.etag),
            files::last_modified.eq(&m.last_modified),
            files::source.eq(OPERATOR),
            files::updated_at.eq(chrono::Utc::now().naive_utc()),
        ))
        .execute(conn)?;
    Ok(before)
}

/// Rows per multi-row insert of [`set_all`] on MySQL: 9 values a row, far within its
/// 65,535 placeholders per statement.
const INSERT_CHUNK: usize = 500;

/// A row [`set_all`] inserts.
#[derive(Insertable)]
#[diesel(table_name = files)]
struct NewFile<'a> {
    location_id: i32,
    lang: &'a str,
    size: Option<i64>,
    sha256: Option<&'a str>,
    sha512: Option<&'a str>,
    etag: Option<&'a str>,
    last_modified: Option<&'a str>,
    source: &'a str,
    updated_at: chrono::NaiveDateTime,
}

/// Stores what the operator says each file of `metas` is (replacing those rows), in a
/// few statements whatever the number of files: one read of the location's rows, a
/// delete and multi-row inserts (one statement per row on SQLite, which is in process).
/// A release states every language at once, and one round trip per file made a large
/// call outlast the caller's deadline. The languages of `metas` must be distinct (the
/// caller checks). Returns, for each of `metas`, the row it replaced.
pub fn set_all(
    conn: &mut DbConnection,
    location_id: i32,
    metas: &[FileMeta],
) -> Result<Vec<Option<FileMeta>>> {
    let mut existing: HashMap<String, FileMeta> = of_location(conn, location_id)?
        .into_iter()
        .map(|m| (m.lang.clone(), m))
        .collect();
    let before = metas.iter().map(|m| existing.remove(&m.lang)).collect();
    let now = chrono::Utc::now().naive_utc();
    let rows: Vec<NewFile<'_>> = metas
        .iter()
        .map(|m| NewFile {
            location_id,
            lang: &m.lang,
            size: m.size,
            sha256: m.sha256.as_deref(),
            sha512: m.sha512.as_deref(),
            etag: m.etag.as_deref(),
            last_modified: m.last_modified.as_deref(),
            source: OPERATOR,
            updated_at: now,
        })
        .collect();
    for chunk in rows.chunks(INSERT_CHUNK) {
        let langs: Vec<&str> = chunk.iter().map(|r| r.lang).collect();
        diesel::delete(
            files::table
                .filter(files::location_id.eq(location_id))
                .filter(files::lang.eq_any(&langs)),
        )
        .execute(conn)?;
        match conn {
            #[cfg(feature = "mysql")]
            DbConnection::Mysql(c) => {
                diesel::insert_into(files::table).values(chunk).execute(c)?;
            }
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(c) => {
                for row in chunk {
                    diesel::insert_into(files::table).values(row).execute(c)?;
                }
            }
        }
    }
    Ok(before)
}

/// Deletes one file row; returns it.
pub fn remove(conn: &mut DbConnection, location_id: i32, lang: &str) -> Result<Option<FileMeta>> {
    let key = files::table
        .filter(files::location_id.eq(location_id))
        .filter(files::lang.eq(lang));
    let before: Option<Row> = key.select(columns!()).first(conn).optional()?;
    if before.is_some() {
        diesel::delete(key).execute(conn)?;
    }
    Ok(before.map(meta))
}

/// `learned_from` of what the pinned https CDN taught (mirror ids start at 1).
pub const FROM_CDN: i32 = 0;

/// A learned row (`source = "reference"`) and the source that taught it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned {
    pub location_id: i32,
    pub lang: String,
    pub size: Option<i64>,
    /// A reference mirror's id, [`FROM_CDN`], or `None`: learned before sources were
    /// recorded.
    pub from: Option<i32>,
}

/// The learned rows whose size is disputed ([`dispute`]): `(location, lang)`.
pub fn disputed(conn: &mut DbConnection) -> Result<Vec<(i32, String)>> {
    Ok(files::table
        .filter(files::source.eq(REFERENCE))
        .filter(files::disputed.is_not_null())
        .select((files::location_id, files::lang))
        .load(conn)?)
}

/// Marks a learned size as not enforced, with why (cut to [`DISPUTED`] characters); an
/// operator's row is never disputed. Returns whether the row was marked (not already).
pub fn dispute(conn: &mut DbConnection, location_id: i32, lang: &str, why: &str) -> Result<bool> {
    let why: String = why.chars().take(DISPUTED).collect();
    let marked = diesel::update(
        files::table
            .filter(files::location_id.eq(location_id))
            .filter(files::lang.eq(lang))
            .filter(files::source.eq(REFERENCE))
            .filter(files::disputed.is_null()),
    )
    .set(files::disputed.eq(why))
    .execute(conn)?;
    Ok(marked > 0)
}

/// Every learned row, with its source.
pub fn learned(conn: &mut DbConnection) -> Result<Vec<Learned>> {
    let rows: Vec<(i32, String, Option<i64>, Option<i32>)> = files::table
        .filter(files::source.eq(REFERENCE))
        .select((
            files::location_id,
            files::lang,
            files::size,
            files::learned_from,
        ))
        .order((files::location_id.asc(), files::lang.asc()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(location_id, lang, size, from)| Learned {
            location_id,
            lang,
            size,
            from,
        })
        .collect())
}

/// Records what source `from` said of a file, unless the operator stated it or nothing
/// changed. Returns whether a row was written (what bounce reads changed). The same
/// metadata from another source only moves the row to it (bounce reads no source): when
/// the old source goes, the row stays.
pub fn learn(
    conn: &mut DbConnection,
    location_id: i32,
    lang: &str,
    o: &Observed,
    from: i32,
) -> Result<bool> {
    if o.size.is_none() {
        return Ok(false);
    }
    let key = files::table
        .filter(files::location_id.eq(location_id))
        .filter(files::lang.eq(lang));
    let now: Option<(Row, Option<i32>)> = key
        .select((columns!(), files::learned_from))
        .first(conn)
        .optional()?;
    if let Some((m, was_from)) = now.map(|(r, f)| (meta(r), f)) {
        if m.source == OPERATOR {
            return Ok(false);
        }
        if m.size == o.size && m.etag == o.etag && m.last_modified == o.last_modified {
            if was_from != Some(from) {
                diesel::update(key)
                    .set(files::learned_from.eq(from))
                    .execute(conn)?;
            }
            return Ok(false);
        }
        remove(conn, location_id, lang)?;
    }
    diesel::insert_into(files::table)
        .values((
            files::location_id.eq(location_id),
            files::lang.eq(lang),
            files::size.eq(o.size),
            files::etag.eq(&o.etag),
            files::last_modified.eq(&o.last_modified),
            files::source.eq(REFERENCE),
            files::updated_at.eq(chrono::Utc::now().naive_utc()),
            files::learned_from.eq(from),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Deletes learned rows — every one, or those taught by `from` — never the operator's;
/// returns them with their location ids. For a bulk reset: the next run learns again from
/// the current sources.
pub fn forget_learned(conn: &mut DbConnection, from: Option<i32>) -> Result<Vec<(i32, FileMeta)>> {
    let rows: Vec<(i32, Row)> = {
        let mut q = files::table
            .filter(files::source.eq(REFERENCE))
            .select((files::location_id, columns!()))
            .order((files::location_id.asc(), files::lang.asc()))
            .into_boxed();
        if let Some(from) = from {
            q = q.filter(files::learned_from.eq(from));
        }
        q.load(conn)?
    };
    let mut gone = Vec::with_capacity(rows.len());
    for (location_id, row) in rows {
        let m = meta(row);
        if let Some(before) = remove(conn, location_id, &m.lang)? {
            gone.push((location_id, before));
        }
    }
    Ok(gone)
}

/// The mirrors flagged as reference origins.
pub fn reference_mirrors(conn: &mut DbConnection) -> Result<Vec<i32>> {
    Ok(settings::table
        .filter(settings::reference.eq(true))
        .select(settings::mirror_id)
        .order(settings::mirror_id.asc())
        .load(conn)?)
}

/// Flags (or unflags) a mirror as a reference origin; the row's other settings (its
/// network mode) stay as they are.
pub fn set_reference(conn: &mut DbConnection, mirror_id: i32, reference: bool) -> Result<()> {
    let row = settings::table.filter(settings::mirror_id.eq(mirror_id));
    let exists: i64 = row.count().get_result(conn)?;
    if exists > 0 {
        diesel::update(row)
            .set(settings::reference.eq(reference))
            .execute(conn)?;
    } else if reference {
        diesel::insert_into(settings::table)
            .values((
                settings::mirror_id.eq(mirror_id),
                settings::reference.eq(true),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Checks what an operator sends and normalises hashes to lowercase; `Err((field,
/// reason))` names what is wrong.
pub fn validate(m: &mut FileMeta) -> std::result::Result<(), (&'static str, String)> {
    if m.lang.chars().count() > crate::limits::LANGUAGE {
        let max = crate::limits::LANGUAGE;
        return Err(("lang", format!("at most {max} characters")));
    }
    if m.size.is_some_and(|s| s < 0) {
        return Err(("size", "must not be negative".into()));
    }
    for (field, value, len) in [
        ("sha256", &mut m.sha256, 64),
        ("sha512", &mut m.sha512, 128),
    ] {
        if let Some(v) = value {
            if v.len() != len || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err((field, format!("must be {len} hexadecimal digits")));
            }
            *v = v.to_ascii_lowercase();
        }
    }
    for (field, value, max) in [
        ("etag", &m.etag, ETAG),
        ("last_modified", &m.last_modified, LAST_MODIFIED),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            return Err((field, format!("at most {max} characters")));
        }
    }
    if m.size.is_none() && m.sha256.is_none() && m.sha512.is_none() {
        return Err(("size", "give at least a size or a hash".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field_and_normalises_hashes() {
        let mut m = FileMeta {
            lang: "de".into(),
            size: Some(10),
            sha256: Some("AB".repeat(32)),
            ..FileMeta::default()
        };
        assert_eq!(validate(&mut m), Ok(()));
        assert_eq!(m.sha256.as_deref(), Some("ab".repeat(32).as_str()));
        m.sha256 = Some("zz".repeat(32));
        assert_eq!(validate(&mut m).unwrap_err().0, "sha256");
        m.sha256 = None;
        m.size = Some(-1);
        assert_eq!(validate(&mut m).unwrap_err().0, "size");
        m.size = None;
        assert_eq!(validate(&mut m).unwrap_err().0, "size");
        m.size = Some(1);
        m.etag = Some("x".repeat(ETAG + 1));
        assert_eq!(validate(&mut m).unwrap_err().0, "etag");
    }

    #[test]
    fn lang_keys_follow_the_path() {
        assert_eq!(lang_key("/f/:lang/setup.exe", "de"), "de");
        assert_eq!(lang_key("/f/setup.exe", "de"), "");
    }
}
