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
    if let Some(left) = state.limiter.blocked_for(&user, ip) {
        tracing::warn!(user, %ip, "login refused: too many failures");
        return Err(TuxedoError::TooManyAttempts(retry_after_secs(left)));
    }
    let verified = check_login(state, &user, password).await?;
    let Some((principal, _)) = verified else {
        state.limiter.failed(&user, ip);
        tracing::warn!(user, %ip, "login failed");
        return Err(TuxedoError::Unauthorized);
    };
    state.limiter.succeeded(&user, ip);
    principal.require(permission)?;
    Ok(principal)
}

/// `user`'s account if `password` is right: the account is read on a master connection,
/// then the password checked on the login checker (see [`super::checker`]) with no
/// connection held, the whole within the database deadline.
pub(crate) async fn check_login(
    state: &web::Data<AppState>,
    user: &str,
    password: String,
) -> Result<Option<(Principal, String)>> {
    let pool = state.master.clone();
    let name = user.to_owned();
    let candidate = crate::exec::within_deadline(state, move || {
        let mut conn = db::conn(&pool)?;
        users::candidate(&mut conn, &name)
    })
    .await?;
    if let Some(stamp) = candidate.stamp() {
        if state.remembered.knows(user, &password, &stamp) {
            return candidate.accept();
        }
    }
    let (name, secret) = (user.to_owned(), password.clone());
    let limit = std::time::Duration::from_millis(state.config.database.query_timeout_ms);
    let checked = state
        .checker
        .run(move || users::check(candidate, &name, &secret));
    let verified = match tokio::time::timeout(limit, checked).await {
        Ok(done) => done?,
        Err(_) => {
            return Err(TuxedoError::Busy(
                "the login was not checked in time; retry".into(),
            ))
        }
    };
    if let Some((_, stamp)) = &verified {
        state.remembered.learn(user, &password, stamp.clone());
    }
    Ok(verified)
}

/// Whole seconds of a lockout, rounded up (a `Retry-After` of 0 would invite a retry now).
pub(crate) fn retry_after_secs(left: std::time::Duration) -> u64 {
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
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
    let verified = crate::exec::within_deadline(state, move || {
        let mut conn = db::conn(&pool)?;
        tokens::verify(&mut conn, &secret)
    })
    .await?;
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

/// Refuses a write a browser sent on behalf of another site: `Sec-Fetch-Site: cross-site`,
/// or an `Origin` whose host (and port) is not the request's host. Browsers cache Basic
/// credentials, so without this a page elsewhere could post a form that writes. Clients
/// that send neither header (curl, release automation) pass; so do reads.
pub(crate) fn same_origin(req: &HttpRequest) -> Result<()> {
    use actix_web::http::Method;
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
    };
    if header("sec-fetch-site").is_some_and(|v| v.eq_ignore_ascii_case("cross-site")) {
        return Err(TuxedoError::CrossOrigin(
            "the browser says it comes from another site (Sec-Fetch-Site: cross-site)".into(),
        ));
    }
    let Some(origin) = header("origin") else {
        return Ok(());
    };
    let host = req.connection_info().host().to_owned();
    match same_host(&origin, &host) {
        true => Ok(()),
        false => Err(TuxedoError::CrossOrigin(format!(
            "Origin {origin:?} is not this server ({host})"
        ))),
    }
}

/// Whether the origin `origin` (`scheme://host[:port]`) names `host` (a `Host` header
/// value; without a port, the origin scheme's default).
fn same_host(origin: &str, host: &str) -> bool {
    let Ok(o) = url::Url::parse(origin) else {
        return false;
    };
    let Ok(h) = url::Url::parse(&format!("{}://{host}", o.scheme())) else {
        return false;
    };
    o.host_str().is_some()
        && o.host_str() == h.host_str()
        && o.port_or_known_default() == h.port_or_known_default()
        && h.path() == "/"
}

#[cfg(test)]
mod tests {
    use super::same_host;

    #[test]
    fn origins_match_their_host_only() {
        assert!(same_host("https://tuxedo.example", "tuxedo.example"));
        assert!(same_host("https://tuxedo.example", "Tuxedo.Example:443"));
        assert!(same_host("http://127.0.0.1:8001", "127.0.0.1:8001"));
        assert!(same_host("http://[::1]:8001", "[::1]:8001"));
        assert!(!same_host("http://127.0.0.1:8002", "127.0.0.1:8001"));
        assert!(!same_host("https://evil.example", "tuxedo.example"));
        assert!(!same_host("https://tuxedo.example.evil", "tuxedo.example"));
        assert!(!same_host("null", "tuxedo.example"));
        assert!(!same_host("https://tuxedo.example", "tuxedo.example/x"));
    }
}
