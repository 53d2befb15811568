//! tuxedo's one error type.

use bouncer_core::CoreError;

#[derive(Debug, thiserror::Error)]
pub enum TuxedoError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}
