//! Pages and actions of the mirror network: mirrors with sentry's health at a glance,
//! regions, the country → region map and mirror ↔ region links. Reads need any account;
//! changes need admin or mirror-operator.

use super::caller::{csrf_forms, Form, Viewer};
use super::flow::{done, number, opt_number, split_list};
use crate::caller::{Mirrors as W, Read as R};
use crate::catalogue::mirrors::{self, MirrorPatch, NewMirrorForm};
use crate::catalogue::regions::{self, CountryForm, NewRegionForm};
use actix_web::{web, HttpResponse};
use minijinja::context;
use serde::Deserialize;

type Id = web::Path<i32>;

pub async fn mirrors(v: Viewer<R>) -> HttpResponse {
    v.page("mirrors.html", |c, _| {
        let mirrors = mirrors::list(c)?;
        let count = |state: &str| mirrors.iter().filter(|m| m.health.state == state).count();
        let (down, ramping) = (count("down"), count("ramping"));
        Ok(context! { mirrors, down, ramping })
    })
    .await
}

pub async fn mirror_new(v: Viewer<W>) -> HttpResponse {
    v.blank("mirror_new.html").await
}

/// The fields of the mirror forms (numbers as typed, checked by the action).
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct MirrorForm {
    csrf: String,
    name: String,
    baseurl: String,
    rating: String,
    active: Option<String>,
    /// The reference origin checkbox (the edit form only; a new mirror is not one).
    reference: Option<String>,
    /// The edit form's network settings; a form without a field keeps what is stored.
    network_mode: Option<String>,
    /// One per line or separated by commas.
    networks: Option<String>,
    /// Two-letter codes separated by commas or spaces.
    excluded_countries: Option<String>,
    /// Where the mirror stands: a two-letter code, empty for none.
    country: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RegionLink {
    csrf: String,
    region_id: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct RegionForm {
    csrf: String,
    name: String,
    priority: String,
    throttle: String,
    fallback_id: String,
    prevent_global_fallback: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct CountryFields {
    csrf: String,
    code: String,
    region_id: String,
    country_name: String,
}

csrf_forms!(MirrorForm, RegionLink, RegionForm, CountryFields);

pub async fn mirror_create(f: Form<W, MirrorForm>) -> HttpResponse {
    f.act("/ui/mirrors/new".into(), |c, who, f| {
        let form = NewMirrorForm {
            rating: opt_number("rating", &f.rating)?.unwrap_or(0),
            name: f.name,
            baseurl: f.baseurl,
            active: f.active.is_some(),
            network_mode: None,
            networks: None,
            excluded_countries: None,
            country: f.country,
        };
        let m = mirrors::add(c, &who.username, &form)?;
        Ok(done(format!("Mirror {} added.", m.name)).to(format!("/ui/mirrors/{}", m.id)))
    })
    .await
}

pub async fn mirror(id: Id, v: Viewer<R>) -> HttpResponse {
    let id = id.into_inner();
    v.page("mirror.html", move |c, _| {
        let mirror = mirrors::get(c, id)?;
        let log = mirrors::sentry_log_of(c, id, 20)?;
        let regions = regions::list(c)?;
        let vantages = mirrors::vantages_of(c, id)?;
        Ok(context! { mirror, log, regions, vantages })
    })
    .await
}

pub async fn mirror_update(id: Id, f: Form<W, MirrorForm>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/mirrors/{id}"), move |c, who, f| {
        let patch = MirrorPatch {
            rating: Some(number("rating", &f.rating)?),
            name: Some(f.name),
            baseurl: Some(f.baseurl),
            active: Some(f.active.is_some()),
            reference: Some(f.reference.is_some()),
            network_mode: f.network_mode,
            networks: f.networks.as_deref().map(split_list),
            excluded_countries: f.excluded_countries.as_deref().map(split_list),
            country: f.country,
        };
        let m = mirrors::update(c, &who.username, id, &patch)?;
        Ok(done(format!("Mirror {} saved.", m.name)))
    })
    .await
}

/// `POST /ui/mirrors/{id}/enable` (`ON`) and `/disable`, from the list: one handler,
/// mounted twice.
pub async fn set_active<const ON: bool>(id: Id, f: Form<W>) -> HttpResponse {
    let id = id.into_inner();
    f.act("/ui/mirrors".into(), move |c, who, _| {
        let patch = MirrorPatch {
            active: Some(ON),
            ..MirrorPatch::default()
        };
        let m = mirrors::update(c, &who.username, id, &patch)?;
        let word = if ON { "enabled" } else { "disabled" };
        Ok(done(format!("Mirror {} {word}.", m.name)))
    })
    .await
}

pub async fn mirror_delete_confirm(id: Id, v: Viewer<W>) -> HttpResponse {
    let id = id.into_inner();
    v.confirm(format!("/ui/mirrors/{id}"), move |c| {
        let m = mirrors::get(c, id)?;
        Ok((
            format!("Delete mirror {}", m.name),
            format!(
                "Delete mirror {} ({})? Bounce stops sending users there at once.",
                m.name, m.baseurl
            ),
        ))
    })
    .await
}

pub async fn mirror_delete(id: Id, f: Form<W>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/mirrors/{id}"), move |c, who, _| {
        let m = mirrors::get(c, id)?;
        mirrors::delete(c, &who.username, id)?;
        Ok(done(format!("Mirror {} deleted.", m.name)).to("/ui/mirrors"))
    })
    .await
}

pub async fn mirror_region_add(id: Id, f: Form<W, RegionLink>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/mirrors/{id}"), move |c, who, f| {
        let m = mirrors::add_region(c, &who.username, id, number("region", &f.region_id)?)?;
        let regions = m.regions.join(", ");
        Ok(done(format!("{} now serves {regions}.", m.name)))
    })
    .await
}

pub async fn mirror_region_remove(id: Id, f: Form<W, RegionLink>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/mirrors/{id}"), move |c, who, f| {
        mirrors::remove_region(c, &who.username, id, number("region", &f.region_id)?)?;
        Ok(done("Region link removed."))
    })
    .await
}

pub async fn regions(v: Viewer<R>) -> HttpResponse {
    v.page("regions.html", |c, _| {
        let regions = regions::list(c)?;
        let countries = regions::countries(c)?;
        Ok(context! { regions, countries })
    })
    .await
}

pub async fn region_create(f: Form<W, RegionForm>) -> HttpResponse {
    f.act("/ui/regions".into(), |c, who, f| {
        let form = NewRegionForm {
            priority: opt_number("priority", &f.priority)?.unwrap_or(0),
            throttle: opt_number("throttle", &f.throttle)?.unwrap_or(100),
            fallback_id: opt_number("fallback", &f.fallback_id)?,
            prevent_global_fallback: f.prevent_global_fallback.is_some(),
            name: f.name,
        };
        let r = regions::add(c, &who.username, &form)?;
        Ok(done(format!("Region {} added.", r.name)))
    })
    .await
}

pub async fn region_delete(id: Id, f: Form<W>) -> HttpResponse {
    let id = id.into_inner();
    f.act("/ui/regions".into(), move |c, who, _| {
        regions::delete(c, &who.username, id)?;
        Ok(done("Region deleted."))
    })
    .await
}

pub async fn country_set(f: Form<W, CountryFields>) -> HttpResponse {
    f.act("/ui/regions".into(), |c, who, f| {
        let form = CountryForm {
            region_id: number("region", &f.region_id)?,
            country_name: Some(f.country_name).filter(|n| !n.trim().is_empty()),
            continent: None,
        };
        let v = regions::set_country(c, &who.username, &f.code, &form)?;
        let region = v.region.unwrap_or_default();
        Ok(done(format!("{} is now in {region}.", v.country_code)))
    })
    .await
}

pub async fn country_clear(f: Form<W, CountryFields>) -> HttpResponse {
    f.act("/ui/regions".into(), |c, who, f| {
        regions::clear_country(c, &who.username, &f.code)?;
        Ok(done(format!("{} removed from its region.", f.code.trim())))
    })
    .await
}
