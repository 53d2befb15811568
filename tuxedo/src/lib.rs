//! tuxedo, the admin service, built from a listener and a configuration so tests run the
//! real service on port 0.
//!
//! - [`catalogue`]: the operations every interface calls (one transaction each, audited).
//! - [`xml`]: the XML API under `/api/` that release automation uses.
//! - [`api`]: the JSON REST API under `/api/v2/`.
//! - [`auth`]: accounts, roles, Basic credentials, the failed-login limit.
//! - [`ui`]: the server-rendered web UI under `/ui/` for operators.

pub mod api;
pub mod auth;
mod body;
pub mod caller;
pub mod catalogue;
pub mod cli;
mod error;
mod exec;
pub mod fleet;
mod gatekeeper;
mod history;
mod intake;
mod metrics;
mod pruning;
mod registry;
pub mod ui;
pub mod xml;

pub use error::{Command, TuxedoError};

use actix_web::{web, HttpResponse};
use auth::limiter::LoginLimiter;
use bouncer_core::cache::Memcached;
use bouncer_core::config::Config;
use bouncer_core::db::{self, DbPool};
use bouncer_service::dockerflow::{self, Version};
use bouncer_service::shutdown::Background;
use bouncer_service::Application;
use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

/// Failed logins allowed per (username, client address) within [`LOGIN_WINDOW`].
pub const MAX_LOGIN_FAILURES: u32 = 10;
/// The window of the failed-login limit.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// State shared by tuxedo's handlers.
pub struct AppState {
    pub config: Config,
    /// The master, where tuxedo writes the catalogue (sentry writes only what it measures:
    /// health and learned file metadata).
    pub master: DbPool,
    /// The API reads' own connections to the master (`tuxedo.read_pool_size`), so reads,
    /// which need no credentials by default, cannot take every connection writes need.
    pub reads: DbPool,
    /// The shared memcached tier, where writes publish the catalogue generation; `None`
    /// when no server is configured.
    pub cache: Option<Arc<Memcached>>,
    pub registry: prometheus::Registry,
    pub version: Version,
    pub limiter: LoginLimiter,
    /// The web UI's sessions and templates.
    pub ui: ui::UiState,
    /// The bounce fleet writes wait for; `None` without `fleet.token`.
    pub fleet: Option<fleet::Fleet>,
    /// Where passwords are checked (bounded; see `auth::checker`).
    pub checker: auth::checker::Checker,
    /// Credentials that passed a check lately (see `auth::checker::Remembered`).
    pub remembered: auth::checker::Remembered,
    metrics: metrics::ApiMetrics,
}

/// Builds the state, the background loops (gates, history) and the HTTP server on
/// `listener`, all of which stop when `shutdown` resolves (see
/// [`bouncer_service::shutdown`]). On a database without accounts it creates `admin` and
/// prints its one-time password to stderr.
pub fn build(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Application, TuxedoError> {
    if config.database.migrate_on_start {
        bouncer_service::migrate(&config)?;
    }
    let master = db::pool(&config.database.url, bouncer_service::pool_options(&config))?;
    let reads = db::pool(
        &config.database.url,
        db::PoolOptions {
            max_size: config.tuxedo.read_pool_size,
            ..bouncer_service::pool_options(&config)
        },
    )?;
    bootstrap_admin(&master);
    // The dummy hash unknown accounts are checked against, made now rather than on the
    // first failed login.
    auth::users::prepare()?;
    let registry = prometheus::Registry::new_custom(Some("tuxedo".into()), None)?;
    let state = web::Data::new(AppState {
        metrics: metrics::ApiMetrics::register(&registry)?,
        fleet: fleet::Fleet::from_config(&config)?,
        checker: auth::checker::Checker::new(
            config.tuxedo.login_workers,
            config.tuxedo.login_queue,
        )?,
        remembered: auth::checker::Remembered::new(),
        cache: Memcached::from_config(&config.memcached).map(Arc::new),
        config,
        master,
        reads,
        registry,
        version: Version::new(env!("CARGO_PKG_VERSION")),
        limiter: LoginLimiter::new(MAX_LOGIN_FAILURES, LOGIN_WINDOW),
        ui: ui::UiState::new()?,
    });
    tracing::info!(config = %state.config.redacted(), "tuxedo starting");
    let background = Background::new();
    if let Some(every) = gatekeeper::every(&state.config) {
        background.spawn(gatekeeper::run(state.clone(), every, background.token()));
    }
    if let Some(every) = history::every(&state.config) {
        background.spawn(history::run(state.clone(), every, background.token()));
    }
    if let Some(every) = pruning::every(&state.config) {
        background.spawn(pruning::run(state.clone(), every, background.token()));
    }
    let separate = state.config.tuxedo.metrics_listen;
    let public = state.clone();
    let stop = bouncer_service::shutdown::input(shutdown);
    let app = Application::start_writer(listener, stop, move |cfg| {
        cfg.app_data(public.clone());
        routes(cfg, separate.is_none());
    })?
    .with_background(background);
    Ok(match separate {
        Some(addr) => app.with_metrics(TcpListener::bind(addr)?, move |cfg| {
            cfg.app_data(state.clone());
            cfg.route("/metrics", web::to(metrics));
        })?,
        None => app,
    })
}

/// tuxedo's routing table. `/metrics` is here unless `tuxedo.metrics_listen` gives it a
/// listener of its own.
fn routes(cfg: &mut web::ServiceConfig, with_metrics: bool) {
    cfg.route("/__lbheartbeat__", web::to(dockerflow::lbheartbeat))
        .route("/__heartbeat__", web::to(heartbeat))
        .route("/__version__", web::to(version));
    if with_metrics {
        cfg.route("/metrics", web::to(metrics));
    }
    cfg.configure(registry::routes)
        .configure(intake::routes)
        .configure(xml::routes)
        .configure(api::routes)
        .configure(ui::routes);
}

/// First start: no accounts yet, so make `admin` with a random password shown once. A
/// database that is down now is not fatal (the heartbeat reports it); the next start
/// retries.
fn bootstrap_admin(master: &DbPool) {
    let created = db::conn(master)
        .map_err(TuxedoError::from)
        .and_then(|mut c| auth::users::bootstrap(&mut c));
    match created {
        Ok(Some(password)) => {
            tracing::warn!(
                "no accounts: created user admin; its password is printed once on stderr"
            );
            eprintln!("tuxedo: created user `admin` with one-time password: {password}");
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "could not check for accounts"),
    }
}

async fn heartbeat(state: web::Data<AppState>) -> HttpResponse {
    let mut checks = vec![dockerflow::database_check("database", vec![state.master.clone()]).await];
    checks.extend(dockerflow::memcached_check(state.cache.clone()).await);
    dockerflow::heartbeat(&checks)
}

async fn version(state: web::Data<AppState>) -> HttpResponse {
    state.version.respond()
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let peak = state
        .checker
        .peak
        .load(std::sync::atomic::Ordering::Acquire);
    state
        .metrics
        .login_checks_peak
        .set(i64::try_from(peak).unwrap_or(i64::MAX));
    bouncer_service::metrics::render(&state.registry)
}
