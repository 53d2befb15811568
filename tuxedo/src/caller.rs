//! What the three surfaces share about a caller. A route's permission is a type
//! ([`Need`]), so the extractor that checks it is part of the handler's signature and a
//! route cannot forget it; each surface's extractor refuses before the handler runs,
//! rendered the way that surface renders errors ([`rendered`]). The per-endpoint metric is
//! observed once, by [`observe`], for every request that got as far as its caller check.

use crate::auth::Permission;
use crate::error::TuxedoError;
use crate::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// What a route needs, as a type: `Caller<Read>`, `Caller<Catalogue>`…
pub trait Need: 'static {
    const PERMISSION: Permission;

    /// Whether the route writes (its call publishes the generation afterwards).
    fn writes() -> bool {
        !matches!(Self::PERMISSION, Permission::Read | Permission::Stats)
    }
}

macro_rules! needs {
    ($($name:ident),*) => {$(
        #[doc = concat!("Needs [`Permission::", stringify!($name), "`].")]
        pub struct $name;
        impl Need for $name {
            const PERMISSION: Permission = Permission::$name;
        }
    )*};
}
needs!(Read, Stats, Catalogue, Mirrors, Accounts);

/// The future of an extractor: it runs async checks on a clone of the request.
pub(crate) type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// An extractor's future: `check` gets a clone of the request and its payload, so it may
/// await (credentials, the database, the body) after `from_request` returned.
pub(crate) fn checking<T, Fut>(
    req: &HttpRequest,
    payload: &mut Payload,
    check: impl FnOnce(HttpRequest, Payload) -> Fut,
) -> Extracting<T>
where
    Fut: Future<Output = Result<T, actix_web::Error>> + 'static,
{
    Box::pin(check(req.clone(), payload.take()))
}

/// `FromRequest` for an extractor type whose `async fn check(req, payload)` does the work
/// (on a clone of the request, see [`checking`]): one line per extractor.
macro_rules! from_check {
    ($ty:ident<$($p:ident),*> where $($bound:tt)*) => {
        impl<$($p),*> actix_web::FromRequest for $ty<$($p),*> where $($bound)* {
            type Error = actix_web::Error;
            type Future = $crate::caller::Extracting<Self>;

            fn from_request(
                req: &actix_web::HttpRequest,
                payload: &mut actix_web::dev::Payload,
            ) -> Self::Future {
                $crate::caller::checking(req, payload, Self::check)
            }
        }
    };
}
pub(crate) use from_check;

/// The metric label of a request that reached its caller check, and when it did.
#[derive(Clone)]
struct Observed {
    endpoint: String,
    started: Instant,
}

/// Marks `req` as observed under `endpoint` from now on (see [`observe`]).
pub(crate) fn observe_from_here(req: &HttpRequest, endpoint: String) {
    req.extensions_mut().insert(Observed {
        endpoint,
        started: Instant::now(),
    });
}

/// The label of a routed request: `"<METHOD> <route pattern>"`.
pub(crate) fn route_label(req: &HttpRequest) -> String {
    format!(
        "{} {}",
        req.method(),
        req.match_pattern().unwrap_or_default()
    )
}

/// The state of the application a request runs in.
pub(crate) fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, TuxedoError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| TuxedoError::Internal("no application state".into()))
}

/// Middleware: observes the request's endpoint, status and duration when the request got
/// to its caller check. Requests refused earlier (a path that names nothing, an unknown
/// route) are not counted, so the labels stay the routes'.
pub(crate) async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let seen = res.request().extensions().get::<Observed>().cloned();
    if let (Some(o), Some(state)) = (seen, res.request().app_data::<web::Data<AppState>>()) {
        state
            .metrics
            .observe(&o.endpoint, res.status(), o.started.elapsed());
    }
    Ok(res)
}

/// `e` answered with `resp`, already rendered by its surface (an extractor's refusal or a
/// handler's failure: actix sends `resp` as is).
pub(crate) fn rendered(e: TuxedoError, resp: HttpResponse) -> actix_web::Error {
    actix_web::error::InternalError::from_response(e, resp).into()
}
