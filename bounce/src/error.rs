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
        let body = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
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
