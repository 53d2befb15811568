//! Adding counts to their rows in a few statements: a batch of 500 counts touches 1,500
//! rows (minute, hour, day), and one UPDATE-then-INSERT per row kept tuxedo at 2 to 5
//! batches a second, below what two busy bounce instances send (deploy/bench/stats.sh).
//! One multi-row `INSERT … ON DUPLICATE KEY UPDATE` (MariaDB) or `INSERT … ON CONFLICT DO
//! UPDATE` (SQLite) per [`CHUNK`] rows adds to a row that exists and creates one that does
//! not, in one round trip. diesel's builder has no such statement for the
//! multi-backend connection (nor MySQL's `VALUES(column)` in 2.3), so it is written here.

use super::Dims;
use crate::db::DbConnection;
use diesel::backend::Backend;
use diesel::mysql::Mysql;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, SmallInt, Text};
use diesel::sqlite::Sqlite;

/// One count row to add: its key and what to add.
pub(super) struct CountRow<'a> {
    pub granularity: &'static str,
    pub bucket: i64,
    pub key: i64,
    pub dims: &'a Dims,
    pub downloads: i64,
    pub bytes: i64,
}

/// Values per row, and rows per statement (within SQLite's oldest limit of 999).
const COLUMNS: usize = 13;
const CHUNK: usize = 999 / COLUMNS;

/// Adds every row: one statement per [`CHUNK`] rows.
pub(super) fn add_rows(c: &mut DbConnection, rows: &[CountRow<'_>]) -> QueryResult<()> {
    for chunk in rows.chunks(CHUNK) {
        let q = Upsert { rows: chunk };
        match c {
            DbConnection::Mysql(m) => q.execute(m)?,
            DbConnection::Sqlite(s) => q.execute(s)?,
        };
    }
    Ok(())
}

struct Upsert<'a> {
    rows: &'a [CountRow<'a>],
}

impl Upsert<'_> {
    /// `INSERT INTO … VALUES (…), (…)…`, the same on both backends.
    fn insert<'b, DB>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        DB: Backend
            + diesel::sql_types::HasSqlType<Text>
            + diesel::sql_types::HasSqlType<BigInt>
            + diesel::sql_types::HasSqlType<SmallInt>,
        str: ToSql<Text, DB>,
        i64: ToSql<BigInt, DB>,
        i16: ToSql<SmallInt, DB>,
    {
        if self.rows.len() != CHUNK {
            // A last, shorter chunk: not worth a cached statement per length.
            out.unsafe_to_cache_prepared();
        }
        out.push_sql(
            "INSERT INTO bouncer_download_counts (granularity, bucket, dims, product, os, \
             lang, country, target, family, scheme, agent, downloads, bytes) VALUES ",
        );
        for (i, r) in self.rows.iter().enumerate() {
            out.push_sql(if i == 0 { "(" } else { ", (" });
            out.push_bind_param::<Text, str>(r.granularity)?;
            for v in [&r.bucket, &r.key] {
                out.push_sql(", ");
                out.push_bind_param::<BigInt, i64>(v)?;
            }
            let d = r.dims;
            for v in [&d.product, &d.os, &d.lang, &d.country, &d.target] {
                out.push_sql(", ");
                out.push_bind_param::<Text, str>(v.as_str())?;
            }
            out.push_sql(", ");
            out.push_bind_param::<SmallInt, i16>(&d.family)?;
            for v in [&d.scheme, &d.agent] {
                out.push_sql(", ");
                out.push_bind_param::<Text, str>(v.as_str())?;
            }
            for v in [&r.downloads, &r.bytes] {
                out.push_sql(", ");
                out.push_bind_param::<BigInt, i64>(v)?;
            }
            out.push_sql(")");
        }
        Ok(())
    }
}

impl QueryId for Upsert<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Mysql> for Upsert<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        self.insert(&mut out)?;
        out.push_sql(
            " ON DUPLICATE KEY UPDATE downloads = downloads + VALUES(downloads), \
             bytes = bytes + VALUES(bytes)",
        );
        Ok(())
    }
}

impl QueryFragment<Sqlite> for Upsert<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.insert(&mut out)?;
        out.push_sql(
            " ON CONFLICT (granularity, bucket, dims) DO UPDATE SET \
             downloads = downloads + excluded.downloads, bytes = bytes + excluded.bytes",
        );
        Ok(())
    }
}

impl RunQueryDsl<diesel::MysqlConnection> for Upsert<'_> {}
impl RunQueryDsl<diesel::SqliteConnection> for Upsert<'_> {}
