//! Helpers for bounce's integration tests: catalogue seeding through diesel and a real
//! bounce instance on port 0.
#![allow(dead_code)]

use bouncer_core::config::Config;
use bouncer_core::db::DbConnection;
use bouncer_core::models::*;
use bouncer_core::schema::*;
use bouncer_test_support::TestDb;
use diesel::prelude::*;

pub fn os(c: &mut DbConnection, name: &str) -> i32 {
    diesel::insert_into(mirror_os::table)
        .values(NewOs { name, priority: 0 })
        .execute(c)
        .unwrap();
    mirror_os::table
        .filter(mirror_os::name.eq(name))
        .select(mirror_os::id)
        .first(c)
        .unwrap()
}

pub fn product(c: &mut DbConnection, name: &str, ssl_only: bool, langs: &[&str]) -> i32 {
    diesel::insert_into(mirror_products::table)
        .values(NewProduct {
            name,
            active: true,
            checknow: true,
            ssl_only,
        })
        .execute(c)
        .unwrap();
    let id = mirror_products::table
        .filter(mirror_products::name.eq(name))
        .select(mirror_products::id)
        .first(c)
        .unwrap();
    for language in langs {
        diesel::insert_into(mirror_product_langs::table)
            .values(NewProductLang {
                product_id: id,
                language,
            })
            .execute(c)
            .unwrap();
    }
    id
}

pub fn location(c: &mut DbConnection, product_id: i32, os_id: i32, path: &str) -> i32 {
    diesel::insert_into(mirror_locations::table)
        .values(NewLocation {
            product_id,
            os_id,
            path,
        })
        .execute(c)
        .unwrap();
    mirror_locations::table
        .filter(mirror_locations::product_id.eq(product_id))
        .filter(mirror_locations::os_id.eq(os_id))
        .select(mirror_locations::id)
        .first(c)
        .unwrap()
}

pub fn mirror(c: &mut DbConnection, name: &str, baseurl: &str, rating: i32, active: bool) -> i32 {
    diesel::insert_into(mirror_mirrors::table)
        .values(NewMirror {
            name,
            baseurl,
            rating,
            active,
        })
        .execute(c)
        .unwrap();
    mirror_mirrors::table
        .filter(mirror_mirrors::name.eq(name))
        .select(mirror_mirrors::id)
        .first(c)
        .unwrap()
}

pub fn serve(c: &mut DbConnection, location_id: i32, mirror_id: i32, active: bool, healthy: bool) {
    diesel::insert_into(mirror_location_mirror_map::table)
        .values(NewLocationMirror {
            location_id,
            mirror_id,
            active,
            healthy,
        })
        .execute(c)
        .unwrap();
}

pub fn alias(c: &mut DbConnection, alias: &str, related_product: &str) {
    diesel::insert_into(mirror_aliases::table)
        .values(NewAlias {
            alias,
            related_product,
        })
        .execute(c)
        .unwrap();
}

pub fn region(
    c: &mut DbConnection,
    name: &str,
    throttle: i32,
    fallback_id: Option<i32>,
    prevent: bool,
) -> i32 {
    diesel::insert_into(geoip_regions::table)
        .values(NewRegion {
            name,
            priority: 0,
            throttle,
            fallback_id,
            prevent_global_fallback: prevent,
        })
        .execute(c)
        .unwrap();
    geoip_regions::table
        .filter(geoip_regions::name.eq(name))
        .select(geoip_regions::id)
        .first(c)
        .unwrap()
}

pub fn country(c: &mut DbConnection, code: &str, region_id: i32) {
    diesel::insert_into(geoip_country_to_region::table)
        .values(CountryRegion {
            country_code: code.into(),
            region_id: Some(region_id),
            country_name: None,
            continent: None,
        })
        .execute(c)
        .unwrap();
}

pub fn member(c: &mut DbConnection, mirror_id: i32, region_id: i32) {
    diesel::insert_into(geoip_mirror_region_map::table)
        .values(NewMirrorRegion {
            mirror_id,
            region_id,
        })
        .execute(c)
        .unwrap();
}

/// A configuration for `db` (default cache lifetimes: writes must become visible through
/// the generation watch, not through expiry).
pub fn config(db: &TestDb) -> Config {
    let mut config = Config::default();
    config.database.url = db.url.clone();
    config
}

/// Starts bounce and returns its base URL.
pub fn spawn(config: Config) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = bounce::build(config, listener, std::future::pending()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    base
}

/// An HTTP client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The body of a GET of `url` (which must answer).
pub async fn text_of(url: &str) -> String {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The JSON body of a GET of `url` (which must answer).
pub async fn json_of(url: &str) -> serde_json::Value {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The standard small catalogue: firefox-latest (any language) and firefox-beta-latest
/// (de, en-US, ja-JP-mac) on win and osx, firefox-ssl (ssl_only) on win, one https mirror
/// serving everything, an alias firefox-stub → firefox-latest.
pub struct Catalogue {
    pub win: i32,
    pub osx: i32,
    pub latest_win: i32,
    pub beta_win: i32,
    /// The product firefox-beta-latest.
    pub beta: i32,
    pub ssl_win: i32,
    pub mirror: i32,
}

pub fn standard(c: &mut DbConnection) -> Catalogue {
    let win = os(c, "win");
    let osx = os(c, "osx");
    let latest = product(c, "firefox-latest", false, &[]);
    let beta = product(
        c,
        "firefox-beta-latest",
        false,
        &["de", "en-US", "ja-JP-mac"],
    );
    let ssl = product(c, "firefox-ssl", true, &[]);
    let latest_win = location(
        c,
        latest,
        win,
        "/firefox/releases/120.0/win32/:lang/Firefox%20Setup%20120.0.exe",
    );
    let latest_osx = location(
        c,
        latest,
        osx,
        "/firefox/releases/120.0/mac/:lang/Firefox%20120.0.dmg",
    );
    let beta_win = location(
        c,
        beta,
        win,
        "/firefox/releases/121.0b1/win32/:lang/Firefox%20Setup%20121.0b1.exe",
    );
    let ssl_win = location(c, ssl, win, "/ssl/:lang/setup.exe");
    let mirror = mirror(c, "cdn", "https://cdn.example.org/pub", 100, true);
    for loc in [latest_win, latest_osx, beta_win, ssl_win] {
        serve(c, loc, mirror, true, true);
    }
    alias(c, "firefox-stub", "firefox-latest");
    Catalogue {
        win,
        osx,
        latest_win,
        beta_win,
        beta,
        ssl_win,
        mirror,
    }
}

/// Pearson's chi-square of observed counts against expected shares.
pub fn chi_square(
    observed: &std::collections::HashMap<String, usize>,
    weights: &[(&str, f64)],
) -> f64 {
    let n: usize = observed.values().sum();
    let total: f64 = weights.iter().map(|w| w.1).sum();
    weights
        .iter()
        .map(|(k, w)| {
            let e = n as f64 * w / total;
            let o = *observed.get(*k).unwrap_or(&0) as f64;
            (o - e).powi(2) / e
        })
        .sum()
}
