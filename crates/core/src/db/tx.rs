//! The transaction every writer uses. On SQLite it begins `IMMEDIATE`: a deferred
//! transaction that reads and then writes must upgrade its lock, and when another writer
//! got there first SQLite answers "database is locked" at once — the busy timeout does
//! not apply to an upgrade. Taking the write lock up front makes concurrent writers queue
//! on the busy timeout instead. MariaDB's InnoDB locks rows as it goes, so a plain
//! transaction is right there.

use super::DbConnection;
use diesel::connection::{Connection, TransactionManager};
use diesel::result::Error;

type Manager = <DbConnection as Connection>::TransactionManager;

/// Runs `f` in one write transaction: committed when it returns `Ok`, rolled back when it
/// returns `Err`.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<Error>,
{
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => {
            diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                c,
                "BEGIN IMMEDIATE",
            )?;
        }
        #[allow(unreachable_patterns)]
        _ => return conn.transaction(f),
    }
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(Error::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
    }
}
