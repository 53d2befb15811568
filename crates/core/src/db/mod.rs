//! Database access shared by the services: one connection type over every enabled
//! backend, r2d2 pools, and the embedded migrations.

pub mod classify;
mod connection;
pub mod lease;
/// Multi-row inserts (both backends: every service enables both).
#[cfg(all(feature = "mysql", feature = "sqlite"))]
pub mod many;
mod migrate;
mod tx;

pub use connection::{Backend, DbConnection, DbUrl};
#[cfg(all(feature = "mysql", feature = "sqlite"))]
pub use many::{insert_many, replace_many, ManyRow};
pub use migrate::{pending_migrations, revert_all_migrations, run_migrations};
pub use tx::{commits_on_this_thread, write_transaction};

use crate::{CoreError, Result};
use diesel::r2d2::{Pool, PooledConnection};
use std::time::Duration;

/// A pool of connections to one database.
pub type DbPool = Pool<connection::Manager>;
/// A connection checked out of a [`DbPool`].
pub type PooledConn = PooledConnection<connection::Manager>;

/// How a pool is sized and how long a caller may wait for a connection.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connect_timeout: Duration,
    /// How long a statement may wait for a row lock on MariaDB (rounded up to seconds);
    /// `None` keeps the server's default.
    pub lock_wait_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 8,
            connect_timeout: Duration::from_secs(5),
            lock_wait_timeout: None,
        }
    }
}

/// Builds a pool for `url` without opening a connection up front, so a service can start
/// (and report itself unhealthy) while its database is still down.
pub fn pool(url: &str, options: PoolOptions) -> Result<DbPool> {
    let target = DbUrl::parse(url)?;
    Ok(Pool::builder()
        .max_size(options.max_size.max(1))
        .min_idle(Some(0))
        .connection_timeout(options.connect_timeout)
        // A connection whose server went away stays in the pool otherwise (nothing marks
        // it broken) and fails every query after a database restart; the check costs one
        // `SELECT 1` per check-out, which the services do per fill or write, not per
        // redirect.
        .test_on_check_out(true)
        .build_unchecked(connection::Manager::new(
            target,
            options
                .lock_wait_timeout
                .map(|t| t.as_millis().div_ceil(1000).max(1) as u64),
        )))
}

/// Checks out a connection, mapping a timeout to [`CoreError::Pool`].
pub fn conn(pool: &DbPool) -> Result<PooledConn> {
    pool.get().map_err(CoreError::from)
}

/// A cheap liveness query, used by the heartbeat endpoints.
pub fn ping(pool: &DbPool) -> Result<()> {
    use diesel::RunQueryDsl;
    let mut c = conn(pool)?;
    diesel::sql_query("SELECT 1").execute(&mut *c)?;
    Ok(())
}
