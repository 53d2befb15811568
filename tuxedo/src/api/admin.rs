//! JSON handlers of administration: rewrite rules, the audit log, accounts and tokens.
//! Reading rules and the audit log needs any account; everything else needs admin.

use super::{call, Data};
use crate::auth::Permission::{Accounts as W, Read as R};
use crate::auth::{tokens, users, Role};
use crate::catalogue::audit_log::{self, AuditQuery};
use crate::catalogue::rules;
use actix_web::http::StatusCode as S;
use actix_web::{web, HttpRequest, HttpResponse};
use bouncer_core::rules::RuleSpec;
use chrono::{DateTime, Utc};
use serde::Deserialize;

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

pub async fn rules(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, R, S::OK, |c, _, ()| rules::list(c)).await
}

pub async fn rules_replace(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, W, S::OK, |c, who, b: Vec<RuleSpec>| {
        let loaded = rules::replace(c, &who.username, &b)?;
        Ok(serde_json::json!({ "loaded": loaded }))
    })
    .await
}

pub async fn audit(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    q: web::Query<AuditQuery>,
) -> HttpResponse {
    call(req, body, state, R, S::OK, move |c, _, ()| {
        audit_log::list(c, &q)
    })
    .await
}

pub async fn users(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, W, S::OK, |c, _, ()| users::list(c)).await
}

pub async fn user_create(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, W, S::CREATED, |c, who, b: UserCreate| {
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
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    name: web::Path<String>,
) -> HttpResponse {
    call(
        req,
        body,
        state,
        W,
        S::OK,
        move |c, who, b: users::UserPatch| users::update(c, &who.username, &name, &b),
    )
    .await
}

pub async fn tokens(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, W, S::OK, |c, _, ()| tokens::list(c)).await
}

pub async fn token_create(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, W, S::CREATED, |c, who, b: TokenCreate| {
        let role: Role = b.role.parse()?;
        let expires = b.expires_at.map(|e| e.naive_utc());
        tokens::create(c, &who.username, &b.user, role, &b.name, expires)
    })
    .await
}

pub async fn token_delete(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: web::Path<i32>,
) -> HttpResponse {
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        tokens::revoke(c, &who.username, *id)
    })
    .await
}
