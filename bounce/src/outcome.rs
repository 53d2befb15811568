//! The pipeline's vocabulary: what a request asked ([`RequestInfo`]) and the answer
//! before it is rendered ([`Outcome`] and what it carries). A leaf: the steps that build
//! an answer (`redirect`, `links`, `documents`) and the renderer (`respond`) all import
//! it, so none of them imports another for its types.

use actix_web::http::header::HeaderValue;
use std::borrow::Cow;
use std::net::IpAddr;

/// What a request asked, as far as bounce cares.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo<'a> {
    pub query: &'a str,
    pub peer: Option<IpAddr>,
    /// Every `X-Forwarded-For` line, joined.
    pub forwarded_for: Option<Cow<'a, str>>,
    pub user_agent: &'a str,
    pub referer: &'a str,
    /// The pin-https header said `https`: the client came over TLS.
    pub https: bool,
    /// Every `Accept` line, joined; read only where it may choose a document (mirror
    /// mode, no `format=`), so CDN-mode redirects do not parse it.
    pub accept: Option<Cow<'a, str>>,
}

/// What else than the URL a cacheable answer depended on, for `Vary` and `Cache-Control`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Varies {
    /// A rewrite rule looks at the User-Agent.
    pub user_agent: bool,
    /// A rewrite rule looks at the Referer.
    pub referer: bool,
    /// CDN mode: the pin-https header chose the scheme.
    pub pin_https: bool,
    /// Mirror mode: the client's address (its region, or the `print=yes` hash) chose the
    /// mirror; no header names that, so the answer is `private`.
    pub client: bool,
}

impl Varies {
    /// Number of distinct values ([`Self::index`] is below it).
    pub const COUNT: usize = 16;

    /// A dense number for tables built per value (the answers' header maps).
    pub fn index(self) -> usize {
        usize::from(self.user_agent)
            | usize::from(self.referer) << 1
            | usize::from(self.pin_https) << 2
            | usize::from(self.client) << 3
    }

    /// The value whose [`Self::index`] is `i`.
    pub fn of_index(i: usize) -> Self {
        Varies {
            user_agent: i & 1 != 0,
            referer: i & 2 != 0,
            pin_https: i & 4 != 0,
            client: i & 8 != 0,
        }
    }
}

/// Headers a redirect carries beside the compatible ones: RFC 6249 links (in CDN mode the
/// Metalink's only) and the file's digests when its hash is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extras {
    pub link: Option<HeaderValue>,
    pub repr_digest: Option<HeaderValue>,
    pub digest: Option<HeaderValue>,
}

/// The answer, before it is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Empty product: the configured home page.
    Home(String),
    /// Stub attribution service.
    Attribution(String),
    Redirect(String, Varies, Extras),
    /// A mirror list for the same request (`format=` or `Accept`).
    Document(Document),
    /// `print=yes`: the URL as text.
    Print(String, Varies),
    NotFound(Missing),
    BadRequest(String),
    QueryTooLong(usize),
}

impl Outcome {
    /// Label for the requests metric.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Home(_) => "home",
            Outcome::Attribution(_) => "attribution",
            Outcome::Redirect(..) => "redirect",
            Outcome::Document(_) => "document",
            Outcome::Print(..) => "print",
            Outcome::NotFound(_) => "not_found",
            Outcome::BadRequest(_) | Outcome::QueryTooLong(_) => "bad_request",
        }
    }
}

/// Why a request found nothing (`bounce_not_found_total{reason}`: counted per reason,
/// never per name, so junk names cannot grow a counter set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Product,
    Os,
    /// The product has no location for the OS.
    Location,
    /// The product does not have the language.
    Lang,
    /// No mirror has the file and there is no fallback for it.
    Mirror,
}

impl Missing {
    pub const ALL: [Missing; 5] = [
        Missing::Product,
        Missing::Os,
        Missing::Location,
        Missing::Lang,
        Missing::Mirror,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Missing::Product => "product",
            Missing::Os => "os",
            Missing::Location => "location",
            Missing::Lang => "lang",
            Missing::Mirror => "mirror",
        }
    }
}

/// A rendered document (built by `documents`), here beside the [`Outcome`] that carries
/// it so that the renderer need not import the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub content_type: &'static str,
    pub body: String,
}

/// Where a redirect sends a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Served {
    Mirror(i32),
    /// CDN mode's pinned base.
    Cdn,
    /// Mirror mode's fallback host (no mirror had the file).
    Fallback,
}

/// A redirect to a file, as download statistics count it: ids and small copies only, so
/// counting allocates nothing (names are looked up when counts are sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Download {
    pub product: i32,
    pub os: i32,
    pub lang: Lang,
    pub served: Served,
    /// Mirror mode only (CDN mode does not place clients).
    pub country: Option<bouncer_core::networks::Code>,
    /// The client's address when mirror mode placed it (`None` in CDN mode: the counter
    /// finds it then).
    pub client: Option<std::net::IpAddr>,
    pub family: Option<bouncer_core::networks::Family>,
    /// The redirect's scheme.
    pub https: bool,
    /// The file's size when known, else 0.
    pub bytes: u64,
}

/// A language code kept inline (codes are short: `ja-JP-mac` is 9 bytes); a longer one is
/// counted as [`Lang::OTHER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lang {
    len: u8,
    bytes: [u8; 15],
}

impl Lang {
    pub const OTHER: Lang = Lang {
        len: 5,
        bytes: *b"other\0\0\0\0\0\0\0\0\0\0",
    };

    pub fn new(lang: &str) -> Self {
        let mut bytes = [0u8; 15];
        match bytes.get_mut(..lang.len()) {
            Some(head) if !lang.is_empty() => {
                head.copy_from_slice(lang.as_bytes());
                Lang {
                    len: lang.len() as u8,
                    bytes,
                }
            }
            _ => Self::OTHER,
        }
    }

    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        std::str::from_utf8(bytes).unwrap_or("other")
    }
}
