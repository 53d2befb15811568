//! What the `tuxedo` binary does besides serving, kept here so `main.rs` stays a table.

use crate::auth::{users, Role};
use crate::error::{Result, TuxedoError};
use bouncer_core::config::Config;
use bouncer_core::db;
use std::io::BufRead;

/// `tuxedo user add NAME --role ROLE`: creates an account; the password is the first line
/// of `input` (stdin), so it never shows in the process list or shell history.
pub fn user_add(config: &Config, name: &str, role: &str, input: impl BufRead) -> Result<()> {
    let role: Role = role.parse()?;
    let password = input
        .lines()
        .next()
        .transpose()?
        .ok_or(TuxedoError::Missing("password"))?;
    let pool = db::pool(&config.database.url, bouncer_service::pool_options(config))?;
    let mut conn = db::conn(&pool)?;
    users::add(
        &mut conn,
        "cli",
        name,
        role,
        password.trim_end_matches('\r'),
    )?;
    tracing::info!(user = name, role = role.as_str(), "account created");
    Ok(())
}
