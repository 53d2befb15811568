//! The `tuxedo` command line.

use bouncer_service::GlobalArgs;

#[derive(clap::Parser)]
#[command(version, about = "Bouncer admin service")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Serve the admin API (the default).
    Serve,
    /// Apply pending database migrations to the master and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage bounce's rewrite rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// After restoring the database or promoting a replica: move the catalogue's
    /// generation past everything bounce served, so every instance reloads (tuxedo also
    /// does this on its own within `tuxedo.history_check_ms`).
    #[command(subcommand)]
    History(HistoryCommand),
    /// Download statistics.
    #[command(subcommand)]
    Stats(StatsCommand),
}

#[derive(clap::Subcommand)]
pub enum StatsCommand {
    /// Fold access logs (bounce's `bounce.access_log` JSON lines, or nginx's combined
    /// format in front of bounce) into the statistics; importing a log again changes
    /// nothing.
    Import {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
}

#[derive(clap::Subcommand)]
pub enum HistoryCommand {
    /// Compare the database's generation with what was published and served, and jump
    /// past it when the database is behind.
    Check,
}

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from the first line of stdin.
    Add {
        name: String,
        /// admin, release, mirror-operator, read-only or stats.
        #[arg(long)]
        role: String,
    },
}

#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token for an account and print its secret (shown once).
    Add {
        #[arg(long)]
        user: String,
        /// admin, release, mirror-operator, read-only or stats; at most the account's role.
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(clap::Subcommand)]
pub enum RulesCommand {
    /// Replace every rule by the JSON list in FILE (all or nothing).
    Load { file: std::path::PathBuf },
}
