//! The query string, as go-bouncer reads it: first value wins, `product` and `os` trimmed
//! and lowercased, defaults for empty `os` and `lang`.

use std::borrow::Cow;
use url::form_urlencoded;

/// The parameters bounce reads, normalised. Values borrow from the query string where
/// they need no decoding or folding (the common case costs no allocation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'a> {
    pub product: Cow<'a, str>,
    pub os: Cow<'a, str>,
    pub lang: Cow<'a, str>,
    pub print: bool,
    pub attribution_code: Cow<'a, str>,
    pub attribution_sig: Cow<'a, str>,
    /// `ip=` (honoured only when the configuration allows it).
    pub ip: Option<Cow<'a, str>>,
    /// `format=meta4|json|html`: a mirror list instead of the redirect (mirror mode).
    pub format: Option<Cow<'a, str>>,
}

/// Trimmed and lower-cased, without copying what already is.
fn normalised(value: Cow<'_, str>) -> Cow<'_, str> {
    let unchanged = |s: &str| {
        s.trim().len() == s.len() && s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    };
    match value {
        Cow::Borrowed(s) if unchanged(s) => Cow::Borrowed(s),
        Cow::Owned(s) if unchanged(&s) => Cow::Owned(s),
        other => Cow::Owned(other.trim().to_lowercase()),
    }
}

/// The query's pairs exactly as `form_urlencoded::parse` gives them, borrowed where a
/// pair holds no `%` or `+` (nearly every request): the crate decodes each key and value
/// through a UTF-8 check and a `Cow` even when there is nothing to decode, which was a
/// fifteenth of a redirect's instructions. A pair that needs decoding goes to the crate.
fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        if pair.bytes().any(|b| b == b'%' || b == b'+') {
            let decoded = form_urlencoded::parse(pair.as_bytes()).next();
            return decoded.unwrap_or_default();
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (Cow::Borrowed(k), Cow::Borrowed(v))
    })
}

impl<'a> Params<'a> {
    /// Parses a raw query string. Defaults are not applied here (an empty product must be
    /// seen as empty first).
    pub fn parse(query: &'a str) -> Self {
        let mut p = Params::default();
        let mut seen = [false; 8];
        for (key, value) in pairs(query) {
            let slot = match key.as_ref() {
                "product" => 0,
                "os" => 1,
                "lang" => 2,
                "print" => 3,
                "attribution_code" => 4,
                "attribution_sig" => 5,
                "ip" => 6,
                "format" => 7,
                _ => continue,
            };
            if std::mem::replace(&mut seen[slot], true) {
                continue;
            }
            match slot {
                0 => p.product = normalised(value),
                1 => p.os = normalised(value),
                2 => p.lang = value,
                3 => p.print = value == "yes",
                4 => p.attribution_code = value,
                5 => p.attribution_sig = value,
                6 => p.ip = Some(value),
                _ => p.format = Some(value),
            }
        }
        p
    }

    /// Empty `os` → `win`, empty `lang` → `en-US`.
    pub fn apply_defaults(&mut self) {
        if self.os.is_empty() {
            self.os = Cow::Borrowed("win");
        }
        if self.lang.is_empty() {
            self.lang = Cow::Borrowed("en-US");
        }
    }
}

/// What may stand for `:lang` in a path (spec part C: the raw value once reached the
/// path, `lang=../../x`): the project's one rule, [`bouncer_core::locale::valid`].
pub use bouncer_core::locale::valid as valid_lang;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_normalises() {
        let p = Params::parse(
            "product=+Firefox-Latest%20&product=x&os=WIN64&lang=de&lang=fr&print=yes",
        );
        assert_eq!(p.product, "firefox-latest");
        assert_eq!(p.os, "win64");
        assert_eq!(p.lang, "de");
        assert!(p.print);
        assert!(
            !Params::parse("print=YES").print,
            "print is on only for exactly `yes`"
        );
        assert!(!Params::parse("print=yes%20").print);
    }

    proptest::proptest! {
        #[test]
        fn pairs_are_the_crates_pairs(q in "([a-z%+=&é]|%[0-9A-Fa-f]{2}|%[0-9]){0,40}") {
            let ours: Vec<_> = pairs(&q).collect();
            let crates: Vec<_> = form_urlencoded::parse(q.as_bytes()).collect();
            proptest::prop_assert_eq!(ours, crates);
        }
    }

    #[test]
    fn defaults() {
        let mut p = Params::parse("product=firefox&os=&lang=");
        p.apply_defaults();
        assert_eq!((&*p.os, &*p.lang), ("win", "en-US"));
    }
}
