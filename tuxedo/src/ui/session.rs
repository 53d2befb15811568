//! Browser sessions of the web UI: kept on the server (in memory) under a random id that
//! is the only thing in the cookie, so logout really ends a session and nothing the
//! browser holds can be forged or replayed after it. Each session has its own CSRF token,
//! which every form must send back. A restart logs everyone out, which is acceptable for
//! an admin tool with one instance.

use crate::auth::Role;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use base64::Engine;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Name of the session cookie.
pub const COOKIE: &str = "tuxedo_session";
/// Name of the cookie that carries the login form's CSRF token (double submit: there is
/// no session yet to keep it in).
pub const LOGIN_COOKIE: &str = "tuxedo_login";
/// A session unused this long is gone.
pub const IDLE: Duration = Duration::from_secs(8 * 60 * 60);
/// Sessions kept before expired ones are swept.
const SWEEP_AT: usize = 1_000;

/// A message shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Flash {
    /// `ok` or `error`.
    pub kind: &'static str,
    pub text: String,
}

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub username: String,
    /// The role at login; every request re-reads the account, so this is only a hint.
    pub role: Role,
    /// The [`crate::auth::users::password_stamp`] of the password at login: the session
    /// ends when it changes.
    pub stamp: String,
    pub csrf: String,
    flash: Vec<Flash>,
    last_seen: Instant,
}

/// Sessions by id.
pub struct SessionStore {
    map: Mutex<HashMap<String, Session>>,
}

impl Default for SessionStore {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl SessionStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for `username`, logged in with the password of `stamp`, and
    /// returns its id.
    pub fn create(&self, username: &str, role: Role, stamp: String) -> String {
        let id = random_token();
        let mut map = self.lock();
        if map.len() >= SWEEP_AT {
            map.retain(|_, s| s.last_seen.elapsed() < IDLE);
        }
        map.insert(
            id.clone(),
            Session {
                username: username.to_owned(),
                role,
                stamp,
                csrf: random_token(),
                flash: Vec::new(),
                last_seen: Instant::now(),
            },
        );
        id
    }

    /// The live session `id`, marked as used now.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.lock();
        let expired = map.get(id)?.last_seen.elapsed() >= IDLE;
        if expired {
            map.remove(id);
            return None;
        }
        let s = map.get_mut(id)?;
        s.last_seen = Instant::now();
        Some(s.clone())
    }

    /// Ends session `id`.
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Queues a message for the next page of session `id`.
    pub fn flash(&self, id: &str, kind: &'static str, text: String) {
        if let Some(s) = self.lock().get_mut(id) {
            s.flash.push(Flash { kind, text });
        }
    }

    /// The queued messages of session `id`, now forgotten.
    pub fn take_flash(&self, id: &str) -> Vec<Flash> {
        self.lock()
            .get_mut(id)
            .map(|s| std::mem::take(&mut s.flash))
            .unwrap_or_default()
    }
}

/// 256 random bits, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie of the UI: HttpOnly, SameSite=Strict, limited to `/ui`, and Secure when the
/// browser reached us over https (directly or through the TLS-terminating front, which
/// says so in `X-Forwarded-Proto`; trusting that header can only add the flag).
pub fn cookie(req: &HttpRequest, name: &'static str, value: String) -> Cookie<'static> {
    let https = req.connection_info().scheme() == "https"
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    Cookie::build(name, value)
        .path("/ui")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .finish()
}

/// The same cookie, expired (logout).
pub fn removal(req: &HttpRequest, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(req, name, String::new());
    c.make_removal();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_carry_flash_once_and_end_on_remove() {
        let store = SessionStore::default();
        let id = store.create("rel", Role::Release, "stamp".into());
        let s = store.get(&id).unwrap();
        assert_eq!(s.username, "rel");
        assert_ne!(s.csrf, id);
        store.flash(&id, "ok", "done".into());
        assert_eq!(store.take_flash(&id).len(), 1);
        assert!(store.take_flash(&id).is_empty());
        store.remove(&id);
        assert!(store.get(&id).is_none());
        assert!(store.get("forged").is_none());
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
        assert!(!same_secret("", ""));
    }
}
