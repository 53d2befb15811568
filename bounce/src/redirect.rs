//! The redirector's pipeline (spec `bounce.md` part A, then part B for the base URL).

use crate::catalogue::names::{Location, Names, Resolved};
use crate::catalogue::{Catalogue, Snapshot};
use crate::choice::{Client, Variants};
use crate::documents::Format;
use crate::geo::Geo;
use crate::outcome::{Download, Extras, Lang, Missing, Outcome, RequestInfo, Served, Varies};
use crate::request::{valid_lang, Params};
use crate::{attribution, BounceError};
use bouncer_core::config::{BounceConfig, Config};
use bouncer_core::hash::stable_hash;
use bouncer_core::rules::{Field, RuleInput};
use std::ops::ControlFlow::{self, Break, Continue};
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
    /// Downloads are counted: a redirect says what it counts as (else nothing is built).
    pub counting: bool,
}

/// Runs the pipeline in the order of the spec: [`parse`] the query, [`rewrite`] and
/// [`resolve`] it against the catalogue, choose the base URL ([`cdn`] or [`mirrors`]),
/// then [`finish`] the answer. A step that answers early breaks with the answer. A
/// redirect to a file also says what download statistics count of it.
pub async fn decide(
    deps: &Deps<'_>,
    links: &crate::links::LinkCache,
    req: RequestInfo<'_>,
) -> Result<(Outcome, Option<Download>), BounceError> {
    let mut p = match parse(&deps.config.bounce, &req) {
        Continue(p) => p,
        Break(answer) => return Ok((answer, None)),
    };
    deps.catalogue.ensure_loaded().await?;
    let snapshot = deps.catalogue.snapshot()?;
    rewrite(&snapshot, &req, &mut p);
    let names = deps.catalogue.names()?;
    let t = match resolve(deps, &req, &p, &snapshot, &names) {
        Continue(t) => t,
        Break(answer) => return Ok((answer, None)),
    };
    let chosen = match deps.pinned {
        Some(pin) => cdn(deps, links, &t, pin).await?,
        None => mirrors(deps, links, &req, &t).await?,
    };
    Ok(match chosen {
        Continue(chosen) => finish(deps, &t, chosen),
        Break(answer) => (answer, None),
    })
}

/// The base URL a redirect goes to, and what else the answer and the count need.
struct Chosen {
    base: Arc<str>,
    extras: Extras,
    served: Served,
    /// Where the client is (mirror mode), for the count.
    country: Option<bouncer_core::networks::Code>,
    /// The client's address as mirror mode placed it (the count's resume rule reuses it).
    client: Option<std::net::IpAddr>,
    family: Option<bouncer_core::networks::Family>,
    /// The file's size when known.
    bytes: u64,
}

/// One request between the steps: what it asked (after rewrites) and what it resolved to.
struct Target<'a> {
    p: &'a Params<'a>,
    snapshot: &'a Arc<Snapshot>,
    product: i32,
    os: i32,
    location: &'a Location,
    lang: &'a str,
    /// The product is served over HTTPS only.
    ssl_only: bool,
    https_only: bool,
    format: Option<Format>,
}

/// The query's parameters, or the answer that needs no catalogue: too long, the home
/// page (no product), a bad language, or the stub attribution service.
fn parse<'a>(config: &BounceConfig, req: &RequestInfo<'a>) -> ControlFlow<Outcome, Params<'a>> {
    if req.query.len() > config.max_query_bytes {
        return Break(Outcome::QueryTooLong(config.max_query_bytes));
    }
    let mut p = Params::parse(req.query);
    if p.product.is_empty() {
        return Break(Outcome::Home(config.home_url.clone()));
    }
    p.apply_defaults();
    if !valid_lang(&p.lang) {
        let shown: String = p.lang.chars().take(40).collect();
        return Break(Outcome::BadRequest(format!(
            "invalid lang {shown:?}: expected a language code such as en-US or ja-JP-mac"
        )));
    }
    if let Some(root) = &config.stub_root {
        if let Some(url) = attribution::stub_url(root, &p, req.referer) {
            return Break(Outcome::Attribution(url));
        }
    }
    Continue(p)
}

/// The first rewrite rule that matches changes the product and the OS asked for.
fn rewrite(snapshot: &Snapshot, req: &RequestInfo<'_>, p: &mut Params<'_>) {
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
}

/// The location and language asked for, and whether a document was (404 or 400 when
/// not served).
fn resolve<'a>(
    deps: &Deps<'_>,
    req: &RequestInfo<'_>,
    p: &'a Params<'a>,
    snapshot: &'a Arc<Snapshot>,
    names: &'a Names,
) -> ControlFlow<Outcome, Target<'a>> {
    let (product, os, location) = match names.resolve(&p.product, &p.os) {
        Resolved::Found(product, os, location) => (product, os, location),
        Resolved::NoProduct => return Break(Outcome::NotFound(Missing::Product)),
        Resolved::NoOs => return Break(Outcome::NotFound(Missing::Os)),
        Resolved::NoLocation => return Break(Outcome::NotFound(Missing::Location)),
    };
    let Some(lang) = product.language(&p.lang) else {
        return Break(Outcome::NotFound(Missing::Lang));
    };
    // CDN mode: `Accept` never asks for a document (see `cdn`).
    let accept = || match deps.pinned {
        Some(_) => None,
        None => req.accept.as_deref().and_then(Format::from_accept),
    };
    let format = match Format::asked(p.format.as_deref(), accept) {
        Ok(f) => f,
        Err(why) => return Break(Outcome::BadRequest(why)),
    };
    Continue(Target {
        p,
        snapshot,
        product: product.id,
        os,
        location,
        lang,
        ssl_only: product.ssl_only,
        https_only: product.ssl_only || req.https,
        format,
    })
}

/// CDN mode: the pinned base for the scheme and the redirect's extras, or the Metalink
/// when the query asks for it.
async fn cdn(
    deps: &Deps<'_>,
    links: &crate::links::LinkCache,
    t: &Target<'_>,
    pin: &Pinned,
) -> Result<ControlFlow<Outcome, Chosen>, BounceError> {
    let (config, location, snapshot) = (&deps.config.bounce, t.location, t.snapshot);
    let base = Arc::clone(if t.https_only { &pin.https } else { &pin.http });
    // Only the query asks for a document here: a CDN-mode redirect is kept by
    // shared caches keyed by the URL and the headers its `Vary` names, and that
    // `Vary` is a compatible byte (so `Accept` may not change the answer).
    if t.p.format.is_some() && t.format == Some(Format::Meta4) {
        let found = deps
            .catalogue
            .location_mirrors(location.id, snapshot)
            .await?;
        let url = location.url(&base, t.lang);
        return Ok(Break(Outcome::Document(crate::documents::pinned(
            location,
            t.lang,
            &url,
            &found.files,
        ))));
    }
    let mut chosen = Chosen {
        base,
        extras: Extras::default(),
        served: Served::Cdn,
        country: None,
        client: None,
        family: None,
        bytes: 0,
    };
    if !t.p.print && crate::links::wanted(config) {
        // The digests are worth a cached read, not a failed redirect: without
        // the location's rows the CDN redirect goes out as before.
        if let Ok(found) = deps.catalogue.location_mirrors(location.id, snapshot).await {
            let at = crate::links::At {
                set: found.set(bouncer_core::networks::Family::V4),
                files: &found.files,
                location,
                lang: t.lang,
            };
            chosen.extras = crate::links::extras(config, links, &at, None, &[], t.https_only, t.p);
            chosen.bytes = size(&found.files, t);
        }
    }
    Ok(Continue(chosen))
}

/// The size of the file a redirect is for, when known (else 0).
fn size(files: &crate::files::Files, t: &Target<'_>) -> u64 {
    let file = files.get(t.location.per_language(), t.lang);
    let size = file.and_then(|f| f.meta.size).unwrap_or(0);
    u64::try_from(size).unwrap_or(0)
}

/// Mirror mode: the mirror chosen for the client and the redirect's extras (the fallback
/// base when none serves it), or the mirror list a document asks for.
async fn mirrors(
    deps: &Deps<'_>,
    links: &crate::links::LinkCache,
    req: &RequestInfo<'_>,
    t: &Target<'_>,
) -> Result<ControlFlow<Outcome, Chosen>, BounceError> {
    let (config, p, location, snapshot) = (&deps.config.bounce, t.p, t.location, t.snapshot);
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
    let client = Client::new(deps.geo, deps.asn, config.continent_fallback, snapshot, ip);
    if let Some(format) = t.format {
        let listing = deps
            .catalogue
            .location_candidates(location.id, snapshot, client.family, client.region_id())
            .await?;
        let set = crate::choice::view(deps.variants, &listing.found, &client);
        let ask = crate::documents::Asked {
            location,
            lang: t.lang,
            client: &client,
            https_only: t.https_only,
        };
        return Ok(Break(Outcome::Document(crate::documents::build(
            format, &ask, &listing, &set,
        ))));
    }
    let entropy = if p.print {
        let who = ip.map(|ip| ip.to_string()).unwrap_or_default();
        stable_hash(&[who.as_bytes(), &location.id.to_be_bytes()])
    } else {
        rand::random()
    };
    let found = deps
        .catalogue
        .location_mirrors(location.id, snapshot)
        .await?;
    let set = crate::choice::view(deps.variants, &found, &client);
    let counted = |base: Arc<str>, extras, served| Chosen {
        base,
        extras,
        served,
        country: client.country,
        client: ip,
        family: Some(client.family),
        bytes: if deps.counting {
            size(&found.files, t)
        } else {
            0
        },
    };
    Ok(
        match set.select_scoped(client.region, client.continent, t.https_only, entropy) {
            (Some(chosen), scopes) => {
                let mut extras = Extras::default();
                if !p.print {
                    let at = crate::links::At {
                        set: &set,
                        files: &found.files,
                        location,
                        lang: t.lang,
                    };
                    let id = Some(chosen.mirror_id);
                    extras = crate::links::extras(config, links, &at, id, &scopes, t.https_only, p);
                }
                let served = Served::Mirror(chosen.mirror_id);
                Continue(counted(Arc::clone(&chosen.base_url), extras, served))
            }
            (None, _) => match &config.fallback_base_url {
                Some(f) if !t.https_only || bouncer_core::selection::is_https(f) => Continue(
                    counted(f.as_str().into(), Extras::default(), Served::Fallback),
                ),
                _ => Break(Outcome::NotFound(Missing::Mirror)),
            },
        },
    )
}

/// The redirect (or `print=yes` text) to the chosen base, with what it depended on, and
/// the download a redirect counts as.
fn finish(deps: &Deps<'_>, t: &Target<'_>, chosen: Chosen) -> (Outcome, Option<Download>) {
    let url = t.location.url(&chosen.base, t.lang);
    let varies = Varies {
        user_agent: t.snapshot.rules.reads(Field::UserAgent),
        referer: t.snapshot.rules.reads(Field::Referer),
        pin_https: deps.pinned.is_some() && !t.ssl_only,
        client: deps.pinned.is_none(),
    };
    if t.p.print {
        return (Outcome::Print(url, varies), None);
    }
    if !deps.counting {
        return (Outcome::Redirect(url, varies, chosen.extras), None);
    }
    let download = Download {
        product: t.product,
        os: t.os,
        lang: Lang::new(t.lang),
        served: chosen.served,
        country: chosen.country,
        client: chosen.client,
        family: chosen.family,
        https: url.starts_with("https:"),
        bytes: chosen.bytes,
    };
    (
        Outcome::Redirect(url, varies, chosen.extras),
        Some(download),
    )
}
