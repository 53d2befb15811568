//! bounce's side of read-your-writes (see `bouncer_core::fleet`): the instance registers
//! with tuxedo before its first load and renews its lease, and answers a writer's apply
//! call once it serves the writer's generation.

use crate::catalogue::{watch, Catalogue};
use crate::metrics::Metrics;
use crate::BounceError;
use actix_web::{web, HttpRequest, HttpResponse};
use bouncer_core::config::Config;
use bouncer_core::fleet::{self, Applied, Apply};
use bouncer_service::fleet::{FleetClient, Shipped};
use bouncer_service::shutdown::{self, Background};
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Largest apply body read: the call is two numbers.
const MAX_APPLY_BYTES: usize = 1024;
/// The longest a writer may ask this instance to wait.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// This instance's membership of the fleet.
pub struct Fleet {
    client: FleetClient,
    tuxedos: Vec<String>,
    /// The URL tuxedo calls this instance at.
    pub me: String,
    lease: Duration,
}

impl Fleet {
    /// `None` when this instance does not register (no `fleet.tuxedo_urls`).
    pub fn from_config(config: &Config, listen: SocketAddr) -> Result<Option<Self>, BounceError> {
        let f = &config.fleet;
        let (Some(token), false) = (&f.token, f.tuxedo_urls.is_empty()) else {
            return Ok(None);
        };
        let me = match &f.advertise_url {
            Some(u) => u.clone(),
            None if listen.ip().is_unspecified() => {
                return Err(BounceError::Core(bouncer_core::CoreError::Config(format!(
                    "fleet.advertise_url: required when listening on {listen} (tuxedo cannot call a wildcard address)"
                ))))
            }
            None => format!("http://{listen}"),
        };
        let connect = Duration::from_millis(config.database.connect_timeout_ms);
        let client = FleetClient::new(token, connect)
            .map_err(|e| BounceError::Unavailable(format!("fleet client: {e}")))?;
        Ok(Some(Self {
            client,
            tuxedos: f.tuxedo_urls.clone(),
            me,
            lease: f.lease(),
        }))
    }

    /// Sends a download statistics batch (see `shipping`).
    pub async fn ship(&self, batch: &bouncer_core::stats::Batch) -> Result<(), Shipped> {
        let within = (self.lease / 3).clamp(Duration::from_secs(1), Duration::from_secs(10));
        self.client.ship(&self.tuxedos, batch, within).await
    }

    /// Leaves the fleet (bounded like a registration).
    async fn leave(&self) {
        let within = (self.lease / 3).clamp(Duration::from_millis(100), Duration::from_secs(5));
        match self.client.leave(&self.tuxedos, &self.me, within).await {
            Ok(()) => tracing::info!(url = self.me, "left the fleet"),
            Err(why) => tracing::warn!(url = self.me, error = why, "could not leave the fleet"),
        }
    }

    /// One registration (or renewal), bounded by a third of the lease; the generation
    /// tuxedo answers becomes the least this instance serves.
    async fn register(&self, catalogue: &Catalogue, metrics: &Metrics) {
        let within = (self.lease / 3).clamp(Duration::from_millis(100), Duration::from_secs(5));
        let applied = catalogue.applied();
        match self
            .client
            .register(&self.tuxedos, &self.me, applied, within)
            .await
        {
            Ok(r) => {
                metrics.fleet_registrations.with_label_values(&["ok"]).inc();
                catalogue
                    .sources()
                    .generation
                    .fetch_max(r.generation, std::sync::atomic::Ordering::AcqRel);
                tracing::debug!(url = self.me, generation = r.generation, "registered");
            }
            Err(why) => {
                metrics
                    .fleet_registrations
                    .with_label_values(&["failed"])
                    .inc();
                tracing::warn!(url = self.me, error = why, "could not register with tuxedo");
            }
        }
    }
}

/// Registers (once, bounded) before the watch's first load, so no write commits unseen
/// between the load and the registration; then runs the watch, and renews the lease every
/// third of it. When the service stops, both end and the instance leaves the fleet, so
/// writes neither wait for it nor name it.
pub fn start(
    fleet: Option<Arc<Fleet>>,
    catalogue: Arc<Catalogue>,
    metrics: Arc<Metrics>,
    cfg: watch::WatchConfig,
    background: &Background,
) {
    let token = background.token();
    background.spawn(async move {
        let Some(f) = &fleet else {
            return watch::run(catalogue, cfg, token).await;
        };
        f.register(&catalogue, &metrics).await;
        let renewals = shutdown::every(f.lease / 3, f.lease / 3, token.clone(), || {
            f.register(&catalogue, &metrics)
        });
        tokio::join!(renewals, watch::run(Arc::clone(&catalogue), cfg, token));
        f.leave().await;
    });
}

/// `POST /__fleet__/apply`: a writer's generation, answered with the one served once it
/// is served or the writer's wait ran out. The token is checked before the body is read;
/// without a configured token the endpoint does not exist.
pub async fn apply(req: HttpRequest, mut body: web::Payload) -> HttpResponse {
    let Some(state) = req.app_data::<web::Data<crate::AppState>>() else {
        return HttpResponse::InternalServerError().finish();
    };
    let refused = |status: actix_web::http::StatusCode, why: &str| {
        state
            .metrics
            .fleet_applies
            .with_label_values(&["refused"])
            .inc();
        HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .body(format!("{why}\n"))
    };
    let Some(token) = &state.config.fleet.token else {
        return refused(
            actix_web::http::StatusCode::NOT_FOUND,
            "no fleet configured",
        );
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if !fleet::authorized(given, token) {
        return refused(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "a fleet bearer token is required",
        );
    }
    let mut raw = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return refused(actix_web::http::StatusCode::BAD_REQUEST, "body not read");
        };
        if raw.len() + chunk.len() > MAX_APPLY_BYTES {
            return refused(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "body larger than 1024 bytes",
            );
        }
        raw.extend_from_slice(&chunk);
    }
    let call: Apply = match serde_json::from_slice(&raw) {
        Ok(a) => a,
        Err(e) => {
            return refused(
                actix_web::http::StatusCode::BAD_REQUEST,
                &format!("expected {{\"generation\": N, \"wait_ms\": N}}: {e}"),
            )
        }
    };
    let wait = Duration::from_millis(call.wait_ms).min(MAX_WAIT);
    let applied = state.catalogue.serve_at_least(call.generation, wait).await;
    let outcome = if applied >= call.generation {
        "served"
    } else {
        "behind"
    };
    state
        .metrics
        .fleet_applies
        .with_label_values(&[outcome])
        .inc();
    if outcome == "behind" {
        tracing::warn!(
            wanted = call.generation,
            applied,
            "a writer's generation not served within its wait"
        );
    }
    HttpResponse::Ok().json(Applied { applied })
}
