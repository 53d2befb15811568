//! What a database error means for the caller, decided once for every service and both
//! backends (MariaDB reports deadlocks and lock timeouts as plain errors with a code in
//! the message; SQLite says "database is locked").

use diesel::result::{DatabaseErrorKind, Error};

/// A duplicate key: the row exists already (a concurrent identical write, or a repeat).
pub fn is_unique_violation(e: &Error) -> bool {
    matches!(
        e,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// The database aborted the transaction for a reason that is gone when it is tried again:
/// a deadlock (MariaDB 1213), a lock wait timeout (1205), a serialization failure, SQLite's
/// busy database.
pub fn is_transient(e: &Error) -> bool {
    match e {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("Deadlock found")
                || m.contains("Lock wait timeout")
                || m.contains("database is locked")
                || m.contains("database table is locked")
        }
        _ => false,
    }
}

/// The connection went away during the call (MariaDB's client reports "Lost connection
/// to server during query" (2013) or "Server has gone away" (2006) as an unknown kind;
/// diesel maps only some of it to `ClosedConnection`): the database is unreachable, which
/// is a 503 for a caller, not a bug.
pub fn is_connection_lost(e: &Error) -> bool {
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => {
            let m = info.message().to_ascii_lowercase();
            m.contains("lost connection to")
                || m.contains("server has gone away")
                || m.contains("can't connect to")
        }
        _ => false,
    }
}

/// The error is this program's, not the database's: a row it cannot decode into the type
/// the schema promises, a value it cannot encode, a query it cannot build. Trying again or
/// elsewhere gives the same; a caller answers 500 and logs it as an error, where a database
/// that is down or busy is a 503 (and may be worked around).
pub fn is_defect(e: &Error) -> bool {
    matches!(
        e,
        Error::DeserializationError(_)
            | Error::SerializationError(_)
            | Error::QueryBuilderError(_)
            | Error::InvalidCString(_)
    )
}

/// How many times a transient failure is tried in all.
pub const ATTEMPTS: u32 = 4;

/// Runs `attempt` again (up to [`ATTEMPTS`] times, with a short growing pause) while it
/// fails with an error `transient` accepts; the last error is returned as is.
pub fn retrying<T, E>(
    mut attempt: impl FnMut() -> Result<T, E>,
    transient: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let mut tries = 1;
    loop {
        match attempt() {
            Err(e) if tries < ATTEMPTS && transient(&e) => {
                tracing::info!(
                    attempt = tries,
                    "transaction aborted by the database; retrying"
                );
                std::thread::sleep(std::time::Duration::from_millis(10 << tries));
                tries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Info(&'static str);
    impl diesel::result::DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn db(kind: DatabaseErrorKind, m: &'static str) -> Error {
        Error::DatabaseError(kind, Box::new(Info(m)))
    }

    #[test]
    fn deadlocks_are_retried_and_other_errors_are_not() {
        let deadlock = "Deadlock found when trying to get lock; try restarting transaction";
        assert!(is_transient(&db(DatabaseErrorKind::Unknown, deadlock)));
        assert!(is_transient(&db(
            DatabaseErrorKind::Unknown,
            "database is locked"
        )));
        assert!(!is_transient(&db(
            DatabaseErrorKind::UniqueViolation,
            "Duplicate entry"
        )));
        let mut calls = 0;
        let out: Result<(), Error> = retrying(
            || {
                calls += 1;
                Err(db(DatabaseErrorKind::Unknown, deadlock))
            },
            is_transient,
        );
        assert!(out.is_err());
        assert_eq!(calls, ATTEMPTS);
        let mut calls = 0;
        let out: Result<(), Error> = retrying(
            || {
                calls += 1;
                Err(Error::NotFound)
            },
            is_transient,
        );
        assert!(out.is_err());
        assert_eq!(calls, 1, "not transient: no retry");
    }
}
