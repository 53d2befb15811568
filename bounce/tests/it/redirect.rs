//! The compatible request semantics (spec `bounce.md` part A), on a real bounce instance
//! against MariaDB and SQLite.

use crate::common::*;
use bouncer_test_support::{async_db_tests, TestDb};
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};

const WIN_DE: &str =
    "https://cdn.example.org/pub/firefox/releases/120.0/win32/de/Firefox%20Setup%20120.0.exe";

async_db_tests! {
    redirects_exactly => redirects_exactly,
    empty_product_goes_home => empty_product_goes_home,
    defaults_and_normalisation => defaults_and_normalisation,
    aliases_resolve_one_level => aliases_resolve_one_level,
    not_found_is_exact => not_found_is_exact,
    languages_as_stored => languages_as_stored,
    invalid_input_is_a_clear_4xx => invalid_input_is_a_clear_4xx,
    print_and_head => print_and_head,
    pinned_base_urls => pinned_base_urls,
    stub_attribution => stub_attribution,
    header_injection_is_impossible => header_injection_is_impossible,
    header_names_are_canonical_and_stable => header_names_are_canonical_and_stable,
}

async fn redirects_exactly(db: TestDb) {
    standard(&mut db.conn());
    let base = spawn(config(&db));
    let r = client()
        .get(format!("{base}/?product=firefox-latest&os=win&lang=de"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()[LOCATION], WIN_DE);
    assert_eq!(
        r.headers()[CACHE_CONTROL],
        "private, max-age=60",
        "a mirror chosen for this client's region: no shared cache may keep it"
    );
    assert_eq!(
        r.headers()["vary"],
        "Accept",
        "mirror mode: Accept may ask for a mirror list instead"
    );
    assert_eq!(r.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(
        r.text().await.unwrap(),
        format!("<a href=\"{WIN_DE}\">Found</a>.\n\n")
    );
    // Any path, any method.
    let r = client()
        .post(format!("{base}/some/path?product=firefox-latest&lang=de"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], WIN_DE);
}

async fn empty_product_goes_home(db: TestDb) {
    let mut cfg = config(&db);
    cfg.bounce.home_url = "https://www.example.com/home".into();
    let base = spawn(cfg);
    for q in ["", "?product=", "?product=%20%20&os=win"] {
        let r = client().get(format!("{base}/{q}")).send().await.unwrap();
        assert_eq!(r.status(), 302, "{q}");
        assert_eq!(r.headers()[LOCATION], "https://www.example.com/home");
        assert!(r.headers().get(CACHE_CONTROL).is_none());
    }
}

async fn defaults_and_normalisation(db: TestDb) {
    standard(&mut db.conn());
    let base = spawn(config(&db));
    let en = WIN_DE.replace("/de/", "/en-US/");
    for q in [
        "product=firefox-latest",
        "product=%20FireFox-LATEST%20&os=%20WIN%20",
        "product=firefox-latest&os=&lang=",
        "product=firefox-latest&product=nope",
    ] {
        let r = client().get(format!("{base}/?{q}")).send().await.unwrap();
        assert_eq!(r.headers()[LOCATION], en.as_str(), "{q}");
    }
}

async fn aliases_resolve_one_level(db: TestDb) {
    let mut c = db.conn();
    standard(&mut c);
    alias(&mut c, "chain", "firefox-stub");
    drop(c);
    let base = spawn(config(&db));
    let get = |q: &'static str| {
        let base = base.clone();
        async move { client().get(format!("{base}/?{q}")).send().await.unwrap() }
    };
    let via_alias = get("product=FIREFOX-STUB&lang=de&print=yes")
        .await
        .text()
        .await
        .unwrap();
    let direct = get("product=firefox-latest&lang=de&print=yes")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(via_alias, direct);
    assert_eq!(direct, WIN_DE);
    assert_eq!(
        get("product=chain&lang=de").await.status(),
        404,
        "aliases are not chained"
    );
}

async fn not_found_is_exact(db: TestDb) {
    let cat = standard(&mut db.conn());
    let _ = cat;
    let base = spawn(config(&db));
    for q in [
        "product=firefox-latest&os=beos", // unknown os
        "product=no-such-product",        // unknown product
        "product=%25",                    // `%`: no LIKE matching
        "product=firefox-%25&os=win",
        "product=firefox-beta-latest&lang=fr", // language not offered
        "product=firefox-ssl&os=osx",          // no location for that os
    ] {
        let r = client().get(format!("{base}/?{q}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{q}");
        assert_eq!(r.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        assert!(r.headers().get(CACHE_CONTROL).is_none());
        assert_eq!(r.text().await.unwrap(), "404 page not found\n");
    }
}

async fn languages_as_stored(db: TestDb) {
    standard(&mut db.conn());
    let base = spawn(config(&db));
    let r = client()
        .get(format!(
            "{base}/?product=firefox-beta-latest&lang=JA-jp-MAC&print=yes"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.text().await.unwrap(),
        "https://cdn.example.org/pub/firefox/releases/121.0b1/win32/ja-JP-mac/Firefox%20Setup%20121.0b1.exe"
    );
    // A product without language rows takes the language as asked.
    let r = client()
        .get(format!(
            "{base}/?product=firefox-latest&lang=Es-Ar&print=yes"
        ))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("/Es-Ar/"));
}

async fn invalid_input_is_a_clear_4xx(db: TestDb) {
    standard(&mut db.conn());
    let base = spawn(config(&db));
    for lang in ["multi", "ca-valencia", "sr-Latn", "ja-JP-mac"] {
        let r = client()
            .get(format!(
                "{base}/?product=firefox-latest&lang={lang}&print=yes"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{lang}: a real locale code");
        assert!(r.text().await.unwrap().contains(&format!("/{lang}/")));
    }
    for lang in [
        "../../x",
        "en_US",
        "abcdefghij-abcdefghij-abcdefghi",
        "en-US%0D%0ALocation:%20x",
        "%C3%A9%C3%A9",
    ] {
        let r = client()
            .get(format!("{base}/?product=firefox-latest&lang={lang}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{lang}");
        let body = r.text().await.unwrap();
        assert!(body.starts_with("invalid lang"), "{body}");
        assert!(
            !body.contains('\r'),
            "the reason never echoes raw control characters"
        );
    }
    let long = "x".repeat(5000);
    let r = client()
        .get(format!("{base}/?product=firefox-latest&pad={long}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 414);
}

async fn print_and_head(db: TestDb) {
    standard(&mut db.conn());
    let mut cfg = config(&db);
    let base = spawn(cfg.clone());
    let r = client()
        .get(format!("{base}/?product=firefox-latest&lang=de&print=yes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[CONTENT_TYPE], "text/plain");
    assert_eq!(r.headers()[CACHE_CONTROL], "private, max-age=60");
    assert_eq!(r.text().await.unwrap(), WIN_DE);
    let r = client()
        .head(format!("{base}/?product=firefox-latest&lang=de"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()[LOCATION], WIN_DE);
    assert_eq!(r.bytes().await.unwrap().len(), 0, "HEAD has no body");
    cfg.bounce.cache_time_secs = 0;
    let base = spawn(cfg);
    let r = client()
        .get(format!("{base}/?product=firefox-latest&lang=de"))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers().get(CACHE_CONTROL).is_none(),
        "cache time 0 = no header"
    );
}

async fn pinned_base_urls(db: TestDb) {
    standard(&mut db.conn());
    let mut cfg = config(&db);
    cfg.bounce.pinned_http = Some("download-installer.cdn.example.net/pub".into());
    cfg.bounce.pinned_https = Some("download-installer.cdn.example.net/pub".into());
    let base = spawn(cfg);
    let print = |q: &'static str, https: bool| {
        let base = base.clone();
        async move {
            let mut req = client().get(format!("{base}/?{q}&print=yes"));
            if https {
                req = req.header("X-Forwarded-Proto", "https");
            }
            req.send().await.unwrap().text().await.unwrap()
        }
    };
    assert_eq!(print("product=firefox-latest&lang=de", false).await, "http://download-installer.cdn.example.net/pub/firefox/releases/120.0/win32/de/Firefox%20Setup%20120.0.exe");
    assert!(print("product=firefox-latest&lang=de", true)
        .await
        .starts_with("https://download-installer.cdn.example.net/pub/"));
    assert!(print("product=firefox-ssl", false)
        .await
        .starts_with("https://download-installer.cdn.example.net/pub/ssl/en-US/"));
    // The same for every client but the scheme header: a shared cache may keep it, keyed
    // by that header.
    let r = client()
        .get(format!("{base}/?product=firefox-latest&lang=de"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[CACHE_CONTROL], "max-age=60");
    assert_eq!(r.headers()["vary"], "X-Forwarded-Proto");
    let r = client()
        .get(format!("{base}/?product=firefox-ssl"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("vary").is_none(), "ssl_only: always https");
}

async fn stub_attribution(db: TestDb) {
    standard(&mut db.conn());
    let mut cfg = config(&db);
    cfg.bounce.stub_root = Some("https://stubdownloader.example.com/".into());
    let base = spawn(cfg);
    let r = client()
        .get(format!("{base}/?product=Firefox-Stub&os=win&lang=de&attribution_code=c%20(1)&attribution_sig=s"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()[LOCATION],
        "https://stubdownloader.example.com/?attribution_code=c+%281%29&attribution_sig=s&lang=de&os=win&product=firefox-stub"
    );
    assert!(r.headers().get(CACHE_CONTROL).is_none());
    // No signature: a normal redirect.
    let r = client().get(format!("{base}/?product=firefox-latest&os=osx&lang=de&attribution_code=c&attribution_sig=&print=yes")).send().await.unwrap();
    assert!(r
        .text()
        .await
        .unwrap()
        .starts_with("https://cdn.example.org/pub/firefox/releases/120.0/mac/de/"));
}

async fn header_injection_is_impossible(db: TestDb) {
    let mut c = db.conn();
    let cat = standard(&mut c);
    let evil = product(&mut c, "evil", false, &[]);
    let loc = location(&mut c, evil, cat.win, "/a b\r\nSet-Cookie: x=1/é");
    serve(&mut c, loc, cat.mirror, true, true);
    let rel = product(&mut c, "relative", false, &[]);
    let loc = location(&mut c, rel, cat.win, "@evil.example/x");
    serve(&mut c, loc, cat.mirror, true, true);
    drop(c);
    let base = spawn(config(&db));
    let r = client()
        .get(format!("{base}/?product=evil"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()[LOCATION],
        "https://cdn.example.org/pub/a%20b%0D%0ASet-Cookie:%20x=1/%C3%A9"
    );
    assert!(r.headers().get("set-cookie").is_none());
    // A path that would move the host (`…/pub@evil.example/x`) is never served.
    let r = client()
        .get(format!("{base}/?product=relative"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// The response head as bytes on the wire: `Location`, not `location`, and the same
/// order of header lines for identical requests.
async fn header_names_are_canonical_and_stable(db: TestDb) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    standard(&mut db.conn());
    let base = spawn(config(&db));
    let addr = base.trim_start_matches("http://").to_owned();
    let head = |query: &'static str| {
        let addr = addr.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let req = format!("GET /?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut raw = Vec::new();
            s.read_to_end(&mut raw).await.unwrap();
            let text = String::from_utf8_lossy(&raw).into_owned();
            let head = text.split("\r\n\r\n").next().unwrap().to_owned();
            head.lines()
                .skip(1)
                .map(|l| l.split(':').next().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let first = head("product=firefox-latest&lang=de").await;
    for name in [
        "Location",
        "Content-Type",
        "Cache-Control",
        "Content-Length",
        "Date",
    ] {
        assert!(first.iter().any(|n| n == name), "{name} in {first:?}");
    }
    let not_found = head("product=nope").await;
    assert!(not_found.iter().any(|n| n == "X-Content-Type-Options"));
    for _ in 0..20 {
        assert_eq!(head("product=firefox-latest&lang=de").await, first);
        assert_eq!(head("product=nope").await, not_found);
    }
}
