//! The web UI under `/ui/`: server-rendered pages (minijinja templates compiled into the
//! binary, one stylesheet, no JavaScript) for the operators who lost the old admin.
//! Every page and action calls the same [`crate::catalogue`] and [`crate::auth`]
//! functions as the APIs, through [`crate::exec::on_master`]; [`flow`] does login,
//! sessions, CSRF, roles, flash messages and errors the same way for all of them.
//! The fields of every form and query are `#[serde(default)]` as a whole: a browser
//! leaves out an unchecked box (and a crafted post anything), and a field left out is
//! read as empty, for the action to check like any other value.

mod admin;
mod caller;
mod catalogue;
mod files;
mod flow;
mod gates;
mod network;
mod render;
pub mod session;
mod stats;

use actix_web::{web, HttpResponse};

/// Where the UI is mounted.
pub const PREFIX: &str = "/ui";

/// The UI's own state: sessions and the compiled templates.
pub struct UiState {
    pub sessions: session::SessionStore,
    templates: render::Templates,
}

impl UiState {
    pub fn new() -> Result<Self, crate::TuxedoError> {
        Ok(Self {
            sessions: session::SessionStore::default(),
            templates: render::Templates::load()?,
        })
    }
}

/// The UI's table of contents. Reads are GET; every change is a POST form carrying the
/// session's CSRF token (deletes too, after a confirmation page or button).
pub fn routes(cfg: &mut web::ServiceConfig) {
    use self::{admin as a, catalogue as c, files as l, flow as f, gates as g, network as n};
    use web::{get, post};
    cfg.route("/", get().to(|| async { redirect("/ui/") }))
        .route("/ui", get().to(|| async { redirect("/ui/") }));
    cfg.service(
        web::scope(PREFIX)
            .app_data(flow::form_config())
            .app_data(flow::path_config())
            .wrap(actix_web::middleware::from_fn(crate::caller::observe))
            .route("/", get().to(|| async { redirect("/ui/products") }))
            .route("/style.css", get().to(render::stylesheet))
            .route("/login", get().to(f::login_page))
            .route("/login", post().to(f::login))
            .route("/logout", post().to(f::logout))
            // Catalogue (writes: admin, release).
            .route("/products", get().to(c::products))
            .route("/products", post().to(c::product_create))
            .route("/products/new", get().to(c::product_new))
            .route("/products/{id}", get().to(c::product))
            .route("/products/{id}", post().to(c::product_update))
            .route("/products/{id}/delete", get().to(c::product_delete_confirm))
            .route("/products/{id}/delete", post().to(c::product_delete))
            .route("/products/{id}/languages", post().to(c::languages_add))
            .route(
                "/products/{id}/languages/delete",
                post().to(c::language_delete),
            )
            .route("/products/{id}/locations", post().to(c::location_create))
            .route("/locations/{id}", get().to(l::location))
            .route("/locations/{id}", post().to(c::location_update))
            .route("/locations/{id}/delete", post().to(c::location_delete))
            .route("/locations/{id}/files", post().to(l::file_set))
            .route("/locations/{id}/files/delete", post().to(l::file_delete))
            .route("/aliases", get().to(c::aliases))
            .route("/aliases", post().to(c::alias_set))
            .route("/aliases/delete", post().to(c::alias_delete))
            .route("/aliases/gate", post().to(g::set))
            .route("/aliases/gate/cancel", post().to(g::cancel))
            .route("/uptake", get().to(c::uptake))
            // Download statistics (release, stats, admin).
            .route("/stats", get().to(stats::page))
            // Mirrors and regions (writes: admin, mirror-operator).
            .route("/mirrors", get().to(n::mirrors))
            .route("/mirrors", post().to(n::mirror_create))
            .route("/mirrors/new", get().to(n::mirror_new))
            .route("/mirrors/{id}", get().to(n::mirror))
            .route("/mirrors/{id}", post().to(n::mirror_update))
            .route("/mirrors/{id}/enable", post().to(n::set_active::<true>))
            .route("/mirrors/{id}/disable", post().to(n::set_active::<false>))
            .route("/mirrors/{id}/delete", get().to(n::mirror_delete_confirm))
            .route("/mirrors/{id}/delete", post().to(n::mirror_delete))
            .route("/mirrors/{id}/regions", post().to(n::mirror_region_add))
            .route(
                "/mirrors/{id}/regions/delete",
                post().to(n::mirror_region_remove),
            )
            .route("/regions", get().to(n::regions))
            .route("/regions", post().to(n::region_create))
            .route("/regions/{id}/delete", post().to(n::region_delete))
            .route("/countries", post().to(n::country_set))
            .route("/countries/delete", post().to(n::country_clear))
            // Administration (rules and accounts: admin; the audit log: everyone).
            .route("/rules", get().to(a::rules))
            .route("/rules", post().to(a::rules_replace))
            .route("/audit", get().to(a::audit))
            .route("/users", get().to(a::users))
            .route("/users", post().to(a::user_create))
            .route("/users/update", post().to(a::user_update))
            .route("/tokens", get().to(a::tokens))
            .route("/tokens", post().to(a::token_create))
            .route("/tokens/{id}/delete", post().to(a::token_delete))
            .default_service(web::to(flow::not_found)),
    );
}

/// `303 See Other` to `to` (after a POST, so a reload does not repeat it).
pub(crate) fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to.to_owned()))
        .finish()
}
