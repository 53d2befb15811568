//! One thin handler per XML command: parameters → catalogue function → XML.

use super::{render, Call, Reply};
use crate::caller::{Catalogue as W, Read as R};
use crate::catalogue::products::{Languages, ProductRef};
use crate::catalogue::{aliases, files, locations, products, uptake as up};
use crate::error::TuxedoError;

pub async fn product_show(call: Call<R>) -> Reply {
    call.run(|conn, _, p| {
        // No parameter at all: an empty list, as the old admin answered.
        if p.get("product").is_none() && p.get("fuzzy").is_none() {
            return Ok(render::products(&[])?);
        }
        let found = products::find(conn, p.required_matcher("product")?)?;
        Ok(render::products(&found)?)
    })
    .await
}

pub async fn product_add(call: Call<W>) -> Reply {
    call.run(|conn, actor, p| {
        let name = p.get("product").unwrap_or("");
        let added = products::add(conn, actor, name, &p.all("languages"), p.flag("ssl_only"))?;
        Ok(render::products(&[added])?)
    })
    .await
}

pub async fn product_delete(call: Call<W>) -> Reply {
    call.run(|conn, actor, p| {
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
    })
    .await
}

pub async fn product_language_add(call: Call<W>) -> Reply {
    call.run(|conn, actor, p| {
        let product = p.required("product")?;
        let updated = products::add_languages(conn, actor, product, &p.all("languages"))?;
        Ok(render::products(&[updated])?)
    })
    .await
}

pub async fn product_language_delete(call: Call<W>) -> Reply {
    call.run(|conn, actor, p| {
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
    })
    .await
}

pub async fn location_show(call: Call<R>) -> Reply {
    call.run(|conn, _, p| {
        let found = locations::find(conn, p.required_matcher("product")?)?;
        Ok(render::locations(&found)?)
    })
    .await
}

/// `location_add` and `location_modify`: the same parameters, one catalogue call each.
/// With the optional file parameters ([`super::params::Params::file`]) the file is stated
/// in the same transaction (all or nothing); the answer is the same document.
pub async fn location_set<const ADD: bool>(call: Call<W>) -> Reply {
    call.run(|conn, actor, p| {
        let (product, os) = (p.required("product")?, p.required("os")?);
        let path = p.required("path")?;
        let file = p.file()?;
        let write = |conn: &mut _| match ADD {
            true => locations::add(conn, actor, ProductRef::Name(product), os, path),
            false => locations::modify(conn, actor, product, os, path),
        };
        let all = match &file {
            None => write(conn)?,
            Some(f) => files::with_location(conn, actor, os, f, write)?,
        };
        Ok(render::locations(&[all])?)
    })
    .await
}

pub async fn location_delete(call: Call<W>) -> Reply {
    call.run(|conn, actor, p| {
        let raw = p.required("location_id")?;
        let id = raw
            .trim()
            .parse()
            .map_err(|_| TuxedoError::LocationIdNotFound(raw.to_owned()))?;
        locations::delete(conn, actor, id)?;
        Ok(render::success("SUCCESS: location has been deleted")?)
    })
    .await
}

pub async fn create_update_alias(call: Call<W>) -> Reply {
    call.run(|conn, actor, p| {
        let (alias, related) = (p.required("alias")?, p.required("related_product")?);
        aliases::create_or_update(conn, actor, alias, related)?;
        let text = format!("Created/updated alias {}", alias.trim());
        Ok(render::success(&text)?)
    })
    .await
}

pub async fn uptake(call: Call<R>) -> Reply {
    let cdn = up::Cdn::of(&call.state().config);
    call.run(move |conn, _, p| {
        let items = up::uptake(conn, cdn.as_ref(), p.matcher("product"), p.matcher("os"))?;
        Ok(render::uptake(&items)?)
    })
    .await
}

pub async fn mirror_list(call: Call<R>) -> Reply {
    call.run(|conn, _, _| Ok(render::mirrors(&up::active_mirror_urls(conn)?)?))
        .await
}
