//! The JSON API's table of contents. It is written once against [`Table`], so the same
//! list mounts the routes and, in tests, is checked against the OpenAPI document.

use super::caller::WithCaller;
use super::{admin, catalogue as c, network as n, Caller};
use crate::caller::{Catalogue, Mirrors, Need, Read};
use crate::catalogue::{mirrors, oses, regions, Rows};
use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Responder};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Something routes are added to. A route's handler takes a [`super::Caller`] (its
/// arguments are [`WithCaller`]), so no route answers without checking credentials;
/// [`Table::open`] is for the one that needs none.
pub trait Table {
    fn open<F, Args>(&mut self, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static;

    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + WithCaller + 'static,
        F::Output: Responder + 'static,
    {
        self.open(method, path, handler);
    }
}

/// Adds routes to an actix configuration.
pub(super) struct Actix<'a>(pub &'a mut web::ServiceConfig);

impl Table for Actix<'_> {
    fn open<F, Args>(&mut self, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.0.route(path, web::method(method).to(handler));
    }
}

/// Collects (method, path, needs credentials) triples.
struct Listing(Vec<(Method, &'static str, bool)>);

impl Table for Listing {
    fn open<F, Args>(&mut self, method: Method, path: &'static str, _: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.0.push((method, path, false));
    }

    fn add<F, Args>(&mut self, method: Method, path: &'static str, _: F)
    where
        F: Handler<Args>,
        Args: FromRequest + WithCaller + 'static,
        F::Output: Responder + 'static,
    {
        self.0.push((method, path, true));
    }
}

/// Every route as (method, path under [`super::PREFIX`]).
pub fn route_list() -> Vec<(Method, &'static str)> {
    listing().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// The routes that answer without credentials.
pub fn public_routes() -> Vec<(Method, &'static str)> {
    let open = listing().into_iter().filter(|(_, _, needs)| !needs);
    open.map(|(m, p, _)| (m, p)).collect()
}

fn listing() -> Vec<(Method, &'static str, bool)> {
    let mut l = Listing(Vec::new());
    table(&mut l);
    l.0
}

/// The routes. Paths name rows by id, aliases and users by name, countries by code.
pub(super) fn table(t: &mut impl Table) {
    use Method as M;
    t.open(M::GET, "/openapi.json", super::openapi);
    // Catalogue (writes: admin, release).
    t.add(M::GET, "/products", c::products);
    t.add(M::POST, "/products", c::product_create);
    t.add(M::GET, "/products/{id}", c::product);
    t.add(M::PATCH, "/products/{id}", c::product_update);
    t.add(M::DELETE, "/products/{id}", c::product_delete);
    t.add(M::POST, "/products/{id}/languages", c::languages_add);
    t.add(
        M::DELETE,
        "/products/{id}/languages/{language}",
        c::language_delete,
    );
    t.add(M::GET, "/products/{id}/locations", c::locations);
    t.add(M::POST, "/products/{id}/locations", c::location_create);
    t.add(M::PATCH, "/locations/{id}", c::location_update);
    t.add(M::DELETE, "/locations/{id}", c::location_delete);
    t.add(M::GET, "/locations/{id}/files", c::files);
    t.add(M::PUT, "/locations/{id}/files", c::files_put);
    t.add(M::DELETE, "/locations/{id}/files/{lang}", c::file_delete);
    rows(t, Catalogue, "/oses", "/oses/{id}", oses::ROWS);
    t.add(M::GET, "/aliases", c::aliases);
    t.add(M::GET, "/aliases/{alias}", c::alias);
    t.add(M::PUT, "/aliases/{alias}", c::alias_set);
    t.add(M::DELETE, "/aliases/{alias}", c::alias_delete);
    t.add(M::DELETE, "/aliases/{alias}/gate", c::alias_gate_cancel);
    t.add(M::GET, "/uptake", c::uptake);
    t.add(M::GET, "/stats", super::stats::stats);
    t.open(M::GET, "/stats/popular", super::stats::popular);
    // Mirrors and regions (writes: admin, mirror-operator).
    rows(t, Mirrors, "/mirrors", "/mirrors/{id}", mirrors::ROWS);
    t.add(M::GET, "/mirrors/{id}", n::mirror);
    t.add(M::POST, "/mirrors/{id}/enable", n::set_active::<true>);
    t.add(M::POST, "/mirrors/{id}/disable", n::set_active::<false>);
    t.add(M::GET, "/mirrors/{id}/sentry-log", n::sentry_log);
    t.add(
        M::PUT,
        "/mirrors/{id}/regions/{region}",
        n::mirror_region_add,
    );
    t.add(
        M::DELETE,
        "/mirrors/{id}/regions/{region}",
        n::mirror_region_remove,
    );
    rows(t, Mirrors, "/regions", "/regions/{id}", regions::ROWS);
    t.add(M::GET, "/countries", n::countries);
    t.add(M::PUT, "/countries/{code}", n::country_set);
    t.add(M::DELETE, "/countries/{code}", n::country_clear);
    // Administration (writes: admin).
    t.add(M::GET, "/rules", admin::rules);
    t.add(M::PUT, "/rules", admin::rules_replace);
    t.add(M::GET, "/audit", admin::audit);
    t.add(M::GET, "/users", admin::users);
    t.add(M::POST, "/users", admin::user_create);
    t.add(M::PATCH, "/users/{username}", admin::user_update);
    t.add(M::GET, "/tokens", admin::tokens);
    t.add(M::POST, "/tokens", admin::token_create);
    t.add(M::DELETE, "/tokens/{id}", admin::token_delete);
}

/// A kind of row's four routes: list (`GET`, any account) and add (`POST`, `201`) at `all`,
/// update (`PATCH`) and delete (`DELETE`, `204`) at `one`; the writes need `W`.
fn rows<W, N, P, V>(
    t: &mut impl Table,
    _: W,
    all: &'static str,
    one: &'static str,
    r: Rows<N, P, V>,
) where
    W: Need,
    N: DeserializeOwned + Send + 'static,
    P: DeserializeOwned + Send + 'static,
    V: Serialize + Send + 'static,
{
    type Id = web::Path<i32>;
    t.add(Method::GET, all, move |call: Caller<Read>| async move {
        call.json(move |c, _, ()| (r.list)(c)).await
    });
    t.add(Method::POST, all, move |call: Caller<W, N>| async move {
        call.created(move |c, who, b| (r.add)(c, &who.username, &b))
            .await
    });
    t.add(
        Method::PATCH,
        one,
        move |id: Id, call: Caller<W, P>| async move {
            call.json(move |c, who, b| (r.update)(c, &who.username, *id, &b))
                .await
        },
    );
    t.add(
        Method::DELETE,
        one,
        move |id: Id, call: Caller<W>| async move {
            call.done(move |c, who, ()| (r.delete)(c, &who.username, *id))
                .await
        },
    );
}
