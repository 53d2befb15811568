//! The JSON API's mirror network: mirrors (with sentry's health and log), regions, the
//! country → region map and mirror ↔ region links.

use crate::common::*;
use bouncer_core::changes::Change;
use bouncer_core::generation;
use bouncer_core::models::{MirrorHealth, SentryLog};
use bouncer_core::schema::{bouncer_mirror_health, mirror_location_mirror_map as map, sentry_log};
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;
use serde_json::{json, Value};

db_tests! {
    mirrors => mirrors,
    regions_and_countries => regions_and_countries,
    mirror_networks => mirror_networks,
    mirror_networks_at_create => mirror_networks_at_create,
    mirror_country => mirror_country,
}

fn mirrors(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        // Two locations exist before the mirror does.
        t.as_(
            RELEASE,
            "POST",
            "/products",
            Some(json!({"name": "Firefox"})),
        )
        .await;
        let (_, p) = t.as_(READER, "GET", "/products", None).await;
        let pid = p[0]["id"].as_i64().unwrap();
        for os in ["win", "osx"] {
            let (s, _) = t
                .as_(
                    RELEASE,
                    "POST",
                    &format!("/products/{pid}/locations"),
                    Some(json!({"os": os, "path": format!("/f/{os}")})),
                )
                .await;
            assert_eq!(s, 201);
        }
        let g0 = generation::current(&mut conn).unwrap();
        let body = json!({"name": "mirror.example", "baseurl": "https://mirror.example/pub/", "rating": 100});
        let (s, m) = t
            .as_(MIRROR_OP, "POST", "/mirrors", Some(body.clone()))
            .await;
        assert_eq!(s, 201, "{m}");
        assert_eq!(
            m["baseurl"], "https://mirror.example/pub",
            "trailing / dropped"
        );
        assert_eq!(m["active"], false, "new mirrors start inactive");
        assert_eq!(
            m["health"],
            json!({"state": "up", "weight_percent": 100, "last_checked_at": null, "last_reason": ""})
        );
        assert!(generation::current(&mut conn).unwrap() > g0);
        assert_eq!(
            last_audit(&mut conn),
            (
                MIRROR_OP.0.into(),
                "mirror.add".into(),
                "mirror:mirror.example".into()
            )
        );
        let id = m["id"].as_i64().unwrap() as i32;
        // A row per location, inactive and healthy, for sentry to probe.
        let rows: Vec<(bool, bool)> = map::table
            .filter(map::mirror_id.eq(id))
            .select((map::active, map::healthy))
            .load(&mut *conn)
            .unwrap();
        assert_eq!(rows, vec![(false, true), (false, true)]);

        let (s, e) = t.as_(MIRROR_OP, "POST", "/mirrors", Some(body)).await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        for bad in [
            "ftp://x.example/",
            "x.example/pub",
            "https://x.example/?a=1",
            "https://x.example/#f",
        ] {
            let (s, e) = t
                .as_(
                    MIRROR_OP,
                    "POST",
                    "/mirrors",
                    Some(json!({"name": "x", "baseurl": bad})),
                )
                .await;
            assert_eq!((s, code(&e)), (422, "invalid"), "{bad}");
        }
        let (s, e) = t
            .as_(
                MIRROR_OP,
                "POST",
                "/mirrors",
                Some(json!({"name": "x", "baseurl": "https://x.example", "rating": -1})),
            )
            .await;
        assert_eq!((s, code(&e)), (422, "invalid"));

        // Update, enable, disable.
        let (s, m) = t
            .as_(
                MIRROR_OP,
                "PATCH",
                &format!("/mirrors/{id}"),
                Some(json!({"rating": 5, "baseurl": "http://mirror.example/mozilla"})),
            )
            .await;
        assert_eq!(
            (s, m["rating"].as_i64(), m["baseurl"].as_str()),
            (200, Some(5), Some("http://mirror.example/mozilla"))
        );
        assert_eq!(last_audit(&mut conn).1, "mirror.update");
        let (s, m) = t
            .as_(MIRROR_OP, "POST", &format!("/mirrors/{id}/enable"), None)
            .await;
        assert_eq!((s, m["active"].clone()), (200, json!(true)));
        let (_, xml) = t.get("mirror_list", &[]).await;
        assert!(xml.contains("http://mirror.example/mozilla"), "{xml}");
        let (s, m) = t
            .as_(MIRROR_OP, "POST", &format!("/mirrors/{id}/disable"), None)
            .await;
        assert_eq!((s, m["active"].clone()), (200, json!(false)));
        let (s, _) = t
            .as_(MIRROR_OP, "POST", "/mirrors/99999/enable", None)
            .await;
        assert_eq!(s, 404);

        // Health and log as sentry wrote them.
        let now = chrono::Utc::now().naive_utc();
        diesel::insert_into(bouncer_mirror_health::table)
            .values(MirrorHealth {
                mirror_id: id,
                state: "ramping".into(),
                weight_percent: 40,
                fail_streak: 0,
                ok_streak: 2,
                last_checked_at: Some(now),
                last_reason: "recovering".into(),
                changed_at: now,
                families: None,
            })
            .execute(&mut *conn)
            .unwrap();
        for (i, reason) in ["first", "second"].iter().enumerate() {
            let at = now + chrono::Duration::seconds(i as i64);
            diesel::insert_into(sentry_log::table)
                .values(SentryLog {
                    log_date: at,
                    check_time: at,
                    mirror_id: id,
                    mirror_active: true,
                    mirror_rating: 5,
                    reason: reason.to_string(),
                })
                .execute(&mut *conn)
                .unwrap();
        }
        let (s, all) = t.as_(READER, "GET", "/mirrors", None).await;
        assert_eq!(s, 200);
        assert_eq!(all[0]["health"]["state"], "ramping");
        assert_eq!(all[0]["health"]["weight_percent"], 40);
        let (s, log) = t
            .as_(
                READER,
                "GET",
                &format!("/mirrors/{id}/sentry-log?limit=1"),
                None,
            )
            .await;
        assert_eq!((s, log.as_array().unwrap().len()), (200, 1));
        assert_eq!(log[0]["reason"], "second", "newest first");
        let (s, _) = t
            .as_(
                READER,
                "GET",
                &format!("/mirrors/{id}/sentry-log?limit=0"),
                None,
            )
            .await;
        assert_eq!(s, 422);
        let (s, _) = t
            .as_(READER, "GET", "/mirrors/99999/sentry-log", None)
            .await;
        assert_eq!(s, 404);

        let (s, _) = t
            .as_(MIRROR_OP, "DELETE", &format!("/mirrors/{id}"), None)
            .await;
        assert_eq!(s, 204);
        assert_eq!(last_audit(&mut conn).1, "mirror.delete");
        let (s, _) = t.as_(READER, "GET", &format!("/mirrors/{id}"), None).await;
        assert_eq!(s, 404);
    });
}

fn regions_and_countries(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let (s, eu) = t
            .as_(
                MIRROR_OP,
                "POST",
                "/regions",
                Some(json!({"name": "Europe", "priority": 1})),
            )
            .await;
        assert_eq!(s, 201, "{eu}");
        assert_eq!(eu["throttle"], 100);
        let eu_id = eu["id"].as_i64().unwrap();
        let (s, de) = t
            .as_(
                MIRROR_OP,
                "POST",
                "/regions",
                Some(json!({"name": "Germany", "fallback_id": eu_id, "throttle": 50})),
            )
            .await;
        assert_eq!((s, de["fallback_id"].as_i64()), (201, Some(eu_id)));
        let de_id = de["id"].as_i64().unwrap();
        assert_eq!(last_audit(&mut conn).1, "region.add");
        let (s, e) = t
            .as_(
                MIRROR_OP,
                "POST",
                "/regions",
                Some(json!({"name": "europe"})),
            )
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, _) = t
            .as_(
                MIRROR_OP,
                "POST",
                "/regions",
                Some(json!({"name": "x", "throttle": 101})),
            )
            .await;
        assert_eq!(s, 422);
        let (s, _) = t
            .as_(
                MIRROR_OP,
                "POST",
                "/regions",
                Some(json!({"name": "x", "fallback_id": 99999})),
            )
            .await;
        assert_eq!(s, 422);
        let (s, e) = t
            .as_(
                MIRROR_OP,
                "PATCH",
                &format!("/regions/{eu_id}"),
                Some(json!({"fallback_id": eu_id})),
            )
            .await;
        assert_eq!((s, code(&e)), (422, "invalid"));
        let (s, r) = t
            .as_(
                MIRROR_OP,
                "PATCH",
                &format!("/regions/{de_id}"),
                Some(json!({"throttle": 0, "prevent_global_fallback": true, "fallback_id": null})),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(
            (
                r["throttle"].as_i64(),
                r["prevent_global_fallback"].clone(),
                r["fallback_id"].clone()
            ),
            (Some(0), json!(true), json!(null))
        );
        let (s, _) = t
            .as_(
                MIRROR_OP,
                "PATCH",
                &format!("/regions/{de_id}"),
                Some(json!({"throttle": -1})),
            )
            .await;
        assert_eq!(s, 422);
        let (_, all) = t.as_(READER, "GET", "/regions", None).await;
        assert_eq!(all.as_array().unwrap().len(), 2);

        // Countries.
        let (s, c) = t
            .as_(
                MIRROR_OP,
                "PUT",
                "/countries/de",
                Some(json!({"region_id": de_id, "country_name": "Germany"})),
            )
            .await;
        assert_eq!(s, 200, "{c}");
        assert_eq!(
            c,
            json!({"country_code": "DE", "region_id": de_id, "region": "Germany", "country_name": "Germany", "continent": null})
        );
        assert_eq!(last_audit(&mut conn).2, "country:DE");
        let (s, c) = t
            .as_(
                MIRROR_OP,
                "PUT",
                "/countries/DE",
                Some(json!({"region_id": eu_id})),
            )
            .await;
        assert_eq!(
            (s, c["region"].as_str(), c["country_name"].as_str()),
            (200, Some("Europe"), Some("Germany"))
        );
        let (s, _) = t
            .as_(
                MIRROR_OP,
                "PUT",
                "/countries/DEU",
                Some(json!({"region_id": eu_id})),
            )
            .await;
        assert_eq!(s, 422);
        // Two letters that name no country, as for a mirror's country.
        for bad in ["ZZ", "UK"] {
            let path = format!("/countries/{bad}");
            let (s, e) = t
                .as_(MIRROR_OP, "PUT", &path, Some(json!({"region_id": eu_id})))
                .await;
            assert_eq!((s, code(&e)), (422, "invalid"), "{bad}: {e}");
        }
        let (s, _) = t
            .as_(
                MIRROR_OP,
                "PUT",
                "/countries/FR",
                Some(json!({"region_id": 99999})),
            )
            .await;
        assert_eq!(s, 422);
        let (s, list) = t.as_(READER, "GET", "/countries", None).await;
        assert_eq!((s, list.as_array().unwrap().len()), (200, 1));
        let (s, _) = t.as_(MIRROR_OP, "DELETE", "/countries/de", None).await;
        assert_eq!(s, 204);
        assert_eq!(
            t.as_(READER, "GET", "/countries", None).await.1[0]["region_id"],
            json!(null)
        );
        let (s, _) = t.as_(MIRROR_OP, "DELETE", "/countries/FR", None).await;
        assert_eq!(s, 404);

        // Mirror ↔ region.
        let m = add_mirror(&mut conn, "m1", 10, true);
        let g = generation::current(&mut conn).unwrap();
        let (s, v) = t
            .as_(
                MIRROR_OP,
                "PUT",
                &format!("/mirrors/{m}/regions/{eu_id}"),
                None,
            )
            .await;
        assert_eq!((s, v["regions"].clone()), (200, json!(["Europe"])));
        assert!(generation::current(&mut conn).unwrap() > g);
        assert_eq!(last_audit(&mut conn).1, "mirror.region.add");
        let n = audit_count(&mut conn);
        let (s, _) = t
            .as_(
                MIRROR_OP,
                "PUT",
                &format!("/mirrors/{m}/regions/{eu_id}"),
                None,
            )
            .await;
        assert_eq!((s, audit_count(&mut conn)), (200, n), "idempotent");
        let (s, _) = t
            .as_(
                MIRROR_OP,
                "PUT",
                &format!("/mirrors/{m}/regions/99999"),
                None,
            )
            .await;
        assert_eq!(s, 404);
        let (s, _) = t
            .as_(
                MIRROR_OP,
                "DELETE",
                &format!("/mirrors/{m}/regions/{eu_id}"),
                None,
            )
            .await;
        assert_eq!(s, 204);
        let (s, _) = t
            .as_(
                MIRROR_OP,
                "DELETE",
                &format!("/mirrors/{m}/regions/{eu_id}"),
                None,
            )
            .await;
        assert_eq!(s, 404);

        // Deleting a region.
        t.as_(
            MIRROR_OP,
            "PUT",
            &format!("/mirrors/{m}/regions/{de_id}"),
            None,
        )
        .await;
        t.as_(
            MIRROR_OP,
            "PATCH",
            &format!("/regions/{de_id}"),
            Some(json!({"fallback_id": eu_id})),
        )
        .await;
        let (s, _) = t
            .as_(MIRROR_OP, "DELETE", &format!("/regions/{eu_id}"), None)
            .await;
        assert_eq!(s, 204);
        assert_eq!(last_audit(&mut conn).1, "region.delete");
        let (_, all) = t.as_(READER, "GET", "/regions", None).await;
        assert_eq!(
            all,
            json!([{"id": de_id, "name": "Germany", "priority": 0, "throttle": 0, "fallback_id": null, "prevent_global_fallback": true}])
        );
        let (s, _) = t
            .as_(MIRROR_OP, "DELETE", &format!("/regions/{eu_id}"), None)
            .await;
        assert_eq!(s, 404);
    });
}

/// The newest audit row's before and after, as JSON.
fn last_audit_change(conn: &mut bouncer_core::db::DbConnection) -> (Value, Value) {
    use bouncer_core::schema::bouncer_audit_log as a;
    let (b, after): (Option<String>, Option<String>) = a::table
        .order(a::id.desc())
        .select((a::before_json, a::after_json))
        .first(conn)
        .unwrap();
    let parse = |s: Option<String>| s.map_or(Value::Null, |s| serde_json::from_str(&s).unwrap());
    (parse(b), parse(after))
}

/// What the database holds of a mirror's reach: (settings row, networks, exclusions).
type Stored = (Option<(bool, String)>, Vec<String>, Vec<String>);

fn stored(conn: &mut bouncer_core::db::DbConnection, id: i32) -> Stored {
    use bouncer_core::schema::{
        bouncer_mirror_exclusions as e, bouncer_mirror_networks as n, bouncer_mirror_settings as s,
    };
    let settings = s::table
        .filter(s::mirror_id.eq(id))
        .select((s::reference, s::network_mode))
        .first(conn)
        .optional()
        .unwrap();
    let mut networks: Vec<String> = n::table
        .filter(n::mirror_id.eq(id))
        .select(n::network)
        .load(conn)
        .unwrap();
    networks.sort();
    let mut countries: Vec<String> = e::table
        .filter(e::mirror_id.eq(id))
        .select(e::country_code)
        .load(conn)
        .unwrap();
    countries.sort();
    (settings, networks, countries)
}

/// A mirror's networks, network mode and excluded countries through `PATCH /mirrors/{id}`:
/// normalised, read back in both views, audited, recorded as a change of that mirror (so
/// bounce reloads it), refused value by value with nothing written, at and past the
/// column widths.
fn mirror_networks(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let body = json!({"name": "campus", "baseurl": "https://campus.example/pub", "rating": 10});
        let (s, m) = t.as_(MIRROR_OP, "POST", "/mirrors", Some(body)).await;
        assert_eq!(s, 201, "{m}");
        let id = m["id"].as_i64().unwrap() as i32;
        let at = format!("/mirrors/{id}");
        assert_eq!(
            (&m["network_mode"], &m["networks"], &m["excluded_countries"]),
            (&json!("none"), &json!([]), &json!([])),
            "the defaults"
        );
        assert_eq!(stored(&mut conn, id), (None, vec![], vec![]));

        // Set: normalised, duplicates merged, in bounce's order.
        let g0 = generation::current(&mut conn).unwrap();
        let patch = json!({
            "network_mode": "prefer",
            "networks": ["as64500", " 192.0.2.77/24", "2001:DB8::1/32", "AS64500",
                         "198.51.100.7", "192.0.2.0/24", "::1"],
            "excluded_countries": ["cu", "KP", " cu "],
        });
        let (s, m) = t.as_(MIRROR_OP, "PATCH", &at, Some(patch.clone())).await;
        assert_eq!(s, 200, "{m}");
        let networks = json!([
            "AS64500",
            "192.0.2.0/24",
            "198.51.100.7/32",
            "::1/128",
            "2001:db8::/32"
        ]);
        assert_eq!(m["network_mode"], "prefer");
        assert_eq!(m["networks"], networks);
        assert_eq!(m["excluded_countries"], json!(["CU", "KP"]));
        assert_eq!(m["rating"], 10, "other fields kept");
        let (_, one) = t.as_(READER, "GET", &at, None).await;
        assert_eq!(one, m);
        let (_, all) = t.as_(READER, "GET", "/mirrors", None).await;
        assert_eq!(all[0], m);
        let mut rows: Vec<String> = networks
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        rows.sort();
        assert_eq!(
            stored(&mut conn, id),
            (
                Some((false, "prefer".into())),
                rows.clone(),
                vec!["CU".into(), "KP".into()]
            )
        );
        // One generation, naming that mirror: bounce reloads it with its reach rows.
        let g1 = generation::current(&mut conn).unwrap();
        let logged = bouncer_core::changes::since(&mut conn, g0).unwrap();
        assert_eq!(
            logged.into_iter().collect::<Vec<_>>(),
            vec![(g1, vec![Change::Mirror(id)])]
        );
        assert_eq!(
            last_audit(&mut conn),
            (
                MIRROR_OP.0.into(),
                "mirror.update".into(),
                "mirror:campus".into()
            )
        );
        let (before, after) = last_audit_change(&mut conn);
        assert_eq!(
            (&before["network_mode"], &before["networks"]),
            (&json!("none"), &json!([]))
        );
        assert_eq!(after["networks"], networks);
        assert_eq!(after["excluded_countries"], json!(["CU", "KP"]));

        // The same again changes nothing and records nothing.
        let audits = audit_count(&mut conn);
        let (s, _) = t.as_(MIRROR_OP, "PATCH", &at, Some(patch)).await;
        assert_eq!(s, 200);
        assert_eq!(audit_count(&mut conn), audits);
        assert_eq!(generation::current(&mut conn).unwrap(), g1);

        // The reference flag shares the settings row: toggling it keeps the mode.
        for reference in [true, false] {
            let (s, m) = t
                .as_(
                    MIRROR_OP,
                    "PATCH",
                    &at,
                    Some(json!({"reference": reference})),
                )
                .await;
            assert_eq!((s, m["reference"].clone()), (200, json!(reference)));
            assert_eq!(m["network_mode"], "prefer", "reference {reference}");
            assert_eq!(stored(&mut conn, id).0, Some((reference, "prefer".into())));
        }

        // Each refusal: 422 naming the value; nothing written.
        let long_ok = format!("AS{}64500", "0".repeat(bouncer_core::limits::NETWORK - 7));
        let too_long = format!("AS0{}", &long_ok[2..]);
        assert_eq!(
            (long_ok.len(), too_long.len()),
            (
                bouncer_core::limits::NETWORK,
                bouncer_core::limits::NETWORK + 1
            )
        );
        let (audits, g) = (
            audit_count(&mut conn),
            generation::current(&mut conn).unwrap(),
        );
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"networks": ["example.org"]}),
                r#"invalid networks: "example.org": expected AS<number> or a CIDR"#,
            ),
            (
                json!({"networks": ["AS1", "10.0.0.0/33"]}),
                r#"invalid networks: "10.0.0.0/33""#,
            ),
            (
                json!({"networks": ["AS0"]}),
                r#"invalid networks: "AS0": AS numbers are 1 to 4294967295"#,
            ),
            (json!({"networks": ["AS4294967296"]}), r#""AS4294967296""#),
            (json!({"networks": [""]}), "invalid networks: \"\""),
            (
                json!({"networks": [too_long.clone()]}),
                "invalid networks: \"AS000000000000000000\"…: longer than 64 characters",
            ),
            (
                json!({"networks": ["a".repeat(10_000)]}),
                "longer than 64 characters",
            ),
            // The cap (bounce matches any length in O(log n); the cap bounds memory and
            // catalogue loads).
            (
                json!({"networks": too_many_networks()}),
                "invalid networks: 20001 networks: a mirror may list at most 20000",
            ),
            (
                json!({"excluded_countries": ["DEU"]}),
                r#"invalid excluded_countries: "DEU" is not a two-letter country code"#,
            ),
            (
                json!({"excluded_countries": ["d1"]}),
                r#""d1" is not a two-letter country code"#,
            ),
            (
                json!({"excluded_countries": [""]}),
                r#""" is not a two-letter country code"#,
            ),
            (
                json!({"excluded_countries": ["Ü1"]}),
                "is not a two-letter country code",
            ),
            // Two letters, but no country: an exclusion or a place that could never match
            // the GeoIP country of a client.
            (
                json!({"excluded_countries": ["ZZ"]}),
                r#"invalid excluded_countries: "ZZ" is not an ISO 3166-1 country code"#,
            ),
            (
                json!({"country": "uk"}),
                r#"invalid country: "uk" is not an ISO 3166-1 country code (the United Kingdom is GB)"#,
            ),
            (
                json!({"network_mode": "sometimes"}),
                r#"invalid network_mode: "sometimes": expected none, prefer or only"#,
            ),
            (json!({"network_mode": "preferred"}), r#""preferred""#),
            (json!({"network_mode": "PREFER"}), r#""PREFER""#),
            // All or nothing: good networks and a good rating with one bad country.
            (
                json!({"rating": 99, "network_mode": "only", "networks": ["AS1", "203.0.113.0/24"], "excluded_countries": ["FR", "XYZ"]}),
                r#""XYZ" is not a two-letter country code"#,
            ),
            (
                json!({"name": "renamed", "networks": ["AS1", "bogus"], "excluded_countries": ["FR"]}),
                r#""bogus""#,
            ),
        ];
        for (body, message) in cases {
            let (s, e) = t.as_(MIRROR_OP, "PATCH", &at, Some(body.clone())).await;
            assert_eq!((s, code(&e)), (422, "invalid"), "{body}: {e}");
            let text = e["error"]["message"].as_str().unwrap();
            assert!(text.contains(message), "{body}: {text}");
        }
        let (_, now) = t.as_(READER, "GET", &at, None).await;
        assert_eq!(
            (
                &now["name"],
                &now["rating"],
                &now["network_mode"],
                &now["networks"],
                &now["excluded_countries"]
            ),
            (
                &json!("campus"),
                &json!(10),
                &json!("prefer"),
                &networks,
                &json!(["CU", "KP"])
            ),
            "a refused write changed something"
        );
        assert_eq!(
            stored(&mut conn, id),
            (
                Some((false, "prefer".into())),
                rows,
                vec!["CU".into(), "KP".into()]
            )
        );
        assert_eq!(audit_count(&mut conn), audits);
        assert_eq!(generation::current(&mut conn).unwrap(), g);
        // Of the wrong type: refused as the body.
        let (s, _) = t
            .as_(MIRROR_OP, "PATCH", &at, Some(json!({"networks": "AS1"})))
            .await;
        assert_eq!(s, 422);

        // At the width: fits (and is stored normalised).
        let (s, m) = t
            .as_(
                MIRROR_OP,
                "PATCH",
                &at,
                Some(json!({"networks": [long_ok, "2001:0db8:0000:0000:0000:0000:0000:0001/128"]})),
            )
            .await;
        assert_eq!(s, 200, "{m}");
        assert_eq!(m["networks"], json!(["AS64500", "2001:db8::1/128"]));

        // Lists replace; an empty list clears; a mode without networks is allowed.
        let (s, m) = t
            .as_(
                MIRROR_OP,
                "PATCH",
                &at,
                Some(json!({"networks": [], "network_mode": "only"})),
            )
            .await;
        assert_eq!(s, 200, "{m}");
        assert_eq!(
            (&m["networks"], &m["network_mode"]),
            (&json!([]), &json!("only"))
        );
        assert_eq!(m["excluded_countries"], json!(["CU", "KP"]), "kept");
        let (s, m) = t
            .as_(
                MIRROR_OP,
                "PATCH",
                &at,
                Some(json!({"network_mode": "", "excluded_countries": []})),
            )
            .await;
        assert_eq!(s, 200, "{m}");
        assert_eq!(m["network_mode"], "none");
        assert_eq!(
            stored(&mut conn, id),
            (None, vec![], vec![]),
            "the defaults are no row"
        );
        let (s, m) = t
            .as_(
                MIRROR_OP,
                "PATCH",
                &at,
                Some(json!({"network_mode": "none"})),
            )
            .await;
        assert_eq!((s, m["network_mode"].clone()), (200, json!("none")));

        // Roles: a reader may not; a release account may not either.
        for who in [READER, RELEASE] {
            let (s, _) = t
                .as_(who, "PATCH", &at, Some(json!({"networks": ["AS1"]})))
                .await;
            assert_eq!(s, 403);
        }
        assert!(stored(&mut conn, id).1.is_empty());

        // Deleting the mirror takes its rows along.
        t.as_(
            MIRROR_OP,
            "PATCH",
            &at,
            Some(
                json!({"networks": ["AS1"], "excluded_countries": ["FR"], "network_mode": "only"}),
            ),
        )
        .await;
        let (s, _) = t.as_(MIRROR_OP, "DELETE", &at, None).await;
        assert_eq!(s, 204);
        assert_eq!(stored(&mut conn, id), (None, vec![], vec![]));
    });
}

/// `POST /mirrors` takes the same optional fields, validated the same way: a refused one
/// adds no mirror.
fn mirror_networks_at_create(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let (audits, g) = (
            audit_count(&mut conn),
            generation::current(&mut conn).unwrap(),
        );
        for (bad, message) in [
            (
                json!({"networks": ["AS1", "nope"]}),
                r#"invalid networks: "nope""#,
            ),
            (json!({"excluded_countries": ["FRA"]}), r#""FRA" is not"#),
            (json!({"network_mode": "always"}), r#""always""#),
        ] {
            let mut body =
                json!({"name": "isp", "baseurl": "https://isp.example/pub", "rating": 5});
            body.as_object_mut()
                .unwrap()
                .extend(bad.as_object().unwrap().clone());
            let (s, e) = t.as_(MIRROR_OP, "POST", "/mirrors", Some(body)).await;
            assert_eq!((s, code(&e)), (422, "invalid"), "{bad}");
            assert!(
                e["error"]["message"].as_str().unwrap().contains(message),
                "{e}"
            );
        }
        let (_, all) = t.as_(READER, "GET", "/mirrors", None).await;
        assert_eq!(all, json!([]), "a refused creation added a mirror");
        assert_eq!(audit_count(&mut conn), audits);
        assert_eq!(generation::current(&mut conn).unwrap(), g);

        let body = json!({
            "name": "isp", "baseurl": "https://isp.example/pub", "rating": 5,
            "network_mode": "only", "networks": ["198.51.100.0/24", "as64501"],
            "excluded_countries": ["us"],
        });
        let (s, m) = t.as_(MIRROR_OP, "POST", "/mirrors", Some(body)).await;
        assert_eq!(s, 201, "{m}");
        let id = m["id"].as_i64().unwrap() as i32;
        assert_eq!(m["network_mode"], "only");
        assert_eq!(m["networks"], json!(["AS64501", "198.51.100.0/24"]));
        assert_eq!(m["excluded_countries"], json!(["US"]));
        assert_eq!(
            stored(&mut conn, id),
            (
                Some((false, "only".into())),
                vec!["198.51.100.0/24".into(), "AS64501".into()],
                vec!["US".into()]
            )
        );
        assert_eq!(last_audit(&mut conn).1, "mirror.add");
        let (before, after) = last_audit_change(&mut conn);
        assert_eq!(before, Value::Null);
        assert_eq!(after["networks"], m["networks"]);
        let g1 = generation::current(&mut conn).unwrap();
        let logged = bouncer_core::changes::since(&mut conn, g).unwrap();
        assert_eq!(logged.len(), 1);
        assert!(logged[&g1].contains(&Change::Mirror(id)), "{logged:?}");
        // Without them: the defaults, and no settings row.
        let body = json!({"name": "plain", "baseurl": "https://plain.example/pub"});
        let (s, m) = t.as_(MIRROR_OP, "POST", "/mirrors", Some(body)).await;
        assert_eq!((s, m["network_mode"].clone()), (201, json!("none")));
        let plain = m["id"].as_i64().unwrap() as i32;
        assert_eq!(stored(&mut conn, plain), (None, vec![], vec![]));
    });
}

/// The settings row's country of mirror `id` (`None`: no row; `Some(None)`: a row
/// without one).
fn stored_country(conn: &mut bouncer_core::db::DbConnection, id: i32) -> Option<Option<String>> {
    use bouncer_core::schema::bouncer_mirror_settings as s;
    s::table
        .filter(s::mirror_id.eq(id))
        .select(s::country)
        .first(conn)
        .optional()
        .unwrap()
}

/// A mirror's `country` (bounce's `geo=` and Metalink `location`): normalised at create
/// and patch, refused with a 422 and nothing written when it is not two letters (past
/// the column's width on MariaDB too), kept by a patch that leaves it out, cleared by
/// `""` (the settings row goes when nothing else is set), audited and recorded as a
/// change of that mirror.
fn mirror_country(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let body = json!({"name": "de", "baseurl": "https://de.example/pub", "rating": 10,
                          "country": "de"});
        let (s, m) = t.as_(MIRROR_OP, "POST", "/mirrors", Some(body)).await;
        assert_eq!(s, 201, "{m}");
        assert_eq!(m["country"], "DE");
        let id = m["id"].as_i64().unwrap() as i32;
        let at = format!("/mirrors/{id}");
        assert_eq!(stored_country(&mut conn, id), Some(Some("DE".into())));

        let (audits, g) = (
            audit_count(&mut conn),
            generation::current(&mut conn).unwrap(),
        );
        for bad in ["FRA", "D", "1X", "Deutschland"] {
            let (s, e) = t
                .as_(MIRROR_OP, "PATCH", &at, Some(json!({"country": bad})))
                .await;
            assert_eq!((s, code(&e)), (422, "invalid"), "{bad}: {e}");
            assert!(
                e["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("invalid country: "),
                "{e}"
            );
        }
        assert_eq!(stored_country(&mut conn, id), Some(Some("DE".into())));
        assert_eq!(audit_count(&mut conn), audits);
        assert_eq!(generation::current(&mut conn).unwrap(), g);

        let (s, m) = t
            .as_(MIRROR_OP, "PATCH", &at, Some(json!({"country": " jp "})))
            .await;
        assert_eq!((s, &m["country"]), (200, &json!("JP")), "{m}");
        let (before, after) = last_audit_change(&mut conn);
        assert_eq!(
            (&before["country"], &after["country"]),
            (&json!("DE"), &json!("JP"))
        );
        let g1 = generation::current(&mut conn).unwrap();
        let logged = bouncer_core::changes::since(&mut conn, g).unwrap();
        assert_eq!(
            logged.into_iter().collect::<Vec<_>>(),
            vec![(g1, vec![Change::Mirror(id)])]
        );

        let (_, m) = t
            .as_(MIRROR_OP, "PATCH", &at, Some(json!({"rating": 7})))
            .await;
        assert_eq!((&m["rating"], &m["country"]), (&json!(7), &json!("JP")));
        let (_, m) = t
            .as_(
                MIRROR_OP,
                "PATCH",
                &at,
                Some(json!({"reference": true, "country": ""})),
            )
            .await;
        assert_eq!(
            (&m["reference"], &m["country"]),
            (&json!(true), &Value::Null)
        );
        assert_eq!(
            stored_country(&mut conn, id),
            Some(None),
            "the reference flag keeps the row"
        );
        let (_, m) = t
            .as_(MIRROR_OP, "PATCH", &at, Some(json!({"reference": false})))
            .await;
        assert_eq!(m["reference"], false);
        assert_eq!(stored_country(&mut conn, id), None, "nothing set: no row");
    })
}

/// One more distinct /32 than a mirror may list.
fn too_many_networks() -> Vec<String> {
    (0..=bouncer_core::networks::MAX_NETWORKS as u32)
        .map(|i| std::net::Ipv4Addr::from(0x0A00_0000 + i).to_string())
        .collect()
}
