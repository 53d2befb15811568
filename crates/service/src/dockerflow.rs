//! Dockerflow endpoints: load-balancer heartbeat, dependency heartbeat, version.

use actix_web::{http::header::ContentType, HttpResponse};
use serde::Serialize;

/// `/__lbheartbeat__`: no I/O; says only that the process answers.
pub async fn lbheartbeat() -> HttpResponse {
    HttpResponse::Ok().finish()
}

/// Identity of the running build, served as `/__version__`.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    pub source: &'static str,
    pub version: &'static str,
    pub commit: &'static str,
    pub build: &'static str,
}

impl Version {
    /// The version of a service crate (pass `env!("CARGO_PKG_VERSION")`); commit and build
    /// come from the build (see `build.rs`).
    pub fn new(version: &'static str) -> Self {
        Self {
            source: "https://github.com/mozilla-services/bouncer",
            version,
            commit: env!("BOUNCER_BUILD_COMMIT"),
            build: env!("BOUNCER_BUILD_NAME"),
        }
    }

    /// The `/__version__` response.
    pub fn respond(&self) -> HttpResponse {
        HttpResponse::Ok().json(self)
    }
}

/// State of one dependency in `/__heartbeat__`, in the Dockerflow levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    Ok,
    /// Still answering correctly, from a fallback (stale data, master instead of replicas,
    /// no cache): the heartbeat stays 200, so a load balancer keeps the instance.
    Warning,
    /// The service cannot answer: the heartbeat is 500.
    Error,
}

/// One dependency check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub state: CheckState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    /// A check from a result: `Err` is at level `failed` with its message.
    pub fn from_result<E: std::fmt::Display>(
        name: &'static str,
        r: Result<(), E>,
        failed: CheckState,
    ) -> Self {
        match r {
            Ok(()) => Self {
                name,
                state: CheckState::Ok,
                detail: None,
            },
            Err(e) => Self {
                name,
                state: failed,
                detail: Some(e.to_string()),
            },
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    status: CheckState,
    checks: &'a [Check],
}

/// `/__heartbeat__`: 200 unless a check is at level `error` (a warning still serves), 500
/// then; the JSON report names every check.
pub fn heartbeat(checks: &[Check]) -> HttpResponse {
    let status = checks
        .iter()
        .map(|c| c.state)
        .max_by_key(|s| match s {
            CheckState::Ok => 0,
            CheckState::Warning => 1,
            CheckState::Error => 2,
        })
        .unwrap_or(CheckState::Ok);
    let body = Report { status, checks };
    let mut resp = if status == CheckState::Error {
        HttpResponse::InternalServerError()
    } else {
        HttpResponse::Ok()
    };
    resp.content_type(ContentType::json()).json(body)
}

/// Checks that at least one of `pools` answers a query (run off the async executor).
/// `Ok` names nothing; the error is the first failure's message.
pub async fn database_check(name: &'static str, pools: Vec<bouncer_core::db::DbPool>) -> Check {
    let results = actix_web::web::block(move || {
        pools
            .iter()
            .map(|p| bouncer_core::db::ping(p).map_err(|e| e.to_string()))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_else(|e| vec![Err(e.to_string())]);
    let outcome = if results.iter().any(Result::is_ok) {
        Ok(())
    } else {
        Err(results
            .into_iter()
            .find_map(Result::err)
            .unwrap_or_else(|| "no database configured".into()))
    };
    Check::from_result(name, outcome, CheckState::Error)
}

/// The memcached check, when servers are configured: a dead server is a warning (every
/// service keeps answering correctly without it, only slower or with later freshness).
pub async fn memcached_check(
    cache: Option<std::sync::Arc<bouncer_core::cache::Memcached>>,
) -> Option<Check> {
    let cache = cache?;
    let failed = actix_web::web::block(move || cache.probe())
        .await
        .unwrap_or_else(|e| vec![("memcached".into(), e.to_string())]);
    let detail = failed
        .iter()
        .map(|(s, e)| format!("{s}: {e}"))
        .collect::<Vec<_>>()
        .join("; ");
    let outcome = match failed.is_empty() {
        true => Ok(()),
        false => Err(detail),
    };
    Some(Check::from_result(
        "memcached",
        outcome,
        CheckState::Warning,
    ))
}
