//! Pages and actions of administration: rewrite rules (read: everyone; replace: admin),
//! the audit log (everyone), accounts and tokens (admin only).

use super::caller::{csrf_forms, Form, Viewer};
use super::flow::done;
use crate::auth::{tokens, users, Role};
use crate::caller::{Accounts as W, Read as R};
use crate::catalogue::audit_log::{self, AuditQuery};
use crate::catalogue::rules;
use crate::error::TuxedoError;
use actix_web::{web, HttpResponse};
use bouncer_core::rules::RuleSpec;
use minijinja::context;
use serde::Deserialize;

const ROLES: [&str; 5] = ["admin", "release", "mirror-operator", "read-only", "stats"];

pub async fn rules(v: Viewer<R>) -> HttpResponse {
    v.page("rules.html", |c, _| {
        let rules = rules::list(c)?;
        // The replace form starts from the rules as they are, in the API's format.
        let specs: Vec<_> = rules
            .iter()
            .map(|r| {
                let mut v = serde_json::json!({
                    "description": r.description, "enabled": r.enabled, "conditions": r.conditions,
                });
                if let Some(p) = &r.set_product {
                    v["set_product"] = p.as_str().into();
                }
                if let Some(o) = &r.set_os {
                    v["set_os"] = o.as_str().into();
                }
                v
            })
            .collect();
        let json = serde_json::to_string_pretty(&specs)
            .map_err(|e| TuxedoError::Internal(e.to_string()))?;
        Ok(context! { rules, json })
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RulesForm {
    csrf: String,
    rules: String,
}

pub async fn rules_replace(f: Form<W, RulesForm>) -> HttpResponse {
    f.act("/ui/rules".into(), |c, who, f| {
        let specs: Vec<RuleSpec> = serde_json::from_str(&f.rules)
            .map_err(|e| TuxedoError::invalid("rules", e.to_string()))?;
        let n = rules::replace(c, &who.username, &specs)?;
        Ok(done(format!("{n} rules stored.")))
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    actor: String,
    action: String,
    target: String,
    offset: i64,
}

const AUDIT_PAGE: i64 = 50;

pub async fn audit(q: web::Query<AuditFilter>, v: Viewer<R>) -> HttpResponse {
    let q = q.into_inner();
    v.page("audit.html", move |c, _| {
        let nonblank = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let query = AuditQuery {
            actor: nonblank(&q.actor),
            action: nonblank(&q.action),
            target: nonblank(&q.target),
            limit: Some(AUDIT_PAGE),
            offset: Some(q.offset.max(0)),
        };
        let entries: Vec<_> = audit_log::list(c, &query)?
            .into_iter()
            .map(|e| {
                context! {
                    created_at => e.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                    actor => e.actor, action => e.action, target => e.target,
                    before => e.before.map(|v| v.to_string()),
                    after => e.after.map(|v| v.to_string()),
                }
            })
            .collect();
        let more = entries.len() as i64 == AUDIT_PAGE;
        let next = q.offset.max(0) + AUDIT_PAGE;
        Ok(context! {
            entries, more, next,
            q => context! { actor => q.actor, action => q.action, target => q.target },
        })
    })
    .await
}

pub async fn users(v: Viewer<W>) -> HttpResponse {
    v.page("users.html", |c, _| {
        Ok(context! { users => users::list(c)?, roles => ROLES })
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct UserForm {
    csrf: String,
    username: String,
    role: String,
    password: String,
    active: Option<String>,
}

pub async fn user_create(f: Form<W, UserForm>) -> HttpResponse {
    f.act("/ui/users".into(), |c, who, f| {
        let role: Role = f.role.parse()?;
        users::add(c, &who.username, &f.username, role, &f.password)?;
        Ok(done(format!("Account {} created.", f.username.trim())))
    })
    .await
}

/// Role and active flag; a new password only when one is typed.
pub async fn user_update(f: Form<W, UserForm>) -> HttpResponse {
    f.act("/ui/users".into(), |c, who, f| {
        let patch = users::UserPatch {
            role: Some(f.role),
            active: Some(f.active.is_some()),
            password: Some(f.password).filter(|p| !p.is_empty()),
        };
        let u = users::update(c, &who.username, &f.username, &patch)?;
        Ok(done(format!("Account {} saved.", u.username)))
    })
    .await
}

pub async fn tokens(v: Viewer<W>) -> HttpResponse {
    v.page("tokens.html", |c, _| {
        Ok(context! { tokens => tokens::list(c)?, users => users::list(c)?, roles => ROLES })
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct TokenForm {
    csrf: String,
    user: String,
    role: String,
    name: String,
    /// `YYYY-MM-DD` (expires at the start of that day, UTC) or blank for never.
    expires: String,
}

pub async fn token_create(f: Form<W, TokenForm>) -> HttpResponse {
    f.act("/ui/tokens".into(), |c, who, f| {
        let role: Role = f.role.parse()?;
        let expires = super::flow::date_field("expires", &f.expires)?;
        let t = tokens::create(c, &who.username, &f.user, role, &f.name, expires)?;
        let (name, secret) = (t.token.name, t.secret);
        Ok(done(format!(
            "Token {name} created. Its secret, shown only now: {secret}"
        )))
    })
    .await
}

pub async fn token_delete(id: web::Path<i32>, f: Form<W>) -> HttpResponse {
    let id = id.into_inner();
    f.act("/ui/tokens".into(), move |c, who, _| {
        tokens::revoke(c, &who.username, id)?;
        Ok(done("Token revoked."))
    })
    .await
}

csrf_forms!(RulesForm, UserForm, TokenForm);
