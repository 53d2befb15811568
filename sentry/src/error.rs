//! sentry's one error type. A run fails (non-zero exit under cron) only when it could not
//! do its job: database down, a `--mirror` that names nothing, a failed write. A mirror
//! that misbehaves is a result, never an error.

/// Why a run (or the daemon) could not complete.
#[derive(Debug, thiserror::Error)]
pub enum SentryError {
    #[error(transparent)]
    Core(#[from] bouncer_core::CoreError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("no active mirror matches {0:?}")]
    NoSuchMirror(String),
    #[error("{filter:?} matches several active mirrors ({}); give the id or the full name", .names.join(", "))]
    AmbiguousMirror { filter: String, names: Vec<String> },
    #[error("HTTP client setup failed: {0}")]
    Client(#[from] reqwest::Error),
    #[error("metrics setup failed: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    #[error("run task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("the result writer stopped before the run ended")]
    WriterGone,
    /// `sentry agent` without `sentry.controller` and `sentry.agent_token`.
    #[error(
        "an agent needs sentry.controller and sentry.agent_token (BOUNCER_SENTRY__AGENT_TOKEN)"
    )]
    NotAnAgent,
    /// The controller refused an agent's request.
    #[error("the controller answered {status}: {reason}")]
    Controller { status: u16, reason: String },
    /// Another run holds the run lease: this one did not start.
    #[error("another sentry run is in progress ({} holds the run lock until {} UTC); not starting a second one", .0.holder, .0.until)]
    Busy(bouncer_core::db::lease::Held),
}

impl SentryError {
    /// The caller's mistake (a `--mirror` that names no mirror, or several): said plainly,
    /// exit code 2, not logged as an error of sentry's.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SentryError::NoSuchMirror(_)
                | SentryError::AmbiguousMirror { .. }
                | SentryError::NotAnAgent
        )
    }

    /// A database abort that is gone when the transaction is tried again (a deadlock).
    pub fn is_transient(&self) -> bool {
        match self {
            SentryError::Query(e) | SentryError::Core(bouncer_core::CoreError::Query(e)) => {
                bouncer_core::db::classify::is_transient(e)
            }
            _ => false,
        }
    }
}
