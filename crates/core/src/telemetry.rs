//! Structured logging shared by the services: JSON lines on stdout, filtered by
//! `RUST_LOG` (default `info`). Set `BOUNCER_LOG_FORMAT=pretty` for human-readable output.
//!
//! A client's protocol mistake (a malformed request line, a connection closed mid-request)
//! is not an error of the service, although the HTTP server logs it at ERROR: anyone could
//! flood the alerts with it. Such events are counted ([`client_errors`], exported as
//! `http_client_errors_total` by each service) and left out of the log by default; name
//! `actix_http::h1` in `RUST_LOG` to see them.

use std::sync::atomic::{AtomicU64, Ordering};
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, Registry};

static CLIENT_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Client protocol errors seen by the HTTP server since the process started.
pub fn client_errors() -> u64 {
    CLIENT_ERRORS.load(Ordering::Relaxed)
}

/// What the HTTP/1 connection handler reports at ERROR: a client's malformed request or
/// broken connection.
pub fn is_client_error(meta: &Metadata<'_>) -> bool {
    *meta.level() == Level::ERROR && meta.target().starts_with("actix_http::h1")
}

struct CountClientErrors;

impl<S: Subscriber> Layer<S> for CountClientErrors {
    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        CLIENT_ERRORS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The default filter: `info`, without the client errors.
const DEFAULT_FILTER: &str = "info,actix_http::h1=off";

/// Installs the global subscriber; a second call (as in tests) is a no-op.
pub fn init(service: &'static str) {
    let filter =
        || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let pretty = std::env::var("BOUNCER_LOG_FORMAT").is_ok_and(|v| v == "pretty");
    let count = CountClientErrors.with_filter(filter_fn(is_client_error));
    let registry = Registry::default().with(count);
    let result = if pretty {
        registry.with(fmt::layer().with_filter(filter())).try_init()
    } else {
        registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_filter(filter()),
            )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_protocol_errors_are_counted_not_logged() {
        let logged = std::sync::Arc::new(AtomicU64::new(0));
        struct Count(std::sync::Arc<AtomicU64>);
        impl<S: Subscriber> Layer<S> for Count {
            fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let subscriber = Registry::default()
            .with(CountClientErrors.with_filter(filter_fn(is_client_error)))
            .with(Count(logged.clone()).with_filter(EnvFilter::new(DEFAULT_FILTER)));
        let before = client_errors();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "actix_http::h1::dispatcher", "stream error: request parse error");
            tracing::error!(target: "bounce::routes", "a real error");
        });
        assert_eq!(client_errors() - before, 1);
        assert_eq!(
            logged.load(Ordering::Relaxed),
            1,
            "only the real error is logged"
        );
    }
}
