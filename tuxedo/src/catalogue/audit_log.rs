//! Reading the audit log (writing it is [`super::audit`], inside each write).

use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::AuditEntry;
use bouncer_core::schema::bouncer_audit_log as log;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// Most entries one page holds.
pub const MAX_LIMIT: i64 = 500;

/// Which entries to read: exact filters, a page size and an offset.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub target: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// One entry as the API shows it; before and after are JSON values again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditView {
    pub id: i64,
    #[serde(serialize_with = "bouncer_core::utc::serialize")]
    pub created_at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Entries matching `q`, newest first.
pub fn list(conn: &mut DbConnection, q: &AuditQuery) -> Result<Vec<AuditView>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(TuxedoError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(TuxedoError::invalid("offset", "must not be negative"));
    }
    let mut query = log::table.into_boxed();
    if let Some(a) = &q.action {
        query = query.filter(log::action.eq(a.clone()));
    }
    if let Some(a) = &q.actor {
        query = query.filter(log::actor.eq(a.clone()));
    }
    if let Some(t) = &q.target {
        query = query.filter(log::target.eq(t.clone()));
    }
    let rows: Vec<AuditEntry> = query
        .order(log::id.desc())
        .limit(limit)
        .offset(offset)
        .load(conn)?;
    let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    Ok(rows
        .into_iter()
        .map(|r| AuditView {
            id: r.id,
            created_at: r.created_at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            before: parse(r.before_json),
            after: parse(r.after_json),
        })
        .collect())
}
