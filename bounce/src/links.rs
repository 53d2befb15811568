//! The headers a redirect carries beside the compatible ones (RFC 6249 and RFC 9530):
//! `Link` with the Metalink (`rel=describedby`) and up to K other mirrors
//! (`rel=duplicate; pri=N`, in the client's preference order; none in CDN mode, whose
//! one target is the pinned CDN), and the file's digests.
//!
//! A `Link` value depends on the location's mirror index, the scopes the client's region
//! gives, the scheme, the language and the names asked for — and on the mirror chosen,
//! which it leaves out. Each key's values are formatted once, for each of the first K+1
//! mirrors that may be chosen and for any other, and kept in a cache bounded by bytes
//! (`bounce.link_cache_mb` for the instance, see `link_budget`; each entry weighs what
//! it holds, [`weight`]; the index's build id moves with every rebuild). The
//! file's digest values ride in the same entry, keyed by the files' build id too: equal
//! candidate lists share one index, so a location whose file changed and whose mirrors
//! did not keeps its index's id. A redirect costs one lookup with a borrowed key: no
//! formatting, no allocation, no second table.
//!
//! The cache is per worker thread, and each worker's values are its own bytes: a value
//! shared by the workers would have its reference count written from every core on every
//! redirect, and a shared cache takes a lock per lookup. Each worker formats a key once
//! (docs/benchmarks.md, "Hot path back under the old instruction count").

use crate::catalogue::names::Location;
use crate::files::Files;
use crate::outcome::Extras;
use crate::request::Params;
use actix_web::http::header::HeaderValue;
use bouncer_core::config::BounceConfig;
use bouncer_core::networks;
use bouncer_core::selection::{LocationMirrors, Scope};
use std::cell::RefCell;
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    set: u64,
    files: u64,
    location: i32,
    scopes: Vec<Scope>,
    https_only: bool,
    lang: String,
    product: String,
    os: String,
}

/// [`Key`] borrowed from the request: hashes like it (same fields, same order; a `Vec`
/// and a `String` hash as the slice and the `str`), so a hit allocates nothing.
#[derive(Hash)]
struct KeyRef<'a> {
    set: u64,
    files: u64,
    location: i32,
    scopes: &'a [Scope],
    https_only: bool,
    lang: &'a str,
    product: &'a str,
    os: &'a str,
}

impl quick_cache::Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, k: &Key) -> bool {
        self.set == k.set
            && self.files == k.files
            && self.location == k.location
            && self.scopes == k.scopes.as_slice()
            && self.https_only == k.https_only
            && self.lang == k.lang
            && self.product == k.product
            && self.os == k.os
    }
}

impl KeyRef<'_> {
    fn to_owned(&self) -> Key {
        Key {
            set: self.set,
            files: self.files,
            location: self.location,
            scopes: self.scopes.to_vec(),
            https_only: self.https_only,
            lang: self.lang.to_owned(),
            product: self.product.to_owned(),
            os: self.os.to_owned(),
        }
    }
}

/// The `Link` values of one key, ready for whichever mirror is chosen: one per mirror among
/// the first K+1 of the preference order (the alternatives are the others), and `rest`
/// for a mirror further down (the first K). Not keyed by the chosen mirror, so a location
/// costs one entry per scope order, language and names, not one per mirror.
struct Values {
    by_chosen: Vec<(i32, Option<HeaderValue>)>,
    rest: Option<HeaderValue>,
    repr_digest: Option<HeaderValue>,
    digest: Option<HeaderValue>,
}

impl Values {
    fn extras(&self, chosen: Option<i32>) -> Extras {
        let link = match self.by_chosen.iter().find(|(id, _)| Some(*id) == chosen) {
            Some((_, v)) => v.clone(),
            None => self.rest.clone(),
        };
        Extras {
            link,
            repr_digest: self.repr_digest.clone(),
            digest: self.digest.clone(),
        }
    }
}

/// Heap and table bytes an entry costs beside its strings and values: the key and the
/// values' structs in the table's slot, and per value the allocator's header and the
/// `Bytes` shared record its first clone creates.
const ENTRY_OVERHEAD: u64 =
    (std::mem::size_of::<Key>() + std::mem::size_of::<Values>() + 64) as u64;
const VALUE_OVERHEAD: u64 = 48;

/// The bytes an entry holds, estimated from what it is made of (computed once per fill,
/// and when the cache looks for an entry to evict).
fn weight(k: &Key, v: &Values) -> u64 {
    let value = |h: &Option<HeaderValue>| h.as_ref().map_or(0, |h| h.len() as u64 + VALUE_OVERHEAD);
    let slots = v.by_chosen.len() * std::mem::size_of::<(i32, Option<HeaderValue>)>()
        + k.scopes.len() * std::mem::size_of::<Scope>()
        + k.lang.len()
        + k.product.len()
        + k.os.len();
    ENTRY_OVERHEAD
        + slots as u64
        + v.by_chosen.iter().map(|(_, h)| value(h)).sum::<u64>()
        + value(&v.rest)
        + value(&v.repr_digest)
        + value(&v.digest)
}

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<Key, Values> for Weight {
    fn weight(&self, k: &Key, v: &Values) -> u64 {
        weight(k, v)
    }
}

/// One worker's formatted values (installed per worker as app data by `crate::build`),
/// and the counter of keys it formatted (`bounce_cache_fills_total{kind="links"}`).
pub struct LinkCache {
    values: RefCell<quick_cache::unsync::Cache<Key, Values, Weight>>,
    fills: prometheus::IntCounter,
}

impl LinkCache {
    /// A cache holding at most `budget` bytes of entries, by [`weight`].
    pub fn new(budget: u64, fills: prometheus::IntCounter) -> Self {
        let keys = crate::link_budget::estimated_keys(budget);
        Self {
            values: RefCell::new(quick_cache::unsync::Cache::with_weighter(
                keys,
                budget.max(1),
                Weight,
            )),
            fills,
        }
    }
}

/// Where a redirect goes: the index the client chose from, the location's files, the
/// location and the language.
pub struct At<'a> {
    pub set: &'a LocationMirrors,
    pub files: &'a Files,
    pub location: &'a Location,
    pub lang: &'a str,
}

/// Whether redirects carry any extra header (else they skip the lookup, and in CDN mode
/// the location's rows too).
pub fn wanted(cfg: &bouncer_core::config::BounceConfig) -> bool {
    cfg.link_header_bytes > 0 || cfg.digest_headers
}

/// The extra headers of one redirect (none at all when both kinds are switched off).
/// `chosen` is the mirror the redirect goes to; `None` in CDN mode, where `scopes` is
/// empty: the key then ranks no mirror, so its only `Link` is the Metalink's. `cfg` is
/// all it reads of the state (the switches and the `Link` bounds).
pub fn extras(
    cfg: &BounceConfig,
    links: &LinkCache,
    at: &At<'_>,
    chosen: Option<i32>,
    scopes: &[Scope],
    https_only: bool,
    p: &Params<'_>,
) -> Extras {
    if !wanted(cfg) {
        return Extras::default();
    }
    let key = KeyRef {
        set: at.set.id,
        files: at.files.id(),
        location: at.location.id,
        scopes,
        https_only,
        lang: at.lang,
        product: &p.product,
        os: &p.os,
    };
    if let Some(v) = links.values.borrow().get(&key) {
        return v.extras(chosen);
    }
    links.fills.inc();
    let v = values(at, &key, cfg);
    let extras = v.extras(chosen);
    links.values.borrow_mut().insert(key.to_owned(), v);
    extras
}

/// Every value a key can answer with.
fn values(at: &At<'_>, k: &KeyRef<'_>, cfg: &bouncer_core::config::BounceConfig) -> Values {
    let (alternatives, max) = (cfg.link_alternatives, cfg.link_header_bytes);
    let ranked = at.set.ranked(k.scopes, k.https_only);
    // Each alternative's URL and, where the mirror's country is known, its `geo=`.
    let entries: Vec<(i32, String, Option<String>)> = ranked
        .iter()
        .take(alternatives + 1)
        .map(|m| {
            let url = at.location.url(&m.base_url, at.lang);
            let country = at.set.candidate(m.mirror_id).and_then(|c| c.reach.country);
            // RFC 6249 writes the country in lower case.
            let geo = country.map(|cc| networks::code_str(&cc).to_ascii_lowercase());
            (m.mirror_id, url, geo)
        })
        .collect();
    let without = |chosen: Option<i32>| {
        let others = entries
            .iter()
            .filter(move |(id, ..)| Some(*id) != chosen)
            .take(alternatives)
            .map(|(_, url, geo)| (url.as_str(), geo.as_deref()));
        format(k, others, max)
    };
    let file = at.files.get(at.location.per_language(), at.lang);
    // This worker's own copies (see the module's doc).
    let own = |v: &Option<HeaderValue>| {
        v.as_ref()
            .and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
    };
    let (repr_digest, digest) = match (cfg.digest_headers, file) {
        (true, Some(f)) => (own(&f.repr_digest), own(&f.digest)),
        _ => (None, None),
    };
    Values {
        by_chosen: entries
            .iter()
            .map(|(id, ..)| (*id, without(Some(*id))))
            .collect(),
        rest: without(None),
        repr_digest,
        digest,
    }
}

/// `<?…&format=meta4>; rel=describedby; type="application/metalink4+xml"`, then the
/// alternatives (`<url>; rel=duplicate; pri=N`, and `; geo=cc` where the country is
/// known) as long as the whole value stays within `max` bytes.
fn format<'u>(
    k: &KeyRef<'_>,
    alternatives: impl Iterator<Item = (&'u str, Option<&'u str>)>,
    max: usize,
) -> Option<HeaderValue> {
    let q = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut out = format!(
        "<?product={}&os={}&lang={}&format=meta4>; rel=describedby; type=\"application/metalink4+xml\"",
        q(k.product),
        q(k.os),
        q(k.lang)
    );
    if out.len() > max {
        return None;
    }
    for (i, (url, geo)) in alternatives.enumerate() {
        let mut one = String::new();
        let _ = write!(one, ", <{}>; rel=duplicate; pri={}", link_safe(url), i + 1);
        if let Some(cc) = geo {
            let _ = write!(one, "; geo={cc}");
        }
        if out.len() + one.len() > max {
            break;
        }
        out.push_str(&one);
    }
    // The value keeps the String's allocation: without its spare capacity (up to half of
    // it after the pushes) the entry weighs what it holds.
    out.shrink_to_fit();
    HeaderValue::try_from(out).ok()
}

/// `url` as a Link target that cannot break out of its `<…>`: `<`, `>`, `,`, `;`, `"`,
/// space and control bytes percent-encoded. A location path may hold any of them (it is
/// stored as given), and copied raw it would let a path forge another `rel=duplicate`
/// target on a host outside the mirrors (RFC 8288 parsers split on them).
fn link_safe(url: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_byte =
        |b: u8| matches!(b, b'<' | b'>' | b',' | b';' | b'"' | b' ') || b < 0x20 || b == 0x7f;
    if !url.bytes().any(unsafe_byte) {
        return std::borrow::Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len() + 16);
    for c in url.chars() {
        match u8::try_from(c) {
            Ok(b) if unsafe_byte(b) => {
                let _ = write!(out, "%{b:02X}");
            }
            _ => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_cannot_forge_a_link_target() {
        let k = key(&[Scope::Global]);
        let forged = "https://m.example/f/x>;rel=duplicate;pri=1,<http://evil.example/x.exe";
        let v = format(&k, [(forged, None)].into_iter(), 10_000).unwrap();
        let s = v.to_str().unwrap();
        assert_eq!(s.matches(">; rel=duplicate").count(), 1, "{s}");
        assert!(!s.contains("<http://evil"), "{s}");
        assert!(
            s.ends_with("<https://m.example/f/x%3E%3Brel=duplicate%3Bpri=1%2C%3Chttp://evil.example/x.exe>; rel=duplicate; pri=1"),
            "{s}"
        );
        assert_eq!(
            link_safe("https://m.example/a b\"c"),
            "https://m.example/a%20b%22c"
        );
        assert!(matches!(
            link_safe("https://m.example/ok/é"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    fn key(scopes: &[Scope]) -> KeyRef<'_> {
        KeyRef {
            set: 1,
            files: 1,
            location: 1,
            scopes,
            https_only: false,
            lang: "de",
            product: "firefox latest",
            os: "win",
        }
    }

    #[test]
    fn links_stay_within_the_budget() {
        let k = key(&[Scope::Global]);
        let urls: Vec<String> = (0..10)
            .map(|i| format!("https://m{i}.example/firefox/de/setup.exe"))
            .collect();
        let urls = || urls.iter().map(|u| (u.as_str(), None));
        let v = format(&k, urls(), 360).unwrap();
        let s = v.to_str().unwrap();
        assert!(s.len() <= 360, "{}", s.len());
        assert!(
            s.starts_with("<?product=firefox+latest&os=win&lang=de&format=meta4>; rel=describedby")
        );
        assert!(s.contains("<https://m0.example/firefox/de/setup.exe>; rel=duplicate; pri=1"));
        assert!(!s.contains("m9.example"), "{s}");
        let all = format(&k, urls(), 10_000).unwrap();
        assert!(all.to_str().unwrap().contains("pri=10"));
        assert!(format(&k, urls(), 20).is_none());
        let geo = [("https://m.example/f", Some("de"))];
        let v = format(&k, geo.into_iter(), 360).unwrap();
        assert!(
            v.to_str()
                .unwrap()
                .ends_with(", <https://m.example/f>; rel=duplicate; pri=1; geo=de"),
            "{v:?}"
        );
    }

    /// A key as a mirror-mode redirect fills it: five mirrors of 360-byte values.
    fn full(location: i32) -> (Key, Values) {
        let v = || Some(HeaderValue::from_bytes(&[b'x'; 360]).unwrap());
        let values = Values {
            by_chosen: (0..5).map(|id| (id, v())).collect(),
            rest: v(),
            repr_digest: Some(HeaderValue::from_static(
                "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=:",
            )),
            digest: None,
        };
        let key = KeyRef {
            location,
            ..key(&[Scope::Region(3), Scope::Global])
        };
        (key.to_owned(), values)
    }

    #[test]
    fn an_entry_weighs_what_it_holds() {
        let (k, v) = full(1);
        let w = weight(&k, &v);
        let values = 6 * (360 + VALUE_OVERHEAD) + 56 + VALUE_OVERHEAD;
        assert!(w > values && w < values + 1024, "{w}");
        // The figure docs/configuration.md gives for sizing.
        assert!((2_800..=3_400).contains(&w), "{w}");
        let mut fewer = v;
        fewer.by_chosen.truncate(1);
        assert!(weight(&k, &fewer) < w - 4 * 360);
    }

    #[test]
    fn a_worker_keeps_its_byte_budget() {
        let budget = 64 * 1024;
        let cache = LinkCache::new(budget, prometheus::IntCounter::new("x", "x").unwrap());
        let mut values = cache.values.borrow_mut();
        for location in 0..1_000 {
            let (k, v) = full(location);
            values.insert(k, v);
            assert!(values.weight() <= budget, "{} > {budget}", values.weight());
        }
        let per = weight(&full(0).0, &full(0).1);
        assert!(values.len() as u64 <= budget / per, "{}", values.len());
        assert!(values.len() as u64 >= budget / per / 2, "{}", values.len());
    }

    #[test]
    fn a_borrowed_key_finds_the_owned_one() {
        let cache = LinkCache::new(1 << 20, prometheus::IntCounter::new("x", "x").unwrap());
        let scopes = [Scope::Region(3), Scope::Global];
        let values = Values {
            by_chosen: vec![],
            rest: None,
            repr_digest: None,
            digest: None,
        };
        let mut cache = cache.values.borrow_mut();
        cache.insert(key(&scopes).to_owned(), values);
        assert!(cache.get(&key(&scopes)).is_some(), "hashes must agree");
        assert!(cache.get(&key(&[Scope::Global])).is_none());
        let other = KeyRef {
            lang: "fr",
            ..key(&scopes)
        };
        assert!(cache.get(&other).is_none());
    }
}
