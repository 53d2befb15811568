//! What UI requests share: login and logout, the account check and the context every page
//! knows, the success message of an action, and errors rendered as pages with the right
//! status. The callers that use them (pages, forms) are in [`super::caller`].

use super::redirect;
use super::session::{self, cookie, removal, same_secret, Session};
use crate::auth::http::{client_ip, retry_after_secs};
use crate::auth::{users, Permission, Principal};
use crate::error::{Result, TuxedoError};
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bouncer_core::db::DbConnection;
use minijinja::{context, Value};
use serde::Deserialize;

pub(super) type Data = web::Data<AppState>;

/// What a successful action says, and where the browser goes next.
pub(super) struct Done {
    pub(super) text: String,
    pub(super) to: Option<String>,
}

/// A form's `YYYY-MM-DD` field as the start of that day, UTC; blank = none.
pub(super) fn date_field(
    field: &'static str,
    value: &str,
) -> Result<Option<chrono::NaiveDateTime>> {
    match value.trim() {
        "" => Ok(None),
        d => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(|day| Some(day.and_time(chrono::NaiveTime::MIN)))
            .map_err(|e| TuxedoError::invalid(field, format!("{d:?}: {e} (expected YYYY-MM-DD)"))),
    }
}

/// A success message; the browser returns to the form's page.
pub(super) fn done(text: impl Into<String>) -> Done {
    Done {
        text: text.into(),
        to: None,
    }
}

impl Done {
    /// Goes to `to` instead.
    pub(super) fn to(mut self, to: impl Into<String>) -> Done {
        self.to = Some(to.into());
        self
    }
}

/// A form with nothing but its CSRF token.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct CsrfOnly {
    pub csrf: String,
}

/// The session named by the request's cookie, with its id.
pub(super) fn session_of(req: &HttpRequest, state: &AppState) -> Option<(String, Session)> {
    let id = req.cookie(session::COOKIE)?.value().to_owned();
    let s = state.ui.sessions.get(&id)?;
    Some((id, s))
}

/// The account behind a session as it is now, checked for `perm`; gone, inactive or with
/// a new password: the session is over.
pub(super) fn account(
    c: &mut DbConnection,
    name: &str,
    stamp: &str,
    perm: Permission,
) -> Result<Principal> {
    let who = users::current(c, name, stamp)?.ok_or(TuxedoError::Unauthorized)?;
    who.require(perm)?;
    Ok(who)
}

/// What every page knows.
pub(super) fn base(who: &Principal, csrf: &str, flash: Vec<session::Flash>) -> Value {
    context! {
        user => who.username,
        role => who.role.as_str(),
        csrf => csrf,
        flash => flash,
        can_catalogue => who.role.allows(Permission::Catalogue),
        can_mirrors => who.role.allows(Permission::Mirrors),
        can_stats => who.role.allows(Permission::Stats),
        is_admin => who.role.allows(Permission::Accounts),
    }
}

/// The page of a failed request: a gone account logs out; the rest is an error page.
pub(super) fn failure(
    req: &HttpRequest,
    state: &AppState,
    sid: &str,
    s: Option<&Session>,
    e: &TuxedoError,
) -> HttpResponse {
    if matches!(e, TuxedoError::Unauthorized) {
        state.ui.sessions.remove(sid);
        return to_login(req);
    }
    let status = e.json_status();
    let text = match e {
        TuxedoError::Forbidden => "Your role may not use this page or action.".to_owned(),
        _ if status.is_server_error() => {
            tracing::error!(path = req.path(), error = %e, "UI request failed");
            match status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "The database is unavailable; retry in a moment.".to_owned()
                }
                _ => "Internal error (details are in the log).".to_owned(),
            }
        }
        _ => e.to_string(),
    };
    error_page(state, s, status, &text)
}

/// An error page with `status`.
pub(super) fn error_page(
    state: &AppState,
    s: Option<&Session>,
    status: StatusCode,
    text: &str,
) -> HttpResponse {
    let ctx = context! {
        user => s.map(|s| s.username.clone()),
        status => status.as_u16(),
        reason => status.canonical_reason(),
        message => text,
    };
    state.ui.templates.respond(status, "error.html", ctx)
}

pub(super) fn to_login(req: &HttpRequest) -> HttpResponse {
    let mut r = redirect("/ui/login");
    // A session cookie that names no session is dropped.
    if req.cookie(session::COOKIE).is_some() {
        let _ = r.add_removal_cookie(&removal(req, session::COOKIE));
    }
    r
}

/// `GET /ui/login`: the form, with a fresh CSRF token in a cookie and the form.
pub(super) async fn login_page(req: HttpRequest, state: Data) -> HttpResponse {
    if session_of(&req, &state).is_some() {
        return redirect("/ui/");
    }
    login_form(&req, &state, StatusCode::OK, None)
}

fn login_form(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
) -> HttpResponse {
    let token = session::random_token();
    let mut r = state.ui.templates.respond(
        status,
        "login.html",
        context! { csrf => token, error => error },
    );
    let _ = r.add_cookie(&cookie(req, session::LOGIN_COOKIE, token));
    r
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(super) struct LoginForm {
    csrf: String,
    username: String,
    password: String,
}

/// `POST /ui/login`: the same password check and failed-login limit as the APIs.
pub(super) async fn login(
    req: HttpRequest,
    state: Data,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let expected = req
        .cookie(session::LOGIN_COOKIE)
        .map(|c| c.value().to_owned());
    if !expected.is_some_and(|t| same_secret(&form.csrf, &t)) {
        return error_page(
            &state,
            None,
            StatusCode::FORBIDDEN,
            "The login form has no valid CSRF token (reload the login page and retry).",
        );
    }
    let ip = client_ip(&req, &state);
    let user = form.username.trim().to_owned();
    if let Some(left) = state.limiter.blocked_for(&user, ip) {
        tracing::warn!(user, %ip, "UI login refused: too many failures");
        let e = TuxedoError::TooManyAttempts(retry_after_secs(left));
        let mut r = login_form(&req, &state, e.status(), Some(&e.to_string()));
        if let Some(secs) = e.retry_after() {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        return r;
    }
    let verified = crate::auth::http::check_login(&state, &user, form.password).await;
    match verified {
        Ok(Some((who, stamp))) => {
            state.limiter.succeeded(&user, ip);
            tracing::info!(user = who.username, %ip, "UI login");
            let sid = state.ui.sessions.create(&who.username, who.role, stamp);
            let mut r = redirect("/ui/");
            let _ = r.add_cookie(&cookie(&req, session::COOKIE, sid));
            let _ = r.add_removal_cookie(&removal(&req, session::LOGIN_COOKIE));
            r
        }
        Ok(None) => {
            state.limiter.failed(&user, ip);
            tracing::warn!(user, %ip, "UI login failed");
            login_form(
                &req,
                &state,
                StatusCode::UNAUTHORIZED,
                Some("Wrong username or password."),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "UI login could not check the password");
            error_page(
                &state,
                None,
                e.json_status(),
                "The database is unavailable; retry in a moment.",
            )
        }
    }
}

/// `POST /ui/logout`: ends the session (CSRF-checked, so no page can log you out).
pub(super) async fn logout(
    req: HttpRequest,
    state: Data,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let Some((sid, s)) = session_of(&req, &state) else {
        return to_login(&req);
    };
    if !same_secret(&form.csrf, &s.csrf) {
        return error_page(
            &state,
            Some(&s),
            StatusCode::FORBIDDEN,
            "This form has no valid CSRF token.",
        );
    }
    state.ui.sessions.remove(&sid);
    tracing::info!(user = s.username, "UI logout");
    let mut r = redirect("/ui/login");
    let _ = r.add_removal_cookie(&removal(&req, session::COOKIE));
    r
}

/// Unknown UI paths.
pub(super) async fn not_found(req: HttpRequest, state: Data) -> HttpResponse {
    let s = session_of(&req, &state).map(|(_, s)| s);
    error_page(&state, s.as_ref(), StatusCode::NOT_FOUND, "No such page.")
}

/// A form that does not parse (a number that is not one) is the caller's mistake: 400.
pub(super) fn form_config() -> web::FormConfig {
    web::FormConfig::default().error_handler(|e, req| {
        let text = format!("The form could not be read: {e}");
        let resp = match req.app_data::<Data>() {
            Some(state) => error_page(state, None, StatusCode::BAD_REQUEST, &text),
            None => HttpResponse::BadRequest().body(text),
        };
        actix_web::error::InternalError::from_response(e, resp).into()
    })
}

/// An id in the path that is not a number names no page: 404.
pub(super) fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|e, req| {
        let resp = match req.app_data::<Data>() {
            Some(state) => error_page(state, None, StatusCode::NOT_FOUND, "No such page."),
            None => HttpResponse::NotFound().finish(),
        };
        actix_web::error::InternalError::from_response(e, resp).into()
    })
}

/// An optional number from a form field (blank = none).
pub(super) fn opt_number(field: &'static str, v: &str) -> Result<Option<i32>> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| TuxedoError::invalid(field, format!("{v:?} is not a whole number")))
}

/// A list typed in one field (languages, networks, country codes): items separated by
/// commas, spaces or line breaks.
pub(super) fn split_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A required number from a form field.
pub(super) fn number(field: &'static str, v: &str) -> Result<i32> {
    opt_number(field, v)?.ok_or(TuxedoError::Missing(field))
}

super::caller::csrf_forms!(CsrfOnly);
