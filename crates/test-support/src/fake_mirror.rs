//! Fake mirrors: plain tokio TCP servers on 127.0.0.x ports (or `::1`, or both at one port)
//! that answer HTTP/1.1 the way real mirrors misbehave (errors, soft 404s, redirect loops,
//! hanging, trickling bytes).
//! Shared by sentry's and bounce's integration tests and sentry's benchmark example.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// How a fake mirror answers. "Files" are every path except `/` (the base URL), which
/// answers 200 unless the behaviour concerns the whole server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Behaviour {
    Healthy,
    NotFound,
    Forbidden,
    ServerError,
    /// 200 `text/html` for files.
    SoftNotFound,
    /// Files redirect once to `/real/...`, which answers 200.
    Redirect,
    /// Files redirect forever.
    RedirectLoop,
    /// Files answer after a long sleep.
    Slow,
    /// Files get a complete header block, then the connection stays open without a body.
    HangAfterHeaders,
    /// Files get their headers one byte at a time, slower than any timeout.
    Trickle,
    /// Every request, the base URL included, is read and never answered.
    Hang,
    /// Every request, the base URL included, answers 500.
    Down,
    /// Files answer 200 without a `Content-Length` (and close the connection).
    NoContentLength,
    /// Files answer 200 with `Content-Length: 18446744073709551615`.
    HugeContentLength,
    /// Files answer 200 with `Content-Length: 12kB`.
    BadContentLength,
    /// Files answer 200 with `Transfer-Encoding: chunked` (an empty chunked body on GET).
    Chunked,
    /// Files redirect to the same path under the URL set by [`FakeMirror::redirect_to`].
    RedirectTo,
}

impl Behaviour {
    fn from_u8(v: u8) -> Self {
        use Behaviour::*;
        [
            Healthy,
            NotFound,
            Forbidden,
            ServerError,
            SoftNotFound,
            Redirect,
            RedirectLoop,
            Slow,
            HangAfterHeaders,
            Trickle,
            Hang,
            Down,
            NoContentLength,
            HugeContentLength,
            BadContentLength,
            Chunked,
            RedirectTo,
        ]
        .get(usize::from(v))
        .copied()
        .unwrap_or(Healthy)
    }
}

/// What a fake mirror talks over: plain TCP or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A running fake mirror; its behaviour can be switched between runs.
#[derive(Clone)]
pub struct FakeMirror {
    pub addr: SocketAddr,
    behaviour: Arc<AtomicU8>,
    /// `"METHOD path"` of every request received.
    pub requests: Arc<Mutex<Vec<String>>>,
    pub count: Arc<AtomicU64>,
    record: bool,
    /// Paths answered 404 whatever the behaviour: files not there yet.
    missing: Arc<Mutex<std::collections::HashSet<String>>>,
    /// Paths served with real bytes (HEAD: their length; GET: the bytes, ranges honoured).
    content: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    /// Where [`Behaviour::RedirectTo`] sends files (a base URL).
    redirect: Arc<Mutex<String>>,
    /// The `ETag` of files with real bytes (default `"e<length>"`).
    etag: Arc<Mutex<Option<String>>>,
}

impl FakeMirror {
    /// Starts a fake mirror on `127.0.0.<host>`, port chosen by the OS.
    pub async fn start(host: u8, behaviour: Behaviour) -> Self {
        Self::start_with(host, behaviour, true).await
    }

    /// Same, without keeping the request list (for the benchmark).
    pub async fn start_with(host: u8, behaviour: Behaviour, record: bool) -> Self {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, host));
        Self::start_on_with(ip, behaviour, record).await
    }

    /// Starts a fake mirror on `ip` (`::1` for an IPv6-only one), port chosen by the OS.
    pub async fn start_on(ip: IpAddr, behaviour: Behaviour) -> Self {
        Self::start_on_with(ip, behaviour, true).await
    }

    /// Same, without keeping the request list when `record` is false (for the benchmark).
    pub async fn start_on_with(ip: IpAddr, behaviour: Behaviour, record: bool) -> Self {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind fake mirror");
        Self::serve_on(vec![listener], behaviour, record)
    }

    /// Starts one fake mirror listening on both `127.0.0.1` and `::1` at the same port (a
    /// dual-stack host: `addr` is the IPv4 side, [`FakeMirror::port`] the shared port).
    pub async fn start_dual(behaviour: Behaviour) -> Self {
        Self::start_dual_with(behaviour, true).await
    }

    /// Same, without keeping the request list when `record` is false (for the benchmark).
    pub async fn start_dual_with(behaviour: Behaviour, record: bool) -> Self {
        let (v4, v6) = dual_listeners(IpAddr::V6(Ipv6Addr::LOCALHOST)).await;
        Self::serve_on(vec![v4, v6], behaviour, record)
    }

    /// Two fake mirrors at the same port, one on `127.0.0.1` and one on `::1`, each with a
    /// behaviour of its own: a dual-stack host whose families can fail apart.
    pub async fn start_pair(v4: Behaviour, v6: Behaviour) -> (Self, Self) {
        let (l4, l6) = dual_listeners(IpAddr::V6(Ipv6Addr::LOCALHOST)).await;
        (
            Self::serve_on(vec![l4], v4, true),
            Self::serve_on(vec![l6], v6, true),
        )
    }

    /// A dual-stack host whose IPv6 side is down: a fake mirror on `127.0.0.1` and, at the
    /// same port of `::1`, a socket that is bound but never listens (connections refused),
    /// held as long as the returned guard lives.
    pub async fn start_v4_refusing_v6(behaviour: Behaviour) -> (Self, tokio::net::TcpSocket) {
        for _ in 0..64 {
            let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .expect("bind fake mirror on 127.0.0.1");
            let port = v4.local_addr().expect("local addr").port();
            match bound_not_listening(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port)) {
                Ok(guard) => return (Self::serve_on(vec![v4], behaviour, true), guard),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => panic!("bind [::1]:{port}: {e}"),
            }
        }
        panic!("no port free on both 127.0.0.1 and ::1 after 64 tries");
    }

    /// One mirror listening on each of `ips` at one port (the first takes a free port, the
    /// others bind the same one): reachable only where one of those addresses is.
    pub async fn start_on_each(ips: &[IpAddr], behaviour: Behaviour) -> Self {
        let first = TcpListener::bind((ips[0], 0))
            .await
            .expect("bind fake mirror");
        let port = first.local_addr().expect("local addr").port();
        let mut listeners = vec![first];
        for ip in &ips[1..] {
            let l = TcpListener::bind((*ip, port))
                .await
                .expect("bind the same port");
            listeners.push(l);
        }
        Self::serve_on(listeners, behaviour, true)
    }

    /// One mirror (one state) behind every listener.
    fn serve_on(listeners: Vec<TcpListener>, behaviour: Behaviour, record: bool) -> Self {
        let mirror = Self {
            addr: listeners[0].local_addr().expect("local addr"),
            behaviour: Arc::new(AtomicU8::new(behaviour as u8)),
            requests: Arc::default(),
            count: Arc::default(),
            record,
            missing: Arc::default(),
            content: Arc::default(),
            redirect: Arc::default(),
            etag: Arc::default(),
        };
        for listener in listeners {
            let m = mirror.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(m.clone().serve(stream));
                }
            });
        }
        mirror
    }

    /// The port the mirror listens on (the same on every address of a dual-stack one).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Starts a fake mirror that speaks HTTPS on `127.0.0.<host>`, with a self-signed
    /// certificate for that address; returns it and the certificate (PEM), which a client
    /// must trust (`sentry.ca_file`).
    pub async fn start_tls(host: u8, behaviour: Behaviour) -> (Self, String) {
        use tokio_rustls::rustls;
        let ip = Ipv4Addr::new(127, 0, 0, host);
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec![ip.to_string()]).expect("certificate");
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(key_pair.serialize_der());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key.into())
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind((IpAddr::V4(ip), 0))
            .await
            .expect("bind fake mirror");
        let mirror = Self {
            addr: listener.local_addr().expect("local addr"),
            behaviour: Arc::new(AtomicU8::new(behaviour as u8)),
            requests: Arc::default(),
            count: Arc::default(),
            record: true,
            missing: Arc::default(),
            content: Arc::default(),
            redirect: Arc::default(),
            etag: Arc::default(),
        };
        let m = mirror.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let (m, acceptor) = (m.clone(), acceptor.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        m.serve(tls).await;
                    }
                });
            }
        });
        (mirror, cert.pem())
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn set(&self, b: Behaviour) {
        self.behaviour.store(b as u8, Ordering::SeqCst);
    }

    /// `path` answers 404 (`there = false`) or as the behaviour says (`true`).
    pub fn file(&self, path: &str, there: bool) {
        let mut missing = self.missing.lock().expect("missing");
        match there {
            true => missing.remove(path),
            false => missing.insert(path.to_owned()),
        };
    }

    /// `path` is served with these bytes (when the behaviour is `Healthy`).
    pub fn serve_file(&self, path: &str, bytes: &[u8]) {
        let mut content = self.content.lock().expect("content");
        content.insert(path.to_owned(), bytes.to_vec());
    }

    /// The `ETag` files with real bytes are served with (two origins that disagree).
    pub fn set_etag(&self, etag: &str) {
        *self.etag.lock().expect("etag") = Some(etag.to_owned());
    }

    /// Where files redirect under [`Behaviour::RedirectTo`]: `base` + the path.
    pub fn redirect_to(&self, base: &str) {
        *self.redirect.lock().expect("redirect") = base.trim_end_matches('/').to_owned();
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }

    async fn serve<S: Stream>(self, mut stream: S) {
        let mut buf = Vec::with_capacity(1024);
        loop {
            let Some((method, path, range)) = read_head(&mut stream, &mut buf).await else {
                return;
            };
            self.count.fetch_add(1, Ordering::Relaxed);
            if self.record {
                self.requests
                    .lock()
                    .expect("requests")
                    .push(format!("{method} {path}"));
            }
            let mut b = Behaviour::from_u8(self.behaviour.load(Ordering::SeqCst));
            if self.missing.lock().expect("missing").contains(&path) {
                b = Behaviour::NotFound;
            }
            let file = self.content.lock().expect("content").get(&path).cloned();
            if let (Behaviour::Healthy, Some(bytes)) = (b, file) {
                let etag = self.etag.lock().expect("etag").clone();
                let etag = etag.unwrap_or_else(|| format!("\"e{}\"", bytes.len()));
                if !serve_bytes(&mut stream, &method, &bytes, range, &etag).await {
                    return;
                }
                continue;
            }
            if !self.answer(&mut stream, b, &path).await {
                return;
            }
        }
    }

    /// Writes one answer; `false` ends the connection.
    async fn answer<S: Stream>(&self, s: &mut S, b: Behaviour, path: &str) -> bool {
        use Behaviour::*;
        let base = path == "/";
        match b {
            Hang => return hang(s).await,
            Down => return respond(s, 500, "text/plain", None).await,
            _ if base => return respond(s, 200, "text/html", None).await,
            _ => {}
        }
        match b {
            Healthy => respond(s, 200, "application/octet-stream", None).await,
            NotFound => respond(s, 404, "text/html", None).await,
            Forbidden => respond(s, 403, "text/html", None).await,
            ServerError => respond(s, 500, "text/html", None).await,
            SoftNotFound => respond(s, 200, "text/html; charset=utf-8", None).await,
            Redirect if path.starts_with("/real/") => {
                respond(s, 200, "application/x-apple-diskimage", None).await
            }
            Redirect => respond(s, 302, "text/html", Some(&format!("/real{path}"))).await,
            RedirectLoop => respond(s, 302, "text/html", Some(&format!("{path}x"))).await,
            RedirectTo => {
                let to = format!("{}{path}", self.redirect.lock().expect("redirect"));
                respond(s, 302, "text/html", Some(&to)).await
            }
            NoContentLength => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                            Connection: close\r\n\r\n";
                let _ = s.write_all(head.as_bytes()).await;
                false
            }
            HugeContentLength => raw_length(s, "Content-Length: 18446744073709551615").await,
            BadContentLength => raw_length(s, "Content-Length: 12kB").await,
            Chunked => raw_length(s, "Transfer-Encoding: chunked").await,
            Slow => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                respond(s, 200, "application/octet-stream", None).await
            }
            HangAfterHeaders => {
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                            Content-Length: 50000000\r\nConnection: close\r\n\r\n";
                let _ = s.write_all(head.as_bytes()).await;
                hang(s).await
            }
            Trickle => {
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" {
                    if s.write_all(&[*byte]).await.is_err() {
                        return false;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                hang(s).await
            }
            Hang | Down => false,
        }
    }
}

/// A `Range: bytes=a-b` of a request.
type Range = Option<(usize, usize)>;

/// Reads one request head; `None` at end of stream.
async fn read_head<S: Stream>(s: &mut S, buf: &mut Vec<u8>) -> Option<(String, String, Range)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            let mut lines = head.lines();
            let mut parts = lines.next()?.split_whitespace();
            let range = lines
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("range"))
                .and_then(|(_, v)| {
                    let (a, b) = v.trim().strip_prefix("bytes=")?.split_once('-')?;
                    // `bytes=a-` (to the end) as download managers send it.
                    let b = if b.trim().is_empty() {
                        usize::MAX
                    } else {
                        b.trim().parse().ok()?
                    };
                    Some((a.trim().parse().ok()?, b))
                });
            return Some((parts.next()?.to_owned(), parts.next()?.to_owned(), range));
        }
        let mut chunk = [0u8; 1024];
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn respond<S: Stream>(s: &mut S, status: u16, ctype: &str, location: Option<&str>) -> bool {
    let location = location.map_or(String::new(), |l| format!("Location: {l}\r\n"));
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: 1048576\r\n{location}\r\n"
    );
    s.write_all(head.as_bytes()).await.is_ok()
}

/// A 200 whose length header is `line` (HEAD only: no body follows, whatever it says);
/// the connection is closed after it.
async fn raw_length<S: Stream>(s: &mut S, line: &str) -> bool {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n{line}\r\nConnection: close\r\n\r\n"
    );
    let _ = s.write_all(head.as_bytes()).await;
    false
}

/// A file with real bytes: HEAD gives its length, GET the bytes (a range as 206).
async fn serve_bytes<S: Stream>(
    s: &mut S,
    method: &str,
    bytes: &[u8],
    range: Range,
    etag: &str,
) -> bool {
    let (status, body, extra) = match range {
        Some((a, b)) if a < bytes.len() => {
            let b = b.min(bytes.len() - 1);
            let extra = format!("Content-Range: bytes {a}-{b}/{}\r\n", bytes.len());
            (206, &bytes[a..=b], extra)
        }
        _ => (200, bytes, String::new()),
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nETag: {etag}\r\n{extra}\r\n",
        body.len(),
    );
    if s.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    method == "HEAD" || s.write_all(body).await.is_ok()
}

/// Keeps the connection open without answering, until the client gives up.
async fn hang<S: Stream>(s: &mut S) -> bool {
    let mut sink = [0u8; 256];
    while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
    false
}

/// An address on which nothing listens: connections are refused.
pub async fn refused_addr(host: u8) -> SocketAddr {
    let l = TcpListener::bind((Ipv4Addr::new(127, 0, 0, host), 0))
        .await
        .expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    addr
}

/// A listener on `127.0.0.1` and one on `other` (e.g. `::1`) at the same port: the first
/// takes a port from the OS, the second binds that port; when it is taken there, both are
/// dropped and the pair is tried again with another port.
async fn dual_listeners(other: IpAddr) -> (TcpListener, TcpListener) {
    for _ in 0..64 {
        let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind fake mirror on 127.0.0.1");
        let port = v4.local_addr().expect("local addr").port();
        match TcpListener::bind((other, port)).await {
            Ok(v6) => return (v4, v6),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("bind fake mirror on [{other}]:{port}: {e}"),
        }
    }
    panic!("no port free on both 127.0.0.1 and {other} after 64 tries");
}

/// A socket bound to `addr` that never listens: connections there are refused, and no
/// other test can take the port while it is held.
fn bound_not_listening(addr: SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.bind(addr)?;
    Ok(socket)
}
