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

thread_local! {
    /// Outermost write transactions committed on this thread.
    static COMMITS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many write transactions (outermost [`write_transaction`]s) this thread has
/// committed. A caller running database work on a thread compares it before and after
/// to tell work that applied a write from work that only read: tuxedo counts calls that
/// finished after their caller was answered 503, and only a committed write among them
/// needs an operator's look.
pub fn commits_on_this_thread() -> u64 {
    COMMITS.with(std::cell::Cell::get)
}

fn committed() {
    COMMITS.with(|c| c.set(c.get().wrapping_add(1)));
}

/// Runs `f` in one write transaction: committed when it returns `Ok`, rolled back when it
/// returns `Err`.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<Error>,
{
    // Inside a transaction already, the outer one holds the lock: a savepoint, as usual.
    let outermost = Manager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .is_none();
    match conn {
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) if outermost => {
            diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                c,
                "BEGIN IMMEDIATE",
            )?;
        }
        _ => {
            let out = conn.transaction(f);
            if outermost && out.is_ok() {
                committed();
            }
            return out;
        }
    }
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            committed();
            Ok(value)
        }
        Err(e) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(Error::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;

    fn sqlite() -> DbConnection {
        let mut c = DbConnection::Sqlite(diesel::SqliteConnection::establish(":memory:").unwrap());
        c.batch_execute("CREATE TABLE t (v INTEGER)").unwrap();
        c
    }

    fn count(c: &mut DbConnection) -> i64 {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query("SELECT COUNT(*) AS n FROM t")
            .get_result::<N>(c)
            .unwrap()
            .n
    }

    /// Committed on Ok, rolled back on Err; a nested call is a savepoint (SQLite refuses
    /// a second BEGIN), whose failure undoes only its own part.
    #[test]
    fn commits_rolls_back_and_nests() {
        let mut c = sqlite();
        let ok: Result<(), Error> = write_transaction(&mut c, |c| {
            c.batch_execute("INSERT INTO t VALUES (1)")?;
            let inner: Result<(), Error> = write_transaction(c, |c| {
                c.batch_execute("INSERT INTO t VALUES (2)")?;
                Err(Error::RollbackTransaction)
            });
            assert!(inner.is_err());
            write_transaction(c, |c| c.batch_execute("INSERT INTO t VALUES (3)"))
        });
        ok.unwrap();
        assert_eq!(count(&mut c), 2, "the outer row and the second savepoint's");
        let failed: Result<(), Error> = write_transaction(&mut c, |c| {
            c.batch_execute("INSERT INTO t VALUES (4)")?;
            Err(Error::RollbackTransaction)
        });
        assert!(failed.is_err());
        assert_eq!(count(&mut c), 2, "rolled back");
    }

    /// Only an outermost commit counts: not a savepoint, not a rollback.
    #[test]
    fn commits_are_counted_per_thread() {
        let mut c = sqlite();
        let start = commits_on_this_thread();
        let ok: Result<(), Error> = write_transaction(&mut c, |c| {
            write_transaction(c, |c| c.batch_execute("INSERT INTO t VALUES (1)"))
        });
        ok.unwrap();
        assert_eq!(commits_on_this_thread(), start + 1);
        let failed: Result<(), Error> =
            write_transaction(&mut c, |_| Err(Error::RollbackTransaction));
        assert!(failed.is_err());
        assert_eq!(commits_on_this_thread(), start + 1);
    }
}
