//! JSON handlers of the catalogue: products, languages, locations, operating systems,
//! aliases, uptake. Reads need any account; writes need admin or release. Listing,
//! adding, updating and deleting operating systems needs no handler here: the routing
//! table mounts them over [`crate::catalogue::Rows`].

use super::reply::{Accepted, Created, Json, NoContent, Reply};
use super::Caller;
use crate::caller::{Catalogue as W, Read as R};
use crate::catalogue::files::{self, FileForm};
use crate::catalogue::gates::{self, GateForm};
use crate::catalogue::product_edit::{self, ProductFilter, ProductPatch};
use crate::catalogue::products::{self, Languages, ProductRef};
use crate::catalogue::{aliases, locations, uptake as up, Match};
use actix_web::{web, Either};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductCreate {
    name: String,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    ssl_only: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguagesBody {
    languages: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationCreate {
    os: String,
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationPatch {
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasBody {
    related_product: String,
    /// Flip when the product is out there rather than now (see `catalogue::gates`).
    #[serde(default)]
    gate: Option<GateForm>,
}

#[derive(Serialize)]
struct AliasView {
    alias: String,
    related_product: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UptakeQuery {
    product: Option<String>,
    os: Option<String>,
    #[serde(default)]
    fuzzy: bool,
}

type Id = web::Path<i32>;

pub async fn products(
    q: web::Query<ProductFilter>,
    call: Caller<R>,
) -> Reply<Json<impl Serialize>> {
    call.json(move |c, _, ()| product_edit::list(c, &q)).await
}

pub async fn product(id: Id, call: Caller<R>) -> Reply<Json<impl Serialize>> {
    call.json(move |c, _, ()| product_edit::get(c, *id)).await
}

pub async fn product_create(call: Caller<W, ProductCreate>) -> Reply<Created<impl Serialize>> {
    call.created(|c, who, b| products::add(c, &who.username, &b.name, &b.languages, b.ssl_only))
        .await
}

pub async fn product_update(id: Id, call: Caller<W, ProductPatch>) -> Reply<Json<impl Serialize>> {
    call.json(move |c, who, b| product_edit::update(c, &who.username, *id, &b))
        .await
}

pub async fn product_delete(id: Id, call: Caller<W>) -> Reply<NoContent> {
    call.done(move |c, who, ()| products::delete(c, &who.username, ProductRef::Id(*id)))
        .await
}

pub async fn languages_add(id: Id, call: Caller<W, LanguagesBody>) -> Reply<Json<impl Serialize>> {
    call.json(move |c, who, b| {
        let p = product_edit::get(c, *id)?;
        products::add_languages(c, &who.username, &p.name, &b.languages)
    })
    .await
}

pub async fn language_delete(path: web::Path<(i32, String)>, call: Caller<W>) -> Reply<NoContent> {
    let (id, language) = path.into_inner();
    call.done(move |c, who, ()| {
        let p = product_edit::get(c, id)?;
        products::delete_languages(c, &who.username, &p.name, Languages::These(&[language]))
    })
    .await
}

pub async fn locations(id: Id, call: Caller<R>) -> Reply<Json<impl Serialize>> {
    call.json(move |c, _, ()| locations::of(c, ProductRef::Id(*id)))
        .await
}

pub async fn location_create(
    id: Id,
    call: Caller<W, LocationCreate>,
) -> Reply<Created<impl Serialize>> {
    call.created(move |c, who, b| {
        locations::add(c, &who.username, ProductRef::Id(*id), &b.os, &b.path)
    })
    .await
}

pub async fn location_update(
    id: Id,
    call: Caller<W, LocationPatch>,
) -> Reply<Json<impl Serialize>> {
    call.json(move |c, who, b| locations::set_path(c, &who.username, *id, &b.path))
        .await
}

pub async fn location_delete(id: Id, call: Caller<W>) -> Reply<NoContent> {
    call.done(move |c, who, ()| locations::delete(c, &who.username, *id))
        .await
}

pub async fn files(id: Id, call: Caller<R>) -> Reply<Json<impl Serialize>> {
    call.json(move |c, _, ()| files::list(c, *id)).await
}

pub async fn files_put(id: Id, call: Caller<W, Vec<FileForm>>) -> Reply<Json<impl Serialize>> {
    call.json(move |c, who, b| files::put(c, &who.username, *id, &b))
        .await
}

pub async fn file_delete(path: web::Path<(i32, String)>, call: Caller<W>) -> Reply<NoContent> {
    let (id, lang) = path.into_inner();
    call.done(move |c, who, ()| files::delete(c, &who.username, id, &lang))
        .await
}

pub async fn aliases(call: Caller<R>) -> Reply<Json<impl Serialize>> {
    call.json(|c, _, ()| {
        let all = aliases::list(c)?.into_iter();
        Ok(all
            .map(|a| AliasView {
                alias: a.alias,
                related_product: a.related_product,
            })
            .collect::<Vec<_>>())
    })
    .await
}

/// `PUT /aliases/{alias}`: set at once (200), or gated (202, the alias with its gate).
pub async fn alias_set(
    alias: web::Path<String>,
    call: Caller<W, AliasBody>,
) -> Reply<Either<Json<aliases::AliasSet>, Accepted<gates::AliasDetail>>> {
    let cdn = up::Cdn::of(&call.state().config);
    call.run(move |c, who, b| match &b.gate {
        None => aliases::create_or_update(c, &who.username, &alias, &b.related_product)
            .map(|set| Either::Left(Json(set))),
        Some(g) => gates::set(
            c,
            cdn.as_ref(),
            &who.username,
            &alias,
            &b.related_product,
            g,
        )
        .map(|detail| Either::Right(Accepted(detail))),
    })
    .await
}

/// `GET /aliases/{alias}`: the alias with its pending gate and progress.
pub async fn alias(alias: web::Path<String>, call: Caller<R>) -> Reply<Json<impl Serialize>> {
    let cdn = up::Cdn::of(&call.state().config);
    call.json(move |c, _, ()| gates::detail(c, cdn.as_ref(), &alias))
        .await
}

/// `DELETE /aliases/{alias}/gate`: cancels a pending gated flip.
pub async fn alias_gate_cancel(alias: web::Path<String>, call: Caller<W>) -> Reply<NoContent> {
    call.done(move |c, who, ()| gates::cancel(c, &who.username, &alias))
        .await
}

pub async fn alias_delete(alias: web::Path<String>, call: Caller<W>) -> Reply<NoContent> {
    call.done(move |c, who, ()| aliases::delete(c, &who.username, &alias))
        .await
}

pub async fn uptake(q: web::Query<UptakeQuery>, call: Caller<R>) -> Reply<Json<impl Serialize>> {
    let cdn = up::Cdn::of(&call.state().config);
    call.json(move |c, _, ()| {
        let (product, os) = (matcher(&q.product, q.fuzzy), matcher(&q.os, q.fuzzy));
        up::uptake(c, cdn.as_ref(), product, os)
    })
    .await
}

/// How a query value selects names (blank = no filter).
fn matcher(value: &Option<String>, fuzzy: bool) -> Option<Match<'_>> {
    let v = value.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
    Some(match fuzzy {
        true => Match::Fuzzy(v),
        false => Match::Exact(v),
    })
}
