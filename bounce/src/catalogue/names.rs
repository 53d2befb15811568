//! The catalogue's name space, whole in memory: products (with their languages and their
//! locations per OS), aliases and operating systems.
//!
//! A request resolves against this without I/O, so a name that does not exist is a 404
//! that costs no query, no memcached call and no cache entry, and memory is bounded by the
//! catalogue, not by the traffic. It is loaded once at start and then kept current entry
//! by entry from the change log (see [`super::watch`]).
//!
//! Names are equal when they are equal after ASCII case folding, on every backend: MySQL's
//! `utf8mb4_general_ci` would also fold accents and trailing spaces, SQLite's NOCASE only
//! ASCII, so equality is defined here and not by the collation.

use crate::metrics::Metrics;
use bouncer_core::db::DbConnection;
use bouncer_core::schema::*;
use diesel::prelude::*;
use hashbrown::{Equivalent, HashMap};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// A stored name, ASCII-lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folded(Box<str>);

impl Folded {
    pub fn new(name: &str) -> Self {
        Self(name.to_ascii_lowercase().into_boxed_str())
    }
}

impl Hash for Folded {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_folded(self.0.as_bytes(), state);
    }
}

/// A name as a request spells it: looked up without allocating.
#[derive(Clone, Copy)]
pub struct Lookup<'a>(pub &'a str);

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_folded(self.0.as_bytes(), state);
    }
}

impl Equivalent<Folded> for Lookup<'_> {
    fn equivalent(&self, key: &Folded) -> bool {
        self.0.eq_ignore_ascii_case(&key.0)
    }
}

/// The one hash of a name: its bytes ASCII-lower-cased, then a terminator (so that the
/// stored, already folded form and a request's spelling hash alike).
fn hash_folded<H: Hasher>(bytes: &[u8], state: &mut H) {
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        for (w, b) in word.iter_mut().zip(chunk) {
            *w = b.to_ascii_lowercase();
        }
        state.write_u64(u64::from_le_bytes(word));
    }
    state.write_usize(bytes.len());
}

/// A file of a product for one OS, prepared for the redirect: the path split at `:lang`,
/// so a request joins pieces instead of searching and replacing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub id: i32,
    pieces: Box<[Box<str>]>,
    /// Every byte of the path may stand in a header as it is.
    header_safe: bool,
}

impl Location {
    /// `None` for a path that does not start with '/' (appended to a base URL it could
    /// change the host users are sent to): such a location is not served.
    pub fn new(id: i32, path: &str) -> Option<Self> {
        if !path.starts_with('/') {
            tracing::error!(
                location_id = id,
                path,
                "location path does not start with '/'; not served"
            );
            return None;
        }
        Some(Self {
            id,
            pieces: path.split(":lang").map(Box::from).collect(),
            header_safe: path.bytes().all(|b| b.is_ascii_graphic()),
        })
    }

    /// Whether the path holds `:lang` (one file per language).
    pub fn per_language(&self) -> bool {
        self.pieces.len() > 1
    }

    /// The file's name as a download manager saves it: the path's last segment, with
    /// `lang` in place of `:lang`, percent-decoded (`Firefox Setup 120.0.exe`), never a
    /// path (RFC 5854 forbids `/` and `..` traversal in `name`), and made safe to save
    /// ([`crate::filename::safe`]: no controls, no bidi overrides, no `:`).
    pub fn file_name(&self, lang: &str) -> String {
        let whole = self.url("", lang);
        let last = whole.rsplit('/').next().unwrap_or_default();
        crate::filename::safe(&percent_encoding::percent_decode_str(last).decode_utf8_lossy())
    }

    /// `base` + the path with `lang` in place of `:lang`, safe for a Location header.
    pub fn url(&self, base: &str, lang: &str) -> String {
        let len = self.pieces.iter().map(|p| p.len()).sum::<usize>()
            + lang.len() * (self.pieces.len() - 1)
            + base.len();
        let mut out = String::with_capacity(len);
        out.push_str(base);
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                out.push_str(lang);
            }
            out.push_str(piece);
        }
        let safe = self.header_safe
            && base.bytes().all(|b| b.is_ascii_graphic())
            && lang.bytes().all(|b| b.is_ascii_graphic());
        match safe {
            true => out,
            false => header_safe(&out),
        }
    }
}

/// Percent-encodes what must never reach a header raw (controls, space, non-ASCII), so a
/// Location header cannot be split whatever the database holds. Plain ASCII URLs pass
/// through byte for byte. Lives beside [`Location::url`], the one place that builds the
/// URLs a redirect's `Location` carries (the pipeline and the renderer only pass them on).
fn header_safe(url: &str) -> String {
    if url.bytes().all(|b| b.is_ascii_graphic()) {
        return url.to_owned();
    }
    let mut out = String::with_capacity(url.len() + 16);
    for &b in url.as_bytes() {
        if b.is_ascii_graphic() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One product as bounce serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i32,
    pub name: Box<str>,
    pub ssl_only: bool,
    /// Languages as stored; empty = the product accepts every language. Lists are shared
    /// between products that have the same (a release's products usually do).
    pub langs: Arc<[Box<str>]>,
    /// Location per OS id.
    pub locations: HashMap<i32, Location>,
}

impl Product {
    /// The language to put in the path: the stored spelling when the product lists
    /// languages (none matching = not offered), else the requested one.
    pub fn language<'a>(&'a self, requested: &'a str) -> Option<&'a str> {
        if self.langs.is_empty() {
            return Some(requested);
        }
        self.langs
            .iter()
            .find(|l| l.eq_ignore_ascii_case(requested))
            .map(|l| &**l)
    }
}

/// What (product, os) resolves to.
#[derive(Debug)]
pub enum Resolved<'a> {
    NoOs,
    NoProduct,
    NoLocation,
    /// The product, the OS's id and the location.
    Found(&'a Product, i32, &'a Location),
}

/// The whole name space. Cloned and patched per batch of changes (the maps hold `Arc`s
/// and small values, so a clone costs a few pointers per entry, once per batch).
#[derive(Debug, Clone, Default)]
pub struct Names {
    products: HashMap<Folded, Arc<Product>>,
    product_names: HashMap<i32, Folded>,
    /// Alias → the product name it points at.
    aliases: HashMap<Folded, Folded>,
    alias_names: HashMap<i32, Folded>,
    oses: HashMap<Folded, i32>,
    os_names: HashMap<i32, Folded>,
}

impl Names {
    /// Resolves in the order of the spec: alias, then OS, then product, then location.
    pub fn resolve(&self, product: &str, os: &str) -> Resolved<'_> {
        let Some(&os_id) = self.oses.get(&Lookup(os)) else {
            return Resolved::NoOs;
        };
        let found = match self.aliases.get(&Lookup(product)) {
            Some(target) => self.products.get(target),
            None => self.products.get(&Lookup(product)),
        };
        let Some(p) = found else {
            return Resolved::NoProduct;
        };
        match p.locations.get(&os_id) {
            Some(location) => Resolved::Found(p, os_id, location),
            None => Resolved::NoLocation,
        }
    }

    pub fn products(&self) -> usize {
        self.products.len()
    }

    /// Product `id`'s name as stored (download statistics name what they count).
    pub fn product_name(&self, id: i32) -> Option<&str> {
        let folded = self.product_names.get(&id)?;
        self.products.get(folded).map(|p| &*p.name)
    }

    /// OS `id`'s name (lower-cased).
    pub fn os_name(&self, id: i32) -> Option<&str> {
        self.os_names.get(&id).map(|f| &*f.0)
    }

    /// Sets or removes (`None`) product `id`.
    pub fn set_product(&mut self, id: i32, product: Option<Product>) {
        if let Some(old) = self.product_names.remove(&id) {
            self.products.remove(&old);
        }
        if let Some(p) = product {
            let key = Folded::new(&p.name);
            self.product_names.insert(id, key.clone());
            self.products.insert(key, Arc::new(p));
        }
    }

    pub fn set_alias(&mut self, id: i32, alias: Option<(String, String)>) {
        if let Some(old) = self.alias_names.remove(&id) {
            self.aliases.remove(&old);
        }
        if let Some((alias, target)) = alias {
            let key = Folded::new(&alias);
            self.alias_names.insert(id, key.clone());
            self.aliases.insert(key, Folded::new(&target));
        }
    }

    pub fn set_os(&mut self, id: i32, name: Option<String>) {
        if let Some(old) = self.os_names.remove(&id) {
            self.oses.remove(&old);
        }
        if let Some(name) = name {
            let key = Folded::new(&name);
            self.os_names.insert(id, key.clone());
            self.oses.insert(key, id);
        }
    }

    pub fn replace_aliases(&mut self, rows: Vec<(i32, String, String)>) {
        self.aliases.clear();
        self.alias_names.clear();
        for (id, alias, target) in rows {
            self.set_alias(id, Some((alias, target)));
        }
    }
}

/// Shares equal language lists between products while loading.
#[derive(Default)]
struct LangLists(std::collections::HashMap<Vec<Box<str>>, Arc<[Box<str>]>>);

impl LangLists {
    fn share(&mut self, mut langs: Vec<Box<str>>) -> Arc<[Box<str>]> {
        langs.sort();
        self.0
            .entry(langs)
            .or_insert_with_key(|l| Arc::from(l.clone()))
            .clone()
    }
}

type ProductRow = (i32, String, bool);
type LocationRow = (i32, i32, i32, String);

/// The tables the name space is built from, as read: what a starting instance takes from
/// memcached instead of the database (see [`super::image`]).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NameRows {
    products: Vec<ProductRow>,
    langs: Vec<(i32, String)>,
    locations: Vec<LocationRow>,
    aliases: Vec<(i32, String, String)>,
    oses: Vec<(i32, String)>,
}

/// The whole name space's rows (5 queries).
pub fn read_all(c: &mut DbConnection, m: &Metrics) -> QueryResult<NameRows> {
    m.db_queries.inc_by(5);
    Ok(NameRows {
        products: mirror_products::table
            .select((
                mirror_products::id,
                mirror_products::name,
                mirror_products::ssl_only,
            ))
            .load(c)?,
        langs: mirror_product_langs::table
            .select((
                mirror_product_langs::product_id,
                mirror_product_langs::language,
            ))
            .load(c)?,
        locations: mirror_locations::table
            .select((
                mirror_locations::id,
                mirror_locations::product_id,
                mirror_locations::os_id,
                mirror_locations::path,
            ))
            .load(c)?,
        aliases: load_aliases(c)?,
        oses: mirror_os::table
            .select((mirror_os::id, mirror_os::name))
            .load(c)?,
    })
}

impl NameRows {
    pub fn build(&self) -> Names {
        let mut langs: std::collections::HashMap<i32, Vec<Box<str>>> = Default::default();
        for (product, lang) in &self.langs {
            langs
                .entry(*product)
                .or_default()
                .push(lang.as_str().into());
        }
        let mut locations: std::collections::HashMap<i32, Vec<LocationRow>> = Default::default();
        for row in &self.locations {
            locations.entry(row.1).or_default().push(row.clone());
        }
        let mut names = Names::default();
        let mut lists = LangLists::default();
        for row in &self.products {
            let id = row.0;
            let product = build_product(
                row.clone(),
                lists.share(langs.remove(&id).unwrap_or_default()),
                locations.remove(&id).unwrap_or_default(),
            );
            names.set_product(id, Some(product));
        }
        names.replace_aliases(self.aliases.clone());
        for (id, name) in &self.oses {
            names.set_os(*id, Some(name.clone()));
        }
        names
    }
}

fn build_product(
    (id, name, ssl_only): ProductRow,
    langs: Arc<[Box<str>]>,
    locations: Vec<LocationRow>,
) -> Product {
    Product {
        id,
        name: name.into(),
        ssl_only,
        langs,
        locations: locations
            .into_iter()
            .filter_map(|(lid, _, os, path)| Some((os, Location::new(lid, &path)?)))
            .collect(),
    }
}

/// Product `id` as it is now (`None`: deleted), 3 queries.
pub fn load_product(c: &mut DbConnection, m: &Metrics, id: i32) -> QueryResult<Option<Product>> {
    m.db_queries.inc();
    let Some(row) = mirror_products::table
        .find(id)
        .select((
            mirror_products::id,
            mirror_products::name,
            mirror_products::ssl_only,
        ))
        .first::<ProductRow>(c)
        .optional()?
    else {
        return Ok(None);
    };
    m.db_queries.inc_by(2);
    let langs = mirror_product_langs::table
        .filter(mirror_product_langs::product_id.eq(id))
        .select(mirror_product_langs::language)
        .load::<String>(c)?
        .into_iter()
        .map(Box::from)
        .collect();
    let locations = mirror_locations::table
        .filter(mirror_locations::product_id.eq(id))
        .select((
            mirror_locations::id,
            mirror_locations::product_id,
            mirror_locations::os_id,
            mirror_locations::path,
        ))
        .load::<LocationRow>(c)?;
    Ok(Some(build_product(
        row,
        LangLists::default().share(langs),
        locations,
    )))
}

pub fn load_alias(
    c: &mut DbConnection,
    m: &Metrics,
    id: i32,
) -> QueryResult<Option<(String, String)>> {
    m.db_queries.inc();
    mirror_aliases::table
        .find(id)
        .select((mirror_aliases::alias, mirror_aliases::related_product))
        .first(c)
        .optional()
}

pub fn load_aliases(c: &mut DbConnection) -> QueryResult<Vec<(i32, String, String)>> {
    mirror_aliases::table
        .select((
            mirror_aliases::id,
            mirror_aliases::alias,
            mirror_aliases::related_product,
        ))
        .load(c)
}

pub fn load_os(c: &mut DbConnection, m: &Metrics, id: i32) -> QueryResult<Option<String>> {
    m.db_queries.inc();
    mirror_os::table
        .find(id)
        .select(mirror_os::name)
        .first(c)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_safe_encodes_only_unsafe_bytes() {
        assert_eq!(header_safe("https://m/a%20b?x=1"), "https://m/a%20b?x=1");
        assert_eq!(
            header_safe("https://m/a b\r\nSet-Cookie: x"),
            "https://m/a%20b%0D%0ASet-Cookie:%20x"
        );
        assert_eq!(header_safe("https://m/é"), "https://m/%C3%A9");
    }

    fn product(id: i32, name: &str, os: i32, path: &str) -> Product {
        Product {
            id,
            name: name.into(),
            ssl_only: false,
            langs: Arc::from(Vec::new()),
            locations: [(os, Location::new(id * 10, path).unwrap())]
                .into_iter()
                .collect(),
        }
    }

    fn names() -> Names {
        let mut n = Names::default();
        n.set_os(1, Some("win64".into()));
        n.set_product(1, Some(product(1, "Firefox-120", 1, "/f/:lang/x.exe")));
        n.set_alias(1, Some(("firefox-latest".into(), "firefox-120".into())));
        n
    }

    fn found(n: &Names, p: &str, os: &str) -> Option<i32> {
        match n.resolve(p, os) {
            Resolved::Found(_, _, l) => Some(l.id),
            _ => None,
        }
    }

    #[test]
    fn names_match_after_ascii_case_folding_only() {
        let n = names();
        assert_eq!(found(&n, "firefox-120", "WIN64"), Some(10));
        assert_eq!(found(&n, "FIREFOX-LATEST", "win64"), Some(10));
        assert_eq!(
            found(&n, "fírefox-latest", "win64"),
            None,
            "no accent folding"
        );
        assert_eq!(
            found(&n, "firefox-latest ", "win64"),
            None,
            "no space folding"
        );
        assert!(matches!(n.resolve("firefox-120", "wîn64"), Resolved::NoOs));
        assert!(matches!(n.resolve("nope", "win64"), Resolved::NoProduct));
    }

    #[test]
    fn a_rename_drops_the_old_name() {
        let mut n = names();
        n.set_product(1, Some(product(1, "firefox-121", 1, "/g")));
        assert_eq!(found(&n, "firefox-120", "win64"), None);
        assert_eq!(found(&n, "firefox-121", "win64"), Some(10));
        n.set_product(1, None);
        assert_eq!(n.products(), 0);
        n.set_os(1, None);
        assert!(matches!(n.resolve("x", "win64"), Resolved::NoOs));
    }

    #[test]
    fn urls_join_the_pieces() {
        let l = Location::new(1, "/a/:lang/b-:lang.exe").unwrap();
        assert_eq!(l.url("https://m/", "de"), "https://m//a/de/b-de.exe");
        let l = Location::new(1, "/a b").unwrap();
        assert_eq!(l.url("https://m", "de"), "https://m/a%20b");
        assert!(Location::new(1, "evil.example/x").is_none());
    }
}
