//! JSON handlers of the mirror network: mirrors, their regions and sentry's log, regions,
//! and the country → region map. Reads need any account; writes need admin or
//! mirror-operator.

use super::{call, Data};
use crate::auth::Permission::{Mirrors as W, Read as R};
use crate::catalogue::mirrors::{self, MirrorPatch, NewMirrorForm};
use crate::catalogue::regions::{self, CountryForm, NewRegionForm, RegionPatch};
use crate::error::TuxedoError;
use actix_web::http::StatusCode as S;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

type Id = web::Path<i32>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Lines to return, 1–1000 (default 100).
    limit: Option<i64>,
}

pub async fn mirrors(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, R, S::OK, |c, _, ()| mirrors::list(c)).await
}

pub async fn mirror(req: HttpRequest, body: web::Payload, state: Data, id: Id) -> HttpResponse {
    call(req, body, state, R, S::OK, move |c, _, ()| {
        mirrors::get(c, *id)
    })
    .await
}

pub async fn mirror_create(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(
        req,
        body,
        state,
        W,
        S::CREATED,
        |c, who, b: NewMirrorForm| mirrors::add(c, &who.username, &b),
    )
    .await
}

pub async fn mirror_update(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    call(req, body, state, W, S::OK, move |c, who, b: MirrorPatch| {
        mirrors::update(c, &who.username, *id, &b)
    })
    .await
}

pub async fn mirror_enable(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    set_active(req, body, state, *id, true).await
}

pub async fn mirror_disable(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    set_active(req, body, state, *id, false).await
}

async fn set_active(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: i32,
    active: bool,
) -> HttpResponse {
    call(req, body, state, W, S::OK, move |c, who, ()| {
        let patch = MirrorPatch {
            active: Some(active),
            ..MirrorPatch::default()
        };
        mirrors::update(c, &who.username, id, &patch)
    })
    .await
}

pub async fn mirror_delete(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        mirrors::delete(c, &who.username, *id)
    })
    .await
}

pub async fn sentry_log(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
    q: web::Query<LogQuery>,
) -> HttpResponse {
    call(req, body, state, R, S::OK, move |c, _, ()| {
        let limit = q.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(TuxedoError::Invalid {
                field: "limit",
                reason: "must be between 1 and 1000".into(),
            });
        }
        mirrors::sentry_log_of(c, *id, limit)
    })
    .await
}

pub async fn mirror_region_add(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    path: web::Path<(i32, i32)>,
) -> HttpResponse {
    let (id, region) = path.into_inner();
    call(req, body, state, W, S::OK, move |c, who, ()| {
        mirrors::add_region(c, &who.username, id, region)
    })
    .await
}

pub async fn mirror_region_remove(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    path: web::Path<(i32, i32)>,
) -> HttpResponse {
    let (id, region) = path.into_inner();
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        mirrors::remove_region(c, &who.username, id, region)
    })
    .await
}

pub async fn regions(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, R, S::OK, |c, _, ()| regions::list(c)).await
}

pub async fn region_create(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(
        req,
        body,
        state,
        W,
        S::CREATED,
        |c, who, b: NewRegionForm| regions::add(c, &who.username, &b),
    )
    .await
}

pub async fn region_update(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    call(req, body, state, W, S::OK, move |c, who, b: RegionPatch| {
        regions::update(c, &who.username, *id, &b)
    })
    .await
}

pub async fn region_delete(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        regions::delete(c, &who.username, *id)
    })
    .await
}

pub async fn countries(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, R, S::OK, |c, _, ()| regions::countries(c)).await
}

pub async fn country_set(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    code: web::Path<String>,
) -> HttpResponse {
    call(req, body, state, W, S::OK, move |c, who, b: CountryForm| {
        regions::set_country(c, &who.username, &code, &b)
    })
    .await
}

pub async fn country_clear(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    code: web::Path<String>,
) -> HttpResponse {
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        regions::clear_country(c, &who.username, &code)
    })
    .await
}
