//! The daemon's HTTP side: Dockerflow endpoints and metrics, and — with agents configured
//! — the agents' channel: their scope, and their findings (see `vantage`).

use crate::run::Sentry;
use crate::vantage::{Finding, Vantages};
use crate::{RunOptions, SentryError};
use actix_web::{web, HttpRequest, HttpResponse};
use bouncer_core::db::DbPool;
use bouncer_service::dockerflow::{self, Version};
use bouncer_service::shutdown;
use bouncer_service::Application;
use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;

struct State {
    pool: DbPool,
    cache: Option<Arc<bouncer_core::cache::Memcached>>,
    metrics: Arc<crate::Metrics>,
    version: Version,
    vantages: Option<Arc<Vantages>>,
    policy: crate::Policy,
    probe_lang: String,
}

/// Starts the endpoints of `sentry` on `listener` (tests pass a port-0 listener).
pub fn serve(
    sentry: &Sentry,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Application> {
    let state = web::Data::new(State {
        pool: sentry.pool().clone(),
        cache: sentry.cache(),
        metrics: sentry.metrics(),
        version: Version::new(env!("CARGO_PKG_VERSION")),
        vantages: sentry.vantages(),
        policy: sentry.policy(),
        probe_lang: sentry.probe_lang().to_owned(),
    });
    Application::start(listener, shutdown::input(shutdown), move |cfg| {
        cfg.app_data(state.clone());
        routes(cfg);
    })
}

/// The daemon's table of contents.
fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/__lbheartbeat__", web::get().to(dockerflow::lbheartbeat))
        .route("/__heartbeat__", web::get().to(heartbeat))
        .route("/__version__", web::get().to(version))
        .route("/metrics", web::get().to(metrics))
        .route("/vantage/scope", web::get().to(scope))
        .route("/vantage/findings", web::post().to(findings));
}

async fn heartbeat(state: web::Data<State>) -> HttpResponse {
    let mut checks = vec![dockerflow::database_check("database", vec![state.pool.clone()]).await];
    checks.extend(dockerflow::memcached_check(state.cache.clone()).await);
    dockerflow::heartbeat(&checks)
}

async fn version(state: web::Data<State>) -> HttpResponse {
    state.version.respond()
}

async fn metrics(state: web::Data<State>) -> HttpResponse {
    bouncer_service::metrics::render(&state.metrics.registry)
}

/// The most bytes of one findings request (about 100,000 findings).
const MAX_FINDINGS_BYTES: usize = 16 * 1024 * 1024;

/// Why the agents' channel refused a request.
enum Refused {
    /// No agent is configured: the channel is not there.
    NoAgents,
    /// No token, or one of no configured agent.
    Unauthorized,
}

impl Refused {
    fn respond(self) -> HttpResponse {
        match self {
            Refused::NoAgents => {
                HttpResponse::NotFound().body("no agents configured (sentry.agents)\n")
            }
            Refused::Unauthorized => HttpResponse::Unauthorized()
                .insert_header(("WWW-Authenticate", "Bearer"))
                .body("an agent's token is required (Authorization: Bearer)\n"),
        }
    }
}

/// The agent an `Authorization: Bearer` secret belongs to.
fn agent<'s>(state: &'s State, req: &HttpRequest) -> Result<(&'s Arc<Vantages>, String), Refused> {
    let vantages = state.vantages.as_ref().ok_or(Refused::NoAgents)?;
    let secret = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match secret.and_then(|s| vantages.agent(s.trim())) {
        Some(name) => Ok((vantages, name.to_owned())),
        None => Err(Refused::Unauthorized),
    }
}

/// The controller's scope, for agents to check the same mirrors and locations.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Scope {
    pub mirrors: Vec<crate::Target>,
    pub locations: Vec<crate::Loc>,
}

/// `GET /vantage/scope`: every active mirror and location, with the sizes expected.
async fn scope(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    if let Err(refused) = agent(&state, &req) {
        return refused.respond();
    }
    let (pool, lang) = (state.pool.clone(), state.probe_lang.clone());
    let loaded = tokio::task::spawn_blocking(move || {
        let mut conn = bouncer_core::db::conn(&pool)?;
        crate::store::load_scope(&mut conn, &RunOptions::default(), &lang)
    })
    .await;
    match loaded {
        Ok(Ok((mirrors, locations))) => HttpResponse::Ok().json(Scope { mirrors, locations }),
        Ok(Err(e)) => unavailable(&e),
        Err(e) => unavailable(&SentryError::from(e)),
    }
}

/// `POST /vantage/findings`: one agent's findings (a JSON array of `Finding`), recorded
/// as its vantage's and settled. The agent is known before the body is read.
async fn findings(
    state: web::Data<State>,
    req: HttpRequest,
    mut body: web::Payload,
) -> HttpResponse {
    use futures_util::StreamExt;
    let (vantages, name) = match agent(&state, &req) {
        Ok(found) => found,
        Err(refused) => return refused.respond(),
    };
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return HttpResponse::BadRequest().body("bad request: the body could not be read\n");
        };
        if bytes.len() + chunk.len() > MAX_FINDINGS_BYTES {
            return HttpResponse::PayloadTooLarge().body(format!(
                "more than {MAX_FINDINGS_BYTES} bytes: send fewer findings at once\n"
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    let found: Vec<Finding> = match serde_json::from_slice(&bytes) {
        Ok(found) => found,
        Err(e) => return HttpResponse::BadRequest().body(format!("bad request: findings: {e}\n")),
    };
    let (pool, policy, cache, vantages) = (
        state.pool.clone(),
        state.policy,
        state.cache.clone(),
        vantages.clone(),
    );
    let metrics = state.metrics.clone();
    let applied = tokio::task::spawn_blocking(move || {
        let mut conn = bouncer_core::db::conn(&pool)?;
        let now = chrono::Utc::now().naive_utc();
        let applied = bouncer_core::db::classify::retrying(
            || crate::vantage::apply(&mut conn, &policy, &vantages, &name, &found, now),
            SentryError::is_transient,
        )?;
        crate::run::publish(cache.as_deref(), applied.generation, &applied.settled.changes);
        metrics.vantage_findings(&name, found.len());
        tracing::info!(vantage = %name, findings = found.len(), changed = applied.recorded.changed.len(), skipped = applied.recorded.skipped, turned = applied.settled.keys, "vantage findings recorded");
        Ok::<_, SentryError>(applied)
    })
    .await;
    match applied {
        Ok(Ok(a)) => HttpResponse::Ok().json(serde_json::json!({
            "changed": a.recorded.changed.len(),
            "skipped": a.recorded.skipped,
            "verdicts_changed": a.settled.keys,
            "generation": a.generation,
        })),
        Ok(Err(e)) => unavailable(&e),
        Err(e) => unavailable(&SentryError::from(e)),
    }
}

/// The database (or a task) failed: 503, logged.
fn unavailable(e: &SentryError) -> HttpResponse {
    tracing::error!(error = %e, "vantage request failed");
    HttpResponse::ServiceUnavailable().body(format!("unavailable: {e}\n"))
}
