//! A fresh database per test.

use bouncer_core::db::{self, Backend, DbPool, PoolOptions, PooledConn};
use diesel::connection::SimpleConnection;
use diesel::{Connection, MysqlConnection};
use std::time::Duration;

/// A migrated database that exists for the lifetime of this value.
pub struct TestDb {
    /// URL to give a service's configuration.
    pub url: String,
    pub backend: Backend,
    pub pool: DbPool,
    cleanup: Cleanup,
}

enum Cleanup {
    Mysql { server: String, name: String },
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
}

/// Base URL of the MariaDB server tests create their databases on.
pub fn mysql_server_url() -> String {
    std::env::var("BOUNCER_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
        .trim_end_matches('/')
        .to_owned()
}

impl TestDb {
    /// A new database on the MariaDB test server, migrated. Panics with the reason if the
    /// server cannot be reached (the test script starts it).
    pub fn mysql() -> Self {
        Self::mysql_on(&mysql_server_url())
    }

    /// A new migrated database on the MariaDB server at `server` (`mysql://user@host:port`),
    /// dropped afterwards: for tests against another server, such as a replicated primary.
    pub fn mysql_on(server: &str) -> Self {
        let server = server.trim_end_matches('/').to_owned();
        let name = format!("bt_{}", crate::unique_suffix());
        let mut admin = MysqlConnection::establish(&format!("{server}/mysql"))
            .unwrap_or_else(|e| panic!("MariaDB test server {server} unreachable: {e}"));
        admin
            .batch_execute(&format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
            ))
            .expect("create test database");
        Self::open(format!("{server}/{name}"), Cleanup::Mysql { server, name })
    }

    /// A new SQLite database in a temporary directory, migrated.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("bouncer.db").display());
        Self::open(url, Cleanup::Sqlite(dir))
    }

    /// Same as [`TestDb::mysql`] or [`TestDb::sqlite`].
    pub fn new(backend: Backend) -> Self {
        match backend {
            Backend::Mysql => Self::mysql(),
            Backend::Sqlite => Self::sqlite(),
        }
    }

    fn open(url: String, cleanup: Cleanup) -> Self {
        let pool = db::pool(
            &url,
            PoolOptions {
                max_size: 4,
                connect_timeout: Duration::from_secs(10),
                lock_wait_timeout: None,
            },
        )
        .expect("pool");
        let mut conn = db::conn(&pool).expect("connect to test database");
        db::run_migrations(&mut conn).expect("migrations");
        let backend = conn.backend();
        drop(conn);
        Self {
            url,
            backend,
            pool,
            cleanup,
        }
    }

    /// A connection from the test database's pool.
    pub fn conn(&self) -> PooledConn {
        db::conn(&self.pool).expect("test database connection")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Mysql { server, name } = &self.cleanup {
            if let Ok(mut admin) = MysqlConnection::establish(&format!("{server}/mysql")) {
                let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS `{name}`"));
            }
        }
    }
}
