//! Plumbing shared by bounce, tuxedo and sentry, so each service's own crate holds only
//! what is its own: command-line flags every binary takes, the Dockerflow endpoints
//! (`/__lbheartbeat__`, `/__heartbeat__`, `/__version__`), Prometheus rendering, the
//! `migrate` subcommand, and how a service stops ([`shutdown`], [`Application`]).

pub mod client;
pub mod dockerflow;
pub mod fleet;
pub mod metrics;
pub mod shutdown;

use bouncer_core::config::Config;
use bouncer_core::db::{self, PoolOptions};
use std::path::PathBuf;
use std::time::Duration;

/// Flags every service binary accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Configuration file (TOML). Default: `bouncer.toml` in the working directory, if any.
    #[arg(long, short, env = "BOUNCER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

impl GlobalArgs {
    /// Loads and validates the configuration these flags name.
    pub fn load(&self) -> bouncer_core::Result<Config> {
        Config::load(self.config.as_deref())
    }
}

/// Pool options from the configuration.
pub fn pool_options(config: &Config) -> PoolOptions {
    PoolOptions {
        max_size: config.database.pool_size,
        connect_timeout: Duration::from_millis(config.database.connect_timeout_ms),
        lock_wait_timeout: Some(Duration::from_millis(config.database.query_timeout_ms)),
    }
}

/// Applies pending migrations to the master database and logs what was applied.
pub fn migrate(config: &Config) -> bouncer_core::Result<Vec<String>> {
    let pool = db::pool(&config.database.url, pool_options(config))?;
    let mut conn = db::conn(&pool)?;
    let applied = db::run_migrations(&mut conn)?;
    tracing::info!(
        database = %bouncer_core::config::mask_url(&config.database.url),
        applied = ?applied,
        "migrations up to date"
    );
    Ok(applied)
}

/// A bound, not yet running, HTTP server: what each service's `build` returns, so tests
/// can start the real thing on port 0 and learn the port.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    /// The separate `/metrics` listener, when configured.
    metrics: Option<(u16, actix_web::dev::Server)>,
    /// When to stop (see [`shutdown`]).
    stop: shutdown::Signal,
    /// The service's loops, stopped after the listeners.
    background: shutdown::Background,
}

impl Application {
    /// Serves the routes `configure` installs (state included) on `listener` until `stop`
    /// resolves.
    pub fn start<F>(
        listener: std::net::TcpListener,
        stop: shutdown::Signal,
        configure: F,
    ) -> std::io::Result<Self>
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
    {
        Self::serve(listener, stop, configure, false)
    }

    /// [`Application::start`] for a writer of the catalogue: an answer whose write some
    /// bounce instance did not confirm in time names them in `X-Bouncer-Unconfirmed`
    /// (see [`fleet::note_unconfirmed`]). Not for bounce: its requests pay nothing for it.
    pub fn start_writer<F>(
        listener: std::net::TcpListener,
        stop: shutdown::Signal,
        configure: F,
    ) -> std::io::Result<Self>
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
    {
        Self::serve(listener, stop, configure, true)
    }

    fn serve<F>(
        listener: std::net::TcpListener,
        stop: shutdown::Signal,
        configure: F,
        writer: bool,
    ) -> std::io::Result<Self>
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
    {
        use futures_util::future::Either;
        let port = listener.local_addr()?.port();
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .wrap_fn(move |req, srv| {
                    use actix_web::dev::Service as _;
                    let answer = srv.call(req);
                    let answer = match writer {
                        true => Either::Left(fleet::collecting(answer)),
                        false => Either::Right(async { (answer.await, Vec::new()) }),
                    };
                    async move {
                        let (res, unconfirmed) = answer.await;
                        let mut res = res?;
                        if !unconfirmed.is_empty() {
                            let list = unconfirmed.join(", ");
                            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&list) {
                                res.headers_mut().insert(
                                    actix_web::http::header::HeaderName::from_static(
                                        "x-bouncer-unconfirmed",
                                    ),
                                    v,
                                );
                            }
                        }
                        // Canonical header names (`Location`, `Content-Type`), as the
                        // services these replace send them: some scripts match
                        // `^Location:` case-sensitively.
                        res.response_mut().head_mut().set_camel_case_headers(true);
                        Ok(res)
                    }
                })
                .configure(configure.clone())
        })
        .disable_signals() // the shutdown input decides
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            metrics: None,
            stop,
            background: shutdown::Background::new(),
        })
    }

    /// The loops `background` runs stop (and are waited for) after the listeners.
    pub fn with_background(mut self, background: shutdown::Background) -> Self {
        self.background = background;
        self
    }

    /// Also serves the routes `configure` installs (`/metrics`) on `listener`, a port that
    /// is not public: per-endpoint counters are for the monitoring network only.
    pub fn with_metrics<F>(
        mut self,
        listener: std::net::TcpListener,
        configure: F,
    ) -> std::io::Result<Self>
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
    {
        let port = listener.local_addr()?.port();
        let server =
            actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
                .disable_signals()
                .workers(1)
                .listen(listener)?
                .run();
        self.metrics = Some((port, server));
        Ok(self)
    }

    /// The port of the separate metrics listener, if there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(p, _)| *p)
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the shutdown input resolves: the listeners stop taking connections and
    /// finish the requests in flight, then the background loops stop; returns when all
    /// have. A listener that fails stops the loops too.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            metrics,
            stop,
            background,
            ..
        } = self;
        let mut handles = vec![server.handle()];
        handles.extend(metrics.as_ref().map(|(_, m)| m.handle()));
        let servers = async move {
            match metrics {
                Some((_, metrics)) => futures_util::future::try_join(server, metrics)
                    .await
                    .map(|_| ()),
                None => server.await,
            }
        };
        let stopping = async move {
            stop.await;
            tracing::info!("stopping: listeners first, then background loops");
            for h in &handles {
                h.stop(true).await;
            }
        };
        tokio::pin!(servers);
        let served = tokio::select! {
            served = &mut servers => served,
            () = stopping => servers.await,
        };
        background.stop().await;
        tracing::info!("stopped");
        served
    }
}
