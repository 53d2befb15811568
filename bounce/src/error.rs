//! bounce's one error type, mapped to HTTP in one place.

use actix_web::{http::StatusCode, HttpResponse, ResponseError};
use bouncer_core::CoreError;

#[derive(Debug, thiserror::Error)]
pub enum BounceError {
    /// The client sent something unusable; the message says what.
    #[error("{0}")]
    BadRequest(String),
    /// A dependency (database, cache) is down.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A defect in bounce (a fill that panicked): 500, logged.
    #[error("internal error: {0}")]
    Bug(String),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

impl ResponseError for BounceError {
    fn status_code(&self) -> StatusCode {
        match self {
            BounceError::BadRequest(_) => StatusCode::BAD_REQUEST,
            BounceError::Unavailable(_) | BounceError::Core(CoreError::Pool(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // The detail of a server-side failure goes to the log, never to the client.
        let body = if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %self, "answered 503");
            "service unavailable: the catalogue cannot be read right now; try again\n".to_owned()
        } else if status.is_server_error() {
            tracing::error!(error = %self, "internal error");
            "internal error\n".to_owned()
        } else {
            format!("{self}\n")
        };
        HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .body(body)
    }
}
