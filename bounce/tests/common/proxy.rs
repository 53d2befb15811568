//! A TCP forwarder to MariaDB that a test can cut and restart: a database "going away"
//! under a running service, without touching the shared server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP forwarder to MariaDB that can be cut (listener and every connection) and
/// restarted on the same port.
pub struct Proxy {
    pub port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    hung: Arc<AtomicBool>,
}

impl Proxy {
    pub async fn start(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let inner = Arc::clone(&tasks);
        let hung = Arc::new(AtomicBool::new(false));
        let hang = Arc::clone(&hung);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let hang = hang.load(Ordering::SeqCst);
                let conn = tokio::spawn(async move {
                    if hang {
                        // Accepted, never answered: what a hung server looks like.
                        std::future::pending::<()>().await;
                    }
                    if let Ok(mut server) = TcpStream::connect("127.0.0.1:3306").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                inner.lock().unwrap().push(conn);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { port, tasks, hung }
    }

    /// The server hangs: open connections go silent (closed here, as a stalled server's
    /// would time out), new ones are accepted and never answered.
    pub fn hang(&self) {
        self.hung.store(true, Ordering::SeqCst);
        let mut tasks = self.tasks.lock().unwrap();
        let accept = tasks.remove(0);
        for t in tasks.drain(..) {
            t.abort();
        }
        tasks.push(accept);
    }

    pub fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}
