//! Mirror lists for the same request URL (mirror mode): Metalink v4 (RFC 5854) for
//! download managers, JSON for machines, and an HTML page that says, for the client (or
//! for `ip=` where that override is on), every mirror's regions, weight and health for
//! this file, and why it was or was not eligible. Built from the cached rows a redirect
//! reads: no query per request. In CDN mode only the Metalink, with the one pinned URL.

use crate::catalogue::names::Location;
use crate::catalogue::Listing;
use crate::choice::Client;
use crate::files::Files;
use crate::outcome::Document;
use bouncer_core::networks::{self, NetworkMode};
use bouncer_core::selection::{is_https, LocationMirrors, MirrorCandidate, Scope};
use serde::Serialize;
use std::collections::HashSet;

/// Which document was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Meta4,
    Json,
    Html,
}

impl Format {
    /// `format=` wins over `Accept` (`accept` is read only when there is no `format`);
    /// `Err` names an unknown `format` value.
    pub fn asked(
        query: Option<&str>,
        accept: impl FnOnce() -> Option<Format>,
    ) -> Result<Option<Format>, String> {
        match query {
            None | Some("") => Ok(accept()),
            Some("meta4" | "metalink") => Ok(Some(Format::Meta4)),
            Some("json") => Ok(Some(Format::Json)),
            Some("html" | "mirrorlist") => Ok(Some(Format::Html)),
            Some(other) => {
                let shown: String = other.chars().take(20).collect();
                Err(format!(
                    "invalid format {shown:?}: expected meta4, json or html"
                ))
            }
        }
    }

    /// What an `Accept` header asks for. Only a range that names a document's type
    /// exactly, with a weight above 0, asks for it (`*/*` accepts the redirect, `q=0`
    /// says "not this"): the Metalink when its weight is not below JSON's (aria2 names it
    /// by default); else JSON when its weight is above `text/html`'s (a browser-like
    /// client that prefers HTML gets the redirect); otherwise the redirect.
    /// One pass over the header (a mirror-mode redirect reads every browser's).
    pub fn from_accept(accept: &str) -> Option<Format> {
        let [meta4, json, html] = crate::accept::explicit_qs(
            accept,
            ["application/metalink4+xml", "application/json", "text/html"],
        );
        let (meta4, json) = (meta4.filter(|&q| q > 0), json.filter(|&q| q > 0));
        let html = html.unwrap_or(0);
        match (meta4, json) {
            (Some(m), j) if j.is_none_or(|j| m >= j) => Some(Format::Meta4),
            (_, Some(j)) if j > html => Some(Format::Json),
            _ => None,
        }
    }
}

/// The request a document answers.
pub struct Asked<'a> {
    pub location: &'a Location,
    pub lang: &'a str,
    pub client: &'a Client<'a>,
    pub https_only: bool,
}

#[derive(Debug, Serialize)]
struct FileView {
    name: String,
    size: Option<i64>,
    sha256: Option<String>,
    sha512: Option<String>,
}

#[derive(Debug, Serialize)]
struct Listed {
    mirror_id: i32,
    url: String,
    /// 1 = first choice; `None` for a mirror that is not eligible.
    priority: Option<usize>,
    regions: Vec<i32>,
    weight: i32,
    /// Where it stands (ISO 3166 alpha-2), when the operator gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<String>,
    /// Why it is not eligible (absent when it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    excluded: Option<String>,
    /// What sentry's vantages say of it for this client (issue 32).
    #[serde(skip_serializing_if = "Option::is_none")]
    vantages: Option<crate::catalogue::Vantaged>,
}

#[derive(Debug, Serialize)]
struct ClientView {
    ip: Option<String>,
    /// `4` or `6`: the family the client's mirrors must be healthy over.
    family: u8,
    country: Option<String>,
    /// Only when it decides (the country has no region, continent fallback on).
    continent: Option<String>,
    asn: Option<u32>,
    region: Option<i32>,
}

#[derive(Debug, Serialize)]
struct MirrorList {
    file: FileView,
    client: ClientView,
    /// The rule that gave the first choice: `network`, `region N`, `continent XX`,
    /// `global`, or `none` (no mirror may serve this client).
    decided_by: String,
    mirrors: Vec<Listed>,
}

fn scope_name(s: &Scope) -> String {
    match s {
        Scope::Network => "network".into(),
        Scope::Region(r) => format!("region {r}"),
        Scope::Continent(k) => format!("continent {}", networks::code_str(k)),
        Scope::Global => "global".into(),
    }
}

/// Why a mirror the client's variant left out is not for this client.
fn reach_excluded(c: &MirrorCandidate, client: &Client<'_>) -> Option<String> {
    let country = client.country;
    if let Some(cc) = country.filter(|cc| c.reach.excludes.contains(cc)) {
        return Some(format!("excludes clients in {}", networks::code_str(&cc)));
    }
    if c.reach.networked() && c.reach.mode == NetworkMode::Only {
        // A count, not the list: the document is public and the list may be long.
        return Some(format!(
            "serves only its networks ({})",
            c.reach.networks.summary()
        ));
    }
    None
}

/// The kind of sentry's reason without its detail (`size mismatch: 1000 bytes, expected
/// 1234` → `size mismatch`): the list is public, the detail is for operators (tuxedo's
/// mirror health shows it whole).
fn public_reason(reason: &str) -> &str {
    reason
        .split_once(':')
        .map_or(reason, |(kind, _)| kind)
        .trim()
}

/// Why a candidate may not serve this request, in the order the checks apply; `sentry`
/// is what sentry recorded when the pair's health last changed (`size mismatch: …`).
fn excluded(c: &MirrorCandidate, https_only: bool, sentry: Option<&str>) -> Option<String> {
    let with = |what: &str| match sentry {
        Some(why) => format!("{what}: {why}"),
        None => what.to_owned(),
    };
    if !c.mirror_active {
        Some("mirror inactive".into())
    } else if !c.location_active {
        Some(with("file not on this mirror"))
    } else if !c.healthy {
        Some(with("unhealthy for this file"))
    } else if c.rating <= 0 {
        Some("rating 0 (or ramping from down)".into())
    } else if https_only && !is_https(&c.base_url) {
        Some("http only; this request needs https".into())
    } else {
        None
    }
}

fn list(ask: &Asked<'_>, l: &Listing, set: &LocationMirrors) -> MirrorList {
    let client = ask.client;
    let order = set.scopes_for(client.region, client.continent, 0);
    let ranked = set.ranked(&order, ask.https_only);
    let decided_by = ranked
        .first()
        .and_then(|first| {
            order
                .iter()
                .find(|s| set.ranked(&[**s], ask.https_only).first() == Some(first))
        })
        .map_or("none".to_owned(), scope_name);
    let mut seen = HashSet::new();
    let mut mirrors: Vec<Listed> = ranked
        .iter()
        .enumerate()
        .map(|(i, m)| {
            seen.insert(m.mirror_id);
            let c = l.all.iter().find(|c| c.mirror_id == m.mirror_id);
            Listed {
                mirror_id: m.mirror_id,
                url: ask.location.url(&m.base_url, ask.lang),
                priority: Some(i + 1),
                regions: c.map(|c| c.regions.clone()).unwrap_or_default(),
                weight: c.map_or(0, |c| c.rating),
                country: c.and_then(country_of),
                excluded: None,
                vantages: l.vantages.get(&m.mirror_id).cloned(),
            }
        })
        .collect();
    // Inactive mirrors are the operator's business (tuxedo lists them), not the public's.
    let listed = l.all.iter().filter(|c| c.mirror_active);
    for c in listed.filter(|c| seen.insert(c.mirror_id)) {
        let sentry = l.reasons.get(&c.mirror_id).map(|r| public_reason(r));
        mirrors.push(Listed {
            mirror_id: c.mirror_id,
            url: ask.location.url(&c.base_url, ask.lang),
            priority: None,
            regions: c.regions.clone(),
            weight: c.rating,
            country: country_of(c),
            vantages: l.vantages.get(&c.mirror_id).cloned(),
            excluded: Some(
                excluded(c, ask.https_only, sentry)
                    .or_else(|| reach_excluded(c, client))
                    .unwrap_or_else(|| {
                        "outside the client's regions (global fallback prevented)".into()
                    }),
            ),
        });
    }
    MirrorList {
        file: file_view(ask.location, ask.lang, &l.found.files),
        client: ClientView {
            ip: client.ip.map(|ip| ip.to_string()),
            family: client.family.number() as u8,
            country: client.country.map(|c| networks::code_str(&c).to_owned()),
            continent: client.continent.map(|k| networks::code_str(&k).to_owned()),
            asn: client.asn,
            region: client.region.map(|r| r.id),
        },
        decided_by,
        mirrors,
    }
}

/// What is known of the file a request for `lang` gets from `location`.
fn file_view(location: &Location, lang: &str, files: &Files) -> FileView {
    let meta = files.get(location.per_language(), lang).map(|f| &f.meta);
    FileView {
        name: location.file_name(lang),
        size: meta.and_then(|m| m.size),
        sha256: meta.and_then(|m| m.sha256.clone()),
        sha512: meta.and_then(|m| m.sha512.clone()),
    }
}

/// CDN mode's Metalink (`format=meta4`): the file's size and hashes and the one URL the
/// redirect goes to. There is no mirror to list, so no JSON or HTML list.
pub fn pinned(location: &Location, lang: &str, url: &str, files: &Files) -> Document {
    Document {
        content_type: "application/metalink4+xml",
        body: metalink(
            &file_view(location, lang, files),
            std::iter::once((url, 1, None)),
        ),
    }
}

/// The document for one request.
pub fn build(
    format: Format,
    ask: &Asked<'_>,
    listing: &Listing,
    set: &LocationMirrors,
) -> Document {
    let l = list(ask, listing, set);
    match format {
        Format::Meta4 => {
            let urls = l.mirrors.iter().filter(|m| m.excluded.is_none()).map(|m| {
                let p = m.priority.unwrap_or(999_999).min(999_999);
                (m.url.as_str(), p, m.country.as_deref())
            });
            Document {
                content_type: "application/metalink4+xml",
                body: metalink(&l.file, urls),
            }
        }
        Format::Json => Document {
            content_type: "application/json",
            body: serde_json::to_string_pretty(&l).unwrap_or_default(),
        },
        Format::Html => Document {
            content_type: "text/html; charset=utf-8",
            body: html(&l),
        },
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    crate::html::html_escape_into(&mut out, s);
    out
}

fn country_of(c: &MirrorCandidate) -> Option<String> {
    c.reach.country.map(|cc| networks::code_str(&cc).to_owned())
}

/// RFC 5854: the file's size and hashes, and every eligible mirror's URL with its
/// priority (1 = most preferred) and, where known, its country (`location`, lower case
/// as in the RFC's examples).
fn metalink<'a>(
    file: &FileView,
    urls: impl Iterator<Item = (&'a str, usize, Option<&'a str>)>,
) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str("<metalink xmlns=\"urn:ietf:params:xml:ns:metalink\">\n");
    x.push_str(&format!(
        "  <generator>bounce/{}</generator>\n",
        env!("CARGO_PKG_VERSION")
    ));
    x.push_str(&format!("  <file name=\"{}\">\n", esc(&file.name)));
    if let Some(size) = file.size {
        x.push_str(&format!("    <size>{size}</size>\n"));
    }
    for (t, h) in [("sha-256", &file.sha256), ("sha-512", &file.sha512)] {
        if let Some(h) = h {
            x.push_str(&format!("    <hash type=\"{t}\">{h}</hash>\n"));
        }
    }
    for (url, p, country) in urls {
        let location = country.map_or(String::new(), |cc| {
            format!(" location=\"{}\"", cc.to_ascii_lowercase())
        });
        x.push_str(&format!(
            "    <url{location} priority=\"{p}\">{}</url>\n",
            esc(url)
        ));
    }
    x.push_str("  </file>\n</metalink>\n");
    x
}

/// The vantages' word on a mirror in one line: `region: down (eu-1: timeout; …) · 12.3 ms
/// (best 8.0, 5 samples)`; `-` when they say nothing.
fn vantage_note(v: Option<&crate::catalogue::Vantaged>) -> String {
    let Some(v) = v else { return "-".into() };
    let mut parts = Vec::new();
    if let Some(d) = &v.verdict {
        let state = if d.healthy { "up" } else { "down" };
        parts.push(match d.reason.is_empty() {
            true => format!("{}: {state}", d.of),
            false => format!("{}: {state} ({})", d.of, d.reason),
        });
    }
    if let (Some(t), Some(n)) = (v.ttfb_ms, v.samples) {
        let best = v
            .best_ms
            .map_or(String::new(), |b| format!("best {b:.1}, "));
        parts.push(format!("{t:.1} ms ({best}{n} samples)"));
    }
    parts.join(" · ")
}

fn html(l: &MirrorList) -> String {
    let opt = |v: &Option<String>| v.as_deref().map_or("unknown".to_owned(), esc);
    let mut h =
        String::from("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Mirrors for ");
    h.push_str(&esc(&l.file.name));
    h.push_str("</title></head><body>\n");
    h.push_str(&format!("<h1>Mirrors for {}</h1>\n", esc(&l.file.name)));
    h.push_str(&format!(
        "<p>Size: {} bytes. SHA-256: {}.</p>\n",
        l.file.size.map_or("unknown".into(), |s| s.to_string()),
        opt(&l.file.sha256)
    ));
    h.push_str(&format!(
        "<p>Client: {} (IPv{}, country {}, region {}, continent {}, network {}). Decided by: {}.</p>\n",
        opt(&l.client.ip),
        l.client.family,
        opt(&l.client.country),
        l.client.region.map_or("none".into(), |r| r.to_string()),
        opt(&l.client.continent),
        l.client.asn.map_or("unknown".into(), |a| format!("AS{a}")),
        esc(&l.decided_by)
    ));
    h.push_str("<table>\n<tr><th>priority</th><th>mirror</th><th>URL</th><th>regions</th><th>country</th><th>weight</th><th>eligible</th><th>vantages</th></tr>\n");
    for m in &l.mirrors {
        let regions: Vec<String> = m.regions.iter().map(|r| r.to_string()).collect();
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            m.priority.map_or("-".into(), |p| p.to_string()),
            m.mirror_id,
            esc(&m.url),
            regions.join(", "),
            m.country.as_deref().unwrap_or("-"),
            m.weight,
            esc(m.excluded.as_deref().unwrap_or("yes")),
            esc(&vantage_note(m.vantages.as_ref()))
        ));
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::Format::{self, Json, Meta4};

    fn of(accept: &str) -> Option<Format> {
        Format::from_accept(accept)
    }

    #[test]
    fn accept_asks_for_a_document_by_its_exact_type() {
        assert_eq!(
            of("*/*,application/metalink4+xml,application/metalink+xml"),
            Some(Meta4),
            "aria2's default"
        );
        assert_eq!(of("application/json"), Some(Json));
        assert_eq!(of("application/json, text/plain, */*"), Some(Json));
        assert_eq!(of("APPLICATION/JSON; charset=utf-8"), Some(Json));
        assert_eq!(of("application/jsonp"), None, "not JSON");
        assert_eq!(of("application/metalink4+xmlx"), None);
        assert_eq!(of("*/*"), None);
        assert_eq!(of("application/*"), None);
        assert_eq!(
            of("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            None,
            "a browser"
        );
    }

    #[test]
    fn q_zero_is_not_acceptable() {
        assert_eq!(of("application/metalink4+xml;q=0"), None);
        assert_eq!(of("application/metalink4+xml;q=0.000, */*"), None);
        assert_eq!(of("application/json;q=0"), None);
        assert_eq!(
            of("application/metalink4+xml;q=0, application/json"),
            Some(Json)
        );
    }

    #[test]
    fn weights_decide_between_documents_and_html() {
        assert_eq!(
            of("application/metalink4+xml;q=0.5, application/json"),
            Some(Json)
        );
        assert_eq!(
            of("application/metalink4+xml, application/json"),
            Some(Meta4)
        );
        assert_eq!(of("application/json, text/html"), None, "as before");
        assert_eq!(of("application/json, text/html;q=0.5"), Some(Json));
        assert_eq!(of("application/json;q=0.5, text/html"), None);
        assert_eq!(of("application/json, text/html;q=0"), Some(Json));
    }

    #[test]
    fn format_wins_over_accept() {
        let unread = || -> Option<Format> { panic!("Accept is not read when format= says") };
        assert_eq!(Format::asked(Some("json"), unread), Ok(Some(Json)));
        assert_eq!(Format::asked(None, || Some(Meta4)), Ok(Some(Meta4)));
        assert_eq!(Format::asked(Some(""), || None), Ok(None));
        assert!(Format::asked(Some("torrent"), || None).is_err());
    }
}
