//! The redirector's pipeline (spec `bounce.md` part A, then part B for the base URL).

use crate::catalogue::names::Resolved;
use crate::catalogue::Catalogue;
use crate::choice::Variants;
use crate::geo::Geo;
use crate::outcome::{Extras, Outcome, RequestInfo, Varies};
use crate::request::{valid_lang, Params};
use crate::{attribution, BounceError};
use bouncer_core::config::Config;
use bouncer_core::hash::stable_hash;
use bouncer_core::rules::{Field, RuleInput};
use std::sync::Arc;

/// CDN mode: the two base URLs, built once.
#[derive(Debug, Clone)]
pub struct Pinned {
    pub http: Arc<str>,
    pub https: Arc<str>,
}

/// What the pipeline reads of the instance, borrowed from the state (see
/// `AppState::pipeline`): the pipeline is a step and takes these, not the composition
/// root that holds them.
pub struct Deps<'a> {
    pub config: &'a Config,
    pub catalogue: &'a Catalogue,
    /// Places clients (mirror mode).
    pub geo: &'a Geo,
    /// The client's network (mirror mode).
    pub asn: &'a Geo,
    /// CDN mode's base URLs; `None` in mirror mode.
    pub pinned: Option<&'a Pinned>,
    /// Per-client variants of location indexes (see `choice`).
    pub variants: &'a Variants,
}

/// Runs the pipeline in the order of the spec.
pub async fn decide(
    deps: &Deps<'_>,
    links: &crate::links::LinkCache,
    req: RequestInfo<'_>,
) -> Result<Outcome, BounceError> {
    let config = &deps.config.bounce;
    if req.query.len() > config.max_query_bytes {
        return Ok(Outcome::QueryTooLong(config.max_query_bytes));
    }
    let mut p = Params::parse(req.query);
    if p.product.is_empty() {
        return Ok(Outcome::Home(config.home_url.clone()));
    }
    p.apply_defaults();
    if !valid_lang(&p.lang) {
        let shown: String = p.lang.chars().take(40).collect();
        return Ok(Outcome::BadRequest(format!(
            "invalid lang {shown:?}: expected a language code such as en-US or ja-JP-mac"
        )));
    }
    if let Some(root) = &config.stub_root {
        if let Some(url) = attribution::stub_url(root, &p, req.referer) {
            return Ok(Outcome::Attribution(url));
        }
    }
    deps.catalogue.ensure_loaded().await?;
    let snapshot = deps.catalogue.snapshot()?;
    let rewrite = snapshot.rules.apply(&RuleInput {
        product: &p.product,
        os: &p.os,
        lang: &p.lang,
        user_agent: req.user_agent,
        referer: req.referer,
    });
    if let Some(rw) = rewrite {
        tracing::debug!(rule = rw.rule_id, "rewrite rule applied");
        if let Some(product) = rw.product {
            p.product = product.into();
        }
        if let Some(os) = rw.os {
            p.os = os.into();
        }
    }
    let names = deps.catalogue.names()?;
    let Resolved::Found(product, location) = names.resolve(&p.product, &p.os) else {
        return Ok(Outcome::NotFound);
    };
    let Some(lang) = product.language(&p.lang) else {
        return Ok(Outcome::NotFound);
    };
    let https_only = product.ssl_only || req.https;
    // CDN mode: `Accept` never asks for a document (see the pinned branch below).
    let accept = || match deps.pinned {
        Some(_) => None,
        None => req
            .accept
            .as_deref()
            .and_then(crate::documents::Format::from_accept),
    };
    let format = match crate::documents::Format::asked(p.format.as_deref(), accept) {
        Ok(f) => f,
        Err(why) => return Ok(Outcome::BadRequest(why)),
    };
    let mut extras = Extras::default();
    let base = match deps.pinned {
        Some(pin) => {
            let base = Arc::clone(if https_only { &pin.https } else { &pin.http });
            // Only the query asks for a document here: a CDN-mode redirect is kept by
            // shared caches keyed by the URL and the headers its `Vary` names, and that
            // `Vary` is a compatible byte (so `Accept` may not change the answer).
            if p.format.is_some() && format == Some(crate::documents::Format::Meta4) {
                let found = deps
                    .catalogue
                    .location_mirrors(location.id, &snapshot)
                    .await?;
                let url = location.url(&base, lang);
                return Ok(Outcome::Document(crate::documents::pinned(
                    location,
                    lang,
                    &url,
                    &found.files,
                )));
            }
            if !p.print && crate::links::wanted(config) {
                // The digests are worth a cached read, not a failed redirect: without
                // the location's rows the CDN redirect goes out as before.
                if let Ok(found) = deps
                    .catalogue
                    .location_mirrors(location.id, &snapshot)
                    .await
                {
                    let at = crate::links::At {
                        set: found.set(bouncer_core::networks::Family::V4),
                        files: &found.files,
                        location,
                        lang,
                    };
                    extras = crate::links::extras(config, links, &at, None, &[], https_only, &p);
                }
            }
            base
        }
        None => {
            let ip = match (&p.ip, config.allow_ip_override) {
                // Canonical like a peer address: `::ffff:a.b.c.d` is the IPv4 client.
                (Some(ip), true) => ip
                    .parse::<std::net::IpAddr>()
                    .ok()
                    .map(|a| a.to_canonical()),
                _ => bouncer_service::client::client_ip(
                    req.peer,
                    req.forwarded_for.as_deref(),
                    &deps.config.network.trusted_proxies,
                ),
            };
            let client = crate::choice::Client::new(
                deps.geo,
                deps.asn,
                config.continent_fallback,
                &snapshot,
                ip,
            );
            if let Some(format) = format {
                let listing = deps
                    .catalogue
                    .location_candidates(location.id, &snapshot, client.family)
                    .await?;
                let set = crate::choice::view(deps.variants, &listing.found, &client);
                let ask = crate::documents::Asked {
                    location,
                    lang,
                    client: &client,
                    https_only,
                };
                return Ok(Outcome::Document(crate::documents::build(
                    format, &ask, &listing, &set,
                )));
            }
            let entropy = if p.print {
                let who = ip.map(|ip| ip.to_string()).unwrap_or_default();
                stable_hash(&[who.as_bytes(), &location.id.to_be_bytes()])
            } else {
                rand::random()
            };
            let found = deps
                .catalogue
                .location_mirrors(location.id, &snapshot)
                .await?;
            let set = crate::choice::view(deps.variants, &found, &client);
            match set.select_scoped(client.region, client.continent, https_only, entropy) {
                (Some(chosen), scopes) => {
                    if !p.print {
                        let at = crate::links::At {
                            set: &set,
                            files: &found.files,
                            location,
                            lang,
                        };
                        extras = crate::links::extras(
                            config,
                            links,
                            &at,
                            Some(chosen.mirror_id),
                            &scopes,
                            https_only,
                            &p,
                        );
                    }
                    Arc::clone(&chosen.base_url)
                }
                (None, _) => match &config.fallback_base_url {
                    Some(f) if !https_only || bouncer_core::selection::is_https(f) => {
                        f.as_str().into()
                    }
                    _ => return Ok(Outcome::NotFound),
                },
            }
        }
    };
    let url = location.url(&base, lang);
    let varies = Varies {
        user_agent: snapshot.rules.reads(Field::UserAgent),
        referer: snapshot.rules.reads(Field::Referer),
        pin_https: deps.pinned.is_some() && !product.ssl_only,
        client: deps.pinned.is_none(),
    };
    Ok(if p.print {
        Outcome::Print(url, varies)
    } else {
        Outcome::Redirect(url, varies, extras)
    })
}
