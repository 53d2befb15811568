//! Stub attribution redirect (spec A step 3), byte-compatible with go-bouncer.

use crate::request::Params;
use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;

const STUB_OS: [&str; 4] = ["win", "win64", "win64-aarch64", "osx"];
const NOT_STUB: [&str; 4] = ["-partial", "-complete", "-msi", "-msix"];

/// URL-safe base64 that accepts the code with or without its padding (sent as `.`).
const CODE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The stub service URL this request should go to, if attribution applies.
pub fn stub_url(root: &str, p: &Params, referer: &str) -> Option<String> {
    if p.attribution_code.is_empty() || p.attribution_sig.is_empty() {
        return None;
    }
    if !STUB_OS.contains(&&*p.os) || NOT_STUB.iter().any(|s| p.product.contains(s)) {
        return None;
    }
    if is_rtamo(&p.attribution_code) && !from_mozilla_site(referer) {
        return None;
    }
    // Keys in sorted order, as Go's url.Values.Encode writes them.
    let pairs = [
        ("attribution_code", &*p.attribution_code),
        ("attribution_sig", &*p.attribution_sig),
        ("lang", &*p.lang),
        ("os", &*p.os),
        ("product", &*p.product),
    ];
    let mut url = String::with_capacity(root.len() + 256);
    url.push_str(root);
    url.push('?');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            url.push('&');
        }
        url.push_str(k);
        url.push('=');
        query_escape(v, &mut url);
    }
    Some(url)
}

/// Return-to-AMO codes: the decoded code is a query string whose `content` starts `rta:`.
/// A code that does not decode is not RTAMO.
fn is_rtamo(code: &str) -> bool {
    let Ok(bytes) = CODE.decode(code.replace('.', "=").trim_end_matches('=')) else {
        return false;
    };
    url::form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "content")
        .is_some_and(|(_, v)| v.starts_with("rta:"))
}

/// `^https://www\.(mozilla\.org|firefox\.com)/`.
fn from_mozilla_site(referer: &str) -> bool {
    referer.starts_with("https://www.mozilla.org/")
        || referer.starts_with("https://www.firefox.com/")
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX` (upper case).
/// Hand-written because byte-compatibility with Go matters here: Rust's form encoders keep
/// `*` and escape `~`, Go does the opposite.
fn query_escape(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(product: &str, os: &str, code: &str) -> Params<'static> {
        Params {
            product: product.to_owned().into(),
            os: os.to_owned().into(),
            lang: "en-US".into(),
            attribution_code: code.to_owned().into(),
            attribution_sig: "sig (1)".into(),
            ..Params::default()
        }
    }

    #[test]
    fn builds_the_exact_url() {
        let url = stub_url(
            "https://stubdownloader.services.mozilla.com/",
            &params("firefox-stub", "win", "a b(c)~*"),
            "",
        );
        assert_eq!(
            url.as_deref(),
            Some("https://stubdownloader.services.mozilla.com/?attribution_code=a+b%28c%29~%2A&attribution_sig=sig+%281%29&lang=en-US&os=win&product=firefox-stub")
        );
    }

    #[test]
    fn only_for_stub_platforms_and_products() {
        let root = "https://stub/";
        assert!(stub_url(root, &params("firefox-stub", "linux64", "c"), "").is_none());
        for p in [
            "firefox-msi-latest",
            "firefox-msix",
            "firefox-1.0-partial-0.9",
            "firefox-1.0-complete",
        ] {
            assert!(stub_url(root, &params(p, "win", "c"), "").is_none(), "{p}");
        }
        let mut no_sig = params("firefox-stub", "osx", "c");
        no_sig.attribution_sig = "".into();
        assert!(stub_url(root, &no_sig, "").is_none());
        assert!(stub_url(root, &params("firefox-stub", "win64-aarch64", "c"), "").is_some());
    }

    #[test]
    fn rtamo_needs_a_mozilla_referer() {
        // "source=addons.mozilla.org&content=rta:abc" in URL-safe base64, padding as dots.
        let code = CODE
            .encode("source=addons.mozilla.org&content=rta%3Aabc")
            .replace('=', ".");
        let p = params("firefox-stub", "win", &code);
        assert!(stub_url("https://stub/", &p, "").is_none());
        assert!(stub_url("https://stub/", &p, "https://evil.example/").is_none());
        assert!(stub_url(
            "https://stub/",
            &p,
            "https://www.mozilla.org/en-US/firefox/new/"
        )
        .is_some());
        assert!(stub_url("https://stub/", &p, "https://www.firefox.com/").is_some());
        // Not RTAMO content, or not decodable: attribution applies whatever the referer.
        let other = CODE.encode("source=google&content=ad");
        assert!(stub_url("https://stub/", &params("firefox-stub", "win", &other), "").is_some());
        assert!(stub_url(
            "https://stub/",
            &params("firefox-stub", "win", "!!not base64!!"),
            ""
        )
        .is_some());
    }
}
