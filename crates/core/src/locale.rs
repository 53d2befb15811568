//! What a language code may be, for bounce (which puts it into a URL path) and for every
//! writer of the catalogue (a stored `*` or `%` would make a product answer 404 for every
//! real language): ASCII letters and digits in hyphen-separated parts, at most the width
//! of the languages column. Real codes include `en-US`, `ja-JP-mac`, `ca-valencia`,
//! `sr-Latn` and the pseudo-locale `multi`.

/// `^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$`, at most [`crate::limits::LANGUAGE`] bytes.
pub fn valid(code: &str) -> bool {
    code.len() <= crate::limits::LANGUAGE
        && code
            .split('-')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn real_codes_pass_and_junk_does_not() {
        for ok in [
            "de",
            "en-US",
            "ja-JP-mac",
            "ast",
            "es-419",
            "multi",
            "ca-valencia",
            "sr-Latn",
            "1a",
            "abcdefghij-abcdefghij-abcdefgh",
        ] {
            assert!(super::valid(ok), "{ok}");
        }
        for bad in [
            "",
            "*",
            "%",
            "\u{fffd}",
            "abcdefghij-abcdefghij-abcdefghi",
            "../../x",
            "en_US",
            "en-",
            "-de",
            "en--US",
            "de/",
            "en-US\r\n",
            "dé",
        ] {
            assert!(!super::valid(bad), "{bad:?}");
        }
    }
}
