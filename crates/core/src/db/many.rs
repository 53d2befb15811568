//! Multi-row INSERTs on every backend. The multi-backend connection has no multi-row
//! insert, and diesel's for SQLite is one statement per row: on MySQL diesel's batch
//! insert, on SQLite a statement of our own ([`ManyRow::walk`] pushes a row's values).

use super::DbConnection;
use crate::Result;
use diesel::prelude::*;
pub use diesel::query_builder::AstPass;
use diesel::query_builder::{InsertStatement, QueryFragment, QueryId};
use diesel::query_dsl::methods::ExecuteDsl;
pub use diesel::sql_types;
pub use diesel::sqlite::Sqlite;
pub use diesel::QueryResult;

/// Rows per statement at most (fewer when a row has so many values that SQLite's oldest
/// limit of 999 parameters per statement would be passed).
pub const INSERT_CHUNK: usize = 128;

/// Rows per `REPLACE` statement on MariaDB ([`replace_many`]): a few thousand values, far
/// below its 65,535 placeholders.
const MYSQL_REPLACE_CHUNK: usize = 1_000;

/// SQLite's oldest limit of parameters per statement.
const SQLITE_MAX_PARAMS: usize = 999;

/// A row [`insert_many`] can write.
pub trait ManyRow {
    /// `table (column, …)`.
    const INTO: &'static str;
    /// How many values [`ManyRow::walk`] pushes.
    const COLUMNS: usize;
    /// Pushes `(?, …)` with the row's values, in the order of [`ManyRow::INTO`].
    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()>;
}

/// Implements [`ManyRow`] for a struct of plain fields, written in the order listed with
/// their SQL types (`diesel::sql_types` names), so a row type states its columns once:
///
/// ```text
/// bouncer_core::many_row!(NewRow => "bouncer_rows", [id: Integer, name: Text]);
/// ```
#[macro_export]
macro_rules! many_row {
    ($row:ty => $table:literal, [$first:ident: $first_ty:ident $(, $field:ident: $ty:ident)* $(,)?]) => {
        impl $crate::db::ManyRow for $row {
            const INTO: &'static str =
                concat!($table, " (", stringify!($first) $(, ", ", stringify!($field))*, ")");
            const COLUMNS: usize = 1 $(+ { let _ = stringify!($field); 1 })*;

            fn walk<'b>(
                &'b self,
                out: &mut $crate::db::many::AstPass<'_, 'b, $crate::db::many::Sqlite>,
            ) -> $crate::db::many::QueryResult<()> {
                use $crate::db::many::sql_types;
                out.push_sql("(");
                out.push_bind_param::<sql_types::$first_ty, _>(&self.$first)?;
                $(
                    out.push_sql(", ");
                    out.push_bind_param::<sql_types::$ty, _>(&self.$field)?;
                )*
                out.push_sql(")");
                Ok(())
            }
        }
    };
}

/// Rows per statement for rows of `R`.
fn chunk_len<R: ManyRow>() -> usize {
    (SQLITE_MAX_PARAMS / R::COLUMNS.max(1)).clamp(1, INSERT_CHUNK)
}

/// Inserts `rows` into `table` in a few multi-row statements; returns how many rows were
/// inserted. Call inside the writing transaction when all or none must be written. Name
/// the row type (`insert_many::<Row, _>(…)`): inferring it from the bounds overflows.
pub fn insert_many<'r, R, T>(conn: &mut DbConnection, table: T, rows: &'r [R]) -> Result<usize>
where
    R: ManyRow,
    T: Table + Copy,
    &'r [R]: Insertable<T>,
    InsertStatement<T, <&'r [R] as Insertable<T>>::Values>: ExecuteDsl<diesel::MysqlConnection>,
{
    let len = chunk_len::<R>();
    let mut written = 0;
    for chunk in rows.chunks(len) {
        written += match conn {
            DbConnection::Mysql(c) => diesel::insert_into(table).values(chunk).execute(c)?,
            DbConnection::Sqlite(c) => SqliteInsert {
                rows: chunk,
                len,
                verb: "INSERT INTO ",
            }
            .execute(c)?,
        };
    }
    Ok(written)
}

/// [`insert_many`] as `REPLACE INTO`: a row whose key exists is written over (deleted and
/// inserted again: only for tables no other table references). One statement per chunk
/// instead of one `UPDATE` per changed row.
pub fn replace_many<'r, R, T>(conn: &mut DbConnection, table: T, rows: &'r [R]) -> Result<usize>
where
    R: ManyRow,
    T: Table + Copy,
    &'r [R]: Insertable<T>,
    diesel::query_builder::ReplaceStatement<T, <&'r [R] as Insertable<T>>::Values>:
        ExecuteDsl<diesel::MysqlConnection>,
{
    let len = chunk_len::<R>();
    let mut written = 0;
    // MariaDB takes far more values per statement than SQLite: fewer round trips.
    let per_statement = match conn {
        DbConnection::Mysql(_) => MYSQL_REPLACE_CHUNK,
        DbConnection::Sqlite(_) => len,
    };
    for chunk in rows.chunks(per_statement) {
        written += match conn {
            DbConnection::Mysql(c) => diesel::replace_into(table).values(chunk).execute(c)?,
            DbConnection::Sqlite(c) => SqliteInsert {
                rows: chunk,
                len,
                verb: "REPLACE INTO ",
            }
            .execute(c)?,
        };
    }
    Ok(written)
}

/// `INSERT INTO table (…) VALUES (?, …), (?, …)…` of rows in one statement. Unlike
/// `sql_query`, it may be cached: a statement of a full chunk of rows is prepared once
/// (diesel keys its cache by the SQL), not parsed again for every chunk.
struct SqliteInsert<'a, R> {
    rows: &'a [R],
    /// Rows in a full chunk.
    len: usize,
    /// `INSERT INTO ` or `REPLACE INTO `.
    verb: &'static str,
}

impl<R> QueryId for SqliteInsert<'_, R> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<R: ManyRow> QueryFragment<Sqlite> for SqliteInsert<'_, R> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        if self.rows.len() != self.len {
            // A last, shorter chunk: not worth a cached statement per length.
            out.unsafe_to_cache_prepared();
        }
        out.push_sql(self.verb);
        out.push_sql(R::INTO);
        out.push_sql(" VALUES ");
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            row.walk(&mut out)?;
        }
        Ok(())
    }
}

impl<R> RunQueryDsl<diesel::SqliteConnection> for SqliteInsert<'_, R> {}

#[cfg(test)]
mod tests {
    use super::*;

    struct Wide;
    impl ManyRow for Wide {
        const INTO: &'static str = "t (a)";
        const COLUMNS: usize = 20;
        fn walk<'b>(&'b self, _: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
            Ok(())
        }
    }
    struct Narrow;
    impl ManyRow for Narrow {
        const INTO: &'static str = "t (a)";
        const COLUMNS: usize = 7;
        fn walk<'b>(&'b self, _: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
            Ok(())
        }
    }

    #[test]
    fn chunks_stay_within_sqlite_parameter_limit() {
        assert_eq!(chunk_len::<Narrow>(), INSERT_CHUNK);
        assert_eq!(chunk_len::<Wide>(), 49);
        assert!(chunk_len::<Wide>() * Wide::COLUMNS <= SQLITE_MAX_PARAMS);
    }
}
