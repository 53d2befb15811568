//! The JSON REST API under `/api/v2/`: everything the XML API does, plus what operators
//! never had (operating systems, mirrors, regions, countries, rewrite rules, the audit log,
//! accounts and tokens). Every call needs credentials (Basic or a Bearer token); handlers
//! are parse → catalogue function → JSON, and [`call`] does the rest the same way for all.

mod admin;
mod catalogue;
mod network;
mod table;

pub use table::{route_list, Table};

use crate::auth::http::{authenticate, same_origin};
use crate::auth::{Permission, Principal};
use crate::error::{Result, TuxedoError};
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bouncer_core::db::DbConnection;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Instant;

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

/// Runs one call: authenticates the caller for `permission`, reads the body as `B` (an
/// empty body is JSON `null`, so `()` means "no body"), runs `f` on the master off the
/// executor (publishing the generation after a write), and renders the result with `ok`
/// or the error as `{"error": {"code", "message"}}`.
pub(crate) async fn call<B, T, F>(
    req: HttpRequest,
    payload: web::Payload,
    state: Data,
    permission: Permission,
    ok: StatusCode,
    f: F,
) -> HttpResponse
where
    B: DeserializeOwned + Send + 'static,
    T: Serialize + Send + 'static,
    F: FnOnce(&mut DbConnection, &Principal, B) -> Result<T> + Send + 'static,
{
    call_with(req, payload, state, permission, move |c, who, b| {
        f(c, who, b).map(|v| (ok, v))
    })
    .await
}

/// [`call`] for the routes whose success status depends on the call (`f` returns it).
pub(crate) async fn call_with<B, T, F>(
    req: HttpRequest,
    payload: web::Payload,
    state: Data,
    permission: Permission,
    f: F,
) -> HttpResponse
where
    B: DeserializeOwned + Send + 'static,
    T: Serialize + Send + 'static,
    F: FnOnce(&mut DbConnection, &Principal, B) -> Result<(StatusCode, T)> + Send + 'static,
{
    let started = Instant::now();
    let result = async {
        same_origin(&req)?;
        let who = authenticate(&req, &state, permission).await?;
        let body: B = read_body(&req, payload, &state).await?;
        let write = permission != Permission::Read;
        crate::exec::on_master(&state, write, move |conn| f(conn, &who, body)).await
    }
    .await;
    let response = match result {
        Ok((StatusCode::NO_CONTENT, _)) => HttpResponse::NoContent().finish(),
        Ok((ok, value)) => HttpResponse::build(ok).json(value),
        Err(e) => {
            if e.json_status().is_server_error() {
                tracing::error!(path = req.path(), error = %e, "JSON API call failed");
            }
            error_response(&e)
        }
    };
    let endpoint = format!(
        "{} {}",
        req.method(),
        req.match_pattern().unwrap_or_default()
    );
    state
        .metrics
        .observe(&endpoint, response.status(), started.elapsed());
    response
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
        serde_json::error::Category::Data => TuxedoError::Invalid {
            field: "body",
            reason: e.to_string(),
        },
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
