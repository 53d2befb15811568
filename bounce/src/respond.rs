//! Renders an [`Outcome`] as the exact bytes today's clients expect.

use crate::redirect::Outcome;
use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

/// The response for `outcome`; `cache_time` is the `max-age` of redirects and prints.
pub fn render(outcome: Outcome, cache_time: u32) -> HttpResponse {
    let cache = (cache_time > 0).then(|| format!("max-age={cache_time}"));
    match outcome {
        Outcome::Home(url) | Outcome::Attribution(url) => found(&url, None),
        Outcome::Redirect(url) => found(&url, cache.as_deref()),
        Outcome::Print(url) => {
            let mut r = HttpResponse::Ok();
            r.insert_header((header::CONTENT_TYPE, "text/plain"));
            if let Some(c) = cache {
                r.insert_header((header::CACHE_CONTROL, c));
            }
            r.body(url)
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
fn found(url: &str, cache: Option<&str>) -> HttpResponse {
    let mut r = HttpResponse::Found();
    r.insert_header((header::LOCATION, url))
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
    if let Some(c) = cache {
        r.insert_header((header::CACHE_CONTROL, c));
    }
    r.body(format!("<a href=\"{}\">Found</a>.\n\n", html_escape(url)))
}

/// A plain-text answer as Go's `http.Error` writes it.
fn text(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// Go's `html.EscapeString` set, as `http.Redirect` uses it.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
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
    out
}
