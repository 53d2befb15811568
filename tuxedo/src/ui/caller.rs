//! The UI's callers: [`Viewer`] for pages, [`Form`] for the POST forms of actions. Both
//! find the session (none: the login form), re-read the account (gone, inactive or with a
//! new password: logged out) and check its role; a form also parses and checks its CSRF
//! token. A refusal is the page it is today, sent before the handler runs.

use super::flow::{account, base, error_page, failure, session_of, to_login, Data, Done};
use super::redirect;
use super::session::{same_secret, Session};
use crate::auth::Principal;
use crate::caller::{from_check, observe_from_here, rendered, route_label, state_of, Need};
use crate::error::{Result, TuxedoError};
use crate::exec::on_master;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use bouncer_core::db::DbConnection;
use minijinja::{context, Value};
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// The signed-in caller of a page, allowed `P`.
pub struct Viewer<P> {
    req: HttpRequest,
    state: Data,
    sid: String,
    session: Session,
    who: Principal,
    need: PhantomData<P>,
}

/// A form's CSRF token (every action form carries the session's).
pub trait Csrf {
    fn csrf(&self) -> &str;
}

/// Implements [`Csrf`] for forms with a `csrf: String` field.
macro_rules! csrf_forms {
    ($($form:ty),* $(,)?) => {$(
        impl $crate::ui::caller::Csrf for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    )*};
}
pub(super) use csrf_forms;

/// The POST form `T` of a signed-in caller allowed `P`, its CSRF token checked.
pub struct Form<P, T = super::flow::CsrfOnly> {
    viewer: Viewer<P>,
    form: T,
}

impl<P: Need> Viewer<P> {
    /// The application state (configuration for the CDN probe, say).
    pub fn state(&self) -> &Data {
        &self.state
    }

    /// Page `template` with what `f` reads from the master merged into the context (which
    /// also has the user, the CSRF token, the flash messages and what the role may change).
    pub async fn page<F>(self, template: &'static str, f: F) -> HttpResponse
    where
        F: FnOnce(&mut DbConnection, &Principal) -> Result<Value> + Send + 'static,
    {
        let who = self.who.clone();
        match on_master(&self.state, false, move |c| f(c, &who)).await {
            Ok(v) => {
                let flash = self.state.ui.sessions.take_flash(&self.sid);
                let ctx = context! { ..base(&self.who, &self.session.csrf, flash), ..v };
                self.state
                    .ui
                    .templates
                    .respond(StatusCode::OK, template, ctx)
            }
            Err(e) => self.failed(&e),
        }
    }

    /// A page with nothing read (the forms of new things).
    pub async fn blank(self, template: &'static str) -> HttpResponse {
        self.page(template, |_, _| Ok(context! {})).await
    }

    /// The page asking whether to delete what `page` shows: it posts to `{page}/delete`,
    /// "Cancel" goes back to `page`; `f` gives the title and the question.
    pub async fn confirm<F>(self, page: String, f: F) -> HttpResponse
    where
        F: FnOnce(&mut DbConnection) -> Result<(String, String)> + Send + 'static,
    {
        let (action, cancel) = (format!("{page}/delete"), page);
        self.page("confirm.html", move |c, _| {
            let (title, question) = f(c)?;
            Ok(context! { title, question, action, cancel })
        })
        .await
    }

    fn failed(&self, e: &TuxedoError) -> HttpResponse {
        failure(&self.req, &self.state, &self.sid, Some(&self.session), e)
    }

    /// The session (none: the login form), then the account and its role.
    async fn check(req: HttpRequest, _: Payload) -> std::result::Result<Self, actix_web::Error> {
        let state = state_of(&req).map_err(|e| {
            let resp = HttpResponse::InternalServerError().finish();
            rendered(e, resp)
        })?;
        let Some((sid, session)) = session_of(&req, &state) else {
            return Err(rendered(TuxedoError::Unauthorized, to_login(&req)));
        };
        observe_from_here(&req, route_label(&req));
        let (name, stamp) = (session.username.clone(), session.stamp.clone());
        let checked = on_master(&state, false, move |c| {
            account(c, &name, &stamp, P::PERMISSION)
        });
        match checked.await {
            Ok(who) => Ok(Viewer {
                req,
                state,
                sid,
                session,
                who,
                need: PhantomData,
            }),
            Err(e) => {
                let resp = failure(&req, &state, &sid, Some(&session), &e);
                Err(rendered(e, resp))
            }
        }
    }
}

impl<P: Need, T> Form<P, T> {
    /// The application state (configuration for the CDN probe, say).
    pub fn state(&self) -> &Data {
        self.viewer.state()
    }

    /// The form's fields (where to go back to may depend on them).
    pub fn fields(&self) -> &T {
        &self.form
    }

    /// Runs the action `f` in its own transaction on the master, then redirects with its
    /// message (to `back`, the form's page, unless `f` says where). A caller's mistake is
    /// flashed on `back`.
    pub async fn act<F>(self, back: String, f: F) -> HttpResponse
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &Principal, T) -> Result<Done> + Send + 'static,
    {
        let Form { viewer: v, form } = self;
        let who = v.who.clone();
        let sessions = &v.state.ui.sessions;
        match on_master(&v.state, true, move |c| f(c, &who, form)).await {
            Ok(d) => {
                sessions.flash(&v.sid, "ok", d.text);
                redirect(d.to.as_deref().unwrap_or(&back))
            }
            Err(e) if e.status().is_client_error() && !is_access(&e) => {
                sessions.flash(&v.sid, "error", e.to_string());
                redirect(&back)
            }
            Err(e) => v.failed(&e),
        }
    }
}

fn is_access(e: &TuxedoError) -> bool {
    matches!(e, TuxedoError::Unauthorized | TuxedoError::Forbidden)
}

impl<P: Need, T: Csrf + DeserializeOwned + 'static> Form<P, T> {
    /// The form (unreadable: a 400 page, the scope's `FormConfig`, first, as before), the
    /// session, its CSRF token, then the account as for a page.
    async fn check(
        req: HttpRequest,
        mut payload: Payload,
    ) -> std::result::Result<Self, actix_web::Error> {
        let form = web::Form::<T>::from_request(&req, &mut payload)
            .await?
            .into_inner();
        let state = state_of(&req)
            .map_err(|e| rendered(e, HttpResponse::InternalServerError().finish()))?;
        let Some((_, session)) = session_of(&req, &state) else {
            return Err(rendered(TuxedoError::Unauthorized, to_login(&req)));
        };
        if !same_secret(form.csrf(), &session.csrf) {
            observe_from_here(&req, route_label(&req));
            tracing::warn!(
                user = session.username,
                path = req.path(),
                "UI form without a valid CSRF token"
            );
            let resp = error_page(
                &state,
                Some(&session),
                StatusCode::FORBIDDEN,
                "This form has no valid CSRF token (it may be stale: reload the page and retry).",
            );
            return Err(rendered(TuxedoError::Forbidden, resp));
        }
        let viewer = Viewer::check(req, Payload::None).await?;
        Ok(Form { viewer, form })
    }
}

from_check!(Viewer<P> where P: Need);
from_check!(Form<P, T> where P: Need, T: Csrf + DeserializeOwned + 'static);
