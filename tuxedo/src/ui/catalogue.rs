//! Pages and actions of the catalogue: products (flags, languages, locations), aliases and
//! uptake. Reads need any account; changes need admin or release.

use super::caller::{csrf_forms, Form, Viewer};
use super::flow::{done, split_list};
use crate::caller::{Catalogue as W, Read as R};
use crate::catalogue::product_edit::{self, ProductFilter, ProductPatch};
use crate::catalogue::products::{self, Languages, ProductRef};
use crate::catalogue::uptake::{self as up, UptakeItem};
use crate::catalogue::{aliases, locations, oses, Match};
use crate::error::TuxedoError;
use actix_web::{web, HttpResponse};
use minijinja::context;
use serde::{Deserialize, Serialize};

type Id = web::Path<i32>;

/// The filters of the product list, as the form sends them (`""` = any).
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ProductQuery {
    search: String,
    active: String,
    ssl_only: String,
    checknow: String,
}

fn yes_no(v: &str) -> Option<bool> {
    match v {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

pub async fn products(q: web::Query<ProductQuery>, v: Viewer<R>) -> HttpResponse {
    let q = q.into_inner();
    v.page("products.html", move |c, _| {
        let filter = ProductFilter {
            active: yes_no(&q.active),
            ssl_only: yes_no(&q.ssl_only),
            checknow: yes_no(&q.checknow),
            search: Some(q.search.trim().to_owned()).filter(|s| !s.is_empty()),
        };
        let products = product_edit::list(c, &filter)?;
        Ok(context! { products, q => context! {
            search => q.search, active => q.active, ssl_only => q.ssl_only, checknow => q.checknow,
        }})
    })
    .await
}

pub async fn product_new(v: Viewer<W>) -> HttpResponse {
    v.blank("product_new.html").await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ProductCreate {
    csrf: String,
    name: String,
    languages: String,
    ssl_only: Option<String>,
}

pub async fn product_create(f: Form<W, ProductCreate>) -> HttpResponse {
    f.act("/ui/products/new".into(), |c, who, f| {
        let p = products::add(
            c,
            &who.username,
            &f.name,
            &split_list(&f.languages),
            f.ssl_only.is_some(),
        )?;
        Ok(done(format!("Product {} created.", p.name)).to(format!("/ui/products/{}", p.id)))
    })
    .await
}

/// Uptake rows with the share of capacity, for percentage bars.
#[derive(Serialize)]
struct UptakeRow {
    product: String,
    os: String,
    available: i64,
    total: i64,
    percent: i64,
    /// Shares clients over IPv4 / IPv6 can be sent to (issue 16).
    percent_v4: i64,
    percent_v6: i64,
}

fn with_percent(items: Vec<UptakeItem>) -> Vec<UptakeRow> {
    let share = |a: i64, t: i64| match t {
        0 => 0,
        t => (a * 100 / t).clamp(0, 100),
    };
    items
        .into_iter()
        .map(|i| UptakeRow {
            percent: share(i.available, i.total),
            percent_v4: share(i.available_v4, i.total),
            percent_v6: share(i.available_v6, i.total),
            product: i.product,
            os: i.os,
            available: i.available,
            total: i.total,
        })
        .collect()
}

pub async fn product(id: Id, v: Viewer<R>) -> HttpResponse {
    let id = id.into_inner();
    let cdn = up::Cdn::of(&v.state().config);
    v.page("product.html", move |c, _| {
        let product = product_edit::get(c, id)?;
        let locations = locations::of(c, ProductRef::Id(id))?.locations;
        let rows = match locations.is_empty() {
            true => Vec::new(),
            false => with_percent(up::uptake(
                c,
                cdn.as_ref(),
                Some(Match::Exact(&product.name)),
                None,
            )?),
        };
        let oses = oses::list(c)?;
        Ok(context! { product, locations, oses, rows })
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ProductUpdate {
    csrf: String,
    name: String,
    active: Option<String>,
    ssl_only: Option<String>,
    checknow: Option<String>,
}

pub async fn product_update(id: Id, f: Form<W, ProductUpdate>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/products/{id}"), move |c, who, f| {
        let patch = ProductPatch {
            name: Some(f.name),
            active: Some(f.active.is_some()),
            ssl_only: Some(f.ssl_only.is_some()),
            checknow: Some(f.checknow.is_some()),
        };
        let p = product_edit::update(c, &who.username, id, &patch)?;
        Ok(done(format!("Product {} saved.", p.name)))
    })
    .await
}

pub async fn product_delete_confirm(id: Id, v: Viewer<W>) -> HttpResponse {
    let id = id.into_inner();
    v.confirm(format!("/ui/products/{id}"), move |c| {
        let p = product_edit::get(c, id)?;
        Ok((
            format!("Delete product {}", p.name),
            format!("Delete product {} with its languages, locations and aliases? Bounce stops serving it at once.", p.name),
        ))
    })
    .await
}

pub async fn product_delete(id: Id, f: Form<W>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/products/{id}"), move |c, who, _| {
        let p = product_edit::get(c, id)?;
        products::delete(c, &who.username, ProductRef::Id(id))?;
        Ok(done(format!("Product {} deleted.", p.name)).to("/ui/products"))
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct LanguagesForm {
    csrf: String,
    languages: String,
}

pub async fn languages_add(id: Id, f: Form<W, LanguagesForm>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/products/{id}"), move |c, who, f| {
        let langs = split_list(&f.languages);
        if langs.is_empty() {
            return Err(TuxedoError::Missing("languages"));
        }
        let p = product_edit::get(c, id)?;
        products::add_languages(c, &who.username, &p.name, &langs)?;
        Ok(done(format!("Added {} to {}.", langs.join(", "), p.name)))
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct LanguageForm {
    csrf: String,
    language: String,
}

pub async fn language_delete(id: Id, f: Form<W, LanguageForm>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/products/{id}"), move |c, who, f| {
        let p = product_edit::get(c, id)?;
        let lang = [f.language];
        products::delete_languages(c, &who.username, &p.name, Languages::These(&lang))?;
        Ok(done(format!("Removed {} from {}.", lang[0], p.name)))
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct LocationForm {
    csrf: String,
    os: String,
    path: String,
}

pub async fn location_create(id: Id, f: Form<W, LocationForm>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/products/{id}"), move |c, who, f| {
        locations::add(c, &who.username, ProductRef::Id(id), &f.os, &f.path)?;
        Ok(done(format!("Location on {} added.", f.os.trim())))
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct LocationEdit {
    csrf: String,
    path: String,
    /// The product page to return to.
    product: i32,
}

pub async fn location_update(id: Id, f: Form<W, LocationEdit>) -> HttpResponse {
    let id = id.into_inner();
    let back = format!("/ui/products/{}", f.fields().product);
    f.act(back, move |c, who, f| {
        locations::set_path(c, &who.username, id, &f.path)?;
        Ok(done("Location path saved."))
    })
    .await
}

pub async fn location_delete(id: Id, f: Form<W, LocationEdit>) -> HttpResponse {
    let id = id.into_inner();
    let back = format!("/ui/products/{}", f.fields().product);
    f.act(back, move |c, who, _| {
        locations::delete(c, &who.username, id)?;
        Ok(done("Location deleted."))
    })
    .await
}

pub async fn aliases(v: Viewer<R>) -> HttpResponse {
    let cdn = up::Cdn::of(&v.state().config);
    v.page("aliases.html", move |c, _| {
        let aliases: Vec<_> = aliases::list(c)?
            .into_iter()
            .map(|a| context! { alias => a.alias, related_product => a.related_product })
            .collect();
        let gates = super::gates::panels(c, cdn.as_ref())?;
        let oses: Vec<String> = oses::list(c)?.into_iter().map(|o| o.name).collect();
        Ok(context! { aliases, gates, oses })
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct AliasForm {
    csrf: String,
    pub(super) alias: String,
    related_product: String,
}

/// Creates an alias or repoints an existing one.
pub async fn alias_set(f: Form<W, AliasForm>) -> HttpResponse {
    f.act("/ui/aliases".into(), |c, who, f| {
        let set = aliases::create_or_update(c, &who.username, &f.alias, &f.related_product)?;
        Ok(done(format!(
            "Alias {} now points at {}.",
            set.alias, set.related_product
        )))
    })
    .await
}

pub async fn alias_delete(f: Form<W, AliasForm>) -> HttpResponse {
    f.act("/ui/aliases".into(), |c, who, f| {
        aliases::delete(c, &who.username, &f.alias)?;
        Ok(done(format!("Alias {} deleted.", f.alias.trim())))
    })
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct UptakeQuery {
    product: String,
    os: String,
}

/// `GET /ui/uptake`: substring search on product and OS (at least one), as bars.
pub async fn uptake(q: web::Query<UptakeQuery>, v: Viewer<R>) -> HttpResponse {
    let q = q.into_inner();
    let cdn = up::Cdn::of(&v.state().config);
    v.page("uptake.html", move |c, _| {
        let p = q.product.trim();
        let o = q.os.trim();
        let rows = match (p.is_empty(), o.is_empty()) {
            (true, true) => Vec::new(),
            _ => match up::uptake(
                c,
                cdn.as_ref(),
                Some(Match::Fuzzy(p)).filter(|_| !p.is_empty()),
                Some(Match::Fuzzy(o)).filter(|_| !o.is_empty()),
            ) {
                Ok(items) => with_percent(items),
                Err(TuxedoError::NoProductsMatch | TuxedoError::NoOsesMatch) => Vec::new(),
                Err(e) => return Err(e),
            },
        };
        let gates = super::gates::panels(c, cdn.as_ref())?;
        Ok(context! { rows, gates, product => q.product, os => q.os, searched => !(p.is_empty() && o.is_empty()) })
    })
    .await
}

csrf_forms!(
    ProductCreate,
    ProductUpdate,
    LanguagesForm,
    LanguageForm,
    LocationForm,
    LocationEdit,
    AliasForm
);
