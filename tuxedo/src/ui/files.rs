//! A location's page: what each of its files is (size, hashes; stated by an operator or
//! learned by sentry from the reference origin), with a form to state one file and a
//! button to forget one. Bounce sends the hashes and sentry holds mirrors to the size, so
//! an operator fixing a release by hand needs this without the JSON API. Reads need any
//! account; changes need admin or release, as the rest of the catalogue.

use super::caller::{csrf_forms, Form, Viewer};
use super::flow::done;
use crate::caller::{Catalogue as W, Read as R};
use crate::catalogue::files::{self, FileForm};
use crate::catalogue::{locations, product_edit};
use actix_web::{web, HttpResponse};
use minijinja::context;
use serde::Deserialize;

type Id = web::Path<i32>;

pub async fn location(id: Id, v: Viewer<R>) -> HttpResponse {
    let id = id.into_inner();
    v.page("location.html", move |c, _| {
        let location = locations::get(c, id)?;
        let files = files::rows(c, id)?;
        let languages = product_edit::get(c, location.product_id)?.languages;
        let per_language = location.location.path.contains(":lang");
        Ok(context! { location, files, languages, per_language })
    })
    .await
}

/// One file as typed: every field text (blank = not known), checked by the catalogue.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct FileFields {
    csrf: String,
    lang: String,
    size: String,
    sha256: String,
    sha512: String,
}

/// The file to forget (`""` for a path without `:lang`).
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct FileLang {
    csrf: String,
    lang: String,
}

csrf_forms!(FileFields, FileLang);

/// What the messages call a file.
fn label(lang: &str) -> String {
    match lang.trim() {
        "" => "The file".to_owned(),
        l => format!("The {l} file"),
    }
}

/// `POST /ui/locations/{id}/files`: states one file (replacing what was known of it).
pub async fn file_set(id: Id, f: Form<W, FileFields>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/locations/{id}"), move |c, who, f| {
        let form = FileForm::from_text(&f.lang, &f.size, &f.sha256, &f.sha512)?;
        files::put(c, &who.username, id, std::slice::from_ref(&form))?;
        Ok(done(format!("{} is saved.", label(&form.lang))))
    })
    .await
}

/// `POST /ui/locations/{id}/files/delete`: forgets one file.
pub async fn file_delete(id: Id, f: Form<W, FileLang>) -> HttpResponse {
    let id = id.into_inner();
    f.act(format!("/ui/locations/{id}"), move |c, who, f| {
        files::delete(c, &who.username, id, f.lang.trim())?;
        Ok(done(format!("{} is forgotten.", label(&f.lang))))
    })
    .await
}
