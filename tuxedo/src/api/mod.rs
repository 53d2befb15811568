//! The JSON REST API under `/api/v2/`: everything the XML API does, plus what operators
//! never had (operating systems, mirrors, regions, countries, rewrite rules, the audit log,
//! accounts and tokens). Every call needs credentials (Basic or a Bearer token): handlers
//! take a [`Caller`] of the route's permission, make one catalogue call through it and
//! answer with a typed reply ([`reply`]).

mod admin;
mod caller;
mod catalogue;
mod network;
mod reply;
mod stats;
mod table;

pub(crate) use caller::web_payload;
pub use caller::{Caller, WithCaller};
pub use table::{public_routes, route_list, Table};

use crate::error::{Result, TuxedoError};
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::de::DeserializeOwned;

/// Where the JSON API is mounted.
pub const PREFIX: &str = "/api/v2";

/// The committed OpenAPI document, served as is.
const OPENAPI: &str = include_str!("../../../docs/openapi.json");

type Data = web::Data<AppState>;

/// Mounts the JSON API: the routing table, JSON errors for bad paths and queries, and a
/// JSON 404 for unknown URLs.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let path_config = web::PathConfig::default().error_handler(|e, _| {
        let err = TuxedoError::NotFound {
            kind: "resource",
            key: e.to_string(),
        };
        actix_web::error::InternalError::from_response(e, error_response(&err)).into()
    });
    let query_config = web::QueryConfig::default().error_handler(|e, _| {
        let err = TuxedoError::BadRequest(e.to_string());
        actix_web::error::InternalError::from_response(e, error_response(&err)).into()
    });
    cfg.service(
        web::scope(PREFIX)
            .wrap(actix_web::middleware::from_fn(crate::caller::observe))
            .app_data(path_config)
            .app_data(query_config)
            .configure(|c| table::table(&mut table::Actix(c)))
            .default_service(web::to(|| async {
                error_response(&TuxedoError::NotFound {
                    kind: "route",
                    key: "of this method and path".into(),
                })
            })),
    );
}

/// `GET /openapi.json`: the API's description (no credentials needed).
async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(OPENAPI)
}

/// The body as `B` (read as [`crate::body`] says). A `Content-Type`, when sent, must be
/// `application/json` (parameters such as `charset` allowed), and a non-empty body must
/// come with it: a browser `<form>` (`text/plain`, form-encoded, multipart) never writes.
async fn read_body<B: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<B> {
    let declared = json_content_type(req)?;
    let bytes = crate::body::read(req, payload, state).await?;
    let empty = bytes.iter().all(u8::is_ascii_whitespace);
    if !empty && !declared {
        return Err(TuxedoError::UnsupportedMediaType(
            "a body needs Content-Type: application/json".into(),
        ));
    }
    let text = match empty {
        true => &b"null"[..],
        false => &bytes[..],
    };
    serde_json::from_slice(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data if text == b"null" => {
            TuxedoError::BadRequest("a JSON body is required".into())
        }
        serde_json::error::Category::Data => TuxedoError::invalid("body", e.to_string()),
        _ => TuxedoError::BadRequest(format!("body is not JSON: {e}")),
    })
}

/// Whether the request declares a JSON body; another `Content-Type` is refused (415).
fn json_content_type(req: &HttpRequest) -> Result<bool> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(false);
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    match text.parse::<actix_web::mime::Mime>() {
        Ok(m) if m.essence_str() == "application/json" => Ok(true),
        _ => Err(TuxedoError::UnsupportedMediaType(format!(
            "Content-Type {text:?}: the JSON API takes application/json"
        ))),
    }
}

/// `{"error": {"code": "...", "message": "..."}}` with the error's status; bugs stay
/// opaque.
fn error_response(e: &TuxedoError) -> HttpResponse {
    let status = e.json_status();
    let message = match status {
        StatusCode::INTERNAL_SERVER_ERROR => "internal error".to_owned(),
        _ => e.to_string(),
    };
    let mut resp = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        resp.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="tuxedo", Bearer"#));
    }
    if let Some(secs) = e.retry_after() {
        resp.insert_header((header::RETRY_AFTER, secs));
    }
    resp.json(serde_json::json!({"error": {"code": e.json_code(), "message": message}}))
}
