//! The XML API, endpoint by endpoint and error by error, on MariaDB and SQLite.

use crate::common::*;
use bouncer_test_support::{db_tests, TestDb};

db_tests! {
    products => products,
    languages => languages,
    locations => locations,
    aliases => aliases,
    uptake_and_mirrors => uptake_and_mirrors,
    uptake_in_cdn_mode => uptake_in_cdn_mode,
    transport => transport,
    every_field_at_and_past_its_limit => every_field_at_and_past_its_limit,
    bodies_are_read_after_auth_and_in_bounded_time => bodies_after_auth_in_bounded_time,
    drop_in_details => drop_in_details,
    location_files => location_files,
}

/// The ids in a `<locations>` answer, in document order.
fn location_ids(body: &str) -> Vec<String> {
    body.split("location id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_owned())
        .collect()
}

/// The id of the location on `os` in a `<locations>` answer.
fn location_on(body: &str, os: &str) -> String {
    let at = body.find(&format!("\" os=\"{os}\">")).unwrap();
    body[..at].rsplit('"').next().unwrap().to_owned()
}

/// The optional file parameters of `location_add` / `location_modify` (`size`, `sha256`,
/// `sha512`, `lang`): stored with the location in one transaction and shown by the JSON
/// API; a bad value is a 400 naming the parameter and writes nothing (no location added,
/// no path moved); the answer is the same document as without them.
fn location_files(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        t.post(
            "product_add",
            &[("product", "Firefox-3.0"), ("languages", "de")],
        )
        .await;
        let loc = |os: &'static str, path: &'static str| {
            vec![("product", "Firefox-3.0"), ("os", os), ("path", path)]
        };
        fn with<'a>(
            mut base: Vec<(&'a str, &'a str)>,
            more: &[(&'a str, &'a str)],
        ) -> Vec<(&'a str, &'a str)> {
            base.extend_from_slice(more);
            base
        }
        let files = |id: &str| format!("/locations/{id}/files");
        let sha256 = "AB".repeat(32);
        let sha512 = "cd".repeat(64);

        // With a size and a hash: the usual answer, and the file is stored.
        let (s, body) = t
            .post(
                "location_add",
                &with(
                    loc("win", "/f/3/win/setup.exe"),
                    &[("size", "123"), ("sha256", &sha256)],
                ),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        let win = location_on(&body, "win");
        assert_eq!(
            t.get("location_show", &[("product", "Firefox-3.0")]).await,
            (200, body)
        );
        let (s, f) = t.as_(READER, "GET", &files(&win), None).await;
        assert_eq!(s, 200, "{f}");
        assert_eq!(
            f,
            serde_json::json!([{"lang": "", "size": 123, "sha256": "ab".repeat(32),
                "sha512": null, "etag": null, "last_modified": null, "source": "operator"}])
        );
        assert_eq!(last_audit(&mut conn).1, "file.set");

        // Bad values: 400 with the parameter named, and nothing written.
        let before = audit_count(&mut conn);
        let too_long = format!("{sha512}0");
        let bad: Vec<(Vec<(&str, &str)>, String)> = vec![
            (
                vec![("sha256", "zz")],
                xml_error(100, "Invalid sha256: must be 64 hexadecimal digits"),
            ),
            (
                vec![("size", "-5")],
                xml_error(100, "Invalid size: must not be negative"),
            ),
            (
                vec![("size", "12kB")],
                xml_error(
                    100,
                    "Invalid size: &quot;12kB&quot; is not a whole number of bytes",
                ),
            ),
            (
                vec![("size", "1"), ("sha512", &too_long)],
                xml_error(100, "Invalid sha512: must be 128 hexadecimal digits"),
            ),
            (
                vec![("size", "1"), ("lang", "de")],
                xml_error(100, "Invalid lang: the path has no :lang: one file for all"),
            ),
        ];
        for (params, answer) in &bad {
            let add = with(loc("linux", "/f/3/linux/f.tar.bz2"), params);
            assert_eq!(
                t.post("location_add", &add).await,
                (400, answer.clone()),
                "{params:?}"
            );
            let modify = with(loc("win", "/f/3/win/moved.exe"), params);
            assert_eq!(
                t.post("location_modify", &modify).await,
                (400, answer.clone()),
                "{params:?}"
            );
        }
        // A :lang path needs the language (of the product's files) the values are for.
        let (s, body) = t
            .post(
                "location_add",
                &with(loc("osx", "/f/3/:lang/f.dmg"), &[("size", "1")]),
            )
            .await;
        assert_eq!(
            (s, body),
            (
                400,
                xml_error(100, "Invalid lang: required: the path holds :lang")
            )
        );
        let (_, shown) = t.get("location_show", &[("product", "Firefox-3.0")]).await;
        assert_eq!(
            location_ids(&shown),
            std::slice::from_ref(&win),
            "no location was added: {shown}"
        );
        assert!(
            shown.contains("/f/3/win/setup.exe"),
            "the path was not moved: {shown}"
        );
        assert_eq!(audit_count(&mut conn), before, "a refused call wrote");
        let (_, f) = t.as_(READER, "GET", &files(&win), None).await;
        assert_eq!(f[0]["size"], 123);

        // Per language; and location_modify states the file anew (what is not given is
        // no longer known).
        let (s, body) = t
            .post(
                "location_add",
                &with(
                    loc("osx", "/f/3/:lang/f.dmg"),
                    &[("lang", "de"), ("sha512", &sha512)],
                ),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        let osx = location_on(&body, "osx");
        let (_, f) = t.as_(READER, "GET", &files(&osx), None).await;
        assert_eq!(
            (f[0]["lang"].as_str(), f[0]["sha512"].as_str()),
            (Some("de"), Some(sha512.as_str()))
        );
        let (s, body) = t
            .post(
                "location_modify",
                &with(loc("WIN", "/f/3/win/moved.exe"), &[("size", "456")]),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        assert!(body.contains("/f/3/win/moved.exe"), "{body}");
        let (_, f) = t.as_(READER, "GET", &files(&win), None).await;
        assert_eq!(
            (f[0]["size"].as_i64(), &f[0]["sha256"]),
            (Some(456), &serde_json::Value::Null)
        );

        // Without them (and with a lone `lang`, which old clients never meant): the call
        // of old, answered byte for byte as location_show shows it, no file stored.
        let (s, body) = t
            .post(
                "location_add",
                &with(
                    loc("linux", "/f/3/linux/f.tar.bz2"),
                    &[("lang", "de"), ("size", "")],
                ),
            )
            .await;
        assert_eq!(
            (s, &body),
            (
                200,
                &t.get("location_show", &[("product", "Firefox-3.0")])
                    .await
                    .1
            )
        );
        let linux = location_on(&body, "linux");
        assert_eq!(
            t.as_(READER, "GET", &files(&linux), None).await,
            (200, serde_json::json!([]))
        );
        assert_eq!(last_audit(&mut conn).1, "location.add");
    });
}

/// Every string parameter of the XML API's writes at its column's width and one past it:
/// accepted at the width, a clear 4xx error past it, never a 500.
fn every_field_at_and_past_its_limit(db: &TestDb) {
    use bouncer_core::limits::*;
    block_on(async {
        let t = start(db, |_| {});
        assert_eq!(t.post("product_add", &[("product", "base")]).await.0, 200);
        let word = |n: usize| -> String { std::iter::repeat_n('é', n).collect() };
        type Case = (&'static str, usize, fn(&str) -> Vec<(&'static str, String)>);
        let cases: Vec<Case> = vec![
            ("product_add", PRODUCT_NAME, |v| vec![("product", v.into())]),
            ("product_add", LANGUAGE, |v| {
                vec![
                    ("product", format!("p{}", v.len())),
                    ("languages", v.replace('é', "a")),
                ]
            }),
            ("product_language_add", LANGUAGE, |v| {
                vec![
                    ("product", "base".into()),
                    ("languages", v.replace('é', "b")),
                ]
            }),
            ("location_add", LOCATION_PATH, |v| {
                vec![
                    ("product", "base".into()),
                    ("os", "win".into()),
                    (
                        "path",
                        format!("/{}", v.chars().skip(1).collect::<String>()),
                    ),
                ]
            }),
            ("create_update_alias", ALIAS, |v| {
                vec![("alias", v.into()), ("related_product", "base".into())]
            }),
            ("create_update_alias", PRODUCT_NAME, |v| {
                vec![("alias", "a".into()), ("related_product", v.into())]
            }),
        ];
        for (cmd, limit, form) in cases {
            let at = form(&word(limit));
            let at: Vec<(&str, &str)> = at.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (s, body) = t.post(cmd, &at).await;
            assert!(s < 500, "{cmd} at {limit}: {s} {body}");
            let past = form(&word(limit + 1));
            let past: Vec<(&str, &str)> = past.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (s, body) = t.post(cmd, &past).await;
            assert!((400..500).contains(&s), "{cmd} past {limit}: {s} {body}");
        }
    });
}

fn products(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        assert_eq!(
            t.get("product_show", &[("product", "Firefox-1.0")]).await,
            (200, format!("{DECL}<products/>"))
        );
        let (status, body) = t
            .post(
                "product_add",
                &[
                    ("product", "Firefox-1.0"),
                    ("languages", "fr"),
                    ("languages", "de"),
                    ("ssl_only", "TRUE"),
                ],
            )
            .await;
        assert_eq!(status, 200);
        let id = body
            .split("id=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let shown = format!(
            "{DECL}<products><product id=\"{id}\" name=\"Firefox-1.0\"><language locale=\"de\"/>\
             <language locale=\"fr\"/></product></products>"
        );
        assert_eq!(body, shown);
        // Exact match is case-insensitive; the stored spelling is returned.
        assert_eq!(
            t.get("product_show", &[("product", "firefox-1.0")]).await,
            (200, shown)
        );
        assert_eq!(
            t.post("product_add", &[("product", "FIREFOX-1.0")]).await,
            (400, xml_error(104, "product already exists."))
        );
        for empty in [&[("product", "  ")][..], &[]] {
            assert_eq!(
                t.post("product_add", empty).await,
                (400, xml_error(103, "Cannot add an empty product name"))
            );
        }
        // Without any parameter: an empty list, as the old admin answered; `fuzzy`
        // without `product` is a mistake (the old admin answered 500).
        assert_eq!(
            t.get("product_show", &[]).await,
            (200, format!("{DECL}<products/>"))
        );
        assert_eq!(
            t.get("product_show", &[("fuzzy", "true")]).await,
            (400, xml_error(101, "product is required."))
        );
        // Fuzzy: substring, case-insensitive, with LIKE wildcards taken literally.
        t.post("product_add", &[("product", "x_y")]).await;
        t.post("product_add", &[("product", "xzy & <b>")]).await;
        let (_, body) = t
            .get("product_show", &[("product", "_"), ("fuzzy", "True")])
            .await;
        assert!(
            body.contains("name=\"x_y\"") && !body.contains("xzy"),
            "{body}"
        );
        let (_, body) = t
            .get("product_show", &[("product", "Y"), ("fuzzy", "1")])
            .await;
        let x_y = body.find("x_y").unwrap();
        let xzy = body.find("name=\"xzy &amp; &lt;b&gt;\"").unwrap();
        assert!(x_y < xzy, "sorted by name: {body}");
        assert!(!body.contains("Firefox"));
        // Deleting.
        assert_eq!(
            t.post("product_delete", &[]).await,
            (
                400,
                xml_error(101, "Either product_id or product is required.")
            )
        );
        for bad in ["999999", "abc"] {
            assert_eq!(
                t.post("product_delete", &[("product_id", bad)]).await,
                (400, xml_error(102, "No product found."))
            );
        }
        assert_eq!(
            t.post("product_delete", &[("product", "nope")]).await,
            (400, xml_error(102, "No product found."))
        );
        assert_eq!(
            t.post("product_delete", &[("product_id", id.as_str())])
                .await,
            (200, xml_success("SUCCESS: product has been deleted"))
        );
        assert_eq!(
            t.post("product_delete", &[("product", "X_Y")]).await,
            (200, xml_success("SUCCESS: product has been deleted"))
        );
        let (_, body) = t
            .get("product_show", &[("product", "x"), ("fuzzy", "true")])
            .await;
        assert!(!body.contains("x_y") && !body.contains("Firefox") && body.contains("xzy"));
    });
}

fn languages(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        t.post("product_add", &[("product", "P"), ("languages", "fr")])
            .await;
        assert_eq!(
            t.post("product_language_add", &[("languages", "de")]).await,
            (400, xml_error(101, "Product name is required."))
        );
        assert_eq!(
            t.post(
                "product_language_add",
                &[("product", "Q"), ("languages", "de")]
            )
            .await,
            (400, xml_error(102, "Product not found."))
        );
        // All or nothing: "de" would be new, "FR" exists, so neither is added.
        assert_eq!(
            t.post(
                "product_language_add",
                &[("product", "P"), ("languages", "de"), ("languages", "FR")]
            )
            .await,
            (400, xml_error(104, "Language(s) already exist(s)"))
        );
        let (_, body) = t.get("product_show", &[("product", "P")]).await;
        assert!(!body.contains("\"de\""), "{body}");
        let (status, body) = t
            .post(
                "product_language_add",
                &[("product", "p"), ("languages", "ja"), ("languages", "de")],
            )
            .await;
        assert_eq!(status, 200);
        assert!(body.ends_with(
            "<language locale=\"de\"/><language locale=\"fr\"/><language locale=\"ja\"/></product></products>"
        ), "{body}");
        assert_eq!(
            t.post("product_language_delete", &[("languages", "de")])
                .await,
            (400, xml_error(101, "Product name is required."))
        );
        assert_eq!(
            t.post(
                "product_language_delete",
                &[("product", "Q"), ("languages", "de")]
            )
            .await,
            (400, xml_error(102, "Product not found."))
        );
        let deleted = (200, xml_success("SUCCESS: language has been deleted"));
        assert_eq!(
            t.post(
                "product_language_delete",
                &[("product", "P"), ("languages", "de")]
            )
            .await,
            deleted
        );
        let (_, body) = t.get("product_show", &[("product", "P")]).await;
        assert!(
            !body.contains("\"de\"") && body.contains("\"ja\""),
            "{body}"
        );
        assert_eq!(
            t.post(
                "product_language_delete",
                &[("product", "P"), ("languages", "*")]
            )
            .await,
            deleted
        );
        let (_, body) = t.get("product_show", &[("product", "P")]).await;
        assert!(body.ends_with("name=\"P\"/></products>"), "{body}");
    });
}

fn locations(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        t.post("product_add", &[("product", "Firefox-2.0")]).await;
        assert_eq!(
            t.get("location_show", &[]).await,
            (400, xml_error(103, "The GET parameter product is required"))
        );
        assert_eq!(
            t.get("location_show", &[("product", "Firefox-2.0")]).await,
            (200, format!("{DECL}<locations/>"))
        );
        let required = (
            400,
            xml_error(101, "product, os, and path are required POST parameters."),
        );
        for cmd in ["location_add", "location_modify"] {
            assert_eq!(
                t.post(cmd, &[("product", "Firefox-2.0"), ("os", "win")])
                    .await,
                required
            );
            assert_eq!(
                t.post(cmd, &[("product", "Nope"), ("os", "win"), ("path", "/a")])
                    .await,
                (400, xml_error(105, "FAILED: 'Nope' does not exist"))
            );
            assert_eq!(
                t.post(
                    cmd,
                    &[("product", "Firefox-2.0"), ("os", "beos"), ("path", "/a")]
                )
                .await,
                (400, xml_error(106, "FAILED: 'beos' does not exist"))
            );
        }
        assert_eq!(
            t.post(
                "location_modify",
                &[("product", "Firefox-2.0"), ("os", "linux"), ("path", "/x")]
            )
            .await,
            (
                400,
                xml_error(
                    104,
                    "FAILED: location 'Firefox-2.0' on OS 'linux' does not exist"
                )
            )
        );
        let (status, linux) = t
            .post(
                "location_add",
                &[
                    ("product", "Firefox-2.0"),
                    ("os", "linux"),
                    ("path", "/f/2.0/linux/:lang/f.tar.bz2"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{linux}");
        let (status, both) = t
            .post(
                "location_add",
                &[
                    ("product", "Firefox-2.0"),
                    ("os", "win"),
                    ("path", "/f/2.0/win/:lang/F & \"S\".exe"),
                ],
            )
            .await;
        assert_eq!(status, 200);
        let ids: Vec<&str> = both
            .split("location id=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap())
            .collect();
        let pid = both
            .split("product id=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        // Ordered by os id: win (seeded first) before linux, whatever the insertion order.
        let expected = format!(
            "{DECL}<locations><product id=\"{pid}\" name=\"Firefox-2.0\">\
             <location id=\"{}\" os=\"win\">/f/2.0/win/:lang/F &amp; &quot;S&quot;.exe</location>\
             <location id=\"{}\" os=\"linux\">/f/2.0/linux/:lang/f.tar.bz2</location></product></locations>",
            ids[0], ids[1]
        );
        assert_eq!(both, expected);
        assert!(linux.contains(&format!("location id=\"{}\"", ids[1])));
        assert_eq!(
            t.get("location_show", &[("product", "firefox-2.0")]).await,
            (200, expected)
        );
        assert_eq!(
            t.post(
                "location_add",
                &[
                    ("product", "Firefox-2.0"),
                    ("os", "LINUX"),
                    ("path", "/other")
                ]
            )
            .await,
            (
                400,
                xml_error(104, "The specified location already exists.")
            )
        );
        let (status, body) = t
            .post(
                "location_modify",
                &[
                    ("product", "Firefox-2.0"),
                    ("os", "linux"),
                    ("path", "/nightly/2"),
                ],
            )
            .await;
        assert_eq!(status, 200);
        assert!(body.contains(&format!(
            "<location id=\"{}\" os=\"linux\">/nightly/2</location>",
            ids[1]
        )));
        assert_eq!(
            t.post(
                "location_add",
                &[
                    ("product", "Firefox-2.0"),
                    ("os", "osx"),
                    ("path", "no-slash")
                ]
            )
            .await,
            (400, xml_error(100, "Invalid path: must start with /"))
        );
        // Deleting.
        assert_eq!(
            t.post("location_delete", &[]).await,
            (400, xml_error(101, "location_id is required."))
        );
        for bad in ["999999", "x"] {
            assert_eq!(
                t.post("location_delete", &[("location_id", bad)]).await,
                (400, xml_error(102, "No location found."))
            );
        }
        assert_eq!(
            t.post("location_delete", &[("location_id", ids[0])]).await,
            (200, xml_success("SUCCESS: location has been deleted"))
        );
        let (_, body) = t
            .get(
                "location_show",
                &[("product", "Firefox"), ("fuzzy", "true")],
            )
            .await;
        assert!(
            !body.contains("os=\"win\"") && body.contains("os=\"linux\""),
            "{body}"
        );
    });
}

fn aliases(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        t.post("product_add", &[("product", "Firefox-3.0")]).await;
        t.post("product_add", &[("product", "Firefox-3.1")]).await;
        assert_eq!(
            t.post("create_update_alias", &[("related_product", "Firefox-3.0")])
                .await,
            (400, xml_error(102, "Alias name not provided"))
        );
        assert_eq!(
            t.post("create_update_alias", &[("alias", "firefox-latest")])
                .await,
            (400, xml_error(103, "Related product name not provided"))
        );
        assert_eq!(
            t.post(
                "create_update_alias",
                &[("alias", "firefox-latest"), ("related_product", "Nope")]
            )
            .await,
            (
                400,
                xml_error(
                    103,
                    "You must specify a valid product to match with an alias"
                )
            )
        );
        assert_eq!(
            t.post(
                "create_update_alias",
                &[("alias", "FIREFOX-3.1"), ("related_product", "Firefox-3.0")]
            )
            .await,
            (
                400,
                xml_error(
                    104,
                    "You cannot create an alias with the same name as a product"
                )
            )
        );
        let ok = (200, xml_success("Created/updated alias firefox-latest"));
        for target in ["Firefox-3.0", "firefox-3.1", "Firefox-3.1"] {
            assert_eq!(
                t.post(
                    "create_update_alias",
                    &[("alias", "firefox-latest"), ("related_product", target)]
                )
                .await,
                ok
            );
        }
        let mut conn = db.conn();
        let all = tuxedo::catalogue::aliases::list(&mut conn).unwrap();
        assert_eq!(all.len(), 1);
        // Stored with the product's own spelling, so bounce's lookup matches exactly.
        assert_eq!(all[0].related_product, "Firefox-3.1");
    });
}

fn uptake_and_mirrors(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let a = add_mirror(&mut conn, "a-mirror", 100, true);
        let b = add_mirror(&mut conn, "b-mirror", 30, true);
        let c = add_mirror(&mut conn, "c-inactive", 1000, false);
        t.post("product_add", &[("product", "Thunderbird-1")]).await;
        t.post(
            "location_add",
            &[("product", "Thunderbird-1"), ("os", "win"), ("path", "/w")],
        )
        .await;
        t.post(
            "location_add",
            &[
                ("product", "Thunderbird-1"),
                ("os", "linux"),
                ("path", "/l"),
            ],
        )
        .await;
        let (_, body) = t
            .get("location_show", &[("product", "Thunderbird-1")])
            .await;
        let ids: Vec<i32> = body
            .split("location id=\"")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().parse().unwrap())
            .collect();
        let item = |os: &str, available: i64| {
            format!("<item><product>Thunderbird-1</product><os>{os}</os><available>{available}</available><total>130</total></item>")
        };
        // New locations are not yet served by any mirror.
        assert_eq!(
            t.get("uptake", &[("product", "Thunderbird-1")]).await,
            (
                200,
                format!(
                    "{DECL}<mirror_uptake>{}{}</mirror_uptake>",
                    item("win", 0),
                    item("linux", 0)
                )
            )
        );
        set_map(&mut conn, ids[0], a, true, true);
        set_map(&mut conn, ids[0], b, true, false); // unhealthy: not counted
        set_map(&mut conn, ids[0], c, true, true); // inactive mirror: not counted
        set_map(&mut conn, ids[1], b, true, true);
        set_map(&mut conn, ids[1], a, false, true); // inactive row: not counted
        assert_eq!(
            t.get("uptake", &[("product", "thunderbird"), ("fuzzy", "true")])
                .await,
            (
                200,
                format!(
                    "{DECL}<mirror_uptake>{}{}</mirror_uptake>",
                    item("win", 100),
                    item("linux", 30)
                )
            )
        );
        assert_eq!(
            t.get("uptake", &[("os", "linux")]).await,
            (
                200,
                format!("{DECL}<mirror_uptake>{}</mirror_uptake>", item("linux", 30))
            )
        );
        assert_eq!(
            t.get("uptake", &[("product", "Thunderbird-1"), ("os", "win")])
                .await,
            (
                200,
                format!("{DECL}<mirror_uptake>{}</mirror_uptake>", item("win", 100))
            )
        );
        assert_eq!(
            t.get("uptake", &[]).await,
            (
                400,
                xml_error(101, "product and/or os are required GET parameters.")
            )
        );
        assert_eq!(
            t.get("uptake", &[("product", "Nope")]).await,
            (400, xml_error(102, "No products found"))
        );
        assert_eq!(
            t.get("uptake", &[("os", "beos")]).await,
            (400, xml_error(102, "No OSes found"))
        );
        assert_eq!(
            t.get("uptake", &[("os", "osx")]).await,
            (200, format!("{DECL}<mirror_uptake/>"))
        );
        assert_eq!(
            t.get("mirror_list", &[]).await,
            (
                200,
                format!(
                    "{DECL}<mirrors><mirror baseurl=\"https://a-mirror.example/pub\"/>\
                 <mirror baseurl=\"https://b-mirror.example/pub\"/></mirrors>"
                )
            )
        );
    });
}

fn transport(db: &TestDb) {
    block_on(async {
        let t = start(db, |c| c.tuxedo.max_body_bytes = 1024);
        let r = t
            .client
            .get(format!("{}/api/product_show/?product=x", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
        assert_eq!(r.text().await.unwrap(), format!("{DECL}<products/>"));
        let (status, _) = t.post("product_add/", &[("product", "Slash")]).await;
        assert_eq!(status, 200);
        // Wrong method on either form.
        let r = t.client.get(t.url("product_add")).send().await.unwrap();
        assert_eq!(r.status(), 405);
        let r = t
            .client
            .post(format!("{}/api/product_show/", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405);
        // Over the body limit: 413 with error 101, and nothing written.
        let big = "l".repeat(2000);
        let (status, body) = t
            .post(
                "product_add",
                &[("product", "Big"), ("languages", big.as_str())],
            )
            .await;
        assert_eq!(
            (status, body),
            (413, xml_error(101, "POST request length exceeded 1KB"))
        );
        assert_eq!(
            t.get("product_show", &[("product", "Big")]).await.1,
            format!("{DECL}<products/>")
        );
        // Values too long for the schema are a 4xx, never a 500.
        let long = "p".repeat(300);
        let (status, body) = t.post("product_add", &[("product", long.as_str())]).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body.contains("<error number=\"100\">Invalid product: longer than 255"),
            "{body}"
        );
        // Metrics count calls by endpoint and status.
        let metrics = t.metrics().await;
        assert!(
            metrics.contains(r#"tuxedo_api_requests_total{endpoint="product_add",status="413"} 1"#),
            "{metrics}"
        );
        assert!(
            metrics.contains(r#"tuxedo_api_requests_total{endpoint="product_add",status="405"} 1"#),
            "{metrics}"
        );
    });
}

/// Languages are language codes on every write path (spec part C): `*`, `%` or a bad
/// escape are refused with a reason instead of being stored, after which the product would
/// answer 404 for every real language.
#[test]
fn junk_languages_are_refused() {
    let db = TestDb::sqlite();
    block_on(async {
        let t = start(&db, |_| {});
        for junk in ["*", "%", "\u{fffd}", "en US", "de/.."] {
            let (s, body) = t
                .post("product_add", &[("product", "p"), ("languages", junk)])
                .await;
            assert!((400..500).contains(&s), "{junk:?}: {s} {body}");
            assert!(body.contains("not a language code"), "{body}");
        }
        assert_eq!(t.post("product_add", &[("product", "p")]).await.0, 200);
        let (s, body) = t
            .post(
                "product_language_add",
                &[("product", "p"), ("languages", "*")],
            )
            .await;
        assert!((400..500).contains(&s), "{s} {body}");
        let (s, r) = t
            .as_(
                ADMIN,
                "POST",
                "/products",
                Some(serde_json::json!({"name": "q", "languages": ["%"]})),
            )
            .await;
        assert_eq!(s, 422, "{r}");
        assert_eq!(
            t.post(
                "product_language_add",
                &[("product", "p"), ("languages", "multi")]
            )
            .await
            .0,
            200,
            "real codes pass"
        );
    });
}

/// Two release tasks racing: identical writes at the same moment get clean answers (one
/// success, the rest "already exists" or an unchanged success), never a 500 from a
/// deadlock or a duplicate key.
#[test]
fn concurrent_identical_writes_get_clean_answers() {
    let db = TestDb::mysql();
    block_on(async {
        let t = start(&db, |_| {});
        assert_eq!(t.post("product_add", &[("product", "base")]).await.0, 200);
        for round in 0..15 {
            let product = format!("p{round}");
            assert_eq!(t.post("product_add", &[("product", &product)]).await.0, 200);
            let alias = format!("a{round}");
            let lf = [
                ("product", product.as_str()),
                ("os", "win"),
                ("path", "/x/:lang/f.exe"),
            ];
            let af = [
                ("alias", alias.as_str()),
                ("related_product", product.as_str()),
            ];
            let locations = (0..6).map(|_| t.post("location_add", &lf));
            let aliases = (0..6).map(|_| t.post("create_update_alias", &af));
            let (l, a) = futures_util::future::join(
                futures_util::future::join_all(locations),
                futures_util::future::join_all(aliases),
            )
            .await;
            for (s, body) in l.iter().chain(&a) {
                assert!(*s < 500, "round {round}: {s} {body}");
            }
            assert_eq!(l.iter().filter(|(s, _)| *s == 200).count(), 1, "{l:?}");
            assert!(a.iter().all(|(s, _)| *s == 200), "{a:?}");
        }
    });
}

/// Sends `head` and `body_start` on a fresh connection and never the rest of the body;
/// returns what the server answered and whether it then closed the connection, both
/// within a deadline (a server that waits for the body fails the deadline).
async fn trickle(base: &str, head: &str, body_start: &str) -> (String, bool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(format!("{head}\r\n{body_start}").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        conn.read_to_end(&mut answer),
    )
    .await;
    (String::from_utf8_lossy(&answer).into_owned(), read.is_ok())
}

/// Issue 13, item 9: credentials are checked from the headers before the body is read (an
/// unauthenticated write gets 401 at once, however slowly its body comes), and a body that
/// does not arrive within `tuxedo.body_timeout_ms` is answered 408; either way the
/// connection is closed, so trickling clients do not hold connections open.
fn bodies_after_auth_in_bounded_time(db: &TestDb) {
    block_on(async {
        let t = start(db, |c| c.tuxedo.body_timeout_ms = 300);
        let host = t.base.trim_start_matches("http://").to_owned();
        let form = "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000";
        let (answer, closed) = trickle(
            &t.base,
            &format!("POST /api/product_add HTTP/1.1\r\nHost: {host}\r\n{form}\r\n"),
            "product=Slow",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        assert!(closed, "the connection stayed open");
        let bad = "Authorization: Basic cmVsZW5nOndyb25n"; // releng:wrong
        let (answer, closed) = trickle(
            &t.base,
            &format!("POST /api/product_add HTTP/1.1\r\nHost: {host}\r\n{bad}\r\n{form}\r\n"),
            "product=Slow",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        assert!(closed);
        // With the right credentials the body gets its deadline, then 408.
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", RELEASE.0, RELEASE.1));
        let auth = format!("Authorization: Basic {auth}");
        let (answer, closed) = trickle(
            &t.base,
            &format!("POST /api/product_add HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n{form}\r\n"),
            "product=Slow",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(closed);
        // The JSON API bounds its bodies the same way.
        let json = "Content-Type: application/json\r\nContent-Length: 100000";
        let (answer, closed) = trickle(
            &t.base,
            &format!("POST /api/v2/products HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n{json}\r\n"),
            "{\"name\": \"Slow\"",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("request_timeout"), "{answer}");
        assert!(closed);
        assert_eq!(
            t.get("product_show", &[("product", "Slow")]).await.1,
            format!("{DECL}<products/>")
        );
        // A body that does arrive in time is served as always.
        assert_eq!(t.post("product_add", &[("product", "Fast")]).await.0, 200);
    });
}

/// Issue 13, item 10: what a monitor or a release engineer notices of the old admin.
fn drop_in_details(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        // The root of the API, which monitors probe.
        let r = t
            .client
            .get(format!("{}/api/", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
        assert_eq!(r.text().await.unwrap(), "Nazgul API");
        let r = t
            .client
            .head(format!("{}/api/", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "");
        // HEAD on every read answers like GET, without the body.
        t.post("product_add", &[("product", "Headed")]).await;
        for (cmd, query) in [
            ("product_show", "product=Headed"),
            ("location_show", "product=Headed"),
            ("uptake", "product=Headed"),
            ("mirror_list", ""),
            ("product_show/", ""),
        ] {
            let url = format!("{}/api/{cmd}?{query}", t.base);
            let get = t.client.get(&url).send().await.unwrap();
            let (status, ct) = (get.status(), get.headers()["content-type"].clone());
            let len = get.text().await.unwrap().len();
            let head = t.client.head(&url).send().await.unwrap();
            assert_eq!(
                (head.status(), &head.headers()["content-type"]),
                (status, &ct),
                "{cmd}"
            );
            if let Some(l) = head.headers().get("content-length") {
                assert_eq!(l.to_str().unwrap(), len.to_string(), "{cmd}");
            }
            assert_eq!(head.text().await.unwrap(), "", "{cmd}");
        }
        // Writes still refuse HEAD.
        let r = t.client.head(t.url("product_add")).send().await.unwrap();
        assert_eq!(r.status(), 405);
        let r = t.client.post(t.url("product_show")).send().await.unwrap();
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "GET, HEAD");
    });
}

/// CDN mode (pinned base URLs, no mirrors: how production runs): uptake is the pinned
/// CDN's capacity as sentry found it — `bounce.pinned_rating` in proportion to the schemes
/// a location's users may be sent over (https only for an ssl_only product) on which it is
/// healthy at today's pin; results for an earlier pin do not count. With mirrors beside it,
/// both count.
fn uptake_in_cdn_mode(db: &TestDb) {
    use bouncer_core::schema::bouncer_cdn_health as cdn;
    use diesel::prelude::*;
    block_on(async {
        let t = start(db, |c| {
            c.bounce.pinned_http = Some("cdn.example/pub".into());
            c.bounce.pinned_https = Some("cdn.example/pub".into());
            c.bounce.pinned_rating = 1000;
        });
        let mut conn = db.conn();
        for (product, ssl) in [("Firefox-1", "false"), ("Firefox-1-SSL", "true")] {
            t.post("product_add", &[("product", product), ("ssl_only", ssl)])
                .await;
            t.post(
                "location_add",
                &[("product", product), ("os", "win"), ("path", "/w")],
            )
            .await;
            t.post(
                "location_add",
                &[("product", product), ("os", "linux"), ("path", "/l")],
            )
            .await;
        }
        let loc = |product: &str, os: &str| -> i32 {
            use bouncer_core::schema::{
                mirror_locations as l, mirror_os as o, mirror_products as p,
            };
            l::table
                .inner_join(p::table)
                .inner_join(o::table)
                .filter(p::name.eq(product))
                .filter(o::name.eq(os))
                .select(l::id)
                .first(&mut *db.conn())
                .unwrap()
        };
        let checked = |location: i32, scheme: &str, base: &str, healthy: bool| {
            diesel::insert_into(cdn::table)
                .values((
                    cdn::location_id.eq(location),
                    cdn::scheme.eq(scheme),
                    cdn::base_url.eq(base),
                    cdn::active.eq(true),
                    cdn::healthy.eq(healthy),
                    cdn::reason.eq(if healthy { "OK" } else { "HTTP 503" }),
                    cdn::checked_at.eq(chrono::Utc::now().naive_utc()),
                ))
                .execute(&mut *db.conn())
                .unwrap();
        };
        let uptake = |product: &'static str| {
            let t = &t;
            async move { t.get("uptake", &[("product", product)]).await }
        };
        let item = |product: &str, os: &str, available: i64, total: i64| {
            format!("<item><product>{product}</product><os>{os}</os><available>{available}</available><total>{total}</total></item>")
        };
        let answer = |items: [String; 2]| {
            (
                200,
                format!(
                    "{DECL}<mirror_uptake>{}{}</mirror_uptake>",
                    items[0], items[1]
                ),
            )
        };
        // Nothing checked yet: 0 of the CDN's 1000, not 0/0.
        assert_eq!(
            uptake("Firefox-1").await,
            answer([
                item("Firefox-1", "win", 0, 1000),
                item("Firefox-1", "linux", 0, 1000)
            ])
        );
        // win: healthy over both schemes; linux: http only, and https healthy only at an old pin.
        checked(
            loc("Firefox-1", "win"),
            "http",
            "http://cdn.example/pub",
            true,
        );
        checked(
            loc("Firefox-1", "win"),
            "https",
            "https://cdn.example/pub",
            true,
        );
        checked(
            loc("Firefox-1", "linux"),
            "http",
            "http://cdn.example/pub",
            true,
        );
        checked(
            loc("Firefox-1", "linux"),
            "https",
            "https://old-cdn.example",
            true,
        );
        assert_eq!(
            uptake("Firefox-1").await,
            answer([
                item("Firefox-1", "win", 1000, 1000),
                item("Firefox-1", "linux", 500, 1000)
            ])
        );
        // An ssl_only product is only ever sent over https: http alone counts nothing.
        checked(
            loc("Firefox-1-SSL", "win"),
            "http",
            "http://cdn.example/pub",
            true,
        );
        checked(
            loc("Firefox-1-SSL", "linux"),
            "https",
            "https://cdn.example/pub",
            true,
        );
        checked(
            loc("Firefox-1-SSL", "linux"),
            "http",
            "http://cdn.example/pub",
            false,
        );
        assert_eq!(
            uptake("Firefox-1-SSL").await,
            answer([
                item("Firefox-1-SSL", "win", 0, 1000),
                item("Firefox-1-SSL", "linux", 1000, 1000)
            ])
        );
        // A mirror beside the CDN counts with its rating.
        let m = add_mirror(&mut conn, "m", 200, true);
        set_map(&mut conn, loc("Firefox-1", "linux"), m, true, true);
        assert_eq!(
            uptake("Firefox-1").await,
            answer([
                item("Firefox-1", "win", 1000, 1200),
                item("Firefox-1", "linux", 700, 1200)
            ])
        );
    });
}
