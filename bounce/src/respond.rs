//! Renders an [`Outcome`] as the exact bytes today's clients expect.

use crate::redirect::Outcome;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// The response for `outcome`; `cache` is the `Cache-Control` of redirects and prints.
pub fn render(outcome: Outcome, cache: Option<&HeaderValue>) -> HttpResponse {
    match outcome {
        Outcome::Home(url) | Outcome::Attribution(url) => found(url, None),
        Outcome::Redirect(url) => found(url, cache),
        Outcome::Print(url) => {
            let t = templates();
            let mut h = match cache {
                Some(c) => with(&t.print_cached, header::CACHE_CONTROL, c.clone()),
                None => t.print.clone(),
            };
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            answer(StatusCode::OK, h, url)
        }
        Outcome::NotFound => text(StatusCode::NOT_FOUND, "404 page not found\n".into()),
        Outcome::BadRequest(why) => text(StatusCode::BAD_REQUEST, format!("{why}\n")),
        Outcome::QueryTooLong(max) => text(
            StatusCode::URI_TOO_LONG,
            format!("query string longer than {max} bytes\n"),
        ),
    }
}

/// A 302 as Go's `http.Redirect` writes it.
fn found(url: String, cache: Option<&HeaderValue>) -> HttpResponse {
    let mut body = String::with_capacity(url.len() + 24);
    body.push_str("<a href=\"");
    html_escape_into(&mut body, &url);
    body.push_str("\">Found</a>.\n\n");
    // The URL is header-safe by construction (see `Location::url`); the String becomes
    // the header's bytes without a copy.
    let Ok(location) = HeaderValue::try_from(url) else {
        tracing::error!("a redirect URL is not a header value");
        return text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n".into());
    };
    let t = templates();
    let mut h = match cache {
        Some(c) => with(&t.found_cached, header::CACHE_CONTROL, c.clone()),
        None => t.found.clone(),
    };
    h.insert(header::LOCATION, location);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    answer(StatusCode::FOUND, h, body)
}

/// A plain-text answer as Go's `http.Error` writes it.
fn text(status: StatusCode, body: String) -> HttpResponse {
    let mut h = templates().text.clone();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    answer(status, h, body)
}

fn answer(status: StatusCode, headers: HeaderMap, body: String) -> HttpResponse {
    let mut r = HttpResponse::with_body(status, body);
    *r.headers_mut() = headers;
    r.map_into_boxed_body()
}

fn with(template: &HeaderMap, name: HeaderName, value: HeaderValue) -> HeaderMap {
    let mut h = template.clone();
    h.insert(name, value);
    h
}

/// Header maps cloned into every answer, so that header names go out in one stable order
/// (scripts compare answers byte for byte). A header map iterates in the order of its
/// hash table, which is seeded at random per map; a clone keeps the table, and a value
/// replaced in place keeps its slot. So each template is drawn at start until it iterates
/// in go-bouncer's order (sorted names), and every answer of that kind reuses it.
struct Templates {
    found: HeaderMap,
    found_cached: HeaderMap,
    print: HeaderMap,
    print_cached: HeaderMap,
    text: HeaderMap,
}

fn templates() -> &'static Templates {
    static T: std::sync::LazyLock<Templates> = std::sync::LazyLock::new(|| {
        use header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, X_CONTENT_TYPE_OPTIONS};
        Templates {
            found: ordered(&[CONTENT_TYPE, LOCATION]),
            found_cached: ordered(&[CACHE_CONTROL, CONTENT_TYPE, LOCATION]),
            print: ordered(&[CONTENT_TYPE]),
            print_cached: ordered(&[CACHE_CONTROL, CONTENT_TYPE]),
            text: ordered(&[CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS]),
        }
    });
    &T
}

/// A map holding `names` (placeholder values) that iterates in exactly that order, and
/// keeps it when their values are replaced.
fn ordered(names: &[HeaderName]) -> HeaderMap {
    let build = || {
        // Room to spare: an insert into a full table grows it (a new order) even when
        // the name is already there.
        let mut m = HeaderMap::with_capacity(names.len() + 4);
        for n in names {
            m.insert(n.clone(), HeaderValue::from_static(""));
        }
        m
    };
    // n! orders, each as likely: for up to 3 names a few draws; bounded all the same.
    (0..10_000)
        .map(|_| build())
        .find(|m| m.keys().eq(names.iter()))
        .unwrap_or_else(build)
}

/// Go's `html.EscapeString` set, as `http.Redirect` uses it.
fn html_escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: &HttpResponse) -> Vec<String> {
        r.headers().keys().map(|k| k.to_string()).collect()
    }

    #[test]
    fn header_names_go_out_sorted_every_time() {
        let cache = HeaderValue::from_static("max-age=60");
        for _ in 0..50 {
            let r = render(Outcome::Redirect("https://m/a".into()), Some(&cache));
            assert_eq!(names(&r), ["cache-control", "content-type", "location"]);
            let r = render(Outcome::Print("https://m/a".into()), Some(&cache));
            assert_eq!(names(&r), ["cache-control", "content-type"]);
            let r = render(Outcome::NotFound, None);
            assert_eq!(names(&r), ["content-type", "x-content-type-options"]);
            let r = render(Outcome::Home("https://www.mozilla.org/".into()), None);
            assert_eq!(names(&r), ["content-type", "location"]);
        }
    }
}
