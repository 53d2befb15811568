//! The XML API under `/api/`, a drop-in for the admin release automation talks to today.
//! Each handler takes a [`Call`] of its permission (parameters, auth), makes one
//! catalogue call through it and answers XML; the route carries the command, which names
//! the metric and picks the old admin's error numbers.

mod caller;
mod handlers;
pub mod params;
pub mod render;

pub use caller::{Call, Reply, Xml};

use crate::error::{Command, TuxedoError};
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, Handler, HttpResponse, Responder};

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
    post(cfg, C::LocationAdd, h::location_set::<true>);
    post(cfg, C::LocationModify, h::location_set::<false>);
    post(cfg, C::LocationDelete, h::location_delete);
    post(cfg, C::CreateUpdateAlias, h::create_update_alias);
    get(cfg, C::Uptake, h::uptake);
    get(cfg, C::MirrorList, h::mirror_list);
}

/// A read: GET, and HEAD, which answers the same without the body.
fn get<F, P>(cfg: &mut web::ServiceConfig, cmd: Command, handler: F)
where
    F: Handler<(Call<P>,)>,
    F::Output: Responder + 'static,
    P: crate::caller::Need,
{
    resource(cfg, cmd, &[web::get, web::head], "GET, HEAD", handler);
}

fn post<F, P>(cfg: &mut web::ServiceConfig, cmd: Command, handler: F)
where
    F: Handler<(Call<P>,)>,
    F::Output: Responder + 'static,
    P: crate::caller::Need,
{
    resource(cfg, cmd, &[web::post], "POST", handler);
}

/// `/api/<cmd>` and `/api/<cmd>/` for `methods`, carrying `cmd` for its [`Call`]; the
/// handler takes a [`Call`], so no command answers without its checks.
fn resource<F, P>(
    cfg: &mut web::ServiceConfig,
    cmd: Command,
    methods: &[fn() -> actix_web::Route],
    allow: &'static str,
    handler: F,
) where
    F: Handler<(Call<P>,)>,
    F::Output: Responder + 'static,
    P: crate::caller::Need,
{
    let name = cmd.name();
    let mut resource = web::resource([format!("/api/{name}"), format!("/api/{name}/")])
        .app_data(cmd)
        .wrap(actix_web::middleware::from_fn(crate::caller::observe));
    for method in methods {
        resource = resource.route(method().to(handler.clone()));
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

/// The response of a command's failure, rendered; a server's fault is logged.
fn failure(cmd: Command, err: TuxedoError) -> actix_web::Error {
    let resp = error_response(cmd, &err);
    crate::caller::rendered(err, resp)
}

/// The old admin's error document (or text) for `err`, with its status and headers.
fn error_response(cmd: Command, err: &TuxedoError) -> HttpResponse {
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
