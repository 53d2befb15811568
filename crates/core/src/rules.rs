//! Rewrite rules as data (spec `bounce.md` A.1).
//!
//! go-bouncer hard-coded its user-agent rules and needed a deploy to change one; here they
//! are ordered rows in `bouncer_rewrite_rules`, each a list of conditions (all must hold)
//! and actions (set product, set os). The first matching rule applies. Regexes are
//! compiled once when the rules are loaded, never per request.

mod store;

pub use store::{load_rows, replace_all};

use crate::models::RewriteRuleRow;
use regex::Regex;
use serde::{Deserialize, Serialize};

/// Which request value a condition looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Product,
    Os,
    Lang,
    UserAgent,
    Referer,
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    Prefix,
    Contains,
    Regex,
}

/// One condition of a rule; `negate` turns "matches" into "does not match".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    pub value: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub negate: bool,
}

/// A rule as written in a rules file or sent to the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default)]
    pub description: String,
    #[serde(default = "enabled_default")]
    pub enabled: bool,
    pub conditions: Vec<Condition>,
    /// New product; `${1}`… expand to the groups of the first product `regex` condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_os: Option<String>,
}

fn enabled_default() -> bool {
    true
}

/// What a rule could not be compiled for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("rule has no conditions")]
    NoConditions,
    #[error("rule has no action (set_product or set_os)")]
    NoAction,
    #[error("condition {index}: invalid regex {value:?}: {reason}")]
    BadRegex {
        index: usize,
        value: String,
        reason: String,
    },
    #[error("conditions are not valid JSON: {0}")]
    BadJson(String),
    /// A value longer than its column (see [`crate::limits`]).
    #[error("{field} is longer than {max} {unit}")]
    TooLong {
        field: &'static str,
        max: usize,
        unit: &'static str,
    },
}

/// The request values rules look at (product and os already trimmed and lowercased).
#[derive(Debug, Clone, Copy)]
pub struct RuleInput<'a> {
    pub product: &'a str,
    pub os: &'a str,
    pub lang: &'a str,
    pub user_agent: &'a str,
    pub referer: &'a str,
}

/// What the first matching rule changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub rule_id: i32,
    pub product: Option<String>,
    pub os: Option<String>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Equals(String),
    Prefix(String),
    Contains(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
struct CompiledCondition {
    field: Field,
    matcher: Matcher,
    negate: bool,
}

/// One rule, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Rule {
    id: i32,
    conditions: Vec<CompiledCondition>,
    set_product: Option<String>,
    set_os: Option<String>,
}

impl Rule {
    /// Validates and compiles a rule.
    pub fn compile(id: i32, spec: &RuleSpec) -> Result<Self, RuleError> {
        if spec.conditions.is_empty() {
            return Err(RuleError::NoConditions);
        }
        if spec.set_product.is_none() && spec.set_os.is_none() {
            return Err(RuleError::NoAction);
        }
        use crate::limits;
        let chars = |field, value: Option<&str>, max| match value {
            Some(v) if v.chars().count() > max => Err(RuleError::TooLong {
                field,
                max,
                unit: "characters",
            }),
            _ => Ok(()),
        };
        chars(
            "description",
            Some(&spec.description),
            limits::RULE_DESCRIPTION,
        )?;
        chars(
            "set_product",
            spec.set_product.as_deref(),
            limits::PRODUCT_NAME,
        )?;
        chars("set_os", spec.set_os.as_deref(), limits::OS_NAME)?;
        let stored = serde_json::to_string(&spec.conditions).map_or(0, |j| j.len());
        if stored > limits::RULE_CONDITIONS_BYTES {
            return Err(RuleError::TooLong {
                field: "conditions",
                max: limits::RULE_CONDITIONS_BYTES,
                unit: "bytes as stored JSON",
            });
        }
        let conditions = spec
            .conditions
            .iter()
            .enumerate()
            .map(|(index, c)| {
                let matcher = match c.op {
                    Op::Equals => Matcher::Equals(c.value.clone()),
                    Op::Prefix => Matcher::Prefix(c.value.clone()),
                    Op::Contains => Matcher::Contains(c.value.clone()),
                    Op::Regex => {
                        Matcher::Regex(Regex::new(&c.value).map_err(|e| RuleError::BadRegex {
                            index,
                            value: c.value.clone(),
                            reason: e.to_string(),
                        })?)
                    }
                };
                Ok(CompiledCondition {
                    field: c.field,
                    matcher,
                    negate: c.negate,
                })
            })
            .collect::<Result<_, RuleError>>()?;
        Ok(Self {
            id,
            conditions,
            set_product: spec.set_product.clone(),
            set_os: spec.set_os.clone(),
        })
    }

    /// The rewrite this rule makes for `input`, if all its conditions hold.
    pub fn apply(&self, input: &RuleInput<'_>) -> Option<Rewrite> {
        let mut product_caps = None;
        for c in &self.conditions {
            let value = match c.field {
                Field::Product => input.product,
                Field::Os => input.os,
                Field::Lang => input.lang,
                Field::UserAgent => input.user_agent,
                Field::Referer => input.referer,
            };
            let hit = match &c.matcher {
                Matcher::Equals(v) => value == v,
                Matcher::Prefix(v) => value.starts_with(v.as_str()),
                Matcher::Contains(v) => value.contains(v.as_str()),
                Matcher::Regex(re) => match re.captures(value) {
                    Some(caps) => {
                        if c.field == Field::Product && !c.negate && product_caps.is_none() {
                            product_caps = Some(caps);
                        }
                        true
                    }
                    None => false,
                },
            };
            if hit == c.negate {
                return None;
            }
        }
        let product = self
            .set_product
            .as_ref()
            .map(|template| match &product_caps {
                Some(caps) => {
                    let mut out = String::new();
                    caps.expand(template, &mut out);
                    out
                }
                None => template.clone(),
            });
        Some(Rewrite {
            rule_id: self.id,
            product,
            os: self.set_os.clone(),
        })
    }
}

/// The enabled rules in order.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// Compiles stored rows (already ordered); a row that does not compile is skipped and
    /// reported, so one bad rule cannot take the redirector down.
    pub fn from_rows(rows: &[RewriteRuleRow]) -> (Self, Vec<(i32, RuleError)>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for row in rows.iter().filter(|r| r.enabled) {
            let compiled = serde_json::from_str::<Vec<Condition>>(&row.conditions)
                .map_err(|e| RuleError::BadJson(e.to_string()))
                .and_then(|conditions| {
                    Rule::compile(
                        row.id,
                        &RuleSpec {
                            description: row.description.clone(),
                            enabled: true,
                            conditions,
                            set_product: row.set_product.clone(),
                            set_os: row.set_os.clone(),
                        },
                    )
                });
            match compiled {
                Ok(rule) => rules.push(rule),
                Err(e) => errors.push((row.id, e)),
            }
        }
        (Self { rules }, errors)
    }

    /// The first matching rule's rewrite.
    pub fn apply(&self, input: &RuleInput<'_>) -> Option<Rewrite> {
        self.rules.iter().find_map(|r| r.apply(input))
    }

    /// Whether some rule looks at `field`: then an answer may depend on it (for bounce's
    /// `Vary`).
    pub fn reads(&self, field: Field) -> bool {
        self.rules
            .iter()
            .any(|r| r.conditions.iter().any(|c| c.field == field))
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests;
