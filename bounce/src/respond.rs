//! Renders an [`Outcome`] as the exact bytes today's clients expect.

use crate::redirect::Outcome;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// The response for `outcome`; `cache` is the `Cache-Control` of redirects and prints.
pub fn render(outcome: Outcome, cache: Option<&HeaderValue>) -> HttpResponse {
    match outcome {
        Outcome::Home(url) | Outcome::Attribution(url) => found(url, None),
        Outcome::Redirect(url) => found(url, cache),
        Outcome::Print(url) => {
            let mut r = HttpResponse::Ok();
            r.insert_header((header::CONTENT_TYPE, "text/plain"));
            if let Some(c) = cache {
                r.insert_header((header::CACHE_CONTROL, c.clone()));
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
fn found(url: String, cache: Option<&HeaderValue>) -> HttpResponse {
    let mut body = String::with_capacity(url.len() + 24);
    body.push_str("<a href=\"");
    html_escape_into(&mut body, &url);
    body.push_str("\">Found</a>.\n\n");
    let mut r = HttpResponse::Found();
    // The URL is header-safe by construction (see `Location::url`); the String becomes
    // the header's bytes without a copy.
    match HeaderValue::try_from(url) {
        Ok(location) => r.insert_header((header::LOCATION, location)),
        Err(_) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "bad redirect URL\n".into(),
            )
        }
    };
    r.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
    if let Some(c) = cache {
        r.insert_header((header::CACHE_CONTROL, c.clone()));
    }
    r.body(body)
}

/// A plain-text answer as Go's `http.Error` writes it.
fn text(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
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
