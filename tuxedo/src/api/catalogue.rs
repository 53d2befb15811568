//! JSON handlers of the catalogue: products, languages, locations, operating systems,
//! aliases, uptake. Reads need any account; writes need admin or release.

use super::{call, call_with, Data};
use crate::auth::Permission::{Catalogue as W, Read as R};
use crate::catalogue::gates::{self, GateForm};
use crate::catalogue::oses::{NewOsForm, OsPatch};
use crate::catalogue::product_edit::{self, ProductFilter, ProductPatch};
use crate::catalogue::products::{self, Languages, ProductRef};
use crate::catalogue::{aliases, locations, oses, uptake as up, Match};
use actix_web::http::StatusCode as S;
use actix_web::{web, HttpRequest, HttpResponse};
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

/// `PUT /aliases/{alias}`: set at once (200), or gated (202, the alias with its gate).
#[derive(Serialize)]
#[serde(untagged)]
enum AliasAnswer {
    Set(aliases::AliasSet),
    Gated(gates::AliasDetail),
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
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    q: web::Query<ProductFilter>,
) -> HttpResponse {
    call(req, body, state, R, S::OK, move |c, _, ()| {
        product_edit::list(c, &q)
    })
    .await
}

pub async fn product(req: HttpRequest, body: web::Payload, state: Data, id: Id) -> HttpResponse {
    call(req, body, state, R, S::OK, move |c, _, ()| {
        product_edit::get(c, *id)
    })
    .await
}

pub async fn product_create(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(
        req,
        body,
        state,
        W,
        S::CREATED,
        |c, who, b: ProductCreate| {
            products::add(c, &who.username, &b.name, &b.languages, b.ssl_only)
        },
    )
    .await
}

pub async fn product_update(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    call(
        req,
        body,
        state,
        W,
        S::OK,
        move |c, who, b: ProductPatch| product_edit::update(c, &who.username, *id, &b),
    )
    .await
}

pub async fn product_delete(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        products::delete(c, &who.username, ProductRef::Id(*id))
    })
    .await
}

pub async fn languages_add(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    call(
        req,
        body,
        state,
        W,
        S::OK,
        move |c, who, b: LanguagesBody| {
            let p = product_edit::get(c, *id)?;
            products::add_languages(c, &who.username, &p.name, &b.languages)
        },
    )
    .await
}

pub async fn language_delete(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    path: web::Path<(i32, String)>,
) -> HttpResponse {
    let (id, language) = path.into_inner();
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        let p = product_edit::get(c, id)?;
        products::delete_languages(c, &who.username, &p.name, Languages::These(&[language]))
    })
    .await
}

pub async fn locations(req: HttpRequest, body: web::Payload, state: Data, id: Id) -> HttpResponse {
    call(req, body, state, R, S::OK, move |c, _, ()| {
        locations::of(c, ProductRef::Id(*id))
    })
    .await
}

pub async fn location_create(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    call(
        req,
        body,
        state,
        W,
        S::CREATED,
        move |c, who, b: LocationCreate| {
            locations::add(c, &who.username, ProductRef::Id(*id), &b.os, &b.path)
        },
    )
    .await
}

pub async fn location_update(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    call(
        req,
        body,
        state,
        W,
        S::OK,
        move |c, who, b: LocationPatch| locations::set_path(c, &who.username, *id, &b.path),
    )
    .await
}

pub async fn location_delete(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    id: Id,
) -> HttpResponse {
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        locations::delete(c, &who.username, *id)
    })
    .await
}

pub async fn oses(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, R, S::OK, |c, _, ()| oses::list(c)).await
}

pub async fn os_create(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, W, S::CREATED, |c, who, b: NewOsForm| {
        oses::add(c, &who.username, &b)
    })
    .await
}

pub async fn os_update(req: HttpRequest, body: web::Payload, state: Data, id: Id) -> HttpResponse {
    call(req, body, state, W, S::OK, move |c, who, b: OsPatch| {
        oses::update(c, &who.username, *id, &b)
    })
    .await
}

pub async fn os_delete(req: HttpRequest, body: web::Payload, state: Data, id: Id) -> HttpResponse {
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        oses::delete(c, &who.username, *id)
    })
    .await
}

pub async fn aliases(req: HttpRequest, body: web::Payload, state: Data) -> HttpResponse {
    call(req, body, state, R, S::OK, |c, _, ()| {
        Ok(aliases::list(c)?
            .into_iter()
            .map(|a| AliasView {
                alias: a.alias,
                related_product: a.related_product,
            })
            .collect::<Vec<_>>())
    })
    .await
}

pub async fn alias_set(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    alias: web::Path<String>,
) -> HttpResponse {
    let cdn = up::Cdn::of(&state.config);
    call_with(req, body, state, W, move |c, who, b: AliasBody| {
        match &b.gate {
            None => aliases::create_or_update(c, &who.username, &alias, &b.related_product)
                .map(|set| (S::OK, AliasAnswer::Set(set))),
            Some(g) => gates::set(
                c,
                cdn.as_ref(),
                &who.username,
                &alias,
                &b.related_product,
                g,
            )
            .map(|detail| (S::ACCEPTED, AliasAnswer::Gated(detail))),
        }
    })
    .await
}

/// `GET /aliases/{alias}`: the alias with its pending gate and progress.
pub async fn alias(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    alias: web::Path<String>,
) -> HttpResponse {
    let cdn = up::Cdn::of(&state.config);
    call(req, body, state, R, S::OK, move |c, _, ()| {
        gates::detail(c, cdn.as_ref(), &alias)
    })
    .await
}

/// `DELETE /aliases/{alias}/gate`: cancels a pending gated flip.
pub async fn alias_gate_cancel(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    alias: web::Path<String>,
) -> HttpResponse {
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        gates::cancel(c, &who.username, &alias)
    })
    .await
}

pub async fn alias_delete(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    alias: web::Path<String>,
) -> HttpResponse {
    call(req, body, state, W, S::NO_CONTENT, move |c, who, ()| {
        aliases::delete(c, &who.username, &alias)
    })
    .await
}

pub async fn uptake(
    req: HttpRequest,
    body: web::Payload,
    state: Data,
    q: web::Query<UptakeQuery>,
) -> HttpResponse {
    let cdn = up::Cdn::of(&state.config);
    call(req, body, state, R, S::OK, move |c, _, ()| {
        up::uptake(
            c,
            cdn.as_ref(),
            matcher(&q.product, q.fuzzy),
            matcher(&q.os, q.fuzzy),
        )
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
