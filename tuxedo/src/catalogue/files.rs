//! What each file of a location is (size, hashes): stated by release automation through
//! the JSON API, one call for all languages of a release (or with the XML API's
//! `location_add` / `location_modify`, one file per call), or by an operator in the UI.
//! bounce sends the hashes (`Repr-Digest`, Metalink) and sentry holds every mirror to the
//! size (see `bouncer_core::files`).

use super::locations::ProductLocations;
use super::{bump, write_tx, Change, Tail};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::files::{self, FileMeta};
use bouncer_core::schema::{bouncer_files, mirror_locations};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One file as the operator states it. `lang` is required when the location's path holds
/// `:lang` and must be absent (or empty) when it does not.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileForm {
    #[serde(default)]
    pub lang: String,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub sha512: Option<String>,
}

impl FileForm {
    /// A file as typed in a form or given as XML API parameters, where every value is
    /// text: blank = not given, a size that is not a whole number is refused here (the
    /// rest is checked by [`put`], as for the JSON API).
    pub fn from_text(lang: &str, size: &str, sha256: &str, sha512: &str) -> Result<Self> {
        let given = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        let size = match given(size) {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| {
                TuxedoError::invalid("size", format!("{v:?} is not a whole number of bytes"))
            })?),
        };
        Ok(Self {
            lang: lang.trim().to_owned(),
            size,
            sha256: given(sha256),
            sha512: given(sha512),
        })
    }
}

/// A file as the APIs show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileView {
    pub lang: String,
    pub size: Option<i64>,
    pub sha256: Option<String>,
    pub sha512: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// `operator` or `reference` (learned by sentry).
    pub source: String,
}

fn view(m: FileMeta) -> FileView {
    FileView {
        lang: m.lang,
        size: m.size,
        sha256: m.sha256,
        sha512: m.sha512,
        etag: m.etag,
        last_modified: m.last_modified,
        source: m.source,
    }
}

/// A file with when it was last written, as the UI lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRow {
    #[serde(flatten)]
    pub file: FileView,
    #[serde(serialize_with = "bouncer_core::utc::serialize")]
    pub updated_at: NaiveDateTime,
}

fn path_of(conn: &mut DbConnection, location_id: i32) -> Result<String> {
    mirror_locations::table
        .find(location_id)
        .select(mirror_locations::path)
        .first(conn)
        .optional()?
        .ok_or_else(|| TuxedoError::LocationIdNotFound(location_id.to_string()))
}

/// The most files one call states. A release states each language of a location once
/// (Firefox has about a hundred); a longer list is a mistake, refused before any work
/// rather than holding the master until the caller's deadline.
pub const MAX_FILES_PER_CALL: usize = 500;

/// The location's path, its product's name and the product's languages.
fn location_of(conn: &mut DbConnection, location_id: i32) -> Result<(String, String, Vec<String>)> {
    let path = path_of(conn, location_id)?;
    let product_id: i32 = mirror_locations::table
        .find(location_id)
        .select(mirror_locations::product_id)
        .first(conn)?;
    let product = super::products::one(conn, product_id)?;
    Ok((path, product.name, product.languages))
}

/// Every file of location `id`.
pub fn list(conn: &mut DbConnection, id: i32) -> Result<Vec<FileView>> {
    path_of(conn, id)?;
    Ok(files::of_location(conn, id)?
        .into_iter()
        .map(view)
        .collect())
}

/// Every file of location `id` with its write time (the JSON API's list has none).
pub fn rows(conn: &mut DbConnection, id: i32) -> Result<Vec<FileRow>> {
    let files = list(conn, id)?;
    let times: HashMap<String, NaiveDateTime> = bouncer_files::table
        .filter(bouncer_files::location_id.eq(id))
        .select((bouncer_files::lang, bouncer_files::updated_at))
        .load(conn)?
        .into_iter()
        .collect();
    Ok(files
        .into_iter()
        .filter_map(|file| {
            let updated_at = *times.get(&file.lang)?;
            Some(FileRow { file, updated_at })
        })
        .collect())
}

/// The request's languages checked on their own, before the transaction: each a
/// language code by the project's rule (`bouncer_core::locale`: bounce puts it into a URL
/// path, so `../x`, `*` or a control character must never be stored).
fn codes(forms: &[FileForm]) -> Result<()> {
    for lang in forms
        .iter()
        .map(|f| f.lang.trim())
        .filter(|l| !l.is_empty())
    {
        if !bouncer_core::locale::valid(lang) {
            return Err(TuxedoError::invalid(
                "lang",
                format!(
                    "{} is not a language code (ASCII letters and digits in hyphen-separated \
                     parts, such as en-US or ja-JP-mac, at most {} characters)",
                    super::shown(lang),
                    bouncer_core::limits::LANGUAGE
                ),
            ));
        }
    }
    Ok(())
}

/// Each file once: `de` and `DE` are one file (languages are compared ignoring case), and
/// two values for one file in one call cannot both be meant — refused rather than one
/// silently winning.
fn distinct(metas: &[FileMeta]) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(metas.len());
    for m in metas {
        if !seen.insert(m.lang.to_ascii_lowercase()) {
            let which = match m.lang.is_empty() {
                true => "the file (the path has no :lang)".to_owned(),
                false => format!("language {}", super::shown(&m.lang)),
            };
            return Err(TuxedoError::invalid(
                "lang",
                format!(
                    "{which} is given twice (languages are compared ignoring case): one \
                     item per file"
                ),
            ));
        }
    }
    Ok(())
}

/// Checks one stated file against the location's path and its product's languages: a
/// per-language file is one of a language the product has (stored under the product's
/// spelling, which is what bounce looks it up by), since no request could ever get
/// another.
fn valid(path: &str, product: &str, languages: &[String], f: &FileForm) -> Result<FileMeta> {
    let per_language = path.contains(":lang");
    let lang = f.lang.trim();
    if per_language && lang.is_empty() {
        return Err(TuxedoError::invalid(
            "lang",
            "required: the path holds :lang",
        ));
    }
    if !per_language && !f.lang.is_empty() {
        return Err(TuxedoError::invalid(
            "lang",
            "the path has no :lang: one file for all",
        ));
    }
    let lang = match per_language {
        false => String::new(),
        true => languages
            .iter()
            .find(|l| l.eq_ignore_ascii_case(lang))
            .cloned()
            .ok_or_else(|| {
                TuxedoError::invalid(
                    "lang",
                    format!(
                        "{} is not a language of {product}; add it to the product first",
                        super::shown(lang)
                    ),
                )
            })?,
    };
    let mut m = FileMeta {
        lang,
        size: f.size,
        sha256: f.sha256.clone(),
        sha512: f.sha512.clone(),
        ..FileMeta::default()
    };
    files::validate(&mut m).map_err(|(field, reason)| TuxedoError::invalid(field, reason))?;
    Ok(m)
}

/// States the files of location `id` (all or nothing, at most [`MAX_FILES_PER_CALL`]);
/// returns every file of it. The rows are written in a few statements
/// ([`files::set_all`]); each file that changed is audited (`file.set`).
pub fn put(
    conn: &mut DbConnection,
    actor: &str,
    id: i32,
    forms: &[FileForm],
) -> Result<Vec<FileView>> {
    if forms.is_empty() {
        return Err(TuxedoError::invalid("body", "a list of at least one file"));
    }
    if forms.len() > MAX_FILES_PER_CALL {
        return Err(TuxedoError::invalid(
            "body",
            format!(
                "at most {MAX_FILES_PER_CALL} files per call (got {}); split the list",
                forms.len()
            ),
        ));
    }
    codes(forms)?;
    write_tx(conn, |conn| {
        let (path, product, languages) = location_of(conn, id)?;
        let metas = forms
            .iter()
            .map(|f| valid(&path, &product, &languages, f))
            .collect::<Result<Vec<_>>>()?;
        distinct(&metas)?;
        let befores = files::set_all(conn, id, &metas)?;
        let mut changed = false;
        for (m, before) in metas.iter().zip(befores) {
            let mut now = m.clone();
            now.source = files::OPERATOR.into();
            if before.as_ref().map(|b| FileMeta {
                etag: None,
                last_modified: None,
                ..b.clone()
            }) != Some(now.clone())
            {
                changed = true;
                // One generation for all the files: bumped below, once.
                Tail::new(actor, "file.set", format!("location {id} ({})", m.lang))
                    .before_opt(before.map(view))
                    .after(view(now))
                    .record(conn)?;
            }
        }
        if changed {
            bump(conn, &[Change::Location(id)])?;
        }
        Ok(files::of_location(conn, id)?
            .into_iter()
            .map(view)
            .collect())
    })
}

/// A location write of the XML API (`location_add`, `location_modify`: `write`) and the
/// one file the call states, of the location on `os`, in one transaction: a refused file
/// leaves no location added or moved. Answers what `write` answered.
pub fn with_location(
    conn: &mut DbConnection,
    actor: &str,
    os: &str,
    file: &FileForm,
    mut write: impl FnMut(&mut DbConnection) -> Result<ProductLocations>,
) -> Result<ProductLocations> {
    write_tx(conn, |conn| {
        let all = write(conn)?;
        let written = all
            .locations
            .iter()
            .find(|l| bouncer_core::names::same(&l.os, os.trim()))
            .ok_or_else(|| TuxedoError::Internal("the written location is not listed".into()))?;
        put(conn, actor, written.id, std::slice::from_ref(file))?;
        Ok(all)
    })
}

/// Forgets what is known of one file (`lang` empty for a path without `:lang`).
pub fn delete(conn: &mut DbConnection, actor: &str, id: i32, lang: &str) -> Result<()> {
    write_tx(conn, |conn| {
        path_of(conn, id)?;
        let lang = match lang {
            "-" => "",
            other => other,
        };
        let Some(before) = files::remove(conn, id, lang)? else {
            return Err(TuxedoError::NotFound {
                kind: "file",
                key: format!("{id}/{lang}"),
            });
        };
        Tail::new(actor, "file.delete", format!("location {id} ({lang})"))
            .changes(&[Change::Location(id)])
            .before(view(before))
            .record(conn)
    })
}
