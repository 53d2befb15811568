//! The bounce fleet as the writers see it: read-your-writes at acknowledgement.
//!
//! Release automation writes an alias through tuxedo and reads it back from bounce at once,
//! with no retry. Polling the published generation cannot promise that (a poll interval is
//! a window of stale answers), so the writer pays instead: every bounce instance registers
//! with tuxedo under a lease ([`register`], renewed every third of the lease), and after a
//! catalogue write commits and is published, the writer tells each live instance
//! ([`live`]) the new generation on [`APPLY_PATH`] and waits — bounded by
//! `tuxedo.visibility_timeout_ms` — until each answers that it serves it. Requests pay
//! nothing: the apply call wakes the instance's watch, which is the only thing that
//! changes what requests read.
//!
//! A crashed or cut-off instance stops renewing. Until its lease has expired a write waits
//! for it up to the timeout and is still acknowledged, naming it in [`UNCONFIRMED_HEADER`]:
//! the caller learns which instances may still serve the old answer, instead of a write
//! that seems to have failed. After that it is no longer waited for, but still named on
//! every write until `fleet.forget_secs` have passed (a region cut off keeps serving what
//! it last knew, and tuxedo cannot tell that from a crash): a write acknowledged without
//! naming an instance is served by it.
//!
//! Both directions carry `Authorization: Bearer <fleet.token>`; without the token (or
//! without a configured one) the endpoints refuse.

use crate::db::classify::is_unique_violation;
use crate::db::DbConnection;
use crate::schema::bouncer_instances as i;
use crate::Result;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// tuxedo: where bounce instances register (POST) and leave (DELETE).
pub const REGISTER_PATH: &str = "/__fleet__/instances";
/// bounce: where a writer says which generation it waits for (POST).
pub const APPLY_PATH: &str = "/__fleet__/apply";
/// On a write's answer: the instances that had not confirmed it in time, comma-separated.
pub const UNCONFIRMED_HEADER: &str = "X-Bouncer-Unconfirmed";
/// Longest accepted instance URL (the registry's key).
pub const MAX_URL_BYTES: usize = 255;

/// An instance's registration: the base URL the writers reach it at, and the generation
/// it serves (how a writer learns that its database went back in history, see
/// [`crate::history`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub url: String,
    #[serde(default)]
    pub applied: i64,
}

/// The answer to a registration: the catalogue generation at that moment (the instance
/// serves nothing older; a write that committed before the registration was not waited
/// for and must still reach it) and the lease.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Registered {
    pub generation: i64,
    pub lease_secs: u64,
}

/// A writer's call: serve `generation`, answering within `wait_ms`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Apply {
    pub generation: i64,
    pub wait_ms: u64,
}

/// An instance's answer: the generation it serves now.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Applied {
    pub applied: i64,
}

/// Why a registration URL is refused, or `None`: an absolute http(s) URL with a host, no
/// query or fragment, at most [`MAX_URL_BYTES`].
pub fn url_problem(url: &str) -> Option<String> {
    if url.len() > MAX_URL_BYTES {
        return Some(format!("url: longer than {MAX_URL_BYTES} bytes"));
    }
    match url::Url::parse(url) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.query().is_none()
                && u.fragment().is_none() =>
        {
            None
        }
        _ => Some(format!(
            "url: expected an absolute http(s) base URL without query, got {url:?}"
        )),
    }
}

/// Whether a request's `Authorization` header carries `token` as a bearer token
/// (compared in constant time).
pub fn authorized(header: Option<&[u8]>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else {
        return false;
    };
    subtle::ConstantTimeEq::ct_eq(given, token.as_bytes()).into()
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// Registers (or renews) the instance at `url`, serving generation `applied`, for `lease`.
pub fn register(conn: &mut DbConnection, url: &str, applied: i64, lease: Duration) -> Result<()> {
    let now = now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(15));
    let renewed = diesel::update(i::table.filter(i::url.eq(url)))
        .set((i::expires_at.eq(until), i::applied.eq(applied)))
        .execute(conn)?;
    if renewed == 1 {
        return Ok(());
    }
    let inserted = diesel::insert_into(i::table)
        .values((
            i::url.eq(url),
            i::applied.eq(applied),
            i::registered_at.eq(now),
            i::expires_at.eq(until),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(()),
        // A concurrent registration of the same URL inserted it: renew that row.
        Err(e) if is_unique_violation(&e) => {
            diesel::update(i::table.filter(i::url.eq(url)))
                .set((i::expires_at.eq(until), i::applied.eq(applied)))
                .execute(conn)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes the instance at `url` (a clean shutdown); `false` when it was not registered.
pub fn deregister(conn: &mut DbConnection, url: &str) -> Result<bool> {
    Ok(diesel::delete(i::table.filter(i::url.eq(url))).execute(conn)? > 0)
}

/// The registered instances, by URL: `live` (lease running: writes wait for them) and
/// `lapsed` (lease expired less than `forget` ago: crashed, or cut off and still serving
/// what it last knew — writes do not wait for them but name them as unconfirmed, since
/// nobody can tell the two apart). Rows lapsed longer are removed on the way (one more
/// statement, only when there are any).
pub fn members(conn: &mut DbConnection, forget: Duration) -> Result<Members> {
    let now = now();
    let horizon = now - chrono::Duration::from_std(forget).unwrap_or(chrono::Duration::hours(1));
    let rows: Vec<(String, NaiveDateTime)> = i::table
        .select((i::url, i::expires_at))
        .order(i::url.asc())
        .load(conn)?;
    if rows.iter().any(|(_, until)| *until <= horizon) {
        diesel::delete(i::table.filter(i::expires_at.le(horizon))).execute(conn)?;
    }
    let mut m = Members::default();
    for (url, until) in rows {
        match until {
            u if u > now => m.live.push(url),
            u if u > horizon => m.lapsed.push(url),
            _ => {}
        }
    }
    Ok(m)
}

/// See [`members`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Members {
    pub live: Vec<String>,
    pub lapsed: Vec<String>,
}

/// The highest generation a live instance reported serving.
pub fn highest_applied(conn: &mut DbConnection) -> Result<Option<i64>> {
    Ok(i::table
        .filter(i::expires_at.gt(now()))
        .select(diesel::dsl::max(i::applied))
        .first::<Option<i64>>(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let token = "0123456789abcdef";
        assert!(authorized(Some(b"Bearer 0123456789abcdef"), token));
        assert!(!authorized(Some(b"Bearer 0123456789abcdeX"), token));
        assert!(!authorized(Some(b"Bearer 0123456789abcde"), token));
        assert!(!authorized(Some(b"Basic 0123456789abcdef"), token));
        assert!(!authorized(None, token));
    }

    #[test]
    fn registration_urls_are_base_urls() {
        assert_eq!(url_problem("http://10.0.0.7:8000"), None);
        assert_eq!(url_problem("https://bounce-a1.internal/"), None);
        assert!(url_problem("ftp://x").is_some());
        assert!(url_problem("http://x/?a=b").is_some());
        assert!(url_problem("not a url").is_some());
        assert!(url_problem(&format!("http://x/{}", "a".repeat(300))).is_some());
    }
}
