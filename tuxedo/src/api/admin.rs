//! JSON handlers of administration: rewrite rules, the audit log, accounts and tokens.
//! Reading rules and the audit log needs any account; everything else needs admin.

use super::reply::{Created, Json, NoContent, Reply};
use super::Caller;
use crate::auth::{tokens, users, Role};
use crate::caller::{Accounts as W, Read as R};
use crate::catalogue::audit_log::{self, AuditQuery};
use crate::catalogue::rules;
use actix_web::web;
use bouncer_core::rules::RuleSpec;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    username: String,
    role: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenCreate {
    /// The account the token acts for.
    user: String,
    role: String,
    name: String,
    /// RFC 3339; none = never expires.
    expires_at: Option<DateTime<Utc>>,
}

pub async fn rules(call: Caller<R>) -> Reply<Json<impl Serialize>> {
    call.json(|c, _, ()| rules::list(c)).await
}

pub async fn rules_replace(call: Caller<W, Vec<RuleSpec>>) -> Reply<Json<impl Serialize>> {
    call.json(|c, who, b| {
        let loaded = rules::replace(c, &who.username, &b)?;
        Ok(serde_json::json!({ "loaded": loaded }))
    })
    .await
}

pub async fn audit(q: web::Query<AuditQuery>, call: Caller<R>) -> Reply<Json<impl Serialize>> {
    call.json(move |c, _, ()| audit_log::list(c, &q)).await
}

pub async fn users(call: Caller<W>) -> Reply<Json<impl Serialize>> {
    call.json(|c, _, ()| users::list(c)).await
}

pub async fn user_create(call: Caller<W, UserCreate>) -> Reply<Created<impl Serialize>> {
    call.created(|c, who, b| {
        let role: Role = b.role.parse()?;
        users::add(c, &who.username, &b.username, role, &b.password)?;
        users::list(c)?
            .into_iter()
            .find(|u| u.username.eq_ignore_ascii_case(b.username.trim()))
            .ok_or_else(|| crate::TuxedoError::Internal("created account not found".into()))
    })
    .await
}

pub async fn user_update(
    name: web::Path<String>,
    call: Caller<W, users::UserPatch>,
) -> Reply<Json<impl Serialize>> {
    call.json(move |c, who, b| users::update(c, &who.username, &name, &b))
        .await
}

pub async fn tokens(call: Caller<W>) -> Reply<Json<impl Serialize>> {
    call.json(|c, _, ()| tokens::list(c)).await
}

pub async fn token_create(call: Caller<W, TokenCreate>) -> Reply<Created<impl Serialize>> {
    call.created(|c, who, b| {
        let role: Role = b.role.parse()?;
        let expires = b.expires_at.map(|e| e.naive_utc());
        tokens::create(c, &who.username, &b.user, role, &b.name, expires)
    })
    .await
}

pub async fn token_delete(id: web::Path<i32>, call: Caller<W>) -> Reply<NoContent> {
    call.done(move |c, who, ()| tokens::revoke(c, &who.username, *id))
        .await
}
