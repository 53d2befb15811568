//! The JSON API's mirror network: mirrors (with sentry's health and log), regions, the
//! country → region map and mirror ↔ region links.

use crate::common::*;
use bouncer_core::generation;
use bouncer_core::models::{MirrorHealth, SentryLog};
use bouncer_core::schema::{bouncer_mirror_health, mirror_location_mirror_map as map, sentry_log};
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;
use serde_json::json;

db_tests! {
    mirrors => mirrors,
    regions_and_countries => regions_and_countries,
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
