//! Auth on every route of the JSON API, taken from its routing table: no credentials, a
//! wrong password, a role that does not grant the call, and revoked or expired tokens.

use crate::common::*;
use actix_web::http::Method;
use bouncer_core::schema::bouncer_api_tokens as tokens;
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;
use serde_json::json;
use tuxedo::auth::{users, Role};

db_tests! {
    every_route_checks_credentials_and_roles => every_route_checks_credentials_and_roles,
    bodies_must_be_json_and_writes_same_origin => bodies_must_be_json_and_writes_same_origin,
    refused_callers_never_reach_the_body_or_the_handler => refused_callers_never_reach_the_body_or_the_handler,
}

/// Who may write on `path`.
fn writers(path: &str) -> &'static [&'static str] {
    let first = path.split('/').nth(1).unwrap_or("");
    match first {
        "products" | "locations" | "oses" | "aliases" => &["release"],
        "mirrors" | "regions" | "countries" => &["mirror-operator"],
        "rules" | "users" | "tokens" => &[],
        other => panic!("route {path} ({other}) not classified"),
    }
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{language}", "de")
        .replace("{alias}", "a")
        .replace("{region}", "1")
        .replace("{code}", "DE")
        .replace("{username}", READER.0)
}

fn every_route_checks_credentials_and_roles(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        // Accounts whose passwords get guessed (one per 9 routes stays under the limit).
        for i in 0..8 {
            users::add(
                &mut conn,
                "test",
                &format!("victim{i}"),
                Role::Admin,
                "victim-password",
            )
            .unwrap();
        }
        let mut secrets = std::collections::HashMap::new();
        for (user, role) in [
            (READER.0, "read-only"),
            (RELEASE.0, "release"),
            (MIRROR_OP.0, "mirror-operator"),
            (ADMIN.0, "admin"),
            (ADMIN.0, "stats"),
        ] {
            let (_, tok) = t
                .admin(
                    "POST",
                    "/tokens",
                    Some(json!({"user": user, "role": role, "name": "t"})),
                )
                .await;
            secrets.insert(role, tok["secret"].as_str().unwrap().to_owned());
        }
        let (_, revoked) = t
            .admin(
                "POST",
                "/tokens",
                Some(json!({"user": ADMIN.0, "role": "admin", "name": "revoked"})),
            )
            .await;
        t.admin("DELETE", &format!("/tokens/{}", revoked["id"]), None)
            .await;
        let (_, expired) = t
            .admin(
                "POST",
                "/tokens",
                Some(json!({"user": ADMIN.0, "role": "admin", "name": "expired"})),
            )
            .await;
        diesel::update(tokens::table.find(expired["id"].as_i64().unwrap() as i32))
            .set(tokens::expires_at.eq(Some(chrono::Utc::now().naive_utc())))
            .execute(&mut *conn)
            .unwrap();
        let (revoked, expired) = (
            revoked["secret"].as_str().unwrap(),
            expired["secret"].as_str().unwrap(),
        );
        let before = audit_count(&mut conn);

        let routes = tuxedo::api::route_list();
        assert!(routes.len() > 40);
        let public = tuxedo::api::public_routes();
        let paths: Vec<&str> = public.iter().map(|(_, p)| *p).collect();
        assert_eq!(
            paths,
            ["/openapi.json", "/stats/popular"],
            "the routes open to anyone"
        );
        let mut writes = 0;
        for (i, (method, path)) in routes.iter().enumerate() {
            if public.contains(&(method.clone(), path)) {
                continue;
            }
            let url = concrete(path);
            let m = method.as_str();
            let what = format!("{m} {path}");
            let (s, e) = t.call(m, &url, Auth::None, None).await;
            assert_eq!(
                (s, code(&e)),
                (401, "unauthorized"),
                "{what} without credentials"
            );
            let victim = format!("victim{}", i / 9);
            let (s, _) = t
                .call(m, &url, Auth::Basic((&victim, "wrong-password")), None)
                .await;
            assert_eq!(s, 401, "{what} with a wrong password");
            for secret in [revoked, expired] {
                let (s, _) = t.call(m, &url, Auth::Bearer(secret), None).await;
                assert_eq!(s, 401, "{what} with a revoked or expired token");
            }
            let admin_only = matches!(path.split('/').nth(1), Some("users" | "tokens"));
            let stats = path.starts_with("/stats");
            if *method == Method::GET && stats {
                // Statistics: release, stats and admin; not every reader.
                for who in [READER, MIRROR_OP] {
                    let (s, e) = t.call(m, &url, Auth::Basic(who), None).await;
                    assert_eq!((s, code(&e)), (403, "forbidden"), "{what} as {}", who.0);
                }
                for who in [Auth::Basic(RELEASE), Auth::Bearer(&secrets["stats"])] {
                    let (s, _) = t.call(m, &url, who, None).await;
                    assert!(s != 401 && s != 403, "{what} as release or stats: {s}");
                }
                continue;
            }
            if *method == Method::GET && !admin_only {
                let (s, _) = t.call(m, &url, Auth::Basic(READER), None).await;
                assert!(s != 401 && s != 403, "{what} as a reader: {s}");
                continue;
            }
            writes += 1;
            let allowed = writers(path);
            for (who, role) in [
                (READER, "read-only"),
                (RELEASE, "release"),
                (MIRROR_OP, "mirror-operator"),
            ] {
                if allowed.contains(&role) {
                    continue;
                }
                let (s, e) = t.call(m, &url, Auth::Basic(who), None).await;
                assert_eq!((s, code(&e)), (403, "forbidden"), "{what} as {role}");
                let (s, _) = t.call(m, &url, Auth::Bearer(&secrets[role]), None).await;
                assert_eq!(s, 403, "{what} with a {role} token");
            }
            let (s, _) = t.call(m, &url, Auth::Bearer(&secrets["stats"]), None).await;
            assert_eq!(s, 403, "{what} with a stats token");
        }
        assert!(writes > 25, "{writes}");
        assert_eq!(audit_count(&mut conn), before, "nothing got through");
    });
}

/// Issue 13, item 5: a body is taken only as `application/json` (415 otherwise, nothing
/// written), and a browser write from another site is refused (403), so cached Basic
/// credentials cannot be used by a cross-site `<form enctype="text/plain">`.
fn bodies_must_be_json_and_writes_same_origin(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let url = format!("{}/api/v2/products", t.base);
        let host = t.base.trim_start_matches("http://").to_owned();
        let post = |name: &str| {
            t.client
                .post(&url)
                .basic_auth(RELEASE.0, Some(RELEASE.1))
                .body(json!({ "name": name }).to_string())
        };
        let content_types = [
            Some("text/plain"),
            Some("application/xml"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonp"),
            Some("not a type"),
            None,
        ];
        for ct in content_types {
            let mut req = post("Refused");
            if let Some(ct) = ct {
                req = req.header("content-type", ct);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 415, "{ct:?}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(code(&body), "unsupported_media_type", "{body}");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("application/json"),
                "{body}"
            );
        }
        // A form with no fields at all (an empty text/plain body) is refused too.
        let r = t
            .client
            .post(format!("{}/api/v2/mirrors/1/disable", t.base))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .header("content-type", "text/plain")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415);
        let (_, list) = t.admin("GET", "/products", None).await;
        assert_eq!(list, json!([]), "nothing was written");
        // application/json with parameters, and any case, is taken.
        for (i, ct) in ["application/json; charset=utf-8", "Application/JSON"]
            .iter()
            .enumerate()
        {
            let r = post(&format!("Taken-{i}"))
                .header("content-type", *ct)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201, "{ct}");
        }

        // Cross-origin browser writes: refused before anything else.
        let json = |req: reqwest::RequestBuilder| {
            req.basic_auth(RELEASE.0, Some(RELEASE.1))
                .header("content-type", "application/json")
                .body(json!({ "name": "Cross" }).to_string())
        };
        for (name, value) in [
            ("origin", "https://evil.example".to_owned()),
            ("origin", "null".to_owned()),
            ("origin", format!("http://{host}.evil.example")),
            ("sec-fetch-site", "cross-site".to_owned()),
        ] {
            let r = json(t.client.post(&url))
                .header(name, &value)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{name}: {value}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(code(&body), "cross_origin", "{body}");
        }
        let (_, list) = t.admin("GET", "/products", None).await;
        assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
        // The same origin (the UI's own pages, a same-origin tool) and reads pass.
        let r = json(t.client.post(&url))
            .header("origin", &t.base)
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let r = t
            .client
            .get(&url)
            .basic_auth(READER.0, Some(READER.1))
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    })
}

/// The caller is checked before anything else: a role that may not write is refused 403
/// (not 415 or 413 for the body it sent, which is never read), an anonymous write 401, on
/// both APIs, and nothing is written (no audit entry).
fn refused_callers_never_reach_the_body_or_the_handler(db: &TestDb) {
    block_on(async {
        let t = start(db, |c| c.tuxedo.max_body_bytes = 64);
        let mut conn = db.conn();
        let before = audit_count(&mut conn);
        let big = "x".repeat(4096);
        for (auth, status) in [(Some(READER), 403), (Some(MIRROR_OP), 403), (None, 401)] {
            let mut req = t
                .client
                .post(format!("{}/api/v2/products", t.base))
                .header("content-type", "text/plain")
                .body(big.clone());
            if let Some((user, password)) = auth {
                req = req.basic_auth(user, Some(password));
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), status, "JSON as {auth:?}");
            let mut req = t
                .client
                .post(t.url("product_add"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("product=Refused&junk={big}"));
            if let Some((user, password)) = auth {
                req = req.basic_auth(user, Some(password));
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), status, "XML as {auth:?}");
        }
        assert_eq!(audit_count(&mut conn), before, "a refused call wrote");
    })
}
