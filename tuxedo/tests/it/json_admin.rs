//! The JSON API's administration: rewrite rules, the audit log, accounts, API tokens (on
//! both APIs), and the `token add` and `rules load` commands.

use crate::common::*;
use bouncer_core::schema::bouncer_api_tokens as tokens;
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;
use serde_json::{json, Value};

db_tests! {
    rules_api_and_cli => rules_api_and_cli,
    audit_log => audit_log,
    users => users,
    tokens_on_both_apis => tokens_on_both_apis,
    concurrent_writes_queue => concurrent_writes_queue,
}

const RULE: &str = r#"[{"description": "stub to full", "conditions": [{"field": "product", "op": "prefix", "value": "firefox-stub"}], "set_product": "firefox-latest"}]"#;

fn rules_api_and_cli(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let rules: Value = serde_json::from_str(RULE).unwrap();
        let (s, r) = t.admin("PUT", "/rules", Some(rules.clone())).await;
        assert_eq!((s, r), (200, json!({"loaded": 1})));
        assert_eq!(
            last_audit(&mut conn),
            (
                ADMIN.0.into(),
                "rules.replace".into(),
                "bouncer_rewrite_rules".into()
            )
        );
        let (s, list) = t.as_(READER, "GET", "/rules", None).await;
        assert_eq!(s, 200);
        assert_eq!(list[0]["set_product"], "firefox-latest");
        assert_eq!(list[0]["conditions"], rules[0]["conditions"]);
        // One bad rule rejects the set with its index; nothing changes.
        let bad = json!([rules[0], {"conditions": [{"field": "user_agent", "op": "regex", "value": "("}], "set_os": "win"}]);
        let (s, e) = t.admin("PUT", "/rules", Some(bad)).await;
        assert_eq!((s, code(&e)), (422, "invalid_rule"));
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("rule 1:"),
            "{e}"
        );
        let (s, e) = t
            .admin("PUT", "/rules", Some(json!([{"conditions": []}])))
            .await;
        assert_eq!((s, code(&e)), (422, "invalid_rule"));
        assert_eq!(
            t.as_(READER, "GET", "/rules", None)
                .await
                .1
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let (s, _) = t.as_(RELEASE, "PUT", "/rules", Some(rules)).await;
        assert_eq!(s, 403, "rules are for admins");

        // The CLI loads the shipped go-bouncer rules.
        let mut config = bouncer_core::config::Config::default();
        config.database.url = db.url.clone();
        let shipped =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/rewrite-rules.json");
        let (n, _) = tuxedo::cli::rules_load(&config, &shipped).unwrap();
        let expected: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(&shipped).unwrap()).unwrap();
        assert_eq!(n, expected.len());
        assert_eq!(
            t.as_(READER, "GET", "/rules", None)
                .await
                .1
                .as_array()
                .unwrap()
                .len(),
            n
        );
        assert_eq!(last_audit(&mut conn).0, "cli");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.json");
        std::fs::write(&file, r#"[{"conditions": [{"field": "os", "op": "equals", "value": "x"}], "set_os": "win"}, {"conditions": [{"field": "os", "op": "equals", "value": "y"}]}]"#).unwrap();
        let err = tuxedo::cli::rules_load(&config, &file).unwrap_err();
        assert!(
            matches!(err, tuxedo::TuxedoError::InvalidRule { index: 1, .. }),
            "{err}"
        );
        std::fs::write(&file, "not json").unwrap();
        assert!(tuxedo::cli::rules_load(&config, &file).is_err());
        assert_eq!(
            t.as_(READER, "GET", "/rules", None)
                .await
                .1
                .as_array()
                .unwrap()
                .len(),
            n,
            "unchanged"
        );
    });
}

fn audit_log(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        for name in ["A", "B", "C"] {
            t.as_(RELEASE, "POST", "/products", Some(json!({"name": name})))
                .await;
        }
        t.as_(MIRROR_OP, "POST", "/regions", Some(json!({"name": "EU"})))
            .await;
        let (s, all) = t
            .as_(READER, "GET", "/audit?action=product.add", None)
            .await;
        assert_eq!(s, 200);
        let targets: Vec<&str> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["target"].as_str().unwrap())
            .collect();
        assert_eq!(
            targets,
            ["product:C", "product:B", "product:A"],
            "newest first"
        );
        assert_eq!(all[0]["after"]["name"], "C");
        assert_eq!(all[0]["before"], Value::Null);
        let (_, page) = t
            .as_(
                READER,
                "GET",
                "/audit?action=product.add&limit=1&offset=1",
                None,
            )
            .await;
        assert_eq!(page.as_array().unwrap().len(), 1);
        assert_eq!(page[0]["target"], "product:B");
        let (_, mine) = t
            .as_(
                READER,
                "GET",
                &format!("/audit?actor={}", MIRROR_OP.0),
                None,
            )
            .await;
        assert_eq!(mine.as_array().unwrap().len(), 1);
        assert_eq!(mine[0]["action"], "region.add");
        let (_, one) = t.as_(READER, "GET", "/audit?target=product:A", None).await;
        assert_eq!(one.as_array().unwrap().len(), 1);
        for bad in ["limit=0", "limit=501", "offset=-1"] {
            let (s, _) = t.as_(READER, "GET", &format!("/audit?{bad}"), None).await;
            assert_eq!(s, 422, "{bad}");
        }
        let (s, _) = t.as_(READER, "GET", "/audit?colour=red", None).await;
        assert_eq!(s, 400);
    });
}

fn users(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let (s, list) = t.admin("GET", "/users", None).await;
        assert_eq!(s, 200);
        assert_eq!(list.as_array().unwrap().len(), 4);
        assert!(list[0].get("password_hash").is_none());
        let body = json!({"username": "ci", "role": "release", "password": "ci-password-long"});
        let (s, u) = t.admin("POST", "/users", Some(body.clone())).await;
        assert_eq!((s, u["role"].as_str()), (201, Some("release")), "{u}");
        assert_eq!(last_audit(&mut conn).1, "user.add");
        let (s, e) = t.admin("POST", "/users", Some(body)).await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, _) = t
            .admin(
                "POST",
                "/users",
                Some(json!({"username": "x", "role": "root", "password": "long-enough-pass"})),
            )
            .await;
        assert_eq!(s, 422);
        let (s, _) = t
            .admin(
                "POST",
                "/users",
                Some(json!({"username": "x", "role": "release", "password": "short"})),
            )
            .await;
        assert_eq!(s, 422);
        let ci = ("ci", "ci-password-long");
        assert_eq!(
            t.as_(ci, "POST", "/products", Some(json!({"name": "P"})))
                .await
                .0,
            201
        );
        // Role change, password reset, deactivation.
        let (s, u) = t
            .admin("PATCH", "/users/ci", Some(json!({"role": "read-only"})))
            .await;
        assert_eq!((s, u["role"].as_str()), (200, Some("read-only")));
        assert_eq!(
            t.as_(ci, "POST", "/products", Some(json!({"name": "Q"})))
                .await
                .0,
            403
        );
        let (s, _) = t
            .admin(
                "PATCH",
                "/users/ci",
                Some(json!({"password": "a-brand-new-password"})),
            )
            .await;
        assert_eq!(s, 200);
        let audit = t
            .admin("GET", "/audit?action=user.update&limit=1", None)
            .await
            .1;
        assert_eq!(audit[0]["after"]["password"], "changed");
        assert!(!audit.to_string().contains("a-brand-new-password"));
        assert_eq!(t.as_(ci, "GET", "/products", None).await.0, 401);
        let ci = ("ci", "a-brand-new-password");
        assert_eq!(t.as_(ci, "GET", "/products", None).await.0, 200);
        let (s, u) = t
            .admin("PATCH", "/users/CI", Some(json!({"active": false})))
            .await;
        assert_eq!((s, u["active"].clone()), (200, json!(false)));
        assert_eq!(t.as_(ci, "GET", "/products", None).await.0, 401);
        let (s, _) = t
            .admin("PATCH", "/users/nobody", Some(json!({"active": false})))
            .await;
        assert_eq!(s, 404);
        let (s, _) = t
            .admin("PATCH", "/users/ci", Some(json!({"password": "short"})))
            .await;
        assert_eq!(s, 422);
        // The last admin stays.
        let (s, e) = t
            .admin(
                "PATCH",
                &format!("/users/{}", ADMIN.0),
                Some(json!({"role": "release"})),
            )
            .await;
        assert_eq!((s, code(&e)), (409, "conflict"));
        let (s, _) = t
            .admin(
                "PATCH",
                &format!("/users/{}", ADMIN.0),
                Some(json!({"active": false})),
            )
            .await;
        assert_eq!(s, 409);
        assert_eq!(
            t.admin("GET", "/users", None).await.0,
            200,
            "still an admin"
        );
        for who in [RELEASE, MIRROR_OP, READER] {
            assert_eq!(t.as_(who, "GET", "/users", None).await.0, 403);
            assert_eq!(t.as_(who, "GET", "/tokens", None).await.0, 403);
        }
    });
}

fn tokens_on_both_apis(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let (s, tok) = t
            .admin(
                "POST",
                "/tokens",
                Some(json!({"user": RELEASE.0, "role": "release", "name": "ci"})),
            )
            .await;
        assert_eq!(s, 201, "{tok}");
        let secret = tok["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("bnct_") && secret.len() > 40);
        assert_eq!(last_audit(&mut conn).1, "token.create");
        let id = tok["id"].as_i64().unwrap();
        // Only a hash is stored.
        let stored: String = tokens::table
            .find(id as i32)
            .select(tokens::token_hash)
            .first(&mut *conn)
            .unwrap();
        assert!(!stored.contains(&secret[5..]) && stored.len() == 64);
        // The token works on the JSON API, with its role, as its user.
        let bearer = Auth::Bearer(&secret);
        let (s, _) = t
            .call(
                "POST",
                "/products",
                bearer,
                Some(json!({"name": "ViaToken"})),
            )
            .await;
        assert_eq!(s, 201);
        assert_eq!(last_audit(&mut conn).0, RELEASE.0);
        assert_eq!(
            t.call("POST", "/regions", bearer, Some(json!({"name": "R"})))
                .await
                .0,
            403
        );
        // … and on the XML API.
        let r = t
            .client
            .post(t.url("product_add"))
            .bearer_auth(&secret)
            .form(&[("product", "ViaXml")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (_, list) = t.admin("GET", "/tokens", None).await;
        assert_eq!(list[0]["user"], RELEASE.0);
        assert!(list[0]["last_used_at"].is_string(), "{list}");
        assert!(list[0].get("secret").is_none());
        // A token's role cannot exceed its user's; its expiry must be in the future.
        let (s, e) = t
            .admin(
                "POST",
                "/tokens",
                Some(json!({"user": RELEASE.0, "role": "admin", "name": "x"})),
            )
            .await;
        assert_eq!((s, code(&e)), (422, "invalid"));
        let (s, _) = t
            .admin(
                "POST",
                "/tokens",
                Some(json!({"user": RELEASE.0, "role": "read-only", "name": "ro"})),
            )
            .await;
        assert_eq!(s, 201);
        let (s, _) = t
            .admin(
                "POST",
                "/tokens",
                Some(json!({"user": "nobody", "role": "read-only", "name": "x"})),
            )
            .await;
        assert_eq!(s, 422);
        let (s, _) = t.admin("POST", "/tokens", Some(json!({"user": RELEASE.0, "role": "release", "name": "x", "expires_at": "2000-01-01T00:00:00Z"}))).await;
        assert_eq!(s, 422);
        // Past MariaDB's TIMESTAMP range an expiry would be stored as NULL ("never").
        let (s, e) = t.admin("POST", "/tokens", Some(json!({"user": RELEASE.0, "role": "release", "name": "x", "expires_at": "2039-01-01T00:00:00Z"}))).await;
        assert_eq!((s, code(&e)), (422, "invalid"), "{e}");
        // A leap second parses, but no backend stores it (was a 500).
        let (s, e) = t.admin("POST", "/tokens", Some(json!({"user": RELEASE.0, "role": "release", "name": "x", "expires_at": "2030-06-30T23:59:60Z"}))).await;
        assert_eq!((s, code(&e)), (422, "invalid"), "{e}");
        let (s, soon) = t.admin("POST", "/tokens", Some(json!({"user": RELEASE.0, "role": "release", "name": "soon", "expires_at": "2037-01-01T00:00:00Z"}))).await;
        assert_eq!(s, 201);
        // Timestamps go out as RFC 3339 with Z (declared `date-time`): what was sent with
        // Z comes back with Z, and strict clients can parse every one of them.
        assert_eq!(soon["expires_at"], "2037-01-01T00:00:00Z", "{soon}");
        let created = soon["created_at"].as_str().unwrap();
        assert!(created.ends_with('Z'), "{created}");
        chrono::DateTime::parse_from_rfc3339(created).unwrap();
        let soon_secret = soon["secret"].as_str().unwrap().to_owned();
        assert_eq!(
            t.call("GET", "/products", Auth::Bearer(&soon_secret), None)
                .await
                .0,
            200
        );
        // Expired (as time passes): refused.
        diesel::update(tokens::table.find(soon["id"].as_i64().unwrap() as i32))
            .set(tokens::expires_at.eq(Some(
                chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1),
            )))
            .execute(&mut *conn)
            .unwrap();
        assert_eq!(
            t.call("GET", "/products", Auth::Bearer(&soon_secret), None)
                .await
                .0,
            401
        );
        // Revoked: refused.
        let (s, _) = t.admin("DELETE", &format!("/tokens/{id}"), None).await;
        assert_eq!(s, 204);
        assert_eq!(last_audit(&mut conn).1, "token.revoke");
        assert_eq!(t.call("GET", "/products", bearer, None).await.0, 401);
        let (s, _) = t.admin("DELETE", &format!("/tokens/{id}"), None).await;
        assert_eq!(s, 404);
        assert_eq!(
            t.call("GET", "/products", Auth::Bearer("bnct_guess"), None)
                .await
                .0,
            401
        );
        // A user demoted below the token's role loses it.
        let (_, rel) = t
            .admin(
                "POST",
                "/tokens",
                Some(json!({"user": RELEASE.0, "role": "release", "name": "r2"})),
            )
            .await;
        let rel = rel["secret"].as_str().unwrap().to_owned();
        t.admin(
            "PATCH",
            &format!("/users/{}", RELEASE.0),
            Some(json!({"role": "read-only"})),
        )
        .await;
        assert_eq!(
            t.call("GET", "/products", Auth::Bearer(&rel), None).await.0,
            401
        );

        // The CLI prints a working secret.
        let mut config = bouncer_core::config::Config::default();
        config.database.url = db.url.clone();
        let cli =
            tuxedo::cli::token_add(&config, MIRROR_OP.0, "mirror-operator", "ops-bot").unwrap();
        assert_eq!(
            t.call(
                "POST",
                "/regions",
                Auth::Bearer(&cli),
                Some(json!({"name": "R"}))
            )
            .await
            .0,
            201
        );
        assert!(tuxedo::cli::token_add(&config, MIRROR_OP.0, "admin", "x").is_err());
    });
}

/// Writes whose transaction reads before it writes, at the same moment: on SQLite a
/// deferred transaction cannot upgrade its lock while another writer holds it ("database
/// is locked", a 503, before the busy timeout ever applied); every one must succeed.
fn concurrent_writes_queue(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let (_, made) = t
            .admin(
                "POST",
                "/tokens",
                Some(json!({"user": ADMIN.0, "role": "admin", "name": "load"})),
            )
            .await;
        let secret = made["secret"].as_str().unwrap().to_owned();
        for round in 0..5 {
            let calls = (0..16).map(|i| {
                let (t, secret) = (&t, &secret);
                async move {
                    let body = json!({"user": ADMIN.0, "role": "read-only", "name": format!("t{round}-{i}")});
                    t.call("POST", "/tokens", Auth::Bearer(secret), Some(body)).await
                }
            });
            let answers = futures_util::future::join_all(calls).await;
            let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
            assert_eq!(statuses, vec![201; 16], "{answers:?}");
        }
    });
}
