//! tuxedo: the admin service.

use clap::Parser;
use tuxedo::cli::{self, Cli, Command};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Cli::parse(); // help and usage errors are for people: before logging starts
    bouncer_core::telemetry::init("tuxedo");
    let config = args.global.load()?;
    if !cli::run(args.command.unwrap_or(Command::Serve), &config)? {
        return Ok(());
    }
    let listener = std::net::TcpListener::bind(config.tuxedo.listen)?;
    tuxedo::build(config, listener, bouncer_service::shutdown::signal())?
        .run_until_stopped()
        .await?;
    Ok(())
}
