//! Shared core of Bouncer.
//!
//! Everything the three services agree on lives here: the database schema and its
//! migrations, row types, the layered configuration, and the weighted mirror selection
//! (which is deliberately free of any database type so it can be tested and benchmarked
//! on plain in-memory data).
//!
//! # Layout
//! From the bottom (vocabulary, no I/O) up (operations on a connection):
//! - vocabulary: [`names`] (when two names are the same), [`limits`] (column widths),
//!   [`locale`] (language codes), [`networks`] (families, CIDRs, AS numbers, their index),
//!   [`hash`], [`utc`], [`error`];
//! - configuration: [`config`]; telemetry: [`telemetry`] (JSON logs);
//! - the database: [`schema`], [`models`], [`db`] (pools, one `MultiConnection` over MariaDB
//!   and SQLite, transactions, error classification), [`cache`] (memcached);
//! - pure decisions: [`selection`] (weighted choice with regions), [`rules`] (rewrite
//!   rules), [`uptake`];
//! - the write path every writer shares: [`changes`] (change log + generation bump),
//!   [`generation`] (the counter and its published value), [`history`] (stamps, and a
//!   history that moves backwards), [`audit`];
//! - catalogue operations: [`aliases`], [`name_space`] (products and aliases share one),
//!   [`gates`] (gated alias flips), [`files`] (file metadata), [`fleet`] (bounce instances
//!   registered with tuxedo), [`stats`] (download counts from bounce's batches, rolled up
//!   by minute, hour and day).

pub mod aliases;
pub mod audit;
pub mod cache;
pub mod changes;
pub mod config;
pub mod db;
pub mod error;
pub mod files;
pub mod fleet;
pub mod gates;
pub mod generation;
pub mod hash;
pub mod history;
pub mod limits;
pub mod locale;
pub mod models;
pub mod name_space;
pub mod names;
pub mod networks;
pub mod rules;
pub mod schema;
pub mod selection;
pub mod stats;
pub mod telemetry;
pub mod uptake;
pub mod utc;
pub mod vantage;

pub use error::{CoreError, Result};
