//! bounce's statistics batches arrive at `POST /__fleet__/stats` (see `tuxedo::intake`):
//! refused without the fleet's token or with a batch that cannot be stored (the reason
//! said), counted once however often the same batch is sent.

use crate::common::*;
use crate::read_your_writes::{fleet, registered, start_bounce_until, two_releases, TOKEN};
use bouncer_core::stats::{self, Batch, Dims, Granularity, Minute, Tally};
use bouncer_test_support::{db_tests, eventually, TestDb};
use std::time::Duration;

db_tests! {
    a_batch_is_counted_once_and_bad_ones_are_refused => intake,
    downloads_are_counted_exactly_and_sent_when_bounce_stops => end_to_end,
    cdn_downloads_are_placed_and_crawlers_counted_apart => cdn_placed,
    a_batch_too_large_for_tuxedo_arrives_in_halves => halves,
    tuxedo_prunes_counts_past_their_retention => pruned,
    reports_sum_group_and_filter => reports,
    counts_wait_while_tuxedo_is_down_and_arrive_exactly => receiver_down,
    the_popular_files_feed_is_public_and_leaves_out_small_counts => popular,
}

fn batch(id: &str, country: &str) -> Batch {
    let dims = Dims {
        product: "Firefox-130.0".into(),
        os: "win64".into(),
        lang: "de".into(),
        country: country.into(),
        target: stats::CDN.into(),
        family: 6,
        scheme: "https".into(),
        agent: stats::USER.into(),
    };
    Batch {
        id: id.into(),
        instance: "http://bounce-1".into(),
        minutes: vec![Minute {
            start: 1_765_101_600,
            counts: vec![(
                dims,
                Tally {
                    downloads: 7,
                    bytes: 7_000,
                },
            )],
        }],
    }
}

fn intake(db: &TestDb) {
    block_on(async {
        let t = start(db, fleet);
        let url = format!("{}{}", t.base, stats::PATH);
        let post = |body: String, token: Option<&str>| {
            let mut req = t.client.post(&url).body(body);
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            async move {
                let r = req.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        let good = serde_json::to_string(&batch("b-1", "DE")).unwrap();
        assert_eq!(post(good.clone(), None).await.0, 401);
        assert_eq!(
            post(good.clone(), Some("not-the-token-0123456789")).await.0,
            401
        );
        let (status, body) = post(
            serde_json::to_string(&batch("b-2", "de")).unwrap(),
            Some(TOKEN),
        )
        .await;
        assert_eq!(
            (status, body.as_str()),
            (400, "bad request: country: two capital letters, or --\n")
        );
        let (status, body) = post("{".into(), Some(TOKEN)).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body.starts_with("bad request: expected a statistics batch"),
            "{body}"
        );

        let (status, body) = post(good.clone(), Some(TOKEN)).await;
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"counted":7,"repeat":false}"#)
        );
        let (status, body) = post(good, Some(TOKEN)).await;
        assert_eq!(
            (status, body.as_str()),
            (200, r#"{"counted":0,"repeat":true}"#)
        );

        let rows = stats::rows(&mut db.conn(), Granularity::Day, 0, i64::MAX).unwrap();
        let stored: Vec<_> = rows
            .iter()
            .map(|r| (r.dims.country.as_str(), r.tally.downloads, r.tally.bytes))
            .collect();
        assert_eq!(stored, vec![("DE", 7, 7_000)]);
        let metrics = t.metrics().await;
        for line in [
            r#"tuxedo_stats_batches_total{outcome="counted"} 1"#,
            r#"tuxedo_stats_batches_total{outcome="repeat"} 1"#,
            r#"tuxedo_stats_batches_total{outcome="refused"} 2"#,
            "tuxedo_stats_downloads_total 7",
        ] {
            assert!(metrics.contains(line), "{line}\n{metrics}");
        }
    });
}

/// Without a fleet there is no intake.
#[test]
fn no_fleet_no_intake() {
    let db = TestDb::sqlite();
    block_on(async {
        let t = start(&db, |_| {});
        let r = t
            .client
            .post(format!("{}{}", t.base, stats::PATH))
            .bearer_auth(TOKEN)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    });
}

/// A real bounce counts what it redirects and sends it to tuxedo: GET redirects are
/// downloads, HEAD, `print=yes`, 404s and a client's `Range` resumes are not; what was
/// counted since the last drain is sent when bounce stops, so the stored totals equal the
/// requests exactly.
fn end_to_end(db: &TestDb) {
    block_on(async {
        let t = start(db, fleet);
        two_releases(&t, db).await;
        let (stop, told) = stop_signal();
        // A drain interval longer than the test: only the stop sends.
        let (b, bounce) =
            start_bounce_until(db, &t.base, |c| c.bounce.stats_drain_secs = 3600, told);
        registered(db, std::slice::from_ref(&b)).await;
        let client = no_redirects();
        let ask = |method: reqwest::Method, query: &str, headers: &[(&str, &str)]| {
            let mut req = client.request(method, format!("{b}/?{query}"));
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            async move { req.send().await.unwrap().status().as_u16() }
        };
        let q = |product: &str| format!("product={product}&os=win64&lang=en-US");
        let (get, head) = (reqwest::Method::GET, reqwest::Method::HEAD);
        let resume = [("Range", "bytes=1000-")];
        let elsewhere = [
            ("Range", "bytes=1000-"),
            ("X-Forwarded-For", "198.51.100.7"),
        ];
        let crawler = [("User-Agent", "Mozilla/5.0 (compatible; bingbot/2.0)")];
        for (method, query, headers, times, status) in [
            (&get, q("Firefox-130.0-SSL"), &[][..], 20, 302),
            (&head, q("Firefox-130.0-SSL"), &[], 5, 302),
            (&get, q("Firefox-130.0-SSL") + "&print=yes", &[], 5, 200),
            // Mirror lists (Metalink, JSON, HTML): not downloads.
            (&get, q("Firefox-130.0-SSL") + "&format=meta4", &[], 1, 200),
            (&get, q("Firefox-130.0-SSL") + "&format=json", &[], 1, 200),
            (&get, q("Firefox-130.0-SSL") + "&format=html", &[], 1, 200),
            (&get, q("no-such-product"), &[], 3, 404),
            (&get, q("Firefox-131.0-SSL"), &[], 7, 302),
            // Resumes of a file this client got: not counted again.
            (&get, q("Firefox-130.0-SSL"), &resume, 3, 302),
            // Another client's first request, with Range: counted, its resume not.
            (&get, q("Firefox-130.0-SSL"), &elsewhere, 2, 302),
            // A crawler (the default bot mask): counted, as a bot's.
            (&get, q("Firefox-131.0-SSL"), &crawler, 4, 302),
        ] {
            for _ in 0..times {
                let got = ask(method.clone(), &query, headers).await;
                assert_eq!(got, status, "{method} {query} {headers:?}");
            }
        }
        assert!(
            stats::rows(&mut db.conn(), Granularity::Day, 0, i64::MAX)
                .unwrap()
                .is_empty(),
            "nothing sent before the stop"
        );
        // What statistics leave out is counted by kind, 404s by reason, never by name.
        let metrics = client.get(format!("{b}/metrics")).send();
        let metrics = metrics.await.unwrap().text().await.unwrap();
        for line in [
            "bounce_not_found_total{reason=\"product\"} 3",
            "bounce_not_found_total{reason=\"os\"} 0",
            "bounce_redirects_not_counted_total{kind=\"head\"} 5",
            "bounce_redirects_not_counted_total{kind=\"resume\"} 4",
            "bounce_requests_total{outcome=\"print\"} 5",
            "bounce_requests_total{outcome=\"document\"} 3",
        ] {
            assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
        }
        stop.send(()).unwrap();
        bounce.await.unwrap().unwrap();

        let rows = stats::rows(&mut db.conn(), Granularity::Day, 0, i64::MAX).unwrap();
        let mut by_product: Vec<(&str, &str, u64)> = rows
            .iter()
            .map(|r| {
                (
                    r.dims.product.as_str(),
                    r.dims.agent.as_str(),
                    r.tally.downloads,
                )
            })
            .collect();
        by_product.sort();
        assert_eq!(
            by_product,
            vec![
                ("Firefox-130.0-SSL", "user", 21),
                ("Firefox-131.0-SSL", "bot", 4),
                ("Firefox-131.0-SSL", "user", 7)
            ]
        );
        let mirror = mirror_id(db);
        for r in &rows {
            let d = &r.dims;
            assert_eq!(
                (
                    d.os.as_str(),
                    d.lang.as_str(),
                    d.target.clone(),
                    d.family,
                    d.scheme.as_str()
                ),
                ("win64", "en-US", mirror.to_string(), 4, "https"),
                "{r:?}"
            );
        }
    });
}

/// CDN mode does not place clients to choose a mirror; statistics still get the client's
/// country and address family (from `X-Forwarded-For` behind a trusted proxy, else the
/// peer), and a crawler's downloads go to the bots' bucket.
fn cdn_placed(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let countries = dir.path().join("country.mmdb");
    bouncer_test_support::write_country_mmdb(&countries, &[("198.51.100.0/24", "FR")]);
    block_on(async {
        let t = start(db, fleet);
        two_releases(&t, db).await;
        let (stop, told) = stop_signal();
        let cdn = |c: &mut bouncer_core::config::Config| {
            c.bounce.stats_drain_secs = 3600;
            c.bounce.pinned_http = Some("cdn.example.net/pub".into());
            c.bounce.pinned_https = Some("cdn.example.net/pub".into());
            c.geoip.database = Some(countries.clone());
        };
        let (b, bounce) = start_bounce_until(db, &t.base, cdn, told);
        registered(db, std::slice::from_ref(&b)).await;
        let client = no_redirects();
        let url = format!("{b}/?product=Firefox-130.0-SSL&os=win64&lang=en-US");
        let french = ("X-Forwarded-For", "198.51.100.7");
        let bot = (
            "User-Agent",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
        );
        for (headers, times) in [(&[french][..], 3), (&[], 2), (&[french, bot], 1)] {
            for _ in 0..times {
                let mut req = client.get(&url);
                for (name, value) in headers {
                    req = req.header(*name, *value);
                }
                let res = req.send().await.unwrap();
                assert_eq!(res.status().as_u16(), 302);
                let to = res.headers()["location"].to_str().unwrap().to_owned();
                assert!(to.contains("cdn.example.net"), "{to}");
            }
        }
        stop.send(()).unwrap();
        bounce.await.unwrap().unwrap();
        let rows = stats::rows(&mut db.conn(), Granularity::Day, 0, i64::MAX).unwrap();
        let mut got: Vec<(&str, &str, i16, &str, u64)> = rows
            .iter()
            .map(|r| {
                let d = &r.dims;
                let (country, target) = (d.country.as_str(), d.target.as_str());
                (
                    country,
                    target,
                    d.family,
                    d.agent.as_str(),
                    r.tally.downloads,
                )
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("--", "cdn", 4, "user", 2),
                ("FR", "cdn", 4, "bot", 1),
                ("FR", "cdn", 4, "user", 3)
            ]
        );
    });
}

/// tuxedo's body limit set below a batch: refused as too large (413), the batch is sent
/// again in halves, and every download arrives.
fn halves(db: &TestDb) {
    block_on(async {
        let t = start(db, |c| {
            fleet(c);
            c.tuxedo.max_body_bytes = 600;
        });
        two_releases(&t, db).await;
        let (stop, told) = stop_signal();
        let drain = |c: &mut bouncer_core::config::Config| c.bounce.stats_drain_secs = 3600;
        let (b, bounce) = start_bounce_until(db, &t.base, drain, told);
        registered(db, std::slice::from_ref(&b)).await;
        let client = no_redirects();
        let bot = "Googlebot/2.1";
        // Four keys (two products, people and a crawler): about 750 bytes of JSON.
        for (product, agent, times) in [
            ("130.0", "Firefox", 3),
            ("131.0", "Firefox", 2),
            ("130.0", bot, 1),
            ("131.0", bot, 1),
        ] {
            let url = format!("{b}/?product=Firefox-{product}-SSL&os=win64&lang=en-US");
            for _ in 0..times {
                let req = client.get(&url).header("User-Agent", agent);
                assert_eq!(req.send().await.unwrap().status().as_u16(), 302);
            }
        }
        stop.send(()).unwrap();
        bounce.await.unwrap().unwrap();
        let rows = stats::rows(&mut db.conn(), Granularity::Day, 0, i64::MAX).unwrap();
        let total: u64 = rows.iter().map(|r| r.tally.downloads).sum();
        assert_eq!((rows.len(), total), (4, 7), "{rows:?}");
    });
}

/// A client that shows bounce's redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A shutdown input for a bounce (`told`) and what tells it (`stop`).
pub fn stop_signal() -> (
    tokio::sync::oneshot::Sender<()>,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (stop, told) = tokio::sync::oneshot::channel::<()>();
    (stop, async {
        let _ = told.await;
    })
}

fn mirror_id(db: &TestDb) -> i32 {
    use bouncer_core::schema::mirror_mirrors;
    use diesel::prelude::*;
    mirror_mirrors::table
        .select(mirror_mirrors::id)
        .first(&mut *db.conn())
        .unwrap()
}

/// tuxedo prunes on its own: minute rows past `stats.keep_minutes_hours` go, the hour
/// and day rows of the same downloads stay.
fn pruned(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    let mut old = batch("old", "DE");
    old.minutes[0].start = Granularity::Minute.bucket(now - 3 * 3600);
    stats::add(&mut db.conn(), &old, now).unwrap();
    let count = |g| stats::rows(&mut db.conn(), g, 0, i64::MAX).unwrap().len();
    assert_eq!(
        (count(Granularity::Minute), count(Granularity::Hour)),
        (1, 1)
    );
    block_on(async {
        let _t = start(db, |c| {
            c.stats.keep_minutes_hours = 1;
            c.stats.prune_every_secs = 1;
        });
        eventually("minute rows pruned", Duration::from_secs(10), || async {
            (count(Granularity::Minute) == 0).then_some(())
        })
        .await;
    });
    assert_eq!((count(Granularity::Hour), count(Granularity::Day)), (1, 1));
}

/// `GET /api/v2/stats`: per day or month, grouped and filtered; a wrong parameter is a
/// 422 naming it; no credentials, 401.
fn reports(db: &TestDb) {
    let day = 1_796_601_600; // 2026-12-07 00:00 UTC
    for (id, country, start, n) in [
        ("a", "DE", day + 600, 3),
        ("b", "FR", day + 3600, 4),
        ("c", "DE", day + 86_400, 5),
    ] {
        let mut b = batch(id, country);
        b.minutes[0].start = start;
        b.minutes[0].counts[0].1 = Tally {
            downloads: n,
            bytes: n * 100,
        };
        stats::add(&mut db.conn(), &b, day).unwrap();
    }
    block_on(async {
        let t = start(db, |_| {});
        let range = "from=2026-12-07&to=2026-12-09";
        let (status, body) = t
            .as_(
                RELEASE,
                "GET",
                &format!("/stats?{range}&group_by=country"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            serde_json::json!({
                "granularity": "day", "from": "2026-12-07", "to": "2026-12-09",
                "group_by": ["country"],
                "rows": [
                    {"period": "2026-12-07", "country": "DE", "downloads": 3, "bytes": 300},
                    {"period": "2026-12-07", "country": "FR", "downloads": 4, "bytes": 400},
                    {"period": "2026-12-08", "country": "DE", "downloads": 5, "bytes": 500},
                ]
            })
        );
        // The same as CSV.
        let csv = t
            .client
            .get(format!(
                "{}/api/v2/stats?{range}&group_by=country,product",
                t.base
            ))
            .basic_auth(RELEASE.0, Some(RELEASE.1))
            .header("Accept", "text/csv")
            .send()
            .await
            .unwrap();
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        assert_eq!(
            csv.text().await.unwrap(),
            "period,country,product,downloads,bytes\n\
             2026-12-07,DE,Firefox-130.0,3,300\n\
             2026-12-07,FR,Firefox-130.0,4,400\n\
             2026-12-08,DE,Firefox-130.0,5,500\n"
        );
        let path = format!("/stats?{range}&granularity=month&country=DE&mirror=cdn");
        let (status, body) = t.as_(RELEASE, "GET", &path, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["rows"],
            serde_json::json!([{"period": "2026-12", "downloads": 8, "bytes": 800}])
        );
        for (query, field) in [
            ("granularity=week", "granularity"),
            ("group_by=browser", "group_by"),
            ("from=yesterday", "from"),
            ("from=2026-12-09&to=2026-12-07", "to"),
            ("granularity=hour&from=2026-01-01&to=2026-12-01", "to"),
        ] {
            let (status, body) = t
                .as_(RELEASE, "GET", &format!("/stats?{query}"), None)
                .await;
            assert_eq!(status, 422, "{query}: {body}");
            assert!(body.to_string().contains(field), "{query}: {body}");
        }
        let (status, _) = t.call("GET", "/stats", Auth::None, None).await;
        assert_eq!(status, 401);
        let (status, _) = t.as_(READER, "GET", "/stats", None).await;
        assert_eq!(status, 403, "statistics are not every reader's");
    });
}

/// tuxedo is down while bounce counts: its batches fail and wait in memory, and once a
/// tuxedo answers at that address every download arrives, once.
fn receiver_down(db: &TestDb) {
    block_on(async {
        let setup = start(db, fleet);
        two_releases(&setup, db).await;
        // An address where nothing listens yet (the port is free again when dropped).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let down = format!("http://127.0.0.1:{port}");
        let (b, _bounce) = start_bounce_until(
            db,
            &down,
            |c| c.bounce.stats_drain_secs = 1,
            std::future::pending(),
        );
        let client = no_redirects();
        let url = format!("{b}/?product=Firefox-130.0-SSL&os=win64&lang=en-US");
        let get = || async { client.get(&url).send().await.unwrap().status().as_u16() };
        for _ in 0..12 {
            assert_eq!(get().await, 302);
        }
        let metric = |name: &'static str| {
            let (client, b) = (client.clone(), b.clone());
            async move {
                let text = client.get(format!("{b}/metrics")).send().await.unwrap();
                let text = text.text().await.unwrap();
                text.lines()
                    .find(|l| l.starts_with(name))
                    .map(str::to_owned)
            }
        };
        let failed = r#"bounce_stats_batches_total{outcome="failed"}"#;
        eventually("a batch failed", Duration::from_secs(10), || async {
            metric(failed).await.filter(|l| !l.ends_with(" 0"))
        })
        .await;
        for _ in 0..5 {
            assert_eq!(get().await, 302);
        }
        // tuxedo comes (back) at that address: the same database, already seeded.
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let mut config = bouncer_core::config::Config::default();
        config.database.url = db.url.clone();
        fleet(&mut config);
        let back = tuxedo::build(config, listener, std::future::pending()).unwrap();
        tokio::spawn(back.run_until_stopped());
        let total = || {
            let rows = stats::rows(&mut db.conn(), Granularity::Day, 0, i64::MAX).unwrap();
            rows.iter().map(|r| r.tally.downloads).sum::<u64>()
        };
        eventually(
            "every download arrived",
            Duration::from_secs(10),
            || async { (total() == 17).then_some(()) },
        )
        .await;
        // And only once: later rounds send nothing more.
        let sent = r#"bounce_stats_batches_total{outcome="sent"}"#;
        let before = metric(sent).await;
        eventually("another round", Duration::from_secs(10), || async {
            let waiting = metric("bounce_stats_waiting_counts").await?;
            waiting.ends_with(" 0").then_some(())
        })
        .await;
        assert_eq!(total(), 17, "{before:?}");
    });
}

/// `GET /api/v2/stats/popular`: no credentials, cacheable, the last 7 days' most
/// downloaded files, small counts left out.
fn popular(db: &TestDb) {
    let now = chrono::Utc::now().timestamp();
    let old = now - 30 * 86_400;
    for (id, product, start, n) in [
        ("a", "Firefox-130.0", now, 30),
        ("b", "Firefox-131.0", now, 5),
        ("c", "Firefox-129.0", old, 500),
    ] {
        let mut b = batch(id, "DE");
        b.minutes[0].start = Granularity::Minute.bucket(start);
        b.minutes[0].counts[0].0.product = product.into();
        b.minutes[0].counts[0].1 = Tally {
            downloads: n,
            bytes: 0,
        };
        stats::add(&mut db.conn(), &b, now).unwrap();
    }
    block_on(async {
        let t = start(db, |_| {});
        let r = t
            .client
            .get(format!("{}/api/v2/stats/popular", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            body["files"],
            serde_json::json!([{"product": "Firefox-130.0", "os": "win64", "lang": "de", "downloads": 30}]),
            "{body}"
        );
        let (status, _) = t.call("GET", "/stats/popular?n=0", Auth::None, None).await;
        assert_eq!(status, 422);
    });
}
