//! The XML API's caller: the command (from its route), cross-origin writes refused,
//! credentials checked from the headers (always for writes, for reads when
//! `tuxedo.get_requires_auth`) before a byte of the body is read, then the parameters.
//! Refusals are rendered as the old admin's error bodies before the handler runs.

use super::params::Params;
use super::{failure, XML};
use crate::api::web_payload;
use crate::auth::http::{authenticate, same_origin};
use crate::caller::{from_check, observe_from_here, rendered, state_of, Need};
use crate::error::{Command, Result, TuxedoError};
use crate::AppState;
use actix_web::body::BoxBody;
use actix_web::dev::Payload;
use actix_web::{web, HttpRequest, HttpResponse, Responder};
use bouncer_core::db::DbConnection;
use std::marker::PhantomData;

/// The caller of an XML command allowed `P`, with the call's parameters.
pub struct Call<P> {
    cmd: Command,
    actor: String,
    params: Params,
    state: web::Data<AppState>,
    need: PhantomData<P>,
}

/// What an XML handler returns: the document, or the error already rendered.
pub type Reply = std::result::Result<Xml, actix_web::Error>;

/// `200 OK` with an XML document.
pub struct Xml(Vec<u8>);

impl Responder for Xml {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::Ok().content_type(XML).body(self.0)
    }
}

impl<P: Need> Call<P> {
    /// The application state (configuration for the CDN probe, say).
    pub fn state(&self) -> &web::Data<AppState> {
        &self.state
    }

    /// Runs the command's catalogue call on the master (publishing the generation after a
    /// write; a read on the reads' own pool) with the actor's name and the parameters;
    /// renders its document or error.
    pub async fn run<F>(self, f: F) -> Reply
    where
        F: FnOnce(&mut DbConnection, &str, &Params) -> Result<Vec<u8>> + Send + 'static,
    {
        let Call {
            cmd,
            actor,
            params,
            state,
            ..
        } = self;
        let run = move |c: &mut DbConnection| f(c, &actor, &params);
        match P::writes() {
            true => crate::exec::on_master(&state, true, run).await,
            false => crate::exec::on_reads(&state, run).await,
        }
        .map(Xml)
        .map_err(|e| failure(cmd, e))
    }
}

impl<P: Need> Call<P> {
    /// The command, same origin, credentials when needed, then the parameters; refusals
    /// rendered as the old admin's errors.
    async fn check(
        req: HttpRequest,
        mut payload: Payload,
    ) -> std::result::Result<Self, actix_web::Error> {
        let Some(cmd) = req.app_data::<Command>().copied() else {
            let e = TuxedoError::Internal("an XML route without its command".into());
            return Err(rendered(e, HttpResponse::InternalServerError().finish()));
        };
        observe_from_here(&req, cmd.name().to_owned());
        let checked = async {
            let state = state_of(&req)?;
            same_origin(&req)?;
            let needs_auth = P::writes() || state.config.tuxedo.get_requires_auth;
            let actor = match needs_auth {
                true => authenticate(&req, &state, P::PERMISSION).await?.username,
                false => "anonymous".to_owned(),
            };
            let params = Params::read(&req, web_payload(&req, &mut payload)?, &state).await?;
            let need = PhantomData;
            Ok(Call {
                cmd,
                actor,
                params,
                state,
                need,
            })
        };
        checked.await.map_err(|e| failure(cmd, e))
    }
}

from_check!(Call<P> where P: Need);
