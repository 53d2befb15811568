//! Mirror lists for machines and exact files (issue 15) on a real bounce, MariaDB and
//! SQLite: RFC 6249 `Link` and RFC 9530 digests on redirects, the Metalink / JSON / HTML
//! documents (validated against RFC 5854's grammar with Debian's `jing` and against the
//! JSON list's documented schema), and aria2c downloading through the Metalink from two
//! local mirrors — verifying the sha-256, and failing when one mirror serves other bytes.

use crate::common::*;
use bouncer_core::db::DbConnection;
use bouncer_core::files::FileMeta;
use bouncer_test_support::fake_mirror::{Behaviour, FakeMirror};
use bouncer_test_support::{async_db_tests, write_country_mmdb, TestDb};
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use std::path::Path;
use std::process::Command;

async_db_tests! {
    redirects_carry_alternatives_and_digests => redirects_carry_alternatives_and_digests,
    documents_list_every_mirror_and_why => documents_list_every_mirror_and_why,
    aria2c_downloads_through_the_metalink => aria2c_downloads_through_the_metalink,
    aria2c_saves_a_safe_file_name => aria2c_saves_a_safe_file_name,
    accept_is_negotiated => accept_is_negotiated,
    mirror_countries_are_geo_and_location => mirror_countries_are_geo_and_location,
    cdn_mode_carries_digests_and_a_metalink => cdn_mode_carries_digests_and_a_metalink,
}

/// sha-256 of "abc" (FIPS 180-2's example), and its base64.
const ABC_HEX: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const ABC_B64: &str = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

fn file(c: &mut DbConnection, location: i32, lang: &str, size: i64, sha256: &str) {
    let meta = FileMeta {
        lang: lang.into(),
        size: Some(size),
        sha256: Some(sha256.into()),
        ..FileMeta::default()
    };
    bouncer_core::files::set(c, location, &meta).unwrap();
}

/// One product on win with a per-language path, served by the given mirrors
/// (name, base URL, rating, mirror active, file active, healthy); returns the location.
fn seed(c: &mut DbConnection, path: &str, mirrors: &[(&str, &str, i32, bool, bool, bool)]) -> i32 {
    let win = os(c, "win");
    let p = product(c, "firefox-latest", false, &[]);
    let loc = location(c, p, win, path);
    for &(name, base, rating, active, there, healthy) in mirrors {
        let m = mirror(c, name, base, rating, active);
        serve(c, loc, m, there, healthy);
    }
    loc
}

fn links(v: &str) -> Vec<&str> {
    v.split(", <").collect()
}

async fn redirects_carry_alternatives_and_digests(db: TestDb) {
    let loc = seed(
        &mut db.conn(),
        "/pub/:lang/Setup%20X.exe",
        &[
            ("a", "https://a.example/m", 100, true, true, true),
            ("b", "https://b.example/m", 50, true, true, true),
            ("c", "http://c.example/m", 25, true, true, true),
            ("sick", "https://sick.example/m", 90, true, true, false),
        ],
    );
    file(&mut db.conn(), loc, "de", 1234, ABC_HEX);
    let base = spawn(config(&db));
    let url = format!("{base}/?product=firefox-latest&os=win&lang=de");
    for _ in 0..20 {
        let r = client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), 302);
        let to = r.headers()[LOCATION].to_str().unwrap().to_owned();
        let h = r.headers();
        assert_eq!(h["repr-digest"], format!("sha-256=:{ABC_B64}:").as_str());
        assert_eq!(h["digest"], format!("SHA-256={ABC_B64}").as_str());
        let link = h["link"].to_str().unwrap();
        let parts = links(link);
        assert_eq!(
            parts[0],
            "<?product=firefox-latest&os=win&lang=de&format=meta4>; rel=describedby; \
             type=\"application/metalink4+xml\""
        );
        // The other eligible mirrors, best first; never the chosen one, never the sick one.
        let dups: Vec<&str> = parts[1..].to_vec();
        assert_eq!(dups.len(), 2, "{link}");
        assert!(
            !link.contains(&to) && !link.contains("sick.example"),
            "{link}"
        );
        let expected: Vec<&str> = ["a", "b", "c"]
            .into_iter()
            .filter(|m| !to.contains(&format!("//{m}.example")))
            .collect();
        for (i, m) in expected.iter().enumerate() {
            assert_eq!(
                dups[i],
                format!(
                    "https://{m}.example/m/pub/de/Setup%20X.exe>; rel=duplicate; pri={}",
                    i + 1
                )
                .replace("https://c.", "http://c."),
                "{link}"
            );
        }
    }
    // No file row for fr: the links stay, the digests go.
    let r = client()
        .get(format!("{base}/?product=firefox-latest&os=win&lang=fr"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("repr-digest").is_none() && r.headers().get("digest").is_none());
    assert!(r.headers()["link"]
        .to_str()
        .unwrap()
        .contains("lang=fr&format=meta4"));

    // Configurable and capped: no alternatives, no digests.
    let mut cfg = config(&db);
    cfg.bounce.link_alternatives = 0;
    cfg.bounce.digest_headers = false;
    let quiet = spawn(cfg);
    let r = client()
        .get(format!("{quiet}/?product=firefox-latest&os=win&lang=de"))
        .send()
        .await
        .unwrap();
    assert_eq!(links(r.headers()["link"].to_str().unwrap()).len(), 1);
    assert!(r.headers().get("repr-digest").is_none());
    let mut cfg = config(&db);
    cfg.bounce.link_header_bytes = 180;
    let tight = spawn(cfg);
    let r = client()
        .get(format!("{tight}/?product=firefox-latest&os=win&lang=de"))
        .send()
        .await
        .unwrap();
    let link = r.headers()["link"].to_str().unwrap();
    assert!(link.len() <= 180 && links(link).len() == 2, "{link}");
}

/// CDN mode (the pinned base URLs go-bouncer runs with today): one target, so no
/// alternatives, but the file's digests and the Metalink's `Link`; `format=meta4` gives a
/// Metalink with the pinned URL and the hash, which `Accept` alone does not (a shared cache
/// keeps CDN redirects by the URL and the pin header only). The compatible headers keep
/// their bytes, and both switched off there is nothing more.
async fn cdn_mode_carries_digests_and_a_metalink(db: TestDb) {
    let loc = seed(
        &mut db.conn(),
        "/pub/:lang/Setup%20X.exe",
        &[("a", "https://a.example/m", 100, true, true, true)],
    );
    file(&mut db.conn(), loc, "de", 1234, ABC_HEX);
    let pinned = |mut cfg: bouncer_core::config::Config| {
        cfg.bounce.pinned_https = Some("cdn.example.net/pub".into());
        cfg.bounce.pinned_http = Some("cdn.example.net/pub".into());
        spawn(cfg)
    };
    let cdn = pinned(config(&db));
    let get = |q: &'static str, accept: Option<&'static str>| {
        let cdn = cdn.clone();
        async move {
            let mut r = client().get(format!("{cdn}/?product=firefox-latest&os=win&{q}"));
            if let Some(a) = accept {
                r = r.header(ACCEPT, a);
            }
            r.send().await.unwrap()
        }
    };
    let r = get("lang=de", None).await;
    let h = r.headers();
    assert_eq!(
        h[LOCATION],
        "http://cdn.example.net/pub/pub/de/Setup%20X.exe"
    );
    assert_eq!(h["cache-control"], "max-age=60");
    assert_eq!(h["vary"], "X-Forwarded-Proto");
    assert_eq!(h["repr-digest"], format!("sha-256=:{ABC_B64}:").as_str());
    assert_eq!(h["digest"], format!("SHA-256={ABC_B64}").as_str());
    assert_eq!(
        h["link"],
        "<?product=firefox-latest&os=win&lang=de&format=meta4>; rel=describedby; \
         type=\"application/metalink4+xml\""
    );
    // No file row for fr: the Metalink's link only.
    let r = get("lang=fr", None).await;
    assert!(r.headers().get("repr-digest").is_none() && r.headers().get("digest").is_none());
    assert!(r.headers().contains_key("link"));

    let r = get("lang=de&format=meta4", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/metalink4+xml");
    let meta4 = r.text().await.unwrap();
    jing(&meta4).unwrap_or_else(|e| panic!("not RFC 5854:\n{e}\n{meta4}"));
    assert!(
        meta4.contains(&format!("<hash type=\"sha-256\">{ABC_HEX}</hash>")),
        "{meta4}"
    );
    assert!(meta4.contains("<size>1234</size>"), "{meta4}");
    let urls: Vec<&str> = meta4.lines().filter(|l| l.contains("<url")).collect();
    assert_eq!(
        urls,
        ["    <url priority=\"1\">http://cdn.example.net/pub/pub/de/Setup%20X.exe</url>"]
    );
    let r = client()
        .get(format!(
            "{cdn}/?product=firefox-latest&os=win&lang=de&format=meta4"
        ))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    assert!(r
        .text()
        .await
        .unwrap()
        .contains(">https://cdn.example.net/pub/pub/de/"));
    let r = get("lang=de", Some("application/metalink4+xml")).await;
    assert_eq!(
        r.status(),
        302,
        "Accept alone keeps the shared-cacheable redirect"
    );
    // JSON and HTML list mirrors, and there are none here: the redirect as before.
    assert_eq!(get("lang=de&format=json", None).await.status(), 302);

    let mut cfg = config(&db);
    cfg.bounce.link_header_bytes = 0;
    cfg.bounce.digest_headers = false;
    let quiet = pinned(cfg);
    let r = client()
        .get(format!("{quiet}/?product=firefox-latest&os=win&lang=de"))
        .send()
        .await
        .unwrap();
    let mut names: Vec<&str> = r.headers().keys().map(|k| k.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "cache-control",
            "content-length",
            "content-type",
            "date",
            "location",
            "vary"
        ]
    );
}

/// A mirror's country (tuxedo's `country`, stored in its settings row) is the `geo=` of
/// its `Link` entry, its Metalink `location` and its JSON list `country`; a mirror
/// without one has none of them.
async fn mirror_countries_are_geo_and_location(db: TestDb) {
    {
        let c = &mut db.conn();
        let win = os(c, "win");
        let p = product(c, "firefox-latest", false, &[]);
        let loc = location(c, p, win, "/pub/:lang/setup.exe");
        let ids: Vec<i32> = [("a", 100), ("b", 50), ("c", 25)]
            .iter()
            .map(|&(n, rating)| {
                let m = mirror(c, n, &format!("https://{n}.example/m"), rating, true);
                serve(c, loc, m, true, true);
                m
            })
            .collect();
        use bouncer_core::schema::bouncer_mirror_settings::dsl as s;
        use diesel::prelude::*;
        for (m, cc) in [(ids[0], "DE"), (ids[2], "JP")] {
            diesel::insert_into(s::bouncer_mirror_settings)
                .values((
                    s::mirror_id.eq(m),
                    s::reference.eq(false),
                    s::network_mode.eq(""),
                    s::country.eq(Some(cc)),
                ))
                .execute(c)
                .unwrap();
        }
    }
    let base = spawn(config(&db));
    let url = format!("{base}/?product=firefox-latest&os=win&lang=de");
    let geo = |host: &str| match host {
        "a" => "; geo=de",
        "c" => "; geo=jp",
        _ => "",
    };
    for _ in 0..20 {
        let r = client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), 302);
        let to = r.headers()[LOCATION].to_str().unwrap().to_owned();
        let link = r.headers()["link"].to_str().unwrap().to_owned();
        let dups = &links(&link)[1..];
        let expected: Vec<&str> = ["a", "b", "c"]
            .into_iter()
            .filter(|m| !to.contains(&format!("//{m}.example")))
            .collect();
        assert_eq!(dups.len(), expected.len(), "{link}");
        for (i, m) in expected.iter().enumerate() {
            assert_eq!(
                dups[i],
                format!(
                    "https://{m}.example/m/pub/de/setup.exe>; rel=duplicate; pri={}{}",
                    i + 1,
                    geo(m)
                ),
                "{link}"
            );
        }
    }
    let meta4 = text_of(&format!("{url}&format=meta4")).await;
    jing(&meta4).unwrap_or_else(|e| panic!("not RFC 5854:\n{e}\n{meta4}"));
    let urls: Vec<&str> = meta4.lines().filter(|l| l.contains("<url ")).collect();
    assert_eq!(
        urls,
        [
            "    <url location=\"de\" priority=\"1\">https://a.example/m/pub/de/setup.exe</url>",
            "    <url priority=\"2\">https://b.example/m/pub/de/setup.exe</url>",
            "    <url location=\"jp\" priority=\"3\">https://c.example/m/pub/de/setup.exe</url>",
        ],
        "{meta4}"
    );
    let list = json_of(&format!("{url}&format=json")).await;
    if let Err(e) = json_schema().validate(&list) {
        panic!("not the documented schema: {e}\n{list:#}");
    }
    let countries: Vec<serde_json::Value> = list["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["country"].clone())
        .collect();
    assert_eq!(
        countries,
        [
            serde_json::json!("DE"),
            serde_json::Value::Null,
            serde_json::json!("JP")
        ],
        "{list:#}"
    );
}

/// Runs Debian's jing on `doc` against RFC 5854's grammar; `Err` holds its complaints.
fn jing(doc: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.meta4");
    std::fs::write(&path, doc).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas/metalink4.rnc");
    let out = Command::new("jing")
        .arg("-c")
        .arg(schema)
        .arg(&path)
        .output()
        .expect("jing not found: install Debian's jing (deploy/test.sh does)");
    match out.status.success() {
        true => Ok(()),
        false => Err(String::from_utf8_lossy(&out.stdout).into_owned()),
    }
}

pub fn json_schema() -> jsonschema::Validator {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas/mirror-list.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

async fn documents_list_every_mirror_and_why(db: TestDb) {
    let loc = seed(
        &mut db.conn(),
        "/pub/:lang/Setup%20X%26Y.exe",
        &[
            ("a", "https://a.example/m", 100, true, true, true),
            ("eu", "https://eu.example/m", 10, true, true, true),
            ("plain", "http://plain.example/m", 50, true, true, true),
            ("sick", "https://sick.example/m", 90, true, true, false),
            ("off", "https://off.example/m", 90, false, true, true),
            ("gone", "https://gone.example/m", 90, true, false, true),
            ("zero", "https://zero.example/m", 0, true, true, true),
        ],
    );
    file(&mut db.conn(), loc, "de", 1234, ABC_HEX);
    {
        let c = &mut db.conn();
        let eu = region(c, "eu", 100, None, false);
        country(c, "DE", eu);
        let id = |c: &mut DbConnection, n: &str| {
            use bouncer_core::schema::mirror_mirrors::dsl::*;
            use diesel::prelude::*;
            mirror_mirrors
                .filter(name.eq(n))
                .select(id)
                .first::<i32>(c)
                .unwrap()
        };
        let m = id(c, "eu");
        member(c, m, eu);
        // What sentry records when a pair goes unhealthy.
        use bouncer_core::schema::mirror_location_mirror_map::dsl as map;
        use diesel::prelude::*;
        let sick = id(c, "sick");
        diesel::update(map::mirror_location_mirror_map.filter(map::mirror_id.eq(sick)))
            .set(map::reason.eq("size mismatch: 1000 bytes, expected 1234"))
            .execute(c)
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mmdb = dir.path().join("geo.mmdb");
    write_country_mmdb(&mmdb, &[("198.51.100.0/24", "DE")]);
    let mut cfg = config(&db);
    cfg.geoip.database = Some(mmdb);
    cfg.bounce.allow_ip_override = true;
    let base = spawn(cfg);
    let url = format!("{base}/?product=firefox-latest&os=win&lang=de");
    let get = |q: &str, accept: Option<&str>| {
        let mut r = client().get(format!("{url}{q}"));
        if let Some(a) = accept {
            r = r.header(ACCEPT, a);
        }
        r.send()
    };

    // Metalink: asked by the query or by Accept (aria2's default Accept names it).
    let r = get("&format=meta4", None).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/metalink4+xml");
    assert_eq!(r.headers()["vary"], "Accept");
    let meta4 = r.text().await.unwrap();
    jing(&meta4).unwrap_or_else(|e| panic!("not RFC 5854:\n{e}\n{meta4}"));
    assert!(
        meta4.contains("<file name=\"Setup X&amp;Y.exe\">"),
        "{meta4}"
    );
    assert!(meta4.contains("<size>1234</size>"));
    assert!(meta4.contains(&format!("<hash type=\"sha-256\">{ABC_HEX}</hash>")));
    let urls: Vec<&str> = meta4.lines().filter(|l| l.contains("<url ")).collect();
    assert_eq!(
        urls,
        [
            "    <url priority=\"1\">https://a.example/m/pub/de/Setup%20X%26Y.exe</url>",
            "    <url priority=\"2\">http://plain.example/m/pub/de/Setup%20X%26Y.exe</url>",
            "    <url priority=\"3\">https://eu.example/m/pub/de/Setup%20X%26Y.exe</url>",
        ],
        "{meta4}"
    );
    let accepted = get(
        "",
        Some("*/*, application/metalink4+xml, application/metalink+xml"),
    )
    .await
    .unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(accepted.text().await.unwrap(), meta4);
    // The validator is not a rubber stamp.
    assert!(jing(&meta4.replace("priority=\"1\"", "priority=\"0\"")).is_err());

    // JSON, for a client in DE (ip= override): its region's mirror first.
    let r = get("&format=json&ip=198.51.100.7", None).await.unwrap();
    assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    let list: serde_json::Value = r.json().await.unwrap();
    let schema = json_schema();
    if let Err(e) = schema.validate(&list) {
        panic!("not the documented schema: {e}\n{list:#}");
    }
    assert_eq!(list["client"]["country"], "DE");
    assert_eq!(list["client"]["family"], 4);
    assert!(
        list["decided_by"].as_str().unwrap().starts_with("region "),
        "{list:#}"
    );
    assert_eq!(list["file"]["name"], "Setup X&Y.exe");
    assert_eq!(list["file"]["size"], 1234);
    let why: Vec<(String, serde_json::Value, String)> = list["mirrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let host = m["url"]
                .as_str()
                .unwrap()
                .split('/')
                .nth(2)
                .unwrap()
                .to_owned();
            let excluded = m["excluded"].as_str().unwrap_or("").to_owned();
            (host, m["priority"].clone(), excluded)
        })
        .collect();
    let eligible: Vec<&str> = why
        .iter()
        .filter(|w| w.2.is_empty())
        .map(|w| w.0.as_str())
        .collect();
    assert_eq!(
        eligible,
        ["eu.example", "a.example", "plain.example"],
        "{why:?}"
    );
    let reason = |host: &str| {
        why.iter()
            .find(|w| w.0 == host)
            .map(|w| w.2.clone())
            .unwrap()
    };
    // The public list gives sentry's kind of reason, not its detail (that is tuxedo's),
    // and leaves inactive mirrors out altogether.
    assert_eq!(
        reason("sick.example"),
        "unhealthy for this file: size mismatch"
    );
    assert!(why.iter().all(|w| w.0 != "off.example"), "{why:?}");
    assert_eq!(reason("gone.example"), "file not on this mirror");
    assert!(reason("zero.example").starts_with("rating 0"), "{why:?}");
    assert!(
        schema
            .validate(&serde_json::json!({"file": {}, "client": {}, "mirrors": []}))
            .is_err(),
        "the schema is not a rubber stamp"
    );

    // HTML, with the same reasons, escaped; an https-only request also says why http is out.
    let r = get("&format=html&ip=198.51.100.7", Some("text/html"))
        .await
        .unwrap();
    assert_eq!(r.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let page = r.text().await.unwrap();
    assert!(page.contains("Mirrors for Setup X&amp;Y.exe"), "{page}");
    assert!(page.contains("country DE"), "{page}");
    assert!(!page.contains("off.example"), "{page}");
    for why in ["file not on this mirror", "unhealthy", "rating 0"] {
        assert!(page.contains(why), "{why}: {page}");
    }

    // A format nobody knows is the caller's mistake.
    let r = get("&format=torrent", None).await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.text().await.unwrap(),
        "invalid format \"torrent\": expected meta4, json or html\n"
    );
}

/// `aria2c` fetching `url` into `dir` (the Metalink comes back because aria2 asks for it
/// in `Accept`); returns (exit code, everything it printed).
async fn aria2c(url: String, dir: &Path, args: &[&str]) -> (i32, String) {
    let mut cmd = Command::new("aria2c");
    cmd.args([
        "--no-conf",
        "--console-log-level=warn",
        "--summary-interval=0",
    ])
    .args([
        "--follow-metalink=mem",
        "--allow-overwrite=true",
        "--auto-file-renaming=false",
    ])
    .args([
        "--max-tries=1",
        "--retry-wait=0",
        "--connect-timeout=5",
        "--timeout=10",
    ])
    .arg("-d")
    .arg(dir)
    .args(args)
    .arg(url);
    let out = tokio::task::spawn_blocking(move || {
        cmd.output()
            .expect("aria2c not found: install Debian's aria2 (deploy/test.sh does)")
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn sha256_hex(bytes: &[u8]) -> String {
    // sha256sum: the hash a release publishes, computed by a tool that is not ours.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    std::fs::write(&p, bytes).unwrap();
    let out = Command::new("sha256sum").arg(&p).output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_owned()
}

async fn aria2c_downloads_through_the_metalink(db: TestDb) {
    // 2 MiB of bytes that differ everywhere, so any corrupted piece shows.
    let good: Vec<u8> = (0..2u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut bad = good.clone();
    bad[(3 << 19) + 17] ^= 0x5a;
    let path = "/pub/de/payload.bin";
    let one = FakeMirror::start(41, Behaviour::Healthy).await;
    let two = FakeMirror::start(42, Behaviour::Healthy).await;
    one.serve_file(path, &good);
    two.serve_file(path, &good);
    let base_of = |m: &FakeMirror| m.base_url().trim_end_matches('/').to_owned();
    let loc = seed(
        &mut db.conn(),
        "/pub/:lang/payload.bin",
        &[
            ("one", &base_of(&one), 100, true, true, true),
            ("two", &base_of(&two), 50, true, true, true),
        ],
    );
    file(
        &mut db.conn(),
        loc,
        "de",
        good.len() as i64,
        &sha256_hex(&good),
    );
    let base = spawn(config(&db));
    let url = format!("{base}/?product=firefox-latest&os=win&lang=de");

    // Both mirrors, two connections: the file arrives whole and its sha-256 checks out.
    let dir = tempfile::tempdir().unwrap();
    let split = [
        "--split=2",
        "--max-connection-per-server=1",
        "--min-split-size=1M",
    ];
    let (code, out) = aria2c(url.clone(), dir.path(), &split).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read(dir.path().join("payload.bin")).unwrap(), good);
    let gets = |m: &FakeMirror| {
        m.requests()
            .iter()
            .filter(|r| r.starts_with("GET "))
            .count()
    };
    assert!(
        gets(&one) > 0 && gets(&two) > 0,
        "one source only: {:?} {:?}",
        one.requests(),
        two.requests()
    );

    // The preferred mirror serves corrupted bytes of the right length: aria2 says so and
    // fails, instead of handing over a broken installer.
    one.serve_file(path, &bad);
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = aria2c(url, dir.path(), &["--split=1", "--uri-selector=inorder"]).await;
    eprintln!("aria2c on a corrupted mirror said:\n{out}");
    assert_ne!(code, 0, "{out}");
    assert!(
        out.to_lowercase().contains("checksum"),
        "no clear message: {out}"
    );
}

/// A location path whose last segment decodes to a NUL, an ESC, a right-to-left override
/// and a `:` (issue 29, item 7): the Metalink stays valid XML, and aria2c downloads the
/// file under a name that shows what it is, with no NTFS stream and nothing invisible.
async fn aria2c_saves_a_safe_file_name(db: TestDb) {
    let body = b"installer bytes".to_vec();
    let path = "/pub/de/setup%00%1B%E2%80%AEtxt.exe%3AZone.Identifier";
    let mirror = FakeMirror::start(43, Behaviour::Healthy).await;
    mirror.serve_file(path, &body);
    let base_url = mirror.base_url().trim_end_matches('/').to_owned();
    let loc = seed(
        &mut db.conn(),
        "/pub/:lang/setup%00%1B%E2%80%AEtxt.exe%3AZone.Identifier",
        &[("one", &base_url, 100, true, true, true)],
    );
    file(
        &mut db.conn(),
        loc,
        "de",
        body.len() as i64,
        &sha256_hex(&body),
    );
    let base = spawn(config(&db));
    let url = format!("{base}/?product=firefox-latest&os=win&lang=de");
    let meta4 = text_of(&format!("{url}&format=meta4")).await;
    jing(&meta4).unwrap_or_else(|e| panic!("not RFC 5854:\n{e}\n{meta4:?}"));
    assert!(
        meta4.contains("<file name=\"setuptxt.exe_Zone.Identifier\">"),
        "{meta4:?}"
    );
    let list = json_of(&format!("{url}&format=json")).await;
    assert_eq!(list["file"]["name"], "setuptxt.exe_Zone.Identifier");

    let dir = tempfile::tempdir().unwrap();
    let (code, out) = aria2c(url, dir.path(), &["--split=1"]).await;
    assert_eq!(code, 0, "{out}");
    let saved: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(saved, ["setuptxt.exe_Zone.Identifier"], "{out}");
    assert_eq!(
        std::fs::read(dir.path().join("setuptxt.exe_Zone.Identifier")).unwrap(),
        body
    );
}

/// Mirror mode reads `Accept` as media ranges with weights (issue 29, item 11): `q=0`
/// refuses the Metalink, `application/jsonp` is not JSON, a browser gets the redirect, and
/// every answer `Accept` could have changed says `Vary: Accept` (the redirect and
/// `print=yes` too, which had no `Vary`).
async fn accept_is_negotiated(db: TestDb) {
    seed(
        &mut db.conn(),
        "/pub/:lang/setup.exe",
        &[("a", "https://a.example/m", 100, true, true, true)],
    );
    let base = spawn(config(&db));
    let url = format!("{base}/?product=firefox-latest&os=win&lang=de");
    let get = |accept: &'static str, q: &'static str| {
        let url = format!("{url}{q}");
        async move {
            let r = client()
                .get(url)
                .header(ACCEPT, accept)
                .send()
                .await
                .unwrap();
            let vary = r
                .headers()
                .get("vary")
                .map(|v| v.to_str().unwrap().to_owned());
            let kind = match r.headers()[CONTENT_TYPE].to_str().unwrap() {
                "application/metalink4+xml" => "meta4",
                "application/json" => "json",
                _ if r.status() == 302 => "redirect",
                other => panic!("{accept}: {} {other}", r.status()),
            };
            (kind, vary)
        }
    };
    let accept = Some("Accept".to_owned());
    for (asked, expected) in [
        ("application/metalink4+xml;q=0", "redirect"),
        ("application/metalink4+xml;q=0, */*", "redirect"),
        ("application/jsonp", "redirect"),
        ("application/json;q=0", "redirect"),
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "redirect",
        ),
        ("*/*, application/metalink4+xml", "meta4"),
        ("application/metalink4+xml;q=0, application/json", "json"),
        ("application/json, text/html;q=0.5", "json"),
    ] {
        assert_eq!(get(asked, "").await, (expected, accept.clone()), "{asked}");
    }
    let r = client()
        .get(format!("{url}&print=yes"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["vary"], "Accept", "print=yes too");
    assert_eq!(get("application/json", "&print=yes").await.0, "json");
}
