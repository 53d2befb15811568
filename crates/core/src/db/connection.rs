//! One connection type for every backend, chosen by URL scheme.

use crate::{CoreError, Result};
use diesel::r2d2::ManageConnection;
use diesel::{Connection, ConnectionError};

/// A connection to whichever backend the URL named. Queries written against this type
/// run on every enabled backend; code that truly differs matches on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    #[cfg(feature = "mysql")]
    Mysql(diesel::MysqlConnection),
    #[cfg(feature = "sqlite")]
    Sqlite(diesel::SqliteConnection),
}

impl DbConnection {
    /// Which backend this connection talks to.
    pub fn backend(&self) -> Backend {
        match self {
            #[cfg(feature = "mysql")]
            DbConnection::Mysql(_) => Backend::Mysql,
            #[cfg(feature = "sqlite")]
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// The database backends Bouncer supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Mysql,
    Sqlite,
}

/// A parsed database URL: the backend is decided by the scheme, never by trial and error
/// (trying backends in turn would create a SQLite file named after a MySQL URL whenever
/// the MySQL server is down).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl {
    pub backend: Backend,
    /// What the backend's driver is given: the full URL for MySQL, a path for SQLite.
    pub target: String,
}

impl DbUrl {
    /// `mysql://…` (or `mariadb://…`) → MySQL; `sqlite://PATH`, `sqlite:PATH` or a bare
    /// path → SQLite (`:memory:` works for tests).
    pub fn parse(url: &str) -> Result<Self> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("mariadb://") {
            return Ok(Self::mysql(format!("mysql://{rest}")));
        }
        if url.starts_with("mysql://") {
            return Ok(Self::mysql(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            return Err(CoreError::UnsupportedDatabase(crate::config::mask_url(url)));
        }
        Ok(Self {
            backend: Backend::Sqlite,
            target: path.to_owned(),
        })
    }

    fn mysql(target: String) -> Self {
        Self {
            backend: Backend::Mysql,
            target,
        }
    }

    /// Opens one connection, with the per-connection settings each backend needs.
    pub fn establish(&self) -> std::result::Result<DbConnection, ConnectionError> {
        match self.backend {
            #[cfg(feature = "mysql")]
            Backend::Mysql => {
                diesel::MysqlConnection::establish(&self.target).map(DbConnection::Mysql)
            }
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => {
                use diesel::connection::SimpleConnection;
                let mut c = diesel::SqliteConnection::establish(&self.target)?;
                // Foreign keys are off by default in SQLite; WAL lets bounce read while
                // tuxedo and sentry write; the busy timeout makes writers queue, not fail.
                c.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(c))
            }
            #[allow(unreachable_patterns)]
            other => Err(ConnectionError::BadConnection(format!(
                "backend {other:?} is not compiled into this build"
            ))),
        }
    }
}

/// r2d2 manager that opens connections for one [`DbUrl`].
#[derive(Debug)]
pub struct Manager {
    url: DbUrl,
    /// MariaDB's `innodb_lock_wait_timeout` for each session, in whole seconds: a write
    /// queued behind a lock gives up server-side by its caller's deadline instead of
    /// holding a connection for the server's default 50 s.
    lock_wait_secs: Option<u64>,
}

impl Manager {
    pub(crate) fn new(url: DbUrl, lock_wait_secs: Option<u64>) -> Self {
        Self {
            url,
            lock_wait_secs,
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> std::result::Result<DbConnection, Self::Error> {
        let mut conn = self
            .url
            .establish()
            .map_err(diesel::r2d2::Error::ConnectionError)?;
        if let (Backend::Mysql, Some(secs)) = (conn.backend(), self.lock_wait_secs) {
            use diesel::RunQueryDsl;
            diesel::sql_query(format!("SET SESSION innodb_lock_wait_timeout = {secs}"))
                .execute(&mut conn)
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> std::result::Result<(), Self::Error> {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map(|_| ())
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_decides_backend() {
        let m = DbUrl::parse("mysql://root@127.0.0.1:3306/bouncer").unwrap();
        assert_eq!(m.backend, Backend::Mysql);
        let m = DbUrl::parse("mariadb://root@db/bouncer").unwrap();
        assert_eq!(m.target, "mysql://root@db/bouncer");
        let s = DbUrl::parse("sqlite://bouncer.db").unwrap();
        assert_eq!(
            (s.backend, s.target.as_str()),
            (Backend::Sqlite, "bouncer.db")
        );
        assert_eq!(
            DbUrl::parse("/var/lib/b.db").unwrap().target,
            "/var/lib/b.db"
        );
        assert!(DbUrl::parse("postgres://x/y").is_err());
        assert!(DbUrl::parse("").is_err());
    }
}
