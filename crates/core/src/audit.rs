//! The audit log: who changed what, with the row before and after as JSON. Every writer
//! records its writes here inside the writing transaction (tuxedo's interfaces, gated
//! alias flips carried out by tuxedo or sentry).

use crate::db::DbConnection;
use crate::models::NewAuditEntry;
use crate::schema::bouncer_audit_log;
use crate::Result;
use diesel::prelude::*;

/// Records one write; call inside the writing transaction.
pub fn record(
    conn: &mut DbConnection,
    actor: &str,
    action: &str,
    target: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    let now = chrono::Utc::now().naive_utc();
    record_at(conn, now, actor, action, target, before, after)?;
    tracing::info!(actor, action, target, "catalogue write");
    Ok(())
}

/// [`record`] with the time the write is recorded at (a batch stamps its rows with the
/// time it ran), and without a log line of its own: the caller logs what it did.
pub fn record_at(
    conn: &mut DbConnection,
    at: chrono::NaiveDateTime,
    actor: &str,
    action: &str,
    target: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    let before = before.map(|v| v.to_string());
    let after = after.map(|v| v.to_string());
    diesel::insert_into(bouncer_audit_log::table)
        .values(NewAuditEntry {
            created_at: at,
            actor,
            action,
            target,
            before_json: before.as_deref(),
            after_json: after.as_deref(),
        })
        .execute(conn)?;
    Ok(())
}
