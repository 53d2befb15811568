//! What the `tuxedo` binary does besides serving, kept here so `main.rs` stays short.

mod args;

pub use args::{
    Cli, Command, HistoryCommand, RulesCommand, StatsCommand, TokenCommand, UserCommand,
};

use crate::auth::{tokens, users, Role};
use crate::catalogue::rules;
use crate::error::{Result, TuxedoError};
use bouncer_core::cache::Memcached;
use bouncer_core::config::Config;
use bouncer_core::db;
use bouncer_core::rules::RuleSpec;
use std::io::BufRead;
use std::path::Path;

/// Runs a one-shot command; `Ok(true)` when the command is to serve.
pub fn run(command: Command, config: &Config) -> anyhow::Result<bool> {
    match command {
        Command::Serve => return Ok(true),
        Command::Migrate => {
            bouncer_service::migrate(config)?;
        }
        Command::User(UserCommand::Add { name, role }) => {
            user_add(config, &name, &role, std::io::stdin().lock())?
        }
        Command::Token(TokenCommand::Add { user, role, name }) => {
            println!("{}", token_add(config, &user, &role, &name)?);
        }
        Command::History(HistoryCommand::Check) => match history_check(config)? {
            Some(g) => println!("history went back: generation moved to {g}; bounce reloads"),
            None => println!("history is whole: nothing to do"),
        },
        Command::Stats(StatsCommand::Import { files }) => {
            for file in &files {
                let i = stats_import(config, file)?;
                println!(
                    "{}: {} lines, {} downloads counted, {} chunks imported before, {} lines not downloads",
                    file.display(),
                    i.lines,
                    i.downloads,
                    i.repeats,
                    i.skipped
                );
            }
        }
        Command::Rules(RulesCommand::Load { file }) => {
            let (loaded, unconfirmed) = rules_load(config, &file)?;
            println!("loaded {loaded} rewrite rules from {}", file.display());
            if !unconfirmed.is_empty() {
                println!("not yet served by: {}", unconfirmed.join(", "));
            }
        }
    }
    Ok(false)
}

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

/// `tuxedo token add --user NAME --role ROLE --name NAME`: creates an API token and
/// returns its secret (shown once; only its hash is stored).
pub fn token_add(config: &Config, user: &str, role: &str, name: &str) -> Result<String> {
    let role: Role = role.parse()?;
    let pool = db::pool(&config.database.url, bouncer_service::pool_options(config))?;
    let mut conn = db::conn(&pool)?;
    let created = tokens::create(&mut conn, "cli", user, role, name, None)?;
    tracing::info!(
        user,
        role = role.as_str(),
        token = created.token.id,
        "token created"
    );
    Ok(created.secret)
}

/// `tuxedo history check`: see `bouncer_core::history`. Returns the new generation when
/// the database had gone back in history (it is then published).
pub fn history_check(config: &Config) -> Result<Option<i64>> {
    let pool = db::pool(&config.database.url, bouncer_service::pool_options(config))?;
    let mut conn = db::conn(&pool)?;
    let cache = Memcached::from_config(&config.memcached);
    let jumped = bouncer_core::history::check(&mut conn, cache.as_ref(), "cli")?;
    if jumped.is_some() {
        bouncer_core::changes::publish_current(&mut conn, cache.as_ref())?;
    }
    Ok(jumped)
}

/// `tuxedo rules load FILE`: replaces the rewrite rules by the JSON list of rules in
/// `file` (e.g. `deploy/rewrite-rules.json`), all or nothing, and waits like any write
/// until the bounce fleet serves them. Returns how many were loaded and the instances that
/// had not confirmed within `tuxedo.visibility_timeout_ms`; an invalid rule is
/// [`TuxedoError::InvalidRule`] with its index and reason.
pub fn rules_load(config: &Config, file: &Path) -> Result<(usize, Vec<String>)> {
    let text = std::fs::read_to_string(file)?;
    let specs: Vec<RuleSpec> = serde_json::from_str(&text)
        .map_err(|e| TuxedoError::BadRequest(format!("{}: {e}", file.display())))?;
    let pool = db::pool(&config.database.url, bouncer_service::pool_options(config))?;
    let mut conn = db::conn(&pool)?;
    let before = bouncer_core::generation::current(&mut conn)?;
    let loaded = rules::replace(&mut conn, "cli", &specs)?;
    let published = bouncer_core::history::publish_since(
        &mut conn,
        Memcached::from_config(&config.memcached).as_ref(),
        before,
    );
    let generation = match published {
        Ok(g) => g,
        Err(e) => {
            tracing::warn!(error = %e, "rules loaded; could not publish the generation");
            return Ok((loaded, Vec::new()));
        }
    };
    let unconfirmed = match crate::fleet::Fleet::from_config(config)? {
        Some(fleet) if generation > before => fleet.wait_blocking(&mut conn, generation)?,
        _ => Vec::new(),
    };
    Ok((loaded, unconfirmed))
}

/// `tuxedo stats import FILE…`: folds one access log into the statistics (see
/// `bouncer_core::stats::log`), with the bot mask bounce uses (`bounce.stats_bots`).
pub fn stats_import(config: &Config, file: &Path) -> Result<bouncer_core::stats::log::Imported> {
    let input = std::io::BufReader::new(std::fs::File::open(file)?);
    let pool = db::pool(&config.database.url, bouncer_service::pool_options(config))?;
    let mut conn = db::conn(&pool)?;
    let now = chrono::Utc::now().timestamp();
    let bots = &config.bounce.stats_bots;
    let imported = bouncer_core::stats::log::import(&mut conn, input, bots, now)?;
    tracing::info!(
        file = %file.display(),
        lines = imported.lines,
        downloads = imported.downloads,
        "access log imported"
    );
    Ok(imported)
}
