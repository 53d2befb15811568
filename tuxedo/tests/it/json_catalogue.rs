//! The JSON API's catalogue: products, languages, locations, operating systems, aliases
//! and uptake; success, validation (422/400), missing rows (404), conflicts (409) and the
//! audit rows writes leave.

use crate::common::*;
use bouncer_core::generation;
use bouncer_test_support::{db_tests, TestDb};
use serde_json::{json, Value};

db_tests! {
    gated_alias_flips => gated_alias_flips,
    the_checker_carries_out_gates => the_checker_carries_out_gates,
    products_and_languages => products_and_languages,
    locations_oses_and_uptake => locations_oses_and_uptake,
    aliases_and_rename => aliases_and_rename,
    bad_bodies => bad_bodies,
    every_string_field_at_and_past_its_limit => every_string_field_at_and_past_its_limit,
    files_of_a_location => files_of_a_location,
    file_languages_are_the_products => file_languages_are_the_products,
    an_unchanged_set_keeps_the_gate => an_unchanged_set_keeps_the_gate,
    gate_samples_are_bounded => gate_samples_are_bounded,
}

/// What each file of a location is: stated in one all-or-nothing call, validated (a 422
/// names the field, also past a column's width), audited, bumping the generation; listed,
/// forgotten; and a mirror flagged as the reference origin.
fn files_of_a_location(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let (_, p) = t
            .as_(
                RELEASE,
                "POST",
                "/products",
                Some(json!({"name": "Firefox", "languages": ["de", "fr"]})),
            )
            .await;
        let pid = p["id"].as_i64().unwrap();
        let (s, l) = t
            .as_(
                RELEASE,
                "POST",
                &format!("/products/{pid}/locations"),
                Some(json!({"os": "win", "path": "/fx/:lang/setup.exe"})),
            )
            .await;
        assert_eq!(s, 201, "{l}");
        let lid = l["locations"][0]["id"].as_i64().unwrap();
        let files = format!("/locations/{lid}/files");
        let before = generation::current(&mut conn).unwrap();
        let sha = "AB".repeat(32);
        let (s, f) = t
            .as_(
                RELEASE,
                "PUT",
                &files,
                Some(json!([{"lang": "de", "size": 10, "sha256": sha}])),
            )
            .await;
        assert_eq!(s, 200, "{f}");
        assert_eq!(f[0]["sha256"], "ab".repeat(32));
        assert_eq!(
            (f[0]["size"].as_i64(), f[0]["source"].as_str()),
            (Some(10), Some("operator"))
        );
        assert!(generation::current(&mut conn).unwrap() > before);
        assert_eq!(last_audit(&mut conn).1, "file.set");
        // All or nothing: a bad item refuses the whole call and changes nothing.
        let bad = [
            (
                json!([{"lang": "de", "size": 20}, {"lang": "fr", "sha256": "zz"}]),
                "sha256",
            ),
            (json!([{"size": 1}]), "lang"),
            (json!([{"lang": "de", "size": -1}]), "size"),
            (json!([{"lang": "de"}]), "size"),
            (json!([{"lang": "x".repeat(31), "size": 1}]), "lang"),
            (json!([]), "body"),
        ];
        for (body, field) in bad {
            let (s, e) = t.as_(RELEASE, "PUT", &files, Some(body.clone())).await;
            assert_eq!(s, 422, "{body}: {e}");
            assert!(
                e["error"]["message"].as_str().unwrap().contains(field),
                "{body}: {e}"
            );
        }
        let (s, f) = t.as_(READER, "GET", &files, None).await;
        assert_eq!(
            (s, f.as_array().unwrap().len(), f[0]["size"].as_i64()),
            (200, 1, Some(10))
        );
        let (s, _) = t
            .as_(
                READER,
                "PUT",
                &files,
                Some(json!([{"lang": "de", "size": 1}])),
            )
            .await;
        assert_eq!(s, 403);
        let (s, _) = t.as_(READER, "GET", "/locations/99999/files", None).await;
        assert_eq!(s, 404);
        let (s, _) = t.as_(RELEASE, "DELETE", &format!("{files}/de"), None).await;
        assert_eq!(s, 204);
        assert_eq!(last_audit(&mut conn).1, "file.delete");
        let (s, f) = t.as_(READER, "GET", &files, None).await;
        assert_eq!((s, f), (200, json!([])));
        let (s, _) = t.as_(RELEASE, "DELETE", &format!("{files}/de"), None).await;
        assert_eq!(s, 404);

        // The reference origin is a mirror setting.
        let m = add_mirror(&mut conn, "origin", 100, true);
        let (s, v) = t
            .admin(
                "PATCH",
                &format!("/mirrors/{m}"),
                Some(json!({"reference": true})),
            )
            .await;
        assert_eq!((s, v["reference"].as_bool()), (200, Some(true)), "{v}");
        assert_eq!(
            bouncer_core::files::reference_mirrors(&mut conn).unwrap(),
            vec![m]
        );
        assert_eq!(last_audit(&mut conn).1, "mirror.update");
    });
}

/// A file's language is one of its product's, by the project's language rule, once per
/// call (ignoring case), and a call states at most `MAX_FILES_PER_CALL` files: anything
/// else is a 422 naming `lang` (or `body`) through the JSON API, and error 100 through the
/// XML API's `location_add`, with nothing written. A full-size valid call succeeds and is
/// stored under the product's spelling of each language.
fn file_languages_are_the_products(db: &TestDb) {
    use tuxedo::catalogue::files::MAX_FILES_PER_CALL;
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let langs: Vec<String> = std::iter::once("en-US".to_owned())
            .chain((1..MAX_FILES_PER_CALL).map(|i| format!("l{i}")))
            .collect();
        let (s, p) = t
            .as_(
                RELEASE,
                "POST",
                "/products",
                Some(json!({"name": "Firefox-9", "languages": langs})),
            )
            .await;
        assert_eq!(s, 201, "{p}");
        let pid = p["id"].as_i64().unwrap();
        let (s, l) = t
            .as_(
                RELEASE,
                "POST",
                &format!("/products/{pid}/locations"),
                Some(json!({"os": "win", "path": "/fx/9/:lang/setup.exe"})),
            )
            .await;
        assert_eq!(s, 201, "{l}");
        let lid = l["locations"][0]["id"].as_i64().unwrap();
        let files = format!("/locations/{lid}/files");
        let before = audit_count(&mut conn);

        let too_many: Vec<Value> = (0..=MAX_FILES_PER_CALL)
            .map(|i| json!({"lang": format!("l{i}"), "size": 1}))
            .collect();
        let bad = [
            (
                json!([{"lang": "l1\u{0}", "size": 1}]),
                "not a language code",
            ),
            (
                json!([{"lang": "l1\r\nX: y", "size": 1}]),
                "not a language code",
            ),
            (json!([{"lang": "../x", "size": 1}]), "not a language code"),
            (json!([{"lang": "*", "size": 1}]), "not a language code"),
            (
                json!([{"lang": "fr", "size": 1}]),
                "not a language of Firefox-9",
            ),
            (
                json!([{"lang": "l1", "size": 1}, {"lang": "L1", "size": 2}]),
                "given twice",
            ),
            (
                json!([{"lang": "en-us", "size": 1}, {"lang": "EN-US", "size": 1}]),
                "given twice",
            ),
            (Value::Array(too_many), "at most 500 files per call"),
        ];
        for (body, reason) in &bad {
            let (s, e) = t.as_(RELEASE, "PUT", &files, Some(body.clone())).await;
            let shown = e.to_string();
            assert_eq!((s, code(&e)), (422, "invalid"), "{shown:.200}");
            assert!(
                e["error"]["message"].as_str().unwrap().contains(reason),
                "{reason}: {shown:.300}"
            );
        }
        // The XML API's one file per call: the same rule, error 100, nothing written.
        for (lang, reason) in [
            ("l1\0", "is not a language code"),
            ("l1\r\nX: y", "is not a language code"),
            ("../x", "is not a language code"),
            ("*", "is not a language code"),
            ("fr", "is not a language of Firefox-9"),
        ] {
            let (s, body) = t
                .post(
                    "location_add",
                    &[
                        ("product", "Firefox-9"),
                        ("os", "linux"),
                        ("path", "/fx/9/:lang/f.tar.bz2"),
                        ("lang", lang),
                        ("size", "1"),
                    ],
                )
                .await;
            assert_eq!(s, 400, "{lang:?}: {body}");
            assert!(
                body.contains("<error number=\"100\">Invalid lang: ") && body.contains(reason),
                "{lang:?}: {body}"
            );
        }
        assert_eq!(audit_count(&mut conn), before, "a refused call wrote");
        assert_eq!(t.as_(READER, "GET", &files, None).await.1, json!([]));
        let (_, shown) = t.get("location_show", &[("product", "Firefox-9")]).await;
        assert!(!shown.contains("linux"), "no location was added: {shown}");

        // A whole release's worth in one call: stored, under the product's spelling.
        let all: Vec<Value> = std::iter::once(json!({"lang": "EN-us", "size": 7}))
            .chain((1..MAX_FILES_PER_CALL).map(|i| json!({"lang": format!("l{i}"), "size": i})))
            .collect();
        let (s, f) = t.as_(RELEASE, "PUT", &files, Some(Value::Array(all))).await;
        assert_eq!(s, 200, "{:.300}", f.to_string());
        let f = f.as_array().unwrap();
        assert_eq!(f.len(), MAX_FILES_PER_CALL);
        let en = f.iter().find(|x| x["size"] == 7).unwrap();
        assert_eq!(en["lang"], "en-US");
        assert_eq!(
            audit_count(&mut conn),
            before + MAX_FILES_PER_CALL as i64,
            "one file.set per file"
        );
        // Stated again in any case: the same file, replaced, not a second row.
        let (s, f) = t
            .as_(
                RELEASE,
                "PUT",
                &files,
                Some(json!([{"lang": "en-us", "size": 8}])),
            )
            .await;
        assert_eq!(s, 200);
        let en: Vec<&Value> = f
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["lang"].as_str().unwrap().eq_ignore_ascii_case("en-US"))
            .collect();
        assert_eq!(en.len(), 1, "{en:?}");
        assert_eq!(
            (&en[0]["lang"], &en[0]["size"]),
            (&json!("en-US"), &json!(8))
        );
    });
}

/// Every string field of the JSON API at its column's width and one past it: at the width
/// the write succeeds, past it a 422 names the field and the limit, and nothing answers
/// 500 (MariaDB refuses longer values; SQLite would store them).
fn every_string_field_at_and_past_its_limit(db: &TestDb) {
    use bouncer_core::limits::*;
    block_on(async {
        let t = start(db, |_| {});
        let (s, p) = t
            .admin("POST", "/products", Some(json!({"name": "base"})))
            .await;
        assert_eq!(s, 201, "{p}");
        let product = p["id"].as_i64().unwrap();
        let (s, r) = t
            .admin("POST", "/regions", Some(json!({"name": "r"})))
            .await;
        assert_eq!(s, 201, "{r}");
        // (field, limit, method, path, body with the value), run at the limit, then past it.
        type Case = (&'static str, usize, &'static str, String, fn(&str) -> Value);
        let cases: Vec<Case> = vec![
            (
                "product",
                PRODUCT_NAME,
                "POST",
                "/products".into(),
                |v| json!({"name": v}),
            ),
            (
                "name",
                OS_NAME,
                "POST",
                "/oses".into(),
                |v| json!({"name": v}),
            ),
            (
                "name",
                MIRROR_NAME,
                "POST",
                "/mirrors".into(),
                |v| json!({"name": v, "baseurl": format!("https://{}.example", v.len()), "rating": 1}),
            ),
            (
                "name",
                REGION_NAME,
                "POST",
                "/regions".into(),
                |v| json!({"name": v}),
            ),
            (
                "path",
                LOCATION_PATH,
                "POST",
                format!("/products/{product}/locations"),
                |v| json!({"os": "win", "path": format!("/{}", v.chars().skip(1).collect::<String>())}),
            ),
            (
                "related_product",
                PRODUCT_NAME,
                "PUT",
                "/aliases/some-alias".into(),
                |v| json!({"related_product": v}),
            ),
            (
                "continent",
                CONTINENT,
                "PUT",
                "/countries/DE".into(),
                |v| json!({"region_id": 1, "continent": v}),
            ),
            (
                "country_name",
                COUNTRY_NAME,
                "PUT",
                "/countries/FR".into(),
                |v| json!({"region_id": 1, "country_name": v}),
            ),
            (
                "description",
                RULE_DESCRIPTION,
                "PUT",
                "/rules".into(),
                |v| json!([{"description": v, "conditions": [{"field": "os", "op": "equals", "value": "x"}], "set_os": "win"}]),
            ),
            (
                "set_os",
                OS_NAME,
                "PUT",
                "/rules".into(),
                |v| json!([{"conditions": [{"field": "os", "op": "equals", "value": "x"}], "set_os": v}]),
            ),
            (
                "set_product",
                PRODUCT_NAME,
                "PUT",
                "/rules".into(),
                |v| json!([{"conditions": [{"field": "os", "op": "equals", "value": "x"}], "set_product": v}]),
            ),
            (
                "username",
                USERNAME,
                "POST",
                "/users".into(),
                |v| json!({"username": v, "password": "long-enough-password", "role": "read-only"}),
            ),
            (
                "name",
                TOKEN_NAME,
                "POST",
                "/tokens".into(),
                |v| json!({"name": v, "role": "read-only", "user": "boss"}),
            ),
        ];
        for (field, limit, method, path, body) in cases {
            // 'é' is two bytes: the limit counts characters, as the column does.
            let at: String = std::iter::repeat_n('é', limit).collect();
            let (s, r) = t.admin(method, &path, Some(body(&at))).await;
            assert!(s < 300, "{method} {path} {field} at {limit}: {s} {r}");
            let past = format!("{at}é");
            let (s, r) = t.admin(method, &path, Some(body(&past))).await;
            assert_eq!(s, 422, "{method} {path} {field} past {limit}: {r}");
            let text = r.to_string();
            assert!(
                text.contains(field) && text.contains(&limit.to_string()),
                "{method} {path}: the reason names {field} and {limit}: {text}"
            );
        }
        let (s, r) = t.admin("PUT", "/rules", Some(json!([{"conditions": (0..2000).map(|i| json!({"field": "user_agent", "op": "contains", "value": format!("{i:040}")})).collect::<Vec<_>>(), "set_os": "win"}]))).await;
        assert_eq!(s, 422, "conditions over 64 KB as stored: {r}");
        assert!(r.to_string().contains("conditions"), "{r}");
    });
}

fn products_and_languages(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let g0 = generation::current(&mut conn).unwrap();
        let body = json!({"name": " Firefox-130.0 ", "languages": ["de", "en-US", "DE"], "ssl_only": true});
        let (s, p) = t
            .as_(RELEASE, "POST", "/products", Some(body.clone()))
            .await;
        assert_eq!(s, 201, "{p}");
        assert_eq!(p["name"], "Firefox-130.0");
        assert_eq!(p["languages"], json!(["de", "en-US"]));
        assert_eq!(
            (
                p["ssl_only"].clone(),
                p["active"].clone(),
                p["checknow"].clone()
            ),
            (json!(true), json!(true), json!(true))
        );
        assert!(generation::current(&mut conn).unwrap() > g0, "create bumps");
        assert_eq!(
            last_audit(&mut conn),
            (
                RELEASE.0.into(),
                "product.add".into(),
                "product:Firefox-130.0".into()
            )
        );
        let id = p["id"].as_i64().unwrap();
        // Same name in another case: 409.
        let (s, e) = t
            .as_(
                RELEASE,
                "POST",
                "/products",
                Some(json!({"name": "firefox-130.0"})),
            )
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, e) = t
            .as_(RELEASE, "POST", "/products", Some(json!({"name": "  "})))
            .await;
        assert_eq!((s, code(&e)), (422, "invalid"), "{e}");
        t.as_(
            RELEASE,
            "POST",
            "/products",
            Some(json!({"name": "Thunderbird-1"})),
        )
        .await;

        let (s, all) = t.as_(READER, "GET", "/products", None).await;
        assert_eq!(s, 200);
        let names: Vec<&str> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Firefox-130.0", "Thunderbird-1"]);
        let (_, some) = t
            .as_(READER, "GET", "/products?search=FOX&ssl_only=true", None)
            .await;
        assert_eq!(some.as_array().unwrap().len(), 1);
        let (_, none) = t.as_(READER, "GET", "/products?search=%25", None).await;
        assert_eq!(none, json!([]), "% matches itself");
        let (s, e) = t.as_(READER, "GET", "/products?active=maybe", None).await;
        assert_eq!((s, code(&e)), (400, "bad_request"));
        let (s, one) = t.as_(READER, "GET", &format!("/products/{id}"), None).await;
        assert_eq!((s, one["name"].as_str()), (200, Some("Firefox-130.0")));
        let (s, e) = t.as_(READER, "GET", "/products/99999", None).await;
        assert_eq!((s, code(&e)), (404, "not_found"));
        let (s, e) = t.as_(READER, "GET", "/products/abc", None).await;
        assert_eq!((s, code(&e)), (404, "not_found"));

        // Flags.
        let g1 = generation::current(&mut conn).unwrap();
        let (s, p) = t
            .as_(
                RELEASE,
                "PATCH",
                &format!("/products/{id}"),
                Some(json!({"active": false, "checknow": false})),
            )
            .await;
        assert_eq!(
            (
                s,
                p["active"].clone(),
                p["checknow"].clone(),
                p["ssl_only"].clone()
            ),
            (200, json!(false), json!(false), json!(true))
        );
        assert!(generation::current(&mut conn).unwrap() > g1);
        assert_eq!(last_audit(&mut conn).1, "product.update");
        let (_, inactive) = t.as_(READER, "GET", "/products?active=false", None).await;
        assert_eq!(inactive.as_array().unwrap().len(), 1);
        // No change: nothing recorded.
        let n = audit_count(&mut conn);
        t.as_(
            RELEASE,
            "PATCH",
            &format!("/products/{id}"),
            Some(json!({"active": false})),
        )
        .await;
        assert_eq!(audit_count(&mut conn), n);

        // Languages.
        let (s, p) = t
            .as_(
                RELEASE,
                "POST",
                &format!("/products/{id}/languages"),
                Some(json!({"languages": ["fr"]})),
            )
            .await;
        assert_eq!(
            (s, p["languages"].clone()),
            (200, json!(["de", "en-US", "fr"]))
        );
        let (s, e) = t
            .as_(
                RELEASE,
                "POST",
                &format!("/products/{id}/languages"),
                Some(json!({"languages": ["fr", "it"]})),
            )
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, e) = t
            .as_(
                RELEASE,
                "POST",
                &format!("/products/{id}/languages"),
                Some(json!({"languages": []})),
            )
            .await;
        assert_eq!((s, code(&e)), (422, "missing"));
        let (s, _) = t
            .as_(
                RELEASE,
                "DELETE",
                &format!("/products/{id}/languages/de"),
                None,
            )
            .await;
        assert_eq!(s, 204);
        let (_, p) = t.as_(READER, "GET", &format!("/products/{id}"), None).await;
        assert_eq!(p["languages"], json!(["en-US", "fr"]));
        let (s, _) = t
            .as_(
                RELEASE,
                "POST",
                "/products/99999/languages",
                Some(json!({"languages": ["fr"]})),
            )
            .await;
        assert_eq!(s, 404);

        // Delete.
        let (s, body) = t
            .as_(RELEASE, "DELETE", &format!("/products/{id}"), None)
            .await;
        assert_eq!((s, body), (204, Value::Null));
        assert_eq!(last_audit(&mut conn).1, "product.delete");
        let (s, _) = t
            .as_(RELEASE, "DELETE", &format!("/products/{id}"), None)
            .await;
        assert_eq!(s, 404);
    });
}

fn locations_oses_and_uptake(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let (_, p) = t
            .as_(
                RELEASE,
                "POST",
                "/products",
                Some(json!({"name": "Firefox"})),
            )
            .await;
        let pid = p["id"].as_i64().unwrap();
        let m = add_mirror(&mut conn, "m1", 100, true);
        add_mirror(&mut conn, "m2", 50, true);

        // Operating systems.
        let (s, oses) = t.as_(READER, "GET", "/oses", None).await;
        assert_eq!((s, oses.as_array().unwrap().len()), (200, OSES.len()));
        let (s, os) = t
            .as_(
                RELEASE,
                "POST",
                "/oses",
                Some(json!({"name": "beos", "priority": 3})),
            )
            .await;
        assert_eq!((s, os["name"].as_str()), (201, Some("beos")), "{os}");
        assert_eq!(last_audit(&mut conn).1, "os.add");
        let os_id = os["id"].as_i64().unwrap();
        let (s, e) = t
            .as_(RELEASE, "POST", "/oses", Some(json!({"name": "BEOS"})))
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, os) = t
            .as_(
                RELEASE,
                "PATCH",
                &format!("/oses/{os_id}"),
                Some(json!({"name": "haiku", "priority": 9})),
            )
            .await;
        assert_eq!(
            (s, os["name"].as_str(), os["priority"].as_i64()),
            (200, Some("haiku"), Some(9))
        );
        let (s, e) = t
            .as_(
                RELEASE,
                "PATCH",
                &format!("/oses/{os_id}"),
                Some(json!({"name": "win"})),
            )
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, _) = t
            .as_(
                RELEASE,
                "PATCH",
                "/oses/99999",
                Some(json!({"priority": 1})),
            )
            .await;
        assert_eq!(s, 404);

        // Locations.
        let path = "/firefox/haiku/:lang/firefox.zip";
        let (s, l) = t
            .as_(
                RELEASE,
                "POST",
                &format!("/products/{pid}/locations"),
                Some(json!({"os": "haiku", "path": path})),
            )
            .await;
        assert_eq!(s, 201, "{l}");
        assert_eq!(l["locations"][0]["path"], path);
        let lid = l["locations"][0]["id"].as_i64().unwrap();
        let (s, e) = t
            .as_(
                RELEASE,
                "POST",
                &format!("/products/{pid}/locations"),
                Some(json!({"os": "haiku", "path": path})),
            )
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, e) = t
            .as_(
                RELEASE,
                "POST",
                &format!("/products/{pid}/locations"),
                Some(json!({"os": "plan9", "path": path})),
            )
            .await;
        assert_eq!((s, code(&e)), (422, "invalid"));
        let (s, e) = t
            .as_(
                RELEASE,
                "POST",
                &format!("/products/{pid}/locations"),
                Some(json!({"os": "win", "path": "no-slash"})),
            )
            .await;
        assert_eq!((s, code(&e)), (422, "invalid"));
        let (s, _) = t
            .as_(
                RELEASE,
                "POST",
                "/products/99999/locations",
                Some(json!({"os": "win", "path": "/x"})),
            )
            .await;
        assert_eq!(s, 404);
        // The used OS cannot be deleted.
        let (s, e) = t
            .as_(RELEASE, "DELETE", &format!("/oses/{os_id}"), None)
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, l) = t
            .as_(
                RELEASE,
                "PATCH",
                &format!("/locations/{lid}"),
                Some(json!({"path": "/new/:lang/f.zip"})),
            )
            .await;
        assert_eq!(
            (s, l["locations"][0]["path"].as_str()),
            (200, Some("/new/:lang/f.zip"))
        );
        assert_eq!(last_audit(&mut conn).1, "location.modify");
        let (s, l) = t
            .as_(READER, "GET", &format!("/products/{pid}/locations"), None)
            .await;
        assert_eq!((s, l["locations"].as_array().unwrap().len()), (200, 1));

        // Uptake: m1 has the file.
        set_map(&mut conn, lid as i32, m, true, true);
        let (s, u) = t.as_(READER, "GET", "/uptake?product=firefox", None).await;
        assert_eq!(s, 200);
        assert_eq!(
            u,
            json!([{"product": "Firefox", "os": "haiku", "available": 100, "total": 150,
                    "available_v4": 100, "available_v6": 100}])
        );
        let (s, e) = t.as_(READER, "GET", "/uptake", None).await;
        assert_eq!((s, code(&e)), (422, "missing"));
        let (s, _) = t.as_(READER, "GET", "/uptake?product=nothing", None).await;
        assert_eq!(s, 404);

        let (s, _) = t
            .as_(RELEASE, "DELETE", &format!("/locations/{lid}"), None)
            .await;
        assert_eq!(s, 204);
        let (s, _) = t
            .as_(RELEASE, "DELETE", &format!("/locations/{lid}"), None)
            .await;
        assert_eq!(s, 404);
        let (s, _) = t
            .as_(RELEASE, "DELETE", &format!("/oses/{os_id}"), None)
            .await;
        assert_eq!(s, 204);
        assert_eq!(last_audit(&mut conn).1, "os.delete");
    });
}

fn aliases_and_rename(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let (_, p) = t
            .as_(
                RELEASE,
                "POST",
                "/products",
                Some(json!({"name": "Firefox-130.0"})),
            )
            .await;
        let pid = p["id"].as_i64().unwrap();
        t.as_(
            RELEASE,
            "POST",
            "/products",
            Some(json!({"name": "Firefox-131.0"})),
        )
        .await;
        let (s, a) = t
            .as_(
                RELEASE,
                "PUT",
                "/aliases/firefox-latest",
                Some(json!({"related_product": "firefox-130.0"})),
            )
            .await;
        assert_eq!(s, 200, "{a}");
        assert_eq!(
            a,
            json!({"alias": "firefox-latest", "related_product": "Firefox-130.0", "outcome": "created"})
        );
        let (_, a) = t
            .as_(
                RELEASE,
                "PUT",
                "/aliases/firefox-latest",
                Some(json!({"related_product": "Firefox-130.0"})),
            )
            .await;
        assert_eq!(a["outcome"], "unchanged");
        let (s, e) = t
            .as_(
                RELEASE,
                "PUT",
                "/aliases/Firefox-131.0",
                Some(json!({"related_product": "Firefox-130.0"})),
            )
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, e) = t
            .as_(
                RELEASE,
                "PUT",
                "/aliases/x",
                Some(json!({"related_product": "nope"})),
            )
            .await;
        assert_eq!((s, code(&e)), (422, "invalid"));
        // Renaming a product moves its aliases; a taken name is a conflict.
        let (s, e) = t
            .as_(
                RELEASE,
                "PATCH",
                &format!("/products/{pid}"),
                Some(json!({"name": "Firefox-131.0"})),
            )
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, e) = t
            .as_(
                RELEASE,
                "PATCH",
                &format!("/products/{pid}"),
                Some(json!({"name": "firefox-latest"})),
            )
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, p) = t
            .as_(
                RELEASE,
                "PATCH",
                &format!("/products/{pid}"),
                Some(json!({"name": "Firefox-130.0.1"})),
            )
            .await;
        assert_eq!((s, p["name"].as_str()), (200, Some("Firefox-130.0.1")));
        let (s, all) = t.as_(READER, "GET", "/aliases", None).await;
        assert_eq!(
            (s, all),
            (
                200,
                json!([{"alias": "firefox-latest", "related_product": "Firefox-130.0.1"}])
            )
        );
        let (s, _) = t
            .as_(RELEASE, "DELETE", "/aliases/FIREFOX-LATEST", None)
            .await;
        assert_eq!(s, 204);
        assert_eq!(
            last_audit(&mut conn),
            (
                RELEASE.0.into(),
                "alias.delete".into(),
                "alias:firefox-latest".into()
            )
        );
        let (s, e) = t
            .as_(RELEASE, "DELETE", "/aliases/firefox-latest", None)
            .await;
        assert_eq!((s, code(&e)), (404, "not_found"));
        assert_eq!(t.as_(READER, "GET", "/aliases", None).await.1, json!([]));
    });
}

fn bad_bodies(db: &TestDb) {
    block_on(async {
        let t = start(db, |c| c.tuxedo.max_body_bytes = 1000);
        let url = format!("{}/api/v2/products", t.base);
        let send = |body: String| {
            t.client
                .post(&url)
                .basic_auth(RELEASE.0, Some(RELEASE.1))
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let r = send("{not json".into()).await.unwrap();
        assert_eq!(r.status(), 400);
        let r = send(String::new()).await.unwrap();
        assert_eq!(r.status(), 400, "a body is required");
        let r = send(r#"{"name": "x", "colour": "red"}"#.into())
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "unknown fields are refused");
        let r = send(r#"{"name": 5}"#.into()).await.unwrap();
        assert_eq!(r.status(), 422);
        let r = send(format!(r#"{{"name": "{}"}}"#, "x".repeat(2000)))
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
        let body: Value = r.json().await.unwrap();
        assert_eq!(code(&body), "payload_too_large");
        let r = t
            .client
            .get(format!("{}/api/v2/nothing-here", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(
            t.as_(READER, "GET", "/products", None).await.1,
            json!([]),
            "nothing was written"
        );
        let metrics = t.metrics().await;
        assert!(
            metrics.contains(r#"endpoint="POST /api/v2/products",status="413""#),
            "{metrics}"
        );
    });
}

/// Gated alias flips through the JSON API: stored and shown with progress, flipped exactly
/// once when every location of the product reaches the threshold (and not before), at the
/// deadline flipped or given up as chosen, cancellable, and overridden by a direct set (the
/// release client's XML call stays immediate). Checked here with the function tuxedo's
/// checker and sentry call, at chosen instants.
fn gated_alias_flips(db: &TestDb) {
    use bouncer_core::gates::{self, Outcome};
    use bouncer_core::schema::bouncer_audit_log as audit;
    use diesel::prelude::*;
    block_on(async {
        let t = start(db, |c| c.tuxedo.gate_check_secs = 0);
        let mut conn = db.conn();
        t.admin("POST", "/products", Some(json!({"name": "Firefox-1"})))
            .await;
        let (_, p) = t
            .admin("POST", "/products", Some(json!({"name": "Firefox-2"})))
            .await;
        let id = p["id"].as_i64().unwrap();
        let mut locs = Vec::new();
        for os in ["win", "linux"] {
            let (s, l) = t
                .admin(
                    "POST",
                    &format!("/products/{id}/locations"),
                    Some(json!({"os": os, "path": format!("/{os}")})),
                )
                .await;
            assert_eq!(s, 201, "{l}");
            let made = l["locations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["os"] == os)
                .unwrap();
            locs.push(made["id"].as_i64().unwrap() as i32);
        }
        let m = add_mirror(&mut conn, "m", 100, true);
        t.admin(
            "PUT",
            "/aliases/firefox-latest",
            Some(json!({"related_product": "Firefox-1"})),
        )
        .await;
        let check = |at: chrono::NaiveDateTime| {
            let mut c = db.conn();
            gates::check_all(&mut c, None, "test", at).unwrap()
        };
        let now = chrono::Utc::now().naive_utc();

        // Stored, shown with progress, nothing flipped.
        let (s, r) = t
            .admin(
                "PUT",
                "/aliases/firefox-latest",
                Some(json!({"related_product": "firefox-2", "gate": {"uptake_percent": 90}})),
            )
            .await;
        assert_eq!(s, 202, "{r}");
        assert_eq!(r["related_product"], "Firefox-1");
        assert_eq!(r["gate"]["related_product"], "Firefox-2");
        assert_eq!(r["gate"]["progress"]["uptake_percent"], 0.0);
        assert_eq!(r["gate"]["progress"]["met"], false);
        assert_eq!(r["gate"]["on_deadline"], "give_up");
        let (s, g) = t.as_(READER, "GET", "/aliases/firefox-latest", None).await;
        assert_eq!((s, &g["gate"]["uptake_percent"]), (200, &json!(90)), "{g}");

        // One location served: still waiting (the worst location decides).
        set_map(&mut conn, locs[0], m, true, true);
        assert!(matches!(&check(now)[0].1, Outcome::Pending(p) if p.uptake_percent == 0.0));
        // Both: due. Two checkers at once (tuxedo and sentry): one flip.
        set_map(&mut conn, locs[1], m, true, true);
        let (a, b) = std::thread::scope(|s| {
            let one = s.spawn(|| check(now));
            let two = s.spawn(|| check(now));
            (one.join().unwrap(), two.join().unwrap())
        });
        let flipped = a
            .iter()
            .chain(&b)
            .filter(|(_, o)| matches!(o, Outcome::Flipped { .. }))
            .count();
        assert_eq!(flipped, 1, "{a:?} {b:?}");
        let (_, g) = t.admin("GET", "/aliases/firefox-latest", None).await;
        assert_eq!(
            g,
            json!({"alias": "firefox-latest", "related_product": "Firefox-2", "gate": null})
        );
        let actions: Vec<String> = audit::table
            .filter(audit::action.like("alias.gate.%"))
            .order(audit::id)
            .select(audit::action)
            .load(&mut *conn)
            .unwrap();
        assert_eq!(actions, ["alias.gate.set", "alias.gate.flip"]);

        // Deadlines: give up, or flip anyway, as chosen.
        set_map(&mut conn, locs[1], m, true, false);
        let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let later = chrono::Utc::now().naive_utc() + chrono::Duration::hours(2);
        for (alias, on_deadline) in [("a-give-up", "give_up"), ("a-flip", "flip")] {
            let (s, r) = t
                .admin("PUT", &format!("/aliases/{alias}"), Some(json!({"related_product": "Firefox-1", "gate": {"uptake_percent": 100, "deadline": soon, "on_deadline": on_deadline}})))
                .await;
            assert_eq!((s, &r["related_product"]), (202, &Value::Null), "{r}");
        }
        t.admin("PUT", "/aliases/a-give-up", Some(json!({"related_product": "Firefox-2", "gate": {"uptake_percent": 100, "os": "linux", "deadline": soon}}))).await;
        assert!(
            check(now)
                .iter()
                .all(|(_, o)| matches!(o, Outcome::Pending(_))),
            "before the deadline"
        );
        let outcomes: Vec<(String, Outcome)> = check(later)
            .into_iter()
            .map(|(g, o)| (g.alias, o))
            .collect();
        assert!(
            matches!(&outcomes[0], (a, Outcome::Flipped { deadline: true, .. }) if a == "a-flip"),
            "{outcomes:?}"
        );
        assert!(
            matches!(&outcomes[1], (a, Outcome::GaveUp { .. }) if a == "a-give-up"),
            "{outcomes:?}"
        );
        assert_eq!(t.admin("GET", "/aliases/a-give-up", None).await.0, 404);
        assert_eq!(
            t.admin("GET", "/aliases/a-flip", None).await.1["related_product"],
            "Firefox-1"
        );

        // Cancelled; overridden by the release client's immediate set.
        t.admin(
            "PUT",
            "/aliases/firefox-latest",
            Some(json!({"related_product": "Firefox-1", "gate": {"uptake_percent": 100}})),
        )
        .await;
        assert_eq!(
            t.admin("DELETE", "/aliases/firefox-latest/gate", None)
                .await
                .0,
            204
        );
        assert_eq!(
            t.admin("DELETE", "/aliases/firefox-latest/gate", None)
                .await
                .0,
            404
        );
        t.admin(
            "PUT",
            "/aliases/firefox-latest",
            Some(json!({"related_product": "Firefox-1", "gate": {"uptake_percent": 100}})),
        )
        .await;
        let (s, _) = t
            .post(
                "create_update_alias",
                &[
                    ("alias", "firefox-latest"),
                    ("related_product", "Firefox-1"),
                ],
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(
            t.admin("GET", "/aliases/firefox-latest", None).await.1["gate"],
            Value::Null
        );

        // Refused conditions.
        for (gate, field) in [
            (json!({"uptake_percent": 0}), "uptake_percent"),
            (json!({"uptake_percent": 101}), "uptake_percent"),
            (
                json!({"uptake_percent": 50, "deadline": "2000-01-01T00:00:00Z"}),
                "deadline",
            ),
            (
                json!({"uptake_percent": 50, "deadline": "2039-01-01T00:00:00Z"}),
                "deadline",
            ),
            // A leap second parses, but no backend stores it (was a 500).
            (
                json!({"uptake_percent": 50, "deadline": "2030-06-30T23:59:60Z"}),
                "deadline",
            ),
            (
                json!({"uptake_percent": 50, "on_deadline": "maybe"}),
                "on_deadline",
            ),
        ] {
            let (s, e) = t
                .admin(
                    "PUT",
                    "/aliases/x",
                    Some(json!({"related_product": "Firefox-1", "gate": gate})),
                )
                .await;
            assert_eq!(s, 422, "{e}");
            assert!(e.to_string().contains(field), "{e}");
        }
        let (s, e) = t
            .admin("PUT", "/aliases/x", Some(json!({"related_product": "Firefox-1", "gate": {"uptake_percent": 50, "os": "beos"}})))
            .await;
        assert!((400..500).contains(&s), "{s} {e}");
        // An OS the product has no location on: the gate could never be met (was 202).
        let (s, e) = t
            .admin("PUT", "/aliases/x", Some(json!({"related_product": "Firefox-2", "gate": {"uptake_percent": 50, "os": "osx"}})))
            .await;
        assert_eq!((s, code(&e)), (422, "invalid"), "{e}");
        assert!(e.to_string().contains("no location on osx"), "{e}");
    });
}

/// Release automation re-runs last release's `create_update_alias` (the alias already
/// points there): the answer is the old admin's success, byte for byte, and the gate
/// pending on that alias for the new release stays, as does a JSON `PUT` that changes
/// nothing (any case). Cancelling is explicit (`DELETE …/gate`, audited with its reason);
/// a set that moves the alias still overrides the gate (audited with that reason).
fn an_unchanged_set_keeps_the_gate(db: &TestDb) {
    use bouncer_core::schema::bouncer_audit_log as audit;
    use diesel::prelude::*;
    block_on(async {
        let t = start(db, |c| c.tuxedo.gate_check_secs = 0);
        let mut conn = db.conn();
        for name in ["Firefox-1", "Firefox-2"] {
            t.post("product_add", &[("product", name)]).await;
            let (s, b) = t
                .post(
                    "location_add",
                    &[("product", name), ("os", "win"), ("path", "/f/win")],
                )
                .await;
            assert_eq!(s, 200, "{b}");
        }
        let rerun = [
            ("alias", "firefox-latest"),
            ("related_product", "Firefox-1"),
        ];
        let success = xml_success("Created/updated alias firefox-latest");
        assert_eq!(
            t.post("create_update_alias", &rerun).await,
            (200, success.clone())
        );
        let gate = json!({"related_product": "Firefox-2", "gate": {"uptake_percent": 90}});
        let (s, r) = t
            .as_(
                RELEASE,
                "PUT",
                "/aliases/firefox-latest",
                Some(gate.clone()),
            )
            .await;
        assert_eq!(s, 202, "{r}");
        let (actor, action, target) = last_audit(&mut conn);
        let gate_set = (actor, action, target);
        assert_eq!(gate_set.1, "alias.gate.set");

        // The idempotent re-run: the same answer, the gate stays, nothing audited.
        assert_eq!(
            t.post("create_update_alias", &rerun).await,
            (200, success.clone())
        );
        /// (where the alias points, where its pending gate would point it).
        async fn pending(t: &Tux) -> (Value, Value) {
            let (_, a) = t.as_(READER, "GET", "/aliases/firefox-latest", None).await;
            (
                a["related_product"].clone(),
                a["gate"]["related_product"].clone(),
            )
        }
        assert_eq!(
            pending(&t).await,
            (json!("Firefox-1"), json!("Firefox-2")),
            "the gate was cancelled by a set that changed nothing"
        );
        let (s, r) = t
            .as_(
                RELEASE,
                "PUT",
                "/aliases/FIREFOX-LATEST",
                Some(json!({"related_product": "firefox-1"})),
            )
            .await;
        assert_eq!((s, &r["outcome"]), (200, &json!("unchanged")), "{r}");
        assert_eq!(pending(&t).await, (json!("Firefox-1"), json!("Firefox-2")));
        assert_eq!(last_audit(&mut conn), gate_set, "nothing audited");

        // Cancelling is explicit, audited with its reason.
        let (s, _) = t
            .as_(RELEASE, "DELETE", "/aliases/firefox-latest/gate", None)
            .await;
        assert_eq!(s, 204);
        let reason = |conn: &mut bouncer_core::db::DbConnection| -> (String, Option<String>) {
            audit::table
                .order(audit::id.desc())
                .select((audit::action, audit::after_json))
                .first(conn)
                .unwrap()
        };
        let (action, after) = reason(&mut conn);
        assert_eq!(action, "alias.gate.cancel");
        assert!(after.unwrap().contains("cancelled"));
        assert_eq!(pending(&t).await, (json!("Firefox-1"), Value::Null));

        // A set that moves the alias overrides a pending gate, audited as such.
        t.as_(RELEASE, "PUT", "/aliases/firefox-latest", Some(gate))
            .await;
        let moved = [
            ("alias", "firefox-latest"),
            ("related_product", "Firefox-2"),
        ];
        assert_eq!(t.post("create_update_alias", &moved).await, (200, success));
        assert_eq!(pending(&t).await, (json!("Firefox-2"), Value::Null));
        let cancels: Vec<Option<String>> = audit::table
            .filter(audit::action.eq("alias.gate.cancel"))
            .order(audit::id)
            .select(audit::after_json)
            .load(&mut *conn)
            .unwrap();
        assert_eq!(cancels.len(), 2, "{cancels:?}");
        assert!(cancels[1]
            .as_deref()
            .unwrap()
            .contains("overridden by a direct set"));
    });
}

/// A gate whose uptake flaps (a mirror going up and down) stores a sample at every
/// check; the stored samples, and those `GET /aliases/{alias}` shows, stay at
/// `gates::MAX_SAMPLES`, the newest.
fn gate_samples_are_bounded(db: &TestDb) {
    use bouncer_core::gates::{self, MAX_SAMPLES};
    use bouncer_core::schema::bouncer_alias_gate_samples as samples;
    use diesel::prelude::*;
    block_on(async {
        let t = start(db, |c| c.tuxedo.gate_check_secs = 0);
        let mut conn = db.conn();
        t.post("product_add", &[("product", "Firefox-2")]).await;
        let (_, b) = t
            .post(
                "location_add",
                &[("product", "Firefox-2"), ("os", "win"), ("path", "/f/win")],
            )
            .await;
        let at = b.find("<location id=\"").unwrap() + "<location id=\"".len();
        let loc: i32 = b[at..].split('"').next().unwrap().parse().unwrap();
        let (down, up, flapping) = (
            add_mirror(&mut conn, "down", 100, true),
            add_mirror(&mut conn, "up", 100, true),
            add_mirror(&mut conn, "flapping", 100, true),
        );
        set_map(&mut conn, loc, down, true, false);
        set_map(&mut conn, loc, up, true, true);
        let (s, r) = t
            .admin(
                "PUT",
                "/aliases/firefox-next",
                Some(json!({"related_product": "Firefox-2", "gate": {"uptake_percent": 100}})),
            )
            .await;
        assert_eq!(s, 202, "{r}");
        let start = chrono::Utc::now().naive_utc() + chrono::Duration::minutes(1);
        let checks = MAX_SAMPLES + 20;
        for i in 0..checks {
            set_map(&mut conn, loc, flapping, true, i % 2 == 0);
            let at = start + chrono::Duration::minutes(i as i64);
            let out = gates::check_all(&mut conn, None, "test", at).unwrap();
            assert!(matches!(out[0].1, gates::Outcome::Pending(_)), "{out:?}");
        }
        let stored: i64 = samples::table.count().get_result(&mut *conn).unwrap();
        assert_eq!(stored, MAX_SAMPLES as i64);
        let (s, g) = t.as_(READER, "GET", "/aliases/firefox-next", None).await;
        assert_eq!(s, 200, "{g}");
        let shown = g["gate"]["samples"].as_array().unwrap();
        assert_eq!(shown.len(), MAX_SAMPLES);
        // The newest were kept: the last check's, and none from before the bound.
        let last = start + chrono::Duration::minutes(checks as i64 - 1);
        let first = start + chrono::Duration::minutes((checks - MAX_SAMPLES) as i64);
        let parse = |v: &Value| {
            chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
                .unwrap()
                .naive_utc()
        };
        let secs = |t: chrono::NaiveDateTime| t.and_utc().timestamp();
        assert_eq!(secs(parse(&shown[MAX_SAMPLES - 1]["at"])), secs(last));
        assert_eq!(secs(parse(&shown[0]["at"])), secs(first));
    });
}

/// tuxedo's own checker (every `tuxedo.gate_check_secs`) keeps a gauge per pending gate and
/// carries a gate out once it is due, with no other process running.
fn the_checker_carries_out_gates(db: &TestDb) {
    use bouncer_test_support::eventually;
    use std::time::Duration;
    block_on(async {
        let t = start(db, |c| c.tuxedo.gate_check_secs = 1);
        let mut conn = db.conn();
        let (_, p) = t
            .admin("POST", "/products", Some(json!({"name": "Firefox-3"})))
            .await;
        let id = p["id"].as_i64().unwrap();
        let (_, l) = t
            .admin(
                "POST",
                &format!("/products/{id}/locations"),
                Some(json!({"os": "win", "path": "/w"})),
            )
            .await;
        let loc = l["locations"][0]["id"].as_i64().unwrap() as i32;
        let m = add_mirror(&mut conn, "m", 100, true);
        let (s, _) = t
            .admin(
                "PUT",
                "/aliases/firefox-next",
                Some(json!({"related_product": "Firefox-3", "gate": {"uptake_percent": 100}})),
            )
            .await;
        assert_eq!(s, 202);
        let gauge = r#"tuxedo_alias_gate_uptake_percent{alias="firefox-next",threshold="100"} 0"#;
        let within = Duration::from_secs(30);
        eventually("the gauge of the pending gate", within, || async {
            t.metrics().await.contains(gauge).then_some(())
        })
        .await;
        assert_eq!(
            t.admin("GET", "/aliases/firefox-next", None).await.1["related_product"],
            Value::Null
        );
        set_map(&mut conn, loc, m, true, true);
        let a = eventually("the checker flips the alias", within, || async {
            let (_, a) = t.admin("GET", "/aliases/firefox-next", None).await;
            (a["related_product"] == "Firefox-3").then_some(a)
        })
        .await;
        assert_eq!(a["gate"], Value::Null);
    });
}
