//! End to end in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `deploy/test.sh` installs) against tuxedo on port 0, on MariaDB and SQLite: log in,
//! create a product with languages and locations, an alias and a mirror, see uptake, log
//! out; a form stripped of its CSRF token is refused; a read-only user cannot reach write
//! pages. With `BOUNCER_UI_SCREENSHOTS=<dir>` it also saves PNGs of the main pages (how
//! `docs/screenshots/` is made).

use crate::common::*;
use bouncer_core::models::MirrorHealth;
use bouncer_core::schema::bouncer_mirror_health;
use bouncer_test_support::{db_tests, TestDb};
use diesel::prelude::*;
use fantoccini::{Client, ClientBuilder, Locator};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use tuxedo::catalogue::{locations, products::ProductRef, Match};

db_tests! {
    ui_in_chromium => in_chromium,
}

/// A chromedriver on a port of its choosing, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts chromedriver; one that exits before it listens (seen once in CI, with the
    /// other backend's driver starting at the same moment) is started again, twice at most.
    fn start() -> Self {
        let mut said = String::new();
        for _ in 0..3 {
            match Self::try_start() {
                Ok(d) => return d,
                Err(e) => said = e,
            }
        }
        panic!("chromedriver did not start: {said}");
    }

    fn try_start() -> Result<Self, String> {
        let mut child = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver not found: install chromium and chromium-driver (deploy/test.sh does)");
        let out = child.stdout.take().unwrap();
        // It says which port it took once it listens: no polling, no sleep.
        let mut lines = Vec::new();
        let port = BufReader::new(out)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| {
                let port = l
                    .strip_prefix("ChromeDriver was started successfully on port ")
                    .map(|p| p.trim_end_matches('.').to_owned());
                lines.push(l);
                port
            });
        match port {
            Some(port) => Ok(Self {
                child,
                url: format!("http://127.0.0.1:{port}"),
            }),
            None => {
                let _ = child.kill();
                let status = child.wait();
                Err(format!("{status:?}, having printed {lines:?}"))
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    // chromedriver is plain HTTP on localhost: no TLS stack needed.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("could not start a Chromium session")
}

/// Fills the fields `(id, value)` and clicks the button `submit`, then waits for the page
/// it leads to (one with a message or a heading).
async fn submit(c: &Client, fields: &[(&str, &str)], submit: &str) -> String {
    for (id, value) in fields {
        let e = c.find(Locator::Id(id)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }
    let old = c.find(Locator::Css("html")).await.unwrap();
    let button = c.find(Locator::Id(submit)).await.unwrap();
    button.click().await.unwrap();
    next_page(c, old).await;
    c.source().await.unwrap()
}

/// Waits until the browser has left the page whose root was `old` (it goes stale) and
/// the next one is there.
async fn next_page(c: &Client, old: fantoccini::elements::Element) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while old.tag_name().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the form did not lead anywhere"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    c.wait().for_element(Locator::Css("main h1")).await.unwrap();
}

async fn flash(c: &Client) -> String {
    c.find(Locator::Css(".flash"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn shot(c: &Client, name: &str) {
    if let Ok(dir) = std::env::var("BOUNCER_UI_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png).unwrap();
    }
}

async fn login(c: &Client, base: &str, (user, password): (&str, &str)) {
    c.goto(&format!("{base}/ui/")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/ui/login"));
    submit(c, &[("username", user), ("password", password)], "login").await;
    assert!(c
        .current_url()
        .await
        .unwrap()
        .path()
        .ends_with("/ui/products"));
}

fn in_chromium(db: &TestDb) {
    block_on(async {
        let t = start(db, |_| {});
        let base = t.base.clone();
        let driver = Driver::start();
        let profile = tempfile::tempdir().unwrap();
        let c = browser(&driver, profile.path()).await;

        c.goto(&format!("{base}/ui/")).await.unwrap();
        shot(&c, "login").await;
        login(&c, &base, ADMIN).await;

        // A product with languages, then two locations on its page.
        c.goto(&format!("{base}/ui/products/new")).await.unwrap();
        submit(
            &c,
            &[("name", "Firefox-150.0"), ("languages", "en-US de fr")],
            "create-product",
        )
        .await;
        assert_eq!(flash(&c).await, "Product Firefox-150.0 created.");
        let langs = c
            .find(Locator::Id("languages"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            langs.contains("de") && langs.contains("en-US") && langs.contains("fr"),
            "{langs}"
        );
        for (os, path) in [
            ("win64", "/firefox/150.0/win64/:lang/Firefox Setup.exe"),
            ("osx", "/firefox/150.0/mac/:lang/Firefox.dmg"),
        ] {
            c.find(Locator::Id("location-os"))
                .await
                .unwrap()
                .select_by_value(os)
                .await
                .unwrap();
            submit(&c, &[("location-path", path)], "add-location").await;
            assert_eq!(flash(&c).await, format!("Location on {os} added."));
        }
        let rows = c
            .find_all(Locator::Css("#locations tbody tr"))
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        let product_url = c.current_url().await.unwrap();

        // An alias.
        c.goto(&format!("{base}/ui/aliases")).await.unwrap();
        submit(
            &c,
            &[
                ("alias", "firefox-latest"),
                ("related-product", "Firefox-150.0"),
            ],
            "create-alias",
        )
        .await;
        assert_eq!(
            flash(&c).await,
            "Alias firefox-latest now points at Firefox-150.0."
        );
        shot(&c, "aliases").await;

        // A mirror; then sentry's results: it serves the Windows file, not the Mac one.
        c.goto(&format!("{base}/ui/mirrors/new")).await.unwrap();
        submit(
            &c,
            &[
                ("mirror-name", "mirror.example"),
                ("mirror-baseurl", "https://mirror.example/pub"),
                ("mirror-rating", "100"),
            ],
            "create-mirror",
        )
        .await;
        assert_eq!(flash(&c).await, "Mirror mirror.example added.");
        let mut conn = db.conn();
        let mirror = mirror_id(&mut conn, "mirror.example");
        let other = add_mirror(&mut conn, "slow.example", 100, true);
        let third = add_mirror(&mut conn, "flaky.example", 50, true);
        let locs = locations::of(&mut conn, ProductRef::Name("Firefox-150.0"))
            .unwrap()
            .locations;
        for l in &locs {
            set_map(&mut conn, l.id, mirror, true, l.os == "win64");
            set_map(&mut conn, l.id, other, true, true);
            set_map(&mut conn, l.id, third, true, false);
        }
        health(
            &mut conn,
            other,
            "ramping",
            40,
            "recovering after 3 good checks",
        );
        health(
            &mut conn,
            third,
            "down",
            0,
            "HEAD /firefox/150.0/mac: timeout after 5s",
        );
        c.goto(&format!("{base}/ui/mirrors")).await.unwrap();
        let states = c
            .find(Locator::Css("#mirrors"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            states.contains("down")
                && states.contains("ramping")
                && states.contains("timeout after 5s"),
            "{states}"
        );
        shot(&c, "mirrors").await;

        // Uptake as bars: win64 = (100 + 100) / 250 = 80 %, osx = 100 / 250 = 40 %.
        c.goto(&format!("{base}/ui/uptake?product=firefox-150&os="))
            .await
            .unwrap();
        let pcts: Vec<String> = futures_text(&c, ".uptake .pct").await;
        assert_eq!(pcts, ["80 %", "40 %"]);
        // The bars really are drawn at those widths (the page's CSP allows style attributes).
        let mut widths = Vec::new();
        for e in c.find_all(Locator::Css(".uptake .bar span")).await.unwrap() {
            let w = e.css_value("width").await.unwrap();
            widths.push(w.trim_end_matches("px").parse::<f64>().unwrap());
        }
        let ratio = widths[1] / widths[0];
        assert!((ratio - 0.5).abs() < 0.05, "bar widths {widths:?}");
        shot(&c, "uptake").await;
        statistics_page(&c, &base, &mut conn, mirror).await;

        // A gated flip: made with the form, shown with its progress over time (samples as
        // the checkers would have stored them over the last 40 minutes) and an estimate.
        c.goto(&format!("{base}/ui/aliases")).await.unwrap();
        submit(
            &c,
            &[
                ("gate-alias", "firefox-next"),
                ("gate-product", "Firefox-150.0"),
                ("gate-percent", "90"),
            ],
            "create-gate",
        )
        .await;
        assert!(flash(&c).await.starts_with(
            "firefox-next will point at Firefox-150.0 once every location is at 90 %"
        ));
        {
            use bouncer_core::schema::{bouncer_alias_gate_samples as s, bouncer_alias_gates as g};
            let mut conn = db.conn();
            let gate: i32 = g::table.select(g::id).first(&mut *conn).unwrap();
            let now = chrono::Utc::now().naive_utc();
            for (minutes, permyriad) in [(40, 0), (30, 1000), (20, 2500), (10, 3500)] {
                diesel::insert_into(s::table)
                    .values((
                        s::gate_id.eq(gate),
                        s::at.eq(now - chrono::Duration::minutes(minutes)),
                        s::permyriad.eq(permyriad),
                    ))
                    .execute(&mut *conn)
                    .unwrap();
            }
        }
        c.goto(&format!("{base}/ui/uptake?product=firefox-150&os="))
            .await
            .unwrap();
        assert_eq!(futures_text(&c, ".gate .gate-now").await, ["40.0 %"]);
        assert_eq!(
            futures_text(&c, ".gate .gate-eta").await.len(),
            1,
            "an estimate"
        );
        let chart = c.find(Locator::Css(".gate-chart polyline")).await.unwrap();
        let points = chart.attr("points").await.unwrap().unwrap_or_default();
        // The four samples, the one stored when the gate was made (checked at once), now.
        assert_eq!(points.split(' ').count(), 6, "{points}");
        shot(&c, "gate").await;
        c.goto(product_url.as_str()).await.unwrap();
        shot(&c, "product").await;
        c.goto(&format!("{base}/ui/products")).await.unwrap();
        shot(&c, "products").await;
        c.goto(&format!("{base}/ui/audit")).await.unwrap();
        shot(&c, "audit").await;

        // A form whose CSRF token was removed is refused, and nothing changes.
        c.goto(&format!("{base}/ui/aliases")).await.unwrap();
        c.execute(
            "document.querySelectorAll('input[name=csrf]').forEach(e => e.remove());",
            vec![],
        )
        .await
        .unwrap();
        submit(
            &c,
            &[("alias", "sneaky"), ("related-product", "Firefox-150.0")],
            "create-alias",
        )
        .await;
        let body = c
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            body.contains("403") && body.contains("no valid CSRF token"),
            "{body}"
        );
        assert!(tuxedo::catalogue::aliases::list(&mut conn)
            .unwrap()
            .iter()
            .all(|a| a.alias != "sneaky"));

        // Log out: the pages lead to the login form again.
        c.goto(&format!("{base}/ui/products")).await.unwrap();
        let old = c.find(Locator::Css("html")).await.unwrap();
        let button = c.find(Locator::Id("logout")).await.unwrap();
        button.click().await.unwrap();
        next_page(&c, old).await;
        assert!(c.current_url().await.unwrap().path().ends_with("/ui/login"));
        c.goto(&format!("{base}/ui/products/new")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().ends_with("/ui/login"));

        // A read-only user sees the catalogue but not the write pages or buttons.
        login(&c, &base, READER).await;
        c.goto(product_url.as_str()).await.unwrap();
        assert!(c.find(Locator::Id("save-product")).await.is_err());
        for page in ["/ui/products/new", "/ui/mirrors/new", "/ui/users"] {
            c.goto(&format!("{base}{page}")).await.unwrap();
            let body = c
                .find(Locator::Css("main"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(
                body.contains("403") && body.contains("Your role may not"),
                "{page}: {body}"
            );
        }
        assert!(
            !tuxedo::catalogue::products::find(&mut conn, Match::Exact("Firefox-150.0"))
                .unwrap()
                .is_empty()
        );
        c.close().await.unwrap();
    })
}

/// The statistics page over counts as bounce would have sent them: people's downloads
/// only by default (the crawler's 50 left out), the share the mirrors carried, the top
/// countries as bars, one line per product in the chart.
async fn statistics_page(
    c: &Client,
    base: &str,
    conn: &mut bouncer_core::db::DbConnection,
    mirror: i32,
) {
    use bouncer_core::stats::{self, Batch, Dims, Minute, Tally};
    let now = chrono::Utc::now().timestamp();
    let today = now - now.rem_euclid(86_400);
    let m = mirror.to_string();
    let count = |product: &str, target: &str, country: &str, agent: &str, n: u64| {
        let dims = Dims {
            product: product.into(),
            os: "win64".into(),
            lang: "de".into(),
            country: country.into(),
            target: target.into(),
            family: 4,
            scheme: "https".into(),
            agent: agent.into(),
        };
        (
            dims,
            Tally {
                downloads: n,
                bytes: n * 50_000_000,
            },
        )
    };
    let (user, bot) = (stats::USER, stats::BOT);
    let batch = Batch {
        id: "ui-test".into(),
        instance: "test".into(),
        minutes: vec![
            Minute {
                start: today - 86_400,
                counts: vec![count("Firefox-150.0", &m, "DE", user, 30)],
            },
            Minute {
                start: today,
                counts: vec![
                    count("Firefox-150.0", &m, "FR", user, 10),
                    count("Firefox-150.0", "cdn", "US", user, 15),
                    count("Firefox-149.0", "cdn", "DE", user, 5),
                    count("Firefox-150.0", &m, "DE", bot, 50),
                ],
            },
        ],
    };
    stats::add(conn, &batch, now).unwrap();
    c.goto(&format!("{base}/ui/stats")).await.unwrap();
    let text = |id: &'static str| async move {
        c.find(Locator::Id(id)).await.unwrap().text().await.unwrap()
    };
    assert_eq!(text("stats-total").await, "60");
    assert_eq!(text("stats-offload").await, "66.7 %", "40 of 60 by mirrors");
    let countries = futures_text(c, ".stats-countries .pct").await;
    assert_eq!(countries, ["58.3 %", "25.0 %", "16.7 %"], "DE, US, FR");
    let targets = futures_text(c, ".stats-targets td:first-child").await;
    assert_eq!(targets, ["mirror.example", "cdn"]);
    let lines = c
        .find_all(Locator::Css(".stats-chart polyline"))
        .await
        .unwrap();
    assert_eq!(lines.len(), 2, "one line per product");
    shot(c, "stats").await;
    c.goto(&format!("{base}/ui/stats?agent=bot")).await.unwrap();
    assert_eq!(text("stats-total").await, "50", "the crawler, apart");
}

async fn futures_text(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.unwrap() {
        out.push(e.text().await.unwrap());
    }
    out
}

fn mirror_id(conn: &mut bouncer_core::db::DbConnection, name: &str) -> i32 {
    use bouncer_core::schema::mirror_mirrors as m;
    m::table
        .filter(m::name.eq(name))
        .select(m::id)
        .first(conn)
        .unwrap()
}

/// What sentry records for a mirror.
fn health(
    conn: &mut bouncer_core::db::DbConnection,
    id: i32,
    state: &str,
    weight: i32,
    reason: &str,
) {
    let now = chrono::Utc::now().naive_utc();
    diesel::insert_into(bouncer_mirror_health::table)
        .values(MirrorHealth {
            mirror_id: id,
            state: state.into(),
            weight_percent: weight,
            fail_streak: 0,
            ok_streak: 0,
            last_checked_at: Some(now),
            last_reason: reason.into(),
            changed_at: now,
            families: None,
        })
        .execute(conn)
        .unwrap();
}
