//! Authenticating an HTTP request: Basic credentials checked against the accounts, with
//! the failed-login limit applied per (username, client address), or a Bearer API token.
//! Token failures are not limited: a 256-bit random secret cannot be guessed, and a limit
//! per address would let one client's expired token lock out every token behind the same
//! NAT.

use super::{parse_basic, tokens, users, Permission, Principal};
use crate::error::{Result, TuxedoError};
use crate::AppState;
use actix_web::{web, HttpRequest};
use bouncer_core::db;
use std::net::IpAddr;

/// The caller, checked for `permission`. Errors: 401 without valid credentials, 429 while
/// locked out, 403 when the role (a token's own role) does not grant `permission`.
pub async fn authenticate(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    permission: Permission,
) -> Result<Principal> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .ok_or(TuxedoError::Unauthorized)?;
    if let Some(secret) = bearer(header) {
        return with_token(req, state, secret.to_owned(), permission).await;
    }
    let (user, password) = parse_basic(header).ok_or(TuxedoError::Unauthorized)?;
    let ip = client_ip(req, state);
    if state.limiter.is_blocked(&user, ip) {
        tracing::warn!(user, %ip, "login refused: too many failures");
        return Err(TuxedoError::TooManyAttempts);
    }
    let pool = state.master.clone();
    let name = user.clone();
    // A database lookup plus argon2 (deliberately slow): off the async executor.
    let verified = web::block(move || {
        let mut conn = db::conn(&pool)?;
        users::verify(&mut conn, &name, &password)
    })
    .await
    .map_err(|e| TuxedoError::Internal(e.to_string()))??;
    let Some(principal) = verified else {
        state.limiter.failed(&user, ip);
        tracing::warn!(user, %ip, "login failed");
        return Err(TuxedoError::Unauthorized);
    };
    state.limiter.succeeded(&user, ip);
    principal.require(permission)?;
    Ok(principal)
}

/// The secret of an `Authorization: Bearer …` header value.
fn bearer(header: &str) -> Option<&str> {
    let (scheme, secret) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| secret.trim())
        .filter(|s| !s.is_empty())
}

async fn with_token(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    secret: String,
    permission: Permission,
) -> Result<Principal> {
    let pool = state.master.clone();
    let verified = web::block(move || {
        let mut conn = db::conn(&pool)?;
        tokens::verify(&mut conn, &secret)
    })
    .await
    .map_err(|e| TuxedoError::Internal(e.to_string()))??;
    let Some(principal) = verified else {
        let ip = client_ip(req, state);
        tracing::warn!(%ip, "unknown, expired or revoked token");
        return Err(TuxedoError::Unauthorized);
    };
    principal.require(permission)?;
    Ok(principal)
}

/// The client's address: the peer, or the last address a trusted proxy appended to
/// `X-Forwarded-For`.
pub(crate) fn client_ip(req: &HttpRequest, state: &AppState) -> IpAddr {
    let peer = req.peer_addr().map(|a| a.ip());
    bouncer_service::client::client_ip(
        peer,
        bouncer_service::client::forwarded_for(req.headers()).as_deref(),
        &state.config.network.trusted_proxies,
    )
    .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}
