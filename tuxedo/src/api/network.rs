//! JSON handlers of the mirror network: mirrors, their regions and sentry's log, regions,
//! and the country → region map. Reads need any account; writes need admin or
//! mirror-operator. Listing, adding, updating and deleting mirrors and regions needs no
//! handler here: the routing table mounts them over [`crate::catalogue::Rows`].

use super::reply::{Json, NoContent, Reply};
use super::Caller;
use crate::caller::{Mirrors as W, Read as R};
use crate::catalogue::mirrors::{self, MirrorPatch};
use crate::catalogue::regions::{self, CountryForm};
use crate::error::TuxedoError;
use actix_web::web;
use serde::{Deserialize, Serialize};

type Id = web::Path<i32>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Lines to return, 1–1000 (default 100).
    limit: Option<i64>,
}

pub async fn mirror(id: Id, call: Caller<R>) -> Reply<Json<impl Serialize>> {
    call.json(move |c, _, ()| mirrors::get(c, *id)).await
}

/// `POST /mirrors/{id}/enable` (`ON`) and `/disable`: one handler, mounted twice.
pub async fn set_active<const ON: bool>(id: Id, call: Caller<W>) -> Reply<Json<impl Serialize>> {
    let patch = MirrorPatch {
        active: Some(ON),
        ..MirrorPatch::default()
    };
    call.json(move |c, who, ()| mirrors::update(c, &who.username, *id, &patch))
        .await
}

pub async fn sentry_log(
    id: Id,
    q: web::Query<LogQuery>,
    call: Caller<R>,
) -> Reply<Json<impl Serialize>> {
    let limit = q.limit.unwrap_or(100);
    call.json(move |c, _, ()| {
        if !(1..=1000).contains(&limit) {
            return Err(TuxedoError::invalid("limit", "must be between 1 and 1000"));
        }
        mirrors::sentry_log_of(c, *id, limit)
    })
    .await
}

pub async fn mirror_region_add(
    path: web::Path<(i32, i32)>,
    call: Caller<W>,
) -> Reply<Json<impl Serialize>> {
    let (id, region) = path.into_inner();
    call.json(move |c, who, ()| mirrors::add_region(c, &who.username, id, region))
        .await
}

pub async fn mirror_region_remove(
    path: web::Path<(i32, i32)>,
    call: Caller<W>,
) -> Reply<NoContent> {
    let (id, region) = path.into_inner();
    call.done(move |c, who, ()| mirrors::remove_region(c, &who.username, id, region))
        .await
}

pub async fn countries(call: Caller<R>) -> Reply<Json<impl Serialize>> {
    call.json(|c, _, ()| regions::countries(c)).await
}

pub async fn country_set(
    code: web::Path<String>,
    call: Caller<W, CountryForm>,
) -> Reply<Json<impl Serialize>> {
    call.json(move |c, who, b| regions::set_country(c, &who.username, &code, &b))
        .await
}

pub async fn country_clear(code: web::Path<String>, call: Caller<W>) -> Reply<NoContent> {
    call.done(move |c, who, ()| regions::clear_country(c, &who.username, &code))
        .await
}
