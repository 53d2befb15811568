//! Auth on the XML API: credentials, roles, GET policy, failed-login limit, accounts.

use crate::common::*;
use bouncer_test_support::{db_tests, TestDb};
use tuxedo::auth::{users, Role};

const WRITES: [&str; 8] = [
    "product_add",
    "product_delete",
    "product_language_add",
    "product_language_delete",
    "location_add",
    "location_modify",
    "location_delete",
    "create_update_alias",
];
const READS: [&str; 4] = ["product_show", "location_show", "uptake", "mirror_list"];

db_tests! {
    every_write_needs_the_right_role => every_write_needs_the_right_role,
    gets_follow_the_setting => gets_follow_the_setting,
    failed_logins_are_limited => failed_logins_are_limited,
    a_locked_account_has_no_spelling_variants => a_locked_account_has_no_spelling_variants,
    accounts => accounts,
    unknown_accounts_cost_a_password_check => unknown_accounts_cost_a_password_check,
    cross_origin_writes_are_refused => cross_origin_writes_are_refused,
    a_login_flood_is_bounded_and_writes_go_on => login_flood,
}

/// Wrong logins for unknown accounts from 48 connections at once (the outside test's
/// flood) while release automation writes with its Basic credentials, on a master pool of
/// one connection: the checks never run more than `login_workers` at once (memory: 19 MiB
/// each), no check holds the connection, and every write is answered 200. Refused logins
/// are 401 or, once the queue is full, 503 at once.
fn login_flood(db: &TestDb) {
    block_on(async {
        let t = start(db, |c| {
            c.database.pool_size = 1;
            c.tuxedo.login_workers = 2;
            c.tuxedo.login_queue = 8;
        });
        // The release account has logged in before (as it does all day).
        assert_eq!(t.post("product_add", &[("product", "Warm")]).await.0, 200);
        let flood = (0..48).map(|i| {
            let (c, url) = (t.client.clone(), format!("{}/api/v2/products", t.base));
            async move {
                let mut statuses = Vec::new();
                for _ in 0..4 {
                    let r = c
                        .get(&url)
                        .basic_auth(format!("nouser{i}"), Some("x"))
                        .send();
                    statuses.push(r.await.unwrap().status().as_u16());
                }
                statuses
            }
        });
        let writes = async {
            let mut statuses = Vec::new();
            for i in 0..10 {
                let form = [("product", format!("During-flood-{i}"))];
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                statuses.push(t.post("product_add", &form).await);
            }
            statuses
        };
        let (flooded, written) = tokio::join!(futures_util::future::join_all(flood), writes);
        for (status, body) in &written {
            assert_eq!(*status, 200, "a legitimate write during the flood: {body}");
        }
        let refused: Vec<u16> = flooded.into_iter().flatten().collect();
        assert!(
            refused.iter().all(|s| [401, 503].contains(s)),
            "{refused:?}"
        );
        let m = t.metrics().await;
        let peak: f64 = m
            .lines()
            .find_map(|l| l.strip_prefix("tuxedo_login_checks_peak "))
            .expect("the peak is exported")
            .parse()
            .unwrap();
        assert!((1.0..=2.0).contains(&peak), "{peak} checks ran at once");
    });
}

fn every_write_needs_the_right_role(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let form = [
            ("product", "Guarded"),
            ("os", "win"),
            ("path", "/p"),
            ("alias", "a"),
            ("related_product", "Guarded"),
            ("languages", "de"),
            ("location_id", "1"),
        ];
        for cmd in WRITES {
            let r = t.client.post(t.url(cmd)).form(&form).send().await.unwrap();
            assert_eq!(r.status(), 401, "{cmd} without credentials");
            assert_eq!(r.headers()["www-authenticate"], r#"Basic realm="tuxedo""#);
            let (status, _) = t.post_as(cmd, &form, Some((RELEASE.0, "wrong"))).await;
            assert_eq!(status, 401, "{cmd} with a wrong password");
            let (status, _) = t.post_as(cmd, &form, Some(("nobody", "whatever"))).await;
            assert_eq!(status, 401, "{cmd} as an unknown user");
            for who in [READER, MIRROR_OP] {
                let (status, _) = t.post_as(cmd, &form, Some(who)).await;
                assert_eq!(status, 403, "{cmd} as {}", who.0);
            }
        }
        // Nothing got through.
        assert_eq!(
            t.get("product_show", &[("product", "Guarded")]).await.1,
            format!("{DECL}<products/>")
        );
        // The release role (password with colons) may write.
        assert_eq!(
            t.post("product_add", &[("product", "Guarded")]).await.0,
            200
        );
    });
}

fn gets_follow_the_setting(db: &TestDb) {
    block_on(async {
        let open = start(db, |_| {});
        for cmd in READS {
            let (status, _) = open.get(cmd, &[("product", "x"), ("os", "win")]).await;
            assert_ne!(status, 401, "{cmd} is open by default");
        }
        let closed = start_again(db, |c| c.tuxedo.get_requires_auth = true);
        for cmd in READS {
            let query = [("product", "x"), ("os", "win")];
            let r = closed
                .client
                .get(closed.url(cmd))
                .query(&query)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{cmd} needs credentials");
            let r = closed
                .client
                .get(closed.url(cmd))
                .query(&query)
                .basic_auth(READER.0, Some(READER.1))
                .send()
                .await
                .unwrap();
            assert_ne!(r.status().as_u16(), 401, "{cmd} as a reader");
            assert_ne!(r.status().as_u16(), 403, "{cmd} as a reader");
        }
    });
}

/// A second tuxedo on a database `start` already seeded.
fn start_again(db: &TestDb, tweak: impl FnOnce(&mut bouncer_core::config::Config)) -> Tux {
    let mut config = bouncer_core::config::Config::default();
    config.database.url = db.url.clone();
    tweak(&mut config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let app = tuxedo::build(config, listener, std::future::pending()).unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Tux {
        base,
        client: reqwest::Client::new(),
    }
}

fn failed_logins_are_limited(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let form = [("product", "Limited")];
        for _ in 0..tuxedo::MAX_LOGIN_FAILURES {
            assert_eq!(
                t.post_as("product_add", &form, Some((RELEASE.0, "guess")))
                    .await
                    .0,
                401
            );
        }
        // Locked out now, even with the right password; Retry-After says for how long.
        let r = t
            .client
            .post(t.url("product_add"))
            .basic_auth(RELEASE.0, Some(RELEASE.1))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert_retry_after(&r);
        let r = t
            .client
            .get(format!("{}/api/v2/products", t.base))
            .basic_auth(RELEASE.0, Some(RELEASE.1))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        assert_retry_after(&r);
        // Another account from the same address is not affected.
        assert_eq!(t.post_as("product_add", &form, Some(READER)).await.0, 403);
    });
}

/// One definition of the same name on both backends (ASCII case folding only): MariaDB's
/// collation would take `releng ` or `rélèng` for `releng`, each with its own budget of
/// failed logins. They are other, unknown names; a case variant is the same account and
/// shares its lockout.
fn a_locked_account_has_no_spelling_variants(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let form = [("product", "Variant")];
        let (user, password) = RELEASE;
        let trailing = format!("{user} ");
        let accented = user.replacen('e', "é", 1);
        for variant in [trailing.as_str(), accented.as_str()] {
            assert_eq!(
                t.post_as("product_add", &form, Some((variant, password)))
                    .await
                    .0,
                401,
                "{variant:?} is not {user:?}"
            );
        }
        for _ in 0..tuxedo::MAX_LOGIN_FAILURES {
            t.post_as("product_add", &form, Some((user, "guess"))).await;
        }
        let upper = user.to_ascii_uppercase();
        assert_eq!(
            t.post_as("product_add", &form, Some((upper.as_str(), password)))
                .await
                .0,
            429,
            "a case variant is the same, locked account"
        );
        // The XML API's product names follow the same rule.
        assert_eq!(
            t.post_as("product_add", &[("product", "firefox")], Some(ADMIN))
                .await
                .0,
            200
        );
        let (_, shown) = t.get("product_show", &[("product", "fírefox")]).await;
        assert!(!shown.contains("name=\"firefox\""), "{shown}");
        let (_, shown) = t.get("product_show", &[("product", "FIREFOX")]).await;
        assert!(shown.contains("name=\"firefox\""), "{shown}");
    });
}

fn accounts(db: &TestDb) {
    let mut conn = db.conn();
    // First start: an admin with a one-time password; later starts create nothing.
    let password = users::bootstrap(&mut conn).unwrap().expect("admin created");
    assert!(password.len() >= 20);
    let admin = users::verify(&mut conn, "admin", &password)
        .unwrap()
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(users::bootstrap(&mut conn).unwrap(), None);
    assert_eq!(users::verify(&mut conn, "admin", "wrong").unwrap(), None);
    // The CLI reads the password from stdin.
    let mut config = bouncer_core::config::Config::default();
    config.database.url = db.url.clone();
    let stdin = std::io::Cursor::new("correct:horse:battery\nignored\n");
    tuxedo::cli::user_add(&config, "ops", "mirror-operator", stdin).unwrap();
    let ops = users::verify(&mut conn, "OPS", "correct:horse:battery")
        .unwrap()
        .unwrap();
    assert_eq!(
        (ops.username.as_str(), ops.role),
        ("ops", Role::MirrorOperator)
    );
    let again = std::io::Cursor::new("another-long-password\n");
    let err = tuxedo::cli::user_add(&config, "ops", "release", again).unwrap_err();
    assert!(matches!(err, tuxedo::TuxedoError::UserExists(_)), "{err}");
    let short = std::io::Cursor::new("short\n");
    assert!(tuxedo::cli::user_add(&config, "x", "release", short).is_err());
    let bad_role = std::io::Cursor::new("long-enough-password\n");
    assert!(tuxedo::cli::user_add(&config, "y", "root", bad_role).is_err());
    // Only a hash is stored.
    use diesel::prelude::*;
    let hash: String = bouncer_core::schema::bouncer_users::table
        .filter(bouncer_core::schema::bouncer_users::username.eq("ops"))
        .select(bouncer_core::schema::bouncer_users::password_hash)
        .first(&mut *conn)
        .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains("horse"));
}

/// Issue 13, item 3: an unknown (or inactive) account is checked against a dummy hash, so
/// it costs the same argon2 verification as a known account with a wrong password, and
/// timing does not reveal which accounts exist (counted, not timed).
fn unknown_accounts_cost_a_password_check(db: &TestDb) {
    let mut conn = db.conn();
    users::add(&mut conn, "test", "boss", Role::Admin, "boss-password!").unwrap();
    users::add(&mut conn, "test", "known", Role::Release, "known-password").unwrap();
    users::add(&mut conn, "test", "gone", Role::Release, "gone-password!").unwrap();
    let patch = users::UserPatch {
        active: Some(false),
        ..Default::default()
    };
    users::update(&mut conn, "test", "gone", &patch).unwrap();
    let checks = |conn: &mut bouncer_core::db::DbConnection, user: &str, password: &str| {
        let before = users::password_checks_on_this_thread();
        assert_eq!(users::verify(conn, user, password).unwrap(), None, "{user}");
        users::password_checks_on_this_thread() - before
    };
    assert_eq!(checks(&mut conn, "known", "wrong-password"), 1);
    assert_eq!(checks(&mut conn, "nobody", "wrong-password"), 1);
    assert_eq!(checks(&mut conn, "gone", "gone-password!"), 1);
    assert_eq!(checks(&mut conn, "", ""), 1);
}

/// Issue 13, item 5: an XML API write a browser sends from another site is refused (403,
/// nothing written); the release client, which sends no `Origin`, and reads pass.
fn cross_origin_writes_are_refused(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        for (name, value) in [
            ("origin", "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let r = t
                .client
                .post(t.url("product_add"))
                .basic_auth(RELEASE.0, Some(RELEASE.1))
                .header(name, value)
                .form(&[("product", "Cross")])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{name}: {value}");
            assert!(r.text().await.unwrap().contains("cross-origin"));
        }
        assert_eq!(
            t.get("product_show", &[("product", "Cross")]).await.1,
            format!("{DECL}<products/>")
        );
        let r = t
            .client
            .post(t.url("product_add"))
            .basic_auth(RELEASE.0, Some(RELEASE.1))
            .header("origin", &t.base)
            .form(&[("product", "Cross")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = t
            .client
            .get(t.url("product_show"))
            .query(&[("product", "Cross")])
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    })
}

/// A `Retry-After` of whole seconds within the failed-login window.
fn assert_retry_after(r: &reqwest::Response) {
    let secs: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=tuxedo::LOGIN_WINDOW.as_secs()).contains(&secs),
        "{secs}"
    );
}
