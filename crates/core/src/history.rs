//! History that moves backwards: a database restored from a backup, or a replica promoted
//! after missing the last writes, shows a catalogue generation below what bounce
//! instances already served. bounce only ever moves forward (it takes the highest
//! generation it has seen, so a late or lagging value never hides a write), so it would
//! keep serving the lost writes, ignore the writes that follow until the counter passes
//! its old maximum, and then apply only those — missing the restored-era state for good.
//!
//! The writer side repairs the history instead of teaching every reader to go back: when
//! the master's generation is below the highest one anybody saw (the generation published
//! in memcached, and what live bounce instances report serving at registration), or the
//! master logged the published number with another stamp (every generation carries a
//! random stamp, in the log and beside the published value: after a restore the next
//! write reuses numbers that were served with other contents), the counter jumps past it — to at least the wall clock in milliseconds × 1000, which no
//! run of single increments since an earlier jump can have reached — and the jump is
//! logged as a change of everything. Every instance then sees a generation above anything
//! it has served, with a change list that says "everything": it reloads the whole
//! catalogue from a reader that has the jump, drops its location rows (the floors move to
//! the jump, so memcached entries and the image from before it are never used again), and
//! goes on as before. The generation is the history's identity (its epoch): two histories
//! never share a generation after the jump.
//!
//! [`check`] runs in every writer's publication ([`publish_since`]) and on tuxedo's timer
//! (`tuxedo.history_check_ms`); `tuxedo history check` runs it at once.

use crate::cache::Memcached;
use crate::changes::{self, Change};
use crate::db::DbConnection;
use crate::schema::bouncer_generation::dsl::{bouncer_generation, name, value};
use crate::{generation, Result};
use diesel::prelude::*;

/// Whether this database's history went back, and the highest generation seen outside it:
/// the published generation is above the master's, or the master logged that number with
/// another stamp (it reused a number bounce served with other contents), or a live bounce
/// instance serves a generation above the master's.
pub fn went_back(conn: &mut DbConnection, cache: Option<&Memcached>) -> Result<Option<i64>> {
    let current = generation::current(conn)?;
    let mut seen = None;
    if let Some((g, stamp)) = cache.and_then(generation::published_stamped) {
        let reused = g <= current
            && stamp != 0
            && changes::stamp_of(conn, g)?.is_some_and(|mine| mine != stamp);
        if g > current || reused {
            seen = Some(g);
        }
    }
    if let Some(served) = crate::fleet::highest_applied(conn)?.filter(|g| *g > current) {
        seen = seen.max(Some(served));
    }
    Ok(seen)
}

/// The generation a jump past `seen` lands on at `now_ms`.
pub fn jump_target(current: i64, seen: i64, now_ms: i64) -> i64 {
    now_ms
        .saturating_mul(1000)
        .max(seen.saturating_add(1))
        .max(current.saturating_add(1))
}

/// Jumps the master's generation past everything seen when it is behind it; returns the
/// new generation (not yet published) or `None` when the history did not move back.
pub fn check(
    conn: &mut DbConnection,
    cache: Option<&Memcached>,
    actor: &str,
) -> Result<Option<i64>> {
    let Some(seen) = went_back(conn, cache)? else {
        return Ok(None);
    };
    let current = generation::current(conn)?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let target = jump_target(current, seen, now_ms);
    let jumped = crate::db::write_transaction(conn, |t| {
        diesel::update(bouncer_generation.filter(name.eq(generation::CATALOGUE)))
            .set(value.eq(target - 1))
            .execute(t)?;
        let g = changes::record(t, &[Change::Everything])?;
        // The log before the jump describes a history no instance will catch up through
        // (behind the jump means reloading everything): dropped, so the log is whole
        // again from the jump on and starting instances trust memcached's rows after it.
        diesel::delete(
            crate::schema::bouncer_changes::table
                .filter(crate::schema::bouncer_changes::generation.lt(g)),
        )
        .execute(t)?;
        crate::audit::record(
            t,
            actor,
            "catalogue.history_break",
            generation::CATALOGUE,
            Some(serde_json::json!({ "generation": current, "seen": seen })),
            Some(serde_json::json!({ "generation": g })),
        )?;
        Ok::<_, crate::CoreError>(g)
    })?;
    tracing::warn!(
        database = current,
        seen,
        generation = jumped,
        "the catalogue's history went back (restore or promotion): generation moved past it, every instance reloads"
    );
    Ok(Some(jumped))
}

/// A writer's publication after its commit: when the master's history went back (a
/// restore, a promotion), the generation first jumps past everything seen, so that this
/// write, too, is served; then the change lists after `after` and the generation are
/// published ([`changes::publish_since`]). Returns the generation published.
pub fn publish_since(
    conn: &mut DbConnection,
    cache: Option<&Memcached>,
    after: i64,
) -> Result<i64> {
    check(conn, cache, "system")?;
    changes::publish_since(conn, cache, after)
}

#[cfg(test)]
mod tests {
    use super::jump_target;

    #[test]
    fn a_jump_passes_what_was_seen_and_later_jumps_pass_earlier_runs() {
        // First jump from a small counter: the clock wins.
        let first = jump_target(120, 150, 1_765_000_000_000);
        assert_eq!(first, 1_765_000_000_000_000);
        // 10,000 writes later, a restore to before them and a jump one second on.
        let later = jump_target(first + 10, first + 10_000, 1_765_000_001_000);
        assert!(later > first + 10_000);
        // A clock that went back still passes what was seen.
        assert_eq!(
            jump_target(5, 9_000_000_000_000_000, 1),
            9_000_000_000_000_001
        );
    }
}
