//! Pages and actions of the mirror network: mirrors with sentry's health at a glance,
//! regions, the country → region map and mirror ↔ region links. Reads need any account;
//! changes need admin or mirror-operator.

use super::flow::{act, done, number, opt_number, page, CsrfOnly, Data};
use crate::auth::Permission::{Mirrors as W, Read as R};
use crate::catalogue::mirrors::{self, MirrorPatch, NewMirrorForm};
use crate::catalogue::regions::{self, CountryForm, NewRegionForm};
use actix_web::{web, HttpRequest, HttpResponse};
use minijinja::context;
use serde::Deserialize;

type Id = web::Path<i32>;

pub async fn mirrors(req: HttpRequest, state: Data) -> HttpResponse {
    page(&req, &state, R, "mirrors.html", |c, _| {
        let mirrors = mirrors::list(c)?;
        let down = mirrors.iter().filter(|m| m.health.state == "down").count();
        let ramping = mirrors
            .iter()
            .filter(|m| m.health.state == "ramping")
            .count();
        Ok(context! { mirrors, down, ramping })
    })
    .await
}

pub async fn mirror_new(req: HttpRequest, state: Data) -> HttpResponse {
    page(&req, &state, W, "mirror_new.html", |_, _| Ok(context! {})).await
}

/// The fields of the mirror forms (numbers as typed, checked by the action).
#[derive(Deserialize)]
pub struct MirrorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    baseurl: String,
    #[serde(default)]
    rating: String,
    active: Option<String>,
}

pub async fn mirror_create(
    req: HttpRequest,
    state: Data,
    f: web::Form<MirrorForm>,
) -> HttpResponse {
    let f = f.into_inner();
    act(
        &req,
        &state,
        W,
        &f.csrf,
        "/ui/mirrors/new".into(),
        move |c, who| {
            let form = NewMirrorForm {
                rating: opt_number("rating", &f.rating)?.unwrap_or(0),
                name: f.name,
                baseurl: f.baseurl,
                active: f.active.is_some(),
            };
            let m = mirrors::add(c, &who.username, &form)?;
            Ok(done(format!("Mirror {} added.", m.name)).to(format!("/ui/mirrors/{}", m.id)))
        },
    )
    .await
}

pub async fn mirror(req: HttpRequest, state: Data, id: Id) -> HttpResponse {
    let id = id.into_inner();
    page(&req, &state, R, "mirror.html", move |c, _| {
        let mirror = mirrors::get(c, id)?;
        let log = mirrors::sentry_log_of(c, id, 20)?;
        let regions = regions::list(c)?;
        Ok(context! { mirror, log, regions })
    })
    .await
}

pub async fn mirror_update(
    req: HttpRequest,
    state: Data,
    id: Id,
    f: web::Form<MirrorForm>,
) -> HttpResponse {
    let (id, f) = (id.into_inner(), f.into_inner());
    act(
        &req,
        &state,
        W,
        &f.csrf,
        format!("/ui/mirrors/{id}"),
        move |c, who| {
            let patch = MirrorPatch {
                rating: Some(number("rating", &f.rating)?),
                name: Some(f.name),
                baseurl: Some(f.baseurl),
                active: Some(f.active.is_some()),
            };
            let m = mirrors::update(c, &who.username, id, &patch)?;
            Ok(done(format!("Mirror {} saved.", m.name)))
        },
    )
    .await
}

/// Enables or disables a mirror from the list.
async fn set_active(
    req: HttpRequest,
    state: Data,
    id: i32,
    csrf: &str,
    active: bool,
) -> HttpResponse {
    act(
        &req,
        &state,
        W,
        csrf,
        "/ui/mirrors".into(),
        move |c, who| {
            let patch = MirrorPatch {
                active: Some(active),
                ..MirrorPatch::default()
            };
            let m = mirrors::update(c, &who.username, id, &patch)?;
            let word = if active { "enabled" } else { "disabled" };
            Ok(done(format!("Mirror {} {word}.", m.name)))
        },
    )
    .await
}

pub async fn mirror_enable(
    req: HttpRequest,
    state: Data,
    id: Id,
    f: web::Form<CsrfOnly>,
) -> HttpResponse {
    set_active(req, state, id.into_inner(), &f.csrf, true).await
}

pub async fn mirror_disable(
    req: HttpRequest,
    state: Data,
    id: Id,
    f: web::Form<CsrfOnly>,
) -> HttpResponse {
    set_active(req, state, id.into_inner(), &f.csrf, false).await
}

pub async fn mirror_delete_confirm(req: HttpRequest, state: Data, id: Id) -> HttpResponse {
    let id = id.into_inner();
    page(&req, &state, W, "confirm.html", move |c, _| {
        let m = mirrors::get(c, id)?;
        Ok(context! {
            title => format!("Delete mirror {}", m.name),
            question => format!("Delete mirror {} ({})? Bounce stops sending users there at once.", m.name, m.baseurl),
            action => format!("/ui/mirrors/{id}/delete"),
            cancel => format!("/ui/mirrors/{id}"),
        })
    })
    .await
}

pub async fn mirror_delete(
    req: HttpRequest,
    state: Data,
    id: Id,
    f: web::Form<CsrfOnly>,
) -> HttpResponse {
    let id = id.into_inner();
    act(
        &req,
        &state,
        W,
        &f.csrf,
        format!("/ui/mirrors/{id}"),
        move |c, who| {
            let m = mirrors::get(c, id)?;
            mirrors::delete(c, &who.username, id)?;
            Ok(done(format!("Mirror {} deleted.", m.name)).to("/ui/mirrors"))
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct RegionLink {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    region_id: String,
}

pub async fn mirror_region_add(
    req: HttpRequest,
    state: Data,
    id: Id,
    f: web::Form<RegionLink>,
) -> HttpResponse {
    let (id, f) = (id.into_inner(), f.into_inner());
    act(
        &req,
        &state,
        W,
        &f.csrf,
        format!("/ui/mirrors/{id}"),
        move |c, who| {
            let m = mirrors::add_region(c, &who.username, id, number("region", &f.region_id)?)?;
            Ok(done(format!(
                "{} now serves {}.",
                m.name,
                m.regions.join(", ")
            )))
        },
    )
    .await
}

pub async fn mirror_region_remove(
    req: HttpRequest,
    state: Data,
    id: Id,
    f: web::Form<RegionLink>,
) -> HttpResponse {
    let (id, f) = (id.into_inner(), f.into_inner());
    act(
        &req,
        &state,
        W,
        &f.csrf,
        format!("/ui/mirrors/{id}"),
        move |c, who| {
            mirrors::remove_region(c, &who.username, id, number("region", &f.region_id)?)?;
            Ok(done("Region link removed."))
        },
    )
    .await
}

pub async fn regions(req: HttpRequest, state: Data) -> HttpResponse {
    page(&req, &state, R, "regions.html", |c, _| {
        let regions = regions::list(c)?;
        let countries = regions::countries(c)?;
        Ok(context! { regions, countries })
    })
    .await
}

#[derive(Deserialize)]
pub struct RegionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    throttle: String,
    #[serde(default)]
    fallback_id: String,
    prevent_global_fallback: Option<String>,
}

pub async fn region_create(
    req: HttpRequest,
    state: Data,
    f: web::Form<RegionForm>,
) -> HttpResponse {
    let f = f.into_inner();
    act(
        &req,
        &state,
        W,
        &f.csrf,
        "/ui/regions".into(),
        move |c, who| {
            let form = NewRegionForm {
                priority: opt_number("priority", &f.priority)?.unwrap_or(0),
                throttle: opt_number("throttle", &f.throttle)?.unwrap_or(100),
                fallback_id: opt_number("fallback", &f.fallback_id)?,
                prevent_global_fallback: f.prevent_global_fallback.is_some(),
                name: f.name,
            };
            let r = regions::add(c, &who.username, &form)?;
            Ok(done(format!("Region {} added.", r.name)))
        },
    )
    .await
}

pub async fn region_delete(
    req: HttpRequest,
    state: Data,
    id: Id,
    f: web::Form<CsrfOnly>,
) -> HttpResponse {
    let id = id.into_inner();
    act(
        &req,
        &state,
        W,
        &f.csrf,
        "/ui/regions".into(),
        move |c, who| {
            regions::delete(c, &who.username, id)?;
            Ok(done("Region deleted."))
        },
    )
    .await
}

#[derive(Deserialize)]
pub struct CountryFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    region_id: String,
    #[serde(default)]
    country_name: String,
}

pub async fn country_set(
    req: HttpRequest,
    state: Data,
    f: web::Form<CountryFields>,
) -> HttpResponse {
    let f = f.into_inner();
    act(
        &req,
        &state,
        W,
        &f.csrf,
        "/ui/regions".into(),
        move |c, who| {
            let form = CountryForm {
                region_id: number("region", &f.region_id)?,
                country_name: Some(f.country_name).filter(|n| !n.trim().is_empty()),
                continent: None,
            };
            let v = regions::set_country(c, &who.username, &f.code, &form)?;
            Ok(done(format!(
                "{} is now in {}.",
                v.country_code,
                v.region.unwrap_or_default()
            )))
        },
    )
    .await
}

pub async fn country_clear(
    req: HttpRequest,
    state: Data,
    f: web::Form<CountryFields>,
) -> HttpResponse {
    let f = f.into_inner();
    act(
        &req,
        &state,
        W,
        &f.csrf,
        "/ui/regions".into(),
        move |c, who| {
            regions::clear_country(c, &who.username, &f.code)?;
            Ok(done(format!("{} removed from its region.", f.code.trim())))
        },
    )
    .await
}
