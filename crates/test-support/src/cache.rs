//! memcached with a key namespace per test.

use std::time::Duration;

/// A memcached client plus a prefix unique to this test; keys written through
/// [`TestCache::key`] never collide with another test's.
pub struct TestCache {
    pub client: memcache::Client,
    pub prefix: String,
    /// `host:port` of the server, for a service's configuration.
    pub server: String,
}

impl TestCache {
    /// Connects to the test memcached; panics with the reason if it is not running.
    pub fn new() -> Self {
        let server =
            std::env::var("BOUNCER_TEST_MEMCACHED").unwrap_or_else(|_| "127.0.0.1:11211".into());
        let url = format!("memcache://{server}?timeout=2&tcp_nodelay=true");
        let client = memcache::Client::connect(url)
            .unwrap_or_else(|e| panic!("memcached test server {server} unreachable: {e}"));
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("read timeout");
        Self {
            client,
            prefix: format!("t{}", crate::unique_suffix()),
            server,
        }
    }

    /// The namespaced form of `key`.
    pub fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }
}

impl Default for TestCache {
    fn default() -> Self {
        Self::new()
    }
}
