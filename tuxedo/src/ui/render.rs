//! The templates and the stylesheet, compiled into the binary (no files to deploy, no
//! build step); templates ending in `.html` auto-escape everything they print.

use crate::error::{Result, TuxedoError};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use minijinja::Environment;

/// `(name, source)` of each template in `templates/`, compiled in.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

/// Every template, by name (`macros.html` holds the markup the pages share).
const TEMPLATES: &[(&str, &str)] = templates![
    "base.html",
    "macros.html",
    "error.html",
    "login.html",
    "confirm.html",
    "products.html",
    "product_new.html",
    "product.html",
    "location.html",
    "aliases.html",
    "uptake.html",
    "stats.html",
    "gate_panels.html",
    "uptake_table.html",
    "mirrors.html",
    "mirror_new.html",
    "mirror.html",
    "regions.html",
    "rules.html",
    "audit.html",
    "users.html",
    "tokens.html",
];

const STYLESHEET: &str = include_str!("templates/style.css");

pub struct Templates(Environment<'static>);

impl Templates {
    /// Parses every template; a broken one stops the start (and fails the tests).
    pub fn load() -> Result<Self> {
        let mut env = Environment::new();
        env.add_filter("when", when);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| TuxedoError::Internal(format!("template {name}: {e}")))?;
        }
        Ok(Self(env))
    }

    /// `name` rendered with `ctx` as an HTML response of `status`.
    pub fn respond(&self, status: StatusCode, name: &str, ctx: minijinja::Value) -> HttpResponse {
        let body = self.0.get_template(name).and_then(|t| t.render(ctx));
        match body {
            Ok(html) => HttpResponse::build(status)
                .content_type("text/html; charset=utf-8")
                .insert_header(("cache-control", "no-store"))
                .insert_header(("x-frame-options", "DENY"))
                .insert_header((
                    "content-security-policy",
                    // Style attributes (the width of uptake bars) but no inline <style>, no
                    // scripts at all.
                    "default-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; \
                     script-src 'none'; frame-ancestors 'none'; form-action 'self'",
                ))
                .body(html),
            Err(e) => {
                tracing::error!(template = name, error = %e, "template failed");
                HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body("internal error")
            }
        }
    }
}

/// A timestamp as the pages show it: `2026-11-23 10:29:51` (UTC), from the
/// `2026-11-23T10:29:51.714` that serialising a `NaiveDateTime` gives.
fn when(v: String) -> String {
    v.chars()
        .take(19)
        .map(|c| if c == 'T' { ' ' } else { c })
        .collect()
}

/// `GET /ui/style.css`.
pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("cache-control", "max-age=3600"))
        .body(STYLESHEET)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_shortened() {
        assert_eq!(
            super::when("2026-11-23T10:29:51.714431603".into()),
            "2026-11-23 10:29:51"
        );
        assert_eq!(
            super::when("2026-11-23T10:29:51".into()),
            "2026-11-23 10:29:51"
        );
    }

    /// Filters are looked up when a page renders, so a missing crate feature only shows
    /// there: render the pages that use them.
    #[test]
    fn pages_with_filters_render() {
        use minijinja::context;
        let t = super::Templates::load().unwrap();
        let body = |r: actix_web::HttpResponse| {
            assert_eq!(r.status(), 200);
            let b = actix_web::body::to_bytes(r.into_body());
            let b = block_on(b);
            String::from_utf8(b.unwrap().to_vec()).unwrap()
        };
        let audit = body(t.respond(
            actix_web::http::StatusCode::OK,
            "audit.html",
            context! { user => "a", entries => Vec::<()>::new(), more => true, next => 50,
            q => context! { actor => "a b&c", action => "", target => "" } },
        ));
        assert!(audit.contains("actor=a%20b%26c"), "{audit}");
        let rules = body(t.respond(
            actix_web::http::StatusCode::OK,
            "rules.html",
            context! { user => "a", rules => vec![context! { position => 0, enabled => true,
            description => "d", conditions => vec![context! { op => "equals" }] }] },
        ));
        assert!(rules.contains("equals"), "{rules}");
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn every_template_parses() {
        assert!(super::Templates::load().is_ok());
    }
}
