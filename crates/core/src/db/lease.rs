//! Leases: one holder at a time for work that must not run twice at once (two sentry runs
//! would write the same rows and deadlock each other). A row per lease, on both backends;
//! the holder renews it while it works, and a crashed holder's lease simply expires.

use crate::db::classify::is_unique_violation;
use crate::db::DbConnection;
use crate::schema::bouncer_leases as l;
use crate::Result;
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use std::time::Duration;

/// Who holds a lease another caller wanted, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub holder: String,
    pub until: NaiveDateTime,
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn until(ttl: Duration) -> NaiveDateTime {
    now() + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::seconds(60))
}

/// Takes lease `name` for `holder` for `ttl`; `Ok(Err(held))` when someone else holds it.
pub fn acquire(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<std::result::Result<(), Held>> {
    diesel::delete(
        l::table
            .filter(l::name.eq(name))
            .filter(l::expires_at.lt(now())),
    )
    .execute(conn)?;
    let inserted = diesel::insert_into(l::table)
        .values((
            l::name.eq(name),
            l::holder.eq(holder),
            l::expires_at.eq(until(ttl)),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(Ok(())),
        Err(e) if is_unique_violation(&e) => {
            let held = l::table
                .filter(l::name.eq(name))
                .select((l::holder, l::expires_at))
                .first::<(String, NaiveDateTime)>(conn)
                .optional()?;
            match held {
                Some((holder, until)) => Ok(Err(Held { holder, until })),
                // Released in between: the next attempt gets it.
                None => Ok(Err(Held {
                    holder: "(just released)".into(),
                    until: now(),
                })),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Extends the lease; `false` when `holder` no longer holds it (it expired and was taken).
pub fn renew(conn: &mut DbConnection, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
    let n = diesel::update(
        l::table
            .filter(l::name.eq(name))
            .filter(l::holder.eq(holder)),
    )
    .set(l::expires_at.eq(until(ttl)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Gives the lease up.
pub fn release(conn: &mut DbConnection, name: &str, holder: &str) -> Result<()> {
    diesel::delete(
        l::table
            .filter(l::name.eq(name))
            .filter(l::holder.eq(holder)),
    )
    .execute(conn)?;
    Ok(())
}
