//! The fleet's registration endpoints (see `bouncer_core::fleet` and [`crate::fleet`]):
//! internal, token-guarded, not part of the APIs. Refused before the body is read.

use crate::error::TuxedoError;
use crate::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use bouncer_core::fleet::{self, Registered, Registration};
use std::time::Duration;

/// Why a fleet call was refused before its body was read.
pub(crate) enum Refused {
    /// No fleet configured: the endpoint does not exist (404).
    NoFleet,
    /// No token, or a wrong one (401).
    Token,
    /// The body, or the state (a bug: 500).
    Error(TuxedoError),
}

impl Refused {
    pub(crate) fn respond(self) -> HttpResponse {
        match self {
            Refused::NoFleet => HttpResponse::NotFound().body("no fleet configured\n"),
            Refused::Token => HttpResponse::Unauthorized()
                .insert_header((actix_web::http::header::WWW_AUTHENTICATE, "Bearer"))
                .body("a fleet bearer token is required\n"),
            Refused::Error(e) => plain(&e),
        }
    }
}

/// The state of `req`'s tuxedo when the caller carries the fleet's token; refused before
/// the body is read.
pub(crate) fn admitted(req: &HttpRequest) -> std::result::Result<web::Data<AppState>, Refused> {
    let state = crate::caller::state_of(req).map_err(Refused::Error)?;
    let Some(fleet) = &state.fleet else {
        return Err(Refused::NoFleet);
    };
    let given = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if !fleet.admits(given) {
        return Err(Refused::Token);
    }
    Ok(state)
}

pub(crate) fn plain(e: &TuxedoError) -> HttpResponse {
    let status = e.status();
    let text = match status.is_server_error() {
        true => "service unavailable; try again".to_owned(),
        false => e.to_string(),
    };
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{text}\n"))
}

/// An admitted caller's registration body, with the state.
async fn registration(
    req: &HttpRequest,
    payload: web::Payload,
) -> std::result::Result<(web::Data<AppState>, Registration), Refused> {
    let state = admitted(req)?;
    let body = crate::body::read(req, payload, &state)
        .await
        .map_err(Refused::Error)?;
    let r: Registration = serde_json::from_slice(&body).map_err(|e| {
        Refused::Error(TuxedoError::BadRequest(format!(
            "expected {{\"url\": \"…\"}}: {e}"
        )))
    })?;
    if let Some(why) = fleet::url_problem(&r.url) {
        return Err(Refused::Error(TuxedoError::BadRequest(why)));
    }
    Ok((state, r))
}

/// `POST /__fleet__/instances {"url": …}`: registers or renews an instance; answers the
/// catalogue generation now (the instance serves nothing older) and the lease.
pub async fn register(req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (state, Registration { url, applied }) = match registration(&req, payload).await {
        Ok(r) => r,
        Err(refused) => return refused.respond(),
    };
    let lease = state.fleet.as_ref().map_or(Duration::ZERO, |f| f.lease());
    let at = url.clone();
    let done = crate::exec::on_master(&state, false, move |c| {
        fleet::register(c, &at, applied, lease)?;
        Ok(bouncer_core::generation::current(c)?)
    })
    .await;
    match done {
        Ok(generation) => {
            tracing::debug!(url, generation, "bounce instance registered");
            HttpResponse::Ok().json(Registered {
                generation,
                lease_secs: lease.as_secs(),
            })
        }
        Err(e) => plain(&e),
    }
}

/// `DELETE /__fleet__/instances {"url": …}`: an instance leaving (204; 404 when it was
/// not registered).
pub async fn deregister(req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let (state, Registration { url, .. }) = match registration(&req, payload).await {
        Ok(r) => r,
        Err(refused) => return refused.respond(),
    };
    let at = url.clone();
    match crate::exec::on_master(&state, false, move |c| Ok(fleet::deregister(c, &at)?)).await {
        Ok(true) => {
            tracing::info!(url, "bounce instance left the fleet");
            HttpResponse::NoContent().finish()
        }
        Ok(false) => HttpResponse::NotFound().body("not registered\n"),
        Err(e) => plain(&e),
    }
}

/// The fleet's routes (internal: token-guarded, not part of the APIs).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(fleet::REGISTER_PATH, web::post().to(register))
        .route(fleet::REGISTER_PATH, web::delete().to(deregister));
}
