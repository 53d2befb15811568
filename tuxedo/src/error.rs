//! tuxedo's one error type, and the one place that maps it to HTTP: the status of every
//! error, and for the XML API the error number and text each endpoint has always sent
//! (release automation matches on them, so they are part of the API).

use actix_web::http::StatusCode;
use bouncer_core::db::classify::{is_connection_lost, is_transient, is_unique_violation};
use bouncer_core::CoreError;

/// Everything that can go wrong in tuxedo. The first group are the caller's mistakes
/// (4xx); the catalogue functions return them before touching anything, or from inside
/// the transaction, which then rolls back.
#[derive(Debug, thiserror::Error)]
pub enum TuxedoError {
    #[error("missing parameter {0}")]
    Missing(&'static str),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("product name is empty")]
    EmptyProductName,
    #[error("product {0:?} already exists")]
    ProductExists(String),
    #[error("product {0} not found")]
    ProductNotFound(String),
    #[error("language(s) already exist(s): {0}")]
    LanguagesExist(String),
    #[error("os {0:?} not found")]
    OsNotFound(String),
    #[error("location of {product:?} on {os:?} already exists")]
    LocationExists { product: String, os: String },
    #[error("no location of {product:?} on {os:?}")]
    LocationNotFound { product: String, os: String },
    #[error("location {0} not found")]
    LocationIdNotFound(String),
    #[error("alias {0:?} is the name of a product")]
    AliasIsProduct(String),
    /// Products and aliases share one name space (`bouncer_core::name_space`).
    #[error("product name {0:?} is an alias (or a pending gate's alias)")]
    ProductIsAlias(String),
    #[error("related product {0:?} not found")]
    RelatedProductNotFound(String),
    #[error("no products match")]
    NoProductsMatch,
    #[error("no operating systems match")]
    NoOsesMatch,
    #[error("user {0:?} already exists")]
    UserExists(String),
    /// A row named in the URL or body of a JSON API call does not exist.
    #[error("{kind} {key} not found")]
    NotFound { kind: &'static str, key: String },
    /// The write would break a uniqueness rule (a name taken, a row still in use).
    #[error("{0}")]
    Conflict(String),
    /// A JSON body or query string that does not parse.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A rewrite rule of a replacement set does not compile; nothing was changed.
    #[error("rule {index}: {reason}")]
    InvalidRule { index: usize, reason: String },

    #[error("authentication required")]
    Unauthorized,
    #[error("this account's role may not do this")]
    Forbidden,
    /// A write a browser sent from another site (`Origin`, `Sec-Fetch-Site`).
    #[error("cross-origin write refused: {0}")]
    CrossOrigin(String),
    /// A JSON API body without `Content-Type: application/json`.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// Locked out by the failed-login limit for this many more seconds (`Retry-After`).
    #[error("too many failed logins; retry in {0} s")]
    TooManyAttempts(u64),
    #[error("request body over {0} bytes")]
    PayloadTooLarge(usize),
    /// The body did not arrive within `tuxedo.body_timeout_ms`.
    #[error("request body not received within {0} ms")]
    BodyTimeout(u64),
    #[error("method not allowed")]
    MethodNotAllowed,

    /// A concurrent write inserted the same key first (and trying again did not turn the
    /// write into a repeat): 409.
    #[error("already exists (written concurrently): {0}")]
    Duplicate(String),
    /// The database kept aborting the transaction (deadlocks, lock timeouts) although it
    /// was tried again: 503, the caller may retry.
    #[error("the database is busy; try again: {0}")]
    Busy(String),
    /// The master is down or unreachable: 503, the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected database failure: opaque 500, details only in the log.
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

pub type Result<T, E = TuxedoError> = std::result::Result<T, E>;

impl From<CoreError> for TuxedoError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Pool(e) => Self::Unavailable(e.to_string()),
            CoreError::Query(e) => e.into(),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for TuxedoError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            // A lost connection mid-call is the database being down, not a bug.
            e if is_connection_lost(&e) => Self::Unavailable(e.to_string()),
            e if is_unique_violation(&e) => Self::Duplicate(e.to_string()),
            e if is_transient(&e) => Self::Busy(e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

/// An XML API command, as far as errors are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    ProductShow,
    ProductAdd,
    ProductDelete,
    LanguageAdd,
    LanguageDelete,
    LocationShow,
    LocationAdd,
    LocationModify,
    LocationDelete,
    CreateUpdateAlias,
    Uptake,
    MirrorList,
}

impl Command {
    /// The command's name in the URL (`/api/<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Self::ProductShow => "product_show",
            Self::ProductAdd => "product_add",
            Self::ProductDelete => "product_delete",
            Self::LanguageAdd => "product_language_add",
            Self::LanguageDelete => "product_language_delete",
            Self::LocationShow => "location_show",
            Self::LocationAdd => "location_add",
            Self::LocationModify => "location_modify",
            Self::LocationDelete => "location_delete",
            Self::CreateUpdateAlias => "create_update_alias",
            Self::Uptake => "uptake",
            Self::MirrorList => "mirror_list",
        }
    }
}

impl TuxedoError {
    /// The caller's `field` is wrong, and `reason` says how: the one error of most checks,
    /// short enough to write where the check is.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// Whether trying the whole transaction again may succeed: the database aborted it, or
    /// a concurrent identical write inserted the key first (the next attempt then sees
    /// that row and answers as for a repeat).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Duplicate(_) | Self::Busy(_))
    }

    /// The HTTP status of this error, whatever the API.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::CrossOrigin(_) => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UserExists(_) | Self::Duplicate(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) | Self::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) | Self::Io(_) | Self::Metrics(_) => StatusCode::INTERNAL_SERVER_ERROR,
            // The caller's mistakes: 400 on the XML API and the UI, as the old admin
            // answered (the JSON API tells them apart in `json_status`). Listed, not a
            // catch-all, so a new variant must choose its status.
            Self::Missing(_)
            | Self::Invalid { .. }
            | Self::EmptyProductName
            | Self::ProductExists(_)
            | Self::ProductNotFound(_)
            | Self::LanguagesExist(_)
            | Self::OsNotFound(_)
            | Self::LocationExists { .. }
            | Self::LocationNotFound { .. }
            | Self::LocationIdNotFound(_)
            | Self::AliasIsProduct(_)
            | Self::ProductIsAlias(_)
            | Self::RelatedProductNotFound(_)
            | Self::NoProductsMatch
            | Self::NoOsesMatch
            | Self::NotFound { .. }
            | Self::Conflict(_)
            | Self::BadRequest(_)
            | Self::InvalidRule { .. } => StatusCode::BAD_REQUEST,
        }
    }

    /// The HTTP status of this error in the JSON API, which tells the caller's mistakes
    /// apart (the XML API answers 400 for all of them, as the old admin did).
    pub fn json_status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Missing(_)
            | Self::Invalid { .. }
            | Self::EmptyProductName
            | Self::InvalidRule { .. }
            | Self::OsNotFound(_)
            | Self::RelatedProductNotFound(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::ProductExists(_)
            | Self::LanguagesExist(_)
            | Self::LocationExists { .. }
            | Self::AliasIsProduct(_)
            | Self::ProductIsAlias(_)
            | Self::UserExists(_)
            | Self::Duplicate(_)
            | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::ProductNotFound(_)
            | Self::LocationNotFound { .. }
            | Self::LocationIdNotFound(_)
            | Self::NoProductsMatch
            | Self::NoOsesMatch
            | Self::NotFound { .. } => StatusCode::NOT_FOUND,
            other => other.status(),
        }
    }

    /// The `Retry-After` (seconds) of this error, whatever the interface.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts(secs) => Some(*secs),
            _ => None,
        }
    }

    /// The machine-readable `code` of a JSON API error.
    pub fn json_code(&self) -> &'static str {
        match self.json_status() {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNPROCESSABLE_ENTITY => match self {
                Self::Missing(_) => "missing",
                Self::InvalidRule { .. } => "invalid_rule",
                _ => "invalid",
            },
            StatusCode::CONFLICT => "conflict",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => match self {
                Self::CrossOrigin(_) => "cross_origin",
                _ => "forbidden",
            },
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::TOO_MANY_REQUESTS => "too_many_attempts",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::REQUEST_TIMEOUT => "request_timeout",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            _ => "internal",
        }
    }

    /// The `<error number="N">text</error>` of the XML API, for the errors that have one
    /// (the caller's mistakes and 413); `None` for the rest, which get a plain-text body.
    pub fn xml_number_and_text(&self, cmd: Command) -> Option<(u16, String)> {
        use Command as C;
        let (n, text) = match (self, cmd) {
            (Self::PayloadTooLarge(limit), _) => (
                101,
                format!("POST request length exceeded {}KB", limit / 1024),
            ),
            (Self::Missing(_), C::ProductShow) => (101, "product is required.".into()),
            (Self::Missing(_), C::ProductDelete) => {
                (101, "Either product_id or product is required.".into())
            }
            (Self::Missing(_), C::LanguageAdd | C::LanguageDelete) => {
                (101, "Product name is required.".into())
            }
            (Self::Missing(_), C::LocationShow) => {
                (103, "The GET parameter product is required".into())
            }
            (Self::Missing(_), C::LocationAdd | C::LocationModify) => (
                101,
                "product, os, and path are required POST parameters.".into(),
            ),
            (Self::Missing(_), C::LocationDelete) => (101, "location_id is required.".into()),
            (Self::Missing("alias"), C::CreateUpdateAlias) => {
                (102, "Alias name not provided".into())
            }
            (Self::Missing(_), C::CreateUpdateAlias) => {
                (103, "Related product name not provided".into())
            }
            (Self::Missing(_), C::Uptake) => {
                (101, "product and/or os are required GET parameters.".into())
            }
            (Self::Missing(p), _) => (101, format!("{p} is required.")),
            (Self::EmptyProductName, _) => (103, "Cannot add an empty product name".into()),
            (Self::ProductExists(_), _) => (104, "product already exists.".into()),
            (Self::ProductNotFound(_), C::ProductDelete) => (102, "No product found.".into()),
            (Self::ProductNotFound(p), C::LocationAdd | C::LocationModify) => {
                (105, format!("FAILED: '{p}' does not exist"))
            }
            (Self::ProductNotFound(_), _) => (102, "Product not found.".into()),
            (Self::LanguagesExist(_), _) => (104, "Language(s) already exist(s)".into()),
            (Self::OsNotFound(os), _) => (106, format!("FAILED: '{os}' does not exist")),
            (Self::LocationExists { .. }, _) => {
                (104, "The specified location already exists.".into())
            }
            (Self::LocationNotFound { product, os }, _) => (
                104,
                format!("FAILED: location '{product}' on OS '{os}' does not exist"),
            ),
            (Self::LocationIdNotFound(_), _) => (102, "No location found.".into()),
            (Self::RelatedProductNotFound(_), _) => (
                103,
                "You must specify a valid product to match with an alias".into(),
            ),
            (Self::AliasIsProduct(_), _) => (
                104,
                "You cannot create an alias with the same name as a product".into(),
            ),
            // Not in the old admin (it stored the product, which the alias then shadowed);
            // worded as its alias-side twin above.
            (Self::ProductIsAlias(_), _) => (
                104,
                "You cannot create a product with the same name as an alias".into(),
            ),
            (Self::NoProductsMatch, _) => (102, "No products found".into()),
            (Self::NoOsesMatch, _) => (102, "No OSes found".into()),
            // Not in the old admin (it answered 500 or wrote bad rows): one number for
            // every other invalid value, with a text naming the parameter.
            (Self::Invalid { field, reason }, _) => (100, format!("Invalid {field}: {reason}")),
            _ => return None,
        };
        Some((n, text))
    }
}
