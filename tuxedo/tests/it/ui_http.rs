//! The web UI over real HTTP (a browser's cookie jar, following redirects) on MariaDB and
//! SQLite: login and logout, CSRF, roles, and every kind of create/edit/delete action,
//! checked in the pages and in the database through the catalogue functions.

use crate::common::*;
use bouncer_test_support::{db_tests, TestDb};
use tuxedo::catalogue::{aliases, files, locations, mirrors, product_edit, products, regions};

db_tests! {
    ui_login_logout_and_csrf => login_logout_and_csrf,
    ui_roles => roles,
    ui_catalogue_actions => catalogue_actions,
    ui_network_actions => network_actions,
    ui_accounts => accounts,
    ui_cookie_flags => cookie_flags,
    ui_password_change_ends_sessions => password_change_ends_sessions,
    ui_every_field_at_and_past_its_limit => every_field_at_and_past_its_limit,
    ui_gated_flips => gated_flips,
    ui_refused_roles_write_nothing => refused_roles_write_nothing,
    ui_location_files => location_files,
    ui_mirror_reference => mirror_reference,
    ui_mirror_networks => mirror_networks,
    ui_mirror_vantages => mirror_vantages,
}

/// A browser: a cookie store and the CSRF token of the last page it saw.
struct Browser {
    base: String,
    client: reqwest::Client,
    csrf: String,
}

/// What a request ended on after redirects.
struct Page {
    status: u16,
    path: String,
    body: String,
}

impl Browser {
    fn new(t: &Tux) -> Self {
        Self {
            base: t.base.clone(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .unwrap(),
            csrf: String::new(),
        }
    }

    async fn done(&mut self, r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let path = r.url().path().to_owned();
        let body = r.text().await.unwrap();
        if let Some(t) = csrf_of(&body) {
            self.csrf = t;
        }
        Page { status, path, body }
    }

    async fn get(&mut self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        self.done(r).await
    }

    /// Posts `form` with the current CSRF token.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let csrf = self.csrf.clone();
        fields.push(("csrf", &csrf));
        self.post_raw(path, &fields).await
    }

    async fn post_raw(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        self.done(r).await
    }

    async fn login(&mut self, (user, password): (&str, &str)) -> Page {
        let p = self.get("/ui/login").await;
        assert_eq!(p.status, 200, "{}", p.body);
        self.post("/ui/login", &[("username", user), ("password", password)])
            .await
    }
}

fn csrf_of(body: &str) -> Option<String> {
    let marker = r#"name="csrf" value=""#;
    let at = body.find(marker)? + marker.len();
    Some(body[at..].split('"').next()?.to_owned())
}

fn login_logout_and_csrf(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut b = Browser::new(&t);
        // Not logged in: every page leads to the login form; / leads to the UI.
        let p = b.get("/ui/products").await;
        assert_eq!((p.status, p.path.as_str()), (200, "/ui/login"));
        assert_eq!(b.get("/").await.path, "/ui/login");
        // Wrong password: 401 and a message; the login form itself needs its token.
        b.get("/ui/login").await;
        let p = b
            .post(
                "/ui/login",
                &[("username", RELEASE.0), ("password", "nope")],
            )
            .await;
        assert_eq!(p.status, 401);
        assert!(p.body.contains("Wrong username or password"), "{}", p.body);
        let p = b
            .post_raw(
                "/ui/login",
                &[("username", RELEASE.0), ("password", RELEASE.1)],
            )
            .await;
        assert_eq!(p.status, 403);
        assert!(p.body.contains("CSRF"), "{}", p.body);
        // Logged in: the product list, with the user shown.
        let p = b.login(RELEASE).await;
        assert_eq!((p.status, p.path.as_str()), (200, "/ui/products"));
        assert!(p.body.contains(RELEASE.0));
        // A form without (or with a wrong) CSRF token is refused and changes nothing.
        let p = b.post_raw("/ui/products", &[("name", "NoToken")]).await;
        assert_eq!(p.status, 403);
        assert!(p.body.contains("no valid CSRF token"), "{}", p.body);
        let p = b
            .post_raw("/ui/products", &[("name", "NoToken"), ("csrf", "forged")])
            .await;
        assert_eq!(p.status, 403);
        assert!(
            products::find(&mut db.conn(), tuxedo::catalogue::Match::Exact("NoToken"))
                .unwrap()
                .is_empty()
        );
        // Logout ends the session on the server: the old cookie no longer works.
        let p = b.post("/ui/logout", &[]).await;
        assert_eq!(p.path, "/ui/login");
        assert_eq!(b.get("/ui/products").await.path, "/ui/login");
        // The failed-login limit applies to the form too.
        let mut last = 0;
        for _ in 0..=tuxedo::MAX_LOGIN_FAILURES {
            b.get("/ui/login").await;
            last = b
                .post(
                    "/ui/login",
                    &[("username", READER.0), ("password", "wrong")],
                )
                .await
                .status;
        }
        assert_eq!(last, 429);
        let p = b.login(READER).await;
        assert_eq!(p.status, 429, "locked out even with the right password");
        // The 429 says when to retry (issue 13, item 10).
        b.get("/ui/login").await;
        let csrf = b.csrf.clone();
        let r = b
            .client
            .post(format!("{}/ui/login", b.base))
            .form(&[
                ("username", READER.0),
                ("password", READER.1),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        let secs: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=tuxedo::LOGIN_WINDOW.as_secs()).contains(&secs),
            "{secs}"
        );
    })
}

fn roles(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut reader = Browser::new(&t);
        reader.login(READER).await;
        // Read pages work; write pages and actions are 403.
        for path in [
            "/ui/products",
            "/ui/mirrors",
            "/ui/aliases",
            "/ui/regions",
            "/ui/audit",
            "/ui/rules",
        ] {
            assert_eq!(reader.get(path).await.status, 200, "{path}");
        }
        for path in [
            "/ui/products/new",
            "/ui/mirrors/new",
            "/ui/users",
            "/ui/tokens",
            "/ui/stats",
        ] {
            let p = reader.get(path).await;
            assert_eq!(p.status, 403, "{path}");
            assert!(p.body.contains("Your role may not"), "{}", p.body);
        }
        assert!(!reader.get("/ui/products").await.body.contains("/ui/stats"));
        // Statistics: release (and stats, admin) may read them; a bad date is the form's.
        let mut release = Browser::new(&t);
        release.login(RELEASE).await;
        let p = release.get("/ui/stats").await;
        assert_eq!(p.status, 200, "{}", p.body);
        assert!(p.body.contains("No downloads counted"), "{}", p.body);
        let p = release.get("/ui/stats?from=yesterday").await;
        assert!(p.body.contains("a date YYYY-MM-DD"), "{}", p.body);
        reader.get("/ui/products").await;
        let p = reader.post("/ui/products", &[("name", "Sneaky")]).await;
        assert_eq!(p.status, 403);
        let p = reader
            .post(
                "/ui/mirrors",
                &[("name", "m"), ("baseurl", "https://m.example")],
            )
            .await;
        assert_eq!(p.status, 403);
        // The list shows no write buttons to a reader.
        assert!(!reader
            .get("/ui/products")
            .await
            .body
            .contains("New product"));

        // A mirror operator cannot touch the catalogue; release cannot touch mirrors.
        let mut op = Browser::new(&t);
        op.login(MIRROR_OP).await;
        assert_eq!(op.get("/ui/products/new").await.status, 403);
        assert_eq!(op.get("/ui/mirrors/new").await.status, 200);
        let mut rel = Browser::new(&t);
        rel.login(RELEASE).await;
        assert_eq!(rel.get("/ui/mirrors/new").await.status, 403);
        assert_eq!(rel.get("/ui/users").await.status, 403);
        assert!(!rel.get("/ui/products").await.body.contains("/ui/users"));
        let mut admin = Browser::new(&t);
        admin.login(ADMIN).await;
        assert_eq!(admin.get("/ui/users").await.status, 200);
        assert!(admin.get("/ui/products").await.body.contains("/ui/users"));

        // Demoting an account takes effect on its open session at once.
        let p = admin
            .post(
                "/ui/users/update",
                &[
                    ("username", RELEASE.0),
                    ("role", "read-only"),
                    ("active", "1"),
                ],
            )
            .await;
        assert!(p.body.contains("Account releng saved"), "{}", p.body);
        assert_eq!(rel.get("/ui/products/new").await.status, 403);
        // Deactivating it ends the session.
        admin
            .post(
                "/ui/users/update",
                &[("username", RELEASE.0), ("role", "read-only")],
            )
            .await;
        assert_eq!(rel.get("/ui/products").await.path, "/ui/login");
    })
}

fn catalogue_actions(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut b = Browser::new(&t);
        b.login(RELEASE).await;
        b.get("/ui/products/new").await;
        let p = b
            .post(
                "/ui/products",
                &[("name", "Firefox-150.0"), ("languages", "en-US, de fr")],
            )
            .await;
        assert_eq!(p.status, 200);
        assert!(
            p.body.contains("Product Firefox-150.0 created."),
            "{}",
            p.body
        );
        let id: i32 = p.path.rsplit('/').next().unwrap().parse().unwrap();
        let view = product_edit::get(&mut db.conn(), id).unwrap();
        assert_eq!(view.languages, ["de", "en-US", "fr"]);
        // A validation error is shown on the form's page.
        b.get("/ui/products/new").await;
        let p = b.post("/ui/products", &[("name", "firefox-150.0")]).await;
        assert_eq!(p.path, "/ui/products/new");
        assert!(p.body.contains("already exists"), "{}", p.body);
        let p = b.post("/ui/products", &[("name", "  ")]).await;
        assert!(p.body.contains("product name is empty"), "{}", p.body);

        // Flags, languages, locations.
        let at = format!("/ui/products/{id}");
        b.get(&at).await;
        let p = b
            .post(
                &at,
                &[
                    ("name", "Firefox-150.0"),
                    ("active", "1"),
                    ("ssl_only", "1"),
                ],
            )
            .await;
        assert!(
            p.body.contains("Product Firefox-150.0 saved."),
            "{}",
            p.body
        );
        let v = product_edit::get(&mut db.conn(), id).unwrap();
        assert!(v.active && v.ssl_only && !v.checknow);
        b.post(&format!("{at}/languages"), &[("languages", "ja")])
            .await;
        let p = b
            .post(&format!("{at}/languages/delete"), &[("language", "de")])
            .await;
        assert!(p.body.contains("Removed de"), "{}", p.body);
        let v = product_edit::get(&mut db.conn(), id).unwrap();
        assert_eq!(v.languages, ["en-US", "fr", "ja"]);
        let p = b
            .post(
                &format!("{at}/locations"),
                &[("os", "win64"), ("path", "/f/150/win64/:lang/setup.exe")],
            )
            .await;
        assert!(p.body.contains("Location on win64 added."), "{}", p.body);
        let p = b
            .post(
                &format!("{at}/locations"),
                &[("os", "nosuchos"), ("path", "/x")],
            )
            .await;
        assert!(
            p.body.contains("os &quot;nosuchos&quot; not found"),
            "{}",
            p.body
        );
        let locs = locations::of(&mut db.conn(), products::ProductRef::Id(id))
            .unwrap()
            .locations;
        assert_eq!(locs.len(), 1);
        let loc = locs[0].id.to_string();
        let pid = id.to_string();
        b.post(
            &format!("/ui/locations/{loc}"),
            &[("path", "/f/150/new.exe"), ("product", &pid)],
        )
        .await;
        let locs = locations::of(&mut db.conn(), products::ProductRef::Id(id))
            .unwrap()
            .locations;
        assert_eq!(locs[0].path, "/f/150/new.exe");

        // Uptake: one of two mirrors (by rating) serves the file.
        let mut conn = db.conn();
        let m1 = add_mirror(&mut conn, "m1", 30, true);
        let m2 = add_mirror(&mut conn, "m2", 10, true);
        set_map(&mut conn, locs[0].id, m1, true, true);
        set_map(&mut conn, locs[0].id, m2, true, false);
        let p = b.get(&at).await;
        assert!(p.body.contains("width: 75%"), "{}", p.body);
        let p = b.get("/ui/uptake?product=firefox-150&os=").await;
        assert!(
            p.body.contains("75 %") && p.body.contains("30 / 40"),
            "{}",
            p.body
        );

        // Aliases: create, repoint, refuse a product's name, delete.
        b.get("/ui/aliases").await;
        let p = b
            .post(
                "/ui/aliases",
                &[
                    ("alias", "firefox-latest"),
                    ("related_product", "Firefox-150.0"),
                ],
            )
            .await;
        assert!(
            p.body
                .contains("Alias firefox-latest now points at Firefox-150.0."),
            "{}",
            p.body
        );
        products::add(&mut conn, "test", "Firefox-151.0", &[], false).unwrap();
        b.post(
            "/ui/aliases",
            &[
                ("alias", "firefox-latest"),
                ("related_product", "Firefox-151.0"),
            ],
        )
        .await;
        let list = aliases::list(&mut conn).unwrap();
        assert_eq!(list[0].related_product, "Firefox-151.0");
        let p = b
            .post(
                "/ui/aliases",
                &[
                    ("alias", "Firefox-150.0"),
                    ("related_product", "Firefox-151.0"),
                ],
            )
            .await;
        assert!(p.body.contains("is the name of a product"), "{}", p.body);
        b.post("/ui/aliases/delete", &[("alias", "firefox-latest")])
            .await;
        assert!(aliases::list(&mut conn).unwrap().is_empty());

        // Search and filters.
        let p = b
            .get("/ui/products?search=151&active=&ssl_only=&checknow=")
            .await;
        assert!(p.body.contains("Firefox-151.0") && !p.body.contains(">Firefox-150.0<"));
        let p = b
            .get("/ui/products?search=&active=yes&ssl_only=yes&checknow=")
            .await;
        assert!(
            p.body.contains(">Firefox-150.0<") && !p.body.contains("Firefox-151.0"),
            "{}",
            p.body
        );

        // Location and product delete (after the confirmation page).
        b.post(&format!("/ui/locations/{loc}/delete"), &[("product", &pid)])
            .await;
        assert!(locations::of(&mut conn, products::ProductRef::Id(id))
            .unwrap()
            .locations
            .is_empty());
        let p = b.get(&format!("{at}/delete")).await;
        assert!(
            p.body.contains("Delete product Firefox-150.0"),
            "{}",
            p.body
        );
        let p = b.post(&format!("{at}/delete"), &[]).await;
        assert_eq!(p.path, "/ui/products");
        assert!(p.body.contains("Product Firefox-150.0 deleted."));
        assert_eq!(b.get(&at).await.status, 404);
        // Every change was audited under the UI user.
        let p = b
            .get("/ui/audit?actor=releng&action=product.delete&target=")
            .await;
        assert!(p.body.contains("product.delete"), "{}", p.body);
    })
}

fn network_actions(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut b = Browser::new(&t);
        b.login(MIRROR_OP).await;
        b.get("/ui/mirrors/new").await;
        let p = b
            .post(
                "/ui/mirrors",
                &[
                    ("name", "mirror.example"),
                    ("baseurl", "https://mirror.example/pub"),
                    ("rating", "50"),
                    ("active", "1"),
                ],
            )
            .await;
        assert!(
            p.body.contains("Mirror mirror.example added."),
            "{}",
            p.body
        );
        let id: i32 = p.path.rsplit('/').next().unwrap().parse().unwrap();
        let p = b
            .post(
                "/ui/mirrors",
                &[
                    ("name", "bad"),
                    ("baseurl", "https://b.example"),
                    ("rating", "many"),
                ],
            )
            .await;
        assert!(p.body.contains("invalid rating"), "{}", p.body);
        // The list shows health at a glance (never checked = up at 100 %).
        let p = b.get("/ui/mirrors").await;
        assert!(
            p.body.contains("state up") && p.body.contains("100 %"),
            "{}",
            p.body
        );
        let p = b.post(&format!("/ui/mirrors/{id}/disable"), &[]).await;
        assert!(p.body.contains("Mirror mirror.example disabled."));
        assert!(!mirrors::get(&mut db.conn(), id).unwrap().active);
        let at = format!("/ui/mirrors/{id}");
        b.get(&at).await;
        b.post(
            &at,
            &[
                ("name", "mirror.example"),
                ("baseurl", "https://mirror.example/pub"),
                ("rating", "70"),
                ("active", "1"),
            ],
        )
        .await;
        let m = mirrors::get(&mut db.conn(), id).unwrap();
        assert_eq!((m.rating, m.active), (70, true));

        // Regions, a country, a mirror ↔ region link.
        b.get("/ui/regions").await;
        let p = b
            .post(
                "/ui/regions",
                &[
                    ("name", "Europe"),
                    ("priority", "1"),
                    ("throttle", "100"),
                    ("fallback_id", ""),
                ],
            )
            .await;
        assert!(p.body.contains("Region Europe added."), "{}", p.body);
        let region = regions::list(&mut db.conn()).unwrap()[0].id.to_string();
        let p = b
            .post(
                "/ui/countries",
                &[
                    ("code", "de"),
                    ("country_name", "Germany"),
                    ("region_id", &region),
                ],
            )
            .await;
        assert!(p.body.contains("DE is now in Europe."), "{}", p.body);
        b.post(&format!("{at}/regions"), &[("region_id", &region)])
            .await;
        assert_eq!(
            mirrors::get(&mut db.conn(), id).unwrap().regions,
            ["Europe"]
        );
        b.post(&format!("{at}/regions/delete"), &[("region_id", &region)])
            .await;
        assert!(mirrors::get(&mut db.conn(), id).unwrap().regions.is_empty());
        b.post("/ui/countries/delete", &[("code", "DE")]).await;
        b.post(&format!("/ui/regions/{region}/delete"), &[]).await;
        assert!(regions::list(&mut db.conn()).unwrap().is_empty());
        // Delete after confirmation.
        assert_eq!(b.get(&format!("{at}/delete")).await.status, 200);
        let p = b.post(&format!("{at}/delete"), &[]).await;
        assert_eq!(p.path, "/ui/mirrors");
        assert!(mirrors::list(&mut db.conn()).unwrap().is_empty());
    })
}

fn accounts(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut b = Browser::new(&t);
        b.login(ADMIN).await;
        b.get("/ui/users").await;
        let p = b
            .post(
                "/ui/users",
                &[
                    ("username", "newbie"),
                    ("role", "release"),
                    ("password", "short"),
                ],
            )
            .await;
        assert!(p.body.contains("shorter than 12"), "{}", p.body);
        let p = b
            .post(
                "/ui/users",
                &[
                    ("username", "newbie"),
                    ("role", "release"),
                    ("password", "long-enough-pw"),
                ],
            )
            .await;
        assert!(p.body.contains("Account newbie created."), "{}", p.body);
        let mut newbie = Browser::new(&t);
        assert_eq!(
            newbie.login(("newbie", "long-enough-pw")).await.path,
            "/ui/products"
        );
        // A token's secret is shown once; revoking it works.
        b.get("/ui/tokens").await;
        let p = b
            .post(
                "/ui/tokens",
                &[
                    ("name", "ci"),
                    ("user", "newbie"),
                    ("role", "release"),
                    ("expires", ""),
                ],
            )
            .await;
        assert!(p.body.contains("shown only now: bnct_"), "{}", p.body);
        assert!(!b.get("/ui/tokens").await.body.contains("bnct_"));
        let tokens = tuxedo::auth::tokens::list(&mut db.conn()).unwrap();
        assert_eq!(tokens.len(), 1);
        b.post(&format!("/ui/tokens/{}/delete", tokens[0].id), &[])
            .await;
        assert!(tuxedo::auth::tokens::list(&mut db.conn())
            .unwrap()
            .is_empty());
        // Rules: an invalid set is refused with its reason.
        b.get("/ui/rules").await;
        let p = b
            .post("/ui/rules", &[("rules", r#"[{"conditions": []}]"#)])
            .await;
        assert!(p.body.contains("rule 0"), "{}", p.body);
        let rule = r#"[{"description": "XP to ESR", "conditions": [{"field": "user_agent", "op": "contains", "value": "Windows NT 5.1"}], "set_product": "firefox-esr-latest"}]"#;
        let p = b.post("/ui/rules", &[("rules", rule)]).await;
        assert!(p.body.contains("1 rules stored."), "{}", p.body);
        assert!(p.body.contains("XP to ESR") && p.body.contains("firefox-esr-latest"));
        // The replace form starts from the stored set, which round-trips unchanged.
        let json = tuxedo::catalogue::rules::list(&mut db.conn()).unwrap();
        assert_eq!(json.len(), 1);
        let p = b.get("/ui/rules").await;
        let start = p.body.find("<textarea").unwrap();
        let text = &p.body
            [p.body[start..].find('>').unwrap() + start + 1..p.body.find("</textarea>").unwrap()];
        let text = text.replace("&quot;", "\"");
        let specs: Vec<bouncer_core::rules::RuleSpec> = serde_json::from_str(&text).unwrap();
        assert_eq!(specs[0].set_product.as_deref(), Some("firefox-esr-latest"));
    })
}

/// The session cookie of a login, over plain http or behind a TLS front.
async fn session_cookie(t: &Tux, forwarded_proto: Option<&str>) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(format!("{}/ui/login", t.base))
        .send()
        .await
        .unwrap();
    let login_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(login_cookie.starts_with("tuxedo_login="), "{login_cookie}");
    let pair = login_cookie.split(';').next().unwrap().to_owned();
    let token = pair.trim_start_matches("tuxedo_login=").to_owned();
    let mut req = client
        .post(format!("{}/ui/login", t.base))
        .header("cookie", pair)
        .form(&[
            ("username", ADMIN.0),
            ("password", ADMIN.1),
            ("csrf", &token),
        ]);
    if let Some(p) = forwarded_proto {
        req = req.header("x-forwarded-proto", p);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tuxedo_session="))
        .expect("a session cookie")
}

fn cookie_flags(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let plain = session_cookie(&t, None).await;
        for flag in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
            assert!(plain.contains(flag), "{plain}");
        }
        assert!(!plain.contains("Secure"), "{plain}");
        let behind_tls = session_cookie(&t, Some("https")).await;
        assert!(
            behind_tls.contains("Secure") && behind_tls.contains("HttpOnly"),
            "{behind_tls}"
        );
    })
}

/// Issue 13, item 4: a new password ends the account's open sessions, whichever way it was
/// set (JSON API, UI), and the audit log says so; deactivation says so too.
fn password_change_ends_sessions(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut rel = Browser::new(&t);
        assert_eq!(rel.login(RELEASE).await.path, "/ui/products");
        let mut other = Browser::new(&t);
        other.login(READER).await;
        // Reset through the JSON API.
        let (s, _) = t
            .admin(
                "PATCH",
                &format!("/users/{}", RELEASE.0),
                Some(serde_json::json!({"password": "first-new-password"})),
            )
            .await;
        assert_eq!(s, 200);
        let p = rel.get("/ui/products").await;
        assert_eq!(p.path, "/ui/login", "the old session still reads");
        let p = rel
            .post("/ui/products", &[("name", "Through-old-session")])
            .await;
        assert_eq!(p.path, "/ui/login", "the old session still writes");
        assert!(products::find(
            &mut db.conn(),
            tuxedo::catalogue::Match::Exact("Through-old-session")
        )
        .unwrap()
        .is_empty());
        // Another account's session is untouched.
        assert_eq!(other.get("/ui/products").await.status, 200);
        let (_, audit) = t
            .admin("GET", "/audit?action=user.update&limit=1", None)
            .await;
        assert_eq!(audit[0]["after"]["password"], "changed");
        assert_eq!(audit[0]["after"]["sessions"], "ended");
        // Reset through the UI.
        let new = (RELEASE.0, "first-new-password");
        assert_eq!(rel.login(new).await.path, "/ui/products");
        let mut admin = Browser::new(&t);
        admin.login(ADMIN).await;
        admin.get("/ui/users").await;
        let p = admin
            .post(
                "/ui/users/update",
                &[
                    ("username", RELEASE.0),
                    ("role", "release"),
                    ("active", "1"),
                    ("password", "second-new-password"),
                ],
            )
            .await;
        assert!(p.body.contains("Account releng saved"), "{}", p.body);
        assert_eq!(rel.get("/ui/products").await.path, "/ui/login");
        assert_eq!(admin.get("/ui/users").await.status, 200);
        // A save without a new password keeps the session.
        assert_eq!(
            rel.login((RELEASE.0, "second-new-password")).await.path,
            "/ui/products"
        );
        admin
            .post(
                "/ui/users/update",
                &[
                    ("username", RELEASE.0),
                    ("role", "release"),
                    ("active", "1"),
                ],
            )
            .await;
        assert_eq!(rel.get("/ui/products").await.status, 200);
        let (_, audit) = t
            .admin("GET", "/audit?action=user.update&limit=1", None)
            .await;
        assert!(audit[0]["after"].get("sessions").is_none(), "{audit}");
        // Deactivation ends them too, and says so.
        admin
            .post(
                "/ui/users/update",
                &[("username", RELEASE.0), ("role", "release")],
            )
            .await;
        assert_eq!(rel.get("/ui/products").await.path, "/ui/login");
        let (_, audit) = t
            .admin("GET", "/audit?action=user.update&limit=1", None)
            .await;
        assert_eq!(audit[0]["after"]["sessions"], "ended");
    })
}

/// Every string field of the UI's forms at its column's width and one past it: at the
/// width the action succeeds, past it the form's page shows the field and the limit, and
/// nothing answers 500 (MariaDB refuses longer values; SQLite would store them).
fn every_field_at_and_past_its_limit(db: &TestDb) {
    use bouncer_core::limits::*;
    block_on(async {
        let t = start(db, |_| {});
        let mut b = Browser::new(&t);
        b.login(ADMIN).await;
        let product = products::add(&mut db.conn(), "test", "base", &[], false)
            .unwrap()
            .id;
        let region = regions::add(
            &mut db.conn(),
            "test",
            &regions::NewRegionForm {
                name: "r".into(),
                priority: 0,
                throttle: 100,
                fallback_id: None,
                prevent_global_fallback: false,
            },
        )
        .unwrap()
        .id;
        products::add(&mut db.conn(), "test", "target", &[], false).unwrap();
        // The product an alias at the limit points to (case 5 below: its letter is 'f').
        let longest: String = std::iter::once('f')
            .chain(std::iter::repeat_n('é', PRODUCT_NAME - 1))
            .collect();
        products::add(&mut db.conn(), "test", &longest, &[], false).unwrap();
        let (product, region) = (product.to_string(), region.to_string());
        // (field, limit, form page, action, fields given the value).
        type Fields = Box<dyn Fn(&str) -> Vec<(String, String)>>;
        let f = |pairs: &[(&str, &str)], field: &'static str| -> Fields {
            let fixed: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Box::new(move |v| {
                let mut all = fixed.clone();
                all.push((field.to_owned(), v.to_owned()));
                all
            })
        };
        let product_page = format!("/ui/products/{product}");
        let cases: Vec<(&str, usize, String, String, Fields)> = vec![
            (
                "name",
                PRODUCT_NAME,
                "/ui/products/new".into(),
                "/ui/products".into(),
                f(&[], "name"),
            ),
            (
                "name",
                PRODUCT_NAME,
                product_page.clone(),
                product_page.clone(),
                f(&[], "name"),
            ),
            (
                "languages",
                LANGUAGE,
                product_page.clone(),
                format!("{product_page}/languages"),
                f(&[], "languages"),
            ),
            (
                "path",
                LOCATION_PATH,
                product_page.clone(),
                format!("{product_page}/locations"),
                f(&[("os", "win")], "path"),
            ),
            (
                "alias",
                ALIAS,
                "/ui/aliases".into(),
                "/ui/aliases".into(),
                f(&[("related_product", "target")], "alias"),
            ),
            (
                "related_product",
                PRODUCT_NAME,
                "/ui/aliases".into(),
                "/ui/aliases".into(),
                f(&[("alias", "an-alias")], "related_product"),
            ),
            (
                "name",
                MIRROR_NAME,
                "/ui/mirrors/new".into(),
                "/ui/mirrors".into(),
                f(
                    &[("baseurl", "https://m.example/pub"), ("rating", "1")],
                    "name",
                ),
            ),
            (
                "name",
                REGION_NAME,
                "/ui/regions".into(),
                "/ui/regions".into(),
                f(&[("priority", "1"), ("throttle", "100")], "name"),
            ),
            (
                "country_name",
                COUNTRY_NAME,
                "/ui/regions".into(),
                "/ui/countries".into(),
                f(&[("code", "FR"), ("region_id", &region)], "country_name"),
            ),
            (
                "username",
                USERNAME,
                "/ui/users".into(),
                "/ui/users".into(),
                f(
                    &[("role", "read-only"), ("password", "long-enough-password")],
                    "username",
                ),
            ),
            (
                "name",
                TOKEN_NAME,
                "/ui/tokens".into(),
                "/ui/tokens".into(),
                f(&[("user", ADMIN.0), ("role", "read-only")], "name"),
            ),
        ];
        for (n, (field, limit, page, action, fields)) in cases.into_iter().enumerate() {
            // A letter that differs per case (names are unique per table); 'é' is two
            // bytes: the limit counts characters, as the column does (language codes
            // are ASCII).
            let fill = if field == "languages" { 'x' } else { 'é' };
            let first = if field == "path" {
                '/'
            } else {
                char::from(b'a' + n as u8)
            };
            let at: String = std::iter::once(first)
                .chain(std::iter::repeat_n(fill, limit - 1))
                .collect();
            let past = format!("{at}{fill}");
            for (value, fits) in [(at, true), (past, false)] {
                b.get(&page).await;
                let pairs = fields(&value);
                let form: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let p = b.post(&action, &form).await;
                let what = format!("{action} {field} {} chars", value.chars().count());
                assert!(p.status < 500, "{what}: {}", p.status);
                let refused = p.body.contains(&format!("longer than {limit} characters"));
                assert_eq!(refused, !fits, "{what}: {}", flash_of(&p.body));
                if fits {
                    assert!(
                        !p.body.contains("class=\"flash error\""),
                        "{what}: {}",
                        flash_of(&p.body)
                    );
                }
            }
        }
    });
}

/// The flash messages of a page, for failure messages.
fn flash_of(body: &str) -> String {
    body.lines()
        .filter(|l| l.contains("class=\"flash"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Gated flips in the UI: made with the aliases page's form (bad input shown on the page),
/// shown on the aliases and uptake pages with their progress, cancelled with a button.
fn gated_flips(db: &TestDb) {
    block_on(async {
        let t = start(db, |c| c.tuxedo.gate_check_secs = 0);
        let mut b = Browser::new(&t);
        b.login(RELEASE).await;
        products::add(&mut db.conn(), "test", "Firefox-160.0", &[], false).unwrap();
        b.get("/ui/aliases").await;
        let form = |percent: &'static str, deadline: &'static str| {
            vec![
                ("alias", "firefox-next"),
                ("related_product", "firefox-160.0"),
                ("uptake_percent", percent),
                ("os", ""),
                ("deadline", deadline),
                ("on_deadline", "flip"),
            ]
        };
        let p = b.post("/ui/aliases/gate", &form("0", "")).await;
        assert!(
            p.body.contains("uptake_percent: must be between 1 and 100"),
            "{}",
            flash_of(&p.body)
        );
        let p = b.post("/ui/aliases/gate", &form("95", "2001-01-01")).await;
        assert!(
            p.body.contains("deadline: must be in the future"),
            "{}",
            flash_of(&p.body)
        );
        let p = b.post("/ui/aliases/gate", &form("95", "2037-06-01")).await;
        assert_eq!(p.path, "/ui/aliases");
        assert!(
            p.body.contains(
                "firefox-next will point at Firefox-160.0 once every location is at 95 %"
            ),
            "{}",
            flash_of(&p.body)
        );
        assert!(
            p.body.contains(r#"id="gate-firefox-next""#),
            "panel on the aliases page"
        );
        assert!(
            p.body.contains("then flip anyway"),
            "the deadline rule is shown"
        );
        let p = b.get("/ui/uptake").await;
        assert!(
            p.body.contains(r#"id="gate-firefox-next""#),
            "panel on the uptake page"
        );
        assert!(p.body.contains("no locations yet"), "{}", p.body);
        b.get("/ui/aliases").await;
        let p = b
            .post("/ui/aliases/gate/cancel", &[("alias", "firefox-next")])
            .await;
        assert!(
            p.body
                .contains("The gated flip of firefox-next is cancelled."),
            "{}",
            flash_of(&p.body)
        );
        assert!(!p.body.contains(r#"id="gate-firefox-next""#));
        // Readers see the panels but no forms.
        let mut reader = Browser::new(&t);
        reader.login(READER).await;
        let p = reader.get("/ui/aliases").await;
        assert!(!p.body.contains(r#"id="gate-form""#));
    });
}

/// A reader's form, CSRF token and all, is refused by the caller check (403, the role
/// page) on every kind of action, the generic ones (enable/disable, deletes) included,
/// and nothing is written.
fn refused_roles_write_nothing(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let id = add_mirror(&mut conn, "m1", 10, true).to_string();
        let loc = a_location(&mut conn, "Firefox-9.0", "/f/9/setup.exe").to_string();
        let before = audit_count(&mut conn);
        let mut reader = Browser::new(&t);
        reader.login(READER).await;
        for path in [
            format!("/ui/mirrors/{id}/enable"),
            format!("/ui/mirrors/{id}/disable"),
            format!("/ui/mirrors/{id}/delete"),
            "/ui/products".to_owned(),
            "/ui/aliases/gate".to_owned(),
            "/ui/tokens".to_owned(),
            format!("/ui/locations/{loc}/files"),
            format!("/ui/locations/{loc}/files/delete"),
        ] {
            reader.get("/ui/products").await;
            let p = reader.post(&path, &[("name", "Sneaky")]).await;
            assert_eq!(p.status, 403, "{path}");
            assert!(p.body.contains("Your role may not"), "{path}: {}", p.body);
        }
        let p = reader.get(&format!("/ui/mirrors/{id}/delete")).await;
        assert_eq!(p.status, 403, "the delete confirmation");
        assert_eq!(audit_count(&mut conn), before, "a refused action wrote");
    })
}

/// A product `name` (languages de, fr) with one location on win at `path`; its id.
fn a_location(conn: &mut bouncer_core::db::DbConnection, name: &str, path: &str) -> i32 {
    let langs = ["de".to_owned(), "fr".to_owned()];
    let p = products::add(conn, "test", name, &langs, false).unwrap();
    let all = locations::add(conn, "test", products::ProductRef::Id(p.id), "win", path).unwrap();
    all.locations[0].id
}

/// A location's files in the UI: linked from the product page, listed on the location's
/// page, stated with its form (read back through the JSON API) and forgotten with a
/// button; bad input is shown on the page and writes nothing; no CSRF token or a reader's
/// role: 403 and nothing written.
fn location_files(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let id = a_location(&mut conn, "Firefox-4.0", "/f/4/win/:lang/setup.exe");
        let pid = locations::get(&mut conn, id).unwrap().product_id;
        let at = format!("/ui/locations/{id}");
        let json = format!("/locations/{id}/files");
        let mut b = Browser::new(&t);
        b.login(RELEASE).await;
        let p = b.get(&format!("/ui/products/{pid}")).await;
        assert!(p.body.contains(&format!(r#"href="{at}""#)), "{}", p.body);
        let p = b.get(&at).await;
        assert_eq!(p.status, 200);
        assert!(
            p.body.contains(":lang&#x2f;setup.exe") && p.body.contains(r#"id="file-form""#),
            "{}",
            p.body
        );
        assert!(p.body.contains("Nothing is known"), "{}", p.body);

        // Set one file; the page and the JSON API show it.
        let sha = "AB".repeat(32);
        let p = b
            .post(
                &format!("{at}/files"),
                &[
                    ("lang", "de"),
                    ("size", "1000"),
                    ("sha256", &sha),
                    ("sha512", " "),
                ],
            )
            .await;
        assert_eq!(p.path, at);
        assert!(
            p.body.contains("The de file is saved."),
            "{}",
            flash_of(&p.body)
        );
        assert!(p.body.contains(&"ab".repeat(32)) && p.body.contains("operator"));
        let (s, f) = t.as_(READER, "GET", &json, None).await;
        assert_eq!(s, 200);
        assert_eq!(
            (
                f[0]["lang"].as_str(),
                f[0]["size"].as_i64(),
                f[0]["sha256"].as_str(),
                &f[0]["sha512"]
            ),
            (
                Some("de"),
                Some(1000),
                Some("ab".repeat(32).as_str()),
                &serde_json::Value::Null
            )
        );
        assert_eq!(
            last_audit(&mut conn),
            (
                "releng".into(),
                "file.set".into(),
                format!("location {id} (de)")
            )
        );

        // Bad input: the page again with the reason, nothing written.
        let before = audit_count(&mut conn);
        for (form, reason) in [
            (
                vec![("lang", "fr"), ("sha256", "xyz")],
                "invalid sha256: must be 64 hexadecimal digits",
            ),
            (
                vec![("lang", "fr"), ("size", "-1")],
                "invalid size: must not be negative",
            ),
            (
                vec![("lang", "fr"), ("size", "lots")],
                "invalid size: &quot;lots&quot; is not a whole number of bytes",
            ),
            (
                vec![("lang", ""), ("size", "1")],
                "invalid lang: required: the path holds :lang",
            ),
            (
                vec![("lang", "fr")],
                "invalid size: give at least a size or a hash",
            ),
        ] {
            b.get(&at).await;
            let p = b.post(&format!("{at}/files"), &form).await;
            assert_eq!((p.status, p.path.as_str()), (200, at.as_str()), "{form:?}");
            assert!(p.body.contains(reason), "{form:?}: {}", flash_of(&p.body));
            assert!(
                p.body.contains(r#"id="file-form""#),
                "the form is there again"
            );
        }
        assert_eq!(audit_count(&mut conn), before, "bad input wrote");
        assert_eq!(files::list(&mut conn, id).unwrap().len(), 1);

        // No CSRF token: refused, nothing written.
        let p = b
            .post_raw(&format!("{at}/files"), &[("lang", "fr"), ("size", "5")])
            .await;
        assert_eq!(p.status, 403);
        assert!(p.body.contains("no valid CSRF token"), "{}", p.body);
        let p = b
            .post_raw(
                &format!("{at}/files/delete"),
                &[("lang", "de"), ("csrf", "forged")],
            )
            .await;
        assert_eq!(p.status, 403);

        // A reader sees the files but no form, and is refused the actions.
        let mut reader = Browser::new(&t);
        reader.login(READER).await;
        let p = reader.get(&at).await;
        assert_eq!(p.status, 200);
        assert!(p.body.contains(&"ab".repeat(32)) && !p.body.contains(r#"id="file-form""#));
        for (action, form) in [
            (format!("{at}/files"), vec![("lang", "fr"), ("size", "5")]),
            (format!("{at}/files/delete"), vec![("lang", "de")]),
        ] {
            reader.get(&at).await;
            let p = reader.post(&action, &form).await;
            assert_eq!(p.status, 403, "{action}");
            assert!(p.body.contains("Your role may not"), "{}", p.body);
        }
        assert_eq!(audit_count(&mut conn), before, "a refused action wrote");
        assert_eq!(files::list(&mut conn, id).unwrap().len(), 1);

        // Delete; then it is gone, and deleting again says so.
        b.get(&at).await;
        let p = b
            .post(&format!("{at}/files/delete"), &[("lang", "de")])
            .await;
        assert!(
            p.body.contains("The de file is forgotten."),
            "{}",
            flash_of(&p.body)
        );
        assert_eq!(
            t.as_(READER, "GET", &json, None).await,
            (200, serde_json::json!([]))
        );
        let p = b
            .post(&format!("{at}/files/delete"), &[("lang", "de")])
            .await;
        assert!(p.body.contains("not found"), "{}", flash_of(&p.body));
        assert_eq!(b.get("/ui/locations/999999").await.status, 404);
    });
}

/// The mirror form's reference origin checkbox: shown as it is stored, checked sets it,
/// unchecked clears it (`bouncer_mirror_settings.reference`).
fn mirror_reference(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let id = add_mirror(&mut conn, "origin", 10, true);
        let at = format!("/ui/mirrors/{id}");
        let checked = r#"id="mirror-reference" value="1" checked"#;
        let mut b = Browser::new(&t);
        b.login(MIRROR_OP).await;
        let p = b.get(&at).await;
        assert!(p.body.contains(r#"id="mirror-reference""#) && !p.body.contains(checked));
        let form = [
            ("name", "origin"),
            ("baseurl", "https://origin.example/pub"),
            ("rating", "10"),
            ("active", "1"),
        ];
        let mut on = form.to_vec();
        on.push(("reference", "1"));
        let p = b.post(&at, &on).await;
        assert!(
            p.body.contains("Mirror origin saved."),
            "{}",
            flash_of(&p.body)
        );
        assert!(p.body.contains(checked), "{}", p.body);
        assert!(mirrors::get(&mut conn, id).unwrap().reference);
        assert_eq!(
            bouncer_core::files::reference_mirrors(&mut conn).unwrap(),
            [id]
        );
        assert_eq!(last_audit(&mut conn).1, "mirror.update");
        let p = b.post(&at, &form).await;
        assert!(!p.body.contains(checked), "{}", p.body);
        assert!(!mirrors::get(&mut conn, id).unwrap().reference);
        assert!(bouncer_core::files::reference_mirrors(&mut conn)
            .unwrap()
            .is_empty());
        // A reader sees it as text.
        mirrors::update(
            &mut conn,
            "test",
            id,
            &mirrors::MirrorPatch {
                reference: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        let mut reader = Browser::new(&t);
        reader.login(READER).await;
        let p = reader.get(&at).await;
        assert!(
            p.body.contains("reference origin") && !p.body.contains(r#"id="mirror-reference""#)
        );
    });
}

/// The mirror form's network settings: a select for the mode, a text area for the networks
/// (lines or commas) and a field for the excluded countries; saved normalised, shown as
/// stored; a bad value gives the form back with the message and writes nothing (the other
/// fields neither); a form without them keeps them; refused without CSRF or for a reader.
fn mirror_networks(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let id = add_mirror(&mut conn, "campus", 10, true);
        let at = format!("/ui/mirrors/{id}");
        let mut b = Browser::new(&t);
        b.login(MIRROR_OP).await;
        let p = b.get(&at).await;
        for field in [
            r#"<select name="network_mode" id="mirror-network-mode">"#,
            r#"<option value="none" selected>"#,
            r#"<textarea name="networks" id="mirror-networks""#,
            r#"name="excluded_countries" id="mirror-excluded" value="""#,
            r#"name="country" id="mirror-country" value="""#,
        ] {
            assert!(p.body.contains(field), "{field}: {}", p.body);
        }
        let form = |mode: &'static str, networks: &'static str, countries: &'static str| {
            vec![
                ("name", "campus"),
                ("baseurl", "https://campus.example/pub"),
                ("rating", "10"),
                ("active", "1"),
                ("network_mode", mode),
                ("networks", networks),
                ("excluded_countries", countries),
            ]
        };
        let p = b
            .post(
                &at,
                &form(
                    "only",
                    "as64500\r\n192.0.2.77/24, 2001:db8::/32\r\n\r\nAS64500\r\n",
                    "cu kp,CU",
                ),
            )
            .await;
        assert_eq!((p.status, p.path.as_str()), (200, at.as_str()));
        assert!(
            p.body.contains("Mirror campus saved."),
            "{}",
            flash_of(&p.body)
        );
        assert!(p.body.contains(r#"<option value="only" selected>"#));
        assert!(
            // (minijinja escapes `/` too)
            p.body
                .contains(">AS64500\n192.0.2.0&#x2f;24\n2001:db8::&#x2f;32</textarea>"),
            "{}",
            p.body
        );
        assert!(p.body.contains(r#"id="mirror-excluded" value="CU, KP""#));
        let m = mirrors::get(&mut conn, id).unwrap();
        assert_eq!(m.network_mode, bouncer_core::networks::NetworkMode::Only);
        assert_eq!(m.networks, ["AS64500", "192.0.2.0/24", "2001:db8::/32"]);
        assert_eq!(m.excluded_countries, ["CU", "KP"]);
        assert_eq!(last_audit(&mut conn).1, "mirror.update");

        // Bad input: the form back with the message; nothing written, the rating neither.
        let long = format!("AS{}1", "0".repeat(bouncer_core::limits::NETWORK));
        let long: &'static str = Box::leak(long.into_boxed_str());
        let audits = audit_count(&mut conn);
        for (fields, message) in [
            (
                form("prefer", "AS1\nexample.org", ""),
                r#"invalid networks: &quot;example.org&quot;: expected AS&lt;number&gt; or a CIDR"#,
            ),
            (
                form("prefer", "AS1, 198.51.100.0/24", "FR, DEU"),
                r#"invalid excluded_countries: &quot;DEU&quot; is not a two-letter country code"#,
            ),
            (form("sometimes", "", ""), "invalid network_mode"),
            (form("prefer", long, ""), "longer than 64 characters"),
        ] {
            let mut fields = fields;
            fields[2] = ("rating", "99");
            b.get(&at).await;
            let p = b.post(&at, &fields).await;
            assert_eq!((p.status, p.path.as_str()), (200, at.as_str()), "{message}");
            assert!(p.body.contains("class=\"flash error\""), "{message}");
            assert!(p.body.contains(message), "{message}: {}", flash_of(&p.body));
            assert!(
                p.body.contains(r#"id="mirror-networks""#),
                "the form is back"
            );
        }
        assert_eq!(audit_count(&mut conn), audits, "a refused form wrote");
        let now = mirrors::get(&mut conn, id).unwrap();
        assert_eq!((now.rating, &now.networks), (10, &m.networks));
        assert_eq!(now.excluded_countries, m.excluded_countries);

        // The country: saved upper case and shown; a bad one refused with the reason.
        let with_country = |cc: &'static str| {
            let mut f = form("only", "AS64500, 192.0.2.0/24, 2001:db8::/32", "CU, KP");
            f.push(("country", cc));
            f
        };
        b.get(&at).await;
        let p = b.post(&at, &with_country("jp")).await;
        assert!(
            p.body.contains(r#"id="mirror-country" value="JP""#),
            "{}",
            flash_of(&p.body)
        );
        assert_eq!(
            mirrors::get(&mut conn, id).unwrap().country.as_deref(),
            Some("JP")
        );
        b.get(&at).await;
        let p = b.post(&at, &with_country("JPN")).await;
        assert!(
            p.body
                .contains(r#"invalid country: &quot;JPN&quot; is not a two-letter country code"#),
            "{}",
            flash_of(&p.body)
        );
        assert_eq!(
            mirrors::get(&mut conn, id).unwrap().country.as_deref(),
            Some("JP")
        );

        // A form without the fields (an older page) keeps them.
        b.get(&at).await;
        let p = b
            .post(
                &at,
                &[
                    ("name", "campus"),
                    ("baseurl", "https://campus.example/pub"),
                    ("rating", "12"),
                    ("active", "1"),
                ],
            )
            .await;
        assert!(
            p.body.contains("Mirror campus saved."),
            "{}",
            flash_of(&p.body)
        );
        let now = mirrors::get(&mut conn, id).unwrap();
        assert_eq!((now.rating, now.network_mode), (12, m.network_mode));
        assert_eq!(now.networks, m.networks);

        // No CSRF token: 403, nothing written.
        let audits = audit_count(&mut conn);
        let p = b.post_raw(&at, &form("none", "", "")).await;
        assert_eq!(p.status, 403);
        assert!(p.body.contains("no valid CSRF token"), "{}", p.body);
        assert_eq!(mirrors::get(&mut conn, id).unwrap().networks, m.networks);

        // A reader sees text, and may not post.
        let mut reader = Browser::new(&t);
        reader.login(READER).await;
        let p = reader.get(&at).await;
        assert_eq!(p.status, 200);
        assert!(!p.body.contains(r#"id="mirror-networks""#));
        assert!(
            p.body.contains(
                "Networks: AS64500, 192.0.2.0&#x2f;24, 2001:db8::&#x2f;32 (serves only these) · \
                 excluded countries: CU, KP"
            ),
            "{}",
            p.body
        );
        let p = reader.post(&at, &form("none", "", "")).await;
        assert_eq!(p.status, 403);
        assert!(p.body.contains("Your role may not"), "{}", p.body);
        assert_eq!(audit_count(&mut conn), audits, "a refused form wrote");
        assert_eq!(mirrors::get(&mut conn, id).unwrap().networks, m.networks);

        // Emptied: cleared.
        b.get(&at).await;
        let p = b.post(&at, &form("none", "  ", "")).await;
        assert!(
            p.body.contains("Mirror campus saved."),
            "{}",
            flash_of(&p.body)
        );
        let now = mirrors::get(&mut conn, id).unwrap();
        assert!(now.networks.is_empty() && now.excluded_countries.is_empty());
        assert_eq!(now.network_mode, bouncer_core::networks::NetworkMode::None);
        let p = reader.get(&at).await;
        assert!(p.body.contains("Networks: none · excluded countries: none"));
    });
}

/// The mirror page shows what sentry's vantage points (issue 32) say of the mirror: per
/// vantage and family the locations it sees down and why, its timings and last report,
/// and the rule's verdicts per region; nothing of it while sentry runs with one vantage.
fn mirror_vantages(db: &TestDb) {
    use bouncer_core::schema::{
        bouncer_region_health as rh, bouncer_vantage_health as vh, bouncer_vantage_rtt as vr,
        bouncer_vantages as vs,
    };
    use diesel::prelude::*;
    block_on(async {
        let t = start(db, |_| {});
        let mut conn = db.conn();
        let id = add_mirror(&mut conn, "far-away", 10, true);
        let at = format!("/ui/mirrors/{id}");
        let mut b = Browser::new(&t);
        b.login(READER).await;
        assert!(!b.get(&at).await.body.contains(r#"id="vantages""#));
        let l1 = a_location(&mut conn, "Firefox", "/f/1.exe");
        let l2 = a_location(&mut conn, "Thunderbird", "/t/1.exe");
        for (loc, healthy) in [(l1, true), (l2, false)] {
            diesel::insert_into(vh::table)
                .values((
                    vh::location_id.eq(loc),
                    vh::mirror_id.eq(id),
                    vh::family.eq(6i16),
                    vh::vantage.eq("eu-1"),
                    vh::active.eq(true),
                    vh::healthy.eq(healthy),
                    vh::reason.eq(if healthy { "" } else { "timeout" }),
                ))
                .execute(&mut *conn)
                .unwrap();
            diesel::insert_into(rh::table)
                .values((
                    rh::location_id.eq(loc),
                    rh::mirror_id.eq(id),
                    rh::family.eq(6i16),
                    rh::region_id.eq(0),
                    rh::healthy.eq(healthy),
                    rh::reason.eq(if healthy {
                        ""
                    } else {
                        "eu-1: timeout; 1 of 1 vantages down"
                    }),
                ))
                .execute(&mut *conn)
                .unwrap();
        }
        diesel::insert_into(vr::table)
            .values((
                vr::mirror_id.eq(id),
                vr::family.eq(6i16),
                vr::vantage.eq("eu-1"),
                vr::connect_us.eq(42_000),
                vr::ttfb_us.eq(21_050),
                vr::samples.eq(4),
            ))
            .execute(&mut *conn)
            .unwrap();
        diesel::insert_into(vs::table)
            .values((vs::name.eq("eu-1"), vs::reported_at.eq(1_700_000_000i64)))
            .execute(&mut *conn)
            .unwrap();
        let p = b.get(&at).await;
        assert_eq!(p.status, 200);
        let card = &p.body[p.body.find(r#"id="vantages""#).expect("the vantages card")..];
        for want in [
            "eu-1",
            "IPv6",
            "1 of 2",
            "21.0 ms",
            "42.0 ms",
            "(4)",
            "timeout",
            "global",
            "eu-1: timeout; 1 of 1 vantages down",
        ] {
            assert!(card.contains(want), "{want}: {card}");
        }
    });
}
