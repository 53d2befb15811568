//! Structured logging shared by the services: JSON lines on stdout, filtered by
//! `RUST_LOG` (default `info`). Set `BOUNCER_LOG_FORMAT=pretty` for human-readable output.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber; a second call (as in tests) is a no-op.
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let pretty = std::env::var("BOUNCER_LOG_FORMAT").is_ok_and(|v| v == "pretty");
    let result = if pretty {
        fmt().with_env_filter(filter).try_init()
    } else {
        fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_env_filter(filter)
            .try_init()
    };
    if result.is_ok() {
        tracing::info!(
            service,
            version = env!("CARGO_PKG_VERSION"),
            "logging started"
        );
    }
}
