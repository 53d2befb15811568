//! The JSON API's answers as types: a handler says `Created(value)` or `NoContent`, and
//! the status and body follow; errors are rendered by [`super::caller::Caller::run`].

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder};
use serde::Serialize;

/// What a JSON handler returns.
pub type Reply<R> = Result<R, actix_web::Error>;

macro_rules! json_answers {
    ($($name:ident => $status:ident, $what:literal;)*) => {$(
        #[doc = $what]
        pub struct $name<T>(pub T);
        impl<T: Serialize> Responder for $name<T> {
            type Body = BoxBody;
            fn respond_to(self, _: &HttpRequest) -> HttpResponse {
                HttpResponse::$status().json(self.0)
            }
        }
    )*};
}
json_answers! {
    Json => Ok, "`200 OK` with the value as JSON.";
    Created => Created, "`201 Created` with the new resource as JSON.";
    Accepted => Accepted, "`202 Accepted` with the pending resource as JSON.";
}

/// `204 No Content`: a delete or an unlink.
pub struct NoContent;

impl Responder for NoContent {
    type Body = BoxBody;
    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }
}
