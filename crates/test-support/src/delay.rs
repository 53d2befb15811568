//! A TCP forwarder that adds latency (this kernel has no `netem`): each connection is
//! opened upstream after one round trip's delay, and every chunk is held half of it each
//! way — what a path that much longer looks like to a probe timing its answers.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards `listen` to `upstream` with `rtt` added; stops when dropped.
pub struct DelayProxy {
    pub addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl DelayProxy {
    pub async fn start(listen: SocketAddr, upstream: SocketAddr, rtt: Duration) -> Self {
        let listener = TcpListener::bind(listen)
            .await
            .expect("bind the delaying proxy");
        let addr = listener.local_addr().expect("local addr");
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    tokio::time::sleep(rtt).await;
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(pump(cr, sw, rtt / 2), pump(sr, cw, rtt / 2));
                });
            }
        });
        Self { addr, accept }
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, one_way: Duration) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        tokio::time::sleep(one_way).await;
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
