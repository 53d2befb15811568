//! Shared core of Bouncer.
//!
//! Everything the three services agree on lives here: the database schema and its
//! migrations, row types, the layered configuration, and the weighted mirror selection
//! (which is deliberately free of any database type so it can be tested and benchmarked
//! on plain in-memory data).

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
pub mod telemetry;
pub mod uptake;
pub mod utc;

pub use error::{CoreError, Result};
