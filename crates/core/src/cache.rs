//! The shared memcached tier, as every service uses it.
//!
//! The `memcache` crate's defaults do not fit a redirector: a dead server blocks a call for
//! 30 s, every pooled call pays a `version` round trip, and keys are spread by hash modulo
//! server count (adding a server moves ~2/3 of keys). Here each server gets its own pool
//! with no check-out test and short socket and pool timeouts; keys go to servers by
//! rendezvous hashing (adding a server moves ~1/n of keys); any error is a miss and opens a
//! short circuit breaker for that server.

use crate::config::MemcachedConfig;
use crate::hash::{mix64, stable_hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Counters a service can export as metrics.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub errors: AtomicU64,
    /// Calls answered as misses without I/O because the server's breaker was open.
    pub skipped: AtomicU64,
    /// Values not stored because they exceed memcached's item size limit.
    pub too_large: AtomicU64,
}

/// memcached's default item size limit (1 MiB) less room for the key and header.
const MAX_ITEM_BYTES: usize = 1024 * 1024 - 1024;

struct Server {
    addr: String,
    seed: u64,
    /// Replaced by a fresh client (empty pool) after an I/O failure: the pool has no way
    /// to tell a connection whose server died, so its connections are dropped wholesale.
    client: RwLock<Arc<memcache::Client>>,
    timeout: Duration,
    /// Milliseconds since `Memcached::epoch` before which the server is skipped.
    down_until_ms: AtomicU64,
}

/// A set of memcached servers behind one key prefix.
pub struct Memcached {
    servers: Vec<Server>,
    prefix: String,
    ttl: u32,
    retry_after: Duration,
    epoch: Instant,
    pub stats: CacheStats,
}

impl Memcached {
    /// Clients for the configured servers; `None` when none are configured. No connection
    /// is opened here: a server that is down at start is simply missed until it is up.
    pub fn from_config(config: &MemcachedConfig) -> Option<Self> {
        if config.servers.is_empty() {
            return None;
        }
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let servers = config
            .servers
            .iter()
            .filter_map(|s| {
                let addr = s.trim_start_matches("memcache://").to_owned();
                match client(&addr, timeout) {
                    Ok(client) => Some(Server {
                        seed: stable_hash(&[addr.as_bytes()]),
                        addr,
                        client: RwLock::new(Arc::new(client)),
                        timeout,
                        down_until_ms: AtomicU64::new(0),
                    }),
                    Err(e) => {
                        tracing::error!(server = %addr, error = %e, "memcached server skipped");
                        None
                    }
                }
            })
            .collect::<Vec<_>>();
        (!servers.is_empty()).then(|| Self {
            servers,
            prefix: config.prefix.clone(),
            ttl: config.ttl_secs,
            retry_after: Duration::from_millis(config.retry_after_ms),
            epoch: Instant::now(),
            stats: CacheStats::default(),
        })
    }

    /// `prefix:kind:` followed by a hash of `parts`: always a valid memcached key (short,
    /// no spaces), whatever the parts hold. Callers store the parts in the value and check
    /// them on read, so a hash collision is a miss, never a wrong answer.
    pub fn key(&self, kind: &str, parts: &[&[u8]]) -> String {
        format!("{}:{kind}:{:016x}", self.prefix, stable_hash(parts))
    }

    /// A fixed key under the prefix (for small well-known names).
    pub fn named_key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// The value at `key`; any error is a miss.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let server = self.server_for(key)?;
        match server.client().get::<Vec<u8>>(key) {
            Ok(Some(v)) => {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                Some(v)
            }
            Ok(None) => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(e) => {
                self.fail(server, &e);
                None
            }
        }
    }

    /// Stores `value` for the configured lifetime; failures are logged and ignored.
    pub fn set(&self, key: &str, value: &[u8]) {
        self.set_for(key, value, self.ttl);
    }

    /// Stores `value` for `ttl` seconds (0 = no expiry). Values over memcached's item
    /// limit are not sent (the caller just fills from the database next time).
    pub fn set_for(&self, key: &str, value: &[u8], ttl: u32) {
        if value.len() > MAX_ITEM_BYTES {
            self.stats.too_large.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Some(server) = self.server_for(key) {
            if let Err(e) = server.client().set(key, value, ttl) {
                self.fail(server, &e);
            }
        }
    }

    /// Server addresses whose breaker is open now (for heartbeats).
    pub fn down_servers(&self) -> Vec<String> {
        let now = self.now_ms();
        self.servers
            .iter()
            .filter(|s| s.down_until_ms.load(Ordering::Relaxed) > now)
            .map(|s| s.addr.clone())
            .collect()
    }

    /// Asks every server for its version, bypassing breakers; the failures by address.
    pub fn probe(&self) -> Vec<(String, String)> {
        self.servers
            .iter()
            .filter_map(|s| match s.client().version() {
                Ok(_) => {
                    s.down_until_ms.store(0, Ordering::Relaxed);
                    None
                }
                Err(e) => {
                    s.renew();
                    Some((s.addr.clone(), e.to_string()))
                }
            })
            .collect()
    }

    /// The server that owns `key` (highest rendezvous score), unless its breaker is open.
    fn server_for(&self, key: &str) -> Option<&Server> {
        let h = stable_hash(&[key.as_bytes()]);
        let server = self.servers.iter().max_by_key(|s| mix64(h ^ s.seed))?;
        if server.down_until_ms.load(Ordering::Relaxed) > self.now_ms() {
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(server)
    }

    fn fail(&self, server: &Server, error: &memcache::MemcacheError) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        // Only a server that cannot be reached is taken out; an answer that is an error
        // (say, a refused item) proves the server is up.
        // A pool timeout with no connection error behind it only means every pooled
        // connection was busy (load, not failure): no breaker for that either.
        let unreachable = match error {
            memcache::MemcacheError::IOError(_) => true,
            memcache::MemcacheError::PoolError(e) => e.to_string().contains(": "),
            _ => false,
        };
        if !unreachable {
            tracing::debug!(server = %server.addr, %error, "memcached refused a call");
            return;
        }
        server.renew();
        let until = self.now_ms() + self.retry_after.as_millis() as u64;
        let was = server.down_until_ms.swap(until, Ordering::Relaxed);
        if was <= self.now_ms() {
            tracing::warn!(server = %server.addr, %error, retry_after_ms = self.retry_after.as_millis() as u64, "memcached call failed; server skipped for a while");
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Index of the server that owns `key`, ignoring breakers (for tests of the spread).
    pub fn owner_index(&self, key: &str) -> usize {
        let h = stable_hash(&[key.as_bytes()]);
        (0..self.servers.len())
            .max_by_key(|&i| mix64(h ^ self.servers[i].seed))
            .unwrap_or(0)
    }
}

impl Server {
    fn client(&self) -> Arc<memcache::Client> {
        match self.client.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Drops the pool (and every connection in it) for a fresh one.
    fn renew(&self) {
        if let Ok(fresh) = client(&self.addr, self.timeout) {
            if let Ok(mut slot) = self.client.write() {
                *slot = Arc::new(fresh);
            }
        }
    }
}

/// One server's client: its own pool, no check-out `version` test, bounded waits.
fn client(addr: &str, timeout: Duration) -> Result<memcache::Client, memcache::MemcacheError> {
    let url = memcache::Url::parse(&format!(
        "memcache://{addr}?timeout={}&tcp_nodelay=true",
        timeout.as_secs_f64()
    ))
    .map_err(|e| memcache::MemcacheError::BadURL(e.to_string()))?;
    // The pool wait is the call's deadline too: r2d2 keeps retrying a connect to a dead
    // server until it runs out, so any floor here would be what a dead server costs per
    // call. A wait that ran out on a busy pool is a miss, not a breaker (see `fail`).
    let pool = r2d2::Pool::builder()
        .max_size(64)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .connection_timeout(timeout)
        .build_unchecked(memcache::ConnectionManager::new(url));
    memcache::Client::with_pool(pool)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(servers: &[&str]) -> MemcachedConfig {
        MemcachedConfig {
            servers: servers.iter().map(|s| s.to_string()).collect(),
            ..MemcachedConfig::default()
        }
    }

    #[test]
    fn no_servers_no_cache() {
        assert!(Memcached::from_config(&config(&[])).is_none());
    }

    #[test]
    fn adding_a_server_moves_about_one_nth_of_keys() {
        let three = Memcached::from_config(&config(&["a:1", "b:1", "c:1"])).unwrap();
        let four = Memcached::from_config(&config(&["a:1", "b:1", "c:1", "d:1"])).unwrap();
        let keys: Vec<String> = (0..20_000).map(|i| format!("bouncer:r:{i}")).collect();
        let moved = keys
            .iter()
            .filter(|k| three.owner_index(k) != four.owner_index(k))
            .count();
        let share = moved as f64 / keys.len() as f64;
        assert!(
            (0.2..0.3).contains(&share),
            "moved {share}; modulo hashing would move ~0.75"
        );
        let mut per = [0usize; 4];
        for k in &keys {
            per[four.owner_index(k)] += 1;
        }
        assert!(per.iter().all(|&n| n > 4_000), "uneven spread {per:?}");
    }

    #[test]
    fn keys_are_always_valid() {
        let mc = Memcached::from_config(&config(&["a:1"])).unwrap();
        let k = mc.key("r", &[b"product with spaces\r\n", &[0xff; 400]]);
        assert!(k.len() < 250 && !k.contains(char::is_whitespace), "{k}");
    }

    #[test]
    fn a_dead_server_is_a_fast_miss_then_skipped() {
        // Port 1: nothing listens; the connect is refused at once.
        let mc = Memcached::from_config(&config(&["127.0.0.1:1"])).unwrap();
        assert_eq!(mc.get("bouncer:x"), None);
        assert_eq!(mc.stats.errors.load(Ordering::Relaxed), 1);
        assert_eq!(mc.down_servers(), vec!["127.0.0.1:1".to_string()]);
        assert_eq!(mc.get("bouncer:x"), None);
        assert_eq!(
            mc.stats.skipped.load(Ordering::Relaxed),
            1,
            "breaker open: no I/O"
        );
        mc.set("bouncer:x", b"v");
        assert_eq!(mc.stats.errors.load(Ordering::Relaxed), 1);
    }
}
