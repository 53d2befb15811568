//! Where passwords are checked: a few threads of their own, fed through a bounded queue.
//!
//! An argon2id verification takes 19 MiB of working memory for tens of milliseconds, and
//! every Basic-authenticated request needs one — an unknown user's too (against a dummy
//! hash, so timing does not reveal accounts). Run on the blocking pool, a flood of wrong
//! logins ran as many at once as it sent (hundreds of threads, gigabytes of memory the
//! allocator kept), and each held a master connection while it hashed, so legitimate
//! writes timed out waiting for one. Here at most `tuxedo.login_workers` verifications run
//! at once, on threads that keep reusing their own memory, and never with a connection
//! held (the account is looked up first); past `tuxedo.login_queue` waiting checks a login
//! is refused at once with 503, costing nothing. A caller that gave up (its deadline
//! passed) is skipped, not hashed for. Credentials that passed a check are remembered for
//! a minute ([`Remembered`]: a keyed hash of them, never the password), so release
//! automation, which sends Basic credentials with every call, is not queued behind a flood.

use crate::error::{Result, TuxedoError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

type Job = Box<dyn FnOnce() + Send>;

/// The pool; cheap to share.
pub struct Checker {
    queue: mpsc::SyncSender<Job>,
    running: Arc<AtomicUsize>,
    /// The most verifications seen running at once (for the metrics and tests).
    pub peak: Arc<AtomicUsize>,
}

impl Checker {
    /// `workers` threads (at least 1), at most `queue` checks waiting.
    pub fn new(workers: usize, queue: usize) -> Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Job>(queue);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        for i in 0..workers.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("login-check-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .map_err(|e| TuxedoError::Internal(format!("login checker: {e}")))?;
        }
        Ok(Self {
            queue: tx,
            running: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Runs `check` on a checker thread and returns its result; `Busy` at once when the
    /// queue is full.
    pub async fn run<T, F>(&self, check: F) -> Result<T>
    where
        F: FnOnce() -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (running, peak) = (Arc::clone(&self.running), Arc::clone(&self.peak));
        let job: Job = Box::new(move || {
            if tx.is_closed() {
                return; // the caller is gone: no hash for nobody
            }
            let now = running.fetch_add(1, Ordering::AcqRel) + 1;
            peak.fetch_max(now, Ordering::AcqRel);
            let out = check();
            running.fetch_sub(1, Ordering::AcqRel);
            let _ = tx.send(out);
        });
        self.queue.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => {
                TuxedoError::Busy("too many logins being checked; retry in a second".into())
            }
            mpsc::TrySendError::Disconnected(_) => {
                TuxedoError::Internal("login checker stopped".into())
            }
        })?;
        rx.await
            .map_err(|_| TuxedoError::Internal("login check dropped".into()))?
    }
}

/// Credentials that passed a check lately, as a keyed SHA-256 of `username:password` (the
/// key is random per process, so the table tells nothing), with the account's password
/// stamp then: a later call with the same credentials is accepted without argon2 while the
/// account still has that password. Bounded: at most [`Remembered::CAP`] entries, expired
/// after [`Remembered::TTL`].
pub struct Remembered {
    key: [u8; 32],
    seen: std::sync::Mutex<std::collections::HashMap<[u8; 32], (String, std::time::Instant)>>,
}

impl Remembered {
    const TTL: std::time::Duration = std::time::Duration::from_secs(60);
    const CAP: usize = 1024;

    pub fn new() -> Self {
        use rand::RngExt;
        Self {
            key: rand::rng().random(),
            seen: Default::default(),
        }
    }

    fn digest(&self, user: &str, password: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Whether these credentials passed a check lately for the password of `stamp`.
    pub fn knows(&self, user: &str, password: &str, stamp: &str) -> bool {
        let d = self.digest(user, password);
        self.seen.lock().is_ok_and(|m| {
            m.get(&d)
                .is_some_and(|(s, at)| s == stamp && at.elapsed() < Self::TTL)
        })
    }

    /// Remembers credentials that just passed a check.
    pub fn learn(&self, user: &str, password: &str, stamp: String) {
        let d = self.digest(user, password);
        if let Ok(mut m) = self.seen.lock() {
            if m.len() >= Self::CAP {
                m.retain(|_, (_, at)| at.elapsed() < Self::TTL);
            }
            if m.len() < Self::CAP {
                m.insert(d, (stamp, std::time::Instant::now()));
            }
        }
    }
}

impl Default for Remembered {
    fn default() -> Self {
        Self::new()
    }
}
