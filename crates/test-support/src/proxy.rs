//! A TCP forwarder to the MariaDB test server that a test can break in the ways a database
//! breaks under a running service, without touching the shared server: cut (connections
//! reset), hung (new connections accepted and never answered) and frozen (established
//! connections go silent and stay open, as a stalled server's do; thawed, they carry on
//! with nothing lost) — at once, or when the client sends a given statement, to stall a
//! write in the middle of its transaction.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the forwarder sends to: the host and port of `BOUNCER_TEST_MYSQL_URL`.
pub fn mysql_server_addr() -> String {
    let url = crate::db::mysql_server_url();
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    host.split('/').next().unwrap_or(host).to_owned()
}

/// A forwarder on `127.0.0.1:port`; see the module docs.
pub struct Proxy {
    pub port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    hung: watch::Sender<bool>,
    frozen: Arc<watch::Sender<bool>>,
    trigger: Trigger,
}

/// Bytes that freeze the proxy when a client sends them (see [`Proxy::freeze_on`]).
type Trigger = Arc<Mutex<Option<Vec<u8>>>>;

impl Proxy {
    /// Starts forwarding on `port` (0 = any free port) to the MariaDB test server.
    pub async fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = mysql_server_addr();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (hung, hung_rx) = watch::channel(false);
        let (frozen, frozen_rx) = watch::channel(false);
        let frozen = Arc::new(frozen);
        let trigger: Trigger = Arc::default();
        let inner = Arc::clone(&tasks);
        let (freezer, armed) = (Arc::clone(&frozen), Arc::clone(&trigger));
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let hang = *hung_rx.borrow();
                let (upstream, frozen) = (upstream.clone(), frozen_rx.clone());
                let up = Some((Arc::clone(&armed), Arc::clone(&freezer)));
                let conn = tokio::spawn(async move {
                    if hang {
                        // Accepted, never answered: what a hung server looks like.
                        let _open = client;
                        std::future::pending::<()>().await;
                    } else if let Ok(server) = TcpStream::connect(&upstream).await {
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        tokio::join!(pump(cr, sw, frozen.clone(), up), pump(sr, cw, frozen, None));
                    }
                });
                inner.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self {
            port,
            tasks,
            hung,
            frozen,
            trigger,
        }
    }

    /// The server hangs: open connections are closed (as a stalled server's would time
    /// out), new ones are accepted and never answered.
    pub fn hang(&self) {
        self.hung.send_replace(true);
        let mut tasks = self.tasks.lock().unwrap();
        let accept = tasks.remove(0);
        for t in tasks.drain(..) {
            t.abort();
        }
        tasks.push(accept);
    }

    /// The server stalls: nothing more is forwarded either way, every connection stays
    /// open; what is sent meanwhile is held and delivered on [`Proxy::thaw`].
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Freezes (as [`Proxy::freeze`]) when a client next sends `needle`, before the server
    /// sees it: `b"INSERT INTO \`mirror_products\`"` stalls a write after its
    /// transaction began.
    pub fn freeze_on(&self, needle: &[u8]) {
        *self.trigger.lock().unwrap() = Some(needle.to_vec());
    }

    /// Whether the proxy is frozen now (a [`Proxy::freeze_on`] trigger fired).
    pub fn is_frozen(&self) -> bool {
        *self.frozen.borrow()
    }

    /// Ends a [`Proxy::freeze`]: held bytes are delivered and forwarding resumes.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }

    /// The server goes away: the listener and every connection are closed.
    pub fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

/// Copies `from` to `to`, holding each chunk while the proxy is frozen; on the client's
/// side, `trigger` freezes the proxy when a chunk holds its bytes.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
    trigger: Option<(Trigger, Arc<watch::Sender<bool>>)>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some((armed, freezer)) = &trigger {
            let mut armed = armed.lock().unwrap();
            let hit = armed
                .as_deref()
                .is_some_and(|needle| buf[..n].windows(needle.len()).any(|w| w == needle));
            if hit {
                *armed = None;
                freezer.send_replace(true);
            }
        }
        if frozen.wait_for(|f| !*f).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
