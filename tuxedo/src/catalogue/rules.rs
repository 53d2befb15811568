//! Rewrite rules (spec `bounce.md` A.1) as the API shows and replaces them; validation
//! and storage are `bouncer_core::rules`.

use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::rules::{self, RuleSpec};
use chrono::NaiveDateTime;
use serde::Serialize;

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleView {
    pub id: i32,
    pub position: i32,
    pub enabled: bool,
    pub description: String,
    pub conditions: serde_json::Value,
    pub set_product: Option<String>,
    pub set_os: Option<String>,
    #[serde(serialize_with = "bouncer_core::utc::serialize")]
    pub updated_at: NaiveDateTime,
}

/// The rules in evaluation order.
pub fn list(conn: &mut DbConnection) -> Result<Vec<RuleView>> {
    Ok(rules::load_rows(conn)?
        .into_iter()
        .map(|r| RuleView {
            id: r.id,
            position: r.position,
            enabled: r.enabled,
            description: r.description,
            conditions: serde_json::from_str(&r.conditions).unwrap_or_default(),
            set_product: r.set_product,
            set_os: r.set_os,
            updated_at: r.updated_at,
        })
        .collect())
}

/// Replaces every rule by `specs` (one transaction, audited, generation bumped); an
/// invalid rule rejects the set with its index and reason. Returns how many were stored.
pub fn replace(conn: &mut DbConnection, actor: &str, specs: &[RuleSpec]) -> Result<usize> {
    rules::replace_all(conn, specs, actor)?.map_err(|(index, e)| TuxedoError::InvalidRule {
        index,
        reason: e.to_string(),
    })
}
