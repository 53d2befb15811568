//! Reading a request body, the same way for both APIs: at most `tuxedo.max_body_bytes`
//! (413 past it, the declared `Content-Length` checked before anything is read), within
//! `tuxedo.body_timeout_ms` (408 past it), so a client that trickles a body cannot hold a
//! connection. Callers authenticate from the headers first.

use crate::error::{Result, TuxedoError};
use crate::AppState;
use actix_web::web::{self, Bytes};
use actix_web::HttpRequest;
use std::time::Duration;

/// The whole body of `req`; a broken stream is [`TuxedoError::BadRequest`].
pub(crate) async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Bytes> {
    let limit = state.config.tuxedo.max_body_bytes;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(TuxedoError::PayloadTooLarge(limit));
    }
    let timeout_ms = state.config.tuxedo.body_timeout_ms;
    actix_web::rt::time::timeout(
        Duration::from_millis(timeout_ms),
        payload.to_bytes_limited(limit),
    )
    .await
    .map_err(|_| TuxedoError::BodyTimeout(timeout_ms))?
    .map_err(|_| TuxedoError::PayloadTooLarge(limit))?
    .map_err(|e| TuxedoError::BadRequest(e.to_string()))
}
