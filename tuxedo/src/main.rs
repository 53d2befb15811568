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
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    bouncer_core::telemetry::init("tuxedo");
    let cli = Cli::parse();
    let config = cli.global.load()?;
    if let Some(Command::Migrate) = cli.command {
        bouncer_service::migrate(&config)?;
        return Ok(());
    }
    let listener = std::net::TcpListener::bind(config.tuxedo.listen)?;
    tuxedo::build(config, listener)?.run_until_stopped().await?;
    Ok(())
}
