//! Download statistics from the bounce fleet (see `bouncer_core::stats`): each instance
//! posts what it counted, in batches, to `POST /__fleet__/stats` with the fleet's bearer
//! token (internal, like the registry; refused before the body is read). A batch is added
//! in one transaction or not at all; one sent again after a lost answer is recognised by
//! its id and answered as before without counting twice, so the sender can retry until it
//! hears an answer.

use crate::error::TuxedoError;
use crate::registry::{admitted, plain};
use actix_web::{web, HttpRequest, HttpResponse};
use bouncer_core::stats::{self, Added, Batch};

/// The answer to a batch, as the sender reads it.
#[derive(Debug, serde::Serialize)]
struct Answer {
    /// Downloads this call counted (0 for a repeat).
    counted: u64,
    /// The batch had been added before.
    repeat: bool,
}

/// `POST /__fleet__/stats {batch}`.
pub async fn receive(req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let state = match admitted(&req) {
        Ok(state) => state,
        Err(refused) => return refused.respond(),
    };
    let outcome = |label: &str| {
        state
            .metrics
            .stats_batches
            .with_label_values(&[label])
            .inc()
    };
    let batch = match read(&req, payload, &state).await {
        Ok(batch) => batch,
        Err(e) => {
            outcome("refused");
            return plain(&e);
        }
    };
    let now = chrono::Utc::now().timestamp();
    let added = crate::exec::on_master(&state, false, move |c| Ok(stats::add(c, &batch, now)?));
    match added.await {
        Ok(Added::Counted(n)) => {
            outcome("counted");
            state.metrics.stats_downloads.inc_by(n);
            HttpResponse::Ok().json(Answer {
                counted: n,
                repeat: false,
            })
        }
        Ok(Added::Repeat) => {
            outcome("repeat");
            HttpResponse::Ok().json(Answer {
                counted: 0,
                repeat: true,
            })
        }
        Err(e) => {
            outcome(if e.status().is_server_error() {
                "failed"
            } else {
                "refused"
            });
            plain(&e)
        }
    }
}

/// The body as a batch that can be stored; a 4xx naming the problem otherwise.
async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    state: &crate::AppState,
) -> Result<Batch, TuxedoError> {
    let body = crate::body::read(req, payload, state).await?;
    let batch: Batch = serde_json::from_slice(&body)
        .map_err(|e| TuxedoError::BadRequest(format!("expected a statistics batch: {e}")))?;
    match batch.refused() {
        Some(why) => Err(TuxedoError::BadRequest(why)),
        None => Ok(batch),
    }
}

/// The intake's route (internal: token-guarded, not part of the APIs).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(stats::PATH, web::post().to(receive));
}
