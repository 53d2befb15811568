//! Embedded migrations, one folder per backend with identical migration names.

use super::DbConnection;
use crate::{CoreError, Result};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness};

#[cfg(feature = "mysql")]
const MYSQL: EmbeddedMigrations = diesel_migrations::embed_migrations!("../../migrations/mysql");
#[cfg(feature = "sqlite")]
const SQLITE: EmbeddedMigrations = diesel_migrations::embed_migrations!("../../migrations/sqlite");

/// Applies every pending migration; returns the versions applied.
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>> {
    let applied = match conn {
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => c.run_pending_migrations(MYSQL).map(versions),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE).map(versions),
    };
    applied.map_err(|e| CoreError::Migration(e.to_string()))
}

/// Reverts every applied migration, newest first (the `down.sql` files); returns the
/// versions reverted. For tests of the migrations themselves: it drops every table.
pub fn revert_all_migrations(conn: &mut DbConnection) -> Result<Vec<String>> {
    let reverted = match conn {
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => c.revert_all_migrations(MYSQL).map(versions),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE).map(versions),
    };
    reverted.map_err(|e| CoreError::Migration(e.to_string()))
}

/// Lists the migrations not yet applied (used by `migrate --check` and heartbeats).
pub fn pending_migrations(conn: &mut DbConnection) -> Result<Vec<String>> {
    let pending = match conn {
        #[cfg(feature = "mysql")]
        DbConnection::Mysql(c) => c
            .pending_migrations(MYSQL)
            .map(|m| m.iter().map(|m| m.name().to_string()).collect()),
        #[cfg(feature = "sqlite")]
        DbConnection::Sqlite(c) => c
            .pending_migrations(SQLITE)
            .map(|m| m.iter().map(|m| m.name().to_string()).collect()),
    };
    pending.map_err(|e| CoreError::Migration(e.to_string()))
}

fn versions(v: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    v.into_iter().map(|v| v.to_string()).collect()
}
