//! One HTTP probe: a HEAD request (never a body read), at most one redirect followed —
//! never from https down to http, nor from a public mirror to a non-public address — and
//! the classification of the answer, held to the file's size when it is known.

use crate::address;
use bouncer_core::files::Observed;
use bouncer_core::networks::Family;
use reqwest::header::{
    CONTENT_LENGTH, CONTENT_TYPE, ETAG, LAST_MODIFIED, LOCATION, RANGE, TRANSFER_ENCODING,
};
use reqwest::{Client, Response, StatusCode};
use std::collections::{BTreeMap, HashMap};
use std::error::Error as _;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use url::{Host, Url};

/// The three result classes of the original checker, as stored in the mirror map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// The file is there: `active = 1, healthy = 1`.
    Healthy,
    /// The mirror says the file is not there (404 or 403): `active = 0, healthy = 0`.
    Inactive,
    /// The mirror misbehaves: `active = 1, healthy = 0`.
    Unhealthy,
}

impl Class {
    /// Label used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Healthy => "healthy",
            Class::Inactive => "inactive",
            Class::Unhealthy => "unhealthy",
        }
    }
}

/// Why a probe (or a whole mirror) ended the way it did; the `Display` text is what
/// operators read in `sentry_log.reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Ok,
    /// Any HTTP status that is not a plain success (404, 403, 500, 204, a 3xx without a
    /// usable `Location`…).
    Status(u16),
    /// 200 with `Content-Type: text/html`: a mirror's "not found" page served as success.
    SoftNotFound,
    Timeout,
    Refused,
    Connect(String),
    Tls(String),
    /// A redirect answered by another redirect.
    RedirectLoop,
    /// An https URL redirected to http.
    RedirectDowngrade,
    /// A redirect (of a mirror on a public address) to a non-public address: loopback,
    /// private, link-local… (see `address`). Not followed.
    RedirectNonPublic(IpAddr),
    Dns(String),
    /// The mirror's overall deadline passed before this probe was done.
    Deadline,
    /// The URL could not be built from the base URL and path.
    BadUrl(String),
    /// The file's `Content-Length` is not the size the file has (stale, truncated, or
    /// replaced): `(served, expected)`.
    SizeMismatch(u64, u64),
    /// The file's size is known but the answer does not state its own (no
    /// `Content-Length`, an unparseable one, a chunked answer): the mirror cannot be held
    /// to the file, so it does not pass.
    SizeUnknown(String),
    /// A sampled byte range differs from the reference origin's: `(first, last)` byte.
    ContentMismatch(u64, u64),
    /// The mirror has no address of this family (no A / AAAA record): nothing probed.
    NoAddress(Family),
    /// sentry's own host could not use the family to get there (no route, no address of
    /// the family to send from, family not supported): says nothing of the mirror.
    Unreachable(String),
    Other(String),
}

impl Reason {
    /// A low-cardinality label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::Status(404) => "http_404",
            Reason::Status(403) => "http_403",
            Reason::Status(s) if *s >= 500 => "http_5xx",
            Reason::Status(_) => "http_other",
            Reason::SoftNotFound => "soft_404",
            Reason::Timeout => "timeout",
            Reason::Refused => "refused",
            Reason::Connect(_) => "connect",
            Reason::Tls(_) => "tls",
            Reason::RedirectLoop => "redirect_loop",
            Reason::RedirectDowngrade => "redirect_downgrade",
            Reason::RedirectNonPublic(_) => "redirect_non_public",
            Reason::Dns(_) => "dns",
            Reason::Deadline => "deadline",
            Reason::BadUrl(_) => "bad_url",
            Reason::SizeMismatch(..) => "size_mismatch",
            Reason::SizeUnknown(_) => "size_unknown",
            Reason::ContentMismatch(..) => "content_mismatch",
            Reason::NoAddress(_) => "no_address",
            Reason::Unreachable(_) => "unreachable",
            Reason::Other(_) => "other",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Ok => f.write_str("ok"),
            Reason::Status(s) => write!(f, "HTTP {s}"),
            Reason::SoftNotFound => f.write_str("soft 404 (200 text/html)"),
            Reason::Timeout => f.write_str("timeout"),
            Reason::Refused => f.write_str("connection refused"),
            Reason::Connect(e) => write!(f, "connect error: {e}"),
            Reason::Tls(e) => write!(f, "TLS error: {e}"),
            Reason::RedirectLoop => f.write_str("redirect loop"),
            Reason::RedirectDowngrade => f.write_str("redirect from https to http"),
            Reason::RedirectNonPublic(ip) => {
                write!(f, "redirect to a non-public address: {ip}")
            }
            Reason::Dns(host) => write!(f, "DNS failed: {host}"),
            Reason::Deadline => f.write_str("mirror deadline exceeded"),
            Reason::BadUrl(u) => write!(f, "invalid URL: {u}"),
            Reason::SizeMismatch(got, want) => {
                write!(f, "size mismatch: {got} bytes, expected {want}")
            }
            Reason::SizeUnknown(why) => write!(f, "size unknown: {why}"),
            Reason::ContentMismatch(a, b) => {
                write!(
                    f,
                    "content mismatch: bytes {a}-{b} differ from the reference"
                )
            }
            Reason::NoAddress(family) => f.write_str(&family.no_address()),
            Reason::Unreachable(e) => write!(f, "unreachable from sentry's host: {e}"),
            Reason::Other(e) => write!(f, "error: {e}"),
        }
    }
}

/// A classified probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub class: Class,
    pub reason: Reason,
}

impl Outcome {
    pub fn unhealthy(reason: Reason) -> Self {
        Self {
            class: Class::Unhealthy,
            reason,
        }
    }
}

/// The original checker's rules: 200 and not `text/html` → healthy; 404 or 403 →
/// inactive; anything else (5xx, a soft-404 HTML page, other statuses) → unhealthy.
pub fn classify(status: u16, content_type: Option<&str>) -> Outcome {
    let html = content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/html"));
    match status {
        200 if html => Outcome::unhealthy(Reason::SoftNotFound),
        200 => Outcome {
            class: Class::Healthy,
            reason: Reason::Ok,
        },
        404 | 403 => Outcome {
            class: Class::Inactive,
            reason: Reason::Status(status),
        },
        s => Outcome::unhealthy(Reason::Status(s)),
    }
}

/// Where a redirect leads, if it may be followed: a relative `Location` resolves against
/// the request URL; https → http is refused, because a user sent there would be downgraded.
pub fn redirect_target(from: &Url, status: u16, location: Option<&str>) -> Result<Url, Reason> {
    let location = location.ok_or(Reason::Status(status))?;
    let target = from
        .join(location)
        .map_err(|_| Reason::BadUrl(location.to_owned()))?;
    if from.scheme() == "https" && target.scheme() != "https" {
        return Err(Reason::RedirectDowngrade);
    }
    if !matches!(target.scheme(), "http" | "https") {
        return Err(Reason::BadUrl(location.to_owned()));
    }
    Ok(target)
}

/// How probe clients are built (from `[sentry]`).
pub struct ClientOptions<'a> {
    pub user_agent: &'a str,
    pub timeout: Duration,
    pub idle_per_host: usize,
    pub extra_roots: &'a [reqwest::Certificate],
    /// `sentry.resolve`: host names connected to at these addresses instead of DNS's.
    pub resolve: &'a BTreeMap<String, Vec<IpAddr>>,
}

/// A probe client: connection reuse across probes of one mirror, the per-request
/// timeout, no automatic redirects (handled by [`head`]). `local`: the address connections
/// leave from — the unspecified address of a family makes a client of that family only
/// (the other family's addresses of a name are not tried); `None`: whatever the system
/// picks.
pub fn client(o: &ClientOptions<'_>, local: Option<IpAddr>) -> reqwest::Result<Client> {
    let mut builder = Client::builder()
        .user_agent(o.user_agent)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(o.timeout)
        .connect_timeout(o.timeout)
        .pool_max_idle_per_host(o.idle_per_host)
        .local_address(local);
    for root in o.extra_roots {
        builder = builder.add_root_certificate(root.clone());
    }
    for (host, ips) in o.resolve {
        // Port 0: the URL's port is used.
        let addrs: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
        builder = builder.resolve_to_addrs(host, &addrs);
    }
    builder.build()
}

/// The certificates of `sentry.ca_file` (PEM, one or more).
pub fn extra_roots(
    file: Option<&std::path::Path>,
) -> Result<Vec<reqwest::Certificate>, crate::SentryError> {
    let Some(file) = file else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(file)?;
    Ok(reqwest::Certificate::from_pem_bundle(&pem)?)
}

/// Where a probe's redirects may lead, decided per mirror from its base URL's addresses.
pub struct Hops<'a> {
    /// Whether the mirror's base URL is on public addresses only: then its redirects must
    /// lead to public addresses only ([`address::forbidden`]). A mirror on a non-public
    /// address (an intranet mirror the operator listed, the tests' fakes on 127.0.0.x) may
    /// redirect within that network: production mirrors are on the Internet, and stay
    /// held to the strict rule without any switch.
    pub base_public: bool,
    /// `sentry.resolve` (keys in lower case): a redirect's host is looked up there first,
    /// as the probe clients connect.
    pub resolve: &'a HashMap<String, Vec<IpAddr>>,
    /// Bounds the lookup of a redirect's host.
    pub timeout: Duration,
}

impl Hops<'_> {
    /// Resolves a redirect's target host (as the client will) and refuses it before any
    /// request is sent when it leads where this mirror may not send sentry. The client
    /// looks the name up again when it connects, so [`Hops::check_peer`] checks the
    /// address the answer came from too: a name that changes its answer in between (DNS
    /// rebinding) gets no healthy verdict out of it.
    async fn check(&self, target: &Url) -> Result<(), Reason> {
        if !self.base_public {
            return Ok(());
        }
        let addrs = match target.host() {
            Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
            Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
            Some(Host::Domain(d)) => match self.resolve.get(&d.to_ascii_lowercase()) {
                Some(pinned) => pinned.clone(),
                None => {
                    let port = target.port_or_known_default().unwrap_or(80);
                    let lookup = tokio::net::lookup_host((d, port));
                    match tokio::time::timeout(self.timeout, lookup).await {
                        Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                        _ => return Err(Reason::Dns(d.to_owned())),
                    }
                }
            },
            None => return Err(Reason::BadUrl(target.to_string())),
        };
        if addrs.is_empty() {
            return Err(Reason::Dns(
                target.host_str().unwrap_or_default().to_owned(),
            ));
        }
        match address::forbidden(self.base_public, &addrs) {
            Some(ip) => Err(Reason::RedirectNonPublic(ip)),
            None => Ok(()),
        }
    }

    /// The address a redirected answer came from, held to the same rule.
    fn check_peer(&self, r: &Response) -> Result<(), Reason> {
        let peer = r.remote_addr().map(|a| a.ip());
        match peer.and_then(|ip| address::forbidden(self.base_public, &[ip])) {
            Some(ip) => Err(Reason::RedirectNonPublic(ip)),
            None => Ok(()),
        }
    }
}

/// HEADs `url`, follows at most one redirect (where [`Hops`] allows), classifies the
/// answer and holds it to `expected_size` when known ([`held_to_size`]); also says what the
/// final answer told of the file (size, `ETag`, `Last-Modified`).
pub async fn head(
    client: &Client,
    url: Url,
    expected_size: Option<u64>,
    hops: &Hops<'_>,
) -> (Outcome, Observed) {
    let nothing = |reason| (Outcome::unhealthy(reason), Observed::default());
    let first = match send(client, url.clone()).await {
        Ok(r) => r,
        Err(reason) => return nothing(reason),
    };
    let last = match is_redirect(first.status()) {
        false => first,
        true => {
            let location = header(&first, LOCATION);
            let target = match redirect_target(&url, first.status().as_u16(), location) {
                Ok(t) => t,
                Err(reason) => return nothing(reason),
            };
            if let Err(reason) = hops.check(&target).await {
                return nothing(reason);
            }
            match send(client, target).await {
                Ok(r) if is_redirect(r.status()) => return nothing(Reason::RedirectLoop),
                Ok(r) => match hops.check_peer(&r) {
                    Ok(()) => r,
                    Err(reason) => return nothing(reason),
                },
                Err(reason) => return nothing(reason),
            }
        }
    };
    let outcome = held_to_size(classify_response(&last), stated_size(&last), expected_size);
    (outcome, observed(&last))
}

/// The longest piece of a header value quoted in a reason.
const QUOTED: usize = 32;

/// The size an answer states for its file: its `Content-Length`, when every value of it is
/// the same plain decimal number that fits the size column (`i64`). `Err` says why there
/// is none: a `Transfer-Encoding` (chunked: the length is not stated, whatever a
/// `Content-Length` beside it says, RFC 9112 §6.3), no `Content-Length`, or one that is
/// not a size (`12kB`, `-1`, `18446744073709551615`, two different values).
pub fn declared_size<'a>(
    lengths: impl IntoIterator<Item = &'a str>,
    transfer_encoding: Option<&str>,
) -> Result<u64, String> {
    if let Some(te) = transfer_encoding {
        let te: String = te.chars().take(QUOTED).collect();
        return Err(format!("Transfer-Encoding {te:?}, no Content-Length"));
    }
    let mut values = lengths
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim);
    let Some(first) = values.next() else {
        return Err("no Content-Length".into());
    };
    let invalid = || {
        let shown: String = first.chars().take(QUOTED).collect();
        format!("invalid Content-Length {shown:?}")
    };
    let digits = !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit());
    if !digits || !values.all(|v| v == first) {
        return Err(invalid());
    }
    first
        .parse::<i64>()
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(invalid)
}

/// A healthy answer held to the file's size, when the size is known: another stated size
/// is a mismatch, and no stated size (see [`declared_size`]) is `size unknown` — both
/// unhealthy. A mirror that does not say how big the file is cannot be told from one
/// serving a truncated or replaced file, and the users bounce sends there get no size
/// either (no progress, no check that the download is complete). Falling back to a ranged
/// GET to learn the size was considered and not done: it costs a second request per
/// location on exactly the mirrors that misbehave, and a server that breaks `HEAD` this
/// way is a configuration the operator should hear about. Without a known size the answer
/// stands as classified.
pub fn held_to_size(
    outcome: Outcome,
    stated: Result<u64, String>,
    expected: Option<u64>,
) -> Outcome {
    let Some(want) = expected.filter(|_| outcome.class == Class::Healthy) else {
        return outcome;
    };
    match stated {
        Ok(got) if got == want => outcome,
        Ok(got) => Outcome::unhealthy(Reason::SizeMismatch(got, want)),
        Err(why) => Outcome::unhealthy(Reason::SizeUnknown(why)),
    }
}

/// [`declared_size`] of an answer.
fn stated_size(r: &Response) -> Result<u64, String> {
    let lengths = r
        .headers()
        .get_all(CONTENT_LENGTH)
        .iter()
        .map(|v| v.to_str().unwrap_or("?"));
    let te = r
        .headers()
        .get(TRANSFER_ENCODING)
        .map(|v| v.to_str().unwrap_or("?"));
    declared_size(lengths, te)
}

/// What a successful answer says of the file.
fn observed(r: &Response) -> Observed {
    if r.status() != StatusCode::OK {
        return Observed::default();
    }
    let text = |name| header(r, name).map(str::to_owned);
    Observed {
        size: stated_size(r).ok().and_then(|n| i64::try_from(n).ok()),
        etag: text(ETAG).filter(|v| v.chars().count() <= bouncer_core::files::ETAG),
        last_modified: text(LAST_MODIFIED)
            .filter(|v| v.chars().count() <= bouncer_core::files::LAST_MODIFIED),
    }
}

/// Bytes `start..start + len` of `url` by a ranged GET (one redirect followed, as for
/// HEAD, where [`Hops`] allows). `Ok(None)`: the server does not serve ranges (a 200), so
/// nothing can be said.
pub async fn range(
    client: &Client,
    url: Url,
    start: u64,
    len: u64,
    hops: &Hops<'_>,
) -> Result<Option<Vec<u8>>, Reason> {
    let get = |u: Url| {
        let last = start + len.max(1) - 1;
        client
            .get(u)
            .header(RANGE, format!("bytes={start}-{last}"))
            .send()
    };
    let mut r = get(url.clone()).await.map_err(|e| reason_of(&e))?;
    if is_redirect(r.status()) {
        let target = redirect_target(&url, r.status().as_u16(), header(&r, LOCATION))?;
        hops.check(&target).await?;
        r = get(target).await.map_err(|e| reason_of(&e))?;
        hops.check_peer(&r)?;
    }
    match r.status() {
        StatusCode::PARTIAL_CONTENT => {
            // Read no more than asked, whatever the server sends.
            let mut body = Vec::with_capacity(len.min(1 << 20) as usize);
            while (body.len() as u64) < len {
                match r.chunk().await.map_err(|e| reason_of(&e))? {
                    Some(c) => body.extend_from_slice(&c),
                    None => break,
                }
            }
            body.truncate(len as usize);
            Ok(Some(body))
        }
        StatusCode::OK => Ok(None),
        s => Err(Reason::Status(s.as_u16())),
    }
}

/// Whether a connect error comes from sentry's own host being unable to use the address
/// family (no route of the family, no local address of it to bind, family not supported)
/// rather than from the mirror: then a probe over that family gives no verdict.
fn family_unusable(io: &std::io::Error) -> bool {
    #[cfg(target_os = "linux")]
    const EAFNOSUPPORT: i32 = 97;
    #[cfg(not(target_os = "linux"))]
    const EAFNOSUPPORT: i32 = 47;
    matches!(
        io.kind(),
        std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::AddrNotAvailable
    ) || io.raw_os_error() == Some(EAFNOSUPPORT)
}

fn is_redirect(s: StatusCode) -> bool {
    matches!(s.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn header(r: &Response, name: reqwest::header::HeaderName) -> Option<&str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

fn classify_response(r: &Response) -> Outcome {
    classify(r.status().as_u16(), header(r, CONTENT_TYPE))
}

async fn send(client: &Client, url: Url) -> Result<Response, Reason> {
    client.head(url).send().await.map_err(|e| reason_of(&e))
}

/// Maps a transport error to a reason: timeouts, refused connections and TLS failures
/// are told apart because operators act differently on each.
fn reason_of(e: &reqwest::Error) -> Reason {
    if e.is_timeout() {
        return Reason::Timeout;
    }
    let mut innermost = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return Reason::Refused;
            }
            if family_unusable(io) {
                return Reason::Unreachable(io.to_string());
            }
            if io.kind() == std::io::ErrorKind::TimedOut {
                return Reason::Timeout;
            }
        }
        innermost = s.to_string();
        source = s.source();
    }
    let lower = innermost.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
        Reason::Tls(innermost)
    } else if e.is_connect() {
        Reason::Connect(innermost)
    } else {
        Reason::Other(innermost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_the_original_rules() {
        let c = |s, ct| classify(s, ct).class;
        assert_eq!(c(200, Some("application/octet-stream")), Class::Healthy);
        assert_eq!(c(200, None), Class::Healthy);
        assert_eq!(c(404, None), Class::Inactive);
        assert_eq!(c(403, Some("text/html")), Class::Inactive);
        assert_eq!(c(500, None), Class::Unhealthy);
        assert_eq!(c(204, None), Class::Unhealthy);
        assert_eq!(
            classify(200, Some("Text/HTML; charset=utf-8")),
            Outcome::unhealthy(Reason::SoftNotFound)
        );
    }

    #[test]
    fn redirects_resolve_and_never_downgrade() {
        let https = Url::parse("https://m.example/pub/a.exe").unwrap();
        assert_eq!(
            redirect_target(&https, 302, Some("/other/a.exe"))
                .unwrap()
                .as_str(),
            "https://m.example/other/a.exe"
        );
        assert_eq!(
            redirect_target(&https, 302, Some("http://m.example/a.exe")),
            Err(Reason::RedirectDowngrade)
        );
        let http = Url::parse("http://m.example/a").unwrap();
        assert_eq!(
            redirect_target(&http, 302, Some("https://cdn.example/a"))
                .unwrap()
                .as_str(),
            "https://cdn.example/a"
        );
        assert_eq!(redirect_target(&http, 301, None), Err(Reason::Status(301)));
        assert!(matches!(
            redirect_target(&http, 302, Some("ftp://m.example/a")),
            Err(Reason::BadUrl(_))
        ));
    }

    /// A client of a family whose local address the host does not have (as on a host
    /// without IPv6) fails to connect with a reason that says so, not "refused".
    #[tokio::test]
    async fn a_family_the_host_cannot_use_is_unreachable_not_a_mirror_failure() {
        let fake = bouncer_test_support::fake_mirror::FakeMirror::start_on(
            "::1".parse().unwrap(),
            bouncer_test_support::fake_mirror::Behaviour::Healthy,
        )
        .await;
        let resolve = BTreeMap::new();
        let o = ClientOptions {
            user_agent: "t",
            timeout: Duration::from_secs(5),
            idle_per_host: 1,
            extra_roots: &[],
            resolve: &resolve,
        };
        let url = Url::parse(&format!("{}f.bin", fake.base_url())).unwrap();
        let ok = client(&o, Some(Family::V6.unspecified())).unwrap();
        let pins = HashMap::new();
        let hops = hops(true, &pins);
        let (outcome, _) = head(&ok, url.clone(), None, &hops).await;
        assert_eq!(outcome.class, Class::Healthy);
        // 2001:db8::/32 is for documentation: no host has it.
        let unusable = client(&o, Some("2001:db8::5".parse().unwrap())).unwrap();
        let (outcome, _) = head(&unusable, url, None, &hops).await;
        assert!(
            matches!(outcome.reason, Reason::Unreachable(_)),
            "{:?}",
            outcome.reason
        );
        let io = |k: std::io::ErrorKind| std::io::Error::from(k);
        assert!(family_unusable(&io(std::io::ErrorKind::NetworkUnreachable)));
        assert!(!family_unusable(&io(std::io::ErrorKind::ConnectionRefused)));
    }

    fn hops(base_public: bool, resolve: &HashMap<String, Vec<IpAddr>>) -> Hops<'_> {
        Hops {
            base_public,
            resolve,
            timeout: Duration::from_secs(5),
        }
    }

    fn test_client(resolve: &BTreeMap<String, Vec<IpAddr>>) -> Client {
        let o = ClientOptions {
            user_agent: "t",
            timeout: Duration::from_secs(5),
            idle_per_host: 1,
            extra_roots: &[],
            resolve,
        };
        client(&o, None).unwrap()
    }

    /// A mirror on a public address redirecting to loopback (directly, or through a name
    /// that resolves there) is unhealthy with the reason, and the loopback server never
    /// hears from sentry; a mirror that is itself on a non-public address may redirect
    /// within it. (Every fake listens on loopback, so "public" is the decision's input
    /// here: `address` decides it for real addresses, tested there.)
    #[tokio::test]
    async fn a_public_mirror_cannot_redirect_sentry_into_its_own_network() {
        use bouncer_test_support::fake_mirror::{Behaviour, FakeMirror};
        let inside = FakeMirror::start(1, Behaviour::Healthy).await;
        let mirror = FakeMirror::start(71, Behaviour::RedirectTo).await;
        let pinned: BTreeMap<String, Vec<IpAddr>> =
            [("inside.test".to_owned(), vec!["127.0.0.1".parse().unwrap()])].into();
        let pins: HashMap<String, Vec<IpAddr>> = pinned.clone().into_iter().collect();
        let c = test_client(&pinned);
        let url = Url::parse(&format!("{}f.bin", mirror.base_url())).unwrap();
        for to in [
            inside.base_url(),
            format!("http://inside.test:{}/", inside.port()),
            format!("http://localhost:{}/", inside.port()),
        ] {
            mirror.redirect_to(&to);
            let (outcome, seen) = head(&c, url.clone(), None, &hops(true, &pins)).await;
            assert_eq!(outcome.class, Class::Unhealthy, "{to}");
            assert!(
                matches!(outcome.reason, Reason::RedirectNonPublic(ip) if ip.is_loopback()),
                "{to}: {:?}",
                outcome.reason
            );
            assert!(outcome
                .reason
                .to_string()
                .starts_with("redirect to a non-public address: "));
            assert_eq!(seen, Observed::default());
            let sampled = range(&c, url.clone(), 0, 10, &hops(true, &pins)).await;
            assert!(matches!(sampled, Err(Reason::RedirectNonPublic(_))), "{to}");
        }
        assert!(inside.requests().is_empty(), "{:?}", inside.requests());
        // A mirror on a non-public address (an intranet mirror) may redirect within it.
        mirror.redirect_to(&inside.base_url());
        let (outcome, _) = head(&c, url, None, &hops(false, &pins)).await;
        assert_eq!(outcome.class, Class::Healthy, "{:?}", outcome.reason);
        assert_eq!(inside.requests(), ["HEAD /f.bin"]);
        assert_eq!(
            Reason::RedirectNonPublic("127.0.0.1".parse().unwrap()).kind(),
            "redirect_non_public"
        );
    }

    /// A known size holds a healthy answer to it: no `Content-Length`, one that is no
    /// size, or a chunked answer is `size unknown` (it passed as healthy before); without
    /// a known size nothing changes.
    #[test]
    fn a_known_size_needs_a_stated_one() {
        let ok = || classify(200, None);
        let size = |cl: &[&str], te| declared_size(cl.iter().copied(), te);
        assert_eq!(size(&["4096"], None), Ok(4096));
        assert_eq!(size(&[" 4096 "], None), Ok(4096));
        assert_eq!(size(&["4096", "4096"], None), Ok(4096));
        assert_eq!(size(&[], None), Err("no Content-Length".into()));
        assert_eq!(
            size(&["12kB"], None),
            Err("invalid Content-Length \"12kB\"".into())
        );
        assert_eq!(
            size(&["18446744073709551615"], None),
            Err("invalid Content-Length \"18446744073709551615\"".into())
        );
        assert!(size(&["-1"], None).is_err());
        assert!(size(&[""], None).is_err());
        assert!(size(&["4096", "4097"], None).is_err());
        assert!(size(&["4096, 4097"], None).is_err());
        assert_eq!(
            size(&["4096"], Some("chunked")),
            Err("Transfer-Encoding \"chunked\", no Content-Length".into())
        );
        assert_eq!(held_to_size(ok(), Ok(4096), Some(4096)), ok());
        assert_eq!(
            held_to_size(ok(), Ok(77), Some(4096)),
            Outcome::unhealthy(Reason::SizeMismatch(77, 4096))
        );
        let unknown = held_to_size(ok(), size(&[], None), Some(4096));
        assert_eq!(unknown.class, Class::Unhealthy);
        assert_eq!(
            unknown.reason.to_string(),
            "size unknown: no Content-Length"
        );
        assert_eq!(unknown.reason.kind(), "size_unknown");
        assert_eq!(held_to_size(ok(), size(&[], None), None), ok());
        let missing = classify(404, None);
        assert_eq!(
            held_to_size(missing.clone(), size(&[], None), Some(1)),
            missing
        );
    }

    #[test]
    fn reasons_read_well_and_have_metric_kinds() {
        assert_eq!(
            Reason::NoAddress(Family::V6).to_string(),
            "no IPv6 address (AAAA)"
        );
        assert_eq!(
            Reason::NoAddress(Family::V4).to_string(),
            "no IPv4 address (A)"
        );
        assert_eq!(Reason::Status(500).to_string(), "HTTP 500");
        assert_eq!(Reason::Status(503).kind(), "http_5xx");
        assert_eq!(
            Reason::Dns("x.invalid".into()).to_string(),
            "DNS failed: x.invalid"
        );
    }
}
