//! bounce: the download redirector.

use bouncer_service::GlobalArgs;
use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Bouncer download redirector")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Serve redirects (the default).
    Serve,
    /// Apply pending database migrations to the master and exit.
    Migrate,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse(); // help and usage errors are for people: before logging starts
    bouncer_core::telemetry::init("bounce");
    let config = cli.global.load()?;
    if let Some(Command::Migrate) = cli.command {
        bouncer_service::migrate(&config)?;
        return Ok(());
    }
    let listener = std::net::TcpListener::bind(config.bounce.listen)?;
    bounce::build(config, listener, bouncer_service::shutdown::signal())?
        .run_until_stopped()
        .await?;
    Ok(())
}
