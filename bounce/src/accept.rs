//! The media ranges of an `Accept` header (RFC 9110, section 12.5.1) with their weights.
//!
//! actix-web's typed `Accept` reads the same grammar (its parser is this module's test
//! oracle), but it builds a `Vec` of parsed `Mime`s per request, and a mirror-mode
//! redirect reads the header on every request that carries one (every browser's does).
//! This reads it in place: no allocation, one pass.

/// One media range: `type/subtype` as written (compare it case-insensitively) and its
/// weight in thousandths (`q=0.5` is 500; no `q` is 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range<'a> {
    pub essence: &'a str,
    pub q: u16,
}

/// Every well-formed range of `header`, in order. An element that is not one (no `/`,
/// a `q` that is not a qvalue) is skipped, as actix-web skips it: a malformed ask is no
/// ask. The last `q` parameter counts, as in actix-web.
pub fn ranges(header: &str) -> impl Iterator<Item = Range<'_>> {
    header.split(',').filter_map(range)
}

/// The weight of each of `essences` (`application/json`) where a range names it exactly
/// (the highest when several do), in one pass over the header. Wildcards (`*/*`,
/// `application/*`) do not count: they accept whatever the resource is, which is not an
/// ask for this type.
pub fn explicit_qs<const N: usize>(header: &str, essences: [&str; N]) -> [Option<u16>; N] {
    let mut found = [None; N];
    for r in ranges(header) {
        for (slot, essence) in found.iter_mut().zip(essences) {
            if r.essence.eq_ignore_ascii_case(essence) {
                *slot = (*slot).max(Some(r.q));
            }
        }
    }
    found
}

fn range(element: &str) -> Option<Range<'_>> {
    let element = element.trim();
    if element.is_empty() || !element.is_ascii() {
        return None;
    }
    let mut parts = element.split(';');
    let essence = parts.next()?.trim();
    let (kind, sub) = essence.split_once('/')?;
    if !token(kind) || !token(sub) {
        return None;
    }
    let mut q = 1000;
    for param in parts {
        let param = param.trim();
        if let Some(value) = param.strip_prefix("q=").or(param.strip_prefix("Q=")) {
            q = qvalue(value)?;
        }
    }
    Some(Range { essence, q })
}

/// RFC 9110's `token`: what a type or subtype may be made of.
fn token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn qvalue(s: &str) -> Option<u16> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(h: &str) -> Vec<(&str, u16)> {
        ranges(h).map(|r| (r.essence, r.q)).collect()
    }

    #[test]
    fn reads_ranges_and_weights() {
        assert_eq!(
            all("text/html, application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            [
                ("text/html", 1000),
                ("application/xhtml+xml", 1000),
                ("application/xml", 900),
                ("*/*", 800)
            ]
        );
        assert_eq!(
            all("application/json; charset=utf-8; Q=0.05 , ,text/plain;q=1.000"),
            [("application/json", 50), ("text/plain", 1000)]
        );
        assert_eq!(all("a/b;q=0"), [("a/b", 0)]);
        assert_eq!(all("a/b;q=0."), [("a/b", 0)]);
        assert_eq!(all("a/b;q=1."), [("a/b", 1000)]);
    }

    #[test]
    fn skips_what_is_malformed() {
        for h in [
            "",
            "json",
            "application/",
            "/json",
            "a/b;q=2",
            "a/b;q=1.5",
            "a/b;q=0.1234",
            "a/b;q=x",
            "a/b;q=",
            "a b/c",
            "ä/b",
        ] {
            assert_eq!(all(h), [], "{h:?}");
        }
    }

    #[test]
    fn explicit_means_exactly_named_and_any_case() {
        let h =
            "*/*, application/*, application/jsonp, Application/JSON;q=0.4, application/json;q=0.2";
        let q = |h, essence| explicit_qs(h, [essence])[0];
        assert_eq!(q(h, "application/json"), Some(400));
        assert_eq!(q("*/*", "application/json"), None);
        assert_eq!(q("application/jsonp", "application/json"), None);
        assert_eq!(
            q("application/metalink4+xml;q=0", "application/metalink4+xml"),
            Some(0)
        );
        assert_eq!(
            explicit_qs(h, ["application/json", "text/html", "application/jsonp"]),
            [Some(400), None, Some(1000)]
        );
    }

    fn actix(h: &str) -> Vec<(String, u16)> {
        use actix_web::http::header::{Accept, Header};
        let req = actix_web::test::TestRequest::default()
            .insert_header((actix_web::http::header::ACCEPT, h))
            .to_http_request();
        let Ok(accept) = Accept::parse(&req) else {
            return Vec::new();
        };
        accept
            .iter()
            .map(|item| {
                let q = qvalue(&item.quality.to_string()).unwrap();
                (item.item.essence_str().to_owned(), q)
            })
            .collect()
    }

    proptest::proptest! {
        /// Agrees with actix-web's typed header on the grammar clients send.
        #[test]
        fn agrees_with_actix(items in proptest::collection::vec(
            (
                "(text|application|image|\\*)",
                "(html|json|jsonp|metalink4\\+xml|\\*|x-y)",
                proptest::option::of("(charset=utf-8|level=1)"),
                proptest::option::of("(0|1|0\\.[0-9]{1,3}|1\\.0{0,3}|0\\.)"),
            ),
            0..5,
        )) {
            let h: Vec<String> = items.iter().map(|(t, s, p, q)| {
                let mut one = format!("{t}/{s}");
                if let Some(p) = p { one.push_str(&format!("; {p}")); }
                if let Some(q) = q { one.push_str(&format!(";q={q}")); }
                one
            }).collect();
            let h = h.join(", ");
            let ours: Vec<(String, u16)> =
                ranges(&h).map(|r| (r.essence.to_ascii_lowercase(), r.q)).collect();
            proptest::prop_assert_eq!(ours, actix(&h), "{}", h);
        }
    }
}
