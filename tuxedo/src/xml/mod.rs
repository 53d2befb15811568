//! The XML API under `/api/`, a drop-in for the admin release automation talks to today.
//! Each handler is parse → catalogue function → render; [`run`] does the rest the same
//! way for every command: parameters, auth, a pooled connection off the executor, the
//! error body, metrics.

mod handlers;
pub mod params;
pub mod render;

use crate::auth::http::{authenticate, same_origin};
use crate::auth::Permission;
use crate::error::{Command, Result};
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bouncer_core::db::DbConnection;
use params::Params;
use std::time::Instant;

const XML: &str = "text/xml; charset=utf-8";

/// The XML API's routing table: `/api/` (what monitors probe), and every command on
/// `/api/<cmd>` and `/api/<cmd>/`; reads answer GET and HEAD, another method gets 405.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use handlers as h;
    use Command as C;
    cfg.service(
        web::resource("/api/")
            .route(web::get().to(root))
            .route(web::head().to(root)),
    );
    get(cfg, C::ProductShow, h::product_show);
    post(cfg, C::ProductAdd, h::product_add);
    post(cfg, C::ProductDelete, h::product_delete);
    post(cfg, C::LanguageAdd, h::product_language_add);
    post(cfg, C::LanguageDelete, h::product_language_delete);
    get(cfg, C::LocationShow, h::location_show);
    post(cfg, C::LocationAdd, h::location_add);
    post(cfg, C::LocationModify, h::location_modify);
    post(cfg, C::LocationDelete, h::location_delete);
    post(cfg, C::CreateUpdateAlias, h::create_update_alias);
    get(cfg, C::Uptake, h::uptake);
    get(cfg, C::MirrorList, h::mirror_list);
}

type Handler = fn(HttpRequest, web::Payload, web::Data<AppState>) -> handlers::Fut;

/// A read: GET, and HEAD, which answers the same without the body.
fn get(cfg: &mut web::ServiceConfig, cmd: Command, handler: Handler) {
    resource(cfg, cmd, &[web::get, web::head], "GET, HEAD", handler);
}

fn post(cfg: &mut web::ServiceConfig, cmd: Command, handler: Handler) {
    resource(cfg, cmd, &[web::post], "POST", handler);
}

fn resource(
    cfg: &mut web::ServiceConfig,
    cmd: Command,
    methods: &[fn() -> actix_web::Route],
    allow: &'static str,
    handler: Handler,
) {
    let name = cmd.name();
    let mut resource = web::resource([format!("/api/{name}"), format!("/api/{name}/")]);
    for method in methods {
        resource = resource.route(method().to(handler));
    }
    cfg.service(
        resource.default_service(web::to(move |state: web::Data<AppState>| async move {
            state.metrics.observe(
                name,
                StatusCode::METHOD_NOT_ALLOWED,
                std::time::Duration::ZERO,
            );
            HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, allow))
                .content_type("text/plain; charset=utf-8")
                .body("405 Method Not Allowed")
        })),
    );
}

/// `GET /api/`: the old admin's greeting, byte for byte (monitors match on it).
async fn root() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("Nazgul API")
}

/// Runs one command: refuses cross-origin browser writes, authenticates from the headers
/// (always for writes, for reads when `tuxedo.get_requires_auth`), reads the parameters,
/// runs `f` on a master connection in the blocking pool,
/// and renders the result or the error.
pub(crate) async fn run<F>(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    cmd: Command,
    permission: Permission,
    f: F,
) -> HttpResponse
where
    F: FnOnce(&mut DbConnection, &str, &Params) -> Result<Vec<u8>> + Send + 'static,
{
    let started = Instant::now();
    let result = async {
        same_origin(&req)?;
        // Credentials come from the headers: checked before a byte of the body is read.
        let needs_auth = permission != Permission::Read || state.config.tuxedo.get_requires_auth;
        let actor = match needs_auth {
            true => authenticate(&req, &state, permission).await?.username,
            false => "anonymous".to_owned(),
        };
        let params = Params::read(&req, payload, &state).await?;
        let write = permission != Permission::Read;
        crate::exec::on_master(&state, write, move |conn| f(conn, &actor, &params)).await
    }
    .await;
    let response = respond(cmd, result);
    state
        .metrics
        .observe(cmd.name(), response.status(), started.elapsed());
    response
}

/// The HTTP response of a command's outcome.
fn respond(cmd: Command, result: Result<Vec<u8>>) -> HttpResponse {
    let err = match result {
        Ok(body) => return HttpResponse::Ok().content_type(XML).body(body),
        Err(e) => e,
    };
    let status = err.status();
    let mut resp = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        resp.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="tuxedo""#));
    }
    if let Some(secs) = err.retry_after() {
        resp.insert_header((header::RETRY_AFTER, secs));
    }
    if status.is_server_error() {
        tracing::error!(command = cmd.name(), error = %err, "XML API call failed");
    }
    if let Some((number, text)) = err.xml_number_and_text(cmd) {
        if let Ok(body) = render::error(number, &text) {
            return resp.content_type(XML).body(body);
        }
    }
    let text = match status {
        StatusCode::INTERNAL_SERVER_ERROR => "internal error".to_owned(),
        _ => err.to_string(),
    };
    resp.content_type("text/plain; charset=utf-8").body(text)
}
