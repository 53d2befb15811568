//! HTML escaping as Go's `html.EscapeString` does it. A leaf: the redirect body
//! (`respond`) and the HTML mirror list (`documents`) both escape with it, and neither
//! should import the other for it.

/// Go's `html.EscapeString` set, as `http.Redirect` uses it. Copies the runs between
/// special bytes whole (every redirect's body holds its URL; most have none).
pub fn html_escape_into(out: &mut String, s: &str) {
    let special = |b: &u8| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'');
    let mut rest = s;
    while let Some(i) = rest.bytes().position(|b| special(&b)) {
        // `i` is an ASCII byte: both sides are on character boundaries.
        let (run, tail) = rest.split_at(i);
        out.push_str(run);
        out.push_str(match tail.as_bytes().first() {
            Some(b'&') => "&amp;",
            Some(b'<') => "&lt;",
            Some(b'>') => "&gt;",
            Some(b'"') => "&#34;",
            _ => "&#39;",
        });
        rest = tail.get(1..).unwrap_or_default();
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escape_as_go() {
        let mut out = String::new();
        html_escape_into(&mut out, "a&b<c>d\"e'f é&");
        assert_eq!(out, "a&amp;b&lt;c&gt;d&#34;e&#39;f é&amp;");
        let mut plain = String::from("x");
        html_escape_into(&mut plain, "https://m.example/a?b=c");
        assert_eq!(plain, "xhttps://m.example/a?b=c");
    }
}
