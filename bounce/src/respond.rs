//! Renders an [`Outcome`] as the exact bytes today's clients expect.

use crate::html::html_escape_into;
use crate::outcome::{Outcome, Varies};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// RFC 9530 and RFC 3230 names, built once (a name built per answer costs a lookup).
static REPR_DIGEST: HeaderName = HeaderName::from_static("repr-digest");
static DIGEST: HeaderName = HeaderName::from_static("digest");

/// The response for `outcome`; `headers` holds the `Cache-Control` and `Vary` values and
/// the header maps built from them.
pub fn render(outcome: Outcome, headers: &Headers) -> HttpResponse {
    let t = &headers.answers;
    match outcome {
        Outcome::Home(url) | Outcome::Attribution(url) => found(t, url, &t.found_plain),
        Outcome::Redirect(url, varies, extras) => {
            let mut r = found(t, url, &t.found[varies.index()]);
            let h = r.headers_mut();
            for (name, value) in [
                (&header::LINK, extras.link),
                (&REPR_DIGEST, extras.repr_digest),
                (&DIGEST, extras.digest),
            ] {
                if let Some(v) = value {
                    h.insert(name.clone(), v);
                }
            }
            r
        }
        Outcome::Document(d) => {
            let mut h = t.text.clone();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(d.content_type),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=60"),
            );
            h.insert(header::VARY, HeaderValue::from_static("Accept"));
            h.remove(header::X_CONTENT_TYPE_OPTIONS);
            answer(StatusCode::OK, h, d.body)
        }
        Outcome::Print(url, varies) => answer(StatusCode::OK, t.print[varies.index()].clone(), url),
        Outcome::NotFound(_) => text(t, StatusCode::NOT_FOUND, "404 page not found\n".into()),
        Outcome::BadRequest(why) => text(t, StatusCode::BAD_REQUEST, format!("{why}\n")),
        Outcome::QueryTooLong(max) => text(
            t,
            StatusCode::URI_TOO_LONG,
            format!("query string longer than {max} bytes\n"),
        ),
    }
}

/// What every answer's headers need, parsed once at start instead of per request. Owned
/// here, by the renderer that reads it (the state holds one, built from the config).
pub struct Headers {
    /// `max-age=…` of redirects and prints (none when `cache_time_secs` is 0).
    pub cache_control: Option<HeaderValue>,
    /// `private, max-age=…`: for answers that depend on the client's address.
    pub cache_control_private: Option<HeaderValue>,
    /// `Vary` values by what an answer depended on (see [`Headers::vary`]).
    vary: [Option<HeaderValue>; 16],
    /// The header that says the client came over TLS (`bounce.pin_https_header`).
    pub pin_https: Option<HeaderName>,
    /// The answers' header maps, built from the values above.
    pub answers: Answers,
}

impl Headers {
    pub(crate) fn new(b: &bouncer_core::config::BounceConfig) -> Self {
        let value = |s: String| HeaderValue::from_str(&s).ok();
        let cached = b.cache_time_secs > 0;
        let vary = std::array::from_fn(|bits| {
            let names = [
                (bits & 1 != 0).then_some("User-Agent"),
                (bits & 2 != 0).then_some("Referer"),
                (bits & 4 != 0).then_some(b.pin_https_header.as_str()),
                (bits & 8 != 0).then_some("Accept"),
            ];
            let list = names.into_iter().flatten().collect::<Vec<_>>().join(", ");
            (!list.is_empty()).then(|| value(list)).flatten()
        });
        let mut h = Self {
            cache_control: cached
                .then(|| value(format!("max-age={}", b.cache_time_secs)))
                .flatten(),
            cache_control_private: cached
                .then(|| value(format!("private, max-age={}", b.cache_time_secs)))
                .flatten(),
            vary,
            pin_https: HeaderName::from_bytes(b.pin_https_header.as_bytes()).ok(),
            answers: Default::default(),
        };
        h.answers = Answers::new(&h);
        h
    }

    /// The `Vary` of an answer that depended on these request headers (none: on none).
    pub fn vary(
        &self,
        user_agent: bool,
        referer: bool,
        pin_https: bool,
        accept: bool,
    ) -> Option<&HeaderValue> {
        let bits = usize::from(user_agent)
            | usize::from(referer) << 1
            | usize::from(pin_https) << 2
            | usize::from(accept) << 3;
        self.vary[bits].as_ref()
    }
}

/// How a cacheable answer may be cached: `Cache-Control` and the `Vary` that is true for
/// it. An answer chosen by the client's address is `private` (no header names it, so a
/// shared cache must not keep it); one that depended on request headers names them.
/// In mirror mode `Accept` may ask for a document instead (see `documents::Format`), so
/// every mirror-mode answer says `Vary: Accept` — even without `Cache-Control`, since a
/// browser's cache may keep it heuristically. CDN-mode answers do not depend on `Accept`
/// and keep go-bouncer's header set.
struct Cache<'a> {
    control: Option<&'a HeaderValue>,
    vary: Option<&'a HeaderValue>,
}

impl<'a> Cache<'a> {
    fn of(h: &'a Headers, v: Varies) -> Self {
        let control = match v.client {
            true => h.cache_control_private.as_ref(),
            false => h.cache_control.as_ref(),
        };
        let vary = match control {
            Some(_) => h.vary(v.user_agent, v.referer, v.pin_https, v.client),
            None => h.vary(false, false, false, v.client),
        };
        Cache { control, vary }
    }
}

/// A 302 as Go's `http.Redirect` writes it, from a map holding every header but
/// `Location`.
fn found(t: &Answers, url: String, template: &HeaderMap) -> HttpResponse {
    let mut body = String::with_capacity(url.len() + 24);
    body.push_str("<a href=\"");
    html_escape_into(&mut body, &url);
    body.push_str("\">Found</a>.\n\n");
    // The URL is header-safe by construction (see `Location::url`); the String becomes
    // the header's bytes without a copy.
    let Ok(location) = HeaderValue::try_from(url) else {
        tracing::error!("a redirect URL is not a header value");
        return text(
            t,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error\n".into(),
        );
    };
    let mut h = template.clone();
    h.insert(header::LOCATION, location);
    answer(StatusCode::FOUND, h, body)
}

/// A plain-text answer as Go's `http.Error` writes it.
fn text(t: &Answers, status: StatusCode, body: String) -> HttpResponse {
    answer(status, t.text.clone(), body)
}

fn answer(status: StatusCode, headers: HeaderMap, body: String) -> HttpResponse {
    let mut r = HttpResponse::with_body(status, body);
    *r.headers_mut() = headers;
    r.map_into_boxed_body()
}

/// The header maps answers start from, with every value that does not vary per request
/// already in place: an answer clones one and sets `Location` (and the extras) only.
/// A header map iterates in the order of its hash table, which is seeded at random per
/// map; a clone keeps the table, and a value replaced in place keeps its slot. So each
/// map is drawn at start until it iterates in go-bouncer's order (sorted names; scripts
/// compare answers byte for byte), and every answer of that kind reuses it.
#[derive(Default)]
pub struct Answers {
    /// Redirects, by [`Varies::index`].
    found: Vec<HeaderMap>,
    /// The home page and attribution redirects (never cached).
    found_plain: HeaderMap,
    /// `print=yes`, by [`Varies::index`].
    print: Vec<HeaderMap>,
    /// Plain-text errors.
    text: HeaderMap,
}

impl Answers {
    /// Every map, for the values in `h`.
    pub fn new(h: &Headers) -> Self {
        use header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, VARY, X_CONTENT_TYPE_OPTIONS};
        let html = HeaderValue::from_static("text/html; charset=utf-8");
        let plain = HeaderValue::from_static("text/plain");
        let cached = |first: &[HeaderName], v: Varies, content_type: &HeaderValue| {
            let mut names = Vec::new();
            let mut values = Vec::new();
            let cache = Cache::of(h, v);
            if let Some(c) = cache.control {
                values.push((CACHE_CONTROL, c.clone()));
            }
            if let Some(vary) = cache.vary {
                values.push((VARY, vary.clone()));
            }
            values.push((CONTENT_TYPE, content_type.clone()));
            names.extend(values.iter().map(|(n, _)| n.clone()));
            names.extend(first.iter().cloned());
            names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            filled(&names, values)
        };
        Answers {
            found: (0..Varies::COUNT)
                .map(|i| cached(&[LOCATION], Varies::of_index(i), &html))
                .collect(),
            found_plain: filled(
                &[CONTENT_TYPE, LOCATION],
                vec![(CONTENT_TYPE, html.clone())],
            ),
            print: (0..Varies::COUNT)
                .map(|i| cached(&[], Varies::of_index(i), &plain))
                .collect(),
            text: filled(
                &[CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS],
                vec![
                    (
                        CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    ),
                    (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
                ],
            ),
        }
    }
}

/// [`ordered`] with `values` set in place.
fn filled(names: &[HeaderName], values: Vec<(HeaderName, HeaderValue)>) -> HeaderMap {
    let mut m = ordered(names);
    for (n, v) in values {
        m.insert(n, v);
    }
    m
}

/// A map holding `names` (placeholder values) that iterates in exactly that order, and
/// keeps it when their values are replaced.
fn ordered(names: &[HeaderName]) -> HeaderMap {
    let build = || {
        // Room to spare: an insert into a full table grows it (a new order) even when
        // the name is already there; a redirect adds up to three extras.
        let mut m = HeaderMap::with_capacity(names.len() + 4);
        for n in names {
            m.insert(n.clone(), HeaderValue::from_static(""));
        }
        m
    };
    // n! orders, each about as likely: for up to 4 names some dozens of draws.
    (0..10_000)
        .map(|_| build())
        .find(|m| m.keys().eq(names.iter()))
        .unwrap_or_else(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: &HttpResponse) -> Vec<String> {
        r.headers().keys().map(|k| k.to_string()).collect()
    }

    fn headers() -> Headers {
        Headers::new(&bouncer_core::config::BounceConfig::default())
    }

    #[test]
    fn header_names_go_out_sorted_every_time() {
        let h = headers();
        let cdn = Varies::default();
        let ua = Varies {
            user_agent: true,
            ..cdn
        };
        for _ in 0..50 {
            let r = render(
                Outcome::Redirect("https://m/a".into(), cdn, Default::default()),
                &h,
            );
            assert_eq!(names(&r), ["cache-control", "content-type", "location"]);
            let r = render(
                Outcome::Redirect("https://m/a".into(), ua, Default::default()),
                &h,
            );
            assert_eq!(
                names(&r),
                ["cache-control", "content-type", "location", "vary"]
            );
            let r = render(Outcome::Print("https://m/a".into(), cdn), &h);
            assert_eq!(names(&r), ["cache-control", "content-type"]);
            let r = render(Outcome::Print("https://m/a".into(), ua), &h);
            assert_eq!(names(&r), ["cache-control", "content-type", "vary"]);
            let r = render(Outcome::NotFound(crate::outcome::Missing::Product), &h);
            assert_eq!(names(&r), ["content-type", "x-content-type-options"]);
            let r = render(Outcome::Home("https://www.mozilla.org/".into()), &h);
            assert_eq!(names(&r), ["content-type", "location"]);
        }
    }

    #[test]
    fn vary_says_what_the_answer_depended_on() {
        let h = headers();
        let get = |r: &HttpResponse, n| {
            r.headers()
                .get(n)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
        };
        let pinned = Varies {
            user_agent: true,
            referer: true,
            pin_https: true,
            client: false,
        };
        let r = render(
            Outcome::Redirect("https://m/a".into(), pinned, Default::default()),
            &h,
        );
        assert_eq!(
            get(&r, header::CACHE_CONTROL).as_deref(),
            Some("max-age=60")
        );
        assert_eq!(
            get(&r, header::VARY).as_deref(),
            Some("User-Agent, Referer, X-Forwarded-Proto")
        );
        let mirrors = Varies {
            client: true,
            ..Varies::default()
        };
        let r = render(
            Outcome::Redirect("https://m/a".into(), mirrors, Default::default()),
            &h,
        );
        assert_eq!(
            get(&r, header::CACHE_CONTROL).as_deref(),
            Some("private, max-age=60"),
            "chosen by the client's address: no shared cache may keep it"
        );
        assert_eq!(
            get(&r, header::VARY).as_deref(),
            Some("Accept"),
            "Accept may ask for a document instead"
        );
        let r = render(Outcome::Print("https://m/a".into(), mirrors), &h);
        assert_eq!(get(&r, header::VARY).as_deref(), Some("Accept"));
        let ua = Varies {
            user_agent: true,
            ..mirrors
        };
        let r = render(
            Outcome::Redirect("https://m/a".into(), ua, Default::default()),
            &h,
        );
        assert_eq!(get(&r, header::VARY).as_deref(), Some("User-Agent, Accept"));
        let uncached = Headers::new(&bouncer_core::config::BounceConfig {
            cache_time_secs: 0,
            ..Default::default()
        });
        let r = render(
            Outcome::Redirect("https://m/a".into(), ua, Default::default()),
            &uncached,
        );
        assert_eq!(get(&r, header::CACHE_CONTROL), None);
        assert_eq!(
            get(&r, header::VARY).as_deref(),
            Some("Accept"),
            "no Cache-Control, still chosen by Accept"
        );
        let r = render(
            Outcome::Redirect("https://m/a".into(), Varies::default(), Default::default()),
            &uncached,
        );
        assert_eq!(
            names(&r),
            ["content-type", "location"],
            "CDN mode as before"
        );
    }
}
