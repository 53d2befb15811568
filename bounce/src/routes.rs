//! bounce's routing table and its thin handlers.

use crate::outcome::{Download, Outcome, RequestInfo};
use crate::redirect;
use crate::{health, respond, AppState};
use actix_web::{http::header, web, HttpRequest, HttpResponse, ResponseError};
use bouncer_service::dockerflow;
use std::time::Instant;

/// Every path except the service endpoints is the redirector; any method. `/metrics` is
/// here unless `bounce.metrics_listen` gives it a listener of its own.
pub fn routes(cfg: &mut web::ServiceConfig, with_metrics: bool) {
    cfg.route("/__lbheartbeat__", web::to(dockerflow::lbheartbeat))
        .route("/__heartbeat__", web::to(heartbeat))
        .route("/__version__", web::to(version))
        .route(
            bouncer_core::fleet::APPLY_PATH,
            web::post().to(crate::fleet::apply),
        );
    if with_metrics {
        metrics_only(cfg);
    }
    cfg.default_service(web::to(redirect));
}

/// The separate metrics listener's one route.
pub fn metrics_only(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::to(metrics));
}

/// The state and this worker's Link values are borrowed from the app data: extracting
/// `web::Data` clones an `Arc` that every worker writes on every request.
async fn redirect(req: HttpRequest) -> HttpResponse {
    let started = Instant::now();
    let (Some(state), Some(links)) = (
        req.app_data::<web::Data<AppState>>(),
        req.app_data::<crate::links::LinkCache>(),
    ) else {
        return crate::BounceError::Bug("bounce's app data is missing".into()).error_response();
    };
    let text = |name: header::HeaderName| req.headers().get(name).and_then(|v| v.to_str().ok());
    let info = RequestInfo {
        query: req.query_string(),
        peer: req.peer_addr().map(|a| a.ip()),
        forwarded_for: bouncer_service::client::forwarded_for(req.headers()),
        user_agent: text(header::USER_AGENT).unwrap_or_default(),
        referer: text(header::REFERER).unwrap_or_default(),
        https: state
            .headers
            .pin_https
            .as_ref()
            .and_then(|name| req.headers().get(name))
            .is_some_and(|v| v.as_bytes() == b"https"),
        accept: bouncer_service::client::joined(req.headers(), &header::ACCEPT),
    };
    let response = match redirect::decide(&state.pipeline(), links, info).await {
        Ok((outcome, download)) => {
            state.metrics.count_request(outcome.label());
            if let Outcome::NotFound(missing) = &outcome {
                let reason = missing.label();
                state.metrics.not_found.with_label_values(&[reason]).inc();
            }
            // A download is a GET answered with a redirect to a file (not HEAD, not
            // `print=yes`, not a list): see docs/statistics.md.
            if let (Some(d), Some(shard)) = (download, req.app_data::<crate::counting::Shard>()) {
                let counted =
                    req.method() == actix_web::http::Method::GET && count(&req, state, shard, &d);
                if !counted {
                    let kind = match req.method() == actix_web::http::Method::GET {
                        true => "resume",
                        false => "head",
                    };
                    state.metrics.not_counted.with_label_values(&[kind]).inc();
                }
            }
            respond::render(outcome, &state.headers)
        }
        Err(e) => {
            state.metrics.count_request("error");
            tracing::warn!(error = %e, "redirect failed");
            e.error_response()
        }
    };
    state
        .metrics
        .latency
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Counts a download (see `counting`): a `Range` request from a client that got the file
/// lately is a resume; a crawler's User-Agent puts it in the bots' bucket. CDN mode does
/// not place clients, so its downloads are placed here: the country and address family
/// statistics report.
fn count(
    req: &HttpRequest,
    state: &AppState,
    shard: &crate::counting::Shard,
    d: &Download,
) -> bool {
    let mut d = *d;
    if d.client.is_none() {
        d.client = bouncer_service::client::client_ip(
            req.peer_addr().map(|a| a.ip()),
            bouncer_service::client::forwarded_for(req.headers()).as_deref(),
            &state.config.network.trusted_proxies,
        );
        if let Some(ip) = d.client {
            d.country = state.geo.place(ip).country;
            d.family = Some(bouncer_core::networks::Family::of(ip));
        }
    }
    let agent = req.headers().get(header::USER_AGENT);
    let agent = agent.map_or(&b""[..], |v| v.as_bytes());
    let ranged = req.headers().contains_key(header::RANGE);
    let Some(key) = shard.record(&d, d.client, ranged, agent) else {
        return false;
    };
    if let Some(log) = req.app_data::<crate::access_log::AccessLog>() {
        log.record(key, d.bytes);
    }
    true
}

async fn heartbeat(state: web::Data<AppState>) -> HttpResponse {
    let mut checks =
        vec![health::database(&state.catalogue, state.config.database.replicas.len()).await];
    checks.extend(dockerflow::memcached_check(state.catalogue.sources().cache.clone()).await);
    dockerflow::heartbeat(&checks)
}

async fn version(state: web::Data<AppState>) -> HttpResponse {
    state.version.respond()
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.generation.set(state.catalogue.applied());
    bouncer_service::metrics::render(&state.registry)
}
