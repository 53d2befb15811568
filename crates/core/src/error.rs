//! The core crate's one error type.

use thiserror::Error;

/// Errors raised by the core crate. Services map these to HTTP statuses in one place.
#[derive(Debug, Error)]
pub enum CoreError {
    /// The configuration could not be loaded or failed validation; the message names the key.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A database URL that names no supported backend.
    #[error("unsupported database url {0:?}: use mysql://… or sqlite://… (or a file path)")]
    UnsupportedDatabase(String),
    /// Could not get a connection: the database is down or unreachable.
    #[error("database unavailable: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// Running migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Reading an input (a log being imported) failed.
    #[error("reading: {0}")]
    Io(#[from] std::io::Error),
}

/// Result with [`CoreError`].
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
