//! The headers a redirect carries beside the compatible ones (mirror mode, RFC 6249 and
//! RFC 9530): `Link` with the Metalink (`rel=describedby`) and up to K other mirrors
//! (`rel=duplicate; pri=N`, in the client's preference order), and the file's digests.
//!
//! A `Link` value depends on the location's mirror index, the mirror chosen, the scopes
//! the client's region gives, the scheme, the language and the names asked for — a few
//! hundred combinations for a release. Each is formatted once and kept in a bounded
//! cache keyed by all of them (the index's build id moves with every rebuild), so a
//! redirect costs one lookup, not the formatting.

use crate::catalogue::names::Location;
use crate::files::Files;
use crate::redirect::Extras;
use crate::request::Params;
use crate::AppState;
use actix_web::http::header::HeaderValue;
use bouncer_core::selection::{Chosen, LocationMirrors, Scope};
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    set: u64,
    location: i32,
    chosen: i32,
    scopes: Vec<Scope>,
    https_only: bool,
    lang: String,
    product: String,
    os: String,
}

/// Formatted `Link` values (`None`: nothing to link).
pub struct LinkCache(quick_cache::sync::Cache<Key, Option<HeaderValue>>);

impl LinkCache {
    pub fn new(capacity: usize) -> Self {
        Self(quick_cache::sync::Cache::new(capacity.max(1)))
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

/// The extra headers of one redirect.
pub fn extras(
    state: &AppState,
    at: &At<'_>,
    chosen: &Chosen,
    scopes: &[Scope],
    https_only: bool,
    p: &Params<'_>,
) -> Extras {
    let (location, lang) = (at.location, at.lang);
    let cfg = &state.config.bounce;
    let file = at.files.get(location.per_language(), lang);
    let (repr_digest, digest) = match (cfg.digest_headers, file) {
        (true, Some(f)) => (f.repr_digest.clone(), f.digest.clone()),
        _ => (None, None),
    };
    let key = Key {
        set: at.set.id,
        location: location.id,
        chosen: chosen.mirror_id,
        scopes: scopes.to_vec(),
        https_only,
        lang: lang.to_owned(),
        product: p.product.to_string(),
        os: p.os.to_string(),
    };
    let link = match state.links.0.get(&key) {
        Some(v) => v,
        None => {
            let others = at.set.ranked(scopes, https_only);
            let alternatives = others
                .iter()
                .filter(|m| m.mirror_id != chosen.mirror_id)
                .take(cfg.link_alternatives)
                .map(|m| location.url(&m.base_url, lang));
            let v = format(&key, alternatives, cfg.link_header_bytes);
            state.links.0.insert(key, v.clone());
            v
        }
    };
    Extras {
        link,
        repr_digest,
        digest,
    }
}

/// `<?…&format=meta4>; rel=describedby; type="application/metalink4+xml"`, then the
/// alternatives as long as the whole value stays within `max` bytes.
fn format(k: &Key, alternatives: impl Iterator<Item = String>, max: usize) -> Option<HeaderValue> {
    let q = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut out = format!(
        "<?product={}&os={}&lang={}&format=meta4>; rel=describedby; type=\"application/metalink4+xml\"",
        q(&k.product),
        q(&k.os),
        q(&k.lang)
    );
    if out.len() > max {
        return None;
    }
    for (i, url) in alternatives.enumerate() {
        let mut one = String::new();
        let _ = write!(one, ", <{url}>; rel=duplicate; pri={}", i + 1);
        if out.len() + one.len() > max {
            break;
        }
        out.push_str(&one);
    }
    HeaderValue::try_from(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_within_the_budget() {
        let k = Key {
            set: 1,
            location: 1,
            chosen: 1,
            scopes: vec![Scope::Global],
            https_only: false,
            lang: "de".into(),
            product: "firefox latest".into(),
            os: "win".into(),
        };
        let urls = || (0..10).map(|i| format!("https://m{i}.example/firefox/de/setup.exe"));
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
    }
}
