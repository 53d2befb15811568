//! Reading and replacing the stored rules.

use super::{Rule, RuleError, RuleSpec};
use crate::db::DbConnection;
use crate::models::{NewRewriteRule, RewriteRuleRow};
use crate::schema::bouncer_rewrite_rules;
use crate::{CoreError, Result};
use diesel::prelude::*;

/// Every stored rule in evaluation order (position, then id).
pub fn load_rows(conn: &mut DbConnection) -> Result<Vec<RewriteRuleRow>> {
    Ok(bouncer_rewrite_rules::table
        .order((
            bouncer_rewrite_rules::position.asc(),
            bouncer_rewrite_rules::id.asc(),
        ))
        .load(conn)?)
}

/// Replaces all rules by `specs` (in that order) in one transaction, bumping the catalogue
/// generation and recording the change in the audit log. Every rule is validated first;
/// one invalid rule rejects the whole set and changes nothing.
pub fn replace_all(
    conn: &mut DbConnection,
    specs: &[RuleSpec],
    actor: &str,
) -> Result<Result<usize, (usize, RuleError)>> {
    for (i, spec) in specs.iter().enumerate() {
        if let Err(e) = Rule::compile(0, spec) {
            return Ok(Err((i, e)));
        }
    }
    let now = chrono::Utc::now().naive_utc();
    crate::db::write_transaction::<_, CoreError, _>(conn, |conn| {
        let before = load_rows(conn)?;
        diesel::delete(bouncer_rewrite_rules::table).execute(conn)?;
        for (i, spec) in specs.iter().enumerate() {
            let conditions = serde_json::to_string(&spec.conditions).unwrap_or_default();
            let position = i32::try_from(i).unwrap_or(i32::MAX).saturating_mul(10);
            diesel::insert_into(bouncer_rewrite_rules::table)
                .values(NewRewriteRule {
                    position,
                    enabled: spec.enabled,
                    description: &spec.description,
                    conditions: &conditions,
                    set_product: spec.set_product.as_deref(),
                    set_os: spec.set_os.as_deref(),
                    updated_at: now,
                })
                .execute(conn)?;
        }
        crate::changes::record(conn, &[crate::changes::Change::Rules])?;
        let before_json = serde_json::Value::Array(before.iter().map(row_json).collect());
        crate::audit::record(
            conn,
            actor,
            "rules.replace",
            "bouncer_rewrite_rules",
            Some(before_json),
            serde_json::to_value(specs).ok(),
        )?;
        Ok(Ok(specs.len()))
    })
}

/// A stored rule as JSON for the audit log.
fn row_json(row: &RewriteRuleRow) -> serde_json::Value {
    serde_json::json!({
        "id": row.id,
        "position": row.position,
        "enabled": row.enabled,
        "description": row.description,
        "conditions": serde_json::from_str::<serde_json::Value>(&row.conditions).unwrap_or_default(),
        "set_product": row.set_product,
        "set_os": row.set_os,
    })
}
