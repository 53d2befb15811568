//! The JSON API's caller: authenticated for the route's [`Need`] before its body is read
//! (one future does both, in that order: actix polls a handler's extractors together, and
//! a body must never be read for a caller who may not send it), and its one catalogue call.

use super::reply::{Created, Json, NoContent, Reply};
use super::{error_response, read_body, Data};
use crate::auth::http::{authenticate, same_origin};
use crate::auth::Principal;
use crate::caller::{from_check, observe_from_here, rendered, route_label, state_of, Need};
use crate::error::{Result, TuxedoError};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use bouncer_core::db::DbConnection;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// The caller of a JSON route allowed `P`, with the request body as `B` (`()`: none; an
/// empty body is JSON `null`). Refused with the JSON error body (401 with
/// `WWW-Authenticate`, 403, 429 with `Retry-After`, 415, 413…) before the handler runs.
pub struct Caller<P, B = ()> {
    who: Principal,
    body: B,
    state: Data,
    path: String,
    need: PhantomData<P>,
}

impl<P: Need, B> Caller<P, B> {
    /// The application state (configuration for the CDN probe, say).
    pub fn state(&self) -> &Data {
        &self.state
    }

    /// Runs the route's catalogue call on the master (publishing the generation after a
    /// write; a read on the reads' own pool); its error is rendered as the API's error
    /// body.
    pub async fn run<T, F>(self, f: F) -> std::result::Result<T, actix_web::Error>
    where
        B: Send + 'static,
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &Principal, B) -> Result<T> + Send + 'static,
    {
        let Caller {
            who,
            body,
            state,
            path,
            ..
        } = self;
        let run = move |c: &mut DbConnection| f(c, &who, body);
        match P::writes() {
            true => crate::exec::on_master(&state, true, run).await,
            false => crate::exec::on_reads(&state, run).await,
        }
        .map_err(|e| failed(&path, e))
    }
}

impl<P: Need, B: Send + 'static> Caller<P, B> {
    /// [`Caller::run`], answered `200 OK`.
    pub async fn json<T, F>(self, f: F) -> Reply<Json<T>>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &Principal, B) -> Result<T> + Send + 'static,
    {
        self.run(f).await.map(Json)
    }

    /// [`Caller::run`], answered `201 Created`.
    pub async fn created<T, F>(self, f: F) -> Reply<Created<T>>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &Principal, B) -> Result<T> + Send + 'static,
    {
        self.run(f).await.map(Created)
    }

    /// [`Caller::run`] of a delete or unlink, answered `204 No Content`.
    pub async fn done<F>(self, f: F) -> Reply<NoContent>
    where
        F: FnOnce(&mut DbConnection, &Principal, B) -> Result<()> + Send + 'static,
    {
        self.run(f).await.map(|()| NoContent)
    }
}

/// The error response of `e`; a server's fault is logged, a client's mistake not.
fn failed(path: &str, e: TuxedoError) -> actix_web::Error {
    if e.json_status().is_server_error() {
        tracing::error!(path, error = %e, "JSON API call failed");
    }
    let resp = error_response(&e);
    rendered(e, resp)
}

impl<P: Need, B: DeserializeOwned + 'static> Caller<P, B> {
    /// Same origin, credentials for `P`, then the body; refusals rendered as JSON.
    async fn check(
        req: HttpRequest,
        mut payload: Payload,
    ) -> std::result::Result<Self, actix_web::Error> {
        observe_from_here(&req, route_label(&req));
        let path = req.path().to_owned();
        let checked = async {
            let state = state_of(&req)?;
            same_origin(&req)?;
            let who = authenticate(&req, &state, P::PERMISSION).await?;
            let body = read_body(&req, web_payload(&req, &mut payload)?, &state).await?;
            let need = PhantomData;
            Ok(Caller {
                who,
                body,
                state,
                path: path.clone(),
                need,
            })
        };
        checked.await.map_err(|e| failed(&path, e))
    }
}

from_check!(Caller<P, B> where P: Need, B: DeserializeOwned + 'static);

/// The payload as the body readers take it.
pub(crate) fn web_payload(req: &HttpRequest, payload: &mut Payload) -> Result<web::Payload> {
    web::Payload::from_request(req, payload)
        .into_inner()
        .map_err(|e| TuxedoError::BadRequest(e.to_string()))
}

/// The argument tuples of JSON handlers: a [`Caller`] last (after the path and query,
/// which are refused first, as before), so [`super::Table`] mounts no route without one.
pub trait WithCaller {}
impl<P, B> WithCaller for (Caller<P, B>,) {}
impl<A, P, B> WithCaller for (A, Caller<P, B>) {}
impl<A, C, P, B> WithCaller for (A, C, Caller<P, B>) {}
