//! Test harness shared by every crate's integration tests.
//!
//! - [`TestDb`]: a fresh, migrated database per test, on the real MariaDB (a database of
//!   its own, dropped afterwards) or on SQLite (a temporary file), so tests run in parallel.
//! - [`db_tests!`]: runs one test body on both backends.
//! - [`TestCache`]: a memcached client whose keys carry a unique prefix.
//! - [`write_country_mmdb`]: a tiny GeoIP2-shaped `.mmdb` for GeoIP tests.
//! - [`proxy::Proxy`]: a forwarder to MariaDB that can cut, hang or freeze the database.
//! - [`fake_mirror::FakeMirror`]: a mirror that serves real bytes (ranges honoured) or
//!   misbehaves the ways real mirrors do.
//! - [`eventually`]: a bounded wait on state (never a fixed sleep).
//!
//! Environment: `BOUNCER_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`) and
//! `BOUNCER_TEST_MEMCACHED` (default `127.0.0.1:11211`).
// A test harness: a panic is how it reports a broken test setup, to the test that called it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cache;
mod db;
pub mod delay;
pub mod fake_mirror;
mod geoip;
pub mod health;
pub mod netns;
pub mod proxy;

pub use cache::TestCache;
pub use db::{mysql_server_url, TestDb};
pub use geoip::{write_asn_mmdb, write_asn_mmdb_as, write_country_mmdb, write_geo_mmdb};

/// A short random suffix for names that must not collide across parallel tests.
pub fn unique_suffix() -> String {
    use rand::RngExt;
    let n: u64 = rand::rng().random();
    format!("{}_{n:016x}", std::process::id())
}

/// Declares one test per backend for each body: `db_tests!(name => body_fn, …)` expands
/// to `mod name { #[test] fn mysql() …; #[test] fn sqlite() … }` calling
/// `body_fn(&TestDb)`.
#[macro_export]
macro_rules! db_tests {
    ($($name:ident => $body:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn mysql() {
                    super::$body(&$crate::TestDb::mysql());
                }
                #[test]
                fn sqlite() {
                    super::$body(&$crate::TestDb::sqlite());
                }
            }
        )*
    };
}

/// Like [`db_tests!`] for async bodies: `async_db_tests!(name => body_fn, …)` expands to
/// `mod name { #[tokio::test] async fn mysql() …; async fn sqlite() … }` awaiting
/// `body_fn(TestDb)`. The calling crate needs `tokio` (macros, rt) as a dev-dependency.
#[macro_export]
macro_rules! async_db_tests {
    ($($name:ident => $body:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn mysql() {
                    super::$body($crate::TestDb::mysql()).await;
                }
                #[tokio::test]
                async fn sqlite() {
                    super::$body($crate::TestDb::sqlite()).await;
                }
            }
        )*
    };
}

/// Waits for state, not for time: polls `check` every 20 ms until it gives `Some`, and
/// fails the test (naming `what`) if that takes longer than `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = std::time::Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < until,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
