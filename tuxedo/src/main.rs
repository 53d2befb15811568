//! tuxedo: the admin service.

use bouncer_service::GlobalArgs;
use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Bouncer admin service")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Serve the admin API (the default).
    Serve,
    /// Apply pending database migrations to the master and exit.
    Migrate,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(clap::Subcommand)]
enum UserCommand {
    /// Create an account; the password is read from the first line of stdin.
    Add {
        name: String,
        /// admin, release, mirror-operator or read-only.
        #[arg(long)]
        role: String,
    },
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    bouncer_core::telemetry::init("tuxedo");
    let cli = Cli::parse();
    let config = cli.global.load()?;
    match cli.command {
        Some(Command::Migrate) => return Ok(bouncer_service::migrate(&config).map(|_| ())?),
        Some(Command::User(UserCommand::Add { name, role })) => {
            return Ok(tuxedo::cli::user_add(
                &config,
                &name,
                &role,
                std::io::stdin().lock(),
            )?)
        }
        Some(Command::Serve) | None => {}
    }
    let listener = std::net::TcpListener::bind(config.tuxedo.listen)?;
    tuxedo::build(config, listener)?.run_until_stopped().await?;
    Ok(())
}
