//! sentry: the mirror health checker.

use bouncer_service::GlobalArgs;
use clap::Parser;
use sentry::RunOptions;

#[derive(Parser)]
#[command(version, about = "Bouncer mirror health checker")]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// One checking run (for cron); the exit code says whether it completed.
    Run(RunOptions),
    /// Run forever, one run every `sentry.interval_secs`, serving heartbeat and metrics.
    Daemon(RunOptions),
    /// Run forever as a vantage point: check the controller's scope from here every
    /// `sentry.interval_secs` and send the findings to `sentry.controller` (no database).
    Agent,
    /// Apply pending database migrations to the master and exit.
    Migrate,
    /// Forget learned file metadata (every row, or what one source taught), audited; the
    /// next run learns again from the current reference origins.
    ForgetLearned(sentry::ForgetOptions),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse(); // help and usage errors are for people: before logging starts
    bouncer_core::telemetry::init("sentry");
    let config = cli.global.load()?;
    match cli.command {
        Command::Migrate => {
            bouncer_service::migrate(&config)?;
        }
        Command::Run(opts) => match sentry::run_once(&config, &opts).await {
            // Another run is doing this run's work: nothing failed.
            Err(busy @ sentry::SentryError::Busy(_)) => eprintln!("sentry: {busy}"),
            // A `--mirror` that names nothing: a usage error, said plainly (no backtrace).
            Err(e) if e.is_usage() => {
                eprintln!("sentry: {e}");
                std::process::exit(2);
            }
            other => {
                other?;
            }
        },
        Command::Agent => match sentry::agent(&config, bouncer_service::shutdown::signal()).await {
            Err(e) if e.is_usage() => {
                eprintln!("sentry: {e}");
                std::process::exit(2);
            }
            other => other?,
        },
        Command::Daemon(opts) => {
            sentry::daemon(&config, &opts, bouncer_service::shutdown::signal()).await?
        }
        Command::ForgetLearned(opts) => {
            let by = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
            match sentry::forget_learned(&config, &opts, &by).await {
                Ok(done) => println!("forgot {} learned file rows", done.files),
                Err(e) if e.is_usage() => {
                    eprintln!("sentry: {e}");
                    std::process::exit(2);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
