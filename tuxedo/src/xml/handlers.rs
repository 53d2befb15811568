//! One thin handler per XML command: parameters → catalogue function → XML.

use super::{render, run};
use crate::auth::Permission;
use crate::catalogue::products::{Languages, ProductRef};
use crate::catalogue::{aliases, locations, products, uptake as up};
use crate::error::{Command as C, TuxedoError};
use crate::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;

pub type Fut = Pin<Box<dyn Future<Output = HttpResponse>>>;
type Data = web::Data<AppState>;

pub fn product_show(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::ProductShow,
        Permission::Read,
        |conn, _, p| {
            // No parameter at all: an empty list, as the old admin answered.
            if p.get("product").is_none() && p.get("fuzzy").is_none() {
                return Ok(render::products(&[])?);
            }
            let found = products::find(conn, p.required_matcher("product")?)?;
            Ok(render::products(&found)?)
        },
    ))
}

pub fn product_add(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::ProductAdd,
        Permission::Catalogue,
        |conn, actor, p| {
            let name = p.get("product").unwrap_or("");
            let added = products::add(conn, actor, name, &p.all("languages"), p.flag("ssl_only"))?;
            Ok(render::products(&[added])?)
        },
    ))
}

pub fn product_delete(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::ProductDelete,
        Permission::Catalogue,
        |conn, actor, p| {
            let product = match (p.get("product_id"), p.get("product")) {
                (Some(id), _) => ProductRef::Id(
                    id.trim()
                        .parse()
                        .map_err(|_| TuxedoError::ProductNotFound(id.to_owned()))?,
                ),
                (None, Some(name)) => ProductRef::Name(name),
                (None, None) => return Err(TuxedoError::Missing("product")),
            };
            products::delete(conn, actor, product)?;
            Ok(render::success("SUCCESS: product has been deleted")?)
        },
    ))
}

pub fn product_language_add(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::LanguageAdd,
        Permission::Catalogue,
        |conn, actor, p| {
            let product = p.required("product")?;
            let updated = products::add_languages(conn, actor, product, &p.all("languages"))?;
            Ok(render::products(&[updated])?)
        },
    ))
}

pub fn product_language_delete(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::LanguageDelete,
        Permission::Catalogue,
        |conn, actor, p| {
            let product = p.required("product")?;
            let given = p.all("languages");
            let which = match given.iter().any(|l| l.trim() == "*") {
                true => Languages::All,
                false if given.iter().all(|l| l.trim().is_empty()) => {
                    return Err(TuxedoError::Missing("languages"))
                }
                false => Languages::These(&given),
            };
            products::delete_languages(conn, actor, product, which)?;
            Ok(render::success("SUCCESS: language has been deleted")?)
        },
    ))
}

pub fn location_show(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::LocationShow,
        Permission::Read,
        |conn, _, p| {
            let found = locations::find(conn, p.required_matcher("product")?)?;
            Ok(render::locations(&found)?)
        },
    ))
}

pub fn location_add(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::LocationAdd,
        Permission::Catalogue,
        |conn, actor, p| {
            let (product, os, path) = (
                p.required("product")?,
                p.required("os")?,
                p.required("path")?,
            );
            let all = locations::add(conn, actor, ProductRef::Name(product), os, path)?;
            Ok(render::locations(&[all])?)
        },
    ))
}

pub fn location_modify(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::LocationModify,
        Permission::Catalogue,
        |conn, actor, p| {
            let (product, os, path) = (
                p.required("product")?,
                p.required("os")?,
                p.required("path")?,
            );
            let all = locations::modify(conn, actor, product, os, path)?;
            Ok(render::locations(&[all])?)
        },
    ))
}

pub fn location_delete(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::LocationDelete,
        Permission::Catalogue,
        |conn, actor, p| {
            let raw = p.required("location_id")?;
            let id = raw
                .trim()
                .parse()
                .map_err(|_| TuxedoError::LocationIdNotFound(raw.to_owned()))?;
            locations::delete(conn, actor, id)?;
            Ok(render::success("SUCCESS: location has been deleted")?)
        },
    ))
}

pub fn create_update_alias(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::CreateUpdateAlias,
        Permission::Catalogue,
        |conn, actor, p| {
            let alias = p.required("alias")?;
            let related = p.required("related_product")?;
            aliases::create_or_update(conn, actor, alias, related)?;
            Ok(render::success(&format!(
                "Created/updated alias {}",
                alias.trim()
            ))?)
        },
    ))
}

pub fn uptake(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    let cdn = up::Cdn::of(&state.config);
    Box::pin(run(
        req,
        body,
        state,
        C::Uptake,
        Permission::Read,
        move |conn, _, p| {
            let items = up::uptake(conn, cdn.as_ref(), p.matcher("product"), p.matcher("os"))?;
            Ok(render::uptake(&items)?)
        },
    ))
}

pub fn mirror_list(req: HttpRequest, body: web::Payload, state: Data) -> Fut {
    Box::pin(run(
        req,
        body,
        state,
        C::MirrorList,
        Permission::Read,
        |conn, _, _| Ok(render::mirrors(&up::active_mirror_urls(conn)?)?),
    ))
}
